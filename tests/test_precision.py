"""precision.py: one vocabulary for training and restoring, and what auto reads of the hardware."""
import pytest

import precision


def test_cpu_flags_reads_first_flags_line(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert precision.cpu_flags(str(info)) == {"fpu", "avx512f", "avx512_bf16"}
    assert precision.cpu_flags(str(tmp_path / "missing")) == set()


@pytest.mark.parametrize(
    "name, flags, gpus, bfloat16_gpus, expected",
    [
        ("auto", {"avx512f", "avx512_bf16"}, [], True, "bfloat16"),
        ("auto", {"avx512f", "amx_bf16", "amx_tile"}, [], True, "bfloat16"),
        ("auto", {"avx512f", "avx512_vnni"}, [], True, "float32"),  # bfloat16 would be emulated
        ("auto", set(), [(8, 0)], True, "bfloat16"),
        ("auto", set(), [(8, 0)], False, "float32"),  # the restorer keeps GPUs in float32
        ("auto", {"avx512_bf16"}, [(7, 5)], True, "float32"),  # the GPU decides, and it lacks bfloat16
        ("float32", {"avx512_bf16"}, [], True, "float32"),
        ("bfloat16", set(), [], True, "bfloat16"),
        ("mixed_bfloat16", set(), [], True, "bfloat16"),  # the word configs recorded before
    ],
)
def test_resolve_precision(name, flags, gpus, bfloat16_gpus, expected) -> None:
    assert precision.resolve_precision(name, "train.precision", gpus, flags, bfloat16_gpus) == expected
    assert precision.keras_policy(expected) == ("mixed_bfloat16" if expected == "bfloat16" else "float32")


def test_resolve_precision_refuses_float16_naming_the_setting() -> None:
    with pytest.raises(ValueError, match="train.precision: expected one of auto, float32, bfloat16"):
        precision.resolve_precision("mixed_float16", "train.precision", [], set())
