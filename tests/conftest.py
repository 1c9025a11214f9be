"""Shared fixtures."""
from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import soundfile as sf
from omegaconf import DictConfig

REPO_ROOT = Path(__file__).resolve().parent.parent
# as the entry points do, so that in-process tests run TensorFlow as users do (and faster)
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def save_micro_conditioned(folder: Path, seed: int) -> Path:
    """An untrained micro model told a noise print (``conditioning: noise_psd``), saved to
    ``folder`` with weights drawn from ``seed``."""
    import keras
    from omegaconf import OmegaConf

    import configs
    import unet

    cfg = OmegaConf.to_container(configs.group_config("model", "micro"))
    cfg["conditioning"] = "noise_psd"
    keras.utils.set_random_seed(seed)
    return unet.save_denoiser(unet.build_model(cfg), cfg, folder)


@pytest.fixture(scope="package")
def micro_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint folder (config.json + model.weights.h5) of the untrained micro model.

    Built from conf/model/micro.yaml with a fixed seed, so every run of the tests gets the same
    weights; untrained, its output differs from its input, which is what tests of the
    signal path need (an identity model would hide segmentation and strength errors).
    """
    import keras
    from omegaconf import OmegaConf

    import unet

    import configs

    cfg = configs.group_config("model", "micro")
    keras.utils.set_random_seed(1234)
    model = unet.build_model(cfg)
    return unet.save_denoiser(model, cfg, tmp_path_factory.mktemp("micro_checkpoint"))


def quick_train_overrides(corpus: dict[str, Path], exp_root: Path, extra: Sequence[str] = (),
                          model: str = "micro") -> list[str]:  # fmt: skip
    """Training overrides for a run that takes seconds: the micro ``model`` (conf/model/), short
    segments, a small validation set, float32, a constant rate, the ``corpus`` fixture's folders."""
    return [
        f"model={model}",
        "noise=synthetic",
        f"dset.categories.speech.dirs=[{corpus['speech']}]",
        f"dset.categories.effects.dirs=[{corpus['effects']}]",
        f"dset.categories.music.dirs=[{corpus['music']}]",
        "dset.validation_fraction=0.25",
        "dset.cache_mb=64",
        "train.segment_frames=16",
        "train.validation_items=8",
        "train.validation_seconds=0.5",
        "train.validation_batch=8",
        "train.precision=float32",
        "train.schedule.warmup_steps=0",
        "train.schedule.name=constant",
        "batch_size=2",
        f"experiments_root={exp_root}",
        *extra,
    ]


def compose_config(overrides: Sequence[str]) -> DictConfig:
    """The project's configuration (conf/conf.yaml) with ``overrides``, as train.py composes it."""
    from hydra import compose, initialize_config_dir

    import configs  # noqa: F401  (registers the schemas conf/ names)

    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        return compose("conf", overrides=list(overrides))


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


@pytest.fixture(scope="package")
def corpus(tmp_path_factory) -> dict[str, Path]:
    return _write_corpus(tmp_path_factory.mktemp("corpus"))
