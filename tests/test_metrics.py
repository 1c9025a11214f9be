"""Metrics: values on constructed signals whose answer is known in closed form."""
import math

import numpy as np
import pytest
import scipy.signal

import metrics
from tone_signals import SR, tone_sequence
from tone_signals import add_white_noise as add_noise


@pytest.fixture(scope="module")
def white():
    return np.random.default_rng(42).standard_normal(2 * SR).astype(np.float32)


# --- SI-SDR and SNR ---------------------------------------------------------------------


def test_si_sdr_identical_is_very_high(white):
    assert metrics.si_sdr(white, white) > 60.0
    assert math.isfinite(metrics.si_sdr(white, white))


def test_si_sdr_is_scale_invariant(white):
    noisy = add_noise(white, 10.0, seed=1)
    assert metrics.si_sdr(0.2 * noisy, white) == pytest.approx(metrics.si_sdr(noisy, white), abs=1e-4)
    assert metrics.si_sdr(7.0 * white, white) > 60.0


def test_si_sdr_of_known_mixture_is_its_snr(white):
    noisy = add_noise(white, 10.0, seed=2)
    assert metrics.si_sdr(noisy, white) == pytest.approx(10.0, abs=0.2)


def test_si_sdr_counts_dc_offset_as_error(white):
    # documented choice: no mean removal, so an offset the restorer adds is penalised
    offset = white + 0.5 * np.std(white)
    assert metrics.si_sdr(offset, white) == pytest.approx(10 * np.log10(4.0), abs=0.2)


def test_si_sdr_improvement_signs(white):
    noisy = add_noise(white, 0.0, seed=3)
    better = add_noise(white, 10.0, seed=4)
    worse = add_noise(white, -5.0, seed=5)
    assert metrics.si_sdr_improvement(noisy, noisy, white) == 0.0
    assert metrics.si_sdr_improvement(better, noisy, white) == pytest.approx(10.0, abs=0.3)
    assert metrics.si_sdr_improvement(worse, noisy, white) == pytest.approx(-5.0, abs=0.3)


def test_snr_exact_on_constructed_case():
    ref = np.sin(2 * np.pi * 440 * np.arange(SR) / SR)
    assert metrics.snr(1.1 * ref, ref) == pytest.approx(20.0, abs=1e-9)  # error = 0.1 ref
    offset = ref + 0.05
    expected = 10 * np.log10(np.sum(ref**2) / (ref.size * 0.05**2))
    assert metrics.snr(offset, ref) == pytest.approx(expected, abs=1e-9)
    # not scale-invariant, unlike SI-SDR
    assert metrics.snr(0.5 * ref, ref) == pytest.approx(20 * np.log10(2.0), abs=1e-9)


def test_snr_improvement_signs(white):
    noisy = add_noise(white, 5.0, seed=6)
    assert metrics.snr_improvement(add_noise(white, 15.0, seed=7), noisy, white) > 9.0
    assert metrics.snr_improvement(add_noise(white, 0.0, seed=8), noisy, white) < -4.0
    assert metrics.snr_improvement(noisy, noisy, white) == 0.0


@pytest.mark.parametrize("measure", [metrics.si_sdr, metrics.snr])
def test_bad_shapes_and_silent_reference_raise(measure, white):
    with pytest.raises(ValueError, match="differ in length"):
        measure(white[:-1], white)
    with pytest.raises(ValueError, match="1-D"):
        measure(np.stack([white, white]), np.stack([white, white]))
    with pytest.raises(ValueError, match="silent"):
        measure(white, np.zeros_like(white))


# --- energy ratio and active band -------------------------------------------------------


def lowpassed_noise(cutoff_hz: float, seconds: float = 2.0, seed: int = 9) -> np.ndarray:
    sos = scipy.signal.butter(8, cutoff_hz, "lowpass", fs=SR, output="sos")
    noise = np.random.default_rng(seed).standard_normal(int(seconds * SR))
    return scipy.signal.sosfiltfilt(sos, noise).astype(np.float32)


def test_energy_ratio_levels():
    ref = lowpassed_noise(3000.0)
    assert metrics.energy_ratio_db(ref, ref, SR) == 0.0
    assert metrics.energy_ratio_db(0.316 * ref, ref, SR) == pytest.approx(-10.0, abs=0.05)
    assert metrics.energy_ratio_db(add_noise(ref, 0.0), ref, SR) > 0.5  # noise left in
    assert metrics.energy_ratio_db(np.zeros_like(ref), ref, SR) < -100.0


def test_energy_ratio_ignores_noise_outside_the_active_band():
    ref = lowpassed_noise(1000.0)
    sos = scipy.signal.butter(8, 8000.0, "highpass", fs=SR, output="sos")
    hiss = scipy.signal.sosfiltfilt(sos, np.random.default_rng(10).standard_normal(ref.size))
    hiss *= 3 * np.std(ref) / np.std(hiss)  # louder than the programme, but out of band
    assert metrics.energy_ratio_db(ref + hiss, ref, SR) == pytest.approx(0.0, abs=0.3)
    # an explicit band that covers the hiss sees it
    assert metrics.energy_ratio_db(ref + hiss, ref, SR, band=(0.0, SR / 2)) > 5.0


def test_active_band_of_lowpassed_and_bandpassed_signals():
    lo, hi = metrics.active_band(lowpassed_noise(1000.0), SR)
    assert lo < 50.0
    assert 700.0 < hi < 1200.0
    sos = scipy.signal.butter(8, (2000.0, 4000.0), "bandpass", fs=SR, output="sos")
    band = scipy.signal.sosfiltfilt(sos, np.random.default_rng(11).standard_normal(2 * SR))
    lo, hi = metrics.active_band(band, SR)
    assert 1700.0 < lo < 2100.0
    assert 3900.0 < hi < 4400.0
    # a smaller fraction gives a narrower band
    lo50, hi50 = metrics.active_band(band, SR, energy_fraction=0.5)
    assert lo < lo50 < hi50 < hi


def test_active_band_rejects_silence_and_bad_fraction():
    with pytest.raises(ValueError, match="silent"):
        metrics.active_band(np.zeros(SR), SR)
    with pytest.raises(ValueError, match="energy_fraction"):
        metrics.active_band(np.ones(SR), SR, energy_fraction=1.5)


# --- log-spectral distance ----------------------------------------------------------------


def test_lsd_zero_for_identical_and_grows_with_noise():
    ref = tone_sequence(2.0)
    assert metrics.log_spectral_distance(ref, ref, SR) == 0.0
    distances = [metrics.log_spectral_distance(add_noise(ref, snr, seed=12), ref, SR) for snr in (30.0, 10.0, 0.0)]
    assert 0.0 < distances[0] < distances[1] < distances[2]


def test_lsd_of_a_gain_change_is_the_gain_in_db(white):
    # every bin differs by exactly 20 log10(2) dB unless the floor clips it
    exact = metrics.log_spectral_distance(2.0 * white, white, SR, floor_db=-300.0)
    assert exact == pytest.approx(20 * np.log10(2.0), abs=1e-6)
    assert metrics.log_spectral_distance(2.0 * white, white, SR) == pytest.approx(exact, abs=0.01)


def test_lsd_floor_limits_differences_below_it(white):
    # -120 dB and -160 dB copies are both under the default -80 dB floor: same distance
    at_120 = metrics.log_spectral_distance(1e-6 * white, white, SR)
    at_160 = metrics.log_spectral_distance(1e-8 * white, white, SR)
    assert at_120 == pytest.approx(at_160, abs=1e-9)
    # without the floor the difference between them (40 dB) shows in full
    unfloored = [metrics.log_spectral_distance(g * white, white, SR, floor_db=-300.0) for g in (1e-6, 1e-8)]
    assert unfloored[1] - unfloored[0] == pytest.approx(40.0, abs=1e-6)


def test_lsd_handles_input_shorter_than_one_frame(white):
    assert metrics.log_spectral_distance(white[:500], white[:500], SR) == 0.0
    assert metrics.log_spectral_distance(0.5 * white[:500], white[:500], SR) > 0.0


# --- PESQ and STOI ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tones():
    return tone_sequence(3.0)


def test_pesq_clean_high_noisy_lower(tones):
    clean_score = metrics.pesq_wb(tones, tones, SR)
    noisy_score = metrics.pesq_wb(add_noise(tones, 10.0), tones, SR)
    assert clean_score > 4.0
    assert noisy_score < clean_score - 1.0


def test_pesq_returns_nan_when_it_cannot_score(tones):
    short = tones[: int(0.1 * SR)]
    assert math.isnan(metrics.pesq_wb(short, short, SR))
    assert math.isnan(metrics.pesq_wb(tones, np.zeros_like(tones), SR))


def test_pesq_no_utterances_gives_nan(tones, monkeypatch):
    import pesq

    def no_utterances(*args, **kwargs):
        raise pesq.NoUtterancesError("No utterances detected")

    monkeypatch.setattr(pesq, "pesq", no_utterances)
    assert math.isnan(metrics.pesq_wb(tones, tones, SR))


def test_pesq_scores_silent_estimate_at_the_floor(tones):
    # total suppression must count as the worst score, not drop out of averages as nan
    assert metrics.pesq_wb(np.zeros_like(tones), tones, SR) < 1.2


def test_stoi_clean_high_noisy_lower(tones):
    assert metrics.stoi(tones, tones, SR) > 0.99
    assert metrics.stoi(add_noise(tones, 0.0), tones, SR) < 0.95


def test_stoi_nan_when_too_short_or_silent(tones):
    short = tones[: int(0.2 * SR)]
    assert math.isnan(metrics.stoi(short, short, SR))
    assert math.isnan(metrics.stoi(tones, np.zeros_like(tones), SR))


# --- helpers ---------------------------------------------------------------------------------


def test_real_time_factor():
    assert metrics.real_time_factor(2.0, 8.0) == 0.25
    with pytest.raises(ValueError):
        metrics.real_time_factor(1.0, 0.0)


def test_low_error_share_finds_where_the_error_lies(white):
    t = np.arange(white.size) / SR
    hum, whine = (0.1 * np.sin(2 * np.pi * f * t) for f in (60.0, 3000.0))
    assert metrics.low_error_share(white + hum, white, SR) > 0.95
    assert metrics.low_error_share(white + whine, white, SR) < 0.05
    # equal power at both: half below the cutoff, and the cutoff moves it
    both = white + hum + whine
    assert metrics.low_error_share(both, white, SR) == pytest.approx(0.5, abs=0.05)
    assert metrics.low_error_share(both, white, SR, cutoff_hz=5000.0) > 0.95
    # SI-SDR's error: a gain alone is none, and taking out programme counts as error
    assert metrics.low_error_share(0.5 * white, white, SR) == 0.0
    low = scipy.signal.sosfiltfilt(scipy.signal.butter(8, 200.0, fs=SR, output="sos"), white)
    assert metrics.low_error_share(white - low, white, SR) > 0.9
    with pytest.raises(ValueError, match="silent reference"):
        metrics.low_error_share(white, np.zeros_like(white), SR)


def test_evaluate_pair_keys_and_consistency(tones):
    noisy = add_noise(tones, 5.0)
    fast = metrics.evaluate_pair(tones, noisy, tones, SR, with_perceptual=False)
    assert set(fast) == set(metrics.METRIC_NAMES) - set(metrics.PERCEPTUAL_METRICS)
    assert fast["si_sdr_i"] == pytest.approx(fast["si_sdr"] - metrics.si_sdr(noisy, tones))
    assert fast["lsd"] == 0.0 and fast["energy_ratio_db"] == 0.0 and fast["low_error_share"] == 0.0
    full = metrics.evaluate_pair(noisy, noisy, tones, SR)
    assert set(full) == set(metrics.METRIC_NAMES)
    assert full["si_sdr_i"] == 0.0 and full["snr_i"] == 0.0
    assert full["si_sdr"] == pytest.approx(5.0, abs=0.2)
    assert 1.0 <= full["pesq"] < 4.0 and 0.0 < full["stoi"] < 1.0
    with pytest.raises(ValueError, match="differ in length"):
        metrics.evaluate_pair(tones, noisy[:-5], tones, SR)
