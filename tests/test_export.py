"""export.py, unet.WaveformDenoiser and the onnxruntime backend.

The exports are loaded back in separate Python processes started in isolated mode (``-I``:
no current folder, no PYTHONPATH) from an empty folder, so that they run with plain
TensorFlow and plain onnxruntime and none of this repository's modules.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import configs
import export
import exported_model
import inference
import loading
import unet
from conftest import REPO_ROOT

EXAMPLE = REPO_ROOT / "examples" / "film_reel_noisy.wav"
# restored waveforms, full scale 1.0: the float32 DFT products against tf.signal's FFT
TOLERANCE = 1e-4


def _conditioned_micro(folder: Path, conditioning: str = "noise_psd") -> Path:
    import keras
    from omegaconf import OmegaConf

    cfg = OmegaConf.to_container(configs.group_config("model", "micro"))
    cfg["conditioning"] = conditioning
    keras.utils.set_random_seed(5)
    return unet.save_denoiser(unet.build_model(cfg), cfg, folder)


@pytest.fixture(scope="module")
def exported(micro_checkpoint, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "micro"
    export.export_model(micro_checkpoint, out, ["saved_model", "onnx"], check_seconds=3.0)
    return out


@pytest.fixture(scope="module")
def example_inputs(micro_checkpoint) -> tuple[np.ndarray, np.ndarray]:
    """3.3 s of the bundled example (a length that fills no whole number of strided frames)
    and the restored waveform by the repository's tf.signal path."""
    model, cfg = inference.load_model(micro_checkpoint)
    inputs = export.check_inputs(cfg, 3.3)
    return inputs["waveform"], export.keras_reference(model, cfg, inputs)


def _isolated(code: str, cwd: Path, **arrays: np.ndarray) -> np.ndarray:
    """Run ``code`` in a fresh interpreter that cannot import this repository; ``arrays`` are
    handed over in an .npz, and the code saves its answer as ``out`` in out.npy."""
    np.savez(cwd / "in.npz", **arrays)
    proc = subprocess.run([sys.executable, "-I", "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return np.load(cwd / "out.npy")


def test_saved_model_runs_with_plain_tensorflow_and_matches_the_keras_model(exported, example_inputs, tmp_path):
    waveform, reference = example_inputs
    code = (
        "import sys, numpy as np, tensorflow as tf\n"
        "assert not any(m in sys.modules for m in ('unet', 'stft', 'inference', 'export'))\n"
        "a = np.load('in.npz')\n"
        f"serve = tf.saved_model.load({str(exported / 'saved_model')!r}).signatures['serving_default']\n"
        "out = serve(waveform=tf.constant(a['x']))\n"
        "assert set(out) == {'noise', 'restored'}, list(out)\n"
        "np.testing.assert_allclose(out['noise'].numpy() + out['restored'].numpy(), a['x'], atol=1e-6)\n"
        "np.save('out.npy', out['restored'].numpy())\n"
    )
    restored = _isolated(code, tmp_path, x=waveform)
    assert restored.shape == waveform.shape
    assert np.abs(restored - reference).max() < TOLERANCE
    assert np.abs(restored - waveform).max() > 1e-3  # the model did something: the check is not vacuous


def test_onnx_runs_with_plain_onnxruntime_and_matches_the_keras_model(exported, example_inputs, tmp_path):
    waveform, reference = example_inputs
    batch = np.concatenate([waveform, waveform[:, ::-1]])  # a batch of two, any length
    code = (
        "import sys, numpy as np, onnxruntime as ort\n"
        "assert 'tensorflow' not in sys.modules\n"
        "a = np.load('in.npz')\n"
        f"s = ort.InferenceSession({str(exported / 'model.onnx')!r}, providers=['CPUExecutionProvider'])\n"
        "assert [i.name for i in s.get_inputs()] == ['waveform'], s.get_inputs()\n"
        "noise, restored = s.run(['noise', 'restored'], {'waveform': a['x']})\n"
        "np.save('out.npy', restored)\n"
    )
    restored = _isolated(code, tmp_path, x=np.ascontiguousarray(batch))
    assert restored.shape == batch.shape
    assert np.abs(restored[0] - reference[0]).max() < TOLERANCE


def test_export_folder_describes_itself(exported, micro_checkpoint):
    cfg = json.loads((exported / "config.json").read_text())
    source = json.loads((Path(micro_checkpoint) / "config.json").read_text())
    assert {k: cfg[k] for k in source} == source
    record = cfg["export"]
    assert record["formats"] == ["saved_model", "onnx"] and record["inputs"] == ["waveform"]
    assert record["outputs"] == ["noise", "restored"] and record["sample_rate"] == 44100
    assert set(record["check"]["max_abs_difference"]) == {"saved_model", "onnx"}
    assert max(record["check"]["max_abs_difference"].values()) < record["check"]["tolerance"]
    assert not [p for p in exported.parent.iterdir() if p.name.startswith(".")]  # no work folder left


def test_refresh_replaces_a_stale_export_and_a_conditioned_model_exports_with_a_noise_power_input(exported, micro_checkpoint, tmp_path):
    import onnxruntime

    shutil.copytree(exported, tmp_path / "out")  # an export of other weights: stale for the model below
    stamp = (tmp_path / "out" / "model.onnx").stat().st_mtime_ns
    assert export.export_model(micro_checkpoint, tmp_path / "out", ["onnx"], refresh=True)["unchanged"] is True
    assert (tmp_path / "out" / "model.onnx").stat().st_mtime_ns == stamp  # current: left as it is
    checkpoint = _conditioned_micro(tmp_path / "cond")
    record = export.export_model(checkpoint, tmp_path / "out", ["onnx"], check_seconds=2.0, refresh=True)
    assert "unchanged" not in record and record["inputs"] == ["waveform", "noise_power"]
    assert exported_model.export_of(tmp_path / "out", checkpoint / "model.weights.h5")
    assert not exported_model.export_of(tmp_path / "out", Path(micro_checkpoint) / "model.weights.h5")
    ort_model = onnxruntime.InferenceSession(str(tmp_path / "out" / "model.onnx"), providers=["CPUExecutionProvider"])
    x = (0.1 * np.random.default_rng(0).standard_normal((1, 30000))).astype(np.float32)
    quiet, loud = (np.full((1, 1025), p, np.float32) for p in (1e-6, 1e2))
    a = ort_model.run(["restored"], {"waveform": x, "noise_power": quiet})[0]
    b = ort_model.run(["restored"], {"waveform": x, "noise_power": loud})[0]
    assert a.shape == x.shape and np.abs(a - b).max() > 1e-6  # the print reaches the network
    assert not (tmp_path / "out" / "saved_model").exists()
    # the restorer tells the exported model a print as it tells the Keras one
    restorer = inference.Restorer.from_pretrained(tmp_path / "out", backend="onnxruntime", segment_seconds=1.0, overlap_seconds=0.25)
    keras_restorer = inference.Restorer.from_pretrained(checkpoint, precision="float32", segment_seconds=1.0, overlap_seconds=0.25)
    programme = x[0] + 0.2 * np.sin(np.arange(x.shape[1]) * 0.05).astype(np.float32)
    hiss = (0.1 * np.random.default_rng(1).standard_normal(2 * 44100)).astype(np.float32)
    told = restorer.restore(programme, 44100, noise_print=hiss)
    assert np.abs(told - restorer.restore(programme, 44100)).max() > 1e-6
    assert np.abs(told - keras_restorer.restore(programme, 44100, noise_print=hiss)).max() < TOLERANCE


def test_export_refuses_bad_settings_and_never_replaces_an_output_unasked(exported, micro_checkpoint, tmp_path):
    with pytest.raises(export.ExportError, match="already exists"):
        export.export_model(micro_checkpoint, exported, ["onnx"])
    with pytest.raises(export.ExportError, match="export.formats"):
        export.export_model(micro_checkpoint, tmp_path / "x", ["tflite"])
    with pytest.raises(export.ExportError, match="model folder itself"):
        export.export_model(micro_checkpoint, Path(micro_checkpoint), ["onnx"], overwrite=True)
    with pytest.raises(export.ExportError, match="missing: checkpoint folder not found"):
        export.export_model(tmp_path / "missing", tmp_path / "y", ["onnx"])
    with pytest.raises(export.ExportError, match="missing: checkpoint folder not found"):  # before the existing export
        export.export_model(tmp_path / "missing", exported, ["onnx"])
    assert not list(tmp_path.iterdir())
    # a mismatch (here: a tolerance nothing can meet) leaves no folder behind
    with pytest.raises(export.ExportMismatch, match="differs from the Keras model"):
        export.export_model(micro_checkpoint, tmp_path / "z", ["onnx"], check_seconds=1.0, tolerance=0.0)
    assert not list(tmp_path.iterdir())


def test_export_command_line(micro_checkpoint, tmp_path, capsys):
    from omegaconf import OmegaConf

    # the entry point: Hydra's rejection of a bad key is one line and exit 2, before TensorFlow loads
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "export.py"), "export.formatz=[onnx]"], capture_output=True, text=True, timeout=120)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and "formatz" in lines[0], proc.stderr
    # what a successful run prints (run() is what the entry point calls)
    out = tmp_path / "cli"
    cfg = OmegaConf.create(dataclasses.asdict(configs.ExportConfig()))
    cfg.update(checkpoint=str(micro_checkpoint), output_dir=str(out), formats=["onnx"], check_seconds=1.0)
    assert export.run(OmegaConf.create({"export": cfg})) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"wrote {out}: onnx (") and "largest difference from the Keras model" in printed
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.onnx"]


def test_export_run_refuses_an_existing_output_in_one_line(exported, micro_checkpoint, capsys):
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"export": {"checkpoint": str(micro_checkpoint), "output_dir": str(exported), "formats": ["onnx"]}})
    assert export.run(cfg) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "overwrite" in lines[0], lines
    cfg.export.refresh = True  # the same weights: nothing to do, and said so
    assert export.run(cfg) == 0
    assert "already an export of these weights" in capsys.readouterr().out


# --------------------------------------------------------------------------- the onnxruntime backend


def test_onnxruntime_backend_restores_a_file_as_tensorflow_does(exported, micro_checkpoint, tmp_path):
    from omegaconf import OmegaConf

    src = tmp_path / "reel.wav"
    audio, sr = sf.read(EXAMPLE, frames=int(4.2 * 44100), always_2d=True)
    sf.write(src, audio, sr, subtype="FLOAT")
    outputs = {}
    for backend, checkpoint in (("tensorflow", micro_checkpoint), ("onnxruntime", exported)):
        cfg = OmegaConf.create(dataclasses.asdict(configs.InferenceConfig()))
        cfg.update(audio=str(src), checkpoint=str(checkpoint), backend=backend, quiet=True, segment_seconds=2.0,
                   overlap_seconds=0.5, output_dir=str(tmp_path / backend), precision="float32")
        assert inference.run(cfg) == 0
        outputs[backend], _ = sf.read(tmp_path / backend / "reel_denoised_s10.wav", always_2d=True)
    assert outputs["onnxruntime"].shape == audio.shape
    assert np.abs(outputs["onnxruntime"] - outputs["tensorflow"]).max() < TOLERANCE
    assert np.abs(outputs["onnxruntime"] - audio).max() > 1e-3


def test_onnxruntime_backend_needs_an_export_folder(micro_checkpoint, tmp_path, capsys):
    from omegaconf import OmegaConf

    src = tmp_path / "reel.wav"
    sf.write(src, np.zeros((4410, 1), np.float32) + 0.01, 44100)
    cfg = OmegaConf.create(dataclasses.asdict(configs.InferenceConfig()))
    cfg.update(audio=str(src), checkpoint=str(micro_checkpoint), backend="onnxruntime", quiet=True)
    assert inference.run(cfg) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "no model.onnx" in err[0] and "export.py" in err[0], err
    cfg.update(backend="onnxruntime", precision="bfloat16")
    assert inference.run(cfg) == 2
    cfg.update(backend="torch", precision="auto")
    assert inference.run(cfg) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reel.wav"]


# --------------------------------------------------------------------------- the waveform model


def test_waveform_denoiser_is_the_spectrogram_model_with_its_stft_around_it(micro_checkpoint):
    model, cfg = inference.load_model(micro_checkpoint)
    denoiser = unet.WaveformDenoiser(model, cfg)
    x = (0.1 * np.random.default_rng(2).standard_normal((2, 12345))).astype(np.float32)
    out = denoiser(x)
    reference = np.asarray(loading._noise_function(model, cfg)(x))
    assert out["noise"].shape == x.shape and len(out["stages"]) == 2
    np.testing.assert_allclose(np.asarray(out["noise"]), reference, atol=TOLERANCE)
    np.testing.assert_allclose(np.asarray(out["restored"]) + np.asarray(out["noise"]), x, atol=1e-6)
    assert np.abs(np.asarray(out["stages"][0]) - np.asarray(out["stages"][1])).max() > 1e-6


def test_waveform_denoiser_of_a_conditioned_model_wants_the_noise_power(tmp_path):
    model, cfg = unet.load_denoiser(_conditioned_micro(tmp_path / "cond"))
    denoiser = unet.WaveformDenoiser(model, cfg)
    with pytest.raises(ValueError, match="noise_power"):
        denoiser(np.zeros((1, 4096), np.float32))
    out = denoiser(np.zeros((1, 4096), np.float32), np.full((1, 1025), 1e-4, np.float32))
    assert out["restored"].shape == (1, 4096)


def test_auto_backend_takes_an_export_of_the_same_weights_on_a_cpu(exported, micro_checkpoint, tmp_path, monkeypatch):
    micro = Path(micro_checkpoint)
    monkeypatch.setattr(loading, "compute_device", lambda: "CPU")
    assert loading.resolve_backend(exported, "auto") == (exported, "onnxruntime")  # an export folder
    assert loading.resolve_backend(micro, "auto") == (micro, "tensorflow")  # a Keras folder alone
    monkeypatch.setattr(loading, "DEFAULT_CHECKPOINT", micro)
    monkeypatch.setattr(loading, "DEFAULT_EXPORT", exported)
    assert loading.resolve_backend(micro, "auto") == (exported, "onnxruntime")  # the shipped model, exported
    assert loading.resolve_backend(micro, "tensorflow") == (micro, "tensorflow")  # asked for
    assert loading.resolve_backend(micro, "auto", "bfloat16") == (micro, "tensorflow")  # ONNX is float32
    model, model_cfg = inference.load_model(micro, "float32", "auto")
    assert isinstance(model, exported_model.OnnxDenoiser) and inference.Restorer(model, model_cfg).backend == "onnxruntime"
    monkeypatch.setattr(loading, "compute_device", lambda: "GPU (/physical_device:GPU:0)")
    assert loading.resolve_backend(micro, "auto") == (micro, "tensorflow")
    # other weights (a retrained model in the same folder): the export no longer counts
    monkeypatch.setattr(loading, "compute_device", lambda: "CPU")
    other = tmp_path / "other"
    shutil.copytree(micro, other)
    with open(other / "model.weights.h5", "ab") as f:
        f.write(b"\0")
    monkeypatch.setattr(loading, "DEFAULT_CHECKPOINT", other)
    assert loading.resolve_backend(other, "auto") == (other, "tensorflow")


@pytest.mark.parametrize("conditioning", ["noise_psd_gain", "noise_psd_refine"])
def test_the_classical_path_exports_to_onnx_and_matches_the_keras_model(tmp_path, conditioning):
    """conditioning noise_psd_gain (unet.ClassicalGain and the blend mask) and noise_psd_refine
    (the path open) convert too; the gain path's mask is opened half way so that the classical
    path shows in the output."""
    import onnxruntime

    checkpoint = _conditioned_micro(tmp_path / "gain", conditioning)
    if conditioning == "noise_psd_gain":
        model, cfg = unet.load_denoiser(checkpoint)
        kernel, bias = model.get_layer("s2_blend").get_weights()
        model.get_layer("s2_blend").set_weights([kernel, np.zeros_like(bias)])
        unet.save_denoiser(model, cfg, checkpoint)
    record = export.export_model(checkpoint, tmp_path / "out", ["onnx"], check_seconds=2.0)
    assert record["inputs"] == ["waveform", "noise_power"] and max(record["check"]["max_abs_difference"].values()) < TOLERANCE
    ort_model = onnxruntime.InferenceSession(str(tmp_path / "out" / "model.onnx"), providers=["CPUExecutionProvider"])
    x = (0.1 * np.random.default_rng(0).standard_normal((1, 30000))).astype(np.float32)
    quiet, loud = (np.full((1, 1025), p, np.float32) for p in (1e-6, 1e2))
    a = ort_model.run(["restored"], {"waveform": x, "noise_power": quiet})[0]
    b = ort_model.run(["restored"], {"waveform": x, "noise_power": loud})[0]
    assert np.abs(a - b).max() > 1e-3  # told loud noise, the classical path takes the input down


def test_a_model_told_the_median_exports_with_a_two_row_noise_input(tmp_path):
    """print_statistics mean_median: the ONNX input is [batch, 2, bins] and the median row
    reaches the output (its channel has trained-from-scratch weights here, not zeros)."""
    import keras
    import onnxruntime
    from omegaconf import OmegaConf

    cfg = OmegaConf.to_container(configs.group_config("model", "micro"))
    cfg.update(conditioning="noise_psd_refine", print_statistics="mean_median")
    keras.utils.set_random_seed(6)
    checkpoint = unet.save_denoiser(unet.build_model(cfg), cfg, tmp_path / "median")
    record = export.export_model(checkpoint, tmp_path / "out", ["onnx"], check_seconds=2.0)
    assert record["inputs"] == ["waveform", "noise_power"] and max(record["check"]["max_abs_difference"].values()) < TOLERANCE
    ort_model = onnxruntime.InferenceSession(str(tmp_path / "out" / "model.onnx"), providers=["CPUExecutionProvider"])
    assert ort_model.get_inputs()[1].shape[1:] == [2, 1025]
    x = (0.1 * np.random.default_rng(0).standard_normal((1, 30000))).astype(np.float32)
    mean = np.full((1, 1025), 1e-2, np.float32)
    steady, crackle = np.stack([mean, mean], axis=1), np.stack([mean, mean / 10], axis=1)
    a = ort_model.run(["restored"], {"waveform": x, "noise_power": steady})[0]
    b = ort_model.run(["restored"], {"waveform": x, "noise_power": crackle})[0]
    assert np.abs(a - b).max() > 1e-5
