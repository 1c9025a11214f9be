"""Train the denoiser: ``python train.py epochs=20 batch_size=4 steps_per_epoch=200 lr=2e-4``.

Groups: ``model=small|paper|tiny``, ``dset=corpus|...``, ``noise=mixed|film|...``,
``train=default|published``. Each run lives in ``experiments/<name>``, the name taken from
``experiment=...`` or else from the overrides; ``resume=true`` continues a stopped run.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import sys
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

import configs  # registers the schemas that conf/ names; the settings' checks
import parking
from cli import print_error
from paths import repo_path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's C++ start-up chatter out of the logs
# TensorFlow leaves oneDNN off on CPUs without AVX-512 (this project's 2-core AVX2 machines):
# a training step took 28 s there without it and 15-17 s with it (docs/PERFORMANCE.md)
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
# overrides that do not change what is trained, so they do not rename the experiment
_NAME_EXCLUDED = ("resume", "experiment", "experiments_root", "quiet")

log = logging.getLogger("train")


def experiment_name(cfg: DictConfig, overrides: list[str]) -> str:
    """``experiment`` if set, else the sorted overrides joined by commas, else ``default``."""
    if cfg.get("experiment"):
        return str(cfg.experiment)
    kept = sorted(o for o in overrides if o.split("=", 1)[0].lstrip("+~") not in _NAME_EXCLUDED)
    name = ",".join(kept) or "default"
    return re.sub(r"[^A-Za-z0-9=,._+-]", "_", name)[:200]


def experiment_dir(cfg: DictConfig, overrides: list[str]) -> Path:
    return repo_path(cfg.experiments_root) / experiment_name(cfg, overrides)


def run(cfg: DictConfig) -> int:
    """Train as configured; returns the process exit code."""
    # settings, the folder and the starting model are checked before TensorFlow's import
    # (seconds): a mistyped start is refused at once and leaves nothing behind
    overrides = list(HydraConfig.get().overrides.task)
    try:
        configs.check_settings(cfg)
        chief = configs.is_chief(str(cfg.train.strategy))
    except ValueError as exc:
        print_error(exc)
        return 2
    exp_dir = experiment_dir(cfg, overrides)
    has_state = (exp_dir / "checkpoints" / "checkpoint").exists()
    if has_state and not cfg.resume:
        print(f"error: {exp_dir}: experiment already has checkpoints; pass resume=true to continue it "
              f"or experiment=<name> for a new one", file=sys.stderr)  # fmt: skip
        return 2
    init_from = cfg.train.get("init_from")
    if init_from and not (has_state and cfg.resume) and not repo_path(init_from).is_dir():
        print(f"error: train.init_from: {repo_path(init_from)}: no such folder", file=sys.stderr)
        return 2

    from cli import native_stderr_silenced

    with native_stderr_silenced():  # TF's C++ start-up lines ignore TF_CPP_MIN_LOG_LEVEL
        import tensorflow  # noqa: F401
    # TF reports every checkpoint save ("Sharding callback duration") at INFO through absl's
    # logger, which the run's stdout logging would print between the epochs' lines
    for name in ("absl", "tensorflow"):
        logging.getLogger(name).setLevel(logging.WARNING)
    from trainer import Trainer, TrainingDiverged
    from unet import CheckpointError

    # only the chief of a multi-worker run writes the folder, and so only it may remove it
    created = chief and not exp_dir.exists()
    code = _train(cfg, exp_dir, chief, overrides, Trainer, TrainingDiverged, CheckpointError)
    if code == 2 and created:
        # a start that failed on its settings or data trained nothing: leave no folder behind
        shutil.rmtree(exp_dir, ignore_errors=True)
    return code


def _train(cfg: DictConfig, exp_dir: Path, chief: bool, overrides: list[str], Trainer: type, TrainingDiverged: type,
           CheckpointError: type) -> int:  # fmt: skip
    if chief:
        exp_dir.mkdir(parents=True, exist_ok=True)
        # rewritten on every start, so after a resume with changed overrides (e.g. a lower lr) it
        # records the settings the run goes on with; metrics.csv and the log keep the history.
        # The overrides are what a parked run continues with (parking.continue_command)
        (exp_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
        (exp_dir / "overrides.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(list(overrides))))
    print(f"experiment folder: {exp_dir}", flush=True)
    try:
        trainer = Trainer(cfg, exp_dir)
        resumed = bool(cfg.resume) and trainer.restore() > 0
        init_from = cfg.train.get("init_from")
        if init_from and not resumed:
            with parking.starting_folder(repo_path(init_from)) as source:  # a model folder or a parked run
                if source != repo_path(init_from):
                    log.info("train.init_from=%s is a parked run: starting from its weights, rebuilt", init_from)
                trainer.initialise_from(source, int(cfg.train.get("init_step") or 0))
            trainer.validate_initial()
    except (ValueError, CheckpointError, parking.ParkingError) as exc:
        print_error(exc)
        return 2
    try:
        trainer.fit(quiet=bool(cfg.get("quiet", False)))
    except KeyboardInterrupt:  # Ctrl-C or kill: the checkpoints written so far are the run's state
        kept = sorted((exp_dir / "checkpoints").glob("ckpt-*.index"), key=lambda p: int(p.stem.split("-")[1]))
        where = f"the last checkpoint is step {kept[-1].stem.split('-')[1]}" if kept else "no checkpoint was written yet"
        print(f"interrupted at step {int(trainer.step.numpy())}; {where}; continue with resume=true", file=sys.stderr)
        return 130
    except TrainingDiverged as exc:
        print_error(exc)
        return 3
    except ValueError as exc:  # configuration or data problems found at start
        print_error(exc)
        return 2
    if not chief:  # the chief saves the models and says where
        print(f"done: the chief wrote the models to {exp_dir}")
        return 0
    best = exp_dir / "best"
    if not (best / "model.weights.h5").is_file():  # never claim a model that is not there
        print(f"error: {best}: no model was saved (no validation score was ever finite); see {exp_dir / 'metrics.csv'}",
              file=sys.stderr)  # fmt: skip
        return 1
    print(f"done: best model in {best}, last in {exp_dir / 'last'}")
    return 0


def _main() -> None:
    """``python train.py ...`` and the ``train`` command (pyproject.toml): Hydra on conf/ (any
    folder), one ``error:`` line and exit 2 for arguments it rejects, and ``kill`` stopping a run
    as Ctrl-C does (saved, one line, exit 130)."""
    from cli import hydra_entry

    hydra_entry(run)


if __name__ == "__main__":
    _main()
