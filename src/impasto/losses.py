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

from collections.abc import Mapping

import torch


def _at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    """Low-precision (bf16/fp16) activations are summed in fp32; fp32 and fp64 are kept."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Normalized Gram matrix of feature maps.

    features: (B, C, H, W), any memory format, any float dtype.
    Returns (B, C, C), at least float32, with G[b, i, j] = Σ_hw F[b, i, hw] · F[b, j, hw] / (C·H·W).
    """
    if features.dim() != 4:
        raise ValueError(f"gram_matrix expects (B, C, H, W) features, got shape {tuple(features.shape)}")
    b, c, h, w = features.shape
    # (B, H·W, C): a free view for channels_last features, which is how VGG19Features runs.
    return _SymmetricGram.apply(features.movedim(1, -1).reshape(b, h * w, c)) / (c * h * w)


_SLAB_ELEMENTS = 1 << 20


class _SymmetricGram(torch.autograd.Function):
    """Fᵀ·F for F (B, N, C), summed in fp32 at least, with a backward of one matmul, not two.

    Forward: F is upcast (bf16 products are exact in fp32, so this is a bf16 matmul with fp32
    accumulation and output). Backward: d(FᵀF)/dF applied to an upstream gradient D is
    F·(D + Dᵀ); autograd would compute F·Dᵀ and F·D as two (N×C)·(C×C) products. The product
    runs in F's own dtype, because the gradient flowing into bf16 features is bf16 anyway.
    """

    @staticmethod
    def forward(ctx, flat: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(flat)
        if flat.dtype in (torch.float32, torch.float64):
            return flat.transpose(1, 2) @ flat
        # Upcast a slab of rows at a time and accumulate in place. A whole fp32 copy of relu1_1
        # is 50 MB at 512x384 and 4.3 GB at 4096x4096, fresh pages on every step; slabs of
        # 1 Mi elements (4 MiB) stay in cache. On relu1_1 of a 512x384 image, alone: 12.7 ms
        # against 31.9 ms for the whole copy (inside a full step the gain is within noise).
        b, _, c = flat.shape
        acc = flat.new_zeros((b, c, c), dtype=torch.float32)
        for slab in flat.split(max(1, _SLAB_ELEMENTS // c), dim=1):
            wide = slab.float()
            acc.baddbmm_(wide.transpose(1, 2), wide)
        return acc

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (flat,) = ctx.saved_tensors
        return flat @ (grad + grad.transpose(1, 2)).to(flat.dtype)


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared feature difference: mean over B·C·H·W of (F - P)². Scalar.

    features, target: (B, C, H, W) of the same shape (the content layer, relu4_2 by default).
    """
    if features.shape != target.shape:
        raise ValueError(f"content features {tuple(features.shape)} and target {tuple(target.shape)} differ in shape")
    return (_at_least_fp32(features) - _at_least_fp32(target)).pow(2).mean()


def style_layer_loss(gram: torch.Tensor, target_gram: torch.Tensor) -> torch.Tensor:
    """Mean squared Gram difference of one layer: mean over B·C·C of (G - A)². Scalar.

    gram, target_gram: (B, C, C) from `gram_matrix`; target_gram may be (1, C, C) and broadcasts.
    """
    return (gram - target_gram).pow(2).mean()


def style_loss(
    features: Mapping[str, torch.Tensor],
    target_grams: Mapping[str, torch.Tensor],
    layer_weights: Mapping[str, float],
) -> torch.Tensor:
    """Weighted style loss: Σ_l w_l · style_layer_loss(gram_matrix(F_l), A_l). Scalar.

    features: {layer: (B, C, H, W)}; target_grams: {layer: (1, C, C)}; layer_weights: {layer: w_l}.
    Layers with weight 0 are skipped. Several styles are blended beforehand, in `target_grams`
    (see `blend_grams`).
    """
    missing = set(layer_weights) - set(features)
    if missing:
        raise ValueError(f"style layers {sorted(missing)} have no features")
    grams = {layer: gram_matrix(features[layer]) for layer, weight in layer_weights.items() if weight}
    return style_loss_of_grams(grams, target_grams, layer_weights)


def style_loss_of_grams(
    grams: Mapping[str, torch.Tensor],
    target_grams: Mapping[str, torch.Tensor],
    layer_weights: Mapping[str, float],
) -> torch.Tensor:
    """Σ_l w_l · style_layer_loss(G_l, A_l) for Gram matrices already computed. Scalar."""
    missing = {k for k, w in layer_weights.items() if w} - (set(grams) & set(target_grams))
    if missing:
        raise ValueError(f"style layers {sorted(missing)} have no Gram matrix or no target")
    total = torch.zeros((), device=next(iter(target_grams.values())).device)
    for layer, weight in layer_weights.items():
        if weight:
            total = total + weight * style_layer_loss(grams[layer], target_grams[layer])
    return total


def blend_grams(grams_per_style: list[Mapping[str, torch.Tensor]], weights: list[float]) -> dict[str, torch.Tensor]:
    """Blend several styles' Gram targets: A_l = Σ_s w_s · A_l^s / Σ_s w_s.

    For the mean-squared style loss this has the same gradient as the weighted sum of the
    per-style losses, at the cost of one target. Weights must be ≥ 0 with a positive sum.
    """
    if len(grams_per_style) != len(weights) or not weights:
        raise ValueError(f"{len(grams_per_style)} styles but {len(weights)} blend weights")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"style blend weights must be >= 0 with a positive sum, got {list(weights)}")
    total = sum(weights)
    return {
        layer: sum(w / total * grams[layer] for w, grams in zip(weights, grams_per_style))
        for layer in grams_per_style[0]
    }


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Squared total variation: mean (x[i+1,j] - x[i,j])² + mean (x[i,j+1] - x[i,j])². Scalar.

    image: (B, 3, H, W), values in [0, 1]. Penalizes high-frequency noise (not in Gatys 2015).
    """
    dy = image[..., 1:, :] - image[..., :-1, :]
    dx = image[..., :, 1:] - image[..., :, :-1]
    return dy.pow(2).mean() + dx.pow(2).mean()
