"""The named presets: overrides of StyleConfig's defaults (config.py), which are the `default` preset.

How each was chosen is in docs/presets.md. Data only; config.py validates them.
"""

from __future__ import annotations

from typing import Any

# Gatys et al. 2015 in our normalization (see nst/losses.py): the paper's loss is
#   α·½Σ(F-P)² + β·Σ_l ⅕·Σ(G-A)²/(4N²M²)  =  α·(N·M/2)·content_loss + β·Σ_l (N_l²/20)·style_layer_loss.
# The paper uses α/β = 1e-3 (Fig. 2) on images of about 512 px, where relu4_2 has N = 512 channels and
# M = 64·64 positions. Dividing the whole loss by the same constant changes nothing but its scale.
_GATYS_ALPHA_OVER_BETA = 1e-3
_GATYS_CONTENT_FACTOR = 512 * 64 * 64 / 2

PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    # The default before docs/presets.md: one scale at 512 px from the photo, measured layer
    # weights and absolute style losses. The photo dominates; the painting is a palette and a texture.
    "subtle": {
        "init": "content",
        "start_size": 512,
        "iterations": 150,
        "scale_iterations": 60,
        "scale_decay": 1.0,
        "stop_tolerance": 0.0,
        "min_iterations": 0,
        "content_weight": 1.0,
        "style_weight": 20.0,
        "loss_normalization": "none",
        "style_layer_weighting": "measured",
        "ema_decay": 0.9,
    },
    # The look of jcjohnson/neural-style's published examples: white noise, equal layer weights,
    # content 5 and style 100 (its losses are normalized as ours: nst/losses.py), its total
    # variation weight, L-BFGS until the loss settles.
    "classic": {
        "init": "noise",
        "start_size": None,
        "iterations": 1000,
        "stop_tolerance": 1e-3,
        "stop_window": 20,
        "min_iterations": 200,
        "content_weight": 5.0,
        "style_weight": 100.0,
        "loss_normalization": "none",
        "style_layer_weighting": "equal",
        # Its tv_weight 1e-3 is on a sum over pixels in 0-255 units; ours is a mean in [0, 1] units:
        # 1e-3/2 · 255² · 3·H·W = 1.9e7 at its default 512x384 (docs/presets.md).
        "tv_weight": 2e7,
        "ema_decay": 0.0,
    },
    "gatys2015": {
        "init": "noise",  # white noise, as in the paper
        "optimizer": "lbfgs",
        # The paper replaces max pooling by average pooling; ours is rescaled (vgg.AVG_POOL_SCALE).
        "pooling": "avg",
        "content_weight": _GATYS_ALPHA_OVER_BETA * _GATYS_CONTENT_FACTOR,
        "style_weight": 1.0,
        "tv_weight": 0.0,  # the paper has no smoothness prior
        "style_layer_weighting": "paper",  # w_l = 1/5 on E_l, for whichever style layers are chosen
        "loss_normalization": "none",
        "iterations": 500,  # converged: 1000 give the same metrics (docs/presets.md)
        "stop_tolerance": 0.0,  # a fixed number of iterations, as in the paper
        "start_size": None,  # one scale
        "ema_decay": 0.0,  # the last iterate
    },
}
