"""Classical denoisers that the learned restorer is compared against.

Every baseline has the signature ``denoise(noisy, sample_rate) -> restored``: ``noisy`` is a
1-D float array, the result is float32 of the same length. :data:`BASELINES` maps the
names used in evaluation tables to these functions. :data:`ORACLES` holds two ideal masks
that are given the clean signal too: the ceilings of masking, not denoisers.

``python baselines.py`` prints each baseline's SI-SDR improvement and real-time factor on
a synthetic 10 s, 44.1 kHz tone sequence in white noise at 5 dB SNR, and those of
:func:`wiener_postfilter` told the noise's power, filtering a restoration that kept half the noise.
"""
from __future__ import annotations

import functools

import math
import time
import warnings
from typing import Callable

import numpy as np
import scipy.ndimage
import scipy.signal
import scipy.special


def _as_mono_float(noisy: np.ndarray) -> np.ndarray:
    noisy = np.asarray(noisy)
    if noisy.ndim != 1:
        raise ValueError(f"baselines take a 1-D (mono) signal, got shape {noisy.shape}")
    if not np.issubdtype(noisy.dtype, np.floating):
        raise ValueError(f"baselines take float samples, got dtype {noisy.dtype}")
    if not np.all(np.isfinite(noisy)):
        raise ValueError("the signal holds NaN or infinite samples")
    return noisy


def identity(noisy: np.ndarray, sample_rate: int) -> np.ndarray:
    """The input unchanged (as a float32 copy): the 'do nothing' row of a comparison."""
    return np.array(_as_mono_float(noisy), dtype=np.float32, copy=True)


def _noisereduce(noisy: np.ndarray, sample_rate: int, stationary: bool, noise_print: np.ndarray | None = None) -> np.ndarray:
    import noisereduce  # imported here: pulls in joblib and is only needed for these two rows

    noisy = _as_mono_float(noisy)
    y_noise = None if noise_print is None else _as_mono_float(noise_print).astype(np.float64)
    if y_noise is not None and y_noise.size == 0:
        raise ValueError("the noise print is empty")
    if noisy.size == 0:
        return np.zeros(0, dtype=np.float32)
    # noisereduce 3.0 is deterministic (no random draws); n_jobs=1 keeps the chunks in this
    # process and in order, and float64 input keeps the arithmetic independent of the caller's dtype.
    with warnings.catch_warnings():
        # clips shorter than noisereduce's 1024-sample FFT make scipy shrink the frame and warn;
        # the gate still runs (on one frame of statistics), which is all such a clip allows
        warnings.filterwarnings("ignore", message="nperseg = .* is greater than input length", category=UserWarning)
        out = noisereduce.reduce_noise(
            y=noisy.astype(np.float64), sr=sample_rate, y_noise=y_noise, stationary=stationary, n_jobs=1, use_tqdm=False
        )
    return np.asarray(out, dtype=np.float32).reshape(-1)[: noisy.size]


def noisereduce_stationary(noisy: np.ndarray, sample_rate: int, noise_print: np.ndarray | None = None) -> np.ndarray:
    """Stationary spectral gating (``noisereduce``, Sainburg et al.) with package defaults.

    The noise threshold per frequency is mean + 1.5 std of the dB spectrogram of the first
    600 000 samples (13.6 s at 44.1 kHz) of the input itself; bins below it are gated.
    With ``noise_print`` (noise alone, at the input's rate) the threshold comes from the
    print instead (noisereduce's ``y_noise``).
    """
    return _noisereduce(noisy, sample_rate, stationary=True, noise_print=noise_print)


def noisereduce_nonstationary(noisy: np.ndarray, sample_rate: int) -> np.ndarray:
    """Non-stationary spectral gating (``noisereduce``) with package defaults.

    The noise floor per bin is a 2 s time-smoothed magnitude; bins less than twice above it
    are attenuated through a sigmoid mask.
    """
    return _noisereduce(noisy, sample_rate, stationary=False)


def _frame_length(sample_rate: int) -> int:
    # ~40 ms frames (the power of two nearest): 2048 at 44.1/48 kHz, 512 at 16 kHz, 256 at 8 kHz
    return 2 ** int(round(math.log2(0.04 * sample_rate)))


def _noise_psd_from_quietest_frames(power: np.ndarray, n_fft: int, hop: int, num_samples: int, percentile: float) -> np.ndarray:
    """Per-bin mean power over the frames whose total energy is in the lowest ``percentile``."""
    frames = power.shape[1]
    centres = np.arange(frames) * hop
    # frames that hang over either end hold zero padding and would look falsely quiet
    inside = np.flatnonzero((centres >= n_fft // 2) & (centres + n_fft // 2 <= num_samples))
    candidates = inside if inside.size else np.arange(frames)
    count = max(int(math.ceil(candidates.size * percentile / 100.0)), min(5, candidates.size))
    frame_energy = power[:, candidates].sum(axis=0)
    quietest = candidates[np.argsort(frame_energy, kind="stable")[:count]]
    noise_psd = power[:, quietest].mean(axis=1)
    # digital silence in the quiet frames would give a zero PSD and divide by zero below
    return np.maximum(noise_psd, 1e-12 * float(power.mean()) + np.finfo(np.float64).tiny)


def _stft_args(sample_rate: int) -> tuple[int, dict]:
    n_fft = _frame_length(sample_rate)
    return n_fft, dict(fs=sample_rate, window="hann", nperseg=n_fft, noverlap=n_fft // 2)


def print_psd(noise_print: np.ndarray, sample_rate: int) -> np.ndarray:
    """The noise power spectrum :func:`ephraim_malah_lsa` takes from a noise print: the per-bin
    mean power of its frames that hold no padding, in the estimator's STFT at ``sample_rate``.
    Computed once, it can be given to many calls (``noise_psd``)."""
    noise_print = _as_mono_float(noise_print)
    n_fft, stft_args = _stft_args(sample_rate)
    if noise_print.size < n_fft:
        raise ValueError(f"the noise print is {noise_print.size} samples; at least one frame ({n_fft}) is needed")
    _, _, spec = scipy.signal.stft(noise_print.astype(np.float64), boundary=None, padded=False, **stft_args)
    return (spec.real**2 + spec.imag**2).mean(axis=1)


def ephraim_malah_lsa(
    noisy: np.ndarray,
    sample_rate: int,
    alpha: float = 0.98,
    gain_floor_db: float = -25.0,
    xi_min_db: float = -25.0,
    noise_percentile: float = 10.0,
    noise_print: np.ndarray | None = None,
    noise_psd: np.ndarray | None = None,
) -> np.ndarray:
    """Ephraim-Malah log-spectral-amplitude estimator (IEEE TASSP 1985) with decision-directed SNR.

    STFT: periodic Hann, ~40 ms frames (2048 samples at 44.1 kHz), half overlap, via
    ``scipy.signal.stft``/``istft``, which reconstructs exactly when the gain is 1.

    Noise PSD: the input is assumed to have pauses. The frames (wholly inside the signal)
    whose total energy lies in the lowest ``noise_percentile`` % (at least 5) are taken
    as noise only, and their power is averaged per bin. For stationary noise this is
    nearly unbiased; a programme without pauses (dense music) makes it overestimate the
    noise where the music sits, so the estimator then over-suppresses. With ``noise_print``
    (noise alone, at the input's rate) the PSD is the print's (:func:`print_psd`); with
    ``noise_psd``, that spectrum computed beforehand (it takes precedence over the print).

    Per frame t and bin k, with ``gamma = |Y|^2 / noise_psd`` (a-posteriori SNR):
    ``xi_t = alpha * G_{t-1}^2 gamma_{t-1} + (1 - alpha) * max(gamma_t - 1, 0)`` floored at
    ``xi_min_db`` (first frame: ``max(gamma - 1, 0)``), ``v = xi gamma / (1 + xi)`` and
    ``G = xi / (1 + xi) * exp(E1(v) / 2)`` with the exponential integral ``E1`` from
    ``scipy.special.exp1``, clipped to ``[gain_floor_db, 0 dB]``.
    """
    noisy = _as_mono_float(noisy)
    if noisy.size == 0:
        return np.zeros(0, dtype=np.float32)
    n_fft, stft_args = _stft_args(sample_rate)
    hop = n_fft // 2
    # a clip shorter than one frame is padded so that scipy keeps the frame length
    x = np.pad(noisy.astype(np.float64), (0, max(0, n_fft - noisy.size)))
    _, _, spec = scipy.signal.stft(x, boundary="zeros", padded=True, **stft_args)
    power = spec.real**2 + spec.imag**2  # [bins, frames]
    if not power.any():
        return np.zeros(noisy.size, dtype=np.float32)

    if noise_psd is None and noise_print is not None:
        noise_psd = print_psd(noise_print, sample_rate)
    if noise_psd is None:
        noise_psd = _noise_psd_from_quietest_frames(power, n_fft, hop, x.size, noise_percentile)
    else:
        noise_psd = np.asarray(noise_psd, dtype=np.float64)
        if noise_psd.shape != (n_fft // 2 + 1,):
            raise ValueError(f"noise_psd: expected {n_fft // 2 + 1} bins, got shape {noise_psd.shape}")
        noise_psd = np.maximum(noise_psd, 1e-12 * float(power.mean()) + np.finfo(np.float64).tiny)
    gamma = power / noise_psd[:, None]
    xi_min = 10.0 ** (xi_min_db / 10.0)
    gain_min = 10.0 ** (gain_floor_db / 20.0)
    gains = np.empty_like(gamma)
    previous_clean_snr = None  # |A_{t-1}|^2 / noise_psd
    for t in range(gamma.shape[1]):
        gamma_t = gamma[:, t]
        ml_snr = np.maximum(gamma_t - 1.0, 0.0)
        if previous_clean_snr is None:
            xi = ml_snr
        else:
            xi = alpha * previous_clean_snr + (1.0 - alpha) * ml_snr
        xi = np.maximum(xi, xi_min)
        # v -> 0 sends E1 and the gain to infinity; at v = 1e-10 the gain already clips to 1 for xi > -48 dB
        v = np.maximum(xi * gamma_t / (1.0 + xi), 1e-10)
        gain = xi / (1.0 + xi) * np.exp(0.5 * scipy.special.exp1(v))
        gain = np.clip(gain, gain_min, 1.0)
        gains[:, t] = gain
        previous_clean_snr = gain**2 * gamma_t

    _, restored = scipy.signal.istft(spec * gains, boundary=True, **stft_args)
    return restored[: noisy.size].astype(np.float32)


# The post-filter's defaults (docs/EXPERIMENTS.md, "2026-11-27: a Wiener post-filter told the
# print"): the model's restoration averaged over 3 frames (at hop 1024) as the programme's
# power, the print's power over-weighted 1.5 times, since the restoration keeps some noise; the
# gain applied to the noisy input alone (an input share of 1: half the input and half the
# restoration lost 0.1 dB through the command's checks with a given print; docs/EXPERIMENTS.md,
# "2026-11-27: the post-filter on auto's print"). Its STFT has twice the model's window and hop
# (4096 / 1024 at 44.1 kHz): the finer bins separate the noise from the programme's partials
# better: +0.06 to +0.43 dB over the model's own 2048 / 512 through the command on five sets
# ("2026-11-27: the post-filter's resolution")
POSTFILTER_RESOLUTION = 2
POSTFILTER_FRAMES = 3
POSTFILTER_OVER = 1.5
POSTFILTER_INPUT_SHARE = 1.0


def wiener_postfilter(noisy: np.ndarray, estimate: np.ndarray, noise_power: np.ndarray, n_fft: int = 4096,
                      hop: int = 1024, over: float = POSTFILTER_OVER, frames: int = POSTFILTER_FRAMES,
                      input_share: float = POSTFILTER_INPUT_SHARE, bins: int | None = None) -> np.ndarray:  # fmt: skip
    """A Wiener filter of ``noisy`` whose programme power is a restoration's and whose noise
    power is a print's: per bin ``k`` and frame ``t``, ``G = P / (P + over * N_k)`` with ``P``
    the power of ``estimate`` (a restoration of ``noisy``, the same length) averaged over
    ``frames`` neighbouring frames, applied to ``input_share`` of the noisy STFT and the rest of
    the estimate's (periodic Hamming ``n_fft`` / ``hop``; ``input_share=1``: the noisy input
    alone). ``noise_power`` is ``[n_fft // 2 + 1]`` in the units of
    ``noise_print.noise_power`` (mean ``|rfft(frame * window)|^2``).

    A restorer that knows the programme but not this noise leaves noise where its estimate
    holds no programme; the print says how much noise lies in each bin, and the gain takes
    it out there while it keeps the noisy input where the estimate holds programme (with
    ``input_share < 1``, partly the estimate, which took noise out inside those bins too).
    With ``bins``, only the lowest ``bins`` bins are filtered and the estimate is kept above them
    (:func:`low_band_wiener`)."""
    noisy, estimate = _as_mono_float(noisy), _as_mono_float(estimate)
    if noisy.shape != estimate.shape:
        raise ValueError(f"noisy and estimate differ in length: {noisy.size} and {estimate.size}")
    noise_power = np.asarray(noise_power, dtype=np.float64)
    if noise_power.shape != (n_fft // 2 + 1,):
        raise ValueError(f"noise_power: expected {n_fft // 2 + 1} bins, got shape {noise_power.shape}")
    if over <= 0 or frames < 1:
        raise ValueError(f"wiener_postfilter: over must be positive and frames at least 1, got {over} and {frames}")
    if not 0.0 <= input_share <= 1.0:
        raise ValueError(f"wiener_postfilter: input_share must lie in [0, 1], got {input_share}")
    if bins is not None and not 0 <= bins <= n_fft // 2 + 1:
        raise ValueError(f"wiener_postfilter: bins must lie in [0, {n_fft // 2 + 1}], got {bins}")
    if noisy.size == 0:
        return np.zeros(0, dtype=np.float32)
    pad = (0, max(0, n_fft - noisy.size))
    stft_args = dict(window="hamming", nperseg=n_fft, noverlap=n_fft - hop, boundary="zeros")
    window = scipy.signal.get_window("hamming", n_fft)
    spec_x = scipy.signal.stft(np.pad(noisy.astype(np.float64), pad), padded=True, **stft_args)[2]
    spec_s = scipy.signal.stft(np.pad(estimate.astype(np.float64), pad), padded=True, **stft_args)[2]
    power = spec_s.real**2 + spec_s.imag**2  # [bins, frames]
    if frames > 1:
        power = scipy.ndimage.uniform_filter1d(power, frames, axis=1, mode="nearest")
    # scipy's STFT divides by the window's sum; the print's power is of the plain rfft
    noise = over * noise_power[:, None] / window.sum() ** 2
    gain = power / np.maximum(power + noise, np.finfo(np.float64).tiny)
    filtered = (input_share * spec_x + (1.0 - input_share) * spec_s) * gain
    if bins is not None:  # the estimate above them, exactly: the window's overlap-add is constant
        filtered[bins:] = spec_s[bins:]
    _, restored = scipy.signal.istft(filtered, **stft_args)
    return restored[: noisy.size].astype(np.float32)


# The low band's Wiener filter (docs/EXPERIMENTS.md, "2026-11-28: the error below 300 Hz"): below
# LOW_BAND_HZ the noise of hum, drones and rumble lies under the programme's bass, and bins of
# 2.7 Hz (LOW_BAND_RESOLUTION times the model's window, at 44.1 kHz 16384 samples, hop a quarter)
# separate it from the programme's partials where the model's 21.5 Hz bins cannot
LOW_BAND_HZ = 150.0
LOW_BAND_RESOLUTION = 8


def low_band_wiener(noisy: np.ndarray, estimate: np.ndarray, noise_power: np.ndarray, sample_rate: int,
                    n_fft: int, cutoff_hz: float = LOW_BAND_HZ) -> np.ndarray:  # fmt: skip
    """``estimate`` (a restoration of ``noisy``) with its band below ``cutoff_hz`` replaced by a
    Wiener filter of ``noisy`` told the restoration's power and a print's (``noise_power``,
    ``[n_fft // 2 + 1]`` in :func:`wiener_postfilter`'s units) in a long window ``n_fft``, hop a
    quarter of it, each frame's own power, the print's not over-weighted."""
    bins = int(np.ceil(float(cutoff_hz) * n_fft / int(sample_rate)))
    return wiener_postfilter(noisy, estimate, noise_power, n_fft, n_fft // 4, over=1.0, frames=1, input_share=1.0, bins=bins)


BASELINES: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "input": identity,
    "noisereduce_stationary": noisereduce_stationary,
    "noisereduce_nonstationary": noisereduce_nonstationary,
    "lsa": ephraim_malah_lsa,
}


def oracle_mask(noisy: np.ndarray, clean: np.ndarray, sample_rate: int, kind: str = "wiener",
                n_fft: int = 2048, hop: int = 512, noise_print: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """The noisy input under an ideal time-frequency mask computed from the true clean signal.

    Not a denoiser (it needs the answer) but a ceiling: how far masking the model's own
    spectrogram (Hamming ``n_fft`` / ``hop``, at any rate, as in ``conf/model``) could go with a
    perfect estimate of the mask. With ``S`` the clean, ``N = X - S`` the noise and ``X`` the
    noisy STFT: ``wiener`` is ``|S|^2 / (|S|^2 + |N|^2)`` (the ideal Wiener filter, or ideal
    ratio mask on power), ``psm`` is ``Re(S X*) / |X|^2`` clipped to ``[0, 1]`` (the
    phase-sensitive mask, the best real gain in [0, 1] per bin). ``wiener_print`` is
    ``|S|^2 / (|S|^2 + P)`` with ``P`` the mean power per bin of ``noise_print`` (noise alone, at
    the input's rate and level) in the same STFT: the best a Wiener gain told the print could do
    with a perfect estimate of the programme, blind to how the noise varies from frame to frame.
    A complex-valued estimate, like the model's, is not bound by any of them.
    """
    noisy, clean = _as_mono_float(noisy), _as_mono_float(clean)
    if noisy.shape != clean.shape:
        raise ValueError(f"noisy and clean differ in length: {noisy.size} and {clean.size}")
    if noisy.size == 0:
        return np.zeros(0, dtype=np.float32)
    pad = (0, max(0, n_fft - noisy.size))
    stft_args = dict(fs=sample_rate, window="hamming", nperseg=n_fft, noverlap=n_fft - hop, boundary="zeros", padded=True)
    x = np.pad(noisy.astype(np.float64), pad)
    s = np.pad(clean.astype(np.float64), pad)
    spec_x = scipy.signal.stft(x, **stft_args)[2]
    spec_s = scipy.signal.stft(s, **stft_args)[2]
    power_x = np.abs(spec_x) ** 2
    tiny = np.finfo(np.float64).tiny
    if kind == "wiener":
        power_s = np.abs(spec_s) ** 2
        mask = power_s / np.maximum(power_s + np.abs(spec_x - spec_s) ** 2, tiny)
    elif kind == "wiener_print":
        if noise_print is None:
            raise ValueError("oracle mask kind wiener_print: needs noise_print")
        heard = _as_mono_float(noise_print).astype(np.float64)
        if heard.size < n_fft:
            raise ValueError(f"the noise print is {heard.size} samples; at least one frame ({n_fft}) is needed")
        spec_n = scipy.signal.stft(heard, **{**stft_args, "boundary": None, "padded": False})[2]
        power_s = np.abs(spec_s) ** 2
        power_n = np.mean(np.abs(spec_n) ** 2, axis=1, keepdims=True)
        mask = power_s / np.maximum(power_s + power_n, tiny)
    elif kind == "psm":
        mask = np.clip(np.real(spec_s * np.conj(spec_x)) / np.maximum(power_x, tiny), 0.0, 1.0)
    else:
        raise ValueError(f"oracle mask kind: expected wiener, psm or wiener_print, got {kind!r}")
    _, restored = scipy.signal.istft(spec_x * mask, **{k: v for k, v in stft_args.items() if k != "padded"})
    return restored[: noisy.size].astype(np.float32)


def oracle_systems(n_fft: int = 2048, hop: int = 512) -> dict[str, Callable[..., np.ndarray]]:
    """The ideal masks of a model's STFT (its ``n_fft`` and ``hop``) as evaluation systems,
    ``oracle(noisy, clean, sample_rate)``, and those of :data:`TOLD_ORACLES` as ``oracle(noisy,
    clean, noise_print, sample_rate)``: ceilings, not competitors (they take the clean signal)."""
    systems: dict[str, Callable[..., np.ndarray]] = {
        f"oracle_{kind}": functools.partial(oracle_mask, kind=kind, n_fft=n_fft, hop=hop) for kind in ("wiener", "psm")
    }

    def told(noisy: np.ndarray, clean: np.ndarray, noise_print: np.ndarray, sample_rate: int) -> np.ndarray:
        return oracle_mask(noisy, clean, sample_rate, "wiener_print", n_fft, hop, noise_print)

    systems["oracle_wiener_print"] = told
    return systems


# The oracles that are also told the item's noise print (evaluate.print_seconds)
TOLD_ORACLES = ("oracle_wiener_print",)
# Those of the shipped models' STFT (Hamming 2048, hop 512)
ORACLES = oracle_systems()


def tone_sequence(seconds: float, sample_rate: int) -> np.ndarray:
    """Harmonic notes (0.25 s, 8 partials, sin^2 envelope) with pauses, peak 0.3: the
    benchmark's programme, and the reference programme of ``noise_print.classical_check``."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    x = np.zeros_like(t)
    pitches = (220.0, 262.0, 330.0, 196.0, 247.0, 294.0, 392.0, 175.0)
    start, index, note = 0.0, 0, 0.25
    while start + note < seconds:
        mask = (t >= start) & (t < start + note)
        local = t[mask] - start
        partials = sum(0.6**k * np.sin(2 * np.pi * pitches[index % 8] * (k + 1) * local) for k in range(8))
        x[mask] += np.sin(np.pi * local / note) ** 2 * partials
        index += 1
        start += note + 0.1 + (0.25 if index % 4 == 0 else 0.0)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def _benchmark(seconds: float = 10.0, sample_rate: int = 44100, snr_db: float = 5.0) -> None:
    from metrics import energy_ratio_db, real_time_factor, si_sdr_improvement

    clean = tone_sequence(seconds, sample_rate)
    noise = np.random.default_rng(0).standard_normal(clean.size)
    noise *= np.sqrt(np.sum(clean.astype(np.float64) ** 2) / np.sum(noise**2) / 10 ** (snr_db / 10))
    noisy = (clean + noise).astype(np.float32)
    print(f"{seconds:g} s tone sequence + white noise at {snr_db:g} dB SNR, {sample_rate} Hz")
    print(f"{'baseline':<28}{'SI-SDR-i dB':>12}{'energy dB':>11}{'RTF':>8}")
    for name, denoise in BASELINES.items():
        denoise(noisy[:sample_rate], sample_rate)  # warm-up: imports and caches
        started = time.perf_counter()
        restored = denoise(noisy, sample_rate)
        elapsed = time.perf_counter() - started
        print(
            f"{name:<28}{si_sdr_improvement(restored, noisy, clean):>12.2f}"
            f"{energy_ratio_db(restored, clean, sample_rate):>11.2f}"
            f"{real_time_factor(elapsed, seconds):>8.4f}"
        )
    # the post-filter and the low band's filter (in its long window) told the noise's own power
    # (noise_print.noise_power's units: the mean power of the plain rfft of Hamming-windowed
    # frames; computed here, since noise_print imports this module), on a restoration that kept
    # half the noise (white: little of it lies in the low band)
    leaky = (clean + 0.5 * noise).astype(np.float32)
    post = 2048 * POSTFILTER_RESOLUTION, 512 * POSTFILTER_RESOLUTION  # the restorer's, at 44.1 kHz
    low = 2048 * LOW_BAND_RESOLUTION, 512 * LOW_BAND_RESOLUTION
    filters = (
        ("wiener_postfilter (of half)", post, lambda x, p: wiener_postfilter(x, leaky[: x.size], p, *post)),
        ("low_band_wiener (of half)", low, lambda x, p: low_band_wiener(x, leaky[: x.size], p, sample_rate, low[0])),
    )
    for name, (n_fft, hop), run in filters:
        frames = np.lib.stride_tricks.sliding_window_view(noise, n_fft)[::hop]
        power = np.mean(np.abs(np.fft.rfft(frames * scipy.signal.get_window("hamming", n_fft), axis=-1)) ** 2, axis=0)
        run(noisy[:sample_rate], power)  # warm-up
        started = time.perf_counter()
        restored = run(noisy, power)
        elapsed = time.perf_counter() - started
        print(f"{name:<28}{si_sdr_improvement(restored, noisy, clean):>12.2f}"
              f"{energy_ratio_db(restored, clean, sample_rate):>11.2f}{real_time_factor(elapsed, seconds):>8.4f}")


if __name__ == "__main__":
    _benchmark()
