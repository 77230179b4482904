"""`impasto stylize` (edge): typer for the options, one-line errors, then the API.

Its options are the command's own (files, outputs, run control) and one per StyleConfig field
(cli/options.py derives them: name, type, bounds, help and group come from config.py). It builds a
`StyleConfig` from the preset and the options given, and never restates a default.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, get_args

import typer

from ..config import INIT_MODES, MAX_SIZE, PRESETS, StyleConfig
from ..fields import Group
from .checkpoints import plan
from .errors import fail
from .options import config_overrides, config_parameters, style_mask_paths

_OUT, _LOOK, _CTRL, _RUN = "Output", "Look", "Control", "Run"


def _own_options(
    content: Path = typer.Argument(..., metavar="CONTENT", help="The photograph to paint.", show_default=False),
    styles: list[Path] = typer.Argument(
        ..., metavar="STYLE", show_default=False, help="One or more style images (paintings)."
    ),
    output: Path = typer.Option(
        ...,
        "--output",
        "-o",
        metavar="OUT",
        help="Where to write the result: .png, .jpg, .tif or .webp.",
        rich_help_panel=_OUT,
        show_default=False,
    ),
    bit_depth: int | None = typer.Option(
        None,
        "--bit-depth",
        help="8 or 16 bits per channel. [dim]\\[default: 16 for .tif, else 8][/dim]",
        rich_help_panel=_OUT,
    ),
    save_every: int | None = typer.Option(
        None,
        "--save-every",
        min=1,
        metavar="N",
        rich_help_panel=_OUT,
        help="Also save every N steps beside the output: name.0100.png ...",
    ),
    force: bool = typer.Option(False, "--force", metavar="", help="Overwrite existing outputs.", rich_help_panel=_OUT),
    preset: str | None = typer.Option(
        None,
        "--preset",
        metavar="|".join(PRESETS),
        rich_help_panel=_LOOK,
        help="Starting values for every option. [dim]\\[default: default][/dim]",
    ),
    masks: list[Path] | None = typer.Option(
        None,
        "--mask",
        metavar="PATH",
        rich_help_panel=_CTRL,
        show_default=False,
        help="Where each style paints: one greyscale image per style, in order (white: paint, black: "
        "not; soft values blend). What no mask covers keeps the photo.",
    ),
    style_masks: list[str] | None = typer.Option(
        None,
        "--style-mask",
        metavar="PATH|none",
        callback=style_mask_paths,
        rich_help_panel=_CTRL,
        show_default=False,
        help="The part of each style image to take its style from, one per style.",
    ),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        metavar="",
        rich_help_panel=_RUN,
        help="Print the scales, tiles, memory and time estimates (timed by a few steps at 384 px) instead of running.",
    ),
    checkpoint_every: float | None = typer.Option(
        None,
        "--checkpoint-every",
        min=1,
        metavar="S",
        rich_help_panel=_RUN,
        help="Save the run's state to OUT.ckpt every S seconds and at Ctrl-C, for --resume.",
    ),
    resume: bool = typer.Option(
        False,
        "--resume",
        metavar="",
        rich_help_panel=_RUN,
        help="Continue the interrupted run whose state is in OUT.ckpt (same inputs and options).",
    ),
    allow_huge: bool = typer.Option(
        False,
        "--allow-huge",
        metavar="",
        rich_help_panel=_RUN,
        help=f"Allow --size over {MAX_SIZE} and inputs over Pillow's pixel limit.",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", metavar="", help="Print only errors.", rich_help_panel=_RUN),
    debug: bool = typer.Option(
        False, "--debug", metavar="", help="Show tracebacks and debug logs.", rich_help_panel=_RUN
    ),
) -> None:
    """The command's own parameters; their signature joins the config fields' in `stylize`."""


def stylize(**values: Any) -> None:
    """Paint CONTENT in the style of one or more STYLE images; write the result to -o OUT.

    Ctrl-C saves the current image: to OUTPUT if every step ran, else to name.partial.png; with
    --checkpoint-every it also saves the run's state, and --resume continues from it.
    """
    from ..runtime import tune_allocator
    from . import run as cli_run

    v = values
    cli_run.setup_logging(quiet=v["quiet"], debug=v["debug"])
    tune_allocator()  # 1.1-1.2x per iteration on glibc (docs/benchmarks.md)
    styles, masks, style_masks, init = v["styles"], v["masks"], v["style_masks"], v["init"]
    inputs = [v["content"], *styles, *(masks or []), *(m for m in style_masks or [] if m is not None)]
    inputs += [Path(init)] if init and init not in INIT_MODES else []
    try:
        config = StyleConfig.preset(v["preset"] or "default", **config_overrides(values))
        config.blend_weights(len(styles))  # option errors before file errors
        for given, what in ((masks, "--mask"), (style_masks, "--style-mask")):
            if given and len(given) != len(styles):
                raise ValueError(f"{len(given)} {what} for {len(styles)} style images; give one {what} per style")
        if config.size > MAX_SIZE and not v["allow_huge"]:
            raise ValueError(f"--size {config.size} is over {MAX_SIZE}; pass --allow-huge if you mean it")
        from ..api import prepare, scales

        run = prepare(
            v["content"],
            styles,
            config=config,
            masks=masks or None,
            style_masks=style_masks,
            allow_huge=v["allow_huge"],
        )
        schedule = scales(run)
        outputs = cli_run.check_outputs(
            v["output"],
            inputs,
            bit_depth=v["bit_depth"],
            save_every=v["save_every"],
            iterations=sum(scale.iterations for scale, _ in schedule),
            force=v["force"] or v["dry_run"],
        )  # a dry run writes nothing
        checkpoints = None
        if not v["dry_run"]:
            every, resume = v["checkpoint_every"], v["resume"]
            checkpoints = plan(v["output"], inputs, config, every=every, resume=resume, force=v["force"])
    except (ValueError, TypeError) as err:
        fail(str(err))
    if v["dry_run"]:
        raise typer.Exit(cli_run.dry_run(run, schedule, debug=v["debug"]))
    code = cli_run.execute(run, schedule, outputs, quiet=v["quiet"], debug=v["debug"], checkpoints=checkpoints)
    raise typer.Exit(code)


def _grouped(params: list[inspect.Parameter]) -> list[inspect.Parameter]:
    """The command's own options and the config's, in help-panel order (Output, Look, Control,
    Optimization, Run): typer lists the panels in the order it first meets them."""
    order = [_OUT, *get_args(Group)]

    def panel(p: inspect.Parameter) -> int:
        name = getattr(p.default, "rich_help_panel", None)
        return order.index(name) if name in order else -1  # the arguments first

    return sorted(params, key=panel)


stylize.__signature__ = inspect.Signature(
    _grouped(
        [
            *(
                p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
                for p in inspect.signature(_own_options, eval_str=True).parameters.values()
            ),
            *config_parameters(),
        ]
    )
)
