"""The server's own settings (limits, data folder, token) and the options a job may set.

A job's options become a `StyleConfig` through `StyleConfig.preset`: the page and the API leave
out what the user did not set, so every default stays in config.py.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, get_args

from ..config import MAX_SEED, MIN_SIZE, PRESETS, PreserveColor, StyleConfig

MB = 1 << 20
_TOKEN = re.compile(r"[A-Za-z0-9._~-]{8,}")


def default_data_dir() -> Path:
    """`web` in impasto's cache folder (runtime.cache_dir: $IMPASTO_CACHE or the user's cache)."""
    from ..runtime import cache_dir  # runtime imports torch: not for `impasto --help`

    return cache_dir() / "web"


@dataclass(frozen=True)
class ServerSettings:
    """What one `impasto serve` allows. Over a limit, a request gets a 4xx JSON error."""

    data_dir: Path
    max_upload_bytes: int = 25 * MB  # one job's request: the photo and every painting together
    max_pixels: int = 50_000_000  # per input image, read from its header before decoding
    max_size: int = 2048  # longest side of a result
    max_iterations: int = 2000  # steps at the first scale
    max_styles: int = 8
    max_queue: int = 32  # jobs waiting, not counting the one running
    token: str | None = None  # when set, every API call needs it (bearer header or the page's cookie)
    preview_interval: float = 0.5  # seconds between live previews (the first and last step always send one)
    preview_size: int = 768  # longest side of a live preview

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir).expanduser())
        for name in ("max_upload_bytes", "max_pixels", "max_size", "max_iterations", "max_styles", "max_queue"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1; got {getattr(self, name)}")
        if self.max_size < MIN_SIZE:
            raise ValueError(f"max_size must be >= {MIN_SIZE}; got {self.max_size}")
        if self.token is not None and not _TOKEN.fullmatch(self.token):
            raise ValueError(
                "the token must be at least 8 characters of A-Z, a-z, 0-9 and . _ ~ - "
                "(it travels in a link and a cookie)"
            )


STRENGTH_RANGE = (0.01, 100.0)


@dataclass(frozen=True)
class JobOptions:
    """What a job may choose. None: the preset's value. style_strength multiplies the preset's
    style weight, so that 1 is each preset's own balance."""

    size: int | None = None
    iterations: int | None = None
    style_strength: float = 1.0
    preserve_color: str | None = None
    preset: str = "default"
    seed: int | None = None

    def check(self, settings: ServerSettings) -> None:
        """ValueError naming the first option out of this server's bounds (the choices themselves,
        such as preserve_color, are checked by StyleConfig, in `config`)."""
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}; got {self.preset!r}")
        bounds = {
            "size": (MIN_SIZE, settings.max_size),
            "iterations": (1, settings.max_iterations),
            "style_strength": STRENGTH_RANGE,
            "seed": (0, MAX_SEED),
        }
        for name, (low, high) in bounds.items():
            value = getattr(self, name)
            if value is not None and not low <= value <= high:
                raise ValueError(f"{name} must be between {low} and {high}; got {value}")

    def config(self) -> StyleConfig:
        base = StyleConfig.preset(self.preset)
        overrides: dict[str, Any] = {
            k: v
            for k, v in {
                "size": self.size,
                "iterations": self.iterations,
                "preserve_color": self.preserve_color,
                "seed": self.seed,
            }.items()
            if v is not None
        }
        if self.style_strength != 1.0:
            overrides["style_weight"] = base.style_weight * self.style_strength
        return dataclasses.replace(base, **overrides)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def option_defaults(settings: ServerSettings) -> dict[str, Any]:
    """What the page needs to draw its form: each preset's defaults, and this server's bounds."""
    return {
        "presets": {
            name: {"size": c.size, "iterations": c.iterations, "seed": c.seed, "preserve_color": c.preserve_color}
            for name, c in ((n, StyleConfig.preset(n)) for n in PRESETS)
        },
        "preserve_color": list(get_args(PreserveColor)),
        "bounds": {
            "size": [MIN_SIZE, settings.max_size],
            "iterations": [1, settings.max_iterations],
            "style_strength": list(STRENGTH_RANGE),
        },
        "limits": {
            "max_upload_bytes": settings.max_upload_bytes,
            "max_pixels": settings.max_pixels,
            "max_styles": settings.max_styles,
            "max_queue": settings.max_queue,
        },
    }
