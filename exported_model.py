"""Run a model exported by export.py without TensorFlow: the ONNX file through onnxruntime.

An export folder holds ``config.json`` (the model config with an ``export`` record) and
``model.onnx``, whose inputs are ``waveform`` ``[batch, samples]`` (and ``noise_power``
``[batch, bins]`` for a conditioned model) and whose outputs are ``noise`` and
``restored``. :class:`OnnxDenoiser` is what ``inference.backend=onnxruntime`` restores with:
inference.py cuts files into segments and crossfades them as it does for the Keras model.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

CONFIG_FILE = "config.json"
ONNX_FILE = "model.onnx"


def stream_sha256(f: BinaryIO) -> str:
    """Hex SHA-256 of what an open binary stream holds from here on, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    for block in iter(lambda: f.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file."""
    with open(path, "rb") as f:
        return stream_sha256(f)


def export_of(folder: str | os.PathLike, weights: str | os.PathLike) -> bool:
    """Whether ``folder`` holds an ONNX export made from exactly the weights file ``weights``
    (export.py records the SHA-256 of the weights it exported)."""
    folder = Path(folder)
    try:
        record = json.loads((folder / CONFIG_FILE).read_text()).get("export") or {}
    except (OSError, ValueError):
        return False
    return (folder / ONNX_FILE).is_file() and Path(weights).is_file() and record.get("weights_sha256") == file_sha256(weights)


class ExportedModelError(Exception):
    """A folder is not an export this module can run."""


class OnnxDenoiser:
    """An exported model loaded into onnxruntime (CPU): ``noise(waveform[, noise_power])``."""

    def __init__(self, folder: str | os.PathLike, threads: int | None = None) -> None:
        folder = Path(folder)
        onnx_path, cfg_path = folder / ONNX_FILE, folder / CONFIG_FILE
        if not folder.is_dir():
            raise ExportedModelError(f"{folder}: model folder not found")
        if not onnx_path.is_file() or not cfg_path.is_file():
            raise ExportedModelError(f"{folder}: no {ONNX_FILE} beside {CONFIG_FILE}; write one with "
                                     f"python export.py export.checkpoint={folder} export.output_dir=FOLDER")
        try:
            self.config: dict = json.loads(cfg_path.read_text())
        except ValueError as exc:
            raise ExportedModelError(f"{cfg_path}: invalid model config ({exc})") from None
        import onnxruntime

        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        options.log_severity_level = 3  # its warnings about unused initialisers are not the user's business
        try:
            self.runtime = onnxruntime.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types for a damaged or foreign file
            raise ExportedModelError(f"{onnx_path}: cannot be loaded by onnxruntime ({' '.join(str(exc).split())[:300]})") from None
        self.inputs = [i.name for i in self.runtime.get_inputs()]
        self.outputs = [o.name for o in self.runtime.get_outputs()]
        if "waveform" not in self.inputs or "noise" not in self.outputs:
            raise ExportedModelError(f"{onnx_path}: not a restorer export (inputs {self.inputs}, outputs {self.outputs})")
        self.conditioned = "noise_power" in self.inputs

    def noise(self, waveform: Any, noise_power: Any = None) -> np.ndarray:
        """The noise estimate ``[batch, samples]`` of ``waveform`` ``[batch, samples]`` (float32 at
        the model's rate); a conditioned model also needs ``noise_power`` ``[batch, bins]`` (``[batch,
        2, bins]`` for one told the median, ``print_statistics: mean_median``)."""
        feed = {"waveform": np.ascontiguousarray(waveform, dtype=np.float32)}
        if self.conditioned:
            if noise_power is None:
                told = next(i for i in self.runtime.get_inputs() if i.name == "noise_power")
                shape = ", ".join(str(d) if isinstance(d, int) else "batch" for d in told.shape)
                raise ValueError(f"this model is conditioned (noise_psd): pass noise_power [{shape}]")
            feed["noise_power"] = np.ascontiguousarray(noise_power, dtype=np.float32)
        return self.runtime.run(["noise"], feed)[0]

    def __call__(self, waveform: Any, noise_power: Any = None) -> dict:
        """``{"noise", "restored"}`` as the SavedModel's signature returns them."""
        noise = self.noise(waveform, noise_power)
        return {"noise": noise, "restored": np.asarray(waveform, dtype=np.float32) - noise}
