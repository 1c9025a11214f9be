"""Restore a whole archive on Apache Beam: ``python archive.py archive.input=DIR archive.output_dir=DIR``.

``archive.input`` is a folder (every audio file in it, and in its subfolders unless
``archive.recursive=false``), one file, or a glob pattern; any file system Beam supports
works (``gs://bucket/transfers/**``, ``s3://...``, ``hdfs://...``) through
``apache_beam.io.fileio.MatchFiles``. Each file is restored by
:meth:`inference.Restorer.restore_file` inside Beam's ``RunInference``: the model is
loaded once per worker (:class:`RestorerHandler`), only paths travel through the pipeline,
and each file is streamed block by block in bounded memory exactly as ``inference.py``
does, so the outputs are the same files, bit for bit, under the same names
(``<stem>_denoised_s<N>.<ext>``, ``<stem>_residual_s<N>.<ext>``), mirroring the input's
subfolders below ``archive.output_dir``. The ``inference.*`` options choose the model
(``checkpoint``, ``backend``, ``precision``), the strength, the segmentation, noise prints,
``allow_truncated`` and ``plot``.

Beside the outputs, ``manifest.jsonl`` records every file, one JSON object a line: the
input (path, size, sha256, duration, rate, channels), the model (folder, weights sha256),
strength and noise print, the outputs and their sha256, the seconds taken, the status
(``restored``, ``skipped``, ``failed``) and a failed file's one-line error. Each worker
writes one record per file as soon as the file is done (``.manifest.d/`` in the output
folder, each record written whole), and the command merges them into ``manifest.jsonl``
by replacing it atomically at the end, and at the start of the next run after an
interruption; so the manifest is always complete JSON lines.

Resuming: a rerun skips a file whose manifest entry and outputs match (the input's size
and sha256, the model's weights sha256, the strength and noise print, and the outputs'
sha256); a file whose outputs exist without a matching entry (an interrupted write, another
model) is restored again and its outputs replaced. Outputs are only written inside
``archive.output_dir``; an input is never written over.

Runners: the local DirectRunner by default, ``archive.workers`` processes
(``--direct_num_workers``, ``--direct_running_mode=multi_processing``); any other with Beam's
usual options passed through: ``archive.beam_options='[--runner=DataflowRunner, --project=P,
--region=R, --temp_location=gs://...]'`` (docs/RESTORATION_GUIDE.md shows Dataflow, Flink
and Spark).

Exit status: 0 every file restored or skipped; 1 at least one file failed (or nothing
matched, or the runner failed); 2 bad arguments; 130 interrupted. The last line says how
many files were restored, skipped and failed.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import posixpath
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import audio_io
import cli
import configs
import inference
import loading
import manifest
import naming
from cli import InferenceError, UsageError, config_group, hydra_entry, native_stderr_silenced, one_line, print_error
from paths import DEFAULT_CHECKPOINT, REPO_ROOT

# Beam's import logs "apitools not found ..." at WARNING when the GCP extras are absent,
# which they need not be for local files; that line would read as a problem of the run
logging.disable(logging.WARNING)
try:
    import apache_beam as beam
    from apache_beam.ml.inference.base import ModelHandler
finally:
    logging.disable(logging.NOTSET)

STATUSES = ("restored", "skipped", "failed")
RUNNING_MODES = ("in_memory", "multi_threading", "multi_processing")


@dataclass(frozen=True)
class ArchiveSettings:
    """The validated ``archive`` config group (:class:`configs.ArchiveConfig`, whose defaults
    these are): paths made absolute, the Beam flags a tuple, so that it pickles for workers."""

    input: str
    output_dir: str
    workers: int
    running_mode: str
    recursive: bool
    beam_options: tuple[str, ...]


def archive_settings(cfg: Mapping) -> ArchiveSettings:
    """Validate the ``archive`` group (of the root config or the group itself); raises
    :class:`cli.UsageError` for a missing path, an unknown key or a value out of range."""
    group = cfg.get("archive", cfg) if "input" not in cfg else cfg
    if isinstance((group or {}).get("beam_options"), str):  # one flag given as it is typed
        group = {**group, "beam_options": [group["beam_options"]]}
    a = config_group(group or {}, "archive", configs.ArchiveConfig, marker="input")
    usage = "usage: python archive.py archive.input=FOLDER_FILE_OR_GLOB archive.output_dir=FOLDER"
    if not a.input:
        raise UsageError(f"archive.input: missing; {usage}")
    if not a.output_dir:
        raise UsageError(f"archive.output_dir: missing; {usage}")
    if a.workers < 1:
        raise UsageError(f"archive.workers: must be at least 1, got {a.workers}")
    if a.running_mode not in RUNNING_MODES:
        raise UsageError(f"archive.running_mode: expected one of {', '.join(RUNNING_MODES)}, got {a.running_mode!r}")
    options = tuple(str(o) for o in a.beam_options)
    bad = [o for o in options if not o.startswith("--")]
    if bad:
        raise UsageError(f"archive.beam_options: expected Beam flags such as --runner=DataflowRunner, got {bad[0]!r}")
    return ArchiveSettings(manifest.expand(str(a.input)), manifest.expand(str(a.output_dir)).rstrip("/") or "/",
                           a.workers, a.running_mode, a.recursive, options)  # fmt: skip


def restoring_settings(cfg: Mapping, archive: ArchiveSettings) -> inference.InferenceSettings:
    """The ``inference`` group validated as ``inference.py`` validates it; ``inference.audio``
    and ``inference.output_dir`` play no part (``archive.input`` and ``archive.output_dir`` do)."""
    from omegaconf import OmegaConf

    group: Any = cfg.get("inference", {}) if "inference" in cfg else {}
    group = OmegaConf.to_container(group, resolve=True) if OmegaConf.is_config(group) else dict(group or {})
    group["audio"] = archive.input
    group["output_dir"] = None
    settings = inference.settings_from_config(group)
    if settings.no_print_models:  # the manifest names one model's weights; others it cannot name
        raise UsageError("inference.no_print_models: archive.py restores with one model (its manifest records that "
                         "model's weights); restore with inference.py to use others without a print")  # fmt: skip
    if settings.print_models:
        raise UsageError("inference.print_models: archive.py restores with one model (its manifest records that "
                         "model's weights); restore with inference.py to average others told the print")  # fmt: skip
    if settings.auto_models:
        raise UsageError("inference.auto_models: archive.py restores with one model (its manifest records that "
                         "model's weights); restore with inference.py to restore others beside auto's print")  # fmt: skip
    return settings


# --------------------------------------------------------------------------- the worker


@dataclass(frozen=True)
class ArchiveJob:
    """Everything a worker needs, picklable: the settings and where things go."""

    inference: inference.InferenceSettings
    output_dir: str
    root: str | None
    run_id: str
    weights_sha256: str
    model_folder: str
    # the shipped model: each worker loads its own copy (its repository may lie elsewhere, as
    # in a container image), checked against weights_sha256
    shipped_model: bool = False


@dataclass(frozen=True)
class Item:
    """One file on its way to a worker: its path, its earlier manifest entry (same strength)
    if any, and why it must not be restored (its outputs' names are another file's)."""

    source: str
    previous: dict | None = None
    clash: str | None = None


class LazyRestorer:
    """A worker's restorer, built on first use: a rerun that skips every file never pays for
    TensorFlow's import and the model's load. A model that cannot be loaded is kept as an
    error, so that every file records it and the run ends with them failed."""

    def __init__(self, job: "ArchiveJob") -> None:
        self.job = job
        self.restorer: inference.Restorer | None = None
        self.spec: Any = None
        self.file_print: Any = None
        self.error: str | None = None

    def get(self) -> inference.Restorer:
        """The restorer; raises :class:`InferenceError` if the model cannot be loaded."""
        if self.restorer is None and self.error is None:
            self._load()
        if self.restorer is None:
            raise InferenceError(self.error)
        return self.restorer

    def _load(self) -> None:
        s = self.job.inference
        if self.job.shipped_model:
            s = dataclasses.replace(s, checkpoint=DEFAULT_CHECKPOINT)
        try:
            with native_stderr_silenced(not s.verbose):
                import tensorflow  # noqa: F401  (its C++ start-up lines would bury the command's)
            _, weights = model_files(s)
            # the manifest names the launcher's model: a worker with other weights (another
            # image, a folder changed since the start) must not restore under that name
            digest = manifest.sha256_of(str(weights)) if weights.is_file() else None
            if digest != self.job.weights_sha256:
                raise UsageError(f"{weights}: not the model the run started with (weights sha256 {digest}, "
                                           f"expected {self.job.weights_sha256})")  # fmt: skip
            model, model_cfg = loading.load_model(s.checkpoint, s.precision, s.backend)
            self.spec, self.file_print = loading.print_spec(s, model_cfg, s.checkpoint)
            self.restorer = inference.Restorer(model, model_cfg, s.denoising_strength, s.segment_seconds, s.overlap_seconds,
                                               s.batch_segments, s.block_seconds, classical_blend=s.classical_blend,
                                               postfilter=s.postfilter, half_rate_below_hz=s.half_rate_below_hz)  # fmt: skip
        except Exception as exc:  # unet.CheckpointError, a config the model cannot use, a bad noise print
            kind = type(exc).__name__
            message = str(exc) if kind in ("CheckpointError", "UsageError") else f"{s.checkpoint}: cannot load the model ({exc})"
            self.error = one_line(message, 300)


def _noise_print_label(job: ArchiveJob) -> str | None:
    return job.inference.noise_print


def matches_previous(item: Item, job: ArchiveJob, outputs: Mapping[str, str], size: int, digest: str) -> bool:
    """True when the earlier entry describes this very restoration and its outputs are intact:
    same input (size, sha256), model weights, strength, noise print, classical check, the
    classical estimator's share, the post-filter (its weight, frames and low band) and the held-out
    check's programme for a given print, and outputs whose
    sha256 are the recorded ones."""
    prev = item.previous
    if not prev or prev.get("status") not in ("restored", "skipped"):
        return False
    same = (prev.get("size") == size and prev.get("sha256") == digest and prev.get("weights_sha256") == job.weights_sha256
            and float(prev.get("strength", -1)) == job.inference.denoising_strength
            and prev.get("noise_print") == _noise_print_label(job)
            and bool(prev.get("classical_check", False)) == job.inference.classical_check
            and float(prev.get("classical_blend", 0.0)) == loading.classical_share(job.inference.classical_blend)
            and bool(prev.get("share_check", False)) == _share_check(job.inference)
            and float(prev.get("postfilter", 0.0)) == _postfilter(job)
            and prev.get("postfilter_resolution") == _postfilter_resolution(job)
            and prev.get("check_reference") == _check_reference(job)
            and prev.get("low_band_hz") == _low_band_hz(job)
            and prev.get("half_rate_below_hz") == _half_rate_below_hz(job)
            # a spectrogram plot recorded earlier does not oblige a rerun without inference.plot to redo the file
            and all((prev.get("outputs") or {}).get(kind) == path for kind, path in outputs.items()))  # fmt: skip
    if not same:
        return False
    hashes = prev.get("output_sha256") or {}
    for kind, path in outputs.items():
        if not manifest.exists(path) or hashes.get(kind) != manifest.sha256_of(path):
            return False
    return True


def _postfilter(job: ArchiveJob) -> float:
    """The post-filter's weight where it can apply (``inference.postfilter``: a conditioned model
    told a given print, a file or START-END, or auto's, the default, where the held-out check
    passed it), else 0: records made without the option still match a run where it cannot change
    the restoration (the shipped model, no print, auto without the check); a record of auto's
    print made before its filter (weight 0) does not match a run where it applies."""
    s = job.inference
    if not s.postfilter or not _print_audio_held(s):
        return 0.0
    return float(s.postfilter) if _conditioned(job.model_folder) else 0.0


def _print_audio_held(s: Any) -> bool:
    """Whether the restorer can hold a print's audio for a file: a given one (a file or START-END),
    or auto's where the held-out check runs (what passes it is kept); not with ``noise_print=none``."""
    return s.noise_print != "none" and not (s.noise_print in (None, "auto") and not s.noise_print_check)


def _postfilter_resolution(job: ArchiveJob) -> int | None:
    """The post-filter's frames against the model's (``baselines.POSTFILTER_RESOLUTION``) where it
    can apply, else None: a record made by the filter at the model's own frames (before the
    field) does not match a run where the filter applies, and still matches one where it cannot."""
    import baselines

    return baselines.POSTFILTER_RESOLUTION if _postfilter(job) else None


def _low_band_hz(job: ArchiveJob) -> float | None:
    """The edge of the low band a given print's post-filter filters again in a long window
    (``baselines.LOW_BAND_HZ``) where it can apply (a conditioned model told a file or START-END,
    the post-filter on), else None: a record made before the field does not match a run where it
    applies, and still matches one where it cannot."""
    import baselines

    return baselines.LOW_BAND_HZ if _postfilter(job) and _given_print(job.inference) else None


def _half_rate_below_hz(job: ArchiveJob) -> float | None:
    """The edge of the band a conditioned model makes again at half its rate
    (``inference.half_rate_below_hz``) where it can apply (told a given print, or auto's with the
    held-out check, whose passed print the restorer holds), else None: records made without the
    option match a run where it cannot change the restoration, and not one where it applies."""
    s = job.inference
    if not s.half_rate_below_hz or not _print_audio_held(s):
        return None
    return float(s.half_rate_below_hz) if _conditioned(job.model_folder) else None


def _check_reference(job: ArchiveJob) -> str | None:
    """The programme of a given print's held-out check (``noise_print.GIVEN_CHECK_REFERENCE``)
    where it runs (a conditioned model told a file or START-END with ``noise_print_check``), else
    None: a record made before the field (the check against the noisy passage, which refused
    prints that helped) does not match a run where the check runs, and still matches one where
    it cannot."""
    import noise_print

    s = job.inference
    given = _given_print(s)
    return noise_print.GIVEN_CHECK_REFERENCE if given and s.noise_print_check and _conditioned(job.model_folder) else None


def _given_print(s: Any) -> bool:
    """Whether ``inference.noise_print`` names a print the user gave (a file or START-END), not auto's or none."""
    return s.noise_print not in (None, "auto", "none")


@functools.lru_cache(maxsize=8)
def _conditioned(model_folder: str) -> bool:
    """Whether the model folder's config.json names a conditioned model, read once per folder
    (each file's record and resume check asks); unreadable here (a worker's own copy): True."""
    try:
        config = json.loads((Path(model_folder) / "config.json").read_text())
    except (OSError, ValueError):
        return True
    return str(config.get("conditioning") or "none") != "none"


def _share_check(s: Any) -> bool:
    """Whether the share check may choose the classical share per file (``inference.classical_blend``
    null with ``inference.noise_print_check``): records made without it do not match a run with it."""
    return s.classical_blend is None and bool(s.noise_print_check)


def restore_item(item: Item, loaded: LazyRestorer, job: ArchiveJob) -> dict:
    """Restore (or skip) one file and return its manifest record, also written to the record
    folder at once, so that an interruption loses at most the files being restored. An
    interruption (KeyboardInterrupt, SIGTERM) records nothing for the file it stopped."""
    started = time.perf_counter()
    s = job.inference
    record: dict[str, Any] = {
        "input": item.source, "size": None, "sha256": None, "duration": None, "rate": None, "channels": None,
        "model": job.model_folder, "weights_sha256": job.weights_sha256, "strength": s.denoising_strength,
        "noise_print": _noise_print_label(job), "classical_check": s.classical_check,
        "classical_blend": loading.classical_share(s.classical_blend), "share_check": _share_check(s),
        "postfilter": _postfilter(job), "postfilter_resolution": _postfilter_resolution(job),
        "check_reference": _check_reference(job), "low_band_hz": _low_band_hz(job),
        "half_rate_below_hz": _half_rate_below_hz(job),
        "classical_share": None, "postfiltered": None, "noise_print_used": None,
        "restored_by": None, "noise_print_notes": [], "outputs": {}, "output_sha256": {},
        "seconds": None, "status": "failed", "error": None, "warnings": [], "run": job.run_id,
    }  # fmt: skip
    try:
        _restore_or_skip(item, loaded, job, record)
    except (InferenceError, audio_io.AudioError, ValueError, OSError) as exc:  # NoisePrintError is a ValueError
        message = one_line(exc)
        record["error"] = message if message.startswith(item.source) else f"{item.source}: {message}"
    except Exception as exc:  # unforeseen: recorded for this file; the others go on
        record["error"] = one_line(f"{item.source}: unexpected failure ({type(exc).__name__}: {exc})")
    record["seconds"] = round(time.perf_counter() - started, 3)
    manifest.write_text_atomic(manifest.join(job.output_dir, manifest.RECORDS_DIR, manifest.record_name(item.source, s.denoising_strength)),
                      json.dumps(record, sort_keys=True) + "\n")  # fmt: skip
    return record


def _restore_or_skip(item: Item, loaded: LazyRestorer, job: ArchiveJob, record: dict[str, Any]) -> None:
    s = job.inference
    record["size"] = manifest.size(item.source)
    record["sha256"] = manifest.sha256_of(item.source)
    if item.clash:
        raise InferenceError(item.clash)
    if not manifest.is_remote(item.source):  # an unreadable file fails here, with inference.py's message, before any model loads
        audio_io.open_audio(Path(item.source)).close()
    outputs = manifest.output_names(item.source, s.denoising_strength, job.output_dir, job.root, s.plot, manifest.probe_extension(item.source))
    if matches_previous(item, job, outputs, record["size"], record["sha256"]):
        prev = item.previous or {}
        for key in ("duration", "rate", "channels", "noise_print_used", "restored_by", "classical_share", "noise_print_notes",
                    "outputs", "output_sha256", "warnings"):  # fmt: skip
            record[key] = prev.get(key)
        record["status"] = "skipped"
        return
    restorer = loaded.get()
    stale = any(manifest.exists(p) for p in outputs.values())  # written by a run that left no matching entry
    with manifest.local_copy(item.source) as local:
        told, info, warns = loading.file_noise_power(restorer, loaded.spec, local, loaded.file_print, s.noise_print_check,
                                                     s.classical_check)  # fmt: skip
        restorer.tell(told)
        record["noise_print_used"] = told.power is not None or told.classical is not None
        record["restored_by"] = "classical" if told.classical is not None else "model and classical" if restorer.blended else "model"
        # the classical estimator's share of this file's restoration (the share check's choice, or classical_blend)
        record["classical_share"] = 1.0 if told.classical is not None else restorer.share if restorer.blended else 0.0
        # whether the Wiener post-filter told the print passed this file's restoration (inference.postfilter;
        # auto's print: in the segments its gate let through)
        record["postfiltered"] = restorer.postfiltered or restorer.auto_filtered
        record["noise_print_notes"] = info  # what auto found, the checks' scores and decisions
        record["warnings"] += warns
        if manifest.is_remote(job.output_dir):
            result = _restore_and_upload(restorer, local, outputs, s)
        else:
            paths = naming.OutputPaths(Path(outputs["denoised"]), Path(outputs["residual"]),
                                          Path(outputs.get("plot") or outputs["denoised"] + ".png"))  # fmt: skip
            result = restorer.restore_file(local, paths, overwrite=stale, plot=s.plot, plot_seconds=s.plot_seconds,
                                           allow_truncated=s.allow_truncated)  # fmt: skip
    record.update(duration=result.frames / result.sample_rate, rate=result.sample_rate, channels=result.channels)
    record["warnings"] += result.warnings
    record["outputs"] = dict(outputs)
    record["output_sha256"] = {kind: manifest.sha256_of(p) for kind, p in outputs.items()}
    record["status"] = "restored"


def _restore_and_upload(restorer: inference.Restorer, local: Path, outputs: Mapping[str, str], s: inference.InferenceSettings) -> Any:
    """Restore into a local temporary folder, then copy the outputs to a remote ``output_dir``."""
    folder = Path(tempfile.mkdtemp(prefix="archive-out-"))
    try:
        paths = naming.OutputPaths(*(folder / posixpath.basename(outputs.get(k) or outputs["denoised"] + ".png")
                                        for k in ("denoised", "residual", "plot")))  # fmt: skip
        result = restorer.restore_file(local, paths, plot=s.plot, plot_seconds=s.plot_seconds, allow_truncated=s.allow_truncated)
        for kind, remote in outputs.items():
            manifest.upload(getattr(paths, kind), remote)
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class RestorerHandler(ModelHandler):
    """Beam ``ModelHandler``: :meth:`load_model` builds the restorer once per worker, and
    :meth:`run_inference` restores file by file (paths in, manifest records out)."""

    def __init__(self, job: ArchiveJob) -> None:
        # one file a batch: a file is minutes of work, and one slow file must not hold others back
        super().__init__(min_batch_size=1, max_batch_size=1)
        self.job = job

    def load_model(self) -> LazyRestorer:
        """The worker's restorer (once per worker process; the model itself is loaded when the
        first file needs it)."""
        logging.getLogger("inference").setLevel(logging.WARNING)
        return LazyRestorer(self.job)

    def run_inference(self, batch: Sequence[Item], model: LazyRestorer, inference_args: dict | None = None) -> Iterable[dict]:
        """Restore each file of the batch; returns their manifest records."""
        return [restore_item(item, model, self.job) for item in batch]

    def get_num_bytes(self, batch: Sequence[Item]) -> int:
        """Bytes of input the batch stands for (the files' sizes are not known here: the paths')."""
        return sum(len(item.source) for item in batch)


# --------------------------------------------------------------------------- the pipeline


def _flag_clashes(group: tuple[str, Iterable[str]]) -> Iterator[tuple[str, str | None]]:
    """Files whose outputs would have the same names (``take.wav`` and ``take.ogg``): as in
    ``inference.py``, the first (sorted) that can be read as audio is restored and the others
    fail with the reason; a file that cannot be read fails for that reason instead."""
    _, sources = group
    first = None
    for source in sorted(sources):
        if first is not None:
            yield source, f"{source}: its outputs would have the same names as those of {first}; rename one of them"
            continue
        yield source, None
        if manifest.is_remote(source):
            first = source  # probing a remote file would mean copying it: its name decides
            continue
        try:
            audio_io.open_audio(Path(source)).close()
            first = source
        except InferenceError:
            pass


def _join_previous(group: tuple[str, Mapping[str, list]]) -> Iterator[Item]:
    source, parts = group
    previous = parts["previous"][-1] if parts["previous"] else None
    for clash in parts["file"]:
        yield Item(source, previous, clash)


def build_pipeline(pipeline: Any, job: ArchiveJob, pattern: str, single: bool, manifest_exists: bool) -> Any:
    """Add the archive's transforms to ``pipeline``; returns the PCollection of records."""
    from apache_beam.io import fileio
    from apache_beam.ml.inference.base import RunInference

    strength, output_dir = job.inference.denoising_strength, job.output_dir
    if single:
        paths = pipeline | "One file" >> beam.Create([pattern])
    else:
        paths = (pipeline
                 | "Match" >> fileio.MatchFiles(pattern)
                 | "Paths" >> beam.Map(lambda m: m.path)
                 | "Audio only" >> beam.Filter(manifest.is_candidate, output_dir))  # fmt: skip
    files = (paths
             | "By output name" >> beam.Map(lambda p: (manifest.output_names(p, strength, output_dir, job.root, ext=manifest.probe_extension(p))["denoised"], p))
             | "Group names" >> beam.GroupByKey()
             | "Clashes" >> beam.FlatMap(_flag_clashes))  # fmt: skip
    if manifest_exists:
        previous = (pipeline
                    | "Manifest" >> beam.io.ReadFromText(manifest.join(output_dir, manifest.MANIFEST_NAME))
                    | "Parse" >> beam.Map(json.loads)
                    | "Same strength" >> beam.Filter(lambda e: float(e.get("strength", -1)) == strength)
                    | "By input" >> beam.Map(lambda e: (e["input"], e)))  # fmt: skip
    else:
        previous = pipeline | "No manifest" >> beam.Create([])
    return ({"file": files, "previous": previous}
            | "Join manifest" >> beam.CoGroupByKey()
            | "Items" >> beam.FlatMap(_join_previous)
            | "Spread" >> beam.Reshuffle()
            | "Restore" >> RunInference(RestorerHandler(job)))  # fmt: skip


def pipeline_options(settings: ArchiveSettings) -> Any:
    """Beam's options: the user's flags, and the local runner with ``archive.workers``
    processes unless a runner is named."""
    from apache_beam.options.pipeline_options import PipelineOptions

    flags = list(settings.beam_options)
    if not any(f.startswith("--runner") for f in flags):
        flags = ["--runner=DirectRunner", f"--direct_num_workers={settings.workers}",
                 f"--direct_running_mode={settings.running_mode}", *flags]  # fmt: skip
    return PipelineOptions(flags)


def model_files(s: inference.InferenceSettings) -> tuple[Path, Path]:
    """The model folder a worker will load and the file whose sha256 identifies the model
    (the Keras weights, or an export's ONNX file), with ``backend`` resolved as
    ``inference.py`` resolves it."""
    folder, backend = loading.resolve_backend(s.checkpoint, s.backend, s.precision)
    return folder, folder / ("model.onnx" if backend == "onnxruntime" else "model.weights.h5")


def run(cfg: Mapping) -> int:
    """The whole command for a composed config; returns the exit status. Errors are printed
    as one ``error:`` line each, never raised."""
    try:
        settings = archive_settings(cfg)
        s = restoring_settings(cfg, settings)
        for key, path in (("archive.input", settings.input), ("archive.output_dir", settings.output_dir)):
            manifest.check_filesystem(key, path)
        pattern, root, single = manifest.plan_input(settings)
        if not manifest.is_remote(settings.output_dir):
            reason = naming.unwritable_reason(Path(settings.output_dir))
            if reason:
                raise UsageError(f"archive.output_dir: {reason}")
    except UsageError as exc:
        print_error(exc)
        return 2
    verbose = s.verbose
    logging.getLogger("apache_beam").setLevel(logging.INFO if verbose else logging.CRITICAL)
    with native_stderr_silenced(not verbose):  # backend=auto may start TensorFlow, and its C++ notices
        folder, weights = model_files(s)
    if not weights.is_file():  # before any worker starts: every file would fail the same way
        hint = ("the shipped model is not installed; pass inference.checkpoint=FOLDER" if s.checkpoint == DEFAULT_CHECKPOINT
                else f"no {weights.name} there (a model folder has config.json and {weights.name})")  # fmt: skip
        print_error(f"{s.checkpoint}: {hint}")
        return 1
    try:
        pipeline = beam.Pipeline(options=pipeline_options(settings))
    except Exception as exc:  # an unknown runner, a flag of the wrong type
        print_error(f"archive.beam_options: {one_line(exc, 300)}")
        return 2
    run_id = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]
    job = ArchiveJob(s, settings.output_dir, root, run_id, manifest.sha256_of(str(weights)), str(folder.resolve()),
                     shipped_model=s.checkpoint == DEFAULT_CHECKPOINT)  # fmt: skip
    # an interrupted run's records count for resuming: fold them in before matching
    manifest.merge_records(settings.output_dir)
    manifest_exists = manifest.exists(manifest.join(settings.output_dir, manifest.MANIFEST_NAME))
    if not s.quiet:
        print(f"archive: restoring {settings.input} into {settings.output_dir} (run {run_id})", flush=True)

    # the local runner's workers are fresh Python processes: they must find this repository's modules
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if str(REPO_ROOT) not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), *paths) if p)
    interrupted, failure = False, None
    with _runner_log(verbose) as runner_log, _quiet_root_logger(verbose):
        try:
            with pipeline:
                build_pipeline(pipeline, job, pattern, single, manifest_exists)
        except KeyboardInterrupt:
            interrupted = True
        except Exception as exc:  # the runner failed (a worker died, a bad Beam option): the records so far are kept
            if _is_interruption(exc):
                interrupted = True
            else:
                runner_log.keep = True
                failure = exc
    if failure is not None:
        where = f"; the runner's log: {runner_log.path}" if runner_log.path else ""
        print_error(f"the pipeline failed: {one_line(failure, 400)}{where}")
        merged = manifest.merge_records(settings.output_dir)
        _summary([r for r in merged if r.get("run") == run_id], settings.output_dir)
        return 1
    merged = manifest.merge_records(settings.output_dir)
    records = [r for r in merged if r.get("run") == run_id]
    if interrupted:
        _summary(records, settings.output_dir)
        print_error(f"{settings.input}: interrupted; run the same command again to restore the rest")
        return 130
    if not records:
        print_error(f"{settings.input}: no audio files matched (extensions: {', '.join(audio_io.AUDIO_EXTENSIONS)})")
        return 1
    return _summary(records, settings.output_dir)


def _is_interruption(exc: BaseException) -> bool:
    """True for a KeyboardInterrupt (Ctrl-C, or SIGTERM through hydra_entry) that the runner
    re-raised as its own exception, naming the step it stopped."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt) or str(seen).startswith("KeyboardInterrupt"):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@dataclass
class _RunnerLog:
    path: str | None = None
    keep: bool = False


@contextlib.contextmanager
def _runner_log(verbose: bool) -> Iterator[_RunnerLog]:
    """Send file descriptor 2 (this process's and the local workers', which inherit it) to a
    temporary file while the pipeline runs: Beam's harness logs dozens of INFO lines per
    worker there. The file is kept, and named, only when the pipeline fails; with
    ``inference.verbose=true`` nothing is redirected."""
    state = _RunnerLog()
    if verbose:
        yield state
        return
    fd, state.path = tempfile.mkstemp(prefix="archive-runner-", suffix=".log")
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        os.dup2(fd, 2)
        yield state
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(fd)
        if not state.keep:
            os.unlink(state.path)
            state.path = None


@contextlib.contextmanager
def _quiet_root_logger(verbose: bool) -> Iterator[None]:
    """Beam logs some warnings on the root logger, which Hydra sends to stdout; they are
    about the runner, not the files (whose problems the records hold)."""
    root = logging.getLogger()
    level = root.level
    if not verbose:  # the runner also logs a failing step's traceback at ERROR; the records hold the files' errors
        root.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        root.setLevel(level)


def _summary(records: list[dict], output_dir: str) -> int:
    counts = {status: sum(r.get("status") == status for r in records) for status in STATUSES}
    for r in sorted(records, key=lambda r: r["input"]):
        if r.get("status") == "failed":
            print_error(r.get("error") or f"{r['input']}: failed")
    print(f"archive: {counts['restored']} restored, {counts['skipped']} skipped, {counts['failed']} failed "
          f"of {len(records)} files; manifest: {manifest.join(output_dir, manifest.MANIFEST_NAME)}", flush=True)  # fmt: skip
    return 1 if counts["failed"] else 0


PATH_OPTIONS = ("archive.input", "archive.output_dir", "inference.checkpoint")


def quote_beam_options(args: list[str]) -> list[str]:
    """Quote each flag of ``archive.beam_options`` for Hydra, whose grammar refuses an ``=``
    in an unquoted list item: ``archive.beam_options=[--runner=FlinkRunner, --flink_master=H:8081]``
    (as the shell passes it) becomes ``archive.beam_options=['--runner=FlinkRunner','--flink_master=H:8081']``.
    A single flag without brackets is taken as a list of one; items already quoted are kept."""
    out = []
    for arg in args:
        key, sep, value = arg.partition("=")
        if sep and key.lstrip("+~") == "archive.beam_options" and value.strip() not in ("", "[]", "null"):
            inner = value.strip()
            inner = inner[1:-1] if inner.startswith("[") and inner.endswith("]") else inner
            items = [item.strip() for item in inner.split(",") if item.strip()]
            quoted = [item if item[0] in "'\"" else "'" + item.replace("\\", "\\\\").replace("'", "\\'") + "'" for item in items]
            arg = f"{key}=[{','.join(quoted)}]"
        out.append(arg)
    return out


def _main() -> None:
    # hydra_entry quotes the values of cli.PATH_OPTIONS for Hydra; the archive's paths too
    cli.PATH_OPTIONS[:0] = [o for o in PATH_OPTIONS if o not in cli.PATH_OPTIONS]
    sys.argv[1:] = quote_beam_options(sys.argv[1:])
    hydra_entry(run)


if __name__ == "__main__":
    import archive  # so that Beam pickles the pipeline's functions as archive.*, importable by workers, not __main__.*

    archive._main()
