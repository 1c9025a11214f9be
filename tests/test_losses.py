"""Losses: values on constructed cases, not just shapes."""
import numpy as np
import pytest
import tensorflow as tf

import losses


def test_spectral_mae_value():
    a = tf.zeros([2, 3, 4, 2])
    b = tf.fill([2, 3, 4, 2], 0.5)
    assert float(losses.spectral_mae(a, b)) == pytest.approx(0.5)


def test_spectral_mae_compressed_value():
    # a bin (3, 4) of magnitude 5 becomes 5 ** 0.5 in magnitude, phase kept: (3, 4) / sqrt(5)
    target = tf.zeros([1, 1, 1, 2])
    estimate = tf.constant([[[[3.0, 4.0]]]])
    assert float(losses.spectral_mae(target, estimate)) == pytest.approx(3.5)
    assert float(losses.spectral_mae(target, estimate, compression=0.5)) == pytest.approx(3.5 / np.sqrt(5), rel=1e-5)
    assert float(losses.two_stage_mae(target, [estimate, estimate], 0.5, compression=0.5)) == pytest.approx(
        1.5 * 3.5 / np.sqrt(5), rel=1e-5
    )


def test_compressed_mae_weighs_quiet_bins_more():
    # the same 10 % error on a loud and on a quiet bin: raw MAE sees only the loud one
    target = tf.constant([[[[100.0, 0.0], [0.01, 0.0]]]])
    loud_wrong = tf.constant([[[[110.0, 0.0], [0.01, 0.0]]]])
    quiet_wrong = tf.constant([[[[100.0, 0.0], [0.011, 0.0]]]])
    raw = float(losses.spectral_mae(target, loud_wrong)) / float(losses.spectral_mae(target, quiet_wrong))
    compressed = float(losses.spectral_mae(target, loud_wrong, 0.3)) / float(losses.spectral_mae(target, quiet_wrong, 0.3))
    assert raw == pytest.approx(1e4, rel=1e-3)
    assert compressed < raw / 100


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


def test_multi_resolution_stft_loss_zero_for_identity_and_grows_with_error():
    rng = np.random.default_rng(1)
    ref = tf.constant(rng.standard_normal((2, 8192)).astype("float32"))
    small = ref + 0.01 * tf.constant(rng.standard_normal((2, 8192)).astype("float32"))
    large = ref + 0.5 * tf.constant(rng.standard_normal((2, 8192)).astype("float32"))
    assert float(losses.multi_resolution_stft_loss(ref, ref)) == pytest.approx(0.0, abs=1e-6)
    assert 0 < float(losses.multi_resolution_stft_loss(small, ref)) < float(losses.multi_resolution_stft_loss(large, ref))


def test_losses_accept_bfloat16():
    a = tf.cast(tf.ones([1, 2, 3, 2]), tf.bfloat16)
    assert losses.spectral_mae(a, tf.zeros([1, 2, 3, 2])).dtype == tf.float32
