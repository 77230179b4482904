import dataclasses

import pytest

from impasto.config import PRESETS, STYLE_LAYERS, StyleConfig


def test_defaults_are_frozen_and_hashable():
    config = StyleConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.size = 1024  # type: ignore[misc]
    assert hash(config) == hash(StyleConfig())
    assert config.style_layers == STYLE_LAYERS and config.content_layers == ("relu4_2",)


def test_lists_become_tuples():
    config = StyleConfig(style_blend_weights=[1, 2], style_layers=["relu1_1"], style_layer_weights=[3])
    assert config.style_blend_weights == (1, 2) and config.style_layers == ("relu1_1",)
    assert config.layer_weights() == {"relu1_1": 3}


def test_layer_weights_default_to_balanced_and_none_means_one():
    assert StyleConfig().layer_weights() == dict(zip(STYLE_LAYERS, (200.0, 2.0, 4.0, 0.1, 20.0)))
    assert StyleConfig(style_layer_weights=None).layer_weights() == StyleConfig().layer_weights()
    w2 = StyleConfig(style_loss="wasserstein").layer_weights()
    assert list(w2) == list(STYLE_LAYERS) and w2 != StyleConfig().layer_weights()
    # Any layer has a default weight, so a custom layer list needs no weights of its own.
    assert StyleConfig(style_layers=("relu3_2", "pool4")).layer_weights() == {"relu3_2": 2.4, "pool4": 42}
    assert list(StyleConfig(style_layer_weights=(1, 0, 1, 0, 1)).layer_weights()) == ["relu1_1", "relu3_1", "relu5_1"]


@pytest.mark.parametrize(
    "field, value, error, message",
    [
        ("size", 8, ValueError, "size must be >= 32"),
        ("size", 256.5, TypeError, "size must be an integer"),
        ("iterations", -1, ValueError, "iterations"),
        ("content_weight", float("nan"), ValueError, "content_weight"),
        ("style_weight", -1.0, ValueError, "style_weight"),
        ("learning_rate", 0.0, ValueError, "learning_rate must be > 0"),
        ("style_scale", 0, ValueError, "style_scale"),
        ("optimizer", "sgd", ValueError, "optimizer must be one of lbfgs, adam"),
        ("pooling", "min", ValueError, "pooling"),
        ("device", "tpu", ValueError, "device"),
        ("content_layers", ("relu9_1",), ValueError, "unknown VGG19 layer 'relu9_1'"),
        ("style_layers", ("relu1_1", "relu1_1"), ValueError, "names a layer twice"),
        ("content_layers", (), ValueError, "content_layers must name at least one"),
        ("style_loss", "l2", ValueError, "style_loss must be one of gram, wasserstein"),
        ("preserve_color", "yes", ValueError, "preserve_color must be one of none, luminance, histogram"),
        ("color_transfer", "lab", ValueError, "color_transfer must be one of"),
        ("padding", "circular", ValueError, "padding must be one of"),
        ("style_layer_weighting", "equal", ValueError, "style_layer_weighting must be one of measured, paper"),
        ("style_layers", (), ValueError, "at least one"),
        ("style_layer_weights", (1.0, 2.0), ValueError, "2 values for 5 style layers"),
        ("style_blend_weights", (0.0, 0.0), ValueError, "positive sum"),
        ("style_layer_weights", (0.0,) * 5, ValueError, "style_layer_weights must have a positive sum"),
        ("init", "", ValueError, "init"),
        ("seed", True, TypeError, "seed"),
    ],
)
def test_bad_values_name_the_field(field, value, error, message):
    with pytest.raises(error, match=message):
        StyleConfig(**{field: value})


def test_presets_and_overrides():
    gatys = StyleConfig.preset("gatys2015", size=128)
    assert gatys.size == 128 and gatys.init == "noise" and gatys.pooling == "avg" and gatys.optimizer == "lbfgs"
    # Equal layer weights in the paper's terms: w_l = N_l² / 20 on our mean-normalized layer loss.
    assert list(gatys.layer_weights().values()) == [64**2 / 20, 128**2 / 20, 256**2 / 20, 512**2 / 20, 512**2 / 20]
    # ... for whichever layers are chosen; and they are Gram weights, so not for the W2 loss.
    assert StyleConfig.preset("gatys2015", style_layers=("relu3_2", "pool4")).layer_weights() == {
        "relu3_2": 256**2 / 20,
        "pool4": 512**2 / 20,
    }
    with pytest.raises(ValueError, match="paper's style layer weights are for the Gram loss"):
        StyleConfig.preset("gatys2015", style_loss="wasserstein")
    # The paper's α/β = 1e-3, on its sum-based content loss at 512 px (N = 512, M = 64·64).
    assert gatys.content_weight / gatys.style_weight == pytest.approx(1e-3 * 512 * 64 * 64 / 2)
    assert StyleConfig.preset() == StyleConfig()
    assert set(PRESETS) == {"default", "gatys2015"}
    with pytest.raises(ValueError, match="unknown preset 'fast'"):
        StyleConfig.preset("fast")
