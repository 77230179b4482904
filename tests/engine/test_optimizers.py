import pytest
import torch

from impasto.config import StyleConfig
from impasto.engine.lbfgs import LBFGS
from impasto.engine.optimizers import ClampedAdam, IterateAverage, make_optimizer, resize_state


def test_average_is_bias_corrected():
    average = IterateAverage(0.9)
    x = torch.full((1, 3, 4, 4), 0.7)
    average.update(x)
    torch.testing.assert_close(average.value, x)  # the first value is the first iterate, not 0.07
    for _ in range(5):
        average.update(x)
    torch.testing.assert_close(average.value, x)  # a constant sequence averages to itself
    average.update(torch.zeros_like(x))
    # 7 updates: sum of weights 1 - 0.9^7; the last (zero) weighs 0.1.
    expected = 0.7 * (1 - 0.9**7 - 0.1) / (1 - 0.9**7)
    torch.testing.assert_close(average.value, torch.full_like(x, expected))


def test_average_before_any_update_is_an_error():
    with pytest.raises(ValueError, match="no iterate"):
        _ = IterateAverage(0.9).value


def test_resize_state_keeps_constants_and_signs():
    constant = torch.full((1, 3, 8, 12), 0.25)
    torch.testing.assert_close(resize_state(constant, (11, 17)), torch.full((1, 3, 11, 17), 0.25))
    squares = torch.rand(1, 3, 8, 12) ** 2
    bigger = resize_state(squares, (16, 24))
    assert bigger.shape == (1, 3, 16, 24) and bigger.min() >= 0 and bigger.is_contiguous()
    assert bigger.mean() == pytest.approx(squares.mean().item(), rel=0.05)


def test_adam_warm_start_carries_resized_moments_and_step():
    image = torch.rand(1, 3, 8, 8, requires_grad=True)
    first = ClampedAdam(image, 0.01)

    def closure():
        image.grad = torch.ones_like(image) * 0.5
        return image.sum()

    for _ in range(3):
        first.step(closure)
    bigger = torch.rand(1, 3, 16, 16, requires_grad=True)
    moments = first.moments_at((16, 16))
    second = make_optimizer(bigger, StyleConfig(optimizer="adam", learning_rate=0.01), history=1, moments=moments)
    assert first.moments_at((16, 16))["exp_avg"] is not moments["exp_avg"]  # a resized copy each time
    state = second.adam.state[bigger]
    assert float(state["step"]) == 3
    assert state["exp_avg"].shape == (1, 3, 16, 16)
    # 4x the pixels: a mean loss's gradient per pixel is 1/4, its square 1/16.
    old = first.adam.state[image]
    torch.testing.assert_close(state["exp_avg"], torch.full_like(bigger, float(old["exp_avg"][0, 0, 0, 0]) / 4))
    torch.testing.assert_close(state["exp_avg_sq"], torch.full_like(bigger, float(old["exp_avg_sq"][0, 0, 0, 0]) / 16))
    cold = make_optimizer(bigger, StyleConfig(optimizer="adam"), history=1)
    assert not cold.adam.state
    assert isinstance(make_optimizer(bigger, StyleConfig(), history=7), LBFGS)
    assert make_optimizer(bigger, StyleConfig(), history=7).history == 7
