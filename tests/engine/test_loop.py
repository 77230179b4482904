"""The optimization loop (engine/loop.py): its starting points, and small real runs with the real
VGG19 weights at 64 px."""

import pytest
import torch

from impasto.config import StyleConfig
from impasto.engine.loop import NonFiniteLossError, Progress, initial_image, optimize_image


def _run(content, styles, vgg, **overrides):
    # The subtle preset: absolute losses and no early stop, so the loss falls far below its start
    # (the default's relative losses settle at a balance near their start's scale). fp32: the same
    # arithmetic on every CPU (docs/testing.md).
    config = StyleConfig.preset("subtle", size=64, **{"iterations": 30, "precision": "fp32", **overrides})
    seen: list[Progress] = []
    image = optimize_image(content, styles, vgg, config, callback=seen.append)
    return image, seen


@pytest.mark.slow
@pytest.mark.numeric
@pytest.mark.parametrize("optimizer, lr", [("lbfgs", 1.0), ("adam", 0.05)])
def test_loss_falls_below_a_fifth_of_its_start(content_tensor, style_tensor, vgg, optimizer, lr, within):
    image, seen = _run(
        content_tensor,
        [style_tensor],
        vgg,
        optimizer=optimizer,
        learning_rate=lr,
        iterations=40 if optimizer == "lbfgs" else 80,
    )
    assert [p.step for p in seen] == list(range(1, len(seen) + 1)) and seen[-1].total == len(seen)
    within("last / first loss", seen[-1].loss / seen[0].loss, "<", 0.2)
    assert image.shape == content_tensor.shape and image.min() >= 0 and image.max() <= 1
    assert seen[-1].elapsed >= seen[0].elapsed > 0
    assert seen[-1].loss == pytest.approx(seen[-1].content_loss + seen[-1].style_loss + seen[-1].tv_loss)


@pytest.mark.slow
@pytest.mark.numeric
def test_noise_init_from_paper_preset_also_converges(content_tensor, style_tensor, within):
    from impasto.nst.vgg import load_vgg19

    config = StyleConfig.preset("gatys2015", size=64, iterations=40, precision="fp32")
    seen: list[Progress] = []
    optimize_image(content_tensor, [style_tensor], load_vgg19(pooling="avg"), config, callback=seen.append)
    within("last / first loss", seen[-1].loss / seen[0].loss, "<", 0.2)


@pytest.mark.slow
@pytest.mark.numeric
def test_seeded_runs_are_deterministic(content_tensor, style_tensor, vgg):
    a, _ = _run(content_tensor, [style_tensor], vgg, init="noise", seed=3, iterations=10)
    b, _ = _run(content_tensor, [style_tensor], vgg, init="noise", seed=3, iterations=10)
    assert torch.equal(a, b)


def test_noise_init_depends_on_the_seed(content_tensor):
    a = initial_image(content_tensor, "noise", 1)
    assert torch.equal(a, initial_image(content_tensor, "noise", 1))
    assert not torch.equal(a, initial_image(content_tensor, "noise", 2))
    assert a.min() >= 0 and a.max() <= 1 and a.shape == content_tensor.shape


def test_init_from_content_and_from_an_image(content_tensor, style_tensor):
    assert torch.equal(initial_image(content_tensor, "content", 0), content_tensor)
    assert style_tensor.shape[-2:] != content_tensor.shape[-2:]
    other = initial_image(content_tensor, style_tensor, 0)  # resized to the content's size
    assert other.shape == content_tensor.shape and other.is_contiguous()
    squeezed = torch.nn.functional.interpolate(style_tensor, size=content_tensor.shape[-2:], mode="area")
    assert float((other - squeezed).abs().mean()) < 0.02  # the image itself, squeezed, not cropped
    assert float((other - content_tensor).abs().mean()) > 0.1
    with pytest.raises(ValueError, match="init must be"):
        initial_image(content_tensor, "banana", 0)


@pytest.mark.slow
def test_blend_weights_one_zero_equal_a_single_style_run(content_tensor, style_tensor, vgg):
    other_style = torch.rand_like(style_tensor)
    single, _ = _run(content_tensor, [style_tensor], vgg, iterations=8)
    blended, _ = _run(content_tensor, [style_tensor, other_style], vgg, iterations=8, style_blend_weights=(1.0, 0.0))
    assert torch.equal(single, blended)
    mixed, _ = _run(content_tensor, [style_tensor, other_style], vgg, iterations=8, style_blend_weights=(1.0, 1.0))
    assert not torch.equal(single, mixed)


def test_a_nan_loss_stops_the_run_with_a_clear_error(content_tensor, style_tensor, vgg):
    broken = style_tensor.clone()
    broken[..., 0, 0] = float("nan")
    with pytest.raises(NonFiniteLossError, match="loss became nan at step 1"):
        _run(content_tensor, [broken], vgg, iterations=3)


def test_zero_iterations_return_the_start(content_tensor, style_tensor, vgg):
    image, seen = _run(content_tensor, [style_tensor], vgg, iterations=0)
    assert seen == [] and torch.equal(image, content_tensor)


def test_every_init_mode_of_the_config_has_an_initializer(content_tensor):
    from impasto.config import INIT_MODES

    for mode in INIT_MODES:
        image = initial_image(content_tensor, mode, 0)
        assert image.shape == content_tensor.shape and 0 <= image.min() and image.max() <= 1


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_each_iteration_is_exactly_one_evaluation(content_tensor, style_tensor, vgg, optimizer):
    evaluations = []

    def counting(image, layers, **kwargs):
        evaluations.append(image.requires_grad)  # targets are computed without grad
        return vgg(image, layers, **kwargs)

    config = StyleConfig(size=64, iterations=7, optimizer=optimizer, learning_rate=0.02 if optimizer == "adam" else 1)
    optimize_image(content_tensor, [style_tensor], counting, config)
    assert evaluations.count(True) == 7 and evaluations.count(False) == 2  # content and style targets
