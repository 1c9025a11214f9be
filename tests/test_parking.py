"""parking.py and scripts/park_run.py: a run parked in the repository and continued elsewhere."""
from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf

import parking
import unet
from conftest import REPO_ROOT, compose_config, quick_train_overrides

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO_ROOT, env=ENV, capture_output=True, text=True, timeout=600)


def _weights(model) -> list[np.ndarray]:
    return [np.asarray(w) for w in model.weights]


@pytest.fixture(scope="module")
def parked(corpus, tmp_path_factory) -> SimpleNamespace:
    """A micro run trained by train.py for one epoch of 2 steps, then parked by the script."""
    root = tmp_path_factory.mktemp("parking")
    overrides = quick_train_overrides(corpus, root / "runs", ["experiment=walk", "epochs=1", "steps_per_epoch=2",
                                                             "quiet=true", "lr=1e-3"])  # fmt: skip
    trained = _run(["train.py", *overrides])
    assert trained.returncode == 0, trained.stderr[-2000:]
    result = _run(["scripts/park_run.py", "park", str(root / "runs" / "walk"), "--dest", str(root / "parked")])
    assert result.returncode == 0, result.stderr[-2000:]
    return SimpleNamespace(root=root, run=root / "runs" / "walk", folder=root / "parked" / "walk", overrides=overrides,
                           stdout=result.stdout)  # fmt: skip


def test_park_keeps_the_last_weights_settings_and_metrics(parked):
    assert parked.stdout.startswith("parked step 2 of walk in ")
    assert sorted(p.name for p in parked.folder.iterdir()) == ["config.yaml", "metrics.csv", "model", "overrides.yaml",
                                                               "parked.json"]  # fmt: skip
    info = parking.read_parked(parked.folder)
    assert info["step"] == 2 and info["experiment"] == "walk"
    assert info["validation_at_step"]["step"] == "2" and np.isfinite(float(info["validation_at_step"]["val_si_sdr_i"]))
    assert info["best"]["step"] == 2 and info["best"]["metric"] == "val_si_sdr_i"
    # the parked weights are the last checkpoint's (train.py exports last/ from the same state)
    parked_model, _ = unet.load_denoiser(parked.folder / "model")
    last_model, _ = unet.load_denoiser(parked.run / "last")
    for a, b in zip(_weights(parked_model), _weights(last_model)):
        np.testing.assert_array_equal(a, b)
    # the command that continues it: the run's own overrides, placed anew
    assert info["continue"].endswith("experiment=walk experiments_root=experiments resume=true")
    assert "lr=1e-3" in info["continue"] and "experiments_root=" + str(parked.root / "runs") not in info["continue"]


def test_unpark_then_train_py_continues_the_run(parked, tmp_path):
    result = _run(["scripts/park_run.py", "unpark", str(parked.folder), "--experiments-root", str(tmp_path)])
    assert result.returncode == 0, result.stderr[-2000:]
    exp = tmp_path / "walk"
    command = result.stdout.splitlines()[-1].removeprefix("continue with: ")
    args = shlex.split(command)
    assert args[:2] == ["python", "train.py"] and f"experiments_root={tmp_path}" in args and "resume=true" in args

    # the rebuilt folder restores at the parked step, with the parked weights and the best
    # score of that step (the optimiser's moments start again from zero)
    cfg = compose_config([a for a in args[2:]])
    import trainer as trainer_module

    tr = trainer_module.Trainer(cfg, exp)
    assert tr.restore() == 2 and int(tr.optimizer.iterations) == 2
    parked_model, _ = unet.load_denoiser(parked.folder / "model")
    for a, b in zip(_weights(parked_model), _weights(tr.model)):
        np.testing.assert_array_equal(a, b)
    info = json.loads((parked.folder / "parked.json").read_text())
    assert float(tr.best_score.numpy()) == pytest.approx(float(info["validation_at_step"]["val_si_sdr_i"]))
    assert (exp / "best" / "model.weights.h5").is_file() and (exp / "last" / "model.weights.h5").is_file()

    # the printed command, one more epoch: the run goes on from step 2 to step 4
    went_on = _run(["train.py", *args[2:], "epochs=2"])
    assert went_on.returncode == 0, went_on.stderr[-2000:]
    steps = [int(line.split(",")[1]) for line in (exp / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == [2, 4]
    assert tf.train.latest_checkpoint(str(exp / "checkpoints")).endswith("ckpt-4")

    # unparking again over a folder with checkpoints is refused, and changes nothing
    again = _run(["scripts/park_run.py", "unpark", str(parked.folder), "--experiments-root", str(tmp_path)])
    assert again.returncode == 2 and again.stderr.startswith("error: ") and len(again.stderr.splitlines()) == 1
    assert "resume=true" in again.stderr
    assert tf.train.latest_checkpoint(str(exp / "checkpoints")).endswith("ckpt-4")


def test_park_over_the_limit_writes_nothing_and_keeps_the_earlier_park(parked):
    before = (parked.folder / "parked.json").read_text()
    with pytest.raises(parking.ParkingError, match="over the limit of 0.01 MB"):
        parking.park(parked.run, parked.folder.parent, limit_mb=0.01)
    assert (parked.folder / "parked.json").read_text() == before
    assert sorted(p.name for p in parked.folder.parent.iterdir()) == ["walk"]  # no partial folder left


def test_park_refuses_a_folder_without_a_run_or_a_checkpoint(tmp_path):
    with pytest.raises(parking.ParkingError, match="no config.yaml"):
        parking.park(tmp_path, tmp_path / "parked")
    (tmp_path / "config.yaml").write_text("model: {}\n")
    with pytest.raises(parking.ParkingError, match="no checkpoint to park"):
        parking.park(tmp_path, tmp_path / "parked")
    result = _run(["scripts/park_run.py", "park", str(tmp_path / "nowhere")])
    assert result.returncode == 2 and result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1


def test_park_run_refuses_what_needs_no_weights_before_importing_tensorflow(tmp_path):
    """With a tensorflow that cannot be imported, the script still refuses in one line a folder
    that is no run, a run without a checkpoint, a folder that is no parked run, and an unpark
    over a folder that holds checkpoints."""
    blocked = tmp_path / "no_tensorflow" / "tensorflow"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text("raise ImportError('tensorflow imported before the checks')\n")
    env = {**ENV, "PYTHONPATH": str(blocked.parent)}
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("model: {}\n")
    parked = tmp_path / "parked" / "walk"
    parked.mkdir(parents=True)
    (parked / parking.INFO_FILE).write_text(json.dumps({"experiment": "walk"}))
    (tmp_path / "runs" / "walk" / "checkpoints").mkdir(parents=True)
    for args, expected in [
        (["park", str(tmp_path / "nowhere")], "not an experiment folder of train.py (no config.yaml)"),
        (["park", str(run)], "no checkpoint to park"),
        (["unpark", str(tmp_path / "nowhere")], "not a parked run (parked.json: FileNotFoundError)"),
        (["unpark", str(parked), "--experiments-root", str(tmp_path / "runs")], "already holds checkpoints"),
    ]:
        result = subprocess.run([sys.executable, "scripts/park_run.py", *args], cwd=REPO_ROOT, env=env, capture_output=True,
                                text=True, timeout=120)  # fmt: skip
        assert result.returncode == 2 and result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1, result.stderr
        assert expected in result.stderr, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["no_tensorflow", "parked", "run", "runs"]  # nothing written
    assert list((tmp_path / "runs" / "walk").iterdir()) == [tmp_path / "runs" / "walk" / "checkpoints"]


def test_unpark_refuses_weights_that_are_not_the_parked_ones(parked, tmp_path):
    copy = tmp_path / "walk"
    shutil.copytree(parked.folder, copy)
    weights = copy / "model" / unet.WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(parking.ParkingError, match="SHA-256 differs"):
        parking.unpark(copy, tmp_path / "runs")
    assert not (tmp_path / "runs" / "walk").exists()


def test_delta_round_trip_errs_within_the_kept_precision():
    rng = np.random.default_rng(0)
    reference = [rng.normal(0, 0.05, (3, 3, 4, 8)).astype(np.float32), rng.normal(0, 1, (8,)).astype(np.float32),
                 np.float32(rng.normal())]  # fmt: skip
    weights = [r + rng.normal(0, 1e-3, np.shape(r)).astype(np.float32) for r in reference]
    weights[1][:4] = reference[1][:4]  # untouched weights come back exactly
    planes, worst = parking.encode_delta(weights, reference)
    assert planes.dtype == np.uint8 and planes.shape == (2, 3 * 3 * 4 * 8 + 8 + 1)
    back = parking.apply_delta(reference, planes)
    assert [b.shape for b in back] == [np.shape(w) for w in weights] and all(b.dtype == np.float32 for b in back)
    np.testing.assert_array_equal(back[1][:4], weights[1][:4])
    errors = [np.max(np.abs(b - w)) for b, w in zip(back, weights)]
    assert max(errors) == pytest.approx(worst) and worst > 0
    # rounded to float16 (half an ulp, 2^-11 of the change) and then to 9 significant bits (2^-9);
    # float16's subnormals below 6e-5 have a fixed step, 2^-22 once two bits are dropped
    for b, w, r in zip(back, weights, reference):
        change = np.abs(np.asarray(w) - np.asarray(r))
        bound = change * (2.0 ** -(parking.DELTA_MANTISSA_BITS + 1) + 2.0**-11) + 2.0**-22
        assert np.all(np.abs(b - w) <= bound)
    with pytest.raises(parking.ParkingError, match="too far from the reference"):
        parking.encode_delta([np.array([1e6], np.float32)], [np.array([0.0], np.float32)])
    with pytest.raises(parking.ParkingError, match="holds 1 weights, the reference model 2"):
        parking.apply_delta([np.zeros(2, np.float32)], planes[:, :1])


def test_reference_weights_widen_an_unconditioned_model_as_init_from_does(micro_checkpoint):
    import configs

    cfg = unet.model_config({**configs.group_config("model", "micro"), "conditioning": "noise_psd"})
    grown = parking.reference_weights(micro_checkpoint, cfg)
    source, _ = unet.load_denoiser(micro_checkpoint)
    target = unet.build_model(cfg)
    assert [np.shape(w) for w in grown] == [tuple(w.shape) for w in target.weights]
    widened = [(g, s) for g, s in zip(grown, source.get_weights()) if np.shape(g) != np.shape(s)]
    assert widened  # the early convolutions' kernels take the new channels, at zero
    for g, s in widened:
        np.testing.assert_array_equal(g[:, :, : s.shape[2], :], s)
        assert not g[:, :, s.shape[2] :, :].any()


@pytest.fixture(scope="module")
def parked_delta(parked, micro_checkpoint, tmp_path_factory) -> SimpleNamespace:
    """The same run parked as its difference from a reference model (the untrained micro one)."""
    dest = tmp_path_factory.mktemp("parked_delta")
    reference = dest / "reference"
    shutil.copytree(micro_checkpoint, reference)
    result = _run(["scripts/park_run.py", "park", str(parked.run), "--dest", str(dest), "--reference", str(reference)])
    assert result.returncode == 0, result.stderr[-2000:]
    return SimpleNamespace(folder=dest / "walk", reference=reference, stdout=result.stdout)


def test_park_as_a_difference_rebuilds_the_last_weights(parked, parked_delta):
    assert f"as a difference from {parked_delta.reference.resolve()}" in parked_delta.stdout
    assert sorted(p.name for p in (parked_delta.folder / "model").iterdir()) == ["config.json", parking.DELTA_FILE]
    info = parking.read_parked(parked_delta.folder)
    weights = info["weights"]
    assert weights["format"] == "float16_delta" and weights["mantissa_bits"] == parking.DELTA_MANTISSA_BITS
    assert weights["reference"] == str(parked_delta.reference.resolve())  # outside the repository: absolute
    model, cfg = parking.load_parked_model(parked_delta.folder)
    last, last_cfg = unet.load_denoiser(parked.run / "last")
    assert cfg == last_cfg
    errors = [np.max(np.abs(a - b)) for a, b in zip(_weights(model), _weights(last)) if np.size(a)]
    assert max(errors) == pytest.approx(weights["max_error"]) and weights["max_error"] > 0
    reference, _ = unet.load_denoiser(parked_delta.reference)
    largest_change = max(np.max(np.abs(a - b)) for a, b in zip(_weights(last), _weights(reference)) if np.size(a))
    assert weights["max_error"] <= largest_change * (2.0**-9 + 2.0**-11) + 2.0**-22
    # the difference compresses: smaller than the float32 park of the same run
    assert parking.folder_mb(parked_delta.folder) < 0.6 * parking.folder_mb(parked.folder)


def test_unpark_a_difference_restores_its_weights(parked_delta, tmp_path):
    import trainer as trainer_module
    from omegaconf import OmegaConf

    exp, _ = parking.unpark(parked_delta.folder, tmp_path)
    tr = trainer_module.Trainer(OmegaConf.load(exp / "config.yaml"), exp)
    assert tr.restore() == 2
    model, _ = parking.load_parked_model(parked_delta.folder)
    for a, b in zip(_weights(model), _weights(tr.model)):
        np.testing.assert_array_equal(a, b)


def test_a_difference_refuses_a_changed_or_missing_reference_and_changed_weights(parked_delta, tmp_path):
    copy = tmp_path / "walk"
    shutil.copytree(parked_delta.folder, copy)
    info = json.loads((copy / "parked.json").read_text())
    other = tmp_path / "other_reference"
    shutil.copytree(parked_delta.reference, other)
    data = bytearray((other / unet.WEIGHTS_FILE).read_bytes())
    data[-100] ^= 0xFF
    (other / unet.WEIGHTS_FILE).write_bytes(bytes(data))
    info["weights"]["reference"] = str(other)
    (copy / "parked.json").write_text(json.dumps(info))
    with pytest.raises(parking.ParkingError, match="not the reference model the run was parked against"):
        parking.unpark(copy, tmp_path / "runs")
    info["weights"]["reference"] = str(tmp_path / "gone")
    (copy / "parked.json").write_text(json.dumps(info))
    result = _run(["scripts/park_run.py", "unpark", str(copy), "--experiments-root", str(tmp_path / "runs")])
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "weights are a difference from" in result.stderr and "which is not here" in result.stderr
    (copy / "parked.json").write_text((parked_delta.folder / "parked.json").read_text())
    delta = copy / "model" / parking.DELTA_FILE
    data = bytearray(delta.read_bytes())
    data[len(data) // 2] ^= 0xFF
    delta.write_bytes(bytes(data))
    with pytest.raises(parking.ParkingError, match="SHA-256 differs"):
        parking.unpark(copy, tmp_path / "runs")
    assert not (tmp_path / "runs" / "walk").exists()


def test_continue_command_replaces_place_and_quotes():
    command = parking.continue_command(["lr=5e-5", "experiment=old", "experiments_root=/x", "resume=false",
                                        "train.init_from='/a b/last'"], "cond2", "/work/runs")  # fmt: skip
    assert shlex.split(command) == ["python", "train.py", "lr=5e-5", "train.init_from='/a b/last'", "experiment=cond2",
                                    "experiments_root=/work/runs", "resume=true"]  # fmt: skip


COMMITTED = sorted(p for p in parking.PARKED_ROOT.iterdir() if p.is_dir()) if parking.PARKED_ROOT.is_dir() else []


@pytest.mark.parametrize("folder", COMMITTED, ids=lambda p: p.name)
def test_committed_parked_runs_are_whole_and_within_the_limit(folder):
    from omegaconf import OmegaConf

    info = parking.read_parked(folder)  # the weights (and a difference's reference) are the parked ones
    assert parking.folder_mb(folder) <= parking.LIMIT_MB
    _, cfg = parking.load_parked_model(folder, info)  # strict: every saved array fits the config
    assert cfg == unet.model_config(OmegaConf.load(folder / "config.yaml").model)
    steps = [int(line.split(",")[1]) for line in (folder / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == sorted(steps) and steps[-1] <= info["step"]  # no record past the parked step
    assert info["continue"] and "resume=true" in info["continue"]


def test_a_run_can_start_from_a_parked_run_and_parks_against_its_reference(corpus, parked, parked_delta, tmp_path):
    """train.init_from may name a parked run: its weights rebuilt are where the new run starts
    (here with the classical path added), and parking it with --reference auto makes it a
    difference from the parked run's own reference, not from a difference."""
    started, started_cfg = parking.load_parked_model(parked_delta.folder)
    overrides = quick_train_overrides(corpus, tmp_path / "runs", [
        "experiment=grown", "epochs=1", "steps_per_epoch=2", "quiet=true", "lr=1e-3", "model.conditioning=noise_psd_gain",
        f"train.init_from={parked_delta.folder}", "train.init_step=2", "epochs=2", "train.noise_print.seconds=[1.0,1.5]",
    ])  # fmt: skip
    trained = _run(["train.py", *overrides])
    assert trained.returncode == 0, trained.stderr[-2000:]
    import csv

    with open(tmp_path / "runs" / "grown" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["step"] for r in rows] == ["2", "4"]  # the starting weights were validated at the parked step
    result = _run(["scripts/park_run.py", "park", str(tmp_path / "runs" / "grown"), "--dest", str(tmp_path / "parked")])
    assert result.returncode == 0, result.stderr[-2000:]
    info = parking.read_parked(tmp_path / "parked" / "grown")
    assert info["weights"]["reference"] == str(parked_delta.reference.resolve())
    model, cfg = parking.load_parked_model(tmp_path / "parked" / "grown")
    last, _ = unet.load_denoiser(tmp_path / "runs" / "grown" / "last")
    assert cfg["conditioning"] == "noise_psd_gain"
    errors = [np.max(np.abs(a - b)) for a, b in zip(_weights(model), _weights(last)) if np.size(a)]
    assert max(errors) <= info["weights"]["max_error"] + 1e-12
    # it started from the parked run's rebuilt weights (grown): two steps moved them a little only
    start = unet.build_model(cfg)
    unet.adopt_weights(started, started_cfg, start, cfg)
    moved = [np.max(np.abs(a - b)) for a, b in zip(_weights(last), _weights(start)) if np.size(a)]
    assert 0 < max(moved) < 0.05
    # a parked run that cannot be rebuilt stops the start with one line
    broken = tmp_path / "broken"
    shutil.copytree(parked_delta.folder, broken)
    (broken / "model" / parking.DELTA_FILE).write_bytes(b"not a difference")
    bad = _run(["train.py", *[o.replace(str(parked_delta.folder), str(broken)) for o in overrides], "experiment=broken"])
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith("error: "), bad.stderr[-2000:]
    assert not (tmp_path / "runs" / "broken").exists()
