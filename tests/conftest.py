"""Shared fixtures."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import soundfile as sf

REPO_ROOT = Path(__file__).resolve().parent.parent
# as the entry points do, so that in-process tests run TensorFlow as users do (and faster)
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint folder (config.json + model.weights.h5) of the untrained tiny model.

    Built from conf/model/tiny.yaml with a fixed seed, so every test session gets the same
    weights; untrained, its output differs from its input, which is what tests of the
    signal path need (an identity model would hide segmentation and strength errors).
    """
    import keras
    from omegaconf import OmegaConf

    import unet

    cfg = OmegaConf.load(REPO_ROOT / "conf" / "model" / "tiny.yaml")
    keras.utils.set_random_seed(1234)
    model = unet.build_model(cfg)
    return unet.save_denoiser(model, cfg, tmp_path_factory.mktemp("tiny_checkpoint"))


def _write_corpus(root: Path) -> dict[str, Path]:
    """Three categories of short, clearly structured signals (tones, chirps, pulses)."""
    rng = np.random.default_rng(0)
    folders = {}
    t = np.arange(int(2.5 * 44100)) / 44100
    for cat in ("speech", "effects", "music"):
        folder = root / cat
        folder.mkdir(parents=True)
        for i in range(4):
            f0 = rng.uniform(120, 900)
            if cat == "speech":  # harmonic tone with a syllable-rate envelope
                x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6)) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
            elif cat == "effects":  # a chirp
                x = np.sin(2 * np.pi * (f0 + 800 * t) * t)
            else:  # a chord
                x = sum(np.sin(2 * np.pi * f0 * r * t) for r in (1.0, 1.25, 1.5))
            sf.write(folder / f"{cat}{i}.wav", (0.25 * x / np.abs(x).max()).astype("float32"), 44100)
        folders[cat] = folder
    return folders


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> dict[str, Path]:
    return _write_corpus(tmp_path_factory.mktemp("corpus"))
