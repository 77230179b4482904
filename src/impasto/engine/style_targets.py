"""What the network matches at each scale: the scale's inputs, and the style regions with their
targets (nst/regions.py), computed once per scale.

Without masks, one region whose target blends every style; with masks, one region per style, its
target taken over the style's own mask when it has one. Colour modes are in color_modes.py.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..config import StyleConfig
from ..nst.losses import Moments
from ..nst.regions import StyleRegion, normalize_masks, region_masses, region_moments, region_shares
from ..nst.style_losses import STYLE_LOSSES, StyleLossKind
from ..nst.temporal import Anchor
from ..nst.vgg import VGG19Features
from .color_modes import ColorMode
from .tiling import cut_tiles, tiled_moments

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScaleInputs:
    """One scale's inputs, sRGB on the run's device.

    content: (1, 3, H, W). styles: (1, 3, h, w) each, at their style size.
    masks: (1, 1, H, W) in [0, 1] per style, where it paints; None: every style everywhere.
    style_masks: per style, (1, 1, h, w) in [0, 1] over the style image or None (all of it);
    None: no style has one. anchors: a video frame's earlier painted frames warped onto it, sRGB,
    with their weights (nst/temporal.py); () for a picture.
    """

    content: torch.Tensor
    styles: list[torch.Tensor]
    masks: list[torch.Tensor] | None = None
    style_masks: list[torch.Tensor | None] | None = None
    anchors: Sequence[Anchor] = ()


def _style_moments(
    model: VGG19Features,
    style: torch.Tensor,
    mask: torch.Tensor | None,
    layers: list[str],
    dtype: torch.dtype,
    tile: int | None,
    need_mean: bool,
) -> dict[str, Moments]:
    """{layer: Moments} of a style image over its mask, for the layers where the mask has mass."""
    masses = region_masses(mask, *style.shape[-2:], layers)
    layers = [k for k in layers if masses[k] > 0]
    if tile is not None and max(style.shape[-2:]) > tile:
        tiles = cut_tiles(*style.shape[-2:], tile)
        return tiled_moments(model, style, layers, tiles, dtype, masks=[mask], need_mean=need_mean, masses=[masses])[0]
    with torch.no_grad():
        return region_moments(model(style, layers, dtype=dtype), mask, layers, masses=masses, need_mean=need_mean)


def _region(
    mask: torch.Tensor | None,
    share: float,
    moments: list[dict[str, Moments]],
    blend: list[float],
    layers: list[str],
    kind: StyleLossKind,
    size: tuple[int, int],
) -> StyleRegion:
    masses = region_masses(mask, *size, layers)
    present = [k for k in layers if masses[k] > 0 and all(k in m for m in moments)]
    unread = [k for k in layers if masses[k] > 0 and k not in present]
    if unread:  # a style mask so small that a deep layer sees none of it: that layer goes unmatched
        log.warning(
            "a style mask covers too little of its style image for %s; those layers are left out", ", ".join(unread)
        )
    return StyleRegion(mask, share, {k: kind.target([m[k] for m in moments], blend) for k in present}, masses)


def style_regions(
    model: VGG19Features,
    inputs: ScaleInputs,
    colors: ColorMode,
    config: StyleConfig,
    dtype: torch.dtype,
    *,
    tile: int | None = None,
) -> list[StyleRegion]:
    """The style regions of one scale with their targets, computed once per scale.

    tile: a style image longer than this runs in tiles of this core size. Styles of blend weight 0
    take no part: with masks, their regions are left to the content.
    """
    kind = STYLE_LOSSES[config.style_loss]
    layers = list(config.layer_weights())
    blend = config.blend_weights(len(inputs.styles))
    size = tuple(inputs.content.shape[-2:])
    used = [i for i, w in enumerate(blend) if w > 0]
    style_masks = inputs.style_masks or [None] * len(inputs.styles)
    moments = {
        i: _style_moments(
            model, colors.styles[i](inputs.styles[i]), style_masks[i], layers, dtype, tile, kind.needs_mean
        )
        for i in used
    }
    if inputs.masks is None:
        return [_region(None, 1.0, [moments[i] for i in used], [blend[i] for i in used], layers, kind, size)]
    masks = normalize_masks([inputs.masks[i] for i in used])
    shares = region_shares(masks, [blend[i] for i in used])
    return [
        _region(mask, share, [moments[i]], [1.0], layers, kind, size) for mask, share, i in zip(masks, shares, used)
    ]
