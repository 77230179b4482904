"""Load test of `impasto serve`: concurrent job submissions on loopback, each followed like the page
follows it (its event stream to the end), while a prober times the health endpoint.

    python benchmarks/web_load.py [--jobs 20] [--size 64] [--iterations 8] [--json out.json]

The server is a separate process (`python -m impasto serve`) on a free port with a fresh data
folder, so the prober and the clients do not share its interpreter. Checks, each an exit code 1
when it fails: every job finishes done, none is lost or listed twice, every result is a PNG of
the asked size, and the median health latency while jobs run is at most 200 ms.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
HEALTH_LIMIT_MS = 200.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(data_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    with (data_dir / "server.log").open("wb") as log:  # a file, not a pipe that nobody reads
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "impasto",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(data_dir / "data"),
                "--max-queue",
                "64",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    url = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 60
    while time.monotonic() < end:
        try:
            if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"the server did not start: {(data_dir / 'server.log').read_text()[-2000:]}")


def small_png(name: str, long_side: int = 128) -> bytes:
    image = Image.open(ROOT / "examples" / name).convert("RGB")
    image.thumbnail((long_side, long_side))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def one_job(url: str, photo: bytes, painting: bytes, fields: dict[str, str], seed: int) -> dict:
    """Submit, then follow the event stream to its end, as the page does."""
    with httpx.Client(base_url=url, timeout=300) as client:
        began = time.perf_counter()
        response = client.post(
            "/api/jobs",
            data={**fields, "seed": str(seed)},
            files=[("content", ("photo.png", photo, "image/png")), ("styles", ("painting.png", painting, "image/png"))],
        )
        submit_ms = (time.perf_counter() - began) * 1000
        if response.status_code != 201:
            return {"error": f"{response.status_code} {response.text}", "submit_ms": submit_ms}
        job_id, events, last = response.json()["id"], 0, None
        with client.stream("GET", f"/api/jobs/{job_id}/events") as stream:
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    events, last = events + 1, json.loads(line[6:])
        return {
            "id": job_id,
            "submit_ms": submit_ms,
            "events": events,
            "state": last and last["state"],
            "seconds": time.perf_counter() - began,
        }


def probe(url: str, stop: threading.Event, out: list[float], period: float = 0.1) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        while not stop.is_set():
            began = time.perf_counter()
            client.get("/api/health").raise_for_status()
            out.append((time.perf_counter() - began) * 1000)
            stop.wait(period)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=8)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    photo, painting = small_png("tubingen.jpg"), small_png("starry_night.jpg")
    fields = {"size": str(args.size), "iterations": str(args.iterations)}
    with tempfile.TemporaryDirectory(prefix="impasto-load-") as data:
        process, url = start_server(Path(data))
        try:
            latencies: list[float] = []
            stop = threading.Event()
            prober = threading.Thread(target=probe, args=(url, stop, latencies))
            began = time.perf_counter()
            prober.start()
            with ThreadPoolExecutor(args.jobs) as pool:
                results = list(pool.map(lambda i: one_job(url, photo, painting, fields, i), range(args.jobs)))
            wall = time.perf_counter() - began
            stop.set()
            prober.join()
            listing = httpx.get(f"{url}/api/jobs").json()
            sizes = [
                Image.open(io.BytesIO(httpx.get(f"{url}/api/jobs/{r['id']}/result").content)).size
                for r in results
                if "id" in r
            ]
        finally:
            process.terminate()
            process.wait(30)
    ids = [r["id"] for r in results if "id" in r]
    listed = [j["id"] for j in listing]
    report = {
        "jobs": args.jobs,
        "size": args.size,
        "iterations": args.iterations,
        "cpus": os.cpu_count(),
        "accepted": len(ids),
        "done": sum(r.get("state") == "done" for r in results),
        "unique_ids": len(set(ids)),
        "listed_once": sum(listed.count(i) == 1 for i in ids),
        "listed_total": len(listed),
        "results_of_size": sum(max(s) == args.size for s in sizes),
        "submit_ms_median": statistics.median(r["submit_ms"] for r in results),
        "submit_ms_max": max(r["submit_ms"] for r in results),
        "events_per_job_median": statistics.median(r.get("events", 0) for r in results),
        "wall_s": wall,
        "jobs_per_minute": len(ids) / wall * 60,
        "health_probes": len(latencies),
        "health_ms_median": statistics.median(latencies),
        "health_ms_p95": statistics.quantiles(latencies, n=20)[-1],
        "health_ms_max": max(latencies),
        "errors": [r["error"] for r in results if "error" in r],
    }
    checks = {
        f"all {args.jobs} accepted and done": report["done"] == args.jobs,
        "none lost or duplicated": report["unique_ids"] == report["listed_once"] == report["listed_total"] == args.jobs,
        "every result a PNG of the asked size": report["results_of_size"] == args.jobs,
        f"health median <= {HEALTH_LIMIT_MS:.0f} ms": report["health_ms_median"] <= HEALTH_LIMIT_MS,
    }
    rows = [
        ("jobs submitted at once", f"{args.jobs} ({args.size} px, {args.iterations} steps)"),
        ("accepted / done", f"{report['accepted']} / {report['done']}"),
        ("unique ids / listed once", f"{report['unique_ids']} / {report['listed_once']} (listing has {len(listed)})"),
        ("submit latency median / max", f"{report['submit_ms_median']:.0f} / {report['submit_ms_max']:.0f} ms"),
        ("events per job (median)", f"{report['events_per_job_median']:.0f}"),
        ("wall time, all jobs", f"{wall:.1f} s ({report['jobs_per_minute']:.0f} jobs/min)"),
        ("health probes while running", f"{len(latencies)}"),
        (
            "health latency median / p95 / max",
            f"{report['health_ms_median']:.1f} / {report['health_ms_p95']:.1f} / {report['health_ms_max']:.1f} ms",
        ),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"{'measure':<{width}}  value\n{'-' * width}  -----")
    print("\n".join(f"{k:<{width}}  {v}" for k, v in rows))
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    for err in report["errors"][:5]:
        print(f"error: {err}")
    if args.json:
        args.json.write_text(json.dumps({**report, "checks": checks}, indent=2))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
