"""Parsers of the `impasto stylize` options that typer cannot check alone (edge): numbers, lists,
layer names, sizes. Each raises typer.BadParameter, which the CLI prints as one line (exit 2)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import typer


def finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"must be a finite number; got {value}")
    return value


def _items(values: list[str] | None) -> list[str]:
    """`--x a,b` or `--x a --x b`: the comma-separated items of every value, stripped."""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def numbers(values: list[str] | None) -> list[float] | None:
    """`--style-weights 0.7,0.3` or `--style-weights 0.7 --style-weights 0.3`."""
    if not values:
        return None
    weights = []
    for text in _items(values):
        try:
            weight = float(text)
        except ValueError:
            raise typer.BadParameter(f"{text!r} is not a number") from None
        weights.append(finite(weight))
    if not weights:
        raise typer.BadParameter("give one number per style image or style layer, such as 0.7,0.3")
    return weights


def layer_names(values: list[str] | None) -> list[str] | None:
    """`--style-layers relu1_1,relu2_1`: names checked against `impasto layers` by the config."""
    if not values:
        return None
    names = _items(values)
    if not names:
        raise typer.BadParameter("give layer names such as relu4_2; 'impasto layers' lists them")
    return names


def style_mask_paths(values: list[str] | None) -> list[Path | None] | None:
    """One per style; `none` for a style read whole."""
    return None if not values else [None if v.lower() == "none" else Path(v) for v in values]


_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_MEMORY = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(i?b)?\s*", re.IGNORECASE)


def memory_size(value: str | None) -> int | None:
    """`--max-memory 6G` (also 6GiB, 6GB, 6000M, 6.5g; a bare number is GiB): bytes, binary units."""
    if value is None:
        return None
    match = _MEMORY.fullmatch(value)
    if not match or (match.group(3) and not match.group(2)):
        raise typer.BadParameter(f"{value!r} is not a size such as 6G or 512M")
    number = float(match.group(1))
    if not math.isfinite(number) or number <= 0:
        raise typer.BadParameter(f"must be a positive size such as 6G; got {value!r}")
    return int(number * _UNITS[(match.group(2) or "g").lower()])
