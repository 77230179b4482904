"""Coarse-to-fine: the scales a run climbs, and the work at each. Pure, no tensors.

Reference: Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style Transfer"
(arXiv 1611.07865), §5: stylize at low resolution, upsample, and refine at the target size, so that
the style's large structures (VGG19's receptive field is fixed in pixels) survive at print size.
The scales step by √2 in side (2x in pixels), as crowsonkb/style-transfer-pytorch does.

Differs from Gatys et al. 2015: the paper optimizes at one size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..config import MIN_SIZE, StyleConfig, fit_long_side

SCALE_FACTOR = math.sqrt(2)


@dataclass(frozen=True)
class Scale:
    """One scale of a run: the image is optimized at width x height for at most `iterations` steps."""

    index: int  # 0-based
    width: int
    height: int
    iterations: int
    style_size: int  # long side of the style images at this scale

    @property
    def pixels(self) -> int:
        return self.width * self.height


def scale_sizes(width: int, height: int, size: int, start_size: int | None) -> list[tuple[int, int]]:
    """The (width, height) of every scale for a width x height content, ending exactly at `size`.

    Anchored at the target and descending by √2 while the long side stays >= start_size and the
    short side >= MIN_SIZE; returned smallest first, strictly increasing. start_size >= size, or
    None, gives one scale (as in Gatys et al. 2015).
    """
    long_sides = [size]
    while start_size is not None:
        smaller = round(size / SCALE_FACTOR ** len(long_sides))
        if smaller < start_size or min(fit_long_side(width, height, smaller)) < MIN_SIZE:
            break
        long_sides.append(smaller)
    return [fit_long_side(width, height, side) for side in reversed(long_sides)]


def budget(index: int, config: StyleConfig) -> int:
    """The step budget of scale `index` (0-based): config.iterations for the first, which paints;
    config.scale_iterations for the second, which refines the upsampled result; each later one
    config.scale_decay times the one before (rounded, at least 1 where scale_iterations is not 0).

    Differs from Gatys et al. 2017, who refine for as long at every scale: a step costs twice the
    pixels at each scale, and the later scales' steps buy less (docs/presets.md measures it).
    """
    if index == 0:
        return config.iterations
    steps = config.scale_iterations * config.scale_decay ** (index - 1)
    return max(1, round(steps)) if config.scale_iterations else 0


def scales_for(width: int, height: int, config: StyleConfig) -> list[Scale]:
    """The scales of a run on a width x height content: sizes, step budget and style size each.

    The style size follows each scale's long side times style_scale, unless config.style_size
    fixes it. A scale may stop before its budget (engine/stopping.py).
    """
    sizes = scale_sizes(width, height, config.size, config.start_size)
    return [Scale(i, w, h, budget(i, config), config.style_size_at(max(w, h))) for i, (w, h) in enumerate(sizes)]
