"""`impasto stylize --dry-run` (edge): the scales, tiles, memory and time a run would take.

The time comes from a real run of a few steps at a small size (api.calibrate), scaled by the
pixels of each scale; a tiled scale also pays for its overlaps and the extra forward pass.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from .memory import GIB
from .tiling import plan_tiles

TILED_PASS_COST = 1.5  # a tiled step runs forward twice and backward once per tile


def _cost_factor(width: int, height: int, tile: int | None) -> float:
    """Network pixels per image pixel of one step: 1 whole, more in overlapping tiles."""
    if tile is None:
        return 1.0
    tiles = plan_tiles(height, width, tile, offset=(tile // 2, tile // 2))
    covered = sum((t.bottom - t.top) * (t.right - t.left) for t in tiles)
    return TILED_PASS_COST * covered / (width * height)


def print_plan(run, rungs) -> int:
    """Print the plan as a table, with a calibrated time per scale. Returns the exit code (0)."""
    from .api import calibrate

    console = Console()
    seconds_per_px = calibrate(run)
    table = Table(title=f"impasto plan: {run.config.size} px on {run.device}", title_justify="left")
    for column in ("scale", "size", "steps", "style px", "passes", "L-BFGS pairs", "est. peak", "est. time"):
        table.add_column(column, justify="right")
    total_time, peak = 0.0, 0
    for scale, how in rungs:
        factor = _cost_factor(scale.width, scale.height, how.tile)
        seconds = scale.iterations * scale.pixels * seconds_per_px * factor
        total_time, peak = total_time + seconds, max(peak, how.peak_bytes)
        passes = "whole" if how.tile is None else f"~{how.passes} tiles of {how.tile}"
        pairs = str(how.history) if run.config.optimizer == "lbfgs" else "-"
        table.add_row(f"{scale.index + 1}/{len(rungs)}", f"{scale.width}x{scale.height}", str(scale.iterations),
                      str(scale.style_size), passes, pairs, f"{how.peak_bytes / GIB:.2f} GiB", _minutes(seconds))
    console.print(table)
    budget = run.config.max_memory
    console.print(f"total: {sum(s.iterations for s, _ in rungs)} steps, about {_minutes(total_time)}, "
                  f"peak about {peak / GIB:.2f} GiB"
                  + (f" (budget {budget / GIB:.2f} GiB)" if budget else " (default budget)")
                  + f"; calibrated at {seconds_per_px * 1e6:.2f} µs per pixel-step")
    return 0


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
