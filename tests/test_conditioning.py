"""The noise-conditioned model end to end: unet inputs, weight transfer, the examples' prints,
training, and restoring with inference.noise_print."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np
import pytest
import soundfile as sf
from omegaconf import OmegaConf

import baselines
import configs
import dataset_loader
import degradations
import inference
import loading
import noise_print
import unet

REPO = Path(__file__).resolve().parents[1]
SR = 44100


def micro_cfg(conditioning: str = "noise_psd") -> dict:
    cfg = OmegaConf.to_container(configs.group_config("model", "micro"))
    cfg["conditioning"] = conditioning
    return cfg


@pytest.fixture(scope="module")
def conditioned_checkpoint(tmp_path_factory) -> Path:
    keras.utils.set_random_seed(7)
    cfg = micro_cfg()
    return unet.save_denoiser(unet.build_model(cfg), cfg, tmp_path_factory.mktemp("conditioned"))


def test_model_config_defaults_to_unconditioned_and_refuses_unknown_values():
    cfg = micro_cfg()
    del cfg["conditioning"]
    assert unet.model_config(cfg)["conditioning"] == "none"  # models saved before the option
    with pytest.raises(ValueError, match="conditioning"):
        unet.model_config(micro_cfg("spectrum"))
    assert unet.input_channels(micro_cfg()) == unet.input_channels(micro_cfg("none")) + 2


def test_conditioned_model_takes_the_noise_power_and_uses_it():
    keras.utils.set_random_seed(0)
    model = unet.build_model(micro_cfg())
    assert [tuple(i.shape) for i in model.inputs] == [(None, None, 1025, 2), (None, 1025)]
    x = np.random.default_rng(0).standard_normal((2, 21, 1025, 2)).astype("float32")
    quiet, loud = np.full((2, 1025), 1e-4, "float32"), np.full((2, 1025), 10.0, "float32")
    a = unet.stage_outputs(model([x, quiet]))[-1].numpy()
    b = unet.stage_outputs(model([x, loud]))[-1].numpy()
    assert a.shape == x.shape and np.isfinite(a).all()
    assert np.abs(a - b).max() > 1e-4  # the description reaches the output


def test_classical_gain_removes_what_the_noise_power_says_and_keeps_the_rest():
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((1, 30, 1025, 2)).astype("float32")  # power 2 per bin
    power = np.full((1, 1025), 2.0, "float32")
    layer = unet.ClassicalGain()
    hushed = layer(noise, power).numpy()
    assert hushed.shape == noise.shape
    # noise alone falls towards the floor (-20 dB): its smoothed power rarely exceeds twice its mean
    assert 10 * np.log10(np.mean(hushed**2) / np.mean(noise**2)) < -12.0
    assert np.mean(np.abs(hushed) <= unet.CLASSICAL_GAIN_FLOOR * np.abs(noise) + 1e-6) > 0.8
    loud = noise * 100.0  # 40 dB above the noise: kept within 0.1 dB
    kept = layer(loud, power).numpy()
    assert abs(10 * np.log10(np.mean(kept**2) / np.mean(loud**2))) < 0.1
    assert np.all(np.abs(hushed) >= unet.CLASSICAL_GAIN_FLOOR * np.abs(noise) - 1e-6)  # never below the floor


def test_the_classical_path_grows_from_a_conditioned_model_and_starts_nearly_closed(conditioned_checkpoint, tmp_path):
    source, source_cfg = unet.load_denoiser(conditioned_checkpoint)
    cfg = micro_cfg("noise_psd_gain")
    keras.utils.set_random_seed(1)
    grown = unet.build_model(cfg)
    assert len(grown.weights) == len(source.weights) + 2  # the mask's kernel and bias
    assert unet.adopt_weights(source, source_cfg, grown, cfg) == []
    x = np.random.default_rng(0).standard_normal((1, 24, 1025, 2)).astype("float32")
    power = np.full((1, 1025), 2.0, "float32")
    before = unet.stage_outputs(source([x, power]))[-1].numpy()
    after = unet.stage_outputs(grown([x, power]))[-1].numpy()
    classical = unet.ClassicalGain()(x, power).numpy()
    # Y2 = before + sigmoid(logit) (G X - X): the mask starts at sigmoid(-4) everywhere
    start = 1.0 / (1.0 + np.exp(-unet.BLEND_START_LOGIT))
    np.testing.assert_allclose(after, before + start * (classical - x), atol=1e-4)
    # saved and loaded, it restores the same; less conditioning cannot start from it
    folder = unet.save_denoiser(grown, cfg, tmp_path / "gain")
    loaded, loaded_cfg = unet.load_denoiser(folder)
    assert loaded_cfg["conditioning"] == "noise_psd_gain"
    np.testing.assert_allclose(unet.stage_outputs(loaded([x, power]))[-1].numpy(), after, atol=1e-6)
    with pytest.raises(ValueError, match="cannot start one with 'noise_psd'"):
        unet.adopt_weights(loaded, loaded_cfg, unet.build_model(micro_cfg()), micro_cfg())
    # from an unconditioned model: the input convolutions widen and the mask is added
    plain = unet.build_model(micro_cfg("none"))
    assert sorted(unet.adopt_weights(plain, micro_cfg("none"), grown, cfg)) == ["s1_early", "s2_early"]


def test_classical_mask_script_reports_how_far_the_path_is_open(conditioned_checkpoint, tmp_path, capsys):
    from conftest import load_script

    script = load_script("classical_mask")
    keras.utils.set_random_seed(3)
    cfg = micro_cfg("noise_psd_gain")
    model = unet.build_model(cfg)
    gain = unet.save_denoiser(model, cfg, tmp_path / "gain")
    audio = tmp_path / "noisy.wav"
    sf.write(audio, (0.1 * np.random.default_rng(0).standard_normal(SR)).astype(np.float32), SR)
    noise = tmp_path / "noise.wav"
    sf.write(noise, (0.05 * np.random.default_rng(1).standard_normal(2 * SR)).astype(np.float32), SR)
    start = 1.0 / (1.0 + np.exp(-unet.BLEND_START_LOGIT))
    # untrained, the mask is its starting value everywhere, with or without a print
    for extra in ([], ["--print", str(noise)]):
        assert script.main([str(gain), str(audio), *extra]) == 0
        line = capsys.readouterr().out.strip()
        assert f"mask mean {start:.4f}" in line and f"largest {start:.4f}" in line and "bias logit -4.00" in line
    # opened at the bias, every figure follows
    layer = model.get_layer("s2_blend")
    kernel, _ = layer.get_weights()
    layer.set_weights([kernel, np.zeros(1, np.float32)])
    opened = unet.save_denoiser(model, cfg, tmp_path / "opened")
    assert script.mask_figures(str(opened), str(audio))["mean"] == pytest.approx(0.5, abs=1e-4)
    # a model without the path: one line, exit 1
    assert script.main([str(conditioned_checkpoint), str(audio)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "classical_mask: this model has no classical blend mask (only model.conditioning=noise_psd_gain learns one)"


def test_the_refine_path_corrects_the_classical_estimate_and_grows_from_the_gain_path(tmp_path):
    keras.utils.set_random_seed(4)
    gain_cfg, cfg = micro_cfg("noise_psd_gain"), micro_cfg("noise_psd_refine")
    gain = unet.build_model(gain_cfg)
    refine = unet.build_model(cfg)
    assert len(refine.weights) == len(gain.weights) - 2  # no mask
    assert unet.adopt_weights(gain, gain_cfg, refine, cfg) == []
    x = np.random.default_rng(0).standard_normal((1, 24, 1025, 2)).astype("float32")
    power = np.full((1, 1025), 2.0, "float32")
    classical = unet.ClassicalGain()(x, power).numpy()
    # the gain path's mask (sigmoid(-4)) opened all the way: Y2 = X + out2 + (G X - X)
    start = 1.0 / (1.0 + np.exp(-unet.BLEND_START_LOGIT))
    blended = unet.stage_outputs(gain([x, power]))[-1].numpy()
    refined = unet.stage_outputs(refine([x, power]))[-1].numpy()
    np.testing.assert_allclose(refined, blended + (1.0 - start) * (classical - x), atol=1e-4)
    # with no correction, stage 2 is the classical estimate itself
    out = refine.get_layer("s2_out")
    out.set_weights([np.zeros_like(w) for w in out.get_weights()])
    np.testing.assert_allclose(unet.stage_outputs(refine([x, power]))[-1].numpy(), classical, atol=1e-5)
    folder = unet.save_denoiser(refine, cfg, tmp_path / "refine")
    loaded, loaded_cfg = unet.load_denoiser(folder)
    assert loaded_cfg["conditioning"] == "noise_psd_refine"
    np.testing.assert_allclose(unet.stage_outputs(loaded([x, power]))[-1].numpy(), classical, atol=1e-5)
    with pytest.raises(ValueError, match="cannot start one with 'noise_psd_gain'"):
        unet.adopt_weights(loaded, loaded_cfg, unet.build_model(gain_cfg), gain_cfg)
    with pytest.raises(ValueError, match="no classical blend mask"):
        unet.classical_mask_model(loaded)


def test_noise_conditioning_channels_are_level_and_a_posteriori_snr():
    x = np.zeros((1, 3, 4, 2), "float32")
    x[..., 0] = 1.0  # |X|^2 = 1 everywhere
    power = np.array([[1e-2, 1.0, 100.0, 0.0]], "float32")
    out = unet.NoiseConditioning()(x, power).numpy()
    np.testing.assert_allclose(out[0, 0, :3, 0], [-1.0, 0.0, 1.0], atol=1e-5)  # 10 log10(power) / 20
    np.testing.assert_allclose(out[0, 0, :3, 1], [1.0, 0.0, -1.0], atol=1e-5)  # 10 log10(|X|^2 / power) / 20
    assert out[0, 0, 3, 0] == pytest.approx(-6.0, abs=1e-4)  # a zero power is floored, not -inf
    assert np.all(out[0, 0] == out[0, 2])  # the level is the same in every frame


def test_transfer_weights_starts_the_conditioned_model_as_the_source():
    keras.utils.set_random_seed(1)
    source = unet.build_model(micro_cfg("none"))
    target = unet.build_model(micro_cfg())
    assert sorted(unet.transfer_weights(source, target)) == ["s1_early", "s2_early"]
    x = np.random.default_rng(2).standard_normal((1, 17, 1025, 2)).astype("float32")
    power = np.random.default_rng(3).uniform(0.1, 10, (1, 1025)).astype("float32")
    np.testing.assert_allclose(unet.stage_outputs(target([x, power]))[-1], unet.stage_outputs(source(x))[-1], atol=1e-5)
    other = micro_cfg("none")
    other["filters"] = [f * 2 for f in other["filters"]]
    with pytest.raises(ValueError, match="shape"):
        unet.transfer_weights(unet.build_model(other), target)


class _SteadyNoise:
    """A noise source of one steady white noise per seed (its print is the same noise)."""

    def sample(self, n, rng):
        return rng.standard_normal(n).astype(np.float32), "steady"


def _maker(corpus, pause_share: float = 0.0, **print_cfg) -> dataset_loader.ExampleMaker:
    dset = {"categories": {c: {"dirs": [str(corpus[c])], "weight": 1.0} for c in ("speech", "effects", "music")},
            "validation_fraction": 0.25, "pause_share": pause_share}  # fmt: skip
    clean = dataset_loader.CleanCorpus(dset, SR, "train")
    cfg = {**dataclasses.asdict(configs.NoisePrintConfig()), "sample_rate": SR, "n_fft": 2048, "hop": 512, **print_cfg}
    return dataset_loader.ExampleMaker(clean, _SteadyNoise(), {"snr_db": [5, 5]}, dset, 8192, seed=3, print_cfg=cfg)


def test_a_conditioned_example_with_a_pause_keeps_its_noise_and_its_print(corpus):
    told = dict(level_error_db=0.0, leak_db=[-200.0, -200.0], auto_share=0.0)
    plain, paused = _maker(corpus, **told), _maker(corpus, pause_share=1.0, **told)
    (n0, c0, p0), (n1, c1, p1) = plain.train_example(5), paused.train_example(5)
    np.testing.assert_allclose(n1 - c1, n0 - c0, atol=1e-6)  # the noise as it was, at its level
    np.testing.assert_array_equal(p1, p0)  # and the print told of it
    silent = np.count_nonzero(c1 == 0.0)
    assert silent >= 0.25 * c1.size - 1 and np.count_nonzero(c0 == 0.0) < silent


def test_examples_carry_the_power_of_a_separate_print_of_the_same_noise(corpus):
    maker = _maker(corpus, level_error_db=0.0, leak_db=[-200.0, -200.0], auto_share=0.0)
    noisy, clean, power = maker.train_example(5)
    assert noisy.shape == clean.shape == (8192,) and power.shape == (1025,) and power.dtype == np.float32
    mixed = noise_print.noise_power(noisy - clean)
    ratio_db = 10 * np.log10(np.mean(power[20:1000]) / np.mean(mixed[20:1000]))
    assert abs(ratio_db) < 1.0, ratio_db  # the same noise at the same scale...
    assert not np.allclose(power, mixed, rtol=0.05)  # ...but another stretch of it
    again = maker.train_example(5)
    for a, b in zip((noisy, clean, power), again):
        np.testing.assert_array_equal(a, b)  # a pure function of the index (exact resume)


def test_level_error_and_auto_share(corpus):
    exact = _maker(corpus, level_error_db=0.0, leak_db=[-200.0, -200.0], auto_share=0.0)
    off = _maker(corpus, level_error_db=6.0, leak_db=[-200.0, -200.0], auto_share=0.0)
    errors = [10 * np.log10(np.mean(off.train_example(i)[2]) / np.mean(exact.train_example(i)[2])) for i in range(6)]
    assert max(abs(e) for e in errors) <= 6.0 + 1e-3 and max(abs(e) for e in errors) > 0.5
    auto = _maker(corpus, auto_share=1.0)  # smoothed as the restorer smooths it
    noisy, _, power = auto.train_example(2)
    raw = noise_print.auto_noise_power(noisy)[0]
    np.testing.assert_allclose(power, noise_print.smooth_over_frequency(raw, noise_print.NO_PRINT_SMOOTH_BINS), rtol=1e-5)
    assert not np.allclose(power, raw, rtol=0.05)
    unsmoothed = _maker(corpus, auto_share=1.0, auto_smooth_bins=0)
    noisy, _, power = unsmoothed.train_example(2)
    np.testing.assert_allclose(power, noise_print.auto_noise_power(noisy)[0], rtol=1e-5)


def test_print_settings_are_checked(corpus):
    with pytest.raises(ValueError, match="train.noise_print.seconds"):
        _maker(corpus, seconds=[0.2, 1.0])
    with pytest.raises(ValueError, match="auto_share"):
        _maker(corpus, auto_share=1.5)
    with pytest.raises(ValueError, match="auto_smooth_bins"):
        _maker(corpus, auto_smooth_bins=4)


def test_validation_set_of_a_conditioned_run_has_a_power_per_item(corpus):
    dset = {"categories": {c: {"dirs": [str(corpus[c])], "weight": 1.0} for c in ("speech", "effects", "music")},
            "validation_fraction": 0.25}  # fmt: skip
    noise = degradations.load_noise_config("synthetic")
    cfg = {"sample_rate": SR, "n_fft": 2048, "hop": 512, "seconds": [1.0, 1.5]}
    val = dataset_loader.make_validation_set(dset, noise, SR, 4096, num_items=3, print_cfg=cfg)
    assert val["noise_power"].shape == (3, 1025) and np.isfinite(val["noise_power"]).all()
    plain = dataset_loader.make_validation_set(dset, noise, SR, 4096, num_items=3)
    assert "noise_power" not in plain


def test_trainer_fine_tunes_a_conditioned_model_from_an_unconditioned_one(corpus, tmp_path, micro_checkpoint):
    from hydra import compose, initialize_config_dir

    import trainer as trainer_module

    base = [
        "model=micro", "noise=synthetic",
        *[f"dset.categories.{c}.dirs=[{corpus[c]}]" for c in ("speech", "effects", "music")],
        "dset.validation_fraction=0.25", "dset.cache_mb=64", "train.segment_frames=16", "train.validation_items=4",
        "train.validation_seconds=0.5", "train.validation_batch=4", "train.precision=float32",
        "train.schedule.warmup_steps=0", "train.schedule.name=constant", "batch_size=2", "epochs=1",
        "steps_per_epoch=2", "train.checkpoint_every=1000", "train.noise_print.seconds=[1.0,1.5]",
    ]  # fmt: skip
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cond_cfg = compose("conf", overrides=[*base, "model.conditioning=noise_psd", "epochs=2"])
    tr = trainer_module.Trainer(cond_cfg, tmp_path / "cond")
    assert tr.initialise_from(micro_checkpoint, step=2) == 2  # the unconditioned micro model
    row = tr.fit(quiet=True)
    assert row["step"] == 4 and np.isfinite(row["val_si_sdr_i"])
    saved = json.loads((tmp_path / "cond" / "last" / "config.json").read_text())
    assert saved["conditioning"] == "noise_psd"
    model, _ = unet.load_denoiser(tmp_path / "cond" / "last")
    assert len(model.inputs) == 2
    # the classical path grows from that run, and trains: the mask moves from its start
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        gain_cfg = compose("conf", overrides=[*base, "model.conditioning=noise_psd_gain", "epochs=3",
                                                   "train.precision=mixed_bfloat16"])
    tr = trainer_module.Trainer(gain_cfg, tmp_path / "gain")
    assert tr.initialise_from(tmp_path / "cond" / "last", step=4) == 4
    row = tr.fit(quiet=True)
    assert row["step"] == 6 and np.isfinite(row["val_si_sdr_i"])
    blend = tr.model.get_layer("s2_blend").get_weights()[1]
    assert blend[0] * unet.BLEND_LOGIT_SCALE != pytest.approx(unet.BLEND_START_LOGIT, abs=1e-6)
    assert json.loads((tmp_path / "gain" / "last" / "config.json").read_text())["conditioning"] == "noise_psd_gain"
    # told the median too: the examples carry [2, bins], and the run records it
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        median_cfg = compose("conf", overrides=[*base, "model.conditioning=noise_psd_gain", "epochs=4",
                                                     "model.print_statistics=mean_median"])
    tr = trainer_module.Trainer(median_cfg, tmp_path / "median")
    assert tr.initialise_from(tmp_path / "gain" / "last", step=6) == 6
    row = tr.fit(quiet=True)
    assert row["step"] == 8 and np.isfinite(row["val_si_sdr_i"])
    assert json.loads((tmp_path / "median" / "last" / "config.json").read_text())["print_statistics"] == "mean_median"
    assert tuple(unet.load_denoiser(tmp_path / "median" / "last")[0].inputs[1].shape) == (None, 2, 1025)


# --------------------------------------------------------------------------- restoring


def _programme(seconds: float, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    tone = 0.2 * np.sin(2 * np.pi * 220 * t) * ((t % 2.0) < 1.4)
    return (tone + 0.005 * np.random.default_rng(seed).standard_normal(len(t))).astype(np.float32)


def _run(capsys, **overrides) -> tuple[int, list[str]]:
    cfg = OmegaConf.create(vars(configs.InferenceConfig()))
    cfg.quiet = True
    for key, value in overrides.items():
        cfg[key] = value
    code = inference.run(cfg)
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line.strip()]


def test_array_api_takes_a_print_and_refuses_it_for_an_unconditioned_model(conditioned_checkpoint, micro_checkpoint):
    model, cfg = inference.load_model(conditioned_checkpoint)
    audio = _programme(3.0)
    hiss = (0.005 * np.random.default_rng(9).standard_normal(2 * 48000)).astype(np.float32)
    told = inference.denoise_array(model, cfg, audio, SR, noise_print=hiss[:, None].repeat(2, 1), batch_segments=1)
    plain = inference.denoise_array(model, cfg, audio, SR, batch_segments=1)
    assert told.shape == audio.shape and np.isfinite(told).all()
    assert np.abs(told - plain).max() > 1e-6  # the print changes what the model does
    restorer = inference.Restorer(model, cfg)
    restorer.set_noise_print(hiss, 48000)  # resampled to the model rate
    assert restorer.noise_power.shape == (1025,)
    with pytest.raises(noise_print.NoisePrintError, match="digital silence"):
        restorer.set_noise_print(np.zeros(SR, np.float32), SR)
    plain_model, plain_cfg = inference.load_model(micro_checkpoint)
    with pytest.raises(ValueError, match="does not take a noise print"):
        inference.denoise_array(plain_model, plain_cfg, audio, SR, noise_print=hiss)


def test_the_python_api_runs_the_checks_of_the_command_line(micro_checkpoint, conditioned_checkpoint):
    import loading

    clean = _programme(6.0)
    noise = (0.03 * np.random.default_rng(5).standard_normal(len(clean))).astype(np.float32)
    stereo = np.stack([clean + noise, clean + noise], axis=1)
    heard = (0.03 * np.random.default_rng(6).standard_normal(4 * SR)).astype(np.float32)
    restorer = inference.Restorer.from_pretrained(micro_checkpoint, batch_segments=1)
    # the untrained model leaves the hiss in: the classical check hands the audio to LSA, as the command line does
    restored = restorer.restore(stereo, SR, noise_print=heard, classical_check=True)
    assert restored.shape == stereo.shape
    assert len(restorer.decisions) == 1 and restorer.decisions[0].endswith("the classical estimator restores this file")
    restorer.tell(loading.Told(classical=heard))
    np.testing.assert_allclose(restored, restorer.denoise_array(stereo, SR), atol=1e-6)
    restorer.tell(loading.Told())
    assert restorer.classical_print is None  # restore() left the restorer as it was
    with pytest.raises(ValueError, match="does not take a noise print.*classical_check=True"):
        restorer.restore(stereo, SR, noise_print=heard)
    with pytest.raises(ValueError, match="needs a noise print"):
        restorer.restore(stereo, SR, classical_check=True)
    # a conditioned model's held-out check: the print used or not, as noise_print.held_out_check decides
    # (a fixed classical share and no post-filter: the share check's choice and the post-filter check have their own tests)
    conditioned = inference.Restorer.from_pretrained(conditioned_checkpoint, batch_segments=1, classical_blend=0.25,
                                                     postfilter=0.0)  # fmt: skip
    checked = conditioned.restore(clean + noise, SR, noise_print=heard, noise_print_check=True)
    (line,) = conditioned.decisions
    assert line.startswith("audio: held-out check: ")
    told = conditioned.restore(clean + noise, SR, noise_print=heard)
    untold = conditioned.restore(clean + noise, SR)
    assert conditioned.decisions == [] and np.abs(told - untold).max() > 1e-5
    np.testing.assert_allclose(checked, told if "the print is used" in line else untold, atol=1e-6)


def test_cli_restores_with_each_kind_of_print_and_reports_the_check(tmp_path, conditioned_checkpoint, capsys, caplog):
    src = tmp_path / "reel.wav"
    sf.write(src, _programme(6.0), SR, subtype="PCM_16")
    hiss = tmp_path / "print.wav"
    sf.write(hiss, (0.005 * np.random.default_rng(4).standard_normal(3 * SR)).astype(np.float32), SR)
    caplog.set_level("INFO", logger="inference")
    for value, expected in [(str(hiss), "held-out check"), ("1.5-3.0", "too short to hold part of it out"),
                            ("auto", "auto noise print: 1."), ("none", None)]:  # fmt: skip
        caplog.clear()
        code, err = _run(capsys, audio=str(src), checkpoint=str(conditioned_checkpoint), noise_print=value,
                         overwrite=True, quiet=False)  # fmt: skip
        assert code == 0, (value, err)
        assert (tmp_path / "reel_denoised_s10.wav").is_file()
        if expected:
            assert expected in caplog.text, (value, caplog.text)
    # a recording without pauses: the model is told its quietest second all the same, and the
    # command warns where no check can judge it (too short to hold part out, or the check off)
    t = np.arange(4 * SR) / SR
    sf.write(src, (0.2 * np.sin(2 * np.pi * 220 * t) + 0.005 * np.random.default_rng(1).standard_normal(len(t))), SR)
    for check in (True, False):
        code, err = _run(capsys, audio=str(src), checkpoint=str(conditioned_checkpoint), overwrite=True, noise_print_check=check)
        why = "too short to hold part of them out" if check else "noise_print_check=false"
        assert code == 0 and any("may hold programme; the model is told them unchecked" in line and why in line
                                 for line in err), err  # fmt: skip
    # the classical check does not use such a print: the model restores without one
    code, err = _run(capsys, audio=str(src), checkpoint=str(conditioned_checkpoint), overwrite=True, classical_check=True)
    assert code == 0 and any("auto found no pauses" in line and "without a print" in line for line in err), err


def test_cli_bad_prints_are_one_line_errors_and_leave_nothing(tmp_path, conditioned_checkpoint, micro_checkpoint, capsys):
    src = tmp_path / "reel.wav"
    sf.write(src, _programme(3.0), SR)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(2 * SR, np.float32), SR)
    short = tmp_path / "short.wav"
    sf.write(short, _programme(0.5), SR)
    ck = str(conditioned_checkpoint)
    for overrides, code_expected, problem in [
        ({"noise_print": str(silent)}, 2, "digital silence"),
        ({"noise_print": str(short)}, 2, "at least 1 s"),
        ({"noise_print": "5-2"}, 2, "START < END"),
        ({"noise_print": str(tmp_path / "nope.wav")}, 2, "not a file"),
        ({"noise_print": "2-9"}, 1, "outside the file"),
        ({"noise_print": "auto", "checkpoint": str(micro_checkpoint)}, 2, "does not take a noise print"),
    ]:
        code, err = _run(capsys, audio=str(src), **{"checkpoint": ck, **overrides})
        assert code == code_expected, (overrides, err)
        assert len(err) == 1 and err[0].startswith("error: ") and problem in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reel.wav", "short.wav", "silent.wav"]
    assert sorted(p.name for p in Path(conditioned_checkpoint).iterdir()) == ["config.json", "model.weights.h5"]


def test_classical_check_restores_with_lsa_where_the_model_does_worse(tmp_path, micro_checkpoint, capsys, caplog):
    """The untrained micro model cannot remove hiss: given a print, the check hands the file to
    LSA, whose restoration is written as the model's would be (both files, strength applied)."""
    import baselines
    import metrics

    clean = _programme(6.0)
    noise = (0.03 * np.random.default_rng(5).standard_normal(len(clean))).astype(np.float32)
    src = tmp_path / "reel.wav"
    sf.write(src, clean + noise, SR, subtype="FLOAT")
    heard = tmp_path / "print.wav"
    sf.write(heard, (0.03 * np.random.default_rng(6).standard_normal(4 * SR)).astype(np.float32), SR, subtype="FLOAT")
    caplog.set_level("INFO", logger="inference")
    code, err = _run(capsys, audio=str(src), checkpoint=str(micro_checkpoint), noise_print=str(heard),
                     classical_check=True, quiet=False)  # fmt: skip
    assert code == 0, err
    assert "classical check" in caplog.text and "the classical estimator restores this file" in caplog.text
    restored, _ = sf.read(tmp_path / "reel_denoised_s10.wav", dtype="float32")
    residual, _ = sf.read(tmp_path / "reel_residual_s10.wav", dtype="float32")
    np.testing.assert_allclose(restored + residual, clean + noise, atol=1e-5)
    whole = baselines.ephraim_malah_lsa(clean + noise, SR, noise_print=sf.read(heard, dtype="float32")[0])
    gain = metrics.si_sdr(restored, clean) - metrics.si_sdr(clean + noise, clean)
    assert gain > 5.0 and gain > metrics.si_sdr(whole, clean) - metrics.si_sdr(clean + noise, clean) - 1.0
    # the model alone (no check) leaves the hiss in
    code, err = _run(capsys, audio=str(src), checkpoint=str(micro_checkpoint), overwrite=True)
    assert code == 0, err
    plain, _ = sf.read(tmp_path / "reel_denoised_s10.wav", dtype="float32")
    assert metrics.si_sdr(plain, clean) < metrics.si_sdr(restored, clean) - 3.0
    # null is auto with the check on; a print without the check, and the check without a print, are refused
    code, err = _run(capsys, audio=str(src), checkpoint=str(micro_checkpoint), classical_check=True, overwrite=True,
                     quiet=False)  # fmt: skip
    assert code == 0 and "auto noise print" in caplog.text, err
    for overrides, problem in [({"noise_print": str(heard)}, "inference.classical_check=true"),
                               ({"noise_print": "none", "classical_check": True}, "needs a noise print")]:  # fmt: skip
        code, err = _run(capsys, audio=str(src), checkpoint=str(micro_checkpoint), overwrite=True, **overrides)
        assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and problem in err[0], err


def test_restorer_tell_switches_between_model_and_classical(micro_checkpoint):
    import loading

    model, cfg = inference.load_model(micro_checkpoint)
    restorer = inference.Restorer(model, cfg, batch_segments=1)
    audio = _programme(3.0)
    heard = (0.01 * np.random.default_rng(2).standard_normal(2 * SR)).astype(np.float32)
    by_model = restorer.denoise_array(audio, SR)
    restorer.tell(loading.Told(classical=heard))
    by_lsa = restorer.denoise_array(audio, SR)
    assert np.abs(by_lsa - by_model).max() > 1e-3
    # the held-out checks always run the model, whatever the restorer was told
    np.testing.assert_array_equal(restorer.restore_told(audio, None), by_model)
    np.testing.assert_array_equal(restorer.denoise_array(audio, SR), by_lsa)
    restorer.tell(loading.Told())
    np.testing.assert_array_equal(restorer.denoise_array(audio, SR), by_model)


# --------------------------------------------------------------------------- evaluation with prints


def test_sample_with_print_gives_another_stretch_of_the_same_noise_at_the_same_scale(tmp_path):
    folder = tmp_path / "noise"
    folder.mkdir()
    # a ramp: every stretch of it is a straight line, so contiguity and scale are visible
    sf.write(folder / "long.wav", np.linspace(0.1, 0.9, 5 * SR).astype(np.float32), SR, subtype="FLOAT")
    sf.write(folder / "short.wav", (0.05 * np.random.default_rng(0).standard_normal(SR)).astype(np.float32), SR)
    cfg = {**degradations.load_noise_config("mixed"), "recorded_share": 1.0, "recorded_dirs": [str(folder)],
           "recorded_validation_fraction": 0.0}  # fmt: skip
    source = degradations.NoiseSource(cfg, SR)
    for seed in range(4):  # only the long file holds 2 s + 1.5 s without overlap: it is always chosen
        noise, heard, label = source.sample_with_print(2 * SR, int(1.5 * SR), np.random.default_rng(seed))
        assert label == "recorded" and noise.shape == (2 * SR,) and heard.shape == (int(1.5 * SR),)
        assert np.sqrt(np.mean(noise.astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-4)
        both = np.concatenate([noise, heard]).astype(np.float64)
        # one straight line through noise and print: the print continues the noise, same scale
        line = np.polyval(np.polyfit(np.arange(len(both)), both, 1), np.arange(len(both)))
        assert np.max(np.abs(both - line)) < 1e-5 * np.max(np.abs(both))
    synthetic = degradations.NoiseSource(degradations.load_noise_config("film"), SR)
    noise, heard, label = synthetic.sample_with_print(SR, SR, np.random.default_rng(1))
    assert label.startswith("film") and not np.allclose(noise, heard)


def test_evaluate_items_carry_a_print_of_their_noise_at_its_level(corpus):
    from hydra import compose, initialize_config_dir

    import evaluate

    overrides = [*[f"dset.categories.{c}.dirs=[{corpus[c]}]" for c in ("speech", "effects", "music")],
                 "dset.validation_fraction=0.25", "evaluate.items_per_cell=1", "evaluate.families=[film,tape]",
                 "evaluate.snr_db=[5]", "evaluate.seconds=1.0", "evaluate.print_seconds=1.5"]  # fmt: skip
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("conf", overrides=overrides)
        plain = compose("conf", overrides=[*overrides, "evaluate.print_seconds=0"])
    items = evaluate.build_test_set(cfg, SR)
    assert len(items) == 6 and all(item["print"].shape == (int(1.5 * SR),) for item in items)
    for item in items:
        noise = item["noisy"] - item["clean"]
        level_db = 10 * np.log10(np.mean(item["print"].astype(np.float64) ** 2) / np.mean(noise.astype(np.float64) ** 2))
        assert abs(level_db) < 3.0, level_db  # the same noise, scaled as the mixed stretch
    assert "print" not in evaluate.build_test_set(plain, SR)[0]


def test_model_code_calls_no_tensorflow_so_it_builds_under_jax():
    """unet.py uses keras.ops only, and what it imports from stft.py needs no TensorFlow: the
    same model builds under Keras's JAX backend (docs/ARCHITECTURE.md has the check run)."""
    import ast

    for name, allowed_inside_functions in (("unet.py", False), ("stft.py", True)):
        tree = ast.parse((REPO / name).read_text())
        for node in ast.walk(tree):
            imported = []
            if isinstance(node, ast.Import):
                imported = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                imported = [node.module or ""]
            if any(m.split(".")[0] == "tensorflow" for m in imported):
                assert allowed_inside_functions and node not in tree.body, f"{name}:{node.lineno} imports TensorFlow"
        if name == "unet.py":
            names = {n.value.id for n in ast.walk(tree) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)}
            assert "tf" not in names


def test_evaluate_conditioned_checked_restores_as_the_held_out_check_decides(conditioned_checkpoint):
    import baselines
    import evaluate
    import noise_print

    noisy = _programme(4.0) + (0.02 * np.random.default_rng(3).standard_normal(4 * SR)).astype(np.float32)
    heard = (0.02 * np.random.default_rng(4).standard_normal(3 * SR)).astype(np.float32)
    # a fixed classical share, which the check tests the print with (the share check has its own test)
    checked = evaluate.model_system(conditioned_checkpoint, 5.0, 0.5, told="held_out", classical_blend=0.25)
    told = evaluate.model_system(conditioned_checkpoint, 5.0, 0.5, told="print", classical_blend=0.25)
    model, cfg = inference.load_model(conditioned_checkpoint)
    restorer = inference.Restorer(model, cfg, 1.0, 5.0, 0.5, batch_segments=1)
    decision = noise_print.held_out_check(restorer.restore_told, noisy, heard, SR, restorer.n_fft, restorer.hop_length,
                                          reference=noise_print.GIVEN_CHECK_REFERENCE,
                                          classical=lambda mix, fit: baselines.ephraim_malah_lsa(mix, SR, noise_print=fit),
                                          share=0.25)  # fmt: skip
    assert decision.share == 0.25
    assert decision is not None
    untold = restorer.denoise_array(noisy, SR)
    with_print = told(noisy, heard, SR)
    assert np.abs(with_print - untold).max() > 1e-4  # the print changes the restoration, so the test can tell
    np.testing.assert_allclose(checked(noisy, heard, SR), with_print if decision.use_print else untold, atol=1e-6)
    # too short a print to hold part out: used unchecked
    short = heard[: int(1.2 * SR)]
    np.testing.assert_allclose(checked(noisy, short, SR), told(noisy, short, SR), atol=1e-6)


def test_evaluate_conditioned_auto_print_restores_as_the_command_does_with_auto(tmp_path, conditioned_checkpoint):
    import evaluate
    import loading

    noise = lambda n, seed: (0.02 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)  # noqa: E731
    paused = _programme(6.0) + noise(6 * SR, 5)  # the tone stops 0.6 s in every 2 s: auto finds the noise
    steady = (0.2 * np.sin(2 * np.pi * 220 * np.arange(6 * SR) / SR)).astype(np.float32) + noise(6 * SR, 6)
    model, cfg = inference.load_model(conditioned_checkpoint)
    for check in (False, True):
        system = evaluate.model_system(conditioned_checkpoint, 5.0, 0.5, told="auto_print", check=check)
        restorer = inference.Restorer(model, cfg, 1.0, 5.0, 0.5, batch_segments=1)
        for name, noisy in (("paused", paused), ("steady", steady)):
            src = tmp_path / f"{name}.wav"
            sf.write(src, noisy, SR, subtype="FLOAT")
            told, info, warns = loading.file_noise_power(restorer, noise_print.parse_spec("auto"), src, None, check=check)
            # each is told its auto print unless the held-out check refuses it
            refused = any("does not help" in line for line in info)
            assert (told.power is None) is refused
            # the steady one has no pauses: said so where no check judges its print (1.9 s: one can)
            assert (name == "steady" and not check) is any("may hold programme" in w for w in warns)
            restorer.tell(told)
            np.testing.assert_allclose(system(noisy, SR), restorer.denoise_array(noisy, SR), atol=1e-6)
    restorer.tell(loading.Told())
    untold = restorer.denoise_array(paused, SR)
    auto = evaluate.model_system(conditioned_checkpoint, 5.0, 0.5, told="auto_print", check=False)
    assert np.abs(auto(paused, SR) - untold).max() > 1e-4  # the auto print changes the restoration


# --------------------------------------------------------------------------- without a print: other models


def test_where_no_print_is_told_the_no_print_models_restore_with_their_mean(conditioned_checkpoint, micro_checkpoint):
    noisy = _programme(4.0) + (0.02 * np.random.default_rng(11).standard_normal(4 * SR)).astype(np.float32)
    hiss = (0.02 * np.random.default_rng(12).standard_normal(3 * SR)).astype(np.float32)
    model, cfg = inference.load_model(conditioned_checkpoint)
    plain_model, plain_cfg = inference.load_model(micro_checkpoint)
    alone = inference.Restorer(model, cfg, 1.0, 2.0, 0.5, batch_segments=1)
    plain = inference.Restorer(plain_model, plain_cfg, 1.0, 2.0, 0.5, batch_segments=1)
    own, other = alone.denoise_array(noisy, SR), plain.denoise_array(noisy, SR)
    assert np.abs(own - other).max() > 1e-3  # the two models differ, so the mean is neither
    # the other model instead of the checkpoint; the checkpoint and the other, averaged
    instead = inference.Restorer(model, cfg, 1.0, 2.0, 0.5, batch_segments=1, no_print_models=[(plain_model, plain_cfg)])
    both = inference.Restorer(model, cfg, 1.0, 2.0, 0.5, batch_segments=1,
                              no_print_models=[(model, cfg), (plain_model, plain_cfg)])  # fmt: skip
    assert instead.without_print and both.without_print
    np.testing.assert_allclose(instead.denoise_array(noisy, SR), other, atol=2e-5)
    np.testing.assert_allclose(both.denoise_array(noisy, SR), (own + other) / 2, atol=2e-5)
    # at half strength, half of the mean noise is removed
    with both._told(0.5):
        np.testing.assert_allclose(both.denoise_array(noisy, SR), noisy - 0.5 * (noisy - (own + other) / 2), atol=2e-5)
    # told a print, the checkpoint restores alone
    for restorer in (both, alone):
        restorer.set_noise_print(hiss, SR)
    assert not both.without_print
    np.testing.assert_allclose(both.denoise_array(noisy, SR), alone.denoise_array(noisy, SR), atol=1e-6)
    # the API loads them by folder; a model at another rate is refused
    loaded = inference.Restorer.from_pretrained(conditioned_checkpoint, "float32", batch_segments=1, segment_seconds=2.0,
                                                overlap_seconds=0.5, no_print_models=[conditioned_checkpoint, micro_checkpoint])  # fmt: skip
    np.testing.assert_allclose(loaded.restore(noisy, SR), (own + other) / 2, atol=2e-5)
    with pytest.raises(ValueError, match="22050 Hz"):
        inference.Restorer(model, cfg, no_print_models=[(plain_model, {**plain_cfg, "sample_rate": 22050})])


def test_cli_no_print_models_say_so_and_an_unusable_folder_is_refused(tmp_path, conditioned_checkpoint, micro_checkpoint,
                                                                     capsys, caplog):  # fmt: skip
    src = tmp_path / "reel.wav"
    sf.write(src, _programme(4.0, seed=3), SR, subtype="FLOAT")
    caplog.set_level("INFO", logger="inference")
    code, err = _run(capsys, audio=str(src), checkpoint=str(conditioned_checkpoint), noise_print="none",
                     no_print_models=[str(conditioned_checkpoint), str(micro_checkpoint)], precision="float32",
                     quiet=False)  # fmt: skip
    assert code == 0, err
    assert "reel.wav: restored without a print, by the mean of 2 models (inference.no_print_models)" in caplog.text
    restored, _ = sf.read(tmp_path / "reel_denoised_s10.wav", dtype="float32")
    audio = sf.read(src, dtype="float32")[0]
    own = inference.Restorer.from_pretrained(conditioned_checkpoint, "float32").restore(audio, SR)
    other = inference.Restorer.from_pretrained(micro_checkpoint, "float32").restore(audio, SR)
    np.testing.assert_allclose(restored, (own + other) / 2, atol=2e-5)
    # another STFT, or no model at all: refused in one line, nothing written
    other_cfg = {**micro_cfg("none"), "hop_length": 256}
    hop256 = unet.save_denoiser(unet.build_model(other_cfg), other_cfg, tmp_path / "hop256")
    (tmp_path / "reel_denoised_s10.wav").unlink()
    (tmp_path / "reel_residual_s10.wav").unlink()
    for folder, problem in [(hop256, "differ from the checkpoint's"), (tmp_path / "nope", "inference.no_print_models: ")]:
        code, err = _run(capsys, audio=str(src), checkpoint=str(conditioned_checkpoint), noise_print="none",
                         no_print_models=[str(folder)])  # fmt: skip
        assert code == 1 and len(err) == 1 and err[0].startswith("error: ") and problem in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["reel.wav"]


def test_evaluate_no_print_models_is_the_restorers_mean(conditioned_checkpoint, micro_checkpoint):
    import evaluate

    noisy = _programme(3.0, seed=5) + (0.02 * np.random.default_rng(6).standard_normal(3 * SR)).astype(np.float32)
    mean = evaluate.model_system(REPO / "models" / "default", 2.0, 0.5, no_print_models=[conditioned_checkpoint, micro_checkpoint])
    own = evaluate.model_system(conditioned_checkpoint, 2.0, 0.5, told="auto")(noisy, SR)
    other = evaluate.model_system(micro_checkpoint, 2.0, 0.5)(noisy, SR)
    np.testing.assert_allclose(mean(noisy, SR), (own + other) / 2, atol=2e-5)


# --------------------------------------------------------------------------- auto's print: other models beside it


def test_auto_models_restore_beside_the_model_told_autos_print_and_nowhere_else(tmp_path, conditioned_checkpoint,
                                                                                micro_checkpoint):  # fmt: skip
    import loading

    src = tmp_path / "reel.wav"
    noisy = _programme(6.0, seed=4) + (0.02 * np.random.default_rng(41).standard_normal(6 * SR)).astype(np.float32)
    sf.write(src, noisy, SR, subtype="FLOAT")
    model, cfg = inference.load_model(conditioned_checkpoint)
    plain_model, plain_cfg = inference.load_model(micro_checkpoint)
    alone = inference.Restorer(model, cfg, 1.0, 2.0, 0.5, batch_segments=1)
    beside = inference.Restorer(model, cfg, 1.0, 2.0, 0.5, batch_segments=1, auto_models=[(plain_model, plain_cfg)])
    other = inference.Restorer(plain_model, plain_cfg, 1.0, 2.0, 0.5, batch_segments=1).denoise_array(noisy, SR)
    told, _, _ = loading.file_noise_power(beside, noise_print.parse_spec("auto"), src, None, check=False)
    assert told.auto and told.power is not None and not told.unchecked
    for restorer in (alone, beside):
        restorer.tell(told)
    assert beside.auto_mixed and not alone.auto_mixed
    own = alone.denoise_array(noisy, SR)
    assert np.abs(own - other).max() > 1e-3  # the two differ, so the mix is neither
    share = loading.AUTO_MODELS_SHARE
    np.testing.assert_allclose(beside.denoise_array(noisy, SR), share * own + (1 - share) * other, atol=2e-5)
    # at half strength, half of the mixed noise is removed
    with beside._told(0.5):
        mixed = share * own + (1 - share) * other
        np.testing.assert_allclose(beside.denoise_array(noisy, SR), noisy - 0.5 * (noisy - mixed), atol=2e-5)
    # a given print, no print, and a power told for a check: the model alone
    hiss = (0.02 * np.random.default_rng(42).standard_normal(3 * SR)).astype(np.float32)
    given, _, _ = loading.file_noise_power(beside, noise_print.parse_spec("0-1.5"), src, None, check=False)
    assert not given.auto
    for told_other in (given, loading.Told()):
        for restorer in (alone, beside):
            restorer.tell(told_other)
        assert not beside.auto_mixed
        np.testing.assert_allclose(beside.denoise_array(noisy, SR), alone.denoise_array(noisy, SR), atol=1e-6)
    beside.set_noise_print(hiss, SR)
    assert not beside.auto_mixed
    # a print too short for the held-out check asked for (1 s of a 6-s reel): the auto models alone;
    # auto giving no print (too little quiet material, or refused by the check): half the model's
    # restoration without a print; no_print_models play no part in either
    short, _, _ = loading.file_noise_power(beside, noise_print.parse_spec("auto"), src, None, check=True)
    assert short.auto and short.unchecked and not noise_print.can_hold_out(int(1.2 * SR), SR)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(2 * SR, np.float32), SR, subtype="FLOAT")
    nothing, _, warns = loading.file_noise_power(beside, noise_print.parse_spec("auto"), silent, None, check=True)
    assert nothing.auto and nothing.power is None and not nothing.unchecked and "restoring without a print" in warns[0]
    alone.tell(loading.Told())
    untold = alone.denoise_array(noisy, SR)
    assert np.abs(untold - own).max() > 1e-4  # the print made a difference
    both = inference.Restorer(model, cfg, 1.0, 2.0, 0.5, batch_segments=1, auto_models=[(plain_model, plain_cfg)],
                              no_print_models=[(plain_model, plain_cfg)])  # fmt: skip
    for restorer in (beside, both):
        for decided, expected in ((short, other), (nothing, share * untold + (1 - share) * other)):
            restorer.tell(decided)
            assert restorer.auto_mixed and not restorer.without_print
            assert restorer.auto_share == (0.0 if decided.unchecked else share)
            np.testing.assert_allclose(restorer.denoise_array(noisy, SR), expected, atol=2e-5)
    both.tell(loading.Told())  # noise_print=none: no_print_models, not the auto models
    assert both.without_print and not both.auto_mixed
    beside.tell(told)
    with beside._told(1.0, told.power):  # as the checks restore: the model told the power, alone
        assert not beside.auto_mixed
    assert beside.auto_mixed
    # the API loads them by folder; an unconditioned checkpoint or a model at another rate is refused
    loaded = inference.Restorer.from_pretrained(conditioned_checkpoint, "float32", batch_segments=1, segment_seconds=2.0,
                                                overlap_seconds=0.5, auto_models=[micro_checkpoint])  # fmt: skip
    loaded.tell(told)
    np.testing.assert_allclose(loaded.denoise_array(noisy, SR), share * own + (1 - share) * other, atol=2e-5)
    # restore(noise_print="auto") finds the print as the command does, says so, and leaves the restorer as it was
    loaded.tell(loading.Told())
    via_api = loaded.restore(noisy, SR, noise_print="auto")
    np.testing.assert_allclose(via_api, share * own + (1 - share) * other, atol=2e-5)
    assert any("auto noise print" in line for line in loaded.decisions) and not loaded.auto_mixed
    assert loaded.decisions[-1] == ("audio: restored 50% by the model told auto's print, the rest by the mean of 1 model(s) "
                                    "without a print (inference.auto_models)")  # fmt: skip
    with pytest.raises(ValueError, match="an array or 'auto'"):
        loaded.restore(noisy, SR, noise_print="quiet")
    with pytest.raises(ValueError, match="does not take a noise print"):
        inference.Restorer(plain_model, plain_cfg).restore(noisy, SR, noise_print="auto")
    with pytest.raises(ValueError, match="not conditioned"):
        inference.Restorer(plain_model, plain_cfg, auto_models=[(model, cfg)])
    with pytest.raises(ValueError, match="22050 Hz"):
        inference.Restorer(model, cfg, auto_models=[(plain_model, {**plain_cfg, "sample_rate": 22050})])


def test_cli_auto_models_say_so_and_what_they_cannot_do_is_refused(tmp_path, conditioned_checkpoint, micro_checkpoint,
                                                                  capsys, caplog):  # fmt: skip
    src = tmp_path / "reel.wav"
    audio = _programme(6.0, seed=3) + (0.02 * np.random.default_rng(31).standard_normal(6 * SR)).astype(np.float32)
    sf.write(src, audio, SR, subtype="FLOAT")
    caplog.set_level("INFO", logger="inference")
    code, err = _run(capsys, audio=str(src), checkpoint=str(conditioned_checkpoint), noise_print="auto",
                     noise_print_check=False, auto_models=[str(micro_checkpoint)], precision="float32", quiet=False)  # fmt: skip
    assert code == 0, err
    assert "reel.wav: restored 50% by the model told auto's print, the rest by the mean of 1 model(s) without a print " \
           "(inference.auto_models)" in caplog.text
    restored, _ = sf.read(tmp_path / "reel_denoised_s10.wav", dtype="float32")
    ours = inference.Restorer.from_pretrained(conditioned_checkpoint, "float32")
    ours.tell(loading_auto_told(ours, src))
    other = inference.Restorer.from_pretrained(micro_checkpoint, "float32").restore(audio, SR)
    np.testing.assert_allclose(restored, 0.5 * ours.denoise_array(audio, SR) + 0.5 * other, atol=2e-5)
    for name in ("reel_denoised_s10.wav", "reel_residual_s10.wav"):
        (tmp_path / name).unlink()
    # with the held-out check on, a 6-s reel's auto print (1 s) is too short to test: the auto models alone
    code, err = _run(capsys, audio=str(src), checkpoint=str(conditioned_checkpoint), noise_print="auto",
                     auto_models=[str(micro_checkpoint)], precision="float32", quiet=False, overwrite=True)  # fmt: skip
    assert code == 0, err
    assert "reel.wav: auto's print is too short for the held-out check: restored by the mean of 1 model(s) without a " \
           "print (inference.auto_models)" in caplog.text
    restored, _ = sf.read(tmp_path / "reel_denoised_s10.wav", dtype="float32")
    np.testing.assert_allclose(restored, other, atol=2e-5)
    for name in ("reel_denoised_s10.wav", "reel_residual_s10.wav"):
        (tmp_path / name).unlink()
    # with a given print they do not restore, and the command says so
    code, err = _run(capsys, audio=str(src), checkpoint=str(conditioned_checkpoint), noise_print="0-1.5",
                     noise_print_check=False, auto_models=[str(micro_checkpoint)])  # fmt: skip
    assert code == 0 and any("inference.auto_models applies where the model is told auto's print" in line for line in err), err
    for name in ("reel_denoised_s10.wav", "reel_residual_s10.wav"):
        (tmp_path / name).unlink()
    # an unconditioned checkpoint (a usage error), a folder that is not a model: one line, nothing written
    for checkpoint, folder, problem, exit_code in [(micro_checkpoint, micro_checkpoint, "not conditioned", 2),
                                                   (conditioned_checkpoint, tmp_path / "nope", "inference.auto_models: ", 1)]:  # fmt: skip
        code, err = _run(capsys, audio=str(src), checkpoint=str(checkpoint), auto_models=[str(folder)])
        assert code == exit_code and len(err) == 1 and err[0].startswith("error: ") and problem in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["reel.wav"]


def loading_auto_told(restorer: inference.Restorer, src: Path):
    import loading

    return loading.file_noise_power(restorer, noise_print.parse_spec("auto"), src, None, check=False)[0]


def test_evaluate_conditioned_auto_print_takes_the_auto_models(tmp_path, conditioned_checkpoint, micro_checkpoint):
    import evaluate

    noisy = _programme(6.0, seed=6) + (0.02 * np.random.default_rng(61).standard_normal(6 * SR)).astype(np.float32)
    src = tmp_path / "item.wav"
    sf.write(src, noisy, SR, subtype="FLOAT")
    system = evaluate.model_system(conditioned_checkpoint, 2.0, 0.5, told="auto_print", check=False,
                                   auto_models=[micro_checkpoint])  # fmt: skip
    restorer = inference.Restorer.from_pretrained(conditioned_checkpoint, "float32", batch_segments=1, segment_seconds=2.0,
                                                  overlap_seconds=0.5, auto_models=[micro_checkpoint])  # fmt: skip
    restorer.tell(loading_auto_told(restorer, src))
    assert restorer.auto_mixed
    np.testing.assert_allclose(system(noisy, SR), restorer.denoise_array(noisy, SR), atol=1e-5)


# --------------------------------------------------------------------------- with a print: other models


@pytest.fixture(scope="module")
def second_conditioned_checkpoint(tmp_path_factory) -> Path:
    keras.utils.set_random_seed(8)  # not conditioned_checkpoint's weights: the mean is neither model
    cfg = micro_cfg("noise_psd_refine")
    return unet.save_denoiser(unet.build_model(cfg), cfg, tmp_path_factory.mktemp("conditioned_second"))


def test_print_models_join_the_models_restoration_told_the_same_print(conditioned_checkpoint, second_conditioned_checkpoint,
                                                                      micro_checkpoint):  # fmt: skip
    noisy = _programme(4.0, seed=2) + (0.02 * np.random.default_rng(21).standard_normal(4 * SR)).astype(np.float32)
    hiss = (0.02 * np.random.default_rng(22).standard_normal(3 * SR)).astype(np.float32)
    model, cfg = inference.load_model(conditioned_checkpoint)
    other_model, other_cfg = inference.load_model(second_conditioned_checkpoint)
    # the mean itself, without the post-filter (which is not linear in the restoration)
    alone = inference.Restorer(model, cfg, 1.0, 2.0, 0.5, batch_segments=1, classical_blend=0.0, postfilter=0.0)
    other = inference.Restorer(other_model, other_cfg, 1.0, 2.0, 0.5, batch_segments=1, classical_blend=0.0, postfilter=0.0)
    both = inference.Restorer(model, cfg, 1.0, 2.0, 0.5, batch_segments=1, classical_blend=0.0,
                              print_models=[(other_model, other_cfg)], postfilter=0.0)  # fmt: skip
    for restorer in (alone, other, both):
        restorer.set_noise_print(hiss, SR)
    own, theirs = alone.denoise_array(noisy, SR), other.denoise_array(noisy, SR)
    assert np.abs(own - theirs).max() > 1e-3
    np.testing.assert_allclose(both.denoise_array(noisy, SR), (own + theirs) / 2, atol=2e-5)
    # the classical share applies to the mean: (1 - s) mean + s LSA
    lsa = inference.Restorer(model, cfg, 1.0, 2.0, 0.5, batch_segments=1, classical_blend=1.0, postfilter=0.0)
    lsa.set_noise_print(hiss, SR)
    shared = inference.Restorer(model, cfg, 1.0, 2.0, 0.5, batch_segments=1, classical_blend=0.25,
                                print_models=[(other_model, other_cfg)], postfilter=0.0)  # fmt: skip
    shared.set_noise_print(hiss, SR)
    np.testing.assert_allclose(shared.denoise_array(noisy, SR), 0.75 * (own + theirs) / 2 + 0.25 * lsa.denoise_array(noisy, SR),
                               atol=3e-5)  # fmt: skip
    # without a print the model restores alone; the checks restore told a power both ways
    for restorer in (alone, other, both):
        restorer.set_noise_print(None)
    assert not both.joined
    np.testing.assert_allclose(both.denoise_array(noisy, SR), alone.denoise_array(noisy, SR), atol=1e-6)
    power = noise_print.noise_power(hiss, cfg["n_fft"], cfg["hop_length"])
    with both.joining(True):
        np.testing.assert_allclose(both.restore_told(noisy, power), (alone.restore_told(noisy, power) + other.restore_told(noisy, power)) / 2,
                                   atol=2e-5)  # fmt: skip
        np.testing.assert_allclose(both.restore_told(noisy, None), alone.restore_told(noisy, None), atol=1e-6)
    np.testing.assert_allclose(both.restore_told(noisy, power), alone.restore_told(noisy, power), atol=1e-6)
    # told as a file's decision: joined only where it says so
    both.tell(loading.Told(power=power, blend_print=hiss, joined=False))
    np.testing.assert_allclose(both.denoise_array(noisy, SR), own, atol=1e-6)
    both.tell(loading.Told(power=power, blend_print=hiss, joined=True))
    np.testing.assert_allclose(both.denoise_array(noisy, SR), (own + theirs) / 2, atol=2e-5)
    both.tell(loading.Told(joined=True))  # no print: nothing to join
    assert not both.joined
    # the API loads them by folder; the checkpoint listed again is not counted twice
    loaded = inference.Restorer.from_pretrained(conditioned_checkpoint, "float32", batch_segments=1, segment_seconds=2.0,
                                                overlap_seconds=0.5, classical_blend=0.0,
                                                print_models=[second_conditioned_checkpoint, conditioned_checkpoint], postfilter=0.0)  # fmt: skip
    assert len(loaded.print_models) == 1
    np.testing.assert_allclose(loaded.restore(noisy, SR, noise_print=hiss), (own + theirs) / 2, atol=2e-5)
    # an unconditioned model neither joins nor is joined
    plain_model, plain_cfg = inference.load_model(micro_checkpoint)
    with pytest.raises(ValueError, match="not conditioned"):
        inference.Restorer(plain_model, plain_cfg, print_models=[(other_model, other_cfg)])
    with pytest.raises(ValueError, match="a conditioned model at 44100 Hz expected"):
        inference.Restorer(model, cfg, print_models=[(plain_model, plain_cfg)])
    with pytest.raises(ValueError, match="'mean_median' statistics"):
        inference.Restorer(model, cfg, print_models=[(other_model, {**other_cfg, "print_statistics": "mean_median"})])
    with pytest.raises(unet.CheckpointError, match="not a conditioned model"):
        loading.load_print_models([micro_checkpoint], cfg, checkpoint=conditioned_checkpoint)
    with pytest.raises(unet.CheckpointError, match="is not conditioned"):
        loading.load_print_models([second_conditioned_checkpoint], plain_cfg, checkpoint=micro_checkpoint)
    assert loading.load_print_models([], plain_cfg, checkpoint=micro_checkpoint) == []


def _assert_share_checks_score(restorer: inference.Restorer, within, scores: dict, noisy: np.ndarray, hiss: np.ndarray,
                               blend: float | None) -> None:  # fmt: skip
    """The share check run by hand within each way (``within(way)``: a context of the restorer)
    scores what the restorer's check printed for that way (``scores[way]``)."""
    lsa = lambda mix, fit: baselines.ephraim_malah_lsa(mix, SR, noise_print=fit)  # noqa: E731
    grid = noise_print.SHARE_GRID if blend is None else (0.25,)
    for way, score in scores.items():
        with within(way):
            found = noise_print.share_check(restorer.restore_told, lsa, noisy, hiss, SR, 0.25, restorer.n_fft, restorer.hop_length,
                                            grid=grid)  # fmt: skip
        assert found.score == pytest.approx(score, abs=0.006), way


def test_print_models_check_decides_per_file_and_a_short_print_keeps_the_model_alone(conditioned_checkpoint,
                                                                                     second_conditioned_checkpoint):  # fmt: skip
    noisy = _programme(5.0, seed=4) + (0.02 * np.random.default_rng(41).standard_normal(5 * SR)).astype(np.float32)
    hiss = (0.02 * np.random.default_rng(42).standard_normal(4 * SR)).astype(np.float32)
    model, cfg = inference.load_model(conditioned_checkpoint)
    other_model, other_cfg = inference.load_model(second_conditioned_checkpoint)
    for blend in (None, 0.25):  # the share chosen per file, or fixed
        both = inference.Restorer(model, cfg, 1.0, 2.0, 0.5, batch_segments=1, classical_blend=blend,
                                  print_models=[(other_model, other_cfg)], postfilter=0.0)  # fmt: skip
        told, info = loading.told_for(both, noisy, hiss, True, False, "reel.wav")
        line = next(x for x in info if "print-models check" in x)
        mean_db, alone_db = (float(x.split(" dB")[0].split()[-1]) for x in line.split("models ", 1)[1].split(", the model alone "))
        assert told.joined is (mean_db > alone_db) or told.power is None, line
        assert line.endswith("the mean restores" if mean_db > alone_db else "the model alone restores")
        assert (told.share is not None) is (blend is None)
        # the same decision made by hand: the share check with the model alone and with the mean
        _assert_share_checks_score(both, both.joining, {False: alone_db, True: mean_db}, noisy, hiss, blend)
        # without the check, a given print is told to all; an auto print (blend=False) to the model alone
        assert loading.told_for(both, noisy, hiss, False, False, "reel.wav")[0].joined
        assert not loading.told_for(both, noisy, hiss, False, False, "reel.wav", blend=False)[0].joined
        # too short to hold part out: the model alone, and no print-models line
        short, info = loading.told_for(both, noisy, hiss[: int(1.2 * SR)], True, False, "reel.wav")
        assert not short.joined and not any("print-models check" in x for x in info)


def test_cli_print_models_say_so_and_an_unusable_folder_is_refused(tmp_path, conditioned_checkpoint, second_conditioned_checkpoint,
                                                                  micro_checkpoint, capsys, caplog):  # fmt: skip
    src, heard = tmp_path / "reel.wav", tmp_path / "hiss.wav"
    hiss = (0.02 * np.random.default_rng(31).standard_normal(3 * SR)).astype(np.float32)
    sf.write(src, _programme(4.0, seed=3) + 0.5 * np.resize(hiss, 4 * SR), SR, subtype="FLOAT")
    sf.write(heard, hiss, SR, subtype="FLOAT")
    caplog.set_level("INFO", logger="inference")
    code, err = _run(capsys, audio=str(src), checkpoint=str(conditioned_checkpoint), noise_print=str(heard), noise_print_check=False,
                     classical_blend=0.0, print_models=[str(second_conditioned_checkpoint)], precision="float32",
                     quiet=False, postfilter=0.0)  # fmt: skip
    assert code == 0, err
    assert "reel.wav: restored by the mean of 2 models told the same print (inference.print_models)" in caplog.text
    restored, _ = sf.read(tmp_path / "reel_denoised_s10.wav", dtype="float32")
    audio = sf.read(src, dtype="float32")[0]
    told = [inference.Restorer.from_pretrained(ck, "float32", classical_blend=0.0, postfilter=0.0).restore(audio, SR,
                                                                                                          noise_print=hiss)
            for ck in (conditioned_checkpoint, second_conditioned_checkpoint)]  # fmt: skip
    np.testing.assert_allclose(restored, (told[0] + told[1]) / 2, atol=2e-5)
    for name in ("reel_denoised_s10.wav", "reel_residual_s10.wav"):
        (tmp_path / name).unlink()
    # an unconditioned one, or no model at all: refused in one line, nothing written
    for folder, problem in [(micro_checkpoint, "not a conditioned model"), (tmp_path / "nope", "inference.print_models: ")]:
        code, err = _run(capsys, audio=str(src), checkpoint=str(conditioned_checkpoint), noise_print=str(heard),
                         print_models=[str(folder)], postfilter=0.0)  # fmt: skip
        assert code == 1 and len(err) == 1 and err[0].startswith("error: ") and problem in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["hiss.wav", "reel.wav"]


def test_evaluate_conditioned_systems_take_the_print_models(conditioned_checkpoint, second_conditioned_checkpoint):
    import evaluate

    noisy = _programme(3.0, seed=5) + (0.02 * np.random.default_rng(6).standard_normal(3 * SR)).astype(np.float32)
    hiss = (0.02 * np.random.default_rng(7).standard_normal(3 * SR)).astype(np.float32)
    told = [evaluate.model_system(ck, 2.0, 0.5, told="print", classical_blend=0.0, postfilter=0.0)(noisy, hiss, SR)
            for ck in (conditioned_checkpoint, second_conditioned_checkpoint)]  # fmt: skip
    mean = evaluate.model_system(conditioned_checkpoint, 2.0, 0.5, told="print", classical_blend=0.0,
                                 print_models=[second_conditioned_checkpoint], postfilter=0.0)  # fmt: skip
    np.testing.assert_allclose(mean(noisy, hiss, SR), (told[0] + told[1]) / 2, atol=2e-5)


def test_print_statistics_mean_median_adds_an_impulsiveness_channel_and_grows_from_the_mean():
    cfg = micro_cfg("noise_psd_refine")
    told_median = {**cfg, "print_statistics": "mean_median"}
    assert unet.input_channels(told_median) == unet.input_channels(cfg) + 1
    assert "print_statistics" not in unet.model_config(cfg)  # the default is not recorded: old folders read alike
    with pytest.raises(ValueError, match="print_statistics"):
        unet.model_config({**cfg, "print_statistics": "spread"})
    with pytest.raises(ValueError, match="needs a conditioned model"):
        unet.model_config({**micro_cfg("none"), "print_statistics": "mean_median"})
    keras.utils.set_random_seed(4)
    source, grown = unet.build_model(cfg), unet.build_model(told_median)
    assert [tuple(i.shape) for i in grown.inputs] == [(None, None, 1025, 2), (None, 2, 1025)]
    assert sorted(unet.adopt_weights(source, cfg, grown, told_median)) == ["s1_early", "s2_early"]
    with pytest.raises(ValueError, match="cannot start one told 'mean'"):
        unet.adopt_weights(grown, told_median, source, cfg)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 17, 1025, 2)).astype("float32")
    mean = rng.uniform(0.5, 2.0, (1, 1025)).astype("float32")
    steady = np.stack([mean, mean], axis=1)  # median = mean: no impulsiveness
    crackle = np.stack([mean, mean / 10.0], axis=1)  # 10 dB
    # it starts as the model it grew from, blind to the median until trained
    expected = unet.stage_outputs(source([x, mean]))[-1].numpy()
    for told in (steady, crackle):
        np.testing.assert_allclose(unet.stage_outputs(grown([x, told]))[-1].numpy(), expected, atol=1e-5)
    channels = unet.NoiseConditioning()(x, crackle).numpy()
    assert channels.shape == (1, 17, 1025, 3)
    np.testing.assert_allclose(channels[..., 2], 1.0, atol=1e-5)  # 10 dB / IMPULSIVENESS_SCALE_DB
    np.testing.assert_allclose(unet.NoiseConditioning()(x, steady).numpy()[..., 2], 0.0, atol=1e-6)
    np.testing.assert_allclose(channels[..., :2], unet.NoiseConditioning()(x, mean).numpy(), atol=1e-6)


def test_describe_noise_tells_crackle_from_hiss():
    rng = np.random.default_rng(6)
    hiss = 0.01 * rng.standard_normal(SR * 3)
    clicks = hiss.copy()
    clicks[rng.integers(0, len(clicks), 8)] += 5.0  # sparse clicks: nine frames in ten are hiss alone
    for audio, low, high in ((hiss, -1.0, 1.0), (clicks, 5.0, 40.0)):
        description = noise_print.noise_power(audio, 2048, 512, "mean_median")
        assert description.shape == (2, 1025) and description.dtype == np.float32
        np.testing.assert_allclose(description[0], noise_print.noise_power(audio, 2048, 512), rtol=1e-5)
        impulsive_db = 10 * np.log10(description[0, 5:1020] / description[1, 5:1020])
        assert low < np.median(impulsive_db) < high
    power, frames = noise_print.auto_noise_power(hiss, 2048, 512, statistics="mean_median")
    assert power.shape == (2, 1025) and frames > 0
    with pytest.raises(ValueError, match="print_statistics"):
        noise_print.describe_noise(np.ones((4, 1025)), "spread")


def test_cli_restores_with_a_model_told_the_median(tmp_path, capsys, caplog):
    cfg = {**micro_cfg("noise_psd_refine"), "print_statistics": "mean_median"}
    keras.utils.set_random_seed(8)
    checkpoint = unet.save_denoiser(unet.build_model(cfg), cfg, tmp_path / "median")
    src = tmp_path / "reel.wav"
    sf.write(src, _programme(6.0), SR, subtype="PCM_16")
    crackle = 0.005 * np.random.default_rng(4).standard_normal(3 * SR)
    crackle[np.random.default_rng(5).integers(0, len(crackle), 30)] += 0.5
    noise = tmp_path / "print.wav"
    sf.write(noise, crackle.astype(np.float32), SR)
    caplog.set_level("INFO", logger="inference")
    outputs = {}
    for value in (str(noise), "auto", "none"):
        caplog.clear()
        code, err = _run(capsys, audio=str(src), checkpoint=str(checkpoint), noise_print=value, overwrite=True, quiet=False)
        assert code == 0, (value, err)
        outputs[value], _ = sf.read(tmp_path / "reel_denoised_s10.wav")
        if value == str(noise):
            assert "held-out check" in caplog.text
    assert all(np.isfinite(o).all() and o.shape == (6 * SR,) for o in outputs.values())
    restorer = inference.Restorer.from_pretrained(checkpoint)
    restorer.set_noise_print(crackle, SR)
    assert restorer.noise_power.shape == (2, 1025)


# --------------------------------------------------------------------------- a share for the classical estimator


def test_classical_blend_mixes_the_classical_restoration_told_the_same_print(conditioned_checkpoint):
    import evaluate
    import loading

    noisy = _programme(4.0, seed=8) + (0.02 * np.random.default_rng(13).standard_normal(4 * SR)).astype(np.float32)
    hiss = (0.02 * np.random.default_rng(14).standard_normal(3 * SR)).astype(np.float32)
    model, cfg = inference.load_model(conditioned_checkpoint)

    def restorer(share: float) -> inference.Restorer:
        # the share alone: no post-filter, no half-rate pass (each has its own test)
        return inference.Restorer(model, cfg, 1.0, 2.0, 0.5, batch_segments=1, classical_blend=share, postfilter=0.0,
                                  half_rate_below_hz=0.0)  # fmt: skip

    alone, half, lsa = restorer(0.0), restorer(0.5), restorer(1.0)
    for r in (alone, half, lsa):
        r.set_noise_print(hiss, SR)
    own = alone.denoise_array(noisy, SR)
    classical = inference.Restorer(model, cfg, 1.0, 2.0, 0.5, batch_segments=1, postfilter=0.0)
    classical.tell(loading.Told(classical=hiss))
    by_lsa = classical.denoise_array(noisy, SR)
    assert np.abs(own - by_lsa).max() > 1e-3  # the two differ, so the mix is neither
    np.testing.assert_allclose(lsa.denoise_array(noisy, SR), by_lsa, atol=2e-5)
    mixed = half.denoise_array(noisy, SR)
    np.testing.assert_allclose(mixed, (own + by_lsa) / 2, atol=2e-5)
    # at half strength, half of the mixed noise estimate is removed
    with half._told(0.5):
        np.testing.assert_allclose(half.denoise_array(noisy, SR), noisy - 0.5 * (noisy - mixed), atol=2e-5)
    # the held-out check's restorations are the model's alone; without a print the model restores alone
    np.testing.assert_allclose(half.restore_told(noisy, half.noise_power), own, atol=1e-6)
    unprinted = restorer(0.0).denoise_array(noisy, SR)
    half.set_noise_print(None)
    np.testing.assert_allclose(half.denoise_array(noisy, SR), unprinted, atol=1e-6)
    # a print found by auto is told to the model without the classical share; a given one with it
    told = loading.Told(power=alone.noise_power, blend_print=hiss)
    half.tell(told)
    np.testing.assert_allclose(half.denoise_array(noisy, SR), mixed, atol=2e-5)
    half.tell(loading.Told(power=alone.noise_power))
    np.testing.assert_allclose(half.denoise_array(noisy, SR), own, atol=1e-6)
    # evaluate.py's conditioned_print system restores as the restorer does
    system = evaluate.model_system(conditioned_checkpoint, 2.0, 0.5, told="print", classical_blend=0.5, postfilter=0.0,
                                   half_rate_below_hz=0.0)  # fmt: skip
    np.testing.assert_allclose(system(noisy, hiss, SR), mixed, atol=2e-5)
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="classical_blend"):
            restorer(bad)


def test_auto_prints_carry_no_classical_share_and_given_ones_do(tmp_path, conditioned_checkpoint):
    import loading

    src = tmp_path / "reel.wav"
    sf.write(src, _programme(6.0), SR, subtype="FLOAT")
    restorer = inference.Restorer.from_pretrained(conditioned_checkpoint, "float32", classical_blend=0.5)
    for value, blended in [("auto", False), ("0-1.5", True), ("none", False)]:
        spec = noise_print.parse_spec(value)
        told, _, _ = loading.file_noise_power(restorer, spec, src, None, check=False)
        assert (told.blend_print is not None) is blended, value
        assert (told.power is not None) is (value != "none"), value


def test_share_check_chooses_the_classical_share_of_a_given_print_per_file(tmp_path, conditioned_checkpoint, monkeypatch,
                                                                          capsys, caplog):  # fmt: skip
    import baselines
    import evaluate
    import loading

    # the untrained model may not help with the print: the held-out check is told it does
    checked_shares, references = [], []

    def held_out_check(*args, **kwargs):
        checked_shares.append(kwargs["share"])
        references.append(kwargs["reference"])
        return noise_print.CheckResult(1.0, 0.0, kwargs["share"])

    monkeypatch.setattr(noise_print, "held_out_check", held_out_check)
    audio = _programme(5.0, seed=4) + (0.02 * np.random.default_rng(15).standard_normal(5 * SR)).astype(np.float32)
    hiss = (0.02 * np.random.default_rng(16).standard_normal(3 * SR)).astype(np.float32)
    chooses = inference.Restorer.from_pretrained(conditioned_checkpoint, "float32", segment_seconds=2.0, overlap_seconds=0.5,
                                                 postfilter=0.0)  # fmt: skip
    assert chooses.choose_share and chooses.classical_blend == loading.CLASSICAL_BLEND
    expected = noise_print.share_check(chooses.restore_told, lambda mix, fit: baselines.ephraim_malah_lsa(mix, SR, noise_print=fit),
                                       audio, hiss, SR, 0.25, chooses.n_fft, chooses.hop_length)  # fmt: skip
    assert expected.share != chooses.classical_blend  # a choice, not the default (the untrained model: all LSA)
    told, lines = loading.told_for(chooses, audio, hiss, True, False, "reel.wav")
    assert told.share == expected.share and told.blend_print is not None
    # the held-out check tested the print with the share it carries, and both lines say so
    assert checked_shares == [expected.share] and lines[0].startswith("reel.wav: held-out check")
    assert references == ["restored"]  # a given print's programme: the loudest passage restored without it
    assert lines[1] == f"reel.wav: {expected.describe()}" and len(lines) == 2
    chooses.tell(told)
    assert chooses.share == expected.share and chooses.blended == (expected.share > 0)
    fixed = inference.Restorer.from_pretrained(conditioned_checkpoint, "float32", segment_seconds=2.0, overlap_seconds=0.5,
                                               classical_blend=expected.share, postfilter=0.0)  # fmt: skip
    fixed.set_noise_print(hiss, SR)
    np.testing.assert_allclose(chooses.denoise_array(audio, SR), fixed.denoise_array(audio, SR), atol=2e-5)
    # the same through restore(), and evaluate.py's conditioned_checked system
    np.testing.assert_allclose(chooses.restore(audio, SR, noise_print=hiss, noise_print_check=True),
                               fixed.denoise_array(audio, SR), atol=2e-5)  # fmt: skip
    assert any(line.startswith("audio: share check") for line in chooses.decisions)
    system = evaluate.model_system(conditioned_checkpoint, 2.0, 0.5, told="held_out", postfilter=0.0)
    np.testing.assert_allclose(system(audio, hiss, SR), fixed.denoise_array(audio, SR), atol=2e-5)
    # a share asked for is kept; auto's print carries none; no check, no choice; too short a print keeps the default
    assert not fixed.choose_share
    told, lines = loading.told_for(fixed, audio, hiss, True, False, "reel.wav")
    assert told.share is None and not any("share check" in line for line in lines)
    assert checked_shares[-1] == expected.share  # a share asked for: the check tests the print with it
    told, lines = loading.told_for(fixed, audio, hiss, True, False, "reel.wav", blend=False)
    assert checked_shares[-1] == 0.0 and told.share is None  # auto's print (blend=False) carries no share
    assert references[-1] is None  # and keeps the check's own programme, the recording's loudest passage
    assert loading.told_for(chooses, audio, hiss, True, False, "reel.wav", blend=False)[0].share is None
    assert loading.told_for(chooses, audio, hiss, False, False, "reel.wav")[0].share is None
    monkeypatch.undo()  # the held-out check's own line says the print is too short
    told, lines = loading.told_for(chooses, audio, hiss[: int(1.2 * SR)], True, False, "reel.wav")
    assert told.share is None and told.blend_print is not None and lines == ["reel.wav: the print is too short to hold part of it out; used unchecked"]
    monkeypatch.setattr(noise_print, "held_out_check", held_out_check)
    chooses.set_noise_print(hiss, SR)  # a print set directly: the restorer's own share
    assert chooses.told_share is None and chooses.share == 0.25
    # the command line says what it chose
    src, heard = tmp_path / "reel.wav", tmp_path / "print.wav"
    sf.write(src, audio, SR, subtype="FLOAT")
    sf.write(heard, hiss, SR, subtype="FLOAT")
    caplog.set_level("INFO", logger="inference")
    code, err = _run(capsys, audio=str(src), checkpoint=str(conditioned_checkpoint), noise_print=str(heard), precision="float32",
                     segment_seconds=2.0, overlap_seconds=0.5, quiet=False, postfilter=0.0)  # fmt: skip
    assert code == 0, err
    assert f"reel.wav: {expected.describe()}" in caplog.text
    if expected.share > 0:
        assert (f"reel.wav: restored {1 - expected.share:.0%} by the model, {expected.share:.0%} by the classical estimator "
                "told the same print (the share check)") in caplog.text  # fmt: skip
    restored, _ = sf.read(tmp_path / "reel_denoised_s10.wav", dtype="float32")
    np.testing.assert_allclose(restored, fixed.denoise_array(audio, SR), atol=2e-5)


def _reel_and_print(tmp_path: Path, seed: int, noise_seed: int) -> tuple[Path, np.ndarray, Path, np.ndarray]:
    """``reel.wav`` (5 s of programme in hiss) and ``print.wav`` (3 s of other hiss) in ``tmp_path``: paths and audio."""
    src, heard = tmp_path / "reel.wav", tmp_path / "print.wav"
    audio = _programme(5.0, seed=seed) + (0.02 * np.random.default_rng(noise_seed).standard_normal(5 * SR)).astype(np.float32)
    hiss = (0.02 * np.random.default_rng(noise_seed + 1).standard_normal(3 * SR)).astype(np.float32)
    sf.write(src, audio, SR, subtype="FLOAT")
    sf.write(heard, hiss, SR, subtype="FLOAT")
    return src, audio, heard, hiss


def test_cli_classical_blend_says_so_and_refuses_what_it_cannot_do(tmp_path, conditioned_checkpoint, micro_checkpoint,
                                                                  capsys, caplog):  # fmt: skip
    src, audio, heard, hiss = _reel_and_print(tmp_path, 4, 15)
    caplog.set_level("INFO", logger="inference")
    code, err = _run(capsys, audio=str(src), checkpoint=str(conditioned_checkpoint), noise_print=str(heard),
                     noise_print_check=False, precision="float32", quiet=False)  # fmt: skip  (the default share)
    assert code == 0, err
    assert "reel.wav: restored 75% by the model, 25% by the classical estimator told the same print" in caplog.text
    restored, _ = sf.read(tmp_path / "reel_denoised_s10.wav", dtype="float32")
    expected = inference.Restorer.from_pretrained(conditioned_checkpoint, "float32", classical_blend=0.25)
    np.testing.assert_allclose(restored, expected.restore(audio, SR, noise_print=hiss), atol=2e-5)
    # auto: the model alone, and a warning that says so
    code, err = _run(capsys, audio=str(src), checkpoint=str(conditioned_checkpoint), noise_print="auto",
                     classical_blend=0.5, overwrite=True)  # fmt: skip
    assert code == 0 and any(line.startswith("warning: ") and "not to noise_print=auto" in line for line in err), err
    # out of range, or an unconditioned model: one line, exit 2, nothing written
    for f in tmp_path.glob("reel_*"):
        f.unlink()
    for overrides, problem in [({"classical_blend": 1.5}, "between 0.0 and 1.0"),
                               ({"classical_blend": 0.5, "checkpoint": str(micro_checkpoint), "noise_print": "none"},
                                "needs a conditioned model")]:  # fmt: skip
        code, err = _run(capsys, **{"audio": str(src), "checkpoint": str(conditioned_checkpoint), **overrides})
        assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and problem in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["print.wav", "reel.wav"]


def test_postfilter_filters_the_restoration_told_a_given_print_before_the_classical_share(conditioned_checkpoint):
    import baselines
    import evaluate
    import loading

    # one segment (1.5 s, segments of 2 s): the post-filter sees the whole restoration
    noisy = _programme(1.5, seed=9) + (0.02 * np.random.default_rng(15).standard_normal(int(1.5 * SR))).astype(np.float32)
    hiss = (0.02 * np.random.default_rng(16).standard_normal(3 * SR)).astype(np.float32)
    model, cfg = inference.load_model(conditioned_checkpoint)

    def restorer(over: float, share: float = 0.0) -> inference.Restorer:
        r = inference.Restorer(model, cfg, 1.0, 2.0, 0.5, batch_segments=1, classical_blend=share, postfilter=over,
                               half_rate_below_hz=0.0)  # the filters alone (the half-rate pass has its own test)
        r.set_noise_print(hiss, SR)
        return r

    plain, filtered = restorer(0.0), restorer(1.5)
    assert not plain.postfiltered and filtered.postfiltered
    own = plain.denoise_array(noisy, SR)
    # at twice the model's window and hop, the noise measured from the print at that resolution
    n_fft, hop = 2 * restorer(0.0).n_fft, 2 * restorer(0.0).hop_length
    assert baselines.POSTFILTER_RESOLUTION == 2
    filtered_only = baselines.wiener_postfilter(noisy, own, noise_print.noise_power(hiss, n_fft, hop), n_fft, hop, over=1.5)
    assert np.abs(filtered_only - own).max() > 1e-3  # the filter changes the restoration
    # then, last, the band below LOW_BAND_HZ through the long-window filter told the print
    long = baselines.LOW_BAND_RESOLUTION * plain.n_fft
    low_power = noise_print.noise_power(hiss, long, long // 4)

    def low_band(x: np.ndarray) -> np.ndarray:
        return baselines.low_band_wiener(noisy, x.astype(np.float32), low_power, SR, long)

    expected = low_band(filtered_only)
    assert np.abs(expected - filtered_only).max() > 1e-4  # the low band's filter changes it too
    np.testing.assert_allclose(filtered.denoise_array(noisy, SR), expected, atol=2e-4)
    # the classical share mixes LSA's restoration into the filtered one, before the low band
    by_lsa = restorer(0.0, 1.0).denoise_array(noisy, SR)
    np.testing.assert_allclose(restorer(1.5, 0.25).denoise_array(noisy, SR), low_band(0.75 * filtered_only + 0.25 * by_lsa),
                               atol=2e-4)  # fmt: skip
    # a print found by auto, or none, is not filtered
    filtered.tell(loading.Told(power=plain.noise_power))
    assert not filtered.postfiltered
    np.testing.assert_allclose(filtered.denoise_array(noisy, SR), own, atol=1e-6)
    filtered.tell(loading.Told(power=plain.noise_power, blend_print=hiss))
    assert filtered.postfiltered
    filtered.set_noise_print(None)
    assert not filtered.postfiltered
    # evaluate.py's conditioned_print system restores as the restorer does
    system = evaluate.model_system(conditioned_checkpoint, 2.0, 0.5, told="print", classical_blend=0.0, postfilter=1.5,
                                   half_rate_below_hz=0.0)  # fmt: skip
    np.testing.assert_allclose(system(noisy, hiss, SR), expected, atol=2e-4)
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="postfilter"):
            restorer(bad)


def test_the_checks_test_a_given_print_through_the_postfilter_and_autos_without(conditioned_checkpoint):
    import loading

    noisy = _programme(6.0, seed=10) + (0.02 * np.random.default_rng(17).standard_normal(6 * SR)).astype(np.float32)
    hiss = (0.02 * np.random.default_rng(18).standard_normal(4 * SR)).astype(np.float32)
    restorer = inference.Restorer.from_pretrained(conditioned_checkpoint, "float32", segment_seconds=2.0, overlap_seconds=0.5,
                                                  batch_segments=1, postfilter=1.5)  # fmt: skip
    seen = []
    told_restore = restorer.restore_told

    def spy(audio, power, print_audio=None):
        seen.append(restorer.filtering and power is not None and print_audio is not None)
        return told_restore(audio, power, print_audio)

    restorer.restore_told = spy
    for blend in (True, False):
        seen.clear()
        loading.told_for(restorer, noisy, hiss, True, False, "reel", blend=blend)
        assert seen and any(seen) is blend, (blend, seen)
        assert restorer.filtering is False  # as it was before the checks


def test_residual_over_print_db_is_the_power_taken_out_over_the_prints():
    import loading

    noisy = np.full(1000, 2.0, np.float32)
    assert loading.residual_over_print_db(noisy, noisy - 1.0, 0.5) == pytest.approx(10 * np.log10(2.0))
    assert loading.residual_over_print_db(noisy, noisy - 0.1, 1.0) == pytest.approx(-20.0)
    assert np.isfinite(loading.residual_over_print_db(noisy, noisy, 1.0))  # nothing taken out: very low, not -inf


def test_gated_postfilter_filters_the_segments_where_the_model_took_out_little_and_mixes_the_rest():
    import baselines
    import loading

    n_fft, hop = 256, 64  # the filter runs at twice these
    rng = np.random.default_rng(3)
    heard = (0.1 * rng.standard_normal(4000)).astype(np.float32)  # the print: power 0.01
    x = (0.3 * rng.standard_normal((3, 3000))).astype(np.float32)
    # the model takes out about the print's power from segment 0 (0 dB), 25 times it from 1 (+14 dB),
    # 1.6 times it from 2 (+2 dB, under the gate's 3)
    taken = np.stack([s * rng.standard_normal(3000) for s in (0.1, 0.5, 0.126)]).astype(np.float32)
    seen = []

    def beside(batch: np.ndarray) -> np.ndarray:
        seen.append(batch.copy())
        return np.full_like(batch, 0.05)

    gates = [loading.residual_over_print_db(row, row - t, float(np.mean(heard**2))) for row, t in zip(x, taken)]
    assert gates[0] < 1.0 and gates[1] > 12.0 and 1.0 < gates[2] < loading.AUTO_POSTFILTER_GATE_DB
    power = noise_print.noise_power(heard, 2 * n_fft, 2 * hop)

    def filtered(i: int) -> np.ndarray:
        return x[i] - baselines.wiener_postfilter(x[i], x[i] - taken[i], power, 2 * n_fft, 2 * hop, 1.5, input_share=0.5)

    assert loading.AUTO_POSTFILTER_INPUT_SHARE == 0.5
    fn = loading.gated_postfiltered_noise(lambda b: taken[: len(b)], heard, 1.5, n_fft, hop, beside, 0.5)
    noise = fn(x)
    assert noise.shape == x.shape and np.abs(filtered(0) - taken[0]).max() > 1e-3  # the filter changes segment 0
    np.testing.assert_allclose(noise[0], filtered(0), atol=1e-5)
    np.testing.assert_allclose(noise[2], filtered(2), atol=1e-5)
    np.testing.assert_allclose(noise[1], 0.5 * taken[1] + 0.5 * 0.05, atol=1e-6)
    assert len(seen) == 1 and np.array_equal(seen[0], x[1:2])  # the auto models run only where the gate fails
    # no auto models: the model's own estimate where the gate fails; a gate below every segment: none filtered
    np.testing.assert_allclose(loading.gated_postfiltered_noise(lambda b: taken, heard, 1.5, n_fft, hop)(x)[1], taken[1])
    closed = loading.gated_postfiltered_noise(lambda b: taken, heard, 1.5, n_fft, hop, beside, 0.5, gate_db=-10.0)(x)
    np.testing.assert_allclose(closed, 0.5 * taken + 0.5 * 0.05, atol=1e-6)


def test_low_band_noise_filters_each_segments_low_band_and_skips_a_print_shorter_than_its_frame():
    import baselines
    import loading

    n_fft, rate = 256, 16000
    long = baselines.LOW_BAND_RESOLUTION * n_fft
    rng = np.random.default_rng(8)
    t = np.arange(3 * long) / rate
    hum = (0.1 * np.sin(2 * np.pi * 50 * t)).astype(np.float32)
    x = np.stack([hum + (0.05 * rng.standard_normal(t.size)).astype(np.float32) for _ in range(2)])
    taken = (0.2 * x).astype(np.float32)  # a model that took out a fifth of everything
    heard = (0.1 * np.sin(2 * np.pi * 50 * np.arange(2 * long) / rate + 0.4)).astype(np.float32)
    power = noise_print.noise_power(heard, long, long // 4)
    noise = loading.low_band_noise(lambda b: taken[: len(b)], heard, n_fft, rate)(x)
    for i in range(2):
        expected = x[i] - baselines.low_band_wiener(x[i], x[i] - taken[i], power, rate, long)
        np.testing.assert_allclose(noise[i], expected, atol=1e-5)
    # the hum the model left is taken out below the band's edge
    assert np.sum((x - noise) ** 2) < 0.5 * np.sum((x - taken) ** 2)
    # a print shorter than one long frame: the model's estimate as it is
    model = lambda b: taken[: len(b)]  # noqa: E731
    assert loading.low_band_noise(model, heard[: long - 1], n_fft, rate) is model


def test_autos_checked_print_passes_the_gated_postfilter_and_no_other(conditioned_checkpoint, micro_checkpoint, monkeypatch):
    import baselines
    import loading

    # one segment (1.5 s, segments of 2 s): the gate and the filter see the whole restoration
    noisy = _programme(1.5, seed=12) + (0.02 * np.random.default_rng(21).standard_normal(int(1.5 * SR))).astype(np.float32)
    model, cfg = inference.load_model(conditioned_checkpoint)
    plain_model, plain_cfg = inference.load_model(micro_checkpoint)

    def restorer(over: float = 1.5) -> inference.Restorer:
        # the gated filter alone (the half-rate pass has its own test)
        return inference.Restorer(model, cfg, 1.0, 2.0, 0.5, batch_segments=1, postfilter=over,
                                  auto_models=[(plain_model, plain_cfg)], half_rate_below_hz=0.0)  # fmt: skip

    alone = inference.Restorer(model, cfg, 1.0, 2.0, 0.5, batch_segments=1, postfilter=0.0, half_rate_below_hz=0.0)
    other = inference.Restorer(plain_model, plain_cfg, 1.0, 2.0, 0.5, batch_segments=1).denoise_array(noisy, SR)
    n_fft, hop = 2 * alone.n_fft, 2 * alone.hop_length
    for level in (1.0, 0.01):  # a print as loud as what the model took out (the gate passes), and a far quieter one
        hiss = (level * np.random.default_rng(22).standard_normal(3 * SR)).astype(np.float32)
        power = noise_print.noise_power(hiss, alone.n_fft, alone.hop_length)
        alone.tell(loading.Told(power=power))
        own = alone.denoise_array(noisy, SR)
        hiss *= np.float32(np.sqrt(np.mean((noisy - own) ** 2) / np.mean(hiss**2)))  # scaled after: the model is told `power`
        gate = loading.residual_over_print_db(noisy, own, float(np.mean(hiss**2)))
        told = loading.Told(power=power, auto=True, auto_print=hiss)
        r = restorer()
        r.tell(told)
        assert r.auto_filtered and r.auto_mixed and not r.postfiltered
        if level == 1.0:
            assert abs(gate) < 0.1
            expected = baselines.wiener_postfilter(noisy, own, noise_print.noise_power(hiss, n_fft, hop), n_fft, hop, 1.5,
                                                   input_share=0.5)  # fmt: skip
            assert np.abs(expected - own).max() > 1e-3
            np.testing.assert_allclose(r.denoise_array(noisy, SR), expected, atol=2e-4)
        hiss_quiet = hiss * np.float32(0.1)  # the model took out 20 dB more than this print holds: mixed as before
        r.tell(loading.Told(power=power, auto=True, auto_print=hiss_quiet))
        np.testing.assert_allclose(r.denoise_array(noisy, SR), 0.5 * own + 0.5 * other, atol=2e-5)
    # off with the post-filter off, an unchecked or refused print, a given print, and within a check
    off = restorer(0.0)
    off.tell(told)
    assert not off.auto_filtered
    r = restorer()
    for decided in (loading.Told(power=power, auto=True, unchecked=True, auto_print=hiss), loading.Told(auto=True),
                    loading.Told(power=power, blend_print=hiss, auto_print=hiss)):  # fmt: skip
        r.tell(decided)
        assert not r.auto_filtered, decided
    r.tell(told)
    with r._told(1.0, power, hiss):
        assert not r.auto_filtered
    assert r.auto_filtered
    r.set_noise_print(hiss, SR)
    assert not r.auto_filtered
    # auto_told gives the filter auto's print only where the held-out check passed it
    long = np.tile(noisy, 12)  # 18 s: auto's quietest tenth is long enough to hold part of it out
    verdict = {"use": True}
    monkeypatch.setattr(noise_print, "held_out_check",
                        lambda *a, **k: noise_print.CheckResult(1.0 if verdict["use"] else -1.0, 0.0))  # fmt: skip
    for check, use in ((True, True), (True, False), (False, True)):
        verdict["use"] = use
        decided = loading.auto_told(r, long, check, False, Path("reel.wav"))[0]
        assert decided.auto and (decided.power is not None) is (use or not check)
        assert (decided.auto_print is not None) is (check and use), (check, use)
        if decided.auto_print is not None:
            assert len(decided.auto_print) >= 1.6 * SR and not decided.unchecked


def test_a_reel_of_15_s_with_one_pause_gets_a_print_its_check_can_judge(conditioned_checkpoint, monkeypatch):
    import loading

    model, cfg = inference.load_model(conditioned_checkpoint)
    r = inference.Restorer(model, cfg, 1.0, 2.0, 0.5, batch_segments=1)
    monkeypatch.setattr(noise_print, "held_out_check", lambda *a, **k: noise_print.CheckResult(1.0, 0.0))
    for seconds, checked in ((15.0, True), (10.0, False)):
        # the noise alone, swelling in, for the first half; then programme over it: the quietest
        # tenth is one run at the start, too short for the check where the recording is short
        t = np.arange(int(seconds * SR)) / SR
        noise = 0.003 * np.minimum(1.0 + t / 4.0, 3.0) * np.random.default_rng(5).standard_normal(len(t))
        reel = (noise + 0.3 * np.sin(2 * np.pi * 330 * t) * (t >= seconds / 2)).astype(np.float32)
        told, info, _ = loading.auto_told(r, reel, True, False, Path("reel.wav"))
        assert told.power is not None and told.unchecked is not checked, seconds
        assert (told.auto_print is not None) is checked
        least = noise_print.CHECKABLE_PRINT_SECONDS if checked else noise_print.MIN_PRINT_SECONDS
        assert f"at least {least:g} s" in info[0]


def test_cli_and_api_say_where_autos_print_passes_the_gated_postfilter(tmp_path, conditioned_checkpoint, capsys, caplog,
                                                                     monkeypatch):  # fmt: skip
    # 18 s: auto's quietest tenth is long enough for the held-out check, which is made to pass it here
    audio = _programme(18.0, seed=6) + (0.02 * np.random.default_rng(23).standard_normal(18 * SR)).astype(np.float32)
    src = tmp_path / "reel.wav"
    sf.write(src, audio, SR, subtype="FLOAT")
    monkeypatch.setattr(noise_print, "held_out_check", lambda *a, **k: noise_print.CheckResult(1.0, 0.0))
    caplog.set_level("INFO", logger="inference")
    line = ("reel.wav: where the model takes out at most 3 dB more than auto's print holds, a segment is the model's alone, "
            "post-filtered with the print's noise power weighted 1.5 times (inference.postfilter)")  # fmt: skip
    outputs = {}
    for over in (1.5, 0.0):
        caplog.clear()
        code, err = _run(capsys, audio=str(src), checkpoint=str(conditioned_checkpoint), noise_print="auto", postfilter=over,
                         precision="float32", quiet=False, overwrite=True)  # fmt: skip
        assert code == 0, err
        assert (line in caplog.text) is (over > 0), caplog.text
        outputs[over], _ = sf.read(tmp_path / "reel_denoised_s10.wav", dtype="float32")
        api = inference.Restorer.from_pretrained(conditioned_checkpoint, "float32", postfilter=over)
        np.testing.assert_allclose(outputs[over], api.restore(audio, SR, noise_print="auto", noise_print_check=True), atol=2e-5)
        assert (line.replace("reel.wav", "audio") in api.decisions) is (over > 0), api.decisions
    assert outputs[1.5].shape == audio.shape and np.isfinite(outputs[1.5]).all()


def test_cli_postfilter_says_so_and_refuses_a_negative_weight(tmp_path, conditioned_checkpoint, capsys, caplog):
    src, audio, heard, hiss = _reel_and_print(tmp_path, 5, 19)
    caplog.set_level("INFO", logger="inference")
    outputs = {}
    for over in (2.0, 0.0):
        caplog.clear()
        code, err = _run(capsys, audio=str(src), checkpoint=str(conditioned_checkpoint), noise_print=str(heard),
                         noise_print_check=False, classical_blend=0.0, postfilter=over, precision="float32", quiet=False,
                         overwrite=True)  # fmt: skip
        assert code == 0, err
        said = "reel.wav: the model's restoration post-filtered with the print's noise power weighted 2 times" in caplog.text
        assert said is (over > 0), caplog.text
        low = "reel.wav: below 150 Hz, a Wiener filter told the print in 8 times the model's window" in caplog.text
        assert low is (over > 0), caplog.text
        outputs[over], _ = sf.read(tmp_path / "reel_denoised_s10.wav", dtype="float32")
        expected = inference.Restorer.from_pretrained(conditioned_checkpoint, "float32", classical_blend=0.0, postfilter=over)
        np.testing.assert_allclose(outputs[over], expected.restore(audio, SR, noise_print=hiss), atol=2e-5)
    assert np.abs(outputs[2.0] - outputs[0.0]).max() > 1e-3
    for f in tmp_path.glob("reel_*"):
        f.unlink()
    code, err = _run(capsys, audio=str(src), checkpoint=str(conditioned_checkpoint), noise_print=str(heard), postfilter=-1.0)
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and "inference.postfilter" in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["print.wav", "reel.wav"]


def test_postfilter_check_decides_per_file_and_a_short_print_keeps_the_filter(conditioned_checkpoint):
    import loading

    noisy = _programme(5.0, seed=6) + (0.02 * np.random.default_rng(43).standard_normal(5 * SR)).astype(np.float32)
    hiss = (0.02 * np.random.default_rng(44).standard_normal(4 * SR)).astype(np.float32)
    model, cfg = inference.load_model(conditioned_checkpoint)
    for blend in (None, 0.25):  # the share chosen per file, or fixed
        restorer = inference.Restorer(model, cfg, 1.0, 2.0, 0.5, batch_segments=1, classical_blend=blend, postfilter=1.5)
        told, info = loading.told_for(restorer, noisy, hiss, True, False, "reel.wav")
        line = next(x for x in info if "post-filter check" in x)
        with_db, without_db = (float(x.split(" dB")[0].split()[-1]) for x in line.split("post-filter ", 2)[2].split(", without "))
        assert told.unfiltered is (without_db >= with_db) or told.power is None, line
        assert line.endswith("without it" if told.unfiltered else "with it")
        restorer.tell(told)
        assert restorer.postfiltered is (told.power is not None and not told.unfiltered)
        # the same decision made by hand: the share check with the post-filter and without
        _assert_share_checks_score(restorer, restorer.filtering_given, {True: with_db, False: without_db}, noisy, hiss, blend)
        # without the check a given print is filtered; auto's print is never, and has no such line
        assert not loading.told_for(restorer, noisy, hiss, False, False, "reel.wav")[0].unfiltered
        auto, info = loading.told_for(restorer, noisy, hiss, True, False, "reel.wav", blend=False)
        assert not any("post-filter check" in x for x in info)
        restorer.tell(auto)
        assert not restorer.postfiltered
        # too short to hold part out: filtered, and no post-filter line
        short, info = loading.told_for(restorer, noisy, hiss[: int(1.2 * SR)], True, False, "reel.wav")
        assert not short.unfiltered and not any("post-filter check" in x for x in info)
    # off: no check, nothing filtered
    off = inference.Restorer(model, cfg, 1.0, 2.0, 0.5, batch_segments=1, postfilter=0.0)
    told, info = loading.told_for(off, noisy, hiss, True, False, "reel.wav")
    assert not any("post-filter check" in x for x in info)
    off.tell(told)
    assert not off.postfiltered


# ------------------------------------------------------------------ the low band made again at half rate


def _tones(rate: int, seconds: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 60 * t)).astype(np.float32), (0.1 * np.sin(2 * np.pi * 2000 * t)).astype(np.float32)


def _band_power(x: np.ndarray, rate: int, lo: float, hi: float) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
    f = np.fft.rfftfreq(x.size, 1.0 / rate)
    return float(spectrum[(f >= lo) & (f < hi)].sum())


def test_half_rate_low_band_noise_takes_the_band_below_its_edge_from_the_half_rate_pass():
    rate = 16000
    hum, whistle = _tones(rate)
    x = np.stack([hum + whistle, 0.5 * (hum + whistle)])
    seen = []

    def everything(b: np.ndarray) -> np.ndarray:  # a pass that removes all it hears
        seen.append(b.shape)
        return b

    def nothing(b: np.ndarray) -> np.ndarray:  # a pass that removes nothing
        seen.append(b.shape)
        return np.zeros_like(b)

    # the full-rate pass takes out everything, the half-rate pass nothing: the low band comes back
    restored = x - loading.half_rate_low_band_noise(everything, nothing, 150.0, rate)(x)
    assert seen == [x.shape, (2, x.shape[1] // 2)]  # the half-rate pass sees each segment at half its length
    assert restored.shape == x.shape and restored.dtype == np.float32
    middle = slice(rate // 4, -rate // 4)  # away from the segment's ends
    for row, level in zip(restored, (1.0, 0.5)):
        assert np.sqrt(np.mean((row[middle] - level * hum[middle]) ** 2)) < 0.05 * level * 0.3
        assert _band_power(row, rate, 1500, 2500) < 1e-3 * _band_power(level * whistle, rate, 1500, 2500)
    # the other way round: the band below the edge is taken out, the band above kept
    restored = x - loading.half_rate_low_band_noise(nothing, everything, 150.0, rate)(x)
    assert np.sqrt(np.mean((restored[0][middle] - whistle[middle]) ** 2)) < 0.05 * 0.3
    # two passes that agree: the band split sums to one restoration
    both = loading.half_rate_low_band_noise(nothing, nothing, 150.0, rate)(x)
    assert np.abs(both[:, middle]).max() < 1e-3
    for edge in (0.0, -10.0, rate / 4):
        with pytest.raises(ValueError, match="below_hz"):
            loading.half_rate_low_band_noise(nothing, nothing, edge, rate)


def test_half_rate_power_describes_the_print_an_octave_down():
    rate, n_fft, hop = 16000, 256, 64
    t = np.arange(2 * rate) / rate
    heard = (0.1 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    full = noise_print.noise_power(heard, n_fft, hop)
    slow = loading.half_rate_power(heard, n_fft, hop, rate)
    assert slow.shape == full.shape == (n_fft // 2 + 1,) and slow.dtype == np.float32
    # 1 kHz lies in bin 16 at 62.5 Hz per bin; read at half rate it lies where 2 kHz would, bin 32
    assert int(np.argmax(full)) == 16 and int(np.argmax(slow)) == 32


def test_restorer_makes_the_low_band_again_at_half_rate_where_it_holds_the_prints_audio(conditioned_checkpoint):
    import evaluate

    # one segment (1.5 s, segments of 2 s): the passes see the whole item
    noisy = _programme(1.5, seed=31) + (0.02 * np.random.default_rng(32).standard_normal(int(1.5 * SR))).astype(np.float32)
    hiss = (0.02 * np.random.default_rng(33).standard_normal(3 * SR)).astype(np.float32)
    model, cfg = inference.load_model(conditioned_checkpoint)

    def restorer(hz: float) -> inference.Restorer:
        return inference.Restorer(model, cfg, 1.0, 2.0, 0.5, batch_segments=1, classical_blend=0.0, postfilter=0.0,
                                  half_rate_below_hz=hz)  # fmt: skip

    off, on = restorer(0.0), restorer(150.0)
    for r in (off, on):
        r.set_noise_print(hiss, SR)
    assert on.half_rated and not off.half_rated
    own = off.denoise_array(noisy, SR)
    half_power = loading.half_rate_power(hiss, on.n_fft, on.hop_length, SR)
    fn = loading.half_rate_low_band_noise(loading.model_noise_function(model, cfg, on.noise_power),
                                          loading.model_noise_function(model, cfg, half_power), 150.0, SR)  # fmt: skip
    expected = noisy - fn(noisy[None])[0]
    made = on.denoise_array(noisy, SR)
    np.testing.assert_allclose(made, expected, atol=2e-5)
    difference = made - own
    assert _band_power(difference, SR, 20, 150) > 1e-9  # the low band changed...
    assert _band_power(difference, SR, 1000, SR / 2) < 1e-3 * _band_power(difference, SR, 20, 150)  # ...and little else
    # evaluate.py's conditioned_print system restores as the restorer does
    system = evaluate.model_system(conditioned_checkpoint, 2.0, 0.5, told="print", classical_blend=0.0, postfilter=0.0,
                                   half_rate_below_hz=150.0)  # fmt: skip
    np.testing.assert_allclose(system(noisy, hiss, SR), made, atol=2e-5)
    # without the print's audio nothing is made again: no print, auto's print unchecked, a power alone
    power = on.noise_power
    for told in (loading.Told(), loading.Told(power=power, auto=True, unchecked=True, auto_print=hiss), loading.Told(power=power)):
        on.tell(told)
        assert not on.half_rated, told
    on.tell(loading.Told())
    np.testing.assert_allclose(on.denoise_array(noisy, SR), restorer(0.0).denoise_array(noisy, SR), atol=1e-6)
    # auto's print the held-out check passed, and the print a check tests, are made again
    on.tell(loading.Told(power=power, auto=True, auto_print=hiss))
    assert on.half_rated
    on.tell(loading.Told())
    with on._told(1.0, power, hiss):
        assert on.half_rated
    with pytest.raises(ValueError, match="half_rate_below_hz"):
        restorer(-1.0)
    with pytest.raises(ValueError, match="half_rate_below_hz"):
        restorer(SR / 4)


def test_cli_half_rate_says_so_and_refuses_what_it_cannot_do(tmp_path, conditioned_checkpoint, micro_checkpoint, capsys,
                                                            caplog):  # fmt: skip
    # the default reaches the command, and an unconditioned model restores as before with it (nothing to tell it)
    assert configs.InferenceConfig().half_rate_below_hz == inference.DEFAULTS.half_rate_below_hz == 150.0
    src, audio, heard, hiss = _reel_and_print(tmp_path, 6, 41)
    caplog.set_level("INFO", logger="inference")
    outputs = {}
    for hz in (150.0, 0.0):
        caplog.clear()
        code, err = _run(capsys, audio=str(src), checkpoint=str(conditioned_checkpoint), noise_print=str(heard),
                         noise_print_check=False, half_rate_below_hz=hz, precision="float32", quiet=False,
                         overwrite=True)  # fmt: skip
        assert code == 0, err
        said = "reel.wav: below 150 Hz, the model's restoration made again at half its rate" in caplog.text
        assert said is (hz > 0), caplog.text
        outputs[hz], _ = sf.read(tmp_path / "reel_denoised_s10.wav", dtype="float32")
        api = inference.Restorer.from_pretrained(conditioned_checkpoint, "float32", half_rate_below_hz=hz)
        np.testing.assert_allclose(outputs[hz], api.restore(audio, SR, noise_print=hiss), atol=2e-5)
    assert np.abs(outputs[150.0] - outputs[0.0]).max() > 1e-5
    for f in tmp_path.glob("reel_*"):
        f.unlink()
    for hz, what in ((-1.0, "positive"), (float("nan"), "positive"), (SR / 4, "quarter")):
        code, err = _run(capsys, audio=str(src), checkpoint=str(conditioned_checkpoint), noise_print=str(heard),
                         half_rate_below_hz=hz)  # fmt: skip
        assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and "inference.half_rate_below_hz" in err[0], err
        assert what in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["print.wav", "reel.wav"]
    for hz in (150.0, 0.0):
        code, err = _run(capsys, audio=str(src), checkpoint=str(micro_checkpoint), half_rate_below_hz=hz, overwrite=True,
                         precision="float32")  # fmt: skip
        assert code == 0, err
        outputs[hz], _ = sf.read(tmp_path / "reel_denoised_s10.wav", dtype="float32")
    np.testing.assert_array_equal(outputs[150.0], outputs[0.0])
