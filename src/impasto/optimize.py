"""The optimization loop: pixels of a generated image are optimized to match content and style.

Reference: Gatys, Ecker & Bethge, "A Neural Algorithm of Artistic Style" (arXiv 1508.06576), §2-3:
the generated image starts from white noise and is optimized by L-BFGS on
α·L_content + β·L_style. No I/O here: progress goes to a callback, logging to `logging`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from .config import INIT_MODES, StyleConfig
from .lbfgs import LBFGS
from .losses import blend_grams, content_loss, gram_matrix, style_loss, total_variation
from .system import resolve_precision
from .vgg import VGG19Features


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or inf; the run stops rather than produce a broken image."""


@dataclass(frozen=True)
class Progress:
    """One optimizer step, as reported to the callback. Losses are already weighted."""

    step: int  # 1-based
    total: int
    loss: float
    content_loss: float
    style_loss: float
    tv_loss: float
    elapsed: float  # seconds since the loop started
    # (1, 3, H, W) in [0, 1]: the live iterate, not a copy (copy it to keep it).
    image: torch.Tensor = field(compare=False, repr=False)


ProgressCallback = Callable[[Progress], None]


def style_targets(
    model: VGG19Features, styles: Sequence[torch.Tensor], config: StyleConfig, dtype: torch.dtype = torch.float32
) -> dict[str, torch.Tensor]:
    """Blended Gram targets {layer: (1, C, C)} of the style images, computed once per run.

    styles: (1, 3, H, W) sRGB [0, 1] tensors, already at their style size; sizes may differ.
    """
    blend = config.blend_weights(len(styles))
    layers = list(config.layer_weights())
    with torch.no_grad():
        grams = [{k: gram_matrix(v) for k, v in model(s, layers, dtype=dtype).items()} for s in styles]
    return blend_grams(grams, blend)


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
    """The starting point: (1, 3, H, W) in [0, 1].

    init: one of config.INIT_MODES ("content", "noise") or an image tensor, which is resized to the
    content's size if needed.
    """
    if isinstance(init, torch.Tensor):
        if init.shape[-2:] != content.shape[-2:]:
            init = torch.nn.functional.interpolate(init, size=content.shape[-2:], mode="bicubic",
                                                   align_corners=False, antialias=True)
        return init.to(content).clamp(0, 1).contiguous()
    if init not in _INITS:
        raise ValueError(f"init must be {', '.join(INIT_MODES)} or an image tensor; got {init!r}")
    return _INITS[init](content, seed)


class _HostCopy:
    """Loss terms copied to the host as soon as they exist, read after the optimizer's step.

    On CUDA the copy is asynchronous into pinned memory and reading waits only for that copy,
    not for the optimizer's kernels queued after it: the step's own sync is the only stall.
    """

    def __init__(self, n: int, device: torch.device):
        self.cuda, self.device = device.type == "cuda", device
        self.buffer = torch.empty(n, dtype=torch.float32, pin_memory=self.cuda)
        self.event = torch.cuda.Event() if self.cuda else None

    def put(self, values: torch.Tensor) -> None:
        self.buffer.copy_(values.float(), non_blocking=self.cuda)
        if self.event is not None:  # on the stream of the tensors' own GPU, not the current one
            self.event.record(torch.cuda.current_stream(self.device))

    def get(self) -> list[float]:
        if self.event is not None:
            self.event.synchronize()
        return self.buffer.tolist()


class _ClampedAdam:
    """torch's Adam, then a clamp to [0, 1] after each step (as crowsonkb/style-transfer-pytorch)."""

    def __init__(self, image: torch.Tensor, lr: float):
        self.image, self.adam = image, torch.optim.Adam([image], lr=lr)

    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:
        loss = self.adam.step(closure)
        with torch.no_grad():
            self.image.clamp_(0.0, 1.0)
        return loss


# Both keep the image in [0, 1]. Differs from Gatys et al. 2015: the paper leaves pixels unconstrained.
_OPTIMIZERS: dict[str, Callable[[torch.Tensor, StyleConfig], Any]] = {
    "lbfgs": lambda image, c: LBFGS(image, lr=c.learning_rate, history=c.lbfgs_history),
    "adam": lambda image, c: _ClampedAdam(image, c.learning_rate),
}


def optimize_image(
    content: torch.Tensor,
    styles: Sequence[torch.Tensor],
    model: VGG19Features,
    config: StyleConfig,
    *,
    init: str | torch.Tensor | None = None,
    callback: ProgressCallback | None = None,
) -> torch.Tensor:
    """Stylize one image. Returns (1, 3, H, W) float32 in [0, 1] on the content's device.

    content: (1, 3, H, W) sRGB [0, 1] at the output size. styles: one or more such images at their
    style size. init overrides `config.init` (a path there is resolved by the caller into a tensor).
    Raises NonFiniteLossError if the loss stops being finite.
    """
    content_layer = config.content_layer
    layer_weights = config.layer_weights()
    dtype = resolve_precision(config.precision, content.device)
    with torch.no_grad():
        content_target = model(content, [content_layer], dtype=dtype)[content_layer]
    targets = style_targets(model, styles, config, dtype)
    layers = [content_layer, *layer_weights]

    image = initial_image(content, config.init if init is None else init, config.seed).requires_grad_(True)
    optimizer = _OPTIMIZERS[config.optimizer](image, config)
    host_terms = _HostCopy(3, image.device)

    def closure() -> torch.Tensor:
        image.grad = None
        features = model(image, layers, dtype=dtype)
        terms = torch.stack([
            config.content_weight * content_loss(features[content_layer], content_target),
            config.style_weight * style_loss(features, targets, layer_weights),
            config.tv_weight * total_variation(image) if config.tv_weight else image.new_zeros(()),
        ])
        loss = terms.sum()
        loss.backward()
        host_terms.put(terms.detach())
        return loss

    start = time.perf_counter()
    for step in range(1, config.iterations + 1):
        optimizer.step(closure)
        content_term, style_term, tv_term = host_terms.get()
        total = content_term + style_term + tv_term
        if not math.isfinite(total):
            raise NonFiniteLossError(
                f"loss became {total} at step {step} (content {content_term}, style {style_term}, "
                f"tv {tv_term}); try lower weights or the Adam optimizer"
            )
        if callback is not None:
            callback(Progress(step, config.iterations, total, content_term, style_term, tv_term,
                              time.perf_counter() - start, image.detach()))
    if not torch.isfinite(image).all():  # the last step can break the image after its loss was read
        raise NonFiniteLossError(f"the image holds NaN or inf after {config.iterations} steps")
    return image.detach()
