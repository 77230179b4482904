"""A checkpoint records the precision its steps ran in: a resume in another one (precision "auto"
resolves per machine) continues with one warning line and says so in its Progress; a resume in the
same one warns of nothing; a checkpoint from before the precision was recorded still loads."""

from __future__ import annotations

import logging

import pytest
import torch
from checkpointers import AfterStep

from impasto import api
from impasto.config import StyleConfig
from impasto.engine.checkpoint import Checkpoint
from impasto.io import checkpoint as checkpoint_io

STOP_AFTER = 4


def _config(precision: str) -> StyleConfig:
    return StyleConfig(size=64, start_size=64, iterations=8, stop_tolerance=0.0, precision=precision, seed=3)


def _checkpoint(content_path, style_path, precision: str) -> dict:
    """The state of a `precision` run stopped after STOP_AFTER steps, as a file would give it back."""
    stopper = AfterStep(STOP_AFTER)
    with pytest.raises(KeyboardInterrupt):
        api.render(api.prepare(content_path, [style_path], config=_config(precision)), checkpointer=stopper)
    return stopper.state()


def _resume(content_path, style_path, precision: str, state: dict):
    """Resume `state` in `precision`: the result and every step's Progress."""
    seen = []
    run = api.prepare(content_path, [style_path], config=_config(precision))
    result = api.render(run, callback=seen.append, resume=Checkpoint.from_state(state))
    return result, seen


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("impasto")]


@pytest.mark.slow
@pytest.mark.bf16
def test_an_fp32_checkpoint_resumed_in_bf16_continues_with_one_warning(content_path, style_path, caplog):
    state = _checkpoint(content_path, style_path, "fp32")
    assert state["dtype"] == "fp32"
    caplog.set_level(logging.WARNING, logger="impasto")
    result, seen = _resume(content_path, style_path, "bf16", state)
    assert [p.step for p in seen] == list(range(STOP_AFTER + 1, seen[-1].total + 1))  # it went on
    assert bool(result.isfinite().all()) and all(p.precision_changed for p in seen)
    (warning,) = _warnings(caplog)
    assert warning.startswith("resuming in bf16 from a checkpoint made in fp32: ") and "\n" not in warning


@pytest.mark.slow
def test_a_resume_in_the_same_precision_warns_of_nothing(content_path, style_path, caplog):
    state = _checkpoint(content_path, style_path, "fp32")
    caplog.set_level(logging.WARNING, logger="impasto")
    _, seen = _resume(content_path, style_path, "fp32", state)
    assert seen[0].step == STOP_AFTER + 1 and not any(p.precision_changed for p in seen)
    assert _warnings(caplog) == []


@pytest.mark.slow
def test_a_checkpoint_without_a_recorded_precision_still_loads_and_resumes(content_path, style_path, caplog):
    state = _checkpoint(content_path, style_path, "fp32")
    del state["dtype"]  # as a checkpoint written before the precision was recorded
    old = checkpoint_io.loads(checkpoint_io.dumps(state))
    assert Checkpoint.from_state(old).dtype is None
    caplog.set_level(logging.WARNING, logger="impasto")
    _, seen = _resume(content_path, style_path, "fp32", old)
    assert seen[0].step == STOP_AFTER + 1 and not any(p.precision_changed for p in seen)
    assert _warnings(caplog) == []  # unknown: nothing to compare, nothing to warn of


@pytest.mark.parametrize(
    ("saved", "now", "changed"),
    [
        ("fp32", torch.bfloat16, True),
        ("bf16", torch.float32, True),
        ("bf16", torch.bfloat16, False),
        (None, torch.bfloat16, False),
    ],
)
def test_check_precision_warns_once_exactly_when_the_precision_changes(caplog, saved, now, changed):
    checkpoint = Checkpoint(0, 1, torch.zeros(1, 3, 4, 4), {"kind": "adam"}, [], {}, dtype=saved)
    caplog.set_level(logging.WARNING, logger="impasto")
    assert checkpoint.check_precision(now) is changed
    assert len(_warnings(caplog)) == int(changed)
