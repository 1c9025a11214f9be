"""pyproject.toml: every root module is installed, the commands it names exist, and the
editable install (scripts/setup.sh) imports the very files of this folder from anywhere."""
from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import json
import shutil
import subprocess
import sys
import sysconfig

import pytest

from conftest import REPO_ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
PY_MODULES = PYPROJECT["tool"]["setuptools"]["py-modules"]
SCRIPTS = PYPROJECT["project"]["scripts"]
# commands whose function is not written yet (strict xfail: the mark fails once it is there)
PENDING: dict[str, str] = {}


def script_params() -> list:
    return [pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=PENDING[name])) if name in PENDING else name
            for name in sorted(SCRIPTS)]  # fmt: skip


def installed() -> importlib.metadata.Distribution:
    try:
        return importlib.metadata.distribution(PYPROJECT["project"]["name"])
    except importlib.metadata.PackageNotFoundError:
        pytest.fail("the project is not installed in this environment: run `bash scripts/setup.sh`")


def test_every_root_module_is_listed_in_py_modules():
    on_disk = {path.stem for path in REPO_ROOT.glob("*.py")}
    assert sorted(on_disk - set(PY_MODULES)) == [], "add these to py-modules in pyproject.toml"
    assert sorted(set(PY_MODULES) - on_disk) == [], "py-modules in pyproject.toml names modules that do not exist"
    assert len(PY_MODULES) == len(set(PY_MODULES))


@pytest.mark.parametrize("name", script_params())
def test_each_command_names_a_function_that_takes_no_arguments(name):
    module, _, function = SCRIPTS[name].partition(":")
    assert module in PY_MODULES
    tree = ast.parse((REPO_ROOT / f"{module}.py").read_text())
    found = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == function]
    assert found, f"{module}.py defines no function {function}"
    args = found[0].args
    required = len(args.posonlyargs) + len(args.args) - len(args.defaults)
    required += sum(default is None for default in args.kw_defaults)
    assert required == 0, f"{SCRIPTS[name]} needs arguments; a command calls it with none"


def test_the_installed_commands_are_the_ones_pyproject_names():
    entry_points = {ep.name: ep.value for ep in installed().entry_points if ep.group == "console_scripts"}
    assert entry_points == SCRIPTS, "the install is older than pyproject.toml: run `bash scripts/setup.sh`"


def test_the_install_imports_the_files_of_this_folder_from_anywhere(tmp_path):
    installed()
    # in this process (pytest's `pythonpath = .`) and, isolated (no PYTHONPATH, no current
    # folder on sys.path), in an interpreter started elsewhere: the same files
    here = {name: importlib.util.find_spec(name).origin for name in PY_MODULES}
    code = "import importlib.util, json, sys; print(json.dumps({m: importlib.util.find_spec(m).origin for m in sys.argv[1:]}))"
    out = subprocess.run([sys.executable, "-I", "-c", code, *PY_MODULES], cwd=tmp_path, capture_output=True, text=True,
                         timeout=60, check=True).stdout  # fmt: skip
    elsewhere = json.loads(out)
    expected = {name: str(REPO_ROOT / f"{name}.py") for name in PY_MODULES}
    assert here == expected
    assert elsewhere == expected


@pytest.mark.parametrize("name", script_params())
def test_each_command_finds_conf_from_another_folder(name, tmp_path):
    """A key that is not in conf/ is rejected by name, which needs conf/ composed first: fast,
    before any model or TensorFlow is loaded, and nothing is written where it was started."""
    installed()
    command = shutil.which(name, path=sysconfig.get_path("scripts"))
    assert command, f"no `{name}` command beside {sys.executable}: run `bash scripts/setup.sh`"
    proc = subprocess.run([command, "nosuchkey=1"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "Could not override 'nosuchkey'" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert list(tmp_path.iterdir()) == []
