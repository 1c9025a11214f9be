"""Trainer and train.py: learning, exact resume, NaN handling, the experiment folder."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf
from omegaconf import OmegaConf

import dataset_loader
import losses
import stft
import trainer as trainer_module
import unet
from conftest import compose_config as _cfg
from conftest import quick_train_overrides as _overrides

REPO = Path(__file__).resolve().parents[1]


def _weights(model) -> list[np.ndarray]:
    return [w.numpy().copy() for w in model.weights]


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory) -> SimpleNamespace:
    """The micro model trained for one epoch of 40 steps, with its validation before and after.

    One training run (each costs a train-step trace, the largest part of these tests' time),
    read by test_micro_model_improves_validation_si_sdr, and whose ``last/`` export is the saved
    model the initialisation tests start from; no test writes into its folder.
    """
    root = tmp_path_factory.mktemp("trained")
    cfg = _cfg(_overrides(corpus, root, ["epochs=1", "steps_per_epoch=40", "lr=2e-3", "train.checkpoint_every=1000"]))
    tr = trainer_module.Trainer(cfg, root / "exp")
    before = tr.validate()
    row = tr.fit(quiet=True)
    return SimpleNamespace(trainer=tr, before=before, row=row, exp=root / "exp", weights=_weights(tr.model))


def test_micro_model_improves_validation_si_sdr(trained):
    before, row, exp = trained.before, trained.row, trained.exp
    assert row["step"] == 40
    assert row["val_si_sdr_i"] > before["val_si_sdr_i"] + 0.5, (before, row)
    assert np.isfinite(row["val_full_band_energy_db"])
    # the best export exists and reloads
    assert (exp / "best" / "model.weights.h5").is_file()
    assert (exp / "metrics.csv").read_text().count("\n") == 2  # header + one epoch


def test_validation_scores_held_out_recorded_noise_on_its_own(corpus, tmp_path, trained):
    import soundfile as sf

    noise_dir = tmp_path / "noise"
    noise_dir.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        sf.write(noise_dir / f"n{i}.wav", (0.1 * rng.standard_normal(30000)).astype("float32"), 44100)
    common = [f"noise.recorded_dirs=[{noise_dir}]", "noise.recorded_validation_fraction=0.5"]
    only_recorded = trainer_module.Trainer(
        _cfg(_overrides(corpus, tmp_path, ["noise=mixed", *common, "noise.validation_recorded_share=1.0"])), tmp_path / "a"
    )
    metrics = only_recorded.validate()
    assert set(only_recorded.validation_set()["family"]) == {"recorded"}
    assert metrics["val_si_sdr_i_recorded"] == pytest.approx(metrics["val_si_sdr_i"])
    assert np.isnan(metrics["val_si_sdr_i_synthetic"])
    synthetic = trained.trainer.validate()  # noise=synthetic, as _overrides sets it
    assert np.isnan(synthetic["val_si_sdr_i_recorded"]) and np.isfinite(synthetic["val_si_sdr_i"])
    assert synthetic["val_si_sdr_i_synthetic"] == pytest.approx(synthetic["val_si_sdr_i"])

    # best/ chosen by a score the validation set has no items for would never be written:
    # refused before the first step
    tr = trainer_module.Trainer(_cfg(_overrides(corpus, tmp_path, ["train.best_metric=val_si_sdr_i_recorded"])),
                                tmp_path / "c")  # fmt: skip
    with pytest.raises(ValueError, match="best_metric=val_si_sdr_i_recorded"):
        tr.fit(quiet=True)
    assert int(tr.step) == 0 and not (tmp_path / "c" / "best").exists()
    with pytest.raises(ValueError, match="train.best_metric: expected one of"):
        trainer_module.Trainer(_cfg(_overrides(corpus, tmp_path, ["train.best_metric=val_loss"])), tmp_path / "d")


def test_metrics_csv_of_an_older_run_keeps_its_columns(corpus, tmp_path):
    import csv

    tr = trainer_module.Trainer(_cfg(_overrides(corpus, tmp_path)), tmp_path / "exp")
    old_fields = [f for f in trainer_module.CSV_FIELDS if f != "val_si_sdr_i_recorded"]
    (tmp_path / "exp" / "metrics.csv").write_text(",".join(old_fields) + "\n" + ",".join("1" for _ in old_fields) + "\n")
    tr._log_row({**{f: 2 for f in trainer_module.CSV_FIELDS}, "val_si_sdr_i_recorded": 3.0})
    with open(tmp_path / "exp" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[1]) == old_fields and rows[1]["step"] == "2"
    # a column renamed since keeps being filled under its old name
    older = [f if f != "val_full_band_energy_db" else "val_energy_ratio_db" for f in old_fields]
    (tmp_path / "exp" / "metrics.csv").write_text(",".join(older) + "\n")
    tr._log_row({**{f: 2 for f in trainer_module.CSV_FIELDS}, "val_full_band_energy_db": -0.5})
    with open(tmp_path / "exp" / "metrics.csv", newline="") as f:
        assert next(csv.DictReader(f))["val_energy_ratio_db"] == "-0.5"


def test_resume_continues_exactly(corpus, tmp_path):
    common = ["steps_per_epoch=3", "lr=1e-3", "train.checkpoint_every=3", "seed=5"]
    straight = trainer_module.Trainer(_cfg(_overrides(corpus, tmp_path, ["epochs=2", *common])), tmp_path / "a")
    straight.fit(quiet=True)

    # the run as a run stopped after its first epoch leaves it: the checkpoint the run saved at
    # step 3 (after that epoch's validation) is the latest one, in a folder of its own. (A stopped
    # run of its own would cost another train-step trace; test_sigkill_then_resume stops a real run.)
    saved, stopped = tmp_path / "a" / "checkpoints", tmp_path / "b" / "checkpoints"
    stopped.mkdir(parents=True)
    for part in saved.glob("ckpt-3.*"):
        shutil.copy(part, stopped / part.name)
    tf.compat.v1.train.update_checkpoint_state(str(stopped), str(stopped / "ckpt-3"))
    resumed = trainer_module.Trainer(_cfg(_overrides(corpus, tmp_path, ["epochs=2", *common])), tmp_path / "b")
    assert resumed.restore() == 3
    assert int(resumed.optimizer.iterations) == 3
    resumed.fit(quiet=True)

    assert int(resumed.step) == int(straight.step) == 6
    for a, b in zip(_weights(straight.model), _weights(resumed.model)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    for a, b in zip(straight.optimizer.variables, resumed.optimizer.variables):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-7)


def test_nan_loss_stops_with_message_and_keeps_last_good_checkpoint(corpus, tmp_path, monkeypatch):
    real = dataset_loader.make_train_dataset

    def poisoned(*args, **kwargs):
        ds = real(*args, **kwargs)
        start = kwargs.get("start_step", 0)

        def inject(i, batch):
            noisy, clean = batch
            bad = tf.equal(i + start, 4)  # the 5th batch carries a NaN
            noisy = tf.where(bad, noisy * np.nan, noisy)
            return noisy, clean

        return ds.enumerate().map(lambda i, b: inject(i, b))

    monkeypatch.setattr(dataset_loader, "make_train_dataset", poisoned)
    cfg = _cfg(_overrides(corpus, tmp_path, ["epochs=1", "steps_per_epoch=10", "train.checkpoint_every=2"]))
    tr = trainer_module.Trainer(cfg, tmp_path / "exp")
    with pytest.raises(trainer_module.TrainingDiverged, match=r"loss became nan at step 5.*ckpt-4"):
        tr.fit(quiet=True)
    ckpt = tf.train.latest_checkpoint(str(tmp_path / "exp" / "checkpoints"))
    assert ckpt.endswith("ckpt-4")
    # the saved state is the good one: finite weights, step 4
    again = trainer_module.Trainer(cfg, tmp_path / "exp")
    assert again.restore() == 4
    assert all(np.isfinite(w).all() for w in _weights(again.model))


def _run_train(args: list[str], env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    env = {**(os.environ if env is None else env), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, **kwargs)  # fmt: skip


@pytest.fixture(scope="module")
def squeezed_on_time(corpus, tmp_path_factory) -> SimpleNamespace:
    """A run of the micro model stopped by train.max_seconds=0.001 after its first step: one
    training run read by the loss test and the time-budget test."""
    root = tmp_path_factory.mktemp("on_time")
    cfg = _cfg(_overrides(corpus, root, ["epochs=1", "steps_per_epoch=1000", "train.max_seconds=0.001"]))
    tr = trainer_module.Trainer(cfg, root / "exp")
    return SimpleNamespace(trainer=tr, row=tr.fit(quiet=True), exp=root / "exp")


def test_loss_runs_the_waveform_model_as_the_spectrogram_chain(squeezed_on_time):
    """compute_loss goes through unet.WaveformDenoiser (transform=fft): the same numbers as the
    STFT -> channels -> U-Net -> inverse STFT chain written out, so the shipped model's training
    and scores are those of before the waveform model."""
    tr = squeezed_on_time.trainer
    noisy, clean = next(iter(tr.train_dataset(0)))
    loss, restored = tr.compute_loss(noisy, clean, training=False)
    x = stft.spec_to_channels(stft.stft(noisy, tr.n_fft, tr.hop))
    y = stft.spec_to_channels(stft.stft(clean, tr.n_fft, tr.hop))
    estimates = unet.stage_outputs(tr.model(x, training=False))
    wave = stft.istft(stft.channels_to_spec(estimates[-1]), clean.shape[-1], tr.n_fft, tr.hop)
    lc = tr.tcfg.loss
    expected = lc.mae_weight * losses.two_stage_mae(y, estimates, lc.stage1_weight) + lc.sisdr_weight * losses.negative_si_sdr(wave, clean)
    np.testing.assert_array_equal(restored.numpy(), wave.numpy())
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)
    row = squeezed_on_time.row
    assert row["step"] == 1 and np.isfinite(row["train_loss"]) and np.isfinite(row["val_si_sdr_i"])


def test_train_cli_writes_experiment_folder(corpus, tmp_path, micro_checkpoint):
    """One run of train.py that starts from a saved model (one train.py start, TF's import and a
    train-step trace, serves every check): its folder, its output, and the saved model's
    validation as the first row."""
    # a saved model in a folder whose name holds '=' and ',', as an experiment folder's does:
    # the path is quoted for Hydra
    source = tmp_path / "batch_size=2,lr=1e-3" / "last"
    shutil.copytree(micro_checkpoint, source)
    exps = tmp_path / "experiments"
    args = _overrides(corpus, exps, ["epochs=2", "steps_per_epoch=2", "quiet=true",
                                     f"train.init_from='{source}'", "train.init_step=2"])  # fmt: skip
    result = _run_train(args, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    # only the run's own lines: no TF start-up lines on stderr, no checkpoint chatter in the log
    assert result.stderr == "", result.stderr
    first_words = [line.split(":")[0].split(" ")[0] for line in result.stdout.splitlines()]
    assert first_words == ["experiment", "precision", "initialised", "epoch", "epoch", "done"], result.stdout
    folders = [p for p in exps.iterdir() if p.is_dir()]
    assert len(folders) == 1
    exp = folders[0]
    assert exp.name.startswith("batch_size=2,dset.cache_mb=64,")  # named from the sorted overrides
    assert "name: micro" in (exp / "config.yaml").read_text()
    # the overrides as given: what a parked run continues with (parking.continue_command)
    assert OmegaConf.to_container(OmegaConf.load(exp / "overrides.yaml")) == args
    assert tf.train.latest_checkpoint(str(exp / "checkpoints")).endswith("ckpt-4")
    assert (exp / "best" / "model.weights.h5").is_file() and (exp / "last" / "config.json").is_file()
    lines = (exp / "metrics.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,step,train_loss,val_loss,val_si_sdr_i")
    # a run started from a saved model validates it first: its row is the baseline to beat
    assert [int(r.split(",")[1]) for r in lines[1:]] == [2, 4]

    # running again without resume=true refuses to touch the folder
    again = _run_train(args, timeout=600)
    assert again.returncode == 2 and "resume=true" in again.stderr
    assert "Traceback" not in again.stderr


def test_kill_then_resume(corpus, tmp_path):
    args = _overrides(corpus, tmp_path, ["experiment=killed", "steps_per_epoch=2", "train.checkpoint_every=2", "quiet=true"])
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen([sys.executable, str(REPO / "train.py"), *args, "epochs=1000"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    index = tmp_path / "killed" / "checkpoints" / "checkpoint"
    deadline = time.time() + 300
    while not index.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.5)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)  # `kill`, as Ctrl-C: one line that says where the run stands
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, err[-2000:]
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("interrupted at step ") and "resume=true" in lines[0], err[-2000:]
    assert index.exists(), "no checkpoint was written before the deadline"
    saved = int(tf.train.latest_checkpoint(str(index.parent)).rsplit("-", 1)[1])
    assert saved >= 2

    # what resume=true does next (train.py: Trainer.restore, then fit; exact continuation is
    # test_resume_continues_exactly's): the state the killed run left restores whole
    resumed = trainer_module.Trainer(_cfg([*args, "epochs=1000", "resume=true"]), tmp_path / "killed")
    assert resumed.restore() == saved and all(np.isfinite(w).all() for w in _weights(resumed.model))


def test_max_seconds_stops_validated_and_saved(squeezed_on_time):
    # epochs=1 of 1000 steps under train.max_seconds=0.001 (and the default checkpoint_every=100)
    row, exp = squeezed_on_time.row, squeezed_on_time.exp
    assert row["step"] == 1 and int(squeezed_on_time.trainer.step) == 1 and np.isfinite(row["val_si_sdr_i"])
    assert tf.train.latest_checkpoint(str(exp / "checkpoints")).endswith("ckpt-1")
    assert [line.split(",")[1] for line in (exp / "metrics.csv").read_text().splitlines()[1:]] == ["1"]


def test_warmup_schedule_warms_up_then_falls_to_its_floor():
    s = trainer_module.WarmupSchedule(1e-3, "cosine", warmup_steps=10, decay_steps=100, min_lr_ratio=0.1)
    assert float(s(0)) == pytest.approx(1e-4)  # (0 + 1) / 10 of the rate
    assert float(s(9)) == pytest.approx(1e-3)
    assert float(s(60)) == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5))  # half way down the cosine
    assert float(s(110)) == pytest.approx(1e-4) and float(s(5000)) == pytest.approx(1e-4)
    assert float(trainer_module.WarmupSchedule(1e-3, "constant", warmup_steps=0)(5000)) == pytest.approx(1e-3)


def test_warmup_as_long_as_the_start_step_anneals_a_continued_run_from_its_full_rate():
    # TRAINING.md's recipe for annealing a run started at init_step N (refine4: N = 17,221)
    s = trainer_module.WarmupSchedule(1e-4, "cosine", warmup_steps=17221, decay_steps=2400, min_lr_ratio=0.1)
    rates = [float(s(step)) for step in (17221, 17221 + 1200, 17221 + 2400, 20000)]
    assert rates[0] == pytest.approx(1e-4)
    assert rates[1] == pytest.approx(0.55e-4, rel=1e-3)
    assert rates[2] == pytest.approx(1e-5) and rates[3] == pytest.approx(1e-5)


def test_initialise_from_saved_model_continues_at_step(corpus, tmp_path, trained):
    # the source: a saved model of the same architecture (the shared trained run's last/ export)
    longer = _cfg(_overrides(corpus, tmp_path, ["epochs=2", "steps_per_epoch=4", "lr=1e-3", "train.schedule.name=cosine",
                                                "train.schedule.decay_steps=10", "train.checkpoint_every=1000"]))  # fmt: skip
    longer.model.name = "renamed"  # a label only: the same architecture still fits
    tr = trainer_module.Trainer(longer, tmp_path / "fine")
    assert not all(np.array_equal(a, b) for a, b in zip(trained.weights, _weights(tr.model)))
    assert tr.initialise_from(trained.exp / "last", step=4) == 4
    for a, b in zip(trained.weights, _weights(tr.model)):
        np.testing.assert_array_equal(a, b)
    # the schedule goes on from step 4, not from its start (where the cosine has another value)
    assert float(tr.schedule(4)) != pytest.approx(float(tr.schedule(0)))
    assert float(tr.schedule(tr.optimizer.iterations)) == pytest.approx(float(tr.schedule(4)))
    row = tr.fit(quiet=True)
    assert row["step"] == 8 and int(tr.step) == 8


def test_validate_initial_makes_the_starting_model_the_one_to_beat(corpus, tmp_path, monkeypatch, trained):
    source, trained = trained.exp / "last", trained.weights  # the shared trained run's export
    tr = trainer_module.Trainer(_cfg(_overrides(corpus, tmp_path, ["epochs=2", "steps_per_epoch=2", "lr=1e-3"])),
                                tmp_path / "fine")  # fmt: skip
    tr.initialise_from(source, step=2)
    row = tr.validate_initial()
    assert row["step"] == 2 and np.isnan(row["train_loss"]) and np.isfinite(row["val_si_sdr_i"])
    assert float(tr.best_score) == pytest.approx(row["val_si_sdr_i"])
    best, _ = unet.load_denoiser(tmp_path / "fine" / "best")
    for a, b in zip(trained, best.get_weights()):
        np.testing.assert_array_equal(a, b)

    # an epoch that scores below the starting model leaves best/ as it was
    real_validate = tr.validate
    monkeypatch.setattr(tr, "validate", lambda: {**real_validate(), "val_si_sdr_i": row["val_si_sdr_i"] - 1.0})
    tr.fit(quiet=True)
    assert int(tr.step) == 4 and not all(np.array_equal(a, b) for a, b in zip(trained, _weights(tr.model)))
    best, _ = unet.load_denoiser(tmp_path / "fine" / "best")
    for a, b in zip(trained, best.get_weights()):
        np.testing.assert_array_equal(a, b)
    steps = [int(line.split(",")[1]) for line in (tmp_path / "fine" / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == [2, 4]


def test_best_metric_chooses_which_validation_score_keeps_best(corpus, tmp_path, monkeypatch):
    cfg = _cfg(_overrides(corpus, tmp_path, ["epochs=2", "steps_per_epoch=1", "lr=1e-3",
                                              "train.best_metric=val_si_sdr_i_synthetic"]))  # fmt: skip
    tr = trainer_module.Trainer(cfg, tmp_path / "exp")
    # epoch 1 scores 1 dB on the synthetic items, epoch 2 better overall but worse on them
    scores = iter([{"val_si_sdr_i": 0.0, "val_si_sdr_i_synthetic": 1.0}, {"val_si_sdr_i": 5.0, "val_si_sdr_i_synthetic": 0.5}])
    real_validate = tr.validate
    saved = []
    monkeypatch.setattr(tr, "validate", lambda: {**real_validate(), **next(scores)})
    monkeypatch.setattr(unet, "save_denoiser", lambda model, cfg, folder: saved.append((int(tr.step), Path(folder).name)))
    tr.fit(quiet=True)
    assert float(tr.best_score) == 1.0
    assert saved == [(1, "best"), (2, "last")]


def test_initialise_from_other_model_size_is_refused(corpus, tmp_path, trained):
    wider = _cfg(_overrides(corpus, tmp_path, ["epochs=1", "steps_per_epoch=1", "model.filters=[8,8]"]))
    other = trainer_module.Trainer(wider, tmp_path / "other")
    before = _weights(other.model)
    with pytest.raises(ValueError, match=r"train.init_from: .*differs in filters"):
        other.initialise_from(trained.exp / "last")  # a micro model trained by the trainer
    for a, b in zip(before, _weights(other.model)):
        np.testing.assert_array_equal(a, b)


def test_train_cli_init_from_missing_folder_is_one_line_error(corpus, tmp_path):
    args = _overrides(corpus, tmp_path, ["epochs=1", "steps_per_epoch=1", "quiet=true",
                                         f"train.init_from={tmp_path / 'nowhere'}"])  # fmt: skip
    result = _run_train(args, timeout=600)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ") and "nowhere" in result.stderr


def test_every_validation_score_is_a_csv_column_and_a_best_metric():
    scores = set(trainer_module.SCORE_ITEMS)
    assert scores == {f for f in trainer_module.CSV_FIELDS if f.startswith("val_si_sdr_i")}
    assert set(trainer_module.BEST_METRICS) == scores
    snr = np.array([0.0, 5.0, 10.0, 20.0])
    recorded = np.array([True, False, False, True])
    chosen = {name: select(snr, recorded).tolist() for name, select in trainer_module.SCORE_ITEMS.items()}
    assert chosen["val_si_sdr_i"] == [True] * 4
    assert chosen["val_si_sdr_i_recorded"] == [True, False, False, True]
    assert chosen["val_si_sdr_i_synthetic"] == [False, True, True, False]
    assert chosen["val_si_sdr_i_low_snr"] == [True, True, False, False]
    assert chosen["val_si_sdr_i_high_snr"] == [False, False, False, True]


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.checkpoint_every=0", "train.checkpoint_every: expected a whole number of at least 1, got 0"),
        ("epochs=0", "epochs: expected a whole number of at least 1, got 0"),
        ("epochs=-1", "epochs: expected a whole number of at least 1, got -1"),
        ("steps_per_epoch=0", "steps_per_epoch: expected a whole number of at least 1, got 0"),
        ("lr=-1", "lr: expected a positive number, got -1.0"),
        ("lr=nan", "lr: expected a positive number, got nan"),
        ("train.max_seconds=0", "train.max_seconds: expected a positive number, got 0.0"),
    ],
)
def test_settings_out_of_range_are_refused_naming_the_key(corpus, tmp_path, override, message):
    cfg = _cfg(_overrides(corpus, tmp_path, [override]))
    with pytest.raises(ValueError) as info:
        trainer_module.check_settings(cfg)
    assert str(info.value) == message
    with pytest.raises(ValueError, match="at least 1|positive|whole number"):
        trainer_module.Trainer(cfg, tmp_path / "exp")
    trainer_module.check_settings(_cfg(_overrides(corpus, tmp_path, ["lr=2e-4", "train.max_seconds=null"])))  # fine as given


@pytest.mark.parametrize("override, key", [("batch_size=2.5", "batch_size"), ("lr=abc", "lr"), ("seed=x", "seed"),
                                           ("train.checkpoint_every=often", "train.checkpoint_every"),
                                           ("train.loss.mrstft_weight=1", "mrstft_weight"),  # removed with its experiment
                                           ("train.schedul.name=cosine", "schedul")])  # fmt: skip
def test_wrong_types_and_unknown_keys_are_refused_by_the_schema(override, key):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException) as info:
        _cfg([override])
    assert key in f"{info.value} {info.value.__cause__}"


def test_train_cli_failed_starts_exit_2_in_one_line_and_leave_no_folder(corpus, tmp_path):
    """A bad setting (the trainer's step % checkpoint_every crashed on 0; epochs=0 reported a
    best model that was never saved) or bad data: one line, exit 2, no experiment folder;
    a resumed run's folder is never removed."""
    for extra, expected in [
        (["train.checkpoint_every=0"], "error: train.checkpoint_every: expected a whole number of at least 1, got 0"),
        (["epochs=0"], "error: epochs: expected a whole number of at least 1, got 0"),
        ([f"dset.categories.music.dirs=[{tmp_path / 'missing'}]"], "error: "),
    ]:
        result = _run_train(_overrides(corpus, tmp_path / "exps", ["steps_per_epoch=1", "quiet=true", *extra]), timeout=600)
        assert result.returncode == 2, result.stderr[-2000:]
        assert result.stderr.startswith(expected) and result.stderr.count("\n") == 1, result.stderr
        assert "done:" not in result.stdout
        assert not (tmp_path / "exps").exists() or not any((tmp_path / "exps").iterdir()), list((tmp_path / "exps").iterdir())
    # settings, a missing starting model and a refused folder are checked before TensorFlow is
    # imported: with a tensorflow that cannot be imported they are still refused in one line
    blocked = tmp_path / "no_tensorflow" / "tensorflow"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text("raise ImportError('tensorflow imported before the checks')\n")
    env = {**os.environ, "PYTHONPATH": str(blocked.parent)}
    (tmp_path / "exps" / "taken" / "checkpoints").mkdir(parents=True)
    (tmp_path / "exps" / "taken" / "checkpoints" / "checkpoint").write_text("")
    for extra, expected in [
        (["epochs=0"], "error: epochs: expected a whole number of at least 1, got 0"),
        ([f"train.init_from={tmp_path / 'nowhere'}"], f"error: train.init_from: {tmp_path / 'nowhere'}: no such folder"),
        (["experiment=taken"], f"error: {tmp_path / 'exps' / 'taken'}: experiment already has checkpoints"),
    ]:
        result = _run_train(_overrides(corpus, tmp_path / "exps", ["steps_per_epoch=1", "quiet=true", *extra]), env=env, timeout=600)
        assert result.returncode == 2 and result.stderr.startswith(expected) and result.stderr.count("\n") == 1, result.stderr
    assert sorted(p.name for p in (tmp_path / "exps").iterdir()) == ["taken"]
