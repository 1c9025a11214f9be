import os
from pathlib import Path

import paths


def test_relative_paths_are_taken_from_the_repository(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert paths.repo_path("models/default") == paths.REPO_ROOT / "models" / "default"
    assert paths.repo_path("../shared/corpus") == paths.REPO_ROOT.parent / "shared" / "corpus"


def test_absolute_and_home_paths_are_kept(tmp_path, monkeypatch):
    assert paths.repo_path(tmp_path / "a" / ".." / "b") == tmp_path / "b"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert paths.repo_path("~/noise") == tmp_path / "noise"


def test_the_repository_root_holds_this_module():
    assert (paths.REPO_ROOT / "paths.py").is_file()
    assert paths.DEFAULT_CHECKPOINT == paths.REPO_ROOT / "models" / "default"
