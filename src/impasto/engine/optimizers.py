"""The optimizers the loop drives, their hand-over between scales, and the average of the iterates.

Reference for the warm start and the average: crowsonkb/style-transfer-pytorch, which carries
Adam's moment buffers to the next scale (resized with the image) and outputs a bias-corrected
exponential moving average of the iterates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.nn import functional as F

from ..config import StyleConfig
from .lbfgs import LBFGS


def resize_state(state: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A per-pixel optimizer buffer (1, C, H, W) resized to `size` (H, W), bilinear.

    Bilinear never overshoots, so Adam's second moment stays >= 0 and a constant buffer stays
    exactly constant.
    """
    return F.interpolate(state, size=size, mode="bilinear", align_corners=False).contiguous()


class ClampedAdam:
    """torch's Adam, then a clamp to [0, 1] after each step (as crowsonkb/style-transfer-pytorch).

    moments: a warm start, the last scale's state at this image's size (`moments_at`).
    """

    def __init__(self, image: torch.Tensor, lr: float, moments: dict[str, torch.Tensor] | None = None):
        self.image, self.adam = image, torch.optim.Adam([image], lr=lr)
        if moments:
            self.adam.state[image] = moments

    def moments_at(self, size: tuple[int, int]) -> dict[str, torch.Tensor] | None:
        """This optimizer's state resized to (H, W), for the next scale's warm start; None before
        the first step. The losses are means over positions, so a pixel's gradient scales as
        1/pixels: the first moment follows by that ratio, the second by its square."""
        old = self.adam.state.get(self.image)
        if not old:
            return None
        ratio = self.image[0, 0].numel() / (size[0] * size[1])
        return {
            "step": old["step"].clone(),
            "exp_avg": resize_state(old["exp_avg"], size).mul_(ratio),
            "exp_avg_sq": resize_state(old["exp_avg_sq"], size).mul_(ratio * ratio),
        }

    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:
        loss = self.adam.step(closure)
        with torch.no_grad():
            self.image.clamp_(0.0, 1.0)
        return loss


def make_optimizer(
    image: torch.Tensor, config: StyleConfig, *, history: int, moments: dict[str, torch.Tensor] | None = None
) -> Any:
    """The configured optimizer on `image`; Adam warm-starts from `moments` (the last scale's,
    ClampedAdam.moments_at).

    Both keep the image in [0, 1]. Differs from Gatys et al. 2015: the paper leaves pixels
    unconstrained. L-BFGS starts afresh at each scale: its curvature pairs belong to the old size.
    """
    if config.optimizer == "lbfgs":
        return LBFGS(image, lr=config.learning_rate, history=history)
    return ClampedAdam(image, config.learning_rate, moments)


class IterateAverage:
    """Exponential moving average of the iterates with Adam-style bias correction.

    avg_t = decay·avg_{t-1} + (1 - decay)·x_t from avg_0 = 0; `value` = avg_t / (1 - decay^t), so
    the first value is x_1 exactly and a constant sequence averages to itself. For images in [0, 1].
    """

    def __init__(self, decay: float):
        self.decay, self.count, self.average = decay, 0, None

    def update(self, x: torch.Tensor) -> None:
        if self.average is None:
            self.average = torch.zeros_like(x)
        self.count += 1
        self.average.mul_(self.decay).add_(x.detach(), alpha=1 - self.decay)

    @property
    def value(self) -> torch.Tensor:
        if self.average is None:
            raise ValueError("no iterate averaged yet")
        # Iterates in [0, 1] average into [0, 1]; the division can overshoot 1 by an ulp.
        return (self.average / (1 - self.decay**self.count)).clamp_(0, 1)
