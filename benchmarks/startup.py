"""Start-up time: from process start to the first optimizer step of a 64-px run.

    python benchmarks/startup.py [--runs 3]

Each run is a fresh Python process (imports torch, loads and checks the VGG19 weights, loads the
images, computes targets, takes one step). The first run warms the disk cache; the median of the
rest is the warm figure. Also prints the in-process VGG19 load time and the cached re-load time.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = f"""
import time, sys
sys.path.insert(0, {str(ROOT / "src")!r})
import impasto
first = []
def on_step(p):
    if not first:
        first.append(time.time())
        raise SystemExit(0)
try:
    impasto.stylize({str(ROOT / "examples/tubingen.jpg")!r}, {str(ROOT / "examples/starry_night.jpg")!r},
                    config=impasto.StyleConfig(size=64, iterations=10, device="cpu"), callback=on_step)
finally:
    print(first[0])
"""
LOAD = f"""
import time, sys
sys.path.insert(0, {str(ROOT / "src")!r})
from impasto.nst.vgg import load_vgg19
t = time.perf_counter(); load_vgg19(); cold = time.perf_counter() - t
t = time.perf_counter(); load_vgg19(); cached = time.perf_counter() - t
print(cold, cached)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    times = []
    for _ in range(args.runs + 1):
        start = time.time()
        out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True)
        times.append(float(out.stdout.strip().splitlines()[-1]) - start)
    load = subprocess.run([sys.executable, "-c", LOAD], capture_output=True, text=True, check=True)
    cold, cached = map(float, load.stdout.split())
    print(
        f"process start -> first step at 64 px: first {times[0]:.2f} s, warm median {statistics.median(times[1:]):.2f} s "
        f"(runs: {', '.join(f'{t:.2f}' for t in times[1:])})"
    )
    print(f"VGG19 load (read, SHA-256, dequantize, build): {cold:.3f} s; cached: {cached * 1e6:.0f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
