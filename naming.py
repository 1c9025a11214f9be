"""The files of a restoration run: which files are inputs, what their outputs are called, and
the checks made before anything is written (outputs free, folders writable).

``<stem>_denoised_s<N>.<ext>``, ``<stem>_residual_s<N>.<ext>`` and
``<stem>_spectrograms_s<N>.png``, with ``N = 10 * strength`` (``p`` for a decimal point).
inference.py, app.py and archive.py name outputs through here, so that a file restored by any
of them is found again by the others (and never taken for an input).
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import audio_io
from cli import InferenceError, UsageError, print_error

# Names of the files a run writes; inputs matching them are earlier outputs, not programmes.
PREVIOUS_OUTPUT = re.compile(r"_(denoised|residual|spectrograms)_s\d+(p\d+)?$")
# Output names carry the strength to this resolution; a finer strength would share a name
# with a different one (0.72 and 0.68 both rounded to s7), or with the untouched input (s0).
STRENGTH_STEP = 0.001


@dataclass
class OutputPaths:
    """Where the outputs of one input go."""

    denoised: Path
    residual: Path
    plot: Path

    def targets(self, plot: bool) -> list[Path]:
        """The files a restoration writes: denoised, residual and, with ``plot``, the plot."""
        return [self.denoised, self.residual] + ([self.plot] if plot else [])


def strength_tag(strength: float) -> str:
    """``s<N>`` with ``N = 10 * strength`` written with ``p`` for the decimal point:
    1.0 -> ``s10``, 0.7 -> ``s7``, 0.72 -> ``s7p2``, 0.725 -> ``s7p25``, 0.0 -> ``s0``.

    Different strengths always get different names. Raises ``ValueError`` for a strength
    that is not a multiple of :data:`STRENGTH_STEP` (its name could not say it exactly).
    """
    thousandths = round(strength / STRENGTH_STEP)
    if not math.isfinite(strength) or abs(thousandths * STRENGTH_STEP - strength) > 1e-12:
        raise ValueError(f"strength {strength!r} has more than three decimals; output names carry the strength to 0.001")
    whole, frac = divmod(int(thousandths), 100)  # 10 * strength = whole + frac / 100
    return f"s{whole}" + (f"p{frac:02d}".rstrip("0") if frac else "")


def output_paths(source: Path, strength: float, extension: str, output_dir: Path | None = None, input_root: Path | None = None) -> OutputPaths:
    """Where the outputs of ``source`` go: next to it, or in ``output_dir`` (mirroring the
    subfolders of ``source`` below ``input_root`` when a folder is processed)."""
    folder = source.parent
    if output_dir is not None:
        folder = output_dir
        if input_root is not None:
            folder = output_dir / source.parent.relative_to(input_root)
    tag = strength_tag(strength)
    return OutputPaths(
        denoised=folder / f"{source.stem}_denoised_{tag}{extension}",
        residual=folder / f"{source.stem}_residual_{tag}{extension}",
        plot=folder / f"{source.stem}_spectrograms_{tag}.png",
    )


def is_previous_output(path: Path) -> bool:
    """True for files named like this script's outputs (``*_denoised_s10.wav`` ...)."""
    return PREVIOUS_OUTPUT.search(path.stem) is not None


def find_inputs(path: Path, recursive: bool = True) -> list[Path]:
    """The files to restore: ``path`` itself, or the audio files in the folder ``path``,
    without the outputs of earlier runs. Raises :class:`UsageError` for a missing path and
    :class:`InferenceError` for a folder with nothing to restore."""
    if path.is_file():
        return [path]
    if not path.exists():
        raise UsageError(f"{path}: no such file or folder")
    if not path.is_dir():
        raise InferenceError(f"{path}: not a regular file or folder")
    files = audio_io.list_audio_files(path, recursive=recursive)
    inputs = [f for f in files if not is_previous_output(f) and not f.name.startswith(".")]
    if not inputs:
        skipped = len(files) - len(inputs)
        why = f" ({skipped} outputs of earlier runs skipped)" if skipped else ""
        where = "or its subfolders " if recursive else ""
        raise InferenceError(
            f"{path}: no audio files in the folder {where}to restore{why} "
            f"(extensions: {', '.join(audio_io.AUDIO_EXTENSIONS)})"
        )
    return inputs


def check_targets(source: Path, targets: list[Path], overwrite: bool) -> None:
    """Raise :class:`InferenceError` when an output would replace the input, or exists
    already and ``overwrite`` is false."""
    for t in targets:
        if t.exists() and t.resolve() == source.resolve():
            raise InferenceError(f"{source}: refusing to write an output over the input")
    existing = [t for t in targets if t.exists()]
    if existing and not overwrite:
        names = ", ".join(str(t) for t in existing)
        raise InferenceError(f"{source}: output already exists ({names}); pass inference.overwrite=true to replace it")


def unwritable_reason(folder: Path) -> str | None:
    """Why outputs cannot be written in ``folder`` (created as needed), or None if they can.

    Checked before the model is loaded, so a wrong ``output_dir`` costs no time and is
    reported once, naming the folder rather than a temporary file.
    """
    p = folder
    while not p.exists() and p != p.parent:
        p = p.parent
    if not p.is_dir():
        return f"{p}: is a file, not a folder"
    if not os.access(p, os.W_OK | os.X_OK):
        return f"{p}: no permission to write there"
    return None


@dataclass
class Planned:
    """A file that passed the checks that need no model, and where its outputs go."""

    source: Path
    paths: OutputPaths
    frames: int
    rate: int


def plan_one(source: Path, settings: Any, input_root: Path | None, claimed: dict[Path, Path]) -> Planned | None:
    """Probe ``source`` without the model (readable, not truncated, outputs free and
    writable); None when ``skip_existing`` finds its outputs all present. Raises
    :class:`InferenceError` naming the problem."""
    with audio_io.open_audio(source) as probe:
        ext = audio_io.output_format(probe).extension
        frames, rate = max(probe.frames, 0), probe.samplerate
        declared = audio_io.declared_frames(probe)
    if not settings.allow_truncated:
        audio_io.truncation_check(source, declared, frames, rate, allow_truncated=False)
    paths = output_paths(source, settings.denoising_strength, ext, settings.output_dir, input_root)
    clash = claimed.setdefault(paths.denoised.resolve(), source)
    if clash != source:  # e.g. take.wav and take.mp3 both give take_denoised_s10.wav
        raise InferenceError(f"{source}: its outputs would have the same names as those of {clash}; rename one of them")
    targets = paths.targets(settings.plot)
    # all outputs present: an earlier run finished this file (each is renamed into place whole)
    if settings.skip_existing and not settings.overwrite and all(t.exists() for t in targets):
        return None
    check_targets(source, targets, settings.overwrite)
    reason = unwritable_reason(paths.denoised.parent)
    if reason:
        raise InferenceError(f"{source}: cannot write its outputs ({reason})")
    return Planned(source, paths, frames, rate)


def plan(files: list[Path], settings: Any, input_root: Path | None, failures: list[str],
          skipped: list[Path]) -> list[Planned]:  # fmt: skip
    """Probe every input (:func:`plan_one`); failures are printed and appended to
    ``failures``, inputs whose outputs exist (``skip_existing``) to ``skipped``."""
    planned = []
    claimed: dict[Path, Path] = {}  # output name -> the input that produces it in this run
    for source in files:
        try:
            item = plan_one(source, settings, input_root, claimed)
        except InferenceError as exc:
            print_error(exc)
            failures.append(str(exc))
            continue
        if item is None:
            skipped.append(source)
        else:
            planned.append(item)
    return planned
