"""Structured configs: the one source of defaults and types of every config group.

Each group's dataclass is stored in Hydra's ConfigStore as ``<group>/schema``; the YAML files
of ``conf/<group>/`` start with ``defaults: [schema, _self_]`` and set only what differs from
the dataclass (a preset such as ``model/tiny`` sets its sizes; ``inference/default`` may set
nothing). Hydra then rejects a key that is not a field (``Key 'strenght' not in
'InferenceConfig'``) and a value of the wrong type, with the key's name, before any code runs.
Code reads the composed config and keeps no default tables of its own.

This module sits at the bottom of the house: it imports no module of the project, so every
entry point (train.py, inference.py, evaluate.py, export.py, app.py, archive.py) and every
test that composes ``conf/`` imports it first, which registers the schemas.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

CONF_DIR = Path(__file__).resolve().parent / "conf"

# Each group's section below: one dataclass (and its nested ones), then a line in SCHEMAS.
SCHEMAS: dict[str, type] = {}


# --------------------------------------------------------------------------------- model
@dataclass
class ModelConfig:
    """The network (conf/model/*.yaml: small is the default, tiny and micro for tests, paper as published).

    What it is (unet.py, docs/ARCHITECTURE.md): the two-stage U-Net with SAM on the STFT as
    real and imaginary channels plus frequency-positional channels.
    """

    name: str = "small"
    architecture: str = "two_stage_unet_sam"  # what config.json records; unet.ARCHITECTURE
    sample_rate: int = 44100
    n_fft: int = 2048
    hop_length: int = 512
    stages: int = 2  # 1 = stage 1 only (no SAM), to measure what the second stage adds
    depth: int = 4  # down/up-sampling steps per U-Net
    filters: List[int] = field(default_factory=lambda: [16, 32, 32, 64, 64])  # per scale, bottleneck last (depth + 1)
    dense_layers: int = 3  # 3x3 conv + ELU layers per I-Block
    early_kernel: List[int] = field(default_factory=lambda: [7, 7])
    sampling_kernel: List[int] = field(default_factory=lambda: [4, 4])
    strides: Any = field(default_factory=lambda: [2, 2])  # one [time, freq] pair for every level, or a list of pairs
    block_kernel: List[int] = field(default_factory=lambda: [3, 3])
    pos_channels: int = 10  # frequency positional-embedding channels
    # stage-2 output form: direct (as published: stage 2 outputs the spectrogram) or residual
    # (stage 2 adds a correction to its noisy input)
    output: str = "residual"
    # none: the spectrogram alone; noise_psd: also told the noise power spectrum of a noise
    # print (noise_print.py; inference.noise_print), as two more input channels;
    # noise_psd_gain: noise_psd and a classical path in stage 2 (the spectral-subtraction
    # estimate told the same noise, blended in by a learned mask; unet.ClassicalGain);
    # noise_psd_refine: the same estimate with the mask open, stage 2 correcting it
    conditioning: str = "none"
    # what a conditioned model is told of the noise: mean (its power spectrum) or mean_median
    # (also its median power per bin, seen as a third channel: how impulsive the noise is in
    # each bin; noise_print.describe_noise, unet.PRINT_STATISTICS)
    print_statistics: str = "mean"


SCHEMAS["model"] = ModelConfig


# --------------------------------------------------------------------------------- train
@dataclass
class OptimizerConfig:
    """Adam, with the published betas."""

    beta_1: float = 0.5
    beta_2: float = 0.9
    clipnorm: Optional[float] = 1.0  # gradient clipping by global norm; null disables


@dataclass
class ScheduleConfig:
    """The learning rate: linear warm-up, then constant or a cosine to a floor."""

    name: str = "cosine"  # constant | cosine
    warmup_steps: int = 200  # linear warm-up from 0 (0 disables)
    decay_steps: int = 30000  # length of the cosine
    min_lr_ratio: float = 0.05  # cosine: floor as a fraction of lr


@dataclass
class LossConfig:
    """The training loss: the paper's MAE on both stages plus a little SI-SDR."""

    mae_weight: float = 1.0  # MAE on both stages' real/imag spectrograms
    stage1_weight: float = 1.0  # weight of the stage-1 term inside the MAE
    sisdr_weight: float = 0.1  # negative SI-SDR of the waveform (dB / 10)


@dataclass
class NoisePrintConfig:
    """How each example's noise print is made for a conditioned model (model.conditioning=
    noise_psd): the stretch of the same noise that follows the mixed one, never the mixed noise
    itself; a share is told the auto estimate from the noisy input instead."""

    seconds: List[float] = field(default_factory=lambda: [2.0, 8.0])  # print length, uniform
    level_error_db: float = 3.0  # the print's power is off by up to this much (uniform in dB)
    leak_db: List[float] = field(default_factory=lambda: [-40.0, -20.0])  # programme leaking in, re the print's level
    auto_share: float = 0.33  # share told the auto estimate (noise_print.auto_noise_power) instead
    # the auto estimate smoothed over this many bins (noise_print.smooth_over_frequency), as the
    # restorer smooths it (noise_print.NO_PRINT_SMOOTH_BINS); 0: unsmoothed, as runs before 2026-11-26
    auto_smooth_bins: int = 15


@dataclass
class TrainConfig:
    """The training recipe of the default model (docs/EXPERIMENTS.md for how it was chosen)."""

    segment_frames: int = 96  # STFT frames per training example (96 frames = 47,616 samples, 1.08 s)
    # auto | float32 | bfloat16. auto: bfloat16 where the CPU (AVX-512 BF16, AMX) or GPU (Ampere+)
    # has it natively, 2x faster there; emulated elsewhere, 3.7x slower
    precision: str = "auto"
    # default (one device) | mirrored (all local GPUs, or all logical CPUs where there are none) |
    # multiworker (TF_CONFIG)
    strategy: str = "default"
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    # Start from a saved model (a folder with config.json and model.weights.h5, e.g.
    # models/default to fine-tune the shipped model on your material, or a parked run of
    # parked_runs/, its weights rebuilt) instead of random weights.
    # init_step is the step to count from: the schedule and the data order go on from there.
    # Ignored when resume=true finds checkpoints. Relative paths are taken from the repository.
    init_from: Optional[str] = None
    init_step: int = 0
    # The validation score that picks best/: val_si_sdr_i (all items), val_si_sdr_i_synthetic,
    # val_si_sdr_i_recorded (held-out recorded noise only), val_si_sdr_i_low_snr (input <= 5 dB),
    # val_si_sdr_i_high_snr (>= 20 dB). Keep it for the life of a run: a resumed run compares
    # with the best score kept in its checkpoint. A fine-tune from models/default, which heard
    # the recorded files now held out, should use the synthetic score (docs/TRAINING.md).
    best_metric: str = "val_si_sdr_i"
    max_seconds: Optional[float] = None  # stop (validated and saved) after this much wall time; null = no limit
    log_every: int = 50  # with quiet=true: a log line every this many steps
    checkpoint_every: int = 100  # steps; a killed run loses at most this many
    keep_checkpoints: int = 3
    validation_items: int = 48  # the fixed validation set (dataset_loader.validation_set)
    validation_seconds: float = 3.0
    validation_batch: int = 8
    noise_print: NoisePrintConfig = field(default_factory=NoisePrintConfig)


SCHEMAS["train"] = TrainConfig


# --------------------------------------------------------------------------------- evaluate
@dataclass
class TargetsConfig:
    """What evaluate.py's report checks the model against, at one input SNR."""

    snr_db: float = 10.0  # the input SNR the targets are judged at (the middle one when not evaluated)
    si_sdr_i_db: float = 10.0  # SI-SDR improvement at least this
    over_classical_db: float = 3.0  # and this far above the best classical system (PESQ above it too)
    energy_within_db: float = 1.0  # output/clean energy in the active band within +- this (over-suppression)


@dataclass
class EvaluateConfig:
    """The evaluation set and systems (evaluate.py, docs/RESULTS.md)."""

    name: str = "default_model"
    checkpoint: Optional[str] = None  # model folder; null = inference.checkpoint or models/default
    seed: int = 1234
    seconds: float = 4.0  # length of each test item
    # each item a reel: crops of 3-8 s of its category's files with pauses of 0.5-2 s between
    # them (digital silence in the clean signal; the noise runs on), where the auto rule finds
    # noise alone as it would in a film's dialogue (evaluate.draw_reel); seconds >= 10
    reel: bool = False
    # items per (category, noise family, input SNR); item k is the same for any count, so the
    # first two are the set of the experiments that had 2 (docs/EXPERIMENTS.md)
    items_per_cell: int = 4
    snr_db: List[float] = field(default_factory=lambda: [0.0, 5.0, 10.0, 20.0])
    families: List[str] = field(default_factory=lambda: ["film", "gramophone", "tape", "recorded"])
    # oracle_wiener and oracle_psm are given the clean signal (baselines.ORACLES): ceilings, not baselines;
    # oracle_wiener_print the clean signal and the item's print (needs print_seconds > 0)
    systems: List[str] = field(default_factory=lambda: ["input", "noisereduce_stationary", "noisereduce_nonstationary",
                                                        "lsa", "model", "oracle_wiener", "oracle_psm"])  # fmt: skip
    perceptual: bool = True  # PESQ (wide band) and STOI
    output_dir: str = "docs/results"
    quiet: bool = False
    # Noise prints (docs/RESTORATION_GUIDE.md): with print_seconds > 0 every item comes with that
    # much more of its own noise (never the stretch mixed in), and these systems may be listed:
    # conditioned_print (with inference.classical_blend's share of LSA told the print, 0.25 where
    # it is null; inference.classical_blend=0 for the model alone), conditioned_auto (no print:
    # each segment's own estimate, as noise_print=none), conditioned_auto_print (no print: the auto
    # print of the whole item, as noise_print=auto, the default, with inference.noise_print_check;
    # on evaluate.reel items), conditioned_checked (the print used where the held-out check finds
    # it helps, with the share the share check chooses where inference.classical_blend is null,
    # as the command restores with a given print by default; all four need evaluate.conditioned_checkpoint, a model trained with model.conditioning=noise_psd,
    # and are the mean of it and inference.print_models where that lists others; told auto's print,
    # conditioned_auto_print restores beside the mean of inference.auto_models where that lists some),
    # lsa_print, noisereduce_print, checked_print (the model or LSA, as inference.classical_check
    # decides). 0 keeps the items without prints. Any set may list
    # no_print_models: the mean of the restorations of inference.no_print_models, each without a print.
    print_seconds: float = 0.0
    conditioned_checkpoint: Optional[str] = None
    # Mixes of two listed systems' restorations, "A:B:W" (W of A's, the rest B's), each scored
    # as a system named blend_A+B_W: e.g. conditioned_print:lsa_print:0.75 is what
    # inference.classical_blend=0.25 restores, from the restorations already made
    blends: List[str] = field(default_factory=list)
    targets: TargetsConfig = field(default_factory=TargetsConfig)


SCHEMAS["evaluate"] = EvaluateConfig


# --------------------------------------------------------------------------------- the root
@dataclass
class RootConfig:
    """conf/conf.yaml: the groups, and the training settings used most, at the top level so
    that users write ``python train.py epochs=20 batch_size=4 steps_per_epoch=200 lr=2e-4``."""

    epochs: int = 30
    batch_size: int = 4
    steps_per_epoch: int = 200
    lr: float = 3e-4
    seed: int = 0
    resume: bool = False
    quiet: bool = False  # no progress bar (for scripts and logs)
    # Each training run lives in experiments_root/<experiment>; with experiment unset the folder
    # is named from the command-line overrides (e.g. "batch_size=4,epochs=20"), or "default"
    # when there are none. Relative paths resolve against the repo root.
    experiments_root: str = "experiments"
    experiment: Optional[str] = None
    # the groups: each typed by its own schema (<group>/schema), merged in by the defaults list
    model: Any = None
    dset: Any = None
    noise: Any = None
    train: Any = None
    inference: Any = None
    app: Any = None
    evaluate: Any = None
    export: Any = None
    archive: Any = None


# ----------------------------------------------------------------------------- inference
@dataclass
class InferenceConfig:
    """Restoring files: ``python inference.py inference.audio=PATH [inference.KEY=VALUE ...]``
    (docs: inference.py). app.py and archive.py restore with these settings too."""

    audio: Optional[str] = None  # a file, or a folder of audio files (required)
    output_dir: Optional[str] = None  # null: outputs next to each input; else this folder (subfolders mirrored)
    checkpoint: Optional[str] = None  # model folder (config.json + model.weights.h5); null: the shipped models/default
    recursive: bool = True  # with a folder: also restore the files in its subfolders
    overwrite: bool = False  # replace outputs of an earlier run instead of stopping with an error
    # skip an input whose outputs all exist already (an earlier run restored it) instead of reporting
    # "output already exists": rerunning a folder resumes it; overwrite=true takes precedence
    skip_existing: bool = False
    # A file holding fewer frames than its header declares (an interrupted copy) is refused;
    # true restores the frames present, with a warning naming what is missing
    allow_truncated: bool = False
    # Fraction of the estimated noise that is removed: output = input - s * (input - model_output).
    # 0.0 returns the input bit for bit (the model is not run), 1.0 is the model's full
    # restoration; in between the removed energy grows monotonically (as s^2).
    # Output names carry N = 10 * s, "p" for a decimal point: <stem>_denoised_s<N>.wav,
    # <stem>_residual_s<N>.wav (1.0 -> s10, 0.7 -> s7, 0.72 -> s7p2); at most three decimals
    denoising_strength: float = 1.0
    # Long inputs are cut into overlapping segments, denoised in batches and joined with
    # raised-cosine crossfades (weights summing to one) in the middle half of each overlap.
    # The hop between segments is rounded to a multiple of 512 x the U-Net's time stride.
    segment_seconds: float = 5.0  # segment length at the model's rate
    overlap_seconds: float = 1.0  # at most segment_seconds / 2
    # Single-channel segments per model call; null: 1 on a CPU (larger batches measured no
    # faster there, only bigger: 1.4 GB peak with 1, 2.5 GB with 4), 4 on a GPU
    batch_segments: Optional[int] = None
    block_seconds: float = 10.0  # size of the blocks read from and written to files
    # auto: bfloat16 (mixed) on CPUs that compute it natively (AVX-512 BF16 or AMX: 2.3-2.6x less
    # CPU, output within ~1 % of the noise estimate), float32 elsewhere (docs/PERFORMANCE.md)
    precision: str = "auto"  # auto | float32 | bfloat16
    # tensorflow: the Keras model of a model folder. onnxruntime: the model.onnx of a folder
    # written by export.py (inference.checkpoint=exported/default); no TensorFlow graph is run.
    # auto: onnxruntime on a CPU in float32 where an export is at hand (the folder holds
    # model.onnx, or it is the shipped model and setup.sh exported it to exported/default from the
    # same weights): 0.57x the CPU time, within one 16-bit step (docs/PERFORMANCE.md); else tensorflow
    backend: str = "auto"
    plot: bool = False  # also write <stem>_spectrograms_s<N>.png (input, restored, residual)
    plot_seconds: float = 30.0  # the plot shows the first this many seconds
    quiet: bool = False  # no progress bars or info lines; warnings and errors still go to stderr
    verbose: bool = False  # also log the device (GPU/CPU), model and segmentation; tracebacks of unexpected failures
    # A conditioned model (model.conditioning=noise_psd) is told the noise's power spectrum:
    #   FILE        a noise-only recording (any rate and channels: resampled and mixed down)
    #   START-END   seconds of each input (e.g. 0-4.5: a run-in groove, a reel's leader)
    #   auto        the quietest 10 % of each input's first 10 minutes (the duration is printed)
    #   none        no print: the model estimates the noise from each segment itself (two passes:
    #               the auto rule, then the power of what the first restoration removed)
    #   null        auto for a conditioned model or with classical_check, none for any other (a
    #               print given to an unconditioned model without classical_check is an error).
    #               docs/RESTORATION_GUIDE.md says how to choose.
    noise_print: Optional[str] = None
    # Hold the last 30 % of the print out, mix it into the loudest 3 s of the input and restore
    # that with and without the rest of the print: the print is used only if it scores higher
    # (SI-SDR). Both scores and the decision are printed.
    noise_print_check: bool = True
    # Any model, with a print: mix the held-out 30 % of the print into a synthetic 3 s programme at
    # the input's estimated SNR and restore it with the model and with the classical Ephraim-Malah
    # LSA estimator told the rest of the print; the file is restored by whichever scores higher
    # (SI-SDR), both scores and the decision printed. For noise unlike the model's training noise
    # (docs/RESTORATION_GUIDE.md, "The classical check")
    classical_check: bool = False
    # Where a conditioned model is told a given print (a file or START-END; not auto's, whose
    # quiet passages hold programme too): this share (0..1) of the restoration is the classical
    # Ephraim-Malah LSA estimator's told the same print, the rest the model's. null: chosen per
    # file by the share check (noise_print.share_check: 0.2-1, on a held-out part of the print)
    # where noise_print_check is on and the print is long enough, else 0.25 (loading.CLASSICAL_BLEND);
    # a number: that share for every file; 0: the model alone; 0.5 for noise the model has never met.
    # What it measured: docs/RESTORATION_GUIDE.md, "A share for the classical estimator"
    classical_blend: Optional[float] = None
    # Model folders that restore instead of the checkpoint wherever it would restore without a
    # print (noise_print=none, auto finding too little quiet material, the held-out check
    # refusing the print; with an unconditioned checkpoint: always): the mean of their
    # restorations (list the checkpoint too to include its own). A conditioned one is told its
    # own estimate from each segment. [] (default): the checkpoint restores alone. What it
    # measured: docs/RESTORATION_GUIDE.md, "Without a print: other models, averaged"
    no_print_models: List[str] = field(default_factory=list)
    # Conditioned model folders that join a conditioned checkpoint told a given print (a file or
    # START-END; never auto's, never without a print): each told the same print, the mean of all
    # restores, and the classical share applies to that mean. With noise_print_check (default)
    # they join a file only where the print-models check finds the mean better on the held-out
    # part of the print (a print too short for it: the checkpoint alone); without it, always.
    # [] (default): the checkpoint alone. Each model adds its restoring time. What it measured
    # (not recommended yet): docs/RESTORATION_GUIDE.md, "Told a print: other models, averaged"
    print_models: List[str] = field(default_factory=list)
    # Where a conditioned model is told a given print (a file or START-END): a Wiener
    # post-filter of each segment whose programme power is the model's restoration (smoothed
    # over 3 frames of twice the model's window and hop) and whose noise power is the print's,
    # weighted this many times (baselines.wiener_postfilter); the classical share applies after
    # it, then the band below 150 Hz is filtered again in frames 8 times the model's, the print
    # not over-weighted (baselines.low_band_wiener); the checks test the print with both. Also
    # auto's print where the held-out check passed it, segment by segment: where the model took
    # out at most 3 dB more power than the print holds (noise it does not know), the model's
    # restoration alone passes the filter, its gain on half the noisy input
    # (loading.gated_postfiltered_noise). 0: off. What it measured:
    # docs/RESTORATION_GUIDE.md, "The post-filter"
    postfilter: float = 1.5
    # Model folders (any, each restoring without a print) whose mean restores beside a conditioned
    # checkpoint told auto's print (noise_print=auto, the default, where the held-out check keeps
    # it; where it refuses it, the checkpoint restores without a print): half of the restoration
    # is the checkpoint's, half theirs (loading.AUTO_MODELS_SHARE); where auto's print is too short
    # for the held-out check (a recording under about 17 s), theirs alone (no_print_models: not here). []
    # (default): the checkpoint alone. Each model adds its restoring time. Recommended with a
    # conditioned model: [models/default]. What it measured: docs/RESTORATION_GUIDE.md, "Auto's
    # print beside the shipped model"
    auto_models: List[str] = field(default_factory=list)
    # Where a conditioned checkpoint is told a print whose audio the restorer holds (a given print,
    # auto's print where the held-out check passed it, and the prints the checks test), the band of
    # its restoration below this many Hz is made a second time with each segment at half the
    # model's rate, the model told the print resampled alike (loading.half_rate_low_band_noise): twice
    # the frequency resolution where hum, drones and rumble lie under the programme's bass. About
    # half again the conditioned model's time where it applies. Below a quarter of the model's
    # rate; 0: off. What it measured: docs/RESTORATION_GUIDE.md, "The low band at half rate"
    half_rate_below_hz: float = 150.0


SCHEMAS["inference"] = InferenceConfig


# ----------------------------------------------------------------------------------- app
@dataclass
class AppConfig:
    """The web page: ``python app.py [app.KEY=VALUE ...] [inference.checkpoint=FOLDER ...]`` (docs: app.py).

    The page restores with the inference group's settings: checkpoint, precision, segment_seconds,
    overlap_seconds, batch_segments, block_seconds, allow_truncated, noise_print_check,
    classical_blend, postfilter, plot_seconds (the spectrograms show the first this many seconds),
    denoising_strength (the slider's starting value), noise_print (auto, none or START-END),
    classical_check (the noise-print section's start), no_print_models, print_models and auto_models.
    """

    # 127.0.0.1: this machine only; 0.0.0.0 serves the local network (no login: trusted networks only)
    host: str = "127.0.0.1"
    port: int = 7860  # the page is at http://HOST:PORT


SCHEMAS["app"] = AppConfig


# ------------------------------------------------------------------------------- archive
@dataclass
class ArchiveConfig:
    """An archive on Beam: ``python archive.py archive.input=FOLDER archive.output_dir=FOLDER
    [inference.KEY=VALUE ...]`` (docs: archive.py).

    The files are restored with the inference group's settings (checkpoint, backend, precision,
    denoising_strength, segmentation, noise_print, allow_truncated, plot); inference.audio and
    inference.output_dir play no part.
    """

    input: Optional[str] = None  # a folder, one file, or a glob; any Beam file system (gs://bucket/transfers/**)
    output_dir: Optional[str] = None  # outputs (input subfolders mirrored) and manifest.jsonl; required
    recursive: bool = True  # with a folder: also the files in its subfolders
    # Local runner (DirectRunner): worker processes, each loading the model once (about 1.2-1.4 GB
    # each with the shipped model in float32, docs/PERFORMANCE.md); one per free core
    workers: int = 2
    running_mode: str = "multi_processing"  # in_memory | multi_threading | multi_processing (--direct_running_mode)
    # Beam pipeline options passed through; a --runner among them replaces the local runner, e.g.
    # '[--runner=DataflowRunner, --project=P, --region=R, --temp_location=gs://B/tmp]' (docs/RESTORATION_GUIDE.md)
    beam_options: List[str] = field(default_factory=list)


SCHEMAS["archive"] = ArchiveConfig


# -------------------------------------------------------------------------------- export
@dataclass
class ExportConfig:
    """SavedModel and ONNX exports: ``python export.py [export.checkpoint=FOLDER]
    [export.output_dir=FOLDER]`` (docs: export.py)."""

    checkpoint: Optional[str] = None  # model folder (config.json + model.weights.h5); null: the shipped models/default
    output_dir: str = "exported/default"  # written whole or not at all; relative paths from the repository folder
    formats: List[str] = field(default_factory=lambda: ["saved_model", "onnx"])  # any of saved_model (TensorFlow) and onnx (onnxruntime)
    opset: int = 18  # ONNX opset
    overwrite: bool = False  # replace an existing output_dir
    refresh: bool = False  # keep an output_dir exported from the same weights (ONNX), replace any other (setup.sh)
    # After writing, each export is loaded back and run on this many seconds of the bundled
    # example (examples/film_reel_noisy.wav, first channel); the export is kept only if its
    # restored waveform is within `tolerance` (absolute, full scale 1.0) of the Keras model's
    check_seconds: float = 5.0
    tolerance: float = 1e-4


SCHEMAS["export"] = ExportConfig


# --------------------------------------------------------------------------------- noise
@dataclass
class RecordedVariationConfig:
    """Recorded noise replayed at another speed and recoloured, so that a few minutes of real
    recordings give textures at spectra the model has not heard (noise_families.RecordingVariation;
    docs/DATA.md, "Recorded noise, varied"). Training examples only: validation and evaluation
    hear the recordings as they are. The noise and its print get the same variation."""

    prob: float = 0.0  # chance an example's recorded noise is varied; 0 keeps the recordings as they are
    speed: List[float] = field(default_factory=lambda: [0.5, 2.0])  # playback speed, log-uniform: 50 Hz hum lands at 25-100 Hz
    slope_db_per_octave: List[float] = field(default_factory=lambda: [-4.0, 4.0])  # added tilt around 1 kHz
    peaks: List[float] = field(default_factory=lambda: [0.0, 3.0])  # resonances and notches added
    peak_hz: List[float] = field(default_factory=lambda: [50.0, 12000.0])  # log-uniform
    peak_gain_db: List[float] = field(default_factory=lambda: [-15.0, 15.0])
    peak_width_oct: List[float] = field(default_factory=lambda: [0.2, 1.5])


@dataclass
class NoiseConfig:
    """How the training noise is mixed (degradations.NoiseSource; docs/DATA.md, "Noise").

    The families' parameters are not fields here: each ``conf/noise/<family>.yaml`` adds its
    family's section (``film:``, ``tape:`` ...) beside these keys, so the node is open (see
    ``SCHEMAS["noise"]``), and ``degradations.noise_config`` rejects a key that is neither a
    field nor a registered family, and any key inside a family's section that the family does
    not read, with the key's full name. That keeps adding a family to one function and one
    YAML file (docs/ARCHITECTURE.md, "Adding a noise family").
    """

    snr_db: List[float] = field(default_factory=lambda: [0.0, 25.0])  # SNR range in dB; drawn (uniform in dB) and applied by the loader
    recorded_share: float = 0.0  # share of examples using recorded noise instead of synthetic
    # Folders of noise recordings (any format libsndfile reads, any rate; downmixed and
    # resampled). Relative paths resolve against the repository root, not the working directory.
    recorded_dirs: List[str] = field(default_factory=list)
    recorded_crossfade_s: float = 0.5  # files shorter than an example are looped with this crossfade
    # Share of the recorded files (by a hash of folder name / file path, stable as files are
    # added) held out of training for validation and evaluate.py, so that the "recorded"
    # results are on noise the model has not heard. 0 uses every file for both.
    recorded_validation_fraction: float = 0.2
    validation_recorded_share: Optional[float] = None  # recorded share of the validation set; null = recorded_share
    # {family: weight} of the synthetic examples; empty: every family whose section the
    # config holds, equally (so conf/noise/film.yaml alone means film only)
    family_weights: Dict[str, float] = field(default_factory=dict)
    second_family_prob: float = 0.0  # chance of adding a second, different family (e.g. a film transferred via tape)
    second_family_level_db: List[float] = field(default_factory=lambda: [-12.0, 0.0])  # the second family against the first, uniform in dB
    recorded_variation: RecordedVariationConfig = field(default_factory=RecordedVariationConfig)


def _open_node(schema: type) -> DictConfig:
    """``schema`` as a node that also takes keys it does not declare (typed fields stay typed)."""
    node = OmegaConf.structured(schema)
    OmegaConf.set_struct(node, False)
    return node


SCHEMAS["noise"] = _open_node(NoiseConfig)  # type: ignore[assignment]  # open: the families' sections


# ---------------------------------------------------------------------------------- dset
@dataclass
class CategoryConfig:
    """One category of clean material (dataset_loader.CleanCorpus)."""

    # One folder or a list of folders, searched recursively (any format libsndfile reads, any
    # rate, mono or stereo: downmixed and resampled to the model rate). Relative paths resolve
    # against the repository folder, not the current directory.
    dirs: Any = MISSING
    weight: float = 0.0  # share of training examples cut from it; 0: ignored (its folder may be empty or missing)


@dataclass
class DsetConfig:
    """The clean material and how examples are cut from it (dataset_loader.py, docs/DATA.md)."""

    name: str = "corpus"
    categories: Dict[str, CategoryConfig] = field(default_factory=dict)
    # Files go to validation when a hash of "<folder name>/<path in folder>" (salted with
    # split_seed) falls below this fraction; at least one file per category always does.
    # The split does not depend on the training seed, and adding files never moves old ones.
    validation_fraction: float = 0.1
    split_seed: int = 0
    # shorter files are skipped (listed in one warning); files shorter than a segment are
    # placed at a random offset in silence
    min_file_seconds: float = 0.1
    silence_threshold_db: float = -50.0  # a crop whose RMS is below this (dB re full scale) is redrawn ...
    silence_retries: int = 8  # ... up to this many times (then the loudest crop is kept)
    gain_db: List[float] = field(default_factory=lambda: [-6.0, 4.0])  # beta: gain applied to input and target, uniform in dB
    # Pauses in the programme (training examples only): this share of them has the programme
    # silenced over one span, a fraction in pause_fraction of the segment (1: noise alone),
    # the noise left as it was, scaled to the SNR of the programme before the pause, as on a
    # reel whose noise runs on between lines or cues. 0 leaves every example as it was.
    pause_share: float = 0.0
    pause_fraction: List[float] = field(default_factory=lambda: [0.25, 1.0])
    # Notch steady tones (mains hum, buzz: steady_tones.py) out of each clean file as it is
    # loaded, so that hum recorded with the programme is not taught as programme. Applies to
    # every split the corpus serves (validation and evaluate.py's references too).
    notch_steady_tones: bool = False
    validation_snr_db: List[float] = field(default_factory=lambda: [0.0, 5.0, 10.0, 20.0])  # validation SNRs, cycled within each category
    # Decoded, resampled files are kept in an LRU cache of this many MB per data set
    # (0 = decode on every use). preload: decode every file at start (ignores cache_mb).
    # Measured choice: docs/PERFORMANCE.md, "Data loader".
    cache_mb: float = 1024.0
    preload: bool = False
    num_parallel_calls: Optional[int] = 2  # examples made at once (null = tf.data AUTOTUNE)
    prefetch_batches: int = 2


SCHEMAS["dset"] = DsetConfig


def plain(cfg: Any) -> Any:
    """A plain-Python copy (dicts, lists) of an OmegaConf node with interpolations resolved;
    anything else is returned as it is.

    A mandatory value left as ``???`` is a ``ValueError`` naming the key, so a template whose
    paths were not filled in stops with one line rather than a traceback.
    """
    from omegaconf.errors import MissingMandatoryValue

    if not OmegaConf.is_config(cfg):
        return cfg
    try:
        return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as exc:
        key = getattr(exc, "full_key", None) or str(exc).splitlines()[0]
        raise ValueError(
            f"{key}: a mandatory path is not set (still '???'); give it in the config or on the command line"
        ) from None


def group_config(group: str, name: str) -> DictConfig:
    """One group's config as Hydra composes it (the YAML file over what its defaults list
    names: the group's schema, or another file of the group), without composing the whole
    tree: for tools and tests that need, say, the tiny model's settings alone."""
    raw = OmegaConf.load(CONF_DIR / group / f"{name}.yaml")
    defaults = list(raw.pop("defaults", None) or [])
    if "_self_" not in defaults:
        defaults.append("_self_")
    parts = []
    for entry in defaults:
        if entry == "_self_":
            parts.append(raw)
        elif entry == "schema":
            parts.append(OmegaConf.structured(SCHEMAS[group]))
        else:
            parts.append(group_config(group, str(entry)))
    return OmegaConf.merge(*parts)


def register() -> None:
    """Store every schema in Hydra's ConfigStore (idempotent; done on import)."""
    store = ConfigStore.instance()
    store.store(name="root_schema", node=RootConfig)
    for group, node in SCHEMAS.items():
        store.store(group=group, name="schema", node=node)


register()


# --------------------------------------------------------------------------- training settings
# Checked before TensorFlow is imported (train.py), so that a mistyped start is refused in a second.


def is_chief(strategy: str, tf_config: str | None = None) -> bool:
    """Whether this process writes the experiment folder (checkpoints, ``best/``, logs).

    Only ``multiworker`` runs other processes: there the chief, by TF's rule the task of type
    ``chief`` or else worker 0, writes; the other workers write nothing there. ``tf_config``
    defaults to the ``TF_CONFIG`` environment variable. Raises ``ValueError`` naming the
    problem when that is missing or malformed.
    """
    if strategy != "multiworker":
        return True
    text = os.environ.get("TF_CONFIG") if tf_config is None else tf_config
    if not text:
        raise ValueError("TF_CONFIG: not set; train.strategy=multiworker needs it on every worker (docs/TRAINING.md)")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"TF_CONFIG: not valid JSON ({exc})") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise ValueError('TF_CONFIG: expected {"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": 0}}')
    for kind, addresses in cluster.items():
        if not isinstance(addresses, list) or not addresses or not all(isinstance(a, str) and ":" in a for a in addresses):
            raise ValueError(f"TF_CONFIG: cluster.{kind}: expected a list of host:port addresses, got {addresses!r}")
    kind, index = task.get("type"), task.get("index")
    if kind not in cluster:
        raise ValueError(f"TF_CONFIG: task.type: expected one of {', '.join(cluster)}, got {kind!r}")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(cluster[kind]):
        raise ValueError(f"TF_CONFIG: task.index: expected 0 to {len(cluster[kind]) - 1} for {kind}, got {index!r}")
    return kind == "chief" or ("chief" not in cluster and kind == "worker" and index == 0)


# Settings that must be whole numbers of at least 1, and positive numbers; "key" as written on
# the command line. A zero or negative value would crash mid-run (checkpoint_every=0) or
# train nothing and report success (epochs=0).
_AT_LEAST_ONE = ("epochs", "steps_per_epoch", "batch_size", "train.segment_frames", "train.checkpoint_every",
                 "train.keep_checkpoints", "train.log_every", "train.validation_items", "train.validation_batch")  # fmt: skip
_POSITIVE = ("lr", "train.validation_seconds")


def check_settings(cfg: DictConfig) -> None:
    """Raise ``ValueError`` naming the key for a training setting out of range.

    The types are the schema's (configs.py: Hydra rejects ``epochs=abc`` before this runs);
    the ranges are checked here, before the experiment folder is made, so a mistyped setting
    costs no time and leaves nothing behind.
    """
    for key in _AT_LEAST_ONE:
        v = OmegaConf.select(cfg, key, default=None)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{key}: expected a whole number of at least 1, got {v!r}")
    for key in (*_POSITIVE, "train.max_seconds"):
        v = OmegaConf.select(cfg, key, default=None)
        if v is None and key == "train.max_seconds":  # null means no limit
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v > 0):
            raise ValueError(f"{key}: expected a positive number, got {v!r}")
    seed = cfg.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed: expected a whole number, got {seed!r}")
