"""The family registry: one decorated function and one config section make a family that the
loader draws from; keys of a family's section that the family never reads are rejected."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest
import soundfile as sf

import degradations as dg
import noise_families
import paths
from noise_components import db_to_gain, harmonic_tone, hiss
from noise_families import Params, noise_family

SR = 16000


def whine_noise(num_samples: int, sample_rate: float, rng: np.random.Generator, params: Mapping) -> np.ndarray:
    """A motor's whine (one tone, its frequency drawn per example) over white hiss: the worked
    example of docs/ARCHITECTURE.md, "Adding a noise family"."""
    p = Params(params, "whine")
    tone = harmonic_tone(num_samples, sample_rate, p.log_uniform("frequency_hz", rng), [1.0], start_phase=rng.random())
    return hiss(num_samples, sample_rate, rng) + tone * np.float32(db_to_gain(p.uniform("level_db", rng)))


# what conf/noise/whine.yaml holds below `defaults: [schema, _self_]`
WHINE = {"whine": {"frequency_hz": [500, 4000], "level_db": [10, 20]}}


@pytest.fixture
def whine():
    noise_family("whine")(whine_noise)
    try:
        yield
    finally:
        noise_families.FAMILY_FUNCTIONS.pop("whine", None)


def test_a_registered_family_is_drawn_by_the_loader(whine, tmp_path):
    import dataset_loader

    assert "whine" in dg.FAMILIES and dg.FAMILIES[:4] == ("film", "gramophone", "tape", "generic")
    cats = {}
    for c, name in enumerate(("speech", "music")):
        (tmp_path / name).mkdir()
        for i in range(3):
            t = np.arange(SR) / SR
            sf.write(tmp_path / name / f"{i}.wav", 0.3 * np.sin(2 * np.pi * (200 + 50 * c + 10 * i) * t), SR)
        cats[name] = {"dirs": [str(tmp_path / name)], "weight": 0.5}
    dset = {"categories": cats, "validation_fraction": 0.34}
    noise = dg.noise_config(WHINE)  # the schema's mixing keys; family_weights {} means the families present
    assert noise["family_weights"] == {"whine": 1.0} and noise["snr_db"] == [0.0, 25.0]
    val = dataset_loader.make_validation_set(dset, noise, SR, 8000, 4, seed=0)
    assert val["family"] == ["whine"] * 4
    # the whine is there: the strongest bin of the noise (noisy - clean) lies in frequency_hz
    noise_only = val["noisy"][0].astype(np.float64) - val["clean"][0]
    peak_hz = np.argmax(np.abs(np.fft.rfft(noise_only))) * SR / noise_only.size
    assert 500 <= peak_hz <= 4000


def test_a_family_section_key_the_family_never_reads_is_named(whine):
    typo = {"whine": {**WHINE["whine"], "levl_db": [0, 1]}}
    with pytest.raises(ValueError, match=r"noise\.whine\.levl_db: not a parameter of the whine family") as err:
        dg.NoiseSource(typo, SR)
    assert "\n" not in str(err.value)
    film = dg.load_noise_config("film")
    film["film"]["crackle"]["rat_hz"] = film["film"]["crackle"].pop("rate_hz")
    with pytest.raises(ValueError, match=r"noise\.film\.crackle\.rat"):
        dg.NoiseSource(film, SR)
    extra = dg.load_noise_config("film")
    extra["film"]["crackle"]["rat_hz"] = [1, 2]  # beside the right key: read by nothing
    with pytest.raises(ValueError, match=r"noise\.film\.crackle\.rat_hz: not a parameter") as err:
        dg.NoiseSource(extra, SR)
    known = str(err.value).split("known here: ")[1]
    assert "rate_hz" in known and "rat_hz" not in known.replace("rate_hz", "")  # the typo is not offered as known


def test_a_top_level_key_must_be_a_mixing_key_or_a_family():
    with pytest.raises(ValueError, match=r"noise\.snr_dbb: neither a mixing key"):
        dg.noise_config({"snr_dbb": [0, 10], **WHINE})
    with pytest.raises(ValueError, match=r"noise\.whine"):  # not registered here
        dg.noise_config(WHINE)
    with pytest.raises(ValueError, match=r"noise\.recorded_share"):
        dg.noise_config({"recorded_share": "most"})


def test_names_are_unique_and_not_reserved():
    with pytest.raises(ValueError, match="already registered"):
        noise_family("film")(whine_noise)
    with pytest.raises(ValueError, match="recorded"):
        noise_family("recorded")(whine_noise)
    assert noise_families.FAMILY_FUNCTIONS["film"] is dg.film_noise


def test_every_family_has_its_yaml_and_every_family_yaml_its_function():
    def holds_one_family(path):
        text = path.read_text()
        return f"\n{path.stem}:\n" in text

    yamls = {p.stem for p in (paths.REPO_ROOT / "conf" / "noise").glob("*.yaml") if holds_one_family(p)}
    assert yamls == set(dg.FAMILIES)
    for family in dg.FAMILIES:
        cfg = dg.load_noise_config(family)
        assert set(cfg) == set(dg.MIXING_KEYS) | {family}


# --------------------------------------------------------------------------- recorded noise, varied


def peak_hz(x: np.ndarray, sr: int = SR) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.argmax(spec) * sr / x.size)


@pytest.mark.parametrize("speed", [0.5, 0.8, 1.6])
def test_a_varied_recording_is_replayed_at_its_speed(speed):
    variation = noise_families.RecordingVariation(speed=speed, slope_db_per_octave=0.0)
    n = SR
    tone = np.sin(2 * np.pi * 1000 * np.arange(variation.source_samples(n)) / SR).astype(np.float32)
    y = variation.apply(tone, n, SR)
    assert y.shape == (n,) and y.dtype == np.float32
    assert peak_hz(y) == pytest.approx(1000 * speed, abs=3)
    # a plain replay keeps the tone's level (no gain from the resampling)
    assert np.sqrt(np.mean(y**2)) == pytest.approx(np.sqrt(0.5), rel=0.02)


def test_a_varied_recording_is_recoloured_by_its_envelope():
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(SR + 10000).astype(np.float32)
    notch = noise_families.RecordingVariation(1.0, 0.0, (2000.0,), (-30.0,), (0.3,))
    tilt = noise_families.RecordingVariation(1.0, -6.0)
    f, plain = scipy_welch(noise[:SR])
    _, notched = scipy_welch(notch.apply(noise, SR, SR))
    _, tilted = scipy_welch(tilt.apply(noise, SR, SR))
    at = lambda p, hz: 10 * np.log10(p[np.argmin(np.abs(f - hz))] / plain[np.argmin(np.abs(f - hz))])  # noqa: E731
    assert at(notched, 2000) < -25 and abs(at(notched, 300)) < 2
    # -6 dB an octave: 250 Hz up by 12 dB, 4 kHz down by 12, against 1 kHz
    assert at(tilted, 250) - at(tilted, 1000) == pytest.approx(12, abs=2)
    assert at(tilted, 4000) - at(tilted, 1000) == pytest.approx(-12, abs=2)


def scipy_welch(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import scipy.signal

    return scipy.signal.welch(x, SR, nperseg=1024)


def test_a_variation_draw_follows_its_ranges_and_prob():
    params = {**dg.load_noise_config("mixed")["recorded_variation"], "prob": 1.0}
    draws = [noise_families.RecordingVariation.draw(params, np.random.default_rng(s)) for s in range(200)]
    speeds = np.array([d.speed for d in draws])
    assert speeds.min() >= 0.5 and speeds.max() <= 2.0 and (speeds < 1).mean() == pytest.approx(0.5, abs=0.12)
    assert all(len(d.peaks_hz) == len(d.peak_gains_db) <= 3 for d in draws)
    assert {len(d.peaks_hz) for d in draws} == {0, 1, 2, 3}
    assert noise_families.RecordingVariation.draw({**params, "prob": 0.0}, np.random.default_rng(0)) is None
    with pytest.raises(ValueError, match="recorded_variation: needs"):
        draws[0].apply(np.zeros(100, np.float32), SR, SR)
