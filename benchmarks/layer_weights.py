"""The measured default style-layer weights of layer_weights.DEFAULT_LAYER_WEIGHTS, for every VGG19 layer.

    python benchmarks/layer_weights.py [--size 384]

A layer's weight balances its typical style loss between a photo and a painting: the loss of the
bundled Tübingen photo against The Starry Night and The Scream (mean of the two), at --size px.
weight = CONTRIBUTION / loss, with CONTRIBUTION the median of weight · loss over relu1_1..relu4_1
under the Gram defaults (200, 2, 4, 0.1) that were tuned by eye and metrics; block 5 weighs 1/32
of that, as relu5_1 (20) does. The Wasserstein loss takes the same contribution per layer, so that
--style-weight means about the same under both losses at the first step.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from impasto.io.read import load_tensor
from impasto.nst.layers import LAYER_NAMES
from impasto.nst.losses import layer_moments
from impasto.nst.style_losses import STYLE_LOSSES
from impasto.nst.vgg import load_vgg19

TUNED_GRAM = {"relu1_1": 200.0, "relu2_1": 2.0, "relu3_1": 4.0, "relu4_1": 0.1, "relu5_1": 20.0}
DEEP_SHARE = 1 / 32


def typical_losses(size: int, loss: str) -> dict[str, float]:
    """{layer: mean style loss of the content photo against each bundled painting}."""
    vgg = load_vgg19()
    kind = STYLE_LOSSES[loss]
    content = load_tensor(ROOT / "examples" / "tubingen.jpg", size)
    styles = [load_tensor(ROOT / "examples" / name, size) for name in ("starry_night.jpg", "the_scream.jpg")]
    out = dict.fromkeys(LAYER_NAMES, 0.0)
    with torch.no_grad():
        fc = vgg(content, LAYER_NAMES)
        for style in styles:
            fs = vgg(style, LAYER_NAMES)
            for layer in LAYER_NAMES:
                target = kind.target([layer_moments(fs[layer], need_mean=kind.needs_mean)], [1.0])
                value = kind.layer_loss(layer_moments(fc[layer], need_mean=kind.needs_mean), target)
                out[layer] += float(value) / len(styles)
    return out


def _two_digits(x: float) -> float:
    return float(f"{x:.2g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=384)
    args = parser.parse_args()
    gram = typical_losses(args.size, "gram")
    contribution = statistics.median(TUNED_GRAM[k] * gram[k] for k in list(TUNED_GRAM)[:4])
    print(f"contribution per layer: {contribution:.3g}")
    for loss in STYLE_LOSSES:
        losses = gram if loss == "gram" else typical_losses(args.size, loss)
        weights = {}
        for layer, value in losses.items():
            share = DEEP_SHARE if layer.startswith(("conv5", "relu5", "pool5")) else 1.0
            weights[layer] = _two_digits(contribution * share / max(value, 1e-30))
        if loss == "gram":
            for layer, tuned in TUNED_GRAM.items():
                print(f"  gram {layer}: tuned {tuned}, rule {weights[layer]}")
            weights.update(TUNED_GRAM)
        print(f'"{loss}": {{')
        print("    " + ", ".join(f'"{k}": {v:g}' for k, v in weights.items()))
        print("},")


if __name__ == "__main__":
    main()
