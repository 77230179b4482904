"""impasto: neural style transfer (Gatys et al. 2015, and later work) at print resolution.

    import impasto
    image = impasto.stylize("photo.jpg", "painting.jpg", config=impasto.StyleConfig(size=768))
    image.save("out.png")

Names are re-exported lazily, so `import impasto` stays cheap until torch is needed.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._version import __version__

_EXPORTS = {
    "stylize": "api",
    "prepare": "api",
    "render": "api",
    "save_image": "io.write",
    "StyleConfig": "config",
    "PRESETS": "config",
    "Progress": "engine.loop",
    "NonFiniteLossError": "engine.loop",
    "LAYER_NAMES": "nst.layers",
    "load_vgg19": "nst.vgg",
}

__all__ = [
    "LAYER_NAMES",
    "PRESETS",
    "NonFiniteLossError",
    "Progress",
    "StyleConfig",
    "__version__",
    "load_vgg19",
    "prepare",
    "render",
    "save_image",
    "stylize",
]

if TYPE_CHECKING:  # pragma: no cover
    from .api import prepare, render, stylize
    from .config import PRESETS, StyleConfig
    from .engine.loop import NonFiniteLossError, Progress
    from .io.write import save_image
    from .nst.layers import LAYER_NAMES
    from .nst.vgg import load_vgg19


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'impasto' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
