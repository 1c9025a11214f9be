"""The archive's bookkeeping, apart from Beam's pipeline: paths on any file system (local, or
one of Beam's: ``gs://``, ``s3://`` ...), the outputs' names, the per-file records and their
merge into ``manifest.jsonl``, and what ``archive.input`` matches.

Everything here reads and writes files one at a time, so archive.py's workers and its
launcher share it, and tests use it without a pipeline. Beam's ``FileSystems`` is imported
only for a remote path.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import audio_io
import exported_model
import naming
from cli import UsageError, one_line

MANIFEST_NAME = "manifest.jsonl"
# Per-file records of a run not merged yet; hidden, so a later folder run never sees them.
RECORDS_DIR = ".manifest.d"
_HASH_BLOCK = 1 << 20  # bytes copied at a time: memory stays flat for any file size
_MERGE_CHUNK = 1000  # records read before their lines are written
_READERS = 16  # records read at once
_GLOB_CHARS = "*?["


def expand(path: str) -> str:
    # absolute, so that the manifest names each file wherever the command was started
    return path if is_remote(path) else os.path.abspath(os.path.expanduser(path))


def is_remote(path: str) -> bool:
    """True for a path on a file system other than this machine's (``gs://``, ``s3://`` ...)."""
    return "://" in path and not path.startswith("file://")


# --------------------------------------------------------------------------- files and hashes


def sha256_of(path: str) -> str:
    """The sha256 of a file (any Beam file system)."""
    with open_read(path) as f:
        return exported_model.stream_sha256(f)


def open_read(path: str) -> Any:
    if not is_remote(path):
        return open(path, "rb")
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.open(path, compression_type="uncompressed")


def size(path: str) -> int:
    if not is_remote(path):
        return os.path.getsize(path)
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.match([path])[0].metadata_list[0].size_in_bytes


def exists(path: str) -> bool:
    if not is_remote(path):
        return os.path.isfile(path)
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.exists(path)


def join(folder: str, *parts: str) -> str:
    return posixpath.join(folder, *parts) if is_remote(folder) else os.path.join(folder, *parts)


@contextlib.contextmanager
def atomic_writer(path: str) -> Iterator[Any]:
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
    with atomic_writer(path) as f:
        f.write(text.encode())


def upload(local: Path, remote: str) -> None:
    from apache_beam.io.filesystems import FileSystems

    with open(local, "rb") as src, FileSystems.create(remote, compression_type="uncompressed") as dst:
        shutil.copyfileobj(src, dst, _HASH_BLOCK)


@contextlib.contextmanager
def local_copy(source: str) -> Iterator[Path]:
    """A local path for ``source``: itself, or a copy of a remote file in a temporary folder
    (libsndfile reads local files; the copy is streamed, never held in memory)."""
    if not is_remote(source):
        yield Path(source)
        return
    folder = Path(tempfile.mkdtemp(prefix="archive-in-"))
    try:
        local = folder / posixpath.basename(source)
        with open_read(source) as src, open(local, "wb") as dst:
            shutil.copyfileobj(src, dst, _HASH_BLOCK)
        yield local
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def output_extension(source: str) -> str:
    """The extension ``audio_io.output_format`` gives an input, from its name alone: FLAC
    stays FLAC (its samples are always 8, 16 or 24-bit PCM), everything else becomes WAV."""
    return ".flac" if source.lower().endswith(".flac") else ".wav"


def probe_extension(source: str) -> str | None:
    """The outputs' extension from a local file's header (None for a remote or unreadable
    file: :func:`output_extension` guesses from the name)."""
    if is_remote(source):
        return None
    try:
        with audio_io.open_audio(Path(source)) as probe:
            return audio_io.output_format(probe).extension
    except audio_io.AudioError:
        return None


def output_names(source: str, strength: float, output_dir: str, root: str | None, plot: bool = False,
                 ext: str | None = None) -> dict[str, str]:  # fmt: skip
    """The outputs of ``source`` as ``inference.py`` names them (:func:`naming.output_paths`),
    below ``output_dir`` mirroring the folders of ``source`` below ``root``; ``ext`` is the
    outputs' extension (default :func:`output_extension`)."""
    ext = ext or output_extension(source)
    if not (is_remote(source) or is_remote(output_dir)):
        paths = naming.output_paths(Path(source), strength, ext, Path(output_dir), Path(root) if root is not None else None)
        names = {"denoised": str(paths.denoised), "residual": str(paths.residual), "plot": str(paths.plot)}
    else:
        folder = output_dir
        if root is not None:
            rel = posixpath.dirname(source[len(root.rstrip("/")) + 1 :])
            folder = join(output_dir, rel) if rel else output_dir
        stem, tag = posixpath.splitext(posixpath.basename(source))[0], naming.strength_tag(strength)
        names = {"denoised": join(folder, f"{stem}_denoised_{tag}{ext}"), "residual": join(folder, f"{stem}_residual_{tag}{ext}"),
                 "plot": join(folder, f"{stem}_spectrograms_{tag}.png")}  # fmt: skip
    if not plot:
        del names["plot"]
    return names


def is_candidate(path: str, output_dir: str) -> bool:
    """True for a matched file to restore: audio by its extension, not hidden, not named like
    an output of an earlier run, not in the manifest's record folder."""
    name = posixpath.basename(path) if is_remote(path) else os.path.basename(path)
    if name.startswith(".") or not audio_io.is_audio_file(name):
        return False
    if naming.is_previous_output(Path(name)):
        return False
    return f"{RECORDS_DIR}" not in path.split("/")


def check_filesystem(key: str, path: str) -> None:
    """Raise :class:`UsageError` when Beam has no file system for ``path``'s scheme
    (``gs://`` needs ``pip install "apache-beam[gcp]"``, ``s3://`` ``[aws]``)."""
    if not is_remote(path):
        return
    from apache_beam.io.filesystems import FileSystems

    try:
        FileSystems.get_filesystem(path)
    except ValueError as exc:
        raise UsageError(f"{key}: {one_line(exc, 300)}") from None


def plan_input(settings: Any) -> tuple[str, str | None, bool]:
    """``(pattern, root, single)``: what to match, the folder whose subfolders the outputs
    mirror (None for one file), and whether the input is one file. Raises
    :class:`UsageError` for a local path that does not exist."""
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
            raise UsageError(f"archive.input: {path}: no such file, folder or pattern")
        if not os.path.isdir(path):
            raise UsageError(f"archive.input: {path}: not a regular file or folder")
        root = path.rstrip(os.sep) or os.sep
        return os.path.join(root, "**" if settings.recursive else "*"), root, False
    from apache_beam.io.filesystems import FileSystems

    try:
        single = not path.endswith("/") and FileSystems.exists(path)
    except Exception as exc:  # no credentials, no such bucket
        raise UsageError(f"archive.input: {path}: {one_line(exc, 300)}") from None
    if single:
        return path, None, True
    root = path.rstrip("/")
    return f"{root}/{'**' if settings.recursive else '*'}", root, False


# --------------------------------------------------------------------------- the manifest


def record_key(record: Mapping) -> tuple[str, float]:
    """One entry per input and strength: restorations at two strengths both stay recorded."""
    return str(record["input"]), float(record["strength"])


def record_name(source: str, strength: float) -> str:
    return hashlib.sha1(f"{source}\0{naming.strength_tag(strength)}".encode()).hexdigest() + ".json"


def read_manifest(output_dir: str) -> list[dict]:
    """The entries of ``output_dir/manifest.jsonl`` (none if it does not exist)."""
    path = join(output_dir, MANIFEST_NAME)
    if not exists(path):
        return []
    with open_read(path) as f:
        return [json.loads(line) for line in f.read().decode("utf-8").splitlines() if line.strip()]


def record_files(output_dir: str) -> list[str]:
    folder = join(output_dir, RECORDS_DIR)
    if not is_remote(folder):
        return sorted(str(p) for p in Path(folder).glob("*.json")) if os.path.isdir(folder) else []
    from apache_beam.io.filesystems import FileSystems

    return sorted(m.path for m in FileSystems.match([f"{folder}/*.json"])[0].metadata_list)


def read_record(path: str) -> dict | None:
    try:
        with open_read(path) as f:
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

    files = record_files(output_dir)
    if not files:
        return []
    manifest = join(output_dir, MANIFEST_NAME)
    merged, keys = [], set()
    with atomic_writer(manifest) as out, ThreadPoolExecutor(_READERS) as pool:
        for start in range(0, len(files), _MERGE_CHUNK):
            for record in pool.map(read_record, files[start : start + _MERGE_CHUNK]):
                if record is None:
                    continue
                keys.add(record_key(record))
                out.write((json.dumps(record, sort_keys=True) + "\n").encode())
                merged.append({k: record.get(k) for k in ("input", "strength", "status", "error", "run")})
        if exists(manifest):
            with open_read(manifest) as f:
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
            Path(join(output_dir, RECORDS_DIR)).rmdir()
    return merged
