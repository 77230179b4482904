"""impasto video's pipeline on tiny clips (64 px, a few frames, few steps), with the real VGG19:
the temporal term lowers the warping error against frame by frame, and an interrupted run
resumed gives the frames of an uninterrupted one."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from impasto.api import render
from impasto.config import StyleConfig
from impasto.nst.temporal import warp
from impasto.video import pipeline

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SHIFT = (3, 1)  # px per frame at 64 px: the camera pans right and down


def _pan(folder: Path, frames: int = 4, width: int = 64, height: int = 48) -> Path:
    """A camera pan over the bundled photo, as numbered PNG frames: frame t shows frame t−1's
    point p + SHIFT at p (a backward flow of SHIFT everywhere, minus the border)."""
    photo = Image.open(EXAMPLES / "tubingen.jpg").convert("RGB").resize((width * 2, height * 2), Image.LANCZOS)
    folder.mkdir()
    for t in range(frames):
        x, y = SHIFT[0] * t, SHIFT[1] * t
        photo.crop((x, y, x + width, y + height)).save(folder / f"frame_{t + 1:04d}.png")
    return folder


def _config(**overrides) -> StyleConfig:
    return StyleConfig.preset(
        "default",
        size=64,
        start_size=64,
        iterations=30,
        frame_iterations=20,
        min_iterations=10,
        **{"precision": "fp32", **overrides},  # the same arithmetic on every CPU (docs/testing.md)
    )


def _e_warp(frames: list[np.ndarray]) -> float:
    """The warping error under the known pan, away from the border the pan uncovers."""
    errors = []
    for earlier, later in itertools.pairwise(frames):
        flow = torch.zeros(1, 2, *later.shape[:2])
        flow[:, 0], flow[:, 1] = SHIFT
        warped = warp(torch.from_numpy(earlier.transpose(2, 0, 1)).unsqueeze(0), flow)
        diff = warped - torch.from_numpy(later.transpose(2, 0, 1)).unsqueeze(0)
        errors.append(float(diff[..., 2:-4, 2:-6].pow(2).sum(1).mean()))
    return float(np.mean(errors))


def _painted(job) -> list[np.ndarray]:
    return [job.work.load_painted(job.config.passes, i) for i in range(job.count)]


@pytest.mark.slow
@pytest.mark.numeric
def test_the_temporal_term_lowers_the_warping_error_against_frame_by_frame(tmp_path, within):
    clip = _pan(tmp_path / "clip")
    job = pipeline.plan(clip, [EXAMPLES / "starry_night.jpg"], tmp_path / "out/", _config())
    shots = pipeline.analyse(job)
    assert shots == [0]  # one shot: the pan is reliable flow everywhere
    pipeline.paint(job, shots)
    video = _painted(job)
    alone = [
        render(dataclasses.replace(job.run, content=Image.fromarray(job.work.load_input(i))))[0]
        .numpy()
        .transpose(1, 2, 0)
        for i in range(job.count)
    ]
    within("E_warp video / frame by frame", _e_warp(video) / _e_warp(alone), "<", 0.5)


@pytest.mark.slow
@pytest.mark.numeric
def test_an_interrupted_run_resumed_gives_the_frames_of_an_uninterrupted_one(tmp_path):
    clip = _pan(tmp_path / "clip")
    styles = [EXAMPLES / "starry_night.jpg"]
    whole = pipeline.plan(clip, styles, tmp_path / "whole/", _config())
    pipeline.paint(whole, pipeline.analyse(whole))
    cut = pipeline.plan(clip, styles, tmp_path / "cut/", _config())

    def stop_at_frame_3(p) -> None:
        if p.frame == 3 and p.step == 5:
            raise KeyboardInterrupt

    shots = pipeline.analyse(cut)
    with pytest.raises(KeyboardInterrupt):
        pipeline.paint(cut, shots, stop_at_frame_3)
    assert [cut.work.is_painted(1, i) for i in range(4)] == [True, True, False, False]
    again = pipeline.plan(clip, styles, tmp_path / "cut/", _config())  # the same command, rerun
    assert again.work.root == cut.work.root
    pipeline.paint(again, pipeline.analyse(again))
    for a, b in zip(_painted(whole), _painted(again)):
        np.testing.assert_array_equal(a, b)
    changed = pipeline.plan(clip, styles, tmp_path / "cut/", _config(temporal_weight=50.0))
    assert changed.work.root != cut.work.root  # other options: another work folder


@pytest.mark.slow
@pytest.mark.numeric
def test_long_term_terms_and_a_second_pass_paint_every_frame_without_flicker(tmp_path, within):
    clip = _pan(tmp_path / "clip")
    styles = [EXAMPLES / "starry_night.jpg"]
    job = pipeline.plan(clip, styles, tmp_path / "out/", _config(long_term=(1, 2), passes=2))
    pipeline.paint(job, pipeline.analyse(job))
    assert job.work.count_painted(1, range(4)) == job.work.count_painted(2, range(4)) == 4
    first = [job.work.load_painted(1, i) for i in range(4)]
    second = _painted(job)  # the last pass's
    assert any(np.abs(a - b).max() > 1e-3 for a, b in zip(first, second))  # the second pass repainted
    alone = [
        render(dataclasses.replace(job.run, content=Image.fromarray(job.work.load_input(i))))[0]
        .numpy()
        .transpose(1, 2, 0)
        for i in range(job.count)
    ]
    within("E_warp video / frame by frame", _e_warp(second) / _e_warp(alone), "<", 0.5)
