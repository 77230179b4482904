"""Masks and guided moments (regions.py, losses.layer_moments): known values and invariants."""

from __future__ import annotations

import pytest
import torch

from impasto.nst.losses import gram_matrix, layer_moments
from impasto.nst.regions import (
    StyleRegion,
    mask_at,
    normalize_masks,
    region_masses,
    region_moments,
    region_shares,
    regions_loss,
    resize_mask,
)
from impasto.nst.style_losses import STYLE_LOSSES

LAYERS = ["relu1_1", "relu3_1", "relu5_1"]


def test_overlapping_masks_are_divided_by_their_sum_and_gaps_stay_empty():
    a = torch.tensor([[[[1.0, 1.0, 0.5, 0.0]]]])
    b = torch.tensor([[[[0.0, 1.0, 0.25, 0.0]]]])
    na, nb = normalize_masks([a, b])
    torch.testing.assert_close(na, torch.tensor([[[[1.0, 0.5, 0.5, 0.0]]]]))
    torch.testing.assert_close(nb, torch.tensor([[[[0.0, 0.5, 0.25, 0.0]]]]))
    assert float((na + nb).max()) <= 1.0 and float((na + nb)[..., -1]) == 0.0  # the gap gets no style


def test_mask_at_averages_each_positions_pixels():
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :, :3] = 1.0  # three of the four left columns
    pooled = mask_at(mask, "relu3_1", (2, 2))  # stride 4
    torch.testing.assert_close(pooled, torch.tensor([[[[0.75, 0.0], [0.75, 0.0]]]]))
    assert region_masses(mask, 8, 8, ["relu3_1"]) == {"relu3_1": 1.5}  # in positions
    assert region_masses(None, 9, 8, ["relu3_1"]) == {"relu3_1": 4.0}  # floor(9/4) x 2 positions


def test_a_full_mask_gives_the_plain_moments(vgg, content_tensor):
    features = vgg(content_tensor, LAYERS)
    plain = region_moments(features, None, LAYERS, need_mean=True)
    full = region_moments(features, torch.ones(1, 1, *content_tensor.shape[-2:]), LAYERS, need_mean=True)
    for layer in LAYERS:
        torch.testing.assert_close(full[layer].gram, plain[layer].gram, rtol=1e-5, atol=0)
        torch.testing.assert_close(full[layer].mean, features[layer].mean((-2, -1)), rtol=1e-5, atol=1e-4)
        torch.testing.assert_close(plain[layer].gram, gram_matrix(features[layer]))


def test_a_hard_mask_gives_the_moments_of_its_region_alone():
    generator = torch.Generator().manual_seed(0)
    features = torch.rand(1, 4, 6, 8, generator=generator)
    mask = torch.zeros(1, 1, 6, 8)
    mask[..., :, :5] = 1.0
    m = layer_moments(features, mask, need_mean=True)
    inside = features[..., :, :5]
    torch.testing.assert_close(m.gram, gram_matrix(inside))  # normalized by the region, not the image
    torch.testing.assert_close(m.mean, inside.mean((-2, -1)))


def test_shares_follow_area_and_blend_weights():
    left = torch.zeros(1, 1, 4, 4)
    left[..., :1] = 1.0  # a quarter of the image
    right = 1 - left
    assert region_shares(None, [1.0]) == [1.0]
    assert region_shares([left, right], [1.0, 1.0]) == pytest.approx([0.25, 0.75])
    assert region_shares([left, right], [3.0, 1.0]) == pytest.approx([0.25 * 1.5, 0.75 * 0.5])


def test_regions_loss_is_the_weighted_sum_of_each_regions_loss(vgg, content_tensor, style_tensor):
    kind = STYLE_LOSSES["gram"]
    features, style = vgg(content_tensor, LAYERS), vgg(style_tensor, LAYERS)
    target = {k: kind.target([layer_moments(style[k])], [1.0]) for k in LAYERS}
    mask = torch.zeros(1, 1, *content_tensor.shape[-2:])
    mask[..., : mask.shape[-2] // 2, :] = 1.0
    size = content_tensor.shape[-2:]
    regions = [
        StyleRegion(None, 0.3, target, region_masses(None, *size, LAYERS)),
        StyleRegion(mask, 2.0, target, region_masses(mask, *size, LAYERS)),
    ]
    weights = dict.fromkeys(LAYERS, 1.0)
    moments = [region_moments(features, r.mask, LAYERS, masses=r.masses) for r in regions]
    total = regions_loss(moments, regions, weights, kind)
    each = [sum(kind.layer_loss(m[k], target[k]) for k in LAYERS) for m in moments]
    torch.testing.assert_close(total, 0.3 * each[0] + 2.0 * each[1])


def test_resize_mask_keeps_range_and_shape():
    mask = torch.zeros(1, 1, 30, 40)
    mask[..., 20:] = 1.0
    small, big = resize_mask(mask, (6, 8)), resize_mask(mask, (90, 120))
    assert small.shape[-2:] == (6, 8) and big.shape[-2:] == (90, 120)
    for m in (small, big):
        assert 0.0 <= float(m.min()) and float(m.max()) <= 1.0
        assert float(m.mean()) == pytest.approx(float(mask.mean()), abs=0.02)
