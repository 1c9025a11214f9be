"""Equal-wall-clock ablations of the training recipe (issue: learn fast on two CPU cores).

Each arm is a set of train.py overrides; every arm trains from the same seed for the same
wall-clock budget (train.max_seconds), is validated once at the end on the trainer's fixed
validation set, and lands in experiments/ablations/<arm>. Each finished arm's last row is
kept in docs/results/ablations.csv (experiments/ is not committed) and the table goes to
docs/results/ablations.md. Run it alone on the machine: a second job halves every arm's
speed and the comparison with it.

    .venv/bin/python scripts/ablate.py --minutes 20                      # every arm
    .venv/bin/python scripts/ablate.py --minutes 20 --arms published default
    .venv/bin/python scripts/ablate.py --table-only                      # re-read finished arms
    .venv/bin/python scripts/ablate.py --minutes 12 --arms noise_default recorded_0 recorded_0.6 snr_-5_30 snr_5_35 size_6M
"""
from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
from pathlib import Path

from paths import REPO_ROOT  # noqa: E402
ROOT = REPO_ROOT / "experiments" / "ablations"

# name -> (what it tests, overrides). "default" is conf/train/default.yaml as shipped.
ARMS: dict[str, tuple[str, list[str]]] = {
    "published": ("as published: direct output, MAE, Adam 1e-4 constant, float32",
                  ["model.output=direct", "train=published", "lr=1e-4"]),
    "default": ("the shipped recipe (conf/train/default.yaml)", []),
    "output_direct": ("output form: direct (as published)", ["model.output=direct"]),
    "output_mask": ("output form: bounded complex mask", ["model.output=mask"]),
    "loss_mae_only": ("loss: MAE only", ["train.loss.sisdr_weight=0"]),
    "loss_mrstft": ("loss: MAE + multi-resolution STFT", ["train.loss.sisdr_weight=0", "train.loss.mrstft_weight=1.0"]),
    "lr_1e-4_constant": ("lr 1e-4 constant", ["lr=1e-4", "train.schedule.name=constant", "train.schedule.warmup_steps=0"]),
    "lr_1e-3_cosine": ("lr 1e-3, warm-up 200, cosine over 2,000 steps",
                       ["lr=1e-3", "train.schedule.name=cosine", "train.schedule.decay_steps=2000"]),
    "segment_2.2s": ("segments of 192 frames (2.2 s), batch 2: same audio per step",
                     ["train.segment_frames=192", "batch_size=2"]),
    "float32": ("float32 instead of mixed bfloat16", ["train.precision=float32"]),
}
# The noise arms are validated on the held-out recorded files at one fixed recorded share
# (the validation set must not move with the training mix), so they are compared with
# their own baseline, the shipped mix run the same way, and not with the arms above.
VALIDATION_MIX = "noise.validation_recorded_share=0.3"
NOISE_ARMS: dict[str, tuple[str, list[str]]] = {
    "noise_default": ("the shipped mix: recorded share 0.3, SNR 0-25 dB", [VALIDATION_MIX]),
    "recorded_0": ("no recorded noise (synthetic only)", ["noise.recorded_share=0", VALIDATION_MIX]),
    "recorded_0.6": ("recorded share 0.6", ["noise.recorded_share=0.6", VALIDATION_MIX]),
    "snr_-5_30": ("SNR -5 to 30 dB (wider)", ["noise.snr_db=[-5,30]", VALIDATION_MIX]),
    "snr_5_35": ("SNR 5 to 35 dB (cleaner)", ["noise.snr_db=[5,35]", VALIDATION_MIX]),
    # model size is validated here too, since the recipe arms above predate the current
    # validation set; 6.0 M parameters is the largest widening that fits the 25 MB budget
    "size_6M": ("model 1.5x wider: filters 24-48-48-96-80, 6.0 M parameters",
                ["model.filters=[24,48,48,96,80]", VALIDATION_MIX]),
    # experiment 11: power-law compressed spectra, in the network only or in the MAE as well,
    # against the shipped mix run again on the same machine (wall-time budgets differ by CPU)
    "noise_default_s11": ("the shipped mix again, on experiment 11's CPU", [VALIDATION_MIX]),
    "compress_model_0.3": ("network on magnitude^0.3 spectra, MAE on raw spectra", ["model.compression=0.3", VALIDATION_MIX]),
    "compress_both_0.3": ("network on magnitude^0.3 spectra, MAE on magnitude^0.3 spectra",
                          ["model.compression=0.3", "train.loss.compression=0.3", VALIDATION_MIX]),
    "compress_loss_0.3": ("network on raw spectra, MAE on magnitude^0.3 spectra", ["train.loss.compression=0.3", VALIDATION_MIX]),
}
ARMS.update(NOISE_ARMS)
# arms whose options lost and were removed from the code (the mask output, the multi-resolution
# STFT loss, spectrogram compression): kept for their rows in ablations.csv, no longer runnable
RETIRED = ("output_mask", "loss_mrstft", "compress_model_0.3", "compress_both_0.3", "compress_loss_0.3")
# metrics.csv columns renamed since the arms above ran: {name in ablations.csv: name in metrics.csv now}
RENAMED = {"val_energy_ratio_db": "val_full_band_energy_db"}

FIELDS = ["val_si_sdr_i", "val_si_sdr_i_low_snr", "val_si_sdr_i_high_snr", "val_energy_ratio_db", "val_loss"]
OPTIONAL_FIELDS = ["val_si_sdr_i_recorded"]  # not in the rows of arms run before it existed
# experiments/ is not kept between runs, so each finished arm's last row is kept here
RESULTS = REPO_ROOT / "docs" / "results" / "ablations.csv"
RESULT_FIELDS = ["arm", "step", "seconds", "budget_minutes", *FIELDS, *OPTIONAL_FIELDS]
BASELINE_ARM = "published"
NOISE_BASELINE_ARM = "noise_default"


# arms that ran on another machine than their group's baseline, and their own baseline
OWN_BASELINE = {arm: "noise_default_s11" for arm in ("compress_model_0.3", "compress_both_0.3", "compress_loss_0.3")}


def baseline_of(arm: str) -> str:
    """The arm that ``arm``'s gain is measured against."""
    if arm in OWN_BASELINE:
        return OWN_BASELINE[arm]
    return NOISE_BASELINE_ARM if arm in NOISE_ARMS else BASELINE_ARM


def run_arm(name: str, overrides: list[str], seconds: float) -> int:
    cmd = [sys.executable, str(REPO_ROOT / "train.py"), f"experiment=ablations/{name}", "epochs=1",
           "steps_per_epoch=1000000", f"train.max_seconds={seconds}", "train.checkpoint_every=1000",
           "quiet=true", "seed=0", *overrides]  # fmt: skip
    log = ROOT / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"[{name}] {' '.join(cmd[2:])}", flush=True)
    with open(log, "w") as f:
        return subprocess.call(cmd, cwd=REPO_ROOT, stdout=f, stderr=subprocess.STDOUT,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})  # fmt: skip


def read_results(path: Path = RESULTS) -> dict[str, dict[str, str]]:
    """The kept rows, by arm."""
    if not path.exists():
        return {}
    with open(path, newline="") as f:
        return {row["arm"]: row for row in csv.DictReader(f)}


def collect(arms: list[str], path: Path = RESULTS) -> dict[str, dict[str, str]]:
    """Add the arms finished under experiments/ablations to the kept rows and rewrite them."""
    rows = read_results(path)
    for name in arms:
        metrics = ROOT / name / "metrics.csv"
        if not metrics.exists():
            continue
        with open(metrics) as f:
            last = list(csv.DictReader(f))[-1]
        rows[name] = {"arm": name, "step": last["step"], "seconds": last["seconds"],
                      "budget_minutes": f"{_budget_minutes(ROOT / name):g}", **{k: last.get(k, last.get(RENAMED.get(k, ""), "")) for k in FIELDS + OPTIONAL_FIELDS}}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    ordered = [rows[n] for n in ARMS if n in rows] + [r for n, r in rows.items() if n not in ARMS]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=RESULT_FIELDS)
        writer.writeheader()
        writer.writerows(ordered)
    return rows


def table(rows: dict[str, dict[str, str]], arms: list[str]) -> str:
    """Markdown table of the arms, with each arm's SI-SDR improvement over its baseline
    (the published recipe, or the shipped noise mix for the noise arms)."""
    baselines = {baseline_of(a) for a in arms}
    column = f"vs {baselines.pop()}" if len(baselines) == 1 else "vs baseline"
    lines = [f"| arm | what | steps | s/step | SI-SDRi all | {column} | SI-SDRi <= 5 dB | SI-SDRi >= 20 dB | SI-SDRi recorded | energy (dB) | val loss |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name in arms:
        base = rows.get(baseline_of(name))
        row = rows.get(name)
        if row is None:
            lines.append(f"| {name} | {ARMS[name][0]} | not run | | | | | | | | |")
            continue
        v = {k: float(row[k]) for k in FIELDS}
        recorded = f"{float(row['val_si_sdr_i_recorded']):.2f}" if row.get("val_si_sdr_i_recorded") else ""
        gain = f"{v['val_si_sdr_i'] - float(base['val_si_sdr_i']):+.2f}" if base else ""
        rate = float(row["seconds"]) / max(int(row["step"]), 1)  # wall time, graph tracing included
        lines.append(f"| {name} | {ARMS[name][0]} | {row['step']} | {rate:.2f} | {v['val_si_sdr_i']:.2f} | {gain} | "
                     f"{v['val_si_sdr_i_low_snr']:.2f} | {v['val_si_sdr_i_high_snr']:.2f} | {recorded} | "
                     f"{v['val_energy_ratio_db']:.2f} | {v['val_loss']:.2f} |")  # fmt: skip
    budgets = sorted({float(rows[n]["budget_minutes"]) for n in arms if n in rows})
    head = f"Budget: {', '.join(f'{b:g}' for b in budgets)} minutes of wall time per arm, seed 0.\n\n" if budgets else ""
    return head + "\n".join(lines) + "\n"


def report(rows: dict[str, dict[str, str]], asked: list[str]) -> str:
    """The whole ablations.md: every kept arm and every asked one, so that running a few arms
    does not drop the others' rows from the page."""
    shown = [a for a in ARMS if a in rows or a in asked]
    recipe = [a for a in shown if a not in NOISE_ARMS]
    noise = [a for a in shown if a in NOISE_ARMS]
    text = "# Ablations of the training recipe\n\n" + (table(rows, recipe) if recipe else "")
    if noise:
        text += ("\n## Noise mix and model size\n\nValidated on held-out recorded noise at a fixed recorded share of 0.3; "
                 f"gains are against {NOISE_BASELINE_ARM}.\n\n" + table(rows, noise))  # fmt: skip
    return text


def _budget_minutes(folder: Path) -> float:
    from omegaconf import OmegaConf

    return round(float(OmegaConf.load(folder / "config.yaml").train.max_seconds) / 60, 2)


def main() -> int:
    parser = argparse.ArgumentParser(description="equal-time ablations of the training recipe")
    parser.add_argument("--minutes", type=float, default=20.0, help="wall-clock budget per arm")
    runnable = [a for a in ARMS if a not in RETIRED]
    parser.add_argument("--arms", nargs="*", default=runnable, choices=runnable)
    parser.add_argument("--table-only", action="store_true", help="only re-read finished arms")
    args = parser.parse_args()
    failed = []
    if not args.table_only:
        for name in args.arms:
            if (ROOT / name / "metrics.csv").exists() or name in read_results():
                print(f"[{name}] already done; delete {ROOT / name} and its row in {RESULTS} to run it again")
                continue
            if run_arm(name, ARMS[name][1], args.minutes * 60):
                failed.append(name)
            collect([name])
    text = report(collect(args.arms), args.arms)
    out = REPO_ROOT / "docs" / "results" / "ablations.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    if failed:
        print(f"error: arms failed (see their logs in {ROOT}): {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
