"""nst/gatys.py, the paper's loss as it writes it, against known values and against the engine."""

import pytest
import torch

from impasto.config import StyleConfig
from impasto.engine.color_modes import fit_color_mode
from impasto.engine.criterion import criterion_for
from impasto.engine.style_targets import ScaleInputs, style_regions
from impasto.nst import gatys, losses
from impasto.nst.layers import channels, stride
from impasto.nst.vgg import load_vgg19
from impasto.presets import _GATYS_ALPHA_OVER_BETA, _GATYS_CONTENT_FACTOR


def paper_alpha_over_beta(config: StyleConfig, height: int, width: int) -> float:
    """The paper's α/β that the preset's weights amount to for an image of height x width px:
    content_weight/style_weight · 2/(N·M), N and M of the content layer (gatys.py's docstring)."""
    (layer,) = config.content_layers
    n, m = channels(layer), (height // stride(layer)) * (width // stride(layer))
    return config.content_weight / config.style_weight * 2 / (n * m)


def test_gram_and_losses_known_values():
    # F = [[1, 2], [3, 4]]: N = 2 channels over M = 2 positions; G = F·Fᵀ.
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)
    g = gatys.gram(f)
    torch.testing.assert_close(g, torch.tensor([[5.0, 11.0], [11.0, 25.0]]))
    # Σ G² = 25 + 121 + 121 + 625 = 892, over 4·N²·M² = 64.
    assert gatys.style_layer_loss(g, torch.zeros(2, 2), 2, 2).item() == 892 / 64
    assert gatys.content_loss(f, torch.zeros_like(f)).item() == 0.5 * (1 + 4 + 9 + 16)


def test_paper_sums_are_the_engine_means_times_their_factors():
    # The factors of losses.py's docstring: ½Σ(F−P)² = (N·M/2)·mean, E_l = (N²/4)·mean Gram loss.
    n, h, w = 6, 5, 7
    f, p, s = (torch.randn(1, n, h, w, dtype=torch.float64) for _ in range(3))
    torch.testing.assert_close(gatys.content_loss(f, p), n * h * w / 2 * losses.content_loss(f, p))
    engine = losses.style_layer_loss(losses.gram_matrix(f), losses.gram_matrix(s))
    torch.testing.assert_close(gatys.style_layer_loss(gatys.gram(f), gatys.gram(s), n, h * w), n**2 / 4 * engine)


def test_preset_is_the_papers_ratio_at_512_px():
    config = StyleConfig.preset("gatys2015")
    assert config.content_layers == (gatys.CONTENT_LAYER,) and config.style_layers == gatys.STYLE_LAYERS
    assert paper_alpha_over_beta(config, 512, 512) == pytest.approx(_GATYS_ALPHA_OVER_BETA, rel=1e-12)
    assert config.content_weight == _GATYS_ALPHA_OVER_BETA * _GATYS_CONTENT_FACTOR
    # w_l = 1/5 on E_l = (N_l²/4)·mean: N_l²/20 on each mean-normalized layer loss.
    assert config.layer_weights() == pytest.approx({k: channels(k) ** 2 / 4 / 5 for k in gatys.STYLE_LAYERS})


@pytest.mark.numeric
def test_engine_loss_and_gradient_are_the_papers(content_tensor, style_tensor):
    # The style at the content's size: eq. 4 has one M_l for G and A (the engine's are per position).
    height, width = min(content_tensor.shape[-2], style_tensor.shape[-2]), 64
    content, style = content_tensor[..., :height, :width], style_tensor[..., :height, :width]  # (1, 3, 48, 64)
    config = StyleConfig.preset("gatys2015", precision="fp32", device="cpu", start_size=None, size=max(height, width))
    model = load_vgg19(pooling=config.pooling)
    x = torch.rand(content.shape, generator=torch.Generator().manual_seed(0))  # (1, 3, H, W) in [0, 1]

    colors = fit_color_mode(content, [style], None, config)
    regions = style_regions(model, ScaleInputs(content, [style]), colors, config, torch.float32)
    criterion = criterion_for(model, content, regions, config, torch.float32)
    x_e = x.clone().requires_grad_(True)
    loss_e, terms = criterion.evaluate(x_e)

    # engine = K·(α·L_content + β·L_style) for α/β the preset's at this size and K = style_weight/β.
    beta = 1.0
    alpha, k = paper_alpha_over_beta(config, height, width) * beta, config.style_weight / beta
    p, a = gatys.targets(model, content, style)
    x_r = x.clone().requires_grad_(True)
    loss_r = gatys.total_loss(model, x_r, p, a, alpha=alpha, beta=beta)
    loss_r.backward()
    with torch.no_grad():  # the two terms, to check each one's factor
        features = model(x, gatys.LAYERS)
        content_r, style_r = gatys.content_loss(features[gatys.CONTENT_LAYER], p), gatys.style_loss(features, a)

    assert terms[2] == 0  # no total variation
    for engine, reference in ((terms[0], k * alpha * content_r), (terms[1], k * beta * style_r), (loss_e, k * loss_r)):
        assert abs(engine.item() / reference.item() - 1) < 1e-5
    assert ((x_e.grad - k * x_r.grad).norm() / x_e.grad.norm()).item() < 1e-5


@pytest.mark.slow
@pytest.mark.numeric
def test_stylize_lowers_the_papers_loss(content_tensor, style_tensor, within):
    # 48x48, both: relu5_1 still has 3x3 positions. The paper's average pooling.
    content, style = content_tensor[..., :48, :48], style_tensor[..., :48, :48]
    model = load_vgg19(pooling="avg")
    p, a = gatys.targets(model, content, style)
    result = gatys.stylize(model, content, style, alpha=1e-3, beta=1.0, steps=25, seed=1)
    assert result.shape == content.shape and torch.isfinite(result).all()
    noise = gatys.white_noise(tuple(content.shape), seed=1)  # where stylize started
    before = gatys.total_loss(model, noise, p, a, alpha=1e-3, beta=1.0).item()
    after = gatys.total_loss(model, result, p, a, alpha=1e-3, beta=1.0).item()
    within("after / before", after / before, "<", 0.5)
