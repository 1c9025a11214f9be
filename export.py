"""Export a model for use outside this repository: ``python export.py [export.checkpoint=FOLDER]``.

Writes ``export.output_dir`` (default ``exported/default``) whole or not at all:

- ``saved_model/``: a TensorFlow SavedModel whose ``serving_default`` signature takes
  ``waveform`` (float32 ``[batch, samples]`` at the model's rate; a conditioned model also
  ``noise_power`` ``[batch, bins]``, or ``[batch, 2, bins]`` told the median) and returns ``noise`` (the estimate) and ``restored``
  (``waveform - noise``), each ``[batch, samples]``. STFT, padding and inverse STFT are inside
  the graph (``unet.WaveformDenoiser``), so plain TensorFlow runs it with no code of ours.
- ``model.onnx``: the same function in ONNX (converted by tf2onnx), run by onnxruntime.
- ``config.json``: the model config plus an ``export`` record (rate, inputs, outputs, the
  check below), so the folder describes itself; ``inference.backend=onnxruntime`` restores
  with it.

A strength ``s`` is applied by the caller: ``waveform - s * noise``. Long recordings are cut
into overlapping segments by the caller, as inference.py does (5 s with 1 s overlap). After
writing, each export is loaded back and run on ``export.check_seconds`` of the bundled example;
it is kept only if its restored waveform is within ``export.tolerance`` of the Keras model's.
"""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from exported_model import ONNX_FILE, export_of, file_sha256
from paths import DEFAULT_CHECKPOINT, REPO_ROOT, repo_path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # as inference.py: much faster on AVX2 CPUs

FORMATS = ("saved_model", "onnx")
SAVED_MODEL_DIR = "saved_model"
CHECK_AUDIO = REPO_ROOT / "examples" / "film_reel_noisy.wav"


class ExportError(Exception):
    """An export cannot be made as configured (bad settings, an existing output)."""


class ExportMismatch(ExportError):
    """A written export does not reproduce the Keras model within the tolerance."""


def serving_function(denoiser: Any) -> Any:
    """The exported function: a ``tf.function`` of ``waveform`` (and ``noise_power`` for a
    conditioned model) returning ``{"noise", "restored"}``."""
    import tensorflow as tf

    import unet

    signature = [tf.TensorSpec([None, None], tf.float32, name="waveform")]
    if denoiser.conditioned:
        shape = [None, *unet.noise_input_shape(denoiser.config)]  # [batch, bins] or [batch, 2, bins]
        signature.append(tf.TensorSpec(shape, tf.float32, name="noise_power"))

        def serve(waveform: tf.Tensor, noise_power: tf.Tensor) -> dict:
            out = denoiser(waveform, noise_power)
            return {"noise": out["noise"], "restored": out["restored"]}
    else:

        def serve(waveform: tf.Tensor) -> dict:
            out = denoiser(waveform)
            return {"noise": out["noise"], "restored": out["restored"]}

    return tf.function(serve, input_signature=signature)


def write_saved_model(denoiser: Any, function: Any, path: Path) -> None:
    """Write ``function`` as the ``serving_default`` signature of a SavedModel at ``path``.

    A plain ``tf.Module`` holds the denoiser, so each variable is stored once
    (keras.export.ExportArchive stored every one twice: 90 MB instead of 45).
    """
    import tensorflow as tf

    module = tf.Module()
    module.denoiser = denoiser
    module.serve = function
    tf.saved_model.save(module, str(path), signatures={"serving_default": function})


def write_onnx(function: Any, path: Path, opset: int) -> None:
    """Convert ``function`` to ONNX with tf2onnx; inputs and outputs keep their names."""
    import logging

    import tf2onnx

    from cli import native_stderr_silenced

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)  # it reports every graph rewrite at INFO
    with native_stderr_silenced():  # and TF's C++ logger adds its own lines
        tf2onnx.convert.from_function(function, input_signature=function.input_signature, opset=opset, output_path=str(path))


def check_inputs(model_cfg: Mapping, seconds: float) -> dict[str, np.ndarray]:
    """Inputs for the check: the first ``seconds`` of the bundled example's first channel at the model's
    rate, ``[1, samples]``, and for a conditioned model its auto noise print."""
    import audio_io
    import noise_print
    import unet

    audio, _ = audio_io.load_audio(CHECK_AUDIO, int(model_cfg["sample_rate"]), mono=False)
    x = np.ascontiguousarray(audio[: int(seconds * int(model_cfg["sample_rate"])), 0])
    inputs = {"waveform": x[None, :]}
    if str(model_cfg.get("conditioning") or "none") != "none":
        power = noise_print.auto_noise_power(x, int(model_cfg["n_fft"]), int(model_cfg["hop_length"]),
                                             statistics=unet.print_statistics(model_cfg))[0]
        inputs["noise_power"] = power[None].astype(np.float32)
    return inputs


def keras_reference(model: Any, model_cfg: Mapping, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
    """The restored waveform by the repository's own path (``tf.signal`` STFT around the
    Keras model, as inference.py runs it), the figure an export must match."""
    from loading import _noise_function

    fn = _noise_function(model, model_cfg)
    x = inputs["waveform"]
    noise = fn(x, inputs["noise_power"]) if "noise_power" in inputs else fn(x)
    return x - np.asarray(noise)


def run_saved_model(path: Path, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
    """Restore ``inputs`` with the SavedModel at ``path`` (plain TensorFlow)."""
    import tensorflow as tf

    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    return serve(**{k: tf.constant(v) for k, v in inputs.items()})["restored"].numpy()


def run_onnx(path: Path, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
    """Restore ``inputs`` with the ONNX file at ``path`` (onnxruntime, CPU)."""
    import onnxruntime

    ort_model = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in ort_model.get_outputs()]
    return ort_model.run(None, dict(inputs))[names.index("restored")]


def export_model(checkpoint: Path, output_dir: Path, formats: list[str], opset: int = 18, overwrite: bool = False,
                 check_seconds: float = 5.0, tolerance: float = 1e-4, refresh: bool = False) -> dict:
    """Export the model folder ``checkpoint`` to ``output_dir``; returns the export record
    (also written into ``output_dir/config.json``). ``refresh``: leave an ONNX export of the
    same weights as it is (the record then has ``unchanged``) and replace any other. Raises
    :class:`ExportError` or ``unet.CheckpointError``; on any failure nothing is left at
    ``output_dir`` (an export being replaced stays until the new one is complete)."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ExportError(f"export.formats: expected some of {list(FORMATS)}, got {list(formats)}")
    if not Path(checkpoint).is_dir():  # named first: a missing model is the thing to fix, not an existing export
        raise ExportError(f"{checkpoint}: checkpoint folder not found")
    if refresh and export_of(output_dir, checkpoint / "model.weights.h5"):
        return {**json.loads((output_dir / "config.json").read_text())["export"], "unchanged": True}
    if output_dir.exists() and not (overwrite or refresh):
        raise ExportError(f"{output_dir} already exists; pass export.overwrite=true to replace it")
    if output_dir.resolve() == checkpoint.resolve():
        raise ExportError(f"{output_dir}: refusing to export into the model folder itself")
    import loading
    import unet

    model, model_cfg = loading.load_model(checkpoint)
    denoiser = unet.WaveformDenoiser(model, model_cfg)
    function = serving_function(denoiser)
    inputs = check_inputs(model_cfg, check_seconds)
    reference = keras_reference(model, model_cfg, inputs)

    output_dir.parent.mkdir(parents=True, exist_ok=True)
    work = output_dir.parent / f".{output_dir.name}.part-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        checks: dict[str, float] = {}
        if "saved_model" in formats:
            write_saved_model(denoiser, function, work / SAVED_MODEL_DIR)
            checks["saved_model"] = float(np.abs(run_saved_model(work / SAVED_MODEL_DIR, inputs) - reference).max())
        if "onnx" in formats:
            write_onnx(function, work / ONNX_FILE, opset)
            checks["onnx"] = float(np.abs(run_onnx(work / ONNX_FILE, inputs) - reference).max())
        worst = max(checks, key=checks.get)
        if not checks[worst] <= tolerance:  # also catches NaN
            raise ExportMismatch(f"the {worst} export differs from the Keras model by {checks[worst]:.3g} "
                              f"(tolerance {tolerance:g}) on {check_seconds:g} s of {CHECK_AUDIO.name}")
        record = {
            "source": str(checkpoint),
            "weights_sha256": file_sha256(checkpoint / unet.WEIGHTS_FILE),
            "formats": [f for f in FORMATS if f in formats],
            "sample_rate": int(model_cfg["sample_rate"]),
            "inputs": ["waveform"] + (["noise_power"] if denoiser.conditioned else []),
            "outputs": ["noise", "restored"],
            "check": {"audio": CHECK_AUDIO.name, "seconds": check_seconds, "max_abs_difference": checks, "tolerance": tolerance},
        }
        (work / unet.CONFIG_FILE).write_text(json.dumps({**model_cfg, "export": record}, indent=2))
        # a folder, so audio_io.atomic_output (one file) does not serve: the folder is built beside
        # its final name and renamed into place whole, the same rule for a folder
        if output_dir.exists():  # overwrite: the old export goes only once the new one is complete
            old = output_dir.parent / f".{output_dir.name}.old-{os.getpid()}"
            os.replace(output_dir, old)
            os.replace(work, output_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(work, output_dir)
        return record
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6


def run(cfg: Mapping) -> int:
    """Export as configured; returns the process exit code (2: bad settings, 1: failed)."""
    import logging

    import configs
    from cli import UsageError, config_group, native_stderr_silenced, print_error

    try:
        ecfg = config_group(cfg, "export", configs.ExportConfig, marker="opset")
    except UsageError as exc:
        print_error(exc)
        return 2
    with native_stderr_silenced():  # TF's C++ start-up lines ignore TF_CPP_MIN_LOG_LEVEL
        import tensorflow  # noqa: F401
    for name in ("absl", "tensorflow"):  # "Assets written to ..." and the like
        logging.getLogger(name).setLevel(logging.WARNING)

    import unet

    checkpoint = Path(ecfg.checkpoint or DEFAULT_CHECKPOINT)
    checkpoint = checkpoint if checkpoint.is_absolute() else Path.cwd() / checkpoint
    output_dir = repo_path(ecfg.output_dir)  # the config names it from the repository, as setup.sh expects
    try:
        record = export_model(checkpoint, output_dir, list(ecfg.formats), ecfg.opset, ecfg.overwrite, ecfg.check_seconds,
                              ecfg.tolerance, ecfg.refresh)  # fmt: skip
    except (ExportError, unet.CheckpointError) as exc:
        print_error(exc)
        return 1 if isinstance(exc, ExportMismatch) else 2
    except KeyboardInterrupt:
        print_error("interrupted; nothing was written")
        return 130
    if record.get("unchanged"):
        if not cfg.get("quiet"):
            print(f"{output_dir}: already an export of these weights; left as it is")
        return 0
    if not cfg.get("quiet"):
        parts = [f"{name} ({_size_mb(output_dir / (SAVED_MODEL_DIR if name == 'saved_model' else ONNX_FILE)):.1f} MB)"
                 for name in record["formats"]]
        diffs = ", ".join(f"{k} {v:.2g}" for k, v in record["check"]["max_abs_difference"].items())
        print(f"wrote {output_dir}: {', '.join(parts)}; largest difference from the Keras model on "
              f"{record['check']['seconds']:g} s of {record['check']['audio']}: {diffs}")
    return 0


if __name__ == "__main__":
    from cli import hydra_entry

    hydra_entry(run)
