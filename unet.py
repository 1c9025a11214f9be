"""Two-stage U-Net with a supervised attention module (Moliner & Välimäki, ICASSP 2022).

The model works on the STFT as real and imaginary channels, ``[batch, frames, bins, 2]``
with ``bins = n_fft // 2 + 1`` (all 1025, Nyquist included). Frames may be any number:
the input is zero-padded to what the strides need and the outputs are cropped back.

With ``conditioning: noise_psd`` the model takes a second input, the noise power spectrum
``[batch, bins]`` (|STFT|^2 of noise alone, in the units of ``stft.stft``; see
``noise_print.py``), and sees two more input channels made from it: the noise level per bin
in dB and the a posteriori SNR per bin and frame, ``|X|^2 / noise``, in dB (each / 20).
``conditioning: noise_psd_gain`` adds a classical path to stage 2: the spectral-subtraction
estimate ``G X`` told the same noise power (:class:`ClassicalGain`), blended into the output by
a mask the network predicts per bin and frame, ``Y2 = X + out2 + M (G X - X)``. A product of
the input with a gain is what the classical estimators compute and what a stack of
convolutions finds hard to learn from concatenated channels; the mask only has to learn where
to trust it. ``print_statistics: mean_median`` also tells it the noise's median power per
bin, ``[batch, 2, bins]``, seen as a third channel: how impulsive the noise is in each bin
(crackle against hiss).
``conditioning: noise_psd_refine`` has the same path with the mask open
everywhere, ``Y2 = G X + out2``: stage 2 corrects the classical estimate instead of choosing
where to use it, so that on noise training never met the output starts from what the
classical estimator told the print would give.

Stage 1 predicts the residual noise ``N`` and outputs ``Y1 = X + N``. The supervised
attention module (SAM) turns ``Y1`` into attention masks that gate stage 1's features
on their way to stage 2, which outputs ``Y2``. The model returns the list of stage
outputs (``[Y1, Y2]``, or ``[Y1]`` with one stage); the last one is the estimate.
"""
from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import layers, ops

import stft
from stft import dft_bases, frequency_positional_embedding, real_istft_channels, real_stft_channels

# The custom layers use keras.ops only (no TensorFlow calls), so that the model also builds
# under Keras's JAX backend (../shared/notes/GPU.md); the STFT around it stays in stft.py.

# direct: stage 2 outputs the spectrogram, as published; residual (the default): stage 2 adds
# a correction to its noisy input. A bounded complex mask and power-law compression of the
# spectrogram were tried and lost (docs/EXPERIMENTS.md); folders saved with them are refused.
OUTPUT_FORMS = ("direct", "residual")
# The name config.json records, so that a folder says which network its weights belong to
ARCHITECTURE = "two_stage_unet_sam"
# How WaveformDenoiser computes its STFT: fft (stft.py's tf.signal, what training and the
# TensorFlow restorer run) or dft (products with DFT matrices in keras.ops: one graph on any
# Keras backend, and what converts to ONNX); the two agree within 2e-5
TRANSFORMS = ("fft", "dft")
# noise_psd_gain: noise_psd's channels, and stage 2 may also apply a classical gain computed
# from the noise power (ClassicalGain), by as much as a learned mask lets it (starts closed)
# noise_psd_refine: the classical path with the mask open everywhere (no s2_blend): stage 2
# corrects G X. Each conditioning's weights start the ones after it (adopt_weights).
CONDITIONINGS = ("none", "noise_psd", "noise_psd_gain", "noise_psd_refine")
# What a conditioned model is told of the noise (noise_print.describe_noise): mean, its power
# spectrum ``[bins]``; mean_median, also its median power per bin scaled by 1 / ln 2 (the mean of
# Gaussian noise of that median), ``[2, bins]``, from which a third channel, the noise's
# impulsiveness per bin (10 log10 mean / scaled median: 0 dB for steady hiss, about 5-12 dB for
# the corpus's crackle, vinyl dust and tape friction), tells the network how far the noise
# departs from its mean between frames
PRINT_STATISTICS = ("mean", "mean_median")
# The impulsiveness channel in dB is divided by this and clipped to [0, 4] like the others
IMPULSIVENESS_SCALE_DB = 10.0
# The conditionings whose stage 2 has the classical path
CLASSICAL_PATHS = ("noise_psd_gain", "noise_psd_refine")
# The classical path's floor (amplitude): it removes at most 20 dB from any bin
CLASSICAL_GAIN_FLOOR = 0.1
# Its over-subtraction (Berouti et al. 1979): twice the noise power is taken off, so that noise
# alone falls about 17 dB, not 6 (power fluctuates above its mean in half the bins)
CLASSICAL_OVERSUBTRACTION = 2.0
# The blend mask's starting logit: sigmoid(-4) = 0.018, so a model grown from one without the
# path restores as that model did (within a 2 % step towards the classical estimate)
BLEND_START_LOGIT = -4.0
# The mask's logits are its convolution's output times this: Adam moves every weight by about
# lr a step whatever its gradient, so a fine-tune at lr 5e-5 would need some 80,000 steps to
# open a mask whose bias starts at -4; scaled by 20, a few hundred
BLEND_LOGIT_SCALE = 20.0
# Layers that a model with the classical path has and one without lacks (they keep their
# initialisation when weights are adopted from such a model)
CLASSICAL_PATH_LAYERS = ("s2_blend",)
# Floor of the noise power (|STFT|^2 units) in the conditioning channels: about -160 dBFS per bin
NOISE_POWER_FLOOR = 1e-12
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"


@keras.saving.register_keras_serializable(package="unet")
class PadToMultiple(layers.Layer):
    """Zero-pads the frame and bin axes up to multiples of the U-Net's total strides."""

    def __init__(self, time_multiple: int, freq_multiple: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.time_multiple, self.freq_multiple = int(time_multiple), int(freq_multiple)

    def call(self, x):
        shape = ops.shape(x)
        # (m - n % m) % m, not (-n) % m: the ONNX converter turns a negative operand's floor
        # modulo into a truncated one, which made the padding negative (a crop)
        pad_t = (self.time_multiple - shape[1] % self.time_multiple) % self.time_multiple
        pad_f = (self.freq_multiple - shape[2] % self.freq_multiple) % self.freq_multiple
        return ops.pad(x, [[0, 0], [0, pad_t], [0, pad_f], [0, 0]])

    def compute_output_shape(self, input_shape):
        b, t, f, c = input_shape
        f_out = None if f is None else -(-f // self.freq_multiple) * self.freq_multiple
        t_out = None if t is None else -(-t // self.time_multiple) * self.time_multiple
        return (b, t_out, f_out, c)

    def get_config(self) -> dict:
        return {**super().get_config(), "time_multiple": self.time_multiple, "freq_multiple": self.freq_multiple}


@keras.saving.register_keras_serializable(package="unet")
class CropToReference(layers.Layer):
    """Crops ``x`` back to the frames and bins of ``reference`` (undoes :class:`PadToMultiple`)."""

    def call(self, x, reference):
        shape = ops.shape(reference)
        return x[:, : shape[1], : shape[2], :]

    def compute_output_shape(self, x_shape, reference_shape):
        return (x_shape[0], reference_shape[1], reference_shape[2], x_shape[3])


@keras.saving.register_keras_serializable(package="unet")
class FrequencyEmbedding(layers.Layer):
    """Appends the fixed cosine frequency embedding (see ``stft.frequency_positional_embedding``)."""

    def __init__(self, num_bins: int, channels: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_bins = int(num_bins)
        self.channels = int(channels)
        self._table = frequency_positional_embedding(self.num_bins, self.channels)

    def call(self, x):
        shape = ops.shape(x)
        pe = ops.cast(ops.convert_to_tensor(self._table), x.dtype)[None, None]
        pe = ops.broadcast_to(pe, (shape[0], shape[1], self.num_bins, self.channels))
        return ops.concatenate([x, pe], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + self.channels)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_bins": self.num_bins, "channels": self.channels}


@keras.saving.register_keras_serializable(package="unet")
class NoiseConditioning(layers.Layer):
    """Channels describing the noise, from the spectrogram ``[B, T, F, 2]`` and the noise
    description: its power per bin ``[B, F]``, or that and its scaled median power
    ``[B, 2, F]`` (``print_statistics: mean_median``). Two channels from the power: the noise
    level in dB (broadcast over frames) and the a posteriori SNR ``10 log10(|X|^2 / noise)``
    per bin and frame, both divided by 20 and clipped, so that typical values lie within a few
    units like the other input channels; with the median a third, the impulsiveness per bin
    (``10 log10(mean / scaled median)`` / :data:`IMPULSIVENESS_SCALE_DB`, broadcast)."""

    def call(self, x, noise_power):
        x = ops.cast(x, "float32")
        noise_power = ops.maximum(ops.cast(noise_power, "float32"), NOISE_POWER_FLOOR)
        with_median = len(noise_power.shape) == 3
        noise = (noise_power[:, 0] if with_median else noise_power)[:, None, :]
        power = ops.sum(ops.square(x), axis=-1)
        ten_over_ln10 = 10.0 / np.log(10.0)
        level_db = ten_over_ln10 * ops.log(noise)
        snr_db = ten_over_ln10 * (ops.log(power + NOISE_POWER_FLOOR) - ops.log(noise))
        level = ops.broadcast_to(level_db, ops.shape(power))
        channels = [ops.clip(level / 20.0, -8.0, 4.0), ops.clip(snr_db / 20.0, -3.0, 5.0)]
        if with_median:
            impulsive_db = ten_over_ln10 * (ops.log(noise) - ops.log(noise_power[:, 1][:, None, :]))
            impulsive = ops.broadcast_to(impulsive_db / IMPULSIVENESS_SCALE_DB, ops.shape(power))
            channels.append(ops.clip(impulsive, 0.0, 4.0))
        return ops.cast(ops.stack(channels, axis=-1), self.compute_dtype)

    def compute_output_shape(self, x_shape, noise_power_shape):
        return (*x_shape[:-1], 3 if len(noise_power_shape) == 3 else 2)


@keras.saving.register_keras_serializable(package="unet")
class ClassicalGain(layers.Layer):
    """The spectral-subtraction estimate of the spectrogram ``[B, T, F, 2]`` told the noise
    power per bin ``[B, F]``: ``G X`` with ``G = sqrt(max(1 - a noise / P, floor^2))``, ``a``
    the over-subtraction, ``P`` the power of ``X`` averaged over three frames (fewer isolated
    tones left behind than frame by frame), float32."""

    def __init__(self, floor: float = CLASSICAL_GAIN_FLOOR, oversubtraction: float = CLASSICAL_OVERSUBTRACTION,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.floor = float(floor)
        self.oversubtraction = float(oversubtraction)

    def call(self, x, noise_power):
        x = ops.cast(x, "float32")
        if len(noise_power.shape) == 3:  # print_statistics: mean_median; the gain takes the mean
            noise_power = noise_power[:, 0]
        noise = ops.maximum(ops.cast(noise_power, "float32"), NOISE_POWER_FLOOR)[:, None, :]
        power = ops.sum(ops.square(x), axis=-1)
        # the edge frames repeated, by concatenation (which every backend and ONNX take)
        padded = ops.concatenate([power[:, :1], power, power[:, -1:]], axis=1)
        frames = ops.shape(power)[1]
        smoothed = (padded[:, :frames] + padded[:, 1 : frames + 1] + padded[:, 2 : frames + 2]) / 3.0
        gain = ops.sqrt(ops.maximum(1.0 - self.oversubtraction * noise / ops.maximum(smoothed, NOISE_POWER_FLOOR), self.floor**2))
        return x * gain[..., None]

    def compute_output_shape(self, x_shape, noise_power_shape):
        return x_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "floor": self.floor, "oversubtraction": self.oversubtraction}


def _pairs(value: Any, depth: int) -> list[tuple[int, int]]:
    """Normalise a stride spec (``[2, 2]`` or a list of pairs) to one pair per level."""
    value = [list(v) if isinstance(v, Sequence) and not isinstance(v, str) else v for v in value]
    if len(value) == 2 and all(isinstance(v, int) for v in value):
        return [(int(value[0]), int(value[1]))] * depth
    if len(value) != depth:
        raise ValueError(f"strides: expected one [time, freq] pair or {depth} pairs, got {value}")
    return [(int(a), int(b)) for a, b in value]


def model_config(cfg: Mapping) -> dict:
    """A plain, validated dict of the model settings (from a DictConfig or dict)."""
    try:
        from omegaconf import OmegaConf

        if OmegaConf.is_config(cfg):
            cfg = OmegaConf.to_container(cfg, resolve=True)
    except ImportError:  # omegaconf is a dependency; this only keeps unet.py usable alone
        pass
    cfg = dict(cfg)
    depth = int(cfg["depth"])
    filters = [int(f) for f in cfg["filters"]]
    if len(filters) != depth + 1:
        raise ValueError(f"filters: expected depth + 1 = {depth + 1} entries, got {len(filters)}")
    if cfg.get("output", "direct") not in OUTPUT_FORMS:
        raise ValueError(f"output: expected one of {OUTPUT_FORMS}, got {cfg.get('output')!r}")
    if int(cfg.get("stages", 2)) not in (1, 2):
        raise ValueError(f"stages: expected 1 or 2, got {cfg.get('stages')}")
    cfg["strides"] = [list(p) for p in _pairs(cfg.get("strides", [2, 2]), depth)]
    # folders saved before the compression option was removed record compression: 1.0 (the
    # raw spectrogram, which is what every model now works on)
    compression = float(cfg.pop("compression", 1.0))
    if compression != 1.0:
        raise ValueError(f"compression: spectrogram compression ({compression}) was removed; "
                         "only models on the raw spectrogram (1.0) load")  # fmt: skip
    # models saved before conditioning existed take the spectrogram alone
    cfg["conditioning"] = str(cfg.get("conditioning") or "none")
    if cfg["conditioning"] not in CONDITIONINGS:
        raise ValueError(f"conditioning: expected one of {CONDITIONINGS}, got {cfg['conditioning']!r}")
    # recorded only when not the mean alone, so that the folders saved before it read the same
    statistics = str(cfg.pop("print_statistics", None) or "mean")
    if statistics not in PRINT_STATISTICS:
        raise ValueError(f"print_statistics: expected one of {PRINT_STATISTICS}, got {statistics!r}")
    if statistics != "mean":
        if cfg["conditioning"] == "none":
            raise ValueError(f"print_statistics: {statistics} needs a conditioned model (model.conditioning), not none")
        cfg["print_statistics"] = statistics
    architecture = cfg.setdefault("architecture", ARCHITECTURE)
    if architecture != ARCHITECTURE:
        raise ValueError(f"architecture: this code builds {ARCHITECTURE!r}, the config names {architecture!r}")
    return cfg


def print_statistics(cfg: Mapping) -> str:
    """What a conditioned model is told of the noise (:data:`PRINT_STATISTICS`)."""
    return str(cfg.get("print_statistics") or "mean")


def noise_input_shape(cfg: Mapping) -> tuple[int, ...]:
    """The shape of one example's noise description: ``(bins,)`` or ``(2, bins)``."""
    bins = int(cfg["n_fft"]) // 2 + 1
    return (2, bins) if print_statistics(cfg) == "mean_median" else (bins,)


def total_strides(cfg: Mapping) -> tuple[int, int]:
    """The U-Net's total (time, frequency) downsampling: the input is padded to multiples of
    these, and a streaming restorer aligns its segments to ``hop * time`` samples."""
    cfg = model_config(cfg)
    return int(np.prod([s[0] for s in cfg["strides"]])), int(np.prod([s[1] for s in cfg["strides"]]))


def _conv(filters: int, kernel: Sequence[int], name: str, **kwargs: Any) -> layers.Conv2D:
    return layers.Conv2D(filters, tuple(kernel), padding="same", name=name, **kwargs)


def _i_block(x: Any, filters: int, num_layers: int, kernel: Sequence[int], name: str) -> Any:
    """DenseNet block (each 3x3 conv + ELU sees all earlier outputs) with a residual path."""
    residual = _conv(filters, (1, 1), f"{name}_res")(x)
    features = [x]
    h = x
    for k in range(num_layers):
        y = _conv(filters, kernel, f"{name}_dense{k}", activation="elu")(h)
        features.append(y)
        h = layers.Concatenate(name=f"{name}_cat{k}")(features)
    out = _conv(filters, (1, 1), f"{name}_out")(h)
    return layers.Add(name=f"{name}_add")([out, residual])


def _unet(h: Any, cfg: Mapping, name: str) -> Any:
    depth, filters, strides = cfg["depth"], cfg["filters"], cfg["strides"]
    dense, bk, sk = cfg["dense_layers"], cfg["block_kernel"], cfg["sampling_kernel"]
    skips = []
    for i in range(depth):
        h = _i_block(h, filters[i], dense, bk, f"{name}_enc{i}")
        skips.append(h)
        h = layers.Conv2D(
            filters[i + 1], tuple(sk), strides=tuple(strides[i]), padding="same", activation="elu", name=f"{name}_down{i}"
        )(h)
    h = _i_block(h, filters[depth], dense, bk, f"{name}_bottleneck")
    for i in reversed(range(depth)):
        h = layers.Conv2DTranspose(
            filters[i], tuple(sk), strides=tuple(strides[i]), padding="same", activation="elu", name=f"{name}_up{i}"
        )(h)
        h = layers.Concatenate(name=f"{name}_skip{i}")([h, skips[i]])
        h = _i_block(h, filters[i], dense, bk, f"{name}_dec{i}")
    return h


def build_model(cfg: Mapping) -> keras.Model:
    """Build the denoiser from a model config (``conf/model/*.yaml``).

    Input ``[batch, frames, n_fft // 2 + 1, 2]`` float32 (with ``conditioning: noise_psd``
    a list of that and the noise power ``[batch, n_fft // 2 + 1]``); output a list of stage
    estimates of the spectrogram's shape, float32 (the last is the restored spectrogram). Under a mixed-precision
    policy the body computes in bfloat16/float16 and the outputs stay float32.
    """
    cfg = model_config(cfg)
    num_bins = int(cfg["n_fft"]) // 2 + 1
    f0 = cfg["filters"][0]
    time_mult, freq_mult = total_strides(cfg)

    spec = keras.Input(shape=(None, num_bins, 2), name="noisy_spectrogram", dtype="float32")
    x_pad = PadToMultiple(time_mult, freq_mult, name="pad", dtype="float32")(spec)
    embedded = FrequencyEmbedding(num_bins, cfg["pos_channels"], name="freq_embedding", dtype="float32")(spec)
    inputs: Any = spec
    if cfg["conditioning"] != "none":
        noise_power = keras.Input(shape=noise_input_shape(cfg), name="noise_power", dtype="float32")
        described = NoiseConditioning(name="noise_conditioning", dtype="float32")(spec, noise_power)
        embedded = layers.Concatenate(name="conditioned_input", dtype="float32")([embedded, described])
        inputs = [spec, noise_power]
    x_in = PadToMultiple(time_mult, freq_mult, name="pad_embedded")(embedded)

    # stage 1: predicts the residual noise
    h = _conv(f0, cfg["early_kernel"], "s1_early", activation="elu")(x_in)
    feats1 = _unet(h, cfg, "s1")
    # small initial corrections: an untrained model starts near the identity, so training
    # begins from "leave the input alone" rather than from random spectra
    small_init = keras.initializers.VarianceScaling(scale=0.01, seed=None)
    noise = _conv(2, (3, 3), "s1_noise", dtype="float32", kernel_initializer=small_init)(feats1)
    y1 = layers.Add(name="s1_estimate", dtype="float32")([x_pad, noise])
    outputs = [CropToReference(name="stage1", dtype="float32")(y1, spec)]

    if cfg["stages"] == 2:
        # SAM: attention masks from the stage-1 estimate gate the stage-1 features
        masks = _conv(f0, (1, 1), "sam_mask", activation="sigmoid")(y1)
        gated = layers.Multiply(name="sam_gate")([_conv(f0, (3, 3), "sam_feat")(feats1), masks])
        sam_out = layers.Add(name="sam_out")([gated, feats1])

        h2 = _conv(f0, cfg["early_kernel"], "s2_early", activation="elu")(x_in)
        h2 = layers.Concatenate(name="s2_merge_cat")([h2, sam_out])
        h2 = _conv(f0, (1, 1), "s2_merge", activation="elu")(h2)
        feats2 = _unet(h2, cfg, "s2")
        out_init = small_init if cfg["output"] == "residual" else "glorot_uniform"
        out2 = _conv(2, (3, 3), "s2_out", dtype="float32", kernel_initializer=out_init)(feats2)
        if cfg["output"] == "residual":
            y2 = layers.Add(name="s2_estimate", dtype="float32")([x_pad, out2])
        else:
            y2 = out2
        if cfg["conditioning"] in CLASSICAL_PATHS:
            classical = ClassicalGain(name="s2_classical", dtype="float32")(spec, noise_power)
            classical = PadToMultiple(time_mult, freq_mult, name="s2_classical_pad", dtype="float32")(classical)
            towards = layers.Subtract(name="s2_classical_step", dtype="float32")([classical, x_pad])
        if cfg["conditioning"] == "noise_psd_refine":
            # X + out2 + (G X - X): the network's output is a correction of G X
            y2 = layers.Add(name="s2_refined", dtype="float32")([y2, towards])
        elif cfg["conditioning"] == "noise_psd_gain":
            # how far towards G X each bin and frame goes is the mask's to say
            logits = _conv(1, (1, 1), "s2_blend", dtype="float32", kernel_initializer="zeros",
                           bias_initializer=keras.initializers.Constant(BLEND_START_LOGIT / BLEND_LOGIT_SCALE))(feats2)  # fmt: skip
            logits = layers.Rescaling(BLEND_LOGIT_SCALE, name="s2_blend_scale", dtype="float32")(logits)
            mask = layers.Activation("sigmoid", name="s2_blend_mask", dtype="float32")(logits)
            gated = layers.Multiply(name="s2_classical_gated", dtype="float32")([towards, mask])
            y2 = layers.Add(name="s2_blended", dtype="float32")([y2, gated])
        outputs.append(CropToReference(name="stage2", dtype="float32")(y2, spec))

    return keras.Model(inputs, outputs, name=f"two_stage_unet_{cfg.get('name', 'custom')}")


def input_channels(cfg: Mapping) -> int:
    """Channels the early convolutions see: real, imaginary, the frequency embedding and,
    when conditioned, the two noise channels."""
    cfg = model_config(cfg)
    if cfg["conditioning"] == "none":
        return 2 + int(cfg["pos_channels"])
    return 2 + int(cfg["pos_channels"]) + (3 if print_statistics(cfg) == "mean_median" else 2)


def transfer_weights(source: keras.Model, target: keras.Model, new_layers: Sequence[str] = ()) -> list[str]:
    """Copy ``source``'s weights into ``target``, layer by layer by name, where the two differ
    only in the input channels of some convolutions (an unconditioned model into a conditioned
    one): those kernels get the source's weights for the channels they share and zeros for the
    new ones, so the target starts as the source, blind to the new channels until trained.
    The layers named in ``new_layers`` may be missing from the source: they keep their
    initialisation (the classical path's mask, which starts nearly closed).

    Returns the names of the layers widened so. Raises ``ValueError`` for any other mismatch.
    """
    widened = []
    source_layers = {layer.name: layer for layer in source.layers}
    for layer in target.layers:
        if not layer.weights:
            continue
        if layer.name in new_layers and layer.name not in source_layers:
            continue
        if layer.name not in source_layers:
            raise ValueError(f"transfer_weights: layer {layer.name!r} is not in the source model")
        values = []
        for w_t, w_s in zip(layer.get_weights(), source_layers[layer.name].get_weights()):
            if w_t.shape == w_s.shape:
                values.append(w_s)
            elif w_t.ndim == 4 and w_t.shape[:2] == w_s.shape[:2] and w_t.shape[3] == w_s.shape[3] and w_t.shape[2] > w_s.shape[2]:
                grown = np.zeros_like(w_t)
                grown[:, :, : w_s.shape[2], :] = w_s
                values.append(grown)
                widened.append(layer.name)
            else:
                raise ValueError(f"transfer_weights: {layer.name!r} has shape {w_t.shape} here and {w_s.shape} in the source")
        layer.set_weights(values)
    return widened


def _channel_origins(model: keras.Model) -> dict[str, list[tuple[str, int]]]:
    """Where each channel of each layer's output comes from: ``(layer, index)`` pairs, the
    layer's own channels in order, except for a concatenation, which lists those of its inputs.
    In a wider copy of the same graph a layer's first channels are the narrow one's, so these
    lists say where each narrow channel sits in the wide concatenations."""
    origins: dict[str, list[tuple[str, int]]] = {}
    for op in model.operations:
        if isinstance(op, layers.Concatenate):
            inputs = op._inbound_nodes[0].input_tensors
            origins[op.name] = [o for t in inputs for o in origins[t._keras_history.operation.name]]
        else:
            shape = op.output.shape if not isinstance(op.output, (list, tuple)) else op.output[0].shape
            origins[op.name] = [(op.name, i) for i in range(int(shape[-1] or 0))]
    return origins


def widen_weights(source: keras.Model, target: keras.Model) -> list[str]:
    """Copy ``source``'s weights into ``target``, the same graph with as many or more filters in
    every layer (``filters`` of the config raised), so that ``target`` computes what ``source``
    does: each convolution's first filters are the source's, reading the source's channels
    wherever the wider concatenations put them; the new filters keep their initialisation and
    every kernel entry that reads a new channel into an old filter is zero, so the new capacity
    starts silent and training opens it (a function-preserving widening, as Net2Net's).

    Returns the names of the layers widened. Raises ``ValueError`` where the graphs differ or
    ``target`` is narrower anywhere.
    """
    source_layers = {layer.name: layer for layer in source.layers}
    if sorted(source_layers) != sorted(layer.name for layer in target.layers):
        raise ValueError("widen_weights: the two models are not the same graph (their layers differ)")
    origins_s, origins_t = _channel_origins(source), _channel_origins(target)
    widened = []
    for layer in target.layers:
        old = source_layers[layer.name]
        weights_s, weights_t = old.get_weights(), layer.get_weights()
        if all(a.shape == b.shape for a, b in zip(weights_s, weights_t)):
            layer.set_weights(weights_s)
            continue
        if not isinstance(layer, (layers.Conv2D, layers.Conv2DTranspose)):
            raise ValueError(f"widen_weights: {layer.name!r} changed shape but is not a convolution")
        producer = layer._inbound_nodes[0].input_tensors[0]._keras_history.operation.name
        position = {origin: k for k, origin in enumerate(origins_t[producer])}
        try:
            rows = [position[origin] for origin in origins_s[producer]]
        except KeyError:
            raise ValueError(f"widen_weights: {layer.name!r} reads channels the target does not have") from None
        kernel_s, kernel_t = weights_s[0], weights_t[0].copy()
        transposed = isinstance(layer, layers.Conv2DTranspose)  # its kernel is (h, w, out, in)
        if transposed:
            kernel_s, kernel_t = kernel_s.transpose(0, 1, 3, 2), kernel_t.transpose(0, 1, 3, 2).copy()
        n_out = kernel_s.shape[3]
        if kernel_t.shape[:2] != kernel_s.shape[:2] or kernel_t.shape[3] < n_out:
            raise ValueError(f"widen_weights: {layer.name!r} has kernel {weights_t[0].shape} here, "
                             f"{weights_s[0].shape} in the source (narrower or another size)")  # fmt: skip
        kernel_t[:, :, :, :n_out] = 0.0  # the old filters read nothing new
        kernel_t[:, :, rows, :n_out] = kernel_s
        values = [kernel_t.transpose(0, 1, 3, 2) if transposed else kernel_t]
        for b_s, b_t in zip(weights_s[1:], weights_t[1:]):
            b_t = b_t.copy()
            b_t[:n_out] = b_s
            values.append(b_t)
        layer.set_weights(values)
        widened.append(layer.name)
    return widened


def adopt_weights(source: keras.Model, source_cfg: Mapping, target: keras.Model, target_cfg: Mapping) -> list[str]:
    """Give ``target`` the weights of ``source``, as a run started from ``source`` begins: the
    same weights, or :func:`transfer_weights`' growth into more conditioning (an unconditioned
    source: the input convolutions widened; a source without the classical path: its mask
    added, nearly closed; a source told the mean alone into ``print_statistics: mean_median``:
    the input convolutions widened by the impulsiveness channel). Returns the names of the
    widened layers (none for a plain copy);
    raises ``ValueError`` when the weights do not fit (a target with less conditioning)."""
    before = str(source_cfg.get("conditioning") or "none")
    after = str(target_cfg.get("conditioning") or "none")
    stats_before, stats_after = print_statistics(source_cfg), print_statistics(target_cfg)
    if PRINT_STATISTICS.index(stats_after) < PRINT_STATISTICS.index(stats_before):
        raise ValueError(f"adopt_weights: a model told {stats_before!r} cannot start one told {stats_after!r}")
    if before == after and stats_before == stats_after:
        target.set_weights(source.get_weights())
        return []
    order = CONDITIONINGS  # each may start from the ones before it, never from a later one
    if after not in order or before not in order or order.index(after) < order.index(before):
        raise ValueError(f"adopt_weights: a model with conditioning {before!r} cannot start one with {after!r}")
    # the mask is new to a model grown into the gain path; refine has none, and
    # transfer_weights fills the target's layers only, so a gain source's mask is left behind
    new = CLASSICAL_PATH_LAYERS if after == "noise_psd_gain" else ()
    return transfer_weights(source, target, new)


def classical_mask_model(model: keras.Model) -> keras.Model:
    """A model with ``model``'s inputs whose output is its classical path's blend mask
    ``[batch, frames, bins, 1]`` (padded as the network pads): how far each bin and frame goes
    towards the spectral-subtraction estimate. Raises ``ValueError`` for a model without the
    path or with its mask open (``conditioning`` other than ``noise_psd_gain``)."""
    try:
        mask = model.get_layer("s2_blend_mask")
    except ValueError:
        raise ValueError("this model has no classical blend mask (only model.conditioning=noise_psd_gain learns one)") from None
    return keras.Model(model.inputs, mask.output, name="classical_mask")


def stage_outputs(outputs: Any) -> list:
    """The model's stage estimates as a list (Keras returns a bare tensor for one stage)."""
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


class WaveformDenoiser(layers.Layer):
    """A spectrogram model with its STFT around it: waveform in, noise and restored waveform out.

    ``denoiser(waveform)`` (``[batch, samples]`` float32 at ``config['sample_rate']``; a
    conditioned model also takes ``noise_power`` ``[batch, bins]``) returns a dict with
    ``restored`` (the last stage's estimate, resynthesised), ``noise`` (``waveform -
    restored``), ``spectrograms`` (every stage's estimate as real/imag channels, what the
    training loss compares) and, with ``all_stages=True``, ``stages`` (every stage's waveform).
    The model's own padding to its strides happens inside it; :attr:`align_samples` is the
    segment alignment a streaming restorer needs. Training, the TensorFlow restorer, the
    evaluation and the benchmarks all run the model through this layer; export.py serialises it.

    ``transform`` (:data:`TRANSFORMS`): ``fft`` is stft.py's ``tf.signal`` STFT, which the
    shipped weights were trained and measured with; ``dft`` is the real-valued STFT of stft.py in
    keras.ops, so the whole chain is one graph on any Keras backend and converts to ONNX. Its DFT
    matrices are non-trainable weights, so a SavedModel stores them once rather than as a
    constant in every traced graph.
    """

    def __init__(self, model: keras.Model, cfg: Mapping, transform: str = "dft", **kwargs: Any) -> None:
        super().__init__(name=kwargs.pop("name", "waveform_denoiser"), dtype="float32", **kwargs)
        if transform not in TRANSFORMS:
            raise ValueError(f"transform: expected one of {TRANSFORMS}, got {transform!r}")
        self.model, self.config, self.transform = model, model_config(cfg), transform
        self.sample_rate = int(self.config["sample_rate"])
        self.n_fft, self.hop = int(self.config["n_fft"]), int(self.config["hop_length"])
        self.conditioned = self.config["conditioning"] != "none"
        self.bins = self.n_fft // 2 + 1
        self.align_samples = self.hop * total_strides(self.config)[0]
        if transform == "dft":
            analysis, synthesis = dft_bases(self.n_fft, self.hop)
            self.analysis = self.add_weight(shape=analysis.shape, initializer="zeros", trainable=False, name="dft_analysis")
            self.synthesis = self.add_weight(shape=synthesis.shape, initializer="zeros", trainable=False, name="dft_synthesis")
            self.analysis.assign(analysis)
            self.synthesis.assign(synthesis)
        self.built = True

    def analyse(self, waveform: Any) -> Any:
        """``[batch, samples]`` -> the spectrogram as channels ``[batch, frames, bins, 2]``."""
        if self.transform == "fft":
            return stft.spec_to_channels(stft.stft(waveform, self.n_fft, self.hop))
        return real_stft_channels(waveform, self.analysis, self.n_fft, self.hop)

    def synthesise(self, channels: Any, length: Any) -> Any:
        """Channels ``[batch, frames, bins, 2]`` -> ``[batch, length]`` (the inverse of :meth:`analyse`)."""
        if self.transform == "fft":
            return stft.istft(stft.channels_to_spec(channels), length, self.n_fft, self.hop)
        return real_istft_channels(channels, length, self.synthesis, self.n_fft, self.hop)

    def call(self, waveform: Any, noise_power: Any = None, training: bool = False, all_stages: bool = True) -> dict:
        if self.conditioned and noise_power is None:
            shape = ", ".join(map(str, ("batch", *noise_input_shape(self.config))))
            raise ValueError(f"this model is conditioned (noise_psd): pass noise_power [{shape}]")
        length = ops.shape(waveform)[-1]
        spec = self.analyse(waveform)
        estimates = stage_outputs(self.model([spec, noise_power] if self.conditioned else spec, training=training))
        waves = [self.synthesise(y, length) for y in (estimates if all_stages else estimates[-1:])]
        out = {"noise": waveform - waves[-1], "restored": waves[-1], "spectrograms": estimates}
        if all_stages:
            out["stages"] = waves
        return out


def _count_h5_arrays(path: Path) -> int:
    import h5py

    count = 0

    def visit(_name: str, obj: Any) -> None:
        nonlocal count
        count += isinstance(obj, h5py.Dataset)

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return count


def save_denoiser(model: keras.Model, cfg: Mapping, folder: str | os.PathLike) -> Path:
    """Save weights and model config side by side, so the folder alone rebuilds the model.

    Files are written under temporary names and renamed, so an interrupted save never
    leaves a folder whose weights and config disagree. (Not audio_io.atomic_output: Keras
    writes weights only to a name ending in ``.weights.h5``, and this module stays below
    audio_io so that the model builds where only Keras is installed.)
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = model_config(cfg)
    tmp_w = folder / f".{WEIGHTS_FILE}.part.weights.h5"
    tmp_c = folder / f".{CONFIG_FILE}.part"
    model.save_weights(str(tmp_w))
    tmp_c.write_text(json.dumps(cfg, indent=2))
    os.replace(tmp_w, folder / WEIGHTS_FILE)
    os.replace(tmp_c, folder / CONFIG_FILE)
    return folder


class CheckpointError(Exception):
    """A checkpoint folder is missing, incomplete or does not fit its config."""


def load_denoiser(folder: str | os.PathLike) -> tuple[keras.Model, dict]:
    """Rebuild a model saved by :func:`save_denoiser`; returns ``(model, model_config)``."""
    folder = Path(folder)
    cfg_path, w_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: checkpoint folder not found")
    if not cfg_path.is_file() or not w_path.is_file():
        raise CheckpointError(f"{folder}: not a model checkpoint (needs {CONFIG_FILE} and {WEIGHTS_FILE})")
    try:
        cfg = model_config(json.loads(cfg_path.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{cfg_path}: invalid model config ({exc})") from None
    model = build_model(cfg)
    try:
        # load_weights ignores surplus arrays (two-stage weights into one stage): count them
        stored = _count_h5_arrays(w_path)
        if stored != len(model.weights):
            raise CheckpointError(f"{w_path}: weights do not fit the model config ({stored} arrays, the model has {len(model.weights)})")
        # Keras warns once per layer it skips before it fails on a mismatched file; held
        # back here, they reach the caller only when the load succeeds (inference refuses a
        # model with skipped layers), not as dozens of lines before a one-line error
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.load_weights(str(w_path))
    except CheckpointError:
        raise
    except Exception as exc:  # h5py/keras raise various types for a mismatched file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"{w_path}: weights do not fit the model config ({first})") from None
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return model, cfg
