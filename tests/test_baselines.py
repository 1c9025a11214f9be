"""Classical baselines: signature contract, real noise reduction, and no harm to clean input."""
import numpy as np
import pytest

import baselines
import metrics
from tone_signals import SR, add_white_noise
from tone_signals import tone_sequence as _tones

PITCHES = (220.0, 262.0, 330.0, 196.0, 247.0, 294.0, 392.0, 175.0)

# Measured on the 3 s sequence of these eight notes, 5 dB white noise, seeds 0-2, when these thresholds were set:
# noisereduce_stationary 4.8-5.1 dB, noisereduce_nonstationary 5.8-5.9 dB, lsa 14.3 dB.
MIN_SI_SDR_IMPROVEMENT_DB = {
    "noisereduce_stationary": 4.0,
    "noisereduce_nonstationary": 5.0,
    "lsa": 12.0,
}


@pytest.fixture(scope="module")
def clean():
    return _tones(pitches=PITCHES)


@pytest.fixture(scope="module")
def noisy(clean):
    return add_white_noise(clean, 5.0)


def test_registry_names():
    assert set(baselines.BASELINES) == {"input", "noisereduce_stationary", "noisereduce_nonstationary", "lsa"}
    assert baselines.BASELINES["lsa"] is baselines.ephraim_malah_lsa


@pytest.mark.parametrize("name", sorted(baselines.BASELINES))
@pytest.mark.parametrize("num_samples", [3 * SR + 17, 1000])
def test_output_length_dtype_finite(name, num_samples):
    # odd lengths and a clip shorter than one STFT frame must both come back sample-exact
    x = np.random.default_rng(1).standard_normal(num_samples) * 0.1  # float64 on purpose
    out = baselines.BASELINES[name](x, SR)
    assert out.shape == (num_samples,)
    assert out.dtype == np.float32
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize("name", sorted(MIN_SI_SDR_IMPROVEMENT_DB))
def test_baseline_improves_si_sdr_on_tones_in_white_noise(name, clean, noisy):
    restored = baselines.BASELINES[name](noisy, SR)
    assert metrics.si_sdr_improvement(restored, noisy, clean) > MIN_SI_SDR_IMPROVEMENT_DB[name]


def test_input_baseline_is_identity(clean, noisy):
    restored = baselines.BASELINES["input"](noisy, SR)
    assert metrics.si_sdr_improvement(restored, noisy, clean) == 0.0
    assert np.array_equal(restored, noisy)
    assert restored is not noisy  # a copy: callers may modify it in place


def test_lsa_keeps_programme_level(clean, noisy):
    # LSA should remove hiss without eating the notes (noisereduce's defaults do: ~-8 dB)
    restored = baselines.ephraim_malah_lsa(noisy, SR)
    assert abs(metrics.energy_ratio_db(restored, clean, SR)) < 1.0


def test_lsa_leaves_clean_input_nearly_untouched(clean):
    assert metrics.si_sdr(baselines.ephraim_malah_lsa(clean, SR), clean) > 20.0


def test_lsa_with_unit_gain_reconstructs_exactly(noisy):
    # gain floor at 0 dB pins every gain to 1: what is left is the STFT round trip
    out = baselines.ephraim_malah_lsa(noisy, SR, gain_floor_db=0.0)
    np.testing.assert_allclose(out, noisy, atol=1e-6)


def test_lsa_works_at_16_khz():
    clean16 = _tones(2.0, 16000, PITCHES)
    noisy16 = add_white_noise(clean16, 5.0, seed=3)
    restored = baselines.ephraim_malah_lsa(noisy16, 16000)
    assert restored.shape == noisy16.shape
    assert metrics.si_sdr_improvement(restored, noisy16, clean16) > 8.0


def test_lsa_gain_floor_limits_suppression():
    # pure noise: everything is noise, so the output sits near the -25 dB floor, not silence
    noise = np.random.default_rng(4).standard_normal(2 * SR).astype(np.float32)
    out = baselines.ephraim_malah_lsa(noise, SR, gain_floor_db=-25.0)
    level_db = 10 * np.log10(np.sum(out.astype(np.float64) ** 2) / np.sum(noise.astype(np.float64) ** 2))
    assert -27.0 < level_db < -15.0


@pytest.mark.parametrize("name", ["noisereduce_stationary", "noisereduce_nonstationary", "lsa"])
def test_baselines_are_deterministic(name, noisy):
    first = baselines.BASELINES[name](noisy, SR)
    second = baselines.BASELINES[name](noisy.copy(), SR)
    assert np.array_equal(first, second)


@pytest.mark.parametrize("name", sorted(baselines.BASELINES))
def test_bad_input_raises(name):
    with pytest.raises(ValueError, match="1-D"):
        baselines.BASELINES[name](np.zeros((2, 1000), dtype=np.float32), SR)
    bad = np.zeros(1000, dtype=np.float32)
    bad[10] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        baselines.BASELINES[name](bad, SR)


def test_silent_input_gives_silence():
    assert not np.any(baselines.ephraim_malah_lsa(np.zeros(SR, dtype=np.float32), SR))


@pytest.mark.parametrize("name", sorted(set(baselines.ORACLES) - set(baselines.TOLD_ORACLES)))
def test_oracle_masks_are_ceilings_above_lsa(name, clean, noisy):
    # knowing the clean signal, an ideal mask must do better than any blind estimate of it
    restored = baselines.ORACLES[name](noisy, clean, SR)
    assert restored.shape == noisy.shape and restored.dtype == np.float32
    gain = metrics.si_sdr_improvement(restored, noisy, clean)
    assert gain > metrics.si_sdr_improvement(baselines.ephraim_malah_lsa(noisy, SR), noisy, clean) + 1.0
    # with no noise the mask is one everywhere and the STFT round trip is exact
    np.testing.assert_allclose(baselines.ORACLES[name](clean, clean, SR), clean, atol=1e-6)
    # noise alone: nothing of the clean signal to keep
    assert np.max(np.abs(baselines.ORACLES[name](noisy - clean, np.zeros_like(clean), SR))) < 1e-6


def test_phase_sensitive_mask_is_at_least_as_good_as_wiener(clean, noisy):
    # the PSM minimises each bin's squared error over real gains in [0, 1]; the Wiener gain is
    # one such gain, so on a signal like this one the PSM does at least as well
    psm, wiener = (metrics.si_sdr_improvement(baselines.ORACLES[n](noisy, clean, SR), noisy, clean)
                   for n in ("oracle_psm", "oracle_wiener"))  # fmt: skip
    assert psm >= wiener


def test_oracle_mask_refuses_mismatched_signals_and_unknown_kind(clean, noisy):
    with pytest.raises(ValueError, match="differ in length"):
        baselines.oracle_mask(noisy, clean[:-1], SR)
    with pytest.raises(ValueError, match="expected wiener, psm or wiener_print"):
        baselines.oracle_mask(noisy, clean, SR, kind="ibm")
    with pytest.raises(ValueError, match="needs noise_print"):
        baselines.oracle_mask(noisy, clean, SR, kind="wiener_print")
    with pytest.raises(ValueError, match="at least one frame"):
        baselines.oracle_mask(noisy, clean, SR, kind="wiener_print", noise_print=noisy[:100])
    assert baselines.oracle_mask(noisy[:0], clean[:0], SR).shape == (0,)


# ------------------------------------------------------------------------------------- noise prints


def _dense_chord_in_noise(seconds: float = 3.0, snr_db: float = 5.0, seed: int = 0):
    """A chord held through the whole clip (no pauses) in white noise, and a separate noise print."""
    t = np.arange(int(seconds * SR)) / SR
    clean = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.0, 330.0, 440.0)).astype(np.float32) * 0.05
    rng = np.random.default_rng(seed)
    scale = np.sqrt(np.mean(clean.astype(np.float64) ** 2) / 10 ** (snr_db / 10))
    noisy = (clean + rng.standard_normal(clean.size) * scale).astype(np.float32)
    noise_print = (rng.standard_normal(2 * SR) * scale).astype(np.float32)  # the same noise, another stretch
    return clean, noisy, noise_print


@pytest.mark.parametrize("name", ["lsa", "noisereduce_stationary"])
def test_a_noise_print_helps_where_the_programme_has_no_pauses(name):
    # without pauses the quietest frames (or the input's own statistics) hold the chord, so the
    # noise is overestimated where the chord sits; the print gives the noise alone
    clean, noisy, noise_print = _dense_chord_in_noise()
    fn = baselines.BASELINES[name]
    without = metrics.si_sdr_improvement(fn(noisy, SR), noisy, clean)
    with_print = metrics.si_sdr_improvement(fn(noisy, SR, noise_print=noise_print), noisy, clean)
    assert with_print > without + 1.0, (with_print, without)


def test_lsa_with_a_print_of_other_noise_than_the_input_changes_the_result():
    clean, noisy, noise_print = _dense_chord_in_noise()
    a = baselines.ephraim_malah_lsa(noisy, SR, noise_print=noise_print)
    b = baselines.ephraim_malah_lsa(noisy, SR, noise_print=noise_print * 10)  # a print 20 dB too loud
    assert metrics.si_sdr(b, clean) < metrics.si_sdr(a, clean)
    assert np.sqrt(np.mean(b**2)) < np.sqrt(np.mean(a**2))  # more suppression


@pytest.mark.parametrize("bad,match", [(np.zeros(100, dtype=np.float32), "at least one frame"),
                                       (np.full(SR, np.nan, dtype=np.float32), "NaN"),
                                       (np.zeros((2, SR), dtype=np.float32), "1-D")])  # fmt: skip
def test_lsa_rejects_an_unusable_print(bad, match):
    _, noisy, _ = _dense_chord_in_noise(seconds=1.0)
    with pytest.raises(ValueError, match=match):
        baselines.ephraim_malah_lsa(noisy, SR, noise_print=bad)


def test_print_told_oracle_sits_between_lsa_told_the_print_and_the_ideal_wiener_mask(clean, noisy):
    # the same noise's print: the told oracle knows the programme but only the noise's mean power,
    # so it beats LSA told that print and loses to the mask that knows each bin's noise
    rng = np.random.default_rng(5)
    level = np.std(noisy - clean)
    heard = (level * rng.standard_normal(2 * SR)).astype(np.float32)
    told = baselines.ORACLES["oracle_wiener_print"]
    restored = told(noisy, clean, heard, SR)
    assert restored.shape == noisy.shape and restored.dtype == np.float32
    gain = metrics.si_sdr_improvement(restored, noisy, clean)
    lsa = metrics.si_sdr_improvement(baselines.ephraim_malah_lsa(noisy, SR, noise_print=heard), noisy, clean)
    ideal = metrics.si_sdr_improvement(baselines.ORACLES["oracle_wiener"](noisy, clean, SR), noisy, clean)
    assert lsa + 1.0 < gain < ideal
    # a louder print asks the mask to take out more, of the programme too
    assert metrics.si_sdr_improvement(told(noisy, clean, 10 * heard, SR), noisy, clean) < gain - 1.0
    # no programme: nothing kept, whatever the print
    assert np.max(np.abs(told(noisy - clean, np.zeros_like(clean), heard, SR))) < 1e-6


def test_oracle_systems_use_the_evaluated_models_stft(clean, noisy):
    """evaluate.py builds the ceilings from the model's n_fft and hop, not from fixed numbers."""
    shorter = baselines.oracle_systems(1024, 256)
    assert sorted(shorter) == sorted(baselines.ORACLES)
    np.testing.assert_allclose(shorter["oracle_wiener"](clean, clean, SR), clean, atol=1e-6)
    assert not np.allclose(shorter["oracle_psm"](noisy, clean, SR), baselines.ORACLES["oracle_psm"](noisy, clean, SR), atol=1e-4)


def test_lsa_takes_the_print_or_its_spectrum_computed_once():
    sr = 16000
    rng = np.random.default_rng(4)
    t = np.arange(2 * sr) / sr
    noisy = (0.3 * np.sin(2 * np.pi * 440 * t) * (t > 0.5) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
    heard = (0.05 * rng.standard_normal(sr)).astype(np.float32)
    psd = baselines.print_psd(heard, sr)
    assert psd.shape == (baselines._frame_length(sr) // 2 + 1,)
    by_print = baselines.ephraim_malah_lsa(noisy, sr, noise_print=heard)
    np.testing.assert_array_equal(baselines.ephraim_malah_lsa(noisy, sr, noise_psd=psd), by_print)
    assert np.abs(by_print - baselines.ephraim_malah_lsa(noisy, sr)).max() > 1e-4  # the print changes the estimate
    with pytest.raises(ValueError, match="expected 257 bins"):
        baselines.ephraim_malah_lsa(noisy, sr, noise_psd=psd[:10])
    with pytest.raises(ValueError, match="at least one frame"):
        baselines.print_psd(heard[:100], sr)


def _noisy_and_print(clean: np.ndarray, snr_db: float = 5.0, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    noisy = add_white_noise(clean, snr_db, seed)
    noise = (noisy - clean).astype(np.float32)
    print_audio = (noise.std() * np.random.default_rng(seed + 100).standard_normal(2 * SR)).astype(np.float32)
    return noisy, print_audio


def test_wiener_postfilter_takes_the_print_out_where_the_estimate_holds_no_programme(clean):
    import noise_print

    noisy, heard = _noisy_and_print(clean)
    power = noise_print.noise_power(heard, 4096, 1024)  # the post-filter's own resolution
    # a restoration that kept half the noise: the post-filter, told the print, takes more of it out
    leaky = (clean + 0.5 * (noisy - clean)).astype(np.float32)
    filtered = baselines.wiener_postfilter(noisy, leaky, power)
    assert filtered.shape == noisy.shape and filtered.dtype == np.float32
    assert metrics.si_sdr(filtered, clean) > metrics.si_sdr(leaky, clean) + 3.0
    # told no noise it passes the input through (its input share of it: the rest is the
    # estimate); an estimate of silence silences it
    none = np.zeros_like(power)
    np.testing.assert_allclose(baselines.wiener_postfilter(noisy, leaky, none, input_share=1.0), noisy, atol=1e-5)
    np.testing.assert_allclose(baselines.wiener_postfilter(noisy, leaky, none, input_share=0.75), 0.75 * noisy + 0.25 * leaky,
                               atol=1e-5)  # fmt: skip
    np.testing.assert_allclose(baselines.wiener_postfilter(noisy, leaky, none, input_share=0.0), leaky, atol=1e-5)
    assert np.abs(baselines.wiener_postfilter(noisy, np.zeros_like(noisy), power)).max() < 1e-6
    # a louder print weighs more: more is taken out
    assert np.sum(baselines.wiener_postfilter(noisy, leaky, power, over=4.0) ** 2) < np.sum(filtered**2)


def test_low_band_wiener_takes_a_hum_out_under_the_programme_and_keeps_the_band_above(clean):
    import noise_print

    t = np.arange(clean.size) / SR
    hum = (0.05 * np.sin(2 * np.pi * 50 * t) + 0.03 * np.sin(2 * np.pi * 100 * t)).astype(np.float32)
    bass = (0.1 * np.sin(2 * np.pi * 82 * t)).astype(np.float32)  # programme inside the band
    programme = (clean + bass).astype(np.float32)
    noisy = programme + hum
    n_fft = 8 * 1024  # at SR, bins of about 2 Hz: the hum's partials and the bass fall apart
    th = np.arange(2 * SR) / SR
    print_audio = (0.05 * np.sin(2 * np.pi * 50 * th + 1.0) + 0.03 * np.sin(2 * np.pi * 100 * th + 2.0)).astype(np.float32)
    power = noise_print.noise_power(print_audio, n_fft, n_fft // 4)
    # a restoration that left half the hum: the filter takes more of it out and keeps the bass
    leaky = (programme + 0.5 * hum).astype(np.float32)
    restored = baselines.low_band_wiener(noisy, leaky, power, SR, n_fft)
    assert restored.shape == noisy.shape and restored.dtype == np.float32
    assert metrics.si_sdr(restored, programme) > metrics.si_sdr(leaky, programme) + 6.0
    # above the cutoff the estimate is kept as it is, whatever the input holds there (but at the
    # ends, where the zero-padded frames spread the input's whine into the band)
    whine = (0.05 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    kept = baselines.low_band_wiener(noisy + whine, leaky, power, SR, n_fft)
    np.testing.assert_allclose(kept[n_fft:-n_fft], restored[n_fft:-n_fft], atol=1e-4)
    # told no noise, the band below is the input's; with no band, the estimate alone
    estimate = (noisy - 0.5 * hum).astype(np.float32)
    inner = slice(n_fft, -n_fft)
    np.testing.assert_allclose(baselines.low_band_wiener(noisy, estimate, np.zeros_like(power), SR, n_fft)[inner], noisy[inner],
                               atol=1e-3)  # fmt: skip
    np.testing.assert_allclose(baselines.low_band_wiener(noisy, estimate, power, SR, n_fft, cutoff_hz=0.0), estimate, atol=1e-6)
    with pytest.raises(ValueError, match="bins must lie"):
        baselines.wiener_postfilter(noisy, noisy, power, n_fft, n_fft // 4, bins=n_fft)


def test_wiener_postfilter_refuses_what_it_cannot_use(clean):
    import noise_print

    noisy, heard = _noisy_and_print(clean)
    power = noise_print.noise_power(heard, 4096, 1024)  # the post-filter's own resolution
    with pytest.raises(ValueError, match="differ in length"):
        baselines.wiener_postfilter(noisy, noisy[:-1], power)
    with pytest.raises(ValueError, match="expected 2049 bins"):
        baselines.wiener_postfilter(noisy, noisy, power[:10])
    with pytest.raises(ValueError, match="over must be positive"):
        baselines.wiener_postfilter(noisy, noisy, power, over=0.0)
    with pytest.raises(ValueError, match="input_share"):
        baselines.wiener_postfilter(noisy, noisy, power, input_share=1.5)
    assert baselines.wiener_postfilter(noisy[:0], noisy[:0], power).size == 0
