"""Losses: values on constructed cases, not just shapes."""
import numpy as np
import pytest
import tensorflow as tf

import losses


def test_spectral_mae_value():
    a = tf.zeros([2, 3, 4, 2])
    b = tf.fill([2, 3, 4, 2], 0.5)
    assert float(losses.spectral_mae(a, b)) == pytest.approx(0.5)


def test_two_stage_mae_weights_stage1():
    target = tf.zeros([1, 2, 3, 2])
    s1, s2 = tf.ones([1, 2, 3, 2]), tf.fill([1, 2, 3, 2], 2.0)
    assert float(losses.two_stage_mae(target, [s1, s2], stage1_weight=0.5)) == pytest.approx(2.0 + 0.5)
    assert float(losses.two_stage_mae(target, [s2])) == pytest.approx(2.0)


def test_si_sdr_known_snr_and_scale_invariance():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((1, 20000)).astype("float32")
    noise = rng.standard_normal((1, 20000)).astype("float32")
    # make the noise orthogonal to the reference so the projection is exact
    noise -= (noise @ ref.T) / (ref @ ref.T) * ref
    noise *= np.sqrt((ref**2).sum() / (noise**2).sum() / 10.0)  # 10 dB
    est = ref + noise
    assert float(losses.si_sdr(est, ref)[0]) == pytest.approx(10.0, abs=0.01)
    assert float(losses.si_sdr(3.0 * est, ref)[0]) == pytest.approx(10.0, abs=0.01)
    assert float(losses.negative_si_sdr(est, ref)) == pytest.approx(-1.0, abs=0.001)


def test_losses_accept_bfloat16():
    a = tf.cast(tf.ones([1, 2, 3, 2]), tf.bfloat16)
    assert losses.spectral_mae(a, tf.zeros([1, 2, 3, 2])).dtype == tf.float32
