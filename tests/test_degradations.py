"""Degradations: each noise component measured on its own, the families, recorded noise and NoiseSource."""
from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

import degradations as dg
import paths

SR = 44100


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.fixture(scope="module")
def configs() -> dict[str, dict]:
    return {name: dg.load_noise_config(name) for name in ("film", "gramophone", "tape", "generic", "mixed", "synthetic")}


def synthetic_cfg(configs, **changes) -> dict:
    cfg = dict(configs["synthetic"])
    cfg.update(changes)
    return cfg


def spectrum(x: np.ndarray, sr: int = SR) -> tuple[np.ndarray, np.ndarray]:
    """Power spectrum with a Hann window (little leakage) and its frequencies."""
    p = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
    return np.fft.rfftfreq(x.size, 1 / sr), p


def psd_slope_db_per_octave(x: np.ndarray, lo: float, hi: float) -> float:
    f, p = scipy.signal.welch(x, SR, nperseg=4096)
    band = (f >= lo) & (f <= hi)
    return 10 * np.polyfit(np.log2(f[band]), np.log10(p[band]), 1)[0]


def only(params: dict, *keep: str) -> dict:
    """A family section with every optional component off except ``keep``."""
    out = {}
    for k, v in params.items():
        if isinstance(v, dict) and "prob" in v:
            v = dict(v, prob=1.0 if k in keep else 0.0)
        out[k] = v
    return out


# ------------------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("family", dg.FAMILIES)
def test_family_same_seed_same_noise_other_seed_other_noise(configs, family):
    params = dg.load_noise_config(family)[family]
    fn = dg.FAMILY_FUNCTIONS[family]
    a = fn(2 * SR, SR, rng(7), params)
    b = fn(2 * SR, SR, rng(7), params)
    c = fn(2 * SR, SR, rng(8), params)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_noise_source_same_seed_same_noise_other_seed_other_noise(configs, tmp_path):
    folder = tmp_path / "noise"
    folder.mkdir()
    sf.write(folder / "a.wav", rng(3).standard_normal(SR // 2).astype("float32") * 0.1, SR)
    cfg = dict(configs["mixed"], recorded_dirs=[str(folder)], recorded_share=0.5, second_family_prob=0.5)
    src = dg.NoiseSource(cfg, SR)
    for seed in range(6):  # covers recorded, single and combined families
        x1, l1 = src.sample(SR, rng(seed))
        x2, l2 = src.sample(SR, rng(seed))
        np.testing.assert_array_equal(x1, x2)
        assert l1 == l2
    draws = [src.sample(SR, rng(s))[0] for s in (100, 101)]
    assert not np.allclose(*draws)


def test_global_rng_is_not_used(configs):
    src = dg.NoiseSource(configs["synthetic"], SR)
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    src.sample(SR, rng(1))
    np.testing.assert_array_equal(np.random.get_state()[1], before)


# ------------------------------------------------------------------------------------- outputs


@pytest.mark.parametrize("name", ["film", "gramophone", "tape", "generic", "synthetic"])
def test_every_family_output_is_finite_float32_right_length_not_silent(configs, name):
    src = dg.NoiseSource(configs[name], SR)
    for seed, n in [(0, 1), (1, 300), (2, 47616), (3, 3 * SR + 17)]:
        x, label = src.sample(n, rng(seed))
        assert x.dtype == np.float32 and x.shape == (n,)
        assert np.isfinite(x).all()
        assert np.any(x != 0)
        if name != "synthetic":
            assert label == name
    # with every optional component forced on, too
    for family in dg.FAMILIES:
        params = dg.force_present(configs[family][family])
        x = dg.FAMILY_FUNCTIONS[family](SR, SR, rng(4), params)
        assert x.dtype == np.float32 and x.shape == (SR,) and np.isfinite(x).all() and np.any(x != 0)


def test_second_family_is_added_and_labelled(configs):
    src = dg.NoiseSource(synthetic_cfg(configs, second_family_prob=1.0), SR)
    labels = {src.sample(256, rng(s))[1] for s in range(60)}
    for label in labels:
        parts = label.split("+")
        assert len(parts) == 2 and parts[0] != parts[1] and set(parts) <= set(dg.FAMILIES)
    assert any(label.startswith("film+") for label in labels)


def test_family_weights_are_followed(configs):
    src = dg.NoiseSource(synthetic_cfg(configs, family_weights={"film": 1.0, "tape": 0.0}), SR)
    assert {src.sample(64, rng(s))[1] for s in range(30)} == {"film"}
    src = dg.NoiseSource(synthetic_cfg(configs, second_family_prob=0.0), SR)
    labels = [src.sample(64, rng(s))[1] for s in range(400)]
    assert abs(labels.count("film") / 400 - 0.5) < 4 * np.sqrt(0.25 / 400)


# ------------------------------------------------------------------------------------- hum and buzz


@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_hum_energy_is_at_mains_and_harmonics(mains):
    x = dg.hum(4 * SR, SR, rng(1), mains, num_harmonics=8, decay_db_per_harmonic=6, even_harmonic_db=0, jitter_db=3)
    f, p = spectrum(x)
    near = np.zeros_like(f, dtype=bool)
    for k in range(1, 9):
        near |= np.abs(f - k * mains) <= 1.0
    assert p[near].sum() / p.sum() > 0.999
    assert abs(f[np.argmax(p)] - mains) <= 0.5  # the fundamental is the strongest line
    for k in (2, 3):  # harmonics stand far above their surroundings
        line = p[np.abs(f - k * mains) <= 0.5].max()
        between = p[np.abs(f - (k + 0.5) * mains) <= 2].max()
        assert line > 1e4 * between


@pytest.mark.parametrize("perforations,expected_hz", [(4, 96.0), (1, 24.0)])
def test_buzz_peaks_at_perforation_rate(perforations, expected_hz):
    x = dg.buzz(4 * SR, SR, rng(2), 24.0 * perforations, num_harmonics=10, rolloff=1.0)
    f, p = spectrum(x)
    assert abs(f[np.argmax(p)] - expected_hz) <= 0.5
    near = np.zeros_like(f, dtype=bool)
    for k in range(1, 11):
        near |= np.abs(f - k * expected_hz) <= 1.0
    assert p[near].sum() / p.sum() > 0.999


def test_film_buzz_from_config_uses_gauge_frequency(configs):
    params = only(configs["film"]["film"], "buzz")
    params["flutter"] = dict(params["flutter"], prob=0.0)
    params["buzz"] = dict(
        params["buzz"],
        gauges={"16mm": {"perforations_per_frame": 1, "weight": 1.0}},
        speed_deviation=[0.0, 0.0],
        level_db=[40, 40],  # far above the hiss, so the line dominates
        harmonics=[3, 3],
    )
    x = dg.film_noise(4 * SR, SR, rng(0), params)
    f, p = spectrum(x)
    assert abs(f[np.argmax(p)] - 24.0) <= 0.5


# ------------------------------------------------------------------------------------- crackle


@pytest.mark.parametrize("rate", [5.0, 30.0, 100.0])
def test_crackle_event_count_matches_poisson_rate(rate):
    seconds = 20
    counts = [dg.poisson_times(seconds * SR, SR, rate, rng(s)).size for s in range(5)]
    expected = rate * seconds
    for c in counts:
        assert abs(c - expected) <= 4 * np.sqrt(expected)


def test_crackle_signal_has_the_configured_number_of_impulses_with_both_signs():
    rate, seconds = 30.0, 20
    x = dg.crackle(seconds * SR, SR, rng(5), rate, width_ms=(0.1, 0.5), tail_alpha=2.0)
    active = np.abs(x) > 0
    starts = np.flatnonzero(active[1:] & ~active[:-1]) + 1
    expected = rate * seconds
    # overlapping impulses merge (about 1 % at this rate and width), hence the small allowance
    assert abs(starts.size - expected) <= 4 * np.sqrt(expected) + 0.02 * expected
    peaks = np.array([x[s : s + 25][np.argmax(np.abs(x[s : s + 25]))] for s in starts])
    assert (peaks > 0).mean() > 0.3 and (peaks < 0).mean() > 0.3
    # impulses are at most 0.5 ms (22 samples) wide; only merged neighbours are longer
    ends = np.flatnonzero(active[:-1] & ~active[1:]) + 1
    widths = ends[: starts.size] - starts[: ends.size]
    assert np.mean(widths > round(0.0005 * SR) + 1) < 0.03 and widths.min() >= 3


def test_crackle_amplitudes_are_heavy_tailed_and_capped():
    a = np.abs(dg.heavy_tailed_amplitudes(20000, rng(1), tail_alpha=1.5, cap=30.0))
    assert np.median(a) == pytest.approx(1.0, rel=0.05)
    # Gaussian-like amplitudes would give a 99th percentile about 4x the median
    assert np.percentile(a, 99) / np.median(a) > 10
    assert a.max() <= 30.0


# ------------------------------------------------------------------------------------- transients


def test_thumps_are_low_frequency_transients_of_the_configured_duration():
    x = dg.thumps(10 * SR, SR, rng(3), rate_hz=2.0, duration_ms=(10, 80))
    f, p = spectrum(x)
    assert p[f < 300].sum() / p.sum() > 0.95
    active = np.abs(x) > 0
    starts = np.flatnonzero(active[1:] & ~active[:-1]) + 1
    ends = np.flatnonzero(active[:-1] & ~active[1:]) + 1
    assert starts.size > 5
    assert (ends[: starts.size] - starts[: ends.size]).min() >= 0.010 * SR - 1


def test_frame_scratch_repeats_every_frame():
    x = dg.frame_scratch(4 * SR, SR, rng(4), rate_hz=1.0, frame_rate_hz=24.0, burst_s=(1.0, 1.5), duration_ms=(10, 12))
    env = scipy.signal.fftconvolve(x**2, np.ones(int(0.003 * SR)), mode="same")
    ac = scipy.signal.fftconvolve(env, env[::-1], mode="full")[env.size - 1 :]
    lags = np.arange(ac.size) / SR
    window = (lags > 0.025) & (lags < 0.07)
    assert abs(lags[window][np.argmax(ac[window])] - 1 / 24) < 0.002


# ------------------------------------------------------------------------------------- gramophone


def test_gramophone_clicks_recur_every_revolution():
    period = 60 / 78
    pos, defect = dg.recurring_click_times(10 * SR, SR, rng(5), period, num_defects=3, persistence=1.0, jitter_s=0.0005)
    for d in range(3):
        t = pos[defect == d] / SR
        assert t.size >= 12
        np.testing.assert_allclose(np.diff(t), period, atol=0.0011)

    x = dg.recurring_clicks(10 * SR, SR, rng(6), period, num_defects=2, persistence=0.9, jitter_s=0.0)
    env = scipy.signal.fftconvolve(x**2, np.ones(int(0.002 * SR)), mode="same")
    ac = scipy.signal.fftconvolve(env, env[::-1], mode="full")[env.size - 1 :]
    lags = np.arange(ac.size) / SR
    window = (lags > 0.3) & (lags < 1.2)
    assert abs(lags[window][np.argmax(ac[window])] - period) < 0.002
    assert dg.REVOLUTION_78_S == pytest.approx(0.769, abs=0.001)


def test_rumble_energy_is_below_40_hz():
    x = dg.rumble(8 * SR, SR, rng(7), cutoff_hz=30.0)
    f, p = spectrum(x)
    assert p[f < 40].sum() / p.sum() > 0.97
    assert p[f > 80].sum() / p.sum() < 0.001
    # the gramophone family's rumble component on its own (configured cutoffs 15-40 Hz)
    params = only(dg.load_noise_config("gramophone")["gramophone"], "rumble")
    params["rumble"] = dict(params["rumble"], level_db=[40, 40])
    x = dg.gramophone_noise(8 * SR, SR, rng(8), params)
    f, p = spectrum(x)
    assert p[f < 45].sum() / p.sum() > 0.95


# ------------------------------------------------------------------------------------- hiss


@pytest.mark.parametrize("slope", [-4.0, -3.0, 0.0, 2.0])
def test_hiss_has_the_configured_spectral_slope(slope):
    x = dg.hiss(4 * SR, SR, rng(9), slope_db_per_octave=slope, highpass_hz=40, lowpass_hz=12000)
    assert psd_slope_db_per_octave(x, 300, 4000) == pytest.approx(slope, abs=0.5)


@pytest.mark.parametrize("slope_range,sign", [([-4.5, -1.0], -1), ([1.0, 3.0], 1)])
def test_film_hiss_slope_has_the_configured_sign(configs, slope_range, sign):
    params = only(configs["film"]["film"])
    params["hiss"] = dict(params["hiss"], slope_db_per_octave=slope_range, lowpass_hz=[12000, 12000])
    for seed in range(3):
        x = dg.film_noise(4 * SR, SR, rng(seed), params)
        measured = psd_slope_db_per_octave(x, 300, 4000)
        assert np.sign(measured) == sign and slope_range[0] - 0.5 <= measured <= slope_range[1] + 0.5


def test_tape_hiss_shelf_raises_high_frequencies():
    flat = dg.hiss(4 * SR, SR, rng(10))
    shelved = dg.hiss(4 * SR, SR, rng(10), shelf_hz=2000, shelf_db=10)
    f, pf = scipy.signal.welch(flat, SR, nperseg=4096)
    _, ps = scipy.signal.welch(shelved, SR, nperseg=4096)
    low, high = (f > 100) & (f < 500), (f > 12000) & (f < 18000)
    tilt = 10 * np.log10(ps[high].mean() / ps[low].mean()) - 10 * np.log10(pf[high].mean() / pf[low].mean())
    assert tilt == pytest.approx(10, abs=1.5)


def test_flutter_and_modulation_envelopes_vary_slowly():
    env = dg.level_flutter(4 * SR, SR, rng(11), rate_hz=2.0, depth=0.3)
    assert env.min() >= 0 and env.std() == pytest.approx(0.3, rel=0.4)
    f, p = spectrum(env - env.mean())
    assert p[f < 5].sum() / p.sum() > 0.95
    x = dg.modulation_noise(8 * SR, SR, rng(12), bandwidth_hz=2.0, depth_db=6.0)
    frames = x[: (x.size // 2205) * 2205].reshape(-1, 2205)
    level_db = 10 * np.log10((frames**2).mean(axis=1))
    assert level_db.std() == pytest.approx(6.0, rel=0.5)


# ------------------------------------------------------------------------------------- loop_with_crossfade


def seam_region(n_source: int, crossfade: int, repeats: int) -> np.ndarray:
    period = n_source - crossfade
    idx = [np.arange(k * period - 2, k * period + crossfade + 2) for k in range(1, repeats)]
    return np.concatenate(idx)


@pytest.mark.parametrize("freq", [440.0, 97.3, 1234.5])
def test_loop_of_a_sine_has_no_jump_at_the_seams(freq):
    x = np.sin(2 * np.pi * freq * np.arange(int(1.37 * SR)) / SR).astype("float32")
    cf = SR // 2
    y = dg.loop_with_crossfade(x, 4 * x.size, cf)
    assert y.shape == (4 * x.size,) and y.dtype == np.float32
    np.testing.assert_array_equal(y[: x.size - cf], x[: x.size - cf])
    source_step = np.abs(np.diff(x)).max()
    seam = seam_region(x.size, cf, 4)
    assert np.abs(np.diff(y))[seam[seam < y.size - 1]].max() <= 1.01 * source_step
    assert np.abs(y).max() <= 1.01
    # plain repetition would jump: the check above can fail
    assert np.abs(np.diff(np.tile(x, 2))).max() > 1.5 * source_step


def test_loop_of_smooth_noise_has_no_jump_and_keeps_its_level():
    sos = scipy.signal.butter(4, 300, fs=SR, output="sos")
    x = scipy.signal.sosfilt(sos, rng(13).standard_normal(2 * SR)).astype("float32")[SR // 10 :]
    x /= x.std()
    cf = SR // 2
    y = dg.loop_with_crossfade(x, 3 * x.size, cf)
    seam = seam_region(x.size, cf, 3)
    assert np.abs(np.diff(y))[seam[seam < y.size - 1]].max() <= 1.1 * np.abs(np.diff(x)).max()
    assert np.abs(np.diff(np.tile(x, 2))).max() > 3 * np.abs(np.diff(x)).max()
    # white noise: the level in the middle of the crossfade is that of the source (equal power)
    w = rng(14).standard_normal(2 * SR).astype("float32")
    y = dg.loop_with_crossfade(w, 5 * w.size, cf)
    period = w.size - cf
    mids = np.concatenate([y[k * period + cf // 4 : k * period + 3 * cf // 4] for k in range(1, 5)])
    assert 10 * np.log10(np.mean(mids**2) / np.mean(w**2)) == pytest.approx(0.0, abs=0.5)


def test_loop_with_crossfade_edge_cases():
    x = np.arange(10, dtype="float32")
    np.testing.assert_array_equal(dg.loop_with_crossfade(x, 4, 3), x[:4])
    np.testing.assert_array_equal(dg.loop_with_crossfade(x, 25, 0), np.resize(x, 25))
    with pytest.raises(ValueError):
        dg.loop_with_crossfade(x, 30, 6)
    with pytest.raises(ValueError):
        dg.loop_with_crossfade(np.zeros((4, 2)), 30, 1)


# ------------------------------------------------------------------------------------- recorded noise


def write_wav(path, seconds: float, seed: int = 0, sr: int = SR, channels: int = 1) -> np.ndarray:
    x = (0.2 * rng(seed).standard_normal((int(seconds * sr), channels))).astype("float32")
    sf.write(path, x, sr)
    return x


def recorded_cfg(configs, folder, **changes) -> dict:
    return {**configs["mixed"], "recorded_dirs": [str(folder)], "recorded_share": 1.0, **changes}


def test_recorded_short_file_is_looped_to_the_requested_length(configs, tmp_path):
    write_wav(tmp_path / "short.wav", 0.7, channels=2)
    src = dg.NoiseSource(recorded_cfg(configs, tmp_path), SR)
    x, label = src.sample(5 * SR, rng(0))
    assert label == "recorded" and x.shape == (5 * SR,) and x.dtype == np.float32
    assert np.sqrt(np.mean(x**2)) == pytest.approx(1.0, rel=1e-3)
    # level stays even along the loop (no gaps, no swells at the seams)
    frames = x[: (x.size // 4410) * 4410].reshape(-1, 4410)
    level_db = 10 * np.log10((frames**2).mean(axis=1))
    assert level_db.max() - level_db.min() < 3.0


def test_recorded_file_is_resampled_and_downmixed(configs, tmp_path):
    sr_file = 16000
    t = np.arange(2 * sr_file) / sr_file
    tone = 0.3 * np.sin(2 * np.pi * 1000 * t)
    sf.write(tmp_path / "tone.flac", np.stack([tone, tone], axis=1), sr_file)
    src = dg.NoiseSource(recorded_cfg(configs, tmp_path), SR)
    assert src._clips[0].ndim == 1 and src._clips[0].size == pytest.approx(2 * SR, abs=2)
    x, _ = src.sample(SR, rng(1))
    f, p = spectrum(x)
    assert abs(f[np.argmax(p)] - 1000) < 2


def test_varied_recorded_noise_moves_in_training_and_stays_put_in_validation(configs, tmp_path):
    t = np.arange(6 * SR) / SR
    sf.write(tmp_path / "tone.wav", (0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), SR)
    varied = {**configs["mixed"]["recorded_variation"], "prob": 1.0}
    cfg = recorded_cfg(configs, tmp_path, recorded_validation_fraction=0.0, recorded_variation=varied)
    train = dg.NoiseSource(cfg, SR, "train")
    peaks = []
    for seed in range(6):
        x, label = train.sample(SR, rng(seed))
        assert label == "recorded" and x.shape == (SR,) and np.sqrt(np.mean(x**2)) == pytest.approx(1.0, rel=1e-3)
        f, p = spectrum(x)
        peaks.append(f[np.argmax(p)])
        # the noise and its print are varied alike: the print still describes the noise
        noise, heard, _ = train.sample_with_print(SR, 2 * SR, rng(seed))
        assert spectrum(noise)[0][np.argmax(spectrum(noise)[1])] == pytest.approx(
            spectrum(heard)[0][np.argmax(spectrum(heard)[1])], abs=3)
    assert min(peaks) >= 500 - 3 and max(peaks) <= 2000 + 3 and np.ptp(peaks) > 100
    # validation hears the recording as it is
    x, _ = dg.NoiseSource(cfg, SR, "validation").sample(SR, rng(0))
    f, p = spectrum(x)
    assert f[np.argmax(p)] == pytest.approx(1000, abs=2)
    for bad, message in (({"prob": 1.5}, "recorded_variation.prob"), ({"speed": [2.0, 0.5]}, "recorded_variation.speed"),
                         ({"peak_width_oct": [0.0, 1.0]}, "recorded_variation.peak_width_oct")):
        with pytest.raises(ValueError, match=message):
            dg.NoiseSource({**cfg, "recorded_variation": {**varied, **bad}}, SR, "train")


def test_recorded_corrupt_file_is_skipped_with_one_warning(configs, tmp_path):
    write_wav(tmp_path / "good.wav", 1.0)
    (tmp_path / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00not a wave file at all")
    (tmp_path / "empty.flac").write_bytes(b"")
    with pytest.warns(dg.RecordedNoiseWarning) as record:
        src = dg.NoiseSource(recorded_cfg(configs, tmp_path), SR)
    assert len(record) == 1
    message = str(record[0].message)
    assert "broken.wav" in message and "empty.flac" in message and "\n" not in message
    assert [p.name for p in src.recorded_files] == ["good.wav"]
    assert src.sample(1000, rng(0))[1] == "recorded"


def test_recorded_missing_or_unusable_folder_is_a_value_error(configs, tmp_path):
    with pytest.raises(ValueError, match="folder not found") as err:
        dg.NoiseSource(recorded_cfg(configs, tmp_path / "nowhere"), SR)
    assert "\n" not in str(err.value) and "nowhere" in str(err.value)
    with pytest.raises(ValueError, match="no audio files"):
        dg.NoiseSource(recorded_cfg(configs, tmp_path), SR)
    (tmp_path / "x.wav").write_bytes(b"garbage")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.RecordedNoiseWarning)
        with pytest.raises(ValueError, match="no readable audio"):
            dg.NoiseSource(recorded_cfg(configs, tmp_path), SR)
    # without recorded noise the folder is never opened
    dg.NoiseSource(dict(recorded_cfg(configs, tmp_path / "nowhere"), recorded_share=0.0), SR)


def test_recorded_share_is_followed(configs, tmp_path):
    write_wav(tmp_path / "n.wav", 0.5)
    src = dg.NoiseSource(recorded_cfg(configs, tmp_path, recorded_share=0.3), SR)
    draws = 400
    share = np.mean([src.sample(64, rng(s))[1] == "recorded" for s in range(draws)])
    assert abs(share - 0.3) <= 4 * np.sqrt(0.3 * 0.7 / draws)


def test_recorded_files_are_split_into_disjoint_stable_sides(configs, tmp_path):
    for i in range(12):
        write_wav(tmp_path / f"n{i:02d}.wav", 0.05, seed=i)
    cfg = recorded_cfg(configs, tmp_path, recorded_validation_fraction=0.25)
    names = {split: {p.name for p in dg.NoiseSource(cfg, SR, split=split).recorded_files}
             for split in ("all", "train", "validation")}  # fmt: skip
    assert names["train"] and names["validation"]
    assert not names["train"] & names["validation"]
    assert names["train"] | names["validation"] == names["all"] == {f"n{i:02d}.wav" for i in range(12)}
    # a file's side depends on its own name only: new files never move the old ones
    for i in range(12, 20):
        write_wav(tmp_path / f"n{i:02d}.wav", 0.05, seed=i)
    held = {p.name for p in dg.NoiseSource(cfg, SR, split="validation").recorded_files}
    assert held & names["all"] == names["validation"]
    # without a fraction nothing is held out
    cfg0 = recorded_cfg(configs, tmp_path, recorded_validation_fraction=0.0)
    assert len(dg.NoiseSource(cfg0, SR, split="train").recorded_files) == 20


def test_recorded_split_keeps_one_file_out_and_refuses_to_leave_training_empty(configs, tmp_path):
    write_wav(tmp_path / "a.wav", 0.05)
    write_wav(tmp_path / "b.wav", 0.05, seed=1)
    cfg = recorded_cfg(configs, tmp_path, recorded_validation_fraction=1e-9)  # no hash falls below
    train = dg.NoiseSource(cfg, SR, split="train").recorded_files
    held = dg.NoiseSource(cfg, SR, split="validation").recorded_files
    assert len(train) == len(held) == 1 and train != held
    (tmp_path / "b.wav").unlink()
    with pytest.raises(ValueError, match="none left for training") as err:
        dg.NoiseSource(cfg, SR, split="train")
    assert "recorded_validation_fraction=0" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ValueError, match="split must be one of"):
        dg.NoiseSource(cfg, SR, split="test")
    with pytest.raises(ValueError, match="recorded_validation_fraction"):
        dg.NoiseSource(dict(cfg, recorded_validation_fraction=1.0), SR, split="train")


def test_relative_recorded_dirs_resolve_against_the_repo_root(configs, tmp_path, monkeypatch):
    write_wav(tmp_path / "n.wav", 0.5)
    relative = os.path.relpath(tmp_path, paths.REPO_ROOT)
    monkeypatch.chdir(tmp_path.parent)  # a working directory where the relative path is wrong
    src = dg.NoiseSource(recorded_cfg(configs, relative), SR)
    assert [p.name for p in src.recorded_files] == ["n.wav"]
    # the default config points at the shared corpus beside the repository
    monkeypatch.delenv("CORPUS_DIR", raising=False)
    (folder,) = dg.load_noise_config("mixed")["recorded_dirs"]
    assert paths.repo_path(folder) == (paths.REPO_ROOT.parent / "shared" / "corpus" / "noise")


# ------------------------------------------------------------------------------------- config


def test_configs_have_the_expected_families_and_snr(configs):
    for family in dg.FAMILIES:
        cfg = configs[family]
        assert cfg["recorded_share"] == 0 and {k for k, w in cfg["family_weights"].items() if w > 0} == {family}
    mixed = configs["mixed"]
    assert mixed["recorded_share"] == 0.3
    assert max(mixed["family_weights"], key=mixed["family_weights"].get) == "film"
    assert configs["synthetic"]["recorded_share"] == 0
    assert all(c["snr_db"] == [0, 25] for c in configs.values())


def test_bad_config_is_a_one_line_value_error_naming_the_key(configs):
    film = configs["film"]
    bad = dict(film, film=dict(film["film"], crackle=dict(film["film"]["crackle"], rate_hz=[100, 5])))
    with pytest.raises(ValueError, match=r"noise\.film\.crackle\.rate_hz"):
        dg.NoiseSource(bad, SR)
    missing = dict(film, film={k: v for k, v in film["film"].items() if k != "hum"})
    with pytest.raises(ValueError, match=r"noise\.film\.hum"):
        dg.NoiseSource(missing, SR)
    with pytest.raises(ValueError, match="unknown families"):
        dg.NoiseSource(dict(film, family_weights={"vinyl": 1.0}), SR)
    with pytest.raises(ValueError, match="recorded_share"):
        dg.NoiseSource(dict(film, recorded_share=1.5), SR)


def test_dictconfig_is_accepted(configs):
    from omegaconf import OmegaConf

    cfg = OmegaConf.create(configs["film"])
    a = dg.NoiseSource(cfg, SR).sample(1000, rng(3))
    b = dg.NoiseSource(configs["film"], SR).sample(1000, rng(3))
    np.testing.assert_array_equal(a[0], b[0])


# ------------------------------------------------------------------------------------- generic family


def test_envelope_response_has_its_tilt_peaks_and_notches():
    f = np.array([125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0], dtype=np.float32)
    tilt = 20 * np.log10(dg.envelope_response(f, -6.0))
    # -6 dB per octave of power is -3 dB per octave of amplitude... expressed in dB of power
    np.testing.assert_allclose(np.diff(tilt), -6.0, atol=1e-3)
    flat = dg.envelope_response(f, 0.0, [1000.0, 4000.0], [12.0, -18.0], [0.2, 0.2])
    level = 20 * np.log10(flat)
    assert level[3] == pytest.approx(12.0, abs=0.01) and level[5] == pytest.approx(-18.0, abs=0.01)
    assert abs(level[0]) < 0.01  # three octaves from the peak: untouched
    limited = dg.envelope_response(np.array([20.0, 1000.0, 16000.0], dtype=np.float32), 0.0, highpass_hz=200, lowpass_hz=4000)
    assert 20 * np.log10(limited[0]) < -25 and 20 * np.log10(limited[2]) < -40 and limited[1] > 0.95


def test_generic_stationary_part_follows_a_drawn_tilt():
    params = only(dg.load_noise_config("generic")["generic"])
    params["stationary"] = dict(params["stationary"], slope_db_per_octave=[-8, -8], peaks=[0, 0], highpass_hz=[20, 20],
                                lowpass_hz=[20000, 20000])  # fmt: skip
    params["chain"] = dict(params["chain"], prob=0.0)
    x = dg.generic_noise(4 * SR, SR, rng(3), params)
    assert psd_slope_db_per_octave(x, 300, 4000) == pytest.approx(-8, abs=0.5)


@pytest.mark.parametrize("f0", [37.0, 440.0, 3100.0])
def test_drifting_tone_without_drift_sits_at_its_fundamental_and_harmonics(f0):
    x = dg.drifting_tone(2 * SR, SR, rng(1), f0, [1.0, 0.5, 0.25])
    f, p = spectrum(x)
    near = np.zeros_like(p, dtype=bool)
    for k in (1, 2, 3):
        near |= np.abs(f - k * f0) < 3
    assert p[near].sum() / p.sum() > 0.99
    assert np.sqrt(np.mean(x.astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-3)


def test_drifting_tone_wanders_within_its_drift():
    steady = dg.drifting_tone(4 * SR, SR, rng(2), 1000.0, [1.0])
    drifting = dg.drifting_tone(4 * SR, SR, rng(2), 1000.0, [1.0], drift=0.01, drift_rate_hz=1.0)
    f, ps = spectrum(steady)
    _, pd = spectrum(drifting)
    def spread(p):
        return np.sqrt(np.sum(p * (f - 1000.0) ** 2) / p.sum())
    assert spread(ps) < 3 and 3 < spread(pd) < 60  # about 1 % of 1 kHz, not more
    assert pd[(f > 900) & (f < 1100)].sum() / pd.sum() > 0.98


def test_generic_impulses_span_sparse_to_dense_and_can_recur():
    base = only(dg.load_noise_config("generic")["generic"], "impulses")
    base["stationary"] = dict(base["stationary"], peaks=[0, 0])
    base["chain"] = dict(base["chain"], prob=0.0)
    def impulses(**changes):
        settings = {"level_db": [40, 40], "periodic_prob": 0.0, "width_ms": [0.1, 0.1], "width_spread": [0, 0], **changes}
        params = dict(base, impulses=dict(base["impulses"], **settings))
        x = dg.generic_noise(4 * SR, SR, rng(5), params)
        return x
    def peaks(x):
        return len(scipy.signal.find_peaks(np.abs(x), height=20, distance=int(0.002 * SR))[0])
    sparse, dense = peaks(impulses(rate_hz=[2, 2])), peaks(impulses(rate_hz=[100, 100]))
    assert sparse <= 20 and dense > 150
    periodic = impulses(periodic_prob=1.0, period_s=[0.5, 0.5], defects=[1, 1], persistence=[1, 1])
    found = scipy.signal.find_peaks(np.abs(periodic), height=20, distance=int(0.1 * SR))[0]
    assert len(found) == 8 and np.allclose(np.diff(found) / SR, 0.5, atol=0.002)


def test_generic_chain_band_limits_the_noise_and_saturation_is_mild():
    params = only(dg.load_noise_config("generic")["generic"], "chain")
    params["stationary"] = dict(params["stationary"], slope_db_per_octave=[0, 0], peaks=[0, 0], highpass_hz=[10, 10],
                                lowpass_hz=[22000, 22000])  # fmt: skip
    params["chain"] = dict(params["chain"], highpass_hz=[300, 300], lowpass_hz=[2000, 2000], saturation={"prob": 0.0, "drive_db": [0, 0]})
    x = dg.generic_noise(4 * SR, SR, rng(6), params)
    f, p = scipy.signal.welch(x, SR, nperseg=4096)
    inside = p[(f > 600) & (f < 1200)].mean()
    assert 10 * np.log10(p[(f > 8000) & (f < 16000)].mean() / inside) < -40
    assert 10 * np.log10(p[(f > 20) & (f < 60)].mean() / inside) < -20
    y = np.linspace(-4, 4, 801, dtype=np.float32)
    clipped = dg.soft_clip(y, 6.0)
    assert np.abs(clipped).max() < 1 / dg.db_to_gain(6.0) + 1e-6  # bounded
    assert clipped[400 + 5] == pytest.approx(y[400 + 5], rel=0.01)  # small signals pass
    assert np.all(np.diff(clipped) >= 0)  # monotonic: no fold-over


def test_generic_family_is_wide_in_colour_and_tone():
    """What the family is for: its examples differ far more than one medium's do."""
    src = dg.NoiseSource(dg.load_noise_config("generic"), SR)
    centroids = []
    for seed in range(40):
        x, label = src.sample(SR // 2, rng(seed))
        assert label == "generic"
        f, p = scipy.signal.welch(x, SR, nperseg=2048)
        centroids.append(np.exp(np.sum(p * np.log(np.maximum(f, 10))) / p.sum()))
    spread_oct = np.log2(np.percentile(centroids, 90) / np.percentile(centroids, 10))
    assert spread_oct > 2.5  # the middle 80 % of examples spans more than 2.5 octaves of spectral centroid


def test_generic_bad_range_names_the_key(configs):
    generic = configs["generic"]
    bad = dict(generic, generic=dict(generic["generic"], tones=dict(generic["generic"]["tones"], fundamental_hz=[4000, 20])))
    with pytest.raises(ValueError, match=r"noise\.generic\.tones\.fundamental_hz"):
        dg.NoiseSource(bad, SR)


def test_mixed_config_carries_the_generic_family_off_by_default(configs):
    mixed = configs["mixed"]
    assert mixed["family_weights"]["generic"] == 0 and "generic" in mixed
    src = dg.NoiseSource(dict(mixed, recorded_share=0.0, second_family_prob=0.0,
                              family_weights=dict(mixed["family_weights"], generic=1.0)), SR)  # fmt: skip
    labels = [src.sample(64, rng(s))[1] for s in range(200)]
    assert abs(labels.count("generic") / 200 - 0.5) < 4 * np.sqrt(0.25 / 200)


def test_plot_script_draws_the_generic_family(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from PIL import Image

    script = Path(dg.__file__).resolve().parent / "scripts" / "plot_noise_families.py"
    out = tmp_path / "g.png"
    done = subprocess.run([sys.executable, str(script), "--generic", "--out", str(out), "--seconds", "0.5", "--dpi", "30"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    width, height = Image.open(out).size
    assert height > width  # six rows of panels, 2.1 in each, on an 11 in wide page
