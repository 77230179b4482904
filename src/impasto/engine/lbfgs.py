"""L-BFGS for one image tensor, kept inside the pixel box [0, 1], one loss evaluation per step.

Reference: Nocedal & Wright, "Numerical Optimization", algorithm 7.4 (two-loop recursion), the
optimizer Gatys et al. (arXiv 1508.06576) use. We write it ourselves rather than use
`torch.optim.LBFGS` because:

- the image must stay in [0, 1]. Clamping after a torch.optim.LBFGS step leaves its curvature
  pairs describing a move that never happened; here each pair uses the actual, projected move;
- torch.optim.LBFGS without line search diverged on our losses within 5 steps (1e8 -> 1e10), and
  its strong-Wolfe search spends a variable number of evaluations per step. Here a step whose loss
  went up is undone halfway (a backtracking step) and costs exactly one evaluation, as every step;
- it works on tensors of any shape and memory layout, with no flat views.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


class LBFGS:
    """Projected L-BFGS on `image` (modified in place). `step(closure)` evaluates once and moves.

    closure() must zero and fill `image.grad` and return the loss (a scalar tensor).
    history: curvature pairs kept (memory is 2·history image copies).
    initial_step: the largest pixel change of the first, steepest-descent step (pixel units).
    """

    def __init__(
        self,
        image: torch.Tensor,
        *,
        history: int = 20,
        lr: float = 1.0,
        initial_step: float = 0.02,
        bounds: tuple[float, float] = (0.0, 1.0),
    ):
        self.image, self.history, self.lr = image, history, lr
        self.initial_step, self.bounds = initial_step, bounds
        self.pairs: list[tuple[torch.Tensor, torch.Tensor, float]] = []  # (s, y, 1 / y·s)
        self.prev: tuple[torch.Tensor, torch.Tensor, float] | None = None  # (x, g, loss) last accepted
        self.rejected = 0  # backtracking steps taken, in all
        self._rejected_in_a_row = 0
        self._uphill = torch.zeros((), device=image.device)  # 1 when the last direction was not downhill

    def _steepest(self, grad: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
        """-grad scaled so that its largest pixel change is `initial_step`, but no longer than the
        Polyak step loss / |grad|²: every loss here is >= 0, and a longer move would take the loss's
        linear model below zero. That cap binds only at a loss near its floor, where the gradient
        is rounding (fp32 tiles that blend one feature two ways): a full step there is noise."""
        scale = -self.initial_step / grad.abs().max().clamp_min(1e-12)
        polyak = -loss.to(grad.dtype) / grad.pow(2).sum().clamp_min(1e-30)
        return grad * torch.maximum(scale, polyak)  # both <= 0: the shorter move

    def _direction(self, grad: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
        """-H·grad by the two-loop recursion, H0 = (s·y / y·y)·I from the newest pair.

        The scalars stay on the device (0-dim tensors), so the recursion never waits for the GPU.
        """
        if not self.pairs:
            return self._steepest(grad, loss)
        q = grad.clone()
        alphas = []
        for s, y, rho in reversed(self.pairs):
            alpha = rho * torch.vdot(s.flatten(), q.flatten())
            q.addcmul_(y, alpha, value=-1.0)
            alphas.append(alpha)
        s, y, rho = self.pairs[-1]
        q.mul_(1.0 / (rho * torch.vdot(y.flatten(), y.flatten())))  # H0 = s·y / y·y
        for (s, y, rho), alpha in zip(self.pairs, reversed(alphas)):
            beta = rho * torch.vdot(y.flatten(), q.flatten())
            q.addcmul_(s, alpha - beta)
        return q.neg_()

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:
        with torch.enable_grad():
            loss = closure()
        x = self.image
        grad = x.grad.detach().clone(memory_format=torch.contiguous_format)
        # Every scalar this step decides on is read in one device sync.
        scalars = [loss.detach().reshape(())]  # stack promotes: a float64 loss stays float64
        if self.prev is not None:
            prev_x, prev_g, prev_loss = self.prev
            s, y = x - prev_x, grad - prev_g
            scalars += [torch.vdot(s.flatten(), y.flatten()), s.norm() * y.norm(), self._uphill]
        value, *curvature = torch.stack(scalars).tolist()
        if self.prev is not None:
            sy, norms, uphill = curvature
            if uphill:  # the last direction was not downhill: the curvature model misleads
                self.pairs.clear()
            if not value <= prev_loss:  # went up (or NaN): undo half of the move, as backtracking
                x.copy_(prev_x.lerp(x, 0.5))
                self.rejected += 1
                self._rejected_in_a_row += 1
                if self._rejected_in_a_row >= 2:  # the curvature model misleads: start afresh
                    self.pairs.clear()
                return loss
            self._rejected_in_a_row = 0
            if sy > 1e-10 * norms:  # keep H positive definite
                self.pairs.append((s, y, 1.0 / sy))
                del self.pairs[: -self.history]
        floor = loss.detach()  # the Polyak cap of a steepest step (_steepest)
        direction = self._direction(grad, floor)
        # Not downhill: take steepest descent now (no sync) and drop the pairs at the next step.
        slope = torch.vdot(direction.flatten(), grad.flatten())
        direction = torch.where(slope < 0, direction, self._steepest(grad, floor))
        self._uphill = (~(slope < 0)).float()  # NaN counts as not downhill
        self.prev = (x.clone(), grad, value)
        x.add_(direction, alpha=self.lr).clamp_(*self.bounds)
        return loss
