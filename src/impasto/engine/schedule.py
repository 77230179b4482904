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
    """One scale of a run: the image is optimized at width x height for `iterations` steps."""

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


def scales_for(width: int, height: int, config: StyleConfig) -> list[Scale]:
    """The scales of a run on a width x height content: sizes, iterations and style size each.

    The first scale paints (config.iterations steps); each later one refines the upsampled result
    (config.scale_iterations steps). The style size follows each scale's long side times
    style_scale, unless config.style_size fixes it.
    """
    sizes = scale_sizes(width, height, config.size, config.start_size)
    return [
        Scale(i, w, h, config.iterations if i == 0 else config.scale_iterations, config.style_size_at(max(w, h)))
        for i, (w, h) in enumerate(sizes)
    ]
