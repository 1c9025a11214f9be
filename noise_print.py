"""Noise prints: what a noise-conditioned model is told about the noise of a recording.

A *noise print* is a stretch of noise alone (a run-in groove, the leader of a reel, a pause
between takes). The conditioned model (``model.conditioning: noise_psd``, see ``unet.py``)
is given its power spectrum: the mean ``|STFT|^2`` per bin over the print's frames, in the
units of ``stft.stft`` (Hamming window of ``n_fft``, no normalisation), so a print and the
model's input spectrogram compare directly.

Where there is no print, the *auto* rule estimates it from the recording itself: frames are
ranked by their energy smoothed over ``AUTO_SMOOTH_FRAMES``, and the quietest
``AUTO_FRACTION`` of them are averaged (at least ``AUTO_MIN_FRAMES`` in a training example,
at least ``MIN_PRINT_SECONDS`` in a whole recording, or what the held-out check needs where it
runs: :func:`auto_min_seconds`): the pauses of a recording, whose sound
is the noise. Digital silence is never taken. In a recording without pauses it would
overestimate the noise (programme averaged in), so at restore time quiet passages less than
``AUTO_MIN_CONTRAST_DB`` below the recording's median level may hold programme: the classical
check does not use them; a conditioned model is told them, as it was trained (``loading.auto_told``).

At restore time a print is checked before it is used (:func:`held_out_check`): part of it is
held out, mixed into the loudest passage of the recording (for a given print, that passage as
the model restores it, the mean of with and without the print), and restored with and without
the rest of the print; the print is used only if it scores higher (SI-SDR).

With ``inference.classical_check`` a print also decides between the model and the classical
Ephraim-Malah LSA estimator given the print (:func:`classical_check`): the held-out part of the
print is mixed into a synthetic reference programme at the recording's own estimated SNR, and
the file is restored by whichever scores higher there. The reference is synthetic, not the
recording, because at low input SNR the recording's loudest passage is mostly noise, and a
system that removes it is then scored down (measured: docs/EXPERIMENTS.md, 2026-11-25).

A print given to a conditioned model carries a share of that estimator's restoration
(``inference.classical_blend``); where the option is null, :func:`share_check` chooses the
share for the file on the same kind of held-out mix, and the held-out check then tests the
print with that share in the restoration with it.

Pure numpy (and soundfile for reading a range): used by the data pipeline (training),
inference and evaluation alike.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

import audio_io
import metrics

MIN_PRINT_SECONDS = 1.0  # shorter prints give too few frames for a usable spectrum
AUTO_FRACTION = 0.1
AUTO_MIN_FRAMES = 8
AUTO_SMOOTH_FRAMES = 5
# Without a print, each estimate is smoothed over frequency by a running median of its log over
# this many bins (15 = 320 Hz at 2048 / 44.1 kHz): where the quietest frames still hold programme,
# its partials stand out of the estimate as narrow peaks, and a restorer told them takes the
# programme out (docs/EXPERIMENTS.md, "2026-11-26: the no-print estimate smoothed")
NO_PRINT_SMOOTH_BINS = 15
# A print whose frame levels spread more than this (interquartile range, dB) is loud and
# non-stationary: more likely programme than noise. Stationary hiss spreads about 1 dB,
# film crackle and 78 rpm surface noise 2-6 dB, speech and music 15 dB or more.
PROGRAMME_SPREAD_DB = 10.0
SILENCE_PEAK = 1e-7  # below this peak a print is digital silence (nothing to learn)
AUTO_MAX_SECONDS = 600.0  # auto and the check look at the first ten minutes of a recording
CHECK_HELD_OUT = 0.3  # share of the print held out for the check
CHECK_MIN_HELD_SECONDS = 0.5
CHECK_PROGRAMME_SECONDS = 3.0  # the loudest passage of this length is the check's programme
CHECK_SNR_DB = 5.0  # the held-out noise is mixed into it at this SNR
# What the held-out check mixes the held-out print into: the recording's loudest passage
# ("recording"), that passage restored by the system under test with and without the print,
# the mean of the two ("restored"), or the classical check's fixed programme at the recording's
# estimated SNR ("programme")
CHECK_REFERENCES = ("recording", "restored", "programme")
CHECK_REFERENCE = "recording"
# A given print's check (loading.told_for): the loudest passage holds the recording's own noise,
# the very noise a model told the print takes out, so its restoration with the print was scored
# down for removing it; at 10 dB input the check refused 11 of 36 prints of the held-out recorded
# noise, 9 of them wrongly, 0.24 dB below always using them. The passage restored without the
# print alone favoured no print where that restoration takes out programme (-17.9 dB on one
# item); the mean of both sides favours neither (docs/EXPERIMENTS.md, "2026-11-28: the held-out
# check's programme restored")
GIVEN_CHECK_REFERENCE = "restored"
# auto's print is at least as long as the held-out check needs (with a little margin over
# can_hold_out's 1.67 s) where that is at most AUTO_CHECKED_FRACTION of the recording: on a 15-s
# reel the quietest tenth, 1.5 s, was too short for the check, and the restorer fell back to
# restoring without a print even where the reel held 8 s of pause (docs/EXPERIMENTS.md,
# "2026-11-28: auto's print long enough for its check"); a shorter recording keeps the tenth,
# whose longer print would be mostly programme
CHECKABLE_PRINT_SECONDS = 1.7
AUTO_CHECKED_FRACTION = 0.15
SPEC_KINDS = ("none", "auto", "range", "file")
# auto's quiet passages less far than this below the recording's median level may hold programme
# (a recording without pauses, or one mostly of pauses and quiet programme: a reel of dialogue):
# the classical check does not use them, and a conditioned model told them unchecked says so
AUTO_MIN_CONTRAST_DB = 6.0


class NoisePrintError(ValueError):
    """A print that cannot be used: too short, silent, or a range outside the file."""


def _window(n_fft: int) -> np.ndarray:
    # periodic Hamming, as tf.signal.hamming_window(periodic=True) in stft.py
    return (0.54 - 0.46 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float64)


def frame_powers(audio: np.ndarray, n_fft: int = 2048, hop: int = 512) -> np.ndarray:
    """``|STFT|^2`` of mono ``audio``, ``[frames, n_fft // 2 + 1]`` float64.

    Frames start every ``hop`` samples and lie wholly inside the signal (no padding, so no
    frame is partly silence); a signal shorter than ``n_fft`` gives one zero-padded frame.
    """
    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    spec = np.fft.rfft(frames * _window(n_fft), axis=-1)
    return spec.real**2 + spec.imag**2


def frame_energies(audio: np.ndarray, n_fft: int = 2048, hop: int = 512) -> np.ndarray:
    """Windowed energy of each frame of :func:`frame_powers` (proportional to its summed power),
    without the FFT: cheap enough for ten minutes of audio."""
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(np.square(x), n_fft)[::hop]
    return frames @ np.square(_window(n_fft)).astype(np.float32)


def describe_noise(powers: np.ndarray, statistics: str = "mean") -> np.ndarray:
    """What a conditioned model is told of a noise from its frames' ``|STFT|^2`` ``[frames,
    bins]``: ``mean``, the mean power per bin ``[bins]``; ``mean_median``, that and the median
    power per bin divided by ln 2 ``[2, bins]`` (for Gaussian noise the two rows agree: the
    power of a bin is exponentially distributed, its median ln 2 times its mean; clicks and
    crackle raise the mean far above it). float32. Every row is a power spectrum in the same
    units, so a level error, smoothing over frequency or an average over segments apply to
    each alike."""
    powers = np.asarray(powers, dtype=np.float64)
    mean = powers.mean(axis=0)
    if statistics == "mean":
        return mean.astype(np.float32)
    if statistics == "mean_median":
        return np.stack([mean, np.median(powers, axis=0) / np.log(2.0)]).astype(np.float32)
    raise ValueError(f"print_statistics: expected mean or mean_median, got {statistics!r}")


def noise_power(audio: np.ndarray, n_fft: int = 2048, hop: int = 512, statistics: str = "mean") -> np.ndarray:
    """The noise description of a print (:func:`describe_noise`): by default its power
    spectrum, mean ``|STFT|^2`` per bin, ``[bins]`` float32."""
    return describe_noise(frame_powers(audio, n_fft, hop), statistics)


def quietest_frames(energy: np.ndarray, fraction: float = AUTO_FRACTION, min_frames: int = AUTO_MIN_FRAMES,
                    smooth: int = AUTO_SMOOTH_FRAMES) -> np.ndarray:  # fmt: skip
    """Indices (ascending) of the quietest frames by the auto rule, from frame energies ``[frames]``."""
    energy = np.asarray(energy, dtype=np.float64)
    # digital silence (a muted stretch, a gap between files) is not the recording's noise
    sound = energy > SILENCE_PEAK**2
    if smooth > 1 and len(energy) >= smooth:
        # a frame counts as quiet only when its neighbours are: a pause, not a gap between notes
        energy = np.convolve(energy, np.ones(smooth) / smooth, mode="same")
    candidates = np.flatnonzero(sound)
    count = min(len(candidates), max(int(min_frames), int(round(fraction * len(candidates)))))
    return np.sort(candidates[np.argsort(energy[candidates], kind="stable")[:count]])


def auto_noise_power(audio: np.ndarray, n_fft: int = 2048, hop: int = 512, fraction: float = AUTO_FRACTION,
                     min_frames: int = AUTO_MIN_FRAMES, statistics: str = "mean") -> tuple[np.ndarray, int]:  # fmt: skip
    """The auto rule on mono ``audio``: ``(noise description, frames used)``, the description
    (:func:`describe_noise`) of the quietest frames: ``[bins]`` float32 by default."""
    chosen = quietest_frames(frame_energies(audio, n_fft, hop), fraction, min_frames)
    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop][chosen]
    spec = np.fft.rfft(frames * _window(n_fft), axis=-1)
    return describe_noise(spec.real**2 + spec.imag**2, statistics), len(chosen)


def smooth_over_frequency(power: np.ndarray, bins: int = NO_PRINT_SMOOTH_BINS) -> np.ndarray:
    """``power`` ``[..., bins]`` with each bin replaced by the median of its log over ``bins``
    neighbouring bins (an odd number; edges repeat the end bins): narrow peaks (a programme's
    partials) are taken out, the broad shape of a noise spectrum and its level kept. float32."""
    import scipy.ndimage

    if bins < 1 or bins % 2 == 0:
        raise ValueError(f"smooth_over_frequency: bins must be odd and positive, got {bins}")
    log_power = np.log(np.maximum(np.asarray(power, dtype=np.float64), 1e-30))
    size = (1,) * (log_power.ndim - 1) + (int(bins),)
    return np.exp(scipy.ndimage.median_filter(log_power, size=size, mode="nearest")).astype(np.float32)


def residual_noise_power(audio: np.ndarray, removed: np.ndarray, n_fft: int = 2048, hop: int = 512,
                         statistics: str = "mean") -> np.ndarray:  # fmt: skip
    """The power spectrum of what a first restoring pass ``removed`` from mono ``audio`` (the
    input minus its restoration), over the frames of ``audio`` that are not digital silence:
    the second estimate of the no-print rule (``loading.with_noise_power``), described by
    :func:`describe_noise` (``[bins]`` float32 by default).
    Where a pass removes only noise, it is the noise's own spectrum, programme and all frames
    included, which the quietest frames of a recording without pauses are not."""
    sound = frame_energies(audio, n_fft, hop) > SILENCE_PEAK**2
    powers = frame_powers(removed, n_fft, hop)
    return describe_noise(powers[sound] if sound.any() else powers, statistics)


def auto_print(audio: np.ndarray, sample_rate: int, n_fft: int = 2048, hop: int = 512,
               min_seconds: float = MIN_PRINT_SECONDS) -> tuple[np.ndarray, float]:  # fmt: skip
    """The auto rule's quiet passages of a whole recording (mono ``audio``) as one signal: the
    quietest ``AUTO_FRACTION`` of its frames, but at least ``min_seconds`` of them, as runs of
    chosen frames (each from its first frame's start to its last frame's end), joined.

    Also returns their *contrast*: how far (dB) their mean level lies below the recording's
    median frame level; a recording without pauses has little (its quietest frames are
    programme too). Digital silence is never chosen.
    """
    energy = frame_energies(audio, n_fft, hop)
    min_frames = max(AUTO_MIN_FRAMES, int(np.ceil(max(min_seconds * sample_rate - n_fft, 0) / hop)) + 1)
    chosen = quietest_frames(energy, min_frames=min_frames)
    if not len(chosen):
        return np.zeros(0, np.float32), 0.0
    sound = energy[energy > SILENCE_PEAK**2]
    contrast = 10.0 * np.log10(max(float(np.median(sound)), 1e-30) / max(float(np.mean(energy[chosen])), 1e-30))
    breaks = np.flatnonzero(np.diff(chosen) > 1)
    starts = np.concatenate([[chosen[0]], chosen[breaks + 1]])
    ends = np.concatenate([chosen[breaks], [chosen[-1]]])
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    return np.concatenate([x[a * hop : b * hop + n_fft] for a, b in zip(starts, ends)]), float(contrast)


def level_spread_db(audio: np.ndarray, n_fft: int = 2048, hop: int = 512) -> float:
    """Interquartile range of the frame levels in dB: about 1 for steady hiss, 15+ for programme."""
    energy = frame_energies(audio, n_fft, hop)
    levels = 10.0 * np.log10(energy + 1e-20)
    q1, q3 = np.percentile(levels, [25, 75])
    return float(q3 - q1)


def check_print(audio: np.ndarray, sample_rate: int, what: str, n_fft: int = 2048, hop: int = 512) -> list[str]:
    """Refuse a print that cannot be used; return warnings for one that looks doubtful.

    Raises :class:`NoisePrintError` (one line naming ``what``) for a print shorter than
    ``MIN_PRINT_SECONDS`` or digital silence. Warns when the print is loud and
    non-stationary (``PROGRAMME_SPREAD_DB``): probably programme, not noise.
    """
    audio = np.asarray(audio)
    seconds = len(audio) / float(sample_rate)
    if seconds < MIN_PRINT_SECONDS:
        raise NoisePrintError(f"{what}: the noise print is {seconds:.2f} s long; at least {MIN_PRINT_SECONDS:g} s is needed")
    if not np.isfinite(audio).all():
        raise NoisePrintError(f"{what}: the noise print holds NaN or infinite samples")
    if float(np.max(np.abs(audio))) < SILENCE_PEAK:
        raise NoisePrintError(f"{what}: the noise print is digital silence; there is no noise to learn from it")
    spread = level_spread_db(audio, n_fft, hop)
    if spread > PROGRAMME_SPREAD_DB:
        return [f"{what}: the noise print's level varies by {spread:.0f} dB (steady noise varies by a few): "
                "it may hold programme, which would then be treated as noise"]  # fmt: skip
    return []


def parse_range(spec: str) -> tuple[float, float] | None:
    """``'START-END'`` in seconds (``'12.5-20'``) as a pair, or None when ``spec`` is not a range."""
    parts = str(spec).strip().split("-")
    if len(parts) != 2:
        return None
    try:
        start, end = float(parts[0]), float(parts[1])
    except ValueError:
        return None
    return start, end


@dataclass(frozen=True)
class PrintSpec:
    """What ``inference.noise_print`` asks for: ``none``, ``auto``, a ``range`` of each input
    (``start``-``end`` seconds) or a ``file`` (``path``)."""

    kind: str
    path: Path | None = None
    start: float = 0.0
    end: float = 0.0

    def describe(self) -> str:
        if self.kind == "range":
            return f"{self.start:g}-{self.end:g} s of the input"
        return str(self.path) if self.kind == "file" else self.kind


def parse_spec(value: object) -> PrintSpec:
    """``none`` (or None), ``auto``, ``START-END`` (seconds) or the path of a noise recording.

    Raises :class:`NoisePrintError` for an empty or reversed range, or a path that is no file.
    """
    text = "none" if value is None else str(value).strip()
    if text.lower() in ("none", "auto"):
        return PrintSpec(text.lower())
    pair = parse_range(text)
    if pair is not None:
        start, end = pair
        if not (0.0 <= start < end) or not np.isfinite(end):
            raise NoisePrintError(f"inference.noise_print={text}: a range must be START-END seconds with 0 <= START < END")
        return PrintSpec("range", start=start, end=end)
    path = Path(text).expanduser()
    if not path.is_file():
        raise NoisePrintError(f"inference.noise_print={text}: not a file, nor a range START-END (seconds), auto or none")
    return PrintSpec("file", path=path)


def read_mono(path: str | Path, sample_rate: int, start: float | None = None, end: float | None = None,
              max_seconds: float | None = None) -> tuple[np.ndarray, list[str]]:  # fmt: skip
    """Read ``path`` (or ``start``-``end`` seconds of it) as mono float32 at ``sample_rate``.

    Returns the audio and notes on what was done to it (mixed down, resampled). Raises
    :class:`NoisePrintError` for a range outside the file; ``audio_io.AudioError`` for a file
    libsndfile cannot read.
    """
    try:
        f = sf.SoundFile(str(path))
    except Exception as exc:  # libsndfile raises several types; all mean "not audio"
        raise audio_io.AudioError(f"{path}: cannot be read as audio ({str(exc).splitlines()[0]})") from None
    with f:
        sr, channels, frames = f.samplerate, f.channels, f.frames
        first = 0 if start is None else int(round(start * sr))
        last = frames if end is None else int(round(end * sr))
        if max_seconds is not None:
            last = min(last, first + int(max_seconds * sr))
        if end is not None and last > frames:
            raise NoisePrintError(
                f"{path}: the print range {start:g}-{end:g} s lies outside the file ({frames / sr:.2f} s long)"
            )
        f.seek(first)
        audio = f.read(max(last - first, 0), dtype="float32", always_2d=True)
    notes = []
    if channels > 1:
        notes.append(f"mixed down from {channels} channels")
    audio = audio.mean(axis=1).astype(np.float32)
    if sr != sample_rate:
        audio = audio_io.resample(audio, sr, sample_rate).astype(np.float32)
        notes.append(f"resampled from {sr} Hz to {sample_rate} Hz")
    return audio, notes


def loudest_passage(audio: np.ndarray, length: int) -> np.ndarray:
    """The ``length``-sample stretch of ``audio`` with the highest energy (every 1/8 of it tried)."""
    x = np.asarray(audio, dtype=np.float32)
    if len(x) <= length:
        return x.copy()
    step = max(1, length // 8)
    energy = np.cumsum(np.concatenate([[0.0], np.square(x, dtype=np.float64)]))
    starts = np.arange(0, len(x) - length + 1, step)
    best = int(starts[np.argmax(energy[starts + length] - energy[starts])])
    return x[best : best + length].copy()


@dataclass(frozen=True)
class CheckResult:
    """Scores (SI-SDR, dB) of the held-out check and its decision."""

    with_print: float
    without_print: float
    share: float = 0.0  # the classical estimator's share in the restoration with the print

    @property
    def use_print(self) -> bool:
        return self.with_print >= self.without_print

    def describe(self) -> str:
        verdict = "the print is used" if self.use_print else "the print does not help here: restoring without it"
        how = f" ({self.share:.0%} classical LSA with it)" if self.share > 0 else ""
        return (f"held-out check: {self.with_print:.2f} dB SI-SDR with the print{how}, {self.without_print:.2f} dB "
                f"without; {verdict}")  # fmt: skip


def held_out_check(restore: Callable[..., np.ndarray], recording: np.ndarray,
                   print_audio: np.ndarray, sample_rate: int, n_fft: int = 2048, hop: int = 512,
                   reference: str | None = None, statistics: str = "mean",
                   classical: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
                   share: float = 0.0) -> CheckResult | None:  # fmt: skip
    """Does the print help this model on this recording?

    The last ``CHECK_HELD_OUT`` of ``print_audio`` is held out and mixed into a programme:
    with ``reference="recording"`` the loudest ``CHECK_PROGRAMME_SECONDS`` of ``recording``
    (where the recording's own noise matters least) at ``CHECK_SNR_DB``; with ``"restored"``
    that passage restored, the mean of its restorations with the rest of the print (as the check
    restores the mix with it) and without (less of the recording's own noise, which a
    restoration told the print is otherwise scored down for removing; each side as far from the
    mean as the other); with ``"programme"``
    :func:`reference_programme` at the recording's :func:`estimated_snr_db`, as
    :func:`classical_check` does (None: :data:`CHECK_REFERENCE`). ``restore(mix, noise_power,
    rest)`` restores the mix with the power of the rest of the print (scaled as the held-out part
    was; that rest is passed too, for a post-filter) and ``restore(mix, None)`` with no print;
    ``statistics`` says what the model is told of the noise (:func:`describe_noise`). With ``classical`` and a ``share`` > 0, the restoration with the
    print is the one the restorer makes with a given print: ``share`` of it is
    ``classical(mix, print)``'s (told the rest of the print), the rest the model's. Returns None
    when the print is too short to hold out ``CHECK_MIN_HELD_SECONDS`` and keep ``MIN_PRINT_SECONDS``.
    """
    reference = reference or CHECK_REFERENCE
    if reference not in CHECK_REFERENCES:
        raise ValueError(f"held_out_check: reference must be one of {CHECK_REFERENCES}, got {reference!r}")
    if reference in ("recording", "restored"):
        programme = loudest_passage(recording, int(CHECK_PROGRAMME_SECONDS * sample_rate))
        snr = CHECK_SNR_DB
    else:
        programme, snr = reference_programme(sample_rate), estimated_snr_db(recording, print_audio)
    share = float(share) if classical is not None else 0.0

    def told(audio: np.ndarray, power: np.ndarray, fit: np.ndarray) -> np.ndarray:
        out = np.asarray(restore(audio, power, fit), dtype=np.float64)
        if share > 0:
            out = (1.0 - share) * out + share * np.asarray(classical(audio, fit), dtype=np.float64)
        return out

    if reference == "restored" and can_hold_out(len(print_audio), sample_rate):
        # the passage as each side restores it, told the rest of the print at the recording's own
        # level: each side's distance to the mean is the same, so what decides is which side
        # the held-out noise moves less
        rest, _ = split_print(print_audio)
        both = told(programme, noise_power(rest, n_fft, hop, statistics), rest) + np.asarray(restore(programme, None), np.float64)
        programme = both / 2.0
    mixed = held_out_mix(print_audio, programme, snr, sample_rate)
    if mixed is None:
        return None
    mix, fit = mixed
    power = noise_power(fit, n_fft, hop, statistics)
    with_print = metrics.si_sdr(told(mix, power, fit), programme)
    without = metrics.si_sdr(restore(mix, None), programme)
    return CheckResult(float(with_print), float(without), share)


def auto_min_seconds(samples: int, sample_rate: int, check: bool) -> float:
    """The least length (s) of auto's print (:func:`auto_print`'s ``min_seconds``) for a recording
    of ``samples``: :data:`CHECKABLE_PRINT_SECONDS`, so that the held-out check can judge it, where
    ``check`` is asked for and that length is at most :data:`AUTO_CHECKED_FRACTION` of the
    recording; else :data:`MIN_PRINT_SECONDS`."""
    if check and CHECKABLE_PRINT_SECONDS <= AUTO_CHECKED_FRACTION * samples / sample_rate:
        return CHECKABLE_PRINT_SECONDS
    return MIN_PRINT_SECONDS


def split_print(print_audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The part of a print the checks tell the system under test and the last ``CHECK_HELD_OUT``
    they hold out, float32."""
    print_audio = np.asarray(print_audio, dtype=np.float32)
    cut = int(len(print_audio) * (1.0 - CHECK_HELD_OUT))
    return print_audio[:cut], print_audio[cut:]


def can_hold_out(samples: int, sample_rate: int) -> bool:
    """Whether a print of ``samples`` is long enough for the checks to hold ``CHECK_HELD_OUT`` of
    it out (at least ``CHECK_MIN_HELD_SECONDS``) and keep ``MIN_PRINT_SECONDS``."""
    cut = int(samples * (1.0 - CHECK_HELD_OUT))
    return samples - cut >= CHECK_MIN_HELD_SECONDS * sample_rate and cut >= MIN_PRINT_SECONDS * sample_rate


def held_out_mix(print_audio: np.ndarray, programme: np.ndarray, snr_db: float,
                 sample_rate: int) -> tuple[np.ndarray, np.ndarray] | None:  # fmt: skip
    """The checks' test: the last ``CHECK_HELD_OUT`` of ``print_audio`` (looped to the
    programme's length) mixed into ``programme`` at ``snr_db``, and the rest of the print scaled
    as the held-out part was (what the system under test is told), both float32. None when the
    print is too short to hold out ``CHECK_MIN_HELD_SECONDS`` and keep ``MIN_PRINT_SECONDS``,
    or the programme or the held-out noise is silent."""
    fit, held = split_print(print_audio)
    if not can_hold_out(len(print_audio), sample_rate):
        return None
    programme = np.asarray(programme, dtype=np.float64)
    noise = np.resize(held, len(programme)).astype(np.float64)
    p_prog, p_noise = float(np.mean(programme**2)), float(np.mean(noise**2))
    if p_prog <= 0 or p_noise <= 0:
        return None
    scale = np.sqrt(p_prog / (p_noise * 10.0 ** (snr_db / 10.0)))
    return (programme + scale * noise).astype(np.float32), (fit.astype(np.float64) * scale).astype(np.float32)


REFERENCE_SECONDS = 3.0  # length of the classical check's synthetic programme
SNR_RANGE_DB = (-5.0, 30.0)  # the recording's estimated SNR is kept within this range


def reference_programme(sample_rate: int, seconds: float = REFERENCE_SECONDS) -> np.ndarray:
    """The classical check's programme: ``baselines.tone_sequence`` (harmonic notes of 175-392 Hz
    with 8 partials, 0.25 s each, with pauses, as a recording has; peak 0.3), float32; the same
    on every call. Chosen over a richer one (partials up to 8 kHz) by the measurements in
    docs/EXPERIMENTS.md (2026-11-25), on the evaluation's own items."""
    import baselines

    return baselines.tone_sequence(seconds, sample_rate)


def estimated_snr_db(recording: np.ndarray, print_audio: np.ndarray) -> float:
    """The recording's SNR (dB) if its noise is as loud as the print: programme power (the
    recording's less the print's) over the print's, within :data:`SNR_RANGE_DB`."""
    p_rec = float(np.mean(np.square(recording, dtype=np.float64)))
    p_noise = float(np.mean(np.square(print_audio, dtype=np.float64)))
    if p_noise <= 0:
        return SNR_RANGE_DB[1]
    snr = 10.0 * np.log10(max(p_rec - p_noise, 1e-30) / p_noise)
    return float(np.clip(snr, *SNR_RANGE_DB))


@dataclass(frozen=True)
class ClassicalResult:
    """Scores (SI-SDR, dB) of the classical check and its decision."""

    model: float
    classical: float
    snr_db: float

    @property
    def use_classical(self) -> bool:
        return self.classical > self.model

    def describe(self) -> str:
        verdict = ("the classical estimator restores this file" if self.use_classical
                   else "the model restores this file")  # fmt: skip
        return (f"classical check (held-out print at {self.snr_db:.1f} dB SNR in a reference programme): model "
                f"{self.model:.2f} dB SI-SDR, classical LSA with the print {self.classical:.2f} dB; {verdict}")


def reference_mix(recording: np.ndarray, print_audio: np.ndarray,
                  sample_rate: int) -> tuple[np.ndarray, float, np.ndarray, np.ndarray] | None:  # fmt: skip
    """The test of :func:`classical_check` and :func:`share_check`: ``(programme, snr_db, mix, fit)``,
    :func:`reference_programme` with the held-out part of ``print_audio`` mixed in at the
    recording's :func:`estimated_snr_db`, and the rest of the print (:func:`held_out_mix`); None
    where the print is too short to split."""
    programme = reference_programme(sample_rate)
    snr = estimated_snr_db(recording, print_audio)
    mixed = held_out_mix(print_audio, programme, snr, sample_rate)
    if mixed is None:
        return None
    return (programme, snr, *mixed)


def classical_check(restore_model: Callable[[np.ndarray], np.ndarray],
                    restore_classical: Callable[[np.ndarray, np.ndarray], np.ndarray], recording: np.ndarray,
                    print_audio: np.ndarray, sample_rate: int) -> ClassicalResult | None:  # fmt: skip
    """Does the model or the classical estimator given the print restore this noise better?

    The last ``CHECK_HELD_OUT`` of ``print_audio`` is mixed into :func:`reference_programme` at
    the recording's :func:`estimated_snr_db`; ``restore_model(mix)`` and
    ``restore_classical(mix, print)`` (told the rest of the print, scaled as the held-out part
    was) restore it, and each is scored against the programme. None when the print is too
    short to hold out ``CHECK_MIN_HELD_SECONDS`` and keep ``MIN_PRINT_SECONDS``.
    """
    mixed = reference_mix(recording, print_audio, sample_rate)
    if mixed is None:
        return None
    programme, snr, mix, fit = mixed
    model = metrics.si_sdr(restore_model(mix), programme)
    classical = metrics.si_sdr(restore_classical(mix, fit), programme)
    return ClassicalResult(float(model), float(classical), snr)


# The classical shares the share check tries (inference.classical_blend null with a given print):
# from SHARE_FLOOR to 1 in steps of 0.05. Never less than SHARE_FLOOR: the check's programme is
# not the recording's, and on items where the model alone fails (film crackle at 0 dB input) it
# chose shares near 0 that lost up to 5 dB; with the floor the largest loss was 1.1 dB
# (docs/EXPERIMENTS.md, "2026-11-27: the classical share chosen per file")
SHARE_FLOOR = 0.2
SHARE_GRID = tuple(round(0.05 * k, 2) for k in range(int(round(SHARE_FLOOR / 0.05)), 21))


@dataclass(frozen=True)
class ShareResult:
    """The share check's choice of the classical estimator's share, with its SI-SDR (dB) and
    that of ``default`` (the fixed share it replaces), on the held-out mix."""

    share: float
    score: float
    default: float
    default_score: float
    snr_db: float

    def describe(self) -> str:
        return (f"share check (held-out print at {self.snr_db:.1f} dB SNR in a reference programme): "
                f"{self.share:.0%} classical LSA with the print, {self.score:.2f} dB SI-SDR "
                f"({self.default:.0%}: {self.default_score:.2f} dB)")  # fmt: skip


def share_check(restore_model: Callable[..., np.ndarray],
                restore_classical: Callable[[np.ndarray, np.ndarray], np.ndarray], recording: np.ndarray,
                print_audio: np.ndarray, sample_rate: int, default: float, n_fft: int = 2048, hop: int = 512,
                statistics: str = "mean", grid: Sequence[float] = SHARE_GRID) -> ShareResult | None:  # fmt: skip
    """Which share of the classical estimator, mixed with the conditioned model told the print,
    restores this noise best?

    As :func:`classical_check`, the last ``CHECK_HELD_OUT`` of ``print_audio`` is mixed into
    :func:`reference_programme` at the recording's :func:`estimated_snr_db` (the recording's
    loudest passage, :func:`held_out_check`'s reference, holds its own noise, and at low input
    SNR chose shares that lost up to 2 dB on the synthetic families: docs/EXPERIMENTS.md,
    "2026-11-27: the classical share chosen per file"). ``restore_model(mix, power, rest)`` (told the
    power of the rest of the print, scaled as the held-out part was, and that rest) and
    ``restore_classical(mix, print)`` (told that rest) restore it once each; every share of
    ``grid`` (:data:`SHARE_GRID`: :data:`SHARE_FLOOR` to 1) mixes the two and is scored against
    the programme, the highest kept (ties: the one nearest ``default``). None when the print is too short to hold out
    ``CHECK_MIN_HELD_SECONDS`` and keep ``MIN_PRINT_SECONDS``.
    """
    mixed = reference_mix(recording, print_audio, sample_rate)
    if mixed is None:
        return None
    programme, snr, mix, fit = mixed
    n = len(programme)
    ours = np.asarray(restore_model(mix, noise_power(fit, n_fft, hop, statistics), fit), dtype=np.float64)[:n]
    theirs = np.asarray(restore_classical(mix, fit), dtype=np.float64)[:n]

    def score(share: float) -> float:
        return float(metrics.si_sdr((1.0 - share) * ours + share * theirs, programme))

    scores = {float(share): score(float(share)) for share in grid}
    best = max(scores, key=lambda s: (round(scores[s], 6), -abs(s - default)))
    return ShareResult(best, scores[best], default, scores[default] if default in scores else score(default), snr)
