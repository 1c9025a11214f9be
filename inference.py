"""Restore recordings: ``python inference.py inference.audio=PATH [inference.KEY=VALUE ...]``.

``PATH`` is an audio file or a folder (every audio file in it, ``inference.recursive``
for subfolders). For each input ``<stem>.<ext>`` two files are written, by default next
to the input (``inference.output_dir`` elsewhere; subfolders are mirrored there):

* ``<stem>_denoised_s<N>.<ext>`` the restored programme, and
* ``<stem>_residual_s<N>.<ext>`` what was removed (input minus restored),

with ``N = 10 * strength`` (``p`` for a decimal point: ``s10``, ``s7``, ``s7p2``; strengths
have at most three decimals, so names never collide). WAV and FLAC inputs keep their container and sample
format (a 24-bit FLAC gives ``<stem>_denoised_s10.flac`` in 24 bits). Every other input
(OGG, MP3, AIFF, ...) gives a ``.wav``: in the input's sample format when WAV can hold it
(AIFF PCM_16 -> WAV PCM_16), else 32-bit float (OGG/Vorbis, MP3), so that the decoded
samples are neither requantised nor clipped. Outputs have the input's length (exactly),
sample rate and channel layout. A WAV output above 4 GB is written as RF64. In integer
formats restored + residual is the input exactly (unless a sample clipped). Runs of exact
zeros (at least 1 ms) stay exact zeros. A file holding fewer frames than its header
declares is refused unless ``allow_truncated``.

Denoising strength ``s`` (``inference.denoising_strength``, 0.0 to 1.0): the model gives
an estimate of the noise, ``noise = input - model_output``; the result is

    output = input - s * noise

so ``s`` is the fraction of the estimated noise that is removed: 0 returns the input
exactly (bitwise; the model is not run), 1 the model's full restoration, and the removed
energy grows monotonically (as ``s**2``) in between. The noise is estimated at the model's
rate (44.1 kHz) and resampled to the input's rate, so only the estimated noise passes
through the resampler: content of a 96 kHz input above 22.05 kHz is kept, not removed.

Long inputs are read and written in blocks and cut into overlapping segments
(``segment_seconds``, ``overlap_seconds``) that are denoised in batches
(``batch_segments``) and joined with raised-cosine crossfades whose weights sum to one;
memory does not grow with the file's length. See :func:`denoise_array` for the pure
function and :class:`Restorer` for the file path.

Options (``conf/inference/default.yaml`` documents each): ``checkpoint`` (a folder with
``config.json`` and ``model.weights.h5``; default the shipped ``models/default``),
``output_dir``, ``recursive``, ``overwrite`` (outputs of an earlier run are an error
without it; an input is never written over), ``denoising_strength``, ``segment_seconds``,
``overlap_seconds``, ``batch_segments``, ``block_seconds``, ``precision``
(``float32``, or ``bfloat16``: mixed precision, 2.3-2.6x less CPU on CPUs with AVX-512
BF16/AMX), ``plot`` (also ``<stem>_spectrograms_s<N>.png`` of the first ``plot_seconds``),
``quiet`` (no progress bars or info lines), ``verbose`` (device, model, segmentation) and
``allow_truncated``. The path options are taken literally: no Hydra quoting is needed for
accents, apostrophes, spaces, commas or ``=`` (see :func:`quote_paths`).
The model runs on the first GPU when TensorFlow sees one, else on the CPU.

Exit status: 0 all inputs restored; 1 at least one input failed (unreadable, empty,
truncated, NaN or infinite samples, existing outputs, no audio in a folder, bad
checkpoint); 2 bad arguments (an option out of range or unknown, an argument Hydra cannot
parse, ``inference.audio`` missing or not found, an unusable ``output_dir``); 130
interrupted. Errors are one line on stderr, ``error: <path>: <problem>``, and leave no
output behind.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import re
import sys
import time
import warnings
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's C++ start-up chatter out of the output
# TensorFlow leaves oneDNN off on CPUs without AVX-512 (this project's 2-core AVX2 machines):
# a training step took 28 s there without it and 15-17 s with it (docs/PERFORMANCE.md)
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")



import numpy as np
import soundfile as sf
import soxr

import audio_io

REPO_ROOT = Path(__file__).resolve().parent
DEFAULT_CHECKPOINT = REPO_ROOT / "models" / "default"
PRECISIONS = ("auto", "float32", "bfloat16")
BACKENDS = ("auto", "tensorflow", "onnxruntime")
# where setup.sh exports the shipped model (export.py, ONNX), for backend=auto
DEFAULT_EXPORT = REPO_ROOT / "exported" / "default"
# Names of the files a run writes; inputs matching them are earlier outputs, not programmes.
PREVIOUS_OUTPUT = re.compile(r"_(denoised|residual|spectrograms)_s\d+(p\d+)?$")
# Sample formats with a fixed full scale: libsndfile clips samples beyond it on writing.
CLIPPING_SUBTYPES = ("PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "PCM_32", "ULAW", "ALAW")
# Sample formats a WAV output keeps; any other becomes 32-bit float (no requantising, no clipping).
WAV_SUBTYPES_KEPT = ("PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW")
_BYTES_PER_SAMPLE = {"PCM_S8": 1, "PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8}
_WAV_LIMIT_BYTES = 0xFFFFFFFF - (1 << 24)  # RIFF sizes are 32-bit; keep a margin for headers

log = logging.getLogger("inference")


class InferenceError(Exception):
    """An input cannot be restored; the message is ``<path>: <problem>`` on one line."""


class UsageError(InferenceError):
    """The command's arguments are wrong (exit status 2)."""


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class SegmentPlan:
    """How a signal at the model rate is cut into segments and joined again.

    Segment ``k`` covers samples ``[k * hop, k * hop + length)``. Where two segments
    overlap, the first ``margin`` and last ``margin`` samples of the overlap come from
    one segment alone (the edge of the other, where its model lacked context, gets weight
    zero) and the middle ``fade`` samples are a raised-cosine crossfade summing to one.
    """

    length: int
    overlap: int
    margin: int
    fade: int

    @property
    def hop(self) -> int:
        return self.length - self.overlap

    @classmethod
    def from_seconds(cls, segment_seconds: float, overlap_seconds: float, sample_rate: int, align: int) -> "SegmentPlan":
        """Segment and overlap in samples; the hop is a multiple of ``align``.

        ``align`` is the STFT hop times the U-Net's total time stride, so every segment's
        frames and down-sampled frames fall on one global grid and overlapping segments
        compute the same features where both have context.
        """
        if not (segment_seconds > 0 and math.isfinite(segment_seconds)):
            raise UsageError(f"inference.segment_seconds: must be a positive number, got {segment_seconds}")
        if not (0 <= overlap_seconds <= segment_seconds / 2):
            raise UsageError(
                f"inference.overlap_seconds: must be between 0 and half of segment_seconds "
                f"({segment_seconds / 2:g}), got {overlap_seconds}"
            )
        overlap = int(round(overlap_seconds * sample_rate))
        hop = max(align, int(round((segment_seconds * sample_rate - overlap) / align)) * align)
        overlap = min(overlap, hop)  # keeps fade-in and fade-out of one segment apart
        margin = overlap // 4
        return cls(length=hop + overlap, overlap=overlap, margin=margin, fade=overlap - 2 * margin)

    def ramp(self) -> np.ndarray:
        """Fade-in weights (length ``fade``); the fade-out is ``1 - ramp``, so they sum to one."""
        t = (np.arange(self.fade, dtype=np.float64) + 0.5) / max(self.fade, 1)
        return np.sin(0.5 * np.pi * t) ** 2

    def weights(self, length: int, fade_in: bool, fade_out: bool) -> np.ndarray:
        """Weights of one segment of ``length`` samples."""
        w = np.ones(length, dtype=np.float64)
        ramp = self.ramp()
        if fade_in:
            w[: self.margin] = 0.0
            w[self.margin : self.margin + self.fade] = ramp
        if fade_out:
            end = length - self.margin
            w[end - self.fade : end] = 1.0 - ramp
            w[end:] = 0.0
        return w


@dataclass
class InferenceSettings:
    """The validated ``inference`` config group."""

    audio: Path
    output_dir: Path | None = None
    checkpoint: Path = DEFAULT_CHECKPOINT
    denoising_strength: float = 1.0
    recursive: bool = True
    overwrite: bool = False
    skip_existing: bool = False
    allow_truncated: bool = False
    segment_seconds: float = 5.0
    overlap_seconds: float = 1.0
    batch_segments: int | None = None
    block_seconds: float = 10.0
    precision: str = "auto"
    backend: str = "auto"
    plot: bool = False
    plot_seconds: float = 30.0
    quiet: bool = False
    verbose: bool = False
    noise_print: str | None = None
    noise_print_check: bool = True


def _number(cfg: Mapping, key: str, kind: type, default: Any) -> Any:
    value = cfg.get(key, default)
    if value is None:
        value = default
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "1", "yes"):
                return True
            if str(value).lower() in ("false", "0", "no"):
                return False
            raise ValueError
        if kind is int and float(value) != int(float(value)):
            raise ValueError
        return kind(float(value)) if kind is int else kind(value)
    except (TypeError, ValueError):
        raise UsageError(f"inference.{key}: expected {kind.__name__}, got {value!r}") from None


def settings_from_config(cfg: Mapping) -> InferenceSettings:
    """Validate the ``inference`` group (of the root config or the group itself).

    Raises :class:`UsageError` for a missing ``audio`` or an option out of range. Relative
    paths are taken from the current directory, except the default checkpoint, which is
    the repository's ``models/default``.
    """
    group = cfg.get("inference", cfg) if "audio" not in cfg else cfg
    known = {f.name for f in dataclasses.fields(InferenceSettings)}
    unknown = sorted(str(k) for k in group.keys() if str(k) not in known)
    if unknown:  # e.g. +inference.strenght=0.5: a typo must not run with the default silently
        raise UsageError(f"inference.{unknown[0]}: unknown option (options: {', '.join(sorted(known))})")
    if not group.get("audio"):
        raise UsageError("inference.audio: missing; usage: python inference.py inference.audio=FILE_OR_FOLDER")
    strength = _number(group, "denoising_strength", float, 1.0)
    if not (0.0 <= strength <= 1.0):
        raise UsageError(f"inference.denoising_strength: must be between 0.0 and 1.0, got {strength}")
    try:
        strength_tag(strength)
    except ValueError as exc:
        raise UsageError(f"inference.denoising_strength: {exc}") from None
    s = InferenceSettings(
        audio=Path(str(group.get("audio"))).expanduser(),
        output_dir=Path(str(group.get("output_dir"))).expanduser() if group.get("output_dir") else None,
        checkpoint=Path(str(group.get("checkpoint"))).expanduser() if group.get("checkpoint") else DEFAULT_CHECKPOINT,
        denoising_strength=strength,
        recursive=_number(group, "recursive", bool, True),
        overwrite=_number(group, "overwrite", bool, False),
        skip_existing=_number(group, "skip_existing", bool, False),
        allow_truncated=_number(group, "allow_truncated", bool, False),
        segment_seconds=_number(group, "segment_seconds", float, 5.0),
        overlap_seconds=_number(group, "overlap_seconds", float, 1.0),
        batch_segments=None if group.get("batch_segments") is None else _number(group, "batch_segments", int, 1),
        block_seconds=_number(group, "block_seconds", float, 10.0),
        precision=str(group.get("precision", "auto") or "auto"),
        backend=str(group.get("backend", "auto") or "auto"),
        plot=_number(group, "plot", bool, False),
        plot_seconds=_number(group, "plot_seconds", float, 30.0),
        quiet=_number(group, "quiet", bool, False),
        verbose=_number(group, "verbose", bool, False),
        noise_print=None if group.get("noise_print") is None else str(group.get("noise_print")),
        noise_print_check=_number(group, "noise_print_check", bool, True),
    )
    if s.batch_segments is not None and s.batch_segments < 1:
        raise UsageError(f"inference.batch_segments: must be at least 1, got {s.batch_segments}")
    if not (s.block_seconds > 0 and math.isfinite(s.block_seconds)):
        raise UsageError(f"inference.block_seconds: must be a positive number, got {s.block_seconds}")
    if not (s.plot_seconds > 0 and math.isfinite(s.plot_seconds)):
        raise UsageError(f"inference.plot_seconds: must be a positive number, got {s.plot_seconds}")
    if s.precision not in PRECISIONS:
        raise UsageError(f"inference.precision: expected one of {', '.join(PRECISIONS)}, got {s.precision!r}")
    if s.backend not in BACKENDS:
        raise UsageError(f"inference.backend: expected one of {', '.join(BACKENDS)}, got {s.backend!r}")
    if s.backend == "onnxruntime" and s.precision == "bfloat16":  # auto goes to tensorflow for bfloat16
        raise UsageError("inference.precision=bfloat16 needs inference.backend=tensorflow (an ONNX export computes in float32)")
    SegmentPlan.from_seconds(s.segment_seconds, s.overlap_seconds, 44100, 1)  # range checks only
    return s


# --------------------------------------------------------------------------- model


_NOISE_FUNCTIONS: "weakref.WeakKeyDictionary[Any, Callable]" = weakref.WeakKeyDictionary()


def _noise_function(model: Any, n_fft: int, hop: int, conditioned: bool = False) -> Callable:
    """A compiled ``[batch, samples] -> [batch, samples]`` noise estimate (input minus output);
    for a conditioned model ``(x, noise power [batch, bins]) -> noise``.

    One trace serves every batch size and segment length (the signature leaves both open).
    """
    import exported_model

    if isinstance(model, exported_model.OnnxDenoiser):  # its STFT is inside the exported graph
        return model.noise
    key = (n_fft, hop, conditioned)
    cached = _NOISE_FUNCTIONS.get(model)
    if cached is not None and cached[0] == key:
        return cached[1]
    import tensorflow as tf

    import stft
    import unet

    def noise_of(x: tf.Tensor, power: tf.Tensor | None = None) -> tf.Tensor:
        spec = stft.spec_to_channels(stft.stft(x, n_fft, hop))
        restored = unet.stage_outputs(model(spec if power is None else [spec, power], training=False))[-1]
        y = stft.istft(stft.channels_to_spec(restored), tf.shape(x)[-1], n_fft, hop)
        return x - y

    signature = [tf.TensorSpec([None, None], tf.float32)]
    if conditioned:
        signature.append(tf.TensorSpec([None, n_fft // 2 + 1], tf.float32))
        estimate_noise = tf.function(noise_of, input_signature=signature, reduce_retracing=True)
    else:
        estimate_noise = tf.function(lambda x: noise_of(x), input_signature=signature, reduce_retracing=True)

    _NOISE_FUNCTIONS[model] = (key, estimate_noise)
    return estimate_noise


def resolve_precision(precision: str) -> str:
    """``float32`` or ``bfloat16``: ``auto`` is bfloat16 only on a CPU that computes it natively
    (AVX-512 BF16 or AMX; a 60 s file took 0.71x the wall time of float32 on such an EPYC),
    float32 elsewhere, where bfloat16 is emulated and slower, and on GPUs."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision: expected one of {PRECISIONS}, got {precision!r}")
    if precision != "auto":
        return precision
    import unet

    return "bfloat16" if compute_device() == "CPU" and unet.native_bfloat16_cpu() else "float32"


def resolve_backend(checkpoint: str | os.PathLike, backend: str, precision: str = "float32") -> tuple[Path, str]:
    """The folder and backend that ``backend`` means for ``checkpoint``.

    ``auto`` is onnxruntime on a CPU in float32 where an export is at hand: the folder itself
    holds ``model.onnx``, or it is the shipped model and ``exported/default`` (made by setup.sh)
    was exported from the same weights. onnxruntime restored with 0.57x the CPU time of
    TensorFlow here, within one 16-bit step (docs/PERFORMANCE.md). Otherwise tensorflow.
    """
    import exported_model

    checkpoint = Path(checkpoint)
    if backend != "auto":
        return checkpoint, backend
    if resolve_precision(precision) != "float32" or compute_device() != "CPU":
        return checkpoint, "tensorflow"
    if (checkpoint / exported_model.ONNX_FILE).is_file():
        return checkpoint, "onnxruntime"
    weights = checkpoint / "model.weights.h5"
    if checkpoint.resolve() == DEFAULT_CHECKPOINT.resolve() and exported_model.export_of(DEFAULT_EXPORT, weights):
        return DEFAULT_EXPORT, "onnxruntime"
    return checkpoint, "tensorflow"


def load_model(checkpoint: str | os.PathLike, precision: str = "float32", backend: str = "tensorflow") -> tuple[Any, dict]:
    """Load a checkpoint folder (``unet.load_denoiser``), in ``float32`` or mixed ``bfloat16``
    (``auto``: :func:`resolve_precision`); with ``backend="onnxruntime"``, an export folder
    written by export.py (``exported_model.OnnxDenoiser``, float32); ``auto``:
    :func:`resolve_backend`.

    With ``bfloat16`` the network body computes in bfloat16 (faster on CPUs with AVX-512
    BF16 or AMX); the STFT, the model's outputs and everything after stay float32.
    Raises ``unet.CheckpointError`` for a missing or incompatible checkpoint.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    checkpoint, backend = resolve_backend(checkpoint, backend, precision)
    precision = resolve_precision(precision)
    if backend == "onnxruntime":
        import exported_model
        import unet

        try:
            onnx_model = exported_model.OnnxDenoiser(checkpoint)
        except exported_model.ExportedModelError as exc:
            raise unet.CheckpointError(str(exc)) from None
        return onnx_model, unet.model_config(onnx_model.config)
    import keras

    import unet

    previous = keras.mixed_precision.global_policy()
    if precision == "bfloat16":
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model, cfg = unet.load_denoiser(checkpoint)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    # Keras only warns when parts of the file match no layer and keeps those layers'
    # random weights; restoring with such a model would be silent damage, so refuse it
    skipped = [w for w in caught if issubclass(w.category, UserWarning) and "saving" in str(w.filename)]
    if skipped:
        first = str(skipped[0].message).split(".")[0]
        raise unet.CheckpointError(f"{checkpoint}: weights do not fit the model config ({len(skipped)} parts not loaded: {first})")
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return model, cfg


def default_batch_segments() -> int:
    """Segments per model call when not configured: 1 on a CPU, where larger batches ran no
    faster and only took more memory (docs/PERFORMANCE.md), 4 on a GPU, which needs them."""
    import tensorflow as tf

    return 4 if tf.config.list_physical_devices("GPU") else 1


def compute_device() -> str:
    """The device TensorFlow places the model on: the first GPU if any, else the CPU."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return f"GPU ({', '.join(g.name for g in gpus)})"
    return "CPU"


# --------------------------------------------------------------------------- streaming core


class _OverlapAddNoise:
    """Noise estimate of a stream at the model rate, segment by segment.

    :meth:`push` takes samples ``[n, channels]`` and returns the noise of every sample that
    no later segment can change any more; :meth:`close` returns the rest, so the outputs
    together have exactly the pushed length. A segment is processed only once a sample
    beyond its end has arrived (or the stream ended), so whether it fades out is known.
    The last segment ends with the signal (a signal no longer than one segment is one
    segment of its own length), so no padding reaches the model.
    """

    def __init__(self, noise_fn: Callable, plan: SegmentPlan, channels: int, batch_items: int) -> None:
        self.noise_fn, self.plan, self.channels = noise_fn, plan, channels
        self.batch_items = batch_items
        self.group = max(1, batch_items // channels)  # segments per model call (all their channels)
        self.buffer = np.zeros((0, channels), np.float32)  # samples from buffer_start on
        self.buffer_start = 0
        self.acc = np.zeros((0, channels), np.float64)  # weighted noise from emitted on
        self.emitted = 0
        self.total = 0
        self.next_segment = 0

    def push(self, x: np.ndarray) -> np.ndarray:
        self.buffer = np.concatenate([self.buffer, x.astype(np.float32, copy=False)])
        self.total += len(x)
        p = self.plan
        while self.total > (self.next_segment + self.group - 1) * p.hop + p.length:
            self._run(range(self.next_segment, self.next_segment + self.group), total=None)
        return self._emit(self.next_segment * p.hop)

    def close(self) -> np.ndarray:
        p, n = self.plan, self.total
        if n == 0:
            return np.zeros((0, self.channels), np.float32)
        last = max(0, -(-(n - p.length) // p.hop))  # the first k with k * hop + length >= n
        for k in range(self.next_segment, last, self.group):
            self._run(range(k, min(k + self.group, last)), total=n)
        # the last segment ends where the signal ends (no padding), so the model treats the
        # end as it would in one piece; it is longer than the overlap, so its fade fits
        self._run([last], total=n, length=n - last * p.hop)
        return self._emit(n)

    def _run(self, segments: range | list[int], total: int | None, length: int | None = None) -> None:
        p = self.plan
        length = length or p.length
        segments = list(segments)
        blocks = []
        for k in segments:
            start = k * p.hop - self.buffer_start
            seg = self.buffer[start : start + length]
            assert len(seg) == length, "a segment was run before its samples arrived"
            blocks.append(seg.T)  # [channels, length]
        items = np.concatenate(blocks)  # [segments * channels, length]
        noise = np.concatenate(
            [np.asarray(self.noise_fn(items[i : i + self.batch_items])) for i in range(0, len(items), self.batch_items)]
        )
        end = segments[-1] * p.hop + length
        if end - self.emitted > len(self.acc):
            self.acc = np.concatenate([self.acc, np.zeros((end - self.emitted - len(self.acc), self.channels))])
        for j, k in enumerate(segments):
            has_next = total is None or k * p.hop + length < total
            w = p.weights(length, fade_in=k > 0, fade_out=has_next)
            a = k * p.hop - self.emitted
            self.acc[a : a + length] += w[:, None] * noise[j * self.channels : (j + 1) * self.channels].T
        self.next_segment = segments[-1] + 1
        drop = min(self.next_segment * p.hop, self.total) - self.buffer_start
        if drop > 0:
            self.buffer = self.buffer[drop:]
            self.buffer_start += drop

    def _emit(self, upto: int) -> np.ndarray:
        n = max(0, upto - self.emitted)
        out, self.acc = self.acc[:n], self.acc[n:]
        self.emitted += n
        return out.astype(np.float32)


# Digital silence: a run of at least this long of exact zeros in a channel. The model's
# estimate there is no noise but its biases' response to an empty spectrogram (up to
# -53 dBFS near the ends of a file with the shipped model), so it is not subtracted.
SILENCE_MIN_SECONDS = 0.001


class _SilenceGate:
    """Sets the noise estimate to zero on digital silence, so silence stays exactly silent.

    A sample is silent when it lies in a run of at least ``min_run`` exact zeros of its
    channel; isolated zeros (zero crossings of quiet programme) are not. Pairs pass in order
    and come out in order; a sample is held until ``min_run - 1`` later samples are known.
    """

    def __init__(self, channels: int, min_run: int) -> None:
        self.n = max(1, int(min_run))
        self.history = np.zeros((0, channels), bool)  # zero-mask of the last n - 1 samples passed on
        self.x = np.zeros((0, channels))
        self.noise = np.zeros((0, channels), np.float32)

    def push(self, pairs: list[tuple[np.ndarray, np.ndarray]], last: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
        if pairs:
            self.x = np.concatenate([self.x, *[x for x, _ in pairs]])
            self.noise = np.concatenate([self.noise, *[n for _, n in pairs]])
        h, n = len(self.history), self.n
        zero = np.concatenate([self.history, self.x == 0])
        ready = len(self.x) if last else max(0, len(zero) - n + 1 - h)  # every run through them is known
        if ready == 0:
            return []
        # windows of n samples that are all zero, then every sample under such a window
        nonzero = np.concatenate([np.zeros((1, zero.shape[1]), np.int64), np.cumsum(~zero, axis=0)])
        full = (nonzero[n:] - nonzero[:-n]) == 0 if len(zero) >= n else np.zeros((0, zero.shape[1]), bool)
        covered = np.concatenate([np.zeros((1, zero.shape[1]), np.int64), np.cumsum(full, axis=0)])
        q = np.arange(h, h + ready)
        hi = np.minimum(q + 1, len(full))
        lo = np.minimum(np.maximum(q - n + 1, 0), hi)
        silent = (covered[hi] - covered[lo]) > 0
        x, noise = self.x[:ready], np.where(silent, 0.0, self.noise[:ready]).astype(np.float32)
        self.x, self.noise = self.x[ready:], self.noise[ready:]
        self.history = zero[: h + ready][-(n - 1) :] if n > 1 else zero[:0]
        return [(x, noise)]


class NoiseStream:
    """Pairs input blocks at any rate with a noise estimate for them: the model's, or any
    function of a segment (``scripts/classical_denoise.py`` streams the classical baselines).

    The input goes to the model rate through ``soxr.ResampleStream``, the noise comes back
    the same way; :meth:`push` and :meth:`close` return ``(input, noise)`` pairs of equal
    length in order, and all pairs together cover the input exactly.
    """

    def __init__(self, noise_fn: Callable, plan: SegmentPlan, sample_rate: int, model_rate: int, channels: int, batch_items: int):
        self.core = _OverlapAddNoise(noise_fn, plan, channels, batch_items)
        self.resampling = sample_rate != model_rate
        if self.resampling:
            self.down = soxr.ResampleStream(sample_rate, model_rate, channels, dtype="float32", quality="HQ")
            self.up = soxr.ResampleStream(model_rate, sample_rate, channels, dtype="float32", quality="HQ")
        self.pending_x: deque[np.ndarray] = deque()
        self.pending_noise: deque[np.ndarray] = deque()
        self.channels = channels
        self.pushed = 0
        self.noise_count = 0
        self.gate = _SilenceGate(channels, math.ceil(SILENCE_MIN_SECONDS * sample_rate))

    def push(self, x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        self.pending_x.append(x)
        self.pushed += len(x)
        xm = self.down.resample_chunk(x.astype(np.float32), last=False) if self.resampling else x
        noise = self.core.push(xm)
        if self.resampling:
            noise = self.up.resample_chunk(noise, last=False)
        self._add_noise(noise)
        return self.gate.push(self._pairs())

    def close(self) -> list[tuple[np.ndarray, np.ndarray]]:
        if self.resampling:
            tail = self.down.resample_chunk(np.zeros((0, self.channels), np.float32), last=True)
            noise = np.concatenate([self.core.push(tail), self.core.close()])
            noise = self.up.resample_chunk(noise, last=True)
        else:
            noise = self.core.close()
        self._add_noise(noise)
        # the resamplers' lengths can differ from the input's by a sample or two; the input decides
        missing = self.pushed - self.noise_count
        if missing > 0:
            self._add_noise(np.zeros((missing, self.channels), np.float32))
        pairs = self._pairs()
        self.pending_noise.clear()
        return self.gate.push(pairs, last=True)

    def _add_noise(self, noise: np.ndarray) -> None:
        room = self.pushed - self.noise_count  # never more noise than input
        noise = noise[:room]
        if len(noise):
            self.pending_noise.append(noise)
            self.noise_count += len(noise)

    def _pairs(self) -> list[tuple[np.ndarray, np.ndarray]]:
        pairs = []
        while self.pending_x and self.pending_noise:
            x, n = self.pending_x[0], self.pending_noise[0]
            k = min(len(x), len(n))
            pairs.append((x[:k], n[:k]))
            if k == len(x):
                self.pending_x.popleft()
            else:
                self.pending_x[0] = x[k:]
            if k == len(n):
                self.pending_noise.popleft()
            else:
                self.pending_noise[0] = n[k:]
        return pairs


# --------------------------------------------------------------------------- files


@dataclass
class OutputFormat:
    """Container, sample format and extension of the outputs for one input."""

    format: str
    subtype: str
    extension: str


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


@dataclass
class OutputPaths:
    denoised: Path
    residual: Path
    plot: Path


# Output names carry the strength to this resolution; a finer strength would share a name
# with a different one (0.72 and 0.68 both rounded to s7), or with the untouched input (s0).
STRENGTH_STEP = 0.001


def strength_tag(strength: float) -> str:
    """``s<N>`` with ``N = 10 * strength`` written with ``p`` for the decimal point:
    1.0 -> ``s10``, 0.7 -> ``s7``, 0.72 -> ``s7p2``, 0.725 -> ``s7p25``, 0.0 -> ``s0``.

    Different strengths always get different names. Raises ``ValueError`` for a strength
    that is not a multiple of :data:`STRENGTH_STEP` (its name could not say it exactly).
    """
    thousandths = round(strength / STRENGTH_STEP)
    if not math.isfinite(strength) or abs(thousandths * STRENGTH_STEP - strength) > 1e-12:
        raise ValueError(f"strength {strength!r} has more than three decimals; output names carry the strength to 0.001")
    whole, frac = divmod(int(thousandths), 100)  # 10 * strength = whole + frac / 100
    return f"s{whole}" + (f"p{frac:02d}".rstrip("0") if frac else "")


def output_paths(source: Path, strength: float, extension: str, output_dir: Path | None = None, input_root: Path | None = None) -> OutputPaths:
    """Where the outputs of ``source`` go: next to it, or in ``output_dir`` (mirroring the
    subfolders of ``source`` below ``input_root`` when a folder is processed)."""
    folder = source.parent
    if output_dir is not None:
        folder = output_dir
        if input_root is not None:
            folder = output_dir / source.parent.relative_to(input_root)
    tag = strength_tag(strength)
    return OutputPaths(
        denoised=folder / f"{source.stem}_denoised_{tag}{extension}",
        residual=folder / f"{source.stem}_residual_{tag}{extension}",
        plot=folder / f"{source.stem}_spectrograms_{tag}.png",
    )


def is_previous_output(path: Path) -> bool:
    """True for files named like this script's outputs (``*_denoised_s10.wav`` ...)."""
    return PREVIOUS_OUTPUT.search(path.stem) is not None


def find_inputs(path: Path, recursive: bool = True) -> list[Path]:
    """The files to restore: ``path`` itself, or the audio files in the folder ``path``,
    without the outputs of earlier runs. Raises :class:`UsageError` for a missing path and
    :class:`InferenceError` for a folder with nothing to restore."""
    if path.is_file():
        return [path]
    if not path.exists():
        raise UsageError(f"{path}: no such file or folder")
    if not path.is_dir():
        raise InferenceError(f"{path}: not a regular file or folder")
    files = audio_io.list_audio_files(path, recursive=recursive)
    inputs = [f for f in files if not is_previous_output(f) and not f.name.startswith(".")]
    if not inputs:
        skipped = len(files) - len(inputs)
        why = f" ({skipped} outputs of earlier runs skipped)" if skipped else ""
        where = "or its subfolders " if recursive else ""
        raise InferenceError(
            f"{path}: no audio files in the folder {where}to restore{why} "
            f"(extensions: {', '.join(audio_io.AUDIO_EXTENSIONS)})"
        )
    return inputs


def _libsndfile_reason(exc: BaseException) -> str:
    text = getattr(exc, "error_string", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())


def open_audio(source: Path) -> sf.SoundFile:
    """Open ``source`` for reading; :class:`InferenceError` if it is missing or not audio."""
    if not source.is_file():
        raise InferenceError(f"{source}: no such file")
    try:
        # the MP3 decoder prints "Note: Illegal Audio-MPEG-Header..." lines to fd 2 itself
        with native_stderr_silenced():
            return sf.SoundFile(str(source))
    except Exception as exc:  # libsndfile raises several types; all mean "not audio"
        reason = _libsndfile_reason(exc)
        if "does not exist or is not a regular file" in reason or reason == "System error.":
            # what libsndfile says when its MP3 decoder finds no frame in an existing file
            reason = "no audio stream found: not an audio file, or one damaged beyond decoding"
        raise InferenceError(f"{source}: cannot be read as audio ({reason})") from None


def checked_blocks(reader: sf.SoundFile, source: Path, block: int) -> Iterator[np.ndarray]:
    """``reader``'s samples as float64 blocks ``[<= block, channels]``, each checked: a decoder
    failure part-way through a damaged file, or a NaN or infinite sample, raises a one-line
    :class:`InferenceError` naming the time."""
    sr, frames = reader.samplerate, 0
    blocks = reader.blocks(blocksize=block, dtype="float64", always_2d=True)
    while True:
        try:
            x = next(blocks)
        except StopIteration:
            return
        except Exception as exc:  # libsndfile raises several types
            raise InferenceError(f"{source}: decoding failed after {frames / sr:.3f} s ({_libsndfile_reason(exc)})") from None
        if not np.isfinite(x).all():
            bad = frames + int(np.argmin(np.isfinite(x).all(axis=1)))
            raise InferenceError(f"{source}: NaN or infinite sample at {bad / sr:.3f} s (frame {bad}); nothing written")
        frames += len(x)
        yield x


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


# libsndfile's log line for a data chunk whose declared size exceeds the bytes present
# (WAV, W64: "data : 176400 (should be 58770)"; AIFF: "SSND : ..."); it then reads only
# what is present, and reports that shorter length as the file's frames.
_SHORT_DATA_CHUNK = re.compile(r"^\s*(data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
# Containers whose header states the length exactly (compressed streams may only estimate it).
_EXACT_LENGTH_FORMATS = ("WAV", "WAVEX", "RF64", "W64", "AIFF", "CAF", "FLAC")


def declared_frames(reader: sf.SoundFile) -> int:
    """The number of frames the file's header declares: more than ``reader.frames`` when
    the file was cut short (an interrupted copy or transfer), else ``reader.frames``."""
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


def truncation_message(source: Path, declared: int, present: int, sample_rate: int) -> str:
    """The one-line report of a file that holds fewer frames than its header declares."""
    missing = declared - present
    return (f"{source}: truncated: the header declares {declared} frames ({declared / sample_rate:.3f} s), "
            f"only {present} are present ({missing} frames, {missing / sample_rate:.3f} s missing)")  # fmt: skip


def _peak_dbfs(peak: float) -> str:
    return f"{20 * math.log10(peak):+.1f} dBFS" if peak > 0 else "-inf dBFS"


@dataclass
class FileResult:
    """What :meth:`Restorer.restore_file` wrote."""

    source: Path
    denoised: Path
    residual: Path
    plot: Path | None
    frames: int
    sample_rate: int
    channels: int
    seconds: float
    warnings: list[str] = field(default_factory=list)


class _PlotCapture:
    """Keeps the first ``seconds`` of input, output and residual (mixed to mono) for the plot."""

    def __init__(self, frames: int) -> None:
        self.frames = frames
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.count = 0

    def add(self, x: np.ndarray, out: np.ndarray, res: np.ndarray) -> None:
        k = min(len(x), self.frames - self.count)
        if k > 0:
            self.parts.append((x[:k].mean(axis=1), out[:k].mean(axis=1), res[:k].mean(axis=1)))
            self.count += k

    def signals(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self.parts:
            z = np.zeros(1)
            return z, z, z
        return tuple(np.concatenate([p[i] for p in self.parts]) for i in range(3))  # type: ignore[return-value]


def write_spectrogram_plot(path: Path, signals: tuple[np.ndarray, np.ndarray, np.ndarray], sample_rate: int, title: str) -> None:
    """Input, restored and residual spectrograms (dB, one colour scale, ``plots.py``) as a PNG at ``path``."""
    import plots

    fig = plots.spectrogram_figure([np.asarray(s, dtype=np.float32) for s in signals], sample_rate, title=title)
    fig.savefig(path, format="png", dpi=100)


def _make_readable(path: Path) -> None:
    """Give an output the permissions of a normally created file (mkstemp makes it 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _new_folders(folder: Path) -> list[Path]:
    """The folders ``folder`` and its ancestors that do not exist yet (deepest first)."""
    missing = []
    for p in [folder, *folder.parents]:
        if p.exists():
            break
        missing.append(p)
    return missing


def _remove_folders(created: list[Path]) -> None:
    """Remove the folders made for outputs that were not written (deepest first)."""
    for folder in created:
        try:
            folder.rmdir()
        except OSError:
            break


class Restorer:
    """Denoises arrays and files with one loaded model.

    ``strength`` is the fraction of the estimated noise removed (see the module docstring);
    ``segment_seconds``/``overlap_seconds`` set the segmentation, ``batch_segments`` how
    many single-channel segments go through the model at once, ``block_seconds`` the size
    of the blocks read from and written to files.
    """

    def __init__(
        self,
        model: Any,
        model_cfg: Mapping,
        strength: float = 1.0,
        segment_seconds: float = 5.0,
        overlap_seconds: float = 1.0,
        batch_segments: int = 4,
        block_seconds: float = 10.0,
    ) -> None:
        if not (0.0 <= strength <= 1.0):
            raise ValueError(f"strength: must be between 0.0 and 1.0, got {strength}")
        if batch_segments < 1:
            raise ValueError(f"batch_segments: must be at least 1, got {batch_segments}")
        self.model, self.strength = model, float(strength)
        self.model_rate = int(model_cfg["sample_rate"])
        self.n_fft, self.hop_length = int(model_cfg["n_fft"]), int(model_cfg["hop_length"])
        strides = model_cfg.get("strides", [2, 2])
        depth = int(model_cfg.get("depth", 1))
        if len(strides) == 2 and all(isinstance(v, (int, np.integer)) for v in strides):
            strides = [strides] * depth
        time_stride = int(np.prod([int(s[0]) for s in strides])) if strides else 1
        self.plan = SegmentPlan.from_seconds(segment_seconds, overlap_seconds, self.model_rate, self.hop_length * time_stride)
        self.batch_segments = int(batch_segments)
        self.block_seconds = float(block_seconds)
        self.conditioned = str(model_cfg.get("conditioning") or "none") != "none"
        self.backend = "onnxruntime" if type(model).__name__ == "OnnxDenoiser" else "tensorflow"
        # the noise power a conditioned model is told (noise_print.py); None: each segment's own
        # auto estimate, what the model was trained to use without a print
        self.noise_power: np.ndarray | None = None

    @classmethod
    def from_pretrained(
        cls,
        checkpoint: str | os.PathLike | None = None,
        precision: str = "auto",
        strength: float = 1.0,
        backend: str = "auto",
        **settings: Any,
    ) -> "Restorer":
        """The one-call way in, without Hydra: load ``checkpoint`` (a model folder; None: the
        shipped ``models/default``; with ``backend="onnxruntime"`` an export folder of export.py;
        ``auto``: :func:`resolve_backend`) and return a restorer for it. ``precision``: ``auto`` (bfloat16 on CPUs that have it
        natively, else float32), ``float32`` or ``bfloat16``.

        ``settings`` are the other keyword arguments of :class:`Restorer` (``segment_seconds``,
        ``overlap_seconds``, ``batch_segments``, ``block_seconds``); ``batch_segments`` defaults
        to :func:`default_batch_segments`. Raises ``unet.CheckpointError`` for a missing or
        incompatible folder::

            restorer = Restorer.from_pretrained()
            restored = restorer.restore(audio, 44100, strength=0.7)
            restorer.restore_file("reel.wav", output_dir="restored")
        """
        folder = Path(checkpoint) if checkpoint is not None else DEFAULT_CHECKPOINT
        model, cfg = load_model(folder, precision, backend)
        settings.setdefault("batch_segments", default_batch_segments())
        return cls(model, cfg, strength=strength, **settings)

    def restore(
        self,
        audio: np.ndarray,
        sample_rate: int,
        strength: float | None = None,
        noise_print: np.ndarray | None = None,
    ) -> np.ndarray:
        """Restore an in-memory signal: float ``[samples]`` or ``[samples, channels]`` at
        ``sample_rate`` -> the same shape and dtype.

        ``strength`` (0..1) overrides the restorer's own for this call; ``noise_print`` (a
        conditioned model only) is a noise-only recording at ``sample_rate`` told for this call.
        The restorer's own strength and print are left as they were. Raises ``ValueError`` for
        arguments out of range or non-finite samples.
        """
        if strength is not None and not (0.0 <= float(strength) <= 1.0):
            raise ValueError(f"strength: must be between 0.0 and 1.0, got {strength}")
        saved = self.noise_power, self.strength
        try:
            if strength is not None:
                self.strength = float(strength)
            if noise_print is not None:
                self.set_noise_print(noise_print, sample_rate)
            return self.denoise_array(audio, sample_rate)
        finally:
            self.noise_power, self.strength = saved

    # ---------------------------------------------------------------- arrays

    def _stream(self, sample_rate: int, channels: int) -> NoiseStream:
        fn = _noise_function(self.model, self.n_fft, self.hop_length, self.conditioned)
        if self.conditioned:
            fn = self._told(fn, self.noise_power)
        return NoiseStream(fn, self.plan, sample_rate, self.model_rate, channels, self.batch_segments)

    def _told(self, fn: Callable, power: np.ndarray | None) -> Callable:
        import noise_print

        def estimate(x: np.ndarray) -> Any:
            x = np.asarray(x, dtype=np.float32)
            if power is None:
                p = np.stack([noise_print.auto_noise_power(row, self.n_fft, self.hop_length)[0] for row in x])
            else:
                p = np.broadcast_to(np.asarray(power, np.float32), (len(x), len(power)))
            return fn(x, np.ascontiguousarray(p, dtype=np.float32))

        return estimate

    def restore_told(self, audio: np.ndarray, power: np.ndarray | None) -> np.ndarray:
        """Fully restore mono ``audio`` at the model rate, told ``power`` (None: no print);
        the restorer's own strength and print are left as they were."""
        saved = self.noise_power, self.strength
        self.noise_power, self.strength = power, 1.0
        try:
            return self.denoise_array(np.asarray(audio, dtype=np.float32), self.model_rate)
        finally:
            self.noise_power, self.strength = saved

    def set_noise_print(self, print_audio: np.ndarray | None, sample_rate: int | None = None) -> None:
        """Tell a conditioned model the noise: a noise-only recording (mono ``[samples]`` at
        ``sample_rate``), or None for no print. Raises ``ValueError`` for an unconditioned
        model and ``noise_print.NoisePrintError`` for a print too short or silent."""
        import noise_print

        if print_audio is None:
            self.noise_power = None
            return
        if not self.conditioned:
            raise ValueError("noise_print: this model does not take a noise print (conditioning: none)")
        audio = np.asarray(print_audio, dtype=np.float32).reshape(len(print_audio), -1).mean(axis=1)
        rate = int(sample_rate or self.model_rate)
        if rate != self.model_rate:
            audio = audio_io.resample(audio, rate, self.model_rate).astype(np.float32)
        noise_print.check_print(audio, self.model_rate, "noise_print", self.n_fft, self.hop_length)
        self.noise_power = noise_print.noise_power(audio, self.n_fft, self.hop_length)

    def denoise_array(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Restore ``audio`` (``[samples]`` or ``[samples, channels]``, float) at ``sample_rate``;
        returns an array of the same shape and dtype."""
        audio = np.asarray(audio)
        if audio.ndim not in (1, 2) or not np.issubdtype(audio.dtype, np.floating):
            raise ValueError(f"audio: expected a float array [samples] or [samples, channels], got {audio.dtype} {audio.shape}")
        if int(sample_rate) <= 0:
            raise ValueError(f"sample_rate: must be positive, got {sample_rate}")
        x = audio.reshape(len(audio), -1)
        finite = np.isfinite(x).all(axis=1)
        if not finite.all():
            raise ValueError(f"audio: NaN or infinite sample at index {int(np.argmin(finite))}")
        if self.strength == 0.0 or len(x) == 0 or x.shape[1] == 0:
            return audio.copy()
        out = np.empty_like(x)
        pos = 0
        for xi, noise in self._pairs_for(x, int(sample_rate)):
            out[pos : pos + len(xi)] = xi - self.strength * noise.astype(np.float64)
            pos += len(xi)
        assert pos == len(x)
        return out.reshape(audio.shape)

    def _pairs_for(self, x: np.ndarray, sample_rate: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        stream = self._stream(sample_rate, x.shape[1])
        block = max(1, int(self.block_seconds * sample_rate))
        for i in range(0, len(x), block):
            yield from stream.push(x[i : i + block])
        yield from stream.close()

    # ---------------------------------------------------------------- files

    def restore_file(
        self,
        source: str | os.PathLike,
        paths: OutputPaths | None = None,
        output_dir: str | os.PathLike | None = None,
        overwrite: bool = False,
        plot: bool = False,
        plot_seconds: float = 30.0,
        progress: Callable[[float], Any] | None = None,
        allow_truncated: bool = False,
        strength: float | None = None,
    ) -> FileResult:
        """Restore one file block by block and write denoised and residual outputs.

        ``strength`` (0..1) overrides the restorer's own for this file (and its output names).

        Outputs go to ``paths`` (default :func:`output_paths` next to the input or in
        ``output_dir``). Raises :class:`InferenceError` (and leaves no output) for an
        unreadable, empty or non-finite input, for outputs that exist without
        ``overwrite``, and for a file holding fewer frames than its header declares, unless
        ``allow_truncated``: then the frames present are restored and the result carries a
        warning. ``progress`` is called with the number of frames of each block read.
        """
        if strength is not None:
            if not (0.0 <= float(strength) <= 1.0):
                raise ValueError(f"strength: must be between 0.0 and 1.0, got {strength}")
            saved = self.strength
            self.strength = float(strength)
            try:
                return self.restore_file(source, paths, output_dir, overwrite, plot, plot_seconds, progress, allow_truncated)
            finally:
                self.strength = saved
        source = Path(source)
        with open_audio(source) as reader:
            sr, channels = reader.samplerate, reader.channels
            declared = declared_frames(reader) if reader.format in _EXACT_LENGTH_FORMATS else 0
            if declared > reader.frames and not allow_truncated:  # known from the header: fail before any work
                raise InferenceError(truncation_message(source, declared, max(reader.frames, 0), sr) + TRUNCATION_HINT)
            fmt = output_format(reader)
            if paths is None:
                paths = output_paths(source, self.strength, fmt.extension, Path(output_dir) if output_dir else None)
            targets = [paths.denoised, paths.residual] + ([paths.plot] if plot else [])
            self._check_targets(source, targets, overwrite)
            created = _new_folders(paths.denoised.parent)
            temps: list[Path] = []
            try:
                for t in targets:
                    temps.append(audio_io.atomic_output(t)[0])
            except OSError as exc:  # a folder that is a file, or not writable: name the output, not its .part
                for tmp in temps:
                    tmp.unlink(missing_ok=True)
                _remove_folders(created)
                raise InferenceError(f"{source}: cannot write {t} ({exc.strerror or exc})") from None
            started = time.perf_counter()
            try:
                result = self._restore_open_file(reader, source, fmt, temps[0], temps[1], paths, plot, plot_seconds, progress)
                if result["frames"] < declared:  # cut short: a restorer must not lose frames unawares
                    message = truncation_message(source, declared, result["frames"], sr)
                    if not allow_truncated:
                        raise InferenceError(message + TRUNCATION_HINT)
                    result["warnings"].append(message + "; the frames present were restored (inference.allow_truncated=true)")
                if plot:
                    capture: _PlotCapture = result.pop("capture")
                    title = f"{source.name}: first {capture.count / sr:.1f} s, strength {self.strength:g}, channels mixed"
                    write_spectrogram_plot(temps[2], capture.signals(), sr, title)
                self._check_targets(source, targets, overwrite)  # one may have appeared meanwhile
                for tmp, final in zip(temps, targets):  # all complete: only renames are left
                    _make_readable(tmp)
                    audio_io.commit_output(tmp, final)
            except BaseException:
                for t in temps:
                    t.unlink(missing_ok=True)
                _remove_folders(created)
                raise
        return FileResult(
            source=source,
            denoised=paths.denoised,
            residual=paths.residual,
            plot=paths.plot if plot else None,
            frames=result["frames"],
            sample_rate=sr,
            channels=channels,
            seconds=time.perf_counter() - started,
            warnings=result["warnings"],
        )

    @staticmethod
    def _check_targets(source: Path, targets: list[Path], overwrite: bool) -> None:
        for t in targets:
            if t.exists() and t.resolve() == source.resolve():
                raise InferenceError(f"{source}: refusing to write an output over the input")
        existing = [t for t in targets if t.exists()]
        if existing and not overwrite:
            names = ", ".join(str(t) for t in existing)
            raise InferenceError(f"{source}: output already exists ({names}); pass inference.overwrite=true to replace it")

    def _restore_open_file(self, reader: sf.SoundFile, source: Path, fmt: OutputFormat, tmp_out: Path, tmp_res: Path, paths: OutputPaths, plot: bool, plot_seconds: float, progress: Callable[[float], Any] | None) -> dict:
        sr, channels = reader.samplerate, reader.channels
        block = max(1, int(self.block_seconds * sr))
        capture = _PlotCapture(int(plot_seconds * sr)) if plot else None
        peaks = np.zeros(2)  # denoised, residual
        frames_in = frames_out = 0
        stream = None if self.strength == 0.0 else self._stream(sr, channels)
        kwargs = dict(samplerate=sr, channels=channels, subtype=fmt.subtype, format=fmt.format)
        with sf.SoundFile(str(tmp_out), "w", **kwargs) as w_out, sf.SoundFile(str(tmp_res), "w", **kwargs) as w_res:

            def write(pairs: list[tuple[np.ndarray, np.ndarray]]) -> int:
                n = 0
                for x, noise in pairs:
                    out = x - self.strength * noise.astype(np.float64) if noise is not None else x
                    res = x - out
                    q_out, q_res = quantise_outputs(x, out, fmt.subtype)
                    w_out.write(q_out)
                    w_res.write(q_res)
                    if len(x):
                        peaks[0] = max(peaks[0], float(np.abs(out).max()))
                        peaks[1] = max(peaks[1], float(np.abs(res).max()))
                    if capture is not None:
                        capture.add(x, out, res)
                    n += len(x)
                return n

            for x in checked_blocks(reader, source, block):
                frames_in += len(x)
                frames_out += write(stream.push(x) if stream else [(x, None)])
                if progress is not None:
                    progress(len(x))
            if frames_in == 0:
                raise InferenceError(f"{source}: the file holds no samples")
            if stream is not None:
                frames_out += write(stream.close())
        if frames_out != frames_in:  # the pipeline's promise; never ship a wrong length
            raise InferenceError(f"{source}: internal error, wrote {frames_out} of {frames_in} frames")
        messages = []
        if fmt.subtype in CLIPPING_SUBTYPES:
            for peak, name in zip(peaks, (paths.denoised, paths.residual)):
                if peak > 1.0:
                    messages.append(
                        f"{name}: peaks at {_peak_dbfs(peak)}, above full scale; those samples were clipped in {fmt.subtype} "
                        f"(lower inference.denoising_strength or convert the input to 32-bit float WAV to keep them)"
                    )
        result: dict = {"frames": frames_in, "warnings": messages}
        if capture is not None:
            result["capture"] = capture
        return result


def denoise_array(
    model: Any,
    model_cfg: Mapping,
    audio: np.ndarray,
    sample_rate: int,
    strength: float = 1.0,
    segment_seconds: float = 5.0,
    overlap_seconds: float = 1.0,
    batch_segments: int = 4,
    noise_print: np.ndarray | None = None,
) -> np.ndarray:
    """Restore an in-memory signal; the same pipeline as the files, without files.

    ``noise_print`` (a conditioned model only): a noise-only recording ``[samples]`` at
    ``sample_rate`` whose power spectrum the model is told; None restores without a print.

    ``audio`` is float ``[samples]`` or ``[samples, channels]`` at ``sample_rate`` (any
    rate: the noise is estimated at ``model_cfg['sample_rate']`` and resampled back with
    soxr). Returns ``audio - strength * noise`` with the input's shape and dtype; strength
    0 returns a copy of the input without running the model. Raises ``ValueError`` for
    arguments out of range or non-finite samples.
    """
    restorer = Restorer(model, model_cfg, strength, segment_seconds, overlap_seconds, batch_segments)
    restorer.set_noise_print(noise_print, sample_rate)
    return restorer.denoise_array(audio, sample_rate)


# --------------------------------------------------------------------------- command line


def _one_line(message: Any, limit: int = 600) -> str:
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."  # e.g. Keras lists every layer


def _print_error(message: Any) -> None:
    print(f"error: {_one_line(message)}", file=sys.stderr, flush=True)


def _print_warning(message: str) -> None:
    print(f"warning: {_one_line(message)}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def native_stderr_silenced(active: bool = True) -> Iterator[None]:
    """Sends file descriptor 2 to /dev/null: TensorFlow's C++ start-up messages ignore
    ``TF_CPP_MIN_LOG_LEVEL`` before absl logging is initialised. Python errors raised
    inside still propagate and are reported after the descriptor is restored."""
    if not active:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_MODEL_CACHE: dict[tuple, tuple[Any, dict]] = {}


def _cached_model(checkpoint: Path, precision: str, backend: str = "tensorflow") -> tuple[Any, dict]:
    """Load once per process (tests and notebooks call :func:`run` repeatedly)."""
    folder, chosen = resolve_backend(checkpoint, backend, precision)
    weights = folder / ("model.onnx" if chosen == "onnxruntime" else "model.weights.h5")
    stamp = weights.stat().st_mtime_ns if weights.exists() else None
    key = (str(folder.resolve()), stamp, precision, chosen)
    if key not in _MODEL_CACHE:
        _MODEL_CACHE.clear()
        _MODEL_CACHE[key] = load_model(folder, precision, chosen)
    return _MODEL_CACHE[key]


def unwritable_reason(folder: Path) -> str | None:
    """Why outputs cannot be written in ``folder`` (created as needed), or None if they can.

    Checked before the model is loaded, so a wrong ``output_dir`` costs no time and is
    reported once, naming the folder rather than a temporary file.
    """
    p = folder
    while not p.exists() and p != p.parent:
        p = p.parent
    if not p.is_dir():
        return f"{p}: is a file, not a folder"
    if not os.access(p, os.W_OK | os.X_OK):
        return f"{p}: no permission to write there"
    return None


@dataclass
class _Planned:
    """A file that passed the checks that need no model, and where its outputs go."""

    source: Path
    paths: OutputPaths
    frames: int
    rate: int


def _plan(files: list[Path], settings: InferenceSettings, input_root: Path | None, failures: list[str],
          skipped: list[Path] | None = None) -> list[_Planned]:  # fmt: skip
    """Probe every input (readable, not truncated, outputs free and writable) without the
    model; failures are printed and appended to ``failures``. With ``skip_existing``, an
    input whose outputs all exist is appended to ``skipped`` and not restored."""
    planned = []
    claimed: dict[Path, Path] = {}  # output name -> the input that produces it in this run
    for source in files:
        try:
            with open_audio(source) as probe:
                ext = output_format(probe).extension
                frames, rate = max(probe.frames, 0), probe.samplerate
                declared = declared_frames(probe) if probe.format in _EXACT_LENGTH_FORMATS else 0
            if declared > frames and not settings.allow_truncated:
                raise InferenceError(truncation_message(source, declared, frames, rate) + TRUNCATION_HINT)
            paths = output_paths(source, settings.denoising_strength, ext, settings.output_dir, input_root)
            clash = claimed.setdefault(paths.denoised.resolve(), source)
            if clash != source:  # e.g. take.wav and take.mp3 both give take_denoised_s10.wav
                raise InferenceError(f"{source}: its outputs would have the same names as those of {clash}; rename one of them")
            targets = [paths.denoised, paths.residual] + ([paths.plot] if settings.plot else [])
            # all outputs present: an earlier run finished this file (each is renamed into place whole)
            if settings.skip_existing and not settings.overwrite and all(t.exists() for t in targets):
                if skipped is not None:
                    skipped.append(source)
                continue
            Restorer._check_targets(source, targets, settings.overwrite)
            reason = unwritable_reason(paths.denoised.parent)
            if reason:
                raise InferenceError(f"{source}: cannot write its outputs ({reason})")
        except InferenceError as exc:
            _print_error(exc)
            failures.append(str(exc))
            continue
        planned.append(_Planned(source, paths, frames, rate))
    return planned


def file_noise_power(restorer: Restorer, spec: Any, source: Path, file_print: np.ndarray | None,
                     check: bool) -> tuple[np.ndarray | None, list[str], list[str]]:  # fmt: skip
    """The noise power to tell the model for ``source`` (None: restore without a print), with
    info lines and warnings to print.

    ``spec`` is a ``noise_print.PrintSpec``; ``file_print`` the loaded print of a ``file`` spec.
    With ``check``, the print is used only if :func:`noise_print.held_out_check` finds that it
    helps. Raises ``noise_print.NoisePrintError`` for a range outside the file or a print that
    cannot be used.
    """
    import noise_print

    rate, n_fft, hop = restorer.model_rate, restorer.n_fft, restorer.hop_length
    info: list[str] = []
    warns: list[str] = []
    if spec.kind == "none":
        return None, info, warns
    # the recording itself is read only where auto or the check needs it (up to ten minutes of it)
    recording = None
    if spec.kind == "auto" or check:
        recording, _ = noise_print.read_mono(source, rate, max_seconds=noise_print.AUTO_MAX_SECONDS)
    if spec.kind == "file":
        audio = file_print
    elif spec.kind == "range":
        audio, notes = noise_print.read_mono(source, rate, spec.start, spec.end)
        warns += noise_print.check_print(audio, rate, f"{source}: noise print {spec.describe()}", n_fft, hop)
    else:
        audio, contrast = noise_print.auto_print(recording, rate, n_fft, hop)
        seconds = len(audio) / rate
        if seconds < noise_print.MIN_PRINT_SECONDS:
            warns.append(f"{source}: auto found {seconds:.2f} s of sound outside digital silence, less than the "
                         f"{noise_print.MIN_PRINT_SECONDS:g} s a print needs; restoring without a print")  # fmt: skip
            return None, info, warns
        if contrast < noise_print.AUTO_MIN_CONTRAST_DB:
            warns.append(f"{source}: auto found no pauses: its quietest {seconds:.1f} s lie only {contrast:.1f} dB below "
                         f"the median level (at least {noise_print.AUTO_MIN_CONTRAST_DB:g} dB needed); restoring without "
                         "a print (give one with noise_print=START-END or a file)")  # fmt: skip
            return None, info, warns
        info.append(f"{source.name}: auto noise print: {seconds:.1f} s of the quietest passages, {contrast:.0f} dB below "
                    f"the median level (the quietest {noise_print.AUTO_FRACTION:.0%}, at least "
                    f"{noise_print.MIN_PRINT_SECONDS:g} s, of the first {noise_print.AUTO_MAX_SECONDS / 60:g} min)")  # fmt: skip
    assert audio is not None
    if recording is not None and check:
        result = noise_print.held_out_check(restorer.restore_told, recording, audio, rate, n_fft, hop)
        if result is None:
            info.append(f"{source.name}: the print is too short to hold part of it out; used unchecked")
        else:
            info.append(f"{source.name}: {result.describe()}")
            if not result.use_print:
                return None, info, warns
    return noise_print.noise_power(audio, n_fft, hop), info, warns


def _print_spec(settings: InferenceSettings, model_cfg: Mapping, checkpoint: Path) -> tuple[Any, np.ndarray | None]:
    """The validated ``inference.noise_print`` for this model, and a print file's audio.

    The default (null) is ``auto`` for a conditioned model: a restorer rarely has a clean
    print at hand, the held-out check keeps a bad estimate out, and the model was trained
    with auto estimates; ``none`` for any other. Raises :class:`UsageError` for a print the
    model cannot take or a file print that cannot be used.
    """
    import noise_print

    conditioned = str(model_cfg.get("conditioning") or "none") != "none"
    value = settings.noise_print if settings.noise_print is not None else ("auto" if conditioned else "none")
    try:
        spec = noise_print.parse_spec(value)
    except noise_print.NoisePrintError as exc:
        raise UsageError(str(exc)) from None
    if spec.kind != "none" and not conditioned:
        raise UsageError(f"inference.noise_print={value}: the model {checkpoint} does not take a noise print "
                         "(its conditioning is none); use a conditioned model or noise_print=none")  # fmt: skip
    if spec.kind != "file":
        return spec, None
    rate, n_fft, hop = int(model_cfg["sample_rate"]), int(model_cfg["n_fft"]), int(model_cfg["hop_length"])
    try:
        audio, notes = noise_print.read_mono(spec.path, rate)
        warns = noise_print.check_print(audio, rate, f"{spec.path}", n_fft, hop)
    except (noise_print.NoisePrintError, audio_io.AudioError) as exc:
        raise UsageError(str(exc)) from None
    if notes:
        _print_warning(f"{spec.path}: noise print {' and '.join(notes)}")
    for w in warns:
        _print_warning(w)
    return spec, audio


def _report_failures(failures: list[str], total: int) -> int:
    if not failures:
        return 0
    if total > 1:
        print(f"error: {len(failures)} of {total} files failed:", file=sys.stderr)
        for f in failures:
            print(f"  {_one_line(f)}", file=sys.stderr)
    return 1


def run(cfg: Mapping) -> int:
    """The whole command for a composed config (root or ``inference`` group); returns the
    exit status. Errors are printed as ``error: <path>: <problem>``, never raised."""
    try:
        settings = settings_from_config(cfg)
        files = find_inputs(settings.audio, settings.recursive)
        if settings.output_dir is not None:
            reason = unwritable_reason(settings.output_dir)
            if reason:
                raise UsageError(f"inference.output_dir: {reason}")
    except UsageError as exc:
        _print_error(exc)
        return 2
    except InferenceError as exc:
        _print_error(exc)
        return 1
    log.setLevel(logging.WARNING if settings.quiet else logging.DEBUG if settings.verbose else logging.INFO)
    # matplotlib (imported with TensorFlow) logs "generated new fontManager" at INFO when it
    # builds its font cache; the command's stdout logging would print it even with quiet=true
    logging.getLogger("matplotlib").setLevel(logging.WARNING)

    folder_mode = settings.audio.is_dir()
    input_root = settings.audio if folder_mode else None
    failures: list[str] = []
    skipped: list[Path] = []
    planned = _plan(files, settings, input_root, failures, skipped)
    if skipped:
        log.info("%d of %d files skipped: their outputs exist (inference.skip_existing=true)", len(skipped), len(files))
    if not planned:  # nothing left to restore: do not spend the model's start-up on it
        return _report_failures(failures, len(files))

    checkpoint = settings.checkpoint
    try:
        with native_stderr_silenced(not settings.verbose):
            import tensorflow  # noqa: F401  (its C++ start-up lines would bury our messages)
        import unet

        if checkpoint == DEFAULT_CHECKPOINT and not checkpoint.exists():
            raise unet.CheckpointError(
                f"{checkpoint}: the shipped model is not installed; pass inference.checkpoint=FOLDER "
                f"(a folder with config.json and model.weights.h5)"
            )
        model, model_cfg = _cached_model(checkpoint, settings.precision, settings.backend)
        spec, file_print = _print_spec(settings, model_cfg, checkpoint)
        restorer = Restorer(
            model,
            model_cfg,
            settings.denoising_strength,
            settings.segment_seconds,
            settings.overlap_seconds,
            settings.batch_segments or default_batch_segments(),
            settings.block_seconds,
        )
    except UsageError as exc:
        _print_error(exc)
        return 2
    except Exception as exc:  # unet.CheckpointError, or a config.json the model cannot use
        message = str(exc) if type(exc).__name__ == "CheckpointError" else f"{checkpoint}: cannot load the model ({exc})"
        _print_error(_one_line(message, 300))
        return 1
    level = logging.INFO if settings.verbose else logging.DEBUG
    log.log(level, "device: %s; model: %s (%s, %s Hz); backend %s, precision %s", compute_device(), checkpoint, model_cfg.get("name"),
            restorer.model_rate, restorer.backend, "float32" if restorer.backend == "onnxruntime" else resolve_precision(settings.precision))
    log.log(level, "segments: %d samples, overlap %d (crossfade %d), %d per batch", restorer.plan.length, restorer.plan.overlap, restorer.plan.fade, restorer.batch_segments)

    from tqdm import tqdm

    files_bar = tqdm(total=len(files), initial=len(failures) + len(skipped), unit="file", desc="files", disable=settings.quiet or not folder_mode, position=0, dynamic_ncols=True)
    source = planned[0].source
    try:
        for item in planned:
            source = item.source
            try:  # before the progress bar, so that its lines stand on their own
                restorer.noise_power, info, warns = file_noise_power(restorer, spec, source, file_print, settings.noise_print_check)
            except (ValueError, audio_io.AudioError) as exc:  # noise_print.NoisePrintError is a ValueError
                _print_error(exc)
                failures.append(str(exc))
                files_bar.update(1)
                continue
            for line in warns:
                _print_warning(line)
            for line in info:
                log.info("%s", line)
            bar = tqdm(  # counts frames, shows seconds
                total=item.frames or None,
                unit="s",
                unit_scale=1.0 / item.rate,
                desc=source.name[:40],
                disable=settings.quiet,
                leave=not folder_mode,
                position=1 if folder_mode else 0,
                dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} s [{elapsed}<{remaining}]" if item.frames else None,
            )
            try:
                result = restorer.restore_file(
                    source,
                    item.paths,
                    overwrite=settings.overwrite,
                    plot=settings.plot,
                    plot_seconds=settings.plot_seconds,
                    progress=bar.update,
                    allow_truncated=settings.allow_truncated,
                )
            except InferenceError as exc:
                _close_erased(bar)
                _print_error(exc)
                failures.append(str(exc))
            except Exception as exc:  # unforeseen: report it for this file and go on with the others
                _close_erased(bar)
                if settings.verbose:
                    import traceback

                    traceback.print_exc()
                message = f"{source}: unexpected failure ({type(exc).__name__}: {exc})"
                _print_error(message)
                failures.append(message)
            else:
                bar.close()
                for w in result.warnings:
                    _print_warning(w)
                duration = result.frames / result.sample_rate
                log.info(
                    "%s -> %s, %s (%.1f s of audio in %.1f s, real-time factor %.2f)",
                    source, result.denoised.name, result.residual.name, duration, result.seconds, result.seconds / max(duration, 1e-9),
                )
            files_bar.update(1)
    except KeyboardInterrupt:
        files_bar.close()
        _print_error(f"{source}: interrupted; its outputs were not written")
        return 130
    files_bar.close()
    return _report_failures(failures, len(files))


def _close_erased(bar: Any) -> None:
    """Close a progress bar and erase its line, so an error message stands on its own line
    instead of after a fragment of the bar."""
    bar.leave = False
    bar.close()


# Options whose values are paths: taken literally from the command line (see quote_paths).
PATH_OPTIONS = ("inference.audio", "inference.output_dir", "inference.checkpoint")


def quote_paths(args: list[str]) -> list[str]:
    """Quote the values of the path options for Hydra, so any path works unquoted.

    Hydra's override grammar takes unquoted values as ASCII words: a path with an accent,
    an apostrophe, a space, a comma or ``=`` would fail or change. A value the user quoted
    already (``inference.audio="'reel 1.wav'"``) or ``null`` is left as it is.
    """
    out = []
    for arg in args:
        key, sep, value = arg.partition("=")
        if sep and key.lstrip("+~") in PATH_OPTIONS and value and value[0] not in "'\"" and value != "null":
            # in a quoted value only a quote and the backslashes before it (or at the end) are special
            escaped = re.sub(r"(\\*)('|$)", lambda m: m.group(1) * 2 + ("\\'" if m.group(2) else ""), value)
            arg = f"{key}='{escaped}'"
        out.append(arg)
    return out


class _HeldStderr:
    """Holds what is written to stderr until the command proper starts, so Hydra's
    several-line report of a bad argument can be replaced by one line."""

    def __init__(self, real: Any) -> None:
        self.real, self.held, self.passing = real, [], False

    def write(self, text: str) -> int:
        if self.passing:
            return self.real.write(text)
        self.held.append(text)
        return len(text)

    def flush(self) -> None:
        self.real.flush()

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding... of the real stream
        return getattr(self.real, name)


def hydra_entry(run_config: Callable[[Any], int]) -> None:
    """Run ``run_config(cfg)`` as a Hydra entry point on the project's config tree, with the
    command line's conventions: exit with its code, Ctrl-C and ``kill`` clean up, paths with
    odd characters pass, and arguments Hydra rejects give one ``error:`` line and exit 2."""
    import signal

    import hydra

    def terminate(signum: int, frame: Any) -> None:  # `kill` cleans up like Ctrl-C: no .part files left
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    sys.argv[1:] = quote_paths(sys.argv[1:])
    held = _HeldStderr(sys.stderr)

    # an absolute path: Hydra would otherwise look for `conf` beside the module defining
    # `main` as a Python package when the entry point is another file (export.py, app.py)
    @hydra.main(config_path=str(REPO_ROOT / "conf"), config_name="conf", version_base="1.3")
    def main(cfg: Any) -> None:
        held.passing = True
        code = run_config(cfg)
        if code:
            sys.exit(code)

    full_error = os.environ.get("HYDRA_FULL_ERROR") == "1"  # the user asked for Hydra's traceback
    if not full_error:
        sys.stderr = held
    try:
        main()
    except SystemExit as exc:
        if held.passing or exc.code in (0, None):
            raise
        # Hydra rejected the arguments (an unknown key, a syntax error): bad arguments exit 2
        sys.stderr = held.real
        lines = [line.strip() for line in "".join(held.held).splitlines() if line.strip() and "HYDRA_FULL_ERROR" not in line]
        if lines:
            _print_error(" ".join(lines))
        sys.exit(2)
    finally:
        sys.stderr = held.real


def _main() -> None:
    hydra_entry(run)


if __name__ == "__main__":
    _main()
