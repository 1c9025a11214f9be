"""STFT front end: perfect reconstruction at every length, frame arithmetic, scaling, embeddings."""
from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

import stft

N_FFT, HOP = 2048, 512
NUM_BINS = N_FFT // 2 + 1

# Lengths around the hop and window sizes catch off-by-one padding at either end;
# 47616 = samples_for_frames(96) is the training segment length.
EDGE_LENGTHS = [1, 2, 511, 512, 513, 2047, 2048, 2049, 44100, 47616]
RANDOM_LENGTHS = [int(n) for n in np.random.default_rng(20261122).integers(3, 60000, size=4)]
ALL_LENGTHS = EDGE_LENGTHS + RANDOM_LENGTHS


def _signal(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=shape).astype(np.float32)


@pytest.mark.parametrize("length", ALL_LENGTHS)
def test_round_trip_unbatched(length: int) -> None:
    x = _signal((length,), seed=length)
    spec = stft.stft(x)
    assert spec.dtype == tf.complex64
    assert spec.shape == (stft.num_frames(length), NUM_BINS)
    y = stft.istft(spec, length).numpy()
    assert y.shape == (length,)
    np.testing.assert_allclose(y, x, rtol=0, atol=1e-4)


@pytest.mark.parametrize("length", ALL_LENGTHS)
def test_round_trip_batched(length: int) -> None:
    # different content per row, so mixing rows up would show
    x = _signal((3, length), seed=length + 1)
    spec = stft.stft(x)
    assert spec.shape == (3, stft.num_frames(length), NUM_BINS)
    y = stft.istft(spec, length).numpy()
    assert y.shape == (3, length)
    np.testing.assert_allclose(y, x, rtol=0, atol=1e-4)


def test_round_trip_two_batch_axes() -> None:
    x = _signal((2, 3, 2049), seed=7)
    y = stft.istft(stft.stft(x), 2049).numpy()
    np.testing.assert_allclose(y, x, rtol=0, atol=1e-4)


def test_round_trip_in_graph_with_unknown_length() -> None:
    """The trainer calls stft/istft inside tf.function where the length is a tensor."""

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32)])
    def round_trip(x: tf.Tensor) -> tf.Tensor:
        return stft.istft(stft.stft(x), tf.shape(x)[-1])

    for length in (513, 4097):
        x = _signal((2, length), seed=length)
        np.testing.assert_allclose(round_trip(x).numpy(), x, rtol=0, atol=1e-4)


@pytest.mark.parametrize("length", ALL_LENGTHS + [0])
def test_num_frames_matches_stft(length: int) -> None:
    frames = stft.stft(tf.zeros([length])).shape[-2]
    assert stft.num_frames(length) == frames


@pytest.mark.parametrize("frames", [3, 4, 5, 16, 37, 96, 97, 431])
def test_samples_for_frames_is_longest_signal_with_that_many_frames(frames: int) -> None:
    n = stft.samples_for_frames(frames)
    assert n >= 0
    assert stft.stft(tf.zeros([n])).shape[-2] == frames
    assert stft.stft(tf.zeros([n + 1])).shape[-2] == frames + 1
    assert stft.num_frames(n) == frames
    assert stft.num_frames(n + 1) == frames + 1


def test_training_segment_length() -> None:
    # docs and configs quote 96 frames = 47,616 samples
    assert stft.samples_for_frames(96) == 47616


@pytest.mark.parametrize("length", [1, 513, 44100])
def test_energy_is_preserved(length: int) -> None:
    """Parseval with overlap-add: when every sample lies under a full set of windows,
    sum over frames and all N bins of |X|^2 = N * (sum w^2 / hop) * sum x^2.
    A sample near either end missing some windows would lose energy here."""
    x = _signal((length,), seed=length + 2).astype(np.float64)
    spec = stft.stft(x.astype(np.float32)).numpy().astype(np.complex128)
    power = np.abs(spec) ** 2
    # one-sided spectrum: bins 1..N/2-1 stand for two bins of the full spectrum
    full_spectrum_energy = power[:, 0].sum() + power[:, -1].sum() + 2.0 * power[:, 1:-1].sum()
    window = tf.signal.hamming_window(N_FFT, periodic=True, dtype=tf.float64).numpy()
    expected = N_FFT * (window**2).sum() / HOP * (x**2).sum()
    assert full_spectrum_energy == pytest.approx(expected, rel=1e-4)
    y = stft.istft(stft.stft(x.astype(np.float32)), length).numpy().astype(np.float64)
    assert (y**2).sum() == pytest.approx((x**2).sum(), rel=1e-4)


def test_sinusoid_lands_in_its_bin_with_window_gain() -> None:
    # a cosine exactly on bin k0 peaks there, with |X| = A * sum(w) / 2 in fully covered frames
    k0, amplitude, length = 100, 0.5, 16384
    n = np.arange(length)
    x = (amplitude * np.cos(2 * np.pi * k0 * n / N_FFT)).astype(np.float32)
    mag = np.abs(stft.stft(x).numpy())
    middle = mag[8:-8]
    assert np.all(np.argmax(middle, axis=-1) == k0)
    window_sum = tf.signal.hamming_window(N_FFT, periodic=True).numpy().sum()
    np.testing.assert_allclose(middle[:, k0], amplitude * window_sum / 2, rtol=1e-3)


def test_spec_channels_round_trip() -> None:
    rng = np.random.default_rng(3)
    spec = tf.complex(
        rng.standard_normal((2, 5, NUM_BINS)).astype(np.float32),
        rng.standard_normal((2, 5, NUM_BINS)).astype(np.float32),
    )
    channels = stft.spec_to_channels(spec)
    assert channels.shape == (2, 5, NUM_BINS, 2)
    assert channels.dtype == tf.float32
    np.testing.assert_array_equal(channels[..., 0].numpy(), np.real(spec.numpy()))
    np.testing.assert_array_equal(channels[..., 1].numpy(), np.imag(spec.numpy()))
    back = stft.channels_to_spec(channels)
    assert back.dtype == tf.complex64
    np.testing.assert_array_equal(back.numpy(), spec.numpy())


def test_channels_to_spec_accepts_bfloat16() -> None:
    rng = np.random.default_rng(4)
    channels = tf.cast(rng.standard_normal((1, 3, NUM_BINS, 2)).astype(np.float32), tf.bfloat16)
    spec = stft.channels_to_spec(channels)
    assert spec.dtype == tf.complex64
    as_float = tf.cast(channels, tf.float32).numpy()
    np.testing.assert_array_equal(spec.numpy(), as_float[..., 0] + 1j * as_float[..., 1])


def test_positional_embedding_documented_values() -> None:
    pe = stft.frequency_positional_embedding(NUM_BINS, 10)
    assert pe.shape == (NUM_BINS, 10)
    assert pe.dtype == np.float32
    np.testing.assert_array_equal(pe[0], np.ones(10, np.float32))
    np.testing.assert_allclose(pe[-1], [math.cos(math.pi * 2**k) for k in range(10)], atol=1e-6)
    assert pe[-1, 0] == pytest.approx(-1.0)
    # by hand: bin 256 of 1025 is a quarter of the band -> cos(pi/4), cos(pi/2), cos(pi), ...
    assert pe[256, 0] == pytest.approx(math.sqrt(0.5), abs=1e-6)
    assert pe[256, 1] == pytest.approx(0.0, abs=1e-6)
    assert pe[256, 2] == pytest.approx(-1.0, abs=1e-6)
    # bin 100, channel 3: cos(pi * 8 * 100 / 1024) = cos(0.78125 pi)
    assert pe[100, 3] == pytest.approx(math.cos(0.78125 * math.pi), abs=1e-6)
    assert pe[100, 3] == pytest.approx(-0.77301045, abs=1e-6)


def test_positional_embedding_general_formula_other_sizes() -> None:
    num_bins, channels = 17, 4
    pe = stft.frequency_positional_embedding(num_bins, channels)
    f, k = np.meshgrid(np.arange(num_bins), np.arange(channels), indexing="ij")
    np.testing.assert_allclose(pe, np.cos(np.pi * 2.0**k * f / (num_bins - 1)), atol=1e-6)


def test_samples_for_frames_rejects_fewer_frames_than_any_signal_gives() -> None:
    with pytest.raises(ValueError, match="at least 3 frames"):
        stft.samples_for_frames(2)


# --------------------------------------------------------------------------- the real-valued STFT


@pytest.mark.parametrize("length", [0, 1, 511, 512, 2047, 4410, 44100])
def test_real_stft_matches_tf_signal_and_inverts(length: int) -> None:
    analysis, synthesis = stft.dft_bases()
    x = np.random.default_rng(length).normal(0, 0.3, (2, length)).astype(np.float32)
    reference = stft.spec_to_channels(stft.stft(x)).numpy()
    channels = np.asarray(stft.real_stft_channels(tf.constant(x), analysis))
    assert channels.shape == reference.shape == (2, stft.num_frames(length), 1025, 2)
    np.testing.assert_allclose(channels, reference, atol=2e-5)
    back = np.asarray(stft.real_istft_channels(tf.constant(reference), length, synthesis))
    np.testing.assert_allclose(back, x, atol=1e-6)
    expected = stft.istft(stft.channels_to_spec(reference + 0.01), length).numpy()  # not only an identity
    np.testing.assert_allclose(np.asarray(stft.real_istft_channels(tf.constant(reference + 0.01), length, synthesis)), expected, atol=1e-5)


def test_real_stft_in_a_graph_of_unknown_batch_and_length() -> None:
    analysis, synthesis = stft.dft_bases()
    f = tf.function(lambda x: stft.real_istft_channels(stft.real_stft_channels(x, analysis), tf.shape(x)[1], synthesis),
                    input_signature=[tf.TensorSpec([None, None], tf.float32)])
    for shape in ((1, 3000), (3, 9999)):
        x = np.random.default_rng(shape[1]).normal(0, 0.3, shape).astype(np.float32)
        np.testing.assert_allclose(f(x).numpy(), x, atol=1e-6)
    with pytest.raises(ValueError, match="multiple of hop"):
        stft.dft_bases(2048, 300)
