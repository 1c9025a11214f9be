"""The streaming overlap-add engine: any noise estimator of ``[items, samples]`` segments,
applied to a signal of any length and rate in bounded memory.

A signal is cut into overlapping segments (:class:`SegmentPlan`) at the estimator's rate,
estimated in batches and joined with raised-cosine crossfades whose weights sum to one
(:class:`_OverlapAddNoise`); :class:`NoiseStream` adds the resampling to and from that rate
and keeps digital silence silent. Nothing here knows the model: the restorer (inference.py)
streams the U-Net's estimate through it, ``scripts/classical_denoise.py`` the classical
baselines.
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

import audio_io
from cli import UsageError


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

    The input goes to the model rate through :func:`audio_io.resample_stream`, the noise comes back
    the same way; :meth:`push` and :meth:`close` return ``(input, noise)`` pairs of equal
    length in order, and all pairs together cover the input exactly.
    """

    def __init__(self, noise_fn: Callable, plan: SegmentPlan, sample_rate: int, model_rate: int, channels: int, batch_items: int):
        self.core = _OverlapAddNoise(noise_fn, plan, channels, batch_items)
        self.resampling = sample_rate != model_rate
        if self.resampling:
            self.down = audio_io.resample_stream(sample_rate, model_rate, channels)
            self.up = audio_io.resample_stream(model_rate, sample_rate, channels)
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



def stream_pairs(stream: NoiseStream, x: np.ndarray, block: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(input, noise)`` pairs covering the in-memory signal ``x`` ``[samples, channels]``,
    pushed through ``stream`` ``block`` samples at a time (as files are read)."""
    for i in range(0, len(x), block):
        yield from stream.push(x[i : i + block])
    yield from stream.close()


def subtract_noise(stream: NoiseStream, x: np.ndarray, strength: float, block: int) -> np.ndarray:
    """``x - strength * noise`` for the in-memory signal ``x`` ``[samples, channels]`` (float64
    arithmetic, ``x``'s dtype), its noise estimated by ``stream``."""
    out = np.empty_like(x)
    pos = 0
    for xi, noise in stream_pairs(stream, x, block):
        out[pos : pos + len(xi)] = xi - strength * noise.astype(np.float64)
        pos += len(xi)
    assert pos == len(x)
    return out
