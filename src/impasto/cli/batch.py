"""`impasto batch` (edge): many outputs, on a local Ray or a cluster, resumable (impasto/batch/).

Its style options are `impasto stylize`'s, from the same definitions (cli/options.py). CONTENT
arguments come before the first --style: a shell-expanded `--style *.jpg` would otherwise turn
every painting after the first into a content, so a CONTENT after --style is refused.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand, TyperOption

from ..config import PRESETS, StyleConfig
from .batch_report import execute, print_plan
from .errors import EXIT_BAD_INPUT, fail
from .options import config_overrides, config_parameters

_IN, _OUT, _RUN = "Inputs", "Output", "Run"


class ContentsFirst(TyperCommand):
    """Refuses a CONTENT after --style (see the module docstring) with one line."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        takes_value = {o for p in self.params if isinstance(p, TyperOption) and not p.is_flag for o in p.opts}
        seen_style, i = None, 0
        while i < len(args):
            token = args[i]
            if token == "--":
                break
            if token.startswith("-") and token != "-":
                name = token.split("=", 1)[0]
                if name in ("--style", "-s"):
                    seen_style = args[i + 1] if "=" not in token and i + 1 < len(args) else token.split("=", 1)[-1]
                i += 2 if name in takes_value and "=" not in token else 1
                continue
            if seen_style is not None:
                fail(
                    f"{token} comes after --style {seen_style}: put CONTENT first, and give styles as "
                    "--style FILE per file, a folder, or a quoted glob (--style 'paintings/*.jpg'), "
                    "so that a shell-expanded glob cannot turn paintings into contents"
                )
            i += 1
        return super().parse_args(ctx, args)


def _own_options(
    contents: list[str] | None = typer.Argument(
        None, metavar="CONTENT...", show_default=False, help="Photos: files, folders or quoted globs."
    ),
    styles: list[str] | None = typer.Option(
        None,
        "--style",
        "-s",
        metavar="STYLE",
        rich_help_panel=_IN,
        show_default=False,
        help="A painting, a folder or a quoted glob; repeat for more. Every content x every style.",
    ),
    manifest: Path | None = typer.Option(
        None,
        "--manifest",
        metavar="FILE",
        rich_help_panel=_IN,
        show_default=False,
        help="A .csv or .jsonl file: one output per row (docs/batch.md), instead of CONTENT and --style.",
    ),
    recursive: bool = typer.Option(False, "--recursive", "-r", rich_help_panel=_IN, help="Descend into folders."),
    blend: bool = typer.Option(
        False, "--blend", rich_help_panel=_IN, help="One output per content with all styles blended (--style-weights)."
    ),
    outdir: Path = typer.Option(
        ...,
        "--output-dir",
        "-o",
        metavar="OUTDIR",
        rich_help_panel=_OUT,
        show_default=False,
        help="Folder of the outputs, named CONTENT--STYLE.FORMAT, and of the record batch.jsonl.",
    ),
    fmt: str = typer.Option("png", "--format", metavar="png|jpg|tif|webp", rich_help_panel=_OUT, help="Output format."),
    bit_depth: int | None = typer.Option(None, "--bit-depth", rich_help_panel=_OUT, help="8 or 16 (png, tif)."),
    keep_tree: bool = typer.Option(
        False, "--keep-tree", rich_help_panel=_OUT, help="Mirror the contents' folders under OUTDIR."
    ),
    force: bool = typer.Option(False, "--force", rich_help_panel=_OUT, help="Redo every job, even recorded ones."),
    preset: str | None = typer.Option(
        None, "--preset", metavar="|".join(PRESETS), rich_help_panel="Look", help="Starting values for every option."
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=1,
        rich_help_panel=_RUN,
        help="Jobs at once. [dim]\\[default: CPUs / --cpus-per-job][/dim]",
    ),
    address: str | None = typer.Option(
        None, "--address", metavar="HOST:PORT", rich_help_panel=_RUN, help="Join a running Ray cluster (docs/batch.md)."
    ),
    cpus_per_job: int = typer.Option(1, "--cpus-per-job", min=1, rich_help_panel=_RUN, help="CPU threads per job."),
    gpus_per_job: float = typer.Option(
        0.0, "--gpus-per-job", min=0, rich_help_panel=_RUN, help="GPUs per job (0.5: two per GPU)."
    ),
    retries: int = typer.Option(
        3, "--retries", min=0, rich_help_panel=_RUN, help="Retries of a job whose worker or node died."
    ),
    checkpoint_every: float = typer.Option(
        60.0,
        "--checkpoint-every",
        min=1,
        metavar="S",
        rich_help_panel=_RUN,
        help="Seconds between a job's checkpoints.",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", rich_help_panel=_RUN, help="Print the jobs and the time; run nothing."
    ),
    allow_huge: bool = typer.Option(False, "--allow-huge", rich_help_panel=_RUN, help="Allow huge sizes and inputs."),
    quiet: bool = typer.Option(False, "--quiet", "-q", rich_help_panel=_RUN, help="Print only errors and the report."),
    debug: bool = typer.Option(False, "--debug", rich_help_panel=_RUN, help="Show tracebacks."),
) -> None:
    """The command's own parameters; their signature joins the config fields' in `batch`."""


def _jobs(v: dict[str, Any], problems: list[str]):
    from ..batch import check_jobs, check_outdir, duplicates, expand, grid, read_manifest

    base, preset = config_overrides(v), v["preset"] or "default"
    fmt = v["fmt"].lower().lstrip(".")
    if fmt not in ("png", "jpg", "tif", "webp"):
        problems.append(f"--format {v['fmt']}: choose png, jpg, tif or webp")
        fmt = "png"  # one line for the option, not one per job
    try:
        StyleConfig.preset(preset, **base)
    except (ValueError, TypeError) as err:
        problems.append(str(err))
        preset, base = "default", {}  # the jobs' own problems are still found, once each
    if v["manifest"] is not None:
        if v["contents"] or v["styles"]:
            problems.append("give CONTENT and --style, or --manifest, not both")
        jobs = read_manifest(v["manifest"], base=base, preset=preset, fmt=fmt, problems=problems)
    else:
        if not v["contents"]:
            problems.append("no CONTENT given (or use --manifest)")
        if not v["styles"]:
            problems.append("no --style given (or use --manifest)")
        contents = expand(v["contents"] or [], recursive=v["recursive"], what="content", problems=problems)
        styles = expand(v["styles"] or [], recursive=v["recursive"], what="style", problems=problems)
        jobs = grid(contents, styles, fmt=fmt, blend=v["blend"], keep_tree=v["keep_tree"], options=base, preset=preset)
    problems += duplicates(jobs)
    problems += check_jobs(jobs, v["outdir"], allow_huge=v["allow_huge"], bit_depth=v["bit_depth"])
    problems += check_outdir(v["outdir"])
    return jobs


def batch(**values: Any) -> None:
    """Stylize many pictures: every CONTENT x every --style (or a --manifest), into OUTDIR.

    Runs on a local Ray (or a cluster with --address), resumable: rerun the same command after a
    crash or Ctrl-C and only what is missing runs. Exit 0 all done, 1 some failed, 2 bad input,
    130 interrupted.
    """
    from . import run as cli_run

    v = values
    cli_run.setup_logging(quiet=v["quiet"], debug=v["debug"])
    try:
        import ray  # noqa: F401
    except ImportError:
        fail("impasto batch needs Ray: pip install 'impasto[batch]'")
    problems: list[str] = []
    jobs = _jobs(v, problems)
    if problems:
        for line in problems:
            typer.echo(f"impasto: error: {line}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    from ..batch import Settings

    settings = Settings(
        workers=v["workers"],
        address=v["address"],
        cpus_per_job=v["cpus_per_job"],
        gpus_per_job=v["gpus_per_job"],
        retries=v["retries"],
        checkpoint_every=v["checkpoint_every"],
        force=v["force"],
        bit_depth=v["bit_depth"],
        allow_huge=v["allow_huge"],
    )
    if v["dry_run"]:
        raise typer.Exit(print_plan(jobs, v["outdir"], settings))
    raise typer.Exit(execute(jobs, v["outdir"], settings, quiet=v["quiet"], debug=v["debug"]))


batch.__signature__ = inspect.Signature(
    [
        *(
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            for p in inspect.signature(_own_options, eval_str=True).parameters.values()
        ),
        *config_parameters(),
    ]
)
