"""parking.py and scripts/park_run.py: a run parked in the repository and continued elsewhere."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf

import parking
import unet
from conftest import REPO_ROOT, compose_config, tiny_train_overrides

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO_ROOT, env=ENV, capture_output=True, text=True, timeout=600)


def _weights(model) -> list[np.ndarray]:
    return [np.asarray(w) for w in model.weights]


@pytest.fixture(scope="module")
def parked(corpus, tmp_path_factory) -> SimpleNamespace:
    """A tiny run trained by train.py for one epoch of 2 steps, then parked by the script."""
    root = tmp_path_factory.mktemp("parking")
    overrides = tiny_train_overrides(corpus, root / "runs", ["experiment=walk", "epochs=1", "steps_per_epoch=2",
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


def test_unpark_refuses_weights_that_are_not_the_parked_ones(parked, tmp_path):
    copy = tmp_path / "walk"
    import shutil

    shutil.copytree(parked.folder, copy)
    weights = copy / "model" / unet.WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0xFF
    weights.write_bytes(bytes(data))
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

    info = parking.read_parked(folder)  # the weights are the parked ones
    assert parking.folder_mb(folder) <= parking.LIMIT_MB
    _, cfg = unet.load_denoiser(folder / "model")  # strict: every saved array fits the config
    assert cfg == unet.model_config(OmegaConf.load(folder / "config.yaml").model)
    steps = [int(line.split(",")[1]) for line in (folder / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == sorted(steps) and steps[-1] <= info["step"]  # no record past the parked step
    assert info["continue"] and "resume=true" in info["continue"]
