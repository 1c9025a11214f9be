"""Equal-wall-clock ablations of the training recipe (issue: learn fast on two CPU cores).

Each arm is a set of train.py overrides; every arm trains from the same seed for the same
wall-clock budget (train.max_seconds), is validated once at the end on the trainer's fixed
validation set, and lands in experiments/ablations/<arm>. The table goes to
docs/results/ablations.md. Run it alone on the machine: a second job halves every arm's
speed and the comparison with it.

    .venv/bin/python scripts/ablate.py --minutes 20                      # every arm
    .venv/bin/python scripts/ablate.py --minutes 20 --arms published default
    .venv/bin/python scripts/ablate.py --table-only                      # re-read finished arms
"""
from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOT = REPO / "experiments" / "ablations"

# name -> (what it tests, overrides). "default" is conf/train/default.yaml as shipped.
ARMS: dict[str, tuple[str, list[str]]] = {
    "published": ("as published: direct output, MAE, Adam 1e-4 constant, float32",
                  ["model.output=direct", "train=published", "lr=1e-4"]),
    "published_sisdr": ("published, plus the 0.1 x SI-SDR loss term",
                        ["model.output=direct", "train=published", "lr=1e-4", "train.loss.sisdr_weight=0.1"]),
    "default": ("the shipped recipe (conf/train/default.yaml)", []),
    "output_direct": ("output form: direct (as published)", ["model.output=direct"]),
    "output_mask": ("output form: bounded complex mask", ["model.output=mask"]),
    "loss_mae_only": ("loss: MAE only", ["train.loss.sisdr_weight=0"]),
    "loss_mrstft": ("loss: MAE + multi-resolution STFT", ["train.loss.sisdr_weight=0", "train.loss.mrstft_weight=1.0"]),
    "lr_1e-4_constant": ("lr 1e-4 constant", ["lr=1e-4", "train.schedule.name=constant", "train.schedule.warmup_steps=0"]),
    "lr_3e-4_constant": ("lr 3e-4 constant", ["lr=3e-4", "train.schedule.name=constant", "train.schedule.warmup_steps=0"]),
    "lr_1e-3_cosine": ("lr 1e-3, warm-up 200, cosine over 2,000 steps",
                       ["lr=1e-3", "train.schedule.name=cosine", "train.schedule.decay_steps=2000"]),
    "segment_2.2s": ("segments of 192 frames (2.2 s), batch 2: same audio per step",
                     ["train.segment_frames=192", "batch_size=2"]),
    "float32": ("float32 instead of mixed bfloat16", ["train.precision=float32"]),
}

FIELDS = ["val_si_sdr_i", "val_si_sdr_i_low_snr", "val_si_sdr_i_high_snr", "val_energy_ratio_db", "val_loss"]


def run_arm(name: str, overrides: list[str], seconds: float) -> int:
    cmd = [sys.executable, str(REPO / "train.py"), f"experiment=ablations/{name}", "epochs=1",
           "steps_per_epoch=1000000", f"train.max_seconds={seconds}", "train.checkpoint_every=1000",
           "quiet=true", "seed=0", *overrides]  # fmt: skip
    log = ROOT / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"[{name}] {' '.join(cmd[2:])}", flush=True)
    with open(log, "w") as f:
        return subprocess.call(cmd, cwd=REPO, stdout=f, stderr=subprocess.STDOUT,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})  # fmt: skip


def table(arms: list[str]) -> str:
    lines = ["| arm | what | steps | s/step | SI-SDRi all | SI-SDRi <= 5 dB | SI-SDRi >= 20 dB | energy (dB) | val loss |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name in arms:
        path = ROOT / name / "metrics.csv"
        if not path.exists():
            lines.append(f"| {name} | {ARMS[name][0]} | not run | | | | | | |")
            continue
        with open(path) as f:
            row = list(csv.DictReader(f))[-1]
        vals = " | ".join(f"{float(row[k]):.2f}" for k in FIELDS)
        rate = float(row["seconds"]) / max(int(row["step"]), 1)  # wall time, graph tracing included
        lines.append(f"| {name} | {ARMS[name][0]} | {row['step']} | {rate:.2f} | {vals} |")
    budgets = sorted({_budget_minutes(ROOT / name) for name in arms if (ROOT / name / "config.yaml").exists()})
    head = f"Budget: {', '.join(f'{b:g}' for b in budgets)} minutes of wall time per arm, seed 0.\n\n" if budgets else ""
    return head + "\n".join(lines) + "\n"


def _budget_minutes(folder: Path) -> float:
    from omegaconf import OmegaConf

    return round(float(OmegaConf.load(folder / "config.yaml").train.max_seconds) / 60, 2)


def main() -> int:
    parser = argparse.ArgumentParser(description="equal-time ablations of the training recipe")
    parser.add_argument("--minutes", type=float, default=20.0, help="wall-clock budget per arm")
    parser.add_argument("--arms", nargs="*", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--table-only", action="store_true", help="only re-read finished arms")
    args = parser.parse_args()
    failed = []
    if not args.table_only:
        for name in args.arms:
            if (ROOT / name / "metrics.csv").exists():
                print(f"[{name}] already done; delete {ROOT / name} to run it again")
                continue
            if run_arm(name, ARMS[name][1], args.minutes * 60):
                failed.append(name)
    text = "# Ablations of the training recipe\n\n" + table(args.arms)
    out = REPO / "docs" / "results" / "ablations.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    if failed:
        print(f"error: arms failed (see their logs in {ROOT}): {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
