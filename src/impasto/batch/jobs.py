"""Batch jobs (edge): what each output is made of, where it goes, and every problem found at once.

A `Job` is one output: a content image, its styles (blended when more than one), optional masks,
and the StyleConfig overrides asked for (the preset and options shared with `impasto stylize`).
`grid` makes every content x every style (or, with blend, one output per content); manifest.py
makes one job per row. `check` then validates them all and returns one line per problem.

Output names, one rule (docs/batch.md):
    OUTDIR/[TREE/]{content}--{style}[+{style}...].{format}
{content} and {style} are the file names without their extension; TREE is the content's folder
relative to the folder or glob it was found under, with --keep-tree only; a manifest row may name
its output instead (relative to OUTDIR).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import INIT_MODES, StyleConfig

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp")
FORMATS = ("png", "jpg", "tif", "webp")


@dataclass(frozen=True)
class Source:
    """An input file and the folder it was found under (for --keep-tree)."""

    path: Path
    root: Path

    @property
    def tree(self) -> Path:
        relative = self.path.parent.relative_to(self.root) if self.path.is_relative_to(self.root) else Path()
        return relative


@dataclass(frozen=True)
class Job:
    """One output. `options` are the overrides asked for (the record matches on them, with the
    preset); `config` applies them to the preset."""

    content: Path
    styles: tuple[Path, ...]
    output: Path  # relative to OUTDIR
    options: dict[str, Any] = field(default_factory=dict, hash=False)
    preset: str = "default"
    masks: tuple[Path, ...] | None = None
    style_masks: tuple[Path | None, ...] | None = None
    origin: str = ""  # where it came from, for messages: "manifest.csv:3" or the content's path

    def config(self) -> StyleConfig:
        return StyleConfig.preset(self.preset, **self.options)

    def inputs(self) -> list[Path]:
        """Every file the job reads, in a fixed order (content, styles, masks, style masks, init)."""
        files = [self.content, *self.styles, *(self.masks or ()), *(m for m in self.style_masks or () if m)]
        init = self.options.get("init")
        return files + ([Path(init)] if init and init not in INIT_MODES else [])

    def requested(self) -> dict[str, Any]:
        """The options as asked for: what a rerun must match (not as resolved on a node)."""
        return {"preset": self.preset, **self.options}


def _is_glob(text: str) -> bool:
    return glob.has_magic(text)


def _glob_root(spec: str) -> Path:
    """The folder part of a pattern before its first wildcard: photos/**/*.jpg -> photos."""
    parts = []
    for part in Path(os.path.expanduser(spec)).parts:
        if _is_glob(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path()


def expand(specs: Sequence[str], *, recursive: bool, what: str, problems: list[str]) -> list[Source]:
    """Files, folders (their images, sorted; --recursive descends) and globs, in the order given."""
    found: list[Source] = []
    for spec in specs:
        path = Path(spec).expanduser()
        if _is_glob(spec):
            matches = sorted(glob.glob(os.path.expanduser(spec), recursive=recursive))
            files = [Path(m) for m in matches if Path(m).is_file()]
            if not files:
                problems.append(f"{what} {spec!r}: the pattern matches no file")
            found += [Source(f, _glob_root(spec)) for f in files]
        elif path.is_dir():
            walker = path.rglob("*") if recursive else path.iterdir()
            files = sorted(p for p in walker if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                problems.append(f"{what} folder {spec}: no images in it ({', '.join(IMAGE_SUFFIXES)})")
            found += [Source(f, path) for f in files]
        elif path.exists():
            found.append(Source(path, path.parent))
        else:
            problems.append(f"{what} {spec}: no such file or folder")
    return found


def output_name(content: Source, styles: Sequence[Path], fmt: str, *, keep_tree: bool) -> Path:
    name = f"{content.path.stem}--{'+'.join(s.stem for s in styles)}.{fmt}"
    return (content.tree / name) if keep_tree else Path(name)


def grid(
    contents: Sequence[Source],
    styles: Sequence[Source],
    *,
    fmt: str,
    blend: bool,
    keep_tree: bool,
    options: dict[str, Any],
    preset: str,
) -> list[Job]:
    """Every content x every style; with blend, one job per content with all the styles."""
    style_paths = [s.path for s in styles]
    groups = [tuple(style_paths)] if blend else [(p,) for p in style_paths]
    return [
        Job(c.path, g, output_name(c, g, fmt, keep_tree=keep_tree), dict(options), preset, origin=str(c.path))
        for c in contents
        for g in groups
    ]


def duplicates(jobs: Sequence[Job]) -> list[str]:
    """Two jobs that would write one file: a bad invocation."""
    seen: dict[str, Job] = {}
    problems = []
    for job in jobs:
        key = os.path.normcase(os.path.normpath(job.output))
        if key in seen:
            problems.append(
                f"{job.origin}: output {job.output} is also written by {seen[key].origin} "
                "(use --keep-tree, or name the outputs in a manifest)"
            )
        else:
            seen[key] = job
    return problems
