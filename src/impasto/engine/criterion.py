"""The loss of one scale and its gradient on the image: α·L_content + β·L_style + λ·TV (+ γ·L_temporal).

Reference: Gatys et al. 2015 (arXiv 1508.06576), eq. 7, L_total = α·L_content + β·L_style, with
the terms of nst/losses.py (means instead of the paper's sums: see there) and the style regions of
nst/regions.py. Differs from Gatys et al. 2015: an optional total-variation prior λ·TV (0 by default). For video
frames, Ruder et al. 2016's temporal term γ·Σ L_temporal over the anchors (earlier painted frames
warped onto this one, nst/temporal.py); none for a picture.

One criterion serves both ways a scale runs:
- whole: one forward and backward pass over the image (`evaluate`);
- tiled: two passes over moving tiles (`evaluate_tiled`, engine/tiling.py) for scales too big for
  memory; the tiles' shares of the same content term and the gradient of the same style term.
nst/gatys.py is the paper's loss in one screen, without regions, tiles or precision; a test holds
this criterion against it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from ..config import StyleConfig
from ..nst.losses import Moments, content_loss, total_variation
from ..nst.regions import StyleRegion, mask_at, region_moments, regions_loss
from ..nst.style_losses import STYLE_LOSSES, StyleLossKind
from ..nst.temporal import Anchor, temporal_loss
from ..nst.vgg import VGG19Features
from .tiling import Tile, crop, cut_tiles, style_gradients, style_surrogate, tiled_features, window


@dataclass(frozen=True)
class Criterion:
    """Everything one scale's loss needs, fixed for the scale: the network, the content targets
    {layer: (1, C, H/s, W/s)} of the whole content image, the style regions with their targets,
    the style layers' weights, the style loss and the three term weights."""

    model: VGG19Features
    content_targets: Mapping[str, torch.Tensor]
    regions: Sequence[StyleRegion]
    layer_weights: Mapping[str, float]
    kind: StyleLossKind
    content_weight: float
    style_weight: float
    tv_weight: float
    dtype: torch.dtype
    anchors: Sequence[Anchor] = ()
    temporal_weight: float = 0.0

    @functools.cached_property  # read at every step
    def layers(self) -> list[str]:
        """The layers one pass computes: content layers, then style layers, each once."""
        return list(dict.fromkeys([*self.content_targets, *self.layer_weights]))

    def content_term(self, features: Mapping[str, torch.Tensor], tile: Tile | None = None) -> torch.Tensor:
        """α·L_content, L_content = Σ_layers content_loss: of the whole image, or a tile's share of
        it (the tiles' weights sum to 1 at every pixel, so their shares add up to the whole)."""
        if tile is None:
            return self.content_weight * sum(content_loss(features[k], t) for k, t in self.content_targets.items())
        return sum(
            content_loss(
                features[k],
                window(t, tile, k, features[k].shape[-2:]),
                mask_at(tile.weight.to(features[k].device), k, features[k].shape[-2:]),
                scale=self.content_weight / t.numel(),  # one factor: the same rounding whatever α
            )
            for k, t in self.content_targets.items()
        )

    def style_term(self, moments: Sequence[Mapping[str, Moments]], device: torch.device) -> torch.Tensor:
        """β·L_style of the regions' moments (whole image, or summed over tiles). Scalar, fp32."""
        return self.style_weight * regions_loss(moments, self.regions, self.layer_weights, self.kind).to(device)

    def tv_term(self, image: torch.Tensor) -> torch.Tensor:
        """λ·TV of the image, or a zero without a graph when λ is 0."""
        return self.tv_weight * total_variation(image) if self.tv_weight else image.new_zeros(())

    def temporal_term(self, image: torch.Tensor) -> torch.Tensor:
        """γ·Σ_anchors L_temporal (Ruder et al. 2016 eq. 7-8), or a zero without a graph."""
        if not self.anchors or not self.temporal_weight:
            return image.new_zeros(())
        return self.temporal_weight * sum(temporal_loss(image, a.warped, a.weights) for a in self.anchors)

    def evaluate(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One pass: (loss, the weighted terms (content, style, tv, temporal)); fills image.grad."""
        image.grad = None
        features = self.model(image, self.layers, dtype=self.dtype)
        moments = [
            region_moments(features, r.mask, list(r.targets), masses=r.masses, need_mean=self.kind.needs_mean)
            for r in self.regions
        ]
        terms = torch.stack(
            [
                self.content_term(features),
                self.style_term(moments, image.device),
                self.tv_term(image),
                self.temporal_term(image),
            ]
        )
        loss = terms.sum()
        loss.backward()
        return loss, terms.detach()

    def evaluate_tiled(self, image: torch.Tensor, tiles: Sequence[Tile]) -> tuple[torch.Tensor, torch.Tensor]:
        """Two passes over tiles (engine/tiling.py): (loss, the weighted terms); fills image.grad."""
        grads = style_gradients(
            self.model,
            image,
            tiles,
            self.regions,
            lambda moments: self.style_term(moments, image.device),
            layers=list(self.layer_weights),
            need_mean=self.kind.needs_mean,
            dtype=self.dtype,
        )
        grad = torch.zeros_like(image)
        content = image.new_zeros((), dtype=torch.float32)
        for tile in tiles:
            piece = crop(image.detach(), tile).clone().requires_grad_(True)
            features = self.model(piece, self.layers, dtype=self.dtype)
            surrogate = style_surrogate(
                features, tile, grads, self.regions, need_mean=self.kind.needs_mean, device=image.device
            )
            share = self.content_term(features, tile)
            (surrogate + share).backward()
            grad[..., tile.top : tile.bottom, tile.left : tile.right] += piece.grad
            content += share.detach()
            del piece, features, surrogate, share  # before the next tile's pass, not after it
        image.grad = None
        tv, temporal = self.tv_term(image), self.temporal_term(image)
        if tv.requires_grad or temporal.requires_grad:
            (tv + temporal).backward()
        image.grad = grad if image.grad is None else image.grad.add_(grad)
        terms = torch.stack([content, grads.term, tv.detach(), temporal.detach()])
        return terms.sum(), terms


def content_weight(config: StyleConfig, targets: Mapping[str, torch.Tensor]) -> float:
    """α, divided by the content targets' mean square when config.loss_normalization is "all"
    (the mean over the content layers of each layer's mean square). Differs from Gatys et al. 2015
    in that mode only: the content loss becomes relative to the photo's features."""
    if config.loss_normalization != "all":
        return config.content_weight
    size = sum(float(t.float().pow(2).mean()) for t in targets.values()) / len(targets)
    return config.content_weight / max(size, 1e-30)


def layer_weights(config: StyleConfig, regions: Sequence[StyleRegion], kind: StyleLossKind) -> dict[str, float]:
    """The style layers' weights of one scale: config.layer_weights(), each divided by its target's
    size (the regions' share-weighted mean) when config.loss_normalization is "style" or "all".

    Differs from Gatys et al. 2015, whose style loss is absolute: there a painting with small Gram
    values paints more weakly under the same β (docs/presets.md).
    """
    weights = config.layer_weights()
    if config.loss_normalization == "none":
        return weights
    normalized = {}
    for layer, weight in weights.items():
        sized = [(r.share, kind.size(r.targets[layer])) for r in regions if layer in r.targets]
        total = sum(share for share, _ in sized)
        size = sum(share * value for share, value in sized) / total if total else 1.0
        normalized[layer] = weight / max(size, 1e-30)
    return normalized


def criterion_for(
    model: VGG19Features,
    content: torch.Tensor,
    regions: Sequence[StyleRegion],
    config: StyleConfig,
    dtype: torch.dtype,
    tile: int | None = None,
    anchors: Sequence[Anchor] = (),
) -> Criterion:
    """The criterion of one scale: content (1, C, H, W) is the network image of the content (its
    features are the targets, computed in tiles of `tile` px when the scale runs tiled); anchors,
    a video frame's earlier frames as network images (nst/temporal.py)."""
    with torch.no_grad():
        if tile is None:
            targets = model(content, list(config.content_layers), dtype=dtype)
        else:
            tiles = cut_tiles(*content.shape[-2:], tile)
            targets = {k: tiled_features(model, content, k, tiles, dtype) for k in config.content_layers}
    kind = STYLE_LOSSES[config.style_loss]
    return Criterion(
        model,
        targets,
        regions,
        layer_weights(config, regions, kind),
        kind,
        content_weight(config, targets),
        config.style_weight,
        config.tv_weight,
        dtype,
        tuple(anchors),
        config.temporal_weight,
    )
