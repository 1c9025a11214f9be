"""Audio file I/O: decoding, downmixing, resampling and atomic writes.

Every module that touches audio files goes through here, so that formats, sample
rates and the never-half-written-output rule are handled in one place.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff", ".w64", ".opus")


class AudioError(Exception):
    """A file cannot be used as audio; the message names the file and the problem."""


def is_audio_file(path: str | os.PathLike) -> bool:
    """True if the file name has an extension libsndfile decodes."""
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS


def list_audio_files(folder: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """Sorted audio files below ``folder`` (sorted so that seeded splits are reproducible)."""
    folder = Path(folder)
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in folder.glob(pattern) if p.is_file() and is_audio_file(p))


def validation_hash(key: str, split_seed: int) -> float:
    """A stable number in [0, 1) for a file key; below the validation fraction = validation.

    Clean files and recorded noise are split by it, so a file's side of the split depends
    only on its key and the seed: adding or removing other files never moves it.
    """
    digest = hashlib.sha256(f"{split_seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def resample(audio: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample along axis 0 with soxr (high quality); a no-op when the rates agree."""
    if orig_sr == target_sr:
        return audio
    out = soxr.resample(audio, orig_sr, target_sr, quality="HQ")
    return np.asarray(out, dtype=audio.dtype)


def load_audio(
    path: str | os.PathLike,
    sample_rate: int | None = None,
    mono: bool = True,
    dtype: str = "float32",
) -> tuple[np.ndarray, int]:
    """Decode a file as float samples.

    Returns ``(audio, rate)``: audio is ``[samples]`` when ``mono`` (channels averaged) and
    ``[samples, channels]`` otherwise; it is resampled to ``sample_rate`` when given.
    Raises :class:`AudioError` with a one-line message for unreadable or empty files.
    """
    try:
        audio, sr = sf.read(str(path), dtype=dtype, always_2d=True)
    except Exception as exc:  # libsndfile raises several types; all mean "not audio"
        raise AudioError(f"{path}: cannot be read as audio ({exc})") from None
    if audio.shape[0] == 0:
        raise AudioError(f"{path}: the file holds no samples")
    if mono:
        audio = audio.mean(axis=1).astype(dtype)
    if sample_rate is not None and sr != sample_rate:
        audio = resample(audio, sr, sample_rate)
        sr = sample_rate
    return audio, sr


def _part_prefix(path: Path) -> str:
    """Start of the temporary names of ``path``: ``.<stem>.<pid>.``; the process id lets a
    later run tell the leftovers of a killed writer from a file another run is writing."""
    return f".{path.stem}."


def remove_stale_parts(path: str | os.PathLike) -> list[Path]:
    """Delete the temporary files of ``path`` left by writers that no longer run.

    A SIGKILL (or a power cut) gives a writer no chance to remove its ``.part`` file; the
    next write of the same output removes it. A part whose process still runs on this
    machine is kept: another run may be writing it. Returns the removed paths.
    """
    path = Path(path)
    removed = []
    pattern = re.compile(re.escape(_part_prefix(path)) + r"(\d+)\.[^.]+" + re.escape(path.suffix) + r"\.part$")
    try:
        candidates = list(path.parent.iterdir())
    except OSError:  # a folder that does not exist yet (or cannot be listed) has no leftovers
        return removed
    for p in candidates:
        m = pattern.fullmatch(p.name)
        if m is None or _process_alive(int(m.group(1))):
            continue
        try:
            p.unlink()
            removed.append(p)
        except OSError:
            pass
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def atomic_output(path: str | os.PathLike) -> tuple[Path, Path]:
    """A temporary path in the destination folder and the final path.

    Write to the temporary path, then :func:`commit_output`; a crash leaves no file under
    the final name, and the next call for the same path removes the crashed writer's
    temporary file (:func:`remove_stale_parts`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(path)
    prefix = f"{_part_prefix(path)}{os.getpid()}."
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=path.suffix + ".part", dir=path.parent)
    os.close(fd)
    # mkstemp makes the file private (0600); outputs get the usual permissions of new files
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return Path(tmp), path


def commit_output(tmp: Path, path: Path) -> None:
    """Move a completed temporary file to its final name (atomic on one file system)."""
    os.replace(tmp, path)


def write_audio_atomic(
    path: str | os.PathLike,
    audio: np.ndarray,
    sample_rate: int,
    subtype: str | None = None,
    format: str | None = None,
) -> Path:
    """Write ``audio`` to ``path`` through a temporary file, so it is complete or absent."""
    tmp, final = atomic_output(path)
    fmt = format or (final.suffix[1:].upper() if final.suffix else "WAV")
    try:
        sf.write(str(tmp), audio, sample_rate, subtype=subtype, format=fmt)
        commit_output(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return final
