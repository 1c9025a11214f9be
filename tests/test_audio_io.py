"""audio_io.py: the one audio cache (decoding, formats and atomic writes are tested through the restorer, in test_inference.py)."""
import math

import numpy as np
import pytest

import audio_io


def test_audio_cache_keeps_the_budget_dropping_the_least_recently_used():
    cache = audio_io.AudioCache(budget_bytes=3 * 400)  # three arrays of 100 float32
    arrays = {k: np.full(100, i, np.float32) for i, k in enumerate("abcd")}
    for k in "abc":
        cache.put(k, arrays[k])
    assert cache.get("a") is arrays["a"]  # "a" is now the most recently used
    cache.put("d", arrays["d"])
    assert cache.get("b") is None and cache.get("a") is arrays["a"] and cache.get("d") is arrays["d"]
    assert cache.used == 3 * 400
    cache.put("big", np.zeros(1000, np.float32))  # larger than the whole budget: not kept
    assert cache.get("big") is None and cache.used == 3 * 400
    unbounded = audio_io.AudioCache(math.inf)
    for k, a in arrays.items():
        unbounded.put(k, a)
    assert all(unbounded.get(k) is a for k, a in arrays.items())


def test_atomic_outputs_leave_nothing_when_stopped_or_refused_between_two(tmp_path, monkeypatch):
    targets = [tmp_path / "out" / "a_denoised.wav", tmp_path / "out" / "a_residual.wav"]
    made = audio_io.atomic_output
    for stop, kind in ((KeyboardInterrupt(), KeyboardInterrupt), (PermissionError(13, "denied"), PermissionError)):
        calls = []

        def second_fails(path, stop=stop, calls=calls):
            calls.append(path)
            if len(calls) == 2:  # the first temporary file exists by now
                raise stop
            return made(path)

        monkeypatch.setattr(audio_io, "atomic_output", second_fails)
        with pytest.raises(kind) as raised:
            audio_io.atomic_outputs(targets)
        assert len(calls) == 2 and not (tmp_path / "out").exists()  # no .part, and the folder made for them removed
        if kind is PermissionError:
            assert raised.value.filename == str(targets[1])  # the output's name, not its .part's
    monkeypatch.setattr(audio_io, "atomic_output", made)
    temps, created = audio_io.atomic_outputs(targets)
    assert [t.exists() for t in temps] == [True, True] and created == [tmp_path / "out"]
