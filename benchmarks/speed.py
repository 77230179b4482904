"""`make bench`: the engine's speed per size and precision, against the machine's peak and pastiche.

    python benchmarks/speed.py [--quick] [--device cpu] [--json bench.json]

1. Peak: the best GFLOP/s of large 3x3 convolutions (channels_last, forward) in fp32 and bf16.
2. Engine: seconds per iteration (one forward + backward + optimizer step) at 256, 512 and 1024 px
   square, per precision, with the process's peak memory; and the GFLOP/s of the network's own
   forward + backward (VGG19 to relu5_1, gradient for the image only) against that peak.
3. Side by side with pastiche (PyPI, its defaults), in the same run, interleaved, at 512 px on the
   bundled Tubingen / Starry Night: the CLI run with N1 and N2 steps gives the cost of a step as
   (T(N2) - T(N1)) / (N2 - N1); peak RSS from the kernel; medians over the repeats. pastiche's
   1000-step default is extrapolated from its N2 >= 100-step run. Then quality (quality.py) of
   impasto's default run against pastiche stopped at the same wall time and after N2 steps.

Every figure is a median of --repeats runs (3 by default); each engine run is its own process, so
that peak memory belongs to that run alone.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTENT, STYLE = ROOT / "examples" / "tubingen.jpg", ROOT / "examples" / "starry_night.jpg"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


def vgg_flops(height: int, width: int, last: str = "relu5_1") -> int:
    """Forward FLOPs (a multiply-add is 2) of VGG19's convolutions up to `last`."""
    from impasto.nst.layers import LAYER_NAMES, conv_shapes

    shapes, flops = conv_shapes(), 0
    for name in LAYER_NAMES[: LAYER_NAMES.index(last) + 1]:
        if name.startswith("conv"):
            out_ch, in_ch, kh, kw = shapes[name]
            flops += 2 * out_ch * in_ch * kh * kw * height * width
        elif name.startswith("pool"):
            height, width = height // 2, width // 2
    return flops


def _median_time(fn, repeats: int = 5, warmup: int = 2, sync=lambda: None, inner: int = 1) -> float:
    """Median seconds of one call of fn; `inner` calls per sample amortize launch and sync (GPU)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        sync()
        times.append((time.perf_counter() - start) / inner)
    return statistics.median(times)


def child_peak(device: str) -> dict:
    """GFLOP/s of big 3x3 convolutions, the best of two VGG-like shapes, per dtype."""
    import torch

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    result = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        best = 0.0
        for channels, side in ((256, 128), (512, 64)):
            conv = torch.nn.Conv2d(channels, channels, 3, padding=1).to(
                device, dtype, memory_format=torch.channels_last
            )
            x = torch.randn(1, channels, side, side, device=device, dtype=dtype).to(memory_format=torch.channels_last)
            with torch.no_grad():
                seconds = _median_time(lambda conv=conv, x=x: conv(x), sync=sync, inner=50 if device == "cuda" else 1)
            best = max(best, 2 * channels * channels * 9 * side * side / seconds / 1e9)
        result[name] = best
    return result


def child_engine(size: int, precision: str, iterations: int, device: str) -> dict:
    """Seconds per iteration of the real loop, the network-only rate, and peak memory."""
    import torch

    from impasto.config import StyleConfig
    from impasto.engine.loop import optimize_image
    from impasto.io.read import load_tensor
    from impasto.nst.vgg import load_vgg19
    from impasto.runtime import resolve_precision, tune_allocator

    tune_allocator()  # as the CLI does

    dev = torch.device(device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    content = torch.nn.functional.interpolate(load_tensor(CONTENT, size), size=(size, size), mode="bilinear")
    style = load_tensor(STYLE, size)
    content, style = content.to(dev), style.to(dev)
    model = load_vgg19(device=dev)
    config = StyleConfig(size=size, iterations=iterations, precision=precision, device=dev.type)
    stamps: list[float] = []
    optimize_image(content, [style], model, config, callback=lambda p: stamps.append(p.elapsed))
    steps = [b - a for a, b in itertools.pairwise(stamps)][2:]  # the first steps warm up

    dtype = resolve_precision(precision, dev)
    image = content.clone().requires_grad_(True)
    layers = [*STYLE_LAYERS, "relu4_2"]

    def forward_backward() -> None:
        image.grad = None
        features = list(model(image, layers, dtype=dtype).values())
        # A gradient of ones in each feature's own layout, as the losses' gradients arrive.
        torch.autograd.backward(features, [torch.ones_like(f) for f in features])

    network = _median_time(forward_backward, repeats=3, warmup=1, sync=sync)
    if dev.type == "cuda":
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    flops = 2 * vgg_flops(size, size)  # the backward for the input only costs as much as the forward
    return {
        "sec_per_iter": statistics.median(steps),
        "network_sec": network,
        "network_gflops": flops / network / 1e9,
        "peak_bytes": peak,
    }


def _child(*args: object) -> dict:
    command = [sys.executable, __file__, "--child", *map(str, args)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def timed_run(command: list[str]) -> tuple[float, int]:
    """(wall seconds, peak RSS bytes) of a command, from the kernel's accounting of that child."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: a chatty child cannot block on it
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            raise RuntimeError(f"{' '.join(command)} exited {process.returncode}: {errors.read()[-2000:]!r}")
    return wall, usage.ru_maxrss * 1024


def impasto_cmd(out: Path, steps: int | None, size: int, device: str) -> list[str]:
    extra = ["--iterations", str(steps)] if steps is not None else []  # None: the default run
    return [
        sys.executable,
        "-m",
        "impasto",
        "stylize",
        str(CONTENT),
        str(STYLE),
        "-o",
        str(out),
        "--size",
        str(size),
        "--device",
        device,
        "--force",
        "--quiet",
        *extra,
    ]


def pastiche_cmd(out: Path, steps: int, size: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pastiche",
        "--content",
        str(CONTENT),
        "--styles",
        str(STYLE),
        "--output",
        str(out),
        "--size",
        str(size),
        "--num-steps",
        str(steps),
        "--no-verbose",
        "--device",
        "cpu",
    ]


def _auto_precision(device: str) -> str:
    import torch

    from impasto.runtime import resolve_precision

    return {torch.float32: "fp32", torch.bfloat16: "bf16"}[resolve_precision("auto", torch.device(device))]


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def engine_table(args) -> list[dict]:
    rows = {(s, p): [] for s in args.sizes for p in args.precisions}
    for _ in range(args.repeats):  # interleaved: a burst of load hits every row alike
        for (size, precision), runs in rows.items():
            runs.append(_child("engine", size, precision, args.iterations, args.device))
    table = []
    for (size, precision), runs in rows.items():
        table.append(
            {"size": size, "precision": precision, **{k: statistics.median(r[k] for r in runs) for k in runs[0]}}
        )
    return table


def side_by_side(args, folder: Path) -> dict:
    from impasto.config import StyleConfig

    n1, n2, size = args.steps[0], args.steps[1], args.versus_size
    default_steps = StyleConfig().iterations
    times: dict[tuple[str, int], list[tuple[float, int]]] = {}
    plan = [("pastiche", n1), ("impasto", n1), ("pastiche", n2), ("impasto", default_steps)]
    for _ in range(args.repeats):
        for tool, steps in plan:
            out = folder / f"{tool}_{steps}.png"
            command = (
                pastiche_cmd(out, steps, size)
                if tool == "pastiche"
                else impasto_cmd(out, None if steps == default_steps else steps, size, args.device)
            )
            times.setdefault((tool, steps), []).append(timed_run(command))
    wall = {key: statistics.median(t for t, _ in runs) for key, runs in times.items()}
    rss = {key: statistics.median(m for _, m in runs) for key, runs in times.items()}
    pastiche_step = (wall["pastiche", n2] - wall["pastiche", n1]) / (n2 - n1)
    impasto_step = (wall["impasto", default_steps] - wall["impasto", n1]) / (default_steps - n1)
    pastiche_default = wall["pastiche", n2] + (1000 - n2) * pastiche_step  # extrapolated from n2 steps
    result = {
        "size": size,
        "steps": [n1, n2],
        "impasto_precision": _auto_precision(args.device),
        "impasto_step": impasto_step,
        "pastiche_step": pastiche_step,
        "step_ratio": impasto_step / pastiche_step,
        "impasto_default_wall": wall["impasto", default_steps],
        "impasto_default_steps": default_steps,
        "pastiche_1000_wall_extrapolated": pastiche_default,
        "wall_ratio": wall["impasto", default_steps] / pastiche_default,
        "impasto_peak_rss": rss["impasto", default_steps],
        "pastiche_peak_rss": rss["pastiche", n2],
    }
    # Quality at equal wall time: pastiche gets as many steps as fit in impasto's default run.
    overhead = wall["pastiche", n1] - n1 * pastiche_step
    equal = max(1, round((wall["impasto", default_steps] - overhead) / pastiche_step))
    timed_run(pastiche_cmd(folder / f"pastiche_{equal}.png", equal, size))
    outputs = {
        f"impasto default ({default_steps} it)": folder / f"impasto_{default_steps}.png",
        f"pastiche, same wall time ({equal} steps)": folder / f"pastiche_{equal}.png",
        f"pastiche ({n2} steps)": folder / f"pastiche_{n2}.png",
    }
    if args.pastiche_full:
        timed_run(pastiche_cmd(folder / "pastiche_1000.png", 1000, size))
        outputs["pastiche default (1000 steps)"] = folder / "pastiche_1000.png"
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from quality import evaluate

    result["quality"] = {name: evaluate(str(path), str(CONTENT), [str(STYLE)]) for name, path in outputs.items()}
    return result


def report(peak: dict, engine: list[dict], versus: dict | None) -> str:
    lines = ["## Peak (3x3 conv, channels_last, forward)", "", "| dtype | GFLOP/s |", "| --- | --- |"]
    lines += [f"| {k} | {v:.0f} |" for k, v in peak.items()]
    lines += [
        "",
        "## Engine, square images",
        "",
        "| size | precision | s/iteration | network fwd+bwd s | network GFLOP/s | % of peak | peak memory* |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in engine:
        share = 100 * r["network_gflops"] / peak[r["precision"]]
        lines.append(
            f"| {r['size']} | {r['precision']} | {r['sec_per_iter']:.3f} | {r['network_sec']:.3f} | "
            f"{r['network_gflops']:.0f} | {share:.0f} % | {_gib(r['peak_bytes'])} |"
        )
    lines += ["", "\\* the process's peak RSS on CPU; torch's peak allocation on CUDA (fp32 there means TF32 convs)."]
    if versus:
        v = versus
        lines += [
            "",
            (
                f"## Side by side with pastiche, {v['size']} px, CLI runs interleaved "
                f"(impasto at its default precision, here {v['impasto_precision']}; pastiche in fp32)"
            ),
            "",
            "| | impasto | pastiche | impasto / pastiche |",
            "| --- | --- | --- | --- |",
            f"| s per step | {v['impasto_step']:.3f} | {v['pastiche_step']:.3f} | {v['step_ratio']:.2f} |",
            (
                f"| default run, s | {v['impasto_default_wall']:.1f} ({v['impasto_default_steps']} it) | "
                f"{v['pastiche_1000_wall_extrapolated']:.0f} (1000 steps, extrapolated from {v['steps'][1]}) | "
                f"{v['wall_ratio']:.3f} |"
            ),
            (
                f"| peak RSS | {_gib(v['impasto_peak_rss'])} | {_gib(v['pastiche_peak_rss'])} | "
                f"{v['impasto_peak_rss'] / v['pastiche_peak_rss']:.2f} |"
            ),
            "",
            "| output | content_rel | style_swd | style_gram | grain |",
            "| --- | --- | --- | --- | --- |",
        ]
        for name, q in v["quality"].items():
            lines.append(
                f"| {name} | {q['content_rel']:.3f} | {q['style_swd']:.3f} | {q['style_gram']:.3f} | {q['grain']:.2f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--iterations", type=int, default=7, help="loop iterations per engine run (2 warm up)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--steps",
        type=int,
        nargs=2,
        default=[10, 100],
        metavar=("N1", "N2"),
        help="pastiche's two run lengths; impasto's are N1 and its default",
    )
    parser.add_argument("--versus-size", type=int, default=512, help="size of the side-by-side runs")
    parser.add_argument("--no-pastiche", action="store_true", help="only the peak and engine tables")
    parser.add_argument("--pastiche-full", action="store_true", help="also run pastiche's 1000 steps for quality")
    parser.add_argument("--quick", action="store_true", help="one repeat, 256 and 512 px, pastiche 5/20 steps")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        result = child_peak(*rest) if kind == "peak" else child_engine(int(rest[0]), rest[1], int(rest[2]), rest[3])
        print(json.dumps(result))
        return 0
    if args.quick:
        args.repeats, args.sizes, args.steps = 1, [256, 512], [5, 20]
    peak = _child("peak", args.device)
    engine = engine_table(args)
    with tempfile.TemporaryDirectory(prefix="impasto-bench-") as folder:
        versus = None if args.no_pastiche or args.device != "cpu" else side_by_side(args, Path(folder))
    text = report(peak, engine, versus)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"peak": peak, "engine": engine, "pastiche": versus}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
