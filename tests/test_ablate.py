"""scripts/ablate.py: finished arms are kept from one run of the script to the next and tabled against the published recipe."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from conftest import load_script

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def ablate(tmp_path, monkeypatch):
    module = load_script("ablate")
    monkeypatch.setattr(module, "ROOT", tmp_path / "experiments")
    return module


def _finished_arm(ablate, name: str, step: int, si_sdr_i: float, recorded: float | None = None) -> None:
    folder = ablate.ROOT / name
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text("train:\n  max_seconds: 600\n")
    with open(folder / "metrics.csv", "w", newline="") as f:
        extra = [] if recorded is None else ["val_si_sdr_i_recorded"]
        writer = csv.DictWriter(f, fieldnames=["epoch", "step", "seconds", *ablate.FIELDS, *extra])
        writer.writeheader()
        writer.writerow({"epoch": 1, "step": step, "seconds": 600.0, "val_si_sdr_i": si_sdr_i, "val_si_sdr_i_low_snr": 1.0,
                         "val_si_sdr_i_high_snr": -0.5, "val_energy_ratio_db": -0.2, "val_loss": 0.3,
                         **({} if recorded is None else {"val_si_sdr_i_recorded": recorded})})  # fmt: skip


def test_collect_keeps_earlier_rows_and_adds_finished_arms(ablate, tmp_path):
    kept = tmp_path / "ablations.csv"
    _finished_arm(ablate, "published", 300, 0.5)
    ablate.collect(["published"], kept)
    # a later run of the script, on a new machine: experiments/ is gone, another arm has finished
    (ablate.ROOT / "published" / "metrics.csv").unlink()
    _finished_arm(ablate, "default", 600, 2.75)
    rows = ablate.collect(["published", "default", "float32"], kept)

    assert sorted(rows) == ["default", "published"]
    assert ablate.read_results(kept)["published"]["step"] == "300"
    assert ablate.read_results(kept)["default"]["budget_minutes"] == "10"


def test_table_gives_gain_over_published_and_marks_missing_arms(ablate, tmp_path):
    kept = tmp_path / "ablations.csv"
    _finished_arm(ablate, "published", 300, 0.5)
    _finished_arm(ablate, "default", 600, 2.75)
    text = ablate.table(ablate.collect(["published", "default"], kept), ["published", "default", "float32"])

    assert text.startswith("Budget: 10 minutes")
    default = next(line for line in text.splitlines() if line.startswith("| default |"))
    cells = [c.strip() for c in default.strip("|").split("|")]
    assert cells[2:6] == ["600", "1.00", "2.75", "+2.25"]
    assert "| float32 |" in text and "not run" in text


def test_noise_arms_are_compared_with_their_own_baseline(ablate, tmp_path):
    kept = tmp_path / "ablations.csv"
    _finished_arm(ablate, "published", 300, 0.5)
    _finished_arm(ablate, "noise_default", 250, 2.0)
    _finished_arm(ablate, "recorded_0", 250, 1.5, recorded=-0.25)
    rows = ablate.collect(["published", "noise_default", "recorded_0"], kept)
    text = ablate.table(rows, ["noise_default", "recorded_0"])

    assert "vs noise_default" in text and "vs published" not in text
    line = next(line for line in text.splitlines() if line.startswith("| recorded_0 |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[4:6] == ["1.50", "-0.50"] and cells[8] == "-0.25"
    # an arm run before the recorded column existed shows it empty
    baseline = next(line for line in text.splitlines() if line.startswith("| noise_default |"))
    assert [c.strip() for c in baseline.strip("|").split("|")][8] == ""
    # every noise arm validates on the same recorded share, whatever it trains on
    for name in ablate.NOISE_ARMS:
        assert ablate.VALIDATION_MIX in ablate.ARMS[name][1]


def test_report_keeps_every_kept_arm_when_only_some_are_run(ablate, tmp_path):
    kept = tmp_path / "ablations.csv"
    _finished_arm(ablate, "published", 300, 0.5)
    _finished_arm(ablate, "default", 600, 2.75)
    ablate.collect(["published", "default"], kept)
    # a later run asks only for noise arms; the recipe rows must stay on the page
    _finished_arm(ablate, "noise_default", 250, 2.0)
    rows = ablate.collect(["noise_default", "recorded_0"], kept)
    text = ablate.report(rows, ["noise_default", "recorded_0"])

    recipe, noise = text.split("## Noise mix")
    assert "| published |" in recipe and "| default |" in recipe and "| noise_default |" not in recipe
    assert "| noise_default |" in noise and "| recorded_0 | no recorded noise (synthetic only) | not run" in noise
    assert "| float32 |" not in text  # neither kept nor asked


def test_arms_run_on_another_machine_are_compared_with_their_own_baseline(ablate, tmp_path):
    kept = tmp_path / "ablations.csv"
    _finished_arm(ablate, "noise_default", 250, 2.0)
    _finished_arm(ablate, "noise_default_s11", 240, 2.25)
    _finished_arm(ablate, "compress_both_0.3", 230, 3.0)
    rows = ablate.collect(["noise_default", "noise_default_s11", "compress_both_0.3"], kept)
    text = ablate.table(rows, ["noise_default", "noise_default_s11", "compress_both_0.3"])

    assert "vs baseline" in text
    line = next(line for line in text.splitlines() if line.startswith("| compress_both_0.3 |"))
    assert [c.strip() for c in line.strip("|").split("|")][4:6] == ["3.00", "+0.75"]
    for arm, base in ablate.OWN_BASELINE.items():
        assert arm in ablate.ARMS and base in ablate.ARMS
        assert ablate.ARMS[arm][1][-1] == ablate.ARMS[base][1][-1] == ablate.VALIDATION_MIX


def test_arms_run_since_the_energy_column_was_renamed_are_collected(ablate, tmp_path):
    folder = ablate.ROOT / "default"
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text("train:\n  max_seconds: 600\n")
    fields = ["epoch", "step", "seconds", *(ablate.RENAMED.get(k, k) for k in ablate.FIELDS)]
    with open(folder / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerow({k: 1.5 for k in fields} | {"val_full_band_energy_db": -0.7})
    rows = ablate.collect(["default"], tmp_path / "ablations.csv")
    assert rows["default"]["val_energy_ratio_db"] == "-0.7"
