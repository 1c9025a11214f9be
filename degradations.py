"""Additive noise of old media for training: synthetic film, 78 rpm and tape noise, and recorded noise.

The data loader uses one entry point, :class:`NoiseSource`; everything else here is the
pieces it is built from, each a pure function of its arguments and a
``numpy.random.Generator`` (never the global RNG), so that an example is reproducible
from its seed.

Three layers:

- components (``hiss``, ``rumble``, ``crackle``, ``thumps``, ``frame_scratch``, ``hum``,
  ``buzz``, ``recurring_clicks``, ``level_flutter``, ``modulation_noise`` ...): explicit
  numeric arguments, no configuration;
- families (``film_noise``, ``gramophone_noise``, ``tape_noise``): draw every parameter
  of their components from the ``[low, high]`` ranges of one config section
  (``conf/noise/<family>.yaml``) and sum the components at levels relative to the hiss;
- :class:`NoiseSource`: picks recorded or synthetic noise (``recorded_share``), a family
  (``family_weights``), maybe a second family (``second_family_prob``), and returns the
  noise at unit RMS with a label.

What each parameter models, and why its range is what it is, is in ``docs/DATA.md``.
"""
from __future__ import annotations

import copy
import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.fft

import audio_io

REPO_ROOT = Path(__file__).resolve().parent
CONF_DIR = REPO_ROOT / "conf"
FAMILIES = ("film", "gramophone", "tape", "generic")
GRAMOPHONE_RPM = 78.0
REVOLUTION_78_S = 60.0 / GRAMOPHONE_RPM  # 0.769 s between recurrences of a disc defect
RECORDED_LABEL = "recorded"

# FFT-shaped noise is drawn at least this long (and cropped), so that tiny requests still
# resolve the low cut-offs of rumble (tens of Hz) instead of collapsing to DC.
_MIN_SPECTRAL_SECONDS = 1.0
_ENVELOPE_RATE = 200.0  # Hz; control rate of slow envelopes, interpolated to audio rate
_WAVETABLE_SIZE = 4096  # one period of hum or buzz; linear interpolation error < -75 dB
_MIN_RECORDED_SAMPLES = 256  # shorter decoded clips cannot be looped usefully


class RecordedNoiseWarning(UserWarning):
    """Some files in a recorded-noise folder were skipped (named in the message)."""


# ---------------------------------------------------------------------------------------------
# small helpers


def db_to_gain(db: float) -> float:
    """Amplitude factor of a level in dB."""
    return float(10.0 ** (db / 20.0))


def _unit_rms(x: np.ndarray) -> np.ndarray:
    rms = math.sqrt(float(np.dot(x, x)) / x.size) if x.size else 0.0
    return x * x.dtype.type(1.0 / rms) if rms > 0 else x


def resolve_repo_path(path: str | os.PathLike) -> Path:
    """``path`` with ``~`` expanded; a relative path is taken relative to the repository root.

    Config paths are resolved against the folder of this file, not the process's working
    directory, so ``../shared/corpus`` means the same folder wherever training is started.
    """
    p = Path(os.path.expanduser(str(path)))
    if not p.is_absolute():
        p = REPO_ROOT / p
    return Path(os.path.normpath(p))


class Params:
    """A read-only config section that draws values and names the full key in errors."""

    def __init__(self, mapping: Any, path: str):
        if not isinstance(mapping, Mapping):
            raise ValueError(f"noise.{path or '(root)'}: expected a section of parameters, got {mapping!r}")
        self._m = mapping
        self.path = path

    def key(self, key: str) -> str:
        """The full name of ``key`` as written in messages, e.g. ``noise.film.crackle.rate_hz``."""
        return f"noise.{self.path}.{key}" if self.path else f"noise.{key}"

    def has(self, key: str) -> bool:
        return key in self._m

    def section(self, key: str) -> Params:
        if key not in self._m:
            raise ValueError(f"{self.key(key)}: missing section")
        return Params(self._m[key], f"{self.path}.{key}")

    def value(self, key: str, default: Any = None) -> Any:
        if key not in self._m:
            if default is None:
                raise ValueError(f"{self.key(key)}: missing")
            return default
        return self._m[key]

    def number(self, key: str, default: float | None = None) -> float:
        v = self.value(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"{self.key(key)}: expected a number, got {v!r}")
        return float(v)

    def range(self, key: str, positive: bool = False) -> tuple[float, float]:
        """``[low, high]`` (a single number means a fixed value)."""
        v = self.value(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            lo = hi = float(v)
        elif isinstance(v, Sequence) and not isinstance(v, str) and len(v) == 2 and all(
            isinstance(e, (int, float)) and not isinstance(e, bool) for e in v
        ):
            lo, hi = float(v[0]), float(v[1])
        else:
            raise ValueError(f"{self.key(key)}: expected [low, high], got {v!r}")
        if lo > hi:
            raise ValueError(f"{self.key(key)}: low {lo:g} is above high {hi:g}")
        if positive and lo <= 0:
            raise ValueError(f"{self.key(key)}: expected positive values, got {v!r}")
        return lo, hi

    def uniform(self, key: str, rng: np.random.Generator, positive: bool = False) -> float:
        lo, hi = self.range(key, positive)
        return float(rng.uniform(lo, hi))

    def log_uniform(self, key: str, rng: np.random.Generator) -> float:
        """Uniform in the logarithm: rates, widths and corner frequencies span decades."""
        lo, hi = self.range(key, positive=True)
        return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))

    def integer(self, key: str, rng: np.random.Generator) -> int:
        lo, hi = self.range(key)
        return int(rng.integers(int(math.ceil(lo)), int(math.floor(hi)) + 1))

    def present(self, rng: np.random.Generator) -> bool:
        """Whether this component is in the example (``prob``, default 1)."""
        prob = self.number("prob", 1.0)
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"{self.key('prob')}: expected a value in [0, 1], got {prob:g}")
        return bool(rng.random() < prob)


# ---------------------------------------------------------------------------------------------
# stationary noise shaped in the frequency domain


def spectral_noise(
    num_samples: int,
    sample_rate: float,
    rng: np.random.Generator,
    amplitude_response: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """Gaussian noise whose amplitude spectrum is ``amplitude_response(freqs_hz)``, unit RMS.

    The spectrum is drawn directly (complex Gaussian bins, one inverse FFT), which is
    white Gaussian noise filtered by the response, at the cost of a single FFT.
    """
    length = scipy.fft.next_fast_len(max(int(num_samples), int(_MIN_SPECTRAL_SECONDS * sample_rate), 2), real=True)
    bins = length // 2 + 1
    freqs = np.arange(bins, dtype=np.float32) * np.float32(sample_rate / length)
    amp = np.asarray(amplitude_response(freqs), dtype=np.float32)
    spec = rng.standard_normal(2 * bins, dtype=np.float32).view(np.complex64)
    spec *= amp
    x = scipy.fft.irfft(spec, length)[:num_samples]
    return _unit_rms(x).astype(np.float32, copy=False)


def _lowpass_response(f: np.ndarray, cutoff: float, order: int) -> np.ndarray:
    return 1.0 / np.sqrt(1.0 + (f / np.float32(cutoff)) ** (2 * order))


def _highpass_response(f: np.ndarray, cutoff: float, order: int) -> np.ndarray:
    r = (f / np.float32(cutoff)) ** order
    return r / np.sqrt(1.0 + r * r)


def hiss(
    num_samples: int,
    sample_rate: float,
    rng: np.random.Generator,
    slope_db_per_octave: float = 0.0,
    highpass_hz: float | None = None,
    lowpass_hz: float | None = None,
    shelf_hz: float | None = None,
    shelf_db: float = 0.0,
) -> np.ndarray:
    """Broadband noise, unit RMS.

    ``slope_db_per_octave`` tilts the power spectral density (-3 is pink, 0 white);
    ``highpass_hz`` (2nd order) and ``lowpass_hz`` (4th order) bound the band the medium
    and its playback chain pass; ``shelf_hz``/``shelf_db`` add a first-order high shelf
    turning over at ``shelf_hz`` (a pre-emphasis corner, 1 / (2 pi tau)) and rising by
    ``shelf_db``.
    """
    nyquist = sample_rate / 2

    def response(f: np.ndarray) -> np.ndarray:
        # below 10 Hz the tilt is held, so a negative slope cannot blow up towards DC
        amp = (np.maximum(f, np.float32(10.0)) / np.float32(1000.0)) ** np.float32(slope_db_per_octave / (20 * math.log10(2)))
        if highpass_hz:
            amp = amp * _highpass_response(f, highpass_hz, 2)
        if lowpass_hz and lowpass_hz < 0.98 * nyquist:
            amp = amp * _lowpass_response(f, lowpass_hz, 4)
        if shelf_hz and shelf_db:
            g = db_to_gain(shelf_db)
            amp = amp * np.sqrt((1.0 + (f / np.float32(shelf_hz)) ** 2) / (1.0 + (f / np.float32(g * shelf_hz)) ** 2))
        return amp

    return spectral_noise(num_samples, sample_rate, rng, response)


def rumble(
    num_samples: int,
    sample_rate: float,
    rng: np.random.Generator,
    cutoff_hz: float = 30.0,
    highpass_hz: float = 5.0,
) -> np.ndarray:
    """Turntable rumble: noise below ``cutoff_hz`` (6th-order roll-off), above ``highpass_hz``; unit RMS.

    Drawn at about 1 kHz and interpolated: the interpolation images near 1 kHz are more
    than 50 dB down, and the cost is a small fraction of an audio-rate FFT.
    """
    hop = max(1, int(round(sample_rate / 1000.0)))
    points = num_samples // hop + 2
    ctrl = spectral_noise(
        points,
        sample_rate / hop,
        rng,
        lambda f: _lowpass_response(f, cutoff_hz, 6) * _highpass_response(f, highpass_hz, 2),
    )
    return _unit_rms(_upsample_linear(ctrl, hop, num_samples))


def _control_hop(sample_rate: float) -> int:
    """Audio samples per control point of slow envelopes (about 200 points per second)."""
    return max(1, int(round(sample_rate / _ENVELOPE_RATE)))


def _upsample_linear(ctrl: np.ndarray, hop: int, num_samples: int) -> np.ndarray:
    """Linear interpolation by an integer factor, by broadcasting (far cheaper than np.interp)."""
    w = (np.arange(hop, dtype=np.float32) / np.float32(hop))[None, :]
    ctrl = ctrl.astype(np.float32, copy=False)
    return (ctrl[:-1, None] * (1.0 - w) + ctrl[1:, None] * w).reshape(-1)[:num_samples]


def _lowpassed_control(points: int, control_rate: float, rng: np.random.Generator, bandwidth_hz: float) -> np.ndarray:
    return spectral_noise(points, control_rate, rng, lambda f: _lowpass_response(f, bandwidth_hz, 4))


def smooth_random(num_samples: int, sample_rate: float, rng: np.random.Generator, bandwidth_hz: float) -> np.ndarray:
    """A unit-RMS Gaussian process band-limited to ``bandwidth_hz`` (for slow envelopes).

    Drawn at a control rate of about 200 Hz and interpolated, so its cost hardly depends
    on the audio rate.
    """
    hop = _control_hop(sample_rate)
    points = num_samples // hop + 2
    return _upsample_linear(_lowpassed_control(points, sample_rate / hop, rng, bandwidth_hz), hop, num_samples)


def level_flutter(
    num_samples: int, sample_rate: float, rng: np.random.Generator, rate_hz: float, depth: float
) -> np.ndarray:
    """Gain envelope (mean about 1, never negative) for slow flutter of a noise level.

    Half a sinusoid at ``rate_hz`` (periodic causes: film weave, a wobbling gate) and half
    a random process of the same bandwidth (density variations), scaled so that the
    modulation has standard deviation ``depth``.
    """
    hop = _control_hop(sample_rate)
    points = num_samples // hop + 2
    control_rate = sample_rate / hop
    t = np.arange(points) / control_rate
    periodic = math.sqrt(2) * np.sin(2 * np.pi * rate_hz * t + rng.uniform(0, 2 * np.pi))
    m = 0.7071 * periodic + 0.7071 * _lowpassed_control(points, control_rate, rng, rate_hz)
    return _upsample_linear(np.maximum(1.0 + depth * m, 0.0), hop, num_samples)


def random_envelope(
    num_samples: int, sample_rate: float, rng: np.random.Generator, bandwidth_hz: float, depth_db: float
) -> np.ndarray:
    """Log-normal gain envelope: its level in dB varies with standard deviation ``depth_db``."""
    g = smooth_random(num_samples, sample_rate, rng, bandwidth_hz)
    return np.exp(g * np.float32(depth_db / (20 * math.log10(math.e)))).astype(np.float32)


def modulation_noise(
    num_samples: int,
    sample_rate: float,
    rng: np.random.Generator,
    bandwidth_hz: float,
    depth_db: float,
    slope_db_per_octave: float = -1.5,
    highpass_hz: float = 100.0,
    lowpass_hz: float = 8000.0,
) -> np.ndarray:
    """Tape modulation noise: band-limited noise whose level follows a slow random envelope; unit RMS.

    On tape this noise rides on the programme's envelope; the noise source does not see the
    programme, so a random envelope of ``bandwidth_hz`` (syllable to phrase rates) and
    ``depth_db`` stands in for it.
    """
    base = hiss(num_samples, sample_rate, rng, slope_db_per_octave, highpass_hz, lowpass_hz)
    env = random_envelope(num_samples, sample_rate, rng, bandwidth_hz, depth_db)
    return _unit_rms(base * env).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# periodic tones


def harmonic_tone(
    num_samples: int,
    sample_rate: float,
    fundamental_hz: float,
    amplitudes: Sequence[float] | np.ndarray,
    phases: Sequence[float] | np.ndarray | None = None,
    start_phase: float = 0.0,
) -> np.ndarray:
    """Sum of harmonics ``k * fundamental_hz`` (k = 1..len(amplitudes)), unit RMS.

    One period is tabulated (one small inverse FFT) and read at the fundamental's phase
    with linear interpolation, so the cost does not grow with the number of harmonics;
    harmonics at or above Nyquist are dropped.
    """
    amps = np.asarray(amplitudes, dtype=np.float64)
    phi = np.zeros(amps.size) if phases is None else np.asarray(phases, dtype=np.float64)
    k = np.arange(1, amps.size + 1)
    keep = (k * fundamental_hz < sample_rate / 2) & (k < _WAVETABLE_SIZE // 2)
    spec = np.zeros(_WAVETABLE_SIZE // 2 + 1, dtype=np.complex128)
    spec[k[keep]] = amps[keep] * np.exp(1j * phi[keep]) * (_WAVETABLE_SIZE / 2)  # irfft: sum a_k cos(k theta + phi_k)
    table = np.fft.irfft(spec, _WAVETABLE_SIZE).astype(np.float32)
    slope = np.diff(np.append(table, table[:1]))
    # phase: exact float64 at the start of each chunk, float32 within a chunk (a few
    # hundred cycles at most, so the float32 error stays far below one table step)
    chunk = 8192
    chunks = -(-num_samples // chunk)
    inc = fundamental_hz / sample_rate
    base = (start_phase + np.arange(chunks) * (chunk * inc)) % 1.0
    pos = base.astype(np.float32)[:, None] + (np.arange(chunk) * inc).astype(np.float32)[None, :]
    pos -= np.floor(pos)
    pos *= np.float32(_WAVETABLE_SIZE)
    idx = np.minimum(pos.astype(np.int32), _WAVETABLE_SIZE - 1)
    pos -= idx
    x = (table[idx] + pos * slope[idx]).reshape(-1)[:num_samples]
    return _unit_rms(x).astype(np.float32, copy=False)


def hum(
    num_samples: int,
    sample_rate: float,
    rng: np.random.Generator,
    mains_hz: float,
    num_harmonics: int = 8,
    decay_db_per_harmonic: float = 6.0,
    even_harmonic_db: float = 0.0,
    jitter_db: float = 3.0,
) -> np.ndarray:
    """Mains hum at ``mains_hz`` and its harmonics, unit RMS.

    Harmonic k is ``decay_db_per_harmonic * (k - 1)`` dB below the fundamental, even
    harmonics (rectifier ripple at 100/120 Hz) shifted by ``even_harmonic_db``, each
    varied by up to ``jitter_db``; phases are random.
    """
    k = np.arange(1, max(int(num_harmonics), 1) + 1)
    level = -decay_db_per_harmonic * (k - 1) + np.where(k % 2 == 0, even_harmonic_db, 0.0)
    level = level + rng.uniform(-jitter_db, jitter_db, size=len(k))
    level[0] = 0.0
    phases = rng.uniform(0, 2 * np.pi, size=len(k))
    return harmonic_tone(num_samples, sample_rate, mains_hz, 10.0 ** (level / 20.0), phases, rng.random())


def buzz(
    num_samples: int,
    sample_rate: float,
    rng: np.random.Generator,
    fundamental_hz: float,
    num_harmonics: int = 20,
    rolloff: float = 1.0,
) -> np.ndarray:
    """Perforation (sprocket-hole) buzz: a pulse train at ``fundamental_hz``, unit RMS.

    The perforation edges pass the scanning slit as short pulses, so the harmonics are
    in phase and fall as ``k ** -rolloff`` (1 is a sawtooth-like spectrum, smaller is
    sharper pulses).
    """
    k = np.arange(1, max(int(num_harmonics), 1) + 1)
    return harmonic_tone(num_samples, sample_rate, fundamental_hz, k ** -float(rolloff), None, rng.random())


# ---------------------------------------------------------------------------------------------
# impulsive noise


def render_pulses(
    num_samples: int,
    positions: np.ndarray,
    lengths: np.ndarray,
    amplitudes: np.ndarray,
    cycles: np.ndarray | None = None,
    phases: np.ndarray | None = None,
) -> np.ndarray:
    """Add one short pulse per event: a Hann window of ``lengths[i]`` samples starting at
    ``positions[i]``, times ``cos(2 pi cycles[i] (u - 1/2) + phases[i])`` (u in [0, 1)),
    scaled by ``amplitudes[i]`` (whose sign is the pulse's polarity).

    ``cycles`` 0 gives a one-signed bump; larger values put the pulse's energy near
    ``cycles / length``. Pulses past the end are cut.
    """
    out = np.zeros(num_samples, dtype=np.float32)
    positions = np.asarray(positions, dtype=np.int64)
    if positions.size == 0:
        return out
    lengths = np.maximum(np.asarray(lengths, dtype=np.int64), 1)
    cycles = np.zeros(positions.size) if cycles is None else np.asarray(cycles, dtype=np.float64)
    phases = np.zeros(positions.size) if phases is None else np.asarray(phases, dtype=np.float64)
    width = int(lengths.max())
    offs = np.arange(width)
    u = (offs[None, :] + 0.5) / lengths[:, None]
    inside = u < 1.0
    shape = np.sin(np.pi * np.minimum(u, 1.0)) ** 2 * np.cos(2 * np.pi * cycles[:, None] * (u - 0.5) + phases[:, None])
    values = np.where(inside, shape * np.asarray(amplitudes, dtype=np.float64)[:, None], 0.0)
    idx = positions[:, None] + offs[None, :]
    keep = inside & (idx >= 0) & (idx < num_samples)
    out += np.bincount(idx[keep], weights=values[keep], minlength=num_samples)[:num_samples].astype(np.float32)
    return out


def poisson_times(num_samples: int, sample_rate: float, rate_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted sample positions of a Poisson process of ``rate_hz`` events per second."""
    count = rng.poisson(rate_hz * num_samples / sample_rate)
    return np.sort(rng.integers(0, num_samples, size=count))


def heavy_tailed_amplitudes(count: int, rng: np.random.Generator, tail_alpha: float, cap: float) -> np.ndarray:
    """Pareto magnitudes with median 1 and shape ``tail_alpha`` (smaller = heavier tail), at most ``cap``, random sign."""
    mag = (rng.pareto(tail_alpha, size=count) + 1.0) / 2.0 ** (1.0 / tail_alpha)
    sign = np.where(rng.random(count) < 0.5, -1.0, 1.0)
    return sign * np.minimum(mag, cap)


def _log_uniform_array(rng: np.random.Generator, lo: float, hi: float, size: int) -> np.ndarray:
    return np.exp(rng.uniform(math.log(lo), math.log(hi), size=size))


def crackle(
    num_samples: int,
    sample_rate: float,
    rng: np.random.Generator,
    rate_hz: float,
    width_ms: tuple[float, float] = (0.1, 3.0),
    tail_alpha: float = 2.0,
    cap: float = 30.0,
) -> np.ndarray:
    """Dust crackle: Poisson impulses of ``rate_hz`` per second.

    Each impulse is ``width_ms`` wide (log-uniform in the range), of random sign and
    shape, with a heavy-tailed (Pareto) peak amplitude of median 1 capped at ``cap``.
    """
    pos = poisson_times(num_samples, sample_rate, rate_hz, rng)
    n = pos.size
    lengths = np.round(_log_uniform_array(rng, width_ms[0], width_ms[1], n) * 1e-3 * sample_rate)
    amps = heavy_tailed_amplitudes(n, rng, tail_alpha, cap)
    return render_pulses(num_samples, pos, lengths, amps, rng.uniform(0.0, 1.5, n), rng.uniform(0, 2 * np.pi, n))


def thumps(
    num_samples: int,
    sample_rate: float,
    rng: np.random.Generator,
    rate_hz: float,
    duration_ms: tuple[float, float] = (10.0, 80.0),
) -> np.ndarray:
    """Splice thumps and scratch pops: Poisson low-frequency transients of ``duration_ms``.

    Each is 0.5 to 1.5 cycles of a low tone under a Hann window (energy near 6-150 Hz
    for 10-80 ms), random sign, amplitude 0.5-1.
    """
    pos = poisson_times(num_samples, sample_rate, rate_hz, rng)
    n = pos.size
    lengths = np.round(_log_uniform_array(rng, duration_ms[0], duration_ms[1], n) * 1e-3 * sample_rate)
    amps = rng.uniform(0.5, 1.0, n) * np.where(rng.random(n) < 0.5, -1.0, 1.0)
    return render_pulses(num_samples, pos, lengths, amps, rng.uniform(0.5, 1.5, n), rng.uniform(0, 2 * np.pi, n))


def frame_scratch(
    num_samples: int,
    sample_rate: float,
    rng: np.random.Generator,
    rate_hz: float,
    frame_rate_hz: float = 24.0,
    burst_s: tuple[float, float] = (0.1, 1.5),
    duration_ms: tuple[float, float] = (10.0, 40.0),
) -> np.ndarray:
    """Scratch pops that repeat once per film frame (every ``1 / frame_rate_hz`` s).

    Bursts start as a Poisson process of ``rate_hz`` (a burst may already be running at
    the start); within a burst of ``burst_s`` the same pop (one shape, one polarity)
    recurs every frame with +-25 % amplitude and +-0.5 ms timing variation.
    """
    longest = int(burst_s[1] * sample_rate)
    # starts drawn over a span that includes bursts begun before the segment
    starts = poisson_times(num_samples + longest, sample_rate, rate_hz, rng) - longest
    frame = sample_rate / frame_rate_hz
    all_idx, all_weights = [np.zeros(0, dtype=np.int64)], [np.zeros(0)]
    for start in starts:
        count = max(1, int(rng.uniform(*burst_s) * frame_rate_hz))
        length = max(1, round(math.exp(rng.uniform(math.log(duration_ms[0]), math.log(duration_ms[1]))) * 1e-3 * sample_rate))
        sign = 1.0 if rng.random() < 0.5 else -1.0
        # one pop shape per burst (the same scratch each frame), placed at every frame
        shape = render_pulses(length, [0], [length], [sign], [rng.uniform(0.5, 1.5)], [rng.uniform(0, 2 * np.pi)])
        jitter = rng.uniform(-0.5e-3, 0.5e-3, count) * sample_rate
        positions = np.round(start + np.arange(count) * frame + jitter).astype(np.int64)
        amps = rng.uniform(0.75, 1.25, count)
        idx = positions[:, None] + np.arange(length)[None, :]
        keep = (idx >= 0) & (idx < num_samples)
        all_idx.append(idx[keep])
        all_weights.append((amps[:, None] * shape[None, :])[keep])
    idx, weights = np.concatenate(all_idx), np.concatenate(all_weights)
    return np.bincount(idx, weights=weights, minlength=num_samples)[:num_samples].astype(np.float32)


def recurring_click_times(
    num_samples: int,
    sample_rate: float,
    rng: np.random.Generator,
    period_s: float = REVOLUTION_78_S,
    num_defects: int = 2,
    persistence: float = 0.9,
    jitter_s: float = 0.0005,
) -> tuple[np.ndarray, np.ndarray]:
    """Times of clicks from ``num_defects`` disc defects, one per revolution each.

    Each defect sits at a random angle; on each revolution it clicks with probability
    ``persistence`` (the stylus does not always catch it), ``jitter_s`` off the exact
    period (speed irregularity). Returns ``(positions, defect_index)``, sorted by time.
    """
    period = period_s * sample_rate
    revolutions = int(math.ceil(num_samples / period)) + 1
    pos, who = [], []
    for d in range(int(num_defects)):
        offset = rng.uniform(0, period)
        t = offset + np.arange(revolutions) * period + rng.uniform(-jitter_s, jitter_s, revolutions) * sample_rate
        hit = (rng.random(revolutions) < persistence) & (t >= 0) & (t < num_samples)
        pos.append(np.round(t[hit]).astype(np.int64))
        who.append(np.full(int(hit.sum()), d))
    if not pos:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    positions, defects = np.concatenate(pos), np.concatenate(who)
    order = np.argsort(positions, kind="stable")
    return positions[order], defects[order]


def recurring_clicks(
    num_samples: int,
    sample_rate: float,
    rng: np.random.Generator,
    period_s: float = REVOLUTION_78_S,
    num_defects: int = 2,
    persistence: float = 0.9,
    width_ms: tuple[float, float] = (0.3, 3.0),
    jitter_s: float = 0.0005,
) -> np.ndarray:
    """Clicks of a damaged disc, recurring every revolution (``period_s``; 0.769 s at 78 rpm).

    Each defect keeps its shape, polarity and (within +-25 %) amplitude from one
    revolution to the next; the loudest defect has peak 1, the others are up to 10 dB lower.
    """
    positions, defect = recurring_click_times(num_samples, sample_rate, rng, period_s, num_defects, persistence, jitter_s)
    nd = max(int(num_defects), 1)
    lengths = np.round(_log_uniform_array(rng, width_ms[0], width_ms[1], nd) * 1e-3 * sample_rate)
    level = 10.0 ** (rng.uniform(-10, 0, nd) / 20)
    level = level / level.max() * np.where(rng.random(nd) < 0.5, -1.0, 1.0)  # the loudest defect at 1
    cycles, phases = rng.uniform(0.0, 1.5, nd), rng.uniform(0, 2 * np.pi, nd)
    amps = level[defect] * rng.uniform(0.75, 1.25, positions.size)
    return render_pulses(num_samples, positions, lengths[defect], amps, cycles[defect], phases[defect])


# ---------------------------------------------------------------------------------------------
# families: parameters drawn from config ranges


def _hum_from(p: Params, n: int, sr: float, rng: np.random.Generator) -> np.ndarray:
    mains = p.value("mains_frequencies_hz")
    if isinstance(mains, (int, float)):
        mains = [mains]
    if not isinstance(mains, Sequence) or not mains:
        raise ValueError(f"{p.key('mains_frequencies_hz')}: expected a list such as [50, 60], got {mains!r}")
    f0 = float(mains[int(rng.integers(len(mains)))]) * (1.0 + p.uniform("frequency_deviation", rng))
    tone = hum(
        n,
        sr,
        rng,
        f0,
        p.integer("harmonics", rng),
        p.uniform("decay_db_per_harmonic", rng),
        p.uniform("even_harmonic_db", rng),
    )
    return tone * np.float32(db_to_gain(p.uniform("level_db", rng)))


def _hiss_from(p: Params, n: int, sr: float, rng: np.random.Generator) -> np.ndarray:
    slope = p.uniform("slope_db_per_octave", rng)
    highpass = p.log_uniform("highpass_hz", rng)
    lowpass = p.log_uniform("lowpass_hz", rng)
    shelf_hz, shelf_db = None, 0.0
    if p.has("shelf_hz"):
        shelf_hz, shelf_db = p.log_uniform("shelf_hz", rng), p.uniform("shelf_db", rng)
    return hiss(n, sr, rng, slope, highpass, lowpass, shelf_hz, shelf_db)


def _crackle_from(p: Params, n: int, sr: float, rng: np.random.Generator) -> np.ndarray:
    x = crackle(
        n,
        sr,
        rng,
        p.log_uniform("rate_hz", rng),
        p.range("width_ms", positive=True),
        p.uniform("tail_alpha", rng, positive=True),
        db_to_gain(p.number("cap_db")),
    )
    return x * np.float32(db_to_gain(p.uniform("level_db", rng)))


def film_noise(num_samples: int, sample_rate: float, rng: np.random.Generator, params: Mapping) -> np.ndarray:
    """Noise of an optical film soundtrack (the ``film`` section of the noise config).

    Grain hiss with a sloped spectrum, perforation buzz (96 Hz for 35 mm, 24 Hz for 16 mm),
    both under a slow level flutter; dust crackle; splice thumps; scratch pops repeating
    every frame; mains hum. Levels are relative to the hiss at unit RMS; float32.
    """
    p = Params(params, "film")
    n, sr = int(num_samples), float(sample_rate)
    frame_rate = p.number("frame_rate_hz")
    optical = _hiss_from(p.section("hiss"), n, sr, rng)
    b = p.section("buzz")
    if b.present(rng):
        gauges = b.value("gauges")
        if not isinstance(gauges, Mapping) or not gauges:
            raise ValueError(f"{b.key('gauges')}: expected a mapping such as {{35mm: {{perforations_per_frame: 4, weight: 1}}}}")
        names = sorted(gauges)
        g = [Params(gauges[k], f"{b.path}.gauges.{k}") for k in names]
        w = np.array([x.number("weight") for x in g])
        if (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"{b.key('gauges')}: weights must be non-negative with a positive sum")
        gauge = g[int(rng.choice(len(g), p=w / w.sum()))]
        f0 = frame_rate * gauge.number("perforations_per_frame") * (1.0 + b.uniform("speed_deviation", rng))
        tone = buzz(n, sr, rng, f0, b.integer("harmonics", rng), b.uniform("rolloff", rng))
        optical = optical + tone * np.float32(db_to_gain(b.uniform("level_db", rng)))
    f = p.section("flutter")
    if f.present(rng):
        optical = optical * level_flutter(n, sr, rng, f.log_uniform("rate_hz", rng), f.uniform("depth", rng))
    out = optical
    c = p.section("crackle")
    if c.present(rng):
        out = out + _crackle_from(c, n, sr, rng)
    t = p.section("thumps")
    if t.present(rng):
        x = thumps(n, sr, rng, t.log_uniform("rate_hz", rng), t.range("duration_ms", positive=True))
        out = out + x * np.float32(db_to_gain(t.uniform("level_db", rng)))
    s = p.section("scratch")
    if s.present(rng):
        x = frame_scratch(
            n,
            sr,
            rng,
            s.log_uniform("rate_hz", rng),
            frame_rate,
            s.range("burst_s", positive=True),
            s.range("duration_ms", positive=True),
        )
        out = out + x * np.float32(db_to_gain(s.uniform("level_db", rng)))
    h = p.section("hum")
    if h.present(rng):
        out = out + _hum_from(h, n, sr, rng)
    return out.astype(np.float32, copy=False)


def gramophone_noise(num_samples: int, sample_rate: float, rng: np.random.Generator, params: Mapping) -> np.ndarray:
    """Noise of a 78 rpm disc (the ``gramophone`` section): surface hiss, crackle, clicks
    recurring every revolution, rumble below about 40 Hz, and optional hum of the
    playback chain. Levels are relative to the hiss at unit RMS; float32.
    """
    p = Params(params, "gramophone")
    n, sr = int(num_samples), float(sample_rate)
    out = _hiss_from(p.section("hiss"), n, sr, rng)
    c = p.section("crackle")
    if c.present(rng):
        out = out + _crackle_from(c, n, sr, rng)
    k = p.section("clicks")
    if k.present(rng):
        x = recurring_clicks(
            n,
            sr,
            rng,
            60.0 / k.uniform("rpm", rng, positive=True),
            k.integer("defects", rng),
            k.uniform("persistence", rng),
            k.range("width_ms", positive=True),
            k.number("jitter_ms") * 1e-3,
        )
        out = out + x * np.float32(db_to_gain(k.uniform("level_db", rng)))
    r = p.section("rumble")
    if r.present(rng):
        x = rumble(n, sr, rng, r.uniform("cutoff_hz", rng, positive=True), r.number("highpass_hz"))
        out = out + x * np.float32(db_to_gain(r.uniform("level_db", rng)))
    h = p.section("hum")
    if h.present(rng):
        out = out + _hum_from(h, n, sr, rng)
    return out.astype(np.float32, copy=False)


def tape_noise(num_samples: int, sample_rate: float, rng: np.random.Generator, params: Mapping) -> np.ndarray:
    """Noise of tape and cassette (the ``tape`` section): hiss with high-frequency emphasis,
    modulation noise under a slow random envelope, and mains hum. Levels are relative
    to the hiss at unit RMS; float32.
    """
    p = Params(params, "tape")
    n, sr = int(num_samples), float(sample_rate)
    out = _hiss_from(p.section("hiss"), n, sr, rng)
    m = p.section("modulation")
    if m.present(rng):
        x = modulation_noise(
            n,
            sr,
            rng,
            m.log_uniform("bandwidth_hz", rng),
            m.uniform("depth_db", rng),
            m.uniform("slope_db_per_octave", rng),
            m.number("highpass_hz"),
            m.log_uniform("lowpass_hz", rng),
        )
        out = out + x * np.float32(db_to_gain(m.uniform("level_db", rng)))
    h = p.section("hum")
    if h.present(rng):
        out = out + _hum_from(h, n, sr, rng)
    return out.astype(np.float32, copy=False)


# ---------------------------------------------------------------------------------------------
# the generic family: wide distributions instead of one medium's recipe


def envelope_response(
    f: np.ndarray,
    slope_db_per_octave: float,
    peaks_hz: Sequence[float] = (),
    peak_gains_db: Sequence[float] = (),
    peak_widths_oct: Sequence[float] = (),
    highpass_hz: float | None = None,
    lowpass_hz: float | None = None,
    sample_rate: float | None = None,
) -> np.ndarray:
    """Amplitude response of a smooth spectral envelope at frequencies ``f`` (Hz).

    A tilt of ``slope_db_per_octave`` (power, around 1 kHz, held below 10 Hz), Gaussian
    bumps in log-frequency (``peak_gains_db`` positive for resonances, negative for
    notches; ``peak_widths_oct`` their standard deviation in octaves), and 2nd-order
    high-pass / 4th-order low-pass band limits.
    """
    f = np.asarray(f, dtype=np.float32)
    octaves = np.log2(np.maximum(f, np.float32(10.0)) / np.float32(1000.0))
    level_db = np.float32(slope_db_per_octave) * octaves
    for hz, gain, width in zip(peaks_hz, peak_gains_db, peak_widths_oct):
        level_db = level_db + np.float32(gain) * np.exp(-0.5 * ((octaves - math.log2(hz / 1000.0)) / np.float32(width)) ** 2)
    amp = np.power(np.float32(10.0), level_db / np.float32(20.0))
    if highpass_hz:
        amp = amp * _highpass_response(f, highpass_hz, 2)
    if lowpass_hz and (sample_rate is None or lowpass_hz < 0.98 * sample_rate / 2):
        amp = amp * _lowpass_response(f, lowpass_hz, 4)
    return amp.astype(np.float32, copy=False)


def drifting_tone(
    num_samples: int,
    sample_rate: float,
    rng: np.random.Generator,
    fundamental_hz: float,
    amplitudes: Sequence[float] | np.ndarray,
    drift: float = 0.0,
    drift_rate_hz: float = 0.2,
) -> np.ndarray:
    """A harmonic series whose fundamental wanders slowly, unit RMS.

    The instantaneous frequency is ``fundamental_hz * (1 + drift * d(t))`` with ``d`` a
    smooth unit-RMS random process of bandwidth ``drift_rate_hz`` (a motor, a loose
    connection, an off-speed transfer); harmonics above Nyquist at the highest frequency
    reached are dropped. Phases are random.
    """
    n = int(num_samples)
    ratio = 1.0 + float(drift) * smooth_random(n, sample_rate, rng, drift_rate_hz).astype(np.float64) if drift else np.ones(n)
    ratio = np.maximum(ratio, 0.05)
    phase = np.cumsum(ratio) * (fundamental_hz / sample_rate) + rng.random()  # cycles of the fundamental, float64
    amps = np.asarray(amplitudes, dtype=np.float64)
    k = np.arange(1, amps.size + 1)
    keep = k * fundamental_hz * float(ratio.max(initial=1.0)) < 0.49 * sample_rate
    out = np.zeros(n, dtype=np.float64)
    frac = phase - np.floor(phase)
    for kk, a, phi in zip(k[keep], amps[keep], rng.uniform(0, 2 * np.pi, int(keep.sum()))):
        out += a * np.cos(2 * np.pi * kk * frac + phi)
    return _unit_rms(out.astype(np.float32))


def soft_clip(x: np.ndarray, drive_db: float) -> np.ndarray:
    """A mild saturation (tanh) of a unit-RMS signal driven ``drive_db`` above unit level,
    scaled back so that small signals keep their gain."""
    g = np.float32(db_to_gain(drive_db))
    return (np.tanh(x * g) / g).astype(np.float32, copy=False)


def _generic_stationary(p: Params, n: int, sr: float, rng: np.random.Generator, slope: float) -> np.ndarray:
    count = p.integer("peaks", rng)
    lo, hi = p.range("peak_hz", positive=True)
    hz = _log_uniform_array(rng, lo, hi, count)
    gains = rng.uniform(*p.range("peak_gain_db"), size=count)
    widths = rng.uniform(*p.range("peak_width_oct", positive=True), size=count)
    highpass = p.log_uniform("highpass_hz", rng)
    lowpass = p.log_uniform("lowpass_hz", rng)
    return spectral_noise(n, sr, rng, lambda f: envelope_response(f, slope, hz, gains, widths, highpass, lowpass, sr))


def _generic_tones(p: Params, n: int, sr: float, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n, dtype=np.float32)
    for _ in range(p.integer("count", rng)):
        k = np.arange(p.integer("harmonics", rng))
        level_db = -p.uniform("decay_db_per_harmonic", rng) * k + rng.uniform(*p.range("harmonic_jitter_db"), size=k.size)
        level_db[0] = 0.0
        tone = drifting_tone(
            n, sr, rng, p.log_uniform("fundamental_hz", rng), 10.0 ** (level_db / 20.0),
            p.uniform("drift", rng), p.log_uniform("drift_rate_hz", rng),
        )  # fmt: skip
        out += tone * np.float32(db_to_gain(p.uniform("level_db", rng)))
    return out


def _generic_impulses(p: Params, n: int, sr: float, rng: np.random.Generator) -> np.ndarray:
    rate = p.log_uniform("rate_hz", rng)
    if rng.random() < p.number("periodic_prob"):
        # defects that recur once per revolution or frame of some mechanism
        period = p.log_uniform("period_s", rng)
        pos, who = recurring_click_times(n, sr, rng, period, p.integer("defects", rng), p.uniform("persistence", rng), 0.0005)
    else:
        pos = poisson_times(n, sr, rate, rng)
        who = np.arange(pos.size)
    events = int(who.max(initial=-1)) + 1
    # one width range per example around a log-uniform centre: sparse ticks or wide pops
    centre = p.log_uniform("width_ms", rng)
    spread = p.uniform("width_spread", rng)
    widths = centre * np.exp(rng.uniform(-spread, spread, events) * math.log(2.0))
    lengths = np.round(widths * 1e-3 * sr)
    amps = heavy_tailed_amplitudes(events, rng, p.uniform("tail_alpha", rng, positive=True), db_to_gain(p.number("cap_db")))
    cycles = rng.uniform(*p.range("colour_cycles"), size=events)  # more cycles: energy higher up
    x = render_pulses(n, pos, lengths[who], amps[who] * rng.uniform(0.75, 1.25, pos.size), cycles[who], rng.uniform(0, 2 * np.pi, events)[who])
    return x * np.float32(db_to_gain(p.uniform("level_db", rng)))


def _chain_filter(x: np.ndarray, sr: float, highpass_hz: float, lowpass_hz: float) -> np.ndarray:
    length = scipy.fft.next_fast_len(x.size, real=True)
    spec = scipy.fft.rfft(x, length)
    f = np.arange(spec.size, dtype=np.float32) * np.float32(sr / length)
    spec *= _highpass_response(f, highpass_hz, 2) * (_lowpass_response(f, lowpass_hz, 4) if lowpass_hz < 0.98 * sr / 2 else 1.0)
    return scipy.fft.irfft(spec, length)[: x.size].astype(np.float32)


def generic_noise(num_samples: int, sample_rate: float, rng: np.random.Generator, params: Mapping) -> np.ndarray:
    """Noise drawn from wide distributions (the ``generic`` section of the noise config).

    Not one medium's recipe but "whatever is not programme": stationary noise under a
    random smooth spectral envelope (tilt, resonances and notches, band limits), whose
    colour may drift between two such envelopes; harmonic tones at random fundamentals
    with slow drift; impulses from sparse ticks to dense crackle, aperiodic or recurring
    once per period of some mechanism; a slow random level modulation; and a worn
    playback chain (band-limiting and soft saturation) applied to the noise alone.
    Levels are relative to the stationary part at unit RMS; float32.
    """
    p = Params(params, "generic")
    n, sr = int(num_samples), float(sample_rate)
    s = p.section("stationary")
    slope = s.uniform("slope_db_per_octave", rng)
    out = _generic_stationary(s, n, sr, rng, slope)
    c = p.section("colour_modulation")
    if c.present(rng):
        other = _generic_stationary(s, n, sr, rng, slope + c.uniform("slope_change_db_per_octave", rng))
        w = 0.5 + 0.5 * np.tanh(2.0 * smooth_random(n, sr, rng, c.log_uniform("rate_hz", rng)))
        out = np.sqrt(w) * out + np.sqrt(1.0 - w) * other
    m = p.section("level_modulation")
    if m.present(rng):
        out = out * random_envelope(n, sr, rng, m.log_uniform("rate_hz", rng), m.uniform("depth_db", rng))
    t = p.section("tones")
    if t.present(rng):
        out = out + _generic_tones(t, n, sr, rng)
    i = p.section("impulses")
    if i.present(rng):
        out = out + _generic_impulses(i, n, sr, rng)
    ch = p.section("chain")
    if ch.present(rng):
        out = _chain_filter(out, sr, ch.log_uniform("highpass_hz", rng), ch.log_uniform("lowpass_hz", rng))
        d = ch.section("saturation")
        if d.present(rng):
            out = soft_clip(_unit_rms(out), d.uniform("drive_db", rng))
    return out.astype(np.float32, copy=False)


FAMILY_FUNCTIONS: dict[str, Callable[[int, float, np.random.Generator, Mapping], np.ndarray]] = {
    "film": film_noise,
    "gramophone": gramophone_noise,
    "tape": tape_noise,
    "generic": generic_noise,
}


# ---------------------------------------------------------------------------------------------
# recorded noise


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


_DECODED: dict[tuple[str, int, int, int], np.ndarray] = {}


def _decode_recorded(path: Path, sample_rate: int) -> np.ndarray:
    """Mono float32 at ``sample_rate``, DC removed, silent ends trimmed; cached per process."""
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, int(sample_rate))
    if key not in _DECODED:
        audio, _ = audio_io.load_audio(path, sample_rate=sample_rate, mono=True)
        audio = audio.astype(np.float32) - np.float32(audio.mean())
        _DECODED[key] = _trim_silence(audio)
    return _DECODED[key]


RECORDED_SPLITS = ("all", "train", "validation")
RECORDED_SPLIT_SEED = 0


def split_recorded_files(
    files: Sequence[Path], keys: Sequence[str], fraction: float, seed: int = RECORDED_SPLIT_SEED
) -> tuple[list[Path], list[Path]]:
    """(train, validation) noise files by hash of each key (folder name / path inside it).

    The rule of the clean corpus: a file is held out when its hash is below ``fraction``,
    and at least one file is; a file's side never depends on the other files.
    """
    scored = sorted(zip((audio_io.validation_hash(k, seed) for k in keys), range(len(files))))
    held = {i for h, i in scored if h < fraction}
    if not held and scored and fraction > 0:
        held = {scored[0][1]}
    return [f for i, f in enumerate(files) if i not in held], [f for i, f in enumerate(files) if i in held]


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
    dirs = [resolve_repo_path(f) for f in folders]
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


# ---------------------------------------------------------------------------------------------
# the entry point


def _plain(cfg: Any) -> dict:
    """A deep, plain-Python copy of a dict or an OmegaConf DictConfig (interpolations resolved)."""
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(cfg, DictConfig):
            return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    except ImportError:  # plain dicts need no OmegaConf
        pass
    if not isinstance(cfg, Mapping):
        raise ValueError(f"noise: expected a mapping, got {type(cfg).__name__}")
    return copy.deepcopy(dict(cfg))


def _force_present(section: Any) -> Any:
    """A copy with every ``prob`` set to 1, so a dry run reaches every component."""
    if isinstance(section, Mapping):
        return {k: (1.0 if k == "prob" else _force_present(v)) for k, v in section.items()}
    return section


class NoiseSource:
    """Noise for one training example: synthetic (film, gramophone, tape) or recorded.

    ``cfg`` is the ``noise`` config group (plain dict or DictConfig). Keys read:
    ``family_weights`` ({family: weight}), ``second_family_prob``,
    ``second_family_level_db`` ([low, high], the second family against the first),
    ``recorded_share``, ``recorded_dirs``, ``recorded_crossfade_s``,
    ``recorded_validation_fraction`` and one section per family with positive weight.
    ``snr_db`` is for the loader and not read here. ``split`` ('all', 'train' or
    'validation') is which recorded files are used: training and validation/evaluation
    get disjoint ones (see :func:`split_recorded_files`).

    Everything is checked at construction (each family is generated once with all its
    components on; recorded files are decoded and cached), so a bad config fails there
    with a one-line ``ValueError``. After construction the object is read-only, so one
    instance may serve several threads, each with its own Generator.
    """

    def __init__(self, cfg: Mapping, sample_rate: int, split: str = "all"):
        if split not in RECORDED_SPLITS:
            raise ValueError(f"noise: split must be one of {RECORDED_SPLITS}, got {split!r}")
        self.cfg = _plain(cfg)
        self.sample_rate = int(sample_rate)
        if self.sample_rate <= 0:
            raise ValueError(f"noise: sample_rate must be positive, got {sample_rate}")
        self._top = Params(self.cfg, "")
        self.recorded_share = self._top.number("recorded_share", 0.0)
        if not 0.0 <= self.recorded_share <= 1.0:
            raise ValueError(f"noise.recorded_share: expected a value in [0, 1], got {self.recorded_share:g}")
        weights = self.cfg.get("family_weights") or {}
        if not isinstance(weights, Mapping):
            raise ValueError(f"noise.family_weights: expected {{family: weight}}, got {weights!r}")
        unknown = sorted(set(weights) - set(FAMILIES))
        if unknown:
            raise ValueError(f"noise.family_weights: unknown families {unknown}; known: {list(FAMILIES)}")
        weights_ok = all(isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0 for w in weights.values())
        if not weights_ok:
            raise ValueError(f"noise.family_weights: weights must be non-negative numbers, got {dict(weights)}")
        self.families = [f for f in FAMILIES if weights.get(f, 0.0) > 0]
        w = np.array([float(weights[f]) for f in self.families])
        self.family_probs = w / w.sum() if w.size else w
        self.second_family_prob = self._top.number("second_family_prob", 0.0)
        if not 0.0 <= self.second_family_prob <= 1.0:
            raise ValueError(f"noise.second_family_prob: expected a value in [0, 1], got {self.second_family_prob:g}")
        self.second_level_db = self._top.range("second_family_level_db") if self.second_family_prob > 0 else (0.0, 0.0)
        if self.recorded_share < 1.0 and not self.families:
            raise ValueError("noise.family_weights: no family has a positive weight, but recorded_share < 1")
        for fam in self.families:
            if not isinstance(self.cfg.get(fam), Mapping):
                raise ValueError(f"noise.{fam}: missing section for a family with positive weight")
            # one short run with every component on finds missing keys and bad values now
            try:
                FAMILY_FUNCTIONS[fam](self.sample_rate // 10, self.sample_rate, np.random.default_rng(0), _force_present(self.cfg[fam]))
            except (ValueError, TypeError, KeyError) as exc:
                message = " ".join(str(exc).split())
                raise ValueError(message if message.startswith("noise.") else f"noise.{fam}: {message}") from None
        self.recorded_files: list[Path] = []
        self._clips: list[np.ndarray] = []
        crossfade_s = self._top.number("recorded_crossfade_s", 0.5)
        if crossfade_s < 0:
            raise ValueError(f"noise.recorded_crossfade_s: must not be negative, got {crossfade_s:g}")
        self.crossfade = int(round(crossfade_s * self.sample_rate))
        if self.recorded_share > 0:
            self.recorded_files, self._clips = load_recorded_noise(
                self.cfg.get("recorded_dirs") or [], self.sample_rate, split,
                self._top.number("recorded_validation_fraction", 0.0),
            )  # fmt: skip

    def sample(self, num_samples: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        """float32 noise [num_samples] at unit RMS (unit-free: the loader rescales it to the SNR)
        and its label: ``'film'``, ``'gramophone'``, ``'tape'``, ``'recorded'``, or two
        families joined by ``'+'`` such as ``'film+tape'``.
        """
        n = int(num_samples)
        if n <= 0:
            raise ValueError(f"noise: num_samples must be positive, got {num_samples}")
        if self._clips and rng.random() < self.recorded_share:
            seg, audible = self._recorded(n, rng)
            if audible or not self.families:
                return seg, RECORDED_LABEL
        return self._synthetic(n, rng)

    def sample_with_print(self, num_samples: int, print_samples: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
        """Noise as :meth:`sample` and a *print* of it: ``(noise [num_samples], print [print_samples],
        label)``, both one rendering of a synthetic family (the print is the stretch after the
        noise), or one stretch of one recording, preferring files long enough for the two not to
        overlap. Both are scaled by the factor that gives the noise unit RMS."""
        n, m = int(num_samples), int(print_samples)
        if n <= 0 or m <= 0:
            raise ValueError(f"noise: num_samples and print_samples must be positive, got {n} and {m}")
        if self._clips and rng.random() < self.recorded_share:
            long_enough = [c for c in self._clips if c.size >= n + m] or self._clips
            clip = long_enough[int(rng.integers(len(long_enough)))]
            if clip.size >= n + m:
                start = int(rng.integers(clip.size - (n + m) + 1))
                both, label = clip[start : start + n + m].astype(np.float32), RECORDED_LABEL
            else:  # every file is shorter: looped (the print then repeats part of the noise)
                cf = min(self.crossfade, clip.size // 2)
                both, label = loop_with_crossfade(clip, n + m, cf).astype(np.float32), RECORDED_LABEL
        else:
            both, label = self._synthetic(n + m, rng)
        rms = float(np.sqrt(np.mean(np.square(both[:n], dtype=np.float64))))
        scale = np.float32(1.0 / rms) if rms > 0 else np.float32(1.0)
        return both[:n] * scale, both[n:] * scale, label

    def _synthetic(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        first = int(rng.choice(len(self.families), p=self.family_probs))
        names = [self.families[first]]
        out = _unit_rms(FAMILY_FUNCTIONS[names[0]](n, self.sample_rate, rng, self.cfg[names[0]]))
        if len(self.families) > 1 and rng.random() < self.second_family_prob:
            rest = [i for i in range(len(self.families)) if i != first]
            p = self.family_probs[rest]
            second = rest[int(rng.choice(len(rest), p=p / p.sum()))]
            names.append(self.families[second])
            extra = _unit_rms(FAMILY_FUNCTIONS[names[1]](n, self.sample_rate, rng, self.cfg[names[1]]))
            out = out + extra * np.float32(db_to_gain(rng.uniform(*self.second_level_db)))
        return _unit_rms(out).astype(np.float32, copy=False), "+".join(names)

    def _recorded(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
        """A random stretch of a random file (each file equally likely: each is a different
        kind of noise), looped when the file is shorter, at unit RMS; and False if eight
        tries found only near-silence (then synthetic noise is used where configured)."""
        seg = np.zeros(n, dtype=np.float32)
        for _ in range(8):
            clip = self._clips[int(rng.integers(len(self._clips)))]
            if clip.size >= n:
                start = int(rng.integers(clip.size - n + 1))
                seg = clip[start : start + n]
            else:
                cf = min(self.crossfade, clip.size // 2)
                period = clip.size - cf
                # a random rotation, so the seams fall at different times in each example
                start = int(rng.integers(period))
                seg = loop_with_crossfade(clip, n + start, cf)[start:]
            if float(np.max(np.abs(seg))) > 1e-4 * float(np.max(np.abs(clip))):
                return _unit_rms(seg).astype(np.float32), True
        return _unit_rms(seg).astype(np.float32), False


def load_noise_config(name: str = "mixed", overrides: Sequence[str] = ()) -> dict:
    """The composed ``conf/noise/<name>.yaml`` as a plain dict, as Hydra would build ``cfg.noise``.

    For scripts and tests that run outside ``train.py``; ``overrides`` are Hydra overrides
    inside the group, e.g. ``["noise.recorded_share=0"]``.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    if not (CONF_DIR / "noise" / f"{name}.yaml").is_file():
        raise ValueError(f"noise config {name!r}: no file {CONF_DIR / 'noise' / (name + '.yaml')}")
    if GlobalHydra.instance().is_initialized():  # inside a Hydra app: reuse its search path
        cfg = compose(config_name=f"noise/{name}", overrides=list(overrides))
    else:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose(config_name=f"noise/{name}", overrides=list(overrides))
    return OmegaConf.to_container(cfg.noise, resolve=True)  # type: ignore[return-value]


__all__ = [
    "FAMILIES",
    "FAMILY_FUNCTIONS",
    "REVOLUTION_78_S",
    "NoiseSource",
    "Params",
    "RecordedNoiseWarning",
    "buzz",
    "crackle",
    "db_to_gain",
    "drifting_tone",
    "envelope_response",
    "film_noise",
    "frame_scratch",
    "generic_noise",
    "gramophone_noise",
    "harmonic_tone",
    "heavy_tailed_amplitudes",
    "hiss",
    "hum",
    "level_flutter",
    "load_noise_config",
    "load_recorded_noise",
    "split_recorded_files",
    "loop_with_crossfade",
    "modulation_noise",
    "poisson_times",
    "random_envelope",
    "recurring_click_times",
    "recurring_clicks",
    "render_pulses",
    "resolve_repo_path",
    "rumble",
    "smooth_random",
    "soft_clip",
    "spectral_noise",
    "tape_noise",
    "thumps",
]
