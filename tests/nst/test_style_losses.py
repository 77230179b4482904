"""The two style losses (nst/style_losses.py): Gram and Gaussian W2, their targets and blends."""

import pytest
import torch

from impasto.nst.losses import gram_matrix, layer_moments, style_layer_loss
from impasto.nst.style_losses import STYLE_LOSSES
from impasto.nst.wasserstein import w2_distance


def test_gram_kind_is_the_mean_squared_gram_difference():
    kind = STYLE_LOSSES["gram"]
    f, t = torch.randn(1, 3, 4, 4), torch.randn(1, 3, 3)
    assert not kind.needs_mean and layer_moments(f).mean is None
    torch.testing.assert_close(kind.layer_loss(layer_moments(f), t), style_layer_loss(gram_matrix(f), t))


def test_gram_kind_is_zero_at_its_target_and_has_the_right_gradient():
    kind = STYLE_LOSSES["gram"]
    features = torch.randn(1, 4, 5, 5, dtype=torch.float64, requires_grad=True)
    target = kind.target([layer_moments(features.detach())], [1.0])
    assert kind.layer_loss(layer_moments(features), target).item() == pytest.approx(0.0)
    other = kind.target([layer_moments(torch.randn(1, 4, 5, 5, dtype=torch.float64))], [1.0])
    assert torch.autograd.gradcheck(lambda f: kind.layer_loss(layer_moments(f), other), (features,))


def test_gram_targets_blend_by_normalized_weights_and_one_zero_is_exact():
    kind = STYLE_LOSSES["gram"]
    a, b = layer_moments(torch.randn(1, 3, 4, 4)), layer_moments(torch.randn(1, 3, 4, 4))
    assert torch.equal(kind.target([a, b], [1.0, 0.0]), a.gram)
    torch.testing.assert_close(kind.target([a, b], [2.0, 2.0]), (a.gram + b.gram) / 2)
    with pytest.raises(ValueError, match="blend weights"):
        kind.target([a, b], [1.0])
    with pytest.raises(ValueError, match="positive sum"):
        kind.target([a, b], [0.0, 0.0])


def test_wasserstein_kind_blends_in_moment_space_and_measures_w2():
    kind = STYLE_LOSSES["wasserstein"]
    generator = torch.Generator().manual_seed(0)
    f = torch.rand(1, 6, 8, 8, generator=generator, dtype=torch.float64)
    g = torch.rand(1, 6, 8, 8, generator=generator, dtype=torch.float64) * 2 + 1
    a, b = layer_moments(f, need_mean=True), layer_moments(g, need_mean=True)
    assert kind.needs_mean and a.mean.shape == (1, 6)
    torch.testing.assert_close(a.mean, f.mean((-2, -1)))
    # Blending two styles equally is the moments of their pooled features, not a mix of covariances.
    pooled = layer_moments(torch.cat([f, g], dim=-1), need_mean=True)
    blended = kind.target([a, b], [1.0, 1.0])
    torch.testing.assert_close(blended.mean, pooled.mean)
    torch.testing.assert_close(kind.target([pooled], [1.0]).cov, blended.cov)
    assert kind.layer_loss(a, kind.target([a], [1.0])).item() == pytest.approx(0.0, abs=1e-6)
    # Far apart: about the plain W2² between the two Gaussians, per channel (the ridge is small).
    cov = lambda m: m.gram * 6 - m.mean[..., :, None] * m.mean[..., None, :]
    exact = float(w2_distance(a.mean, cov(a), b.mean, cov(b))) / 6
    assert kind.layer_loss(a, kind.target([b], [1.0])).item() == pytest.approx(exact, rel=0.05)
