"""Plot a run's validation curve from its metrics.csv.

    .venv/bin/python scripts/plot_training_curve.py experiments/default_model/metrics.csv docs/figures/validation_curve.png
"""
from __future__ import annotations

import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(csv_path: str, png_path: str) -> int:
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        print(f"error: {csv_path}: no rows", file=sys.stderr)
        return 1
    step = [int(r["step"]) for r in rows]
    col = {k: [float(r[k]) if r[k] else float("nan") for r in rows] for k in rows[0] if k not in ("epoch", "step")}
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].plot(step, col["train_loss"], label="train")
    axes[0].plot(step, col["val_loss"], label="validation")
    axes[0].set(title="loss", xlabel="step")
    axes[0].legend()
    axes[1].plot(step, col["val_si_sdr_i"], marker="o", label="all")
    axes[1].plot(step, col["val_si_sdr_i_low_snr"], label="input SNR <= 5 dB")
    axes[1].plot(step, col["val_si_sdr_i_high_snr"], label="input SNR >= 20 dB")
    if "val_si_sdr_i_recorded" in col:  # runs from before the held-out recorded noise lack it
        axes[1].plot(step, col["val_si_sdr_i_recorded"], marker=".", label="held-out recorded noise")
    if "val_si_sdr_i_synthetic" in col:
        axes[1].plot(step, col["val_si_sdr_i_synthetic"], marker=".", label="synthetic noise")
    axes[1].axhline(0, color="0.5", lw=0.8)
    axes[1].set(title="validation SI-SDR improvement (dB)", xlabel="step")
    axes[1].legend(fontsize=8)
    # named val_energy_ratio_db in files begun before 2026-11-25
    axes[2].plot(step, col.get("val_full_band_energy_db", col.get("val_energy_ratio_db")), marker="o")
    axes[2].axhspan(-1, 1, color="0.9")
    axes[2].set(title="output / clean energy, full band (dB)", xlabel="step")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    from audio_io import atomic_output, commit_output

    tmp, final = atomic_output(png_path)
    fig.savefig(tmp, dpi=90, format="png")
    commit_output(tmp, final)
    print(f"wrote {png_path}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
