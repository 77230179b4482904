"""nst/temporal.py: the warp, the paper's occlusion and motion-boundary rules, c_long and the loss."""

from __future__ import annotations

import math

import torch

from impasto.nst.temporal import (
    consistency,
    disoccluded,
    fill,
    inside,
    long_term_weights,
    motion_boundary,
    temporal_loss,
    warp,
)


def _pattern(h: int, w: int, dx: float = 0.0, dy: float = 0.0) -> torch.Tensor:
    """A smooth colour pattern sampled at (x + dx, y + dy): (1, 3, h, w)."""
    y, x = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    x, y = x + dx, y + dy
    channels = [torch.sin(0.31 * x + 0.17 * y), torch.cos(0.23 * y - 0.11 * x), torch.sin(0.05 * x * y / 8)]
    return (torch.stack(channels).unsqueeze(0) * 0.5 + 0.5).float()


def _constant(h: int, w: int, u: float, v: float) -> torch.Tensor:
    flow = torch.zeros(1, 2, h, w)
    flow[:, 0], flow[:, 1] = u, v
    return flow


def test_warp_of_a_known_translation_is_right_within_half_a_pixel():
    h, w, u, v = 48, 64, 2.3, -1.7
    earlier = _pattern(h, w)
    later = _pattern(h, w, u, v)  # pixel p of `later` shows point p + (u, v) of `earlier`
    warped = warp(earlier, _constant(h, w, u, v))
    interior = (slice(None), slice(None), slice(4, h - 4), slice(4, w - 4))
    error = (warped - later)[interior].abs().mean()
    # The warp must beat the same warp off by half a pixel, by a wide margin.
    off = (warp(earlier, _constant(h, w, u + 0.5, v)) - later)[interior].abs().mean()
    assert error < 0.2 * off, (float(error), float(off))
    assert float(error) < 0.01


def test_zero_flow_is_the_identity_and_inside_marks_the_border():
    image = torch.rand(1, 3, 16, 20)
    assert torch.allclose(warp(image, torch.zeros(1, 2, 16, 20)), image, atol=1e-6)
    mask = inside(_constant(16, 20, 3.0, 0.0))[0, 0]
    assert mask[:, : 20 - 3].all() and not mask[:, 20 - 2 :].any()


def _moving_square(h: int = 40, w: int = 64, x0: int = 16, size: int = 12, d: int = 5):
    """Ground-truth flows of a square moving d px right over a still background."""
    top = (h - size) // 2
    backward = torch.zeros(1, 2, h, w)  # on the later frame: the square came from d px left
    backward[0, 0, top : top + size, x0 + d : x0 + d + size] = -d
    forward = torch.zeros(1, 2, h, w)  # on the earlier frame: the square goes d px right
    forward[0, 0, top : top + size, x0 : x0 + size] = d
    return forward, backward, top, size


def test_the_occlusion_rule_marks_the_band_the_moving_square_uncovers():
    x0, d = 16, 5
    forward, backward, top, size = _moving_square(x0=x0, d=d)
    rows = slice(top + 1, top + size - 1)
    gone = disoccluded(forward, backward)[0, 0]
    assert gone[rows, x0 : x0 + d].all()  # background seen now, under the square before
    assert not gone[:, :x0].any() and not gone[rows, x0 + d + 1 : x0 + d + size - 1].any()
    assert not gone[: top - 1].any()
    weights = consistency(forward, backward)[0, 0]
    assert (weights[rows, x0 : x0 + d] == 0).all()
    assert (weights[: top - 2, :] == 1).all()  # far from the square: followed fully
    assert (weights[top + 2 : top + size - 2, x0 + d + 2 : x0 + d + size - 2] == 1).all()  # inside the square


def test_motion_boundaries_follow_the_flow_edges_only():
    _, backward, top, size = _moving_square()
    edges = motion_boundary(backward)[0, 0]
    assert edges[top + size // 2, 16 + 5 - 1 : 16 + 5 + 1].any()  # the square's left edge
    assert not edges[: top - 2].any()
    assert not motion_boundary(_constant(20, 20, 7.0, -3.0)).any()  # a uniform pan has none


def test_long_term_weights_give_each_pixel_to_the_closest_frame_that_saw_it():
    near = torch.tensor([1.0, 0.0, 0.0, 0.6]).view(1, 1, 1, 4)
    mid = torch.tensor([1.0, 1.0, 0.0, 1.0]).view(1, 1, 1, 4)
    far = torch.tensor([1.0, 1.0, 1.0, 1.0]).view(1, 1, 1, 4)
    got = long_term_weights([near, mid, far])
    assert torch.equal(got[0], near)
    assert torch.allclose(got[1], torch.tensor([0.0, 1.0, 0.0, 0.4]).view(1, 1, 1, 4))
    assert torch.allclose(got[2], torch.tensor([0.0, 0.0, 1.0, 0.0]).view(1, 1, 1, 4))


def test_temporal_loss_is_the_papers_mean_over_pixels_and_channels():
    image, warped = torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2)
    weights = torch.tensor([[1.0, 0.0], [0.5, 0.0]]).view(1, 1, 2, 2)
    # (1/D) Σ c (x − ω)², D = 2·2·3: (3·1 + 3·0.5) / 12
    assert math.isclose(float(temporal_loss(image, warped, weights)), 4.5 / 12)
    start = fill(warped, image, weights)
    assert torch.allclose(start[0, :, 1, 0], torch.full((3,), 0.5)) and float(start[0, :, 0, 1].max()) == 0
