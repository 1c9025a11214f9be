"""noise_print: the print's power spectrum, the auto rule, checks, specs and the held-out check."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

import metrics
import noise_print
import stft

SR = 44100


def hiss(seconds: float, level: float = 0.01, seed: int = 0) -> np.ndarray:
    return (level * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def test_noise_power_is_the_mean_power_of_the_models_stft():
    x = hiss(2.0)
    ours = noise_print.noise_power(x)
    theirs = np.mean(np.abs(stft.stft(tf.constant(x)).numpy()) ** 2, axis=0)
    assert ours.shape == (1025,) and ours.dtype == np.float32
    # stft.py pads the ends with zeros; in the body both are the same spectrum
    assert np.mean(ours[10:1000]) / np.mean(theirs[10:1000]) == pytest.approx(1.0, abs=0.05)
    # white noise of variance s^2 has |X|^2 = s^2 * sum(window^2) in every bin
    expected = 0.01**2 * np.sum(np.hamming(2049)[:-1] ** 2)
    assert np.median(ours) == pytest.approx(expected, rel=0.1)


def test_auto_finds_the_noise_in_the_pauses_of_a_programme():
    rng = np.random.default_rng(1)
    noise = hiss(12.0, 0.003, seed=2)
    t = np.arange(len(noise)) / SR
    # a loud tone that pauses for 0.5 s every 2 s: the pauses are a sixth of the signal
    gate = (t % 2.0) < 1.5
    programme = 0.3 * np.sin(2 * np.pi * 440 * t + rng.uniform(0, 6)) * gate
    power, frames = noise_print.auto_noise_power(programme + noise)
    true = noise_print.noise_power(noise)
    assert frames == round(noise_print.AUTO_FRACTION * len(noise_print.frame_energies(noise)))
    ratio_db = 10 * np.log10(np.mean(power[50:900]) / np.mean(true[50:900]))
    assert abs(ratio_db) < 1.5, ratio_db
    # the quiet passages as a signal: only pauses, so about the noise's level, far below the median
    quiet, contrast = noise_print.auto_print(programme + noise, SR)
    assert 1.0 * SR <= len(quiet) < 4 * SR
    assert np.sqrt(np.mean(quiet**2)) < 2 * 0.003
    assert contrast > 20
    # a programme without pauses: its quietest passages are programme, hardly below the median
    steady = (0.3 * np.sin(2 * np.pi * 440 * t) * (1 + 0.3 * np.sin(2 * np.pi * 0.5 * t)) + noise).astype(np.float32)
    quiet, contrast = noise_print.auto_print(steady, SR)
    assert contrast < noise_print.AUTO_MIN_CONTRAST_DB
    # a short recording still gives the minimum length (more than the quietest tenth of it)
    quiet, _ = noise_print.auto_print(programme[: 4 * SR] + noise[: 4 * SR], SR)
    assert len(quiet) >= noise_print.MIN_PRINT_SECONDS * SR


def test_autos_print_is_long_enough_for_its_check_on_a_reel_with_one_pause():
    # a 15-s reel: 8 s of noise alone, rising (a transfer's noise swelling in), then 7 s of
    # programme; the quietest tenth is one run of 1.5 s, too short for the held-out check,
    # which a pause that long should never be
    noise = hiss(15.0, 0.003, seed=4)
    t = np.arange(len(noise)) / SR
    noise *= np.minimum(1.0 + t / 4.0, 3.0).astype(np.float32)
    reel = (noise + 0.3 * np.sin(2 * np.pi * 330 * t) * (t >= 8.0)).astype(np.float32)
    tenth, _ = noise_print.auto_print(reel, SR)
    assert not noise_print.can_hold_out(len(tenth), SR)
    least = noise_print.auto_min_seconds(len(reel), SR, check=True)
    assert least == noise_print.CHECKABLE_PRINT_SECONDS
    checked, _ = noise_print.auto_print(reel, SR, min_seconds=least)
    assert noise_print.can_hold_out(len(checked), SR) and len(checked) < 2.5 * SR
    assert np.sqrt(np.mean(checked**2)) < 1.5 * 0.003  # the pause alone: noise, no programme
    # without the check, or where 1.7 s would be more than 15 % of the recording, the tenth stays
    assert noise_print.auto_min_seconds(len(reel), SR, check=False) == noise_print.MIN_PRINT_SECONDS
    assert noise_print.auto_min_seconds(11 * SR, SR, check=True) == noise_print.MIN_PRINT_SECONDS
    assert noise_print.auto_min_seconds(12 * SR, SR, check=True) == noise_print.CHECKABLE_PRINT_SECONDS


def test_auto_ignores_digital_silence():
    x = np.concatenate([np.zeros(3 * SR, np.float32), hiss(3.0, 0.01)])
    chosen = noise_print.quietest_frames(noise_print.frame_energies(x))
    assert len(chosen) and chosen.min() * 512 >= 3 * SR - 2048
    assert len(noise_print.auto_print(np.zeros(2 * SR, np.float32), SR)[0]) == 0


def test_residual_power_is_the_removed_noise_over_the_frames_that_sound():
    noise = hiss(4.0, 0.01, seed=3)
    t = np.arange(len(noise)) / SR
    audio = (0.3 * np.sin(2 * np.pi * 440 * t) + noise).astype(np.float32)
    # a first pass that removed the noise exactly: its power, programme or not
    np.testing.assert_allclose(noise_print.residual_noise_power(audio, noise), noise_print.noise_power(noise), rtol=1e-5)
    # a muted second of input (where a pass removes nothing) does not dilute the estimate
    muted = np.concatenate([np.zeros(SR, np.float32), audio])
    removed = np.concatenate([np.zeros(SR, np.float32), noise])
    ratio = noise_print.residual_noise_power(muted, removed)[50:900] / noise_print.noise_power(noise)[50:900]
    assert np.mean(ratio) == pytest.approx(1.0, abs=0.05)
    assert np.mean(noise_print.noise_power(removed)[50:900] / noise_print.noise_power(noise)[50:900]) < 0.85


def test_without_a_print_the_auto_estimate_is_refined_by_a_second_pass():
    import loading

    noise = hiss(3.0, 0.01, seed=4)
    t = np.arange(len(noise)) / SR
    x = np.stack([(0.3 * np.sin(2 * np.pi * 440 * t) + noise).astype(np.float32), noise])
    told = []

    def fn(segments, power):  # a model that removes half of its input, whatever it is told
        told.append(np.array(power))
        return 0.5 * segments

    out = loading.with_noise_power(fn, None, 2048, 512)(x)
    assert loading.NO_PRINT_PASSES == 2 and len(told) == 2
    smooth = noise_print.smooth_over_frequency
    np.testing.assert_allclose(told[0], smooth(np.stack([noise_print.auto_noise_power(row)[0] for row in x])), rtol=1e-5)
    np.testing.assert_allclose(told[1], smooth(np.stack([noise_print.residual_noise_power(row, 0.5 * row) for row in x])), rtol=1e-5)
    np.testing.assert_array_equal(out, 0.5 * x)
    told.clear()
    loading.with_noise_power(fn, None, 2048, 512, passes=1)(x)
    assert len(told) == 1
    told.clear()
    power = noise_print.noise_power(noise)
    loading.with_noise_power(fn, power, 2048, 512)(x)  # a print: told it, one pass
    assert len(told) == 1 and np.array_equal(told[0], np.stack([power, power]))
    with pytest.raises(ValueError, match="passes: expected at least 1"):
        loading.with_noise_power(fn, None, 2048, 512, passes=0)


def test_smoothing_over_frequency_takes_out_narrow_peaks_and_keeps_the_shape():
    bins = np.arange(1025)
    tilt = (1e-4 * 10.0 ** (-3.0 * bins / 1025)).astype(np.float32)  # 30 dB of slope
    np.testing.assert_allclose(noise_print.smooth_over_frequency(tilt)[8:-8], tilt[8:-8], rtol=1e-4)
    peaked = tilt.copy()
    peaked[[200, 201, 400, 600]] *= 1000.0  # a programme's partials, 30 dB above the noise
    out = noise_print.smooth_over_frequency(peaked)
    np.testing.assert_allclose(out[[200, 201, 400, 600]], tilt[[200, 201, 400, 600]], rtol=0.02)
    rows = noise_print.smooth_over_frequency(np.stack([peaked, 2 * tilt]))
    np.testing.assert_allclose(rows[1], noise_print.smooth_over_frequency(2 * tilt), rtol=1e-6)  # rows do not mix
    assert rows.shape == (2, 1025) and rows.dtype == np.float32
    with pytest.raises(ValueError, match="bins must be odd"):
        noise_print.smooth_over_frequency(tilt, bins=4)


def test_check_print_refuses_short_and_silent_prints_and_warns_on_programme():
    assert noise_print.check_print(hiss(3.0), SR, "p") == []
    with pytest.raises(noise_print.NoisePrintError, match="0.50 s long; at least 1 s"):
        noise_print.check_print(hiss(0.5), SR, "p")
    with pytest.raises(noise_print.NoisePrintError, match="digital silence"):
        noise_print.check_print(np.zeros(2 * SR, np.float32), SR, "p")
    t = np.arange(3 * SR) / SR
    speechlike = (0.3 * np.sin(2 * np.pi * 200 * t) * (np.sin(2 * np.pi * 2 * t) > 0.3) + hiss(3.0, 1e-4)).astype(np.float32)
    (warning,) = noise_print.check_print(speechlike, SR, "p")
    assert "may hold programme" in warning


def test_parse_spec(tmp_path):
    assert noise_print.parse_spec(None).kind == "none"
    assert noise_print.parse_spec("Auto").kind == "auto"
    spec = noise_print.parse_spec("1.5-4")
    assert (spec.kind, spec.start, spec.end) == ("range", 1.5, 4.0)
    path = tmp_path / "print.wav"
    sf.write(path, hiss(1.0), SR)
    assert noise_print.parse_spec(str(path)) == noise_print.PrintSpec("file", path=path)
    for bad in ("4-1.5", "2-2", str(tmp_path / "missing.wav"), str(tmp_path)):
        with pytest.raises(noise_print.NoisePrintError):
            noise_print.parse_spec(bad)


def test_read_mono_mixes_down_resamples_and_refuses_a_range_outside(tmp_path):
    stereo = np.stack([hiss(2.0, 0.01, 1), hiss(2.0, 0.01, 2)], axis=1)[: 2 * 48000]
    path = tmp_path / "p.wav"
    sf.write(path, stereo, 48000)
    audio, notes = noise_print.read_mono(path, SR, 0.5, 1.5)
    assert len(audio) == pytest.approx(SR, abs=2)
    assert notes == ["mixed down from 2 channels", "resampled from 48000 Hz to 44100 Hz"]
    with pytest.raises(noise_print.NoisePrintError, match="outside the file"):
        noise_print.read_mono(path, SR, 1.0, 3.0)


def _spectral_subtraction(mix: np.ndarray, power: np.ndarray | None, rest: np.ndarray | None = None) -> np.ndarray:
    """A restorer that only removes noise when told its power (else returns its input)."""
    if power is None:
        return mix
    spec = stft.stft(tf.constant(mix)).numpy()
    gain = np.sqrt(np.maximum(1.0 - power[None] / np.maximum(np.abs(spec) ** 2, 1e-20), 0.05))
    return stft.istft(tf.constant(spec * gain), len(mix)).numpy()


@pytest.mark.parametrize("reference", noise_print.CHECK_REFERENCES)
def test_held_out_check_uses_the_print_only_when_it_helps(reference):
    t = np.arange(6 * SR) / SR
    recording = (0.2 * np.sin(2 * np.pi * 330 * t) * (t > 2) + hiss(6.0, 0.02, seed=7)).astype(np.float32)
    mixes = []

    def subtraction(mix, power, rest=None):
        mixes.append(mix)
        return _spectral_subtraction(mix, power)

    result = noise_print.held_out_check(subtraction, recording, hiss(4.0, 0.02), SR, reference=reference)
    assert result is not None and result.use_print and result.with_print > result.without_print + 1
    assert "the print is used" in result.describe()
    if reference == "recording":  # the loudest 3 s of the recording, the held-out hiss 5 dB under it
        programme = noise_print.loudest_passage(recording, int(noise_print.CHECK_PROGRAMME_SECONDS * SR))
        snr = noise_print.CHECK_SNR_DB
    else:  # the fixed programme at the recording's own SNR ("restored": its own test below)
        programme = noise_print.reference_programme(SR)
        snr = noise_print.estimated_snr_db(recording, hiss(4.0, 0.02))
    if reference != "restored":
        added = mixes[0].astype(np.float64) - programme
        assert 10 * np.log10(np.mean(programme.astype(np.float64) ** 2) / np.mean(added**2)) == pytest.approx(snr, abs=0.01)

    def harmful(mix, power, rest=None):  # told a print, it mutes the programme
        return mix if power is None else 0.01 * mix + hiss(len(mix) / SR, 0.1, 5)[: len(mix)]

    result = noise_print.held_out_check(harmful, recording, hiss(4.0), SR, reference=reference)
    assert result is not None and not result.use_print and "restoring without it" in result.describe()
    assert noise_print.held_out_check(subtraction, recording, hiss(1.2), SR, reference=reference) is None  # too short to split


# the model perfect: the floor, never the model alone
@pytest.mark.parametrize("model_error, classical_error, share", [(1.0, -1.0, 0.5), (-1.0, 3.0, 0.25), (0.0, 1.0, noise_print.SHARE_FLOOR)])
def test_share_check_keeps_the_classical_share_that_restores_the_held_out_mix_best(model_error, classical_error, share):
    # each restorer leaves a multiple of the held-out noise in; the mix of the two that cancels it wins
    t = np.arange(6 * SR) / SR
    recording = (0.2 * np.sin(2 * np.pi * 330 * t) * (t > 2) + hiss(6.0, 0.02, seed=7)).astype(np.float32)
    heard = hiss(4.0, 0.02, seed=3)
    programme = noise_print.reference_programme(SR).astype(np.float64)
    told, rests = [], []

    def model(mix, power, rest):
        told.append(power)
        rests.append(rest)
        return programme + model_error * (mix - programme)

    def classical(mix, fit):
        told.append(fit)
        return programme + classical_error * (mix - programme)

    result = noise_print.share_check(model, classical, recording, heard, SR, default=0.25)
    assert result is not None and result.share == share and result.share in noise_print.SHARE_GRID
    assert min(noise_print.SHARE_GRID) == noise_print.SHARE_FLOOR and max(noise_print.SHARE_GRID) == 1.0
    assert result.snr_db == pytest.approx(noise_print.estimated_snr_db(recording, heard))
    assert result.score >= result.default_score and result.default == 0.25
    if share != 0.25:
        assert result.score > result.default_score + 1
    # the model was told the power of the rest of the print, the classical estimator that rest
    cut = int(len(heard) * (1 - noise_print.CHECK_HELD_OUT))
    assert told[0].shape == noise_print.noise_power(heard[:cut]).shape and len(told[1]) == cut
    assert len(rests[0]) == cut  # and that rest itself, for a post-filter
    assert f"{share:.0%} classical LSA with the print" in result.describe()
    assert noise_print.share_check(model, classical, recording, hiss(1.2), SR, default=0.25) is None  # too short to split


def test_share_check_breaks_ties_toward_the_default_share():
    recording, heard = hiss(6.0, 0.02, seed=7), hiss(4.0, 0.02, seed=3)
    same = lambda mix, *_: mix  # noqa: E731  (both restorers alike: every share scores the same)
    for default in (0.25, 0.6):
        assert noise_print.share_check(same, same, recording, heard, SR, default=default).share == default


def test_held_out_check_tests_the_print_with_the_classical_share_it_will_carry():
    t = np.arange(6 * SR) / SR
    recording = (0.2 * np.sin(2 * np.pi * 330 * t) * (t > 2) + hiss(6.0, 0.02, seed=7)).astype(np.float32)
    programme = noise_print.loudest_passage(recording, int(noise_print.CHECK_PROGRAMME_SECONDS * SR)).astype(np.float64)

    def model(mix, power, rest=None):  # told the print it doubles the noise; untold it leaves the mix
        return mix if power is None else programme + 2.0 * (mix - programme)

    def classical(mix, fit):  # the opposite error: half of each cancels
        return programme - 2.0 * (mix - programme)

    alone = noise_print.held_out_check(model, recording, hiss(4.0, 0.02), SR, classical=classical, share=0.0)
    assert not alone.use_print and alone.share == 0.0 and "classical LSA" not in alone.describe()
    assert noise_print.held_out_check(model, recording, hiss(4.0, 0.02), SR, share=0.5) == alone  # no estimator, no share
    mixed = noise_print.held_out_check(model, recording, hiss(4.0, 0.02), SR, classical=classical, share=0.5)
    assert mixed.use_print and mixed.with_print > alone.with_print + 20 and mixed.without_print == alone.without_print
    assert "with the print (50% classical LSA with it)" in mixed.describe()


def test_held_out_check_restored_reference_is_the_mean_of_the_passage_restored_with_and_without_the_print():
    t = np.arange(6 * SR) / SR
    recording = (0.2 * np.sin(2 * np.pi * 330 * t) * (t > 2) + hiss(6.0, 0.02, seed=7)).astype(np.float32)
    heard = hiss(4.0, 0.02)
    passage = noise_print.loudest_passage(recording, int(noise_print.CHECK_PROGRAMME_SECONDS * SR)).astype(np.float64)
    calls = []

    def restore(mix, power, rest=None):  # told it returns its input, untold it halves it
        calls.append((np.asarray(mix, np.float64).copy(), power, rest))
        return mix if power is not None else 0.5 * np.asarray(mix)

    result = noise_print.held_out_check(restore, recording, heard, SR, reference="restored")
    assert result is not None
    # first the passage, told the rest of the print at its own level, then untold
    cut = int(len(heard) * (1 - noise_print.CHECK_HELD_OUT))
    np.testing.assert_allclose(calls[0][0], passage, atol=1e-6)
    np.testing.assert_allclose(calls[0][2], heard[:cut])
    np.testing.assert_allclose(calls[0][1], noise_print.noise_power(heard[:cut]), rtol=1e-6)
    np.testing.assert_allclose(calls[1][0], passage, atol=1e-6)
    assert calls[1][1] is None
    programme = 0.75 * passage  # the mean of the two; the mix holds it, the held-out hiss 5 dB under it
    added = calls[2][0] - programme
    snr = 10 * np.log10(np.mean(programme**2) / np.mean(added**2))
    assert snr == pytest.approx(noise_print.CHECK_SNR_DB, abs=0.01)
    assert calls[2][1] is not None and calls[3][1] is None and len(calls) == 4
    # scored against that mean: SI-SDR does not see the untold side's halving, so the two tie
    assert result.with_print == pytest.approx(metrics.si_sdr(calls[2][0], programme), abs=1e-4)
    assert result.without_print == pytest.approx(result.with_print, abs=1e-4)
    # a restorer that takes the noise out only when told wins the check against this reference too
    assert noise_print.held_out_check(_spectral_subtraction, recording, heard, SR, reference="restored").use_print
    assert noise_print.held_out_check(restore, recording, hiss(1.2), SR, reference="restored") is None  # too short


def test_held_out_check_refuses_an_unknown_reference():
    with pytest.raises(ValueError, match="reference must be one of"):
        noise_print.held_out_check(_spectral_subtraction, hiss(4.0), hiss(4.0), SR, reference="loudest")


def test_reference_programme_is_fixed_harmonic_and_has_pauses():
    a, b = noise_print.reference_programme(SR), noise_print.reference_programme(SR)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and len(a) == int(noise_print.REFERENCE_SECONDS * SR)
    assert np.max(np.abs(a)) == pytest.approx(0.3)
    levels = noise_print.frame_energies(a)
    assert (levels < 1e-6 * levels.max()).mean() > 0.05  # pauses between notes, as a recording has
    power = noise_print.noise_power(a)
    freqs = np.arange(len(power)) * SR / 2048
    assert power[(freqs > 1000) & (freqs < 4000)].sum() > 1e-3 * power.sum()  # partials above the fundamentals


def test_estimated_snr_compares_the_recording_with_the_print():
    noise = hiss(4.0)
    t = np.arange(4 * SR) / SR
    tone = np.sin(2 * np.pi * 330 * t)
    tone *= np.sqrt(np.mean(noise.astype(np.float64) ** 2) * 10.0) / np.sqrt(np.mean(tone**2))  # 10 dB above the noise
    assert noise_print.estimated_snr_db((tone + noise).astype(np.float32), noise) == pytest.approx(10.0, abs=0.3)
    assert noise_print.estimated_snr_db(noise, noise) == noise_print.SNR_RANGE_DB[0]  # all noise: the floor
    assert noise_print.estimated_snr_db(tone, np.zeros(SR, np.float32)) == noise_print.SNR_RANGE_DB[1]


def test_classical_check_picks_whichever_restores_the_held_out_noise_better():
    programme = noise_print.reference_programme(SR)
    t = np.arange(6 * SR) / SR
    recording = (0.2 * np.sin(2 * np.pi * 330 * t) * (t > 2) + hiss(6.0, seed=3)).astype(np.float32)
    told = []

    def classical(mix, fit):  # told the rest of the print, scaled as the held-out part
        told.append(fit)
        return programme + 0.001 * (mix - programme)

    result = noise_print.classical_check(lambda mix: mix, classical, recording, hiss(4.0), SR)
    assert result is not None and result.use_classical and result.classical > result.model + 20
    assert "the classical estimator restores this file" in result.describe()
    assert len(told[0]) == int(4.0 * SR * (1 - noise_print.CHECK_HELD_OUT))
    assert result.snr_db == pytest.approx(noise_print.estimated_snr_db(recording, hiss(4.0)))
    result = noise_print.classical_check(lambda mix: programme, lambda mix, fit: mix, recording, hiss(4.0), SR)
    assert result is not None and not result.use_classical and "the model restores this file" in result.describe()
    assert noise_print.classical_check(lambda m: m, classical, recording, hiss(1.2), SR) is None  # too short to split
