"""Training losses as plain TensorFlow functions (batch-first tensors, float32 results)."""
from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from stft import power_compress

_EPS = 1e-8


def spectral_mae(target: tf.Tensor, estimate: tf.Tensor, compression: float = 1.0) -> tf.Tensor:
    """Mean absolute error between real/imag spectrogram channels (the paper's loss).

    With ``compression < 1`` both are compared as ``|X|^c e^(j arg X)`` (``stft.power_compress``),
    which weighs quiet bins more against loud ones than the raw MAE does.
    """
    target = power_compress(target, compression)
    estimate = power_compress(estimate, compression)
    return tf.reduce_mean(tf.abs(target - estimate))


def two_stage_mae(
    target: tf.Tensor, estimates: Sequence[tf.Tensor], stage1_weight: float = 1.0, compression: float = 1.0
) -> tf.Tensor:
    """MAE of every stage's estimate against the clean spectrogram; earlier stages weighted."""
    total = spectral_mae(target, estimates[-1], compression)
    for est in estimates[:-1]:
        total += stage1_weight * spectral_mae(target, est, compression)
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


def multi_resolution_stft_loss(
    estimate: tf.Tensor, reference: tf.Tensor, resolutions: Sequence[Sequence[int]] = ((512, 128), (1024, 256), (2048, 512))
) -> tf.Tensor:
    """Spectral convergence plus log-magnitude L1, averaged over STFT resolutions.

    Several window lengths penalise both smeared transients (long windows miss them) and
    tonal errors (short windows miss them) — Yamamoto et al., Parallel WaveGAN, 2020.
    """
    estimate = tf.cast(estimate, tf.float32)
    reference = tf.cast(reference, tf.float32)
    total = 0.0
    for n_fft, hop in resolutions:
        est = tf.abs(tf.signal.stft(estimate, n_fft, hop, n_fft, pad_end=True))
        ref = tf.abs(tf.signal.stft(reference, n_fft, hop, n_fft, pad_end=True))
        convergence = tf.norm(ref - est, axis=[-2, -1]) / (tf.norm(ref, axis=[-2, -1]) + _EPS)
        log_mag = tf.reduce_mean(tf.abs(tf.math.log(ref + 1e-5) - tf.math.log(est + 1e-5)), axis=[-2, -1])
        total += tf.reduce_mean(convergence) + tf.reduce_mean(log_mag)
    return total / len(resolutions)
