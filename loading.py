"""The model a restorer runs, and what it is told: precision and backend (the Keras model of
a model folder, or the ONNX export of export.py), loading with a bounded cache, the compiled
noise estimate around the model, the noise print of a conditioned model, and the classical
estimator that restores a file instead of the model where the classical check finds it better.

Two tables keep loaded things, both bounded: :data:`_MODEL_CACHE` holds the last model
:func:`cached_model` loaded (the command line, tests and notebooks load one model many
times), and :data:`_NOISE_FUNCTIONS` the compiled estimate of each model alive (keyed weakly,
so it goes with its model).
"""
from __future__ import annotations

import contextlib
import os
import warnings
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import audio_io
from cli import UsageError, print_warning
from paths import DEFAULT_CHECKPOINT, DEFAULT_EXPORT
from precision import resolve_precision as _resolve_precision
from streaming import compute_device

BACKENDS = ("auto", "tensorflow", "onnxruntime")


_NOISE_FUNCTIONS: "weakref.WeakKeyDictionary[Any, Callable]" = weakref.WeakKeyDictionary()


def _noise_function(model: Any, model_cfg: Mapping) -> Callable:
    """A compiled ``[batch, samples] -> [batch, samples]`` noise estimate (input minus output)
    of the waveform model (``unet.WaveformDenoiser``, the STFT of training); for a conditioned
    model ``(x, noise power [batch, bins]) -> noise``.

    One trace serves every batch size and segment length (the signature leaves both open).
    """
    import exported_model

    if isinstance(model, exported_model.OnnxDenoiser):  # its STFT is inside the exported graph
        return model.noise
    key = (int(model_cfg["n_fft"]), int(model_cfg["hop_length"]), str(model_cfg.get("conditioning") or "none"),
           str(model_cfg.get("print_statistics") or "mean"))
    cached = _NOISE_FUNCTIONS.get(model)
    if cached is not None and cached[0] == key:
        return cached[1]
    import tensorflow as tf

    import unet

    denoiser = unet.WaveformDenoiser(model, model_cfg, transform="fft")

    def noise_of(x: tf.Tensor, power: tf.Tensor | None = None) -> tf.Tensor:
        return denoiser(x, power, all_stages=False)["noise"]

    signature = [tf.TensorSpec([None, None], tf.float32)]
    if denoiser.conditioned:
        signature.append(tf.TensorSpec([None, *unet.noise_input_shape(model_cfg)], tf.float32))
        estimate_noise = tf.function(noise_of, input_signature=signature, reduce_retracing=True)
    else:
        estimate_noise = tf.function(lambda x: noise_of(x), input_signature=signature, reduce_retracing=True)

    _NOISE_FUNCTIONS[model] = (key, estimate_noise)
    return estimate_noise


def resolve_precision(name: str) -> str:
    """``float32`` or ``bfloat16`` (``precision.resolve_precision``): ``auto`` is bfloat16
    only on a CPU that computes it natively (AVX-512 BF16 or AMX; a 60 s file took 0.71x the
    wall time of float32 on such an EPYC), float32 elsewhere and on any GPU."""
    on_gpu = compute_device() != "CPU"
    # the restorer keeps GPUs in float32 whatever their capability (bfloat16_gpus=False)
    return _resolve_precision(name, "precision", [(0, 0)] if on_gpu else (), bfloat16_gpus=False)


def resolve_backend(checkpoint: str | os.PathLike, backend: str, precision: str = "float32") -> tuple[Path, str]:
    """The folder and backend that ``backend`` means for ``checkpoint``.

    ``auto`` is onnxruntime on a CPU in float32 where an export is at hand: the folder itself
    holds ``model.onnx``, or it is the shipped model and ``exported/default`` (made by setup.sh)
    was exported from the same weights. onnxruntime restored with 0.57x the CPU time of
    TensorFlow here, within one 16-bit step (docs/PERFORMANCE.md). Otherwise tensorflow.
    """
    import exported_model

    checkpoint = Path(checkpoint)
    if backend != "auto":
        return checkpoint, backend
    if resolve_precision(precision) != "float32" or compute_device() != "CPU":
        return checkpoint, "tensorflow"
    if (checkpoint / exported_model.ONNX_FILE).is_file():
        return checkpoint, "onnxruntime"
    weights = checkpoint / "model.weights.h5"
    if checkpoint.resolve() == DEFAULT_CHECKPOINT.resolve() and exported_model.export_of(DEFAULT_EXPORT, weights):
        return DEFAULT_EXPORT, "onnxruntime"
    return checkpoint, "tensorflow"


def load_model(checkpoint: str | os.PathLike, precision: str = "float32", backend: str = "tensorflow") -> tuple[Any, dict]:
    """Load a checkpoint folder (``unet.load_denoiser``), in ``float32`` or mixed ``bfloat16``
    (``auto``: :func:`resolve_precision`); with ``backend="onnxruntime"``, an export folder
    written by export.py (``exported_model.OnnxDenoiser``, float32); ``auto``:
    :func:`resolve_backend`.

    With ``bfloat16`` the network body computes in bfloat16 (faster on CPUs with AVX-512
    BF16 or AMX); the STFT, the model's outputs and everything after stay float32.
    Raises ``unet.CheckpointError`` for a missing or incompatible checkpoint.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    checkpoint, backend = resolve_backend(checkpoint, backend, precision)
    precision = resolve_precision(precision)
    if backend == "onnxruntime":
        import exported_model
        import unet

        try:
            onnx_model = exported_model.OnnxDenoiser(checkpoint)
        except exported_model.ExportedModelError as exc:
            raise unet.CheckpointError(str(exc)) from None
        return onnx_model, unet.model_config(onnx_model.config)
    import keras

    import unet

    previous = keras.mixed_precision.global_policy()
    # set either way: a float32 model must not inherit a policy left global by training in the
    # same process (trainer.Trainer sets mixed_bfloat16 for its run)
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model, cfg = unet.load_denoiser(checkpoint)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    # Keras only warns when parts of the file match no layer and keeps those layers'
    # random weights; restoring with such a model would be silent damage, so refuse it
    skipped = [w for w in caught if issubclass(w.category, UserWarning) and "saving" in str(w.filename)]
    if skipped:
        first = str(skipped[0].message).split(".")[0]
        raise unet.CheckpointError(f"{checkpoint}: weights do not fit the model config ({len(skipped)} parts not loaded: {first})")
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return model, cfg


_MODEL_CACHE: dict[tuple, tuple[Any, dict]] = {}


def cached_model(checkpoint: Path, precision: str, backend: str = "tensorflow") -> tuple[Any, dict]:
    """:func:`load_model` once per process: the last model loaded is kept (one entry; the
    command line's :func:`inference.run`, tests and notebooks load one model many times)."""
    folder, chosen = resolve_backend(checkpoint, backend, precision)
    weights = folder / ("model.onnx" if chosen == "onnxruntime" else "model.weights.h5")
    stamp = weights.stat().st_mtime_ns if weights.exists() else None
    key = (str(folder.resolve()), stamp, precision, chosen)
    if key not in _MODEL_CACHE:
        _MODEL_CACHE.clear()
        _MODEL_CACHE[key] = load_model(folder, precision, chosen)
    return _MODEL_CACHE[key]


# Without a print a conditioned model is told the auto rule's estimate from each segment, then
# (second pass) the power of what that first restoration removed: at 20 dB input, where a
# recording's quietest frames are still programme, the auto rule alone overstates the noise by
# about 7 dB where the programme lies (docs/EXPERIMENTS.md, "gain2")
NO_PRINT_PASSES = 2


def with_noise_power(fn: Callable, power: np.ndarray | None, n_fft: int, hop: int,
                     passes: int | None = None, statistics: str = "mean") -> Callable:  # fmt: skip
    """The noise estimate ``fn`` of a conditioned model as a function of the segments alone:
    told ``power``, or (None) without a print: each segment's own auto estimate, what the model
    was trained to use without a print, refined ``passes - 1`` times (None:
    ``NO_PRINT_PASSES``) by the power of what the model removed when told the previous
    estimate (``noise_print.residual_noise_power``); each estimate smoothed over frequency
    (``noise_print.smooth_over_frequency``). ``statistics``: what the model is told of the noise
    (``noise_print.describe_noise``), the shape of ``power``."""
    import noise_print

    passes = NO_PRINT_PASSES if passes is None else int(passes)
    if passes < 1:
        raise ValueError(f"passes: expected at least 1, got {passes}")

    def estimate(x: np.ndarray) -> Any:
        x = np.asarray(x, dtype=np.float32)
        if power is not None:
            power_ = np.asarray(power, np.float32)
            return fn(x, np.ascontiguousarray(np.broadcast_to(power_, (len(x), *power_.shape))))
        p = np.stack([noise_print.auto_noise_power(row, n_fft, hop, statistics=statistics)[0] for row in x])
        p = noise_print.smooth_over_frequency(p)
        for _ in range(passes - 1):
            removed = np.asarray(fn(x, p))
            p = np.stack([noise_print.residual_noise_power(row, r, n_fft, hop, statistics) for row, r in zip(x, removed)])
            p = noise_print.smooth_over_frequency(p)
        return fn(x, p)

    return estimate


def model_noise_function(model: Any, model_cfg: Mapping, power: np.ndarray | None) -> Callable:
    """The noise estimate of ``model`` as a function of the segments alone,
    ``[batch, samples] -> noise``: an unconditioned model's own, a conditioned model's told
    ``power`` (None: its own estimate from each segment, :func:`with_noise_power`)."""
    import unet

    fn = _noise_function(model, model_cfg)
    if str(model_cfg.get("conditioning") or "none") != "none":
        fn = with_noise_power(fn, power, int(model_cfg["n_fft"]), int(model_cfg["hop_length"]),
                              statistics=unet.print_statistics(model_cfg))
    return fn


def averaged_noise(functions: Sequence[Callable]) -> Callable:
    """The mean of several noise estimates ``[batch, samples] -> noise``. Since each restoration
    is the input minus its noise, the result restores with the mean of the models' restorations
    (an ensemble, each model weighted equally)."""
    functions = list(functions)
    if not functions:
        raise ValueError("averaged_noise: no noise estimates to average")

    def estimate(x: np.ndarray) -> np.ndarray:
        return np.mean([np.asarray(fn(x), dtype=np.float32) for fn in functions], axis=0)

    return estimate


def load_no_print_models(folders: Sequence[str | os.PathLike], model_cfg: Mapping, precision: str = "float32",
                         backend: str = "tensorflow", checkpoint: str | os.PathLike | None = None,
                         model: Any = None, option: str = "inference.no_print_models") -> list[tuple[Any, dict]]:  # fmt: skip
    """The models of ``inference.no_print_models`` (:func:`load_model` each, never the one-entry
    cache, which holds the restorer's own model): the mean of their restorations replaces the
    restorer's where it would restore without a print. A folder listed twice is loaded once, and
    the restorer's own ``checkpoint`` (its loaded ``model``) not again. Raises
    ``unet.CheckpointError`` for a folder that cannot be loaded or whose sample rate or STFT
    differ from ``model_cfg``'s (named by ``option``)."""
    import unet

    loaded: dict[Path, tuple[Any, dict]] = {}
    if checkpoint is not None and model is not None:
        loaded[Path(checkpoint).resolve()] = (model, dict(model_cfg))
    models = []
    for folder in folders:
        key = Path(folder).resolve()
        if key in loaded:
            models.append(loaded[key])
            continue
        try:
            other, cfg = load_model(folder, precision, backend)
        except unet.CheckpointError as exc:  # say which option named the folder
            raise unet.CheckpointError(f"{option}: {exc}") from None
        theirs = tuple(int(cfg[k]) for k in ("sample_rate", "n_fft", "hop_length"))
        ours = tuple(int(model_cfg[k]) for k in ("sample_rate", "n_fft", "hop_length"))
        if theirs != ours:
            raise unet.CheckpointError(f"{folder}: {option}: its sample rate, n_fft and hop "
                                       f"{theirs} differ from the checkpoint's {ours}")  # fmt: skip
        loaded[key] = (other, cfg)
        models.append(loaded[key])
    return models


def load_print_models(folders: Sequence[str | os.PathLike], model_cfg: Mapping, precision: str = "float32",
                      backend: str = "tensorflow", checkpoint: str | os.PathLike | None = None,
                      model: Any = None) -> list[tuple[Any, dict]]:  # fmt: skip
    """The models of ``inference.print_models``: conditioned models whose restorations, each
    told the same print as the restorer's own (conditioned) model ``model``, are averaged with
    its own. Loaded as :func:`load_no_print_models` loads its models; a folder listed twice
    counts once and the restorer's own ``checkpoint`` is dropped from the list, since the mean
    weights each model equally. Raises ``unet.CheckpointError`` for a folder that
    cannot be loaded, differs in sample rate or STFT, or is not told a print the way the
    restorer's model is (unconditioned, or other ``model.print_statistics``), and for an
    unconditioned restorer's model."""
    import unet

    folders = list(folders)
    if not folders:
        return []
    if str(model_cfg.get("conditioning") or "none") == "none":
        raise unet.CheckpointError(f"inference.print_models: {checkpoint} is not conditioned; the models told the print "
                                   "join a conditioned checkpoint's own restoration")  # fmt: skip
    own = Path(checkpoint).resolve() if checkpoint is not None else None
    unique = list(dict.fromkeys(Path(folder).resolve() for folder in folders if Path(folder).resolve() != own))
    others = load_no_print_models(unique, model_cfg, precision, backend, None, None, "inference.print_models")
    for folder, (_, cfg) in zip(unique, others):
        if str(cfg.get("conditioning") or "none") == "none":
            raise unet.CheckpointError(f"{folder}: inference.print_models: not a conditioned model (model.conditioning: none)")
        if unet.print_statistics(cfg) != unet.print_statistics(model_cfg):
            raise unet.CheckpointError(f"{folder}: inference.print_models: told the print's {unet.print_statistics(cfg)!r} "
                                       f"statistics, the checkpoint its {unet.print_statistics(model_cfg)!r}")  # fmt: skip
    return others


def classical_noise_function(print_audio: np.ndarray, sample_rate: int) -> Callable:
    """The classical estimator as a restorer's noise estimate, ``[batch, samples] -> noise``:
    each segment restored by Ephraim-Malah LSA (``baselines.ephraim_malah_lsa``) told the noise
    spectrum of ``print_audio`` (mono, at ``sample_rate``, the rate of the segments)."""
    import baselines

    psd = baselines.print_psd(np.asarray(print_audio, dtype=np.float32), sample_rate)  # once, not per segment

    def estimate(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        return np.stack([row - baselines.ephraim_malah_lsa(row, sample_rate, noise_psd=psd) for row in x])

    return estimate


# The classical estimator's share where a conditioned model is told a given print and
# inference.classical_blend is null: of those measured, the one that lost nothing on the
# synthetic families over all (-0.02 dB; speech -0.25) while it gained 0.4-0.8 dB on real noise
# (docs/EXPERIMENTS.md, "2026-11-26: a share for the classical estimator")
CLASSICAL_BLEND = 0.25


# Where a conditioned model follows auto and inference.auto_models lists models: the conditioned
# model's share of the restoration (told auto's print, or without one where the check refused
# it), the rest the mean of theirs without a print (theirs alone where the print was too short
# for the held-out check: Told.unchecked). On 15-s reels with refine4 and the shipped model, half
# and half gained 1.30 dB over the shipped model on held-out recorded noise at 10 dB input and
# 0.43 and 0.81 on two draws of the synthetic families, no family, category or SNR below it
# (docs/EXPERIMENTS.md, "2026-11-27: auto's print beside the shipped model")
AUTO_MODELS_SHARE = 0.5


def classical_share(value: float | None) -> float:
    """``inference.classical_blend`` as a share (None: :data:`CLASSICAL_BLEND`); raises
    ``ValueError`` outside 0..1."""
    share = CLASSICAL_BLEND if value is None else float(value)
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"classical_blend: must be between 0.0 and 1.0, got {value}")
    return share


def blended_noise(model: Callable, classical: Callable, share: float) -> Callable:
    """The noise estimates of the model and of the classical estimator (or of any second
    restorer: :data:`AUTO_MODELS_SHARE`), ``[batch, samples] -> noise``, mixed with ``share``
    (0..1) of the second one. Since each restoration is the input minus its noise, the result
    restores with the same mix of the two restorations."""
    share = classical_share(share)

    def estimate(x: np.ndarray) -> np.ndarray:
        ours = np.asarray(model(x), dtype=np.float32)
        return (1.0 - share) * ours + share * np.asarray(classical(x), dtype=np.float32)

    return estimate


def postfiltered_noise(model: Callable, print_audio: np.ndarray, over: float, n_fft: int, hop: int) -> Callable:
    """The noise estimate ``model`` (``[batch, samples] -> noise``) with its restorations passed
    through the Wiener post-filter told the noise-only ``print_audio`` (mono, at the model's rate)
    weighted ``over`` times (``baselines.wiener_postfilter``, its gain on the noisy input alone),
    at ``POSTFILTER_RESOLUTION`` times the model's window ``n_fft`` and hop ``hop``: a given
    print's filter, :func:`gated_postfiltered_noise` with a gate every segment passes."""
    import baselines

    return gated_postfiltered_noise(model, print_audio, over, n_fft, hop, gate_db=float("inf"),
                                    input_share=baselines.POSTFILTER_INPUT_SHARE)  # fmt: skip


def low_band_noise(model: Callable, print_audio: np.ndarray, n_fft: int, sample_rate: int) -> Callable:
    """The noise estimate ``model`` (``[batch, samples] -> noise``) with the band of its
    restorations below ``baselines.LOW_BAND_HZ`` through ``baselines.low_band_wiener`` told the
    noise-only ``print_audio`` (mono, at the model's rate ``sample_rate``), in a window
    ``LOW_BAND_RESOLUTION`` times the model's ``n_fft``; ``model`` itself where the print is
    shorter than that window."""
    import baselines
    import noise_print

    long = baselines.LOW_BAND_RESOLUTION * int(n_fft)
    heard = np.asarray(print_audio, dtype=np.float32)
    if heard.size < long:
        return model
    power = noise_print.noise_power(heard, long, long // 4)

    def estimate(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        noise = np.asarray(model(x), dtype=np.float32).copy()
        for i, row in enumerate(x):
            noise[i] = row - baselines.low_band_wiener(row, row - noise[i], power, sample_rate, long)
        return noise

    return estimate


# The low band of a conditioned model's restoration made again at half the model's rate: each
# segment resampled to half the rate and read as if at the full rate (the programme an octave up and
# twice as fast, bins of 10.8 Hz at 44.1 kHz instead of 21.5), the model told the print resampled
# alike. Below 150 Hz the model's 2048-sample window puts hum, drones and rumble in the same few
# bins as the programme's bass; twice the resolution there restored the band better (refine4 alone
# told a given print, +0.55 and +0.54 dB on two draws; quarter rate worse, 150 Hz the best of
# 75/150/300). The split is a zero-phase Butterworth low-pass of this order. Through the restorer,
# without a print, +0.37 dB over 180 held-out recorded reels (docs/EXPERIMENTS.md, "2026-11-28: the
# low band restored at half rate" and "2026-11-29: the half-rate pass on four more reel draws,
# adopted")
HALF_RATE_SPLIT_ORDER = 4


def half_rate_power(print_audio: np.ndarray, n_fft: int, hop: int, sample_rate: int, statistics: str = "mean") -> np.ndarray:
    """What a conditioned model running at half its rate is told of the noise-only ``print_audio``
    (mono, at the model's rate ``sample_rate``): the print resampled to half the rate, described in
    the model's own window ``n_fft`` and hop ``hop`` (``noise_print.noise_power``), as the
    segments of :func:`half_rate_low_band_noise` are."""
    import noise_print

    slow = audio_io.resample(np.asarray(print_audio, dtype=np.float32).reshape(-1), int(sample_rate), int(sample_rate) // 2)
    return noise_print.noise_power(slow, n_fft, hop, statistics)


def half_rate_low_band_noise(full: Callable, half: Callable, below_hz: float, sample_rate: int) -> Callable:
    """The noise estimate ``full`` (``[batch, samples] -> noise``, at ``sample_rate``) with the band
    of its restorations below ``below_hz`` taken from ``half``'s instead: ``half`` (a noise
    estimate of the same kind, told what the half-rate print holds, :func:`half_rate_power`)
    restores each segment resampled to half the rate, and its restoration, resampled back, replaces
    the full-rate one below ``below_hz`` (a zero-phase Butterworth split of
    ``HALF_RATE_SPLIT_ORDER``, so the two bands sum to one restoration)."""
    import scipy.signal

    rate = int(sample_rate)
    if not 0 < float(below_hz) < rate / 4:  # the half-rate pass holds nothing above rate / 4
        raise ValueError(f"below_hz: expected between 0 and {rate / 4:g} Hz, got {below_hz}")
    sos = scipy.signal.butter(HALF_RATE_SPLIT_ORDER, float(below_hz), "lowpass", fs=rate, output="sos")
    edge = 4 * int(round(rate / float(below_hz)))

    def estimate(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        noise = np.asarray(full(x), dtype=np.float32)
        n = x.shape[-1]
        if n < 4:  # nothing to resample
            return noise
        slow = np.ascontiguousarray(audio_io.resample(x.T, rate, rate // 2).T, dtype=np.float32)
        slow_restored = slow - np.asarray(half(slow), dtype=np.float32)
        back = audio_io.resample(np.ascontiguousarray(slow_restored.T), rate // 2, rate).T
        back = np.pad(back[:, :n], ((0, 0), (0, max(0, n - back.shape[1]))))
        # restored = full's + the low band of (half's - full's); noise = x - restored
        difference = back - (x - noise)
        # odd extension over a few periods of the cut-off, so the segment's ends ring little
        low = scipy.signal.sosfiltfilt(sos, difference, axis=-1, padlen=min(n - 1, edge))
        return (noise - low).astype(np.float32)

    return estimate


# Auto's print through the Wiener post-filter, segment by segment, where the model took out at
# most AUTO_POSTFILTER_GATE_DB more power than auto's print holds (residual_over_print_db): there
# the model, which left noise it does not know, restores alone through the filter, its gain on
# AUTO_POSTFILTER_INPUT_SHARE of the noisy input (the rest the restoration); elsewhere as without
# the filter. Where the model took out much more, the quietest passages understate the noise
# (impulsive or modulated noise, which the model knows) and a filter told too little noise gives
# back what the model removed: forced on every auto print the filter lost 0.3-0.8 dB on film
# noise and at 0 dB input. On 15-s reels with refine4 and the shipped model beside it, gated at
# 3 dB (2 to 4 alike), +1.26 and +1.46 dB on two draws of held-out recorded noise at 10 dB input
# and +0.02 to +0.39 on three draws of the synthetic families, no family, category or SNR more
# than 0.3 below the shipped model (docs/EXPERIMENTS.md, "2026-11-27: auto's print through the
# post-filter, gated by the model's residual")
AUTO_POSTFILTER_GATE_DB = 3.0
AUTO_POSTFILTER_INPUT_SHARE = 0.5


def residual_over_print_db(noisy: np.ndarray, restored: np.ndarray, print_power: float) -> float:
    """What a restoration took out of ``noisy`` (the mean power of ``noisy - restored``) over a
    print's mean power ``print_power`` (the mean of its squared samples), in dB."""
    taken = float(np.mean(np.square(np.asarray(noisy, np.float64) - np.asarray(restored, np.float64))))
    return 10.0 * float(np.log10(max(taken, 1e-30) / max(float(print_power), 1e-30)))


def gated_postfiltered_noise(model: Callable, print_audio: np.ndarray, over: float, n_fft: int, hop: int,
                             beside: Callable | None = None, beside_share: float = 0.0,
                             gate_db: float = AUTO_POSTFILTER_GATE_DB,
                             input_share: float = AUTO_POSTFILTER_INPUT_SHARE) -> Callable:  # fmt: skip
    """The noise estimate (``[batch, samples] -> noise``) through the post-filter told a print
    (auto's, for the restorer; a given one through :func:`postfiltered_noise`), segment by
    segment: where ``model``'s restoration of a segment took out at most ``gate_db``
    more power than ``print_audio`` (mono, model rate) holds (:func:`residual_over_print_db`),
    that restoration passed through the Wiener post-filter told the print, weighted ``over``
    times, its gain on ``input_share`` of the noisy segment (``baselines.wiener_postfilter`` at
    ``POSTFILTER_RESOLUTION`` times the model's window ``n_fft`` and hop ``hop``); elsewhere the
    model's estimate, with ``beside_share`` of ``beside``'s (the auto models' mean, run only on
    those segments) mixed in as :func:`blended_noise` mixes."""
    import baselines
    import noise_print

    n_fft, hop = baselines.POSTFILTER_RESOLUTION * int(n_fft), baselines.POSTFILTER_RESOLUTION * int(hop)
    heard = np.asarray(print_audio, dtype=np.float32)
    power = noise_print.noise_power(heard, n_fft, hop)
    print_power = float(np.mean(np.square(heard, dtype=np.float64)))
    share = classical_share(beside_share)

    def estimate(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        noise = np.asarray(model(x), dtype=np.float32).copy()
        restored = x - noise
        gated = np.array([residual_over_print_db(row, est, print_power) <= gate_db for row, est in zip(x, restored)])
        for i in np.flatnonzero(gated):
            noise[i] = x[i] - baselines.wiener_postfilter(x[i], restored[i], power, n_fft, hop, over, input_share=input_share)
        rest = np.flatnonzero(~gated)
        if beside is not None and share > 0.0 and rest.size:
            noise[rest] = (1.0 - share) * noise[rest] + share * np.asarray(beside(x[rest]), dtype=np.float32)
        return noise

    return estimate


@dataclass(frozen=True)
class Told:
    """What a restorer is told about one file's noise (``Restorer.tell``)."""

    power: np.ndarray | None = None  # the noise power a conditioned model is told; None: no print
    classical: np.ndarray | None = None  # a print: the classical estimator told it restores the file
    # the given print (a file or a range, never auto) the model is told, for the classical share
    # of inference.classical_blend; None with power None, or where the print was found by auto
    blend_print: np.ndarray | None = None
    # the classical share the share check chose for this file (noise_print.share_check); None:
    # the restorer's own (inference.classical_blend, or CLASSICAL_BLEND where it is null)
    share: float | None = None
    # whether the restorer's print models (inference.print_models) join it told this print
    joined: bool = False
    # whether the post-filter check found this print better without the restorer's post-filter
    # (inference.postfilter); False: filtered wherever the print is a given one and it is on
    unfiltered: bool = False
    # whether this is auto's decision (inference.noise_print=auto): the restorer's auto models
    # (inference.auto_models) restore beside the model, told ``power`` or without a print
    auto: bool = False
    # whether auto's print was too short for the held-out check asked for (nothing judged it):
    # where the restorer has auto models, they restore alone
    unchecked: bool = False
    # auto's print (its audio, mono, model rate) where the held-out check passed it: the restorer's
    # post-filter, gated segment by segment (gated_postfiltered_noise), is told it; None otherwise
    auto_print: np.ndarray | None = None


def file_noise_power(restorer: Any, spec: Any, source: Path, file_print: np.ndarray | None,
                     check: bool, classical: bool = False) -> tuple[Told, list[str], list[str]]:  # fmt: skip
    """What to tell the restorer of ``source``'s noise (:class:`Told`; nothing: restore with
    the model without a print), with info lines and warnings to print.

    ``spec`` is a ``noise_print.PrintSpec``; ``file_print`` the loaded print of a ``file`` spec.
    With ``check``, a conditioned model is told the print only if
    :func:`noise_print.held_out_check` finds that it helps. With ``classical``, the file is
    restored by the classical estimator told the print where :func:`noise_print.classical_check`
    finds it better than the model. Raises ``noise_print.NoisePrintError`` for a range outside
    the file or a print that cannot be used.
    """
    import noise_print

    rate, n_fft, hop = restorer.model_rate, restorer.n_fft, restorer.hop_length
    if spec.kind == "none":
        return Told(), [], []
    # the recording itself is read only where auto or a check needs it (up to ten minutes of it)
    recording = None
    if spec.kind == "auto" or check or classical:
        recording, _ = noise_print.read_mono(source, rate, max_seconds=noise_print.AUTO_MAX_SECONDS)
    if spec.kind == "auto":
        return auto_told(restorer, recording, check, classical, source)
    warns: list[str] = []
    if spec.kind == "file":
        audio = file_print
    else:
        audio, _ = noise_print.read_mono(source, rate, spec.start, spec.end)
        warns += noise_print.check_print(audio, rate, f"{source}: noise print {spec.describe()}", n_fft, hop)
    assert audio is not None
    told, lines = told_for(restorer, recording, audio, check, classical, source.name)
    return told, lines, warns


def auto_told(restorer: Any, recording: np.ndarray, check: bool, classical: bool,
              source: Path) -> tuple[Told, list[str], list[str]]:  # fmt: skip
    """What to tell ``restorer`` of a recording's noise (mono, model rate) by the auto rule
    (``inference.noise_print=auto``): :func:`noise_print.auto_print`'s quiet passages (at least
    :func:`noise_print.auto_min_seconds` of them: with ``check``, enough for the check), decided
    on by the checks asked for as :func:`told_for` does; nothing where they are too short. Also
    the info lines and warnings to print (``source``: the file, for the lines).

    Quiet passages less than ``AUTO_MIN_CONTRAST_DB`` below the median level may hold programme:
    they are refused where the classical check would hand the file to LSA told them
    (``classical``), which removes what it is told; a conditioned model is told them all the same
    (it was trained on such estimates, a third of its examples; on 15-s reels, where pauses
    and quiet programme put the median near the noise, refusing them cost 0.47-0.69 dB:
    docs/EXPERIMENTS.md, "2026-11-26: the auto print on reels"), and the held-out check, where
    it runs, decides. An auto print never carries the classical share: its quietest passages
    hold programme too."""
    import noise_print

    rate, n_fft, hop = restorer.model_rate, restorer.n_fft, restorer.hop_length
    least = noise_print.auto_min_seconds(len(recording), rate, check)
    audio, contrast = noise_print.auto_print(recording, rate, n_fft, hop, least)
    seconds = len(audio) / rate
    if seconds < noise_print.MIN_PRINT_SECONDS:
        return Told(auto=True), [], [f"{source}: auto found {seconds:.2f} s of sound outside digital silence, less than the "
                            f"{noise_print.MIN_PRINT_SECONDS:g} s a print needs; restoring without a print"]  # fmt: skip
    low = contrast < noise_print.AUTO_MIN_CONTRAST_DB
    if low and classical:
        return Told(auto=True), [], [f"{source}: auto found no pauses: its quietest {seconds:.1f} s lie only {contrast:.1f} dB below "
                            f"the median level (the classical check needs at least {noise_print.AUTO_MIN_CONTRAST_DB:g} dB); "
                            "restoring with the model without a print (give one with noise_print=START-END or a file)"]  # fmt: skip
    info = [f"{source.name}: auto noise print: {seconds:.1f} s of the quietest passages, {contrast:.0f} dB below "
            f"the median level (the quietest {noise_print.AUTO_FRACTION:.0%}, at least "
            f"{least:g} s, of the first {noise_print.AUTO_MAX_SECONDS / 60:g} min)"]  # fmt: skip
    warns = []
    if low and restorer.conditioned and not (check and noise_print.can_hold_out(len(audio), rate)):
        why = "noise_print_check=false" if not check else "too short to hold part of them out for the check"
        warns.append(f"{source}: auto's quietest {seconds:.1f} s lie only {contrast:.1f} dB below the median level and may "
                     f"hold programme; the model is told them unchecked ({why})")  # fmt: skip
    told, lines = told_for(restorer, recording, audio, check, classical, source.name, blend=False)
    unchecked = told.power is not None and check and not noise_print.can_hold_out(len(audio), rate)
    # the gated post-filter is told only a print the held-out check passed (what was measured)
    heard = np.asarray(audio, dtype=np.float32) if told.power is not None and check and not unchecked else None
    return Told(power=told.power, classical=told.classical, auto=True, unchecked=unchecked, auto_print=heard), info + lines, warns


def told_for(restorer: Any, recording: np.ndarray | None, print_audio: np.ndarray, check: bool, classical: bool,
             name: str, blend: bool = True) -> tuple[Told, list[str]]:  # fmt: skip
    """What to tell ``restorer`` for a recording (mono, model rate; None: no check can run) with
    the usable print ``print_audio``, by the checks asked for; and info lines (``name``: the file).

    With ``check`` and ``blend`` (a given print, not auto's), where the restorer chooses its
    classical share (``Restorer.choose_share``: ``inference.classical_blend`` null),
    :func:`noise_print.share_check` chooses the share for this file; the held-out check then
    tests the print as it will be used, with that share (or ``classical_blend``) of LSA.

    Where the restorer has print models (``inference.print_models``) and is given a print
    (``blend``), they join it unchecked without ``check``; with ``check``, the print-models
    check decides: the share check runs with the model alone and with the mean of all (over
    its one share where the share is not chosen) and the higher score on the held-out mix
    wins; a print too short for it keeps the model alone, since nothing judges the others then
    and a partner can lose on noise it never heard (docs/EXPERIMENTS.md, "2026-11-27: several
    models told the print").

    Where the restorer has a Wiener post-filter (``Restorer.postfilter``) and is given a print
    (``blend``), the checks test the print as it will be used, through the filter (auto's
    without it); with ``check``, the post-filter check decides: the share check runs with and
    without the filter (each way of the print models, where there are some) and the highest
    score on the held-out mix decides both; a print too short for it, or no check, keeps the
    filter (docs/EXPERIMENTS.md, "2026-11-27: a Wiener post-filter told the print")."""
    given = getattr(restorer, "filtering_given", None)
    with given(blend) if given is not None else contextlib.nullcontext():
        return _told_for(restorer, recording, print_audio, check, classical, name, blend)


def _told_for(restorer: Any, recording: np.ndarray | None, print_audio: np.ndarray, check: bool, classical: bool,
              name: str, blend: bool) -> tuple[Told, list[str]]:  # fmt: skip
    import baselines
    import noise_print

    rate, n_fft, hop = restorer.model_rate, restorer.n_fft, restorer.hop_length
    info: list[str] = []
    statistics = getattr(restorer, "print_statistics", "mean")
    power = noise_print.noise_power(print_audio, n_fft, hop, statistics) if restorer.conditioned else None

    def lsa(mix: np.ndarray, fit: np.ndarray) -> np.ndarray:
        return baselines.ephraim_malah_lsa(mix, rate, noise_print=fit)

    share = None  # the share check's choice
    others = bool(getattr(restorer, "print_models", None)) and blend and power is not None
    joined = others and not check  # asked for, and no check to judge them
    # the Wiener post-filter: on a given print unless the post-filter check finds it better off
    filters = blend and power is not None and getattr(restorer, "postfilter", 0.0) > 0.0
    filtered = filters

    def told_as(joins: bool, filters_it: bool) -> contextlib.ExitStack:
        stack = contextlib.ExitStack()
        if others:
            stack.enter_context(restorer.joining(joins))
        if filters:
            stack.enter_context(restorer.filtering_given(filters_it))
        return stack

    if power is not None and recording is not None and check:
        # the share a given print carries; the held-out check tests the restoration made with it
        used = getattr(restorer, "classical_blend", 0.0) if blend else 0.0
        chosen = None
        choose = blend and getattr(restorer, "choose_share", False)
        if choose or others or filters:
            grid = noise_print.SHARE_GRID if choose else (used,)
            ways = [(j, f) for j in ((False, True) if others else (False,)) for f in ((False, True) if filters else (False,))]
            found = {}
            for way in ways:
                with told_as(*way):
                    found[way] = noise_print.share_check(restorer.restore_told, lsa, recording, print_audio, rate, used,
                                                         n_fft, hop, statistics, grid)  # fmt: skip
            if found[ways[0]] is not None:  # None: too short to hold part out, as the held-out check says below
                joined, filtered = max(ways, key=lambda way: found[way].score)
                chosen = found[(joined, filtered)]

                def best(**fixed: bool) -> float:
                    return max(found[(j, f)].score for j, f in ways if fixed.get("joins", j) == j and fixed.get("filters", f) == f)

                if others:
                    info.append(f"{name}: print-models check (the held-out mix): the mean of {len(restorer.print_models) + 1} "
                                f"models {best(joins=True):.2f} dB SI-SDR, the model alone {best(joins=False):.2f} dB: "
                                f"{'the mean' if joined else 'the model alone'} restores")  # fmt: skip
                if filters:
                    info.append(f"{name}: post-filter check (the held-out mix): with the post-filter {best(filters=True):.2f} dB "
                                f"SI-SDR, without {best(filters=False):.2f} dB: {'with' if filtered else 'without'} it")  # fmt: skip
                if choose:
                    share = used = chosen.share
                else:
                    chosen = None  # the share is the restorer's own: nothing chosen to report
        with told_as(joined, filtered):
            # a given print's programme is the loudest passage as the restorer restores it (with the
            # print and without, the mean); auto's keeps the recording's own passage: against the
            # restored one it changed few decisions, +0.02 to +0.04 dB on real noise, -0.02 to +0.02
            # on the synthetic families (docs/EXPERIMENTS.md, "auto's check against the restored passage")
            reference = noise_print.GIVEN_CHECK_REFERENCE if blend else None
            result = noise_print.held_out_check(restorer.restore_told, recording, print_audio, rate, n_fft, hop,
                                                reference=reference, statistics=statistics, classical=lsa,
                                                share=used)  # fmt: skip
        if result is None:
            info.append(f"{name}: the print is too short to hold part of it out; used unchecked")
        else:
            info.append(f"{name}: {result.describe()}")
            if not result.use_print:
                power = None
        if chosen is not None and power is not None:
            info.append(f"{name}: {chosen.describe()}")
    if classical and recording is not None:
        with told_as(joined, filtered):
            choice = noise_print.classical_check(lambda mix: restorer.restore_told(mix, power, print_audio), lsa, recording, print_audio, rate)
        if choice is None:
            info.append(f"{name}: the print is too short to hold part of it out; the model restores this file")
        else:
            info.append(f"{name}: {choice.describe()}")
            if choice.use_classical:
                return Told(classical=np.asarray(print_audio, dtype=np.float32)), info
    if power is None:
        return Told(), info
    return Told(power=power, blend_print=np.asarray(print_audio, dtype=np.float32), share=share, joined=joined,
                unfiltered=filters and not filtered), info


def print_spec(settings: Any, model_cfg: Mapping, checkpoint: Path,
               warn: Callable[[str], Any] = print_warning) -> tuple[Any, np.ndarray | None]:  # fmt: skip
    """The validated ``inference.noise_print`` for this model, and a print file's audio; what
    was done to a print file (mixed down, resampled) and doubts about it go to ``warn``.

    The default (null) is ``auto`` for a conditioned model: a restorer rarely has a clean
    print at hand, the held-out check keeps a bad estimate out, and the model was trained
    with auto estimates; ``none`` for any other. Raises :class:`UsageError` for a print the
    model cannot take or a file print that cannot be used.
    """
    import noise_print

    conditioned = str(model_cfg.get("conditioning") or "none") != "none"
    takes_print = conditioned or settings.classical_check
    value = settings.noise_print if settings.noise_print is not None else ("auto" if takes_print else "none")
    try:
        spec = noise_print.parse_spec(value)
    except noise_print.NoisePrintError as exc:
        raise UsageError(str(exc)) from None
    if spec.kind != "none" and not takes_print:
        raise UsageError(f"inference.noise_print={value}: the model {checkpoint} does not take a noise print "
                         "(its conditioning is none); use a conditioned model, inference.classical_check=true "
                         "(the print then decides between the model and the classical estimator) or noise_print=none")  # fmt: skip
    if spec.kind == "none" and settings.classical_check:
        raise UsageError("inference.classical_check=true needs a noise print to compare with: "
                         "inference.noise_print=FILE, START-END or auto")  # fmt: skip
    if spec.kind != "file":
        return spec, None
    rate, n_fft, hop = int(model_cfg["sample_rate"]), int(model_cfg["n_fft"]), int(model_cfg["hop_length"])
    try:
        audio, notes = noise_print.read_mono(spec.path, rate)
        warns = noise_print.check_print(audio, rate, f"{spec.path}", n_fft, hop)
    except (noise_print.NoisePrintError, audio_io.AudioError) as exc:
        raise UsageError(str(exc)) from None
    if notes:
        warn(f"{spec.path}: noise print {' and '.join(notes)}")
    for w in warns:
        warn(w)
    return spec, audio
