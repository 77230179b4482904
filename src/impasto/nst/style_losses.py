"""The style losses, by name: what each needs from the features and how it compares them.

- gram: Gatys et al. 2015, the mean squared difference of Gram matrices (losses.py);
- wasserstein: the Gaussian W2 distance between feature distributions (wasserstein.py), as in
  crowsonkb/style-transfer-pytorch. docs/control.md compares them at equal time.
Several styles blend into one target: for the Gram loss A_l = Σ_s w_s·A_l^s / Σ_s w_s, which has
the gradient of the weighted sum of the per-style losses at the cost of one target.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .losses import Moments, style_layer_loss, weighted_average
from .wasserstein import W2Target, blend_moments, w2_loss, w2_target


@dataclass(frozen=True)
class StyleLossKind:
    """One style loss: the moments it needs, its target from several styles' moments, its value."""

    needs_mean: bool
    target: Callable[[Sequence[Moments], Sequence[float]], Any]  # (moments per style, blend weights)
    layer_loss: Callable[[Moments, Any], torch.Tensor]  # scalar
    # The squared size of a target, in the layer loss's units: what loss_normalization "target"
    # divides the layer's loss by, so that it measures the error relative to the painting's own
    # statistics (a painting with small Gram values is matched as strongly as any other).
    size: Callable[[Any], float]


def _gram_target(moments: Sequence[Moments], weights: Sequence[float]) -> torch.Tensor:
    return weighted_average([m.gram for m in moments], weights)


def _w2_target(moments: Sequence[Moments], weights: Sequence[float]) -> W2Target:
    # Several styles blend in the mean and second-moment space (crowsonkb/style-transfer-pytorch).
    channels = moments[0].gram.shape[-1]
    return w2_target(*blend_moments([(m.mean, m.gram * channels) for m in moments], list(weights)))


def _w2_layer_loss(m: Moments, target: W2Target) -> torch.Tensor:
    return w2_loss(m.mean, m.gram * m.gram.shape[-1], target)


STYLE_LOSSES: dict[str, StyleLossKind] = {
    # Gatys et al. 2015: mean squared difference of the Gram matrices (style_layer_loss).
    "gram": StyleLossKind(
        False, _gram_target, lambda m, target: style_layer_loss(m.gram, target), lambda t: float(t.pow(2).mean())
    ),
    # Differs from Gatys et al. 2015: the squared Wasserstein-2 distance between the Gaussians of
    # the output's and the style's features, which also matches the means (wasserstein.py).
    # Its size: the second moment's trace over C, the mean of E[f_c²] over the channels, in the
    # loss's units (w2_loss divides W2² by C): the photo's relative W2 error is then 0.1-0.8 per
    # layer against The Starry Night and The Great Wave, as the Gram loss's is 0.25-1.1.
    "wasserstein": StyleLossKind(
        True,
        _w2_target,
        _w2_layer_loss,
        lambda t: float(t.cov.diagonal(dim1=-2, dim2=-1).sum() + t.mean.pow(2).sum()) / t.mean.shape[-1],
    ),
}
