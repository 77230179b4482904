"""Loss normalization (engine/criterion.py): the weights a scale's criterion applies."""

import pytest
import torch

from impasto.config import StyleConfig
from impasto.engine.criterion import content_weight, layer_weights
from impasto.nst.regions import StyleRegion
from impasto.nst.style_losses import STYLE_LOSSES
from impasto.nst.wasserstein import w2_target

LAYERS = ("relu1_1", "relu2_1")


def _region(targets: dict, share: float = 1.0) -> StyleRegion:
    return StyleRegion(None, share, targets, dict.fromkeys(targets, 1.0))


def test_style_normalization_divides_each_layer_by_its_targets_squared_size():
    gram = torch.rand(1, 4, 4, generator=torch.Generator().manual_seed(0))
    regions = [_region({"relu1_1": gram, "relu2_1": 3 * gram})]
    kind = STYLE_LOSSES["gram"]
    config = StyleConfig(style_layers=LAYERS, style_layer_weights=(1.0, 2.0), loss_normalization="style")
    weights = layer_weights(config, regions, kind)
    assert weights["relu1_1"] == pytest.approx(1 / float(gram.pow(2).mean()))
    assert weights["relu2_1"] == pytest.approx(2 * weights["relu1_1"] / 9)  # 3x the Gram: 1/9 the weight
    # So a painting whose Gram values are all 3x smaller is matched exactly as strongly: the
    # weighted loss of the same relative error is the same.
    faint = layer_weights(config, [_region({"relu1_1": gram / 3, "relu2_1": gram})], kind)
    error = 0.1 * gram
    assert faint["relu1_1"] * (error / 3).pow(2).mean() == pytest.approx(weights["relu1_1"] * error.pow(2).mean())
    assert layer_weights(StyleConfig(style_layers=LAYERS, loss_normalization="none"), regions, kind) == {
        "relu1_1": 1.0,
        "relu2_1": 1.0,
    }


def test_several_regions_share_their_sizes_and_a_layer_no_region_reads_keeps_its_weight():
    gram = torch.ones(1, 2, 2)
    regions = [_region({"relu1_1": gram}, share=0.75), _region({"relu1_1": 3 * gram, "relu2_1": gram}, share=0.25)]
    config = StyleConfig(style_layers=LAYERS, loss_normalization="style")
    weights = layer_weights(config, regions, STYLE_LOSSES["gram"])
    assert weights["relu1_1"] == pytest.approx(1 / (0.75 * 1 + 0.25 * 9))
    assert weights["relu2_1"] == pytest.approx(1.0)


def test_the_wasserstein_size_is_the_second_moments_trace_over_the_channels():
    mean = torch.tensor([[1.0, 2.0]])
    second = torch.tensor([[[5.0, 1.0], [1.0, 8.0]]])  # E[f fᵀ]: covariance diag 4 and 4
    target = w2_target(mean, second)
    trace = float(target.cov.diagonal(dim1=-2, dim2=-1).sum() + mean.pow(2).sum())
    assert STYLE_LOSSES["wasserstein"].size(target) == pytest.approx(trace / 2)  # w2_loss is W2² / C
    assert 13.0 <= trace < 13.5  # trace 8 plus |mean|² 5, plus the covariance's small ridge


def test_content_weight_is_relative_to_the_photo_only_when_all_losses_are():
    targets = {"relu4_2": torch.full((1, 2, 3, 3), 4.0)}
    assert content_weight(StyleConfig(content_weight=2.0, loss_normalization="all"), targets) == pytest.approx(2 / 16)
    assert content_weight(StyleConfig(content_weight=2.0, loss_normalization="style"), targets) == 2.0
    assert content_weight(StyleConfig(content_weight=2.0, loss_normalization="none"), targets) == 2.0
