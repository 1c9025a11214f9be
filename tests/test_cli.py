"""cli.py: the command line's conventions shared by the entry points: literal paths, one-line
errors, and keys or types Hydra or the schemas reject, named, with exit status 2."""
from __future__ import annotations

import subprocess
import sys

import pytest

import cli
import configs
from conftest import REPO_ROOT


def test_quote_paths_makes_any_path_literal():
    args = ["inference.audio=/x/Ünï/é.wav", "inference.output_dir=it's, a=b\\", "inference.checkpoint='kept'", "inference.plot=true", "inference.output_dir=null"]
    assert cli.quote_paths(args) == [
        "inference.audio='/x/Ünï/é.wav'", "inference.output_dir='it\\'s, a=b\\\\'", "inference.checkpoint='kept'", "inference.plot=true", "inference.output_dir=null"
    ]



def test_one_line_joins_lines_and_caps_the_length():
    assert cli.one_line("a\n  b\tc") == "a b c"
    assert cli.one_line("x" * 700) == "x" * 597 + "..."


@pytest.mark.parametrize("group,schema,marker,key,value,expected", [
    ("inference", configs.InferenceConfig, "audio", "strenght", 0.5, "inference.strenght: unknown option (options: allow_truncated, audio,"),
    ("inference", configs.InferenceConfig, "audio", "denoising_strength", "strong", "inference.denoising_strength: expected a number, got 'strong'"),
    ("archive", configs.ArchiveConfig, "input", "workers", "two", "archive.workers: expected an integer, got 'two'"),
    ("archive", configs.ArchiveConfig, "input", "recursive", "maybe", "archive.recursive: expected true or false, got 'maybe'"),
    ("app", configs.AppConfig, "host", "prot", 8000, "app.prot: unknown option (options: host, port)"),
])  # fmt: skip
def test_config_group_rejects_a_typo_or_a_wrong_type_naming_the_key(group, schema, marker, key, value, expected):
    with pytest.raises(cli.UsageError) as raised:
        cli.config_group({key: value}, group, schema, marker)
    assert str(raised.value).startswith(expected), raised.value


def test_config_group_fills_the_schemas_defaults():
    got = cli.config_group({"inference": {"audio": "a.wav", "denoising_strength": "0.5"}}, "inference", configs.InferenceConfig, "audio")
    assert isinstance(got, configs.InferenceConfig) and got.audio == "a.wav" and got.denoising_strength == 0.5
    assert got.segment_seconds == configs.InferenceConfig.segment_seconds


@pytest.mark.parametrize("args,named", [
    (["inference.strenght=0.5"], "inference.strenght"),  # Hydra: not in the schema
    (["+inference.strenght=0.5"], "inference.strenght: unknown option"),  # appended: the schema check in inference.run
    (["inference.denoising_strength=strong"], "inference.denoising_strength"),  # Hydra: not a float
    (["inference.recursive=maybe"], "inference.recursive"),
])  # fmt: skip
def test_the_command_rejects_a_typo_or_a_wrong_type_in_one_line_with_exit_2(tmp_path, args, named):
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "inference.py"), "inference.audio=a.wav", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ") and named in proc.stderr, proc.stderr
    assert list(tmp_path.iterdir()) == []
