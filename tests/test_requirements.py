"""requirements.txt: each platform gets exactly one TensorFlow wheel that exists for it."""
from __future__ import annotations

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement

from conftest import REPO_ROOT

PLATFORMS = {  # sys_platform, platform_machine as pip sees them
    "Linux x86-64": ("linux", "x86_64", "tensorflow-cpu"),
    "Windows x86-64": ("win32", "AMD64", "tensorflow-cpu"),
    "macOS Apple Silicon": ("darwin", "arm64", "tensorflow"),
    "Linux ARM": ("linux", "aarch64", "tensorflow"),
}


def requirements() -> list[Requirement]:
    lines = (REPO_ROOT / "requirements.txt").read_text().splitlines()
    return [Requirement(line) for line in (raw.split(" #")[0].strip() for raw in lines) if line and not line.startswith("#")]


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_each_platform_installs_one_tensorflow_that_has_a_wheel_there(platform):
    sys_platform, machine, expected = PLATFORMS[platform]
    env = {**default_environment(), "sys_platform": sys_platform, "platform_machine": machine}
    chosen = [r for r in requirements() if r.marker is None or r.marker.evaluate(env)]
    tensorflows = [r for r in chosen if r.name in ("tensorflow", "tensorflow-cpu")]
    assert [r.name for r in tensorflows] == [expected]
    # the same release line on every platform, so a model trained on one loads on the others
    assert str(tensorflows[0].specifier) == str(next(r for r in requirements() if r.name == "tensorflow-cpu").specifier)
    assert "librosa" in {r.name for r in chosen} and "onnxruntime" in {r.name for r in chosen}


def test_only_tensorflow_depends_on_the_platform():
    assert sorted(r.name for r in requirements() if r.marker is not None) == ["tensorflow", "tensorflow-cpu"]
