"""The model folders committed under models/: they load with the current code and keep
their complete training records."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
from omegaconf import OmegaConf

import unet

REPO = Path(__file__).resolve().parents[1]
FOLDERS = ["default"]


@pytest.mark.parametrize("name", FOLDERS)
def test_committed_model_loads_and_its_curve_is_complete(name: str) -> None:
    folder = REPO / "models" / name
    model, cfg = unet.load_denoiser(folder)  # strict: every saved array must fit the config
    assert model.count_params() * 4 <= 25e6  # the weight budget, float32
    assert cfg == unet.model_config(OmegaConf.load(folder / "train_config.yaml").model)
    with open(folder / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    steps = [int(r["step"]) for r in rows]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    assert all(r["val_si_sdr_i"] not in ("", "nan") for r in rows)

