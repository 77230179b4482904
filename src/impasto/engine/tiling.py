"""Loss and image gradient computed tile by tile, for scales that do not fit in memory at once.

The style loss is global (feature moments over the whole image), so each step takes two passes:
1. forward only, tile by tile: each tile adds its weighted share of every region's moments (Gram
   matrix, and mean for the Wasserstein loss); the global style loss and its gradients
   D = ∂L/∂G and d = ∂L/∂μ follow from the sums;
2. forward and backward, tile by tile, of the surrogate Σ <D, G(tile)> + <d, μ(tile)> plus the
   tile's share of the content term, whose gradient on the tile's pixels is exactly that tile's
   share of the global gradient. engine/criterion.py runs the two passes with the same content
   and style terms as the one-pass path.

Tiles overlap. Each carries a weight map; the maps form a partition of unity (they sum to 1 at
every pixel) with linear ramps across the cuts, and each feature position counts with the mean
weight of the pixels under it. A tile reaches MARGIN px past its weighted area, so the features
that count see (almost all of) their receptive field; the rest is blended away by the ramps. Tiles
start on multiples of ALIGN, so their pooling grid is the whole image's. The cuts move every step
(a seeded offset), so whatever error remains never settles into a seam.

Reference: crowsonkb's Caffe-era style_transfer, which tiles with per-iteration shifted tiles.
Differs from Gatys et al. 2015: the paper runs the whole image at once.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch

from ..nst.layers import stride
from ..nst.losses import Moments
from ..nst.regions import StyleRegion, mask_at, region_masses, region_moments
from ..nst.vgg import VGG19Features

ALIGN = 32  # VGG19 pools 5 times (pool5 is a valid layer): tiles start on its grid
MARGIN = 48  # px past the weighted area; image-gradient error against one pass: 1.6e-4 (96 px: 6e-7)
BLEND = 32  # width of the linear ramp between two neighbouring tiles' weights


@dataclass(frozen=True)
class Tile:
    """The region [top:bottom, left:right] the network sees, and each pixel's share (1, 1, h, w)."""

    top: int
    left: int
    bottom: int
    right: int
    weight: torch.Tensor


def cut_positions(length: int, core: int, offset: int) -> list[int]:
    """Cut positions along one axis: offset + k·core, none closer than BLEND to an edge; none
    at all when the core spans the axis."""
    if core >= length:
        return []
    return [c for c in range(offset % core, length, core) if BLEND <= c <= length - BLEND]


def _axis(length: int, core: int, offset: int, margin: int) -> list[tuple[int, int, torch.Tensor]]:
    """(start, end, weights over [start, end)) per tile along one axis; the weights sum to 1."""
    cuts = cut_positions(length, core, offset)
    bounds = [None, *cuts, None]
    position = torch.arange(length, dtype=torch.float32) + 0.5
    pieces = []
    for before, after in itertools.pairwise(bounds):
        weight = torch.ones(length)
        if before is not None:
            weight *= ((position - before) / BLEND + 0.5).clamp(0, 1)
        if after is not None:
            weight *= 1 - ((position - after) / BLEND + 0.5).clamp(0, 1)
        low = 0 if before is None else max(0, before - BLEND // 2 - margin) // ALIGN * ALIGN
        high = length if after is None else min(length, after + BLEND // 2 + margin)
        pieces.append((low, high, weight[low:high]))
    return pieces


def cut_tiles(
    height: int, width: int, core: int, *, offset: tuple[int, int] = (0, 0), margin: int | None = None
) -> list[Tile]:
    """Overlapping tiles covering height x width, cuts every `core` px shifted by `offset` (y, x).

    core >= both sides gives one tile, the whole image with weight 1. margin: MARGIN by default.
    """
    margin = MARGIN if margin is None else margin
    tiles = []
    for top, bottom, wy in _axis(height, core, offset[0], margin):
        for left, right, wx in _axis(width, core, offset[1], margin):
            tiles.append(Tile(top, left, bottom, right, (wy[:, None] * wx[None, :])[None, None]))
    return tiles


def tile_extent(core: int, margin: int | None = None) -> int:
    """The largest side of a tile for a given core: the core, the ramps, two margins, alignment."""
    return core + BLEND + 2 * (MARGIN if margin is None else margin) + ALIGN


def network_pixels(height: int, width: int, core: int) -> int:
    """Pixels the network sees in one pass over all tiles (overlaps counted), at a typical offset."""

    def covered(length: int) -> int:
        return sum(high - low for low, high, _ in _axis(length, core, core // 2, MARGIN))

    return covered(height) * covered(width)


def crop(image: torch.Tensor, tile: Tile) -> torch.Tensor:
    return image[..., tile.top : tile.bottom, tile.left : tile.right]


def tile_mask(tile: Tile, mask: torch.Tensor | None, device: torch.device) -> torch.Tensor:
    """The tile's share of a region: its weight times the region's mask over the tile (1, 1, h, w)."""
    weight = tile.weight.to(device)
    return weight if mask is None else weight * crop(mask, tile).to(device)


def _add(total: dict[str, Moments], part: Mapping[str, Moments]) -> None:
    for layer, m in part.items():
        if layer not in total:
            total[layer] = m
        else:
            old = total[layer]
            total[layer] = Moments(old.gram + m.gram, None if m.mean is None else old.mean + m.mean)


def tiled_moments(
    model: VGG19Features,
    image: torch.Tensor,
    layers: Sequence[str],
    tiles: Sequence[Tile],
    dtype: torch.dtype,
    *,
    masks: Sequence[torch.Tensor | None] = (None,),
    need_mean: bool = False,
    layers_of: Sequence[Sequence[str]] | None = None,
    masses: Sequence[Mapping[str, float]] | None = None,
) -> list[dict[str, Moments]]:
    """Moments {layer: Moments} of a whole (1, C, H, W) image, one dict per region mask (1, 1, H, W)
    or None (everywhere), summed over tiles: one network pass per tile for all regions. No grad.
    layers_of: per region, the layers it needs (default: all); each must have mass there.
    masses: per region, region_masses of the whole image, when the caller has them (no sync)."""
    height, width = image.shape[-2:]
    layers_of = layers_of or [layers] * len(masks)
    masses = masses or [region_masses(mask, height, width, wanted) for mask, wanted in zip(masks, layers_of)]
    totals: list[dict[str, Moments]] = [{} for _ in masks]
    with torch.no_grad():
        for tile in tiles:
            features = model(crop(image, tile), list(layers), dtype=dtype)
            for total, mask, mass, wanted in zip(totals, masks, masses, layers_of):
                _add(
                    total,
                    region_moments(
                        features, tile_mask(tile, mask, image.device), wanted, masses=mass, need_mean=need_mean
                    ),
                )
            del features
    return totals


def tiled_features(
    model: VGG19Features, image: torch.Tensor, layer: str, tiles: Sequence[Tile], dtype: torch.dtype
) -> torch.Tensor:
    """One layer's features (1, C, H/s, W/s) of a whole image, assembled from tiles. No grad.

    Each position is the blend of the tiles that weigh it, by their weights (which sum to 1), so
    that a position near one tile's margin leans on the tile it is central to.
    """
    s = stride(layer)  # the whole image's feature grid
    out: torch.Tensor | None = None
    with torch.no_grad():
        for tile in tiles:
            f = model(crop(image, tile), [layer], dtype=dtype)[layer]
            if out is None:
                out = torch.zeros((*f.shape[:2], image.shape[-2] // s, image.shape[-1] // s), device=f.device)
            w = mask_at(tile.weight.to(image.device), layer, f.shape[-2:])
            window(out, tile, layer, f.shape[-2:]).add_(f * w)
    return out.to(f.dtype)


@dataclass(frozen=True)
class StyleGradients:
    """The first pass of a tiled step: the whole image's moments per region, the style term they
    give, and its gradient on each moment (D = ∂L/∂G, d = ∂L/∂μ), by id of the moment's tensor."""

    term: torch.Tensor  # scalar, weighted
    moments: list[dict[str, Moments]]
    upstream: dict[int, torch.Tensor]


def style_gradients(
    model: VGG19Features,
    image: torch.Tensor,
    tiles: Sequence[Tile],
    regions: Sequence[StyleRegion],
    style_term: Callable[[list[dict[str, Moments]]], torch.Tensor],
    *,
    layers: Sequence[str],
    need_mean: bool,
    dtype: torch.dtype,
) -> StyleGradients:
    """Pass 1, forward only: every region's moments at `layers` summed over the tiles,
    style_term(moments) and its gradients on the moments (no gradient on the image yet)."""
    moments = tiled_moments(
        model,
        image,
        layers,
        tiles,
        dtype,
        masks=[r.mask for r in regions],
        need_mean=need_mean,
        layers_of=[list(r.targets) for r in regions],
        masses=[r.masses for r in regions],
    )
    leaves = [t for per_layer in moments for m in per_layer.values() for t in (m.gram, m.mean) if t is not None]
    for leaf in leaves:
        leaf.requires_grad_(True)
    term = style_term(moments)
    gradients = torch.autograd.grad(term, leaves, allow_unused=True) if leaves else ()
    return StyleGradients(term.detach(), moments, dict(zip(map(id, leaves), gradients)))


def style_surrogate(
    features: Mapping[str, torch.Tensor],
    tile: Tile,
    grads: StyleGradients,
    regions: Sequence[StyleRegion],
    *,
    need_mean: bool,
    device: torch.device,
) -> torch.Tensor:
    """Pass 2, per tile: Σ <D, G(tile)> + <d, μ(tile)> over regions and layers. Its gradient on the
    tile's pixels is exactly the tile's share of the style term's gradient. Scalar, fp32."""
    surrogate = torch.zeros((), dtype=torch.float32, device=device)
    for total, region in zip(grads.moments, regions):
        part = region_moments(
            features,
            tile_mask(tile, region.mask, device),
            list(region.targets),
            masses=region.masses,
            need_mean=need_mean,
        )
        for layer, m in part.items():
            for mine, whole in ((m.gram, total[layer].gram), (m.mean, total[layer].mean)):
                d = None if mine is None else grads.upstream.get(id(whole))
                if d is not None:
                    surrogate = surrogate + (d * mine).sum()
    return surrogate


def window(whole: torch.Tensor, tile: Tile, layer: str, size: tuple[int, int]) -> torch.Tensor:
    """The (h, w) positions of a whole image's `layer` features (1, C, H/s, W/s) under a tile."""
    s = stride(layer)
    return whole[..., tile.top // s : tile.top // s + size[0], tile.left // s : tile.left // s + size[1]]
