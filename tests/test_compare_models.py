"""scripts/compare_models.py: two evaluate.py result files, compared on the same items."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from conftest import load_script

REPO = Path(__file__).resolve().parents[1]
FIELDS = ["system", "item", "category", "family", "snr_db", "file", "seconds", "audio_seconds",
          "si_sdr_i", "pesq", "stoi", "energy_ratio_db"]  # fmt: skip


@pytest.fixture(scope="module")
def compare():
    module = load_script("compare_models")
    return module


def _write(path: Path, model_gain: dict[str, float], snrs=(10.0, 20.0), extra_item: bool = False,
           music_bonus: float = 0.0) -> Path:  # fmt: skip
    """Two categories x the families in ``model_gain``; the model's SI-SDRi is the family's
    value at 10 dB and half of it at 20 dB, plus ``music_bonus`` on music; the input's row is zero."""
    rows, item = [], 0
    for snr in snrs:
        for fam, gain in model_gain.items():
            for cat in ("music", "speech"):
                for system in ("input", "model"):
                    value = 0.0 if system == "input" else (gain if snr == 10.0 else gain / 2)
                    value += music_bonus if (system, cat) == ("model", "music") else 0.0
                    rows.append({"system": system, "item": item, "category": cat, "family": fam, "snr_db": snr,
                                 "file": f"{cat}/{item}.flac", "seconds": 0.1, "audio_seconds": 4.0, "si_sdr_i": value,
                                 "pesq": 2.0 + value / 10, "stoi": 0.8, "energy_ratio_db": -0.1})  # fmt: skip
                item += 1
    if extra_item:
        rows.append({**rows[-1], "item": item, "file": "speech/other.flac"})
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_report_tables_candidate_against_reference_by_family_and_snr(compare, tmp_path):
    cand = compare.read_rows(_write(tmp_path / "c.csv", {"film": 6.0, "tape": 10.0, "recorded": 2.0}))
    ref = compare.read_rows(_write(tmp_path / "r.csv", {"film": 4.0, "tape": 8.0, "recorded": 3.0}))
    assert compare.same_items(cand, ref)
    at10 = compare.summary(cand, 10.0)
    assert at10 == pytest.approx({"film": 6.0, "tape": 10.0, "recorded": 2.0, "synthetic mean": 8.0, "all": 6.0})
    text = compare.report(cand, ref)
    assert "| 10 dB | 6.00 (4.00) | 10.00 (8.00) | 2.00 (3.00) | 8.00 (6.00) | 6.00 (5.00) |" in text
    assert "| 20 dB | 3.00 (2.00) |" in text
    # synthetic gain +2 dB at 10 dB and +1 dB at 20 dB; the recorded family does not count
    # every item gains the same, so the interval has no width
    assert text.rstrip().endswith("mean over input SNRs: +1.50 dB (95 % CI +1.50 to +1.50, paired bootstrap over items)")
    assert "- music: +1.50 dB (95 % CI +1.50 to +1.50" in text


def test_report_gives_each_categorys_own_gain(compare, tmp_path):
    cand = compare.read_rows(_write(tmp_path / "c.csv", {"film": 6.0, "recorded": 2.0}, music_bonus=2.0))
    ref = compare.read_rows(_write(tmp_path / "r.csv", {"film": 4.0, "recorded": 9.0}))
    text = compare.report(cand, ref)
    # film gains 2 dB at 10 dB and 1 dB at 20 dB; music 2 dB more at both; recorded is left out
    assert "- music: +3.50 dB (95 % CI +3.50 to +3.50, paired bootstrap over items)" in text
    assert "- speech: +1.50 dB (95 % CI +1.50 to +1.50, paired bootstrap over items)" in text
    assert text.rstrip().endswith("mean over input SNRs: +2.50 dB (95 % CI +2.50 to +2.50, paired bootstrap over items)")


def test_main_refuses_files_from_different_test_sets(compare, tmp_path, capsys):
    a = _write(tmp_path / "a.csv", {"film": 6.0})
    b = _write(tmp_path / "b.csv", {"film": 6.0}, extra_item=True)
    assert compare.main([str(a), str(b)]) == 1
    assert "different test items" in capsys.readouterr().err
    assert compare.main([str(a), str(a)]) == 0


def test_main_reports_a_missing_system_or_file_in_one_line(compare, tmp_path, capsys):
    a = _write(tmp_path / "a.csv", {"film": 6.0})
    assert compare.main([str(a), str(a), "--system", "lsa"]) == 1
    err = capsys.readouterr().err
    assert "no rows of system 'lsa'" in err and len(err.strip().splitlines()) == 1
    assert compare.main([str(a), str(tmp_path / "missing.csv")]) == 1
    assert "missing.csv" in capsys.readouterr().err


@pytest.mark.parametrize("candidate", ["continuation_experiment6_eval.csv", "split_run_eval.csv"])
def test_committed_candidates_share_the_shipped_models_test_set(compare, candidate, capsys):
    # docs/EXPERIMENTS.md compares these runs with the shipped model item by item, on the test set
    # of experiments 3-12 (two items a cell); if that file changes, those tables must be redone.
    results = REPO / "docs" / "results"
    assert compare.main([str(results / candidate), str(results / "default_model_2_items.csv")]) == 0
    assert "| 10 dB |" in capsys.readouterr().out


def test_reference_system_compares_two_systems_of_one_file(compare, tmp_path, capsys):
    path = _write(tmp_path / "a.csv", {"film": 6.0})
    # the model against the input of the same file: +6 dB at 10 dB, +3 at 20 dB
    assert compare.main([str(path), str(path), "--reference-system", "input"]) == 0
    assert "mean over input SNRs: +4.50 dB" in capsys.readouterr().out
