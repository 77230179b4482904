"""Loss terms of neural style transfer, as pure functions on tensors.

Reference: Gatys, Ecker & Bethge, "A Neural Algorithm of Artistic Style" (arXiv 1508.06576),
equations 1-5, and the total variation prior of Mahendran & Vedaldi (arXiv 1412.0035) as used by
jcjohnson/neural-style.

Differs from Gatys et al. 2015: every term is a mean instead of a sum, so that one set of weights
works at any image size and the total loss stays near 1e0-1e4 instead of 1e13 (where an L-BFGS step
without line search overflows). Exactly:

- paper content loss  ½·Σ (F - P)²            = (N·M / 2) · `content_loss`
- paper style layer   Σ (G - A)² / (4·N²·M²)  = (N² / 4)  · `style_layer_loss`

with N channels and M = H·W positions of the layer, and G, A the unnormalized Gram matrices.
The `gatys2015` preset in config.py folds these factors back into its weights.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch


def at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    """Low-precision (bf16/fp16) activations are summed in fp32; fp32 and fp64 are kept."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Normalized Gram matrix of feature maps.

    features: (B, C, H, W), any memory format, any float dtype.
    Returns (B, C, C), at least float32, with G[b, i, j] = Σ_hw F[b, i, hw] · F[b, j, hw] / (C·H·W).
    """
    if features.dim() != 4:
        raise ValueError(f"gram_matrix expects (B, C, H, W) features, got shape {tuple(features.shape)}")
    _, c, h, w = features.shape
    return weighted_moments(features, None, False)[0] / (c * h * w)


_SLAB_ELEMENTS = 1 << 20


class _Moments(torch.autograd.Function):
    """(Σ_q m_q·F_q·F_qᵀ (B, C, C), Σ_q m_q·F_q (B, C) or None) for F (B, N, C) and weights m
    (1, N, 1) or None (all 1), summed in fp32 at least, without a weighted or upcast copy of F.

    Forward: bf16 F is upcast a slab of rows at a time and accumulated in place (bf16 products are
    exact in fp32). A whole fp32 copy of relu1_1 is 50 MB at 512x384 and 4.3 GB at 4096x4096, fresh
    pages on every step; slabs of 1 Mi elements (4 MiB) stay in cache. On relu1_1 of a 512x384
    image, alone: 12.7 ms against 31.9 ms for the whole copy. The weighting is fp32 too: F·√m
    rounded to bf16 errs by 2^-9 per value, and the covariance of the Wasserstein loss,
    Σ m·F·Fᵀ/M − μ·μᵀ, loses that much of μ·μᵀ, which at relu4_1 and relu5_1 is larger than the
    covariance itself (it turned non-positive: NaN).

    Backward: m ⊙ (F·(D + Dᵀ) + d) for upstream gradients D (Gram) and d (mean), one matmul where
    autograd would run F·Dᵀ and F·D, in F's own dtype (the gradient into bf16 features is bf16
    anyway). Only F and m are kept, whatever the number of regions.
    """

    @staticmethod
    def forward(ctx, flat: torch.Tensor, weight: torch.Tensor | None, need_mean: bool):
        ctx.save_for_backward(flat, weight)
        if weight is None and not need_mean and flat.dtype in (torch.float32, torch.float64):
            return flat.transpose(1, 2) @ flat, None
        b, _, c = flat.shape
        wide_dtype = flat.dtype if flat.dtype == torch.float64 else torch.float32
        gram = flat.new_zeros((b, c, c), dtype=wide_dtype)
        mean = flat.new_zeros((b, c), dtype=wide_dtype) if need_mean else None
        rows = max(1, _SLAB_ELEMENTS // c)
        for start in range(0, flat.shape[1], rows):
            wide = flat[:, start : start + rows].to(wide_dtype)
            weighted = wide if weight is None else wide * weight[:, start : start + rows].to(wide_dtype)
            gram.baddbmm_(weighted.transpose(1, 2), wide)
            if mean is not None:
                mean += weighted.sum(1)
        return gram, mean

    @staticmethod
    def backward(ctx, grad_gram: torch.Tensor, grad_mean: torch.Tensor | None):
        flat, weight = ctx.saved_tensors
        out = flat @ (grad_gram + grad_gram.transpose(1, 2)).to(flat.dtype)  # fresh: updated in place
        if grad_mean is not None:
            out.add_(grad_mean[:, None, :].to(flat.dtype))
        return (out if weight is None else out.mul_(weight.to(flat.dtype))), None, None


def weighted_moments(
    features: torch.Tensor, weight: torch.Tensor | None, need_mean: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(Σ_q m_q·F_q·F_qᵀ, Σ_q m_q·F_q or None), at least fp32, of features (B, C, h, w) weighted
    by weight (1, 1, h, w), or None for all 1; unnormalized."""
    b, c, h, w = features.shape
    flat = features.movedim(1, -1).reshape(b, h * w, c)  # (B, H·W, C): free for channels_last features
    weights = None if weight is None else weight.reshape(1, h * w, 1).to(device=features.device)
    return _Moments.apply(flat, weights, need_mean)


def content_loss(
    features: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None, *, scale: float | None = None
) -> torch.Tensor:
    """Mean squared feature difference: mean over B·C·H·W of (F - P)². Scalar, at least fp32.

    features, target: (B, C, H, W) of the same shape (the content layer, relu4_2 by default).
    weight (1, 1, H, W) and scale: a tile's share, Σ w·(F - P)²·scale; with scale = α / (the whole
    image's B·C·H·W), the shares of tiles whose weights sum to 1 add up to α times the mean.
    """
    if features.shape != target.shape:
        raise ValueError(f"content features {tuple(features.shape)} and target {tuple(target.shape)} differ in shape")
    squared = (at_least_fp32(features) - at_least_fp32(target)).pow(2)
    if weight is None:
        return squared.mean()
    return (squared * weight).sum() * scale


def style_layer_loss(gram: torch.Tensor, target_gram: torch.Tensor) -> torch.Tensor:
    """Mean squared Gram difference of one layer: mean over B·C·C of (G - A)². Scalar.

    gram, target_gram: (B, C, C) from `gram_matrix`; target_gram may be (1, C, C) and broadcasts.
    """
    return (gram - target_gram).pow(2).mean()


@dataclass(frozen=True)
class Moments:
    """Feature statistics of one layer over a region (the whole image, a mask, a tile's share).

    gram: (B, C, C) Σ_q m_q·F_q·F_qᵀ / (C·mass), the normalized Gram matrix of `gram_matrix` when
          every weight m_q is 1; mean: (B, C) Σ_q m_q·F_q / mass, at least fp32, or None when not needed.
    """

    gram: torch.Tensor
    mean: torch.Tensor | None = None


def layer_moments(
    features: torch.Tensor, weight: torch.Tensor | None = None, *, mass: float | None = None, need_mean: bool = False
) -> Moments:
    """Moments of features (B, C, h, w) weighted by weight (1, 1, h, w) in [0, 1] (None: all 1).

    mass: the normalizer, Σ of the weights by default; a tile passes the whole image's mass, so
    that the tiles' moments add up to the image's (engine/tiling.py). These are the guided Gram matrices
    of Gatys et al. 2017 §4, except that they weigh by m, not m², and are means (regions.py).
    """
    if mass is None:
        mass = features.shape[-2] * features.shape[-1] if weight is None else float(weight.sum())
    if mass <= 0:
        raise ValueError("a region with no mass at this layer has no moments")
    gram, mean = weighted_moments(features, weight, need_mean)
    return Moments(gram / (features.shape[1] * mass), None if mean is None else mean / mass)


def weighted_average(values: Sequence[Any], weights: Sequence[float]) -> Any:
    """Σ_s w_s·v_s / Σ_s w_s: several styles' statistics (tensors) blended into one target.

    weights: one per value, finite and >= 0 with a positive sum; ValueError otherwise.
    """
    if len(values) != len(weights) or not weights:
        raise ValueError(f"{len(values)} styles but {len(weights)} blend weights")
    if not all(math.isfinite(w) and w >= 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"style blend weights must be >= 0 with a positive sum, got {list(weights)}")
    total = sum(weights)
    return sum(w / total * v for w, v in zip(weights, values))


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Squared total variation: mean (x[i+1,j] - x[i,j])² + mean (x[i,j+1] - x[i,j])². Scalar.

    image: (B, 3, H, W), values in [0, 1]. Penalizes high-frequency noise (not in Gatys 2015).
    """
    dy = image[..., 1:, :] - image[..., :-1, :]
    dx = image[..., :, 1:] - image[..., :, :-1]
    return dy.pow(2).mean() + dx.pow(2).mean()
