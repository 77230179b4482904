"""The optimization loop: pixels of a generated image are optimized to match content and style.

Reference: Gatys, Ecker & Bethge, "A Neural Algorithm of Artistic Style" (arXiv 1508.06576), §2-3:
the generated image starts from white noise and is optimized by L-BFGS on α·L_content + β·L_style
(criterion.py; nst/gatys.py is the paper's version in one screen). Around it, the coarse-to-fine
scales of Gatys et al. 2017 (arXiv 1611.07865): each scale (schedule.py) starts from the previous
result, upsampled; scales too big for memory run tile by tile (memory.py, tiling.py); colour modes
and style regions come from color_modes.py and style_targets.py. No I/O here: progress goes to a
callback, logging to `logging`.

Reading order: optimize_scales -> _optimize_scale -> Criterion.evaluate (or evaluate_tiled).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from ..config import StyleConfig
from ..nst.temporal import Anchor
from ..nst.vgg import VGG19Features
from ..runtime import HostCopy, release_free_memory, resolve_precision
from .checkpoint import Checkpoint, Checkpointer, capture, restore_average, restore_optimizer
from .color_modes import ColorMode, fit_color_mode
from .criterion import Criterion, criterion_for
from .memory import Footprint, step_cost
from .optimizers import ClampedAdam, IterateAverage, make_optimizer
from .schedule import Scale
from .start import initial_image, upsample
from .stopping import StopRule
from .style_targets import ScaleInputs, style_regions
from .tiling import cut_tiles


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or inf; the run stops rather than produce a broken image."""


@dataclass(frozen=True, kw_only=True)
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
    scale: int = 1  # 1-based index of the current scale
    scale_count: int = 1  # scales in the whole run
    width: int = 0  # of the current scale
    height: int = 0
    done: float = 0.0  # share of the run's work done, in [0, 1]: steps weighed by their pixels
    temporal_loss: float = 0.0  # a video frame's γ·L_temporal (nst/temporal.py); 0 for a picture
    precision_changed: bool = False  # resumed a checkpoint of another precision: not pixel-identical


ProgressCallback = Callable[[Progress], None]


@dataclass
class _Clock:
    """The run's position, for Progress: steps so far, work so far (memory.step_cost), start time."""

    total_steps: int
    total_work: float
    steps: int = 0
    work: float = 0.0
    start: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True)
class _Run:
    """What every scale of a run shares."""

    model: VGG19Features
    config: StyleConfig
    colors: ColorMode
    dtype: torch.dtype
    clock: _Clock
    scale_count: int
    callback: ProgressCallback | None
    checkpointer: Checkpointer | None = None
    precision_changed: bool = False  # the resumed checkpoint ran in another dtype


def tile_offset(core: int, generator: torch.Generator) -> tuple[int, int]:
    """Where this step's cuts fall (y, x): anywhere, drawn anew each step from the run's seed, so
    that no seam settles in one place."""
    return tuple(torch.randint(0, core, (2,), generator=generator).tolist())


def _closure(
    criterion: Criterion,
    image: torch.Tensor,
    scale: Scale,
    footprint: Footprint,
    generator: torch.Generator,
    host: HostCopy,
) -> Callable[[], torch.Tensor]:
    """The optimizer's closure: the loss, with image.grad filled and the terms copied to `host`.
    A tiled scale cuts its tiles anew at every step, at an offset drawn from `generator`."""

    def closure() -> torch.Tensor:
        if footprint.tile is None:
            loss, terms = criterion.evaluate(image)
        else:
            offset = tile_offset(footprint.tile, generator)
            tiles = cut_tiles(scale.height, scale.width, footprint.tile, offset=offset)
            loss, terms = criterion.evaluate_tiled(image, tiles)
        host.put(terms)
        return loss

    return closure


def _optimize_scale(
    run: _Run,
    scale: Scale,
    footprint: Footprint,
    inputs: ScaleInputs,
    start: torch.Tensor,
    moments: dict[str, torch.Tensor] | None,
    resume: Checkpoint | None = None,
) -> tuple[torch.Tensor, ClampedAdam | None]:
    """Optimize one scale from `start` (a fresh network image, taken over) and, for Adam, the last
    scale's moments at this size; or from `resume`, a checkpoint taken within this scale. Returns
    its result and, for Adam, the optimizer, whose moments the next scale carries on."""
    config, clock = run.config, run.clock
    regions = style_regions(run.model, inputs, run.colors, config, run.dtype, tile=footprint.tile)
    anchors = [Anchor(run.colors.content(a.warped), a.weights) for a in inputs.anchors]
    criterion = criterion_for(
        run.model, run.colors.content(inputs.content), regions, config, run.dtype, footprint.tile, anchors
    )
    image = start.detach().requires_grad_(True)
    optimizer = make_optimizer(image, config, history=footprint.history, moments=moments)
    cost = step_cost(scale, footprint)
    host = HostCopy(4, image.device)
    generator = torch.Generator().manual_seed(config.seed + scale.index)
    closure = _closure(criterion, image, scale, footprint, generator, host)
    # Differs from Gatys et al. 2015: the scale's result is the average of its last iterates
    # (crowsonkb/style-transfer-pytorch), which removes the last steps' speckle.
    average = IterateAverage(config.ema_decay) if config.ema_decay and scale.iterations else None
    rule, losses, first = StopRule.of(config, scale.iterations), [], 1
    if resume is not None:
        restore_optimizer(optimizer, resume.optimizer)
        restore_average(average, resume, image.device)
        if resume.generator is not None:
            generator.set_state(resume.generator)
        losses, first = list(resume.losses), resume.step + 1
        if resume.step and rule.settled(losses):  # it stopped at the checkpoint's step
            first = scale.iterations + 1
    for step in range(first, scale.iterations + 1):
        optimizer.step(closure)
        content_term, style_term, tv_term, temporal_term = host.get()
        total = content_term + style_term + tv_term + temporal_term
        losses.append(total)
        clock.steps += 1
        clock.work += cost
        settled = rule.settled(losses)
        if settled:  # the rest of the budget is not taken: the run's total shrinks
            clock.total_steps -= scale.iterations - step
            clock.total_work -= (scale.iterations - step) * cost
        if not math.isfinite(total):
            raise NonFiniteLossError(
                f"loss became {total} at step {clock.steps} (content {content_term}, style {style_term}, "
                f"tv {tv_term}); try lower weights or the Adam optimizer"
            )
        if average is not None:
            average.update(image)
        if run.callback is not None:
            current = average.value if average is not None else image.detach()
            run.callback(
                Progress(
                    step=clock.steps,
                    total=clock.total_steps,
                    loss=total,
                    content_loss=content_term,
                    style_loss=style_term,
                    tv_loss=tv_term,
                    temporal_loss=temporal_term,
                    elapsed=time.perf_counter() - clock.start,
                    image=run.colors.to_rgb(current, inputs.content),
                    scale=scale.index + 1,
                    scale_count=run.scale_count,
                    width=scale.width,
                    height=scale.height,
                    done=clock.work / max(1, clock.total_work),
                    precision_changed=run.precision_changed,
                )
            )
        if run.checkpointer is not None and run.checkpointer.due():
            clock_state = {"steps": clock.steps, "work": clock.work, "total_steps": clock.total_steps}
            clock_state |= {"total_work": clock.total_work, "elapsed": time.perf_counter() - clock.start}
            saved = capture(scale.index, step, image, optimizer, losses, clock_state, average, generator, run.dtype)
            run.checkpointer.save(saved)
        if settled:
            break
    result = average.value if average is not None else image.detach()
    if not torch.isfinite(result).all():  # the last step can break the image after its loss was read
        raise NonFiniteLossError(f"the image holds NaN or inf after step {clock.steps}")
    # Only Adam's moments carry over; L-BFGS pairs (2·history image copies) must not outlive the scale.
    return result, optimizer if isinstance(optimizer, ClampedAdam) else None


def optimize_scales(
    model: VGG19Features,
    scales: Sequence[tuple[Scale, Footprint]],
    inputs_at: Callable[[Scale], ScaleInputs],
    config: StyleConfig,
    *,
    init: str | torch.Tensor | None = None,
    callback: ProgressCallback | None = None,
    checkpointer: Checkpointer | None = None,
    resume: Checkpoint | None = None,
) -> torch.Tensor:
    """Stylize coarse to fine. Returns (1, 3, H, W) float32 in [0, 1] at the last scale's size.

    scales: each scale with its memory footprint (memory.fit_in_memory). inputs_at gives a
    scale's images and masks (style_targets.ScaleInputs) on the run's device. init overrides
    `config.init` for the first scale (a path is resolved by the caller). checkpointer is asked
    after every step whether to save a Checkpoint; resume continues from one, taken by the same
    inputs and config (engine/checkpoint.py; in another precision with one warning, and
    Progress.precision_changed). Raises NonFiniteLossError if the loss stops being finite.
    """
    clock = _Clock(sum(s.iterations for s, _ in scales), sum(s.iterations * step_cost(s, f) for s, f in scales))
    inputs = inputs_at(scales[0][0])
    colors = fit_color_mode(inputs.content, inputs.styles, inputs.style_masks, config)
    dtype = resolve_precision(config.precision, inputs.content.device)
    first = config.init if init is None else init
    start = initial_image(
        colors.content(inputs.content), first if isinstance(first, str) else colors.content(first), config.seed
    )
    image, adam, moments = None, None, None
    if resume is not None:
        if not 0 <= resume.scale < len(scales) or tuple(resume.image.shape[-2:]) != (
            scales[resume.scale][0].height,
            scales[resume.scale][0].width,
        ):
            raise ValueError("the checkpoint belongs to another schedule (other sizes or options)")
        clock.steps, clock.work = int(resume.clock["steps"]), resume.clock["work"]
        clock.total_steps, clock.total_work = int(resume.clock["total_steps"]), resume.clock["total_work"]
        clock.start -= resume.clock["elapsed"]
    changed = resume is not None and resume.check_precision(dtype)  # precision "auto" resolves per machine
    run = _Run(model, config, colors, dtype, clock, len(scales), callback, checkpointer, changed)
    for index, (scale, footprint) in enumerate(scales):
        if resume is not None and index < resume.scale:
            continue  # done before the checkpoint
        resuming = resume if resume is not None and index == resume.scale else None
        if index and resuming is None:
            inputs = inputs_at(scale)
            start = upsample(image, (scale.height, scale.width))
            moments = adam.moments_at((scale.height, scale.width)) if adam is not None else None
        elif resuming is not None:
            inputs = inputs_at(scale) if index else inputs
            start = resuming.image.to(inputs.content.device).contiguous()
        # The last scale's result and optimizer are not needed once carried over.
        image, adam = None, None
        image, adam = _optimize_scale(run, scale, footprint, inputs, start, moments, resuming)
        moments = None
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
    footprint = Footprint(None, config.lbfgs_history, 0, 1)
    inputs = ScaleInputs(content, list(styles))
    return optimize_scales(model, [(scale, footprint)], lambda _: inputs, config, init=init, callback=callback)
