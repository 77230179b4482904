"""Gatys, Ecker & Bethge, "A Neural Algorithm of Artistic Style" (arXiv 1508.06576), in one screen.

The paper's loss as it writes it (sums, unnormalized Gram matrices), minimized by L-BFGS over the
pixels of white noise at one scale. Self-contained: torch and the VGG19 module (vgg.py), none of
the engine. The paper's conv4_2 etc. are read after the ReLU (Caffe rectifies in place): here
relu4_2 for content, relu1_1 ... relu5_1 for style. Eq. 4 has one M_l for G and A, so the artwork
is taken at the photo's size; the engine's Grams are per position, so its style may have any size.

The engine (engine/criterion.py) takes means (nst/losses.py): with N channels and M positions,
½Σ(F−P)² = (N·M/2)·mean (F−P)² and E_l = (N²/4)·mean (Ĝ−Â)², Ĝ = G/(N·M). The gatys2015 preset
(presets.py) weighs content by c = _GATYS_ALPHA_OVER_BETA·_GATYS_CONTENT_FACTOR, each style layer by
N_l²/20 = w_l·N_l²/4 and style by s = 1; so at one scale, without masks, in fp32, for any β,

    engine(x) = K·total_loss(x; α, β),  K = s/β,  α/β = (c/s)·2/(N·M) = 1e-3·(512·64·64)/(N·M),

N·M of the content layer: the paper's α/β = 1e-3 at 512x512 px, a balance the preset keeps at
every size (the paper's content sum grows with M, its E_l does not). tests/nst/test_gatys.py holds
the engine's loss and gradient to this. Its other departures (docs/paper.md): pixels kept in [0, 1]
by its own L-BFGS, average pooling rescaled (vgg.AVG_POOL_SCALE: shared here, the same module),
8-bit quantized weights, bf16 convolutions where fast, coarse to fine, averaged iterates, tiles.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .vgg import VGG19Features, white_noise

CONTENT_LAYER = "relu4_2"  # the paper's conv4_2
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")  # conv1_1 ... conv5_1
LAYERS = (CONTENT_LAYER, *STYLE_LAYERS)


def gram(features: Tensor) -> Tensor:
    """Eq. 3: G_ij = Σ_k F_ik·F_jk, the features (1, N, H, W) of a layer as F (N, M), M = H·W."""
    f = features.reshape(features.shape[1], -1)  # F: (N, M)
    return f @ f.T  # G: (N, N), unnormalized


def content_loss(f: Tensor, p: Tensor) -> Tensor:
    """Eq. 1: L_content = ½·Σ_ij (F_ij − P_ij)², the image's and the photo's features (1, N, H, W)."""
    return 0.5 * (f - p).pow(2).sum()  # scalar


def style_layer_loss(g: Tensor, a: Tensor, n: int, m: int) -> Tensor:
    """Eq. 4: E_l = Σ_ij (G_ij − A_ij)² / (4·N_l²·M_l²), the image's and the artwork's Grams (N, N)."""
    return (g - a).pow(2).sum() / (4 * n**2 * m**2)  # scalar


def style_loss(features: dict[str, Tensor], a: dict[str, Tensor]) -> Tensor:
    """Eq. 5: L_style = Σ_l w_l·E_l over the layers of `a` ({layer: A_l (N_l, N_l)}), w_l = 1/5 for five."""
    w = 1 / len(a)  # equal weights: 1/5 on relu1_1 ... relu5_1
    total = 0
    for layer, a_l in a.items():
        f = features[layer]  # (1, N_l, H, W), M_l = H·W
        total = total + w * style_layer_loss(gram(f), a_l, f.shape[1], f.shape[2] * f.shape[3])
    return total  # scalar


def targets(model: VGG19Features, content: Tensor, style: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """(P, {layer: A_l}): the photo's features and the artwork's Grams; both images (1, 3, H, W)."""
    with torch.no_grad():
        p = model(content, [CONTENT_LAYER], dtype=content.dtype)[CONTENT_LAYER]  # P: (1, 512, H/8, W/8)
        a = {k: gram(f) for k, f in model(style, STYLE_LAYERS, dtype=style.dtype).items()}  # A_l: (N_l, N_l)
    return p, a


def total_loss(
    model: VGG19Features, x: Tensor, p: Tensor, a: dict[str, Tensor], *, alpha: float, beta: float
) -> Tensor:
    """Eq. 7: L_total = α·L_content + β·L_style of the image x (1, 3, H, W), sRGB in [0, 1], for the
    targets p, a of `targets`. Its gradient on x (eqs. 2 and 6, back through VGG19) is autograd's."""
    f = model(x, LAYERS, dtype=x.dtype)  # {layer: (1, N_l, H_l, W_l)}
    return alpha * content_loss(f[CONTENT_LAYER], p) + beta * style_loss(f, a)


def stylize(
    model: VGG19Features,
    content: Tensor,
    style: Tensor,
    *,
    alpha: float = 1e-3,
    beta: float = 1.0,
    steps: int = 500,
    seed: int = 0,
) -> Tensor:
    """§2-3: minimize eq. 7 over the pixels of white noise with L-BFGS, at one scale.

    content, style: (1, 3, H, W) each, sRGB in [0, 1], on the model's device (the noise is moved
    there). Returns the image (1, 3, H, W), unclamped: the paper sets no pixel box. The paper's
    L-BFGS is torch.optim.LBFGS, with a strong-Wolfe line search (the paper names none); `steps`
    counts its iterations, each of one or more loss evaluations.
    """
    p, a = targets(model, content, style)
    x = white_noise(tuple(content.shape), seed).to(content).requires_grad_(True)  # (1, 3, H, W)
    lbfgs = torch.optim.LBFGS([x], max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        lbfgs.zero_grad()
        loss = total_loss(model, x, p, a, alpha=alpha, beta=beta)
        loss.backward()
        return loss

    lbfgs.step(closure)
    return x.detach()
