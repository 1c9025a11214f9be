"""scripts/print_adaptation.py: the conditioned model fine-tuned on an item's own print."""
from __future__ import annotations

import numpy as np
import pytest

import baselines
import inference
import metrics
from conftest import load_script, save_micro_conditioned

SR = 44100


@pytest.fixture(scope="module")
def script():
    return load_script("print_adaptation")


@pytest.fixture(scope="module")
def restorer(tmp_path_factory) -> inference.Restorer:
    folder = save_micro_conditioned(tmp_path_factory.mktemp("conditioned"), 3)
    model, model_cfg = inference.load_model(folder)
    return inference.Restorer(model, model_cfg, 1.0, 2.0, 0.5, batch_segments=1, classical_blend=0.0)


def _item(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    clean = baselines.tone_sequence(2.0, SR).astype(np.float32)
    noise = (0.03 * rng.standard_normal(len(clean) + 3 * SR)).astype(np.float32)
    return {"noisy": clean + noise[: len(clean)], "clean": clean, "print": noise[len(clean):], "category": "music",
            "family": "film", "snr_db": 10.0, "file": f"item{seed}"}  # fmt: skip


@pytest.mark.parametrize("print_seconds", [1.0, 0.2])  # longer than an example, and looped
def test_batch_mixes_crops_of_the_print_at_the_asked_snr(script, print_seconds):
    rng = np.random.default_rng(0)
    heard = rng.standard_normal(int(print_seconds * 8000)).astype(np.float32)
    tone = np.sin(np.arange(4000) * 0.05).astype(np.float32)
    noisy, clean = script.adaptation_batch(lambda r, n: tone[:n], heard, 6.0, 2.0, 3, 2000, rng)
    assert noisy.shape == clean.shape == (3, 2000) and noisy.dtype == np.float32
    looped = np.concatenate([heard, heard, heard])
    for row in noisy - clean:  # the print's own samples, at its own level
        starts = [k for k in range(len(heard)) if np.allclose(looped[k : k + 2000], row, atol=1e-5)]
        assert starts
    snrs = 10 * np.log10(np.mean(clean**2, axis=1) / np.mean((noisy - clean) ** 2, axis=1))
    assert np.all((snrs > 6.0 - 2.0 - 1e-3) & (snrs < 6.0 + 2.0 + 1e-3))


def test_crop_pads_a_short_programme(script):
    draw = script.crop_of(np.ones(100, np.float32))
    piece = draw(np.random.default_rng(0), 150)
    assert piece.shape == (150,) and piece[:100].sum() == 100 and not piece[100:].any()


def test_adapter_learns_and_resets(script, restorer):
    adapter = script.PrintAdapter(restorer.model, restorer.model_cfg, 1e-3)
    before = [w.copy() for w in restorer.model.get_weights()]
    item = _item(1)
    restorer.set_noise_print(item["print"], SR)
    losses = adapter.adapt(script.crop_of(item["clean"]), item["print"], restorer.noise_power, 10.0, 3,
                           np.random.default_rng(0), frames=32)  # fmt: skip
    assert len(losses) == 3 and np.all(np.isfinite(losses))
    assert any(not np.array_equal(a, b) for a, b in zip(before, restorer.model.get_weights()))
    adapter.reset()
    assert all(np.array_equal(a, b) for a, b in zip(before, restorer.model.get_weights()))
    moments = [v for v in adapter.optimizer.variables if v.name.endswith(("momentum", "velocity"))]
    assert moments and all(not np.any(v.numpy()) for v in moments)


def test_rows_score_the_item_before_and_after(script, restorer):
    adapter = script.PrintAdapter(restorer.model, restorer.model_cfg, 1e-3)
    weights = [w.copy() for w in restorer.model.get_weights()]
    items = [_item(1), _item(2)]
    rows = script.adaptation_rows(items, restorer, adapter, SR, 2, "self")
    assert [r["item"] for r in rows] == [0, 1] and all(r["seconds"] >= 0 for r in rows)
    item = items[1]
    restorer.set_noise_print(item["print"], SR)  # the rows' "before" is the restorer told the print
    alone = metrics.si_sdr(restorer.denoise_array(item["noisy"], SR), item["clean"]) - metrics.si_sdr(item["noisy"], item["clean"])
    assert rows[1]["before"] == pytest.approx(alone, abs=1e-3)
    assert rows[1]["after"] != rows[1]["before"]
    assert all(np.array_equal(a, b) for a, b in zip(weights, restorer.model.get_weights()))  # left as found
    with pytest.raises(ValueError, match="programme"):
        script.adaptation_rows(items, restorer, adapter, SR, 1, "nothing")


def test_refuses_items_without_a_print(script, tmp_path, capsys):
    assert script.main([str(tmp_path / "x.csv"), "models/default", "evaluate.print_seconds=0"]) == 2
    assert "needs evaluate.print_seconds" in capsys.readouterr().err and not (tmp_path / "x.csv").exists()
