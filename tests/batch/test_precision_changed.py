"""batch.jsonl's `precision_changed`: a job that went on from a checkpoint made in another precision
(a retry on a node where "auto" resolves otherwise) records true, any other job false. Without Ray:
the task runs in this process, its Monitor is a local object and `ray.get` the identity."""

from __future__ import annotations

import dataclasses
import json
import types
from pathlib import Path

import pytest
import torch
from checkpointers import AfterStep

import impasto
from impasto import api
from impasto.batch import Job, Settings, Status
from impasto.batch import task as batch_task
from impasto.batch.engine import _Driver, _spec
from impasto.batch.monitor import Monitor
from impasto.batch.record import Record, input_digests, job_key

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CONTENT, STYLE = EXAMPLES / "tubingen.jpg", EXAMPLES / "starry_night.jpg"
STOP_AFTER = 4


class _Local:
    """`handle.method.remote(...)` of a Ray actor, on a local object."""

    def __init__(self, target: object):
        self.target = target

    def __getattr__(self, name: str) -> types.SimpleNamespace:
        return types.SimpleNamespace(remote=getattr(self.target, name))


def _run_retried_job(tmp_path, monkeypatch, precision: str) -> tuple[dict, Status]:
    """A job whose first attempt left an fp32 checkpoint, retried with `precision`, recorded."""
    import ray

    options = {"size": 64, "start_size": 64, "iterations": 8, "stop_tolerance": 0.0, "seed": 3, "precision": precision}
    job = Job(CONTENT, (STYLE,), Path("tubingen--starry_night.png"), options, origin=str(CONTENT))
    digests = input_digests([job])
    key = job_key(job, digests)
    stopper = AfterStep(STOP_AFTER, meta={"fingerprint": key})
    first_attempt = api.prepare(CONTENT, [STYLE], config=dataclasses.replace(job.config(), precision="fp32"))
    with pytest.raises(KeyboardInterrupt):
        api.render(first_attempt, checkpointer=stopper)
    monitor = Monitor()
    monitor.seed(key, stopper.saved)
    monitor.start(key, {})  # the first attempt, whose worker died
    monkeypatch.setattr(ray, "get", lambda value: value)
    monkeypatch.setattr(batch_task, "_node", lambda: ("node-id", "10.0.0.2"))
    settings = Settings(cpus_per_job=torch.get_num_threads())  # the task sets it: leave it as it is
    result = batch_task.run_job(_spec(job, key, settings, {}, 1), _Local(monitor), impasto.__version__)
    assert "error" not in result, result.get("error")
    assert result["attempt"] == 2 and result["first_step"] == STOP_AFTER + 1  # went on from the checkpoint
    outdir = tmp_path / "out"
    outdir.mkdir()
    status = Status(1)
    _Driver(Record(outdir), Settings(), status, None, digests)._write(job, key, result)
    (line,) = (outdir / "batch.jsonl").read_text().splitlines()
    return json.loads(line), status


@pytest.mark.slow
@pytest.mark.bf16  # where auto resolves to bf16: the other precision to resume in
def test_a_retry_that_resumes_an_fp32_checkpoint_in_bf16_records_precision_changed(tmp_path, monkeypatch):
    record, status = _run_retried_job(tmp_path, monkeypatch, "auto")  # auto is bf16 on this node
    assert record["options_resolved"]["precision"] == "bf16" and record["options_requested"]["precision"] == "auto"
    assert record["precision_changed"] is True and status.results[0].precision_changed


@pytest.mark.slow
def test_a_retry_in_the_checkpoints_own_precision_records_precision_changed_false(tmp_path, monkeypatch):
    record, status = _run_retried_job(tmp_path, monkeypatch, "fp32")
    assert record["precision_changed"] is False and not status.results[0].precision_changed
