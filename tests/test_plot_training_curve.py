"""scripts/plot_training_curve.py: plots old and new metrics.csv files, refuses an empty one."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
OLD = ["epoch", "step", "train_loss", "val_loss", "val_si_sdr_i", "val_si_sdr_i_low_snr", "val_si_sdr_i_high_snr",
       "val_energy_ratio_db", "lr", "seconds"]  # fmt: skip
NEW = [f if f != "val_energy_ratio_db" else "val_full_band_energy_db" for f in OLD[:8]] + [
    "val_si_sdr_i_recorded", "val_si_sdr_i_synthetic"] + OLD[8:]  # fmt: skip


def _run(*args):
    return subprocess.run([sys.executable, str(REPO / "scripts" / "plot_training_curve.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.mark.parametrize("fields", [OLD, OLD[:8] + ["val_si_sdr_i_recorded"] + OLD[8:],
                                    OLD[:8] + ["val_si_sdr_i_recorded", "val_si_sdr_i_synthetic"] + OLD[8:], NEW],
                         ids=["old", "with_recorded", "with_synthetic", "renamed_energy"])  # fmt: skip
def test_writes_a_png_for_old_and_new_columns(tmp_path, fields):
    csv_path = tmp_path / "metrics.csv"
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for i in range(3):
            row = {k: 0.5 * i - 0.2 for k in fields}
            row.update(epoch=i + 1, step=200 * (i + 1))
            if "val_si_sdr_i_recorded" in fields and i == 0:
                row["val_si_sdr_i_recorded"] = ""  # a merged file: older rows lack it
            writer.writerow(row)
    png = tmp_path / "out" / "curve.png"
    result = _run(csv_path, png)
    assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(png.parent.glob("*.part*"))


def test_empty_metrics_is_an_error_and_writes_nothing(tmp_path):
    csv_path = tmp_path / "metrics.csv"
    csv_path.write_text(",".join(OLD) + "\n")
    result = _run(csv_path, tmp_path / "curve.png")
    assert result.returncode == 1 and "no rows" in result.stderr
    assert not (tmp_path / "curve.png").exists()
