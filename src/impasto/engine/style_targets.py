"""What the network reads at each scale: colour modes, and the style regions with their targets.

- Colour (Gatys et al. 2017 §5, color.py), planned once at the first scale and applied at every one:
  `luminance` runs the whole optimization on a grey (1, 1, H, W) luminance image (VGG19 reads it as
  R = G = B), with each style's luminance matched to the photo's mean and std, and puts the photo's
  chroma back on the result; `histogram` maps each style's colours onto the photo's by an affine
  map matching mean and covariance, then stylizes as usual.
- Style targets (regions.py): without masks, one region whose target blends every style; with
  masks, one region per style, its target taken over the style's own mask when it has one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from ..config import StyleConfig
from ..nst.color import ColorMap, color_transfer, luminance, match_luminance, with_chroma
from ..nst.losses import Moments
from ..nst.regions import StyleRegion, normalize_masks, region_masses, region_moments, region_shares
from ..nst.style_losses import STYLE_LOSSES, StyleLossKind
from ..nst.vgg import VGG19Features
from .tiling import plan_tiles, tiled_moments

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScaleInputs:
    """One scale's inputs, sRGB on the run's device.

    content: (1, 3, H, W). styles: (1, 3, h, w) each, at their style size.
    masks: (1, 1, H, W) in [0, 1] per style, where it paints; None: every style everywhere.
    style_masks: per style, (1, 1, h, w) in [0, 1] over the style image or None (all of it);
    None: no style has one.
    """

    content: torch.Tensor
    styles: list[torch.Tensor]
    masks: list[torch.Tensor] | None = None
    style_masks: list[torch.Tensor | None] | None = None


@dataclass(frozen=True)
class ColorPlan:
    """The colour mode of a run, fitted once: what the network reads and how the result is shown."""

    content: Callable[[torch.Tensor], torch.Tensor]  # sRGB content (or init) -> network image
    styles: list[Callable[[torch.Tensor], torch.Tensor]]  # per style: sRGB -> network image
    to_rgb: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (network image, sRGB content) -> sRGB


def _same(image: torch.Tensor, *_: torch.Tensor) -> torch.Tensor:
    return image


def _as_luminance(image: torch.Tensor) -> torch.Tensor:
    return image if image.shape[1] == 1 else luminance(image)


def _read_part(style: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """The pixels a style's statistics come from, as a (1, C, 1, N) image: those its style mask
    covers at least half (all of them without a mask, or when that leaves almost nothing)."""
    if mask is None:
        return style
    chosen = mask[0, 0] >= 0.5
    return style[..., chosen].unsqueeze(-2) if int(chosen.sum()) >= 16 else style


def _no_color_plan(content: torch.Tensor, styles: Sequence[torch.Tensor], config: StyleConfig) -> ColorPlan:
    return ColorPlan(_same, [_same] * len(styles), _same)


def _luminance_plan(content: torch.Tensor, styles: Sequence[torch.Tensor], config: StyleConfig) -> ColorPlan:
    content_y = luminance(content)

    def matched(style: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        gain, offset = match_luminance(luminance(style), content_y)
        return lambda s: luminance(s) * gain + offset

    return ColorPlan(_as_luminance, [matched(s) for s in styles], with_chroma)


def _histogram_plan(content: torch.Tensor, styles: Sequence[torch.Tensor], config: StyleConfig) -> ColorPlan:
    maps: list[ColorMap] = [color_transfer(s, content, config.color_transfer) for s in styles]
    return ColorPlan(_same, [m.apply for m in maps], _same)


_COLOR_PLANS = {"none": _no_color_plan, "luminance": _luminance_plan, "histogram": _histogram_plan}


def color_plan(inputs: ScaleInputs, config: StyleConfig) -> ColorPlan:
    """Fit config.preserve_color on one scale's images (the first: statistics barely change with
    size), each style on the part of it that its style mask reads."""
    masks = inputs.style_masks or [None] * len(inputs.styles)
    parts = [_read_part(style, mask) for style, mask in zip(inputs.styles, masks)]
    return _COLOR_PLANS[config.preserve_color](inputs.content, parts, config)


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
        tiles = plan_tiles(*style.shape[-2:], tile)
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
    colors: ColorPlan,
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
