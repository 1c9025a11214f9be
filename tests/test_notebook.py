"""notebooks/demo.ipynb: runs headless on the CPU against the bundled example with a micro model.

The notebook is executed by nbclient in a kernel that runs this interpreter (a kernelspec
written to a temporary JUPYTER_PATH), with DEMO_CHECKPOINT pointing at the untrained micro
model, so the test depends neither on the shipped weights nor on a system-wide Jupyter.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbclient
import nbformat
import numpy as np
import pytest
import soundfile as sf

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO_ROOT / "notebooks" / "demo.ipynb"
EXAMPLE = REPO_ROOT / "examples" / "film_reel_noisy.wav"
PROBE_MARK = "notebook-test-probe:"

# Appended to the executed copy only: reports the kernel's state after the demo ran.
PROBE_CELL = f"""
import json
print({PROBE_MARK!r} + json.dumps({{
    "prefix": sys.prefix,
    "cwd": os.getcwd(),
    "checkpoint": str(settings.checkpoint),
    "strength": float(strength),
    "input_samples": int(len(audio)),
    "restored_samples": int(len(restored)),
    "residual_samples": int(len(residual)),
    "restored_dtype": str(restored.dtype),
    "residual_rms": float(np.sqrt(np.mean(np.square(residual, dtype=np.float64)))),
}}))
"""


def write_kernelspec(root: Path) -> Path:
    """A ``python3`` kernelspec running ``sys.executable``; JUPYTER_PATH=root puts it first."""
    folder = root / "kernels" / "python3"
    folder.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (test)",
        "language": "python",
    }
    (folder / "kernel.json").write_text(json.dumps(spec))
    return root


def execute(nb: nbformat.NotebookNode, cwd: Path, jupyter_dir: Path, env: dict[str, str]) -> nbformat.NotebookNode:
    """Run ``nb`` in a fresh python3 kernel started in ``cwd`` with ``env`` added."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(jupyter_dir))
        mp.delenv("MPLBACKEND", raising=False)  # the notebook asks for the inline backend itself
        for key, value in env.items():
            mp.setenv(key, value)
        client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}})
        client.execute()
    return nb


def stream_text(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == "stdout")


@pytest.fixture(scope="module")
def jupyter_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_kernelspec(tmp_path_factory.mktemp("jupyter"))


@pytest.fixture(scope="module")
def conditioned_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The untrained micro model with noise conditioning, for the noise-print cell."""
    import keras
    from omegaconf import OmegaConf

    import configs
    import unet

    cfg = OmegaConf.to_container(configs.group_config("model", "micro"))
    cfg["conditioning"] = "noise_psd"
    keras.utils.set_random_seed(5)
    return unet.save_denoiser(unet.build_model(cfg), cfg, tmp_path_factory.mktemp("conditioned"))


@pytest.fixture(scope="module")
def executed(micro_checkpoint: Path, conditioned_checkpoint: Path, jupyter_dir: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE_CELL))
    env = {"DEMO_CHECKPOINT": str(micro_checkpoint), "DEMO_CONDITIONED_CHECKPOINT": str(conditioned_checkpoint)}
    return execute(nb, NOTEBOOK.parent, jupyter_dir, env)


def probe(nb: nbformat.NotebookNode) -> dict:
    text = stream_text(nb.cells[-1])
    assert PROBE_MARK in text, text
    return json.loads(text.split(PROBE_MARK, 1)[1].strip().splitlines()[0])


def test_committed_notebook_is_clean_nbformat4_python3():
    nb = nbformat.read(NOTEBOOK, as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "the notebook has no code cells"
    assert all(c.outputs == [] and c.execution_count is None for c in code), "outputs must be cleared before committing"
    source = "\n".join(c.source for c in code)
    # the optional, slow or Colab-only parts stay off by default
    for flag in ("TRAIN_TINY = False", "UPLOAD = False", "SAVE_OUTPUTS = False"):
        assert flag in source


def test_notebook_restores_the_example_with_the_given_checkpoint(executed, micro_checkpoint):
    state = probe(executed)
    frames = sf.info(str(EXAMPLE)).frames
    # the kernel ran this interpreter, in notebooks/, with the test's model
    assert Path(state["prefix"]).resolve() == Path(sys.prefix).resolve()
    assert Path(state["cwd"]).resolve() == NOTEBOOK.parent.resolve()
    assert Path(state["checkpoint"]).resolve() == micro_checkpoint.resolve()
    assert state["input_samples"] == state["restored_samples"] == state["residual_samples"] == frames
    assert state["restored_dtype"].startswith("float")
    # the line the denoising cell prints for the user
    printed = "\n".join(stream_text(c) for c in executed.cells)
    assert f"restored: {frames} samples" in printed

    # the same restoration outside the notebook: same model, strength, default segmentation and
    # the config's precision (auto: bfloat16 on a CPU with AVX-512 BF16 or AMX, as the notebook's)
    import configs
    import inference

    model, model_cfg = inference.load_model(micro_checkpoint, configs.InferenceConfig().precision)
    audio, sr = sf.read(str(EXAMPLE), dtype="float32")
    restored = inference.denoise_array(model, model_cfg, audio, sr, strength=state["strength"])
    expected_rms = float(np.sqrt(np.mean(np.square(audio - restored, dtype=np.float64))))
    assert expected_rms > 0  # the untrained micro model changes the signal
    assert state["residual_rms"] == pytest.approx(expected_rms, rel=1e-3)


def test_notebook_plays_audio_and_shows_spectrograms(executed):
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, "no spectrogram figure was emitted"
    players = [o for o in outputs if "<audio" in str(o.get("data", {}).get("text/html", ""))]
    assert len(players) >= 3 + 4  # input, restored, residual (twice); and the noise-print cell's four


def test_notebook_restores_with_a_noise_print(executed):
    cell = next(c for c in executed.cells if c.cell_type == "code" and "NOISE_PRINT =" in c.source)
    text = stream_text(cell)
    # the bundled example's pauses give an auto print; both restorations are played
    assert "noise print (auto):" in text and "restored with the print" in text, text
    assert "no print" not in text, text
    # the held-out check's finding, as the command line prints it (the example's pauses are short)
    assert "audio: the print is too short to hold part of it out; used unchecked" in text, text
    assert sum("<audio" in str(o.get("data", {}).get("text/html", "")) for o in cell.outputs) == 4


def test_the_noise_print_cell_defaults_to_a_committed_parked_run():
    import re

    import parking

    nb = nbformat.read(NOTEBOOK, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "NOISE_PRINT =" in c.source)
    default = re.search(r'str\(REPO / "parked_runs" / "(\w+)"\)', cell.source)
    assert default, cell.source
    folder = REPO_ROOT / "parked_runs" / default.group(1)
    info = parking.read_parked(folder)  # there, whole, and its weights the parked ones
    assert "conditioning=noise_psd" in info["continue"]


def test_setup_cell_finds_the_repository_from_its_root(jupyter_dir, tmp_path):
    """Started in the repository itself (not notebooks/), the setup cell finds the same folder."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    setup = next(c for c in nb.cells if c.cell_type == "code")
    nb.cells = [setup]
    execute(nb, REPO_ROOT, jupyter_dir, {})
    assert f"repository: {REPO_ROOT}" in stream_text(nb.cells[0])
