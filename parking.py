"""Park a training run in the repository, and take it up again on another machine.

A run can outlast a working period (a few hours of a CPU machine, half an hour of a lent
GPU), and the next period may start on a new machine with nothing but the repository. So
a run that must go on is *parked*: what continuing needs is written to
``parked_runs/<experiment>/`` and committed; the next period *unparks* it into an
experiment folder and goes on with ``train.py ... resume=true``.

A parked run holds:

- ``model/``: the weights of the run's last checkpoint, float32 and exact (``unet.save_denoiser``);
- ``config.yaml`` and ``overrides.yaml``: the settings, as train.py wrote them;
- ``metrics.csv``: the validation history;
- ``parked.json``: the step, the validation row of that step, the best score so far and
  the command that continues the run.

Adam's moments are not kept. They would triple the size, and with the project's betas
(0.5, 0.9) what they hold is forgotten within about 45 steps (0.9^45 < 1 %): the continued
run builds them again from zero, as ``train.init_from`` does. The step, and with it the
learning-rate schedule and the data order, goes on where it stopped. So a parked run is not
bit-exact to an uninterrupted one (``resume=true`` on the same machine is), but
otherwise the same run.

The size limit is :data:`LIMIT_MB` per parked run, the repository's rule for any file but the
shipped model. The small model's weights (12 MB) exceed it: such a run parks outside the
repository (``--dest``), in a place the run's notes name; only a smaller model parks here.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import json
import math
import os
import shlex
import shutil
from pathlib import Path

from omegaconf import OmegaConf

from paths import REPO_ROOT, repo_path

PARKED_ROOT = REPO_ROOT / "parked_runs"
LIMIT_MB = 5.0  # the repository keeps no file over 5 MB but the shipped model
INFO_FILE = "parked.json"
MODEL_FOLDER = "model"
# what train.py writes into an experiment folder, kept by parking as it is
RUN_FILES = ("config.yaml", "overrides.yaml", "metrics.csv")
# overrides that say where and whether to resume, set anew by the continuing command
_PLACE_KEYS = ("experiment", "experiments_root", "resume")


class ParkingError(Exception):
    """A run cannot be parked or unparked as asked; the message says why."""


def _metrics_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _number(value: str | None) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _row_at(rows: list[dict], step: int) -> dict | None:
    """The last validation row logged at ``step`` (a resumed run may log a step twice)."""
    found = [r for r in rows if _number(r.get("step")) == step]
    return found[-1] if found else None


def continue_command(overrides: list[str], experiment: str, experiments_root: str | os.PathLike) -> str:
    """The train.py command that goes on with a run: its own overrides, placed anew."""
    kept = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") not in _PLACE_KEYS]
    args = [*kept, f"experiment={experiment}", f"experiments_root={experiments_root}", "resume=true"]
    return "python train.py " + " ".join(shlex.quote(a) for a in args)


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_last_checkpoint(exp_dir: Path, cfg) -> tuple[object, dict, int, float]:
    """The model, its config, the step and the best score of the run's latest checkpoint."""
    import numpy as np
    import tensorflow as tf

    import unet

    latest = tf.train.latest_checkpoint(str(exp_dir / "checkpoints"))
    if not latest:
        raise ParkingError(f"{exp_dir}: no checkpoint to park (checkpoints/ is missing or empty)")
    model_cfg = unet.model_config(cfg.model)
    model = unet.build_model(model_cfg)
    step = tf.Variable(0, dtype=tf.int64, trainable=False)
    best = tf.Variable(-np.inf, dtype=tf.float64, trainable=False)
    # the trainer's checkpoint also holds the optimiser, which parking leaves out (see above)
    checkpoint = tf.train.Checkpoint(model=model, step=step, best_score=best)
    try:
        checkpoint.restore(latest).expect_partial().assert_existing_objects_matched()
    except (AssertionError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ParkingError(f"{latest}: does not fit the run's config.yaml ({first})") from None
    return model, model_cfg, int(step.numpy()), float(best.numpy())


def park(exp_dir: str | os.PathLike, dest_root: str | os.PathLike = PARKED_ROOT, limit_mb: float = LIMIT_MB,
         now: datetime.datetime | None = None) -> Path:  # fmt: skip
    """Park the run in ``exp_dir`` as ``dest_root/<experiment>``; returns that folder.

    A run parked there before is replaced whole, and only once the new folder is complete.
    Raises :class:`ParkingError` when the folder is not a run with a checkpoint, or when the
    parked run would exceed ``limit_mb`` (nothing is written then).
    """
    import unet

    exp_dir = Path(exp_dir)
    config = exp_dir / "config.yaml"
    if not config.is_file():
        raise ParkingError(f"{exp_dir}: not an experiment folder of train.py (no config.yaml)")
    cfg = OmegaConf.load(config)
    model, model_cfg, step, best_score = _read_last_checkpoint(exp_dir, cfg)
    name = exp_dir.name
    dest_root = Path(dest_root)
    dest_root.mkdir(parents=True, exist_ok=True)
    work = dest_root / f".{name}.partial-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    try:
        unet.save_denoiser(model, model_cfg, work / MODEL_FOLDER)
        for file in RUN_FILES:
            if (exp_dir / file).is_file():
                shutil.copy2(exp_dir / file, work / file)
        overrides = list(OmegaConf.load(work / "overrides.yaml")) if (work / "overrides.yaml").is_file() else []
        rows = _metrics_rows(work / "metrics.csv")
        best_metric = str(cfg.train.get("best_metric") or "val_si_sdr_i")
        best_rows = [r for r in rows if _number(r.get(best_metric)) == best_score]
        info = {
            "experiment": name,
            "step": step,
            "parked": (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y-%m-%d %H:%M UTC"),
            "validation_at_step": _row_at(rows, step),
            "best": {"metric": best_metric, "score": best_score if math.isfinite(best_score) else None,
                     "step": int(_number(best_rows[-1]["step"])) if best_rows else None},  # fmt: skip
            "weights_sha256": _sha256(work / MODEL_FOLDER / unet.WEIGHTS_FILE),
            "optimizer_moments": "not kept; rebuilt from zero when the run continues",
            "continue": continue_command(overrides, name, "experiments") if overrides else None,
        }
        (work / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
        size = folder_mb(work)
        if size > limit_mb:
            raise ParkingError(f"{exp_dir}: the parked run would take {size:.1f} MB, over the limit of {limit_mb:g} MB; "
                               "park it outside the repository (--dest) and say where in the run's notes")  # fmt: skip
        target = dest_root / name
        old = dest_root / f".{name}.old-{os.getpid()}"
        if target.exists():
            os.replace(target, old)
        os.replace(work, target)
        shutil.rmtree(old, ignore_errors=True)
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)


def read_parked(parked: str | os.PathLike) -> dict:
    """The ``parked.json`` of a parked run, checked to be whole (weights match their hash)."""
    import unet

    parked = Path(parked)
    try:
        info = json.loads((parked / INFO_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise ParkingError(f"{parked}: not a parked run ({INFO_FILE}: {exc.__class__.__name__})") from None
    weights = parked / MODEL_FOLDER / unet.WEIGHTS_FILE
    if not weights.is_file() or _sha256(weights) != info.get("weights_sha256"):
        raise ParkingError(f"{weights}: missing or not the weights that were parked (SHA-256 differs)")
    return info


def unpark(parked: str | os.PathLike, experiments_root: str | os.PathLike) -> tuple[Path, str | None]:
    """Make ``experiments_root/<experiment>`` a run that ``resume=true`` continues.

    The folder gets the parked settings, metrics and a checkpoint at the parked step with
    the parked weights (the optimiser's moments at zero). Its ``best/`` and ``last/`` are
    those weights, and the best score is their validation score at that step, so ``best/``
    changes only to weights that beat them. Returns the folder and the command that
    continues the run (None when the run recorded no overrides). Refuses a folder that
    already holds checkpoints; a failed unpark leaves no folder behind.
    """
    from trainer import Trainer

    parked = Path(parked)
    info = read_parked(parked)
    # taken from the repository when relative, as train.py takes experiments_root
    exp_dir = repo_path(experiments_root) / str(info["experiment"])
    if (exp_dir / "checkpoints").exists():
        raise ParkingError(f"{exp_dir}: already holds checkpoints; continue it with resume=true, or unpark elsewhere")
    created = not exp_dir.exists()
    try:
        trainer = Trainer(OmegaConf.load(parked / "config.yaml"), exp_dir)
        trainer.initialise_from(parked / MODEL_FOLDER, int(info["step"]))
        score = _number(((info.get("validation_at_step") or {}).get(trainer.best_metric)))
        trainer.best_score.assign(score if math.isfinite(score) else -math.inf)
        for file in RUN_FILES:
            if (parked / file).is_file():
                shutil.copy2(parked / file, exp_dir / file)
        trainer.export("best")
        trainer.export("last")
        trainer.save()
    except BaseException:
        if created:
            shutil.rmtree(exp_dir, ignore_errors=True)
        raise
    overrides = list(OmegaConf.load(parked / "overrides.yaml")) if (parked / "overrides.yaml").is_file() else []
    return exp_dir, continue_command(overrides, exp_dir.name, experiments_root) if overrides else None
