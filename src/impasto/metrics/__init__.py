"""Quality metrics of a stylized image against its content and style images, on tensors.

- content_rel: ‖F(out) - F(content)‖² / ‖F(content)‖² at relu4_2 (lower keeps more content).
- style_gram:  mean over relu1_1..relu5_1 of ‖G(out) - G(style)‖² / ‖G(style)‖².
- style_swd:   sliced Wasserstein-2 distance between the feature distributions of out and style at
               relu1_1..relu4_1, per random direction in units of the style projection's std.
- style_fine:  style_swd at relu1_1 and relu2_1 alone, at the output's size: brush and texture.
- style_deep:  style_swd at relu4_1 and relu5_1 with the output and the styles seen at a 256-px
               long side (VIEW): the painting's large-scale structure (swirls, shapes, planes),
               which a photo filter with the right palette and texture does not have.
- color_swd:   sliced Wasserstein-2 distance between the RGB pixel colours of out and content
               (in units of the content's projected std; low keeps the photo's colours).
- grain:       mean |Laplacian| of out's luminance over that of the content at the same size
               (about 1 keeps the photo's sharpness; far above 1 is speckle, far below is blur).
- copy_share:  the share of out that is a region of a painting pasted whole (a face, an eye, an
               animal), at a 512-px view (copies.py; on its own, since it takes seconds: give it
               the paintings at full size). style_deep rewards such copies; this measure finds them.

Several styles are compared as their pooled features and mean Gram. The sliced distances read at
most 65536 positions per side (a seeded subset), so that a 2048-px result scores in seconds.
Users may score their own results with `score`; benchmarks/quality.py is its command line (files in, a table out), and the
tests judge real runs with it. Imports torch and nst only.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from ..nst.losses import gram_matrix
from ..nst.vgg import VGG19Features
from .copies import copy_map as copy_map
from .copies import copy_share as copy_share
from .views import view

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
SWD_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
FINE_LAYERS = ("relu1_1", "relu2_1")
DEEP_LAYERS = ("relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"
VIEW = 256  # long side of the downscaled view style_deep compares


def _positions(features: torch.Tensor) -> torch.Tensor:
    """(1, C, H, W) -> (H·W, C)."""
    return features[0].flatten(1).t()


SAMPLES = 1 << 16  # positions sliced_wasserstein reads at most, per side


def _sample(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """At most SAMPLES rows of x (N, C), a seeded random subset: 256 quantiles of 65536 samples
    err by about 0.4 %, and relu1_1 of a 2048-px image has 3.1 million positions."""
    if x.shape[0] <= SAMPLES:
        return x
    return x[torch.randperm(x.shape[0], generator=generator)[:SAMPLES].to(x.device)]


def sliced_wasserstein(
    x: torch.Tensor, y: torch.Tensor, *, directions: int = 128, quantiles: int = 256, seed: int = 0
) -> float:
    """Sliced W2 between samples x (N, C) and reference y (M, C), in units of y's projected std."""
    generator = torch.Generator().manual_seed(seed)
    x, y = _sample(x, generator), _sample(y, generator)
    dirs = torch.randn(x.shape[1], directions, generator=generator, dtype=torch.float64).to(
        x.device
    )  # seeded on the CPU
    dirs /= dirs.norm(dim=0, keepdim=True)
    px, py = x.double() @ dirs, y.double() @ dirs  # (N, D), (M, D)
    levels = (torch.arange(quantiles, dtype=torch.float64, device=x.device) + 0.5) / quantiles
    qx = torch.quantile(px, levels, dim=0)  # (Q, D)
    qy = torch.quantile(py, levels, dim=0)
    w2 = (qx - qy).pow(2).mean(0).sqrt()  # (D,)
    return float((w2 / py.std(0).clamp_min(1e-8)).mean())


def laplacian_energy(image: torch.Tensor) -> float:
    """Mean |Laplacian| of the luminance of a (1, 3, H, W) image in [0, 1]."""
    luma = (image * image.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    kernel = image.new_tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)
    return float(F.conv2d(luma, kernel).abs().mean())


def grey(image: torch.Tensor) -> torch.Tensor:
    """A (1, 3, H, W) image's luminance (or a (1, 1, H, W) luminance) as three equal channels, so
    that the metrics compare brightness structure alone."""
    y = (
        image
        if image.shape[1] == 1
        else (image * image.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, True)
    )
    return y.expand(-1, 3, -1, -1)


def sky_seam(image: torch.Tensor, band: int = 8) -> float:
    """Largest column-to-column colour step of the sky (top third) within `band` px of the middle,
    over the median step elsewhere: a seam between two regions split at the middle is a jump
    there (the photo's own sky gives 0.3; a hard split between two styles about 3)."""
    height, width = image.shape[-2:]
    profile = image[..., : height // 3, :].mean(dim=2)[0]  # (3, W)
    steps = (profile[:, 1:] - profile[:, :-1]).abs().sum(0)
    middle = slice(width // 2 - band, width // 2 + band)
    rest = torch.cat([steps[: width // 2 - band], steps[width // 2 + band :]])
    return float(steps[middle].max() / rest.median())


def _swd(feats: dict, style_feats: list[dict], layers: tuple[str, ...]) -> dict[str, float]:
    """{layer: sliced W2 of the output's features against the styles' pooled ones}."""
    return {
        layer: sliced_wasserstein(_positions(feats[layer]), torch.cat([_positions(sf[layer]) for sf in style_feats]))
        for layer in layers
    }


def score(
    image: torch.Tensor, content: torch.Tensor, styles: list[torch.Tensor], model: VGG19Features
) -> dict[str, float]:
    """The metrics above of `image` (1, 3, H, W) in [0, 1] against `content` (same size) and
    `styles` (1, 3, h, w each), read by `model` (VGG19Features; call under torch.no_grad())."""
    feats = model(image, [*STYLE_LAYERS, CONTENT_LAYER])
    content_feats = model(content, [CONTENT_LAYER])[CONTENT_LAYER]
    style_feats = [model(s, STYLE_LAYERS) for s in styles]
    diff = feats[CONTENT_LAYER] - content_feats
    gram_rel = []
    for layer in STYLE_LAYERS:
        target = torch.stack([gram_matrix(sf[layer]) for sf in style_feats]).mean(0)
        gram_rel.append(float((gram_matrix(feats[layer]) - target).pow(2).sum() / target.pow(2).sum()))
    swd = _swd(feats, style_feats, SWD_LAYERS)  # FINE_LAYERS are among them
    fine = [swd[layer] for layer in FINE_LAYERS]
    seen = model(view(image, VIEW), DEEP_LAYERS)
    deep = list(_swd(seen, [model(view(s, VIEW), DEEP_LAYERS) for s in styles], DEEP_LAYERS).values())
    return {
        "content_rel": float(diff.pow(2).sum() / content_feats.pow(2).sum()),
        "color_swd": sliced_wasserstein(_positions(image), _positions(content)),
        "style_gram": sum(gram_rel) / len(gram_rel),
        "style_swd": sum(swd.values()) / len(swd),
        "style_fine": sum(fine) / len(fine),
        "style_deep": sum(deep) / len(deep),
        "grain": laplacian_energy(image) / laplacian_energy(content),
    }
