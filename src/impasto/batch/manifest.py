"""`--manifest FILE.csv|FILE.jsonl` (edge): one job per row, every problem with its file:line.

Columns (CSV header, or JSON keys):
- content: the photo; style: one style, or several separated by ";" (a JSON list too);
- style_weights: their blend weights ("0.7;0.3"); mask, style_mask: one per style, ";"-separated
  (style_mask "none" for a style read whole);
- output: the output's name, relative to OUTDIR (else the naming rule of jobs.py);
- preset, and any StyleConfig option by its name (size, seed, style_weight, preserve_color,
  iterations, ...; dashes or underscores). An empty cell leaves an option as the command line set it.
Paths are relative to the manifest's folder.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path
from typing import Any

from ..config import INIT_MODES, PRESETS, StyleConfig
from ..fields import choices, is_tuple, number_kind
from .jobs import Job, Source, output_name

_OWN = ("content", "style", "style_weights", "mask", "style_mask", "output", "preset")
_PATHS = ("content", "style", "mask", "style_mask")
_NOT_HERE = {
    "weights": "another VGG19 weights file is a Python-only option",
    "style_blend_weights": "use style_weights",
}
_FIELDS = {f.name for f in dataclasses.fields(StyleConfig)}


def _column(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def _list(value: Any, *, commas: bool = False) -> list[Any]:
    """A list cell: ";"-separated (a file name may hold a comma); numbers may also use ","."""
    if isinstance(value, list):
        return value
    text = str(value).replace(",", ";") if commas else str(value)
    return [part.strip() for part in text.split(";") if part.strip()]


def _number(kind: type, text: Any) -> Any:
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a number")
    if isinstance(text, (int, float)):
        return text
    try:
        return int(text) if kind is int else float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}") from None


def _option(name: str, value: Any, folder: Path) -> Any:
    """A cell as the field's type; ValueError with the reason."""
    if is_tuple(StyleConfig, name):
        kind = number_kind(StyleConfig, name)
        return tuple(_number(kind, v) if kind else str(v) for v in _list(value, commas=True))
    if choices(StyleConfig, name):
        return str(value)
    if (kind := number_kind(StyleConfig, name)) is not None:
        return _number(kind, value)
    if name == "init" and str(value) not in INIT_MODES:
        return str(folder / str(value))
    return value


def _paths(value: Any, folder: Path, *, none_ok: bool = False) -> tuple[Path | None, ...]:
    return tuple(None if none_ok and str(v).lower() == "none" else folder / str(v) for v in _list(value))


def _column_problem(key: str) -> str | None:
    name = _column(key)
    if name in _NOT_HERE:
        return f"column {key!r}: {_NOT_HERE[name]}"
    if name not in _OWN and name not in _FIELDS:
        return f"unknown column {key!r} (the columns are {', '.join(_OWN)} and the stylize options)"
    return None


def _job(row: dict[str, Any], where: str, folder: Path, base: dict[str, Any], preset: str, fmt: str) -> Job:
    """One row as a Job; ValueError naming the column."""
    options, own = dict(base), {}
    for key, value in row.items():
        if problem := _column_problem(key):
            raise ValueError(problem)
        if value is None or value == "" or value == []:
            continue
        name = _column(key)
        if name in _OWN:
            own[name] = value
        else:
            try:
                options[name] = _option(name, value, folder)
            except ValueError as err:
                raise ValueError(f"column {key!r}: {err}") from None
    for needed in ("content", "style"):
        if needed not in own:
            raise ValueError(f"column {needed!r} is empty")
    content = folder / str(own["content"])
    styles = tuple(p for p in _paths(own["style"], folder) if p is not None)
    if "style_weights" in own:
        try:
            weights = _list(own["style_weights"], commas=True)
            options["style_blend_weights"] = tuple(_number(float, v) for v in weights)
        except ValueError as err:
            raise ValueError(f"column 'style_weights': {err}") from None
    masks = tuple(_paths(own["mask"], folder)) if "mask" in own else None
    style_masks = _paths(own["style_mask"], folder, none_ok=True) if "style_mask" in own else None
    row_preset = str(own.get("preset", preset))
    if row_preset not in PRESETS:
        raise ValueError(f"column 'preset': unknown preset {row_preset!r}; choose one of {', '.join(PRESETS)}")
    output = (
        Path(str(own["output"]))
        if "output" in own
        else output_name(Source(content, folder), styles, fmt, keep_tree=False)
    )
    if output.is_absolute() or ".." in output.parts:
        raise ValueError(f"column 'output': {output} must be a name inside OUTDIR")
    return Job(content, styles, output, options, row_preset, masks, style_masks, where)


def _rows(path: Path, problems: list[str]) -> list[tuple[str, dict[str, Any]]]:
    text = path.read_text(encoding="utf-8-sig")
    rows = []
    if path.suffix.lower() == ".jsonl":
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                problems.append(f"{path}:{number}: not JSON ({err.msg}, column {err.colno})")
                continue
            if not isinstance(row, dict):
                problems.append(f"{path}:{number}: a row must be a JSON object")
                continue
            rows.append((f"{path}:{number}", row))
        return rows
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames:
        problems.append(f"{path}:1: no header row (content,style,...)")
        return []
    bad = [problem for key in reader.fieldnames if (problem := _column_problem(key))]
    if bad:
        problems += [f"{path}:1: {problem}" for problem in bad]
        return []
    for row in reader:
        if None in row:
            problems.append(f"{path}:{reader.line_num}: more cells than columns")
            continue
        rows.append((f"{path}:{reader.line_num}", row))
    return rows


def read_manifest(path: Path, *, base: dict[str, Any], preset: str, fmt: str, problems: list[str]) -> list[Job]:
    """The manifest's jobs; every bad row adds a line to `problems`."""
    if path.suffix.lower() not in (".csv", ".jsonl"):
        problems.append(f"manifest {path}: must be a .csv or .jsonl file")
        return []
    try:
        rows = _rows(path, problems)
    except (OSError, UnicodeDecodeError) as err:
        problems.append(f"manifest {path}: cannot read it ({getattr(err, 'strerror', None) or err})")
        return []
    if not rows and not problems:
        problems.append(f"manifest {path}: no rows")
    jobs = []
    for where, row in rows:
        try:
            jobs.append(_job(row, where, path.parent, base, preset, fmt))
        except ValueError as err:
            problems.append(f"{where}: {err}")
    return jobs
