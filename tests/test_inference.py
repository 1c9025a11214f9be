"""inference.py: the signal path (segments, strength, resampling, channels), the file path
(formats, streaming, atomic outputs), bad input, and a few runs of the real command.
(The engine's own invariants: test_streaming.py; the command line's conventions: test_cli.py.)"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from omegaconf import OmegaConf

import configs
import inference
import loading
import naming
import streaming

REPO_ROOT = Path(__file__).resolve().parent.parent
DTYPE_FOR_SUBTYPE = {"PCM_16": "int16", "PCM_24": "int32", "PCM_32": "int32", "FLOAT": "float32", "DOUBLE": "float64"}


@pytest.fixture(scope="module")
def micro(micro_checkpoint):
    """(model, model_cfg) of the untrained micro model."""
    return inference.load_model(micro_checkpoint)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(model, model_cfg) of the untrained tiny model: two scales, the receptive field the
    segmentation test's tolerances were measured with."""
    import keras

    import unet

    cfg = configs.group_config("model", "tiny")
    keras.utils.set_random_seed(1234)
    return inference.load_model(unet.save_denoiser(unet.build_model(cfg), cfg, tmp_path_factory.mktemp("tiny")))


def make_signal(seconds: float, sample_rate: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    """Tones plus hiss, ``[samples, channels]`` float64 within +-0.6; channels differ."""
    rng = np.random.default_rng(seed)
    n = max(1, int(round(seconds * sample_rate)))
    t = np.arange(n) / sample_rate
    cols = []
    for c in range(channels):
        f = min(220.0 * (c + 1), sample_rate / 4)
        cols.append(0.3 * np.sin(2 * np.pi * f * t + c) + 0.05 * rng.standard_normal(n))
    return np.stack(cols, axis=1)


def write(path: Path, audio: np.ndarray, sample_rate: int, subtype: str = "FLOAT", format: str | None = None) -> Path:
    sf.write(str(path), audio, sample_rate, subtype=subtype, format=format)
    return path


def restorer(micro, **kwargs) -> inference.Restorer:
    model, cfg = micro
    kwargs.setdefault("segment_seconds", 0.6)
    kwargs.setdefault("overlap_seconds", 0.2)
    return inference.Restorer(model, cfg, **kwargs)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def files_in(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


# --------------------------------------------------------------------------- segmentation


def test_segment_boundaries_do_not_change_the_result(tiny):
    """Two segmentations and one piece agree; a hard cut (no overlap) does not.

    Tolerances: the estimated noise differs between segmentations where a segment's
    crossfade sees less context than the model's receptive field. Measured with this tiny
    model: 0.15 % / 0.6 % (rms) and 0.4 % / 0.8 % (max) of the noise for the two
    segmentations below, 14 % / 63 % for hard cuts; the bounds are 2.5x the worst measured.
    """
    model, cfg = tiny
    x = make_signal(3.0, 44100, channels=2).astype(np.float32)
    whole = inference.denoise_array(model, cfg, x, 44100, segment_seconds=10.0, overlap_seconds=1.0)
    noise = x - whole
    assert rms(noise) > 1e-3  # the untrained model changes the signal, so the comparison means something
    for seg, ov in [(1.0, 0.4), (0.7, 0.3)]:
        y = inference.denoise_array(model, cfg, x, 44100, segment_seconds=seg, overlap_seconds=ov, batch_segments=3)
        assert y.shape == x.shape and y.dtype == x.dtype
        assert rms(y - whole) < 0.015 * rms(noise), (seg, ov)
        assert np.abs(y - whole).max() < 0.02 * np.abs(noise).max(), (seg, ov)
    hard = inference.denoise_array(model, cfg, x, 44100, segment_seconds=0.7, overlap_seconds=0.0)
    assert rms(hard - whole) > 0.05 * rms(noise)  # the test can see seams


# --------------------------------------------------------------------------- strength


def test_strength_scales_the_removed_part_monotonically(micro):
    model, cfg = micro
    x = make_signal(1.0, 44100, seed=3)[:, 0]
    removed = {}
    for s in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = inference.denoise_array(model, cfg, x, 44100, strength=s, segment_seconds=0.6, overlap_seconds=0.2)
        removed[s] = x - y
    energies = [float(np.sum(removed[s] ** 2)) for s in sorted(removed)]
    assert energies[0] == 0.0
    assert all(a < b for a, b in zip(energies, energies[1:])), energies
    np.testing.assert_allclose(removed[0.5], 0.5 * removed[1.0], atol=1e-6)  # output = input - s * noise


def test_strength_zero_is_the_input_bit_for_bit_without_the_model(tmp_path, micro):
    class ModelThatMustNotRun:
        def __call__(self, *args, **kwargs):
            raise AssertionError("the model ran at strength 0")

    cfg = micro[1]
    for subtype in ("PCM_16", "PCM_24", "FLOAT"):
        src = write(tmp_path / f"in_{subtype}.wav", make_signal(0.4, 22050, 2), 22050, subtype)
        r = inference.Restorer(ModelThatMustNotRun(), cfg, strength=0.0, block_seconds=0.1)
        result = r.restore_file(src)
        assert result.denoised.name == f"in_{subtype}_denoised_s0.wav"
        dtype = DTYPE_FOR_SUBTYPE[subtype]
        original = sf.read(src, dtype=dtype)[0]
        np.testing.assert_array_equal(sf.read(result.denoised, dtype=dtype)[0], original)
        assert not np.any(sf.read(result.residual, dtype=dtype)[0])
    x = make_signal(0.2, 8000)[:, 0].astype(np.float32)
    y = inference.denoise_array(ModelThatMustNotRun(), cfg, x, 8000, strength=0.0)
    assert y is not x and np.array_equal(y, x)


# --------------------------------------------------------------------------- files and formats


@pytest.mark.parametrize(
    "rate,channels,subtype,fmt",
    [
        (8000, 1, "PCM_16", "WAV"),
        (16000, 1, "PCM_24", "FLAC"),
        (22050, 1, "PCM_16", "WAV"),
        (44100, 1, "FLOAT", "WAV"),
        (48000, 1, "PCM_24", "WAV"),
        (96000, 1, "PCM_16", "FLAC"),
        (48000, 2, "PCM_24", "WAV"),
        (44100, 6, "FLOAT", "WAV"),
    ],
)
def test_output_keeps_length_rate_channels_and_sample_format(tmp_path, micro, rate, channels, subtype, fmt):
    ext = ".flac" if fmt == "FLAC" else ".wav"
    x = make_signal(0.5, rate, channels)[: int(0.5 * rate) - 3]  # a length no segment or block divides
    src = write(tmp_path / f"take{ext}", x, rate, subtype, fmt)
    result = restorer(micro, block_seconds=0.2).restore_file(src)
    assert result.denoised == tmp_path / f"take_denoised_s10{ext}"
    assert result.residual == tmp_path / f"take_residual_s10{ext}"
    for out in (result.denoised, result.residual):
        info = sf.info(str(out))
        assert (info.frames, info.samplerate, info.channels, info.subtype, info.format) == (len(x), rate, channels, subtype, fmt)
    y = sf.read(result.denoised, always_2d=True)[0]
    assert np.abs(y - sf.read(src, always_2d=True)[0]).max() > 1e-3  # it was processed


def test_every_channel_is_restored_in_place(micro):
    model, cfg = micro
    x = make_signal(0.5, 44100, channels=6, seed=5)
    y = inference.denoise_array(model, cfg, x, 44100, segment_seconds=0.6, overlap_seconds=0.2, batch_segments=4)
    for c in (0, 3, 5):
        alone = inference.denoise_array(model, cfg, x[:, c], 44100, segment_seconds=0.6, overlap_seconds=0.2)
        np.testing.assert_allclose(y[:, c], alone, atol=1e-5)


@pytest.mark.parametrize("n", [1, 10, 700])
def test_very_short_inputs(tmp_path, micro, n):
    model, cfg = micro
    x = make_signal(n / 16000, 16000, channels=2)
    y = inference.denoise_array(model, cfg, x, 16000)
    assert y.shape == (n, 2) and np.isfinite(y).all()
    src = write(tmp_path / "short.wav", x, 16000, "PCM_16")
    result = restorer(micro).restore_file(src)
    assert sf.info(str(result.denoised)).frames == n


def test_lossy_inputs_become_float_wav(tmp_path, micro):
    src = write(tmp_path / "reel.ogg", make_signal(0.5, 22050), 22050, "VORBIS", "OGG")
    result = restorer(micro).restore_file(src)
    assert result.denoised.name == "reel_denoised_s10.wav"
    info = sf.info(str(result.denoised))
    assert (info.format, info.subtype, info.samplerate) == ("WAV", "FLOAT", 22050)
    assert info.frames == sf.info(str(src)).frames


def test_residual_plus_denoised_is_the_input(tmp_path, micro):
    x = make_signal(0.8, 44100, channels=2, seed=7)
    for subtype, tol in (("FLOAT", 1e-6), ("PCM_16", 1.5 / 32768)):
        src = write(tmp_path / f"mix_{subtype}.wav", x, 44100, subtype)
        result = restorer(micro, strength=0.7).restore_file(src)
        assert result.denoised.name.endswith("_denoised_s7.wav")
        total = sf.read(result.denoised)[0] + sf.read(result.residual)[0]
        np.testing.assert_allclose(total, sf.read(src)[0], atol=tol)


def test_streamed_file_equals_the_array_function(tmp_path, micro):
    """Blocks of 0.25 s through the resampling stream equal one call on the whole signal."""
    model, cfg = micro
    x = make_signal(2.0, 48000, channels=2, seed=11)
    src = write(tmp_path / "long.wav", x, 48000, "FLOAT")
    x = sf.read(src, always_2d=True)[0]
    result = restorer(micro, block_seconds=0.25, strength=0.8).restore_file(src)
    expected = inference.denoise_array(model, cfg, x, 48000, strength=0.8, segment_seconds=0.6, overlap_seconds=0.2)
    got = sf.read(result.denoised, always_2d=True)[0]
    assert np.abs(expected - x).max() > 1e-3
    np.testing.assert_allclose(got, expected, atol=1e-6)


class GainModel:
    """Stands in for the network: multiplies the spectrogram, so outputs are predictable."""

    def __init__(self, gain: float) -> None:
        self.gain = gain

    def __call__(self, spec, training=False):
        return [spec * self.gain]


def test_output_above_full_scale_warns_once_with_the_peak(tmp_path, micro, capsys):
    cfg = micro[1]
    x = 0.9 * np.sin(np.linspace(0, 300, 8000))
    src = write(tmp_path / "loud.wav", x, 8000, "PCM_16")
    result = inference.Restorer(GainModel(1.5), cfg, segment_seconds=0.5, overlap_seconds=0.2).restore_file(src)
    peak = np.abs(inference.denoise_array(GainModel(1.5), cfg, sf.read(src)[0], 8000, segment_seconds=0.5, overlap_seconds=0.2)).max()
    assert 1.34 < peak < 1.4  # 1.5 x 0.9, plus the resampler's ringing at the abrupt end
    assert len(result.warnings) == 1  # the residual (about -0.45 peak) stays within full scale
    assert "loud_denoised_s10.wav: peaks at" in result.warnings[0] and f"{20 * np.log10(peak):+.1f} dBFS" in result.warnings[0]
    assert sf.read(result.denoised, dtype="int16")[0].max() == 32767  # clipped on write, as warned
    float_src = write(tmp_path / "loud_float.wav", 0.9 * np.sin(np.linspace(0, 300, 8000)), 8000, "FLOAT")
    result = inference.Restorer(GainModel(1.5), cfg, segment_seconds=0.5, overlap_seconds=0.2).restore_file(float_src)
    assert result.warnings == [] and sf.read(result.denoised)[0].max() > 1.3  # float keeps it


def test_a_steady_tone_left_in_the_restoration_is_warned_once(tmp_path, micro):
    from tone_signals import tone_sequence

    cfg, rate = micro[1], 16000
    notes = tone_sequence(6.0, rate)
    hum = 0.03 * np.sin(2 * np.pi * 50.0 * np.arange(len(notes)) / rate)
    hummed = write(tmp_path / "hummed.wav", np.stack([notes + hum, notes + hum], axis=1), rate)
    clean = write(tmp_path / "clean.wav", notes, rate)
    keeps_all = inference.Restorer(GainModel(1.0), cfg, segment_seconds=1.0, overlap_seconds=0.2)
    result = keeps_all.restore_file(hummed)
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith("hummed.wav: steady tones at 50 Hz, at one level through the input")
    assert keeps_all.restore_file(clean).warnings == []  # notes come and go: no line
    takes_all = inference.Restorer(GainModel(0.0), cfg, segment_seconds=1.0, overlap_seconds=0.2)
    assert takes_all.restore_file(hummed, overwrite=True).warnings == []  # the hum went, with the rest
    untouched = inference.Restorer(GainModel(1.0), cfg, segment_seconds=1.0, overlap_seconds=0.2, strength=0.0)
    assert untouched.restore_file(hummed, overwrite=True).warnings == []  # nothing restored, nothing to say


def test_the_array_api_leaves_the_steady_tone_warning_in_its_decisions(micro):
    from tone_signals import tone_sequence

    cfg, rate = micro[1], 16000
    notes = tone_sequence(6.0, rate)
    hummed = np.stack([notes, notes], axis=1) + 0.03 * np.sin(2 * np.pi * 50.0 * np.arange(len(notes)) / rate)[:, None]
    keeps_all = inference.Restorer(GainModel(1.0), cfg, segment_seconds=1.0, overlap_seconds=0.2)
    np.testing.assert_allclose(keeps_all.restore(hummed, rate), hummed, atol=1e-5)
    assert len(keeps_all.decisions) == 1, keeps_all.decisions
    assert keeps_all.decisions[0].startswith("warning: audio: steady tones at 50 Hz, at one level through the input")
    keeps_all.restore(notes, rate)
    assert keeps_all.decisions == []  # notes come and go: no line, and the last call's line is gone
    keeps_all.restore(hummed, rate, strength=0.0)
    assert keeps_all.decisions == []  # nothing restored, nothing to say
    takes_all = inference.Restorer(GainModel(0.0), cfg, segment_seconds=1.0, overlap_seconds=0.2)
    takes_all.restore(hummed, rate)
    assert takes_all.decisions == []  # the hum went, with the rest


def test_plot_writes_a_png(tmp_path, micro):
    src = write(tmp_path / "voice.wav", make_signal(1.0, 16000, 2), 16000, "PCM_16")
    result = restorer(micro).restore_file(src, plot=True, plot_seconds=0.5)
    assert result.plot == tmp_path / "voice_spectrograms_s10.png"
    import matplotlib.image

    image = matplotlib.image.imread(str(result.plot))
    assert image.shape[0] > 400 and image.shape[1] > 600
    assert image[..., :3].std() > 0.05  # not a blank canvas


def test_bfloat16_precision_runs_close_to_float32(micro_checkpoint, micro):
    model16, cfg = inference.load_model(micro_checkpoint, "bfloat16")
    x = make_signal(1.0, 44100, seed=2)[:, 0]
    y32 = inference.denoise_array(micro[0], cfg, x, 44100, segment_seconds=0.6, overlap_seconds=0.2)
    y16 = inference.denoise_array(model16, cfg, x, 44100, segment_seconds=0.6, overlap_seconds=0.2)
    assert rms(y16 - y32) < 0.05 * rms(x - y32)


def test_float32_loading_ignores_a_mixed_policy_left_global_by_training(micro_checkpoint):
    import keras

    keras.mixed_precision.set_global_policy("mixed_bfloat16")  # as trainer.Trainer leaves it after a run
    try:
        model, _ = inference.load_model(micro_checkpoint, "float32")
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"  # put back as it was
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert {layer.dtype_policy.compute_dtype for layer in model.layers} == {"float32"}
    model16, _ = inference.load_model(micro_checkpoint, "bfloat16")
    assert "bfloat16" in {layer.dtype_policy.compute_dtype for layer in model16.layers}


# --------------------------------------------------------------------------- the command, in process


def config(**overrides) -> OmegaConf:
    cfg = OmegaConf.create(dataclasses.asdict(configs.InferenceConfig()))  # untyped: a typo reaches inference.run
    cfg.quiet = True
    for key, value in overrides.items():
        cfg[key] = value
    return cfg


def run(capsys, **overrides) -> tuple[int, list[str]]:
    code = inference.run(config(**overrides))
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line.strip()]


def test_bad_arguments_exit_2_without_touching_anything(tmp_path, micro_checkpoint, capsys):
    src = write(tmp_path / "a.wav", make_signal(0.2, 8000), 8000)
    ck = str(micro_checkpoint)
    for overrides, problem in [
        ({"audio": str(tmp_path / "missing.wav")}, "no such file or folder"),
        ({"audio": str(src), "denoising_strength": 1.5}, "between 0.0 and 1.0"),
        ({"audio": str(src), "denoising_strength": -0.1}, "between 0.0 and 1.0"),
        ({"audio": str(src), "overlap_seconds": 4.0}, "half of segment_seconds"),
        ({"audio": str(src), "precision": "float16"}, "float32, bfloat16"),
        ({"audio": None}, "inference.audio: missing"),
    ]:
        code, err = run(capsys, checkpoint=ck, **overrides)
        assert code == 2, overrides
        assert len(err) == 1 and err[0].startswith("error: ") and problem in err[0], err
    assert files_in(tmp_path) == {"a.wav"}


def test_bad_inputs_exit_1_name_the_file_and_leave_nothing(tmp_path, micro_checkpoint, capsys):
    ck = str(micro_checkpoint)
    (tmp_path / "notes.wav").write_text("this is not audio\n")
    (tmp_path / "empty.wav").write_bytes(b"")
    write(tmp_path / "zero.wav", np.zeros((0, 1)), 8000)
    x = make_signal(1.0, 8000)
    x[6000, 0] = np.nan  # after the first block, so some output was already being written
    write(tmp_path / "nan.wav", x, 8000)
    x[6000, 0] = np.inf
    write(tmp_path / "inf.wav", x, 8000)
    (tmp_path / "no_audio").mkdir()
    (tmp_path / "no_audio" / "readme.txt").write_text("x")
    before = files_in(tmp_path)
    for name, problem in [
        ("notes.wav", "cannot be read as audio"),
        ("empty.wav", "cannot be read as audio"),
        ("zero.wav", "holds no samples"),
        ("nan.wav", "NaN or infinite sample at 0.750 s"),
        ("inf.wav", "NaN or infinite sample at 0.750 s"),
        ("no_audio", "no audio files"),
    ]:
        code, err = run(capsys, audio=str(tmp_path / name), checkpoint=ck, block_seconds=0.5)
        assert code == 1, name
        assert len(err) == 1 and err[0].startswith(f"error: {tmp_path / name}: ") and problem in err[0], err
    assert files_in(tmp_path) == before  # no outputs, no temporary files


def test_missing_or_incompatible_checkpoint(tmp_path, micro_checkpoint, capsys, monkeypatch):
    src = write(tmp_path / "a.wav", make_signal(0.2, 8000), 8000)
    monkeypatch.setattr(inference, "DEFAULT_CHECKPOINT", tmp_path / "models" / "default")
    code, err = run(capsys, audio=str(src), checkpoint=None)
    assert code == 1 and len(err) == 1 and "shipped model is not installed" in err[0]
    code, err = run(capsys, audio=str(src), checkpoint=str(tmp_path / "nowhere"))
    assert code == 1 and err == [f"error: {tmp_path / 'nowhere'}: checkpoint folder not found"]
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "model.weights.h5").write_bytes((micro_checkpoint / "model.weights.h5").read_bytes())
    deeper = json.loads((micro_checkpoint / "config.json").read_text()) | {"depth": 3, "filters": [4, 8, 8, 16], "strides": [2, 2]}
    (wrong / "config.json").write_text(json.dumps(deeper))
    code, err = run(capsys, audio=str(src), checkpoint=str(wrong))
    assert code == 1 and len(err) == 1 and err[0].startswith("error: ") and "weights do not fit" in err[0], err
    assert files_in(tmp_path) == {"a.wav", "wrong", "wrong/model.weights.h5", "wrong/config.json"}


def test_existing_outputs_are_kept_unless_overwrite(tmp_path, micro_checkpoint, capsys, caplog):
    src = write(tmp_path / "take.flac", make_signal(0.5, 16000), 16000, "PCM_16")
    out = tmp_path / "take_denoised_s5.flac"
    out.write_bytes(b"earlier run")
    code, err = run(capsys, audio=str(src), checkpoint=str(micro_checkpoint), denoising_strength=0.5)
    assert code == 1 and "output already exists" in err[0] and "inference.overwrite=true" in err[0]
    assert out.read_bytes() == b"earlier run" and files_in(tmp_path) == {"take.flac", out.name}
    caplog.set_level("DEBUG", logger="inference")
    code, err = run(capsys, audio=str(src), checkpoint=str(micro_checkpoint), denoising_strength=0.5, overwrite=True, quiet=False, verbose=True)
    assert code == 0 and sf.info(str(out)).frames == 8000
    assert "device: CPU" in caplog.text or "device: GPU" in caplog.text


def test_skip_existing_resumes_a_folder_without_touching_finished_files(tmp_path, micro_checkpoint, capsys, caplog):
    inputs = tmp_path / "reels"
    inputs.mkdir()
    for name in ("a", "b", "c"):
        write(inputs / f"{name}.wav", make_signal(0.3, 8000), 8000, "PCM_16")
    out = tmp_path / "restored"
    (out).mkdir()
    (out / "a_denoised_s10.wav").write_bytes(b"earlier run")  # finished: both outputs present
    (out / "a_residual_s10.wav").write_bytes(b"earlier run")
    (out / "b_denoised_s10.wav").write_bytes(b"half")  # only one output: not finished, still an error
    caplog.set_level("INFO", logger="inference")
    code, err = run(capsys, audio=str(inputs), checkpoint=str(micro_checkpoint), output_dir=str(out), skip_existing=True, quiet=False)
    err = [line for line in err if line.startswith("error: ")]  # without quiet: progress bars too
    assert code == 1 and len(err) == 2 and "b.wav: output already exists" in err[0] and "1 of 3 files failed" in err[1], err
    assert "1 of 3 files skipped: their outputs exist (inference.skip_existing=true)" in caplog.text
    assert (out / "a_denoised_s10.wav").read_bytes() == b"earlier run" and (out / "b_denoised_s10.wav").read_bytes() == b"half"
    assert sf.info(str(out / "c_denoised_s10.wav")).frames == 2400
    (out / "b_denoised_s10.wav").unlink()
    code, err = run(capsys, audio=str(inputs), checkpoint=str(micro_checkpoint), output_dir=str(out), skip_existing=True)
    assert code == 0 and err == [] and sf.info(str(out / "b_residual_s10.wav")).frames == 2400
    code, err = run(capsys, audio=str(inputs), checkpoint=str(micro_checkpoint), output_dir=str(out))
    assert code == 1 and len(err) == 7 and all("output already exists" in line for line in err[:3])  # without it: errors, as before


def test_folder_mode_goes_past_failures_and_skips_earlier_outputs(tmp_path, micro_checkpoint, capsys):
    inputs = tmp_path / "reels"
    (inputs / "sub").mkdir(parents=True)
    write(inputs / "a.wav", make_signal(0.3, 8000), 8000, "PCM_16")
    (inputs / "b.wav").write_text("not audio")
    write(inputs / "sub" / "c.flac", make_signal(0.3, 8000), 8000, "PCM_16")
    write(inputs / "a_denoised_s10.wav", make_signal(0.3, 8000), 8000)  # an earlier run's output
    write(inputs / "a_residual_s7.wav", make_signal(0.3, 8000), 8000)
    out = tmp_path / "restored"
    code, err = run(capsys, audio=str(inputs), checkpoint=str(micro_checkpoint), output_dir=str(out))
    assert code == 1
    assert err[0].startswith(f"error: {inputs / 'b.wav'}: cannot be read as audio")
    assert "1 of 3 files failed" in err[1] and str(inputs / "b.wav") in err[2]
    assert files_in(out) == {"a_denoised_s10.wav", "a_residual_s10.wav", "sub", "sub/c_denoised_s10.flac", "sub/c_residual_s10.flac"}
    code, err = run(capsys, audio=str(inputs), checkpoint=str(micro_checkpoint), recursive=False, denoising_strength=0.3)
    assert code == 1 and len(err) == 3  # b.wav again; sub/ not searched
    assert (inputs / "a_denoised_s3.wav").exists() and not (inputs / "sub" / "c_denoised_s3.flac").exists()
    assert not list(inputs.glob("*_denoised_s10_*"))


def test_two_inputs_with_the_same_output_name(tmp_path, micro_checkpoint, capsys):
    write(tmp_path / "take.wav", make_signal(0.3, 8000), 8000, "PCM_16")
    write(tmp_path / "take.ogg", make_signal(0.3, 8000), 8000, "VORBIS", "OGG")
    code, err = run(capsys, audio=str(tmp_path), checkpoint=str(micro_checkpoint), overwrite=True)
    assert code == 1 and "same names as those of" in err[0]
    assert files_in(tmp_path) == {"take.wav", "take.ogg", "take_denoised_s10.wav", "take_residual_s10.wav"}


# --------------------------------------------------------------------------- the command, end to end


def cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run the command; stdout and stderr as written (carriage returns kept, for progress bars)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYDRA_")}
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "inference.py"), *args], cwd=cwd, capture_output=True, timeout=300, env=env)
    proc.stdout, proc.stderr = proc.stdout.decode(), proc.stderr.decode()
    return proc


def test_cli_restores_a_file_and_leaves_no_stray_folders(tmp_path, micro_checkpoint, monkeypatch):
    """One start of the command (each costs TensorFlow's import and the model's load): a path
    quoted by the user, with a space, is taken as given; an unquoted one with non-ASCII,
    apostrophe, comma and '=' is taken literally; quiet means no output at all, not even
    matplotlib's chatter with a fresh font cache; the outputs keep the input's length, rate,
    channels and sample format; no outputs/, .hydra/ or logs in the repository."""
    checkpoint = tmp_path / "micro model"  # quoted below
    shutil.copytree(micro_checkpoint, checkpoint)
    folder = tmp_path / "Ünï"
    folder.mkdir()
    write(folder / "it's, a=b.wav", make_signal(1.2, 22050, 2), 22050, "PCM_24")
    repo_before = set(os.listdir(REPO_ROOT))
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mplconfig"))
    proc = cli([f"inference.audio={folder}/it's, a=b.wav", f"inference.checkpoint='{checkpoint}'", "inference.denoising_strength=0.8",
                "inference.quiet=true", "inference.plot=true"], tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "" and proc.stdout == "", (proc.stdout, proc.stderr)
    assert files_in(folder) == {"it's, a=b.wav", "it's, a=b_denoised_s8.wav", "it's, a=b_residual_s8.wav", "it's, a=b_spectrograms_s8.png"}
    for name in ("it's, a=b_denoised_s8.wav", "it's, a=b_residual_s8.wav"):
        info = sf.info(str(folder / name))
        assert (info.frames, info.samplerate, info.channels, info.subtype) == (int(1.2 * 22050), 22050, 2, "PCM_24")
    assert set(os.listdir(REPO_ROOT)) - repo_before <= {"__pycache__"}  # no outputs/, .hydra/, logs


def test_cli_bad_input_is_one_line_without_traceback(tmp_path, micro_checkpoint):
    (tmp_path / "tape.wav").write_text("definitely not audio")
    proc = cli(["inference.audio=tape.wav", f"inference.checkpoint={micro_checkpoint}"], tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: tape.wav: cannot be read as audio") and proc.stderr.count("\n") == 1, proc.stderr
    assert files_in(tmp_path) == {"tape.wav"}


def test_cli_folder_with_a_failure(tmp_path, micro_checkpoint):
    write(tmp_path / "good.flac", make_signal(0.5, 16000), 16000, "PCM_16")
    (tmp_path / "bad.wav").write_bytes(b"RIFF\x00\x00")
    proc = cli(["inference.audio=.", f"inference.checkpoint={micro_checkpoint}", "inference.plot=true"], tmp_path)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "error: 1 of 2 files failed:" in proc.stderr and "bad.wav" in proc.stderr.split("failed:")[1]
    assert {"good_denoised_s10.flac", "good_residual_s10.flac", "good_spectrograms_s10.png"} <= files_in(tmp_path)
    assert "good.flac -> good_denoised_s10.flac" in proc.stdout


def test_one_stage_model_restores_each_batch_item_from_its_own_estimate(tmp_path):
    """Keras returns a bare tensor for one output; the last *stage* must be used, not the
    last batch item (a batch of two different signals must give two different results)."""
    import keras
    from omegaconf import OmegaConf

    import inference
    import unet

    cfg = OmegaConf.to_container(configs.group_config("model", "micro"))
    cfg["stages"] = 1
    keras.utils.set_random_seed(3)
    folder = unet.save_denoiser(unet.build_model(cfg), cfg, tmp_path / "one_stage")
    model, mcfg = inference.load_model(folder)
    rng = np.random.default_rng(0)
    stereo = rng.standard_normal((44100, 2)).astype(np.float32) * np.array([0.1, 0.01], np.float32)
    both = inference.denoise_array(model, mcfg, stereo, 44100, batch_segments=2)
    alone = inference.denoise_array(model, mcfg, stereo[:, :1], 44100, batch_segments=2)
    np.testing.assert_allclose(both[:, 0], alone[:, 0], atol=1e-4)


# --------------------------------------------------------------------------- the bad-input battery (issue 23)


def truncate(path: Path, keep_frames: int, header_bytes: int, bytes_per_frame: int) -> Path:
    """Cut a file after ``keep_frames`` frames, leaving its header's length as it was."""
    data = path.read_bytes()
    path.write_bytes(data[: header_bytes + keep_frames * bytes_per_frame])
    return path


def test_truncated_file_is_refused_unless_allowed(tmp_path, micro_checkpoint, capsys):
    """A header that declares more frames than the file holds (an interrupted copy) is an
    error with no output; allow_truncated restores the frames present, with a warning."""
    src = write(tmp_path / "cut.wav", make_signal(2.0, 8000), 8000, "PCM_16")  # 16000 frames
    truncate(src, 5000, 44, 2)
    assert sf.info(str(src)).frames == 5000  # libsndfile reads what is there, silently
    code, err = run(capsys, audio=str(src), checkpoint=str(micro_checkpoint))
    assert code == 1 and len(err) == 1, err
    assert err[0] == (f"error: {src}: truncated: the header declares 16000 frames (2.000 s), only 5000 are present "
                      "(11000 frames, 1.375 s missing); nothing written (inference.allow_truncated=true restores the frames present)")
    assert files_in(tmp_path) == {"cut.wav"}
    aiff = write(tmp_path / "cut.aiff", make_signal(1.0, 8000), 8000, "PCM_16", "AIFF")
    truncate(aiff, 3000, 54, 2)
    code, err = run(capsys, audio=str(aiff), checkpoint=str(micro_checkpoint))
    assert code == 1 and "declares 8000 frames" in err[0] and "only 3000 are present" in err[0], err
    code, err = run(capsys, audio=str(src), checkpoint=str(micro_checkpoint), allow_truncated=True)
    assert code == 0 and len(err) == 1 and err[0].startswith(f"warning: {src}: truncated: the header declares 16000"), err
    assert sf.info(str(tmp_path / "cut_denoised_s10.wav")).frames == 5000


def test_digital_silence_stays_exactly_silent(tmp_path, micro):
    """The model's estimate on an empty spectrogram is its biases' response, not noise:
    runs of exact zeros come back as exact zeros (the untrained micro model, like the
    shipped one, estimates non-zero 'noise' there), and the programme is still restored."""
    model, cfg = micro
    zeros = np.zeros((int(1.3 * 44100), 2))
    np.testing.assert_array_equal(inference.denoise_array(model, cfg, zeros, 44100, segment_seconds=0.6, overlap_seconds=0.2), zeros)
    t = np.arange(int(1.5 * 22050)) / 22050
    tone = (t > 0.5) & (t < 1.0)
    x = np.where(tone, 0.5 * np.sin(2 * np.pi * 440 * t), 0.0)
    src = write(tmp_path / "gap.wav", x, 22050, "PCM_16")
    result = restorer(micro, block_seconds=0.3).restore_file(src)
    y = sf.read(result.denoised, dtype="int16")[0]
    assert not np.any(y[~tone]) and np.abs(y[tone] - sf.read(src, dtype="int16")[0][tone]).max() > 100
    zero_run = np.zeros(2000)
    zero_run[::7] = 0.01  # zeros between non-zero samples, as in quiet programme: not silence
    assert np.all(inference.denoise_array(model, cfg, zero_run, 8000)[1::7] != 0)


def test_output_names_carry_the_exact_strength(tmp_path, micro_checkpoint, capsys):
    tags = {s: naming.strength_tag(s) for s in (0.0, 0.001, 0.05, 0.68, 0.7, 0.72, 0.725, 1.0)}
    assert tags == {0.0: "s0", 0.001: "s0p01", 0.05: "s0p5", 0.68: "s6p8", 0.7: "s7", 0.72: "s7p2", 0.725: "s7p25", 1.0: "s10"}
    assert all(naming.is_previous_output(Path(f"a_denoised_{t}.wav")) for t in tags.values())
    src = write(tmp_path / "a.wav", make_signal(0.2, 8000), 8000)
    for strength in (1e-9, 0.0005, 0.1234):
        code, err = run(capsys, audio=str(src), checkpoint=str(micro_checkpoint), denoising_strength=strength)
        assert code == 2 and len(err) == 1 and "more than three decimals" in err[0], err
    code, _ = run(capsys, audio=str(src), checkpoint=str(micro_checkpoint), denoising_strength=0.72)
    assert code == 0 and files_in(tmp_path) == {"a.wav", "a_denoised_s7p2.wav", "a_residual_s7p2.wav"}


@pytest.mark.parametrize("subtype,fmt", [("PCM_16", "WAV"), ("PCM_24", "WAV"), ("PCM_U8", "WAV"), ("PCM_32", "WAV"), ("PCM_16", "FLAC")])
def test_integer_outputs_sum_to_the_input_exactly(tmp_path, micro, subtype, fmt):
    """Restored + residual is the input, sample for sample, in the input's integers; the
    restored signal is rounded to the nearest step, not lowered by libsndfile's scaling."""
    x = make_signal(0.6, 16000, 2, seed=4) * 1.5  # up to about -1 dBFS: large samples too
    src = write(tmp_path / f"take.{fmt.lower()}", x, 16000, subtype, fmt)
    r = restorer(micro, strength=0.6, block_seconds=0.25)
    result = r.restore_file(src)
    xi, yi, ri = (sf.read(str(p), dtype="int32", always_2d=True)[0].astype(np.int64) for p in (src, result.denoised, result.residual))
    np.testing.assert_array_equal(yi + ri, xi)
    ideal = inference.denoise_array(micro[0], micro[1], sf.read(str(src), always_2d=True)[0], 16000, strength=0.6, segment_seconds=0.6, overlap_seconds=0.2)
    step = 2 ** {"PCM_16": 16, "PCM_24": 8, "PCM_U8": 24, "PCM_32": 0}[subtype]
    err = yi - ideal * 2.0**31
    assert np.abs(err).max() <= 0.5 * step + 1e-3 * max(step, 256)  # rounded, not truncated


def test_stale_part_files_of_a_killed_run_are_removed(tmp_path, micro):
    """A SIGKILL leaves the writer's .part file; the next write of that output removes it,
    but not the part of a writer that still runs."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".take_denoised_s10.{dead.pid}.k1ll3d_x.wav.part"
    alive = tmp_path / f".take_residual_s10.{os.getppid()}.running.wav.part"
    other = tmp_path / f".other_denoised_s10.{dead.pid}.k1ll3d_x.wav.part"
    for p in (stale, alive, other):
        p.write_bytes(b"half a file")
    src = write(tmp_path / "take.wav", make_signal(0.3, 8000), 8000, "PCM_16")
    restorer(micro).restore_file(src)
    assert files_in(tmp_path) == {"take.wav", "take_denoised_s10.wav", "take_residual_s10.wav", alive.name, other.name}


def test_unknown_option_and_unwritable_output_folder_exit_2_before_the_model(tmp_path, capsys):
    """Checked before the model loads (the checkpoint here does not exist), reported once,
    naming the option and the folder, never a temporary file."""
    src = write(tmp_path / "a.wav", make_signal(0.2, 8000), 8000)
    blocker = tmp_path / "restored.txt"
    blocker.write_text("a file where the output folder should be")
    nowhere = str(tmp_path / "no_model")
    for overrides, expected in [
        ({"strenght": 0.5}, "error: inference.strenght: unknown option (options: allow_truncated, audio,"),
        ({"output_dir": str(blocker)}, f"error: inference.output_dir: {blocker}: is a file, not a folder"),
        ({"output_dir": str(blocker / "sub")}, f"error: inference.output_dir: {blocker}: is a file, not a folder"),
    ]:
        code, err = run(capsys, audio=str(src), checkpoint=nowhere, **overrides)
        assert code == 2 and len(err) == 1 and err[0].startswith(expected), err
    assert files_in(tmp_path) == {"a.wav", "restored.txt"}


def test_unwritable_input_folder_fails_per_file_before_the_model(tmp_path, capsys, monkeypatch):
    """Outputs next to inputs in a read-only folder: one line per file naming the folder,
    and the model is never loaded when no file can be written (root ignores chmod, so
    the permission answer is simulated)."""
    src = write(tmp_path / "a.wav", make_signal(0.2, 8000), 8000)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == tmp_path else real_access(p, mode))
    code, err = run(capsys, audio=str(src), checkpoint=str(tmp_path / "no_model"))
    assert code == 1 and err == [f"error: {src}: cannot write its outputs ({tmp_path}: no permission to write there)"]


def rendered_lines(stream: str) -> list[str]:
    """What a terminal shows for ``stream``: each carriage return goes back to the line start."""
    lines = []
    for raw in stream.split("\n"):
        shown: list[str] = []
        for part in raw.split("\r"):
            shown[: len(part)] = list(part)
        if "".join(shown).strip():
            lines.append("".join(shown).rstrip())
    return lines


def test_cli_any_path_unquoted_bad_arguments_exit_2_and_no_noise(tmp_path, micro_checkpoint):
    """Hydra's own argument errors exit 2 in one line; a failed file's progress bar is erased
    before its error line; a text file named .mp3 gets a true reason. (An unquoted path with
    non-ASCII, apostrophe, comma and '=', and no matplotlib chatter with a fresh font cache:
    test_cli_restores_a_file_and_leaves_no_stray_folders, in the same start of the command.)"""
    folder = tmp_path / "Ünï"
    folder.mkdir()
    proc = cli([f"inference.audio={folder / 'é.wav'}"], tmp_path)  # missing: a clean one-line error
    assert proc.returncode == 2 and proc.stderr == f"error: {folder / 'é.wav'}: no such file or folder\n", proc.stderr
    for args, expected in [(["inference.foo=1"], "error: Could not override 'inference.foo'."), (["inference.plot=[1,"], "error: no viable alternative")]:
        proc = cli(args, tmp_path)
        assert proc.returncode == 2 and proc.stderr.startswith(expected) and proc.stderr.count("\n") == 1, proc.stderr
    x = make_signal(1.0, 8000)
    x[6000, 0] = np.nan
    write(tmp_path / "nan.wav", x, 8000)
    (tmp_path / "text.mp3").write_text("hello, not audio\n")
    proc = cli(["inference.audio=text.mp3"], tmp_path)
    assert proc.returncode == 1 and proc.stderr == (
        "error: text.mp3: cannot be read as audio (no audio stream found: not an audio file, or one damaged beyond decoding)\n"
    ), proc.stderr
    proc = cli(["inference.audio=nan.wav", f"inference.checkpoint={micro_checkpoint}", "inference.block_seconds=0.5"], tmp_path)
    shown = rendered_lines(proc.stderr)
    assert proc.returncode == 1 and len(shown) == 1 and shown[0].startswith("error: nan.wav: NaN or infinite sample at 0.750 s"), shown


# --------------------------------------------------------------------------- the contract, on random inputs

from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# (container, sample format) pairs the restorer reads; AIFF comes back as WAV
CONTAINERS = [("WAV", "PCM_U8"), ("WAV", "PCM_16"), ("WAV", "PCM_24"), ("WAV", "PCM_32"), ("WAV", "FLOAT"),
              ("WAV", "DOUBLE"), ("FLAC", "PCM_16"), ("FLAC", "PCM_24"), ("AIFF", "PCM_16")]  # fmt: skip
CONTENTS = ("noise", "silence", "dc", "full_scale", "nan")


@st.composite
def bad_and_good_inputs(draw) -> dict:
    fmt, subtype = draw(st.sampled_from(CONTAINERS))
    rate = draw(st.integers(8000, 192000))
    channels = draw(st.integers(1, 8))
    # 0 samples to three segments of the 0.6 s used below (at most 1.9 s, to keep it fast)
    frames = draw(st.one_of(st.integers(0, 64), st.integers(0, int(1.9 * rate))))
    content = draw(st.sampled_from(CONTENTS if subtype in ("FLOAT", "DOUBLE") else CONTENTS[:-1]))
    level_db = draw(st.floats(-100.0, 0.0))
    return {"fmt": fmt, "subtype": subtype, "rate": rate, "channels": channels, "frames": frames,
            "content": content, "level": 10 ** (level_db / 20), "seed": draw(st.integers(0, 2**16))}  # fmt: skip


def make_content(case: dict) -> np.ndarray:
    rng = np.random.default_rng(case["seed"])
    n, c, level = case["frames"], case["channels"], case["level"]
    if case["content"] == "silence":
        return np.zeros((n, c))
    if case["content"] == "dc":
        return np.full((n, c), level)
    if case["content"] == "full_scale":  # a square wave touching both rails
        return np.where((np.arange(n)[:, None] // 50 + np.arange(c)) % 2, 1.0, -1.0) * np.ones((1, c))
    x = level * np.clip(rng.standard_normal((n, c)) / 3, -1, 1)
    if case["content"] == "nan" and n:
        x[rng.integers(n), rng.integers(c)] = np.nan
    return x


@settings(max_examples=30, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(case=bad_and_good_inputs())
def test_contract_holds_for_random_inputs(micro_checkpoint, case):
    """Either an output of the input's exact length, rate, channels and sample format whose
    restored + residual is the input to within the format's resolution, or a one-line error,
    a non-zero exit and nothing left behind."""
    import io
    import tempfile
    from contextlib import redirect_stderr

    with tempfile.TemporaryDirectory() as folder:
        ext = {"WAV": ".wav", "FLAC": ".flac", "AIFF": ".aiff"}[case["fmt"]]
        try:
            src = write(Path(folder) / f"in{ext}", make_content(case), case["rate"], case["subtype"], case["fmt"])
        except sf.LibsndfileError:  # libsndfile's FLAC encoder takes only some rates
            assume(False)
        err = io.StringIO()
        with redirect_stderr(err):
            code = inference.run(config(audio=str(src), checkpoint=str(micro_checkpoint), segment_seconds=0.6,
                                        overlap_seconds=0.2, block_seconds=0.3, denoising_strength=0.9))  # fmt: skip
        lines = [line for line in err.getvalue().splitlines() if line.strip()]
        outputs = sorted(p.name for p in Path(folder).iterdir() if p != src)
        if case["frames"] == 0 or case["content"] == "nan":
            assert code == 1 and len(lines) == 1 and lines[0].startswith(f"error: {src}: "), (case, lines)
            assert outputs == [], (case, outputs)
            return
        assert code == 0, (case, lines)
        assert all(line.startswith("warning: ") and "above full scale" in line for line in lines), (case, lines)
        out_ext = ".flac" if case["fmt"] == "FLAC" else ".wav"
        assert outputs == [f"in_denoised_s9{out_ext}", f"in_residual_s9{out_ext}"], (case, outputs)
        info_in = sf.info(str(src))
        integer = case["subtype"].startswith("PCM")
        read = lambda p: sf.read(str(p), dtype="int32" if integer else "float64", always_2d=True)[0].astype(np.float64)
        x = read(src)
        parts = []
        for name in outputs:
            info = sf.info(str(Path(folder) / name))
            assert (info.frames, info.samplerate, info.channels, info.subtype) == (case["frames"], info_in.samplerate, case["channels"], case["subtype"]), (case, info)
            parts.append(read(Path(folder) / name))
        denoised, residual = parts
        if integer:  # exact in the input's integers, except where a sample clipped at full scale (warned)
            bits = {"PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}[case["subtype"]]
            rail = 2**31 - 2 ** (32 - bits)  # the largest positive sample, as read into int32
            rails = (np.abs(denoised) >= rail) | (np.abs(residual) >= rail)
            assert not lines or rails.any()
            np.testing.assert_array_equal((denoised + residual)[~rails], x[~rails])
        else:  # float32 keeps about 7 digits of each part
            tol = 1e-6 * np.maximum(np.abs(denoised), np.abs(residual)) + 1e-30
            assert np.all(np.abs(denoised + residual - x) <= tol), case
        if case["content"] == "silence" and case["frames"] >= math.ceil(streaming.SILENCE_MIN_SECONDS * case["rate"]):
            assert not np.any(denoised) and not np.any(residual)


@pytest.mark.parametrize("module", ["inference", "train", "evaluate"])
@pytest.mark.parametrize("given,expected", [(None, "1"), ("0", "0")])
def test_entry_points_turn_onednn_on_unless_the_user_chose(module, given, expected):
    # TensorFlow leaves oneDNN off on CPUs without AVX-512, where it nearly halves a training step
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if given is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = given
    code = f"import os, {module}; print(os.environ['TF_ENABLE_ONEDNN_OPTS'])"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == expected


# --------------------------------------------------------------------------- the Python API


def test_from_pretrained_loads_the_shipped_model_and_restores_arrays():
    api = inference.Restorer.from_pretrained()
    assert api.model_rate == 44100 and api.strength == 1.0 and api.batch_segments == inference.default_batch_segments()
    x = make_signal(1.5, 22050, channels=2).astype(np.float32)
    full = api.restore(x, 22050)
    assert full.shape == x.shape and full.dtype == np.float32 and rms(full - x) > 1e-4


def test_restore_takes_a_strength_per_call_and_keeps_its_own(micro):
    api = restorer(micro)
    x = make_signal(1.2, 44100)
    full, half = api.restore(x, 44100), api.restore(x, 44100, strength=0.5)
    np.testing.assert_allclose(x - half, 0.5 * (x - full), atol=1e-6)  # out = x - s * noise
    assert np.array_equal(api.restore(x, 44100, strength=0.0), x)
    assert api.strength == 1.0
    with pytest.raises(ValueError, match="strength"):
        api.restore(x, 44100, strength=1.5)


def test_restore_file_takes_a_strength_per_file(tmp_path, micro):
    api = restorer(micro)
    src = write(tmp_path / "reel.wav", make_signal(1.0, 44100), 44100)
    result = api.restore_file(src, strength=0.5)
    assert result.denoised.name == "reel_denoised_s5.wav" and api.strength == 1.0
    full = api.restore_file(src, output_dir=tmp_path / "full")
    half_removed = sf.read(result.residual)[0]
    np.testing.assert_allclose(half_removed, 0.5 * sf.read(full.residual)[0], atol=1e-6)
    with pytest.raises(ValueError, match="strength"):
        api.restore_file(src, strength=-0.1)


@pytest.mark.parametrize("flags, expected", [({"avx2", "fma"}, "float32"), ({"avx512f", "avx512_bf16"}, "bfloat16"),
                                              ({"amx_bf16"}, "bfloat16")])
def test_auto_precision_is_bfloat16_only_where_the_cpu_has_it(monkeypatch, flags, expected):
    import precision

    monkeypatch.setattr(precision, "cpu_flags", lambda path="/proc/cpuinfo": set(flags))
    monkeypatch.setattr(loading, "compute_device", lambda: "CPU")
    assert loading.resolve_precision("auto") == expected
    assert loading.resolve_precision("float32") == "float32"
    monkeypatch.setattr(loading, "compute_device", lambda: "GPU (/physical_device:GPU:0)")
    assert loading.resolve_precision("auto") == "float32"
    with pytest.raises(ValueError):
        loading.resolve_precision("float16")
