"""Which precision a model computes in: one vocabulary for training and restoring
(``auto``, ``float32``, ``bfloat16``), and the hardware facts ``auto`` reads.

No TensorFlow or Keras here: the command line validates ``inference.precision`` before it
loads anything, and the callers tell :func:`resolve_precision` which GPUs will run.
"""
from __future__ import annotations

from collections.abc import Sequence

# CPU features that make bfloat16 matrix products native rather than emulated
NATIVE_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(path: str = "/proc/cpuinfo") -> set[str]:
    """The feature flags of the first CPU (empty where /proc/cpuinfo does not exist)."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def native_bfloat16_cpu(flags: set[str] | None = None) -> bool:
    """Whether this CPU computes bfloat16 products natively (AVX-512 BF16 or AMX); elsewhere
    mixed bfloat16 is emulated and slower than float32 (docs/PERFORMANCE.md)."""
    flags = cpu_flags() if flags is None else flags
    return any(f in flags for f in NATIVE_BF16_CPU_FLAGS)


# One vocabulary for training and restoring: float32, or bfloat16 (Keras's mixed_bfloat16
# policy: bfloat16 products, float32 weights and outputs); auto chooses by the hardware
PRECISIONS = ("auto", "float32", "bfloat16")


def resolve_precision(name: str, setting: str = "precision", gpu_capabilities: Sequence[tuple] = (),
                      flags: set[str] | None = None, bfloat16_gpus: bool = True) -> str:  # fmt: skip
    """``float32`` or ``bfloat16``; ``auto`` chooses bfloat16 only where it is native.

    Without native support bfloat16 is emulated: a training step of the small model took 3.7x
    longer than in float32 on an AVX-512 CPU without BF16 (11 s against 3 s), and half as long
    on one with it (docs/PERFORMANCE.md). ``gpu_capabilities`` lists the compute capability of
    each GPU that will run (none: the CPU, judged by ``flags``, default /proc/cpuinfo's);
    GPUs need 8.0 (Ampere) or newer, and ``bfloat16_gpus=False`` keeps them in float32 (the
    restorer's choice). ``mixed_bfloat16``, which training configs recorded before this one
    vocabulary, reads as ``bfloat16``. ``setting`` names the key in the error.
    """
    name = "bfloat16" if name == "mixed_bfloat16" else name
    if name not in PRECISIONS:
        # float16 would need loss scaling, which the training loop does not do
        raise ValueError(f"{setting}: expected one of {', '.join(PRECISIONS)}, got {name!r}")
    if name != "auto":
        return name
    if gpu_capabilities:
        return "bfloat16" if bfloat16_gpus and min(tuple(c) for c in gpu_capabilities) >= (8, 0) else "float32"
    return "bfloat16" if native_bfloat16_cpu(flags) else "float32"


def keras_policy(precision: str) -> str:
    """The Keras dtype policy of a resolved precision (``float32`` or ``mixed_bfloat16``)."""
    return "mixed_bfloat16" if precision == "bfloat16" else "float32"
