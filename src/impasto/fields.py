"""Options as dataclass fields that carry their help, group and bounds, and the checks derived from
them: StyleConfig declares each option once (config.py), and validation, the CLI's options
(cli/options.py) and the option table of docs/cli.md read it from here. A leaf: no impasto imports.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, Literal, get_args, get_origin, get_type_hints

# Where an option shows in `--help` and docs; "Video" options belong to `impasto video` alone.
Group = Literal["Look", "Control", "Optimization", "Run", "Video"]


def option(
    default: Any,
    help: str,
    group: Group,
    *,
    minimum: float | None = None,
    maximum: float = math.inf,
    strict: bool = False,
    default_text: str | None = None,
) -> Any:
    """A dataclass field with its help, its group and its bounds (`minimum`, `maximum`; `strict`:
    > minimum; for a tuple, of each item), and, where the default alone says too little, how to
    show the default. Choices come from the field's Literal type."""
    meta = {"help": help, "group": group, "minimum": minimum, "maximum": maximum, "strict": strict}
    return dataclasses.field(default=default, metadata={**meta, "default_text": default_text})


@functools.cache
def type_hints(cls: type) -> dict[str, Any]:
    """The resolved type of every field of a dataclass."""
    return get_type_hints(cls)


def _parts(kind: Any) -> tuple[Any, ...]:
    return (kind, *get_args(kind))


def choices(cls: type, name: str) -> tuple[str, ...]:
    """The values a field's Literal type allows (Optional included), () for other fields."""
    return next((get_args(k) for k in _parts(type_hints(cls)[name]) if get_origin(k) is Literal), ())


def is_tuple(cls: type, name: str) -> bool:
    return any(get_origin(k) is tuple for k in _parts(type_hints(cls)[name]))


def is_optional(cls: type, name: str) -> bool:
    return type(None) in get_args(type_hints(cls)[name])


def number_kind(cls: type, name: str) -> type | None:
    """int or float for a numeric field (or a tuple of numbers), None for others."""
    flat = [a for k in _parts(type_hints(cls)[name]) for a in _parts(k)]
    return next((t for t in (float, int) if t in flat), None)


def check_choice(name: str, value: Any, allowed: tuple[Any, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}; got {value!r}")


def check_number(
    name: str, value: Any, *, minimum: float, integer: bool = False, strict: bool = False, maximum: float = math.inf
) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise TypeError(f"{name} must be {'an integer' if integer else 'a number'}; got {value!r}")
    if not math.isfinite(value) or value < minimum or (strict and value == minimum):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {minimum}; got {value!r}")
    if value > maximum:
        raise ValueError(f"{name} must be <= {maximum}; got {value!r}")


def check_fields(instance: Any) -> None:
    """Each field of a dataclass instance against its metadata: one of its Literal's values, or a
    number (each number of a tuple) within its bounds. None passes where the type allows it.
    Raises ValueError or TypeError naming the field."""
    cls = type(instance)
    for f in dataclasses.fields(instance):
        value = getattr(instance, f.name)
        if value is None and is_optional(cls, f.name):
            continue
        if allowed := choices(cls, f.name):
            check_choice(f.name, value, allowed)
        elif f.metadata.get("minimum") is not None:
            bounds = {k: f.metadata[k] for k in ("minimum", "maximum", "strict")}
            integer = number_kind(cls, f.name) is int
            for item in value if is_tuple(cls, f.name) else (value,):
                check_number(f.name, item, integer=integer, **bounds)
