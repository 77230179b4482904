"""The loop over scales and steps: the per-scale criterion, optimizers, the schedule of scales, the
memory footprint and tiling, colour modes and style targets. May import nst, config and runtime."""
