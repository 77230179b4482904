"""Peak memory of a step, estimated before running it, and the tiling that keeps it in a budget.

Pure arithmetic. The per-pixel costs are measured (peak RSS of real runs on CPU, docs/high-resolution.md), not derived: VGG19's saved activations, pooling indices (int64), the backward's
transient gradients and the allocator's slack all scale with the pixels of one pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..config import StyleConfig
from ..nst.layers import channels, stride
from .schedule import Scale
from .tiling import cut_positions, network_pixels, tile_extent

GIB = 1 << 30
BASE_BYTES = int(0.55 * GIB)  # interpreter, torch, VGG19 in fp32 and bf16, allocator pools
# One forward + backward through VGG19 to relu5_1, per pixel of the pass. Fitted to measured peak
# RSS, bf16, 20 L-BFGS pairs: 512x384 0.90 GiB, 1024x768 1.90 GiB, 1448x1086 3.02 GiB (about
# 1150 B/px of network once the optimizer's image copies are counted); fp32 at 1024x768 with
# 4 pairs 2.26 GiB.
NET_BYTES_PER_PX = {2: 1200, 4: 2400}  # by activation dtype size (bf16, fp32)
# A tiled pass also holds the whole image's gradient and Gram passes' leftovers: 1024x768 in
# 512-px tiles peaked at 1.74 GiB against 1.42 estimated with the plain rate.
TILED_NET_FACTOR = 1.5
TILED_PASS_COST = 1.5  # a tiled step runs forward twice and backward once per tile
FLOAT_BYTES = 4  # the image and the optimizer's state are fp32
MIN_LBFGS_HISTORY = 5
MIN_TILE = 256  # below this, the margins cost more than the tile does
# Plan for 85% of the budget: the estimate is a fit, not a bound. The default 2048-px run peaked
# at 6.4 GiB with 0.9 and a 5.3 GiB estimate, before freed heap was returned between scales.
SAFETY = 0.85


@dataclass(frozen=True)
class Footprint:
    """How one scale runs: whole or in tiles (core px), the L-BFGS history, the estimated peak."""

    tile: int | None  # None: the whole image in one pass
    history: int
    peak_bytes: int
    passes: int  # network passes (tiles) per step; a tiled step also runs a forward per tile


def values_per_pixel(layers: Iterable[str]) -> float:
    """Feature values per image pixel of the named layers (relu4_2: 512/64 = 8)."""
    return sum(channels(layer) / stride(layer) ** 2 for layer in layers)


def _image_bytes_per_px(config: StyleConfig) -> int:
    """One copy of the optimized image: grey in luminance mode (engine/color_modes.py), else RGB."""
    return (1 if config.preserve_color == "luminance" else 3) * FLOAT_BYTES


def _state_copies(config: StyleConfig, history: int) -> int:
    """fp32 image-sized buffers the loop holds: the content, the image, its gradient, the optimizer's
    state (L-BFGS: 2 per pair, the last point, its gradient and 2 work buffers; Adam: 2 moments
    and the last scale's, resized), the average and the copy of it shown to the callback."""
    optimizer = 2 * history + 4 if config.optimizer == "lbfgs" else 3
    return 3 + optimizer + (2 if config.ema_decay else 0)


def estimate_peak(
    width: int, height: int, config: StyleConfig, *, act_bytes: int, history: int, tile: int | None
) -> int:
    """Estimated peak bytes of a step at width x height (whole, or in tiles of `tile` px core).
    Masks add nothing that counts: a region's moments keep no copy of the features (nst/losses.py)."""
    pixels = width * height
    if tile is None or tile >= max(width, height):
        pass_pixels, extra = pixels, 0
    else:
        side = tile_extent(tile)
        pass_pixels = int(min(side, height) * min(side, width) * TILED_NET_FACTOR)
        extra = int(pixels * values_per_pixel(config.content_layers) * act_bytes)  # content targets, whole
    state = _image_bytes_per_px(config) * pixels * _state_copies(config, history)
    return int(BASE_BYTES + NET_BYTES_PER_PX[act_bytes] * pass_pixels + extra + state)


def fit_in_memory(scale: Scale, config: StyleConfig, budget: int, *, act_bytes: int) -> Footprint:
    """The cheapest way to run `scale` within `budget` bytes; ValueError when none fits.

    Order: the whole image with the configured history; then a shorter L-BFGS history (down to
    MIN_LBFGS_HISTORY); then tiles, largest first. config.tile_size forces tiles of that core.
    """
    w, h, usable = scale.width, scale.height, int(budget * SAFETY)

    def estimate(history: int, tile: int | None) -> int:
        return estimate_peak(w, h, config, act_bytes=act_bytes, history=history, tile=tile)

    histories = [config.lbfgs_history]
    if config.optimizer == "lbfgs":
        histories += list(range(config.lbfgs_history - 1, MIN_LBFGS_HISTORY - 1, -1))
    forced = config.tile_size is not None and config.tile_size < max(w, h)
    if not forced:
        for history in histories:
            peak = estimate(history, None)
            if peak <= usable:
                return Footprint(None, history, peak, 1)
    cores = [config.tile_size] if forced else range(max(w, h) // 16 * 16, MIN_TILE - 1, -64)
    for core in cores:
        for history in histories:  # the largest history that fits this tile size
            peak = estimate(history, core)
            if peak <= usable or (forced and history == histories[-1]):
                return Footprint(core, history, peak, _tiles(h, core) * _tiles(w, core))
    need = estimate(MIN_LBFGS_HISTORY, MIN_TILE)
    raise ValueError(
        f"{w}x{h} needs about {need / GIB:.1f} GiB even in {MIN_TILE}-px tiles; "
        f"the memory budget is {budget / GIB:.1f} GiB (raise max_memory, or lower size)"
    )


def _tiles(length: int, core: int) -> int:
    """Tiles along one axis at a typical offset (the cuts move every step)."""
    return len(cut_positions(length, core, core // 2)) + 1


def step_cost(scale: Scale, plan: Footprint) -> float:
    """Work of one step in whole-image pixel passes: the pixels, or for tiles their overlapping
    extent times the extra forward. Weighs the ETA and the --dry-run time alike."""
    if plan.tile is None:
        return float(scale.pixels)
    return TILED_PASS_COST * network_pixels(scale.height, scale.width, plan.tile)
