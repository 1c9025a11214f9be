"""STFT analysis and synthesis with ``tf.signal`` (Hamming 2048, hop 512 by default).

The signal is padded by ``n_fft - hop`` zeros at the start and enough at the end that
every sample lies under a full set of overlapping windows; the inverse crops back, so
``istft(stft(x), len(x))`` reconstructs ``x`` at every length, ends included.
"""
from __future__ import annotations

from typing import Any

import numpy as np

# TensorFlow is imported inside the functions that use it, so that the numpy helpers below
# (and unet.py, which needs only them) import on machines with Keras on JAX and no TensorFlow


def _hamming(frame_length: int, dtype: tf.DType | None = None) -> tf.Tensor:
    import tensorflow as tf

    return tf.signal.hamming_window(frame_length, periodic=True, dtype=dtype or tf.float32)


def num_frames(num_samples: int, n_fft: int = 2048, hop: int = 512) -> int:
    """Number of STFT frames :func:`stft` produces for ``num_samples`` samples."""
    need = num_samples + 2 * (n_fft - hop) - n_fft
    return -(-need // hop) + 1


def samples_for_frames(frames: int, n_fft: int = 2048, hop: int = 512) -> int:
    """The longest signal that :func:`stft` turns into exactly ``frames`` frames.

    Even an empty signal gives ``num_frames(0)`` frames (3 for 2048/512), so fewer is an error.
    """
    if frames < num_frames(0, n_fft, hop):
        raise ValueError(f"samples_for_frames: at least {num_frames(0, n_fft, hop)} frames, got {frames}")
    return (frames - 1) * hop + n_fft - 2 * (n_fft - hop)


def stft(x: tf.Tensor, n_fft: int = 2048, hop: int = 512) -> tf.Tensor:
    """Complex STFT of ``x`` ``[..., samples]`` -> ``[..., frames, n_fft // 2 + 1]``."""
    import tensorflow as tf

    x = tf.convert_to_tensor(x, dtype=tf.float32)
    n = tf.shape(x)[-1]
    lead = n_fft - hop
    frames = _frames_for(n, n_fft, hop)
    total = (frames - 1) * hop + n_fft
    pad_end = total - n - lead
    rank = len(x.shape)
    paddings = [[0, 0]] * (rank - 1) + [[lead, pad_end]]
    x = tf.pad(x, paddings)
    return tf.signal.stft(x, n_fft, hop, n_fft, window_fn=_hamming, pad_end=False)


def _frames_for(n: tf.Tensor, n_fft: int, hop: int) -> tf.Tensor:
    import tensorflow as tf

    # frames so that (frames - 1) * hop + n_fft >= n + 2 * (n_fft - hop): full overlap at both ends
    lead = n_fft - hop
    need = n + 2 * lead - n_fft
    return (need + hop - 1) // hop + 1


def istft(spec: tf.Tensor, length: int | tf.Tensor, n_fft: int = 2048, hop: int = 512) -> tf.Tensor:
    """Inverse of :func:`stft`: complex ``[..., frames, bins]`` -> ``[..., length]``."""
    import tensorflow as tf

    y = tf.signal.inverse_stft(
        spec,
        n_fft,
        hop,
        n_fft,
        window_fn=tf.signal.inverse_stft_window_fn(hop, forward_window_fn=_hamming),
    )
    lead = n_fft - hop
    return y[..., lead : lead + length]


def spec_to_channels(spec: tf.Tensor) -> tf.Tensor:
    """Complex ``[..., T, F]`` -> real ``[..., T, F, 2]`` (real, imaginary)."""
    import tensorflow as tf

    return tf.stack([tf.math.real(spec), tf.math.imag(spec)], axis=-1)


def channels_to_spec(channels: tf.Tensor) -> tf.Tensor:
    """Real ``[..., T, F, 2]`` -> complex ``[..., T, F]``; casts to float32 first
    because ``tf.complex`` rejects bfloat16."""
    import tensorflow as tf

    channels = tf.cast(channels, tf.float32)
    return tf.complex(channels[..., 0], channels[..., 1])


def frequency_positional_embedding(num_bins: int, channels: int = 10) -> np.ndarray:
    """Cosine embedding of the frequency axis, ``[num_bins, channels]``.

    ``pe[f, k] = cos(pi * 2**k * f / (num_bins - 1))``: channel 0 is one half cosine across
    the band, each next channel doubles the frequency, so the network can tell where on the
    frequency axis a feature sits (convolutions alone are shift-invariant).
    """
    f = np.arange(num_bins, dtype=np.float64) / max(num_bins - 1, 1)
    k = np.arange(channels, dtype=np.float64)
    return np.cos(np.pi * (2.0**k)[None, :] * f[:, None]).astype(np.float32)


# --------------------------------------------------------------------------- real-valued STFT
# The same analysis and synthesis as stft()/istft(), written as framing, matrix products and
# overlap-add in keras.ops, with no complex tensors and no FFT op. Complex tensors and FFTs
# do not survive conversion to ONNX (tf2onnx has no RFFT with Real/Imag consumers nor IRFFT),
# and keras.ops runs on every backend, so this form is what a waveform-in, waveform-out model
# carries inside its graph (unet.WaveformDenoiser). A frame's DFT as a product costs about
# 4 M multiply-adds per frame each way, a few per cent of the U-Net's own cost.


def _overlap(n_fft: int, hop: int) -> int:
    if n_fft % hop:
        raise ValueError(f"the real-valued STFT needs n_fft a multiple of hop, got {n_fft} and {hop}")
    return n_fft // hop


def dft_bases(n_fft: int = 2048, hop: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Analysis ``[n_fft, 2 * bins]`` and synthesis ``[2 * bins, n_fft]`` matrices (float32).

    Analysis holds the periodic Hamming window times cos and -sin, interleaved so that a
    frame's product reshapes to ``[bins, 2]`` (real, imaginary) as :func:`spec_to_channels`
    gives; synthesis is the inverse real DFT (DC and Nyquist once, the other bins twice, their
    imaginary parts at DC and Nyquist ignored as an inverse rFFT does) times the inverse
    window of ``tf.signal.inverse_stft_window_fn``. Angles are reduced modulo ``n_fft`` in
    integers before the cosine, so each entry is exact to float64 before the cast.
    """
    r = _overlap(n_fft, hop)
    bins = n_fft // 2 + 1
    n = np.arange(n_fft)
    window = 0.54 - 0.46 * np.cos(2 * np.pi * n / n_fft)  # tf.signal.hamming_window, periodic
    angle = 2 * np.pi * ((np.arange(bins)[:, None] * n[None, :]) % n_fft) / n_fft  # [bins, n_fft]
    cos, sin = np.cos(angle), np.sin(angle)
    analysis = np.empty((n_fft, 2 * bins))
    analysis[:, 0::2] = (window[None, :] * cos).T
    analysis[:, 1::2] = (-window[None, :] * sin).T
    inverse_window = window / np.tile((window**2).reshape(r, hop).sum(axis=0), r)
    weight = np.full(bins, 2.0)
    weight[0] = weight[-1] = 1.0
    synthesis = np.empty((2 * bins, n_fft))
    synthesis[0::2] = weight[:, None] * cos / n_fft * inverse_window[None, :]
    synthesis[1::2] = -weight[:, None] * sin / n_fft * inverse_window[None, :]
    return analysis.astype(np.float32), synthesis.astype(np.float32)


def real_stft_channels(x: Any, analysis: Any, n_fft: int = 2048, hop: int = 512) -> Any:
    """``[batch, samples]`` -> ``[batch, frames, bins, 2]``: :func:`stft` then
    :func:`spec_to_channels`, in keras.ops (``analysis`` from :func:`dft_bases`)."""
    from keras import ops

    r = _overlap(n_fft, hop)
    lead = n_fft - hop
    n = ops.shape(x)[1]
    frames = (n + 2 * lead - n_fft + hop - 1) // hop + 1
    total = (frames - 1) * hop + n_fft
    batch = ops.shape(x)[0]
    x = ops.concatenate([ops.zeros((batch, lead), x.dtype), x, ops.zeros((batch, total - n - lead), x.dtype)], axis=1)
    chunks = ops.reshape(x, (batch, frames + r - 1, hop))
    framed = ops.concatenate([chunks[:, k : k + frames, :] for k in range(r)], axis=-1)  # [batch, frames, n_fft]
    return ops.reshape(ops.matmul(framed, analysis), (batch, frames, n_fft // 2 + 1, 2))


def real_istft_channels(channels: Any, length: Any, synthesis: Any, n_fft: int = 2048, hop: int = 512) -> Any:
    """Inverse of :func:`real_stft_channels`: ``[batch, frames, bins, 2]`` -> ``[batch, length]``
    (``synthesis`` from :func:`dft_bases`); what :func:`istft` of :func:`channels_to_spec` gives."""
    from keras import ops

    r = _overlap(n_fft, hop)
    batch, frames = ops.shape(channels)[0], ops.shape(channels)[1]
    flat = ops.reshape(ops.cast(channels, "float32"), (batch, frames, n_fft + 2))
    y = ops.reshape(ops.matmul(flat, synthesis), (batch, frames, r, hop))
    pieces = [ops.pad(y[:, :, k, :], [[0, 0], [k, r - 1 - k], [0, 0]]) for k in range(r)]
    out = ops.reshape(sum(pieces[1:], pieces[0]), (batch, (frames + r - 1) * hop))
    lead = n_fft - hop
    return out[:, lead : lead + length]
