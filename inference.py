"""Restore recordings: ``python inference.py inference.audio=PATH [inference.KEY=VALUE ...]``.

``PATH`` is an audio file or a folder (every audio file in it, ``inference.recursive``
for subfolders). For each input ``<stem>.<ext>`` two files are written, by default next
to the input (``inference.output_dir`` elsewhere; subfolders are mirrored there):

* ``<stem>_denoised_s<N>.<ext>`` the restored programme, and
* ``<stem>_residual_s<N>.<ext>`` what was removed (input minus restored),

with ``N = 10 * strength`` (``p`` for a decimal point: ``s10``, ``s7``, ``s7p2``; strengths
have at most three decimals, so names never collide). WAV and FLAC inputs keep their container and sample
format (a 24-bit FLAC gives ``<stem>_denoised_s10.flac`` in 24 bits). Every other input
(OGG, MP3, AIFF, ...) gives a ``.wav``: in the input's sample format when WAV can hold it
(AIFF PCM_16 -> WAV PCM_16), else 32-bit float (OGG/Vorbis, MP3), so that the decoded
samples are neither requantised nor clipped. Outputs have the input's length (exactly),
sample rate and channel layout. A WAV output above 4 GB is written as RF64. In integer
formats restored + residual is the input exactly (unless a sample clipped). Runs of exact
zeros (at least 1 ms) stay exact zeros. A file holding fewer frames than its header
declares is refused unless ``allow_truncated``.

Denoising strength ``s`` (``inference.denoising_strength``, 0.0 to 1.0): the model gives
an estimate of the noise, ``noise = input - model_output``; the result is

    output = input - s * noise

so ``s`` is the fraction of the estimated noise that is removed: 0 returns the input
exactly (bitwise; the model is not run), 1 the model's full restoration, and the removed
energy grows monotonically (as ``s**2``) in between. The noise is estimated at the model's
rate (44.1 kHz) and resampled to the input's rate, so only the estimated noise passes
through the resampler: content of a 96 kHz input above 22.05 kHz is kept, not removed.

Long inputs are read and written in blocks and cut into overlapping segments
(``segment_seconds``, ``overlap_seconds``) that are denoised in batches
(``batch_segments``) and joined with raised-cosine crossfades whose weights sum to one;
memory does not grow with the file's length (the engine: ``streaming.py``; decoding and
formats: ``audio_io.py``; output names: ``naming.py``). See :func:`denoise_array` for the pure
function and :class:`Restorer` for the file path.

Options (``configs.InferenceConfig`` documents each): ``checkpoint`` (a folder with
``config.json`` and ``model.weights.h5``; default the shipped ``models/default``),
``output_dir``, ``recursive``, ``overwrite`` (outputs of an earlier run are an error
without it; an input is never written over), ``denoising_strength``, ``segment_seconds``,
``overlap_seconds``, ``batch_segments``, ``block_seconds``, ``precision``
(``float32``, or ``bfloat16``: mixed precision, 2.3-2.6x less CPU on CPUs with AVX-512
BF16/AMX), ``plot`` (also ``<stem>_spectrograms_s<N>.png`` of the first ``plot_seconds``),
``quiet`` (no progress bars or info lines), ``verbose`` (device, model, segmentation),
``allow_truncated``, the noise print's ``noise_print``, ``noise_print_check`` and
``classical_check`` and ``classical_blend``, ``no_print_models`` (model folders whose
mean restoration replaces the checkpoint's where it would restore without a print) and
``print_models`` (conditioned model folders whose restorations, told the same given print,
are averaged with a conditioned checkpoint's own where the print-models check finds that it
helps), ``postfilter`` (the weight of a given print's noise power in the Wiener post-filter of
a conditioned model's restoration, and of auto's print where the held-out check passed it, in
the segments its gate lets through; 0: off), ``half_rate_below_hz`` (where a conditioned model is
told a print whose audio the restorer holds, the band of its restoration below this many Hz made
again with each segment at half the model's rate; 0: off). The path options are taken
literally: no Hydra quoting is needed for accents, apostrophes, spaces, commas or ``=`` (see
:func:`cli.quote_paths`).
The model runs on the first GPU when TensorFlow sees one, else on the CPU.

Exit status: 0 all inputs restored; 1 at least one input failed (unreadable, empty,
truncated, NaN or infinite samples, existing outputs, no audio in a folder, bad
checkpoint); 2 bad arguments (an option out of range or unknown, an argument Hydra cannot
parse, ``inference.audio`` missing or not found, an unusable ``output_dir``); 130
interrupted. Errors are one line on stderr, ``error: <path>: <problem>``, and leave no
output behind.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's C++ start-up chatter out of the output
# TensorFlow leaves oneDNN off on CPUs without AVX-512 (this project's 2-core AVX2 machines):
# a training step took 28 s there without it and 15-17 s with it (docs/PERFORMANCE.md)
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import numpy as np  # noqa: E402

import audio_io  # noqa: E402
import configs  # noqa: E402
import naming  # noqa: E402
import steady_tones  # noqa: E402
from cli import InferenceError, UsageError, config_group, hydra_entry, native_stderr_silenced  # noqa: E402
from cli import one_line, print_error, print_warning, report_failures  # noqa: E402
from loading import (  # noqa: E402
    AUTO_MODELS_SHARE,
    BACKENDS,
    Told,
    averaged_noise,
    blended_noise,
    cached_model,
    classical_noise_function,
    classical_share,
    file_noise_power,
)
from loading import (AUTO_POSTFILTER_GATE_DB, gated_postfiltered_noise, half_rate_low_band_noise, half_rate_power,  # noqa: E402
                     load_model, load_no_print_models, load_print_models, low_band_noise, model_noise_function,
                     postfiltered_noise, print_spec, resolve_precision)
from paths import DEFAULT_CHECKPOINT  # noqa: E402
from precision import PRECISIONS  # noqa: E402
from streaming import NoiseStream, SegmentPlan, compute_device, default_batch_segments, subtract_noise  # noqa: E402

log = logging.getLogger("inference")
# The schema's defaults are the API's: Restorer and denoise_array default as the command line does.
DEFAULTS = configs.InferenceConfig()


# --------------------------------------------------------------------------- settings


@dataclass
class InferenceSettings(configs.InferenceConfig):
    """The validated ``inference`` group (the fields of :class:`configs.InferenceConfig`), its
    paths as ``Path``: relative ones from the current directory; ``checkpoint`` the shipped
    ``models/default`` when the config leaves it null."""

    audio: Path | None = None
    output_dir: Path | None = None
    checkpoint: Path = DEFAULT_CHECKPOINT
    no_print_models: list[Path] = field(default_factory=list)
    print_models: list[Path] = field(default_factory=list)
    auto_models: list[Path] = field(default_factory=list)


def settings_from_config(cfg: Mapping) -> InferenceSettings:
    """Validate the ``inference`` group (of the root config, the group itself, or a mapping of
    some of its keys: the schema fills the rest).

    Raises :class:`UsageError` for a missing ``audio``, an unknown key, a value of the wrong
    type or an option out of range.
    """
    group = config_group(cfg, "inference", configs.InferenceConfig, marker="audio")
    if not group.audio:
        raise UsageError("inference.audio: missing; usage: python inference.py inference.audio=FILE_OR_FOLDER")
    strength = group.denoising_strength
    if not (0.0 <= strength <= 1.0):
        raise UsageError(f"inference.denoising_strength: must be between 0.0 and 1.0, got {strength}")
    try:
        naming.strength_tag(strength)
    except ValueError as exc:
        raise UsageError(f"inference.denoising_strength: {exc}") from None
    s = InferenceSettings(**{
        **dataclasses.asdict(group),
        "audio": Path(group.audio).expanduser(),
        "output_dir": Path(group.output_dir).expanduser() if group.output_dir else None,
        "checkpoint": Path(group.checkpoint).expanduser() if group.checkpoint else DEFAULT_CHECKPOINT,
        "no_print_models": [Path(str(folder)).expanduser() for folder in group.no_print_models],
        "print_models": [Path(str(folder)).expanduser() for folder in group.print_models],
        "auto_models": [Path(str(folder)).expanduser() for folder in group.auto_models],
    })  # fmt: skip
    if s.batch_segments is not None and s.batch_segments < 1:
        raise UsageError(f"inference.batch_segments: must be at least 1, got {s.batch_segments}")
    for key in ("block_seconds", "plot_seconds"):
        if not (getattr(s, key) > 0 and math.isfinite(getattr(s, key))):
            raise UsageError(f"inference.{key}: must be a positive number, got {getattr(s, key)}")
    if s.precision not in PRECISIONS:
        raise UsageError(f"inference.precision: expected one of {', '.join(PRECISIONS)}, got {s.precision!r}")
    if s.backend not in BACKENDS:
        raise UsageError(f"inference.backend: expected one of {', '.join(BACKENDS)}, got {s.backend!r}")
    if s.backend == "onnxruntime" and s.precision == "bfloat16":  # auto goes to tensorflow for bfloat16
        raise UsageError("inference.precision=bfloat16 needs inference.backend=tensorflow (an ONNX export computes in float32)")
    if s.classical_blend is not None and not (0.0 <= s.classical_blend <= 1.0):
        raise UsageError(f"inference.classical_blend: must be between 0.0 and 1.0, got {s.classical_blend}")
    if not (s.postfilter >= 0 and math.isfinite(s.postfilter)):
        raise UsageError(f"inference.postfilter: must be 0 (off) or a positive number, got {s.postfilter}")
    if not (s.half_rate_below_hz >= 0 and math.isfinite(s.half_rate_below_hz)):
        raise UsageError(f"inference.half_rate_below_hz: must be 0 (off) or a positive number of Hz, got {s.half_rate_below_hz}")
    SegmentPlan.from_seconds(s.segment_seconds, s.overlap_seconds, 44100, 1)  # range checks only
    return s


# --------------------------------------------------------------------------- the restorer


@dataclass
class FileResult:
    """What :meth:`Restorer.restore_file` wrote."""

    source: Path
    denoised: Path
    residual: Path
    plot: Path | None
    frames: int
    sample_rate: int
    channels: int
    seconds: float
    warnings: list[str] = field(default_factory=list)


_KEEP = object()  # Restorer._told: the restorer's own noise power


def _checked_strength(strength: float) -> float:
    if not (0.0 <= float(strength) <= 1.0):
        raise ValueError(f"strength: must be between 0.0 and 1.0, got {strength}")
    return float(strength)


class Restorer:
    """Denoises arrays and files with one loaded model.

    ``strength`` is the fraction of the estimated noise removed (see the module docstring);
    ``segment_seconds``/``overlap_seconds`` set the segmentation, ``batch_segments`` how
    many single-channel segments go through the model at once (None:
    :func:`streaming.default_batch_segments`), ``block_seconds`` the size of the blocks read
    from and written to files. The defaults are :class:`configs.InferenceConfig`'s.
    ``no_print_models`` (loaded ``(model, config)`` pairs, ``loading.load_no_print_models``):
    where the model would restore without a print, the mean of their restorations replaces
    its own (``inference.no_print_models``; a pair of the model itself includes it).
    ``print_models`` (loaded ``(model, config)`` pairs of conditioned models,
    ``loading.load_print_models``): where they join (:attr:`joined`: a print given to
    :meth:`set_noise_print`, or one the print-models check in ``loading.told_for`` found them to
    help), the mean of the model's restoration and theirs, each told the same print, restores
    (``inference.print_models``); the classical share applies to the mean.
    ``classical_blend`` (0..1; None: ``loading.CLASSICAL_BLEND``): where a conditioned model is
    told a given print (a file, a range, an array; not auto's), that share of the restoration
    is the classical Ephraim-Malah LSA estimator's told the same print (``inference.classical_blend``).
    With None, where the checks run on a given print (``loading.told_for``), the share check
    chooses the share for each file instead (``noise_print.share_check``; :attr:`share`).
    ``postfilter`` (0: off): where the model is told a given print, each segment's restoration
    passes a Wiener post-filter whose noise power is the print's weighted this many times
    (``baselines.wiener_postfilter``, ``inference.postfilter``), before the classical share, and
    after it the band below ``baselines.LOW_BAND_HZ`` a Wiener filter told the print in a long
    window (``loading.low_band_noise``); where
    it is told auto's print that the held-out check passed, the segments the gate lets through
    (:attr:`auto_filtered`, ``loading.gated_postfiltered_noise``).
    ``auto_models`` (loaded ``(model, config)`` pairs, ``loading.load_no_print_models``): where a
    conditioned model follows auto's decision (:attr:`auto_mixed`), :attr:`auto_share` of the
    restoration is the model's (told auto's print, or without one where auto gave none) and the
    rest the mean of theirs, each without a print; where auto's print was too short for the
    held-out check, theirs alone (``inference.auto_models``).
    ``half_rate_below_hz`` (0: off): where a conditioned model is told a print whose audio the
    restorer holds (a given print, auto's print the held-out check passed, the print a check tests;
    :attr:`half_rated`), the band of its restoration below this is made again with each segment
    at half the model's rate, the model told the print resampled alike, before everything that follows
    the model (``loading.half_rate_low_band_noise``, ``inference.half_rate_below_hz``).
    """

    def __init__(
        self,
        model: Any,
        model_cfg: Mapping,
        strength: float = DEFAULTS.denoising_strength,
        segment_seconds: float = DEFAULTS.segment_seconds,
        overlap_seconds: float = DEFAULTS.overlap_seconds,
        batch_segments: int | None = DEFAULTS.batch_segments,
        block_seconds: float = DEFAULTS.block_seconds,
        *,
        no_print_models: Sequence[tuple[Any, Mapping]] = (),
        classical_blend: float | None = DEFAULTS.classical_blend,
        print_models: Sequence[tuple[Any, Mapping]] = (),
        postfilter: float = DEFAULTS.postfilter,
        auto_models: Sequence[tuple[Any, Mapping]] = (),
        half_rate_below_hz: float = DEFAULTS.half_rate_below_hz,
    ) -> None:
        self.model, self.strength = model, _checked_strength(strength)
        if not (float(postfilter) >= 0 and math.isfinite(float(postfilter))):
            raise ValueError(f"postfilter: must be 0 (off) or a positive number, got {postfilter}")
        rate = int(model_cfg["sample_rate"])
        if not (float(half_rate_below_hz) == 0.0 or 0.0 < float(half_rate_below_hz) < rate / 4):
            raise ValueError(f"half_rate_below_hz: must be 0 (off) or between 0 and {rate / 4:g} Hz, got {half_rate_below_hz}")
        # where a conditioned model is told a print whose audio the restorer holds, the band of its
        # restoration below this is made again at half its rate (loading.half_rate_low_band_noise); 0: off
        self.half_rate_below_hz = float(half_rate_below_hz)
        # the Wiener post-filter's weight of the print's noise power; 0: off
        self.postfilter = float(postfilter)
        # whether the print told is a given one, which the post-filter uses (Told.blend_print;
        # the checks of loading.told_for set it for the print they test)
        self.filtering = False
        # the classical estimator's share where a conditioned model is told a given print
        self.classical_blend = classical_share(classical_blend)
        # null: where a check runs on a given print, the share check chooses the share per file
        self.choose_share = classical_blend is None
        # the share chosen for what follows (Told.share); None: classical_blend
        self.told_share: float | None = None
        batch_segments = default_batch_segments() if batch_segments is None else int(batch_segments)
        if batch_segments < 1:
            raise ValueError(f"batch_segments: must be at least 1, got {batch_segments}")
        self.model_cfg = dict(model_cfg)
        self.model_rate = int(model_cfg["sample_rate"])
        self.n_fft, self.hop_length = int(model_cfg["n_fft"]), int(model_cfg["hop_length"])
        import unet

        # segments start on the grid of the U-Net's time strides, so each sees the same frames
        align = self.hop_length * unet.total_strides(model_cfg)[0]
        self.plan = SegmentPlan.from_seconds(segment_seconds, overlap_seconds, self.model_rate, align)
        self.batch_segments = batch_segments
        self.block_seconds = float(block_seconds)
        self.conditioned = str(model_cfg.get("conditioning") or "none") != "none"
        # what a conditioned model is told of the noise (unet.PRINT_STATISTICS)
        self.print_statistics = unet.print_statistics(model_cfg)
        self.backend = "onnxruntime" if type(model).__name__ == "OnnxDenoiser" else "tensorflow"
        # the noise power a conditioned model is told (noise_print.py); None: each segment's own
        # auto estimate, what the model was trained to use without a print
        self.noise_power: np.ndarray | None = None
        # a print (mono, model rate): the classical estimator told it restores instead of the model
        self.classical_print: np.ndarray | None = None
        # the given print the model is told (mono, model rate): the classical estimator told it
        # restores classical_blend of the result; None where the print is auto's or there is none
        self.blend_print: np.ndarray | None = None
        # the noise-only audio the post-filter measures the noise from (mono, model rate): the
        # given print, or within the checks the part of it they tell the model; None: no filter
        self.filter_print: np.ndarray | None = None
        # what the checks of the last restore() found and decided (the command line's lines)
        self.decisions: list[str] = []
        # where the model would restore without a print, these restore instead (inference.no_print_models)
        self.no_print_models = self._at_model_rate(no_print_models, "no_print_models")
        if auto_models and not self.conditioned:
            raise ValueError("auto_models: restore beside a conditioned model told auto's print; this model is not conditioned")
        # where the model follows auto, the mean of these without a print restores beside it (alone
        # where auto's print is too short for the check; inference.auto_models, see auto_share)
        self.auto_models = self._at_model_rate(auto_models, "auto_models")
        # whether the print told is auto's (Told.auto), and one too short for the check asked for (Told.unchecked)
        self.told_auto = self.told_unchecked = False
        # auto's print where the held-out check passed it (Told.auto_print): the gated post-filter's
        self.auto_print: np.ndarray | None = None
        if print_models and not self.conditioned:
            raise ValueError("print_models: join a conditioned model's restoration; this model is not conditioned")
        for _, theirs in print_models:
            if int(theirs["sample_rate"]) != self.model_rate or str(theirs.get("conditioning") or "none") == "none":
                raise ValueError(f"print_models: a conditioned model at {self.model_rate} Hz expected, got "
                                 f"{theirs.get('conditioning') or 'none'} at {theirs['sample_rate']} Hz")  # fmt: skip
            if unet.print_statistics(theirs) != self.print_statistics:  # told another shape of description
                raise ValueError(f"print_models: a model told the print's {unet.print_statistics(theirs)!r} statistics, "
                                 f"this one its {self.print_statistics!r}")  # fmt: skip
        # averaged with the model's own restoration, each told the same print (inference.print_models),
        # where they join: see joined
        self.print_models = [(m, dict(c)) for m, c in print_models]
        # whether print_models join the model for what follows (told a print; Told.joined)
        self.joined = False

    def _at_model_rate(self, models: Sequence[tuple[Any, Mapping]], option: str) -> list[tuple[Any, dict]]:
        # other models restoring the same segments must share the model's rate
        for _, theirs in models:
            if int(theirs["sample_rate"]) != self.model_rate:
                raise ValueError(f"{option}: a model at {theirs['sample_rate']} Hz, the restorer's at {self.model_rate}")
        return [(m, dict(c)) for m, c in models]

    @classmethod
    def from_pretrained(
        cls,
        checkpoint: str | os.PathLike | None = None,
        precision: str = DEFAULTS.precision,
        strength: float = DEFAULTS.denoising_strength,
        backend: str = DEFAULTS.backend,
        no_print_models: Sequence[str | os.PathLike] = (),
        print_models: Sequence[str | os.PathLike] = (),
        auto_models: Sequence[str | os.PathLike] = (),
        **settings: Any,
    ) -> "Restorer":
        """The one-call way in, without Hydra: load ``checkpoint`` (a model folder; None: the
        shipped ``models/default``; with ``backend="onnxruntime"`` an export folder of export.py;
        ``auto``: :func:`loading.resolve_backend`) and return a restorer for it; the mean of the
        model folders ``no_print_models`` restores where it would restore without a print, and the
        conditioned model folders ``print_models`` join a conditioned model's own restoration, each
        told the same print (their mean restores), and the mean of the model folders ``auto_models``
        restores beside a conditioned model told auto's print (``inference.auto_models``). ``precision``:
        ``auto`` (bfloat16 on CPUs that have it natively, else float32), ``float32`` or ``bfloat16``.

        ``settings`` are the other keyword arguments of :class:`Restorer` (``segment_seconds``,
        ``overlap_seconds``, ``batch_segments``, ``block_seconds``). Raises
        ``unet.CheckpointError`` for a missing or incompatible folder::

            restorer = Restorer.from_pretrained()
            restored = restorer.restore(audio, 44100, strength=0.7)
            restorer.restore_file("reel.wav", output_dir="restored")
        """
        folder = Path(checkpoint) if checkpoint is not None else DEFAULT_CHECKPOINT
        model, cfg = load_model(folder, precision, backend)
        others = load_no_print_models(no_print_models, cfg, precision, backend, folder, model)
        joined = load_print_models(print_models, cfg, precision, backend, folder, model)
        beside = load_no_print_models(auto_models, cfg, precision, backend, folder, model, option="inference.auto_models")
        return cls(model, cfg, strength=strength, no_print_models=others, print_models=joined, auto_models=beside, **settings)

    @contextlib.contextmanager
    def _told(self, strength: float | None = None, power: Any = _KEEP, print_audio: np.ndarray | None = None) -> Iterator[None]:
        """Within the block, restore at ``strength`` (None: the restorer's own) told the noise
        ``power`` (by default the restorer's own; given a power, the model alone restores, never
        the classical estimator, through the post-filter told ``print_audio`` where it filters);
        afterwards all are as they were."""
        saved = (self.noise_power, self.strength, self.classical_print, self.blend_print, self.told_share, self.joined,
                 self.filtering, self.told_auto, self.told_unchecked, self.filter_print, self.auto_print)  # fmt: skip
        try:
            if strength is not None:
                self.strength = _checked_strength(strength)
            if power is not _KEEP:
                self.noise_power, self.classical_print, self.blend_print, self.told_share = power, None, None, None
                self.filter_print = None if print_audio is None else np.asarray(print_audio, dtype=np.float32)
                self.told_auto = self.told_unchecked = False
                self.auto_print = None
            yield
        finally:
            (self.noise_power, self.strength, self.classical_print, self.blend_print, self.told_share, self.joined,
             self.filtering, self.told_auto, self.told_unchecked, self.filter_print, self.auto_print) = saved  # fmt: skip

    @contextlib.contextmanager
    def _holding(self, name: str, value: bool) -> Iterator[None]:
        # the flag ``name`` set to ``value`` within the block, as it was afterwards
        saved = getattr(self, name)
        setattr(self, name, bool(value))
        try:
            yield
        finally:
            setattr(self, name, saved)

    def joining(self, joined: bool) -> contextlib.AbstractContextManager:
        """Within the block, :attr:`print_models` join the model's restorations told a print
        (``joined``) or not; afterwards as before (the print-models check restores both ways)."""
        return self._holding("joined", joined)

    def filtering_given(self, given: bool) -> contextlib.AbstractContextManager:
        """Within the block, a print the model is told is a given one (``given``: the post-filter
        applies) or auto's; afterwards as before (the checks test a print as it will be used)."""
        return self._holding("filtering", given)

    def restore(self, audio: np.ndarray, sample_rate: int, strength: float | None = None,
                noise_print: np.ndarray | str | None = None, *, noise_print_check: bool = False,
                classical_check: bool = False) -> np.ndarray:  # fmt: skip
        """Restore an in-memory signal: float ``[samples]`` or ``[samples, channels]`` at
        ``sample_rate`` -> the same shape and dtype.

        ``strength`` (0..1) overrides the restorer's own for this call; ``noise_print`` is a
        noise-only recording (``[samples]`` or ``[samples, channels]``) at ``sample_rate`` for
        this call: a conditioned model is told it, and the checks of the command line may
        decide what to do with it; ``"auto"``: the quietest passages of ``audio``, as
        ``inference.noise_print=auto`` finds them (``loading.auto_told``: restored without a
        print where they are too short, and beside :attr:`auto_models`, as the command line
        restores). ``noise_print_check`` (a conditioned model): the print is
        used only if the held-out check finds that it helps. ``classical_check`` (any model,
        the shipped one included): the classical estimator told the print restores instead of
        the model where the classical check finds it better. What the checks found and
        decided is left in :attr:`decisions`, as the command line prints it, with the command's
        warning where a steady tone of ``audio`` is left in the restoration. The restorer's
        own strength and print are left as they were. Raises ``ValueError`` for arguments out
        of range, non-finite samples, a print an unconditioned model cannot use without the
        classical check, and ``noise_print.NoisePrintError`` for a print too short or silent.
        """
        self.decisions = []
        with self._told(strength):
            if noise_print is None:
                if classical_check:
                    raise ValueError("classical_check: needs a noise print to compare with")
            elif isinstance(noise_print, str):
                if noise_print != "auto":
                    raise ValueError(f"noise_print: an array or 'auto', got {noise_print!r}")
                if not (self.conditioned or classical_check):
                    raise ValueError("noise_print: this model does not take a noise print (conditioning: none); "
                                     "the classical check can use one (restore(..., classical_check=True))")  # fmt: skip
                import loading
                import noise_print as prints

                head = np.asarray(audio)[: int(prints.AUTO_MAX_SECONDS * int(sample_rate))]  # as a file is read
                told, info, warns = loading.auto_told(self, self._model_rate_mono(head, sample_rate), noise_print_check,
                                                      classical_check, Path("audio"))  # fmt: skip
                self.tell(told)
                self.decisions = info + [f"warning: {line}" for line in warns]
                if self.half_rated:
                    self.decisions.append(self.half_rate_line("audio"))
                if self.auto_mixed:
                    self.decisions.append(self.auto_line("audio"))
                if self.auto_filtered:
                    self.decisions.append(self.auto_filter_line("audio"))
            elif noise_print_check or classical_check:
                import loading
                import noise_print as prints

                heard = self._model_rate_mono(noise_print, sample_rate)
                prints.check_print(heard, self.model_rate, "noise_print", self.n_fft, self.hop_length)
                recording = self._model_rate_mono(audio, sample_rate)
                told, self.decisions = loading.told_for(self, recording, heard, noise_print_check, classical_check, "audio")
                self.tell(told)
            else:
                self.set_noise_print(noise_print, sample_rate)
            restored = self.denoise_array(audio, sample_rate)
            if self.strength > 0:  # as after each file (steady_tones.py)
                left = steady_tones.warning("audio", steady_tones.tones_left(audio, restored, sample_rate))
                if left:
                    self.decisions.append(f"warning: {left}")
            return restored

    def _model_rate_mono(self, audio: np.ndarray, sample_rate: int | None) -> np.ndarray:
        """``audio`` (``[samples]`` or ``[samples, channels]``) mixed down and resampled to the model's rate, float32."""
        mono = np.asarray(audio, dtype=np.float32).reshape(len(audio), -1).mean(axis=1)
        rate = int(sample_rate or self.model_rate)
        if rate != self.model_rate:
            mono = audio_io.resample(mono, rate, self.model_rate)
        return np.asarray(mono, dtype=np.float32)

    def tell(self, told: Told) -> None:
        """Restore what follows as ``told`` (``loading.file_noise_power``'s decision for a file):
        with the model, told ``told.power`` (with :attr:`share` of the classical estimator told
        ``told.blend_print``: ``told.share`` where the share check chose one, else
        :attr:`classical_blend`; with :attr:`print_models` where ``told.joined``; through the
        post-filter where the print is a given one, unless ``told.unfiltered``; beside the mean of
        :attr:`auto_models` where it is auto's, ``told.auto``, or they alone where the held-out
        check could not test it, ``told.unchecked``), or with the classical estimator told
        ``told.classical``."""
        self.noise_power, self.classical_print = told.power, told.classical
        self.told_auto = bool(told.auto)
        self.told_unchecked = self.told_auto and bool(told.unchecked)
        self.auto_print = told.auto_print if self.told_auto and told.power is not None and not self.told_unchecked else None
        self.blend_print = self.filter_print = told.blend_print if told.power is not None else None
        self.told_share = told.share if self.blend_print is not None else None
        self.joined = bool(told.joined) and told.power is not None
        self.filtering = self.blend_print is not None and not told.unfiltered

    def restore_told(self, audio: np.ndarray, power: np.ndarray | None, print_audio: np.ndarray | None = None) -> np.ndarray:
        """Fully restore mono ``audio`` at the model rate with the model, told ``power`` (None:
        no print) measured from the noise-only ``print_audio`` (mono, model rate), which the
        post-filter is told where it filters (the checks: :meth:`filtering_given`; None: not
        filtered); the restorer's own strength and print are left as they were."""
        with self._told(1.0, power, print_audio):
            return self.denoise_array(np.asarray(audio, dtype=np.float32), self.model_rate)

    def set_noise_print(self, print_audio: np.ndarray | None, sample_rate: int | None = None) -> None:
        """Tell a conditioned model the noise: a noise-only recording (mono ``[samples]`` at
        ``sample_rate``), or None for no print. Raises ``ValueError`` for an unconditioned
        model and ``noise_print.NoisePrintError`` for a print too short or silent."""
        import noise_print

        self.told_share = None
        self.told_auto = self.told_unchecked = False  # a print given as audio is never auto's
        self.auto_print = None
        self.joined = print_audio is not None  # a print told without the checks: print_models join
        self.filtering = print_audio is not None
        if print_audio is None:
            self.noise_power = self.blend_print = self.filter_print = None
            return
        if not self.conditioned:
            raise ValueError("noise_print: this model does not take a noise print (conditioning: none); "
                             "the classical check can use one (restore(..., classical_check=True))")  # fmt: skip
        audio = self._model_rate_mono(print_audio, sample_rate)
        noise_print.check_print(audio, self.model_rate, "noise_print", self.n_fft, self.hop_length)
        self.noise_power = noise_print.noise_power(audio, self.n_fft, self.hop_length, self.print_statistics)
        self.blend_print = self.filter_print = audio

    # ---------------------------------------------------------------- arrays

    @property
    def share(self) -> float:
        """The classical estimator's share for what follows, where it is :attr:`blended`: the
        share check's choice for the file (:attr:`told_share`), else :attr:`classical_blend`."""
        return self.classical_blend if self.told_share is None else self.told_share

    @property
    def blended(self) -> bool:
        """Whether what follows is restored with :attr:`share` of the classical estimator: there
        is a share, and the model is told a given print."""
        return self.share > 0.0 and self.noise_power is not None and self.blend_print is not None

    @property
    def averaged(self) -> bool:
        """Whether what follows is restored by the mean of the model and :attr:`print_models`,
        each told the same print: there are some, they join (:attr:`joined`), and there is a print."""
        return bool(self.print_models) and self.joined and self.noise_power is not None

    @property
    def postfiltered(self) -> bool:
        """Whether what follows passes the Wiener post-filter: it is on (:attr:`postfilter`), and
        the model is told a given print (:attr:`filtering`), whose audio it measures the noise from."""
        return (self.postfilter > 0.0 and self.filtering and self.noise_power is not None and self.filter_print is not None
                and self.classical_print is None)  # fmt: skip

    @property
    def half_rated(self) -> bool:
        """Whether the band below :attr:`half_rate_below_hz` of the model's restoration is made
        again at half its rate: it is on, the model is conditioned and told a print whose audio the
        restorer holds (a given print, auto's print the held-out check passed, or the print a check
        tests), not the classical estimator."""
        return (self.half_rate_below_hz > 0.0 and self.conditioned and self.noise_power is not None
                and self.classical_print is None and self._heard_print() is not None)  # fmt: skip

    def half_rate_line(self, name: str) -> str:
        """What the half-rate pass does where :attr:`half_rated`, the line the command prints for ``name``."""
        return (f"{name}: below {self.half_rate_below_hz:g} Hz, the model's restoration made again at half its rate, "
                "told the print resampled alike (inference.half_rate_below_hz)")  # fmt: skip

    def _heard_print(self) -> np.ndarray | None:
        # the noise-only audio behind the power the model is told, where the restorer holds it
        return self.filter_print if self.filter_print is not None else self.auto_print

    def _told_model(self, model: Any, model_cfg: Mapping) -> Callable:
        # a conditioned model's noise estimate told the print, with its low band made again at
        # half rate where half_rated
        fn = model_noise_function(model, model_cfg, self.noise_power)
        if not self.half_rated:
            return fn
        heard = self._heard_print()
        power = half_rate_power(heard, self.n_fft, self.hop_length, self.model_rate, self.print_statistics)
        return half_rate_low_band_noise(fn, model_noise_function(model, model_cfg, power), self.half_rate_below_hz,
                                        self.model_rate)  # fmt: skip

    @property
    def auto_mixed(self) -> bool:
        """Whether what follows is restored :attr:`auto_share` by the model (told auto's print, or
        without a print where auto gave none) and the rest by the mean of :attr:`auto_models`
        without a print: there are some, and the restorer follows auto's decision (``Told.auto``),
        not the classical estimator."""
        return bool(self.auto_models) and self.told_auto and self.classical_print is None

    @property
    def auto_filtered(self) -> bool:
        """Whether what follows passes the post-filter told auto's print, gated segment by segment
        (``loading.gated_postfiltered_noise``): it is on (:attr:`postfilter`), and the model is
        told auto's print, which the held-out check passed (:attr:`auto_print`)."""
        return (self.postfilter > 0.0 and self.told_auto and self.auto_print is not None and self.noise_power is not None
                and self.classical_print is None)  # fmt: skip

    @property
    def auto_share(self) -> float:
        """The model's share where :attr:`auto_mixed`: :data:`loading.AUTO_MODELS_SHARE`, or 0 (the
        auto models alone) where auto's print was too short for the held-out check asked for
        (``Told.unchecked``): nothing judged it, and a short recording's quietest second is mostly
        programme (docs/EXPERIMENTS.md, "2026-11-27: auto's print beside the shipped model")."""
        return 0.0 if self.told_unchecked else AUTO_MODELS_SHARE

    def auto_line(self, name: str) -> str:
        """How what follows is restored where :attr:`auto_mixed`, the line the command prints for ``name``."""
        n = len(self.auto_models)
        if self.auto_share == 0.0:
            return (f"{name}: auto's print is too short for the held-out check: restored by the mean of {n} model(s) "
                    "without a print (inference.auto_models)")  # fmt: skip
        how = "told auto's print" if self.noise_power is not None else "without a print"
        return (f"{name}: restored {self.auto_share:.0%} by the model {how}, the rest by the mean of {n} model(s) "
                "without a print (inference.auto_models)")  # fmt: skip

    def auto_filter_line(self, name: str) -> str:
        """What the gated post-filter does where :attr:`auto_filtered`, the line the command prints for ``name``."""
        return (f"{name}: where the model takes out at most {AUTO_POSTFILTER_GATE_DB:g} dB more than auto's print holds, "
                f"a segment is the model's alone, post-filtered with the print's noise power weighted {self.postfilter:g} "
                "times (inference.postfilter)")  # fmt: skip

    @property
    def without_print(self) -> bool:
        """Whether what follows is restored by the mean of :attr:`no_print_models` instead of the
        model: there are some, and the model would restore without being told a print."""
        return bool(self.no_print_models) and self.noise_power is None and self.classical_print is None and not self.auto_mixed

    @staticmethod
    def _untold_mean(models: Sequence[tuple[Any, Mapping]]) -> Callable:
        # the mean noise estimate of these models, each without a print
        return averaged_noise([model_noise_function(m, c, None) for m, c in models])

    def _stream(self, sample_rate: int, channels: int) -> NoiseStream:
        if self.classical_print is not None:
            fn = classical_noise_function(self.classical_print, self.model_rate)
        elif self.auto_mixed and self.auto_share == 0.0:
            fn = self._untold_mean(self.auto_models)
        else:
            if self.without_print:
                fn = self._untold_mean(self.no_print_models)
            else:
                fn = self._told_model(self.model, self.model_cfg)
                if self.averaged:  # each told the same print
                    fn = averaged_noise([fn, *(self._told_model(m, c) for m, c in self.print_models)])
                if self.postfiltered:
                    fn = postfiltered_noise(fn, self.filter_print, self.postfilter, self.n_fft, self.hop_length)
                if self.blended:
                    fn = blended_noise(fn, classical_noise_function(self.blend_print, self.model_rate), self.share)
                if self.postfiltered:  # last: the band below LOW_BAND_HZ of what the rest made
                    fn = low_band_noise(fn, self.filter_print, self.n_fft, self.model_rate)
                beside = self._untold_mean(self.auto_models) if self.auto_mixed else None
                if self.auto_filtered:  # segment by segment: the model alone through the filter, or as below
                    fn = gated_postfiltered_noise(fn, self.auto_print, self.postfilter, self.n_fft, self.hop_length, beside,
                                                  1.0 - self.auto_share)  # fmt: skip
                elif beside is not None:
                    fn = blended_noise(fn, beside, 1.0 - self.auto_share)
        return NoiseStream(fn, self.plan, sample_rate, self.model_rate, channels, self.batch_segments)

    def denoise_array(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Restore ``audio`` (``[samples]`` or ``[samples, channels]``, float) at ``sample_rate``;
        returns an array of the same shape and dtype."""
        audio = np.asarray(audio)
        if audio.ndim not in (1, 2) or not np.issubdtype(audio.dtype, np.floating):
            raise ValueError(f"audio: expected a float array [samples] or [samples, channels], got {audio.dtype} {audio.shape}")
        if int(sample_rate) <= 0:
            raise ValueError(f"sample_rate: must be positive, got {sample_rate}")
        x = audio.reshape(len(audio), -1)
        finite = np.isfinite(x).all(axis=1)
        if not finite.all():
            raise ValueError(f"audio: NaN or infinite sample at index {int(np.argmin(finite))}")
        if self.strength == 0.0 or len(x) == 0 or x.shape[1] == 0:
            return audio.copy()
        block = max(1, int(self.block_seconds * int(sample_rate)))
        out = subtract_noise(self._stream(int(sample_rate), x.shape[1]), x, self.strength, block)
        return out.reshape(audio.shape)

    # ---------------------------------------------------------------- files

    def restore_file(
        self,
        source: str | os.PathLike,
        paths: naming.OutputPaths | None = None,
        output_dir: str | os.PathLike | None = None,
        overwrite: bool = DEFAULTS.overwrite,
        plot: bool = DEFAULTS.plot,
        plot_seconds: float = DEFAULTS.plot_seconds,
        progress: Callable[[float], Any] | None = None,
        allow_truncated: bool = DEFAULTS.allow_truncated,
        strength: float | None = None,
    ) -> FileResult:
        """Restore one file block by block and write denoised and residual outputs.

        ``strength`` (0..1) overrides the restorer's own for this file (and its output names).

        Outputs go to ``paths`` (default :func:`naming.output_paths` next to the input or in
        ``output_dir``). Raises :class:`InferenceError` (and leaves no output) for an
        unreadable, empty or non-finite input, for outputs that exist without
        ``overwrite``, and for a file holding fewer frames than its header declares, unless
        ``allow_truncated``: then the frames present are restored and the result carries a
        warning. ``progress`` is called with the number of frames of each block read.
        """
        source = Path(source)
        with self._told(strength), audio_io.open_audio(source) as reader:
            sr, channels = reader.samplerate, reader.channels
            declared = audio_io.declared_frames(reader)
            if not allow_truncated:  # known from the header: fail before any work
                audio_io.truncation_check(source, declared, max(reader.frames, 0), sr, allow_truncated)
            fmt = audio_io.output_format(reader)
            if paths is None:
                paths = naming.output_paths(source, self.strength, fmt.extension, Path(output_dir) if output_dir else None)
            targets = paths.targets(plot)
            naming.check_targets(source, targets, overwrite)
            try:
                temps, created = audio_io.atomic_outputs(targets)
            except OSError as exc:  # a folder that is a file, or not writable: name the output, not its .part
                raise InferenceError(f"{source}: cannot write {exc.filename} ({exc.strerror or exc})") from None
            started = time.perf_counter()
            try:
                frames, messages = self._write_restored(reader, source, fmt, temps, paths, plot_seconds if plot else None, progress)
                messages += audio_io.truncation_check(source, declared, frames, sr, allow_truncated)
                naming.check_targets(source, targets, overwrite)  # one may have appeared meanwhile
                audio_io.commit_outputs(temps, targets)
            except BaseException:
                audio_io.discard_outputs(temps, created)
                raise
        return FileResult(source, paths.denoised, paths.residual, paths.plot if plot else None, frames, sr, channels,
                          time.perf_counter() - started, messages)  # fmt: skip

    def _write_restored(self, reader: Any, source: Path, fmt: audio_io.OutputFormat, temps: list[Path], paths: naming.OutputPaths,
                        plot_seconds: float | None, progress: Callable[[float], Any] | None) -> tuple[int, list[str]]:  # fmt: skip
        """Stream ``reader`` through the model into the temporary outputs ``temps`` (denoised,
        residual and, with ``plot_seconds``, the plot); returns the frames and the warnings."""
        import plots

        sr, channels = reader.samplerate, reader.channels
        capture = plots.PlotCapture(int(plot_seconds * sr)) if plot_seconds is not None else None
        peaks = np.zeros(2)  # denoised, residual
        frames_in = frames_out = 0
        stream = None if self.strength == 0.0 else self._stream(sr, channels)
        # steady tones of the input still in the restoration are reported (steady_tones.py)
        watches = None if stream is None else (steady_tones.SteadyToneWatch(sr), steady_tones.SteadyToneWatch(sr))
        with fmt.writer(temps[0], sr, channels) as w_out, fmt.writer(temps[1], sr, channels) as w_res:

            def write(pairs: list[tuple[np.ndarray, np.ndarray | None]]) -> int:
                n = 0
                for x, noise in pairs:
                    out = x - self.strength * noise.astype(np.float64) if noise is not None else x
                    res = x - out
                    q_out, q_res = audio_io.quantise_outputs(x, out, fmt.subtype)
                    w_out.write(q_out)
                    w_res.write(q_res)
                    if len(x):
                        peaks[0] = max(peaks[0], float(np.abs(out).max()))
                        peaks[1] = max(peaks[1], float(np.abs(res).max()))
                    if capture is not None:
                        capture.add(x, out, res)
                    if watches is not None:
                        watches[0].add(x)
                        watches[1].add(out)
                    n += len(x)
                return n

            for x in audio_io.checked_blocks(reader, source, max(1, int(self.block_seconds * sr))):
                frames_in += len(x)
                frames_out += write(stream.push(x) if stream else [(x, None)])
                if progress is not None:
                    progress(len(x))
            if frames_in == 0:
                raise InferenceError(f"{source}: the file holds no samples")
            if stream is not None:
                frames_out += write(stream.close())
        if frames_out != frames_in:  # the pipeline's promise; never ship a wrong length
            raise InferenceError(f"{source}: internal error, wrote {frames_out} of {frames_in} frames")
        if capture is not None:
            title = f"{source.name}: first {capture.count / sr:.1f} s, strength {self.strength:g}, channels mixed"
            plots.write_spectrogram_plot(temps[2], capture.signals(), sr, title)
        messages = audio_io.clipping_warnings(peaks, [paths.denoised, paths.residual], fmt.subtype)
        left = steady_tones.warning(source.name, steady_tones.left_in_restoration(*watches)) if watches else None
        return frames_in, messages + ([left] if left else [])


def denoise_array(
    model: Any,
    model_cfg: Mapping,
    audio: np.ndarray,
    sample_rate: int,
    strength: float = DEFAULTS.denoising_strength,
    segment_seconds: float = DEFAULTS.segment_seconds,
    overlap_seconds: float = DEFAULTS.overlap_seconds,
    batch_segments: int | None = DEFAULTS.batch_segments,
    noise_print: np.ndarray | None = None,
) -> np.ndarray:
    """Restore an in-memory signal; the same pipeline as the files, without files.

    ``noise_print`` (a conditioned model only): a noise-only recording ``[samples]`` at
    ``sample_rate`` whose power spectrum the model is told; None restores without a print.

    ``audio`` is float ``[samples]`` or ``[samples, channels]`` at ``sample_rate`` (any
    rate: the noise is estimated at ``model_cfg['sample_rate']`` and resampled back with
    soxr). Returns ``audio - strength * noise`` with the input's shape and dtype; strength
    0 returns a copy of the input without running the model. Raises ``ValueError`` for
    arguments out of range or non-finite samples.
    """
    restorer = Restorer(model, model_cfg, strength, segment_seconds, overlap_seconds, batch_segments)
    restorer.set_noise_print(noise_print, sample_rate)
    return restorer.denoise_array(audio, sample_rate)


# --------------------------------------------------------------------------- command line


def _checked_arguments(cfg: Mapping) -> tuple[InferenceSettings, list[Path]]:
    """The settings and the input files; raises :class:`UsageError` or :class:`InferenceError`."""
    settings = settings_from_config(cfg)
    files = naming.find_inputs(settings.audio, settings.recursive)
    if settings.output_dir is not None:
        reason = naming.unwritable_reason(settings.output_dir)
        if reason:
            raise UsageError(f"inference.output_dir: {reason}")
    return settings, files


def _restorer_for(settings: InferenceSettings) -> tuple[Restorer, Any, np.ndarray | None]:
    """The restorer of ``settings`` (its model loaded once per process), the noise print's
    spec and a print file's audio. Raises :class:`UsageError` for a print the model cannot
    take, ``unet.CheckpointError`` or another exception for a model that cannot be loaded."""
    checkpoint = settings.checkpoint
    with native_stderr_silenced(not settings.verbose):
        import tensorflow  # noqa: F401  (its C++ start-up lines would bury our messages)
    import unet

    if checkpoint == DEFAULT_CHECKPOINT and not checkpoint.exists():
        raise unet.CheckpointError(
            f"{checkpoint}: the shipped model is not installed; pass inference.checkpoint=FOLDER "
            f"(a folder with config.json and model.weights.h5)"
        )
    model, model_cfg = cached_model(checkpoint, settings.precision, settings.backend)
    spec, file_print = print_spec(settings, model_cfg, checkpoint)
    if settings.classical_blend:  # asked for; the default (null) applies where it can, silently
        if str(model_cfg.get("conditioning") or "none") == "none":
            raise UsageError(f"inference.classical_blend={settings.classical_blend:g}: needs a conditioned model told a print; "
                             f"{checkpoint} is not conditioned (inference.classical_check lets a print choose instead)")  # fmt: skip
        if spec.kind in ("auto", "none"):
            print_warning(f"inference.classical_blend={settings.classical_blend:g} applies to a given print (a file or "
                          f"START-END), not to noise_print={spec.kind}: the model restores alone")  # fmt: skip
    others = load_no_print_models(settings.no_print_models, model_cfg, settings.precision, settings.backend, checkpoint, model)
    joined = load_print_models(settings.print_models, model_cfg, settings.precision, settings.backend, checkpoint, model)
    if settings.auto_models:
        if str(model_cfg.get("conditioning") or "none") == "none":
            raise UsageError(f"inference.auto_models: restore beside a conditioned model told auto's print; {checkpoint} is "
                             "not conditioned (inference.no_print_models averages models without a print)")  # fmt: skip
        if spec.kind != "auto":
            given = "noise_print=none" if spec.kind == "none" else f"a given print ({spec.describe()})"
            print_warning(f"inference.auto_models applies where the model is told auto's print, not to {given}: "
                          "they do not restore")  # fmt: skip
    beside = load_no_print_models(settings.auto_models, model_cfg, settings.precision, settings.backend, checkpoint, model,
                                  option="inference.auto_models")  # fmt: skip
    if settings.half_rate_below_hz and not settings.half_rate_below_hz < int(model_cfg["sample_rate"]) / 4:
        raise UsageError(f"inference.half_rate_below_hz: must lie below a quarter of the model's rate "
                         f"({int(model_cfg['sample_rate']) / 4:g} Hz), got {settings.half_rate_below_hz:g}")  # fmt: skip
    restorer = Restorer(model, model_cfg, settings.denoising_strength, settings.segment_seconds, settings.overlap_seconds,
                        settings.batch_segments, settings.block_seconds, no_print_models=others,
                        classical_blend=settings.classical_blend, print_models=joined,
                        postfilter=settings.postfilter, auto_models=beside,
                        half_rate_below_hz=settings.half_rate_below_hz)  # fmt: skip
    level = logging.INFO if settings.verbose else logging.DEBUG
    precision = "float32" if restorer.backend == "onnxruntime" else resolve_precision(settings.precision)
    log.log(level, "device: %s; model: %s (%s, %s Hz); backend %s, precision %s", compute_device(), checkpoint, model_cfg.get("name"),
            restorer.model_rate, restorer.backend, precision)  # fmt: skip
    log.log(level, "segments: %d samples, overlap %d (crossfade %d), %d per batch", restorer.plan.length, restorer.plan.overlap, restorer.plan.fade, restorer.batch_segments)
    return restorer, spec, file_print


def _restore_planned(item: naming.Planned, restorer: Restorer, settings: InferenceSettings, folder_mode: bool,
                     failures: list[str]) -> None:  # fmt: skip
    """Restore one planned file with its progress bar; a failure is printed and appended to ``failures``."""
    from tqdm import tqdm

    bar = tqdm(  # counts frames, shows seconds
        total=item.frames or None, unit="s", unit_scale=1.0 / item.rate, desc=item.source.name[:40], disable=settings.quiet,
        leave=not folder_mode, position=1 if folder_mode else 0, dynamic_ncols=True,
        bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} s [{elapsed}<{remaining}]" if item.frames else None,
    )  # fmt: skip
    try:
        result = restorer.restore_file(item.source, item.paths, overwrite=settings.overwrite, plot=settings.plot,
                                       plot_seconds=settings.plot_seconds, progress=bar.update,
                                       allow_truncated=settings.allow_truncated)  # fmt: skip
    except InferenceError as exc:
        _close_erased(bar)
        print_error(exc)
        failures.append(str(exc))
        return
    except Exception as exc:  # unforeseen: report it for this file and go on with the others
        _close_erased(bar)
        if settings.verbose:
            import traceback

            traceback.print_exc()
        message = f"{item.source}: unexpected failure ({type(exc).__name__}: {exc})"
        print_error(message)
        failures.append(message)
        return
    bar.close()
    for w in result.warnings:
        print_warning(w)
    duration = result.frames / result.sample_rate
    log.info("%s -> %s, %s (%.1f s of audio in %.1f s, real-time factor %.2f)", item.source, result.denoised.name,
             result.residual.name, duration, result.seconds, result.seconds / max(duration, 1e-9))  # fmt: skip


def _tell_noise(item: naming.Planned, restorer: Restorer, spec: Any, file_print: np.ndarray | None, settings: InferenceSettings,
                failures: list[str]) -> bool:  # fmt: skip
    """Set the noise power the model is told for ``item`` and print what was found (before the
    progress bar, so that its lines stand on their own); False (printed, appended to
    ``failures``) when the print cannot be used."""
    try:
        told, info, warns = file_noise_power(restorer, spec, item.source, file_print, settings.noise_print_check,
                                             settings.classical_check)  # fmt: skip
        restorer.tell(told)
    except (ValueError, audio_io.AudioError) as exc:  # noise_print.NoisePrintError is a ValueError
        print_error(exc)
        failures.append(str(exc))
        return False
    # in the order the restoration is made: the half-rate pass, the mean of the models, the post-filter, the classical share
    if restorer.half_rated:
        info.append(restorer.half_rate_line(item.source.name))
    if restorer.averaged:
        info.append(f"{item.source.name}: restored by the mean of {len(restorer.print_models) + 1} models told the same print "
                    "(inference.print_models)")  # fmt: skip
    if restorer.postfiltered:
        info.append(f"{item.source.name}: the model's restoration post-filtered with the print's noise power weighted "
                    f"{restorer.postfilter:g} times (inference.postfilter)")  # fmt: skip
    if restorer.blended:
        how = "the share check" if restorer.told_share is not None else "inference.classical_blend"
        info.append(f"{item.source.name}: restored {1 - restorer.share:.0%} by the model, "
                    f"{restorer.share:.0%} by the classical estimator told the same print ({how})")  # fmt: skip
    if restorer.postfiltered:
        import baselines

        info.append(f"{item.source.name}: below {baselines.LOW_BAND_HZ:g} Hz, a Wiener filter told the print in "
                    f"{baselines.LOW_BAND_RESOLUTION} times the model's window (inference.postfilter)")  # fmt: skip
    if restorer.auto_mixed:
        info.append(restorer.auto_line(item.source.name))
    if restorer.auto_filtered:
        info.append(restorer.auto_filter_line(item.source.name))
    if restorer.without_print:
        info.append(f"{item.source.name}: restored without a print, by the mean of {len(restorer.no_print_models)} "
                    "models (inference.no_print_models)")  # fmt: skip
    for line in warns:
        print_warning(line)
    for line in info:
        log.info("%s", line)
    return True


def run(cfg: Mapping) -> int:
    """The whole command for a composed config (root or ``inference`` group); returns the
    exit status. Errors are printed as ``error: <path>: <problem>``, never raised."""
    try:
        settings, files = _checked_arguments(cfg)
    except InferenceError as exc:
        print_error(exc)
        return 2 if isinstance(exc, UsageError) else 1
    log.setLevel(logging.WARNING if settings.quiet else logging.DEBUG if settings.verbose else logging.INFO)
    # matplotlib (imported with TensorFlow) logs "generated new fontManager" at INFO when it
    # builds its font cache; the command's stdout logging would print it even with quiet=true
    logging.getLogger("matplotlib").setLevel(logging.WARNING)

    folder_mode = settings.audio.is_dir()
    failures: list[str] = []
    skipped: list[Path] = []
    planned = naming.plan(files, settings, settings.audio if folder_mode else None, failures, skipped)
    if skipped:
        log.info("%d of %d files skipped: their outputs exist (inference.skip_existing=true)", len(skipped), len(files))
    if not planned:  # nothing left to restore: do not spend the model's start-up on it
        return report_failures(failures, len(files))
    try:
        restorer, spec, file_print = _restorer_for(settings)
    except UsageError as exc:
        print_error(exc)
        return 2
    except Exception as exc:  # unet.CheckpointError, or a config.json the model cannot use
        message = str(exc) if type(exc).__name__ == "CheckpointError" else f"{settings.checkpoint}: cannot load the model ({exc})"
        print_error(one_line(message, 300))
        return 1

    from tqdm import tqdm

    files_bar = tqdm(total=len(files), initial=len(failures) + len(skipped), unit="file", desc="files",
                     disable=settings.quiet or not folder_mode, position=0, dynamic_ncols=True)  # fmt: skip
    source = planned[0].source
    try:
        for item in planned:
            source = item.source
            if _tell_noise(item, restorer, spec, file_print, settings, failures):
                _restore_planned(item, restorer, settings, folder_mode, failures)
            files_bar.update(1)
    except KeyboardInterrupt:
        files_bar.close()
        print_error(f"{source}: interrupted; its outputs were not written")
        return 130
    files_bar.close()
    return report_failures(failures, len(files))


def _close_erased(bar: Any) -> None:
    """Close a progress bar and erase its line, so an error message stands on its own line
    instead of after a fragment of the bar."""
    bar.leave = False
    bar.close()


def _main() -> None:
    hydra_entry(run)


if __name__ == "__main__":
    _main()
