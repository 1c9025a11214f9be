"""scripts/compare_curves.py: runs' validation curves at equal wall time, resumed runs joined."""
from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import compare_curves  # noqa: E402

FIELDS = ["epoch", "step", "train_loss", "val_si_sdr_i", "val_si_sdr_i_recorded", "val_si_sdr_i_synthetic",
          "val_si_sdr_i_high_snr", "lr", "seconds"]  # fmt: skip


def _write(path: Path, rows: list[tuple[int, float, float]]) -> Path:
    """rows: (step, seconds, SI-SDRi) -> a metrics.csv whose every SI-SDR column is that value."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        for i, (step, seconds, score) in enumerate(rows):
            writer.writerow({"epoch": i + 1, "step": step, "train_loss": 0.1, "val_si_sdr_i": score,
                             "val_si_sdr_i_recorded": score - 1, "val_si_sdr_i_synthetic": score + 1,
                             "val_si_sdr_i_high_snr": "", "lr": 3e-4, "seconds": seconds})  # fmt: skip
    return path


def test_a_resumed_run_counts_its_segments_together(tmp_path):
    # two runs: 3,600 s, then a resume whose clock starts again
    path = _write(tmp_path / "m.csv", [(200, 1800, 1.0), (400, 3600, 2.0), (600, 1800, 3.0), (800, 3600, 4.0)])
    curve = compare_curves.read_curve(path)
    assert [round(r["hours"], 6) for r in curve] == [0.5, 1.0, 1.5, 2.0]
    assert math.isnan(curve[0]["val_si_sdr_i_high_snr"])


def test_value_at_is_the_last_validation_before_and_the_mean_of_the_last_ones(tmp_path):
    curve = compare_curves.read_curve(_write(tmp_path / "m.csv", [(200, 1800, 1.0), (400, 3600, 2.0), (600, 5400, 6.0)]))
    assert math.isnan(compare_curves.value_at(curve, 0.4, "val_si_sdr_i"))
    assert compare_curves.value_at(curve, 1.2, "val_si_sdr_i") == 2.0
    assert compare_curves.value_at(curve, 1.5, "val_si_sdr_i", last_n=3) == pytest.approx(3.0)
    assert compare_curves.value_at(curve, 1.5, "val_si_sdr_i", last_n=2) == pytest.approx(4.0)
    assert compare_curves.step_at(curve, 1.2) == 400 and compare_curves.step_at(curve, 0.1) == 0


def _run(*args):
    return subprocess.run([sys.executable, str(REPO / "scripts" / "compare_curves.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=120, cwd=REPO)  # fmt: skip


def test_cli_compares_at_the_shorter_runs_budget_and_writes_the_figure(tmp_path):
    fast = _write(tmp_path / "fast.csv", [(200, 1800, 1.0), (400, 3600, 2.0), (600, 5400, 3.0), (800, 7200, 3.5)])
    slow = _write(tmp_path / "slow.csv", [(100, 1800, 0.5), (200, 3600, 2.5), (300, 5400, 4.0)])
    png = tmp_path / "figs" / "curves.png"
    result = _run("--png", png, "--points", 3, f"fast={fast}", f"slow={slow}")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "common budget: 1.50 h" in out
    assert "| fast | 600 | 2.00 |" in out and "| slow | 300 | 1.50 |" in out
    # at 1.5 h the slow run stands at 4.0, the fast one at 3.0 (its 3.5 comes later)
    assert "| 1.50 | 3.00 | 4.00 |" in out
    assert "| at the budget, mean of the last 3 | 2.00 | 2.33 |" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args, code, message", [
    (["only_one={m}"], 2, "two or more"),
    (["no_equals_sign", "b={m}"], 2, "expected NAME=path"),
    (["a={m}", "b={empty}"], 1, "no rows"),
    (["a={m}", "b={missing}"], 1, "No such file"),
], ids=["one_run", "bad_spec", "empty", "missing"])  # fmt: skip
def test_cli_bad_input_is_one_line_and_non_zero(tmp_path, args, code, message):
    m = _write(tmp_path / "m.csv", [(200, 1800, 1.0)])
    empty = tmp_path / "empty.csv"
    empty.write_text(",".join(FIELDS) + "\n")
    args = [a.format(m=m, empty=empty, missing=tmp_path / "nope.csv") for a in args]
    result = _run(*args)
    assert result.returncode == code
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
