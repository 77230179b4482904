"""`impasto stylize --dry-run` (edge): the scales, tiles, memory and time a run would take.

The time comes from a real run of a few steps at a small size (api.calibrate), scaled by each
scale's step cost (memory.step_cost: its pixels; tiles also pay for overlaps and a second forward).
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ..engine.memory import GIB, step_cost


def print_dry_run(run, schedule) -> int:
    """Print the plan as a table, with a calibrated time per scale. Returns the exit code (0)."""
    from ..api import calibrate
    from ..runtime import memory_budget

    console = Console(width=None if Console().is_terminal else 120)
    seconds_per_px = calibrate(run)
    table = Table(title=f"impasto plan: {run.config.size} px on {run.device}", title_justify="left")
    config = run.config
    steps = "steps, at most" if config.stop_tolerance else "steps"
    for column in ("scale", "size", steps, "style px", "passes", "L-BFGS pairs", "est. peak", "est. time"):
        table.add_column(column, justify="right")
    total_time, peak = 0.0, 0
    for scale, how in schedule:
        seconds = scale.iterations * step_cost(scale, how) * seconds_per_px
        total_time, peak = total_time + seconds, max(peak, how.peak_bytes)
        passes = "whole" if how.tile is None else f"~{how.passes} tiles of {how.tile}"
        pairs = str(how.history) if config.optimizer == "lbfgs" else "-"
        table.add_row(
            f"{scale.index + 1}/{len(schedule)}",
            f"{scale.width}x{scale.height}",
            str(scale.iterations),
            str(scale.style_size),
            passes,
            pairs,
            f"{how.peak_bytes / GIB:.2f} GiB",
            _minutes(seconds),
        )
    console.print(table)
    budget = config.max_memory or memory_budget(run.device)
    console.print(
        f"total: {sum(s.iterations for s, _ in schedule)} steps, "
        + ("at most" if config.stop_tolerance else "about")
        + f" {_minutes(total_time)}, "
        f"peak about {peak / GIB:.2f} GiB (budget {budget / GIB:.2f} GiB"
        + ("" if config.max_memory else ", the default")
        + ")"
        + f"; calibrated at {seconds_per_px * 1e6:.2f} µs per pixel-step"
    )
    if config.stop_tolerance:
        console.print(
            f"each scale stops early once its loss improves by less than {config.stop_tolerance:g} over "
            f"{config.stop_window} steps, after at least {config.min_iterations}: the time is an upper bound"
        )
    return 0


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
