import pytest
import torch

from impasto import losses
from impasto.losses import (
    blend_grams,
    content_loss,
    gram_matrix,
    style_layer_loss,
    style_loss,
    style_loss_of_grams,
    total_variation,
)


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
    features = torch.randn(1, 4, 8, 8).bfloat16()
    assert gram_matrix(features).dtype == torch.float32


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


def test_style_loss_weights_layers_and_skips_zero_weights():
    f1, f2 = torch.randn(1, 3, 4, 4), torch.randn(1, 5, 2, 2)
    t1, t2 = torch.randn(1, 3, 3), torch.randn(1, 5, 5)
    features, targets = {"a": f1, "b": f2}, {"a": t1, "b": t2}
    l1 = style_layer_loss(gram_matrix(f1), t1)
    l2 = style_layer_loss(gram_matrix(f2), t2)
    torch.testing.assert_close(style_loss(features, targets, {"a": 2.0, "b": 0.5}), 2 * l1 + 0.5 * l2)
    torch.testing.assert_close(style_loss(features, targets, {"a": 1.0, "b": 0.0}), l1)
    with pytest.raises(ValueError, match="no features"):
        style_loss({"a": f1}, targets, {"a": 1.0, "b": 1.0})
    with pytest.raises(ValueError, match="no Gram matrix or no target"):
        style_loss(features, {"a": t1}, {"a": 1.0, "b": 1.0})
    grams = {"a": gram_matrix(f1), "b": gram_matrix(f2)}
    torch.testing.assert_close(style_loss_of_grams(grams, targets, {"a": 2.0, "b": 0.5}), 2 * l1 + 0.5 * l2)


def test_style_loss_is_zero_at_the_target_and_has_the_right_gradient():
    features = torch.randn(1, 4, 5, 5, dtype=torch.float64, requires_grad=True)
    targets = {"x": gram_matrix(features.detach())}
    assert style_loss({"x": features}, targets, {"x": 1.0}).item() == pytest.approx(0.0)
    other = {"x": gram_matrix(torch.randn(1, 4, 5, 5, dtype=torch.float64))}
    assert torch.autograd.gradcheck(lambda f: style_loss({"x": f}, other, {"x": 3.0}), (features,))


def test_blend_grams_normalizes_weights_and_one_zero_is_exact():
    a = {"l": torch.randn(1, 3, 3)}
    b = {"l": torch.randn(1, 3, 3)}
    assert torch.equal(blend_grams([a, b], [1.0, 0.0])["l"], a["l"])
    torch.testing.assert_close(blend_grams([a, b], [2.0, 2.0])["l"], (a["l"] + b["l"]) / 2)
    with pytest.raises(ValueError, match="blend weights"):
        blend_grams([a, b], [1.0])
    with pytest.raises(ValueError, match="positive sum"):
        blend_grams([a, b], [0.0, 0.0])


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


def test_gram_backward_in_bf16_follows_fp32():
    features = torch.randn(1, 16, 12, 12)
    upstream = torch.randn(1, 16, 16)
    grads = []
    for dtype in (torch.float32, torch.bfloat16):
        x = features.to(dtype).detach().clone().requires_grad_(True)
        (gram_matrix(x) * upstream).sum().backward()
        grads.append(x.grad.float().flatten())
    assert torch.nn.functional.cosine_similarity(grads[0], grads[1], dim=0) > 0.999
