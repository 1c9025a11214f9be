"""scripts/share_grid.py: every classical share on evaluation items, and the share check's choice."""
from __future__ import annotations

import numpy as np
import pytest

import baselines
import inference
import metrics
import noise_print
from conftest import load_script, save_micro_conditioned

SR = 44100


@pytest.fixture(scope="module")
def restorer(tmp_path_factory) -> inference.Restorer:
    folder = save_micro_conditioned(tmp_path_factory.mktemp("conditioned"), 7)
    model, model_cfg = inference.load_model(folder)
    return inference.Restorer(model, model_cfg, 1.0, 2.0, 0.5, batch_segments=1, classical_blend=0.0)


def _item(seed: int, print_seconds: float) -> dict:
    rng = np.random.default_rng(seed)
    clean = baselines.tone_sequence(4.0, SR).astype(np.float32)
    noise = (0.03 * rng.standard_normal(len(clean) + int(print_seconds * SR))).astype(np.float32)
    return {"noisy": clean + noise[: len(clean)], "clean": clean, "print": noise[len(clean):], "category": "music",
            "family": "film", "snr_db": 10.0, "file": f"item{seed}"}  # fmt: skip


def test_rows_score_every_share_and_the_checks_choice(restorer):
    script = load_script("share_grid")
    items = [_item(1, 3.0), _item(2, 1.2)]
    rows = script.share_rows(items, restorer, SR)
    assert [row["item"] for row in rows] == [0, 1]
    shares = [f"s{s:g}" for s in script.ALL_SHARES]
    assert shares[0] == "s0" and shares[-1] == "s1" and len(shares) == 21
    item, row = items[0], rows[0]
    before = metrics.si_sdr(item["noisy"], item["clean"])
    restorer.set_noise_print(item["print"], SR)
    alone = metrics.si_sdr(restorer.denoise_array(item["noisy"], SR), item["clean"]) - before
    lsa = metrics.si_sdr(baselines.ephraim_malah_lsa(item["noisy"], SR, noise_print=item["print"]), item["clean"]) - before
    assert row["s0"] == pytest.approx(alone, abs=1e-3) and row["s1"] == pytest.approx(lsa, abs=1e-3)
    assert row[f"s{row['oracle']:g}"] == max(row[s] for s in shares)
    assert row["check_any"] in script.ALL_SHARES and row["check"] in noise_print.SHARE_GRID
    assert rows[1]["check"] is None and rows[1]["check_any"] is None  # a 1.2-s print is too short to hold part out


def test_refuses_items_without_a_print(tmp_path, capsys):
    script = load_script("share_grid")
    assert script.main([str(tmp_path / "x.csv"), "models/default", "evaluate.print_seconds=0"]) == 2
    assert "needs evaluate.print_seconds" in capsys.readouterr().err and not (tmp_path / "x.csv").exists()
    assert script.main([]) == 2
