"""VGG19's feature layers by name: names, strides, channels, conv shapes and the network's choices
of pooling and padding. A leaf: pure Python, no torch, so that config.py can check layer names.

Reference: Simonyan & Zisserman (arXiv 1409.1556), configuration E; Gatys et al. (arXiv 1508.06576)
name layers as relu{block}_{i}, which `impasto layers` lists.
"""

from __future__ import annotations

import re
from typing import Literal

Pooling = Literal["max", "avg"]
Padding = Literal["zeros", "reflect", "replicate"]

# (block, convs per block, output channels) of VGG19's feature part.
BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 4, 256), (4, 4, 512), (5, 4, 512))


def _layer_names() -> tuple[str, ...]:
    names: list[str] = []
    for block, convs, _ in BLOCKS:
        for i in range(1, convs + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return tuple(names)


LAYER_NAMES: tuple[str, ...] = _layer_names()


def stride(layer: str) -> int:
    """Pixels per feature position at a named VGG19 layer (2 per pooling up to and including it)."""
    return 2 ** sum(name.startswith("pool") for name in LAYER_NAMES[: LAYER_NAMES.index(layer) + 1])


def conv_shapes() -> dict[str, tuple[int, int, int, int]]:
    """The weight shape (out, in, 3, 3) of every conv layer, by name."""
    shapes, in_ch = {}, 3
    for block, convs, out_ch in BLOCKS:
        for i in range(1, convs + 1):
            shapes[f"conv{block}_{i}"] = (out_ch, in_ch, 3, 3)
            in_ch = out_ch
    return shapes


def channels(layer: str) -> int:
    """Number of feature channels a named layer outputs."""
    if layer not in LAYER_NAMES:
        raise ValueError(f"unknown VGG19 layer {layer!r}")
    block = int(re.search(r"\d", layer).group())
    return {b: c for b, _, c in BLOCKS}[block]
