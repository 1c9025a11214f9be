"""The hash split shared by the clean corpus and the recorded noise."""
from __future__ import annotations

from recorded_noise import hash_split


def test_hash_split_is_per_key_and_keeps_one_when_asked():
    keys = [f"noise/n{i:02d}.wav" for i in range(40)]
    held = hash_split(keys, 0.25, seed=0)
    assert 0 < sum(held) < len(keys)
    # a key's side depends on that key alone: more keys never move the old ones
    more = hash_split(keys + [f"noise/m{i}.wav" for i in range(40)], 0.25, seed=0)
    assert more[: len(keys)] == held
    # another salt, another split
    assert hash_split(keys, 0.25, seed=1) != held
    # nothing below the fraction: the smallest hash is held out, unless told not to
    assert sum(hash_split(keys, 1e-12, seed=0)) == 1
    assert sum(hash_split(keys, 0.0, seed=0, keep_one=False)) == 0
    assert hash_split([], 0.5, seed=0) == []
