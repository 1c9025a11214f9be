"""Training and validation data: clean crops mixed with noise, ``X = beta (Y + alpha N)``.

Clean material comes from folders per category (speech, effects, music by default), each
drawn with its configured weight. Any file libsndfile reads is used, at any rate: it is
downmixed to mono and resampled to the model rate with soxr (``audio_io.load_audio``).
Noise comes from ``degradations.NoiseSource`` (the ``noise`` config group).

Determinism: every example is a pure function of ``(seed, example index)``: its random
numbers come from ``np.random.default_rng([seed, stream, index, part])`` and nothing else
(no state carried between examples, and the file cache only saves time, never changes a
value). So ``make_train_dataset(..., start_step=k)`` yields exactly the batches a run
started at step 0 yields from its k-th batch on, which the trainer relies on for resume.

For a noise-conditioned model (``model.conditioning: noise_psd``) every example also carries
the noise power spectrum the model is told (``noise_print.py``), computed as a restorer's
print would be, never from the noise that is mixed in: from the stretch of the same noise
that follows it (the same synthetic rendering, or the next part of the same recording),
2-8 s long, with a level error of a few dB and a little programme leaking in; and for about
a third of the examples by the auto rule from the noisy input itself, so that one model
serves with and without a print (``train.noise_print``, ``configs.NoisePrintConfig``).

Files are split into training and validation by a hash of their path relative to their
category folder, so the split is stable when files are added or removed and does not
depend on the training seed (runs with different seeds validate on the same files).
"""
from __future__ import annotations

import dataclasses
import logging
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import tensorflow as tf

import audio_io
import configs
import noise_print
import paths
import steady_tones
from recorded_noise import hash_split

log = logging.getLogger(__name__)

SPLITS = ("train", "validation")

# Random streams: the first words of every seed sequence, so that training examples,
# validation examples and the validation category order never share random numbers.
_TRAIN_STREAM, _VALIDATION_STREAM, _VALIDATION_ORDER_STREAM = 0, 1, 2
# Parts of one example: separate generators, so that changing the noise configuration
# leaves the clean crops (and changing the clean folders leaves the noise) as they were.
_PART_CLEAN, _PART_NOISE, _PART_MIX, _PART_PRINT, _PART_PAUSE = 0, 1, 2, 3, 4
# Fade into and out of a pause (dset.pause_share), so that its edges are not clicks the model
# learns to keep
PAUSE_FADE_SECONDS = 0.01

# Draws of another file after a file fails to decode mid-run, before giving up on an example
_MAX_UNREADABLE_DRAWS = 64

_warned_lock = threading.Lock()
_warned_files: set[str] = set()


def dset_settings(dset_cfg: Any) -> dict:
    """The ``dset`` config (a dict or DictConfig) as a plain dict over ``configs.DsetConfig``'s
    defaults: a key that is not a field, or a value of the wrong type, is a one-line
    ``ValueError`` naming the key; a path left as ``???`` too."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    given = configs.plain(dset_cfg)
    try:
        merged = OmegaConf.merge(configs.DsetConfig, given)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", "") or "(root)"
        raise ValueError(f"dset.{key}: {str(exc).splitlines()[0]}") from None
    return configs.plain(merged)


def _folder(path: str | Path) -> Path:
    # resolved (symbolic links followed): a category folder's real name is what the split hashes
    return paths.repo_path(path).resolve()


def _warn_once(entries: Sequence[tuple[Path, str]], context: str) -> None:
    """One warning listing the files not warned about before in this process."""
    with _warned_lock:
        new = [(p, why) for p, why in entries if str(p) not in _warned_files]
        _warned_files.update(str(p) for p, _ in new)
    if new:
        listed = "; ".join(f"{p} ({why})" for p, why in new)
        log.warning("%s: skipping %d unusable file(s): %s", context, len(new), listed)


@dataclass(frozen=True)
class AudioFileInfo:
    """One clean file: where it is, its split key, and its length at the model rate."""

    path: Path
    key: str  # folder name / path relative to the folder (what the split hashes)
    num_samples: int  # from the header; the decoded length may differ by a few samples


def split_files(files: Sequence[AudioFileInfo], fraction: float, split_seed: int) -> tuple[list, list]:
    """(train, validation) by hash of each file's key; validation gets at least one file."""
    held = hash_split([f.key for f in files], fraction, split_seed, keep_one=True)
    chosen = {f.path for f, h in zip(files, held) if h}
    train = [f for f in files if f.path not in chosen]
    return train, [f for f in files if f.path in chosen]


def sample_category(weights: np.ndarray, rng: np.random.Generator) -> int:
    """Index of a category drawn with probability ``weights`` (normalised, non-negative)."""
    return int(rng.choice(len(weights), p=weights))


def rms_dbfs(x: np.ndarray) -> float:
    """RMS level in dB relative to full scale (1.0); -inf for silence."""
    power = float(np.mean(np.square(x, dtype=np.float64))) if len(x) else 0.0
    return 10.0 * math.log10(power) if power > 0 else -math.inf


def mix(clean: np.ndarray, noise: np.ndarray, snr_db: float, gain_db: float,
        gate: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``(noisy, target) = (beta (G Y + alpha N), beta G Y)``.

    ``alpha`` makes the power ratio of ``clean`` to ``alpha * noise`` exactly ``snr_db``
    (over the whole arrays); ``beta = 10 ** (gain_db / 20)``. Silent noise gets ``alpha = 0``;
    silent clean material gets noise at ``snr_db`` below a -200 dBFS floor (effectively none).
    ``gate`` (:func:`pause_gate`; None: ones) silences the programme after ``alpha`` is set,
    so the noise keeps its level through a pause. Returns float32 arrays of the input length.
    """
    clean = np.asarray(clean, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)
    if clean.shape != noise.shape:
        raise ValueError(f"mix: clean {clean.shape} and noise {noise.shape} differ in shape")
    alpha, beta = mix_gains(clean, noise, snr_db, gain_db)
    if gate is not None:
        clean = clean * gate
    return (beta * (clean + alpha * noise)).astype(np.float32), (beta * clean).astype(np.float32)


def pause_gate(num_samples: int, fraction: float, rng: np.random.Generator, fade_samples: int) -> np.ndarray:
    """A gain curve of ``num_samples``: 0 over one span of ``fraction`` of them at a random
    place (the whole segment at 1), 1 elsewhere, with raised-cosine fades of ``fade_samples``
    into and out of the span (outside it, so the span itself is silent)."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"pause_gate: fraction must be in (0, 1], got {fraction}")
    gate = np.ones(num_samples, dtype=np.float64)
    span = max(1, int(round(fraction * num_samples)))
    start = int(rng.integers(0, num_samples - span + 1))
    gate[start : start + span] = 0.0
    rise = 0.5 - 0.5 * np.cos(np.pi * np.arange(1, fade_samples + 1) / (fade_samples + 1))
    fall = rise[::-1]
    before = min(fade_samples, start)
    gate[start - before : start] = fall[fall.size - before :]
    after = min(fade_samples, num_samples - (start + span))
    gate[start + span : start + span + after] = rise[:after]
    return gate


def mix_gains(clean: np.ndarray, noise: np.ndarray, snr_db: float, gain_db: float) -> tuple[float, float]:
    """``(alpha, beta)`` of :func:`mix`: the noise scale that gives ``snr_db`` and the level gain."""
    p_clean = max(float(np.mean(np.square(clean, dtype=np.float64))), 1e-20)
    p_noise = float(np.mean(np.square(noise, dtype=np.float64)))
    alpha = math.sqrt(p_clean / (p_noise * 10.0 ** (snr_db / 10.0))) if p_noise > 0 else 0.0
    return alpha, 10.0 ** (gain_db / 20.0)


class CleanCorpus:
    """Clean files per category, checked at start and split into train/validation.

    ``dset_cfg`` keys (see ``conf/dset/corpus.yaml``): ``categories`` (name -> ``dirs``,
    ``weight``), ``validation_fraction``, ``split_seed``, ``min_file_seconds``,
    ``silence_threshold_db``, ``silence_retries``, ``cache_mb``, ``preload``.
    Categories with weight 0 are ignored (their folders may be empty or missing).

    Raises ``ValueError`` (one line naming the folder) for a missing folder or a category
    without usable files. Unreadable, empty and too-short files are skipped with one
    warning that lists them.
    """

    def __init__(self, dset_cfg: Mapping, sample_rate: int, split: str) -> None:
        if split not in SPLITS:
            raise ValueError(f"CleanCorpus: split must be one of {SPLITS}, got {split!r}")
        cfg = dset_settings(dset_cfg)
        self.sample_rate = int(sample_rate)
        self.split = split
        self.silence_threshold_db = float(cfg["silence_threshold_db"])
        self.silence_retries = int(cfg["silence_retries"])
        self.notch_steady_tones = bool(cfg["notch_steady_tones"])
        if self.silence_retries < 0:
            raise ValueError(f"dset.silence_retries: must not be negative, got {self.silence_retries}")
        self.min_samples = max(1, int(round(float(cfg["min_file_seconds"]) * self.sample_rate)))
        fraction = float(cfg["validation_fraction"])
        split_seed = int(cfg["split_seed"])
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"dset.validation_fraction: expected a value in [0, 1), got {fraction}")

        categories = cfg.get("categories") or {}
        if not categories:
            raise ValueError("dset.categories: no clean categories configured")
        self.categories: list[str] = []
        weights: list[float] = []
        self.files: dict[str, list[AudioFileInfo]] = {}
        self.skipped: list[tuple[Path, str]] = []
        for name, entry in categories.items():
            weight = float(entry.get("weight", 0.0))
            if weight < 0:
                raise ValueError(f"dset.categories.{name}.weight: must not be negative, got {weight}")
            if weight == 0:
                continue
            usable, skipped = self._scan_category(name, entry)
            self.skipped += skipped
            train, validation = split_files(usable, fraction, split_seed)
            chosen = train if split == "train" else validation
            if not chosen:
                folders = ", ".join(str(d) for d in self._category_dirs(name, entry))
                raise ValueError(
                    f"{folders}: category {name!r} has {len(usable)} usable file(s), too few to give "
                    f"both training and validation at least one"
                )
            self.categories.append(name)
            weights.append(weight)
            self.files[name] = chosen
        if not self.categories:
            raise ValueError("dset.categories: every category has weight 0")
        self.weights = np.asarray(weights, dtype=np.float64) / sum(weights)
        _warn_once(self.skipped, "clean corpus")

        budget = float(cfg["cache_mb"]) * 2**20
        self.preload = bool(cfg["preload"])
        self._cache = audio_io.AudioCache(math.inf if self.preload else budget)
        self._bad: set[Path] = set()
        self._bad_lock = threading.Lock()
        if self.preload:
            for name in self.categories:
                for info in self.files[name]:
                    self.load(info)

    @staticmethod
    def _category_dirs(name: str, entry: Mapping) -> list[Path]:
        dirs = entry.get("dirs")
        if dirs is None:
            raise ValueError(f"dset.categories.{name}.dirs: no folder given")
        if isinstance(dirs, (str, Path)):
            dirs = [dirs]
        return [_folder(d) for d in dirs]

    def _scan_category(self, name: str, entry: Mapping) -> tuple[list[AudioFileInfo], list[tuple[Path, str]]]:
        usable: list[AudioFileInfo] = []
        skipped: list[tuple[Path, str]] = []
        dirs = self._category_dirs(name, entry)
        for folder in dirs:
            if not folder.is_dir():
                raise ValueError(f"{folder}: clean folder of category {name!r} does not exist")
            for path in audio_io.list_audio_files(folder):
                try:
                    info = sf.info(str(path))
                except Exception as exc:  # libsndfile raises several types; all mean "not audio"
                    skipped.append((path, f"unreadable: {str(exc).splitlines()[0][:120]}"))
                    continue
                if info.frames <= 0 or info.samplerate <= 0:
                    skipped.append((path, "no samples"))
                    continue
                num = int(math.ceil(info.frames * self.sample_rate / info.samplerate))
                if num < self.min_samples:
                    skipped.append((path, f"shorter than {self.min_samples / self.sample_rate:g} s"))
                    continue
                key = f"{folder.name}/{path.relative_to(folder).as_posix()}"
                usable.append(AudioFileInfo(path, key, num))
        if not usable:
            listed = ", ".join(str(d) for d in dirs)
            raise ValueError(f"{listed}: category {name!r} has no usable audio files")
        return usable, skipped

    def load(self, info: AudioFileInfo) -> np.ndarray | None:
        """The whole file, mono float32 at the model rate; None (after one warning) if it
        cannot be decoded or is shorter than ``min_file_seconds``."""
        audio = self._cache.get(info.path)
        if audio is not None:
            return audio
        with self._bad_lock:
            if info.path in self._bad:
                return None
        try:
            audio, _ = audio_io.load_audio(info.path, self.sample_rate, mono=True)
            problem = None if len(audio) >= self.min_samples else "too short once decoded"
            if problem is None and self.notch_steady_tones:
                audio = steady_tones.notch(audio, self.sample_rate, steady_tones.steady_tones(audio, self.sample_rate))
        except (audio_io.AudioError, RuntimeError, OSError, ValueError) as exc:
            problem = str(exc)
        if problem is not None:
            with self._bad_lock:
                self._bad.add(info.path)
            _warn_once([(info.path, problem)], f"clean corpus ({self.split})")
            return None
        self._cache.put(info.path, audio)
        return audio

    def crop(self, audio: np.ndarray, num_samples: int, rng: np.random.Generator) -> np.ndarray:
        """A random ``num_samples`` segment; a shorter file is placed at a random offset in silence."""
        if len(audio) >= num_samples:
            start = int(rng.integers(0, len(audio) - num_samples + 1))
            return audio[start : start + num_samples].copy()
        out = np.zeros(num_samples, dtype=np.float32)
        start = int(rng.integers(0, num_samples - len(audio) + 1))
        out[start : start + len(audio)] = audio
        return out

    def draw(self, category: int, num_samples: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        """A crop of a random file of category ``category``, and the file's key.

        A crop quieter than ``silence_threshold_db`` dBFS is redrawn (new file, new offset)
        up to ``silence_retries`` times; if all are quiet the loudest is kept. A file that
        fails to decode is replaced by another random draw. Only ``rng`` decides.
        """
        files = self.files[self.categories[category]]
        best: tuple[float, np.ndarray, str] | None = None
        unreadable = 0
        attempt = 0
        while attempt <= self.silence_retries:
            info = files[int(rng.integers(len(files)))]
            audio = self.load(info)
            if audio is None:
                unreadable += 1
                if unreadable >= _MAX_UNREADABLE_DRAWS:
                    break
                continue
            segment = self.crop(audio, num_samples, rng)
            level = rms_dbfs(segment)
            if level >= self.silence_threshold_db:
                return segment, info.key
            if best is None or level > best[0]:
                best = (level, segment, info.key)
            attempt += 1
        if best is None:
            log.error("category %r: %d draws found no readable file; using silence", self.categories[category],
                      unreadable)  # fmt: skip
            return np.zeros(num_samples, dtype=np.float32), ""
        return best[1], best[2]

    @property
    def cached_bytes(self) -> int:
        """Memory held by decoded files in the cache."""
        return self._cache.used

    def __len__(self) -> int:
        return sum(len(v) for v in self.files.values())

    def __repr__(self) -> str:
        counts = ", ".join(f"{c}: {len(self.files[c])} files" for c in self.categories)
        return f"CleanCorpus({self.split}; {counts})"


def _noise_source(noise_cfg: Mapping, sample_rate: int, split: str):
    # imported here so that this module (and the trainer) import without the noise module
    import degradations

    return degradations.NoiseSource(noise_cfg, sample_rate, split=split)


def validation_noise_config(noise_cfg: Mapping) -> dict:
    """``noise_cfg`` with ``recorded_share`` replaced by ``validation_recorded_share`` when
    that is set, so that runs training on different shares are validated on the same set."""
    cfg = dict(configs.plain(noise_cfg))  # a copy: the caller's config is not changed
    share = cfg.get("validation_recorded_share")
    if share is not None:
        cfg["recorded_share"] = float(share)
    return cfg


def _range(values: Any, name: str) -> tuple[float, float]:
    values = configs.plain(values)
    if not isinstance(values, (list, tuple)) or len(values) != 2 or float(values[0]) > float(values[1]):
        raise ValueError(f"{name}: expected [low, high] with low <= high, got {values}")
    return float(values[0]), float(values[1])


class ExampleMaker:
    """Builds one (noisy, clean) pair from a seed and an index; used by both data sets."""

    def __init__(self, corpus: CleanCorpus, noise_source: Any, noise_cfg: Mapping, dset_cfg: Mapping,
                 segment_samples: int, seed: int, print_cfg: Mapping | None = None) -> None:  # fmt: skip
        """``print_cfg`` (``train.noise_print``'s keys plus ``sample_rate``, ``n_fft``, ``hop`` and
        ``statistics``, the model's ``print_statistics``) makes examples for a conditioned model,
        with their noise description; None makes plain pairs."""
        self.corpus = corpus
        # keys left out take configs.NoisePrintConfig's defaults
        self.print_cfg = None if print_cfg is None else {**dataclasses.asdict(configs.NoisePrintConfig()), **configs.plain(print_cfg)}
        if self.print_cfg is not None:
            # validated once here, not in every example
            self.print_seconds = _range(self.print_cfg["seconds"], "train.noise_print.seconds")
            if self.print_seconds[0] < noise_print.MIN_PRINT_SECONDS:
                raise ValueError(f"train.noise_print.seconds: at least {noise_print.MIN_PRINT_SECONDS:g} s, "
                                 f"got {self.print_seconds[0]:g}")  # fmt: skip
            self.print_leak_db = _range(self.print_cfg["leak_db"], "train.noise_print.leak_db")
            if not 0.0 <= float(self.print_cfg["auto_share"]) <= 1.0:
                raise ValueError(f"train.noise_print.auto_share: expected a value in [0, 1], got {self.print_cfg['auto_share']}")
            smooth = int(self.print_cfg["auto_smooth_bins"])
            if smooth < 0 or (smooth > 0 and smooth % 2 == 0):
                raise ValueError(f"train.noise_print.auto_smooth_bins: expected 0 or an odd number of bins, got {smooth}")
        self.noise_source = noise_source
        self.segment_samples = int(segment_samples)
        self.seed = int(seed)
        if self.seed < 0:
            raise ValueError(f"seed: must be non-negative, got {seed}")
        self.snr_db = _range(noise_cfg.get("snr_db"), "noise.snr_db")
        settings = dset_settings(dset_cfg)
        self.gain_db = _range(settings["gain_db"], "dset.gain_db")
        self.pause_share = float(settings["pause_share"])
        if not 0.0 <= self.pause_share <= 1.0:
            raise ValueError(f"dset.pause_share: expected a value in [0, 1], got {self.pause_share:g}")
        self.pause_fraction = _range(settings["pause_fraction"], "dset.pause_fraction")
        if not 0.0 < self.pause_fraction[0] <= self.pause_fraction[1] <= 1.0:
            raise ValueError(f"dset.pause_fraction: expected 0 < low <= high <= 1, got {list(self.pause_fraction)}")
        self.pause_fade = int(round(PAUSE_FADE_SECONDS * corpus.sample_rate))

    def _rngs(self, stream: int, index: int) -> list[np.random.Generator]:
        parts = (_PART_CLEAN, _PART_NOISE, _PART_MIX)
        return [np.random.default_rng([self.seed, stream, int(index), part]) for part in parts]

    def _pause(self, index: int) -> np.ndarray | None:
        """Training example ``index``'s pause gate (``dset.pause_share``), or None: from a
        generator of its own, so that examples without a pause are what they were without it."""
        if self.pause_share <= 0.0:
            return None
        rng = np.random.default_rng([self.seed, _TRAIN_STREAM, int(index), _PART_PAUSE])
        if rng.random() >= self.pause_share:
            return None
        return pause_gate(self.segment_samples, rng.uniform(*self.pause_fraction), rng, self.pause_fade)

    def _conditioned(self, stream: int, index: int, clean: np.ndarray, snr: float, gain: float,
                     r_noise: np.random.Generator,
                     gate: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:  # fmt: skip
        """``(noisy, target, noise power, family)``: the noise and its print are one rendering
        (or one stretch of a recording), the first ``segment_samples`` mixed in, the rest the print;
        ``gate`` a pause (:meth:`_pause`), applied after the noise's level is set."""
        pc = self.print_cfg
        r_print = np.random.default_rng([self.seed, stream, int(index), _PART_PRINT])
        n = self.segment_samples
        m = int(r_print.uniform(*self.print_seconds) * int(pc["sample_rate"]))
        both, family = self.noise_source.sample(n + m, r_noise)
        both = np.asarray(both, dtype=np.float32)
        noise, heard = both[:n], both[n:]
        alpha, beta = mix_gains(clean, noise, snr, gain)  # alpha and beta scale the print too
        noisy, target = mix(clean, noise, snr, gain, gate)
        n_fft, hop = int(pc["n_fft"]), int(pc["hop"])
        statistics = str(pc.get("statistics") or "mean")  # the model's print_statistics
        if r_print.random() < float(pc["auto_share"]):
            power, _ = noise_print.auto_noise_power(noisy, n_fft, hop, statistics=statistics)
            if int(pc["auto_smooth_bins"]) > 0:  # what the restorer tells the model without a print
                power = noise_print.smooth_over_frequency(power, int(pc["auto_smooth_bins"]))
        else:
            heard = heard.astype(np.float64) * alpha * beta
            p_print = float(np.mean(heard**2))
            p_target = float(np.mean(target.astype(np.float64) ** 2))
            if p_print > 0 and p_target > 0:  # a little of the reel's programme is in every real print
                leak = np.resize(target.astype(np.float64), m) * math.sqrt(p_print / p_target)
                heard = heard + leak * 10.0 ** (r_print.uniform(*self.print_leak_db) / 20.0)
            error = float(pc["level_error_db"])
            power = noise_print.noise_power(heard, n_fft, hop, statistics) * np.float32(10.0 ** (r_print.uniform(-error, error) / 10.0))
        return noisy, target, power.astype(np.float32), family

    def _noise(self, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        noise, family = self.noise_source.sample(self.segment_samples, rng)
        noise = np.asarray(noise, dtype=np.float32)
        if noise.shape != (self.segment_samples,):
            raise ValueError(f"NoiseSource.sample returned shape {noise.shape}, expected ({self.segment_samples},)")
        return noise, str(family)

    def train_example(self, index: int) -> tuple[np.ndarray, ...]:
        """Training pair ``index``: category by weight, SNR uniform in dB in ``noise.snr_db``
        (log-uniform as a power ratio), gain uniform in dB in ``gain_db``, a share
        ``dset.pause_share`` with a pause in the programme; with a print configuration
        ``(noisy, clean, noise power)``."""
        r_clean, r_noise, r_mix = self._rngs(_TRAIN_STREAM, index)
        category = sample_category(self.corpus.weights, r_clean)
        clean, _ = self.corpus.draw(category, self.segment_samples, r_clean)
        if self.print_cfg is not None:
            snr = r_mix.uniform(*self.snr_db)
            gain = r_mix.uniform(*self.gain_db)
            return self._conditioned(_TRAIN_STREAM, index, clean, snr, gain, r_noise, self._pause(index))[:3]
        noise, _ = self._noise(r_noise)
        snr = r_mix.uniform(*self.snr_db)
        gain = r_mix.uniform(*self.gain_db)
        return mix(clean, noise, snr, gain, self._pause(index))

    def validation_example(self, index: int, category: int, snr_db: float) -> tuple:
        """Validation pair ``index`` of the given category at exactly ``snr_db``, and the noise
        family; with a print configuration ``(noisy, clean, family, noise power)``."""
        r_clean, r_noise, r_mix = self._rngs(_VALIDATION_STREAM, index)
        clean, _ = self.corpus.draw(category, self.segment_samples, r_clean)
        if self.print_cfg is not None:
            gain = r_mix.uniform(*self.gain_db)
            noisy, target, power, family = self._conditioned(_VALIDATION_STREAM, index, clean, snr_db, gain, r_noise)
            return noisy, target, family, power
        noise, family = self._noise(r_noise)
        gain = r_mix.uniform(*self.gain_db)
        noisy, target = mix(clean, noise, snr_db, gain)
        return noisy, target, family


def make_train_dataset(
    dset_cfg: Mapping,
    noise_cfg: Mapping,
    sample_rate: int,
    segment_samples: int,
    batch_size: int,
    seed: int,
    start_step: int = 0,
    print_cfg: Mapping | None = None,
    shard_index: int = 0,
    num_shards: int = 1,
) -> tf.data.Dataset:
    """Infinite dataset of ``(noisy [B, L], clean [B, L])`` float32 batches; with ``print_cfg``
    (see :class:`ExampleMaker`) ``(noisy, clean, noise power [B, bins])``.

    Batch ``s`` holds examples ``s * B ... s * B + B - 1``, each a pure function of
    ``(seed, index)``, so starting at ``start_step`` continues a run exactly.
    With ``num_shards`` > 1 (the input pipelines of a distributed run, one per worker) only
    the batches ``s`` with ``s % num_shards == shard_index`` are made: the workers draw
    disjoint examples, and together the examples of a single process.
    Configuration errors (missing folders, empty categories, bad ranges) raise
    ``ValueError`` here, before any batch is made.
    """
    if batch_size < 1 or segment_samples < 1 or start_step < 0 or not 0 <= shard_index < num_shards:
        raise ValueError(
            f"make_train_dataset: bad batch_size={batch_size}, segment_samples={segment_samples}, "
            f"start_step={start_step} or shard {shard_index} of {num_shards}"
        )
    corpus = CleanCorpus(dset_cfg, sample_rate, "train")
    maker = ExampleMaker(corpus, _noise_source(noise_cfg, sample_rate, "train"), noise_cfg, dset_cfg, segment_samples, seed,
                         print_cfg)  # fmt: skip
    cfg = dset_settings(dset_cfg)
    parallel = tf.data.AUTOTUNE if cfg["num_parallel_calls"] is None else int(cfg["num_parallel_calls"])
    prefetch = int(cfg["prefetch_batches"])
    length = int(segment_samples)

    def example(index: tf.Tensor) -> tuple[tf.Tensor, ...]:
        if print_cfg is None:
            noisy, clean = tf.numpy_function(
                lambda i: maker.train_example(int(i)), [index], [tf.float32, tf.float32], stateful=False
            )
            noisy.set_shape([length])
            clean.set_shape([length])
            return noisy, clean
        noisy, clean, power = tf.numpy_function(
            lambda i: maker.train_example(int(i)), [index], [tf.float32, tf.float32, tf.float32], stateful=False
        )
        noisy.set_shape([length])
        clean.set_shape([length])
        bins = int(maker.print_cfg["n_fft"]) // 2 + 1
        # the model's print_statistics: the mean power per bin, or it and the median (noise_print.describe_noise)
        power.set_shape([2, bins] if maker.print_cfg.get("statistics") == "mean_median" else [bins])
        return noisy, clean, power

    start = int(start_step) * int(batch_size)
    # effectively infinite: int64 indices for ~10^18 examples
    ds = tf.data.Dataset.range(start, 2**62, output_type=tf.int64)
    if num_shards > 1:
        # by example index, before the map: a worker never makes the examples it skips
        ds = ds.filter(lambda i: (i // batch_size) % num_shards == shard_index)
    ds = ds.map(example, num_parallel_calls=parallel, deterministic=True)
    ds = ds.batch(int(batch_size), drop_remainder=True)
    return ds.prefetch(prefetch)


def allocate_categories(weights: np.ndarray, num_items: int) -> list[int]:
    """Category index per item in proportion to ``weights`` (largest remainder), in order."""
    exact = np.asarray(weights, dtype=np.float64) * num_items
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: num_items - counts.sum()]:
        counts[i] += 1
    return [c for c, n in enumerate(counts) for _ in range(n)]


def make_validation_set(dset_cfg: Mapping, noise_cfg: Mapping, sample_rate: int, segment_samples: int, num_items: int,
                        seed: int = 0, print_cfg: Mapping | None = None) -> dict:  # fmt: skip
    """The fixed validation set from the validation files and the held-out recorded noise
    (both disjoint from training).

    Categories are allocated in proportion to their weights and shuffled by ``seed``; each
    category cycles through ``dset.validation_snr_db`` so that every category is seen at
    every SNR of the grid. ``num_items`` is ``train.validation_items`` for the trainer.
    Returns ``{'noisy': [N, L] float32, 'clean': [N, L] float32, 'category': [str],
    'family': [str], 'snr_db': [N] float64}``, and with ``print_cfg`` ``'noise_power': [N, bins]``.
    """
    cfg = dset_settings(dset_cfg)
    num_items = int(num_items)
    if num_items < 1:
        raise ValueError(f"make_validation_set: num_items must be at least 1, got {num_items}")
    grid = [float(v) for v in cfg["validation_snr_db"]]
    if not grid:
        raise ValueError("dset.validation_snr_db: the SNR grid is empty")
    corpus = CleanCorpus(dset_cfg, sample_rate, "validation")
    noise_cfg = validation_noise_config(noise_cfg)
    maker = ExampleMaker(corpus, _noise_source(noise_cfg, sample_rate, "validation"), noise_cfg, dset_cfg, segment_samples, seed,
                         print_cfg)  # fmt: skip
    order = allocate_categories(corpus.weights, num_items)
    np.random.default_rng([int(seed), _VALIDATION_ORDER_STREAM]).shuffle(order)
    seen = [0] * len(corpus.categories)
    noisy = np.zeros((num_items, segment_samples), dtype=np.float32)
    clean = np.zeros((num_items, segment_samples), dtype=np.float32)
    snrs = np.zeros(num_items, dtype=np.float64)
    names, families, powers = [], [], []
    for i, category in enumerate(order):
        snrs[i] = grid[seen[category] % len(grid)]
        seen[category] += 1
        noisy[i], clean[i], family, *power = maker.validation_example(i, category, snrs[i])
        names.append(corpus.categories[category])
        families.append(family)
        powers += power
    out = {"noisy": noisy, "clean": clean, "category": names, "family": families, "snr_db": snrs}
    if print_cfg is not None:
        out["noise_power"] = np.stack(powers).astype(np.float32)
    return out
