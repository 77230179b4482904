"""impasto: neural style transfer (Gatys et al. 2015, and later work) at print resolution.

    import impasto
    image = impasto.stylize("photo.jpg", "painting.jpg", config=impasto.StyleConfig(size=768))
    image.save("out.png")

Names are re-exported lazily, so `import impasto` stays cheap until torch is needed.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "stylize": "api",
    "StyleConfig": "config",
    "PRESETS": "config",
    "Progress": "optimize",
    "NonFiniteLossError": "optimize",
    "LAYER_NAMES": "vgg",
    "load_vgg19": "vgg",
}

__all__ = [
    "LAYER_NAMES",
    "PRESETS",
    "NonFiniteLossError",
    "Progress",
    "StyleConfig",
    "__version__",
    "load_vgg19",
    "stylize",
]

if TYPE_CHECKING:  # pragma: no cover
    from .api import stylize
    from .config import PRESETS, StyleConfig
    from .optimize import NonFiniteLossError, Progress
    from .vgg import LAYER_NAMES, load_vgg19


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'impasto' has no attribute {name!r}")
