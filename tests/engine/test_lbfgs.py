import torch

from impasto.engine.lbfgs import LBFGS


def _quadratic(x, scales, target):
    return (scales * (x - target).pow(2)).sum()


def _run(x, loss_fn, steps, **kwargs):
    optimizer = LBFGS(x, **kwargs)
    losses = []

    def closure():
        x.grad = None
        loss = loss_fn(x)
        loss.backward()
        return loss.detach()

    for _ in range(steps):
        losses.append(optimizer.step(closure).item())
    return optimizer, losses


def test_minimizes_an_ill_conditioned_quadratic_inside_the_box():
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(1, 3, 8, 8, generator=generator) * 0.8 + 0.1
    scales = torch.logspace(0, 2, target.numel()).view_as(target)  # condition number 100
    x = torch.full_like(target, 0.5).requires_grad_(True)
    _, losses = _run(x, lambda v: _quadratic(v, scales, target), 60)
    assert losses[-1] < 1e-8 * losses[0]
    torch.testing.assert_close(x.detach(), target, atol=1e-3, rtol=0)


def test_the_box_holds_and_the_bound_minimum_is_found():
    target = torch.tensor([-0.5, 0.3, 1.7, 0.9]).view(1, 1, 2, 2)
    x = torch.full_like(target, 0.5).requires_grad_(True)
    _run(x, lambda v: _quadratic(v, torch.ones_like(v), target), 40)
    assert x.min() >= 0 and x.max() <= 1
    torch.testing.assert_close(x.detach(), target.clamp(0, 1), atol=1e-4, rtol=0)


def test_a_step_that_raises_the_loss_is_undone_halfway():
    target = torch.full((1, 1, 4, 4), 0.3)
    x = torch.zeros_like(target).requires_grad_(True)
    # A huge step scale overshoots; backtracking must still make the loss fall overall.
    optimizer, losses = _run(x, lambda v: _quadratic(v, torch.ones_like(v), target), 30, lr=5.0)
    assert optimizer.rejected > 0
    assert losses[-1] < 1e-2 * losses[0]


def test_history_is_bounded():
    target = torch.rand(1, 3, 4, 4)
    x = torch.zeros_like(target).requires_grad_(True)
    scales = torch.logspace(0, 2, target.numel()).view_as(target)
    optimizer, _ = _run(x, lambda v: _quadratic(v, scales, target), 20, history=3)
    assert 0 < len(optimizer.pairs) <= 3


def test_a_gradient_of_rounding_noise_at_a_zero_loss_floor_moves_nothing_noticeable():
    # A loss of 1e-17 (a fit reached up to fp32's last bits) with a gradient to match: the
    # steepest step normalised to initial_step would move pixels by 0.02; the Polyak cap by ~1e-8.
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(1, 3, 16, 16, generator=generator)
    image = (target + 1e-9 * torch.randn(target.shape, generator=generator)).clamp(0, 1).requires_grad_(True)
    start = image.detach().clone()
    optimizer = LBFGS(image, history=5)

    def closure() -> torch.Tensor:
        image.grad = None
        loss = ((image - target) ** 2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    assert float((image.detach() - start).abs().max()) < 1e-6
