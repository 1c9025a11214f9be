"""The components of synthetic noise: hiss, rumble, envelopes, tones and impulses.

Each is a pure function of explicit numeric arguments and a ``numpy.random.Generator``
(never the global RNG), with no configuration: the families in ``noise_families.py`` draw
their arguments from the ranges of ``conf/noise/<family>.yaml``. What each component
models, and why its ranges are what they are, is in ``docs/DATA.md``.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import scipy.fft

GRAMOPHONE_RPM = 78.0
REVOLUTION_78_S = 60.0 / GRAMOPHONE_RPM  # 0.769 s between recurrences of a disc defect

# FFT-shaped noise is drawn at least this long (and cropped), so that tiny requests still
# resolve the low cut-offs of rumble (tens of Hz) instead of collapsing to DC.
_MIN_SPECTRAL_SECONDS = 1.0
_ENVELOPE_RATE = 200.0  # Hz; control rate of slow envelopes, interpolated to audio rate
_WAVETABLE_SIZE = 4096  # one period of hum or buzz; linear interpolation error < -75 dB


# ---------------------------------------------------------------------------------------------
# small helpers


def db_to_gain(db: float) -> float:
    """Amplitude factor of a level in dB."""
    return float(10.0 ** (db / 20.0))


def unit_rms(x: np.ndarray) -> np.ndarray:
    """``x`` scaled to unit RMS (silence is returned as it is), in its own dtype."""
    rms = math.sqrt(float(np.dot(x, x)) / x.size) if x.size else 0.0
    return x * x.dtype.type(1.0 / rms) if rms > 0 else x




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
    return unit_rms(x).astype(np.float32, copy=False)


def lowpass_response(f: np.ndarray, cutoff: float, order: int) -> np.ndarray:
    """Amplitude response of a Butterworth low-pass of ``order`` at frequencies ``f``."""
    return 1.0 / np.sqrt(1.0 + (f / np.float32(cutoff)) ** (2 * order))


def highpass_response(f: np.ndarray, cutoff: float, order: int) -> np.ndarray:
    """Amplitude response of a Butterworth high-pass of ``order`` at frequencies ``f``."""
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
            amp = amp * highpass_response(f, highpass_hz, 2)
        if lowpass_hz and lowpass_hz < 0.98 * nyquist:
            amp = amp * lowpass_response(f, lowpass_hz, 4)
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
        lambda f: lowpass_response(f, cutoff_hz, 6) * highpass_response(f, highpass_hz, 2),
    )
    return unit_rms(_upsample_linear(ctrl, hop, num_samples))


def _control_hop(sample_rate: float) -> int:
    """Audio samples per control point of slow envelopes (about 200 points per second)."""
    return max(1, int(round(sample_rate / _ENVELOPE_RATE)))


def _upsample_linear(ctrl: np.ndarray, hop: int, num_samples: int) -> np.ndarray:
    """Linear interpolation by an integer factor, by broadcasting (far cheaper than np.interp)."""
    w = (np.arange(hop, dtype=np.float32) / np.float32(hop))[None, :]
    ctrl = ctrl.astype(np.float32, copy=False)
    return (ctrl[:-1, None] * (1.0 - w) + ctrl[1:, None] * w).reshape(-1)[:num_samples]


def _lowpassed_control(points: int, control_rate: float, rng: np.random.Generator, bandwidth_hz: float) -> np.ndarray:
    return spectral_noise(points, control_rate, rng, lambda f: lowpass_response(f, bandwidth_hz, 4))


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
    return unit_rms(base * env).astype(np.float32)


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
    return unit_rms(x).astype(np.float32, copy=False)


def hum(num_samples: int, sample_rate: float, rng: np.random.Generator, mains_hz: float, num_harmonics: int = 8,
        decay_db_per_harmonic: float = 6.0, even_harmonic_db: float = 0.0, jitter_db: float = 3.0) -> np.ndarray:  # fmt: skip
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


def log_uniform_array(rng: np.random.Generator, lo: float, hi: float, size: int) -> np.ndarray:
    """``size`` values uniform in the logarithm between ``lo`` and ``hi`` (both positive)."""
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
    lengths = np.round(log_uniform_array(rng, width_ms[0], width_ms[1], n) * 1e-3 * sample_rate)
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
    lengths = np.round(log_uniform_array(rng, duration_ms[0], duration_ms[1], n) * 1e-3 * sample_rate)
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


def recurring_clicks(num_samples: int, sample_rate: float, rng: np.random.Generator, period_s: float = REVOLUTION_78_S,
                     width_ms: tuple[float, float] = (0.3, 3.0), **timing: float) -> np.ndarray:  # fmt: skip
    """Clicks of a damaged disc, recurring every revolution (``period_s``; 0.769 s at 78 rpm),
    at the times :func:`recurring_click_times` draws (``timing``: its ``num_defects``,
    ``persistence`` and ``jitter_s``).

    Each defect keeps its shape, polarity and (within +-25 %) amplitude from one
    revolution to the next; the loudest defect has peak 1, the others are up to 10 dB lower.
    """
    positions, defect = recurring_click_times(num_samples, sample_rate, rng, period_s, **timing)
    nd = max(int(timing.get("num_defects", 2)), 1)
    lengths = np.round(log_uniform_array(rng, width_ms[0], width_ms[1], nd) * 1e-3 * sample_rate)
    level = 10.0 ** (rng.uniform(-10, 0, nd) / 20)
    level = level / level.max() * np.where(rng.random(nd) < 0.5, -1.0, 1.0)  # the loudest defect at 1
    cycles, phases = rng.uniform(0.0, 1.5, nd), rng.uniform(0, 2 * np.pi, nd)
    amps = level[defect] * rng.uniform(0.75, 1.25, positions.size)
    return render_pulses(num_samples, positions, lengths[defect], amps, cycles[defect], phases[defect])




# ---------------------------------------------------------------------------------------------
# smooth spectral envelopes, drifting tones, saturation (the generic family's pieces)


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
        amp = amp * highpass_response(f, highpass_hz, 2)
    if lowpass_hz and (sample_rate is None or lowpass_hz < 0.98 * sample_rate / 2):
        amp = amp * lowpass_response(f, lowpass_hz, 4)
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
    return unit_rms(out.astype(np.float32))


def soft_clip(x: np.ndarray, drive_db: float) -> np.ndarray:
    """A mild saturation (tanh) of a unit-RMS signal driven ``drive_db`` above unit level,
    scaled back so that small signals keep their gain."""
    g = np.float32(db_to_gain(drive_db))
    return (np.tanh(x * g) / g).astype(np.float32, copy=False)


__all__ = [
    "GRAMOPHONE_RPM",
    "REVOLUTION_78_S",
    "buzz",
    "crackle",
    "db_to_gain",
    "drifting_tone",
    "envelope_response",
    "frame_scratch",
    "harmonic_tone",
    "heavy_tailed_amplitudes",
    "highpass_response",
    "hiss",
    "hum",
    "level_flutter",
    "log_uniform_array",
    "lowpass_response",
    "modulation_noise",
    "poisson_times",
    "random_envelope",
    "recurring_click_times",
    "recurring_clicks",
    "render_pulses",
    "rumble",
    "smooth_random",
    "soft_clip",
    "spectral_noise",
    "thumps",
    "unit_rms",
]
