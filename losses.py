"""Training losses as plain functions in ``keras.ops`` (batch-first tensors, float32 results), so
that the trainer (TensorFlow) and ``scripts/train_jax.py`` (JAX) train on the same loss."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from keras import ops

_EPS = 1e-8


def spectral_mae(target: Any, estimate: Any) -> Any:
    """Mean absolute error between real/imag spectrogram channels (the paper's loss), in float32."""
    return ops.mean(ops.abs(ops.cast(target, "float32") - ops.cast(estimate, "float32")))


def two_stage_mae(target: Any, estimates: Sequence[Any], stage1_weight: float = 1.0) -> Any:
    """MAE of every stage's estimate against the clean spectrogram; earlier stages weighted."""
    total = spectral_mae(target, estimates[-1])
    for est in estimates[:-1]:
        total += stage1_weight * spectral_mae(target, est)
    return total


def si_sdr(estimate: Any, reference: Any) -> Any:
    """Scale-invariant SDR in dB per example, ``[batch, samples]`` -> ``[batch]``."""
    estimate = ops.cast(estimate, "float32")
    reference = ops.cast(reference, "float32")
    dot = ops.sum(estimate * reference, axis=-1, keepdims=True)
    ref_energy = ops.sum(reference**2, axis=-1, keepdims=True) + _EPS
    projection = dot / ref_energy * reference
    noise = estimate - projection
    ratio = (ops.sum(projection**2, axis=-1) + _EPS) / (ops.sum(noise**2, axis=-1) + _EPS)
    return 10.0 * ops.log(ratio) / math.log(10.0)


def negative_si_sdr(estimate: Any, reference: Any) -> Any:
    """Loss form of SI-SDR, scaled to the order of the spectral losses (-dB / 10)."""
    return -ops.mean(si_sdr(estimate, reference)) / 10.0
