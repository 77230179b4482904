"""The optimization loop: pixels of a generated image are optimized to match content and style.

Reference: Gatys, Ecker & Bethge, "A Neural Algorithm of Artistic Style" (arXiv 1508.06576), §2-3:
the generated image starts from white noise and is optimized by L-BFGS on
α·L_content + β·L_style. Around it, the coarse-to-fine ladder of Gatys et al. 2017
(arXiv 1611.07865): each scale (schedule.py) starts from the previous result, upsampled, and
scales too big for memory run tile by tile (tiling.py); colour modes and style regions come from
targets.py. No I/O here: progress goes to a callback, logging to `logging`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch.nn import functional as F

from ..config import INIT_MODES, StyleConfig
from ..nst.losses import content_loss, total_variation
from ..nst.regions import StyleRegion, region_moments, regions_loss
from ..nst.style_losses import STYLE_LOSSES
from ..nst.vgg import VGG19Features
from ..runtime import HostCopy, release_free_memory, resolve_precision
from .memory import ScalePlan, step_cost
from .optimizers import ClampedAdam, IterateAverage, make_optimizer
from .schedule import Scale
from .style_targets import ColorPlan, ScaleInputs, color_plan, style_regions
from .tiling import plan_tiles, tiled_features, tiled_loss_and_grad


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or inf; the run stops rather than produce a broken image."""


@dataclass(frozen=True)
class Progress:
    """One optimizer step, as reported to the callback. Losses are already weighted."""

    step: int  # 1-based, counted over the whole run
    total: int  # steps in the whole run, all scales
    loss: float
    content_loss: float
    style_loss: float
    tv_loss: float
    elapsed: float  # seconds since the loop started
    # (1, 3, h, w) sRGB in [0, 1] at the current scale's size: the scale's result so far (the
    # average of the iterates when it is on, else the live iterate, not a copy: copy it to keep
    # it; in luminance mode, a new image with the photo's chroma).
    image: torch.Tensor = field(compare=False, repr=False)
    scale: int = 1  # 1-based rung of the ladder
    scales: int = 1
    width: int = 0  # of the current scale
    height: int = 0
    done: float = 0.0  # share of the run's work done, in [0, 1]: steps weighed by their pixels


ProgressCallback = Callable[[Progress], None]


def _noise(content: torch.Tensor, seed: int) -> torch.Tensor:
    """Uniform white noise from `seed`, as in the paper (drawn on the CPU: the same on every device)."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    return torch.rand(content.shape, generator=generator).to(content)


# Contiguous whatever the content's layout, so the image, its gradient and the optimizer state
# share one layout (the network converts to channels_last inside).
_INITS: dict[str, Callable[[torch.Tensor, int], torch.Tensor]] = {
    "content": lambda content, seed: content.clone(memory_format=torch.contiguous_format),
    "noise": _noise,
}


def initial_image(content: torch.Tensor, init: str | torch.Tensor, seed: int) -> torch.Tensor:
    """The starting point: (1, C, H, W) in [0, 1], C of the content (1 in luminance mode).

    init: one of config.INIT_MODES ("content", "noise") or an image tensor, which is resized to the
    content's size if needed.
    """
    if isinstance(init, torch.Tensor):
        if init.shape[-2:] != content.shape[-2:]:
            init = torch.nn.functional.interpolate(
                init, size=content.shape[-2:], mode="bicubic", align_corners=False, antialias=True
            )
        return init.to(content).clamp(0, 1).contiguous()
    if init not in _INITS:
        raise ValueError(f"init must be {', '.join(INIT_MODES)} or an image tensor; got {init!r}")
    return _INITS[init](content, seed)


def upsample(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A (1, C, h, w) image in [0, 1] at a larger (H, W), bicubic, back in [0, 1]: the previous
    scale's result for the next scale, or an interrupted one for the output."""
    return F.interpolate(image, size=size, mode="bicubic", align_corners=False).clamp(0, 1).contiguous()


@dataclass
class _Clock:
    """The run's position, for Progress: steps so far, work so far (memory.step_cost), start time."""

    total_steps: int
    total_work: float
    steps: int = 0
    work: float = 0.0
    start: float = field(default_factory=time.perf_counter)


def tile_offset(core: int, generator: torch.Generator) -> tuple[int, int]:
    """Where this step's cuts fall (y, x): anywhere, drawn anew each step from the run's seed, so
    that no seam settles in one place."""
    return tuple(torch.randint(0, core, (2,), generator=generator).tolist())


def _content_targets(
    model, content: torch.Tensor, scale: Scale, plan: ScalePlan, layers: Sequence[str], dtype: torch.dtype
) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        if plan.tile is None:
            return model(content, list(layers), dtype=dtype)
        tiles = plan_tiles(scale.height, scale.width, plan.tile)
        return {layer: tiled_features(model, content, layer, tiles, dtype) for layer in layers}


def _closure(
    model,
    image,
    scale: Scale,
    plan: ScalePlan,
    config: StyleConfig,
    content: torch.Tensor,
    regions: list[StyleRegion],
    dtype: torch.dtype,
    host_terms: HostCopy,
    generator: torch.Generator,
) -> Callable[[], torch.Tensor]:
    """The step's loss and gradient (into image.grad): one pass, or two passes over moving tiles."""
    layer_weights, kind = config.layer_weights(), STYLE_LOSSES[config.style_loss]
    style_layers = list(layer_weights)
    layers = list(dict.fromkeys([*config.content_layers, *style_layers]))
    content_targets = _content_targets(model, content, scale, plan, config.content_layers, dtype)

    def tv_term() -> torch.Tensor:
        return config.tv_weight * total_variation(image) if config.tv_weight else image.new_zeros(())

    def one_pass() -> torch.Tensor:
        image.grad = None
        features = model(image, layers, dtype=dtype)
        moments = [
            region_moments(features, r.mask, list(r.targets), masses=r.masses, need_mean=kind.needs_mean)
            for r in regions
        ]
        content_term = sum(content_loss(features[k], t) for k, t in content_targets.items())
        terms = torch.stack(
            [
                config.content_weight * content_term,
                config.style_weight * regions_loss(moments, regions, layer_weights, kind).to(image.device),
                tv_term(),
            ]
        )
        loss = terms.sum()
        loss.backward()
        host_terms.put(terms.detach())
        return loss

    def tiled() -> torch.Tensor:
        offset = tile_offset(plan.tile, generator)
        tiles = plan_tiles(scale.height, scale.width, plan.tile, offset=offset)
        terms, grad = tiled_loss_and_grad(
            model,
            image,
            tiles,
            content_targets=content_targets,
            content_weight=config.content_weight,
            regions=regions,
            layer_weights=layer_weights,
            kind=kind,
            style_weight=config.style_weight,
            dtype=dtype,
        )
        image.grad = None
        tv = tv_term()
        if tv.requires_grad:
            tv.backward()
        image.grad = grad if image.grad is None else image.grad.add_(grad)
        terms = torch.cat([terms, tv.detach().reshape(1)])
        host_terms.put(terms)
        return terms.sum()

    return one_pass if plan.tile is None else tiled


def _run_scale(
    model,
    start: torch.Tensor,
    scale: Scale,
    plan: ScalePlan,
    inputs: ScaleInputs,
    colors: ColorPlan,
    config: StyleConfig,
    dtype: torch.dtype,
    clock: _Clock,
    scales: int,
    handoff: list,
    callback: ProgressCallback | None,
) -> torch.Tensor:
    """Optimize one rung from `start` (network image); returns its result. handoff carries Adam on."""
    regions = style_regions(model, inputs, colors, config, dtype, tile=plan.tile)
    content = colors.content(inputs.content)
    image = start.detach().requires_grad_(True)  # start is the caller's fresh tensor: no copy
    optimizer = make_optimizer(image, config, history=plan.history, previous=handoff.pop() if handoff else None)
    cost = step_cost(scale, plan)
    host_terms = HostCopy(3, image.device)
    generator = torch.Generator().manual_seed(config.seed + scale.index)
    closure = _closure(model, image, scale, plan, config, content, regions, dtype, host_terms, generator)
    # Differs from Gatys et al. 2015: the scale's result is the average of its last iterates
    # (crowsonkb/style-transfer-pytorch), which removes the last steps' speckle.
    average = IterateAverage(config.ema_decay) if config.ema_decay and scale.iterations else None
    for _ in range(scale.iterations):
        optimizer.step(closure)
        content_term, style_term, tv_term = host_terms.get()
        total = content_term + style_term + tv_term
        clock.steps += 1
        clock.work += cost
        if not math.isfinite(total):
            raise NonFiniteLossError(
                f"loss became {total} at step {clock.steps} (content {content_term}, style {style_term}, "
                f"tv {tv_term}); try lower weights or the Adam optimizer"
            )
        if average is not None:
            average.update(image)
        if callback is not None:
            shown = colors.to_rgb(average.value if average is not None else image.detach(), inputs.content)
            callback(
                Progress(
                    clock.steps,
                    clock.total_steps,
                    total,
                    content_term,
                    style_term,
                    tv_term,
                    time.perf_counter() - clock.start,
                    shown,
                    scale.index + 1,
                    scales,
                    scale.width,
                    scale.height,
                    clock.work / max(1, clock.total_work),
                )
            )
    result = average.value if average is not None else image.detach()
    if not torch.isfinite(result).all():  # the last step can break the image after its loss was read
        raise NonFiniteLossError(f"the image holds NaN or inf after step {clock.steps}")
    # Only Adam's moments carry over; L-BFGS pairs (2·history image copies) must not outlive the scale.
    if isinstance(optimizer, ClampedAdam):
        handoff.append(optimizer)
    return result


def optimize_scales(
    model: VGG19Features,
    rungs: Sequence[tuple[Scale, ScalePlan]],
    inputs_at: Callable[[Scale], ScaleInputs],
    config: StyleConfig,
    *,
    init: str | torch.Tensor | None = None,
    callback: ProgressCallback | None = None,
) -> torch.Tensor:
    """Stylize coarse to fine. Returns (1, 3, H, W) float32 in [0, 1] at the last rung's size.

    rungs: each scale with its plan (memory.plan_scale). inputs_at gives a scale's images and
    masks (targets.ScaleInputs) on the run's device. init overrides `config.init` for the first
    scale (a path is resolved by the caller). Raises NonFiniteLossError if the loss stops being finite.
    """
    clock = _Clock(sum(s.iterations for s, _ in rungs), sum(s.iterations * step_cost(s, p) for s, p in rungs))
    image: torch.Tensor | None = None
    colors: ColorPlan | None = None
    handoff: list = []  # Adam, from one scale to the next; nothing else outlives its scale
    for scale, plan in rungs:
        inputs = inputs_at(scale)
        dtype = resolve_precision(config.precision, inputs.content.device)
        if colors is None:
            colors = color_plan(inputs, config)
            first = config.init if init is None else init
            start = initial_image(
                colors.content(inputs.content), first if isinstance(first, str) else colors.content(first), config.seed
            )
        else:
            start = upsample(image, (scale.height, scale.width))
        image = None  # the last scale's result is not needed once upsampled
        image = _run_scale(
            model, start, scale, plan, inputs, colors, config, dtype, clock, len(rungs), handoff, callback
        )
        final_content = inputs.content
        del inputs, start
        release_free_memory()  # the finished scale's buffers must not add to the next one's peak
    return colors.to_rgb(image, final_content)


def optimize_image(
    content: torch.Tensor,
    styles: Sequence[torch.Tensor],
    model: VGG19Features,
    config: StyleConfig,
    *,
    init: str | torch.Tensor | None = None,
    callback: ProgressCallback | None = None,
) -> torch.Tensor:
    """Stylize at one scale, the content's own size, in one pass. Returns (1, 3, H, W) in [0, 1].

    content: (1, 3, H, W) sRGB [0, 1]; styles: such images at their style size.
    """
    height, width = content.shape[-2:]
    scale = Scale(0, width, height, config.iterations, max(max(s.shape[-2:]) for s in styles))
    plan = ScalePlan(None, config.lbfgs_history, 0, 1)
    inputs = ScaleInputs(content, list(styles))
    return optimize_scales(model, [(scale, plan)], lambda _: inputs, config, init=init, callback=callback)
