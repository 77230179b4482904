"""`impasto batch` on a real Ray: a local one (address="local") and a `ray.cluster_utils.Cluster`
of four nodes; a worker killed with SIGKILL and a node removed (each retried picture held to the
same job's left alone), Ctrl-C at the terminal. Every interruption fires on something the product
writes (a checkpoint, a record line), never after a sleep. Each test isolates HOME and puts Ray's
temp folder on a short path (Unix sockets allow 107 bytes)."""

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

import numpy as np
import pytest
from imagefiles import truncated
from PIL import Image

from impasto import StyleConfig, batch
from impasto.batch import engine
from impasto.engine.checkpoint import MAX_HISTORY_BYTES

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
QUICK = {"size": 64, "start_size": 64, "iterations": 6, "stop_tolerance": 0.0}
# A job that is certainly still running when a kill fires, however fast the CPU. The kill fires at
# the driver's first poll after the job's first checkpoint: within CHECKPOINT_EVERY + POLL_SECONDS
# (1.5 s) of its first step. A step at 64 px in fp32 on one thread takes ~90 ms of CPU on AMD EPYC
# Zen 4 (~36 ms on a CPU 2.5x faster, as a Xeon with AMX is): at most 17 steps here, 42 there, of
# 300. fp32, so that comparing the retried picture with the uninterrupted one does not rest on the
# CPU's bf16 arithmetic (AMX tiles, avx512_bf16 dot products, or none, where `auto` picks fp32).
LONG = {"size": 64, "start_size": 64, "iterations": 300, "stop_tolerance": 0.0, "precision": "fp32"}
CHECKPOINT_EVERY = 0.5  # seconds


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


def _killer(outdir: Path, output: str, kill):
    """A progress callback that calls kill(info) once, on the job that writes `output`, as soon as
    the driver holds a checkpoint of that job (so that its retry has one to continue from)."""
    state = {"killed": None}
    checkpoints = outdir / ".impasto-checkpoints"

    def on_status(status):
        if state["killed"] is not None:
            return
        for key, (job, info) in status.running.items():
            has_checkpoint = (checkpoints / f"{key}.ckpt").exists()
            if str(job.output) == output and has_checkpoint and info.get("step", 0) > 0 and "pid" in info:
                state["killed"] = info
                kill(info)
                return

    return on_status, state


def _killed_and_reference(contents, styles) -> list[batch.Job]:
    """The job to kill (a--s1.png) and the same job again under another name, left alone: both
    run at once as Ray tasks, on one thread each (--cpus-per-job 1), in fresh worker processes."""
    (job,) = _grid(contents[:1], styles[:1], LONG)
    return [job, dataclasses.replace(job, output=Path("reference.png"))]


def _assert_same_picture(retried: Path, reference: Path) -> None:
    """The retried job's picture is the uninterrupted one's, within one level of its 8 bits: it
    continued from the whole loop's state (64 px is far below the compact-checkpoint size, so
    L-BFGS's pairs travelled), in the same dtype, on the same thread count and CPU."""
    pairs_bytes = 2 * StyleConfig().lbfgs_history * 3 * 4 * 64 * 48  # s and y, fp32 RGB
    assert pairs_bytes < MAX_HISTORY_BYTES
    with Image.open(retried) as a, Image.open(reference) as b:
        a_pixels, b_pixels = np.asarray(a, dtype=np.int16), np.asarray(b, dtype=np.int16)
    assert a_pixels.shape == b_pixels.shape == (48, 64, 3)
    worst = int(np.abs(a_pixels - b_pixels).max())
    assert worst <= 1, f"the retried picture is {worst}/255 from the uninterrupted one"


def test_a_worker_killed_mid_job_is_retried_from_its_checkpoint(ray_env, tmp_path):
    contents, styles = _images(tmp_path / "in")
    outdir = tmp_path / "out"
    on_status, state = _killer(outdir, "a--s1.png", lambda info: os.kill(info["pid"], signal.SIGKILL))
    settings = batch.Settings(workers=2, checkpoint_every=CHECKPOINT_EVERY)
    results = batch.run(_killed_and_reference(contents, styles), outdir, settings, callback=on_status)
    assert state["killed"] is not None, f"the job ended before it could be killed: {results}"
    killed, reference = results
    assert killed.status == "done" and killed.attempt == 2, killed
    assert killed.first_step > 1  # attempt 2 started from the checkpoint, not from step 1
    assert reference.status == "done" and reference.attempt == 1 and reference.first_step == 1, reference
    assert killed.steps == reference.steps == 300
    assert sorted(p.name for p in outdir.rglob("*.png")) == ["a--s1.png", "reference.png"]
    assert not list(outdir.rglob(".impasto-*.tmp")) and not list((outdir / ".impasto-checkpoints").iterdir())
    records = {r["output"]: r for r in _records(outdir)}
    assert records["a--s1.png"]["attempt"] == 2 and records["a--s1.png"]["first_step"] == killed.first_step
    assert records["a--s1.png"]["options_resolved"]["precision"] == "fp32"
    _assert_same_picture(outdir / "a--s1.png", outdir / "reference.png")


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
    nodes = [cluster.add_node(num_cpus=1) for _ in range(3)]  # the job's, the reference's, the retry's
    cluster.wait_for_nodes()
    try:

        def remove(info):
            (node,) = [n for n in nodes if n.node_id == info["node_id"]]
            cluster.remove_node(node, allow_graceful=False)

        on_status, state = _killer(outdir, "a--s1.png", remove)
        settings = batch.Settings(address=cluster.address, workers=2, checkpoint_every=CHECKPOINT_EVERY)
        jobs = _killed_and_reference(contents, styles)
        results = batch.run(jobs, outdir, settings, callback=on_status)
    finally:
        cluster.shutdown()
    assert state["killed"] is not None, f"the job ended before its node could be removed: {results}"
    killed, reference = results
    assert killed.status == "done" and killed.attempt >= 2 and killed.first_step > 1, killed
    assert reference.status == "done" and reference.first_step == 1, reference
    assert all(r["node"] for r in _records(outdir))
    _assert_same_picture(outdir / "a--s1.png", outdir / "reference.png")


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


# The stopped job: still running when the driver has handled Ctrl-C. SIGINT fires once its first
# checkpoint is in OUTDIR (within --checkpoint-every + POLL_SECONDS, 2 s, of its first step); the
# job hears of it at its next progress report (PROGRESS_EVERY, 2 s) and stops at that step:
# within ~5 s, 55 steps of ~90 ms here (fp32, 64 px, one thread, AMD EPYC Zen 4), 140 on a CPU
# 2.5x faster, of 500. The other jobs are short: the test waits for the first, and reruns the last two.
STOPPED_ITERATIONS = 500


def _complete_records(outdir: Path) -> list[dict]:
    """batch.jsonl's lines so far, while the driver may be appending one."""
    path = outdir / "batch.jsonl"
    lines = path.read_text().split("\n")[:-1] if path.exists() else []
    return [json.loads(line) for line in lines]


def _ctrl_c_reaches_it() -> None:
    """A background shell (CI's, a script's `&`) starts its jobs with SIGINT ignored, and Python then
    keeps it ignored: the batch would never hear the Ctrl-C this test sends."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_the_batch_and_a_rerun_finishes_it(ray_env, tmp_path):
    _images(tmp_path / "in")  # a.png, b.png, s1.png, s2.png, beside the manifest
    outdir, checkpoints = tmp_path / "out", tmp_path / "out" / ".impasto-checkpoints"
    manifest = tmp_path / "in" / "jobs.csv"
    rows = [("a", "s1", 6), ("a", "s2", STOPPED_ITERATIONS), ("b", "s1", 6), ("b", "s2", 6)]
    manifest.write_text("content,style,iterations\n" + "".join(f"{c}.png,{s}.png,{n}\n" for c, s, n in rows))
    flags = ["--size=64", "--start-size=64", "--stop-tolerance=0", "--precision=fp32", "--checkpoint-every=1"]
    args = ["--manifest", manifest, "-o", outdir, *flags, "--workers", "1"]
    command = [sys.executable, "-m", "impasto", "batch", *map(str, args)]
    process = subprocess.Popen(
        command,
        env=ray_env,
        start_new_session=True,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ctrl_c_reaches_it,  # noqa: PLW1509 - as from a terminal, even from a background shell
    )
    deadline = time.monotonic() + 300
    while True:  # the first job recorded, and the second one's checkpoint stored
        done = {r["key"] for r in _complete_records(outdir)}
        stopped = {p.stem for p in checkpoints.glob("*.ckpt")} - done
        if done and stopped:
            break
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)  # as a terminal sends it: to the whole process group
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert "1 done, 0 failed, 3 interrupted of 4" in stderr, stderr
    (stopped_key,) = stopped
    assert [r["output"] for r in _records(outdir)] == ["a--s1.png"]
    assert [p.stem for p in checkpoints.glob("*.ckpt")] == [stopped_key]
    rerun = _impasto_batch(*args, env=ray_env)
    assert rerun.returncode == 0, rerun.stderr
    assert "3 done, 1 skipped" in rerun.stderr
    records = _records(outdir)
    assert [r["output"] for r in records] == ["a--s1.png", "a--s2.png", "b--s1.png", "b--s2.png"]
    assert len(list(outdir.glob("*.png"))) == 4 and not list(checkpoints.iterdir())
    assert records[1]["key"] == stopped_key and records[1]["first_step"] > 1  # went on from its checkpoint
    assert records[1]["steps"] == STOPPED_ITERATIONS and [r["first_step"] for r in records[2:]] == [1, 1]


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
