"""Colour preservation for neural style transfer, as pure functions on tensors.

Reference: Gatys, Bethge, Hertzmann & Shechtman, "Controlling Perceptual Factors in Neural Style
Transfer" (arXiv 1611.07865), §5. Two ways to keep the content's colours:

- §5.1 luminance-only transfer: stylize the Y channel of YIQ (`luminance`), with the style's
  luminance first matched to the content's mean and std (`match_luminance`), then put the
  content's I and Q back (`with_chroma`);
- §5.2 colour histogram matching: before stylizing, map the style image's pixels linearly so
  that their mean and 3x3 covariance equal the content's (`color_transfer`, `ColorMap`).

Images are (B, 3, H, W) float sRGB in [0, 1]. The colour statistics are computed in float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import torch

# NTSC YIQ: the Y row is Rec. 601 luma; I and Q are the R-Y and B-Y axes rotated by 33 degrees,
# to four digits (the usual FCC/NTSC matrix). The I and Q rows sum to 0, so greys have no chroma.
_RGB_TO_YIQ = (
    (0.299, 0.587, 0.114),
    (0.5959, -0.2746, -0.3213),
    (0.2115, -0.5227, 0.3112),
)
# Covariance eigenvalues are clamped to 1e-5·tr/3 plus about the variance of 8-bit quantization
# noise, (1/255)²/12; the samples' smallest eigenvalues are ~3e-4, so real images are untouched.
_RELATIVE_FLOOR = 1e-5
_VARIANCE_FLOOR = 1e-6
# A luminance std below this (far under one 16-bit step, 1.5e-5) counts as a flat image.
_FLAT_STD = 1e-6
_SLAB_PIXELS = 1 << 20


@cache
def _yiq_matrices() -> tuple[torch.Tensor, torch.Tensor]:
    """(forward, inverse) 3x3 float64 CPU matrices, built on first use, never at import."""
    # Outside inference mode, so that the cached constants can later enter an autograd graph.
    with torch.inference_mode(False):
        forward = torch.tensor(_RGB_TO_YIQ, dtype=torch.float64)
        return forward, torch.linalg.inv(forward)


def _check_image(name: str, image: torch.Tensor, channels: int = 3) -> None:
    if image.dim() != 4 or image.shape[1] != channels:
        raise ValueError(f"{name} must be (B, {channels}, H, W), got shape {tuple(image.shape)}")


def _mix_channels(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """matrix (C', C) applied to every pixel of image (B, C, H, W) -> (B, C', H, W), in image's dtype."""
    return torch.einsum("ij,bjhw->bihw", matrix.to(image), image)


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    """sRGB (B, 3, H, W) in [0, 1] -> YIQ (B, 3, H, W): Y in [0, 1], I in ±0.596, Q in ±0.523.

    Applied to the gamma-encoded values, as in the paper and NTSC; any float dtype and device.
    """
    _check_image("rgb_to_yiq image", image)
    return _mix_channels(_yiq_matrices()[0], image)


def yiq_to_rgb(yiq: torch.Tensor) -> torch.Tensor:
    """YIQ (B, 3, H, W) -> sRGB (B, 3, H, W), the exact inverse of `rgb_to_yiq`. Not clamped."""
    _check_image("yiq_to_rgb yiq", yiq)
    return _mix_channels(_yiq_matrices()[1], yiq)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """The Y channel of sRGB image (B, 3, H, W) in [0, 1]: (B, 1, H, W) in [0, 1]."""
    _check_image("luminance image", image)
    return _mix_channels(_yiq_matrices()[0][:1], image)


def match_luminance(style_y: torch.Tensor, content_y: torch.Tensor) -> tuple[float, float]:
    """(gain, offset) such that style_y·gain + offset has content_y's mean and std (§5.1).

    style_y, content_y: (B, 1, H, W) luminances (sizes may differ); statistics are pooled over
    the batch, in float64, with population std. A flat style (std below 1e-6) has no contrast to
    scale: it gets gain 0 and offset = content mean, so it becomes the content's mean grey rather
    than noise amplified without bound. Always finite.
    """
    _check_image("match_luminance style_y", style_y, channels=1)
    _check_image("match_luminance content_y", content_y, channels=1)
    style_std, style_mean = torch.std_mean(style_y.detach().double(), correction=0)
    content_std, content_mean = torch.std_mean(content_y.detach().double(), correction=0)
    gain = content_std.item() / style_std.item() if style_std.item() > _FLAT_STD else 0.0
    return gain, content_mean.item() - gain * style_mean.item()


def with_chroma(luma: torch.Tensor, chroma_source: torch.Tensor) -> torch.Tensor:
    """sRGB (B, 3, H, W) in [0, 1] from luma's Y and chroma_source's I and Q (§5.1).

    luma: (B, 1, H, W), the stylized luminance. chroma_source: (B, 3, H, W) or (1, 3, H, W) sRGB,
    the content image, at the same H and W. Computed in luma's dtype. Clamped to [0, 1], because
    a new luminance with the old chroma can leave the RGB gamut.
    """
    _check_image("with_chroma luma", luma, channels=1)
    _check_image("with_chroma chroma_source", chroma_source)
    if luma.shape[2:] != chroma_source.shape[2:] or chroma_source.shape[0] not in (1, luma.shape[0]):
        raise ValueError(
            f"with_chroma luma {tuple(luma.shape)} and chroma_source {tuple(chroma_source.shape)} do not match"
        )
    chroma = rgb_to_yiq(chroma_source.to(luma.dtype))[:, 1:].expand(luma.shape[0], -1, -1, -1)  # (B, 2, H, W)
    return yiq_to_rgb(torch.cat([luma, chroma], dim=1)).clamp(0.0, 1.0)


@dataclass(frozen=True, eq=False)
class ColorMap:
    """An affine colour map x ↦ matrix·x + bias, per pixel; from `color_transfer`.

    matrix: (3, 3); bias: (3,). `apply` does not clamp: the mapped style image is only read by the
    network for its feature statistics, and clamping would break the exact match of mean and
    covariance that the map was built for (values slightly outside [0, 1] are harmless there).
    """

    matrix: torch.Tensor
    bias: torch.Tensor

    def apply(self, image: torch.Tensor) -> torch.Tensor:
        """image (B, 3, H, W) -> (B, 3, H, W) in image's dtype and device, not clamped."""
        _check_image("ColorMap.apply image", image)
        return _mix_channels(self.matrix, image) + self.bias.to(image).view(1, 3, 1, 1)


def _pixel_statistics(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (3,) and population covariance (3, 3) of all pixels of image (B, 3, H, W), float64 on CPU."""
    # MPS has no float64; elsewhere the sums stay on the image's device.
    pixels = image.detach().cpu() if image.device.type == "mps" else image.detach()
    flat = pixels.transpose(0, 1).reshape(3, -1)  # (3, N), a view when B == 1
    # Two passes, a slab of pixels at a time: a whole float64 copy of a 4096² image is 400 MB.
    slabs = flat.split(_SLAB_PIXELS, dim=1)
    mean = sum(slab.double().sum(dim=1) for slab in slabs) / flat.shape[1]  # (3,)
    cov = torch.zeros(3, 3, dtype=torch.float64, device=flat.device)
    for slab in slabs:
        centered = slab.double() - mean[:, None]
        cov.addmm_(centered, centered.T)
    return mean.cpu(), cov.cpu() / flat.shape[1]


def _regularized(cov: torch.Tensor) -> torch.Tensor:
    """cov (3, 3) with its eigenvalues raised to at least 1e-5·tr/3 + 1e-6: positive definite.

    A single-colour or grey image has a singular covariance, which the maps below must invert.
    Raising only the small eigenvalues leaves well-conditioned covariances exactly as they are.
    """
    eigenvalues, vectors = torch.linalg.eigh(cov)
    floor = _RELATIVE_FLOOR * cov.trace().item() / 3 + _VARIANCE_FLOOR
    return vectors @ torch.diag(eigenvalues.clamp(min=floor)) @ vectors.T


def _symmetric_power(matrix: torch.Tensor, power: float) -> torch.Tensor:
    """matrix^power for a symmetric positive semi-definite (3, 3) matrix, by eigendecomposition."""
    eigenvalues, vectors = torch.linalg.eigh((matrix + matrix.T) / 2)
    return vectors @ torch.diag(eigenvalues.clamp(min=0.0).pow(power)) @ vectors.T


def _cholesky_map(source_cov: torch.Tensor, reference_cov: torch.Tensor) -> torch.Tensor:
    """A = L_r·L_s⁻¹, with L the lower Cholesky factors."""
    source_l, reference_l = torch.linalg.cholesky(source_cov), torch.linalg.cholesky(reference_cov)
    return torch.linalg.solve_triangular(source_l, reference_l, upper=False, left=False)


def _pca_map(source_cov: torch.Tensor, reference_cov: torch.Tensor) -> torch.Tensor:
    """A = Σr^½·Σs^-½: whiten in the source's eigenbasis, colour in the reference's."""
    return _symmetric_power(reference_cov, 0.5) @ _symmetric_power(source_cov, -0.5)


def _monge_kantorovich_map(source_cov: torch.Tensor, reference_cov: torch.Tensor) -> torch.Tensor:
    """A = Σs^-½·(Σs^½·Σr·Σs^½)^½·Σs^-½: the symmetric positive definite solution.

    It is the optimal transport map between Gaussians, the one that moves colours least.
    """
    root, inverse_root = _symmetric_power(source_cov, 0.5), _symmetric_power(source_cov, -0.5)
    matrix = inverse_root @ _symmetric_power(root @ reference_cov @ root, 0.5) @ inverse_root
    return (matrix + matrix.T) / 2


_MAP_SOLVERS = {"symmetric": _monge_kantorovich_map, "cholesky": _cholesky_map, "pca": _pca_map}
COLOR_TRANSFER_MODES: tuple[str, ...] = tuple(_MAP_SOLVERS)  # config.ColorTransfer names the same (tested)


def color_transfer(source: torch.Tensor, reference: torch.Tensor, mode: str = "symmetric") -> ColorMap:
    """Affine map giving source's pixels reference's mean and 3x3 covariance (§5.2).

    source, reference: (B, 3, H, W) sRGB in [0, 1], sizes may differ (B is 1 in practice; all
    pixels of the batch are pooled). In Gatys et al. 2017 the source is the style image and the
    reference the content. mode picks one of the linear maps A with A·Σs·Aᵀ = Σr:
    "symmetric" (Monge-Kantorovich, the default), "cholesky" or "pca"; bias = μr − A·μs.
    Computed in float64; returned in source's dtype and device.

    A covariance eigenvalue below 1e-5·tr/3 + 1e-6 (a grey or single-colour image) is raised to
    that floor, so the map stays finite, but then the match is only approximate.
    """
    _check_image("color_transfer source", source)
    _check_image("color_transfer reference", reference)
    solver = _MAP_SOLVERS.get(mode)
    if solver is None:
        raise ValueError(f"unknown colour transfer mode {mode!r}, expected one of {COLOR_TRANSFER_MODES}")
    source_mean, source_cov = _pixel_statistics(source)
    reference_mean, reference_cov = _pixel_statistics(reference)
    matrix = solver(_regularized(source_cov), _regularized(reference_cov))  # (3, 3)
    bias = reference_mean - matrix @ source_mean  # (3,)
    return ColorMap(matrix=matrix.to(source), bias=bias.to(source))
