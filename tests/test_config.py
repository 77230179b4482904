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


def test_layer_weights_follow_the_weighting_and_zero_means_left_out():
    assert StyleConfig().layer_weights() == dict.fromkeys(STYLE_LAYERS, 1.0)  # equal, the default
    measured = StyleConfig(style_layer_weighting="measured")
    assert measured.layer_weights() == dict(zip(STYLE_LAYERS, (200.0, 2.0, 4.0, 0.1, 20.0)))
    assert StyleConfig(style_layer_weights=None).layer_weights() == StyleConfig().layer_weights()
    w2 = StyleConfig(style_loss="wasserstein", style_layer_weighting="measured").layer_weights()
    assert list(w2) == list(STYLE_LAYERS) and w2 != measured.layer_weights()
    # Any layer has a measured weight, so a custom layer list needs no weights of its own.
    custom = StyleConfig(style_layers=("relu3_2", "pool4"), style_layer_weighting="measured")
    assert custom.layer_weights() == {"relu3_2": 2.4, "pool4": 42}
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
        (
            "style_layer_weighting",
            "balanced",
            ValueError,
            "style_layer_weighting must be one of measured, paper, equal",
        ),
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
    assert list(PRESETS) == ["default", "subtle", "classic", "gatys2015"]
    with pytest.raises(ValueError, match="unknown preset 'fast'"):
        StyleConfig.preset("fast")


def test_subtle_is_the_former_default():
    subtle = StyleConfig.preset("subtle")
    former = {
        "start_size": 512,
        "iterations": 150,
        "scale_iterations": 60,
        "scale_decay": 1.0,
        "stop_tolerance": 0.0,
        "content_weight": 1.0,
        "style_weight": 20.0,
        "loss_normalization": "none",
        "init": "content",
        "ema_decay": 0.9,
    }
    assert {k: getattr(subtle, k) for k in former} == former
    assert subtle.layer_weights() == {"relu1_1": 200, "relu2_1": 2, "relu3_1": 4, "relu4_1": 0.1, "relu5_1": 20}


def test_classic_is_jcjohnson_neural_style():
    classic = StyleConfig.preset("classic")
    assert (classic.init, classic.content_weight, classic.style_weight) == ("noise", 5.0, 100.0)
    assert set(classic.layer_weights().values()) == {1.0} and len(classic.layer_weights()) == 5
    assert classic.loss_normalization == "none" and classic.optimizer == "lbfgs"
    assert classic.stop_tolerance > 0 and classic.iterations == 1000  # runs until the loss settles


def test_the_default_normalizes_its_losses_and_climbs_from_a_lower_start():
    default = StyleConfig()
    assert default.loss_normalization == "all" and set(default.layer_weights().values()) == {1.0}
    assert default.start_size < 512 and 0 < default.scale_decay < 1 and default.stop_tolerance > 0
    # The paper's preset keeps its absolute losses and its fixed number of iterations.
    gatys = StyleConfig.preset("gatys2015")
    assert gatys.loss_normalization == "none" and gatys.stop_tolerance == 0 and gatys.iterations == 500
