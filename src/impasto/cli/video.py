"""`impasto video` (edge): typer for the options, one-line errors, a progress bar, then video/pipeline.

Its options: the command's own (files, frame range, encoding, run control), every option of
`impasto stylize` that applies to a frame (cli/options.py), and the Video group's fields.
"""

from __future__ import annotations

import inspect
import re
import time
from pathlib import Path
from typing import Any

import typer

from ..config import MAX_SIZE, PRESETS, StyleConfig
from .errors import EXIT_INTERNAL, EXIT_INTERRUPTED, fail
from .options import config_overrides, config_parameters
from .stylize import _grouped

_OUT, _RUN = "Output", "Run"
# The default long side for video: a 384x216 frame paints in about 11 s on 2 CPU cores
# (docs/video.md), about 5.5 minutes per second of 30-fps video.
VIDEO_SIZE = 384


def _own_options(
    source: Path = typer.Argument(
        ..., metavar="IN", show_default=False, help="The clip: mp4, mov, mkv, webm, GIF... or a folder of frames."
    ),
    styles: list[Path] = typer.Argument(..., metavar="STYLE", show_default=False, help="One or more paintings."),
    output: str = typer.Option(
        ...,
        "--output",
        "-o",
        metavar="OUT",
        show_default=False,
        rich_help_panel=_OUT,
        help="Where to write: .mp4 (H.264), .mkv, .webm (VP9), .gif, or a folder/ of PNG frames.",
    ),
    frames: str | None = typer.Option(
        None, "--frames", metavar="START:END", rich_help_panel=_OUT, help="Paint only frames START..END-1 (from 0)."
    ),
    crf: int = typer.Option(
        18, "--crf", min=0, max=51, rich_help_panel=_OUT, help="Quality of .mp4/.mkv/.webm: lower is better."
    ),
    fps: float | None = typer.Option(
        None,
        "--fps",
        min=0.1,
        rich_help_panel=_OUT,
        help="Frame rate of a folder of frames. [dim]\\[default: 25][/dim]",
    ),
    force: bool = typer.Option(False, "--force", metavar="", rich_help_panel=_OUT, help="Overwrite OUT if it exists."),
    restart: bool = typer.Option(
        False,
        "--restart",
        metavar="",
        rich_help_panel=_OUT,
        help="Drop the frames painted by an earlier run; start over.",
    ),
    keep_work: bool = typer.Option(
        False,
        "--keep-work",
        metavar="",
        rich_help_panel=_OUT,
        help="Keep the work folder (frames, flows) once OUT is written.",
    ),
    preset: str | None = typer.Option(
        None, "--preset", metavar="|".join(PRESETS), rich_help_panel="Look", help="Starting values for every option."
    ),
    allow_huge: bool = typer.Option(
        False, "--allow-huge", metavar="", rich_help_panel=_RUN, help=f"Allow --size over {MAX_SIZE}."
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=1,
        rich_help_panel=_RUN,
        help="Paint this many shots at once on a local Ray (a clip is cut at its scene cuts).",
    ),
    address: str | None = typer.Option(
        None, "--address", metavar="HOST:PORT", rich_help_panel=_RUN, help="Paint the shots on a Ray cluster."
    ),
    cpus_per_job: int | None = typer.Option(
        None,
        "--cpus-per-job",
        min=1,
        rich_help_panel=_RUN,
        help="CPU threads per shot with --workers or --address. [dim]\\[default: CPUs / --workers][/dim]",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", metavar="", rich_help_panel=_RUN, help="Print only errors."),
    debug: bool = typer.Option(False, "--debug", metavar="", rich_help_panel=_RUN, help="Show tracebacks."),
) -> None:
    """The command's own parameters; their signature joins the config fields' in `video`."""


def video(**values: Any) -> None:
    """Paint the clip IN in the style of STYLE images, frame after frame without flicker (Ruder et
    al. 2016), keeping its timing and sound; write it to -o OUT.

    Size: the long side is --size, 384 px unless given (never above the clip's own). The work
    folder beside OUT keeps every painted frame: Ctrl-C stops (exit 130) and the same command
    continues (add --force when OUT already existed); --restart starts over.
    """
    from ..runtime import tune_allocator
    from . import run as cli_run

    v = values
    cli_run.setup_logging(quiet=v["quiet"], debug=v["debug"])
    tune_allocator()
    try:
        overrides = config_overrides(values)
        overrides.setdefault("size", VIDEO_SIZE)
        config = StyleConfig.preset(v["preset"] or "default", **overrides)
        if config.size > MAX_SIZE and not v["allow_huge"]:
            raise ValueError(f"--size {config.size} is over {MAX_SIZE}; pass --allow-huge if you mean it")
        from ..video.pipeline import plan

        job = plan(
            v["source"],
            v["styles"],
            v["output"],
            config,
            frames=v["frames"],
            crf=v["crf"],
            fps=v["fps"],
            force=v["force"],
        )
    except (ValueError, TypeError) as err:
        fail(str(err))
    settings = None
    if v["workers"] or v["address"]:
        import os

        from ..batch.engine import Settings

        cpus = v["cpus_per_job"] or max(1, (os.cpu_count() or 1) // (v["workers"] or 1))
        settings = Settings(workers=v["workers"], address=v["address"], cpus_per_job=cpus)
    code = _execute(job, settings, restart=v["restart"], keep=v["keep_work"], quiet=v["quiet"], debug=v["debug"])
    raise typer.Exit(code)


def _execute(job, settings, *, restart: bool, keep: bool, quiet: bool, debug: bool) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from ..video import pipeline
    from ..video.work import DiskFullError

    console = Console(stderr=True, quiet=quiet)
    began = time.perf_counter()
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TextColumn("{task.fields[where]}"),
        console=console,
        transient=False,
    )
    task = bar.add_task("reading", total=job.count, where="")
    done_frames = [0]

    def on_step(p) -> None:
        eta = "" if p.eta is None else f"ETA {_clock(p.eta)}"
        where = f"frame {p.frame}/{p.frames}" + (f" pass {p.pass_index}/{p.passes}" if p.passes > 1 else "")
        where += f" step {p.step}/{p.steps} loss {p.loss:.3g}" + (f" (temporal {p.temporal:.2g})" if p.temporal else "")
        bar.update(task, description="painting", total=p.total, completed=p.done, where=f"{where} {eta}")
        done_frames[0] = p.done

    for note in job.clip.notes:
        console.print(f"impasto: warning: {note}", soft_wrap=True)
    try:
        with job.work.locked(), bar:
            shots = pipeline.analyse(job, restart=restart, callback=lambda n, total: bar.update(task, completed=n))
            bar.update(task, where=f"{len(shots)} shot{'s' * (len(shots) > 1)}, {job.size[0]}x{job.size[1]}")
            pipeline.paint(job, shots, on_step, settings=settings)
            bar.update(task, description="encoding", completed=job.count * job.config.passes, where="")
            notes = pipeline.encode(job, keep=keep)
    except KeyboardInterrupt:
        console.print(
            f"impasto: interrupted; {done_frames[0]} frame(s) kept in {job.work.root}; run the same command to continue",
            soft_wrap=True,  # one line, whatever the width
        )
        return EXIT_INTERRUPTED
    except DiskFullError as err:
        fail(f"{err.strerror}; the painted frames are kept in {job.work.root}", EXIT_INTERNAL)
    except (ValueError, OSError, RuntimeError, FloatingPointError) as err:  # MediaError, ShotError, a diverged loss
        if debug:
            raise
        fail(str(err).splitlines()[0] if str(err) else type(err).__name__, EXIT_INTERNAL)
    for note in notes:
        console.print(f"impasto: warning: {note}", soft_wrap=True)
    console.print(
        f"wrote {job.output} ({job.count} frames, {job.size[0]}x{job.size[1]}) in {_clock(time.perf_counter() - began)}"
    )
    return 0


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


def _video_parameters() -> list[inspect.Parameter]:
    """The config's options, --size showing video's own default."""
    params = config_parameters(video=True)
    for param in params:
        if param.name == "size":
            param.default.help = re.sub(r"\[default: \d+\]", f"[default: {VIDEO_SIZE}]", param.default.help)
    return params


video.__signature__ = inspect.Signature(
    _grouped(
        [
            *(
                p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
                for p in inspect.signature(_own_options, eval_str=True).parameters.values()
            ),
            *_video_parameters(),
        ]
    )
)
