"""Loss and image gradient computed tile by tile, for scales that do not fit in memory at once.

The style loss is global (Gram matrices over the whole image), so each step takes two passes:
1. forward only, tile by tile: each tile adds its weighted share of every Gram matrix; the global
   style loss and its gradient D_l = ∂L/∂G_l follow from the sums;
2. forward and backward, tile by tile, of the surrogate Σ_l <D_l, G_l(tile)> + α·content(tile),
   whose gradient on the tile's pixels is exactly that tile's share of the global gradient.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from .losses import gram_matrix, style_loss_of_grams
from .vgg import LAYER_NAMES, VGG19Features

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


def stride(layer: str) -> int:
    """Pixels per feature position at a named VGG19 layer (2 per pooling before it)."""
    return 2 ** sum(name.startswith("pool") for name in LAYER_NAMES[: LAYER_NAMES.index(layer)])


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


def plan_tiles(height: int, width: int, core: int, *, offset: tuple[int, int] = (0, 0),
               margin: int | None = None) -> list[Tile]:
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


def _feature_weights(tile: Tile, layers: Sequence[str], device: torch.device) -> dict[str, torch.Tensor]:
    weight = tile.weight.to(device)
    return {layer: F.avg_pool2d(weight, stride(layer)) if stride(layer) > 1 else weight for layer in layers}


def _piece(image: torch.Tensor, tile: Tile) -> torch.Tensor:
    return image[..., tile.top:tile.bottom, tile.left:tile.right]


def _weighted_grams(features: Mapping[str, torch.Tensor], weights: Mapping[str, torch.Tensor],
                    positions: Mapping[str, int]) -> dict[str, torch.Tensor]:
    """Each layer's Gram share: Σ_q w(q)·F_q·F_qᵀ over the tile, normalized by the whole image's size."""
    grams = {}
    for layer, f in features.items():
        if layer not in positions:
            continue
        # In bf16 the rounded √w breaks the partition of unity by up to 2^-8, in the ramps only
        # (a few % of the pixels): far below bf16's own error on the features.
        root = weights[layer].sqrt().to(f.dtype)
        grams[layer] = gram_matrix(f * root) * (f.shape[-2] * f.shape[-1] / positions[layer])
    return grams


def _positions(height: int, width: int, layers: Sequence[str]) -> dict[str, int]:
    return {layer: (height // stride(layer)) * (width // stride(layer)) for layer in layers}


def tiled_grams(model: VGG19Features, image: torch.Tensor, layers: Sequence[str], tiles: Sequence[Tile],
                dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Gram matrices {layer: (1, C, C)} of a whole (1, 3, H, W) image, summed over tiles. No grad."""
    positions = _positions(image.shape[-2], image.shape[-1], layers)
    total: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for tile in tiles:
            features = model(_piece(image, tile), list(layers), dtype=dtype)
            for layer, g in _weighted_grams(features, _feature_weights(tile, layers, image.device), positions).items():
                total[layer] = total[layer] + g if layer in total else g
            del features
    return total


def tiled_features(model: VGG19Features, image: torch.Tensor, layer: str, tiles: Sequence[Tile],
                   dtype: torch.dtype) -> torch.Tensor:
    """One layer's features (1, C, H/s, W/s) of a whole image, assembled from tiles. No grad.

    Each position is the blend of the tiles that weigh it, by their weights (which sum to 1), so
    that a position near one tile's margin leans on the tile it is central to.
    """
    s = stride(layer)
    out: torch.Tensor | None = None
    with torch.no_grad():
        for tile in tiles:
            f = model(_piece(image, tile), [layer], dtype=dtype)[layer]
            if out is None:
                out = torch.zeros((*f.shape[:2], image.shape[-2] // s, image.shape[-1] // s), device=f.device)
            w = _feature_weights(tile, [layer], image.device)[layer]
            out[..., tile.top // s: tile.top // s + f.shape[-2], tile.left // s: tile.left // s + f.shape[-1]] += f * w
    return out.to(f.dtype)


def tiled_loss_and_grad(model: VGG19Features, image: torch.Tensor, tiles: Sequence[Tile], *,
                        content_layer: str, content_target: torch.Tensor, content_weight: float,
                        targets: Mapping[str, torch.Tensor], layer_weights: Mapping[str, float],
                        style_weight: float, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """(content term, style term) as a (2,) tensor and the gradient (1, 3, H, W) of their sum.

    content_target: (1, C, H/s, W/s) features of the content at content_layer, for the whole image.
    The terms are weighted as in the untiled closure; content_loss's mean is over the whole image.
    """
    height, width = image.shape[-2:]
    style_layers = list(layer_weights)
    grams = tiled_grams(model, image, style_layers, tiles, dtype)
    grams = {k: g.requires_grad_(True) for k, g in grams.items()}
    style_term = style_weight * style_loss_of_grams(grams, targets, layer_weights)
    upstream = dict(zip(grams, torch.autograd.grad(style_term, list(grams.values()))))

    positions = _positions(height, width, style_layers)
    s = stride(content_layer)
    content_count = content_target.numel()
    grad = torch.zeros_like(image)
    content_term = image.new_zeros((), dtype=torch.float32)
    for tile in tiles:
        piece = _piece(image.detach(), tile).clone().requires_grad_(True)
        features = model(piece, [content_layer, *style_layers], dtype=dtype)
        weights = _feature_weights(tile, [content_layer, *style_layers], image.device)
        surrogate = sum((upstream[k] * g).sum() for k, g in _weighted_grams(features, weights, positions).items())
        f = features[content_layer]
        target = content_target[..., tile.top // s: tile.top // s + f.shape[-2],
                                tile.left // s: tile.left // s + f.shape[-1]]
        share = ((f.float() - target.float()).pow(2) * weights[content_layer]).sum() * (content_weight / content_count)
        (surrogate + share).backward()
        grad[..., tile.top:tile.bottom, tile.left:tile.right] += piece.grad
        content_term += share.detach()
        del piece, features, surrogate, f, share  # before the next tile's pass, not after it
    return torch.stack([content_term, style_term.detach()]), grad
