"""Where the repository is, and how configured paths are read against it.

Config files name folders relative to the repository (``../shared/corpus``,
``models/default``, ``docs/results``), so they mean the same folder wherever a command is
started; this module is the one place that rule is written.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent
DEFAULT_CHECKPOINT = REPO_ROOT / "models" / "default"
DEFAULT_EXPORT = REPO_ROOT / "exported" / "default"


def repo_path(path: str | os.PathLike) -> Path:
    """``path`` with ``~`` expanded; a relative path is taken from the repository root.

    The result is normalised (``a/../b`` -> ``b``) but symbolic links are kept as named.
    """
    p = Path(os.path.expanduser(str(path)))
    if not p.is_absolute():
        p = REPO_ROOT / p
    return Path(os.path.normpath(p))
