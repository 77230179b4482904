"""Checkpoints: a run interrupted after step k and resumed from its checkpoint (through bytes, as
a file or a Ray task carries it) ends where the uninterrupted run ends: fp32, seeded, on the CPU."""

from __future__ import annotations

import pytest
import torch
from checkpointers import AfterStep

from impasto import api
from impasto.config import StyleConfig
from impasto.engine.checkpoint import Checkpoint
from impasto.io import checkpoint as checkpoint_io

pytestmark = pytest.mark.slow


def _config(**options) -> StyleConfig:
    base = {
        "size": 96,
        "start_size": 64,
        "iterations": 8,
        "scale_iterations": 6,
        "scale_decay": 1.0,
        "precision": "fp32",
        "seed": 3,
    }
    return StyleConfig(**{**base, **options})


CASES = {
    "lbfgs, within scale 2": ({}, 11),
    "lbfgs, at the end of scale 1": ({}, 8),
    "adam, within scale 2 (moments carried from scale 1)": ({"optimizer": "adam", "learning_rate": 0.02}, 10),
    "lbfgs, tiled scale (the cuts' generator)": ({"tile_size": 64}, 12),
    "noise start, no average, stopping rule": ({"init": "noise", "ema_decay": 0.0, "stop_tolerance": 0.5}, 5),
}


def _same_state(a: Checkpoint, b: Checkpoint) -> bool:
    tensors = [(a.image, b.image), (a.average, b.average)]
    tensors += [(a.optimizer[key], b.optimizer[key]) for key in ("exp_avg", "exp_avg_sq") if key in a.optimizer]
    return all((x is None and y is None) or torch.equal(x, y) for x, y in tensors)


@pytest.mark.numeric
@pytest.mark.parametrize("case", CASES)
def test_an_interrupted_run_resumed_from_its_checkpoint_ends_as_the_uninterrupted_one(content_path, style_path, case):
    options, k = CASES[case]
    run = api.prepare(content_path, [style_path], config=_config(**options))
    whole_steps: list[int] = []
    at_k = AfterStep(k, stop=False)
    whole = api.render(run, callback=lambda p: whole_steps.append(p.step), checkpointer=at_k)
    stopper = AfterStep(k)
    with pytest.raises(KeyboardInterrupt):
        api.render(run, checkpointer=stopper)
    resumed_steps: list[int] = []
    resume = Checkpoint.from_state(stopper.state())
    # Two renders of the same run agree bit for bit up to the checkpoint: if not, this process's
    # arithmetic is not reproducible run to run (and Adam turns one ulp there into a 0.024 move by
    # the end, docs/testing.md), which is no fault of the resume.
    assert _same_state(resume, Checkpoint.from_state(at_k.state())), (
        "two identical renders differ before the checkpoint"
    )
    assert resume.step >= 1 and resume.clock["steps"] == k
    resumed = api.render(run, callback=lambda p: resumed_steps.append(p.step), resume=resume)
    assert resumed_steps[0] == k + 1 and resumed_steps[-1] == whole_steps[-1]
    assert (resumed - whole).abs().max().item() <= 1e-5


def _quadratic(image: torch.Tensor, target: torch.Tensor, weights: torch.Tensor):
    def closure() -> torch.Tensor:
        image.grad = None
        loss = (weights * (image - target) ** 2).sum()
        loss.backward()
        return loss

    return closure


def test_a_big_lbfgs_history_is_left_out_and_the_resumed_optimizer_rebuilds_it():
    from impasto.engine.checkpoint import optimizer_state, restore_optimizer
    from impasto.engine.lbfgs import LBFGS

    torch.manual_seed(0)
    target, weights = torch.rand(1, 3, 16, 16) * 0.8 + 0.1, torch.rand(1, 3, 16, 16) * 10 + 0.1
    image = torch.full_like(target, 0.5).requires_grad_(True)
    optimizer = LBFGS(image, history=5)
    for _ in range(4):
        optimizer.step(_quadratic(image, target, weights))
    full, compact = optimizer_state(optimizer)
    assert not compact and len(full["pairs"]) >= 2
    state, compact = optimizer_state(optimizer, max_history_bytes=0)
    assert compact and state["pairs"] == [] and state["prev"] is not None
    resumed = image.detach().clone().requires_grad_(True)
    fresh = LBFGS(resumed, history=5)
    restore_optimizer(fresh, state)
    before = ((resumed - target) ** 2).sum().item()
    for _ in range(12):
        fresh.step(_quadratic(resumed, target, weights))
    assert len(fresh.pairs) >= 2  # rebuilt
    assert ((resumed - target) ** 2).sum().item() < 0.2 * before


def test_a_file_that_is_not_a_checkpoint_is_a_one_line_error(tmp_path):
    path = tmp_path / "x.ckpt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable impasto checkpoint"):
        checkpoint_io.load(path)
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        checkpoint_io.load(tmp_path / "missing.ckpt")
