"""Everything checked before anything runs (edge): every job's options, every input's header, the
output folder. One line per problem, all of them at once."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from ..config import MAX_SIZE, MIN_SIZE
from ..io.read import check_file
from ..io.write import output_format, probe_writable
from .jobs import Job


def _header(path: Path, allow_huge: bool) -> str | None:
    """None when the file opens as an image of a usable size, else "path: reason"."""
    try:
        check_file(path)  # missing, a folder, unreadable, empty: the messages of impasto stylize
    except ValueError as err:
        return str(err)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
    except Image.DecompressionBombError:
        return None if allow_huge else f"{path}: over Pillow's pixel limit (pass --allow-huge if you mean it)"
    except Image.DecompressionBombWarning:
        return None
    except (OSError, SyntaxError, ValueError) as err:
        return f"{path}: not an image Pillow can read ({str(err).splitlines()[0] if str(err) else type(err).__name__})"
    if min(width, height) < MIN_SIZE:
        return f"{path}: {width}x{height} px; VGG19 needs at least {MIN_SIZE} px on each side"
    return None


def check_jobs(jobs: Sequence[Job], outdir: Path, *, allow_huge: bool, bit_depth: int | None = None) -> list[str]:
    """Problems with the jobs themselves: options, output formats and inputs (each file's header read once)."""
    problems, headers = [], {}
    for job in jobs:
        try:
            output_format(job.output, bit_depth)
            config = job.config()
            config.blend_weights(len(job.styles))
            if config.size > MAX_SIZE and not allow_huge:
                raise ValueError(f"size {config.size} is over {MAX_SIZE}; pass --allow-huge if you mean it")
            for given, what in ((job.masks, "masks"), (job.style_masks, "style masks")):
                if given is not None and len(given) != len(job.styles):
                    raise ValueError(f"{len(given)} {what} for {len(job.styles)} style images; give one per style")
        except (ValueError, TypeError) as err:
            problems.append(f"{job.origin}: {err}")
        for path in job.inputs():
            key = os.path.abspath(path)
            if key not in headers:
                headers[key] = _header(path, allow_huge)
                if headers[key]:
                    problems.append(f"{job.origin}: {headers[key]}")
        target = (outdir / job.output).resolve()
        if any(target == p.resolve() for p in job.inputs()):
            problems.append(f"{job.origin}: output {outdir / job.output} is one of its inputs")
    return problems


def check_outdir(outdir: Path) -> list[str]:
    """OUTDIR exists (created here when its parent does) and really takes files."""
    try:
        outdir.mkdir(exist_ok=True)
    except FileNotFoundError:
        return [f"output folder {outdir}: its parent folder does not exist"]
    except OSError as err:
        return [f"output folder {outdir}: cannot create it ({err.strerror or err})"]
    if not outdir.is_dir():
        return [f"output folder {outdir} is not a folder"]
    try:
        probe_writable(outdir)
    except ValueError as err:
        return [str(err)]
    return []
