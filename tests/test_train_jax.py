"""scripts/train_jax.py: the pack of a run's training-side files and the examples made from it.
(The JAX training step itself needs Keras on JAX, which the test environment does not have.)"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import dataset_loader
import recorded_noise

SR = 44100
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def train_jax():
    spec = importlib.util.spec_from_file_location("train_jax", ROOT / "scripts" / "train_jax.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_jax"] = module  # the pool's spawned workers import it by name
    spec.loader.exec_module(module)
    return module


def _config(corpus: dict, noise_dir: Path | None, conditioning: str = "noise_psd_refine") -> dict:
    noise = {"snr_db": [5.0, 5.0], "recorded_share": 0.0, "recorded_validation_fraction": 0.4}
    if noise_dir is not None:
        noise.update(recorded_share=1.0, recorded_dirs=[str(noise_dir)])
    return {
        "dset": {"categories": {c: {"dirs": [str(corpus[c])], "weight": 1.0} for c in ("speech", "effects", "music")},
                 "validation_fraction": 0.25},  # fmt: skip
        "noise": noise,
        "model": {"sample_rate": SR, "n_fft": 2048, "hop_length": 512, "conditioning": conditioning},
        "train": {"noise_print": {"seconds": [1.0, 2.0], "auto_share": 0.33}},
    }


@pytest.fixture(scope="module")
def noise_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("noise")
    rng = np.random.default_rng(1)
    for i in range(5):
        sf.write(folder / f"hiss{i}.wav", (0.05 * rng.standard_normal(3 * SR)).astype("float32"), SR)
    return folder


def test_recipe_reads_every_folder_from_the_pack(train_jax, corpus, noise_dir):
    rec = train_jax.recipe(_config(corpus, noise_dir), Path("/pack"), auto_share=0.5)
    assert [e["dirs"] for e in rec["dset"]["categories"].values()] == [["/pack/speech"], ["/pack/effects"], ["/pack/music"]]
    assert rec["noise"]["recorded_dirs"] == ["/pack/noise"]
    assert rec["dset"]["validation_fraction"] == 0.0 and rec["noise"]["recorded_validation_fraction"] == 0.0
    assert rec["print"]["auto_share"] == 0.5 and rec["print"]["n_fft"] == 2048 and rec["print"]["sample_rate"] == SR
    assert train_jax.recipe(_config(corpus, noise_dir), Path("/pack"))["print"]["auto_share"] == 0.33
    # a config from before a setting existed gets its default, recorded as used
    assert rec["print"]["auto_smooth_bins"] == 15 and rec["print"]["seconds"] == [1.0, 2.0]
    assert train_jax.recipe(_config(corpus, None, "none"), Path("/pack"))["print"] is None


def test_pack_holds_the_training_side_files_only(train_jax, corpus, noise_dir, tmp_path):
    config = _config(corpus, noise_dir)
    written = train_jax.pack(config, tmp_path / "pack", mib=50.0)
    train = dataset_loader.CleanCorpus(config["dset"], SR, "train")
    for name in ("speech", "effects", "music"):
        files = sorted((tmp_path / "pack" / name).iterdir())
        assert written[name][0] == len(files) == len(train.files[name]) < 4  # of 4: the held-out ones are not packed
        for f in files:
            audio, rate = sf.read(f)
            assert rate == SR and audio.ndim == 1 and 2.0 < len(audio) / SR < 3.0
        packed = sorted(round(len(sf.read(f)[0]) / SR, 2) for f in files)
        assert packed == sorted(round(train.load(i).size / SR, 2) for i in train.files[name])  # whole files
    found = sorted(p.name for p in noise_dir.iterdir())
    train_side, held = recorded_noise.split_recorded_files(sorted(noise_dir.iterdir()), [f"{noise_dir.name}/{n}" for n in found], 0.4)
    assert held and sorted(p.name for p in (tmp_path / "pack" / "noise").iterdir()) == sorted(p.name for p in train_side)


def test_pack_keeps_within_its_size(train_jax, corpus, tmp_path):
    written = train_jax.pack(_config(corpus, None), tmp_path / "small", mib=0.03)
    assert "noise" not in written
    for name, (count, size) in written.items():
        assert count == 1 and size > 0  # at least one file per category, however small the budget


def test_examples_from_a_pack(train_jax, corpus, noise_dir, tmp_path):
    config = _config(corpus, noise_dir)
    train_jax.pack(config, tmp_path / "pack", mib=50.0)
    rec = train_jax.recipe(config, tmp_path / "pack", auto_share=0.5)
    train_jax._init_worker(rec, 8192, 1)
    noisy, clean, power = train_jax.make_example(3)
    assert noisy.shape == clean.shape == (8192,) and power.shape == (1025,) and power.dtype == np.float32
    assert np.all(power >= 0) and not np.allclose(noisy, clean)
    for a, b in zip((noisy, clean, power), train_jax.make_example(3)):
        np.testing.assert_array_equal(a, b)  # a pure function of the index, as in training here
    plain = train_jax.recipe(_config(corpus, noise_dir, "none"), tmp_path / "pack")
    train_jax._init_worker(plain, 8192, 1)
    assert len(train_jax.make_example(3)) == 2


def test_pack_from_the_command_line(train_jax, corpus, tmp_path, capsys):
    import yaml

    (tmp_path / "config.yaml").write_text(yaml.safe_dump(_config(corpus, None)))
    assert train_jax.main(["pack", str(tmp_path / "config.yaml"), str(tmp_path / "out"), "--mib", "1"]) == 0
    out = capsys.readouterr().out
    train = dataset_loader.CleanCorpus(_config(corpus, None)["dset"], SR, "train")
    for name in ("speech", "effects", "music"):
        assert f"{name}: {len(train.files[name])} files" in out
        assert len(list((tmp_path / "out" / name).iterdir())) == len(train.files[name])


def test_learning_rate_constant_or_cosine(train_jax):
    assert train_jax.learning_rate(3e-4) == 3e-4
    schedule = train_jax.learning_rate(1e-4, 1e-5, 100)
    rates = [float(schedule(step)) for step in (0, 50, 100, 500)]
    assert rates[0] == pytest.approx(1e-4, rel=1e-5)
    assert rates[1] == pytest.approx(5.5e-5, rel=1e-4)  # half-way down the cosine
    assert rates[2] == pytest.approx(1e-5, rel=1e-4)
    assert rates[3] == pytest.approx(1e-5, rel=1e-4)  # held after the decay


def test_widened_starts_a_larger_model_where_the_trained_one_stands(train_jax):
    import keras

    import configs
    import unet
    from omegaconf import OmegaConf

    cfg = unet.model_config({**OmegaConf.to_container(configs.group_config("model", "tiny")), "conditioning": "noise_psd_refine"})
    keras.utils.set_random_seed(3)
    model = unet.build_model(cfg)
    said = []
    wide, wide_cfg = train_jax.widened(model, cfg, [5, 9, 8], said.append)
    assert wide_cfg["filters"] == [5, 9, 8] and wide_cfg["conditioning"] == "noise_psd_refine"
    assert wide.count_params() > model.count_params()
    assert said and "[4, 8, 8] -> [5, 9, 8]" in said[0]
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((1, 5, 1025, 2)).astype(np.float32), np.full((1, 1025), 0.2, np.float32)]
    np.testing.assert_allclose(np.asarray(wide(inputs)[-1]), np.asarray(model(inputs)[-1]), atol=1e-5)
    for bad in ([5, 9], [5, 7, 8]):  # a scale missing; one narrower than the model's
        with pytest.raises(SystemExit, match="--filters"):
            train_jax.widened(model, cfg, bad, said.append)


@pytest.mark.parametrize("argv", [["--lr-final", "1e-5"], ["--lr-final", "2e-4", "--decay-steps", "10"],
                                  ["--lr", "0"]])  # fmt: skip
def test_bad_learning_rate_arguments_stop_before_training(train_jax, tmp_path, capsys, argv):
    with pytest.raises(SystemExit) as stop:
        train_jax.main(["train", "--init", str(tmp_path), "--config", str(tmp_path / "c.yaml"), "--corpus",
                        str(tmp_path), "--out", str(tmp_path / "out"), "--max-seconds", "1", *argv])  # fmt: skip
    assert stop.value.code == 2
    assert "lr" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_room_left_counts_tracked_files_and_wheels(train_jax, tmp_path):
    import subprocess

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "big.bin").write_bytes(b"\0" * (3 * 2**20))
    (tmp_path / "new.bin").write_bytes(b"\0" * 2**20)  # untracked, not ignored: travels
    (tmp_path / ".gitignore").write_text("ignored.bin\n.whl/\n")
    (tmp_path / "ignored.bin").write_bytes(b"\0" * (5 * 2**20))  # ignored: does not travel
    subprocess.run(["git", "add", "big.bin"], cwd=tmp_path, check=True)
    gitignore_mib = len("ignored.bin\n.whl/\n") / 2**20
    room = train_jax.room_left_mib(tmp_path, carried=(), margin=0)
    assert room == pytest.approx(train_jax.CALL_MIB - 4 - gitignore_mib)
    (tmp_path / ".whl").mkdir()
    (tmp_path / ".whl" / "a.whl").write_bytes(b"\0" * (2 * 2**20))
    assert train_jax.room_left_mib(tmp_path, margin=1) == pytest.approx(room - 3)


def test_pack_stops_where_nothing_is_left_of_a_call(train_jax, corpus, tmp_path, capsys, monkeypatch):
    import yaml

    (tmp_path / "config.yaml").write_text(yaml.safe_dump(_config(corpus, None)))
    monkeypatch.setattr(train_jax, "room_left_mib", lambda root: 0.4)
    assert train_jax.main(["pack", str(tmp_path / "config.yaml"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--mib" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_room_left_outside_a_git_checkout_says_so(train_jax, tmp_path):
    with pytest.raises(ValueError, match="not a git checkout"):
        train_jax.room_left_mib(tmp_path)
