"""The stopping rule (engine/stopping.py) alone, and in the loop: settled, minimum, budget."""

import pytest

from impasto.config import StyleConfig
from impasto.engine.stopping import StopRule


def _settling(steps: int, floor: float = 10.0) -> list[float]:
    """A loss that falls fast, then creeps towards `floor`: 1000, 500, 250, ..."""
    return [floor + 1000.0 / 2**k for k in range(steps)]


def test_stops_once_the_best_loss_improves_by_less_than_the_tolerance_over_the_window():
    rule = StopRule(tolerance=1e-3, window=5, minimum=0)
    losses = _settling(40)
    stops = [n for n in range(1, 41) if rule.settled(losses[:n])]
    first = stops[0]
    # Settled: over the last 5 steps the best loss improved by less than 0.1 % of its value...
    assert losses[first - 6] - losses[first - 1] <= 1e-3 * losses[first - 1]
    # ... and one step earlier it had not.
    assert losses[first - 7] - losses[first - 2] > 1e-3 * losses[first - 2]
    assert 10 < first < 30


def test_never_before_its_minimum_nor_before_a_full_window():
    flat = [5.0] * 100
    assert not StopRule(1e-3, window=10, minimum=50).settled(flat[:49])
    assert StopRule(1e-3, window=10, minimum=50).settled(flat[:50])
    assert not StopRule(1e-3, window=10, minimum=0).settled(flat[:10])  # no step before the window yet
    assert StopRule(1e-3, window=10, minimum=0).settled(flat[:11])


def test_tolerance_zero_never_stops_and_uphill_steps_do_not_count_as_settling():
    assert not StopRule(0.0, window=5).settled([1.0] * 100)
    # An uphill (undone) step leaves the best loss where it was: still improving fast.
    losses = [100.0, 90.0, 80.0, 70.0, 60.0, 50.0, 400.0, 40.0, 30.0, 20.0, 10.0, 300.0]
    assert not StopRule(0.01, window=5).settled(losses)


def test_the_rule_of_a_scale_caps_its_minimum_at_the_budget():
    config = StyleConfig(stop_tolerance=0.01, stop_window=7, min_iterations=100)
    assert StopRule.of(config, 40) == StopRule(0.01, 7, 40)
    assert StopRule.of(config, 400) == StopRule(0.01, 7, 100)


@pytest.mark.parametrize("tolerance", [0.0, 0.5])
def test_the_loop_stops_at_the_rule_and_never_past_the_budget(content_tensor, style_tensor, vgg, tolerance):
    from impasto.engine.loop import optimize_image

    config = StyleConfig(
        size=64, iterations=30, stop_tolerance=tolerance, stop_window=3, min_iterations=8, precision="fp32"
    )
    seen = []
    optimize_image(content_tensor, [style_tensor], vgg, config, callback=seen.append)
    if tolerance == 0:
        assert len(seen) == 30 and seen[-1].total == 30
        return
    losses = [p.loss for p in seen]
    rule = StopRule(tolerance, 3, 8)
    # It stopped at the first step where the rule holds, which is never before the minimum.
    assert 8 <= len(seen) < 30 and rule.settled(losses)
    assert not any(rule.settled(losses[:n]) for n in range(1, len(losses)))
    # The run's total shrinks to the steps taken, so progress ends at 100 %.
    assert seen[-1].step == seen[-1].total == len(seen) and seen[-1].done == pytest.approx(1.0)
