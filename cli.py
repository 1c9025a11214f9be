"""The command line's conventions, shared by every entry point (inference.py, export.py,
app.py, archive.py, evaluate.py): errors as one ``error:`` line on stderr, the exceptions
that carry them, Hydra's start with odd paths and its rejected arguments in one line, and
native libraries kept quiet.

It sits on the bottom floor (it imports only ``configs`` and ``paths``, and Hydra inside
:func:`hydra_entry`), so that ``audio_io`` can raise :class:`InferenceError` for a file that
cannot be decoded: one ``except InferenceError`` then covers every per-file failure.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import paths


class InferenceError(Exception):
    """An input cannot be restored; the message is ``<path>: <problem>`` on one line."""


class UsageError(InferenceError):
    """The command's arguments are wrong (exit status 2)."""


def one_line(message: Any, limit: int = 600) -> str:
    """``message`` on one line (runs of white space become one space), at most ``limit`` characters."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."  # e.g. Keras lists every layer


def print_error(message: Any) -> None:
    """``error: <message>`` as one line on stderr."""
    print(f"error: {one_line(message)}", file=sys.stderr, flush=True)


def print_warning(message: Any) -> None:
    """``warning: <message>`` as one line on stderr."""
    print(f"warning: {one_line(message)}", file=sys.stderr, flush=True)


def report_failures(failures: list[str], total: int) -> int:
    """The exit status of a run over ``total`` files (0, or 1 if any failed); with several
    files, the failures are listed again at the end, one line each."""
    if not failures:
        return 0
    if total > 1:
        print(f"error: {len(failures)} of {total} files failed:", file=sys.stderr)
        for f in failures:
            print(f"  {one_line(f)}", file=sys.stderr)
    return 1


@contextlib.contextmanager
def native_stderr_silenced(active: bool = True) -> Iterator[None]:
    """Sends file descriptor 2 to /dev/null: TensorFlow's C++ start-up messages ignore
    ``TF_CPP_MIN_LOG_LEVEL`` before absl logging is initialised, and libsndfile's MP3 decoder
    prints its own notes there. Python errors raised inside still propagate and are reported
    after the descriptor is restored."""
    if not active:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def config_group(cfg: Mapping, name: str, schema: type, marker: str) -> Any:
    """The config group ``name`` as an instance of its dataclass ``schema`` (``configs.py``).

    ``cfg`` is the root config, the group itself (recognised by its key ``marker``) or a plain
    mapping of some of its keys (the Python API and tests): the schema's defaults fill the
    rest. A key the schema lacks or a value of the wrong type raises :class:`UsageError`
    naming ``<name>.<key>`` (on the command line Hydra rejects them first, naming the key too).
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import ConfigKeyError, ValidationError

    group = cfg.get(name, cfg) if marker not in cfg else cfg
    group = OmegaConf.to_container(group, resolve=True) if OmegaConf.is_config(group) else dict(group or {})
    fields = {f.name: f for f in dataclasses.fields(schema)}
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), group))
    except ConfigKeyError as exc:  # e.g. strenght=0.5: a typo must not run with the default silently
        raise UsageError(f"{name}.{exc.key}: unknown option (options: {', '.join(sorted(fields))})") from None
    except ValidationError as exc:
        key = str(exc.key)
        kind = str(fields[key].type) if key in fields else ""
        word = next((w for t, w in _TYPE_WORDS.items() if t in kind), "a value of another type")
        raise UsageError(f"{name}.{key}: expected {word}, got {group.get(key)!r}") from None


# How the errors name a field's type (the words of the messages before the schemas existed).
_TYPE_WORDS = {"bool": "true or false", "int": "an integer", "float": "a number", "List": "a list", "str": "a string"}


# Options whose values are paths: taken literally from the command line (see quote_paths).
# An entry point with paths of its own (archive.py) adds them before calling hydra_entry.
PATH_OPTIONS = ["inference.audio", "inference.output_dir", "inference.checkpoint"]


def quote_paths(args: list[str]) -> list[str]:
    """Quote the values of the path options for Hydra, so any path works unquoted.

    Hydra's override grammar takes unquoted values as ASCII words: a path with an accent,
    an apostrophe, a space, a comma or ``=`` would fail or change. A value the user quoted
    already (``inference.audio="'reel 1.wav'"``) or ``null`` is left as it is.
    """
    out = []
    for arg in args:
        key, sep, value = arg.partition("=")
        if sep and key.lstrip("+~") in PATH_OPTIONS and value and value[0] not in "'\"" and value != "null":
            # in a quoted value only a quote and the backslashes before it (or at the end) are special
            escaped = re.sub(r"(\\*)('|$)", lambda m: m.group(1) * 2 + ("\\'" if m.group(2) else ""), value)
            arg = f"{key}='{escaped}'"
        out.append(arg)
    return out


class _HeldStderr:
    """Holds what is written to stderr until the command proper starts, so Hydra's
    several-line report of a bad argument can be replaced by one line."""

    def __init__(self, real: Any) -> None:
        self.real, self.held, self.passing = real, [], False

    def write(self, text: str) -> int:
        if self.passing:
            return self.real.write(text)
        self.held.append(text)
        return len(text)

    def flush(self) -> None:
        self.real.flush()

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding... of the real stream
        return getattr(self.real, name)


def hydra_entry(run_config: Callable[[Any], int]) -> None:
    """Run ``run_config(cfg)`` as a Hydra entry point on the project's config tree, with the
    command line's conventions: exit with its code, Ctrl-C and ``kill`` clean up, paths with
    odd characters pass, and arguments Hydra rejects (an unknown key, a value of the wrong
    type, a syntax error) give one ``error:`` line and exit 2."""
    import signal

    import hydra

    import configs  # noqa: F401  (registers the groups' schemas, which conf/<group>/default.yaml extend)

    def terminate(signum: int, frame: Any) -> None:  # `kill` cleans up like Ctrl-C: no .part files left
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    sys.argv[1:] = quote_paths(sys.argv[1:])
    held = _HeldStderr(sys.stderr)

    # an absolute path: Hydra would otherwise look for `conf` beside the module defining
    # `main` as a Python package when the entry point is another file (export.py, app.py)
    @hydra.main(config_path=str(paths.REPO_ROOT / "conf"), config_name="conf", version_base="1.3")
    def main(cfg: Any) -> None:
        held.passing = True
        code = run_config(cfg)
        if code:
            sys.exit(code)

    full_error = os.environ.get("HYDRA_FULL_ERROR") == "1"  # the user asked for Hydra's traceback
    if not full_error:
        sys.stderr = held
    try:
        main()
    except SystemExit as exc:
        if held.passing or exc.code in (0, None):
            raise
        # Hydra rejected the arguments (an unknown key, a syntax error): bad arguments exit 2
        sys.stderr = held.real
        lines = [line.strip() for line in "".join(held.held).splitlines() if line.strip() and "HYDRA_FULL_ERROR" not in line]
        if lines:
            print_error(" ".join(lines))
        sys.exit(2)
    finally:
        sys.stderr = held.real
