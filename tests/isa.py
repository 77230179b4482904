"""Which arithmetic this test process runs (docs/testing.md): the CPU's flags, capped by
ONEDNN_MAX_CPU_ISA as oneDNN caps itself. `make test-isa` runs the numeric tests under each cap."""

from __future__ import annotations

from pathlib import Path

from impasto.runtime import onednn_isa_cap

# oneDNN's caps that this suite runs under, lowest first, with the CPU flags each needs and the
# MKL_ENABLE_INSTRUCTIONS value that keeps MKL's BLAS at the same level.
CAPS = {
    "AVX2": ({"avx2", "fma"}, "AVX2"),
    "AVX512_CORE": ({"avx512f", "avx512bw", "avx512vl", "avx512dq"}, "AVX512"),
    "AVX512_CORE_BF16": ({"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_bf16"}, "AVX512"),
    "AVX512_CORE_AMX": ({"avx512f", "avx512bw", "avx512vl", "avx512dq", "amx_bf16", "amx_tile"}, "AVX512_E4"),
}
_ORDER = list(CAPS)


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return next((set(line.split(":", 1)[1].split()) for line in text.splitlines() if line.startswith("flags")), set())


def caps_this_cpu_runs() -> list[str]:
    """The caps above whose instructions this CPU has, lowest first."""
    flags = cpu_flags()
    return [cap for cap, (needs, _) in CAPS.items() if needs <= flags]


def effective_cap() -> str | None:
    """The highest of CAPS that oneDNN may use in this process, or None below AVX2."""
    runnable = caps_this_cpu_runs()
    cap = onednn_isa_cap()
    if cap in _ORDER:
        runnable = [c for c in runnable if _ORDER.index(c) <= _ORDER.index(cap)]
    return runnable[-1] if runnable else None


def bf16_path() -> bool:
    """Whether bf16 convolutions run natively here: avx512_bf16 dot products or AMX tiles, and
    oneDNN allowed to use them (as `auto` decides: runtime.bf16_native). Below that oneDNN emulates
    bf16 on avx512_core (its backward passes in reference kernels, minutes per test) or PyTorch
    sends it to reference kernels: the bf16 tests are skipped, unless IMPASTO_TEST_BF16_EMULATED=1
    asks for avx512_core's emulation (exact products summed in fp32, as AMX sums them), which
    `tests/isa.py --spread` measures on CPUs without AMX."""
    import os

    import torch

    from impasto.runtime import bf16_native

    if os.environ.get("IMPASTO_TEST_BF16_EMULATED") == "1" and effective_cap() == "AVX512_CORE":
        return True
    return bf16_native(torch.device("cpu"))


def _environment(cap: str, seed: int, spread_out: str | None, emulate: bool) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("DNNL_MAX_CPU_ISA", "IMPASTO_SPREAD_OUT")}
    env |= {"ONEDNN_MAX_CPU_ISA": cap, "MKL_ENABLE_INSTRUCTIONS": CAPS[cap][1], "IMPASTO_TEST_SEED": str(seed)}
    env["IMPASTO_TEST_BF16_EMULATED"] = "1" if emulate else "0"
    if spread_out:
        env["IMPASTO_SPREAD_OUT"] = spread_out
    return env


def _table(rows: list[dict]) -> str:
    """Per test and measure: the limit, the spread over seeds x caps, and its margin."""
    import collections

    groups: dict[tuple, list[dict]] = collections.defaultdict(list)
    for row in rows:
        groups[(row["test"], row["name"], row["op"], row["limit"])].append(row)
    lines = ["| test | measure | limit | spread (seeds x caps) | worst at | margin |", "|---|---|---|---|---|---|"]
    for (test, name, op, limit), found in groups.items():
        values = [r["value"] for r in found]
        worst = max(found, key=lambda r: r["value"]) if op.startswith("<") else min(found, key=lambda r: r["value"])
        if op.startswith("<"):
            margin = limit / worst["value"] if worst["value"] > 0 else float("inf")
        elif 0 < limit < 1 and worst["value"] <= 1:  # a cosine: how much closer to 1 than the limit
            margin = (1 - limit) / (1 - worst["value"]) if worst["value"] < 1 else float("inf")
        else:
            margin = worst["value"] / limit
        margin_text = f"{margin:.2f}x" if margin != float("inf") else "exact"
        caps = sorted({r["cap"] for r in found})
        seeds = sorted({r["seed"] for r in found})
        lines.append(
            f"| {test.split('::', 1)[1]} | {name} | {op} {limit:g} | {min(values):.6g} to {max(values):.6g} "
            f"({len(seeds)} x {len(caps)}: {', '.join(caps)}) | {worst['cap']}, seed {worst['seed']} | {margin_text} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """make test-isa: the numeric tests under each cap this CPU runs, and the table of the values
    they measured against their limits. --spread: the same over seeds 0-2 (docs/testing.md)."""
    import argparse
    import os
    import subprocess
    import sys
    import tempfile
    import time

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--spread", action="store_true", help="measure over seeds 0, 1, 2 and print the table")
    parser.add_argument("--caps", help="comma-separated caps (default: every cap this CPU runs)")
    parser.add_argument(
        "--emulate-bf16", action="store_true", help="run the bf16 tests under AVX512_CORE's emulation too (slow)"
    )
    parser.add_argument("-m", "--marks", default="numeric", help="pytest -m expression [numeric]")
    parser.add_argument("--table", nargs="+", metavar="JSONL", help="only print the table of earlier measurements")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args(argv)
    if args.table:
        import json

        rows = [json.loads(line) for path in args.table for line in open(path).read().splitlines()]  # noqa: SIM115
        print(_table(rows))
        return 0
    caps = args.caps.split(",") if args.caps else caps_this_cpu_runs()
    seeds = (0, 1, 2) if args.spread else (0,)
    fd, out = tempfile.mkstemp(prefix="impasto-spread-", suffix=".jsonl")
    os.close(fd)
    summary, failed = [], False
    for cap in caps:
        for seed in seeds:
            command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", args.marks]
            start = time.monotonic()
            result = subprocess.run(
                [*command, *args.pytest_args],
                env=_environment(cap, seed, out, args.emulate_bf16),
                capture_output=True,
                text=True,
                check=False,
            )
            last = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
            failed |= result.returncode != 0
            summary.append(f"| {cap} | {seed} | {last.strip('= ')} | {time.monotonic() - start:.0f} s |")
            print(summary[-1], flush=True)
            if result.returncode != 0:
                print(result.stdout[-4000:], file=sys.stderr)
    print("\n| cap | seed | pytest | time |\n|---|---|---|---|\n" + "\n".join(summary))
    import json

    with open(out) as f:
        rows = [json.loads(line) for line in f]
    if rows:  # what each limit was held to, under every cap (and seed)
        print("\n" + _table(rows))
    print(f"\nmeasurements: {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
