"""Colour modes (Gatys et al. 2017 §5, nst/color.py): what the network reads and how its result
is shown, fitted once at the first scale and applied at every one.

- none: the images as they are;
- luminance: the whole optimization runs on a grey (1, 1, H, W) luminance image (VGG19 reads it
  as R = G = B), with each style's luminance matched to the photo's mean and std; the photo's
  chroma is put back on the result;
- histogram: each style's colours are mapped onto the photo's by an affine map matching mean and
  covariance, then the run stylizes as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from ..config import StyleConfig
from ..nst.color import ColorMap, color_transfer, luminance, match_luminance, with_chroma


@dataclass(frozen=True)
class ColorMode:
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


def _none(content: torch.Tensor, styles: Sequence[torch.Tensor], config: StyleConfig) -> ColorMode:
    return ColorMode(_same, [_same] * len(styles), _same)


def _luminance(content: torch.Tensor, styles: Sequence[torch.Tensor], config: StyleConfig) -> ColorMode:
    content_y = luminance(content)

    def matched(style: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        gain, offset = match_luminance(luminance(style), content_y)
        return lambda s: luminance(s) * gain + offset

    return ColorMode(_as_luminance, [matched(s) for s in styles], with_chroma)


def _histogram(content: torch.Tensor, styles: Sequence[torch.Tensor], config: StyleConfig) -> ColorMode:
    maps: list[ColorMap] = [color_transfer(s, content, config.color_transfer) for s in styles]
    return ColorMode(_same, [m.apply for m in maps], _same)


_COLOR_MODES = {"none": _none, "luminance": _luminance, "histogram": _histogram}


def fit_color_mode(
    content: torch.Tensor,
    styles: Sequence[torch.Tensor],
    style_masks: Sequence[torch.Tensor | None] | None,
    config: StyleConfig,
) -> ColorMode:
    """Fit config.preserve_color on one scale's sRGB images (the first: statistics barely change
    with size), each style on the part of it that its style mask (or None) reads."""
    masks = style_masks or [None] * len(styles)
    parts = [_read_part(style, mask) for style, mask in zip(styles, masks)]
    return _COLOR_MODES[config.preserve_color](content, parts, config)
