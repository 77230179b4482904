"""The one configuration of a style transfer run. Every default lives here, once.

The CLI, the web page and batch jobs build a `StyleConfig` and never restate a default.
`StyleConfig.preset(name, **overrides)` starts from a named preset (see PRESETS).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from .fields import check_fields, option
from .layer_weights import DEFAULT_LAYER_WEIGHTS
from .nst.layers import LAYER_NAMES, Padding, Pooling, channels
from .presets import PRESETS

Optimizer = Literal["lbfgs", "adam"]
Device = Literal["auto", "cpu", "cuda", "mps"]
Precision = Literal["auto", "fp32", "bf16"]
InitMode = Literal["content", "noise"]  # or the path of an image
INIT_MODES: tuple[str, ...] = get_args(InitMode)
StyleLoss = Literal["gram", "wasserstein"]
PreserveColor = Literal["none", "luminance", "histogram"]
ColorTransfer = Literal["symmetric", "cholesky", "pca"]
# OpenCV's DIS optical flow presets (video/flow.py), from quickest to finest.
FlowPreset = Literal["ultrafast", "fast", "medium"]
# How style layers are weighted when style_layer_weights is None: "measured", each layer's default
# of DEFAULT_LAYER_WEIGHTS; "paper", Gatys et al. 2015's w_l = 1/5 on E_l, i.e. N_l²/20 on our
# mean-normalized Gram loss (nst/losses.py), for whichever layers are chosen; "equal", 1 each, as
# jcjohnson/neural-style weighs them.
LayerWeighting = Literal["measured", "paper", "equal"]
LossNormalization = Literal["none", "style", "all"]

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")

# VGG19 pools 4 times before relu5_1: at 32 px on the short side its Gram matrix still has 2x2
# positions to average; below that the deepest style layer degenerates. Inputs and outputs alike.
MIN_SIZE = 32
MAX_SIZE = 8192  # longest output side the CLI accepts without --allow-huge (27 in at 300 dpi)
MAX_SEED = 2**63 - 1  # torch.Generator's range


def fit_long_side(width: int, height: int, long_side: int) -> tuple[int, int]:
    """(width, height) scaled so the longer side is `long_side`, keeping the aspect ratio."""
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


@dataclass(frozen=True)
class StyleConfig:
    """Every option of a run. Frozen: derive variants with `dataclasses.replace` or `preset`.

    Weights apply to the mean-normalized losses of nst/losses.py, so they do not depend on size.
    Each field's help, bounds and group are its metadata (`option`): validation, the CLI's options
    (cli/options.py) and the option table of docs/cli.md are derived from them.
    """

    size: int = option(512, "Longest side of the output, in px.", "Look", minimum=MIN_SIZE)
    # Coarse-to-fine (engine/schedule.py): scales from start_size up to size, √2 apart. The first
    # scale paints for `iterations` steps; the next refines for `scale_iterations`, and each later
    # one for scale_decay times the one before (budgets fall as pixels grow: docs/presets.md).
    start_size: int | None = option(
        256,
        "First scale's longest side; scales grow by √2 up to size (≥ size: one scale).",
        "Look",
        minimum=MIN_SIZE,
    )
    iterations: int = option(200, "Step budget of the first scale (loss evaluations).", "Optimization", minimum=0)
    scale_iterations: int = option(100, "Step budget of the second scale.", "Optimization", minimum=0)
    scale_decay: float = option(
        0.6,
        "Each later scale's budget is the one before times this.",
        "Optimization",
        minimum=0,
        maximum=1,
        strict=True,
    )
    # The stopping rule of engine/stopping.py: a scale stops before its budget once settled.
    stop_tolerance: float = option(
        1e-3,
        "Stop a scale once its loss improved by less than this share over stop_window steps; 0: never early.",
        "Optimization",
        minimum=0,
        maximum=1,
    )
    stop_window: int = option(20, "Steps over which stop_tolerance is judged.", "Optimization", minimum=1)
    min_iterations: int = option(50, "Steps every scale takes before it may stop early.", "Optimization", minimum=0)
    # The average is the scale's result and seeds the next one; 0.9 measured best (docs/benchmarks.md).
    ema_decay: float = option(
        0.9, "Average the iterates (bias-corrected EMA); 0 is off.", "Optimization", minimum=0, maximum=0.9999
    )
    optimizer: Optimizer = option("lbfgs", "How to step.", "Optimization")
    learning_rate: float = option(
        1.0, "Step scale; for adam in pixel units (0.02 suits it).", "Optimization", minimum=0, strict=True
    )
    lbfgs_history: int = option(20, "L-BFGS curvature pairs (2 image copies each).", "Optimization", minimum=1)
    init: str = option("content", "Start from the photo, noise or an image (a path).", "Look")
    content_weight: float = option(
        1.0, "α, how much of the photo stays (on the absolute content loss, unless normalized).", "Look", minimum=0
    )
    style_weight: float = option(
        2.0, "β, how strongly to paint; with loss normalization, alike on every painting.", "Look", minimum=0
    )
    # 0 measured best with content init (docs/benchmarks.md).
    tv_weight: float = option(0.0, "Total variation smoothing.", "Look", minimum=0)
    content_layers: tuple[str, ...] = option(
        ("relu4_2",), "VGG19 layers for content ('impasto layers'); their losses add up.", "Control"
    )
    style_layers: tuple[str, ...] = option(STYLE_LAYERS, "VGG19 layers for style.", "Control")
    # None: by style_layer_weighting; "equal" by default; "measured" takes each layer's default for
    # the style loss (DEFAULT_LAYER_WEIGHTS: 200, 2, 4, 0.1, 20 for the Gram loss's default layers).
    style_layer_weights: tuple[float, ...] | None = option(
        None, "One weight per style layer.", "Control", minimum=0, default_text="by style_layer_weighting"
    )
    # Differs from Gatys et al. 2015: "style" divides each style layer's loss by its target's
    # squared size (nst/style_losses.py), so that β means the same on every painting; "all" also
    # divides the content loss by its target's mean square, so that α means the same on every photo.
    loss_normalization: LossNormalization = option(
        "all",
        "style: each style layer's loss relative to the painting's own statistics, so one style weight "
        "paints every painting alike; all: the content loss too, relative to the photo's; none: "
        "absolute, as in the paper.",
        "Control",
    )
    style_layer_weighting: LayerWeighting = option(
        "equal", "Style layer weights when none are given: equal (1 each), measured, or the paper's N²/20.", "Control"
    )
    # gram: Gatys et al. 2015. wasserstein: the Gaussian W2 distance between feature distributions
    # (mean and covariance), as in crowsonkb/style-transfer-pytorch. docs/control.md compares them.
    style_loss: StyleLoss = option("gram", "How style is compared.", "Control")
    # Gatys et al. 2017 §5: luminance-only transfer, or the style's colours mapped to the photo's.
    preserve_color: PreserveColor = option(
        "none",
        "Keep the photo's colours: paint only its luminance, or map the styles' colours onto the photo's first.",
        "Control",
    )
    color_transfer: ColorTransfer = option("symmetric", "The colour map of preserve_color histogram.", "Control")
    style_blend_weights: tuple[float, ...] | None = option(
        None, "Blend of the styles, one weight each: 0.7,0.3.", "Look", minimum=0, default_text="equal"
    )
    style_scale: float = option(1.0, "Style image size relative to each scale.", "Look", minimum=0, strict=True)
    style_size: int | None = option(
        None,
        "Fixed longest side of the style images at every scale.",
        "Look",
        minimum=MIN_SIZE,
        default_text="follow the scale",
    )
    pooling: Pooling = option("max", "VGG19's pooling; avg is rescaled (nst/vgg.py).", "Control")
    padding: Padding = option("zeros", "The first convolution's padding; reflect softens the borders.", "Control")
    seed: int = option(0, "For noise init and tile offsets.", "Optimization", minimum=0, maximum=MAX_SEED)
    device: Device = option("auto", "Where to compute.", "Run")
    # bf16 convolutions inside VGG19 where the hardware computes them natively (CUDA, CPUs with
    # avx512_bf16 or AMX); Gram matrices, losses and the optimizer stay fp32 (docs/benchmarks.md).
    precision: Precision = option("auto", "Network arithmetic; auto is bf16 where the hardware has it.", "Run")
    weights: str | None = option(None, "VGG19 weights file.", "Run", default_text="the embedded original")
    # Scales whose estimate exceeds it run tile by tile. 256 MiB: VGG19 alone.
    max_memory: int | None = option(
        None,
        "Memory budget in bytes; bigger scales run in tiles.",
        "Run",
        minimum=1 << 28,
        default_text="¼ of RAM, ⅘ of VRAM",
    )
    tile_size: int | None = option(
        None, "Force tiles of this core size, in px.", "Run", minimum=MIN_SIZE, default_text="as memory requires"
    )

    # Video (impasto video; Ruder et al. 2016, docs/video.md). γ and the long-term terms were chosen
    # there, from the benchmark's table.
    temporal_weight: float = option(
        100.0, "γ, how strongly each frame keeps the last one's strokes where the flow is reliable.", "Video", minimum=0
    )
    frame_iterations: int = option(
        60, "Step budget of each frame after the first (stops early once settled).", "Video", minimum=1
    )
    long_term: tuple[int, ...] = option(
        (1, 2, 4), "Earlier frames each frame follows, as distances; 1 alone: short-term only.", "Video", minimum=1
    )
    passes: int = option(1, "Passes over the clip, alternating directions (multi-pass).", "Video", minimum=1)
    flow: FlowPreset = option("medium", "Optical flow quality (OpenCV DIS preset).", "Video")

    def __post_init__(self) -> None:
        # Tuples arrive as lists from JSON or the CLI; normalize so the config stays hashable.
        for name in ("content_layers", "style_layers", "style_layer_weights", "style_blend_weights", "long_term"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))
        _validate(self)

    @classmethod
    def preset(cls, name: str = "default", **overrides: Any) -> StyleConfig:
        """A preset's config, with any field overridden: `StyleConfig.preset("gatys2015", size=256)`."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        return dataclasses.replace(cls(**PRESETS[name]), **overrides)

    def style_size_at(self, long_side: int) -> int:
        """Long side of the style images for a scale of `long_side` px: style_size, else long_side * style_scale."""
        return self.style_size if self.style_size is not None else max(1, round(long_side * self.style_scale))

    def blend_weights(self, n_styles: int) -> list[float]:
        """One blend weight per style image (equal when unset); ValueError when the counts differ."""
        if n_styles < 1:
            raise ValueError("at least one style image is needed")
        weights = list(self.style_blend_weights or (1.0,) * n_styles)
        if len(weights) != n_styles:
            raise ValueError(f"{n_styles} style images but {len(weights)} style blend weights")
        return weights

    def layer_weights(self) -> dict[str, float]:
        """{style layer: weight}, the defaults of DEFAULT_LAYER_WEIGHTS when unset; layers weighted 0
        are left out, so no pass computes them."""
        default = _DEFAULT_WEIGHTING[self.style_layer_weighting]
        weights = self.style_layer_weights or tuple(default(self, layer) for layer in self.style_layers)
        return {layer: w for layer, w in zip(self.style_layers, weights) if w}


def _paper_weight(config: StyleConfig, layer: str) -> float:
    return channels(layer) ** 2 / 20


_DEFAULT_WEIGHTING: dict[str, Callable[[StyleConfig, str], float]] = {
    "measured": lambda config, layer: DEFAULT_LAYER_WEIGHTS[config.style_loss][layer],
    "paper": _paper_weight,
    "equal": lambda config, layer: 1.0,
}


def _validate(c: StyleConfig) -> None:
    """Every field against its metadata (fields.check_fields), then what spans fields."""
    if c.style_layer_weights is not None and len(c.style_layer_weights) != len(c.style_layers):
        raise ValueError(
            f"style_layer_weights has {len(c.style_layer_weights)} values for {len(c.style_layers)} style layers"
        )
    check_fields(c)
    if c.style_layer_weighting == "paper" and c.style_loss != "gram" and c.style_layer_weights is None:
        raise ValueError(
            "the paper's style layer weights are for the Gram loss; with style_loss "
            f"{c.style_loss!r}, give style_layer_weights or the measured weighting"
        )
    if not isinstance(c.init, str) or not c.init:
        raise ValueError(f"init must be {', '.join(INIT_MODES)} or an image path; got {c.init!r}")
    for layer in (*c.content_layers, *c.style_layers):
        if layer not in LAYER_NAMES:
            raise ValueError(f"unknown VGG19 layer {layer!r}; 'impasto layers' lists them")
    for name in ("content_layers", "style_layers"):
        layers = getattr(c, name)
        if not layers:
            raise ValueError(f"{name} must name at least one VGG19 layer")
        if len(set(layers)) != len(layers):
            raise ValueError(f"{name} names a layer twice: {', '.join(layers)}")
    if c.style_layer_weights is not None and sum(c.style_layer_weights) <= 0:
        raise ValueError(f"style_layer_weights must have a positive sum; got {c.style_layer_weights}")
    if len(set(c.long_term)) != len(c.long_term) or 1 not in c.long_term:
        raise ValueError(f"long_term must hold 1 and each distance once, such as 1,2,4; got {c.long_term}")
    if c.style_blend_weights is not None and sum(c.style_blend_weights) <= 0:
        raise ValueError(f"style_blend_weights must have a positive sum; got {c.style_blend_weights}")
