"""The Python API: `stylize(content, styles, config=..., callback=...) -> PIL.Image.Image`.

Glue between the edge (paths, Pillow images) and the silent core (tensors), in two phases:
- `prepare` checks everything that can be wrong with the inputs (files, sizes, options, device)
  and decodes the images, without loading the network: bad input fails fast and cheaply;
- `render` resizes, loads the cached VGG19 and runs the optimizer.
The CLI, the web page and batch jobs call the two phases; `stylize` chains them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from PIL import Image

from .config import INIT_MODES, MIN_SIZE, StyleConfig, fit_long_side
from .engine.checkpoint import Checkpoint, Checkpointer
from .engine.loop import ProgressCallback, optimize_scales
from .engine.memory import Footprint, fit_in_memory
from .engine.schedule import Scale, scales_for
from .engine.style_targets import ScaleInputs
from .io.read import ImageSource, MaskSource, open_image, open_mask, resize_exact, resize_long_side, to_pil, to_tensor
from .nst.regions import resize_mask
from .nst.temporal import Anchor
from .nst.vgg import load_vgg19
from .runtime import memory_budget, resolve_device, resolve_precision

log = logging.getLogger(__name__)

Styles = ImageSource | Sequence[ImageSource]
Masks = MaskSource | Sequence[MaskSource | None] | None  # one per style; a single mask for one style

__all__ = ["PreparedRun", "frame_schedule", "prepare", "render", "resolve_device", "scales", "stylize"]


@dataclass(frozen=True)
class PreparedRun:
    """A checked run: decoded sRGB images at their own size, the config and the device."""

    content: Image.Image
    styles: tuple[Image.Image, ...]
    init: str | Image.Image  # one of INIT_MODES, or the decoded image to start from
    config: StyleConfig
    device: torch.device
    masks: tuple[torch.Tensor, ...] | None = None  # per style, (1, 1, h, w) in [0, 1]: where it paints
    style_masks: tuple[torch.Tensor | None, ...] | None = None  # per style: where its statistics come from


def _as_list(styles: Styles) -> list[ImageSource]:
    if isinstance(styles, (str, Image.Image)) or not isinstance(styles, Sequence):
        return [styles]  # one path, PathLike or image
    return list(styles)


def _name(source: ImageSource) -> str:
    return "(in memory)" if isinstance(source, Image.Image) else str(source)


def _check_size(image: Image.Image, long_side: int | None, what: str, option: str) -> None:
    """The image itself, and once resized to `long_side`, must be >= MIN_SIZE on its short side."""
    if min(image.size) < MIN_SIZE:
        raise ValueError(f"{what} is {image.width}x{image.height} px; VGG19 needs at least {MIN_SIZE} px on each side")
    if long_side is not None and (short := min(fit_long_side(image.width, image.height, long_side))) < MIN_SIZE:
        raise ValueError(
            f"{what} would be {short} px on its short side at this size; "
            f"at least {MIN_SIZE} px is needed (raise {option})"
        )


_ASPECT_TOLERANCE = 0.02


def _check_masks(
    sources: Masks,
    images: Sequence[Image.Image],
    what: str,
    verb: str,
    names: Sequence[str],
    *,
    allow_none: bool,
    allow_huge: bool,
) -> tuple[torch.Tensor | None, ...] | None:
    """Decode one mask per image, each with its image's aspect ratio and some area to cover."""
    if sources is None:
        return None
    if isinstance(sources, (str, os.PathLike, Image.Image, torch.Tensor)):
        sources = [sources]  # one mask, for one style
    if len(sources) != len(images):
        raise ValueError(f"{len(sources)} {what}s for {len(images)} style images; give one {what} per style")
    masks = []
    for i, (source, image, name) in enumerate(zip(sources, images, names), 1):
        if source is None and allow_none:
            masks.append(None)
            continue
        label = f"{what} {i} ({'tensor' if isinstance(source, torch.Tensor) else _name(source)})"
        mask = open_mask(source, allow_huge=allow_huge)
        h, w = mask.shape[-2:]
        if abs((w / h) / (image.width / image.height) - 1) > _ASPECT_TOLERANCE:
            raise ValueError(
                f"{label} is {w}x{h} px but {name} is {image.width}x{image.height}; "
                "a mask must have the shape of the image it covers"
            )
        if float(mask.max()) <= 0:
            raise ValueError(f"{label} is black everywhere: it leaves its style nothing to {verb}")
        masks.append(mask)
    return tuple(masks)


def prepare(
    content: ImageSource,
    styles: Styles,
    *,
    config: StyleConfig | None = None,
    masks: Masks = None,
    style_masks: Masks = None,
    allow_huge: bool = False,
    max_pixels: int | None = None,
) -> PreparedRun:
    """Check and decode every input; load no network. ValueError names the first problem.

    masks: one per style (paths, Pillow images or tensors in [0, 1], any size with the content's
    aspect ratio): where each style paints (Gatys et al. 2017 §4); overlaps are normalized, and
    what no mask covers keeps the photo. style_masks: one per style, or None for a style, the part
    of the style image its statistics come from. allow_huge lifts Pillow's decompression-bomb limit;
    max_pixels sets a lower one of the caller's (a server's) on the content and style images.
    """
    config = config or StyleConfig()
    style_list = _as_list(styles)
    config.blend_weights(len(style_list))  # a count mismatch fails before any file is read
    device = resolve_device(config.device)
    content_image = open_image(content, allow_huge=allow_huge, max_pixels=max_pixels)
    _check_size(content_image, config.size, f"content image {_name(content)}", "size")
    style_images = tuple(open_image(s, allow_huge=allow_huge, max_pixels=max_pixels) for s in style_list)
    smallest = min(s.style_size for s in scales_for(content_image.width, content_image.height, config))
    for source, image in zip(style_list, style_images):
        _check_size(image, smallest, f"style image {_name(source)}", "start_size, style_scale or style_size")
    style_names = [f"style image {i} ({_name(s)})" for i, s in enumerate(style_list, 1)]
    mask_tensors = _check_masks(
        masks,
        [content_image] * len(style_images),
        "mask",
        "paint",
        [f"the content ({_name(content)})"] * len(style_images),
        allow_none=False,
        allow_huge=allow_huge,
    )
    style_mask_tensors = _check_masks(
        style_masks, style_images, "style mask", "read", style_names, allow_none=True, allow_huge=allow_huge
    )
    init: str | Image.Image = config.init
    if init not in INIT_MODES:
        init = open_image(init, allow_huge=allow_huge)
        _check_size(init, None, f"init image {config.init}", "init")
    return PreparedRun(content_image, style_images, init, config, device, mask_tensors, style_mask_tensors)


def scales(run: PreparedRun) -> list[tuple[Scale, Footprint]]:
    """Every scale of the run with its memory footprint (whole or tiled) within the budget.

    ValueError when a scale cannot fit the budget even in the smallest tiles.
    """
    config = run.config
    budget = config.max_memory or memory_budget(run.device)
    act_bytes = resolve_precision(config.precision, run.device).itemsize
    return [
        (scale, fit_in_memory(scale, config, budget, act_bytes=act_bytes))
        for scale in scales_for(run.content.width, run.content.height, config)
    ]


def frame_schedule(run: PreparedRun, iterations: int) -> list[tuple[Scale, Footprint]]:
    """A video frame's schedule after the first: the last scale alone, for `iterations` steps."""
    import dataclasses

    scale, footprint = scales(run)[-1]
    return [(dataclasses.replace(scale, index=0, iterations=iterations), footprint)]


def calibrate(run: PreparedRun, *, long_side: int = 384, steps: int = 3) -> float:
    """Seconds per pixel-step of this run's device and precision: a real run of a few steps at a
    small size (the first step, which warms up, is not counted). For time estimates (--dry-run)."""
    import dataclasses
    import time

    config = dataclasses.replace(
        run.config,
        size=min(long_side, run.config.size),
        start_size=None,
        iterations=steps + 1,
        tile_size=None,
        style_size=None,
    )
    small = dataclasses.replace(run, config=config)
    stamps: list[float] = []
    result = render(small, callback=lambda p: stamps.append(time.perf_counter()))
    return (stamps[-1] - stamps[0]) / steps / (result.shape[-1] * result.shape[-2])


def render(
    run: PreparedRun,
    *,
    callback: ProgressCallback | None = None,
    schedule: list[tuple[Scale, Footprint]] | None = None,
    checkpointer: Checkpointer | None = None,
    resume: Checkpoint | None = None,
    start: torch.Tensor | None = None,
    anchors: Sequence[Anchor] = (),
) -> torch.Tensor:
    """Run a prepared job. Returns (1, 3, H, W) float32 sRGB in [0, 1] on the run's device.

    callback receives an `impasto.Progress` after every step. Raises NonFiniteLossError if the
    run diverges; KeyboardInterrupt passes through (the callback's last image is the current one).
    schedule: `scales(run)`, when the caller already has it. checkpointer / resume: save the
    run's state as it goes, and continue from a saved one (engine/checkpoint.py). start: the
    first scale's starting image (1, 3, h, w) sRGB, instead of config.init; anchors: a video
    frame's earlier painted frames warped onto it, at the last scale's size (nst/temporal.py).
    """
    config, device = run.config, run.device
    schedule = schedule or scales(run)

    def inputs_at(scale: Scale) -> ScaleInputs:
        styles = [to_tensor(resize_long_side(s, scale.style_size)).to(device) for s in run.styles]
        masks = (
            None if run.masks is None else [resize_mask(m, (scale.height, scale.width)).to(device) for m in run.masks]
        )
        style_masks = (
            None
            if run.style_masks is None
            else [
                None if m is None else resize_mask(m, tuple(s.shape[-2:])).to(device)
                for m, s in zip(run.style_masks, styles)
            ]
        )
        content = to_tensor(resize_exact(run.content, (scale.width, scale.height))).to(device)
        moved = [Anchor(a.warped.to(device), a.weights.to(device)) for a in anchors]
        return ScaleInputs(content, styles, masks, style_masks, moved if scale is schedule[-1][0] else ())

    first = schedule[0][0]
    init: str | torch.Tensor = (
        run.init
        if isinstance(run.init, str)
        else to_tensor(resize_exact(run.init, (first.width, first.height))).to(device)
    )  # an init image takes the first scale's exact size, whatever its aspect ratio
    if start is not None:
        init = start.to(device)
    model = load_vgg19(config.weights, pooling=config.pooling, padding=config.padding, device=device)
    for scale, footprint in schedule:
        log.info(
            "scale %d/%d: %dx%d, %d steps, %s",
            scale.index + 1,
            len(schedule),
            scale.width,
            scale.height,
            scale.iterations,
            "whole" if footprint.tile is None else f"tiles of {footprint.tile} px",
        )
    return optimize_scales(
        model, schedule, inputs_at, config, init=init, callback=callback, checkpointer=checkpointer, resume=resume
    )


def upscale(run: PreparedRun, image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A (1, 3, h, w) image of a lower scale at size (width, height), bicubic, for an interrupted
    run's output. In luminance mode only the luminance is upsampled: the chroma is the photo's own."""
    from .engine.loop import upsample
    from .nst.color import luminance, with_chroma

    image = upsample(image, (size[1], size[0]))
    if run.config.preserve_color == "luminance":
        image = with_chroma(luminance(image), to_tensor(resize_exact(run.content, size)).to(image.device))
    return image


def stylize(
    content: ImageSource,
    styles: Styles,
    *,
    config: StyleConfig | None = None,
    masks: Masks = None,
    style_masks: Masks = None,
    callback: ProgressCallback | None = None,
) -> Image.Image:
    """Paint `content` in the style of `styles`. Returns an 8-bit RGB Pillow image in sRGB.

    content: a path or a Pillow image. styles: one, or a list, of paths or Pillow images; blend
    them with `config.style_blend_weights`. The output's long side is `config.size`; each style is
    resized so its long side is `config.size * config.style_scale`.
    masks / style_masks: per style, where it paints / where its statistics come from (`prepare`).
    callback receives an `impasto.Progress` after every step.
    Raises ValueError (bad image, option or device) and NonFiniteLossError (diverged run).
    For 16-bit output, call `render(prepare(...))` and save the tensor with `impasto.save_image`.
    """
    run = prepare(content, styles, config=config, masks=masks, style_masks=style_masks)
    return to_pil(render(run, callback=callback))
