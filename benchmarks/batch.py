"""`make bench-batch`: `impasto batch` on a local Ray against a plain loop through the API.

    python benchmarks/batch.py [--size 256] [--jobs 8] [--rounds 1] [--json OUT.json]

The same jobs (every content x every style, seeds 0, 1, ... until --jobs outputs; the default
preset at --size) run three ways, each in one fresh process, interleaved (A, B, C per round):
A loop: impasto.api prepare + render per job (VGG19 loaded once), torch on every core, each result
  encoded as the batch encodes it (impasto.io.write.encode_image) and written;
B `impasto batch --manifest`, one worker with every core; C the same with two workers sharing them.
Wall time is the whole process (torch import, Ray start and stop). Memory is the peak of the sum
over the process tree, every Ray process included (this script is their subreaper), from /proc:
RSS every 0.2 s (a shared page counts in every process), PSS every 2 s (shared pages split; costly
to read), and the largest single process (/usr/bin/time -v's maximum RSS would miss the Ray
workers, which the driver does not wait for). Job seconds: the loop's own clock, and
OUTDIR/batch.jsonl. The driver's CPU, per job and as a share of a core, is taken from its first to
its last record line (steady state: polling, progress, writes; no startup). "other CPU" is what
processes outside the tree used meanwhile (a busy machine shows there); in brackets, the sampler's.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import ctypes
import hashlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
TICK = os.sysconf("SC_CLK_TCK")
MIB, PAGE = 2**20, os.sysconf("SC_PAGE_SIZE")
PSS_EVERY = 10  # samples (2 s)
DRIVER = ("driver_cpu_per_job", "driver_core_share")
CONTENTS = [EXAMPLES / "tubingen.jpg", EXAMPLES / "the_scream.jpg"]
STYLES = [EXAMPLES / "starry_night.jpg", EXAMPLES / "the_scream.jpg"]
COLUMNS = ["mode", "wall s", "jobs/min", "job s (mean)", "overhead/job vs loop", "peak RSS sum MiB"]
COLUMNS += [
    "peak PSS sum MiB",
    "largest process MiB",
    "driver CPU s/job (core)",
    "same bytes as loop",
    "other CPU s (sampler)",
]


def child_loop(spec_path: str) -> None:
    """Mode A, in its own process: the jobs one after another; prints their seconds as JSON."""
    spec = json.loads(Path(spec_path).read_text())
    import torch

    torch.set_num_threads(spec["threads"])
    from impasto import StyleConfig, api
    from impasto.runtime import tune_allocator

    tune_allocator()  # as the CLI and the batch's tasks do
    from impasto.io.write import encode_image, output_format, write_atomic

    seconds = []
    for job in spec["jobs"]:
        start = time.perf_counter()
        config = StyleConfig.preset("default", size=job["size"], seed=job["seed"])
        image = api.render(api.prepare(job["content"], [job["style"]], config=config))
        write_atomic(Path(spec["outdir"]) / job["output"], encode_image(image, *output_format(job["output"])))
        seconds.append(time.perf_counter() - start)
    print(json.dumps(seconds))


def _procs() -> dict[int, tuple[int, int]]:
    """{pid: (ppid, CPU ticks)} of every process."""
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                text = Path(f"/proc/{name}/stat").read_text()
                rest = text[text.rfind(")") + 2 :].split()
                found[int(name)] = (int(rest[1]), int(rest[11]) + int(rest[12]))
    return found


def _descendants(root: int, procs: dict[int, tuple[int, int]]) -> list[int]:
    out, todo = [], [root]
    while todo:
        parent = todo.pop()
        kids = [pid for pid, (ppid, _) in procs.items() if ppid == parent]
        out += kids
        todo += kids
    return out


def _rss(pid: int) -> int:
    with contextlib.suppress(OSError, IndexError):
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    return 0


def _pss(pid: int) -> int:
    """The kernel walks the page tables for this (~10 ms for a torch process): sampled less often."""
    with contextlib.suppress(OSError, StopIteration):
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
        return int(next(line for line in lines if line.startswith("Pss:")).split()[1]) * 1024
    return 0


def _sample(stop: threading.Event, root: int, record: Path | None, out: dict) -> None:
    out.update(rss=0, pss=0, largest=0, marks=[], foreign=0.0)
    me, seen, start, count = os.getpid(), {}, time.perf_counter(), 0
    while True:
        procs = _procs()
        tree = set(_descendants(me, procs))  # orphans of the measured tree come to us
        rss = [_rss(pid) for pid in tree] or [0]
        out["rss"], out["largest"] = max(out["rss"], sum(rss)), max(out["largest"], *rss)
        if count % PSS_EVERY == 0:
            out["pss"] = max(out["pss"], sum(_pss(pid) for pid in tree))
        others = {pid: ticks for pid, (_, ticks) in procs.items() if pid not in tree and pid != me}
        out["foreign"] += sum(max(0, t - seen.get(pid, t)) for pid, t in others.items()) / TICK
        seen, count = others, count + 1
        if record is not None and root in procs and record.exists():
            lines = record.read_bytes().count(b"\n")
            if lines and (not out["marks"] or lines > out["marks"][-1][0]):
                out["marks"].append((lines, time.perf_counter() - start, procs[root][1] / TICK))
        out["sampler_cpu_s"] = time.thread_time()
        if stop.wait(0.2):
            return


def _leftovers(wait: float = 15.0) -> list[str]:
    """Reap what the run left behind; after `wait` s, SIGTERM what still lives and name it."""
    deadline = time.monotonic() + wait
    while (alive := _descendants(os.getpid(), _procs())) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        time.sleep(0.5)
    named = []
    for pid in alive:
        with contextlib.suppress(OSError):
            named.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:80])
            os.kill(pid, signal.SIGTERM)
    return named


def measure(command: list[str], env: dict[str, str], record: Path | None = None) -> dict:
    """Run one mode: wall seconds, the tree's peak memory, the driver's steady CPU, others' CPU."""
    with tempfile.TemporaryDirectory() as logs:
        out, err = Path(logs, "out"), Path(logs, "err")
        stop, sampled = threading.Event(), {}
        with out.open("wb") as stdout, err.open("wb") as stderr:
            start = time.perf_counter()
            process = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env)
            sampler = threading.Thread(target=_sample, args=(stop, process.pid, record, sampled))
            sampler.start()
            code = process.wait()
            wall = time.perf_counter() - start
        stop.set()
        sampler.join()
        if code != 0:
            raise RuntimeError(f"{' '.join(command)} exited {code}:\n{err.read_text()[-3000:]}")
        marks, driver = sampled["marks"], dict.fromkeys(DRIVER)
        if len(marks) >= 2 and marks[-1][0] > marks[0][0]:
            (n0, t0, c0), (n1, t1, c1) = marks[0], marks[-1]
            driver = {"driver_cpu_per_job": (c1 - c0) / (n1 - n0), "driver_core_share": (c1 - c0) / (t1 - t0)}
        result = {"wall": wall, "peak_rss_sum": sampled["rss"], "peak_pss_sum": sampled["pss"], **driver}
        result |= {"largest_rss": sampled["largest"], "other_cpu_s": sampled["foreign"], "stdout": out.read_text()}
        result["sampler_cpu_s"] = sampled["sampler_cpu_s"]
    result["leftovers"] = _leftovers()
    return result


def make_jobs(contents: list[Path], styles: list[Path], count: int, size: int) -> list[dict]:
    grid = [(c, s) for c in contents for s in styles]
    jobs = []
    for i in range(count):
        (content, style), seed = grid[i % len(grid)], i // len(grid)
        output = f"{content.stem}--{style.stem}--s{seed}.png"
        jobs.append({"content": str(content), "style": str(style), "seed": seed, "size": size, "output": output})
    return jobs


def run_mode(mode: str, jobs: list[dict], work: Path, cores: int) -> dict:
    outdir = Path(tempfile.mkdtemp(prefix=f"out-{mode}-", dir=work))
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    if mode == "A":
        spec = work / "loop.json"
        spec.write_text(json.dumps({"jobs": jobs, "threads": cores, "outdir": str(outdir)}))
        result = measure([sys.executable, __file__, "--child-loop", str(spec)], env)
        result["job_seconds"] = json.loads(result["stdout"].strip().splitlines()[-1])
    else:
        workers, threads = (1, cores) if mode == "B" else (2, max(1, cores // 2))
        home = tempfile.mkdtemp(prefix="rb", dir="/tmp")  # a short path: Ray's sockets live under it
        env |= {"HOME": home, "RAY_TMPDIR": home}
        command = [sys.executable, "-m", "impasto", "batch", "--manifest", str(work / "manifest.csv")]
        command += ["-o", str(outdir), "--size", str(jobs[0]["size"])]
        command += ["--workers", str(workers), "--cpus-per-job", str(threads)]
        try:
            result = measure(command, env, outdir / "batch.jsonl")
        finally:
            shutil.rmtree(home, ignore_errors=True)
        lines = (outdir / "batch.jsonl").read_text().splitlines()
        result["job_seconds"] = [json.loads(line)["seconds"] for line in lines]
    result.pop("stdout")
    result["digests"] = {j["output"]: hashlib.sha256((outdir / j["output"]).read_bytes()).hexdigest() for j in jobs}
    if len(result["job_seconds"]) != len(jobs):
        raise RuntimeError(f"mode {mode}: {len(result['job_seconds'])} of {len(jobs)} jobs recorded")
    return result


def on_paper(rows: dict, n: int, size: int, content: Path) -> tuple[str, dict]:
    from PIL import Image

    from impasto import StyleConfig

    t, c = statistics.mean(rows["A"]["job_seconds"]), rows["C"]
    d_wall = max(0.001, (rows["B"]["wall"] - rows["A"]["wall"]) / n)
    width, height = Image.open(content).size
    pixels = round(width * size / max(width, height)) * round(height * size / max(width, height))
    ckpt = (2 + 2 * StyleConfig().lbfgs_history) * 3 * 4 * pixels  # image, average, L-BFGS pairs (fp32)
    est = {"t": t, "driver_wall_per_job": d_wall, "checkpoint_bytes": ckpt, "progress_bytes": 300}
    text = (
        f"On paper: N nodes each running k jobs at t s/job finish N*k*3600/t jobs per hour (here t = {t:.1f} s "
        f"at {size} px on all {os.cpu_count()} cores: {3600 / t:.0f} jobs/h per node). The driver alone writes "
        "each output and fsynced record line, polls every 1 s (POLL_SECONDS), and takes ~1 progress message per "
        "running job every 2 s (PROGRESS_EVERY) and each running job's checkpoint every 60 s. "
    )
    if c["driver_cpu_per_job"] is not None:
        d, u = c["driver_cpu_per_job"], c["driver_core_share"]
        est |= {"driver_cpu_per_job": d, "driver_core_share": u, "running_at_saturation": 2 / u}
        text += (
            f"Measured in C's steady state (2 jobs running): {d:.3f} s of driver CPU per finished job, "
            f"{100 * u:.1f} % of a core. If all of it grew with the running jobs R (pessimistic: much is the "
            f"fixed poll), one driver core is full at R = 2/u = {2 / u:.0f} running jobs, "
            f"{2 / u * 3600 / t:.0f} jobs/h at this t; if it were all per finished job, at 3600/d = "
            f"{3600 / d:.0f} jobs/h. "
        )
    text += (
        f"Counting B's whole wall-time overhead as driver time ({d_wall:.2f} s per job, Ray start and the "
        f"worker's torch import included: the most pessimistic) gives {3600 / d_wall:.0f} jobs/h. Progress "
        "(assumed ~300 B and ~0.5 ms per call to the one Monitor actor, R/2 calls a second): the actor is "
        "full near R = 4000, when each drain moves 1.2 MB. Checkpoints (a job under 60 s sends none): "
        f"~{ckpt / MIB:.1f} MiB per job per minute at {size} px (L-BFGS pairs capped at 256 MiB), which the "
        f"driver writes; at an assumed 500 MB/s disk that holds R <= {3e10 / ckpt:.0f}."
    )
    return text, est


def table(rows: dict, n: int) -> str:
    names = {"A": "A loop (API, 1 process)", "B": "B batch, 1 worker x all cores", "C": "C batch, 2 workers"}
    t_loop = statistics.mean(rows["A"]["job_seconds"])
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    for mode, r in rows.items():
        extra = (r["wall"] - rows["A"]["wall"]) / n
        over = "—" if mode == "A" else f"{extra:+.2f} s ({100 * extra / t_loop:+.0f} %)"
        driver = "—"
        if r["driver_cpu_per_job"] is not None:
            driver = f"{r['driver_cpu_per_job']:.3f} ({100 * r['driver_core_share']:.1f} %)"
        same = sum(r["digests"][k] == v for k, v in rows["A"]["digests"].items())
        cells = [
            names[mode],
            f"{r['wall']:.1f}",
            f"{60 * n / r['wall']:.2f}",
            f"{statistics.mean(r['job_seconds']):.1f}",
        ]
        cells += [over, *(f"{r[k] / MIB:.0f}" for k in ("peak_rss_sum", "peak_pss_sum", "largest_rss"))]
        cells += [driver, f"{same}/{n}", f"{r['other_cpu_s']:.1f} ({r['sampler_cpu_s']:.1f})"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1, help="A, B, C per round; medians over rounds")
    parser.add_argument("--contents", type=Path, nargs="+", default=CONTENTS)
    parser.add_argument("--styles", type=Path, nargs="+", default=STYLES)
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--child-loop", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_loop:
        child_loop(args.child_loop)
        return 0
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: Ray's orphans stay in our tree
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout.splitlines()
    model = next((line.split(":", 1)[1].strip() for line in lscpu if line.startswith("Model name:")), "unknown")
    cores = os.cpu_count() or 1
    print(f"CPU: {model}, {cores} cores\n", flush=True)
    jobs = make_jobs([p.resolve() for p in args.contents], [p.resolve() for p in args.styles], args.jobs, args.size)
    runs: dict[str, list[dict]] = {"A": [], "B": [], "C": []}
    with tempfile.TemporaryDirectory(prefix="impasto-bench-batch-") as folder:
        work = Path(folder)
        with (work / "manifest.csv").open("w", newline="") as f:
            (writer := csv.DictWriter(f, fieldnames=list(jobs[0]))).writeheader()
            writer.writerows(jobs)
        for round_ in range(args.rounds):
            for mode, done in runs.items():
                done.append(r := run_mode(mode, jobs, work, cores))
                print(f"round {round_ + 1} {mode}: {r['wall']:.1f} s, leftovers {r['leftovers']}", flush=True)
    rows = {}
    for mode, done in runs.items():
        rows[mode] = {}
        for key in ("wall", "peak_rss_sum", "peak_pss_sum", "largest_rss", "other_cpu_s", "sampler_cpu_s", *DRIVER):
            values = [r[key] for r in done if r[key] is not None]
            rows[mode][key] = statistics.median(values) if values else None
        rows[mode] |= {"job_seconds": [s for r in done for s in r["job_seconds"]], "digests": done[-1]["digests"]}
        rows[mode]["leftovers"] = [x for r in done for x in r["leftovers"]]
    text, estimate = on_paper(rows, args.jobs, args.size, Path(jobs[0]["content"]))
    print(f"\n## impasto batch vs a loop: {args.jobs} jobs at {args.size} px, {args.rounds} round(s)\n")
    print(table(rows, args.jobs) + "\n\n" + text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        summary = {"cpu": model, "cores": cores, "size": args.size, "jobs": jobs, "rounds": args.rounds}
        args.json.write_text(json.dumps({**summary, "modes": rows, "runs": runs, "on_paper": estimate}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
