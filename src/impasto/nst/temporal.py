"""Temporal consistency for video: warping by optical flow, the consistency weights and the
temporal loss of Ruder, Dosovitskiy & Brox, "Artistic style transfer for videos" (GCPR 2016,
arXiv 1604.08610; IJCV 2018, arXiv 1708.04538). Pure torch, no I/O.

Flows are (1, 2, H, W) in pixels, channel 0 horizontal (u), channel 1 vertical (v). A *backward*
flow b of frame t to an earlier frame s says where each pixel of frame t was in frame s: the pixel
p of frame t shows the point p + b(p) of frame s. `warp(x_s, b)` so brings frame s's image onto
frame t's pixels. The *forward* flow f of frame s to frame t is defined on frame s's pixels.

The paper's rules (§3.2 of the GCPR paper), applied to the pixels of frame t:
- disoccluded, where the forward flow taken back to frame t does not cancel the backward flow:
  |f̃ + b|² > 0.01 (|f̃|² + |b|²) + 0.5, with f̃(p) = f(p + b(p));
- a motion boundary, where the backward flow changes fast: |∇b_u|² + |∇b_v|² > 0.01 |b|² + 0.002;
there c = 0 (the frame is free to paint anew), elsewhere c = 1. Differs from the paper: pixels
whose source lies outside frame s also take c = 0 (the paper's flow never points outside), and
the 0/1 map is softened by a 3x3 blur so that a one-pixel error in the flow's edges does not print
a hard seam (our choice; docs/video.md).

The temporal loss (paper eq. 7): L_temporal(x, ω, c) = (1/D) Σ_k c_k · (x_k − ω_k)², D = W·H·C,
with ω the previous painted frame warped to this one. Long-term terms (eq. 8-9) sum it over the
frames i − j, j ∈ J, each weighted by c_long(i−j, i) = max(c(i−j, i) − Σ_{k∈J, k<j} c(i−k, i), 0):
a pixel follows the closest earlier frame that saw it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch.nn import functional as F


@dataclass(frozen=True)
class Anchor:
    """One earlier painted frame as the temporal loss sees it: `warped` (1, C, H, W), that frame
    warped onto this one, and `weights` (1, 1, H, W) in [0, 1], where it is to be followed."""

    warped: torch.Tensor
    weights: torch.Tensor


DISOCCLUSION = (0.01, 0.5)  # the paper's thresholds: relative, absolute (px²)
MOTION_BOUNDARY = (0.01, 0.002)


def _grid(flow: torch.Tensor) -> torch.Tensor:
    """The sampling grid of grid_sample (1, H, W, 2) in [-1, 1] for positions p + flow(p)."""
    _, _, h, w = flow.shape
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=flow.dtype, device=flow.device),
        torch.arange(w, dtype=flow.dtype, device=flow.device),
        indexing="ij",
    )
    x = (xs + flow[0, 0]) * (2 / max(w - 1, 1)) - 1
    y = (ys + flow[0, 1]) * (2 / max(h - 1, 1)) - 1
    return torch.stack([x, y], dim=-1).unsqueeze(0)


def warp(image: torch.Tensor, flow: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """`image` (1, C, H, W) of frame s seen from frame t through the backward flow (1, 2, H, W):
    bilinear, or bicubic (sharper: a painted frame warped again and again keeps its strokes);
    positions outside frame s take the nearest border pixel (`inside` says where)."""
    grid = _grid(flow.to(image.dtype))
    return F.grid_sample(image, grid, mode=mode, padding_mode="border", align_corners=True)


def inside(flow: torch.Tensor) -> torch.Tensor:
    """(1, 1, H, W) bool: where p + flow(p) lies within the frame (half a pixel of slack)."""
    _, _, h, w = flow.shape
    grid = _grid(flow)
    x, y = grid[..., 0], grid[..., 1]
    slack_x, slack_y = 1 / max(w - 1, 1), 1 / max(h - 1, 1)
    return ((x.abs() <= 1 + slack_x) & (y.abs() <= 1 + slack_y)).unsqueeze(1)


def _square(flow: torch.Tensor) -> torch.Tensor:
    return flow.pow(2).sum(1, keepdim=True)


def disoccluded(forward: torch.Tensor, backward: torch.Tensor) -> torch.Tensor:
    """(1, 1, H, W) bool on frame t: the forward–backward check fails (the paper's first rule)."""
    forward_at_t = warp(forward, backward)
    relative, absolute = DISOCCLUSION
    return _square(forward_at_t + backward) > relative * (_square(forward_at_t) + _square(backward)) + absolute


def motion_boundary(backward: torch.Tensor) -> torch.Tensor:
    """(1, 1, H, W) bool on frame t: the backward flow's gradient is large (the paper's second
    rule), by central differences (one-sided at the borders)."""
    padded = F.pad(backward, (1, 1, 1, 1), mode="replicate")
    dx = (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2]) / 2
    dy = (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1]) / 2
    gradient = _square(dx) + _square(dy)
    relative, absolute = MOTION_BOUNDARY
    return gradient > relative * _square(backward) + absolute


def consistency(forward: torch.Tensor, backward: torch.Tensor, soften: bool = True) -> torch.Tensor:
    """The weights c (1, 1, H, W) in [0, 1] on frame t for the flows between frames s and t:
    0 where disoccluded, on a motion boundary or where the source is outside frame s; 1 elsewhere;
    softened by a 3x3 blur that only lowers weights (a hard 0 stays 0)."""
    bad = disoccluded(forward, backward) | motion_boundary(backward) | ~inside(backward)
    weights = (~bad).to(backward.dtype)
    if soften:
        blurred = F.avg_pool2d(F.pad(weights, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
        weights = torch.minimum(weights, blurred)
    return weights


def long_term_weights(weights: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """The paper's c_long (eq. 9) of the weights c(i−j, i) listed from the closest earlier frame
    to the farthest (j ascending): each pixel counts for the closest frame that saw it."""
    result, taken = [], None
    for c in weights:
        result.append(c if taken is None else (c - taken).clamp(min=0))
        taken = c if taken is None else taken + c
    return result


def temporal_loss(image: torch.Tensor, warped: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """(1/D) Σ_k c_k (x_k − ω_k)² (paper eq. 7), D = H·W·C; weights (1, 1, H, W) broadcast over C."""
    return (weights * (image - warped).pow(2)).mean()


def fill(warped: torch.Tensor, content: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Frame t's starting image: the warped painted frame where it is reliable, the content where
    not (disoccluded, or from outside the frame): c·ω + (1 − c)·content. Differs from the paper,
    whose init is ω alone: what the warp cannot know starts from the photo, not a smeared stroke."""
    return weights * warped + (1 - weights) * content
