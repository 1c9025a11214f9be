"""Park a training run in the repository, and take it up again on another machine.

A run can outlast its machine (a few hours of a CPU machine, half an hour of a lent GPU),
and the next machine may be new, with nothing but the repository. So a run that must go on
is *parked*: what continuing needs is written to ``parked_runs/<experiment>/`` and
committed; on the next machine it is *unparked* into an experiment folder and goes on with
``train.py ... resume=true``.

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
shipped model. The small model's float32 weights (12 MB) exceed it, so a run that started
from a saved model (``train.init_from``, as every fine-tune of ``models/default`` does) is
parked as its *difference* from that model instead: ``model/weights_delta.npz``, the change
of every weight in float16 rounded to :data:`DELTA_MANTISSA_BITS` mantissa bits, its two
bytes stored as separate planes (which compress better), about 4.1 MB for the small model.
Unparking adds it back to the reference model, whose SHA-256 is checked. The largest error
this leaves is recorded in ``parked.json``: about 2^-9 of the largest change, under one
optimiser step for a fine-tune (3.7e-5 after 1,501 steps of cond3, where one Adam step at
lr 5e-5 moves a weight by up to about 5e-5).
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import hashlib
import json
import math
import os
import shlex
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from omegaconf import OmegaConf

from paths import REPO_ROOT, repo_path

PARKED_ROOT = REPO_ROOT / "parked_runs"
LIMIT_MB = 5.0  # the repository keeps no file over 5 MB but the shipped model
INFO_FILE = "parked.json"
MODEL_FOLDER = "model"
DELTA_FILE = "weights_delta.npz"  # in MODEL_FOLDER, beside config.json, for a parked difference
# float16 keeps 10 mantissa bits; 8 of them (9 significant bits) keep the error under one
# optimiser step and save about 15 % (a 1,523-step fine-tune's delta: 4.9 against 4.2 MB)
DELTA_MANTISSA_BITS = 8
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


def _arrays_sha256(arrays: list) -> str:
    digest = hashlib.sha256()
    for a in arrays:
        digest.update(a.astype("<f4").tobytes())
    return digest.hexdigest()


def _label(path: Path) -> str:
    """``path`` as parked.json names it: relative to the repository when inside it (the next
    machine's clone has it there), absolute otherwise."""
    try:
        return path.resolve().relative_to(REPO_ROOT.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def reference_weights(folder: str | os.PathLike, model_cfg: dict) -> list:
    """The weights a model of ``model_cfg`` gets from the saved model in ``folder``, as a run
    started from it (``train.init_from``) began: :func:`unet.adopt_weights`."""
    import unet

    source, source_cfg = unet.load_denoiser(folder)
    target = unet.build_model(model_cfg)
    try:
        unet.adopt_weights(source, source_cfg, target, model_cfg)
    except ValueError as exc:
        raise ParkingError(f"{folder}: not a model this run can be a difference from ({exc})") from None
    return target.get_weights()


def encode_delta(weights: list, reference: list) -> tuple:
    """``weights - reference``, all arrays in one, in float16 rounded to
    :data:`DELTA_MANTISSA_BITS`, as a ``[2, n]`` uint8 array of its two byte planes (the high
    bytes, sign and exponent, repeat and compress well apart from the low ones); also the
    largest error this leaves."""
    import numpy as np

    drop = 10 - DELTA_MANTISSA_BITS
    parts, worst = [], 0.0
    for i, (w, r) in enumerate(zip(weights, reference, strict=True)):
        w, r = np.asarray(w, np.float32), np.asarray(r, np.float32)
        if w.shape != r.shape:
            raise ParkingError(f"weight {i} has shape {w.shape}, the reference's {r.shape}")
        with np.errstate(over="ignore"):  # a change beyond float16's range is refused just below
            bits = (w - r).astype(np.float16).view(np.uint16).astype(np.uint32)
        half = (bits + (1 << (drop - 1))) >> drop << drop if drop else bits  # round to nearest
        delta = half.astype(np.uint16).view(np.float16)
        if not np.isfinite(delta).all():
            raise ParkingError(f"weight {i} lies too far from the reference for a float16 difference")
        if w.size:
            worst = max(worst, float(np.max(np.abs(r + delta.astype(np.float32) - w))))
        parts.append(delta.reshape(-1))
    flat = np.concatenate(parts) if parts else np.zeros(0, np.float16)
    return flat.view(np.uint8).reshape(-1, 2).T.copy(), worst


def apply_delta(reference: list, planes) -> list:
    """The weights that :func:`encode_delta` stored, from the same reference (float32)."""
    import numpy as np

    flat = np.ascontiguousarray(np.asarray(planes, np.uint8).T).view(np.float16).reshape(-1)
    sizes = [int(np.size(r)) for r in reference]
    if flat.size != sum(sizes):
        raise ParkingError(f"the difference holds {flat.size} weights, the reference model {sum(sizes)}")
    out, start = [], 0
    for r, n in zip(reference, sizes):
        out.append(np.asarray(r, np.float32) + flat[start : start + n].astype(np.float32).reshape(np.shape(r)))
        start += n
    return out


def _reference_folder(reference: str | os.PathLike | None, cfg) -> Path | None:
    """``reference`` resolved: None or "none" (full weights), "auto" (the run's
    ``train.init_from``, if any) or a model folder. A parked run (a run started from one)
    stands for the model it is parked against, or for its own folder of whole weights: a
    difference from a difference would need both to continue."""
    if reference is None or str(reference) == "none":
        return None
    if str(reference) == "auto":
        reference = (cfg.get("train") or {}).get("init_from")
        if not reference:
            return None
    folder = repo_path(reference)
    if (folder / INFO_FILE).is_file():
        weights = read_parked(folder)["weights"]
        return repo_path(weights["reference"]) if weights.get("format") == "float16_delta" else folder / MODEL_FOLDER
    return folder


@contextlib.contextmanager
def starting_folder(folder: str | os.PathLike) -> Iterator[Path]:
    """The model folder a run starts from (``train.init_from``): ``folder`` itself, or for a
    parked run its weights rebuilt into a temporary folder (removed afterwards), so that a
    new run can grow from a parked one (another conditioning, another recipe). Raises
    :class:`ParkingError` for a parked run that cannot be rebuilt."""
    import unet

    folder = Path(folder)
    if not (folder / INFO_FILE).is_file():
        yield folder
        return
    info = read_parked(folder)
    if info["weights"].get("format") != "float16_delta":
        yield folder / MODEL_FOLDER
        return
    with tempfile.TemporaryDirectory() as tmp:
        yield unet.save_denoiser(*load_parked_model(folder, info), Path(tmp) / MODEL_FOLDER)


def _write_weights(model, model_cfg: dict, folder: Path, reference: Path | None) -> dict:
    """Write the parked weights into ``folder``; returns what parked.json says of them."""
    import numpy as np

    import unet

    if reference is None:
        unet.save_denoiser(model, model_cfg, folder)
        return {"format": "float32", "sha256": _sha256(folder / unet.WEIGHTS_FILE)}
    try:
        base = reference_weights(reference, model_cfg)
    except unet.CheckpointError as exc:
        raise ParkingError(f"the reference model: {exc}") from None
    weights = model.get_weights()
    planes, worst = encode_delta(weights, base)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / unet.CONFIG_FILE).write_text(json.dumps(unet.model_config(model_cfg), indent=2))
    np.savez_compressed(folder / DELTA_FILE, planes=planes)
    return {"format": "float16_delta", "sha256": _sha256(folder / DELTA_FILE), "reference": _label(reference),
            "reference_sha256": _sha256(reference / unet.WEIGHTS_FILE), "mantissa_bits": DELTA_MANTISSA_BITS,
            "max_error": worst, "weights_sha256": _arrays_sha256(apply_delta(base, planes))}  # fmt: skip


def check_park(exp_dir: str | os.PathLike) -> None:
    """Raise :class:`ParkingError` where ``exp_dir`` is plainly not a run to park (no
    ``config.yaml``, no checkpoint state); reads no weights and needs no TensorFlow, so that
    scripts/park_run.py refuses in a second what :func:`park` would refuse after TF's import."""
    exp_dir = Path(exp_dir)
    if not (exp_dir / "config.yaml").is_file():
        raise ParkingError(f"{exp_dir}: not an experiment folder of train.py (no config.yaml)")
    if not (exp_dir / "checkpoints" / "checkpoint").is_file():  # tf.train's state file: no checkpoint without it
        raise ParkingError(f"{exp_dir}: no checkpoint to park (checkpoints/ is missing or empty)")


def check_unpark(parked: str | os.PathLike, experiments_root: str | os.PathLike) -> None:
    """Raise :class:`ParkingError` where ``parked`` has no readable ``parked.json`` or its
    experiment's folder under ``experiments_root`` already holds checkpoints: what
    :func:`unpark` refuses first, without TensorFlow (its hashes are checked there)."""
    parked = Path(parked)
    try:
        experiment = str(json.loads((parked / INFO_FILE).read_text())["experiment"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ParkingError(f"{parked}: not a parked run ({INFO_FILE}: {exc.__class__.__name__})") from None
    exp_dir = repo_path(experiments_root) / experiment
    if (exp_dir / "checkpoints").exists():
        raise ParkingError(f"{exp_dir}: already holds checkpoints; continue it with resume=true, or unpark elsewhere")


def park(exp_dir: str | os.PathLike, dest_root: str | os.PathLike = PARKED_ROOT, limit_mb: float = LIMIT_MB,
         now: datetime.datetime | None = None, reference: str | os.PathLike | None = "auto") -> Path:  # fmt: skip
    """Park the run in ``exp_dir`` as ``dest_root/<experiment>``; returns that folder.

    ``reference``: a saved model the weights are parked as a difference from (see the module's
    notes); ``"auto"`` takes the run's ``train.init_from`` where it has one, None or ``"none"``
    parks the float32 weights whole. A run parked there before is replaced whole, and only
    once the new folder is complete. Raises :class:`ParkingError` when the folder is not a run
    with a checkpoint, or when the parked run would exceed ``limit_mb`` (nothing is written then).
    """
    exp_dir = Path(exp_dir)
    check_park(exp_dir)
    cfg = OmegaConf.load(exp_dir / "config.yaml")
    model, model_cfg, step, best_score = _read_last_checkpoint(exp_dir, cfg)
    reference = _reference_folder(reference, cfg)
    name = exp_dir.name
    dest_root = Path(dest_root)
    dest_root.mkdir(parents=True, exist_ok=True)
    work = dest_root / f".{name}.partial-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    try:
        weights = _write_weights(model, model_cfg, work / MODEL_FOLDER, reference)
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
            "weights": weights,
            "optimizer_moments": "not kept; rebuilt from zero when the run continues",
            "continue": continue_command(overrides, name, "experiments") if overrides else None,
        }
        (work / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
        size = folder_mb(work)
        if size > limit_mb:
            hint = "" if reference else " or as a difference from the model it started from (--reference)"
            raise ParkingError(f"{exp_dir}: the parked run would take {size:.1f} MB, over the limit of {limit_mb:g} MB; "
                               f"park it outside the repository (--dest){hint} and say where in the run's notes")  # fmt: skip
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
    """The ``parked.json`` of a parked run, checked to be whole (its weights file, and for a
    difference the reference model, match their hashes)."""
    import unet

    parked = Path(parked)
    try:
        info = json.loads((parked / INFO_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise ParkingError(f"{parked}: not a parked run ({INFO_FILE}: {exc.__class__.__name__})") from None
    # parks written before differences existed name their float32 file's hash at the top level
    weights = info.get("weights") or {"format": "float32", "sha256": info.get("weights_sha256")}
    info["weights"] = weights
    delta = weights["format"] == "float16_delta"
    stored = parked / MODEL_FOLDER / (DELTA_FILE if delta else unet.WEIGHTS_FILE)
    if not stored.is_file() or _sha256(stored) != weights.get("sha256"):
        raise ParkingError(f"{stored}: missing or not the weights that were parked (SHA-256 differs)")
    if delta:
        reference = repo_path(weights["reference"]) / unet.WEIGHTS_FILE
        if not reference.is_file():
            raise ParkingError(f"{parked}: its weights are a difference from {weights['reference']}, which is not here")
        if _sha256(reference) != weights["reference_sha256"]:
            raise ParkingError(f"{reference}: not the reference model the run was parked against (SHA-256 differs)")
    return info


def load_parked_model(parked: str | os.PathLike, info: dict | None = None) -> tuple[object, dict]:
    """The parked weights as a model: ``(model, model_config)``, either format."""
    import numpy as np

    import unet

    parked = Path(parked)
    info = info or read_parked(parked)
    weights = info["weights"]
    if weights["format"] != "float16_delta":
        return unet.load_denoiser(parked / MODEL_FOLDER)
    model_cfg = unet.model_config(json.loads((parked / MODEL_FOLDER / unet.CONFIG_FILE).read_text()))
    with np.load(parked / MODEL_FOLDER / DELTA_FILE) as stored:
        values = apply_delta(reference_weights(repo_path(weights["reference"]), model_cfg), stored["planes"])
    if _arrays_sha256(values) != weights["weights_sha256"]:
        raise ParkingError(f"{parked}: the difference does not rebuild the parked weights (SHA-256 differs)")
    model = unet.build_model(model_cfg)
    model.set_weights(values)
    return model, model_cfg


def unpark(parked: str | os.PathLike, experiments_root: str | os.PathLike) -> tuple[Path, str | None]:
    """Make ``experiments_root/<experiment>`` a run that ``resume=true`` continues.

    The folder gets the parked settings, metrics and a checkpoint at the parked step with
    the parked weights (the optimiser's moments at zero). Its ``best/`` and ``last/`` are
    those weights, and the best score is their validation score at that step, so ``best/``
    changes only to weights that beat them. Returns the folder and the command that
    continues the run (None when the run recorded no overrides). Refuses a folder that
    already holds checkpoints; a failed unpark leaves no folder behind.
    """
    import unet
    from trainer import Trainer

    parked = Path(parked)
    check_unpark(parked, experiments_root)
    info = read_parked(parked)
    # taken from the repository when relative, as train.py takes experiments_root
    exp_dir = repo_path(experiments_root) / str(info["experiment"])
    created = not exp_dir.exists()
    try:
        trainer = Trainer(OmegaConf.load(parked / "config.yaml"), exp_dir)
        with tempfile.TemporaryDirectory() as tmp:
            source = parked / MODEL_FOLDER
            if info["weights"]["format"] == "float16_delta":  # rebuilt as a model folder to start from
                source = unet.save_denoiser(*load_parked_model(parked, info), Path(tmp) / MODEL_FOLDER)
            trainer.initialise_from(source, int(info["step"]))
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
