"""Gaussian Wasserstein-2 style loss, with matrix square roots by Newton–Schulz iterations.

A layer's features are summarized by their mean μ and covariance Σ, and the style loss is the
squared 2-Wasserstein distance between N(μ, Σ) and the style's N(μ_t, Σ_t) (Dowson & Landau 1982):

    W2² = ‖μ − μ_t‖² + tr Σ + tr Σ_t − 2·tr((Σ_t^{1/2} Σ Σ_t^{1/2})^{1/2})

References: crowsonkb/style-transfer-pytorch (`StyleLossW2`), Mroueh, "Wasserstein Style Transfer"
(arXiv 1905.12828), and for the iteration Higham, "Functions of Matrices" (SIAM 2008), ch. 6 (the
coupled Newton–Schulz iteration), as used by Lin & Maji (arXiv 1707.06772).

Differs from Gatys et al. 2015 (Gram matrices, nst/losses.py): the style statistic is a Gaussian, so
the mean and the covariance are matched separately and a feature's scale is not confused with its
correlation. Styles are blended in the (mean, second raw moment) space, where averaging is valid.

Statistics per layer: `mean` (B, C) and `second` (B, C, C) = Σ_q F_q F_qᵀ / (number of positions),
which is C times `losses.gram_matrix`. They are fp32 (fp64 in tests); the loss is a scalar.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .losses import at_least_fp32, weighted_average

# Measured on VGG19 features of the bundled samples (256 and 512 px, relu1_1..relu5_1) against a
# float64 eigendecomposition: with COV_EPS = 3e-2, 20 iterations bring the fp32 loss within 1e-4
# of it on every layer (16 iterations: 3e-2; 18: 5e-3). More is unsafe in fp32 on singular input:
# round-off in the null space grows like a tiny eigenvalue, 1.5× per iteration, turns negative and
# diverges from about 23 iterations on (from 16 with TF32 matmuls: CUDA runs it in fp64).
NS_ITERATIONS = 20
# The ridge bounds the condition number of Σ_t^{1/2}·Σ·Σ_t^{1/2}, the product of the two
# covariances' (2e5-3e6 here; 1e8-2e9 at eps = 1e-3, where 20 iterations leave errors of 1e-3 to
# 5e-3 and more iterations are not safe). Its cost: W2 moves 0.1-4 % from the unridged value.
COV_EPS = 3e-2
_COV_FLOOR = 1e-8


def _trace(matrix: torch.Tensor) -> torch.Tensor:
    """(..., C, C) -> (...)."""
    return matrix.diagonal(dim1=-2, dim2=-1).sum(-1)


def _symmetrize(matrix: torch.Tensor) -> torch.Tensor:
    return 0.5 * (matrix + matrix.transpose(-2, -1))


def _check_square(matrix: torch.Tensor, name: str) -> None:
    if matrix.dim() < 2 or matrix.shape[-1] != matrix.shape[-2]:
        raise ValueError(f"{name} must be a batch of square matrices (..., C, C), got shape {tuple(matrix.shape)}")


@torch.no_grad()
def sqrtm_newton_schulz(matrix: torch.Tensor, iterations: int = NS_ITERATIONS) -> tuple[torch.Tensor, torch.Tensor]:
    """(A^{1/2}, A^{-1/2}) of symmetric positive (semi)definite matrices, by coupled Newton–Schulz.

    matrix: (..., C, C), symmetric PSD, fp32 or fp64. Returns two (..., C, C) tensors, no autograd.
    Y_0 = A/‖A‖_F, Z_0 = I, T = (3I − Z·Y)/2, Y ← Y·T, Z ← T·Z: Y → (A/‖A‖_F)^{1/2} and
    Z → (A/‖A‖_F)^{-1/2}, quadratically once an eigenvalue is near 1, but an eigenvalue λ of
    A/‖A‖_F starts at √λ of its root and only grows 1.5× per iteration until then. So directions
    with λ/‖A‖_F below ~(1.5^{-iterations})² come back too small in both roots: the value of
    tr A^{1/2} misses their (small) √λ, and A^{-1/2} is damped there instead of exploding.
    In fp32 keep iterations <= 20 and matmuls IEEE (no TF32): see NS_ITERATIONS.
    """
    _check_square(matrix, "matrix")
    if iterations < 0:
        raise ValueError(f"iterations must be >= 0, got {iterations}")
    out_dtype = at_least_fp32(matrix).dtype
    # On CUDA, fp64 costs little at C <= 512 and keeps the iteration safe from TF32 matmuls, which
    # a caller may have turned on globally (torch.set_float32_matmul_precision) and which diverge.
    matrix = matrix.double() if matrix.device.type == "cuda" else matrix.to(out_dtype)
    # ‖A‖_F of Caffe-scale relu4_1 products reaches 1e15; scaling by max|a| first keeps the
    # sum of squares away from fp32 overflow (3e38).
    peak = matrix.abs().amax(dim=(-2, -1), keepdim=True).clamp_min(torch.finfo(matrix.dtype).tiny)
    norm = peak * torch.linalg.matrix_norm(matrix / peak)[..., None, None]  # (..., 1, 1)
    eye = torch.eye(matrix.shape[-1], dtype=matrix.dtype, device=matrix.device)
    y = matrix / norm
    z = eye.expand_as(matrix)
    if iterations:  # the first step has Z = I: one matmul instead of three
        z = 1.5 * eye - 0.5 * y
        y = y @ z
    for _ in range(iterations - 1):
        t = 1.5 * eye - 0.5 * (z @ y)
        y = y @ t
        z = t @ z
    scale = norm.sqrt()
    return (y * scale).to(out_dtype), (z / scale).to(out_dtype)


class _TraceSqrtm(torch.autograd.Function):
    """tr(A^{1/2}) with the backward d tr(A^{1/2}) / dA = ½·A^{-1/2}, both from one Newton–Schulz run.

    Autograd through the unrolled iterations would store 3 (C×C) products per iteration and
    replay them backward; the closed-form gradient costs nothing beyond the forward.
    """

    @staticmethod
    def forward(ctx, matrix: torch.Tensor, iterations: int) -> torch.Tensor:
        root, inv_root = sqrtm_newton_schulz(matrix, iterations)
        ctx.save_for_backward(inv_root)
        return _trace(root)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (inv_root,) = ctx.saved_tensors
        # Symmetrized: fp32 round-off leaves Z slightly asymmetric, and A is symmetric anyway.
        return grad[..., None, None] * 0.5 * _symmetrize(inv_root), None


def trace_sqrtm(matrix: torch.Tensor, *, iterations: int = NS_ITERATIONS) -> torch.Tensor:
    """tr(A^{1/2}) of symmetric PSD matrices (..., C, C) -> (...), differentiable w.r.t. A."""
    _check_square(matrix, "matrix")
    return _TraceSqrtm.apply(at_least_fp32(matrix), iterations)


def covariance(mean: torch.Tensor, second: torch.Tensor, eps: float = COV_EPS) -> torch.Tensor:
    """Σ = second − μ·μᵀ + (eps·tr Σ/C + floor)·I, (B, C) and (B, C, C) -> (B, C, C).

    Differs from crowsonkb (an absolute 1e-4·I): the ridge is relative to the mean channel
    variance, because Caffe-scale features are ~60× torchvision's, and larger (see COV_EPS). It
    bounds the condition number by about C/eps: relu5_1 has dead channels and, below ~400 px,
    fewer positions than channels. The map Σ ↦ Σ + eps·(tr Σ/C)·I is one-to-one, so the loss is
    still zero only at Σ = Σ_t: the ridge softens the loss near singular Σ, it keeps the target.
    """
    mean, second = at_least_fp32(mean), at_least_fp32(second)
    if second.dim() < 2 or second.shape[-2:] != (mean.shape[-1],) * 2 or second.shape[:-2] != mean.shape[:-1]:
        raise ValueError(f"mean {tuple(mean.shape)} and second moment {tuple(second.shape)} must be (B, C), (B, C, C)")
    cov = _symmetrize(second - mean[..., :, None] * mean[..., None, :])
    channels = cov.shape[-1]
    ridge = eps * _trace(cov).clamp_min(0) / channels + _COV_FLOOR  # (B,)
    return cov + ridge[..., None, None] * torch.eye(channels, dtype=cov.dtype, device=cov.device)


@dataclass(frozen=True)
class W2Target:
    """One style layer's Gaussian: mean (1, C), cov (1, C, C) with the ridge, cov_sqrt = cov^{1/2}."""

    mean: torch.Tensor
    cov: torch.Tensor
    cov_sqrt: torch.Tensor


def w2_target(mean: torch.Tensor, second: torch.Tensor) -> W2Target:
    """The style target of one layer from its statistics (1, C), (1, C, C); computed once per style."""
    mean, second = mean.detach(), second.detach()
    cov = covariance(mean, second)
    root, _ = sqrtm_newton_schulz(cov)
    return W2Target(mean=mean, cov=cov, cov_sqrt=_symmetrize(root))


def blend_moments(
    moments: list[tuple[torch.Tensor, torch.Tensor]], weights: list[float]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Blend several styles' (mean, second) of one layer: Σ_s w_s·(μ_s, S_s) / Σ_s w_s.

    This is the moments of the mixture of the styles' feature distributions, whereas averaging
    covariances would drop the spread between the styles' means. Weights: ≥ 0, positive sum.
    """
    return weighted_average([m for m, _ in moments], weights), weighted_average([s for _, s in moments], weights)


def _w2_squared(
    mean: torch.Tensor,
    cov: torch.Tensor,
    target_mean: torch.Tensor,
    target_cov: torch.Tensor,
    target_sqrt: torch.Tensor,
) -> torch.Tensor:
    """W2² (...) of N(mean, cov) to N(target_mean, target_cov), given target_cov^{1/2}."""
    cross = _symmetrize(target_sqrt @ cov @ target_sqrt)  # (..., C, C), Σ_t^{1/2} Σ Σ_t^{1/2}
    mean_term = (mean - target_mean).pow(2).sum(-1)
    return mean_term + _trace(cov) + _trace(target_cov) - 2 * trace_sqrtm(cross)


def w2_loss(mean: torch.Tensor, second: torch.Tensor, target: W2Target) -> torch.Tensor:
    """W2²(N(μ, Σ), N(μ_t, Σ_t)) / C, averaged over the batch. Scalar.

    mean (B, C), second (B, C, C); Σ = `covariance(mean, second)`. Differentiable w.r.t. both.
    Divided by C as crowsonkb does (a mean over channels), so layers of 64 and 512 channels weigh
    alike at equal layer weights.
    """
    if mean.shape[-1] != target.mean.shape[-1]:
        raise ValueError(f"statistics have {mean.shape[-1]} channels but the target has {target.mean.shape[-1]}")
    cov = covariance(mean, second)
    distance = _w2_squared(at_least_fp32(mean), cov, target.mean, target.cov, target.cov_sqrt)
    return (distance / mean.shape[-1]).mean()


def w2_distance(mean1: torch.Tensor, cov1: torch.Tensor, mean2: torch.Tensor, cov2: torch.Tensor) -> torch.Tensor:
    """Squared W2 between N(mean1, cov1) and N(mean2, cov2), not divided by C, no ridge. (...)

    mean (..., C), cov (..., C, C) symmetric PSD. For tests and metrics: no gradient reaches cov2.
    """
    _check_square(cov1, "cov1")
    _check_square(cov2, "cov2")
    root2, _ = sqrtm_newton_schulz(cov2)
    return _w2_squared(
        at_least_fp32(mean1), at_least_fp32(cov1), at_least_fp32(mean2), at_least_fp32(cov2), _symmetrize(root2)
    )
