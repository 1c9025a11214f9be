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
import hashlib
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
import exported_model
import inference

# Beam's import logs "apitools not found ..." at WARNING when the GCP extras are absent,
# which they need not be for local files; that line would read as a problem of the run
logging.disable(logging.WARNING)
try:
    import apache_beam as beam
    from apache_beam.ml.inference.base import ModelHandler
finally:
    logging.disable(logging.NOTSET)

MANIFEST_NAME = "manifest.jsonl"
# Per-file records of a run not merged yet; hidden, so a later folder run never sees them.
RECORDS_DIR = ".manifest.d"
STATUSES = ("restored", "skipped", "failed")
RUNNING_MODES = ("in_memory", "multi_threading", "multi_processing")
_HASH_BLOCK = 1 << 20  # bytes copied at a time: memory stays flat for any file size
_MERGE_CHUNK = 1000  # records read before their lines are written
_READERS = 16  # records read at once
_GLOB_CHARS = "*?["


@dataclass(frozen=True)
class ArchiveSettings:
    """The validated ``archive`` config group."""

    input: str
    output_dir: str
    workers: int = 2
    running_mode: str = "multi_processing"
    recursive: bool = True
    beam_options: tuple[str, ...] = ()


def archive_settings(cfg: Mapping) -> ArchiveSettings:
    """Validate the ``archive`` group (of the root config or the group itself); raises
    :class:`inference.UsageError` for a missing path, an unknown key or a value out of range."""
    group = cfg.get("archive", cfg) if "input" not in cfg else cfg
    group = group or {}
    known = {f.name for f in dataclasses.fields(ArchiveSettings)}
    unknown = sorted(str(k) for k in group.keys() if str(k) not in known)
    if unknown:  # +archive.worker=4 must not run with the default silently
        raise inference.UsageError(f"archive.{unknown[0]}: unknown option (options: {', '.join(sorted(known))})")
    usage = "usage: python archive.py archive.input=FOLDER_FILE_OR_GLOB archive.output_dir=FOLDER"
    if not group.get("input"):
        raise inference.UsageError(f"archive.input: missing; {usage}")
    if not group.get("output_dir"):
        raise inference.UsageError(f"archive.output_dir: missing; {usage}")
    workers = group.get("workers", 2)
    try:
        if isinstance(workers, bool) or float(workers) != int(float(workers)):
            raise ValueError
        workers = int(float(workers))
    except (TypeError, ValueError):
        raise inference.UsageError(f"archive.workers: expected an integer, got {workers!r}") from None
    if workers < 1:
        raise inference.UsageError(f"archive.workers: must be at least 1, got {workers}")
    mode = str(group.get("running_mode") or "multi_processing")
    if mode not in RUNNING_MODES:
        raise inference.UsageError(f"archive.running_mode: expected one of {', '.join(RUNNING_MODES)}, got {mode!r}")
    options = group.get("beam_options") or ()
    if isinstance(options, str):
        options = [options]
    options = tuple(str(o) for o in options)
    bad = [o for o in options if not o.startswith("--")]
    if bad:
        raise inference.UsageError(f"archive.beam_options: expected Beam flags such as --runner=DataflowRunner, got {bad[0]!r}")
    try:
        recursive = inference._number(group, "recursive", bool, True)
    except inference.UsageError:
        raise inference.UsageError(f"archive.recursive: expected true or false, got {group.get('recursive')!r}") from None
    return ArchiveSettings(_expand(str(group["input"])), _expand(str(group["output_dir"])).rstrip("/") or "/",
                           workers, mode, recursive, options)  # fmt: skip


def restoring_settings(cfg: Mapping, archive: ArchiveSettings) -> inference.InferenceSettings:
    """The ``inference`` group validated as ``inference.py`` validates it; ``inference.audio``
    and ``inference.output_dir`` play no part (``archive.input`` and ``archive.output_dir`` do)."""
    from omegaconf import DictConfig, OmegaConf

    group: Any = cfg.get("inference", {}) if "inference" in cfg else {}
    group = OmegaConf.to_container(group, resolve=True) if isinstance(group, DictConfig) else dict(group or {})
    group["audio"] = archive.input
    group["output_dir"] = None
    return inference.settings_from_config(group)


def _expand(path: str) -> str:
    # absolute, so that the manifest names each file wherever the command was started
    return path if is_remote(path) else os.path.abspath(os.path.expanduser(path))


def is_remote(path: str) -> bool:
    """True for a path on a file system other than this machine's (``gs://``, ``s3://`` ...)."""
    return "://" in path and not path.startswith("file://")


# --------------------------------------------------------------------------- files and hashes


def sha256_of(path: str) -> str:
    """The sha256 of a file (any Beam file system)."""
    with _open_read(path) as f:
        return exported_model.stream_sha256(f)


def _open_read(path: str) -> Any:
    if not is_remote(path):
        return open(path, "rb")
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.open(path, compression_type="uncompressed")


def _size(path: str) -> int:
    if not is_remote(path):
        return os.path.getsize(path)
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.match([path])[0].metadata_list[0].size_in_bytes


def _exists(path: str) -> bool:
    if not is_remote(path):
        return os.path.isfile(path)
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.exists(path)


def _join(folder: str, *parts: str) -> str:
    return posixpath.join(folder, *parts) if is_remote(folder) else os.path.join(folder, *parts)


@contextlib.contextmanager
def _atomic_writer(path: str) -> Iterator[Any]:
    """A binary file whose content becomes ``path`` whole when the block ends without an
    error: a temporary file renamed over it here; an object store's object appears on close."""
    if is_remote(path):
        from apache_beam.io.filesystems import FileSystems

        with FileSystems.create(path, mime_type="text/plain", compression_type="uncompressed") as f:
            yield f
        return
    tmp, final = audio_io.atomic_output(path)
    try:
        with open(tmp, "wb") as f:
            yield f
        audio_io.commit_output(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str, text: str) -> None:
    """Write ``text`` so that ``path`` is either the old file or the whole new one."""
    with _atomic_writer(path) as f:
        f.write(text.encode())


def _upload(local: Path, remote: str) -> None:
    from apache_beam.io.filesystems import FileSystems

    with open(local, "rb") as src, FileSystems.create(remote, compression_type="uncompressed") as dst:
        shutil.copyfileobj(src, dst, _HASH_BLOCK)


@contextlib.contextmanager
def _local_copy(source: str) -> Iterator[Path]:
    """A local path for ``source``: itself, or a copy of a remote file in a temporary folder
    (libsndfile reads local files; the copy is streamed, never held in memory)."""
    if not is_remote(source):
        yield Path(source)
        return
    folder = Path(tempfile.mkdtemp(prefix="archive-in-"))
    try:
        local = folder / posixpath.basename(source)
        with _open_read(source) as src, open(local, "wb") as dst:
            shutil.copyfileobj(src, dst, _HASH_BLOCK)
        yield local
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def output_extension(source: str) -> str:
    """The extension ``inference.output_format`` gives an input, from its name alone: FLAC
    stays FLAC (its samples are always 8, 16 or 24-bit PCM), everything else becomes WAV."""
    return ".flac" if source.lower().endswith(".flac") else ".wav"


def probe_extension(source: str) -> str | None:
    """The outputs' extension from a local file's header (None for a remote or unreadable
    file: :func:`output_extension` guesses from the name)."""
    if is_remote(source):
        return None
    try:
        with inference.open_audio(Path(source)) as probe:
            return inference.output_format(probe).extension
    except inference.InferenceError:
        return None


def output_names(source: str, strength: float, output_dir: str, root: str | None, plot: bool = False,
                 ext: str | None = None) -> dict[str, str]:  # fmt: skip
    """The outputs of ``source`` as ``inference.py`` names them (:func:`inference.output_paths`),
    below ``output_dir`` mirroring the folders of ``source`` below ``root``; ``ext`` is the
    outputs' extension (default :func:`output_extension`)."""
    ext = ext or output_extension(source)
    if not (is_remote(source) or is_remote(output_dir)):
        paths = inference.output_paths(Path(source), strength, ext, Path(output_dir), Path(root) if root is not None else None)
        names = {"denoised": str(paths.denoised), "residual": str(paths.residual), "plot": str(paths.plot)}
    else:
        folder = output_dir
        if root is not None:
            rel = posixpath.dirname(source[len(root.rstrip("/")) + 1 :])
            folder = _join(output_dir, rel) if rel else output_dir
        stem, tag = posixpath.splitext(posixpath.basename(source))[0], inference.strength_tag(strength)
        names = {"denoised": _join(folder, f"{stem}_denoised_{tag}{ext}"), "residual": _join(folder, f"{stem}_residual_{tag}{ext}"),
                 "plot": _join(folder, f"{stem}_spectrograms_{tag}.png")}  # fmt: skip
    if not plot:
        del names["plot"]
    return names


def is_candidate(path: str, output_dir: str) -> bool:
    """True for a matched file to restore: audio by its extension, not hidden, not named like
    an output of an earlier run, not in the manifest's record folder."""
    name = posixpath.basename(path) if is_remote(path) else os.path.basename(path)
    if name.startswith(".") or not audio_io.is_audio_file(name):
        return False
    if inference.is_previous_output(Path(name)):
        return False
    return f"{RECORDS_DIR}" not in path.split("/")


def check_filesystem(key: str, path: str) -> None:
    """Raise :class:`inference.UsageError` when Beam has no file system for ``path``'s scheme
    (``gs://`` needs ``pip install "apache-beam[gcp]"``, ``s3://`` ``[aws]``)."""
    if not is_remote(path):
        return
    from apache_beam.io.filesystems import FileSystems

    try:
        FileSystems.get_filesystem(path)
    except ValueError as exc:
        raise inference.UsageError(f"{key}: {inference._one_line(exc, 300)}") from None


def plan_input(settings: ArchiveSettings) -> tuple[str, str | None, bool]:
    """``(pattern, root, single)``: what to match, the folder whose subfolders the outputs
    mirror (None for one file), and whether the input is one file. Raises
    :class:`inference.UsageError` for a local path that does not exist."""
    path = settings.input
    if not is_remote(path) and os.path.isfile(path):  # a name with brackets is a file, not a pattern
        return path, None, True
    if any(c in path for c in _GLOB_CHARS):
        cut = min(path.index(c) for c in _GLOB_CHARS if c in path)
        sep = "/" if is_remote(path) else os.sep
        root = path[:cut].rsplit(sep, 1)[0] if sep in path[:cut] else "."
        return path, root, False
    if not is_remote(path):
        if os.path.isfile(path):
            return path, None, True
        if not os.path.exists(path):
            raise inference.UsageError(f"archive.input: {path}: no such file, folder or pattern")
        if not os.path.isdir(path):
            raise inference.UsageError(f"archive.input: {path}: not a regular file or folder")
        root = path.rstrip(os.sep) or os.sep
        return os.path.join(root, "**" if settings.recursive else "*"), root, False
    from apache_beam.io.filesystems import FileSystems

    try:
        single = not path.endswith("/") and FileSystems.exists(path)
    except Exception as exc:  # no credentials, no such bucket
        raise inference.UsageError(f"archive.input: {path}: {inference._one_line(exc, 300)}") from None
    if single:
        return path, None, True
    root = path.rstrip("/")
    return f"{root}/{'**' if settings.recursive else '*'}", root, False


# --------------------------------------------------------------------------- the manifest


def record_key(record: Mapping) -> tuple[str, float]:
    """One entry per input and strength: restorations at two strengths both stay recorded."""
    return str(record["input"]), float(record["strength"])


def _record_name(source: str, strength: float) -> str:
    return hashlib.sha1(f"{source}\0{inference.strength_tag(strength)}".encode()).hexdigest() + ".json"


def read_manifest(output_dir: str) -> list[dict]:
    """The entries of ``output_dir/manifest.jsonl`` (none if it does not exist)."""
    path = _join(output_dir, MANIFEST_NAME)
    if not _exists(path):
        return []
    with _open_read(path) as f:
        return [json.loads(line) for line in f.read().decode("utf-8").splitlines() if line.strip()]


def _record_files(output_dir: str) -> list[str]:
    folder = _join(output_dir, RECORDS_DIR)
    if not is_remote(folder):
        return sorted(str(p) for p in Path(folder).glob("*.json")) if os.path.isdir(folder) else []
    from apache_beam.io.filesystems import FileSystems

    return sorted(m.path for m in FileSystems.match([f"{folder}/*.json"])[0].metadata_list)


def _read_record(path: str) -> dict | None:
    try:
        with _open_read(path) as f:
            return json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError):  # cut off by a crash of the machine: its file is restored again
        return None


def merge_records(output_dir: str) -> list[dict]:
    """Fold the per-file records into ``manifest.jsonl`` and delete them; returns the input,
    strength, status, error and run of each record merged.

    The new manifest is written beside the old one and replaces it in one step; a record
    replaces the entry of the same input and strength. Records are read a chunk at a time,
    several at once (an object store answers each in tens of milliseconds), and the old
    manifest line by line, so memory does not grow with the archive.
    """
    from concurrent.futures import ThreadPoolExecutor

    files = _record_files(output_dir)
    if not files:
        return []
    manifest = _join(output_dir, MANIFEST_NAME)
    merged, keys = [], set()
    with _atomic_writer(manifest) as out, ThreadPoolExecutor(_READERS) as pool:
        for start in range(0, len(files), _MERGE_CHUNK):
            for record in pool.map(_read_record, files[start : start + _MERGE_CHUNK]):
                if record is None:
                    continue
                keys.add(record_key(record))
                out.write((json.dumps(record, sort_keys=True) + "\n").encode())
                merged.append({k: record.get(k) for k in ("input", "strength", "status", "error", "run")})
        if _exists(manifest):
            with _open_read(manifest) as f:
                for line in iter(f.readline, b""):
                    if line.strip() and record_key(json.loads(line)) not in keys:
                        out.write(line if line.endswith(b"\n") else line + b"\n")
    if is_remote(output_dir):
        from apache_beam.io.filesystems import FileSystems

        FileSystems.delete(files)
    else:
        for path in files:
            Path(path).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            Path(_join(output_dir, RECORDS_DIR)).rmdir()
    return merged


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
        """The restorer; raises :class:`inference.InferenceError` if the model cannot be loaded."""
        if self.restorer is None and self.error is None:
            self._load()
        if self.restorer is None:
            raise inference.InferenceError(self.error)
        return self.restorer

    def _load(self) -> None:
        s = self.job.inference
        if self.job.shipped_model:
            s = dataclasses.replace(s, checkpoint=inference.DEFAULT_CHECKPOINT)
        try:
            with inference.native_stderr_silenced(not s.verbose):
                import tensorflow  # noqa: F401  (its C++ start-up lines would bury the command's)
            _, weights = model_files(s)
            # the manifest names the launcher's model: a worker with other weights (another
            # image, a folder changed since the start) must not restore under that name
            digest = sha256_of(str(weights)) if weights.is_file() else None
            if digest != self.job.weights_sha256:
                raise inference.UsageError(f"{weights}: not the model the run started with (weights sha256 {digest}, "
                                           f"expected {self.job.weights_sha256})")  # fmt: skip
            model, model_cfg = inference.load_model(s.checkpoint, s.precision, s.backend)
            self.spec, self.file_print = inference._print_spec(s, model_cfg, s.checkpoint)
            self.restorer = inference.Restorer(model, model_cfg, s.denoising_strength, s.segment_seconds, s.overlap_seconds,
                                               s.batch_segments or inference.default_batch_segments(), s.block_seconds)  # fmt: skip
        except Exception as exc:  # unet.CheckpointError, a config the model cannot use, a bad noise print
            kind = type(exc).__name__
            message = str(exc) if kind in ("CheckpointError", "UsageError") else f"{s.checkpoint}: cannot load the model ({exc})"
            self.error = inference._one_line(message, 300)


def _noise_print_label(job: ArchiveJob) -> str | None:
    return job.inference.noise_print


def matches_previous(item: Item, job: ArchiveJob, outputs: Mapping[str, str], size: int, digest: str) -> bool:
    """True when the earlier entry describes this very restoration and its outputs are intact:
    same input (size, sha256), model weights, strength and noise print, and outputs whose
    sha256 are the recorded ones."""
    prev = item.previous
    if not prev or prev.get("status") not in ("restored", "skipped"):
        return False
    same = (prev.get("size") == size and prev.get("sha256") == digest and prev.get("weights_sha256") == job.weights_sha256
            and float(prev.get("strength", -1)) == job.inference.denoising_strength
            and prev.get("noise_print") == _noise_print_label(job)
            # a spectrogram plot recorded earlier does not oblige a rerun without inference.plot to redo the file
            and all((prev.get("outputs") or {}).get(kind) == path for kind, path in outputs.items()))  # fmt: skip
    if not same:
        return False
    hashes = prev.get("output_sha256") or {}
    for kind, path in outputs.items():
        if not _exists(path) or hashes.get(kind) != sha256_of(path):
            return False
    return True


def restore_item(item: Item, loaded: LazyRestorer, job: ArchiveJob) -> dict:
    """Restore (or skip) one file and return its manifest record, also written to the record
    folder at once, so that an interruption loses at most the files being restored. An
    interruption (KeyboardInterrupt, SIGTERM) records nothing for the file it stopped."""
    started = time.perf_counter()
    s = job.inference
    record: dict[str, Any] = {
        "input": item.source, "size": None, "sha256": None, "duration": None, "rate": None, "channels": None,
        "model": job.model_folder, "weights_sha256": job.weights_sha256, "strength": s.denoising_strength,
        "noise_print": _noise_print_label(job), "noise_print_used": None, "noise_print_notes": [], "outputs": {}, "output_sha256": {},
        "seconds": None, "status": "failed", "error": None, "warnings": [], "run": job.run_id,
    }  # fmt: skip
    try:
        _restore_or_skip(item, loaded, job, record)
    except (inference.InferenceError, audio_io.AudioError, ValueError, OSError) as exc:  # NoisePrintError is a ValueError
        message = inference._one_line(exc)
        record["error"] = message if message.startswith(item.source) else f"{item.source}: {message}"
    except Exception as exc:  # unforeseen: recorded for this file; the others go on
        record["error"] = inference._one_line(f"{item.source}: unexpected failure ({type(exc).__name__}: {exc})")
    record["seconds"] = round(time.perf_counter() - started, 3)
    write_text_atomic(_join(job.output_dir, RECORDS_DIR, _record_name(item.source, s.denoising_strength)),
                      json.dumps(record, sort_keys=True) + "\n")  # fmt: skip
    return record


def _restore_or_skip(item: Item, loaded: LazyRestorer, job: ArchiveJob, record: dict[str, Any]) -> None:
    s = job.inference
    record["size"] = _size(item.source)
    record["sha256"] = sha256_of(item.source)
    if item.clash:
        raise inference.InferenceError(item.clash)
    if not is_remote(item.source):  # an unreadable file fails here, with inference.py's message, before any model loads
        inference.open_audio(Path(item.source)).close()
    outputs = output_names(item.source, s.denoising_strength, job.output_dir, job.root, s.plot, probe_extension(item.source))
    if matches_previous(item, job, outputs, record["size"], record["sha256"]):
        prev = item.previous or {}
        for key in ("duration", "rate", "channels", "noise_print_used", "noise_print_notes", "outputs", "output_sha256", "warnings"):
            record[key] = prev.get(key)
        record["status"] = "skipped"
        return
    restorer = loaded.get()
    stale = any(_exists(p) for p in outputs.values())  # written by a run that left no matching entry
    with _local_copy(item.source) as local:
        restorer.noise_power, info, warns = inference.file_noise_power(restorer, loaded.spec, local, loaded.file_print, s.noise_print_check)
        record["noise_print_used"] = restorer.noise_power is not None
        record["noise_print_notes"] = info  # what auto found, the held-out check's scores and decision
        record["warnings"] += warns
        if is_remote(job.output_dir):
            result = _restore_and_upload(restorer, local, outputs, s)
        else:
            paths = inference.OutputPaths(Path(outputs["denoised"]), Path(outputs["residual"]),
                                          Path(outputs.get("plot") or outputs["denoised"] + ".png"))  # fmt: skip
            result = restorer.restore_file(local, paths, overwrite=stale, plot=s.plot, plot_seconds=s.plot_seconds,
                                           allow_truncated=s.allow_truncated)  # fmt: skip
    record.update(duration=result.frames / result.sample_rate, rate=result.sample_rate, channels=result.channels)
    record["warnings"] += result.warnings
    record["outputs"] = dict(outputs)
    record["output_sha256"] = {kind: sha256_of(p) for kind, p in outputs.items()}
    record["status"] = "restored"


def _restore_and_upload(restorer: inference.Restorer, local: Path, outputs: Mapping[str, str], s: inference.InferenceSettings) -> Any:
    """Restore into a local temporary folder, then copy the outputs to a remote ``output_dir``."""
    folder = Path(tempfile.mkdtemp(prefix="archive-out-"))
    try:
        paths = inference.OutputPaths(*(folder / posixpath.basename(outputs.get(k) or outputs["denoised"] + ".png")
                                        for k in ("denoised", "residual", "plot")))  # fmt: skip
        result = restorer.restore_file(local, paths, plot=s.plot, plot_seconds=s.plot_seconds, allow_truncated=s.allow_truncated)
        for kind, remote in outputs.items():
            _upload(getattr(paths, kind), remote)
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
        if is_remote(source):
            first = source  # probing a remote file would mean copying it: its name decides
            continue
        try:
            inference.open_audio(Path(source)).close()
            first = source
        except inference.InferenceError:
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
                 | "Audio only" >> beam.Filter(is_candidate, output_dir))  # fmt: skip
    files = (paths
             | "By output name" >> beam.Map(lambda p: (output_names(p, strength, output_dir, job.root, ext=probe_extension(p))["denoised"], p))
             | "Group names" >> beam.GroupByKey()
             | "Clashes" >> beam.FlatMap(_flag_clashes))  # fmt: skip
    if manifest_exists:
        previous = (pipeline
                    | "Manifest" >> beam.io.ReadFromText(_join(output_dir, MANIFEST_NAME))
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
    folder, backend = inference.resolve_backend(s.checkpoint, s.backend, s.precision)
    return folder, folder / ("model.onnx" if backend == "onnxruntime" else "model.weights.h5")


def run(cfg: Mapping) -> int:
    """The whole command for a composed config; returns the exit status. Errors are printed
    as one ``error:`` line each, never raised."""
    try:
        settings = archive_settings(cfg)
        s = restoring_settings(cfg, settings)
        for key, path in (("archive.input", settings.input), ("archive.output_dir", settings.output_dir)):
            check_filesystem(key, path)
        pattern, root, single = plan_input(settings)
        if not is_remote(settings.output_dir):
            reason = inference.unwritable_reason(Path(settings.output_dir))
            if reason:
                raise inference.UsageError(f"archive.output_dir: {reason}")
    except inference.UsageError as exc:
        inference._print_error(exc)
        return 2
    verbose = s.verbose
    logging.getLogger("apache_beam").setLevel(logging.INFO if verbose else logging.CRITICAL)
    with inference.native_stderr_silenced(not verbose):  # backend=auto may start TensorFlow, and its C++ notices
        folder, weights = model_files(s)
    if not weights.is_file():  # before any worker starts: every file would fail the same way
        hint = ("the shipped model is not installed; pass inference.checkpoint=FOLDER" if s.checkpoint == inference.DEFAULT_CHECKPOINT
                else f"no {weights.name} there (a model folder has config.json and {weights.name})")  # fmt: skip
        inference._print_error(f"{s.checkpoint}: {hint}")
        return 1
    try:
        pipeline = beam.Pipeline(options=pipeline_options(settings))
    except Exception as exc:  # an unknown runner, a flag of the wrong type
        inference._print_error(f"archive.beam_options: {inference._one_line(exc, 300)}")
        return 2
    run_id = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]
    job = ArchiveJob(s, settings.output_dir, root, run_id, sha256_of(str(weights)), str(folder.resolve()),
                     shipped_model=s.checkpoint == inference.DEFAULT_CHECKPOINT)  # fmt: skip
    # an interrupted run's records count for resuming: fold them in before matching
    merge_records(settings.output_dir)
    manifest_exists = _exists(_join(settings.output_dir, MANIFEST_NAME))
    if not s.quiet:
        print(f"archive: restoring {settings.input} into {settings.output_dir} (run {run_id})", flush=True)

    # the local runner's workers are fresh Python processes: they must find this repository's modules
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if str(inference.REPO_ROOT) not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(inference.REPO_ROOT), *paths) if p)
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
        inference._print_error(f"the pipeline failed: {inference._one_line(failure, 400)}{where}")
        merged = merge_records(settings.output_dir)
        _summary([r for r in merged if r.get("run") == run_id], settings.output_dir)
        return 1
    merged = merge_records(settings.output_dir)
    records = [r for r in merged if r.get("run") == run_id]
    if interrupted:
        _summary(records, settings.output_dir)
        inference._print_error(f"{settings.input}: interrupted; run the same command again to restore the rest")
        return 130
    if not records:
        inference._print_error(f"{settings.input}: no audio files matched (extensions: {', '.join(audio_io.AUDIO_EXTENSIONS)})")
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
            inference._print_error(r.get("error") or f"{r['input']}: failed")
    print(f"archive: {counts['restored']} restored, {counts['skipped']} skipped, {counts['failed']} failed "
          f"of {len(records)} files; manifest: {_join(output_dir, MANIFEST_NAME)}", flush=True)  # fmt: skip
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
    # hydra_entry quotes the values of inference.PATH_OPTIONS for Hydra; the archive's paths too
    inference.PATH_OPTIONS = PATH_OPTIONS + tuple(o for o in inference.PATH_OPTIONS if o not in PATH_OPTIONS)
    sys.argv[1:] = quote_beam_options(sys.argv[1:])
    inference.hydra_entry(run)


if __name__ == "__main__":
    import archive  # so that Beam pickles the pipeline's functions as archive.*, importable by workers, not __main__.*

    archive._main()
