"""`impasto batch` on a real Ray: a local one (address="local") and a `ray.cluster_utils.Cluster`
of three nodes; a worker killed with SIGKILL, a node removed, Ctrl-C at the terminal. Each test
isolates HOME and puts Ray's temp folder on a short path (Unix sockets allow 107 bytes)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from imagefiles import truncated
from PIL import Image

from impasto import batch
from impasto.batch import engine

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
QUICK = {"size": 64, "start_size": 64, "iterations": 6, "stop_tolerance": 0.0}
LONG = {"size": 64, "start_size": 64, "iterations": 400, "stop_tolerance": 0.0}


def _images(folder: Path) -> tuple[list[Path], list[Path]]:
    folder.mkdir(exist_ok=True)
    names = {
        "a.png": "tubingen.jpg",
        "b.png": "the_scream.jpg",
        "s1.png": "starry_night.jpg",
        "s2.png": "the_scream.jpg",
    }
    for name, source in names.items():
        with Image.open(EXAMPLES / source) as image:
            image.convert("RGB").resize((64, 48)).save(folder / name)
    return [folder / "a.png", folder / "b.png"], [folder / "s1.png", folder / "s2.png"]


def _grid(contents, styles, options) -> list[batch.Job]:
    sources = [batch.Source(p, p.parent) for p in contents]
    return batch.grid(
        sources,
        [batch.Source(p, p.parent) for p in styles],
        fmt="png",
        blend=False,
        keep_tree=False,
        options=options,
        preset="default",
    )


def _records(outdir: Path) -> list[dict]:
    return [json.loads(line) for line in (outdir / "batch.jsonl").read_text().splitlines()]


def test_a_grid_runs_once_and_a_rerun_starts_only_what_changed(ray_env, tmp_path, monkeypatch):
    contents, styles = _images(tmp_path / "in")
    outdir = tmp_path / "out"
    jobs = _grid(contents, styles, QUICK)
    results = batch.run(jobs, outdir, batch.Settings(workers=2))
    assert [r.status for r in results] == ["done"] * 4
    assert sorted(p.name for p in outdir.glob("*.png")) == ["a--s1.png", "a--s2.png", "b--s1.png", "b--s2.png"]
    records = _records(outdir)
    assert len(records) == 4 and {r["attempt"] for r in records} == {1}
    assert all(
        r["options_requested"]["iterations"] == 6 and r["options_resolved"]["precision"] in ("fp32", "bf16")
        for r in records
    )
    assert all(len(r["inputs"]) == 2 and all(len(i["sha256"]) == 64 for i in r["inputs"]) for r in records)

    def no_ray(settings):
        raise AssertionError("a rerun with nothing to do started Ray")

    with monkeypatch.context() as patch:
        patch.setattr(engine, "Cluster", no_ray)
        assert [r.status for r in batch.run(jobs, outdir, batch.Settings(workers=2))] == ["skipped"] * 4
    changed = [*jobs[:3], dataclasses.replace(jobs[3], options={**QUICK, "seed": 7})]
    (outdir / "a--s1.png").write_bytes(b"edited by hand")  # no longer the recorded output: redone
    statuses = [r.status for r in batch.run(changed, outdir, batch.Settings(workers=2))]
    assert statuses == ["done", "skipped", "skipped", "done"]
    assert len(_records(outdir)) == 6 and Image.open(outdir / "a--s1.png").size == (64, 48)


def _killer(outdir: Path, kill):
    """A progress callback that calls kill(info) once, when the job has sent a checkpoint."""
    state = {"killed": None}

    def on_status(status):
        if state["killed"] is not None or not list((outdir / ".impasto-checkpoints").glob("*.ckpt")):
            return
        for _, info in status.running.values():
            if info.get("step", 0) > 0 and "pid" in info:
                state["killed"] = info
                kill(info)
                return

    return on_status, state


def test_a_worker_killed_mid_job_is_retried_from_its_checkpoint(ray_env, tmp_path):
    contents, styles = _images(tmp_path / "in")
    outdir = tmp_path / "out"
    jobs = _grid(contents[:1], styles[:1], LONG)
    on_status, state = _killer(outdir, lambda info: os.kill(info["pid"], signal.SIGKILL))
    (result,) = batch.run(jobs, outdir, batch.Settings(workers=1, checkpoint_every=1.0), callback=on_status)
    assert state["killed"] is not None, "the job ended before it could be killed"
    assert result.status == "done" and result.attempt == 2
    assert result.first_step > 1  # attempt 2 started from the checkpoint, not from step 1
    assert result.steps == 400 and [p.name for p in outdir.rglob("*.png")] == ["a--s1.png"]
    assert not list(outdir.rglob(".impasto-*.tmp")) and not list((outdir / ".impasto-checkpoints").iterdir())
    (record,) = _records(outdir)
    assert record["attempt"] == 2 and record["first_step"] == result.first_step


def test_a_node_removed_mid_job_leaves_the_job_to_the_other_node(ray_env, tmp_path):
    from ray.cluster_utils import Cluster

    contents, styles = _images(tmp_path / "in")
    outdir = tmp_path / "out"
    fast_health = {
        "health_check_initial_delay_ms": 0,
        "health_check_period_ms": 500,
        "health_check_failure_threshold": 3,
    }
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "_system_config": fast_health})
    nodes = [cluster.add_node(num_cpus=1), cluster.add_node(num_cpus=1)]
    cluster.wait_for_nodes()
    try:

        def remove(info):
            (node,) = [n for n in nodes if n.node_id == info["node_id"]]
            cluster.remove_node(node, allow_graceful=False)

        on_status, state = _killer(outdir, remove)
        settings = batch.Settings(address=cluster.address, workers=1, checkpoint_every=1.0)
        (result,) = batch.run(_grid(contents[:1], styles[:1], LONG), outdir, settings, callback=on_status)
    finally:
        cluster.shutdown()
    assert state["killed"] is not None, "the job ended before its node could be removed"
    assert result.status == "done" and result.attempt >= 2 and result.first_step > 1
    (record,) = _records(outdir)
    assert record["node"] and Image.open(outdir / "a--s1.png").size == (64, 48)


def _impasto_batch(*args, env, **kwargs):
    command = [sys.executable, "-m", "impasto", "batch", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False, **kwargs)


def test_a_picture_that_breaks_only_when_decoded_fails_alone(ray_env, tmp_path):
    contents, styles = _images(tmp_path / "in")
    broken = truncated(EXAMPLES / "tubingen.jpg", tmp_path / "in" / "broken.jpg")  # its header reads fine
    outdir = tmp_path / "out"
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in QUICK.items()]
    result = _impasto_batch(
        contents[0], broken, "--style", styles[0], "-o", outdir, *flags, "--workers", "2", env=ray_env
    )
    assert result.returncode == 1, result.stderr
    assert "broken--s1.png" in result.stderr and "cannot decode" in result.stderr and "Traceback" not in result.stderr
    assert "1 done" in result.stderr and "1 failed" in result.stderr
    assert [p.name for p in outdir.glob("*.png")] == ["a--s1.png"] and len(_records(outdir)) == 1


def test_ctrl_c_stops_the_batch_and_a_rerun_finishes_it(ray_env, tmp_path):
    contents, styles = _images(tmp_path / "in")
    outdir = tmp_path / "out"
    flags = ["--size=64", "--start-size=64", "--iterations=150", "--stop-tolerance=0", "--checkpoint-every=1"]
    args = [*contents, "--style", styles[0], "--style", styles[1], "-o", outdir, *flags, "--workers", "1"]
    command = [sys.executable, "-m", "impasto", "batch", *map(str, args)]
    process = subprocess.Popen(command, env=ray_env, start_new_session=True, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not list(outdir.glob("*.png")):  # one job done, the next one running
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.1)
    time.sleep(1.5)
    os.killpg(process.pid, signal.SIGINT)  # as a terminal sends it: to the whole process group
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    finished = len(_records(outdir))
    assert 1 <= finished < 4
    rerun = _impasto_batch(*args, env=ray_env)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{4 - finished} done, {finished} skipped" in rerun.stderr
    assert len(_records(outdir)) == 4 and len(list(outdir.glob("*.png"))) == 4
    assert any(r["first_step"] > 1 for r in _records(outdir)[finished:])  # the stopped job went on from its checkpoint


def test_an_unwritable_outdir_is_refused_before_anything_runs(ray_env, tmp_path):
    prefix = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: root writes everywhere")
        caps = "-dac_override,-dac_read_search"
        prefix = ["setpriv", "--inh-caps", caps, "--bounding-set", caps]
    contents, styles = _images(tmp_path / "in")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    command = [*prefix, sys.executable, "-m", "impasto", "batch", str(contents[0]), "--style", str(styles[0])]
    result = subprocess.run(
        [*command, "-o", str(locked)], capture_output=True, text=True, env=ray_env, timeout=120, check=False
    )
    locked.chmod(0o755)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "is not writable" in lines[0], result.stderr
    assert list(locked.iterdir()) == []
