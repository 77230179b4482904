import pytest
import torch

from impasto.nst import losses
from impasto.nst.losses import content_loss, gram_matrix, total_variation


def test_gram_matrix_known_values():
    # Two channels over two positions: F = [[1, 2], [3, 4]]; G = F Fᵀ / (C·H·W) = F Fᵀ / 4.
    features = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)
    expected = torch.tensor([[[5.0, 11.0], [11.0, 25.0]]]) / 4
    torch.testing.assert_close(gram_matrix(features), expected)


def test_gram_matrix_is_symmetric_and_layout_independent():
    features = torch.randn(2, 5, 7, 3)
    gram = gram_matrix(features)
    assert gram.shape == (2, 5, 5)
    torch.testing.assert_close(gram, gram.transpose(1, 2))
    torch.testing.assert_close(gram_matrix(features.contiguous(memory_format=torch.channels_last)), gram)


def test_gram_matrix_accumulates_low_precision_in_fp32():
    features = (3 + torch.randn(1, 4, 64, 64, generator=torch.Generator().manual_seed(0))).bfloat16()
    gram = gram_matrix(features)
    assert gram.dtype == torch.float32
    exact = gram_matrix(features.double())  # the same bf16 values, summed in float64
    # bf16 keeps 8 bits of mantissa: a sum, or even a result, rounded to it is off by up to 4e-3.
    assert float(((gram - exact).abs() / exact.abs()).max()) < 1e-5


def test_bf16_gram_summed_in_slabs_matches_float64(monkeypatch):
    # A slab of 64 elements over 8 channels is 8 rows: 100 positions take 13 slabs, the last one short.
    monkeypatch.setattr(losses, "_SLAB_ELEMENTS", 64)
    features = torch.randn(2, 8, 10, 10).bfloat16()
    expected = gram_matrix(features.double()).float()
    torch.testing.assert_close(gram_matrix(features), expected, rtol=1e-5, atol=1e-6)


def test_gram_matrix_gradcheck():
    features = torch.randn(1, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(gram_matrix, (features,))


def test_gram_matrix_rejects_wrong_rank():
    with pytest.raises(ValueError, match="gram_matrix expects"):
        gram_matrix(torch.randn(3, 4, 5))


def test_content_loss_is_mean_squared_difference():
    a, b = torch.zeros(1, 2, 2, 2), torch.full((1, 2, 2, 2), 3.0)
    assert content_loss(a, b).item() == pytest.approx(9.0)
    with pytest.raises(ValueError, match="differ in shape"):
        content_loss(a, torch.zeros(1, 2, 2, 3))


def test_content_loss_gradcheck():
    a = torch.randn(1, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(1, 2, 3, 3, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: content_loss(x, b), (a,))


def test_total_variation_known_values():
    flat = torch.full((1, 3, 4, 4), 0.5)
    assert total_variation(flat).item() == 0.0
    # A vertical edge: only horizontal differences, one column of 4 out of 3 columns of differences.
    edge = torch.zeros(1, 1, 4, 4)
    edge[..., 2:] = 1.0
    assert total_variation(edge).item() == pytest.approx(1 / 3)


def test_total_variation_gradcheck():
    image = torch.rand(1, 3, 5, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(total_variation, (image,))


@pytest.mark.numeric
@pytest.mark.bf16
def test_gram_backward_in_bf16_follows_fp32(seed, within):
    generator = torch.Generator().manual_seed(seed)
    features, upstream = torch.randn(1, 16, 12, 12, generator=generator), torch.randn(1, 16, 16, generator=generator)
    grads = []
    for dtype in (torch.float32, torch.bfloat16):
        x = features.to(dtype).detach().clone().requires_grad_(True)
        (gram_matrix(x) * upstream).sum().backward()
        grads.append(x.grad.float().flatten())
    # 0.999996 on avx512_bf16 and on avx512_core's emulation, 3 seeds each: 250x closer to 1.
    within("gradient cosine", torch.nn.functional.cosine_similarity(grads[0], grads[1], dim=0), ">", 0.999)


def test_weighted_moments_gradcheck_and_bf16_keeps_the_covariance():
    from impasto.nst.losses import weighted_moments

    generator = torch.Generator().manual_seed(0)
    features = torch.rand(1, 3, 4, 5, generator=generator, dtype=torch.float64, requires_grad=True)
    weight = torch.rand(1, 1, 4, 5, generator=generator, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda f: weighted_moments(f, weight, True), (features,))
    gram, mean = weighted_moments(features.detach(), weight, True)
    flat = features.detach().flatten(2)[0]  # (C, N)
    torch.testing.assert_close(gram[0], (flat * weight.flatten()) @ flat.T)
    torch.testing.assert_close(mean[0], (flat * weight.flatten()).sum(1))
    # Large positive features, as deep ReLU layers have: the covariance survives bf16 inputs,
    # because the weighting and the products are fp32 (a bf16 weighted copy breaks it).
    deep = (100 + torch.randn(1, 8, 16, 16, generator=generator)).to(torch.bfloat16)
    soft = torch.rand(1, 1, 16, 16, generator=generator)
    exact = [m.double() for m in weighted_moments(deep.double(), soft.double(), True)]
    fast = [m.double() for m in weighted_moments(deep, soft, True)]
    rounded = deep * soft.to(torch.bfloat16)  # what a bf16 weighted copy would sum
    naive = [(rounded.double().flatten(2) @ deep.double().flatten(2).transpose(1, 2)), rounded.double().sum((-2, -1))]
    mass = float(soft.sum())
    cov = [g / mass - (m / mass)[..., :, None] * (m / mass)[..., None, :] for g, m in (exact, fast, naive)]
    assert float((cov[1] - cov[0]).norm() / cov[0].norm()) < 1e-2  # fp32's own limit here: mean² / var = 1e4
    assert float((cov[2] - cov[0]).norm() / cov[0].norm()) > 0.5
