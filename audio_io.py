"""Audio file I/O: decoding (whole or block by block, with the checks of damaged and cut-short
files), downmixing, resampling (whole or streamed), the outputs' container and sample format,
and atomic writes.

Every module that touches audio files goes through here, so that formats, sample
rates and the never-half-written-output rule are handled in one place.
"""
from __future__ import annotations

import hashlib
import math
import os
import re
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr

from cli import InferenceError, native_stderr_silenced

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff", ".w64", ".opus")


class AudioError(InferenceError):
    """A file cannot be used as audio; the message names the file and the problem.

    An :class:`cli.InferenceError`, as every failure of one input is, so that the restorer's
    callers catch decoding failures and their own refusals with one ``except``."""


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


def resample_stream(from_rate: int, to_rate: int, channels: int) -> soxr.ResampleStream:
    """A streaming resampler (``resample_chunk(x, last=...)``) of float32 ``[n, channels]``
    blocks, the quality of :func:`resample`, for signals too long to hold."""
    return soxr.ResampleStream(from_rate, to_rate, channels, dtype="float32", quality="HQ")


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


def new_folders(folder: Path) -> list[Path]:
    """The folders ``folder`` and its ancestors that do not exist yet (deepest first): the
    ones :func:`atomic_output` will make, for :func:`remove_folders` to take back."""
    missing = []
    for p in [folder, *folder.parents]:
        if p.exists():
            break
        missing.append(p)
    return missing


def remove_folders(created: list[Path]) -> None:
    """Remove the folders made for outputs that were not written (deepest first)."""
    for folder in created:
        try:
            folder.rmdir()
        except OSError:
            break


def commit_output(tmp: Path, path: Path) -> None:
    """Move a completed temporary file to its final name (atomic on one file system)."""
    os.replace(tmp, path)


def atomic_outputs(targets: list[Path]) -> tuple[list[Path], list[Path]]:
    """Temporary paths for outputs written together (:func:`atomic_output` each) and the
    folders made for them; :func:`commit_outputs` renames all, :func:`discard_outputs` removes
    all. Raises ``OSError`` (with none left behind) when one cannot be made; its
    ``filename`` is then the output's name, not its temporary file's. An interruption while
    they are made (KeyboardInterrupt, SIGTERM) leaves none behind either."""
    created = new_folders(targets[0].parent)
    temps: list[Path] = []
    try:
        for t in targets:
            temps.append(atomic_output(t)[0])
    except BaseException as exc:  # a folder that is a file, not writable, or an interruption between two
        discard_outputs(temps, created)
        if isinstance(exc, OSError):
            exc.filename = str(t)
        raise
    return temps, created


def commit_outputs(temps: list[Path], targets: list[Path]) -> None:
    """Rename every completed temporary file to its output (only renames: all are complete)."""
    for tmp, final in zip(temps, targets):
        commit_output(tmp, final)


def discard_outputs(temps: list[Path], created: list[Path]) -> None:
    """Remove the temporary files of outputs that will not be written, and the folders made for them."""
    for tmp in temps:
        tmp.unlink(missing_ok=True)
    remove_folders(created)


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


# --------------------------------------------------------------------------- reading block by block


def _libsndfile_reason(exc: BaseException) -> str:
    text = getattr(exc, "error_string", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())


def open_audio(source: Path) -> sf.SoundFile:
    """Open ``source`` for reading; :class:`AudioError` if it is missing or not audio."""
    if not source.is_file():
        raise AudioError(f"{source}: no such file")
    try:
        # the MP3 decoder prints "Note: Illegal Audio-MPEG-Header..." lines to fd 2 itself
        with native_stderr_silenced():
            return sf.SoundFile(str(source))
    except Exception as exc:  # libsndfile raises several types; all mean "not audio"
        reason = _libsndfile_reason(exc)
        if "does not exist or is not a regular file" in reason or reason == "System error.":
            # what libsndfile says when its MP3 decoder finds no frame in an existing file
            reason = "no audio stream found: not an audio file, or one damaged beyond decoding"
        raise AudioError(f"{source}: cannot be read as audio ({reason})") from None


def checked_blocks(reader: sf.SoundFile, source: Path, block: int) -> Iterator[np.ndarray]:
    """``reader``'s samples as float64 blocks ``[<= block, channels]``, each checked: a decoder
    failure part-way through a damaged file, or a NaN or infinite sample, raises a one-line
    :class:`AudioError` naming the time."""
    sr, frames = reader.samplerate, 0
    blocks = reader.blocks(blocksize=block, dtype="float64", always_2d=True)
    while True:
        try:
            x = next(blocks)
        except StopIteration:
            return
        except Exception as exc:  # libsndfile raises several types
            raise AudioError(f"{source}: decoding failed after {frames / sr:.3f} s ({_libsndfile_reason(exc)})") from None
        if not np.isfinite(x).all():
            bad = frames + int(np.argmin(np.isfinite(x).all(axis=1)))
            raise AudioError(f"{source}: NaN or infinite sample at {bad / sr:.3f} s (frame {bad}); nothing written")
        frames += len(x)
        yield x


# libsndfile's log line for a data chunk whose declared size exceeds the bytes present
# (WAV, W64: "data : 176400 (should be 58770)"; AIFF: "SSND : ..."); it then reads only
# what is present, and reports that shorter length as the file's frames.
_SHORT_DATA_CHUNK = re.compile(r"^\s*(data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
# Containers whose header states the length exactly (compressed streams may only estimate it).
EXACT_LENGTH_FORMATS = ("WAV", "WAVEX", "RF64", "W64", "AIFF", "CAF", "FLAC")


def declared_frames(reader: sf.SoundFile) -> int:
    """The number of frames the file's header declares: more than ``reader.frames`` when
    the file was cut short (an interrupted copy or transfer), else ``reader.frames``.
    0 for a container whose header does not state its length exactly."""
    if reader.format not in EXACT_LENGTH_FORMATS:
        return 0
    frames = max(reader.frames, 0)
    m = _SHORT_DATA_CHUNK.search(reader.extra_info or "")
    per_frame = _BYTES_PER_SAMPLE.get(reader.subtype, 0) * reader.channels
    if m and per_frame:
        claimed, present = int(m.group(2)), int(m.group(3))
        if m.group(1) == "SSND":  # the AIFF chunk starts with 8 bytes of offset and block size
            claimed, present = claimed - 8, present - 8
        # 0 and 0xFFFFFFFF are what streaming writers put before they know the length
        if present < claimed < 0xFFFFFFFF:
            frames = max(frames, claimed // per_frame)
    return frames


TRUNCATION_HINT = "; nothing written (inference.allow_truncated=true restores the frames present)"


def truncation_check(source: Path, declared: int, present: int, sample_rate: int, allow_truncated: bool) -> list[str]:
    """Nothing when ``present`` covers the ``declared`` frames; else a file cut short is refused
    with :class:`AudioError` (a restorer must not lose frames unawares) or, with
    ``allow_truncated``, restored with the warning returned."""
    if present >= declared:
        return []
    message = truncation_message(source, declared, present, sample_rate)
    if not allow_truncated:
        raise AudioError(message + TRUNCATION_HINT)
    return [message + "; the frames present were restored (inference.allow_truncated=true)"]


def truncation_message(source: Path, declared: int, present: int, sample_rate: int) -> str:
    """The one-line report of a file that holds fewer frames than its header declares."""
    missing = declared - present
    return (f"{source}: truncated: the header declares {declared} frames ({declared / sample_rate:.3f} s), "
            f"only {present} are present ({missing} frames, {missing / sample_rate:.3f} s missing)")  # fmt: skip


# --------------------------------------------------------------------------- the outputs' format

# Sample formats with a fixed full scale: libsndfile clips samples beyond it on writing.
CLIPPING_SUBTYPES = ("PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "PCM_32", "ULAW", "ALAW")
# Sample formats a WAV output keeps; any other becomes 32-bit float (no requantising, no clipping).
WAV_SUBTYPES_KEPT = ("PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW")
_BYTES_PER_SAMPLE = {"PCM_S8": 1, "PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8}
_WAV_LIMIT_BYTES = 0xFFFFFFFF - (1 << 24)  # RIFF sizes are 32-bit; keep a margin for headers


@dataclass
class OutputFormat:
    """Container, sample format and extension of the outputs for one input."""

    format: str
    subtype: str
    extension: str

    def writer(self, path: Path, sample_rate: int, channels: int) -> sf.SoundFile:
        """``path`` opened for writing in this format (blocks are appended with ``write``)."""
        return sf.SoundFile(str(path), "w", samplerate=sample_rate, channels=channels, subtype=self.subtype, format=self.format)


def output_format(info: Any, frames: int | None = None) -> OutputFormat:
    """WAV and FLAC keep container and sample format; other inputs become WAV, in their
    sample format if it is PCM or float, else (MP3, Vorbis, Opus, ADPCM...) 32-bit float.
    A WAV beyond the 4 GB RIFF limit becomes RF64 (still ``.wav``)."""
    fmt, subtype = info.format, info.subtype
    if fmt == "FLAC" and subtype in ("PCM_S8", "PCM_16", "PCM_24"):
        return OutputFormat("FLAC", subtype, ".flac")
    if fmt not in ("WAV", "WAVEX", "RF64"):
        fmt = "WAV"
    if subtype not in WAV_SUBTYPES_KEPT:  # compressed or exotic encodings (MP3, Vorbis, ADPCM...)
        subtype = "FLOAT"
    frames = info.frames if frames is None else frames
    size = frames * info.channels * _BYTES_PER_SAMPLE.get(subtype, 8)
    if size * 1.1 > _WAV_LIMIT_BYTES and fmt != "RF64":
        fmt = "RF64"
    return OutputFormat(fmt, subtype, ".wav")


# Integer sample formats: the integer type libsndfile writes them from without rescaling,
# and the format's bits (8-bit samples travel in the top byte of an int16).
_INTEGER_SUBTYPES = {"PCM_S8": (np.int16, 8), "PCM_U8": (np.int16, 8), "PCM_16": (np.int16, 16), "PCM_24": (np.int32, 24), "PCM_32": (np.int32, 32)}


def quantise_outputs(x: np.ndarray, out: np.ndarray, subtype: str) -> tuple[np.ndarray, np.ndarray]:
    """The restored and residual samples as written in ``subtype``.

    For integer formats the restored signal is rounded to the nearest step (libsndfile's
    own float-to-integer conversion scales by 32767 where reading divides by 32768, which
    lowers large samples by one step) and the residual is the input minus that, in integers,
    so restored + residual is the input exactly (unless a sample clipped at full scale).
    ``x`` holds the input as read in float64 (exact multiples of the step). Other formats
    (float, mu-law, A-law) get ``out`` and ``x - out`` as they are.
    """
    if subtype not in _INTEGER_SUBTYPES:
        return out, x - out
    dtype, bits = _INTEGER_SUBTYPES[subtype]
    container = 8 * np.dtype(dtype).itemsize
    scale, step = float(2 ** (container - 1)), 2 ** (container - bits)
    lo, hi = -scale, scale - step
    xi = np.round(x * scale)
    oi = np.clip(np.round(out * (scale / step)) * step, lo, hi)
    ri = np.clip(xi - oi, lo, hi)
    return oi.astype(dtype), ri.astype(dtype)


def clipping_warnings(peaks: Sequence[float], names: Sequence[Path], subtype: str) -> list[str]:
    """The warnings of outputs ``names`` whose ``peaks`` went above the full scale of ``subtype``."""
    if subtype not in CLIPPING_SUBTYPES:
        return []
    return [f"{name}: peaks at {peak_dbfs(peak)}, above full scale; those samples were clipped in {subtype} "
            f"(lower inference.denoising_strength or convert the input to 32-bit float WAV to keep them)"
            for peak, name in zip(peaks, names) if peak > 1.0]  # fmt: skip


def peak_dbfs(peak: float) -> str:
    """A peak (full scale 1.0) in dBFS as the warnings write it: ``+1.9 dBFS``."""
    return f"{20 * math.log10(peak):+.1f} dBFS" if peak > 0 else "-inf dBFS"


class AudioCache:
    """Decoded, resampled audio by key, least recently used dropped first when over
    ``budget_bytes`` (``math.inf``: keep everything, as ``dset.preload`` asks).

    The one audio cache: the clean corpus (``dset.cache_mb``) and the recorded noise use it.
    Thread-safe (the tf.data map calls in parallel); a miss decodes outside the lock.
    """

    def __init__(self, budget_bytes: float) -> None:
        self.budget = budget_bytes
        self.used = 0
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Hashable) -> np.ndarray | None:
        with self._lock:
            audio = self._items.get(path)
            if audio is not None:
                self._items.move_to_end(path)
            return audio

    def put(self, path: Hashable, audio: np.ndarray) -> None:
        if audio.nbytes > self.budget:
            return
        with self._lock:
            if path in self._items:
                return
            self._items[path] = audio
            self.used += audio.nbytes
            while self.used > self.budget:
                _, dropped = self._items.popitem(last=False)
                self.used -= dropped.nbytes
