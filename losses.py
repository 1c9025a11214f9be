"""Training losses as plain TensorFlow functions (batch-first tensors, float32 results)."""
from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

_EPS = 1e-8


def spectral_mae(target: tf.Tensor, estimate: tf.Tensor) -> tf.Tensor:
    """Mean absolute error between real/imag spectrogram channels (the paper's loss), in float32."""
    target = tf.cast(target, tf.float32)
    estimate = tf.cast(estimate, tf.float32)
    return tf.reduce_mean(tf.abs(target - estimate))


def two_stage_mae(target: tf.Tensor, estimates: Sequence[tf.Tensor], stage1_weight: float = 1.0) -> tf.Tensor:
    """MAE of every stage's estimate against the clean spectrogram; earlier stages weighted."""
    total = spectral_mae(target, estimates[-1])
    for est in estimates[:-1]:
        total += stage1_weight * spectral_mae(target, est)
    return total


def si_sdr(estimate: tf.Tensor, reference: tf.Tensor) -> tf.Tensor:
    """Scale-invariant SDR in dB per example, ``[batch, samples]`` -> ``[batch]``."""
    estimate = tf.cast(estimate, tf.float32)
    reference = tf.cast(reference, tf.float32)
    dot = tf.reduce_sum(estimate * reference, axis=-1, keepdims=True)
    ref_energy = tf.reduce_sum(reference**2, axis=-1, keepdims=True) + _EPS
    projection = dot / ref_energy * reference
    noise = estimate - projection
    ratio = (tf.reduce_sum(projection**2, axis=-1) + _EPS) / (tf.reduce_sum(noise**2, axis=-1) + _EPS)
    return 10.0 * tf.math.log(ratio) / tf.math.log(10.0)


def negative_si_sdr(estimate: tf.Tensor, reference: tf.Tensor) -> tf.Tensor:
    """Loss form of SI-SDR, scaled to the order of the spectral losses (-dB / 10)."""
    return -tf.reduce_mean(si_sdr(estimate, reference)) / 10.0

