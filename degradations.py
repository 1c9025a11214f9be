"""Additive noise of old media for training: synthetic film, 78 rpm and tape noise, and recorded noise.

The data loader uses one entry point, :class:`NoiseSource`: it picks recorded or synthetic
noise (``recorded_share``), a family (``family_weights``), maybe a second family
(``second_family_prob``), and returns the noise at unit RMS with a label. Its pieces live
one floor down, each a pure function of its arguments and a ``numpy.random.Generator``
(never the global RNG), so that an example is reproducible from its seed:

- ``noise_components.py``: the components (``hiss``, ``rumble``, ``crackle``, ``hum`` ...),
  explicit numeric arguments, no configuration;
- ``noise_families.py``: the families (``film_noise``, ``gramophone_noise``, ``tape_noise``,
  ``generic_noise``), registered by ``@noise_family(name)``, which draw their components'
  parameters from their section of the noise config (``conf/noise/<family>.yaml``);
- ``recorded_noise.py``: noise-only recordings, their hash split, looping.

Their public names are re-exported here, so ``degradations.hiss`` or
``degradations.load_recorded_noise`` keep working. What each parameter models, and why its
range is what it is, is in ``docs/DATA.md``.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import configs
import paths
from noise_components import *  # noqa: F401,F403  (re-exported: degradations.hiss, ...)
from noise_components import unit_rms
from noise_families import (  # noqa: F401  (re-exported)
    FAMILY_FUNCTIONS,
    Params,
    RecordingVariation,
    families,
    film_noise,
    generic_noise,
    gramophone_noise,
    noise_family,
    tape_noise,
)
from recorded_noise import (  # noqa: F401  (re-exported)
    RECORDED_LABEL,
    RECORDED_SPLITS,
    RecordedNoiseWarning,
    hash_split,
    load_recorded_noise,
    loop_with_crossfade,
    split_recorded_files,
)

CONF_DIR = paths.REPO_ROOT / "conf"
# The keys of the noise config that are not a family's section (configs.NoiseConfig's fields)
MIXING_KEYS = tuple(f.name for f in dataclasses.fields(configs.NoiseConfig))


def __getattr__(name: str) -> Any:
    # FAMILIES follows the registry, so a family registered after import is in it too
    if name == "FAMILIES":
        return families()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------------------------------------
# the noise config: the schema's defaults, the registry's families, every key checked


def force_present(section: Any, keys: tuple[str, ...] = ("prob",)) -> Any:
    """A copy with every one of ``keys`` set to 1, so a dry run reaches every component."""
    if isinstance(section, Mapping):
        return {k: (1.0 if k in keys else force_present(v, keys)) for k, v in section.items()}
    return section


class _ReadLog(Mapping):
    """A read-only view of a family's section that notes every key the family reads."""

    def __init__(self, mapping: Mapping, path: str, seen: set[str]):
        self._m, self._path, self._seen = mapping, path, seen

    def __getitem__(self, key: str) -> Any:
        value = self._m[key]
        self._seen.add(f"{self._path}.{key}")
        return _ReadLog(value, f"{self._path}.{key}", self._seen) if isinstance(value, Mapping) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._m)

    def __len__(self) -> int:
        return len(self._m)


def _key_paths(section: Mapping, path: str) -> Iterator[tuple[str, Mapping]]:
    """Every key below ``section`` as ``(full path, the mapping that holds it)``."""
    for key, value in section.items():
        yield f"{path}.{key}", section
        if isinstance(value, Mapping):
            yield from _key_paths(value, f"{path}.{key}")


def check_family_section(name: str, section: Any, sample_rate: int) -> None:
    """Generate a tenth of a second of family ``name`` with every component on; a missing key,
    a bad value or a key the family never reads (a typo) is a one-line ``ValueError`` naming
    the full key, e.g. ``noise.film.crackle.rat_hz``.

    Keys are looked for in two dry runs: every ``prob`` at 1, then also every ``*_prob`` at 1
    (branches such as ``generic.impulses.periodic_prob``), so an optional key counts as read.
    """
    if not isinstance(section, Mapping):
        raise ValueError(f"noise.{name}: missing section for a family with positive weight")
    seen: set[str] = set()
    branches = sorted({k.rsplit(".", 1)[-1] for k, _ in _key_paths(section, "") if k.endswith("_prob")})
    for forced in [("prob",)] + ([("prob", *branches)] if branches else []):
        try:
            FAMILY_FUNCTIONS[name](sample_rate // 10, sample_rate, np.random.default_rng(0),
                                   _ReadLog(force_present(section, forced), name, seen))  # fmt: skip
        except (ValueError, TypeError, KeyError) as exc:
            message = " ".join(str(exc).split())
            raise ValueError(message if message.startswith("noise.") else f"noise.{name}: {message}") from None
    unknown = [(key, holder) for key, holder in _key_paths(section, name) if key not in seen]
    if unknown:
        key, holder = unknown[0]
        last = key.rsplit(".", 1)[-1]
        known = [str(k) for k in holder if str(k) != last]
        raise ValueError(f"noise.{key}: not a parameter of the {name} family (known here: {', '.join(known)})")


def noise_config(cfg: Any) -> dict:
    """The noise config ``cfg`` (a dict or DictConfig, as Hydra composes ``cfg.noise``) as a
    plain dict over ``configs.NoiseConfig``'s defaults, its keys checked.

    A key that is neither a mixing key nor a registered family is a ``ValueError`` naming it.
    An empty ``family_weights`` becomes weight 1 for every family whose section ``cfg`` holds.
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    given = configs.plain(cfg)
    if not isinstance(given, Mapping):
        raise ValueError(f"noise: expected a mapping, got {type(cfg).__name__}")
    known = set(MIXING_KEYS) | set(FAMILY_FUNCTIONS)
    unknown = sorted(str(k) for k in given if k not in known)
    if unknown:
        raise ValueError(f"noise.{unknown[0]}: neither a mixing key ({', '.join(MIXING_KEYS)}) "
                         f"nor a noise family ({', '.join(families())})")  # fmt: skip
    try:
        merged = OmegaConf.merge(configs.SCHEMAS["noise"], dict(given))
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", "") or "(root)"
        raise ValueError(f"noise.{key}: {str(exc).splitlines()[0]}") from None
    out: dict = OmegaConf.to_container(merged, resolve=True)  # type: ignore[assignment]
    if not out["family_weights"]:
        out["family_weights"] = {f: 1.0 for f in families() if f in out}
    return out


def load_noise_config(name: str = "mixed", overrides: Sequence[str] = ()) -> dict:
    """The composed ``conf/noise/<name>.yaml`` as a plain dict (see :func:`noise_config`), as
    Hydra would build ``cfg.noise``.

    For scripts and tests that run outside ``train.py``; ``overrides`` are Hydra overrides
    inside the group, e.g. ``["noise.recorded_share=0"]``.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    if not (CONF_DIR / "noise" / f"{name}.yaml").is_file():
        raise ValueError(f"noise config {name!r}: no file {CONF_DIR / 'noise' / (name + '.yaml')}")
    if GlobalHydra.instance().is_initialized():  # inside a Hydra app: reuse its search path
        cfg = compose(config_name=f"noise/{name}", overrides=list(overrides))
    else:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose(config_name=f"noise/{name}", overrides=list(overrides))
    return noise_config(cfg.noise)


# ---------------------------------------------------------------------------------------------
# the entry point


class NoiseSource:
    """Noise for one training example: synthetic (film, gramophone, tape) or recorded.

    ``cfg`` is the ``noise`` config group (plain dict or DictConfig). Keys read:
    ``family_weights`` ({family: weight}), ``second_family_prob``,
    ``second_family_level_db`` ([low, high], the second family against the first),
    ``recorded_share``, ``recorded_dirs``, ``recorded_crossfade_s``,
    ``recorded_validation_fraction`` and one section per family with positive weight.
    ``snr_db`` is for the loader and not read here. ``split`` ('all', 'train' or
    'validation') is which recorded files are used: training and validation/evaluation
    get disjoint ones (see :func:`split_recorded_files`).

    Everything is checked at construction (each family is generated once with all its
    components on; recorded files are decoded and cached), so a bad config fails there
    with a one-line ``ValueError``. After construction the object is read-only, so one
    instance may serve several threads, each with its own Generator.
    """

    def __init__(self, cfg: Mapping, sample_rate: int, split: str = "all"):
        if split not in RECORDED_SPLITS:
            raise ValueError(f"noise: split must be one of {RECORDED_SPLITS}, got {split!r}")
        self.cfg = noise_config(cfg)
        self.sample_rate = int(sample_rate)
        if self.sample_rate <= 0:
            raise ValueError(f"noise: sample_rate must be positive, got {sample_rate}")
        self._top = Params(self.cfg, "")
        self.recorded_share = self._top.number("recorded_share")
        if not 0.0 <= self.recorded_share <= 1.0:
            raise ValueError(f"noise.recorded_share: expected a value in [0, 1], got {self.recorded_share:g}")
        weights = self.cfg["family_weights"]
        if not isinstance(weights, Mapping):
            raise ValueError(f"noise.family_weights: expected {{family: weight}}, got {weights!r}")
        unknown = sorted(set(weights) - set(families()))
        if unknown:
            raise ValueError(f"noise.family_weights: unknown families {unknown}; known: {list(families())}")
        weights_ok = all(isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0 for w in weights.values())
        if not weights_ok:
            raise ValueError(f"noise.family_weights: weights must be non-negative numbers, got {dict(weights)}")
        self.families = [f for f in families() if weights.get(f, 0.0) > 0]
        w = np.array([float(weights[f]) for f in self.families])
        self.family_probs = w / w.sum() if w.size else w
        self.second_family_prob = self._top.number("second_family_prob")
        if not 0.0 <= self.second_family_prob <= 1.0:
            raise ValueError(f"noise.second_family_prob: expected a value in [0, 1], got {self.second_family_prob:g}")
        self.second_level_db = self._top.range("second_family_level_db") if self.second_family_prob > 0 else (0.0, 0.0)
        if self.recorded_share < 1.0 and not self.families:
            raise ValueError("noise.family_weights: no family has a positive weight, but recorded_share < 1")
        for fam in self.families:
            # short runs with every component on find missing keys, bad values and typos now
            check_family_section(fam, self.cfg.get(fam), self.sample_rate)
        self.recorded_files: list[Path] = []
        self._clips: list[np.ndarray] = []
        crossfade_s = self._top.number("recorded_crossfade_s")
        if crossfade_s < 0:
            raise ValueError(f"noise.recorded_crossfade_s: must not be negative, got {crossfade_s:g}")
        self.crossfade = int(round(crossfade_s * self.sample_rate))
        variation = Params(self.cfg["recorded_variation"], "recorded_variation")
        prob = variation.number("prob")
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"noise.recorded_variation.prob: expected a value in [0, 1], got {prob:g}")
        if prob > 0:  # one draw with every part on finds bad ranges now, not in a loader thread
            RecordingVariation.draw({**self.cfg["recorded_variation"], "prob": 1.0}, np.random.default_rng(0))
        # validation and evaluation hear the held-out recordings as they are
        self.vary_recorded = split != "validation" and prob > 0
        if self.recorded_share > 0:
            self.recorded_files, self._clips = load_recorded_noise(
                self.cfg["recorded_dirs"], self.sample_rate, split,
                self._top.number("recorded_validation_fraction"),
            )  # fmt: skip

    def sample(self, num_samples: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        """float32 noise [num_samples] at unit RMS (unit-free: the loader rescales it to the SNR)
        and its label: ``'film'``, ``'gramophone'``, ``'tape'``, ``'recorded'``, or two
        families joined by ``'+'`` such as ``'film+tape'``.
        """
        n = int(num_samples)
        if n <= 0:
            raise ValueError(f"noise: num_samples must be positive, got {num_samples}")
        if self._clips and rng.random() < self.recorded_share:
            seg, audible = self._recorded(n, rng)
            if audible or not self.families:
                return seg, RECORDED_LABEL
        return self._synthetic(n, rng)

    def sample_with_print(self, num_samples: int, print_samples: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
        """Noise as :meth:`sample` and a *print* of it: ``(noise [num_samples], print [print_samples],
        label)``, both one rendering of a synthetic family (the print is the stretch after the
        noise), or one stretch of one recording, preferring files long enough for the two not to
        overlap. Both are scaled by the factor that gives the noise unit RMS."""
        n, m = int(num_samples), int(print_samples)
        if n <= 0 or m <= 0:
            raise ValueError(f"noise: num_samples and print_samples must be positive, got {n} and {m}")
        if self._clips and rng.random() < self.recorded_share:
            variation = self._variation(rng)  # one draw for both: the print describes the noise
            need = n + m if variation is None else variation.source_samples(n + m)
            long_enough = [c for c in self._clips if c.size >= need] or self._clips
            clip = long_enough[int(rng.integers(len(long_enough)))]
            # a file too short for both is looped (the print then repeats part of the noise)
            both, label = self._stretch(clip, n + m, rng, variation).astype(np.float32, copy=False), RECORDED_LABEL
        else:
            both, label = self._synthetic(n + m, rng)
        rms = float(np.sqrt(np.mean(np.square(both[:n], dtype=np.float64))))
        scale = np.float32(1.0 / rms) if rms > 0 else np.float32(1.0)
        return both[:n] * scale, both[n:] * scale, label

    def _synthetic(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        first = int(rng.choice(len(self.families), p=self.family_probs))
        names = [self.families[first]]
        out = unit_rms(FAMILY_FUNCTIONS[names[0]](n, self.sample_rate, rng, self.cfg[names[0]]))
        if len(self.families) > 1 and rng.random() < self.second_family_prob:
            rest = [i for i in range(len(self.families)) if i != first]
            p = self.family_probs[rest]
            second = rest[int(rng.choice(len(rest), p=p / p.sum()))]
            names.append(self.families[second])
            extra = unit_rms(FAMILY_FUNCTIONS[names[1]](n, self.sample_rate, rng, self.cfg[names[1]]))
            out = out + extra * np.float32(db_to_gain(rng.uniform(*self.second_level_db)))
        return unit_rms(out).astype(np.float32, copy=False), "+".join(names)

    def _recorded(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
        """A random stretch of a random file (each file equally likely: each is a different
        kind of noise), looped when the file is shorter, maybe varied
        (``recorded_variation``), at unit RMS; and False if eight tries found only
        near-silence (then synthetic noise is used where configured)."""
        seg = np.zeros(n, dtype=np.float32)
        variation = self._variation(rng)
        for _ in range(8):
            clip = self._clips[int(rng.integers(len(self._clips)))]
            seg = self._stretch(clip, n, rng, variation)
            if float(np.max(np.abs(seg))) > 1e-4 * float(np.max(np.abs(clip))):
                return unit_rms(seg).astype(np.float32), True
        return unit_rms(seg).astype(np.float32), False

    def _variation(self, rng: np.random.Generator) -> RecordingVariation | None:
        if not self.vary_recorded:
            return None
        return RecordingVariation.draw(self.cfg["recorded_variation"], rng)

    def _stretch(self, clip: np.ndarray, n: int, rng: np.random.Generator, variation: RecordingVariation | None) -> np.ndarray:
        """``n`` samples of ``clip`` from a random start, looped when it is shorter, then varied."""
        need = n if variation is None else variation.source_samples(n)
        if clip.size >= need:
            start = int(rng.integers(clip.size - need + 1))
            seg = clip[start : start + need]
        else:
            cf = min(self.crossfade, clip.size // 2)
            period = clip.size - cf
            # a random rotation, so the seams fall at different times in each example
            start = int(rng.integers(period))
            seg = loop_with_crossfade(clip, need + start, cf)[start:]
        return seg if variation is None else variation.apply(seg, n, self.sample_rate)
