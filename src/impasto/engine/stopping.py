"""When a scale has converged: the one stopping rule of the engine. Pure, no tensors.

A scale stops before its step budget once its loss has settled: the best loss of the last `window`
steps improves on the best loss before them by less than `tolerance` of its value, and never
before `minimum` steps (nor past the budget, which the loop enforces). The best loss, not the last
one: an L-BFGS step that went uphill is undone at the next step and must not count as settling.

Differs from Gatys et al. 2015, which runs a fixed number of iterations. The batch engine's
checkpoints carry the losses so far (`StopRule.settled` needs nothing else), and video frames stop
by the same rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..config import StyleConfig


@dataclass(frozen=True)
class StopRule:
    """Stop once the loss improved by less than `tolerance` (relative) over `window` steps, after
    at least `minimum` steps. tolerance 0: never early."""

    tolerance: float = 0.0
    window: int = 20
    minimum: int = 0

    @classmethod
    def of(cls, config: StyleConfig, budget: int) -> StopRule:
        """The rule of a scale of `budget` steps: the minimum never exceeds the budget."""
        return cls(config.stop_tolerance, config.stop_window, min(config.min_iterations, budget))

    def bests(self, losses: Sequence[float]) -> tuple[float, float] | None:
        """(best loss before the last `window` steps, best loss within them); None before a full
        window has a step before it."""
        if len(losses) <= self.window:
            return None
        return min(losses[: -self.window]), min(losses[-self.window :])

    def settled(self, losses: Sequence[float]) -> bool:
        """True when a scale that took these losses (one per step, in order) may stop now."""
        if not self.tolerance or len(losses) < self.minimum:
            return False
        bests = self.bests(losses)
        return bests is not None and bests[0] - bests[1] <= self.tolerance * abs(bests[1])
