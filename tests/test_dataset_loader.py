"""Data loader: mixing, determinism and resume, splits, formats, bad files, silence."""
import logging
import sys
import types

import numpy as np
import pytest
import soundfile as sf

import dataset_loader
import paths

RATE = 16000  # model rate for the pipeline tests: small arrays, fast
SEGMENT = 4000


class WhiteNoiseSource:
    """Stand-in for degradations.NoiseSource (same interface): white noise, one family."""

    made: list = []  # (split, cfg) of every instance, to check what the loader asked for

    def __init__(self, cfg, sample_rate, split="all"):
        self.cfg, self.sample_rate, self.split = cfg, sample_rate, split
        WhiteNoiseSource.made.append((split, cfg))

    def sample(self, num_samples, rng):
        return (0.1 * rng.standard_normal(num_samples)).astype(np.float32), "white"


@pytest.fixture(autouse=True)
def stand_in_noise(monkeypatch, request):
    """The loader imports ``degradations`` lazily; give it the stand-in (except to the
    test of the real one), so that these tests do not depend on the noise synthesis."""
    if "real_noise_source" in request.node.name:
        return
    module = types.ModuleType("degradations")
    module.NoiseSource = WhiteNoiseSource
    monkeypatch.setitem(sys.modules, "degradations", module)


NOISE_CFG = {"snr_db": [-5.0, 25.0]}


def tone(seconds, rate, freq=440.0, amp=0.3, seed=0):
    t = np.arange(int(round(seconds * rate))) / rate
    rng = np.random.default_rng(seed)
    return (amp * np.sin(2 * np.pi * freq * t + rng.uniform(0, 6)) + 0.01 * rng.standard_normal(len(t))).astype(
        np.float32
    )


def make_corpus(root, files_per_category=4, seconds=1.0):
    """Three category folders of distinct tones; returns the dset config."""
    cats = {}
    for c, (name, weight) in enumerate([("speech", 0.6), ("effects", 0.2), ("music", 0.2)]):
        folder = root / name
        folder.mkdir()
        for i in range(files_per_category):
            sf.write(folder / f"{name}{i}.wav", tone(seconds, RATE, 200 + 100 * c + 17 * i, seed=10 * c + i), RATE)
        cats[name] = {"dirs": [str(folder)], "weight": weight}
    return {"categories": cats, "validation_fraction": 0.25, "cache_mb": 16, "num_parallel_calls": 2}


def first_batches(dset, seed, start_step, count, batch=3):
    ds = dataset_loader.make_train_dataset(dset, NOISE_CFG, RATE, SEGMENT, batch, seed, start_step=start_step)
    return [(n.numpy(), c.numpy()) for n, c in ds.take(count)]


def snr_db(target, noisy):
    residual = noisy.astype(np.float64) - target
    return 10 * np.log10(np.sum(target.astype(np.float64) ** 2) / np.sum(residual**2))


@pytest.mark.parametrize("snr", [-5.0, 0.0, 7.5, 30.0])
def test_mix_reaches_requested_snr_and_gain(snr):
    rng = np.random.default_rng(3)
    clean = tone(1.0, RATE)
    noise = (rng.standard_normal(RATE) * 0.7).astype(np.float32)
    noisy, target = dataset_loader.mix(clean, noise, snr, gain_db=-4.0)
    assert noisy.dtype == np.float32 and target.dtype == np.float32 and noisy.shape == clean.shape
    assert snr_db(target, noisy) == pytest.approx(snr, abs=0.1)
    np.testing.assert_allclose(target, clean * 10 ** (-4.0 / 20), rtol=1e-5, atol=1e-7)


def test_mix_with_silent_noise_returns_scaled_clean():
    clean = tone(0.1, RATE)
    noisy, target = dataset_loader.mix(clean, np.zeros_like(clean), 10.0, 0.0)
    np.testing.assert_allclose(noisy, clean, atol=1e-7)
    with pytest.raises(ValueError):
        dataset_loader.mix(clean, np.zeros(len(clean) - 1), 10.0, 0.0)


def test_pause_gate_silences_one_span_with_fades_outside_it():
    rng = np.random.default_rng(4)
    gate = dataset_loader.pause_gate(4000, 0.4, rng, fade_samples=50)
    assert gate.shape == (4000,) and gate.min() == 0.0 and gate.max() == 1.0
    zero = np.flatnonzero(gate == 0.0)
    assert zero.size == 1600 and np.all(np.diff(zero) == 1)  # one span of the fraction asked
    ramp = np.flatnonzero((gate > 0.0) & (gate < 1.0))
    assert ramp.size == 100 and set(ramp) == set(range(zero[0] - 50, zero[0])) | set(range(zero[-1] + 1, zero[-1] + 51))
    assert np.all(np.abs(np.diff(gate)) < 0.04)  # no step from programme to silence
    whole = dataset_loader.pause_gate(4000, 1.0, rng, fade_samples=50)
    np.testing.assert_array_equal(whole, np.zeros(4000))
    with pytest.raises(ValueError, match="fraction"):
        dataset_loader.pause_gate(4000, 0.0, rng, fade_samples=50)


def test_mix_with_a_pause_keeps_the_noise_level_and_silences_the_programme():
    rng = np.random.default_rng(3)
    clean = tone(1.0, RATE)
    noise = (rng.standard_normal(RATE) * 0.7).astype(np.float32)
    gate = np.ones(RATE)
    gate[4000:12000] = 0.0
    plain_noisy, plain_target = dataset_loader.mix(clean, noise, 10.0, 0.0)
    noisy, target = dataset_loader.mix(clean, noise, 10.0, 0.0, gate)
    np.testing.assert_array_equal(target[4000:12000], 0.0)
    np.testing.assert_allclose(target[:4000], plain_target[:4000], atol=1e-7)
    # the noise is what it is without the pause: the level set by the whole programme
    np.testing.assert_allclose(noisy - target, plain_noisy - plain_target, atol=1e-6)


def test_a_share_of_training_examples_gets_a_pause_and_the_rest_are_unchanged(tmp_path):
    dset = make_corpus(tmp_path)
    corpus = dataset_loader.CleanCorpus(dset, RATE, "train")
    noise = WhiteNoiseSource(NOISE_CFG, RATE, "train")
    plain = dataset_loader.ExampleMaker(corpus, noise, NOISE_CFG, dset, SEGMENT, seed=1)
    paused = dataset_loader.ExampleMaker(corpus, noise, NOISE_CFG, {**dset, "pause_share": 0.5}, SEGMENT, seed=1)
    changed = 0
    for i in range(40):
        (n0, c0), (n1, c1) = plain.train_example(i), paused.train_example(i)
        np.testing.assert_allclose(n1 - c1, n0 - c0, atol=1e-6)  # the same noise at the same level
        if np.array_equal(c0, c1):
            continue
        changed += 1
        silent = np.abs(c1) == 0.0
        assert silent.sum() >= 0.25 * SEGMENT - 1  # pause_fraction's default low end
        assert np.count_nonzero(~silent & (np.abs(c1 - c0) > 1e-7)) <= 2 * 160  # elsewhere only the fades differ
    assert 10 <= changed <= 30
    with pytest.raises(ValueError, match="pause_share"):
        dataset_loader.ExampleMaker(corpus, noise, NOISE_CFG, {**dset, "pause_share": 1.5}, SEGMENT, seed=1)
    with pytest.raises(ValueError, match="pause_fraction"):
        dataset_loader.ExampleMaker(corpus, noise, NOISE_CFG, {**dset, "pause_fraction": [0.0, 0.5]}, SEGMENT, seed=1)


def test_train_dataset_shapes_and_seeding(tmp_path):
    dset = make_corpus(tmp_path)
    a = first_batches(dset, seed=5, start_step=0, count=2)
    b = first_batches(dset, seed=5, start_step=0, count=2)
    c = first_batches(dset, seed=6, start_step=0, count=1)
    noisy, clean = a[0]
    assert noisy.shape == (3, SEGMENT) and clean.shape == (3, SEGMENT) and noisy.dtype == np.float32
    assert not np.allclose(noisy, clean)  # noise was added
    for (n1, c1), (n2, c2) in zip(a, b):
        np.testing.assert_array_equal(n1, n2)
        np.testing.assert_array_equal(c1, c2)
    assert not np.array_equal(a[0][0], c[0][0])
    assert not np.array_equal(a[0][0], a[1][0])  # consecutive batches differ


def test_start_step_continues_exactly(tmp_path):
    dset = make_corpus(tmp_path)
    from_zero = first_batches(dset, seed=2, start_step=0, count=4)
    resumed = first_batches(dset, seed=2, start_step=3, count=1)
    np.testing.assert_array_equal(resumed[0][0], from_zero[3][0])
    np.testing.assert_array_equal(resumed[0][1], from_zero[3][1])
    assert not np.array_equal(resumed[0][0], from_zero[2][0])


def test_training_and_validation_ask_for_their_own_recorded_noise(tmp_path):
    dset = make_corpus(tmp_path)
    noise = {**NOISE_CFG, "recorded_share": 0.3, "validation_recorded_share": 0.5}
    WhiteNoiseSource.made.clear()
    dataset_loader.make_train_dataset(dset, noise, RATE, SEGMENT, 2, 0)
    dataset_loader.make_validation_set(dset, noise, RATE, SEGMENT, 2, 0)
    (train_split, train_cfg), (val_split, val_cfg) = WhiteNoiseSource.made
    assert (train_split, val_split) == ("train", "validation")
    # validation mixes at its own share; training and the caller's config keep theirs
    assert train_cfg["recorded_share"] == 0.3 and val_cfg["recorded_share"] == 0.5
    assert noise["recorded_share"] == 0.3
    assert dataset_loader.validation_noise_config({**noise, "validation_recorded_share": None})["recorded_share"] == 0.3


def test_cache_does_not_change_examples(tmp_path):
    dset = make_corpus(tmp_path)
    cached = first_batches(dset, seed=1, start_step=0, count=2)
    uncached = first_batches({**dset, "cache_mb": 0}, seed=1, start_step=0, count=2)
    preloaded = first_batches({**dset, "preload": True}, seed=1, start_step=0, count=2)
    for (n1, _), (n2, _), (n3, _) in zip(cached, uncached, preloaded):
        np.testing.assert_array_equal(n1, n2)
        np.testing.assert_array_equal(n1, n3)


def test_validation_set_seeded_with_metadata_and_snr_grid(tmp_path):
    dset = {**make_corpus(tmp_path), "validation_snr_db": [0, 5, 10, 20]}
    a = dataset_loader.make_validation_set(dset, NOISE_CFG, RATE, SEGMENT, 12, seed=0)
    b = dataset_loader.make_validation_set(dset, NOISE_CFG, RATE, SEGMENT, 12, seed=0)
    c = dataset_loader.make_validation_set(dset, NOISE_CFG, RATE, SEGMENT, 12, seed=1)
    assert a["noisy"].shape == (12, SEGMENT) and a["clean"].shape == (12, SEGMENT)
    assert len(a["category"]) == len(a["family"]) == len(a["snr_db"]) == 12
    np.testing.assert_array_equal(a["noisy"], b["noisy"])
    assert a["category"] == b["category"]
    assert not np.array_equal(a["noisy"], c["noisy"])
    # allocation by weight 0.6/0.2/0.2 of 12 items, and every grid SNR used
    # (7.2, 2.4, 2.4 -> 7, 2, 2 and the one left to the first largest remainder)
    assert [a["category"].count(c) for c in ("speech", "effects", "music")] == [7, 3, 2]
    assert set(a["snr_db"]) == {0.0, 5.0, 10.0, 20.0}
    assert set(a["family"]) == {"white"}
    for i in range(12):
        assert snr_db(a["clean"][i], a["noisy"][i]) == pytest.approx(a["snr_db"][i], abs=0.1)


def test_category_sampling_matches_weights():
    weights = np.array([0.6, 0.2, 0.2])
    rng = np.random.default_rng(0)
    draws = np.array([dataset_loader.sample_category(weights, rng) for _ in range(1000)])
    shares = np.bincount(draws, minlength=3) / 1000
    np.testing.assert_allclose(shares, weights, atol=0.05)
    skewed = np.array([dataset_loader.sample_category(np.array([0.0, 1.0]), rng) for _ in range(50)])
    assert (skewed == 1).all()


def test_corpus_normalises_weights_and_ignores_weight_zero(tmp_path):
    dset = make_corpus(tmp_path)
    dset["categories"]["speech"]["weight"] = 3
    dset["categories"]["effects"]["weight"] = 1
    dset["categories"]["music"] = {"dirs": [str(tmp_path / "no_such_folder")], "weight": 0}
    corpus = dataset_loader.CleanCorpus(dset, RATE, "train")
    assert corpus.categories == ["speech", "effects"]
    np.testing.assert_allclose(corpus.weights, [0.75, 0.25])


@pytest.mark.parametrize("rate,channels", [(16000, 1), (22050, 1), (48000, 1), (44100, 2), (48000, 2)])
def test_rates_and_stereo_are_resampled_and_downmixed(tmp_path, rate, channels):
    folder = tmp_path / "speech"
    folder.mkdir()
    left = tone(0.8, rate, 300.0)
    audio = np.stack([left, np.zeros_like(left)], axis=1) if channels == 2 else left
    sf.write(folder / "a.flac", audio, rate)
    sf.write(folder / "b.wav", audio, rate)
    dset = {"categories": {"speech": {"dirs": [str(folder)], "weight": 1.0}}, "validation_fraction": 0.0}
    corpus = dataset_loader.CleanCorpus(dset, 44100, "train")
    info = corpus.files["speech"][0]
    loaded = corpus.load(info)
    assert loaded.ndim == 1 and loaded.dtype == np.float32
    assert abs(len(loaded) - round(0.8 * 44100)) <= 2
    assert abs(info.num_samples - len(loaded)) <= 2
    expected_peak = 0.3 / channels + 0.01  # the right channel is silent: downmix halves
    assert np.max(np.abs(loaded)) == pytest.approx(expected_peak, abs=0.04)


def test_corrupt_and_too_short_files_are_skipped_with_one_warning(tmp_path, caplog):
    dset = make_corpus(tmp_path)
    bad = tmp_path / "speech" / "corrupt.wav"
    bad.write_bytes(b"RIFF\x00\x00junk" * 50)
    empty = tmp_path / "music" / "empty.flac"
    empty.write_bytes(b"")
    short = tmp_path / "effects" / "blip.wav"
    sf.write(short, tone(0.05, RATE), RATE)
    with caplog.at_level(logging.WARNING, logger="dataset_loader"):
        batches = first_batches(dset, seed=0, start_step=0, count=3)
        dataset_loader.CleanCorpus(dset, RATE, "validation")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # one warning, not one per use or per split
    for path in (bad, empty, short):
        assert str(path) in warnings[0]
    assert len(batches) == 3 and all(np.isfinite(n).all() for n, _ in batches)


def test_file_failing_only_at_decode_is_skipped_mid_run(tmp_path, monkeypatch, caplog):
    dset = make_corpus(tmp_path, files_per_category=3)
    real_load = dataset_loader.audio_io.load_audio

    def flaky(path, *args, **kwargs):
        if "speech0" in str(path):
            raise dataset_loader.audio_io.AudioError(f"{path}: truncated data")
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(dataset_loader.audio_io, "load_audio", flaky)
    corpus = dataset_loader.CleanCorpus({**dset, "validation_fraction": 0.999}, RATE, "validation")
    assert any("speech0" in f.key for f in corpus.files["speech"])  # it passed the header check
    rng = np.random.default_rng(0)
    with caplog.at_level(logging.WARNING, logger="dataset_loader"):
        keys = [corpus.draw(0, SEGMENT, rng)[1] for _ in range(30)]
    assert keys and all("speech0" not in k for k in keys)
    assert any("speech0" in r.getMessage() for r in caplog.records)


def test_missing_folder_and_empty_category_raise_at_start(tmp_path):
    dset = make_corpus(tmp_path)
    missing = tmp_path / "gone"
    dset["categories"]["music"]["dirs"] = [str(missing)]
    with pytest.raises(ValueError, match="gone"):
        dataset_loader.make_train_dataset(dset, NOISE_CFG, RATE, SEGMENT, 2, 0)
    empty = tmp_path / "empty_folder"
    empty.mkdir()
    (empty / "notes.txt").write_text("not audio")
    dset["categories"]["music"]["dirs"] = [str(empty)]
    with pytest.raises(ValueError, match="empty_folder"):
        dataset_loader.make_validation_set(dset, NOISE_CFG, RATE, SEGMENT, 4, 0)
    dset["categories"]["music"]["weight"] = 0  # weight 0: may be empty
    assert dataset_loader.CleanCorpus(dset, RATE, "train").categories == ["speech", "effects"]


def test_relative_dirs_resolve_against_repo_root(tmp_path, monkeypatch):
    dset = make_corpus(tmp_path)
    relative = (tmp_path / "speech").relative_to("/")
    up = "/".join([".."] * len(paths.REPO_ROOT.parts[1:]))
    dset["categories"]["speech"]["dirs"] = [f"{up}/{relative}"]
    monkeypatch.chdir(tmp_path / "music")  # the cwd must not matter
    corpus = dataset_loader.CleanCorpus(dset, RATE, "train")
    assert all(f.path.parent == tmp_path / "speech" for f in corpus.files["speech"])


def test_validation_files_are_disjoint_from_training(tmp_path):
    dset = make_corpus(tmp_path, files_per_category=6)
    train = dataset_loader.CleanCorpus(dset, RATE, "train")
    val = dataset_loader.CleanCorpus(dset, RATE, "validation")
    for name in ("speech", "effects", "music"):
        t = {f.path for f in train.files[name]}
        v = {f.path for f in val.files[name]}
        assert v and t and not (t & v)
        assert len(t | v) == 6
    # stable when files are added: no old file changes side
    sf.write(tmp_path / "speech" / "new.wav", tone(1.0, RATE), RATE)
    val2 = dataset_loader.CleanCorpus(dset, RATE, "validation")
    old = {f.path for f in val.files["speech"]}
    assert old <= {f.path for f in val2.files["speech"]} | {tmp_path / "speech" / "new.wav"}


def test_single_file_category_cannot_split(tmp_path):
    dset = make_corpus(tmp_path, files_per_category=1)
    with pytest.raises(ValueError, match="too few"):
        dataset_loader.CleanCorpus(dset, RATE, "train")


def test_near_silent_crops_are_redrawn(tmp_path):
    folder = tmp_path / "speech"
    folder.mkdir()
    half_silent = np.concatenate([tone(2.0, RATE), np.zeros(2 * RATE, np.float32)])
    sf.write(folder / "half.wav", half_silent, RATE)
    base = {"categories": {"speech": {"dirs": [str(folder)], "weight": 1.0}}, "validation_fraction": 0.0}
    threshold = -40.0

    def levels(retries):
        corpus = dataset_loader.CleanCorpus(
            {**base, "silence_threshold_db": threshold, "silence_retries": retries}, RATE, "validation"
        )
        rng = np.random.default_rng(11)
        return np.array([dataset_loader.rms_dbfs(corpus.draw(0, SEGMENT, rng)[0]) for _ in range(40)])

    assert (levels(0) < threshold).sum() >= 10  # without retries most crops are silent
    assert (levels(20) >= threshold).all()


def test_short_files_are_padded_into_a_segment(tmp_path):
    folder = tmp_path / "speech"
    folder.mkdir()
    sf.write(folder / "short.wav", tone(0.1, RATE), RATE)  # 1600 samples < SEGMENT
    dset = {"categories": {"speech": {"dirs": [str(folder)], "weight": 1.0}}, "validation_fraction": 0.0,
            "min_file_seconds": 0.05}  # fmt: skip
    corpus = dataset_loader.CleanCorpus(dset, RATE, "validation")
    crop, _ = corpus.draw(0, SEGMENT, np.random.default_rng(0))
    assert crop.shape == (SEGMENT,)
    assert (np.abs(crop) > 0).sum() == 1600


def test_shipped_configs_resolve_and_template_demands_paths(monkeypatch):
    from omegaconf import OmegaConf

    monkeypatch.delenv("CORPUS_DIR", raising=False)

    corpus_cfg = OmegaConf.load(paths.REPO_ROOT / "conf" / "dset" / "corpus.yaml")
    speech = corpus_cfg.categories.speech.dirs[0]
    # resolved on both sides: a shared/ that is a symlink (a corpus kept on another disk) is the same place
    expected = (paths.REPO_ROOT.parent / "shared" / "corpus" / "speech").resolve()
    assert paths.repo_path(speech).resolve() == expected
    assert abs(sum(c.weight for c in corpus_cfg.categories.values()) - 1.0) < 1e-9
    template = OmegaConf.load(paths.REPO_ROOT / "conf" / "dset" / "full_template.yaml")
    with pytest.raises(ValueError, match="categories.speech.dirs"):
        dataset_loader.CleanCorpus(template, 44100, "train")


def test_pipeline_with_real_noise_source_and_shipped_noise_config(tmp_path):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(paths.REPO_ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="conf", overrides=["noise=synthetic"])
    dset = make_corpus(tmp_path)
    low, high = cfg.noise.snr_db
    ds = dataset_loader.make_train_dataset(dset, cfg.noise, 44100, 8192, 4, seed=0)
    noisy, clean = (t.numpy() for t in next(iter(ds)))
    assert noisy.shape == clean.shape == (4, 8192) and np.isfinite(noisy).all()
    for n, c in zip(noisy, clean):
        assert low - 0.1 <= snr_db(c, n) <= high + 0.1
    val = dataset_loader.make_validation_set(dset, cfg.noise, 44100, 8192, 4, seed=0)
    assert all(isinstance(f, str) and f for f in val["family"])


def test_corpus_music_adds_the_extra_folder_and_keeps_the_corpus_split(tmp_path, monkeypatch):
    from hydra import compose, initialize_config_dir

    corpus, extra = tmp_path / "corpus", tmp_path / "extra_music"
    # 30 music files: enough that some hash below the 10 % fraction by themselves, as in the
    # real corpus (with none, split_files falls back to one file, which more files would move)
    for i, (folder, count) in enumerate([("speech", 4), ("sfx", 4), ("music", 30)]):
        (corpus / folder).mkdir(parents=True)
        for j in range(count):
            sf.write(corpus / folder / f"{folder}{j}.wav", tone(0.5, RATE, 200 + 50 * i + 7 * j, seed=j), RATE)
    (extra / "wesnoth").mkdir(parents=True)
    for j in range(12):
        sf.write(extra / "wesnoth" / f"piece{j}.ogg", tone(0.5, RATE, 300 + 11 * j, seed=j), RATE)
    (extra / "wesnoth" / "COPYRIGHT").write_text("licence text, not audio")
    monkeypatch.setenv("CORPUS_DIR", str(corpus))
    monkeypatch.setenv("EXTRA_MUSIC_DIR", str(extra))
    with initialize_config_dir(config_dir=str(paths.REPO_ROOT / "conf"), version_base=None):
        base = compose(config_name="conf").dset
        more = compose(config_name="conf", overrides=["dset=corpus_music"]).dset
    assert more.name == "corpus_music" and more.categories.speech.weight == base.categories.speech.weight

    def music(cfg, split):
        return {f.path for f in dataset_loader.CleanCorpus(cfg, RATE, split).files["music"]}

    for split in ("train", "validation"):
        assert {p for p in music(more, split) if p.parent == corpus / "music"} == music(base, split)
    found = music(more, "train") | music(more, "validation")
    assert {p for p in found if p.parent == extra / "wesnoth"} == set((extra / "wesnoth").glob("*.ogg"))


def test_notch_steady_tones_takes_hum_out_of_clean_files_as_they_load(tmp_path):
    from tone_signals import tone_sequence

    folder = tmp_path / "speech"
    folder.mkdir()
    t = np.arange(int(6.0 * 44100)) / 44100
    hum = 0.02 * np.sin(2 * np.pi * 50.0 * t)
    sf.write(folder / "a.wav", tone_sequence(6.0) + hum, 44100, subtype="FLOAT")
    sf.write(folder / "b.wav", tone_sequence(6.0, pitches=(300.0, 400.0)), 44100, subtype="FLOAT")
    dset = {"categories": {"speech": {"dirs": [str(folder)], "weight": 1.0}}, "validation_fraction": 0.0, "cache_mb": 0}

    def line_db(x):
        spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
        return 10 * np.log10(spectrum[np.abs(np.fft.rfftfreq(len(x), 1 / 44100) - 50.0) < 1.0].sum())

    loaded = {}
    for notch in (False, True):
        for split in dataset_loader.SPLITS:  # one file goes to validation whatever the fraction
            corpus = dataset_loader.CleanCorpus({**dset, "notch_steady_tones": notch}, 44100, split)
            loaded.setdefault(notch, {}).update({info.path.name: corpus.load(info) for info in corpus.files["speech"]})
    np.testing.assert_allclose(loaded[False]["a.wav"], tone_sequence(6.0) + hum, atol=1e-6)
    assert loaded[True]["a.wav"].dtype == np.float32
    assert line_db(loaded[True]["a.wav"]) < line_db(loaded[False]["a.wav"]) - 20.0
    np.testing.assert_allclose(loaded[True]["b.wav"], loaded[False]["b.wav"])  # no steady tone: untouched
