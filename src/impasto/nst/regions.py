"""Spatial control: where each style applies, as weight maps over the output (pure functions).

Reference: Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style Transfer"
(arXiv 1611.07865), §4: guided Gram matrices. Each style s has a mask m_s over the output and,
optionally, one over its own image (where its statistics come from). At every layer the mask is
averaged over each feature position's pixels, and the style's moments are taken over its region
only (losses.layer_moments with the mask as weight), normalized by the region's mass, so that a
region's statistics are compared with its style's whatever its size.

The style loss is Σ_r λ_r · Σ_l w_l · loss(moments_rl, target_rl), with λ_r the region's share of
the image (times its style's blend weight over their mean): a style then paints its region as
strongly as it would paint a whole image, and a small region is neither drowned nor overdriven.
Without masks there is one region, the whole image, whose target blends every style.

Differs from Gatys et al. 2017, whose guided Gram matrix is that of F∘m, i.e. weighted by m²,
unnormalized: we weight by m (a soft mask's 0.5 is half a pixel, not a quarter), divide by the
region's mass (a mean, as every loss here is), and weigh regions by λ_r instead of equally.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.nn import functional as F

from .layers import stride
from .losses import Moments, layer_moments
from .style_losses import StyleLossKind


@dataclass(frozen=True)
class StyleRegion:
    """One style target and where it applies.

    mask: (1, 1, H, W) in [0, 1] at the scale's size, or None for the whole image.
    share: λ_r, the region's weight in the style loss. targets: {layer: the style loss's target},
    only for the layers where the region has positions (a sliver of a mask can vanish at relu5_1).
    masses: {layer: Σ of the mask over the layer's positions} (region_masses), once per scale.
    """

    mask: torch.Tensor | None
    share: float
    targets: Mapping[str, Any]
    masses: Mapping[str, float]


def normalize_masks(masks: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Masks (1, 1, H, W) in [0, 1], one per style, made to sum to at most 1 at every pixel.

    Where masks overlap beyond 1 they are divided by their sum; where they sum to less than 1,
    the rest of the pixel gets no style (content only).
    """
    total = torch.stack(list(masks)).sum(0).clamp_min(1.0)
    return [m / total for m in masks]


def mask_at(mask: torch.Tensor, layer: str, size: tuple[int, int]) -> torch.Tensor:
    """A (1, 1, H, W) pixel mask at a layer's (h, w) feature grid: the mean over each position's pixels."""
    s = stride(layer)
    pooled = F.avg_pool2d(mask, s) if s > 1 else mask
    return pooled[..., : size[0], : size[1]]


def region_masses(mask: torch.Tensor | None, height: int, width: int, layers: Sequence[str]) -> dict[str, float]:
    """{layer: Σ of the region's weights over the layer's positions} of an H x W image."""
    masses = {}
    for layer in layers:
        s = stride(layer)
        size = (height // s, width // s)
        masses[layer] = float(size[0] * size[1]) if mask is None else float(mask_at(mask, layer, size).sum())
    return masses


def region_moments(
    features: Mapping[str, torch.Tensor],
    mask: torch.Tensor | None,
    layers: Sequence[str],
    *,
    masses: Mapping[str, float] | None = None,
    need_mean: bool = False,
) -> dict[str, Moments]:
    """{layer: Moments} of one region. mask: (1, 1, H, W) over the pixels the features came from,
    or None; masses: the normalizers (region_masses of the whole image, when these features are
    one tile's share of it), else the region's own mass in these features."""
    out = {}
    for layer in layers:  # callers leave out the layers where the region has no mass (StyleRegion.targets)
        f = features[layer]
        weight = None if mask is None else mask_at(mask, layer, f.shape[-2:]).to(f.device)
        out[layer] = layer_moments(f, weight, mass=None if masses is None else masses[layer], need_mean=need_mean)
    return out


def regions_loss(
    moments: Sequence[Mapping[str, Moments]],
    regions: Sequence[StyleRegion],
    layer_weights: Mapping[str, float],
    kind: StyleLossKind,
) -> torch.Tensor:
    """Σ_r λ_r · Σ_l w_l · kind.layer_loss(moments[r][l], target_rl). Scalar, fp32; a CPU zero
    when no region has a layer with positions (masks that only cover what deep layers crop)."""
    total = torch.zeros(())
    for region, per_layer in zip(regions, moments):
        for layer, target in region.targets.items():
            term = (region.share * layer_weights[layer]) * kind.layer_loss(per_layer[layer], target)
            total = total.to(term.device) + term
    return total


def region_shares(masks: Sequence[torch.Tensor] | None, blend: Sequence[float]) -> list[float]:
    """λ per region: 1 without masks; else each mask's mean times its blend weight over the mean
    of the positive weights (so equal weights give each style the strength of a one-style run)."""
    if masks is None:
        return [1.0]
    positive = [w for w in blend if w > 0]
    mean_blend = sum(positive) / len(positive)
    return [float(m.mean()) * w / mean_blend for m, w in zip(masks, blend)]


def resize_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A (1, 1, h, w) mask in [0, 1] at (H, W): area-averaged when shrinking, bilinear when growing."""
    if tuple(mask.shape[-2:]) == tuple(size):
        return mask
    return F.interpolate(mask, size=size, mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)
