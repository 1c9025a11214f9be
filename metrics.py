"""Objective quality measures for restored audio (numpy only, no TensorFlow).

Every function takes 1-D float arrays ``estimate`` (the restorer's output) and ``reference``
(the clean programme) of equal length; improvements also take the ``noisy`` input. Arrays
are converted to float64 before summing so that long files do not lose precision.

Conventions shared by all measures:

* Mismatched lengths, non-1-D or empty arrays raise :class:`ValueError` naming the shapes:
  cropping silently would hide an off-by-one in the caller's pipeline.
* A silent reference raises :class:`ValueError` for the SDR/SNR/energy measures, where the
  ratio has no meaning, and gives ``nan`` for PESQ/STOI, which are best-effort.
* Ratios in dB are bounded: an error energy below ``_REL_EPS`` times the signal energy
  (float64 rounding level) counts as that level, so a perfect estimate scores about
  +156 dB rather than ``inf`` and an average over files stays finite.
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.signal

from audio_io import resample

# Relative floor for energies in dB ratios: float64 rounding noise, ~ -156.5 dB.
_REL_EPS = float(np.finfo(np.float64).eps)

PESQ_SAMPLE_RATE = 16000
# Welch segment length for band energies; 2048 matches the model's STFT (21.5 Hz bins at 44.1 kHz).
_WELCH_SEGMENT = 2048

# Below it lie hum, rumble and drones, and the programme's bass and voices' fundamentals
LOW_ERROR_BAND_HZ = 300.0

METRIC_NAMES: tuple[str, ...] = ("si_sdr", "si_sdr_i", "snr", "snr_i", "lsd", "energy_ratio_db", "low_error_share",
                                 "pesq", "stoi")  # fmt: skip
PERCEPTUAL_METRICS: tuple[str, ...] = ("pesq", "stoi")


def _as_pair(estimate: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    estimate = np.asarray(estimate, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if estimate.ndim != 1 or reference.ndim != 1:
        raise ValueError(f"metrics need 1-D signals, got estimate {estimate.shape} and reference {reference.shape}")
    if estimate.shape != reference.shape:
        raise ValueError(f"estimate and reference differ in length: {estimate.shape[0]} vs {reference.shape[0]} samples")
    if estimate.size == 0:
        raise ValueError("metrics need non-empty signals, got 0 samples")
    return estimate, reference


def _ratio_db(signal_energy: float, error_energy: float) -> float:
    return float(10.0 * np.log10(signal_energy / max(error_energy, _REL_EPS * signal_energy)))


def _require_sound(reference: np.ndarray, measure: str) -> float:
    energy = float(np.dot(reference, reference))
    if energy == 0.0:
        raise ValueError(f"{measure} is undefined for a silent reference")
    return energy


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Scale-invariant signal-to-distortion ratio in dB (Le Roux et al., ICASSP 2019).

    ``alpha = <estimate, reference> / ||reference||^2``, ``target = alpha * reference``,
    ``SI-SDR = 10 log10(||target||^2 / ||estimate - target||^2)``.

    Neither signal is made zero-mean first (Le Roux et al. suggest it; we do not): a DC
    offset or sub-sonic rumble the restorer leaves or adds is an error worth counting, and
    the training loss in ``losses.si_sdr`` uses the same convention, so the numbers agree.
    Multiplying ``estimate`` by any non-zero gain leaves the value unchanged.
    """
    estimate, reference = _as_pair(estimate, reference)
    ref_energy = _require_sound(reference, "SI-SDR")
    alpha = float(np.dot(estimate, reference)) / ref_energy
    target = alpha * reference
    error = estimate - target
    target_energy = float(np.dot(target, target))
    if target_energy == 0.0:  # estimate orthogonal to (or silent against) the reference
        return float(10.0 * np.log10(_REL_EPS))
    return _ratio_db(target_energy, float(np.dot(error, error)))


def low_error_share(estimate: np.ndarray, reference: np.ndarray, sample_rate: int, cutoff_hz: float = LOW_ERROR_BAND_HZ) -> float:
    """The share (0-1) of SI-SDR's error, ``estimate - alpha * reference``, whose power lies below
    ``cutoff_hz`` (Welch, 2048-sample segments): where a restoration's remaining error sits, the
    noise it left and the programme it took out alike. 0 where there is no error."""
    estimate, reference = _as_pair(estimate, reference)
    alpha = float(np.dot(estimate, reference)) / _require_sound(reference, "the error's low-band share")
    freqs, power = _welch_power(estimate - alpha * reference, sample_rate)
    total = float(power.sum())
    return float(power[freqs < cutoff_hz].sum() / total) if total > 0 else 0.0


def si_sdr_improvement(estimate: np.ndarray, noisy: np.ndarray, reference: np.ndarray) -> float:
    """``si_sdr(estimate, reference) - si_sdr(noisy, reference)`` in dB; 0 for a no-op."""
    return si_sdr(estimate, reference) - si_sdr(noisy, reference)


def snr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Signal-to-noise ratio in dB: ``10 log10(||reference||^2 / ||estimate - reference||^2)``.

    Not scale-invariant: a correct waveform at the wrong level is penalised, which is what
    an archivist comparing levels would notice.
    """
    estimate, reference = _as_pair(estimate, reference)
    ref_energy = _require_sound(reference, "SNR")
    error = estimate - reference
    return _ratio_db(ref_energy, float(np.dot(error, error)))


def snr_improvement(estimate: np.ndarray, noisy: np.ndarray, reference: np.ndarray) -> float:
    """``snr(estimate, reference) - snr(noisy, reference)`` in dB; 0 for a no-op."""
    return snr(estimate, reference) - snr(noisy, reference)


def pesq_wb(estimate: np.ndarray, reference: np.ndarray, sample_rate: int) -> float:
    """Wide-band PESQ (ITU-T P.862.2, MOS-LQO about 1.0 ... 4.64) via the ``pesq`` package.

    Both signals are resampled to 16 kHz with soxr first (P.862.2 is defined there).
    Returns ``nan`` instead of raising when PESQ cannot score the pair: input shorter than
    0.25 s at 16 kHz (``BufferTooShortError``), no utterance found by PESQ's voice activity
    detector (``NoUtterancesError``), or a silent reference. A silent *estimate* is scored,
    not skipped: it is replaced by a -200 dB (re reference peak) deterministic dither,
    which PESQ rates at its floor (~1.0), so total suppression cannot vanish from an
    average. PESQ is designed for speech; on music treat it as a rough indicator only.
    """
    estimate, reference = _as_pair(estimate, reference)
    if not np.any(reference):
        return float("nan")
    if not np.any(estimate):
        # the pesq C code fails on an all-zero signal ("cannot convert float NaN to integer")
        dither = np.random.default_rng(0).standard_normal(estimate.size)
        estimate = 1e-10 * np.abs(reference).max() * dither
    import pesq  # imported here: the C extension is only needed when PESQ is asked for

    ref16 = resample(reference, sample_rate, PESQ_SAMPLE_RATE)
    est16 = resample(estimate, sample_rate, PESQ_SAMPLE_RATE)
    try:
        return float(pesq.pesq(PESQ_SAMPLE_RATE, ref16, est16, "wb"))
    except (pesq.NoUtterancesError, pesq.BufferTooShortError):
        return float("nan")


def stoi(estimate: np.ndarray, reference: np.ndarray, sample_rate: int) -> float:
    """Short-time objective intelligibility (Taal et al. 2011, classic, not extended), 0 ... 1.

    Computed by ``pystoi`` (which resamples to 10 kHz itself). Returns ``nan`` for a silent
    reference and when fewer than 30 active 25.6 ms frames (~0.4 s of sound within 40 dB
    of the loudest frame) remain; pystoi itself would warn and return 1e-5 there, a value
    that would pass for a real, terrible score in an average.
    """
    estimate, reference = _as_pair(estimate, reference)
    if not np.any(reference):
        return float("nan")
    from pystoi import stoi as _pystoi

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = float(_pystoi(reference, estimate, sample_rate, extended=False))
    if any("Not enough STFT frames" in str(w.message) for w in caught):
        return float("nan")
    return value


def log_spectral_distance(
    estimate: np.ndarray,
    reference: np.ndarray,
    sample_rate: int,
    n_fft: int = 2048,
    hop: int = 512,
    floor_db: float = -80.0,
) -> float:
    """Log-spectral distance in dB; 0 for identical signals, larger is worse.

    With Hann-windowed STFT power spectra ``P_ref`` and ``P_est`` (``n_fft``, ``hop``):
    ``LSD = mean over frames of sqrt(mean over bins of (10 log10 P_ref - 10 log10 P_est)^2)``.

    Epsilon: every power is floored at ``floor_db`` (default -80 dB) relative to the
    strongest bin of the reference spectrogram, so the floor scales with the programme
    level and differences far below audibility cannot dominate the mean. ``sample_rate``
    is only checked; the measure is taken over all bins from 0 Hz to Nyquist.
    """
    estimate, reference = _as_pair(estimate, reference)
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    if estimate.size < n_fft:  # one full frame at least, so short clips still give a value
        pad = n_fft - estimate.size
        estimate, reference = np.pad(estimate, (0, pad)), np.pad(reference, (0, pad))
    kwargs = dict(window="hann", nperseg=n_fft, noverlap=n_fft - hop)
    power_ref = np.abs(scipy.signal.stft(reference, **kwargs)[2]) ** 2
    power_est = np.abs(scipy.signal.stft(estimate, **kwargs)[2]) ** 2
    peak = power_ref.max()
    floor = peak * 10.0 ** (floor_db / 10.0) if peak > 0 else np.finfo(np.float64).tiny
    diff_db = 10.0 * (np.log10(np.maximum(power_ref, floor)) - np.log10(np.maximum(power_est, floor)))
    per_frame = np.sqrt(np.mean(diff_db**2, axis=0))  # scipy's stft is [bins, frames]
    return float(np.mean(per_frame))


def _welch_power(x: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    nperseg = min(_WELCH_SEGMENT, x.size)
    # detrend=False: a DC offset is energy the restorer put there and must be counted
    freqs, power = scipy.signal.welch(x, fs=sample_rate, window="hann", nperseg=nperseg, detrend=False)
    return freqs, power


def _band_edges(freqs: np.ndarray, power: np.ndarray, energy_fraction: float) -> tuple[float, float]:
    cumulative = np.cumsum(power) / power.sum()
    tail = (1.0 - energy_fraction) / 2.0
    lo = int(np.searchsorted(cumulative, tail, side="left"))
    hi = int(np.searchsorted(cumulative, 1.0 - tail, side="left"))
    hi = min(hi, freqs.size - 1)
    return float(freqs[lo]), float(freqs[hi])


def active_band(reference: np.ndarray, sample_rate: int, energy_fraction: float = 0.99) -> tuple[float, float]:
    """The frequency range ``(lo_hz, hi_hz)`` holding ``energy_fraction`` of the reference energy.

    Rule: Welch power spectrum of the reference (Hann, 2048-sample segments, half overlap,
    no detrending); the band is the equal-tailed central interval, i.e. ``lo_hz`` is the
    first bin where the cumulative energy from 0 Hz reaches ``(1 - energy_fraction) / 2``
    and ``hi_hz`` the first where it reaches ``1 - (1 - energy_fraction) / 2``. Both edges
    are bin centre frequencies, inclusive.
    """
    reference = np.asarray(reference, dtype=np.float64)
    if reference.ndim != 1 or reference.size == 0:
        raise ValueError(f"active_band needs a non-empty 1-D signal, got shape {reference.shape}")
    if not 0.0 < energy_fraction <= 1.0:
        raise ValueError(f"energy_fraction must be in (0, 1], got {energy_fraction}")
    freqs, power = _welch_power(reference, sample_rate)
    if power.sum() == 0.0:
        raise ValueError("active band is undefined for a silent reference")
    return _band_edges(freqs, power, energy_fraction)


def energy_ratio_db(
    estimate: np.ndarray,
    reference: np.ndarray,
    sample_rate: int,
    band: tuple[float, float] | None = None,
) -> float:
    """Output-to-clean energy ratio in dB inside the clean signal's active band.

    ``10 log10(E_est / E_ref)`` where both energies are the Welch power (same settings as
    :func:`active_band`) summed over the bins between ``band`` edges, inclusive; ``band``
    defaults to ``active_band(reference, sample_rate, 0.99)``. Reading it: 0 dB = same
    energy as the clean programme; negative = over-suppression (keeping 10 % of the
    energy, i.e. removing 90 % of the signal, gives -10 dB); positive = noise left in.
    Restricting to the active band keeps out-of-band hiss removal from masking the
    loss of programme. A silent estimate scores the floor, about -156 dB.
    """
    estimate, reference = _as_pair(estimate, reference)
    _require_sound(reference, "energy ratio")
    freqs, power_ref = _welch_power(reference, sample_rate)
    _, power_est = _welch_power(estimate, sample_rate)
    lo, hi = band if band is not None else _band_edges(freqs, power_ref, 0.99)
    if lo > hi:
        raise ValueError(f"band must be (lo_hz, hi_hz) with lo <= hi, got {band}")
    in_band = (freqs >= lo) & (freqs <= hi)
    if not in_band.any():  # band narrower than one bin: take the bin nearest its centre
        in_band[np.argmin(np.abs(freqs - (lo + hi) / 2.0))] = True
    ref_energy = float(power_ref[in_band].sum())
    if ref_energy == 0.0:
        raise ValueError(f"the reference holds no energy in the band {lo:.1f}-{hi:.1f} Hz")
    est_energy = float(power_est[in_band].sum())
    return float(10.0 * np.log10(max(est_energy, _REL_EPS * ref_energy) / ref_energy))


def real_time_factor(seconds_processing: float, seconds_audio: float) -> float:
    """Processing time divided by audio duration; below 1 is faster than real time."""
    if seconds_audio <= 0:
        raise ValueError(f"seconds_audio must be positive, got {seconds_audio}")
    return float(seconds_processing) / float(seconds_audio)


def evaluate_pair(
    estimate: np.ndarray,
    noisy: np.ndarray,
    reference: np.ndarray,
    sample_rate: int,
    with_perceptual: bool = True,
) -> dict[str, float]:
    """All measures for one restored file, keyed as in :data:`METRIC_NAMES`.

    Keys: ``si_sdr``, ``si_sdr_i``, ``snr``, ``snr_i``, ``lsd``, ``energy_ratio_db``,
    ``low_error_share`` (:func:`low_error_share`) and,
    when ``with_perceptual`` (they take ~0.1 s per 3 s clip), ``pesq`` and ``stoi``. The
    perceptual keys are absent, not ``nan``, when skipped, so ``nan`` always means "PESQ
    could not score this pair".
    """
    _as_pair(estimate, reference)
    _as_pair(noisy, reference)
    result = {
        "si_sdr": si_sdr(estimate, reference),
        "si_sdr_i": si_sdr_improvement(estimate, noisy, reference),
        "snr": snr(estimate, reference),
        "snr_i": snr_improvement(estimate, noisy, reference),
        "lsd": log_spectral_distance(estimate, reference, sample_rate),
        "energy_ratio_db": energy_ratio_db(estimate, reference, sample_rate),
        "low_error_share": low_error_share(estimate, reference, sample_rate),
    }
    if with_perceptual:
        result["pesq"] = pesq_wb(estimate, reference, sample_rate)
        result["stoi"] = stoi(estimate, reference, sample_rate)
    return result
