"""Steady tones: hum, buzz or a whistle standing at one level through a recording.

A model that has not heard a noise may leave it (docs/RESULTS.md, "Known limits": on real
mains hum no model here had heard, the shipped model gained 3 dB where LSA gained 9). Such noise
is easy to tell from programme after the fact: it is a narrow line that stands in the spectrum
through the whole recording at one level, where a programme's notes come and go. This module
finds such lines in the input as it is restored, and reports those still standing in the
restoration (:func:`left_in_restoration`), so that the command can say so and point to a noise
print, which removes them (RESTORATION_GUIDE.md, "Steady tones left in the restoration").

A line is a bin of a long STFT (about 2.7 Hz wide) between ``LOW_HZ`` and ``HIGH_HZ`` whose
level in the quieter frames (the ``QUIET_PERCENTILE``-th percentile over frames) stands
``MIN_PROMINENCE_DB`` or more above the same percentile of the bins around it, and whose level
varies over the recording by at most ``MAX_SPREAD_DB`` (the 90th minus the 10th percentile over
frames). Measured on clean music, the steadiest prominent line of a piece spread 10.9 dB or
more; real mains hum mixed into music at 10 dB SNR spread 0.1 to 5.7 dB (docs/EXPERIMENTS.md,
"2026-11-29: a warning for steady tones left in the restoration").

The same finding serves training: clean programme recorded with mains hum in it (LibriSpeech
readers, sampled pianos) teaches a model that hum is programme; ``dset.notch_steady_tones``
notches such lines out of each clean file as it is loaded (:func:`notch`; measured, off by
default: docs/EXPERIMENTS.md, "2026-11-29: hum in the clean programme, notched").

Numpy and scipy: fed block by block (:class:`SteadyToneWatch`) by ``inference.Restorer``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LOW_HZ = 20.0
HIGH_HZ = 4000.0  # mains harmonics, film buzz and most whistles of a playback chain lie below
BIN_HZ = 2.7  # the STFT's resolution: the next power of two of sample_rate / BIN_HZ samples
QUIET_PERCENTILE = 20.0  # a line present in at least 80 % of the frames
MIN_PROMINENCE_DB = 10.0
MAX_SPREAD_DB = 6.0
# a line the restoration took down by this much counts as taken out, however it still stands
# above what is left around it (a restoration near silence); the shipped model left the lines it
# was warned for at most 38 dB down (docs/EXPERIMENTS.md, the warning's entry)
MAX_REDUCTION_DB = 40.0
NEIGHBOURS_HZ = (10.0, 55.0)  # the bins a line is compared with, either side
PEAK_GUARD_HZ = 8.0  # a line is the highest bin within this distance
MIN_SECONDS = 3.0  # fewer frames give no stable percentile
MAX_SECONDS = 600.0  # the first ten minutes, as auto's print (noise_print.AUTO_MAX_SECONDS)
MAX_REPORTED = 5


@dataclass(frozen=True)
class SteadyTone:
    """One steady line: its frequency, its height above its surroundings and its level's spread (dB)."""

    frequency_hz: float
    prominence_db: float
    spread_db: float


def fft_size(sample_rate: int) -> int:
    """The STFT length that gives bins of about ``BIN_HZ`` at ``sample_rate``."""
    return int(2 ** round(math.log2(sample_rate / BIN_HZ)))


def _peak_frequency(levels: np.ndarray, i: int, bin_hz: float, first_bin: int) -> float:
    """The line's frequency refined by a parabola through its bin and the two beside it."""
    if 0 < i < levels.size - 1:
        a, b, c = levels[i - 1], levels[i], levels[i + 1]
        den = a - 2 * b + c
        offset = 0.5 * (a - c) / den if den < 0 else 0.0
    else:
        offset = 0.0
    return float((first_bin + i + offset) * bin_hz)


def _quiet_levels(frame_db: np.ndarray) -> np.ndarray:
    return np.percentile(frame_db, QUIET_PERCENTILE, axis=1)


def _prominence(quiet: np.ndarray, i: int, bin_hz: float) -> float:
    """How far bin ``i`` of ``quiet`` stands above the median of the bins around it (dB)."""
    n = quiet.size
    near_lo = max(1, int(round(NEIGHBOURS_HZ[0] / bin_hz)))
    near_hi = max(near_lo + 1, int(round(NEIGHBOURS_HZ[1] / bin_hz)))
    around = np.r_[quiet[max(0, i - near_hi):max(0, i - near_lo + 1)], quiet[min(n, i + near_lo):min(n, i + near_hi + 1)]]
    return float(quiet[i] - np.median(around)) if around.size else 0.0


def find_steady_tones(frame_db: np.ndarray, bin_hz: float, first_bin: int) -> list[SteadyTone]:
    """The steady lines in ``frame_db`` ([bins, frames], power in dB of bins ``first_bin`` on,
    ``bin_hz`` apart), strongest first."""
    if frame_db.ndim != 2 or frame_db.shape[1] < 2 or frame_db.shape[0] < 3:
        return []
    quiet = _quiet_levels(frame_db)
    spread = np.percentile(frame_db, 90, axis=1) - np.percentile(frame_db, 10, axis=1)
    guard = max(1, int(round(PEAK_GUARD_HZ / bin_hz)))
    tones = []
    for i in np.flatnonzero(spread <= MAX_SPREAD_DB):
        if quiet[i] < quiet[max(0, i - guard):i + guard + 1].max():
            continue
        prominence = _prominence(quiet, i, bin_hz)
        if prominence >= MIN_PROMINENCE_DB:
            tones.append(SteadyTone(_peak_frequency(quiet, i, bin_hz, first_bin), prominence, float(spread[i])))
    return sorted(tones, key=lambda t: -t.prominence_db)


class SteadyToneWatch:
    """Collects the long-STFT levels of a signal fed block by block (the first ``MAX_SECONDS``,
    channels mixed) and finds its steady lines (:meth:`tones`)."""

    def __init__(self, sample_rate: int, max_seconds: float = MAX_SECONDS):
        self.sample_rate = int(sample_rate)
        self.n_fft = fft_size(self.sample_rate)
        self.hop = self.n_fft // 2
        self.bin_hz = self.sample_rate / self.n_fft
        self.first_bin = max(1, int(math.ceil(LOW_HZ / self.bin_hz)))
        self.last_bin = min(self.n_fft // 2, int(HIGH_HZ / self.bin_hz))
        self.max_frames = max(1, int((max_seconds * self.sample_rate - self.n_fft) // self.hop) + 1)
        self._window = np.hanning(self.n_fft).astype(np.float32)
        self._pending = np.zeros(0, np.float32)
        self._frames: list[np.ndarray] = []

    @property
    def full(self) -> bool:
        return len(self._frames) >= self.max_frames

    def add(self, block: np.ndarray) -> None:
        """Feed the next samples ([frames] or [frames, channels])."""
        if self.full or len(block) == 0:
            return
        mono = np.asarray(block, np.float32)
        if mono.ndim == 2:
            mono = mono.mean(axis=1)
        self._pending = np.concatenate([self._pending, mono])
        while self._pending.size >= self.n_fft and not self.full:
            spectrum = np.fft.rfft(self._pending[:self.n_fft] * self._window)[self.first_bin:self.last_bin + 1]
            self._frames.append((10.0 * np.log10(np.abs(spectrum) ** 2 + 1e-20)).astype(np.float32))
            self._pending = self._pending[self.hop:]

    def frame_db(self) -> np.ndarray | None:
        """The levels fed so far ([bins, frames], dB); None where they span less than ``MIN_SECONDS``."""
        if len(self._frames) < 2 or (len(self._frames) - 1) * self.hop + self.n_fft < MIN_SECONDS * self.sample_rate:
            return None
        return np.stack(self._frames, axis=1)

    def tones(self) -> list[SteadyTone]:
        """The steady lines of what was fed; none where it was shorter than ``MIN_SECONDS``."""
        levels = self.frame_db()
        return [] if levels is None else find_steady_tones(levels, self.bin_hz, self.first_bin)


def left_in_restoration(before: SteadyToneWatch, after: SteadyToneWatch) -> list[SteadyTone]:
    """The steady lines of the input (``before``) that still stand ``MIN_PROMINENCE_DB`` above
    their surroundings in the restoration (``after``, fed the same frames), with their height
    there; strongest first. The restoration's own levels are not asked to be steady: a model
    that takes a line out in some frames and not in others leaves it unsteady but audible. A line
    taken down by ``MAX_REDUCTION_DB`` or more is not reported. ``before`` and ``after`` must have
    the same sample rate."""
    restored, given = after.frame_db(), before.frame_db()
    if restored is None or given is None:
        return []
    quiet, quiet_given = _quiet_levels(restored), _quiet_levels(given)
    left = []
    for tone in find_steady_tones(given, before.bin_hz, before.first_bin):  # the levels already stacked
        i = int(round(tone.frequency_hz / after.bin_hz)) - after.first_bin
        near = [j for j in (i - 1, i, i + 1) if 0 <= j < quiet.size]
        if not near or quiet_given[near].max() - quiet[near].max() >= MAX_REDUCTION_DB:
            continue
        height = max(_prominence(quiet, j, after.bin_hz) for j in near)
        if height >= MIN_PROMINENCE_DB:
            left.append(SteadyTone(tone.frequency_hz, height, tone.spread_db))
    return sorted(left, key=lambda t: -t.prominence_db)


def steady_tones(audio: np.ndarray, sample_rate: int) -> list[SteadyTone]:
    """The steady lines of a whole signal ([samples] or [samples, channels]), strongest first."""
    watch = SteadyToneWatch(sample_rate)
    watch.add(audio)
    return watch.tones()


NOTCH_WIDTH_HZ = 3.0  # mains hum drifts by a fraction of a hertz; a bin is 2.7 Hz


def notch(audio: np.ndarray, sample_rate: int, tones: list[SteadyTone]) -> np.ndarray:
    """``audio`` (mono) with each of ``tones`` notched out (zero-phase, ``NOTCH_WIDTH_HZ`` wide)."""
    import scipy.signal  # here, not at the top: its import (about a second) would slow every restore's start

    out = np.asarray(audio, np.float64)
    for tone in tones:
        if not 0.0 < tone.frequency_hz < sample_rate / 2:
            continue
        b, a = scipy.signal.iirnotch(tone.frequency_hz, tone.frequency_hz / NOTCH_WIDTH_HZ, fs=sample_rate)
        out = scipy.signal.filtfilt(b, a, out)
    return out.astype(np.asarray(audio).dtype, copy=False)


def tones_left(audio: np.ndarray, restored: np.ndarray, sample_rate: int) -> list[SteadyTone]:
    """:func:`left_in_restoration` of two whole signals (``[samples]`` or ``[samples, channels]``)."""
    before, after = SteadyToneWatch(sample_rate), SteadyToneWatch(sample_rate)
    before.add(audio)
    after.add(restored)
    return left_in_restoration(before, after)


def warning(name: str, tones: list[SteadyTone]) -> str | None:
    """One line for the user where ``tones`` were found in the restoration of ``name``; else None."""
    if not tones:
        return None
    shown = sorted(tones[:MAX_REPORTED], key=lambda t: t.frequency_hz)
    freqs = ", ".join(f"{t.frequency_hz:.0f}" for t in shown)
    more = f" and {len(tones) - MAX_REPORTED} more" if len(tones) > MAX_REPORTED else ""
    return (f"{name}: steady tones at {freqs} Hz{more}, at one level through the input as hum, buzz or a whistle, are "
            f"left in the restoration (up to {tones[0].prominence_db:.0f} dB above their surroundings); if they are not "
            "the programme's (a held note, a drone), give a noise print (RESTORATION_GUIDE.md, \"Steady tones left in "
            "the restoration\")")
