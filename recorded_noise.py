"""Recorded noise: noise-only recordings decoded, split by hash, and looped to length.

``load_recorded_noise`` reads the folders of ``noise.recorded_dirs`` and keeps one side of a
hash split of the files (:func:`hash_split`, the same rule as the clean corpus's split in
``dataset_loader``), so that validation and evaluation hear noise training never did.
``loop_with_crossfade`` makes a short recording as long as an example.
"""
from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import audio_io
import paths

RECORDED_LABEL = "recorded"
RECORDED_SPLITS = ("all", "train", "validation")
RECORDED_SPLIT_SEED = 0
_MIN_RECORDED_SAMPLES = 256  # shorter decoded clips cannot be looped usefully


class RecordedNoiseWarning(UserWarning):
    """Some files in a recorded-noise folder were skipped (named in the message)."""


def hash_split(keys: Sequence[str], fraction: float, seed: int, keep_one: bool = True) -> list[bool]:
    """Which of ``keys`` are held out: those whose salted hash (``audio_io.validation_hash``)
    falls below ``fraction``.

    With ``keep_one`` and no hash below, the key with the smallest hash is held out, so a
    held-out side is never empty. A key's side depends on that key alone (and the seed), so
    adding or removing files never moves the others: the rule of both the clean corpus
    (``dataset_loader.split_files``) and the recorded noise (:func:`split_recorded_files`).
    """
    scored = sorted(zip((audio_io.validation_hash(k, seed) for k in keys), range(len(keys))))
    held = {i for h, i in scored if h < fraction}
    if not held and scored and keep_one:
        held = {scored[0][1]}
    return [i in held for i in range(len(keys))]


def loop_with_crossfade(x: np.ndarray, num_samples: int, crossfade: int) -> np.ndarray:
    """``x`` repeated to ``num_samples``, each repeat overlapping the last by ``crossfade`` samples.

    The output starts with ``x`` itself; the repeating unit is ``x`` minus its last
    ``crossfade`` samples, whose head is a crossfade from ``x``'s tail into its head. The
    crossfade law adapts to the correlation r (clipped to [0, 1]) of tail and head: linear
    fades scaled by 1 / sqrt(a^2 + b^2 + 2 r a b), which keeps the power constant: for
    uncorrelated noise (r = 0) this is an equal-power fade (a linear one would dip 3 dB
    every loop), for a coherent tone such as hum (r = 1) a plain linear fade (an
    equal-power one would swell 3 dB). Requires ``crossfade <= len(x) // 2``.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"loop_with_crossfade: expected a non-empty 1-D signal, got shape {x.shape}")
    num_samples, crossfade = int(num_samples), int(crossfade)
    if num_samples <= x.size:
        return x[:num_samples].copy()
    if not 0 <= crossfade <= x.size // 2:
        raise ValueError(f"loop_with_crossfade: crossfade {crossfade} must be in [0, {x.size // 2}] for {x.size} samples")
    period = x.size - crossfade
    unit = x[:period].copy()
    if crossfade:
        tail, head = x[period:].astype(np.float64), x[:crossfade].astype(np.float64)
        denom = math.sqrt(float(tail @ tail) * float(head @ head))
        r = min(max(float(tail @ head) / denom, 0.0), 1.0) if denom > 0 else 0.0
        fade_in = (np.arange(crossfade) + 0.5) / crossfade
        fade_out = 1.0 - fade_in
        gain = 1.0 / np.sqrt(fade_out**2 + fade_in**2 + 2 * r * fade_out * fade_in)
        unit[:crossfade] = (gain * (fade_out * tail + fade_in * head)).astype(np.float32)
    out = np.resize(unit, num_samples)
    out[:crossfade] = x[:crossfade]
    return out


def _trim_silence(x: np.ndarray, rel: float = 1e-4) -> np.ndarray:
    """Without leading and trailing samples below ``rel`` of the peak (they would loop as gaps)."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak <= 0:
        return x[:0]
    loud = np.flatnonzero(np.abs(x) > rel * peak)
    return x[loud[0] : loud[-1] + 1]


# decoded recorded noise, per process; bounded, since a noise folder may be large (4.4 minutes
# of the shared corpus take 46 MB; a file dropped is decoded again, to the same samples)
_DECODED = audio_io.AudioCache(512 * 2**20)


def _decode_recorded(path: Path, sample_rate: int) -> np.ndarray:
    """Mono float32 at ``sample_rate``, DC removed, silent ends trimmed; cached per process
    (a bounded cache)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, int(sample_rate))
    audio = _DECODED.get(key)
    if audio is None:
        audio, _ = audio_io.load_audio(path, sample_rate=sample_rate, mono=True)
        audio = _trim_silence(audio.astype(np.float32) - np.float32(audio.mean()))
        _DECODED.put(key, audio)
    return audio



def split_recorded_files(
    files: Sequence[Path], keys: Sequence[str], fraction: float, seed: int = RECORDED_SPLIT_SEED
) -> tuple[list[Path], list[Path]]:
    """(train, validation) noise files by hash of each key (folder name / path inside it).

    The rule of the clean corpus: a file is held out when its hash is below ``fraction``,
    and at least one file is; a file's side never depends on the other files.
    """
    held = hash_split(keys, fraction, seed, keep_one=fraction > 0)
    return [f for f, h in zip(files, held) if not h], [f for f, h in zip(files, held) if h]


def load_recorded_noise(
    folders: str | os.PathLike | Sequence[str | os.PathLike],
    sample_rate: int,
    split: str = "all",
    validation_fraction: float = 0.0,
) -> tuple[list[Path], list[np.ndarray]]:
    """Decode the audio files below ``folders`` (relative paths against the repository root).

    ``split`` picks which: ``'all'``, or one side of :func:`split_recorded_files` with
    ``validation_fraction`` of the files held out for validation and evaluation, so that
    what a model is judged on is noise it was not trained on. Unreadable, silent or too
    short files are skipped with one :class:`RecordedNoiseWarning` naming them all. Raises
    ``ValueError`` when a folder is missing or nothing is usable.
    """
    if split not in RECORDED_SPLITS:
        raise ValueError(f"recorded noise: split must be one of {RECORDED_SPLITS}, got {split!r}")
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"noise.recorded_validation_fraction: expected a value in [0, 1), got {validation_fraction:g}")
    if isinstance(folders, (str, os.PathLike)):
        folders = [folders]
    dirs = [paths.repo_path(f) for f in folders]
    if not dirs:
        raise ValueError("noise.recorded_dirs: empty, but recorded_share > 0")
    files: list[Path] = []
    keys: list[str] = []
    for d in dirs:
        if not d.is_dir():
            raise ValueError(f"noise.recorded_dirs: {d}: folder not found")
        found = audio_io.list_audio_files(d)
        files.extend(found)
        keys.extend(f"{d.name}/{f.relative_to(d).as_posix()}" for f in found)
    where = ", ".join(str(d) for d in dirs)
    if not files:
        raise ValueError(f"noise.recorded_dirs: no audio files in {where}")
    if split != "all" and validation_fraction > 0:
        train, held_out = split_recorded_files(files, keys, validation_fraction)
        if not train:
            raise ValueError(
                f"noise.recorded_dirs: {len(files)} file(s) in {where}, none left for training after holding "
                "out files for validation; add files or set noise.recorded_validation_fraction=0"
            )
        files = train if split == "train" else held_out
    kept, clips, skipped = [], [], []
    for f in files:
        try:
            clip = _decode_recorded(f, sample_rate)
        except (audio_io.AudioError, OSError) as exc:
            skipped.append(" ".join(str(exc).split()))
            continue
        if clip.size < _MIN_RECORDED_SAMPLES:
            skipped.append(f"{f}: silent or shorter than {_MIN_RECORDED_SAMPLES} samples")
            continue
        kept.append(f)
        clips.append(clip)
    if skipped:
        warnings.warn(
            f"skipped {len(skipped)} of {len(files)} noise files: " + "; ".join(skipped), RecordedNoiseWarning, stacklevel=3
        )
    if not clips:
        raise ValueError(f"noise.recorded_dirs: no readable audio in {where}")
    return kept, clips
