from typing import get_args

import pytest
import torch

from impasto.config import ColorTransfer
from impasto.nst import color
from impasto.nst.color import (
    COLOR_TRANSFER_MODES,
    ColorMap,
    color_transfer,
    luminance,
    match_luminance,
    rgb_to_yiq,
    with_chroma,
    yiq_to_rgb,
)


def pixel_stats(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (3,) and population covariance (3, 3) in float64, computed independently of color.py."""
    pixels = image.double().movedim(1, -1).reshape(-1, 3)
    return pixels.mean(dim=0), torch.cov(pixels.T, correction=0)


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return ((actual - expected).norm() / expected.norm()).item()


@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float64, 1e-6), (torch.float32, 1e-5)])
def test_yiq_round_trip(content_tensor, dtype, tolerance):
    image = content_tensor.to(dtype)
    yiq = rgb_to_yiq(image)
    assert yiq.shape == image.shape and yiq.dtype == dtype
    assert (yiq_to_rgb(yiq) - image).abs().max().item() < tolerance
    assert (rgb_to_yiq(yiq_to_rgb(yiq)) - yiq).abs().max().item() < tolerance


def test_yiq_known_values():
    # Grey has Y equal to its value and no chroma; pure red has the matrix's first column.
    grey = torch.tensor([0.0, 0.25, 0.5, 1.0], dtype=torch.float64).view(4, 1, 1, 1).expand(4, 3, 2, 2)
    yiq = rgb_to_yiq(grey)
    torch.testing.assert_close(yiq[:, :1], grey[:, :1], rtol=0, atol=1e-12)
    torch.testing.assert_close(yiq[:, 1:], torch.zeros_like(yiq[:, 1:]), rtol=0, atol=1e-12)
    torch.testing.assert_close(luminance(grey), grey[:, :1], rtol=0, atol=1e-12)
    red = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64).view(1, 3, 1, 1)
    torch.testing.assert_close(rgb_to_yiq(red).flatten(), torch.tensor([0.299, 0.5959, 0.2115], dtype=torch.float64))


def test_luminance_is_the_y_channel(content_tensor):
    y = luminance(content_tensor)
    assert y.shape == (1, 1, *content_tensor.shape[2:])
    torch.testing.assert_close(y, rgb_to_yiq(content_tensor)[:, :1])
    assert 0.0 <= y.min().item() and y.max().item() <= 1.0


def test_yiq_gradcheck():
    image = torch.rand(1, 3, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(rgb_to_yiq, (image,))
    assert torch.autograd.gradcheck(yiq_to_rgb, (image,))


def test_yiq_constants_usable_with_autograd_after_inference_mode():
    # The first call, in inference mode, builds the cached matrices; they must not be inference tensors.
    color._yiq_matrices.cache_clear()
    with torch.inference_mode():
        rgb_to_yiq(torch.rand(1, 3, 2, 2, dtype=torch.float64))
    image = torch.rand(1, 3, 2, 2, dtype=torch.float64, requires_grad=True)
    yiq_to_rgb(rgb_to_yiq(image)).sum().backward()
    torch.testing.assert_close(image.grad, torch.ones_like(image))


def test_match_luminance_matches_mean_and_std(content_tensor, style_tensor):
    style_y, content_y = luminance(style_tensor).double(), luminance(content_tensor).double()
    gain, offset = match_luminance(style_y, content_y)
    assert isinstance(gain, float) and isinstance(offset, float)
    matched = style_y * gain + offset
    assert matched.mean().item() == pytest.approx(content_y.mean().item(), rel=1e-5)
    assert matched.std(correction=0).item() == pytest.approx(content_y.std(correction=0).item(), rel=1e-5)
    # Matching a luminance to itself is the identity.
    assert match_luminance(content_y, content_y) == pytest.approx((1.0, 0.0), abs=1e-12)


def test_match_luminance_of_flat_style_is_finite(content_tensor):
    content_y = luminance(content_tensor)
    gain, offset = match_luminance(torch.full((1, 1, 8, 8), 0.3), content_y)
    assert gain == 0.0
    assert offset == pytest.approx(content_y.double().mean().item())
    # A flat content: gain 0 too, and the style becomes that flat value.
    assert match_luminance(content_y, torch.full((1, 1, 8, 8), 0.7)) == pytest.approx((0.0, 0.7))


def test_with_chroma_keeps_luma_and_chroma(content_tensor, style_tensor):
    content = content_tensor.double()
    luma = torch.rand(1, 1, *content.shape[2:], dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out = with_chroma(luma, content)
    assert out.shape == content.shape and out.dtype == torch.float64
    assert out.min().item() >= 0.0 and out.max().item() <= 1.0
    # Where nothing was clamped, Y is the new luma and I, Q are the content's.
    unclamped = ((out > 0) & (out < 1)).all(dim=1, keepdim=True)  # (1, 1, H, W)
    assert unclamped.float().mean().item() > 0.5  # the comparison below covers most pixels
    yiq, expected = rgb_to_yiq(out), rgb_to_yiq(content)
    torch.testing.assert_close(yiq[:, :1][unclamped], luma[unclamped], rtol=0, atol=1e-12)
    for channel in (1, 2):
        torch.testing.assert_close(
            yiq[:, channel : channel + 1][unclamped], expected[:, channel : channel + 1][unclamped]
        )
    # The content's own luminance gives the content back.
    torch.testing.assert_close(with_chroma(luminance(content), content), content, rtol=0, atol=1e-12)


def test_with_chroma_broadcasts_one_chroma_source_and_checks_shapes(content_tensor):
    luma = luminance(content_tensor).expand(2, -1, -1, -1)
    assert with_chroma(luma, content_tensor).shape == (2, 3, *content_tensor.shape[2:])
    with pytest.raises(ValueError, match="do not match"):
        with_chroma(luma[..., :-1], content_tensor)
    with pytest.raises(ValueError, match=r"luma must be \(B, 1, H, W\)"):
        with_chroma(content_tensor, content_tensor)


def test_with_chroma_gradcheck():
    # Values well inside the gamut, so the clamp is inactive.
    chroma_source = 0.4 + 0.2 * torch.rand(1, 3, 3, 3, dtype=torch.float64)
    luma = (0.4 + 0.2 * torch.rand(1, 1, 3, 3, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(with_chroma, (luma, chroma_source))


@pytest.mark.parametrize("mode", COLOR_TRANSFER_MODES)
def test_color_transfer_matches_mean_and_covariance_float64(content_tensor, style_tensor, mode):
    style, content = style_tensor.double(), content_tensor.double()
    color_map = color_transfer(style, content, mode=mode)
    assert color_map.matrix.shape == (3, 3) and color_map.bias.shape == (3,)
    assert color_map.matrix.dtype == torch.float64
    mapped_mean, mapped_cov = pixel_stats(color_map.apply(style))
    content_mean, content_cov = pixel_stats(content)
    assert relative_error(mapped_mean, content_mean) < 1e-6
    assert relative_error(mapped_cov, content_cov) < 1e-6
    # The style really was different, so the test above is not vacuous.
    assert relative_error(pixel_stats(style)[1], content_cov) > 0.1


@pytest.mark.parametrize("mode", COLOR_TRANSFER_MODES)
def test_color_transfer_matches_in_float32(content_tensor, style_tensor, mode):
    color_map = color_transfer(style_tensor, content_tensor, mode=mode)
    assert color_map.matrix.dtype == torch.float32 and color_map.bias.dtype == torch.float32
    mapped = color_map.apply(style_tensor)
    assert mapped.dtype == torch.float32
    mapped_mean, mapped_cov = pixel_stats(mapped)
    content_mean, content_cov = pixel_stats(content_tensor)
    assert relative_error(mapped_mean, content_mean) < 1e-5
    assert relative_error(mapped_cov, content_cov) < 1e-5


def test_color_transfer_modes_have_their_structure(content_tensor, style_tensor):
    style, content = style_tensor.double(), content_tensor.double()
    symmetric = color_transfer(style, content, mode="symmetric").matrix
    torch.testing.assert_close(symmetric, symmetric.T, rtol=0, atol=1e-12)
    assert torch.linalg.eigvalsh(symmetric).min().item() > 0
    cholesky = color_transfer(style, content, mode="cholesky").matrix
    source_l = torch.linalg.cholesky(pixel_stats(style)[1])
    product = cholesky @ source_l  # = L_r
    assert product.triu(diagonal=1).abs().max().item() < 1e-12 * product.abs().max().item()
    torch.testing.assert_close(product, torch.linalg.cholesky(pixel_stats(content)[1]))
    pca = color_transfer(style, content, mode="pca").matrix
    # Three different solutions of A·Σs·Aᵀ = Σr.
    for first, second in [(symmetric, cholesky), (symmetric, pca), (cholesky, pca)]:
        assert relative_error(first, second) > 0.05


@pytest.mark.parametrize("mode", COLOR_TRANSFER_MODES)
def test_color_transfer_to_itself_is_identity(content_tensor, mode):
    image = content_tensor.double()
    color_map = color_transfer(image, image, mode=mode)
    torch.testing.assert_close(color_map.matrix, torch.eye(3, dtype=torch.float64), rtol=0, atol=1e-9)
    torch.testing.assert_close(color_map.bias, torch.zeros(3, dtype=torch.float64), rtol=0, atol=1e-9)


@pytest.mark.parametrize("mode", COLOR_TRANSFER_MODES)
def test_color_transfer_of_degenerate_images_is_finite(content_tensor, mode):
    flat = torch.tensor([0.2, 0.5, 0.7]).view(1, 3, 1, 1).expand(1, 3, 16, 16)
    color_map = color_transfer(flat, content_tensor, mode=mode)
    assert torch.isfinite(color_map.matrix).all() and torch.isfinite(color_map.bias).all()
    mapped = color_map.apply(flat)
    # A single colour has no spread to scale: it becomes the reference's mean colour.
    torch.testing.assert_close(mapped.mean(dim=(0, 2, 3)), pixel_stats(content_tensor)[0].float(), atol=1e-4, rtol=0)
    # A grey ramp (rank-one covariance) as source, and a flat image as reference.
    ramp = torch.linspace(0, 1, 64).view(1, 1, 8, 8).expand(1, 3, 8, 8)
    for source, reference in [(ramp, content_tensor), (content_tensor, flat), (flat, flat)]:
        color_map = color_transfer(source, reference, mode=mode)
        assert torch.isfinite(color_map.apply(source)).all()


def test_color_map_apply_is_affine_and_unclamped():
    color_map = ColorMap(matrix=2 * torch.eye(3), bias=torch.tensor([0.5, 0.0, -0.5]))
    image = torch.full((1, 3, 2, 2), 0.5)
    out = color_map.apply(image)
    torch.testing.assert_close(out[0, :, 0, 0], torch.tensor([1.5, 1.0, 0.5]))
    assert out.max().item() > 1.0
    # A map built in float32 applies to a float64 image in float64.
    assert color_map.apply(image.double()).dtype == torch.float64


def test_color_transfer_modes_are_exported():
    assert COLOR_TRANSFER_MODES == ("symmetric", "cholesky", "pca") == get_args(ColorTransfer)
    assert set(color._MAP_SOLVERS) == set(COLOR_TRANSFER_MODES)


@pytest.mark.parametrize(
    ("source", "reference", "mode", "message"),
    [
        (torch.rand(1, 1, 4, 4), torch.rand(1, 3, 4, 4), "symmetric", r"source must be \(B, 3, H, W\)"),
        (torch.rand(1, 3, 4, 4), torch.rand(3, 4, 4), "symmetric", r"reference must be \(B, 3, H, W\)"),
        (torch.rand(1, 4, 4, 4), torch.rand(1, 3, 4, 4), "symmetric", r"got shape \(1, 4, 4, 4\)"),
        (torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4), "reinhard", "unknown colour transfer mode 'reinhard'"),
    ],
)
def test_color_transfer_rejects_bad_input(source, reference, mode, message):
    with pytest.raises(ValueError, match=message):
        color_transfer(source, reference, mode=mode)


def test_colour_space_functions_reject_bad_shapes():
    for function in (rgb_to_yiq, yiq_to_rgb, luminance, ColorMap(torch.eye(3), torch.zeros(3)).apply):
        with pytest.raises(ValueError, match=r"must be \(B, 3, H, W\)"):
            function(torch.rand(3, 4, 4))
    with pytest.raises(ValueError, match=r"style_y must be \(B, 1, H, W\)"):
        match_luminance(torch.rand(1, 3, 4, 4), torch.rand(1, 1, 4, 4))
