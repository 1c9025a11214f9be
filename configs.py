"""Structured configs: the one source of defaults and types of every config group.

Each group's dataclass is stored in Hydra's ConfigStore as ``<group>/schema``; the YAML files
of ``conf/<group>/`` start with ``defaults: [schema, _self_]`` and set only what differs from
the dataclass (a preset such as ``model/tiny`` sets its sizes; ``inference/default`` may set
nothing). Hydra then rejects a key that is not a field (``Key 'strenght' not in
'InferenceConfig'``) and a value of the wrong type, with the key's name, before any code runs.
Code reads the composed config and keeps no default tables of its own.

This module sits at the bottom of the house: it imports no module of the project, so every
entry point (train.py, inference.py, evaluate.py, export.py, app.py, archive.py) and every
test that composes ``conf/`` imports it first, which registers the schemas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore

# Each group's section below: one dataclass (and its nested ones), then a line in SCHEMAS.
SCHEMAS: dict[str, type] = {}


def register() -> None:
    """Store every schema in Hydra's ConfigStore (idempotent; done on import)."""
    store = ConfigStore.instance()
    for group, node in SCHEMAS.items():
        store.store(group=group, name="schema", node=node)


register()
