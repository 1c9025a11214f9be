"""Two-stage U-Net: shapes, output forms, config validation, gradients, saving, learning."""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from omegaconf import OmegaConf

import configs
import stft
import unet

NUM_BINS = 1025


def load_config(name: str, **overrides: object) -> dict:
    cfg = OmegaConf.to_container(configs.group_config("model", name))
    cfg.update(overrides)
    return cfg


def build(name: str, seed: int = 0, **overrides: object) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return unet.build_model(load_config(name, **overrides))


def random_spectrogram(batch: int, frames: int, seed: int = 0) -> tf.Tensor:
    rng = np.random.default_rng(seed)
    return tf.constant(rng.standard_normal((batch, frames, NUM_BINS, 2)).astype(np.float32))


def as_list(outputs: tf.Tensor | list[tf.Tensor]) -> list[tf.Tensor]:
    """Stage outputs as a list (a one-stage model currently returns a bare tensor)."""
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def two_stage_loss(target: tf.Tensor, outputs: list[tf.Tensor]) -> tf.Tensor:
    outputs = as_list(outputs)
    return tf.add_n([tf.reduce_mean(tf.abs(o - target)) for o in outputs])


@pytest.fixture(scope="module")
def micro_model() -> keras.Model:
    return build("micro", seed=4)


@pytest.fixture(scope="module")
def tiny_model() -> keras.Model:
    return build("tiny", seed=1)


@pytest.fixture(scope="module")
def small_model() -> keras.Model:
    return build("small", seed=2)


@pytest.fixture(scope="module")
def paper_model() -> keras.Model:
    # 75 M parameters: built once, used by one short forward pass only
    return build("paper", seed=3)


# ---------------------------------------------------------------- shapes


@pytest.mark.parametrize("frames", [1, 7, 37])
@pytest.mark.parametrize("name", ["micro", "tiny", "small"])
def test_output_shapes_equal_input(request: pytest.FixtureRequest, name: str, frames: int) -> None:
    model = request.getfixturevalue(f"{name}_model")
    x = random_spectrogram(2, frames, seed=frames)
    outputs = model(x)
    assert len(outputs) == 2
    for y in outputs:
        assert tuple(y.shape) == (2, frames, NUM_BINS, 2)
        assert y.dtype == tf.float32
        assert np.all(np.isfinite(y.numpy()))


def test_paper_model_shape_and_size(paper_model: keras.Model) -> None:
    # the published size (Moliner & Valimaki's code): about 75 M parameters
    assert 70e6 < paper_model.count_params() < 80e6
    x = random_spectrogram(1, 7)
    outputs = paper_model(x)
    assert len(outputs) == 2
    for y in outputs:
        assert tuple(y.shape) == (1, 7, NUM_BINS, 2)
        assert np.all(np.isfinite(y.numpy()))


def test_one_stage_returns_one_output() -> None:
    model = build("tiny", stages=1)
    assert len(model.outputs) == 1
    names = {layer.name for layer in model.layers}
    assert not any(n.startswith(("sam_", "s2_")) for n in names)
    # Keras unwraps a one-element output list on call (see the xfail test below)
    (y,) = as_list(model(random_spectrogram(2, 7)))
    assert tuple(y.shape) == (2, 7, NUM_BINS, 2)


def test_one_stage_call_returns_list_of_one() -> None:
    # Keras returns a bare tensor for one output; stage_outputs makes it a list of stages
    outputs = unet.stage_outputs(build("tiny", stages=1)(random_spectrogram(2, 7)))
    assert isinstance(outputs, list) and len(outputs) == 1
    assert tuple(outputs[0].shape) == (2, 7, NUM_BINS, 2)
    assert len(unet.stage_outputs(build("tiny")(random_spectrogram(2, 7)))) == 2


@pytest.mark.parametrize("output", ["direct", "residual"])
def test_output_forms_shapes(output: str) -> None:
    model = build("tiny", output=output)
    outputs = model(random_spectrogram(2, 5))
    assert [tuple(y.shape) for y in outputs] == [(2, 5, NUM_BINS, 2)] * 2


def _set_conv(model: keras.Model, name: str, bias: tuple[float, float]) -> None:
    """Zero a 2-channel output conv's kernel so it emits the constant ``bias``."""
    layer = model.get_layer(name)
    kernel, _ = layer.get_weights()
    layer.set_weights([np.zeros_like(kernel), np.asarray(bias, np.float32)])


@pytest.mark.parametrize(
    "output, bias, expected",
    [
        # residual: Y2 = X + correction
        ("residual", (0.25, -0.5), lambda x: x + np.array([0.25, -0.5], np.float32)),
        # direct: Y2 is the head's output itself
        ("direct", (0.25, -0.5), lambda x: np.broadcast_to(np.array([0.25, -0.5], np.float32), x.shape)),
    ],
)
def test_output_forms_combine_input_and_head(output: str, bias: tuple[float, float], expected) -> None:
    """With the output heads reduced to constants, each form's formula is visible exactly."""
    model = build("tiny", output=output)
    _set_conv(model, "s1_noise", (0.0, 0.0))
    _set_conv(model, "s2_out", bias)
    x = random_spectrogram(1, 7, seed=5)
    y1, y2 = (y.numpy() for y in model(x))
    np.testing.assert_allclose(y1, x.numpy(), rtol=0, atol=1e-6)  # stage 1 = X + noise estimate
    np.testing.assert_allclose(y2, expected(x.numpy()), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "overrides, key",
    [
        ({"filters": [4, 8]}, "filters"),
        ({"filters": [4, 8, 8, 16]}, "filters"),
        ({"output": "spectral"}, "output"),
        ({"stages": 3}, "stages"),
        ({"stages": 0}, "stages"),
        ({"strides": [[2, 2], [2, 2], [2, 2]]}, "strides"),
        ({"output": "mask"}, "output"),
        ({"compression": 0.3}, "compression"),
        ({"architecture": "conv_tasnet"}, "architecture"),
    ],
)
def test_invalid_configs_raise(overrides: dict, key: str) -> None:
    cfg = load_config("tiny", **overrides)
    with pytest.raises(ValueError, match=key):
        unet.model_config(cfg)
    with pytest.raises(ValueError, match=key):
        unet.build_model(cfg)


def test_model_config_accepts_omegaconf() -> None:
    cfg = unet.model_config(configs.group_config("model", "small"))
    assert isinstance(cfg, dict)
    assert cfg["strides"] == [[2, 2]] * 4 and cfg["filters"] == [16, 32, 32, 64, 64]


def test_mixed_bfloat16_policy_keeps_float32_outputs() -> None:
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build("tiny")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.get_layer("s1_early").compute_dtype == "bfloat16"
    assert model.get_layer("s1_early").kernel.dtype == "float32"
    outputs = model(random_spectrogram(1, 7))
    for y in outputs:
        assert y.dtype == tf.float32
        assert tuple(y.shape) == (1, 7, NUM_BINS, 2)
        assert np.all(np.isfinite(y.numpy()))


# ---------------------------------------------------------------- frequency embedding


def test_frequency_embedding_layer_appends_documented_channels(tiny_model: keras.Model) -> None:
    cfg = load_config("tiny")
    layer = tiny_model.get_layer("freq_embedding")
    sub_model = keras.Model(tiny_model.inputs, layer.output)
    x = random_spectrogram(2, 3, seed=8)
    out = sub_model(x).numpy()
    assert out.shape == (2, 3, NUM_BINS, 2 + cfg["pos_channels"])
    np.testing.assert_array_equal(out[..., :2], x.numpy())
    pe = stft.frequency_positional_embedding(NUM_BINS, cfg["pos_channels"])
    np.testing.assert_array_equal(out[..., 2:], np.broadcast_to(pe, out[..., 2:].shape))
    # the documented values themselves, not only agreement with the helper
    np.testing.assert_array_equal(out[:, :, 0, 2:], 1.0)
    assert out[0, 0, 256, 2] == pytest.approx(math.sqrt(0.5), abs=1e-6)


def test_frequency_embedding_layer_called_directly() -> None:
    layer = unet.FrequencyEmbedding(num_bins=9, channels=3)
    x = tf.zeros([2, 4, 9, 2])
    out = layer(x).numpy()
    assert out.shape == (2, 4, 9, 5)
    f, k = np.meshgrid(np.arange(9), np.arange(3), indexing="ij")
    expected = np.cos(np.pi * 2.0**k * f / 8)
    for b in range(2):
        for t in range(4):
            np.testing.assert_allclose(out[b, t, :, 2:], expected, atol=1e-6)


# ---------------------------------------------------------------- gradients


def _assert_every_weight_gets_gradient(model: keras.Model, frames: int, batch: int) -> None:
    x = random_spectrogram(batch, frames, seed=10)
    target = random_spectrogram(batch, frames, seed=11)
    with tf.GradientTape() as tape:
        loss = two_stage_loss(target, model(x, training=True))
    variables = model.trainable_variables
    assert variables
    grads = tape.gradient(loss, variables)
    missing = [v.path for v, g in zip(variables, grads) if g is None]
    assert not missing, f"no gradient for {missing}"
    zero = [v.path for v, g in zip(variables, grads) if float(tf.norm(g)) == 0.0]
    assert not zero, f"zero gradient for {zero}"


def test_every_weight_gets_gradient_tiny(tiny_model: keras.Model) -> None:
    _assert_every_weight_gets_gradient(tiny_model, frames=13, batch=2)


def test_every_weight_gets_gradient_small(small_model: keras.Model) -> None:
    _assert_every_weight_gets_gradient(small_model, frames=8, batch=1)


@pytest.mark.parametrize("overrides", [{"output": "direct"}, {"stages": 1}])
def test_every_weight_gets_gradient_tiny_variants(overrides: dict) -> None:
    _assert_every_weight_gets_gradient(build("tiny", **overrides), frames=7, batch=1)


def test_saved_folders_name_the_architecture_and_old_ones_load() -> None:
    """config.json says which network its weights are for; folders saved before the key (and
    before compression was removed, with compression: 1.0) read as the same model."""
    cfg = load_config("tiny")
    assert unet.model_config(cfg)["architecture"] == unet.ARCHITECTURE
    old = {k: v for k, v in cfg.items() if k != "architecture"}
    old["compression"] = 1.0
    assert unet.model_config(old) == unet.model_config(cfg)
    assert "compression" not in unet.model_config(old)


# ---------------------------------------------------------------- widening


@pytest.mark.parametrize("conditioning", ["none", "noise_psd_refine"])
def test_widen_weights_computes_what_the_narrow_model_computes(conditioning):
    narrow = build("tiny", seed=4, conditioning=conditioning)
    wide = build("tiny", seed=5, conditioning=conditioning, filters=[6, 12, 10])
    names = unet.widen_weights(narrow, wide)
    # every convolution inside the U-Nets grew (transposed ones included); the output layers
    # read the new channels with zero weights
    assert {"s1_up0", "s2_up1", "s1_enc0_dense1", "sam_feat", "s1_noise", "s2_out"} <= set(names)
    assert wide.count_params() > 1.5 * narrow.count_params()
    spec = random_spectrogram(2, 9, seed=6)
    inputs = spec if conditioning == "none" else [spec, tf.constant(np.full((2, NUM_BINS), 0.3, np.float32))]
    for a, b in zip(as_list(narrow(inputs)), as_list(wide(inputs))):
        assert float(tf.reduce_max(tf.abs(a))) > 0.1
        np.testing.assert_allclose(b.numpy(), a.numpy(), atol=1e-5)
    # the new filters are live: a gradient reaches the zeroed entries that read them
    kernel = wide.get_layer("s1_enc0_out").kernel
    assert not np.any(kernel.numpy()[:, :, 4:6, :4])  # x's new channels into the old filters
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(as_list(wide(inputs))[-1]))
    grad = tape.gradient(loss, kernel).numpy()
    assert np.abs(grad[:, :, 4:6, :4]).max() > 0


def test_widen_weights_refuses_a_narrower_or_another_graph():
    narrow = build("tiny", seed=4)
    with pytest.raises(ValueError, match="narrower"):
        unet.widen_weights(build("tiny", filters=[6, 12, 10]), narrow)
    with pytest.raises(ValueError, match="same graph"):
        unet.widen_weights(narrow, build("tiny", depth=1, filters=[4, 8], strides=[[2, 2]]))


# ---------------------------------------------------------------- save and load


def _outputs(model: keras.Model, x: tf.Tensor) -> list[np.ndarray]:
    return [y.numpy() for y in as_list(model(x))]


def _assert_same_outputs(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    assert len(a) == len(b)
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p, q)


def _assert_different_outputs(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    assert any(not np.allclose(p, q) for p, q in zip(a, b))


@pytest.mark.parametrize("output", ["residual", "direct"])
def test_keras_format_round_trip(tmp_path: Path, output: str) -> None:
    model = build("tiny", seed=20, output=output)
    x = random_spectrogram(1, 11, seed=12)
    before = _outputs(model, x)
    path = tmp_path / "tiny.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    # the custom layers come back as themselves, not as generic stand-ins
    assert isinstance(loaded.get_layer("freq_embedding"), unet.FrequencyEmbedding)
    assert isinstance(loaded.get_layer("pad"), unet.PadToMultiple)
    assert isinstance(loaded.get_layer("stage2"), unet.CropToReference)
    _assert_same_outputs(before, _outputs(loaded, x))
    # a differently initialised model differs, so the equality above means something
    _assert_different_outputs(before, _outputs(build("tiny", seed=21, output=output), x))


def test_save_and_load_denoiser_round_trip(tmp_path: Path, tiny_model: keras.Model) -> None:
    cfg = load_config("tiny")
    folder = tmp_path / "runs" / "checkpoint"  # parents do not exist yet
    assert unet.save_denoiser(tiny_model, cfg, folder) == folder
    assert sorted(p.name for p in folder.iterdir()) == sorted([unet.CONFIG_FILE, unet.WEIGHTS_FILE])
    assert json.loads((folder / unet.CONFIG_FILE).read_text()) == unet.model_config(cfg)
    loaded, loaded_cfg = unet.load_denoiser(folder)
    assert loaded_cfg == unet.model_config(cfg)
    x = random_spectrogram(2, 9, seed=13)
    _assert_same_outputs(_outputs(tiny_model, x), _outputs(loaded, x))


def test_save_denoiser_overwrites_previous_checkpoint(tmp_path: Path) -> None:
    cfg = load_config("tiny")
    first, second = build("tiny", seed=30), build("tiny", seed=31)
    unet.save_denoiser(first, cfg, tmp_path)
    unet.save_denoiser(second, cfg, tmp_path)
    loaded, _ = unet.load_denoiser(tmp_path)
    x = random_spectrogram(1, 5, seed=14)
    _assert_same_outputs(_outputs(second, x), _outputs(loaded, x))
    _assert_different_outputs(_outputs(first, x), _outputs(loaded, x))


def test_load_denoiser_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(unet.CheckpointError, match="not found"):
        unet.load_denoiser(tmp_path / "nowhere")


@pytest.mark.parametrize("present", [[], [unet.CONFIG_FILE], [unet.WEIGHTS_FILE]])
def test_load_denoiser_incomplete_folder(tmp_path: Path, tiny_model: keras.Model, present: list[str]) -> None:
    source = tmp_path / "full"
    unet.save_denoiser(tiny_model, load_config("tiny"), source)
    folder = tmp_path / "partial"
    folder.mkdir()
    for name in present:
        (folder / name).write_bytes((source / name).read_bytes())
    with pytest.raises(unet.CheckpointError, match="not a model checkpoint"):
        unet.load_denoiser(folder)


@pytest.mark.parametrize(
    "other",
    [load_config("small"), load_config("tiny", filters=[8, 8, 8]), load_config("tiny", depth=3, filters=[4, 8, 8, 8])],
    ids=["small", "wider-filters", "deeper"],
)
def test_load_denoiser_weights_of_another_config(tmp_path: Path, tiny_model: keras.Model, other: dict) -> None:
    unet.save_denoiser(tiny_model, load_config("tiny"), tmp_path)
    (tmp_path / unet.CONFIG_FILE).write_text(json.dumps(unet.model_config(other)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(unet.CheckpointError, match=unet.WEIGHTS_FILE):
            unet.load_denoiser(tmp_path)
    assert [str(w.message)[:60] for w in caught] == []  # the error says it all: no Keras warnings before it


def test_load_denoiser_two_stage_weights_into_one_stage_config(tmp_path: Path, tiny_model: keras.Model) -> None:
    unet.save_denoiser(tiny_model, load_config("tiny"), tmp_path)
    (tmp_path / unet.CONFIG_FILE).write_text(json.dumps(unet.model_config(load_config("tiny", stages=1))))
    with pytest.raises(unet.CheckpointError):
        unet.load_denoiser(tmp_path)


def test_load_denoiser_one_stage_weights_into_two_stage_config(tmp_path: Path) -> None:
    unet.save_denoiser(build("tiny", stages=1), load_config("tiny", stages=1), tmp_path)
    (tmp_path / unet.CONFIG_FILE).write_text(json.dumps(unet.model_config(load_config("tiny"))))
    with pytest.raises(unet.CheckpointError):
        unet.load_denoiser(tmp_path)


def test_load_denoiser_invalid_config_or_corrupt_weights(tmp_path: Path, tiny_model: keras.Model) -> None:
    bad_cfg = tmp_path / "bad_cfg"
    unet.save_denoiser(tiny_model, load_config("tiny"), bad_cfg)
    (bad_cfg / unet.CONFIG_FILE).write_text(json.dumps(load_config("tiny", output="spectral")))
    with pytest.raises(unet.CheckpointError, match=unet.CONFIG_FILE):
        unet.load_denoiser(bad_cfg)

    corrupt = tmp_path / "corrupt"
    unet.save_denoiser(tiny_model, load_config("tiny"), corrupt)
    (corrupt / unet.WEIGHTS_FILE).write_bytes(b"not an HDF5 file")
    with pytest.raises(unet.CheckpointError, match=unet.WEIGHTS_FILE):
        unet.load_denoiser(corrupt)


# ---------------------------------------------------------------- learning


def test_small_model_overfits_one_pair() -> None:
    """Fifteen Adam steps (lr 2e-3) on one noisy/clean pair must cut the two-stage loss of the
    small model (the shipped model's size) well below half (measured when written: about 0.32
    of the initial loss; 40 steps at lr 1e-3 gave 0.14, 20 steps 0.31). Run eagerly: tracing
    the small model's training step costs more than fifteen eager steps."""
    model = build("small", seed=40)
    sample_rate, frames = 44100, 16
    n = stft.samples_for_frames(frames)
    t = np.arange(n) / sample_rate
    clean = sum(0.3 / h * np.sin(2 * np.pi * 220 * h * t) for h in range(1, 6)).astype(np.float32)
    noisy = clean + 0.05 * np.random.default_rng(41).standard_normal(n).astype(np.float32)
    x = stft.spec_to_channels(stft.stft(noisy))[tf.newaxis]
    y = stft.spec_to_channels(stft.stft(clean))[tf.newaxis]
    assert tuple(x.shape) == (1, frames, NUM_BINS, 2)
    optimizer = keras.optimizers.Adam(2e-3)

    def train_step() -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = two_stage_loss(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    history = [float(train_step()) for _ in range(15)]
    assert all(np.isfinite(history))
    ratio = history[-1] / history[0]
    print(f"overfit: loss {history[0]:.4f} -> {history[-1]:.4f}, ratio {ratio:.3f}")
    assert ratio < 0.5


def test_segments_align_to_the_models_total_time_stride():
    """The stride arithmetic is the model's (unet.total_strides), used by the restorer's plan."""
    base = {"name": "t", "sample_rate": 44100, "n_fft": 2048, "hop_length": 512, "depth": 2, "filters": [4, 8, 8]}
    assert unet.total_strides({**base, "strides": [2, 2]}) == (4, 4)
    assert unet.total_strides({**base, "strides": [[2, 1], [4, 2]]}) == (8, 2)
