"""scripts/classical_denoise.py: a file restored by a classical denoiser, written safely."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from baselines import tone_sequence, ephraim_malah_lsa
from metrics import si_sdr_improvement

from conftest import load_script

SR = 44100


@pytest.fixture(scope="module")
def script():
    module = load_script("classical_denoise")
    return module


def _noisy_stereo(path: Path, subtype: str = "PCM_24") -> tuple[np.ndarray, np.ndarray]:
    clean = tone_sequence(3.0, SR)
    rng = np.random.default_rng(1)
    clean2 = np.stack([clean, 0.5 * clean], axis=1)
    noisy = (clean2 + 0.02 * rng.standard_normal(clean2.shape)).astype(np.float32)
    sf.write(str(path), noisy, SR, subtype=subtype)
    return clean2, sf.read(str(path), dtype="float32")[0]


def test_restores_each_channel_and_keeps_the_format(script, tmp_path, capsys):
    source = tmp_path / "reel.wav"
    clean, noisy = _noisy_stereo(source)
    assert script.main([str(source)]) == 0
    out = tmp_path / "reel_lsa.wav"
    assert str(out) in capsys.readouterr().out
    info = sf.info(str(out))
    assert (info.format, info.subtype, info.channels, info.samplerate, info.frames) == ("WAV", "PCM_24", 2, SR, len(noisy))
    restored = sf.read(str(out), dtype="float32")[0]
    for c in range(2):  # each channel denoised: clearly better than its input
        assert si_sdr_improvement(restored[:, c], noisy[:, c], clean[:, c]) > 3.0
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_noisereduce_method_and_explicit_flac_output(script, tmp_path):
    source = tmp_path / "disc.flac"
    _, noisy = _noisy_stereo(source, subtype="PCM_16")
    out = tmp_path / "sub" / "restored.flac"
    assert script.main([str(source), "-o", str(out), "--method", "noisereduce_stationary"]) == 0
    info = sf.info(str(out))
    assert (info.format, info.subtype, info.frames) == ("FLAC", "PCM_16", len(noisy))


def test_never_overwrites_the_input_or_an_output_unasked(script, tmp_path, capsys):
    source = tmp_path / "reel.wav"
    _noisy_stereo(source)
    before = source.read_bytes()
    assert script.main([str(source), "-o", str(source), "--overwrite"]) == 1
    assert "is the input" in capsys.readouterr().err
    assert source.read_bytes() == before
    out = tmp_path / "reel_lsa.wav"
    out.write_bytes(b"keep me")
    assert script.main([str(source)]) == 1
    err = capsys.readouterr().err
    assert "--overwrite" in err and len(err.strip().splitlines()) == 1
    assert out.read_bytes() == b"keep me"
    assert script.main([str(source), "--overwrite"]) == 0
    assert sf.info(str(out)).channels == 2


def test_bad_inputs_exit_with_one_line_and_leave_nothing(script, tmp_path, capsys):
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    assert script.main([str(text)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "cannot be read as audio" in err and len(err.strip().splitlines()) == 1
    assert script.main([str(tmp_path / "missing.wav")]) == 2
    assert "no such file" in capsys.readouterr().err
    bad = tmp_path / "nan.wav"
    sf.write(str(bad), np.array([[0.1], [np.nan], [0.2]] * 100, dtype=np.float32), SR, subtype="FLOAT")
    assert script.main([str(bad)]) == 1
    assert "NaN or infinite sample at 0.000 s (frame 1)" in capsys.readouterr().err
    empty = tmp_path / "empty.wav"
    sf.write(str(empty), np.zeros((0, 2), dtype=np.float32), SR)
    assert script.main([str(empty)]) == 1
    assert "holds no samples" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.wav", "nan.wav", "notes.wav"]


def test_a_file_of_one_segment_is_restored_as_a_whole(script, tmp_path):
    source = tmp_path / "short.wav"
    _, noisy = _noisy_stereo(source, subtype="FLOAT")
    out = tmp_path / "short_lsa.wav"
    assert script.main([str(source)]) == 0
    restored = sf.read(str(out), dtype="float32")[0]
    for c in range(2):  # the same as the estimator on the whole channel, as evaluate.py runs it
        np.testing.assert_allclose(restored[:, c], ephraim_malah_lsa(noisy[:, c], SR), atol=1e-6)


def test_a_long_file_is_restored_segment_by_segment(script, tmp_path, monkeypatch):
    import baselines

    lengths = []

    def recording_lsa(x, sample_rate):
        lengths.append(len(x))
        return ephraim_malah_lsa(x, sample_rate)

    monkeypatch.setitem(baselines.BASELINES, "lsa", recording_lsa)
    source = tmp_path / "reel.wav"
    clean, noisy = _noisy_stereo(source, subtype="FLOAT")
    out = tmp_path / "reel_lsa.wav"
    # 3 s in segments of 1 s: memory is bounded by the segment, not by the file
    script.run(source, out, "lsa", overwrite=False, segment_seconds=1.0)
    assert max(lengths) <= SR and len(lengths) >= 2 * 4  # two channels, at least four segments each
    restored = sf.read(str(out), dtype="float32")[0]
    assert restored.shape == noisy.shape
    for c in range(2):  # crossfaded segments restore each channel about as well as one piece
        whole = si_sdr_improvement(ephraim_malah_lsa(noisy[:, c], SR), noisy[:, c], clean[:, c])
        assert si_sdr_improvement(restored[:, c], noisy[:, c], clean[:, c]) > max(3.0, whole - 1.0)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []
