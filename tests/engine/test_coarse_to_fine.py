"""Real coarse-to-fine runs: the scales, progress across them, the average, Adam's warm start."""

import pytest
import torch

from impasto import api
from impasto.config import StyleConfig
from impasto.engine import loop
from impasto.engine.loop import Progress

pytestmark = pytest.mark.slow


def _render(content_path, style_path, **options):
    seen: list[Progress] = []
    config = StyleConfig(size=128, start_size=64, iterations=6, scale_iterations=4, scale_decay=1.0, **options)
    image = api.render(api.prepare(content_path, [style_path], config=config), callback=seen.append)
    return image, seen


@pytest.mark.parametrize("optimizer, lr", [("lbfgs", 1.0), ("adam", 0.02)])
def test_a_run_over_three_scales_reports_every_scale_and_ends_at_the_target(content_path, style_path, optimizer, lr):
    image, seen = _render(content_path, style_path, optimizer=optimizer, learning_rate=lr, ema_decay=0.8)
    assert image.shape == (1, 3, 96, 128) and 0 <= image.min() and image.max() <= 1
    assert [p.step for p in seen] == list(range(1, 6 + 4 + 4 + 1)) and {p.total for p in seen} == {14}
    assert [(p.scale, p.width, p.height) for p in seen] == [(1, 64, 48)] * 6 + [(2, 91, 68)] * 4 + [(3, 128, 96)] * 4
    assert {p.scale_count for p in seen} == {3}
    done = [p.done for p in seen]
    assert done == sorted(done) and done[-1] == pytest.approx(1.0)
    assert all(p.image.shape[-2:] == (p.height, p.width) for p in seen)
    torch.testing.assert_close(seen[-1].image, image)  # the average is the result


def _recording_iterates(monkeypatch) -> list[torch.Tensor]:
    """Every iterate the optimizers make from now on, in order (a copy after each step)."""
    iterates: list[torch.Tensor] = []
    make = loop.make_optimizer

    def recording(image, *args, **kwargs):
        optimizer = make(image, *args, **kwargs)
        step = optimizer.step

        def recorded_step(closure):
            loss = step(closure)
            iterates.append(image.detach().clone())
            return loss

        optimizer.step = recorded_step
        return optimizer

    monkeypatch.setattr(loop, "make_optimizer", recording)
    return iterates


def test_average_off_returns_the_last_iterate(content_path, style_path, monkeypatch):
    iterates = _recording_iterates(monkeypatch)
    image, _ = _render(content_path, style_path, ema_decay=0.0)
    assert len(iterates) == 6 + 4 + 4
    torch.testing.assert_close(image, iterates[-1], rtol=0, atol=0)
    # On, the result is the bias-corrected average of the last scale's four iterates instead.
    iterates.clear()
    averaged, _ = _render(content_path, style_path, ema_decay=0.9)
    last = iterates[-4:]
    weights = [0.1 * 0.9 ** (len(last) - 1 - k) for k in range(len(last))]
    expected = sum(w * x for w, x in zip(weights, last)) / sum(weights)
    torch.testing.assert_close(averaged, expected, rtol=0, atol=1e-5)
    assert float((averaged - iterates[-1]).abs().mean()) > 1e-4  # the average is another image


# Measured in fp32 under ONEDNN_MAX_CPU_ISA=AVX2, AVX512_CORE and the default (AMD EPYC Zen 4,
# avx512_bf16, no AMX) x seeds 0, 1, 2: last / first loss 0.435, 0.784, 0.680 at scales 1, 2, 3, the
# same to 1e-6 everywhere (content init: the seed plays no part). Margin 0.116 on the worst. L-BFGS
# may step uphill and undo it (scale 2: 3.59, 3.36, 4.01, 2.81), so any fall at all proves little:
# at learning rate 0.05 (an optimizer that barely moves) every scale still falls, to 0.92, 0.98, 0.83.
FALL = 0.9


@pytest.mark.numeric
def test_loss_falls_at_each_scale(content_path, style_path):
    _, seen = _render(content_path, style_path, precision="fp32")
    for scale in (1, 2, 3):
        losses = [p.loss for p in seen if p.scale == scale]
        assert losses[-1] < FALL * losses[0], (scale, losses)


def test_adam_hands_on_its_moments_and_no_earlier_scale_stays_alive(content_path, style_path, monkeypatch):
    import gc
    import weakref

    from impasto.engine.optimizers import ClampedAdam

    made: list[weakref.ref] = []
    init = ClampedAdam.__init__

    def tracked(self, image, lr, moments=None):
        init(self, image, lr, moments)
        made.append((weakref.ref(self), moments is not None))

    monkeypatch.setattr(ClampedAdam, "__init__", tracked)
    alive: dict[int, int] = {}

    def count(p: Progress) -> None:
        gc.collect()
        alive.setdefault(p.scale, sum(ref() is not None for ref, _ in made))

    config = StyleConfig(
        size=128, start_size=64, iterations=3, scale_iterations=2, optimizer="adam", learning_rate=0.02
    )
    api.render(api.prepare(content_path, [style_path], config=config), callback=count)
    assert [warm for _, warm in made] == [False, True, True]  # each later scale starts from the last one's moments
    assert alive == {1: 1, 2: 1, 3: 1}  # the previous scale's optimizer (image, grad, moments) is gone
