"""Evaluate the model against classical denoisers: ``python evaluate.py [evaluate.KEY=VALUE ...]``.

Builds a deterministic test set (fixed seed; clean files from the validation split and
recorded noise from the held-out files, which training never sees) of every clean category x noise family x input SNR, runs each system
(the unprocessed input, noisereduce stationary and non-stationary, an Ephraim-Malah LSA
estimator, and the model) and writes, to ``evaluate.output_dir``:

* ``<name>.csv``   one row per system and item, every metric;
* ``<name>.md``    tables by input SNR, category and noise family, the 10 dB summary and
  the issue's targets checked;
* ``<name>.png``   SI-SDR improvement and output/clean energy against input SNR.
"""
from __future__ import annotations

import csv
import dataclasses
import logging
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TensorFlow leaves oneDNN off on CPUs without AVX-512 (this project's 2-core AVX2 machines):
# a training step took 28 s there without it and 15-17 s with it (docs/PERFORMANCE.md)
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import numpy as np
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

import configs  # noqa: F401  (registers the schemas that conf/ names)
import naming
from audio_io import atomic_output, commit_output
from paths import repo_path

log = logging.getLogger("evaluate")

SUMMARY_METRICS = ("si_sdr_i", "snr_i", "pesq", "stoi", "lsd", "energy_ratio_db", "low_error_share")
ORACLE_PREFIX = "oracle_"  # systems given the clean signal (baselines.ORACLES)
BLEND_PREFIX = "blend_"  # mixes of two systems' restorations (evaluate.blends)
# Systems given a noise print (evaluate.print_seconds > 0): name -> (what runs, how it is told)
PRINT_SYSTEMS = {
    "conditioned_print": ("conditioned", "print"),  # evaluate.conditioned_checkpoint, told the print
    "conditioned_auto": ("conditioned", "auto"),  # no print: the restorer's own estimate (auto rule, second pass)
    # no print given: told the auto rule's print of the whole item, as inference.noise_print=auto
    # (a conditioned model's default) restores a file, with the held-out check of inference.noise_print_check
    "conditioned_auto_print": ("conditioned", "auto_print"),
    # given the print, told it only where the held-out check finds it helps, with the classical share
    # the share check chooses where inference.classical_blend is null (inference's default)
    "conditioned_checked": ("conditioned", "held_out"),
    "lsa_print": ("ephraim_malah_lsa", "print"),  # the print as LSA's noise estimate
    "noisereduce_print": ("noisereduce_stationary", "print"),  # noisereduce with y_noise
    # the model (evaluate.checkpoint) or LSA told the print, as inference.classical_check=true decides
    "checked_print": ("checked", "print"),
}
UNTOLD = ("auto", "auto_print")  # the ways of PRINT_SYSTEMS that need no print with the item
# evaluate.reel: each item a reel of clean crops of these lengths, with pauses of these between
REEL_PIECE_SECONDS = (3.0, 8.0)
REEL_PAUSE_SECONDS = (0.5, 2.0)
REEL_MIN_SECONDS = 10.0


def noise_sources(families: Sequence[str], sample_rate: int, noise_cfg: Mapping) -> dict[str, object]:
    """One noise source per family: the synthetic ones from ``conf/noise/<family>.yaml``,
    ``recorded`` from the held-out files of the configured recorded-noise folders only."""
    import degradations

    known = (*degradations.families(), degradations.RECORDED_LABEL)  # the registry's families
    unknown = [f for f in families if f not in known]
    if unknown:
        raise ValueError(f"evaluate.families: unknown noise family {unknown[0]!r}; known: {', '.join(known)}")
    sources = {}
    for family in families:
        if family == degradations.RECORDED_LABEL:
            cfg = OmegaConf.to_container(noise_cfg, resolve=True) if OmegaConf.is_config(noise_cfg) else dict(noise_cfg)
            cfg["recorded_share"] = 1.0
            sources[family] = degradations.NoiseSource(cfg, sample_rate, split="validation")
        else:
            sources[family] = degradations.NoiseSource(degradations.load_noise_config(family), sample_rate)
    return sources


def build_test_set(cfg: DictConfig, sample_rate: int) -> list[dict]:
    """The deterministic test items: ``{'noisy', 'clean', 'category', 'family', 'snr_db'}``.

    Every item is a pure function of (seed, category, family, SNR, index), so the set is the
    same on every run and for every model. With ``evaluate.print_seconds`` > 0 each item also
    has a ``'print'``: that much more of the same noise (the rest of the same synthetic
    rendering, or the following stretch of the same held-out recording), at the item's noise
    level; the items' noise then differs from the set without prints. With ``evaluate.reel``
    each clean signal is :func:`draw_reel`'s, with pauses the auto rule can find.
    """
    import dataset_loader

    ecfg = cfg.evaluate
    corpus = dataset_loader.CleanCorpus(cfg.dset, sample_rate, split="validation")
    sources = noise_sources(list(ecfg.families), sample_rate, cfg.noise)
    n = int(round(float(ecfg.seconds) * sample_rate))
    m = int(round(float(ecfg.get("print_seconds") or 0.0) * sample_rate))
    reel = bool(ecfg.get("reel"))
    if reel and float(ecfg.seconds) < REEL_MIN_SECONDS:
        raise ValueError(f"evaluate.reel: needs evaluate.seconds of at least {REEL_MIN_SECONDS:g}, got {ecfg.seconds}")
    items = []
    for ci, category in enumerate(corpus.categories):
        for fi, family in enumerate(ecfg.families):
            for si, snr in enumerate(ecfg.snr_db):
                for k in range(int(ecfg.items_per_cell)):
                    rng = np.random.default_rng([int(ecfg.seed), ci, fi, si, k])
                    clean, key = draw_reel(corpus, ci, n, rng, sample_rate) if reel else corpus.draw(ci, n, rng)
                    if m:  # a print of the same noise, scaled as the noise mixed in
                        noise, heard, label = sources[family].sample_with_print(n, m, rng)
                    else:
                        noise, label = sources[family].sample(n, rng)
                    alpha, _ = dataset_loader.mix_gains(clean, noise, float(snr), 0.0)
                    noisy, clean = dataset_loader.mix(clean, noise, float(snr), 0.0)
                    item = {"noisy": noisy, "clean": clean, "category": category, "family": family,
                            "snr_db": float(snr), "file": key}  # fmt: skip
                    if m:
                        item["print"] = (heard * np.float32(alpha)).astype(np.float32)
                    items.append(item)
    return items


def draw_reel(corpus: Any, category: int, num_samples: int, rng: np.random.Generator,
              sample_rate: int) -> tuple[np.ndarray, str]:  # fmt: skip
    """A reel of ``num_samples`` of one category, as a film's dialogue runs: a pause, then crops
    of random files (``REEL_PIECE_SECONDS`` long, drawn as ``CleanCorpus.draw`` draws: a shorter
    file sits in silence), each followed by a pause (``REEL_PAUSE_SECONDS``) of digital silence
    in the clean signal, where the noise mixed in runs on; the last crop is cut at the end.
    Returns the reel and its files' keys joined by ``+``; only ``rng`` decides."""
    out = np.zeros(num_samples, dtype=np.float32)
    keys = []
    at = int(rng.uniform(*REEL_PAUSE_SECONDS) * sample_rate)
    while at < num_samples:
        piece, key = corpus.draw(category, int(rng.uniform(*REEL_PIECE_SECONDS) * sample_rate), rng)
        piece = piece[: num_samples - at]
        out[at : at + len(piece)] = piece
        keys.append(key)
        at += len(piece) + int(rng.uniform(*REEL_PAUSE_SECONDS) * sample_rate)
    return out, "+".join(keys)


def model_system(checkpoint: str | os.PathLike, segment_seconds: float, overlap_seconds: float,
                 told: str | None = None, no_print_models: Sequence[str | os.PathLike] = (),
                 classical_blend: float | None = None, check: bool = True,
                 print_models: Sequence[str | os.PathLike] = (), postfilter: float | None = None,
                 auto_models: Sequence[str | os.PathLike] = (), half_rate_below_hz: float | None = None) -> Callable:  # fmt: skip
    """The model as a ``denoise(noisy, sample_rate)`` function, like the baselines.

    For a conditioned model ``told`` is ``'print'`` (then ``denoise(noisy, print, sample_rate)``,
    told the print's power) or ``'auto'`` (no print: restored as ``inference.noise_print=none``
    restores, told the auto rule's estimate from each segment refined by a second pass,
    ``loading.NO_PRINT_PASSES``) or ``'held_out'`` (given the print, told it only where
    :func:`noise_print.held_out_check` finds that it helps, as ``inference.noise_print_check``
    decides, with the classical share :func:`noise_print.share_check` chooses where
    ``classical_blend`` is None) or ``'auto_print'`` (no print given: told the auto rule's print of the whole item,
    with the held-out check if ``check``, as ``inference.noise_print=auto`` restores a file,
    ``loading.auto_told``); None for an unconditioned model. ``'checked'``, for any model: given the print,
    the restorer decides as ``inference.classical_check=true`` does (``loading.told_for``,
    with the held-out check for a conditioned model) and restores with the model or LSA.
    ``no_print_models`` (model folders, ``inference.no_print_models``): where the model would
    restore without a print (``told`` None or ``'auto'``), the mean of theirs restores instead.
    ``classical_blend`` (``inference.classical_blend``; None: the restorer's default): told the
    print, that share of the restoration is the classical estimator's told the same print.
    ``print_models`` (conditioned model folders, ``inference.print_models``): their restorations,
    each told the same print, are averaged with the conditioned model's own. ``postfilter``
    (``inference.postfilter``; None: the restorer's default): the Wiener post-filter's weight
    where the model is told a given print (0: off). ``auto_models`` (model folders,
    ``inference.auto_models``): where the model follows auto (``'auto_print'``), the mean of theirs
    without a print restores beside it, or alone where auto's print is too short for the check
    (``Restorer.auto_share``). ``half_rate_below_hz`` (``inference.half_rate_below_hz``; None: the
    restorer's default; 0: off): where the model is told a print whose audio the restorer holds, the
    band below it is made again at half the model's rate.
    """
    import inference
    import loading

    model, mcfg = inference.load_model(checkpoint)
    others = loading.load_no_print_models(no_print_models, mcfg, checkpoint=checkpoint, model=model)
    joined = loading.load_print_models(print_models, mcfg, checkpoint=checkpoint, model=model)
    beside = loading.load_no_print_models(auto_models, mcfg, checkpoint=checkpoint, model=model, option="inference.auto_models")
    conditioned = mcfg.get("conditioning", "none") != "none"
    if told != "checked" and conditioned != (told is not None):
        need = "a conditioned model (model.conditioning=noise_psd)" if told else "an unconditioned model"
        raise ValueError(f"{checkpoint}: this system needs {need}")
    extra = {} if postfilter is None else {"postfilter": float(postfilter)}
    if half_rate_below_hz is not None:
        extra["half_rate_below_hz"] = float(half_rate_below_hz)
    restorer = inference.Restorer(model, mcfg, 1.0, segment_seconds, overlap_seconds, batch_segments=1, no_print_models=others,
                                  classical_blend=classical_blend, print_models=joined, auto_models=beside, **extra)  # fmt: skip
    if told in ("checked", "held_out"):
        classical = told == "checked"

        def denoise_decided(noisy: np.ndarray, heard: np.ndarray, sample_rate: int) -> np.ndarray:
            # the restorer's own decision for this item and its print (loading.told_for)
            restorer.tell(loading.told_for(restorer, noisy, heard, True, classical, "item")[0])
            return restorer.denoise_array(noisy, sample_rate)

        return denoise_decided
    if told == "auto_print":

        def denoise_auto_print(noisy: np.ndarray, sample_rate: int) -> np.ndarray:
            # the items are mono at the model's rate, as auto_told reads a file
            restorer.tell(loading.auto_told(restorer, noisy, check, False, Path("item"))[0])
            return restorer.denoise_array(noisy, sample_rate)

        return denoise_auto_print

    def denoise(noisy: np.ndarray, sample_rate: int) -> np.ndarray:
        # told == "auto": no print, the restorer's own rule (loading.with_noise_power)
        return restorer.denoise_array(noisy, sample_rate)

    def denoise_told(noisy: np.ndarray, heard: np.ndarray, sample_rate: int) -> np.ndarray:
        restorer.set_noise_print(heard, sample_rate)
        return restorer.denoise_array(noisy, sample_rate)

    return denoise_told if told == "print" else denoise


def _told_baseline(function: Callable) -> Callable:
    def denoise(noisy: np.ndarray, heard: np.ndarray, sample_rate: int) -> np.ndarray:
        return function(noisy, sample_rate, noise_print=heard)

    return denoise


def parse_blends(blends: Sequence[str], systems: Collection[str]) -> list[tuple[str, str, float, str]]:
    """``evaluate.blends`` ("A:B:W") as ``(A, B, W, name)``, the name ``blend_A+B_W``. Raises
    ``ValueError`` for a malformed entry, a weight outside 0..1 or a system not listed."""
    parsed = []
    for text in blends:
        malformed = ValueError(f"evaluate.blends: expected SYSTEM:SYSTEM:WEIGHT, got {text!r}")
        parts = str(text).split(":")
        if len(parts) != 3:
            raise malformed
        a, b, weight = parts
        try:
            w = float(weight)
        except ValueError:
            raise malformed from None
        if not 0.0 <= w <= 1.0:
            raise ValueError(f"evaluate.blends: {text!r}: the weight must be between 0 and 1")
        missing = [s for s in (a, b) if s not in systems]
        if missing:
            raise ValueError(f"evaluate.blends: {text!r}: {missing[0]} is not in evaluate.systems")
        parsed.append((a, b, w, f"{BLEND_PREFIX}{a}+{b}_{w:g}"))
    return parsed


def run_systems(items: list[dict], systems: Mapping[str, Callable], sample_rate: int, perceptual: bool,
                quiet: bool = False, oracles: Collection[str] = (), told: Collection[str] = (),
                blends: Sequence[tuple[str, str, float, str]] = ()) -> list[dict]:  # fmt: skip
    """Every system on every item; rows of metrics with the processing time. Systems are called
    as ``denoise(noisy, sample_rate)``, those named in ``oracles`` as ``(noisy, clean, sample_rate)``,
    those in ``told`` as ``(noisy, print, sample_rate)``, those in both as ``(noisy, clean, print,
    sample_rate)``. Each of ``blends`` (:func:`parse_blends`)
    adds rows for ``W * A + (1 - W) * B`` of two systems' restorations, timed as both together."""
    import metrics

    rows = []
    kept: dict[tuple[str, int], tuple[np.ndarray, float]] = {}  # the restorations the blends mix
    mixed = {s for a, b, _, _ in blends for s in (a, b)}

    def scored(name: str, i: int, item: dict, estimate: np.ndarray, seconds: float) -> dict:
        scores = metrics.evaluate_pair(estimate, item["noisy"], item["clean"], sample_rate, with_perceptual=perceptual)
        return {"system": name, "item": i, "category": item["category"], "family": item["family"],
                "snr_db": item["snr_db"], "file": item["file"], "seconds": seconds,
                "audio_seconds": len(item["clean"]) / sample_rate, **scores}  # fmt: skip

    for name, denoise in systems.items():
        for i, item in enumerate(tqdm(items, desc=name, disable=quiet, unit="item")):
            if name in oracles and name in told:
                args = (item["noisy"], item["clean"], item["print"])
            elif name in oracles:
                args = (item["noisy"], item["clean"])
            elif name in told:
                args = (item["noisy"], item["print"])
            else:
                args = (item["noisy"],)
            start = time.perf_counter()
            estimate = np.asarray(denoise(*args, sample_rate), dtype=np.float32)
            seconds = time.perf_counter() - start
            if name in mixed:
                kept[(name, i)] = (estimate, seconds)
            rows.append(scored(name, i, item, estimate, seconds))
    for a, b, w, name in blends:
        for i, item in enumerate(items):
            (ea, sa), (eb, sb) = kept[(a, i)], kept[(b, i)]
            rows.append(scored(name, i, item, (w * ea + (1.0 - w) * eb).astype(np.float32), sa + sb))
    return rows


def _mean(values: Sequence[float]) -> float:
    values = [v for v in values if v == v]
    return float(np.mean(values)) if values else float("nan")


CELL = ("category", "family")


def cell_values(rows: list[dict], metric: str, by: Sequence[str] = CELL, **where: object) -> dict[tuple, list[float]]:
    """``metric`` of the rows matching ``where``, grouped into cells by the fields ``by``."""
    cells = defaultdict(list)
    for r in rows:
        if all(r[k] == v for k, v in where.items()):
            cells[tuple(r[k] for k in by)].append(r.get(metric, float("nan")))
    return dict(cells)


def cell_mean(rows: list[dict], metric: str, **where: object) -> float:
    """Mean of ``metric`` over the rows matching ``where``, averaging first within each
    (category, family) cell so every category and family weighs the same."""
    return _mean([_mean(v) for v in cell_values(rows, metric, **where).values()])


def paired_differences(rows_a: list[dict], rows_b: list[dict], metric: str, match: Sequence[str] = ("item",),
                       by: Sequence[str] = CELL) -> dict[tuple, list[float]]:  # fmt: skip
    """``metric`` of each row of ``rows_a`` minus that of the row of ``rows_b`` on the same
    item (equal ``match`` fields), grouped into cells by ``by``. Items missing from
    ``rows_b`` are left out."""
    other = {tuple(r[k] for k in match): r.get(metric, float("nan")) for r in rows_b}
    cells = defaultdict(list)
    for r in rows_a:
        key = tuple(r[k] for k in match)
        if key in other:
            cells[tuple(r[k] for k in by)].append(r.get(metric, float("nan")) - other[key])
    return dict(cells)


def bootstrap_interval(cells: Mapping[tuple, Sequence[float]], level: float = 0.95, resamples: int = 4000,
                       seed: int = 0) -> tuple[float, float]:  # fmt: skip
    """Percentile bootstrap interval of the mean of cell means (``cell_mean``'s statistic).

    Items are resampled with replacement within each cell, so every cell keeps its weight and
    only the spread between items of a cell widens the interval; NaN values are left out.
    With a few items a cell (four in the default test set), the interval is a rough guide to
    how far a mean could move on another draw of items, not an exact coverage.
    """
    rng = np.random.default_rng(seed)
    total, used = np.zeros(resamples), 0
    for values in cells.values():
        v = np.asarray([x for x in values if x == x], dtype=np.float64)
        if v.size:
            total += v[rng.integers(0, v.size, size=(resamples, v.size))].mean(axis=1)
            used += 1
    if not used:
        return float("nan"), float("nan")
    low, high = np.quantile(total / used, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def _interval(cells: Mapping[tuple, Sequence[float]], signed: bool = False) -> str:
    low, high = bootstrap_interval(cells)
    return f"95 % CI {low:+.2f} to {high:+.2f}" if signed else f"95 % CI {low:.2f} to {high:.2f}"


def system_real_time_factor(rows: list[dict], system: str) -> float:
    """``system``'s processing time over all its items divided by their audio duration."""
    from metrics import real_time_factor

    sel = [r for r in rows if r["system"] == system]
    return real_time_factor(sum(r["seconds"] for r in sel), max(sum(r["audio_seconds"] for r in sel), 1e-9))


def _fmt(x: float, digits: int = 2) -> str:
    return "n/a" if x != x else f"{x:.{digits}f}"


def markdown_report(rows: list[dict], systems: Sequence[str], snrs: Sequence[float], title: str, command: str,
                    targets: Mapping | None = None) -> str:  # fmt: skip
    """Tables by input SNR, category and family, and the targets (``evaluate.targets``: their
    input SNR, ``configs.TargetsConfig``'s defaults when None)."""
    targets = _targets(targets)
    cats = sorted({r["category"] for r in rows})
    fams = list(dict.fromkeys(r["family"] for r in rows))
    present = [m for m in SUMMARY_METRICS if any(m in r for r in rows)]
    out = [f"# {title}", "", f"Command: `{command}`", "",
           f"{len(rows) // max(len(systems), 1)} items per system: categories {', '.join(cats)}; "
           f"noise families {', '.join(fams)}; input SNR {', '.join(f'{s:g}' for s in snrs)} dB. "
           "Means over (category, family) cells, each cell weighted equally.", ""]  # fmt: skip
    if any(s.startswith(ORACLE_PREFIX) for s in systems):
        out += [f"Systems named {ORACLE_PREFIX}* are given the clean signal: ideal masks of the model's "
                "STFT, a ceiling for masking, not a baseline to beat.", ""]  # fmt: skip

    wanted = float(targets["snr_db"])
    ref = wanted if wanted in snrs else snrs[len(snrs) // 2]
    out += [f"## All metrics at {ref:g} dB input SNR", "",
            "| system | " + " | ".join(present) + " | real-time factor |",
            "|---|" + "---|" * (len(present) + 1)]  # fmt: skip
    for s in systems:
        vals = [_fmt(cell_mean(rows, m, system=s, snr_db=ref)) for m in present]
        out.append(f"| {s} | " + " | ".join(vals) + f" | {system_real_time_factor(rows, s):.3f} |")

    for metric, label in (("si_sdr_i", "SI-SDR improvement (dB)"), ("energy_ratio_db", "output/clean energy in the active band (dB)")):
        out += ["", f"## {label} by input SNR", "", "| system | " + " | ".join(f"{s:g} dB" for s in snrs) + " |",
                "|---|" + "---|" * len(snrs)]  # fmt: skip
        for s in systems:
            out.append(f"| {s} | " + " | ".join(_fmt(cell_mean(rows, metric, system=s, snr_db=v)) for v in snrs) + " |")

    for key, values in (("category", cats), ("family", fams)):
        out += ["", f"## SI-SDR improvement (dB) by {key}, at {ref:g} dB input SNR", "",
                "| system | " + " | ".join(values) + " |", "|---|" + "---|" * len(values)]  # fmt: skip
        for s in systems:
            out.append(f"| {s} | " + " | ".join(_fmt(cell_mean(rows, "si_sdr_i", system=s, snr_db=ref, **{key: v}))
                                               for v in values) + " |")  # fmt: skip

    if "model" in systems:
        out += ["", "## Targets", ""] + [f"- {line}" for line in check_targets(rows, systems, ref, targets)]
    return "\n".join(out) + "\n"


def _targets(targets: Mapping | None) -> dict:
    import configs

    return {**dataclasses.asdict(configs.TargetsConfig()), **(dict(targets) if targets is not None else {})}


def check_targets(rows: list[dict], systems: Sequence[str], ref: float, targets: Mapping | None = None) -> list[str]:
    """The model's targets at ``ref`` dB input SNR, each marked met or not met."""
    t = _targets(targets)
    sisdr_goal, margin, energy_goal = float(t["si_sdr_i_db"]), float(t["over_classical_db"]), float(t["energy_within_db"])

    def mark(ok: bool) -> str:
        return "met" if ok else "NOT met"

    def at_ref(system: str) -> list[dict]:
        return [r for r in rows if r["system"] == system and r["snr_db"] == ref]

    m_sisdr = cell_mean(rows, "si_sdr_i", system="model", snr_db=ref)
    # the oracles know the clean signal: ceilings, not baselines to beat; the learned systems
    # told a print (a conditioned model, the classical check) or the no-print models are no classical baselines either
    learned = {name for name, (base, _) in PRINT_SYSTEMS.items() if base in ("conditioned", "checked")} | {"no_print_models"}
    # a blend holds a learned system's restoration (or two classical ones: no baseline either)
    classical = [s for s in systems if s not in ("model", "input", *learned) and not s.startswith((ORACLE_PREFIX, BLEND_PREFIX))]
    best = max(classical, key=lambda s: cell_mean(rows, "si_sdr_i", system=s, snr_db=ref)) if classical else None
    # the intervals say how far the means could move on another draw of test items
    lines = [f"SI-SDR improvement >= {sisdr_goal:g} dB: {m_sisdr:.2f} dB ({_interval(cell_values(at_ref('model'), 'si_sdr_i'))}), "
             f"{mark(m_sisdr >= sisdr_goal)}"]  # fmt: skip
    if best:
        b_sisdr = cell_mean(rows, "si_sdr_i", system=best, snr_db=ref)
        gap = _interval(paired_differences(at_ref("model"), at_ref(best), "si_sdr_i"), signed=True)
        lines.append(f"beats the best classical baseline ({best}, {b_sisdr:.2f} dB) by >= {margin:g} dB SI-SDR: "
                     f"{m_sisdr - b_sisdr:+.2f} dB ({gap}, paired), {mark(m_sisdr - b_sisdr >= margin)}")  # fmt: skip
        m_pesq, b_pesq = cell_mean(rows, "pesq", system="model", snr_db=ref), cell_mean(rows, "pesq", system=best, snr_db=ref)
        if m_pesq == m_pesq:
            lines.append(f"and in PESQ: {m_pesq:.2f} vs {b_pesq:.2f}, {mark(m_pesq > b_pesq)}")
    worst = min(
        ((c, cell_mean(rows, "si_sdr_i", system="model", snr_db=ref, category=c)) for c in sorted({r["category"] for r in rows})),
        key=lambda t: t[1],
    )
    lines.append(f"no category worse than the input: worst {worst[0]} {worst[1]:+.2f} dB, {mark(worst[1] >= 0)}")
    energy = cell_mean(rows, "energy_ratio_db", system="model", snr_db=ref)
    lines.append(f"output/clean energy within {energy_goal:g} dB: {energy:+.2f} dB, {mark(abs(energy) <= energy_goal)}")
    for oracle in (s for s in systems if s.startswith(ORACLE_PREFIX)):
        o_sisdr = cell_mean(rows, "si_sdr_i", system=oracle, snr_db=ref)
        lines.append(f"for scale, not a target: {oracle}, which knows the clean signal, gains {o_sisdr:.2f} dB")
    return lines


def plot_report(rows: list[dict], systems: Sequence[str], snrs: Sequence[float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for s in systems:
        axes[0].plot(snrs, [cell_mean(rows, "si_sdr_i", system=s, snr_db=v) for v in snrs], marker="o", label=s)
        axes[1].plot(snrs, [cell_mean(rows, "energy_ratio_db", system=s, snr_db=v) for v in snrs], marker="o", label=s)
    axes[0].set(xlabel="input SNR (dB)", ylabel="SI-SDR improvement (dB)", title="Quality gain")
    axes[1].axhspan(-1, 1, color="0.9")
    axes[1].set(xlabel="input SNR (dB)", ylabel="output / clean energy (dB)", title="Over- (<0) and under-suppression (>0)")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    tmp, path = atomic_output(path)
    fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    commit_output(tmp, path)


def write_csv(rows: list[dict], path: Path) -> None:
    fields = list(dict.fromkeys(k for r in rows for k in r))
    tmp, path = atomic_output(path)
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    commit_output(tmp, path)


def run(cfg: DictConfig, command: str) -> int:
    import baselines

    ecfg = cfg.evaluate
    sample_rate = int(cfg.model.sample_rate)
    out_dir = repo_path(ecfg.output_dir)
    # refused before any model loads or item restores; created only when there is something to
    # write, so a run that fails (a missing checkpoint, a missing corpus) leaves no folder behind
    reason = naming.unwritable_reason(out_dir)
    if reason:
        raise ValueError(f"evaluate.output_dir: {reason}")
    systems: dict[str, Callable] = {}
    # the ideal masks of the evaluated model's own STFT
    known = {**baselines.BASELINES, **baselines.oracle_systems(int(cfg.model.n_fft), int(cfg.model.hop_length))}
    told = {name for name in ecfg.systems
            if (name in PRINT_SYSTEMS and PRINT_SYSTEMS[name][1] not in UNTOLD) or name in baselines.TOLD_ORACLES}  # fmt: skip
    if told and not float(ecfg.get("print_seconds") or 0.0) > 0:
        raise ValueError(f"evaluate.systems: {', '.join(sorted(told))} need a print; set evaluate.print_seconds (e.g. 3.0)")
    segment, overlap = float(cfg.inference.segment_seconds), float(cfg.inference.overlap_seconds)
    for name in ecfg.systems:
        if name == "model":
            checkpoint = ecfg.checkpoint or cfg.inference.checkpoint or "models/default"
            systems[name] = model_system(repo_path(checkpoint), segment, overlap)
        elif name in PRINT_SYSTEMS:
            base, how = PRINT_SYSTEMS[name]
            if base == "conditioned":
                if not ecfg.get("conditioned_checkpoint"):
                    raise ValueError(f"evaluate.systems: {name} needs evaluate.conditioned_checkpoint (a conditioned model)")
                systems[name] = model_system(repo_path(ecfg.conditioned_checkpoint), segment, overlap, told=how,
                                             classical_blend=cfg.inference.get("classical_blend"),
                                             check=bool(cfg.inference.noise_print_check),
                                             print_models=[repo_path(str(f)) for f in cfg.inference.get("print_models") or []],
                                             postfilter=cfg.inference.get("postfilter"),
                                             half_rate_below_hz=cfg.inference.get("half_rate_below_hz"),
                                             auto_models=[repo_path(str(f)) for f in cfg.inference.get("auto_models") or []])  # fmt: skip
            elif base == "checked":
                checkpoint = ecfg.checkpoint or cfg.inference.checkpoint or "models/default"
                systems[name] = model_system(repo_path(checkpoint), segment, overlap, told="checked")
            else:
                systems[name] = _told_baseline(getattr(baselines, base))
        elif name == "no_print_models":
            folders = [repo_path(str(folder)) for folder in cfg.inference.get("no_print_models") or []]
            if not folders:
                raise ValueError("evaluate.systems: no_print_models needs inference.no_print_models (model folders)")
            # the shipped model's restorer, which restores without a print, so by those models
            systems[name] = model_system(repo_path("models/default"), segment, overlap, no_print_models=folders)
        elif name in known:
            systems[name] = known[name]
        else:
            raise ValueError(f"evaluate.systems: unknown system {name!r} (model, no_print_models, one of {sorted(PRINT_SYSTEMS)} "
                             f"or one of {sorted(known)})")  # fmt: skip
    blends = parse_blends(list(ecfg.get("blends") or []), list(systems))
    items = build_test_set(cfg, sample_rate)
    rows = run_systems(items, systems, sample_rate, bool(ecfg.perceptual), quiet=bool(ecfg.quiet),
                       oracles=set(baselines.ORACLES), told=told, blends=blends)  # fmt: skip
    name = ecfg.name
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(rows, out_dir / f"{name}.csv")
    snrs = [float(s) for s in ecfg.snr_db]
    names = [*systems, *(blend[3] for blend in blends)]
    report = markdown_report(rows, names, snrs, f"Evaluation: {name}", command, ecfg.targets)
    tmp, final = atomic_output(out_dir / f"{name}.md")
    tmp.write_text(report)
    commit_output(tmp, final)
    plot_report(rows, names, snrs, out_dir / f"{name}.png")
    print(report)
    print(f"wrote {out_dir / name}.csv, .md and .png")
    return 0


def command(cfg: DictConfig) -> int:
    """evaluate.py as a command: the exit code, and errors as one line."""
    command_line = "python evaluate.py " + " ".join(sys.argv[1:])
    from cli import InferenceError, native_stderr_silenced, print_error

    with native_stderr_silenced():  # TF's C++ start-up lines ignore TF_CPP_MIN_LOG_LEVEL
        from unet import CheckpointError  # imports TensorFlow

    try:
        return run(cfg, command_line.strip())
    except (ValueError, OSError) as exc:
        print_error(exc)
        return 2
    except (CheckpointError, InferenceError) as exc:  # one line, not a traceback wall
        print_error(exc)
        return 1


def _main() -> None:
    """``python evaluate.py ...`` and the ``evaluate`` command (pyproject.toml)."""
    from cli import hydra_entry

    hydra_entry(command)


if __name__ == "__main__":
    _main()
