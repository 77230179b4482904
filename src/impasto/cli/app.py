"""The `impasto` command (edge): typer for the options, rich for progress, one-line errors.

It builds a `StyleConfig` from the options it was given and calls the API; defaults live only in
config.py (an option left out is not passed on, and help texts read their defaults from there).
Exit codes: 0 done, 2 bad input or options, 130 interrupted (Ctrl-C, SIGTERM), 1 internal error.
The running of a job (progress, saves, interrupts) is in cli_run.py.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any, get_args

import typer
from typer.core import TyperGroup

from ..config import (
    INIT_MODES,
    MAX_SIZE,
    PRESETS,
    ColorTransfer,
    Device,
    Optimizer,
    Padding,
    Pooling,
    Precision,
    PreserveColor,
    StyleConfig,
    StyleLoss,
)
from .info import info
from .layers import layers
from .options import finite, layer_names, memory_size, numbers, style_mask_paths
from .run import EXIT_BAD_INPUT, EXIT_INTERRUPTED
from .serve import serve

_DEFAULTS = StyleConfig()


class _OneLineErrors(TyperGroup):
    """Usage errors (bad option values, missing arguments) as one line on stderr and exit code 2."""

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelpError as err:  # `impasto` alone: the help, as usual
            err.show()
            sys.exit(err.exit_code)
        except UsageError as err:
            command = err.ctx.command_path if err.ctx else "impasto"
            typer.echo(f"impasto: error: {err.format_message()} (see '{command} --help')", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except ClickException as err:
            typer.echo(f"impasto: error: {err.format_message()}", err=True)
            sys.exit(err.exit_code)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=_OneLineErrors,
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode="rich",
    help="Paint a photograph in the style of paintings (neural style transfer, Gatys et al.).",
)


def _default(field: str) -> str:
    value = getattr(_DEFAULTS, field)
    return f"[dim]\\[default: {','.join(map(str, value)) if isinstance(value, tuple) else value}][/dim]"


_OUT, _LOOK, _CTRL, _OPT, _RUN = "Output", "Look", "Control", "Optimization", "Run"


def _choices(kind: Any) -> str:
    return "|".join(get_args(kind))


@app.command(no_args_is_help=True)
def stylize(
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
    size: int | None = typer.Option(
        None, "--size", metavar="PX", rich_help_panel=_LOOK, help=f"Longest side of the output. {_default('size')}"
    ),
    start_size: int | None = typer.Option(
        None,
        "--start-size",
        metavar="PX",
        rich_help_panel=_LOOK,
        help="First scale's longest side; scales grow by √2 up to --size "
        f"(--start-size ≥ --size: one scale). {_default('start_size')}",
    ),
    style_weights: list[str] | None = typer.Option(
        None,
        "--style-weights",
        metavar="W,W,...",
        callback=numbers,
        rich_help_panel=_LOOK,
        help="Blend of the styles, one weight each: 0.7,0.3. [dim]\\[default: equal][/dim]",
    ),
    style_scale: float | None = typer.Option(
        None,
        "--style-scale",
        callback=finite,
        rich_help_panel=_LOOK,
        help=f"Style image size relative to each scale. {_default('style_scale')}",
    ),
    style_size: int | None = typer.Option(
        None,
        "--style-size",
        metavar="PX",
        rich_help_panel=_LOOK,
        help="Fixed longest side of the style images at every scale. [dim]\\[default: follow the scale][/dim]",
    ),
    content_weight: float | None = typer.Option(
        None,
        "--content-weight",
        callback=finite,
        rich_help_panel=_LOOK,
        help=f"α, how much of the photo stays. {_default('content_weight')}",
    ),
    style_weight: float | None = typer.Option(
        None,
        "--style-weight",
        callback=finite,
        rich_help_panel=_LOOK,
        help=f"β, how strongly to paint. {_default('style_weight')}",
    ),
    tv_weight: float | None = typer.Option(
        None,
        "--tv-weight",
        callback=finite,
        rich_help_panel=_LOOK,
        help=f"Total variation smoothing. {_default('tv_weight')}",
    ),
    init: str | None = typer.Option(
        None,
        "--init",
        metavar="|".join((*INIT_MODES, "PATH")),
        rich_help_panel=_LOOK,
        help=f"Start from the photo, noise or an image. {_default('init')}",
    ),
    preset: str | None = typer.Option(
        None,
        "--preset",
        metavar="|".join(PRESETS),
        rich_help_panel=_LOOK,
        help="Starting values for every option. [dim]\\[default: default][/dim]",
    ),
    preserve_color: str | None = typer.Option(
        None,
        "--preserve-color",
        metavar=_choices(PreserveColor),
        rich_help_panel=_CTRL,
        help="Keep the photo's colours: paint only its luminance, or map the styles' colours onto "
        f"the photo's first. {_default('preserve_color')}",
    ),
    color_transfer: str | None = typer.Option(
        None,
        "--color-transfer",
        metavar=_choices(ColorTransfer),
        rich_help_panel=_CTRL,
        help=f"The colour map of --preserve-color histogram. {_default('color_transfer')}",
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
    style_loss: str | None = typer.Option(
        None,
        "--style-loss",
        metavar=_choices(StyleLoss),
        rich_help_panel=_CTRL,
        help=f"How style is compared. {_default('style_loss')}",
    ),
    content_layers: list[str] | None = typer.Option(
        None,
        "--content-layers",
        metavar="LAYER,...",
        callback=layer_names,
        rich_help_panel=_CTRL,
        help=f"VGG19 layers for content ('impasto layers'). {_default('content_layers')}",
    ),
    style_layers: list[str] | None = typer.Option(
        None,
        "--style-layers",
        metavar="LAYER,...",
        callback=layer_names,
        rich_help_panel=_CTRL,
        help=f"VGG19 layers for style. {_default('style_layers')}",
    ),
    style_layer_weights: list[str] | None = typer.Option(
        None,
        "--style-layer-weights",
        metavar="W,...",
        callback=numbers,
        rich_help_panel=_CTRL,
        help="One weight per style layer. [dim]\\[default: measured per layer][/dim]",
    ),
    pooling: str | None = typer.Option(
        None,
        "--pooling",
        metavar=_choices(Pooling),
        rich_help_panel=_CTRL,
        help=f"VGG19's pooling; avg is rescaled. {_default('pooling')}",
    ),
    padding: str | None = typer.Option(
        None,
        "--padding",
        metavar=_choices(Padding),
        rich_help_panel=_CTRL,
        help=f"The first convolution's padding. {_default('padding')}",
    ),
    optimizer: str | None = typer.Option(
        None,
        "--optimizer",
        metavar="|".join(get_args(Optimizer)),
        rich_help_panel=_OPT,
        help=f"How to step. {_default('optimizer')}",
    ),
    iterations: int | None = typer.Option(
        None,
        "--iterations",
        metavar="N",
        rich_help_panel=_OPT,
        help=f"Loss evaluations (forward + backward) at the first scale. {_default('iterations')}",
    ),
    scale_iterations: int | None = typer.Option(
        None,
        "--scale-iterations",
        metavar="N",
        rich_help_panel=_OPT,
        help=f"At each later scale. {_default('scale_iterations')}",
    ),
    ema_decay: float | None = typer.Option(
        None,
        "--ema",
        callback=finite,
        metavar="DECAY",
        rich_help_panel=_OPT,
        help=f"Average the iterates (0.9); 0 is off. {_default('ema_decay')}",
    ),
    learning_rate: float | None = typer.Option(
        None,
        "--learning-rate",
        callback=finite,
        rich_help_panel=_OPT,
        help=f"Step scale; 0.02 suits adam. {_default('learning_rate')}",
    ),
    seed: int | None = typer.Option(None, "--seed", rich_help_panel=_OPT, help=f"For noise init. {_default('seed')}"),
    device: str | None = typer.Option(
        None,
        "--device",
        metavar="|".join(get_args(Device)),
        rich_help_panel=_RUN,
        help=f"Where to compute. {_default('device')}",
    ),
    precision: str | None = typer.Option(
        None,
        "--precision",
        metavar="|".join(get_args(Precision)),
        rich_help_panel=_RUN,
        help=f"Network arithmetic; auto is bf16 where the hardware has it. {_default('precision')}",
    ),
    max_memory: str | None = typer.Option(
        None,
        "--max-memory",
        metavar="SIZE",
        callback=memory_size,
        rich_help_panel=_RUN,
        help="Budget such as 6G; bigger scales run in tiles. [dim]\\[default: ¼ of RAM, ⅘ of VRAM][/dim]",
    ),
    tile_size: int | None = typer.Option(
        None,
        "--tile-size",
        metavar="PX",
        rich_help_panel=_RUN,
        help="Force tiles of this size. [dim]\\[default: as memory requires][/dim]",
    ),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        metavar="",
        rich_help_panel=_RUN,
        help="Print the scales, tiles, memory and time estimates (timed by a few steps at 384 px) instead of running.",
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
    """Paint CONTENT in the style of one or more STYLE images; write the result to -o OUT.

    Ctrl-C saves the current image: to OUTPUT if every step ran, else to name.partial.png.
    """
    from ..runtime import tune_allocator
    from . import run as cli_run

    cli_run.setup_logging(quiet=quiet, debug=debug)
    tune_allocator()  # 1.1-1.2x per iteration on glibc (README, Speed)
    overrides = {
        k: v
        for k, v in {
            "size": size,
            "iterations": iterations,
            "seed": seed,
            "init": init,
            "device": device,
            "optimizer": optimizer,
            "learning_rate": learning_rate,
            "content_weight": content_weight,
            "style_weight": style_weight,
            "tv_weight": tv_weight,
            "style_scale": style_scale,
            "style_blend_weights": style_weights,
            "precision": precision,
            "start_size": start_size,
            "style_size": style_size,
            "scale_iterations": scale_iterations,
            "ema_decay": ema_decay,
            "max_memory": max_memory,
            "tile_size": tile_size,
            "preserve_color": preserve_color,
            "color_transfer": color_transfer,
            "style_loss": style_loss,
            "content_layers": content_layers,
            "style_layers": style_layers,
            "style_layer_weights": style_layer_weights,
            "pooling": pooling,
            "padding": padding,
        }.items()
        if v is not None
    }  # only what the user gave: config.py keeps every default
    inputs = [content, *styles, *(masks or []), *(m for m in style_masks or [] if m is not None)]
    inputs += [Path(init)] if init and init not in INIT_MODES else []
    try:
        config = StyleConfig.preset(preset, **overrides) if preset else StyleConfig.preset(**overrides)
        config.blend_weights(len(styles))  # option errors before file errors
        for given, what in ((masks, "--mask"), (style_masks, "--style-mask")):
            if given and len(given) != len(styles):
                raise ValueError(f"{len(given)} {what} for {len(styles)} style images; give one {what} per style")
        if config.size > MAX_SIZE and not allow_huge:
            raise ValueError(f"--size {config.size} is over {MAX_SIZE}; pass --allow-huge if you mean it")
        from ..api import prepare, scales

        run = prepare(
            content, styles, config=config, masks=masks or None, style_masks=style_masks, allow_huge=allow_huge
        )
        schedule = scales(run)
        outputs = cli_run.check_outputs(
            output,
            inputs,
            bit_depth=bit_depth,
            save_every=save_every,
            iterations=sum(scale.iterations for scale, _ in schedule),
            force=force or dry_run,
        )  # a dry run writes nothing
    except (ValueError, TypeError) as err:
        cli_run.fail(str(err))
    if dry_run:
        raise typer.Exit(cli_run.dry_run(run, schedule, debug=debug))
    raise typer.Exit(cli_run.execute(run, schedule, outputs, quiet=quiet, debug=debug))


app.command()(serve)


app.command()(layers)
app.command()(info)


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main() -> None:
    """The console script: SIGTERM is treated like Ctrl-C from the very start, both exit with 130."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("impasto: interrupted; nothing written", err=True)
        sys.exit(EXIT_INTERRUPTED)
