"""evaluate.py: deterministic test set, every system scored, reports written, targets checked."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

import evaluate

REPO = Path(__file__).resolve().parents[1]


def _overrides(corpus, out_dir, checkpoint, extra=()):
    return [
        f"dset.categories.speech.dirs=[{corpus['speech']}]",
        f"dset.categories.effects.dirs=[{corpus['effects']}]",
        f"dset.categories.music.dirs=[{corpus['music']}]",
        "dset.validation_fraction=0.25",
        "evaluate.seconds=1.0",
        "evaluate.items_per_cell=1",
        "evaluate.snr_db=[0,10]",
        "evaluate.families=[film,gramophone]",
        f"evaluate.output_dir={out_dir}",
        f"evaluate.checkpoint={checkpoint}",
        "evaluate.quiet=true",
        "evaluate.name=t",
        *extra,
    ]


def _cfg(overrides):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose("conf", overrides=overrides)


def test_test_set_is_deterministic_and_covers_the_grid(corpus, tmp_path, micro_checkpoint):
    cfg = _cfg(_overrides(corpus, tmp_path, micro_checkpoint))
    a = evaluate.build_test_set(cfg, 44100)
    b = evaluate.build_test_set(cfg, 44100)
    assert len(a) == 3 * 2 * 2
    assert {(i["category"], i["family"], i["snr_db"]) for i in a} == {
        (c, f, s) for c in ("speech", "effects", "music") for f in ("film", "gramophone") for s in (0.0, 10.0)
    }
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x["noisy"], y["noisy"])
    # the requested SNR is the one in the mixture
    item = a[1]
    noise = item["noisy"] - item["clean"]
    snr = 10 * np.log10(np.sum(item["clean"] ** 2) / np.sum(noise**2))
    assert snr == pytest.approx(item["snr_db"], abs=0.1)


def test_reel_items_hold_pauses_of_noise_alone_and_keep_their_snr(corpus, tmp_path, micro_checkpoint):
    extra = ["evaluate.reel=true", "evaluate.seconds=12.0", "evaluate.families=[film]", "evaluate.snr_db=[10]"]
    cfg = _cfg(_overrides(corpus, tmp_path, micro_checkpoint, extra))
    items = evaluate.build_test_set(cfg, 44100)
    again = evaluate.build_test_set(cfg, 44100)
    assert len(items) == 3
    for item, twin in zip(items, again):
        clean = item["clean"]
        assert clean.shape == (12 * 44100,)
        np.testing.assert_array_equal(item["noisy"], twin["noisy"])
        # it opens on a pause of at least REEL_PAUSE_SECONDS[0]: clean silent, the noise running
        lead = int(evaluate.REEL_PAUSE_SECONDS[0] * 44100)
        assert not clean[:lead].any() and np.abs(item["noisy"][:lead]).max() > 0
        # crops of the category's 2.5-s files, with more than one of them
        assert "+" in item["file"] and set(item["file"].split("+")) <= {f"{item['category']}/{item['category']}{i}.wav" for i in range(4)}
        silent = np.mean(clean == 0.0)
        assert 0.1 < silent < 0.8
        noise = item["noisy"] - clean
        assert 10 * np.log10(np.sum(clean**2) / np.sum(noise**2)) == pytest.approx(10.0, abs=0.1)
    short = _cfg(_overrides(corpus, tmp_path, micro_checkpoint, ["evaluate.reel=true", "evaluate.seconds=4.0"]))
    with pytest.raises(ValueError, match="evaluate.reel: needs evaluate.seconds of at least 10"):
        evaluate.build_test_set(short, 44100)


def test_recorded_family_uses_only_noise_held_out_of_training(tmp_path):
    import degradations
    import soundfile as sf

    rng = np.random.default_rng(0)
    for i in range(10):
        sf.write(tmp_path / f"noise{i}.wav", (0.1 * rng.standard_normal(2000)).astype("float32"), 44100)
    noise_cfg = {**degradations.load_noise_config("mixed"), "recorded_dirs": [str(tmp_path)],
                 "recorded_validation_fraction": 0.3}  # fmt: skip
    source = evaluate.noise_sources(["recorded"], 44100, noise_cfg)["recorded"]
    trained_on = degradations.NoiseSource(noise_cfg, 44100, split="train").recorded_files
    assert source.recorded_files and not set(source.recorded_files) & set(trained_on)
    assert source.sample(1000, np.random.default_rng(1))[1] == "recorded"


def test_report_and_targets_from_rows():
    rows = []
    for system, gain in (("input", 0.0), ("lsa", 5.0), ("model", 12.0)):
        for item, (cat, snr) in enumerate((c, s) for c in ("speech", "music") for s in (0.0, 10.0)):
            rows.append({"system": system, "item": item, "category": cat, "family": "film", "snr_db": snr,
                         "si_sdr_i": gain, "snr_i": gain, "pesq": 1.0 + gain / 10, "stoi": 0.9, "lsd": 1.0,
                         "energy_ratio_db": -0.5 if system == "model" else 0.0, "seconds": 1.0, "audio_seconds": 10.0})
    text = evaluate.markdown_report(rows, ["input", "lsa", "model"], [0.0, 10.0], "T", "cmd")
    assert "| model | 12.00 | 12.00 | 2.20 | 0.90 | 1.00 | -0.50 | 0.100 |" in text
    targets = evaluate.check_targets(rows, ["input", "lsa", "model"], 10.0)
    # every item scores the same, so the intervals have no width
    assert targets[0] == "SI-SDR improvement >= 10 dB: 12.00 dB (95 % CI 12.00 to 12.00), met"
    assert targets[1].endswith("+7.00 dB (95 % CI +7.00 to +7.00, paired), met")
    # an oracle knows the clean signal: reported for scale, never the baseline to beat
    with_oracle = rows + [dict(r, system="oracle_wiener", si_sdr_i=20.0) for r in rows if r["system"] == "lsa"]
    systems = ["input", "lsa", "model", "oracle_wiener"]
    targets = evaluate.check_targets(with_oracle, systems, 10.0)
    assert "(lsa, 5.00 dB)" in targets[1] and "+7.00 dB" in targets[1]
    assert targets[-1] == "for scale, not a target: oracle_wiener, which knows the clean signal, gains 20.00 dB"
    assert "are given the clean signal" in evaluate.markdown_report(with_oracle, systems, [0.0, 10.0], "T", "cmd")
    assert "are given the clean signal" not in text
    rows_bad = [dict(r, si_sdr_i=-1.0) if r["system"] == "model" and r["category"] == "music" else r for r in rows]
    assert any("worst music -1.00 dB, NOT met" in t for t in evaluate.check_targets(rows_bad, ["input", "lsa", "model"], 10.0))
    # the targets are settings (evaluate.targets), not numbers in the code
    stricter = {"si_sdr_i_db": 15.0, "over_classical_db": 8.0, "energy_within_db": 0.25}
    targets = evaluate.check_targets(rows, ["input", "lsa", "model"], 10.0, stricter)
    assert targets[0].startswith("SI-SDR improvement >= 15 dB: 12.00 dB") and targets[0].endswith("NOT met")
    assert "by >= 8 dB SI-SDR: +7.00 dB" in targets[1] and targets[1].endswith("NOT met")
    assert targets[-1] == "output/clean energy within 0.25 dB: -0.50 dB, NOT met"
    at_zero = evaluate.markdown_report(rows, ["input", "lsa", "model"], [0.0, 10.0], "T", "cmd", {"snr_db": 0.0})
    assert "## All metrics at 0 dB input SNR" in at_zero


def test_bootstrap_interval_of_the_mean_of_cell_means():
    # one cell of two items: the resampled means are 0, 5 or 10 with chances 1/4, 1/2, 1/4
    assert evaluate.bootstrap_interval({("a",): [0.0, 10.0]}) == (0.0, 10.0)
    assert evaluate.bootstrap_interval({("a",): [0.0, 10.0]}, level=0.4) == (5.0, 5.0)
    # a constant cell adds no width; cells weigh equally whatever their size; NaN is left out
    low, high = evaluate.bootstrap_interval({("a",): [0.0, 10.0], ("b",): [4.0] * 6 + [float("nan")]})
    assert (low, high) == (2.0, 7.0)
    # many items of one spread: a narrow interval around their mean, the same on every call
    values = list(np.random.default_rng(0).normal(3.0, 1.0, 400))
    interval = evaluate.bootstrap_interval({("a",): values})
    assert interval == evaluate.bootstrap_interval({("a",): values})
    assert interval[0] < np.mean(values) < interval[1] and interval[1] - interval[0] < 0.3
    assert all(np.isnan(evaluate.bootstrap_interval({("a",): [float("nan")]})))


def test_paired_differences_match_items_within_cells():
    a = [{"item": i, "category": c, "family": "film", "x": 10.0 + i} for i, c in enumerate(("speech", "speech", "music"))]
    b = [{"item": i, "category": c, "family": "film", "x": 1.0 * i} for i, c in enumerate(("speech", "speech", "music"))][1:]
    cells = evaluate.paired_differences(a, b, "x")
    assert cells == {("speech", "film"): [10.0], ("music", "film"): [10.0]}  # item 0 has no partner in b
    assert evaluate.paired_differences(a, b, "x", by=("family",)) == {("film",): [10.0, 10.0]}


def test_cli_writes_csv_markdown_and_plot(corpus, tmp_path, micro_checkpoint):
    args = _overrides(corpus, tmp_path, micro_checkpoint, ["evaluate.systems=[input,lsa,model,oracle_wiener]",
                                                          "evaluate.perceptual=false"])  # fmt: skip
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, str(REPO / "evaluate.py"), *args], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    with open(tmp_path / "t.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 * 12
    assert {r["system"] for r in rows} == {"input", "lsa", "model", "oracle_wiener"}
    assert all(float(r["si_sdr_i"]) == 0.0 for r in rows if r["system"] == "input")
    # the oracle was handed each item's clean signal: it must beat the blind LSA on average
    mean = {s: np.mean([float(r["si_sdr_i"]) for r in rows if r["system"] == s]) for s in ("lsa", "oracle_wiener")}
    assert mean["oracle_wiener"] > mean["lsa"] + 1.0, mean
    text = (tmp_path / "t.md").read_text()
    assert "## Targets" in text and "## SI-SDR improvement (dB) by input SNR" in text
    assert (tmp_path / "t.png").stat().st_size > 10_000
    # no C++ start-up chatter of TensorFlow (oneDNN and CPU-feature lines) in the output
    assert not [line for line in result.stderr.splitlines() if "oneDNN" in line or "cpu_feature_guard" in line]


def test_cli_missing_checkpoint_is_one_line_error(corpus, tmp_path):
    args = _overrides(corpus, tmp_path / "results", tmp_path / "nope", ["evaluate.systems=[model]"])
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, str(REPO / "evaluate.py"), *args], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "nope" in result.stderr
    assert not (tmp_path / "results").exists()  # no empty results folder left behind
    # an output folder that cannot be written is refused before anything is evaluated
    (tmp_path / "a file").write_text("")
    args = _overrides(corpus, tmp_path / "a file" / "results", tmp_path / "nope", ["evaluate.systems=[model]"])
    result = subprocess.run([sys.executable, str(REPO / "evaluate.py"), *args], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("error: evaluate.output_dir: ") and "is a file, not a folder" in result.stderr


def test_blends_score_a_mix_of_two_systems_restorations_and_refuse_bad_entries():
    import metrics

    rng = np.random.default_rng(3)
    clean = (0.3 * np.sin(np.arange(8000) / 7.0)).astype(np.float32)
    items = [{"noisy": clean + (0.1 * rng.standard_normal(8000)).astype(np.float32), "clean": clean, "category": "speech",
              "family": "film", "snr_db": 10.0, "file": "a"} for _ in range(2)]  # fmt: skip
    systems = {"input": lambda x, sr: x, "half": lambda x, sr: 0.5 * x + 0.5 * clean}
    blends = evaluate.parse_blends(["half:input:0.75"], systems)
    assert blends == [("half", "input", 0.75, "blend_half+input_0.75")]
    rows = evaluate.run_systems(items, systems, 8000, perceptual=False, quiet=True, blends=blends)
    assert [r["system"] for r in rows] == ["input", "input", "half", "half", "blend_half+input_0.75", "blend_half+input_0.75"]
    for i, item in enumerate(items):
        mix = 0.75 * (0.5 * item["noisy"] + 0.5 * clean) + 0.25 * item["noisy"]
        expected = metrics.si_sdr(mix, clean) - metrics.si_sdr(item["noisy"], clean)
        (row,) = [r for r in rows if r["system"] == "blend_half+input_0.75" and r["item"] == i]
        assert row["si_sdr_i"] == pytest.approx(expected, abs=1e-3)
        parts = [r["seconds"] for r in rows if r["item"] == i and r["system"] in ("half", "input")]
        assert row["seconds"] == pytest.approx(sum(parts))
    # a blend is no classical baseline for the targets
    text = evaluate.markdown_report([{**r, "system": "model" if r["system"] == "half" else r["system"]} for r in rows],
                                    ["input", "model", "blend_half+input_0.75"], [10.0], "t", "cmd")  # fmt: skip
    assert "best classical baseline" not in text
    for bad, problem in [("half:input", "SYSTEM:SYSTEM:WEIGHT"), ("half:input:x", "SYSTEM:SYSTEM:WEIGHT"),
                         ("half:input:1.5", "between 0 and 1"), ("half:lsa:0.5", "lsa is not in evaluate.systems")]:  # fmt: skip
        with pytest.raises(ValueError, match=problem):
            evaluate.parse_blends([bad], systems)


def test_the_print_told_oracle_is_given_the_clean_signal_and_the_print(tmp_path):
    import baselines
    import metrics

    rng = np.random.default_rng(4)
    sr = 16000
    clean = (0.3 * np.sin(2 * np.pi * 440 * np.arange(2 * sr) / sr)).astype(np.float32)
    items = [{"noisy": clean + (0.1 * rng.standard_normal(clean.size)).astype(np.float32), "clean": clean,
              "category": "music", "family": "film", "snr_db": 10.0, "file": "a",
              "print": (0.1 * rng.standard_normal(sr)).astype(np.float32)}]  # fmt: skip
    name = "oracle_wiener_print"
    rows = evaluate.run_systems(items, {name: baselines.ORACLES[name]}, sr, perceptual=False, quiet=True,
                                oracles=set(baselines.ORACLES), told={name})  # fmt: skip
    direct = baselines.oracle_mask(items[0]["noisy"], clean, sr, "wiener_print", noise_print=items[0]["print"])
    assert rows[0]["si_sdr_i"] == pytest.approx(metrics.si_sdr_improvement(direct, items[0]["noisy"], clean), abs=1e-4)
    assert rows[0]["si_sdr_i"] > 3.0
    # without prints in the items it is refused before anything runs
    with pytest.raises(ValueError, match="oracle_wiener_print need a print"):
        evaluate.run(_cfg([f"evaluate.systems=[{name}]", f"evaluate.output_dir={tmp_path}"]), "cmd")
