"""The options of `impasto stylize` (edge): parsers that typer cannot check alone (numbers, lists,
layer names, sizes; each raises typer.BadParameter, printed as one line, exit 2), and StyleConfig's
fields turned into options, the one table of how the command line spells them differently, and
the Markdown option table of docs/cli.md."""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperOption

from ..config import StyleConfig
from ..fields import choices, is_tuple, number_kind


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


def distances(values: list[str] | None) -> list[int] | None:
    """`--long-term 1,2,4`: whole numbers of frames."""
    if not values:
        return None
    items = _items(values)
    if not items or not all(text.isdigit() and int(text) >= 1 for text in items):
        raise typer.BadParameter(f"{','.join(values)!r}: give frame distances such as 1,2,4")
    return [int(text) for text in items]


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


# --- StyleConfig's fields as `impasto stylize` options --------------------------------------------
# Every field is an option named after it (--start-size for start_size), typed, grouped and helped
# by its metadata (config.py, fields.py). Only where the command line spells a field differently
# does it say so here; fields the command line does not offer are in API_ONLY with their reason.


@dataclass(frozen=True)
class Spelling:
    """How the command line differs from a field: its flag, its metavar, its parser, its help."""

    flag: str | None = None
    metavar: str | None = None
    parse: Callable[[Any], Any] | None = None
    help: str | None = None


SPELLINGS: dict[str, Spelling] = {
    "size": Spelling(metavar="PX"),
    "start_size": Spelling(metavar="PX"),
    "style_size": Spelling(metavar="PX"),
    "tile_size": Spelling(metavar="PX"),
    "iterations": Spelling(metavar="N"),
    "scale_iterations": Spelling(metavar="N"),
    "init": Spelling(metavar="content|noise|PATH"),
    "ema_decay": Spelling(flag="--ema", metavar="DECAY"),
    "style_blend_weights": Spelling(flag="--style-weights", metavar="W,W,...", parse=numbers),
    "style_layer_weights": Spelling(metavar="W,...", parse=numbers),
    "content_layers": Spelling(metavar="LAYER,...", parse=layer_names),
    "style_layers": Spelling(metavar="LAYER,...", parse=layer_names),
    "frame_iterations": Spelling(metavar="N"),
    "long_term": Spelling(metavar="J,...", parse=distances),
    "max_memory": Spelling(metavar="SIZE", parse=memory_size, help="Budget such as 6G; bigger scales run in tiles."),
}

API_ONLY: dict[str, str] = {
    "lbfgs_history": "the memory plan shortens it as a scale needs (engine/memory.py); a research knob",
    "style_layer_weighting": "the presets set it; --style-layer-weights gives any weighting",
    "weights": "another VGG19 weights file, from Python (impasto.StyleConfig(weights=...))",
}


def _shown_default(f: dataclasses.Field) -> str:
    if f.metadata["default_text"]:
        return f.metadata["default_text"]
    value = f.default
    return ",".join(map(str, value)) if isinstance(value, tuple) else "none" if value is None else str(value)


def config_parameters(*, video: bool = False) -> list[inspect.Parameter]:
    """One keyword parameter per StyleConfig field the command line offers, named after the field,
    with default None (a field left out keeps the preset's value), in field order. The Video
    group's fields are options of `impasto video` alone (video=True)."""
    params = []
    for f in dataclasses.fields(StyleConfig):
        if f.name in API_ONLY or (f.metadata["group"] == "Video" and not video):
            continue
        spelling = SPELLINGS.get(f.name, Spelling())
        allowed, kind = choices(StyleConfig, f.name), number_kind(StyleConfig, f.name)
        if is_tuple(StyleConfig, f.name):
            annotation, parse = list[str] | None, spelling.parse
        elif allowed or kind is None or spelling.parse:  # a parser reads the text itself
            annotation, parse = str | None, spelling.parse
        else:
            annotation, parse = kind | None, finite if kind is float else None
        option = typer.Option(
            None,
            spelling.flag or "--" + f.name.replace("_", "-"),
            metavar=spelling.metavar or ("|".join(allowed) if allowed else None),
            callback=parse,
            help=f"{spelling.help or f.metadata['help']} [dim]\\[default: {_shown_default(f)}][/dim]",
            rich_help_panel=f.metadata["group"],
            show_default=False,
        )
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation))
    return params


def config_overrides(values: dict[str, Any]) -> dict[str, Any]:
    """The StyleConfig fields among a command's parameters that the user gave."""
    names = {f.name for f in dataclasses.fields(StyleConfig)}
    return {k: v for k, v in values.items() if k in names and v is not None}


def option_table(command: Any, groups: tuple[str, ...] | None = None) -> str:
    """The options of a (click) command as Markdown tables, one per help group (docs/cli.md), and
    the fields offered to Python alone; only `groups`' tables when given (docs/video.md)."""
    rows: dict[str, list[str]] = {}
    for param in command.params:
        if not isinstance(param, TyperOption):
            continue
        if groups is not None and getattr(param, "rich_help_panel", None) not in groups:
            continue
        flags = ", ".join(f"`{o}`" for o in param.opts)
        metavar = f" `{param.metavar}`".replace("|", "\\|") if param.metavar else ""
        text = re.sub(r"\[/?dim\]", "", param.help or "").replace("\\[", "[").replace("|", "\\|")
        group = getattr(param, "rich_help_panel", None) or "Other"
        rows.setdefault(group, []).append(f"| {flags}{metavar} | {text} |")
    out = []
    for group, lines in rows.items():
        out += [f"**{group}**", "", "| option | what it does |", "| --- | --- |", *lines, ""]
    if groups is not None:
        return "\n".join(out)
    out += ["**Python only** (`impasto.StyleConfig`)", "", "| field | what it does | why not an option |"]
    out.append("| --- | --- | --- |")
    fields = {f.name: f for f in dataclasses.fields(StyleConfig)}
    for name, why in API_ONLY.items():
        f = fields[name]
        out.append(f"| `{name}` | {f.metadata['help']} [default: {_shown_default(f)}] | {why} |")
    return "\n".join(out) + "\n"
