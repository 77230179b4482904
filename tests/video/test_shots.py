"""Shots: a clip is cut where the flow breaks, and its shots paint at once as tasks on a real
local Ray (the batch engine's), the driver alone writing the work folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from impasto.batch.engine import Settings
from impasto.config import StyleConfig
from impasto.video import pipeline
from impasto.video.shots import shot_ranges

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _two_shots(folder: Path, per_shot: int = 3, width: int = 64, height: int = 48) -> Path:
    """A pan over the photo, then a cut to a pan over another picture."""
    folder.mkdir()
    index = 0
    for name in ("tubingen.jpg", "the_scream.jpg"):
        picture = Image.open(EXAMPLES / name).convert("RGB").resize((width * 2, height * 2), Image.LANCZOS)
        for t in range(per_shot):
            index += 1
            picture.crop((3 * t, t, 3 * t + width, t + height)).save(folder / f"{index:04d}.png")
    return folder


def _config() -> StyleConfig:
    return StyleConfig.preset(
        "default",
        size=64,
        start_size=64,
        iterations=20,
        frame_iterations=8,
        min_iterations=4,
        stop_tolerance=0.0,
        precision="fp32",  # the same arithmetic in the Ray worker and here, on every CPU
    )


def test_shot_ranges_cover_the_clip_in_order():
    assert shot_ranges([0, 3, 7], 10) == [(0, 3), (3, 7), (7, 10)]
    assert shot_ranges([0], 4) == [(0, 4)]


def test_analyse_cuts_the_clip_where_the_flow_breaks(tmp_path):
    clip = _two_shots(tmp_path / "clip")
    job = pipeline.plan(clip, [EXAMPLES / "starry_night.jpg"], tmp_path / "out/", _config())
    assert pipeline.analyse(job) == [0, 3]


@pytest.mark.slow
@pytest.mark.numeric
def test_two_shots_paint_at_once_on_ray_and_the_driver_writes_every_frame(ray_env, tmp_path):
    clip = _two_shots(tmp_path / "clip")
    job = pipeline.plan(clip, [EXAMPLES / "starry_night.jpg"], tmp_path / "out/", _config())
    shots = pipeline.analyse(job)
    seen = []
    pipeline.paint(job, shots, seen.append, settings=Settings(workers=2, cpus_per_job=1))
    assert all(job.work.is_painted(1, i) for i in range(6))
    assert seen and seen[-1].done == seen[-1].total == 6  # progress: frames done of the clip
    # The same shots painted here, in this process on one thread as each task was: the same frames.
    here = pipeline.plan(clip, [EXAMPLES / "starry_night.jpg"], tmp_path / "here/", _config())
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        pipeline.paint(here, pipeline.analyse(here))
    finally:
        torch.set_num_threads(threads)
    for i in range(6):
        np.testing.assert_allclose(job.work.load_painted(1, i), here.work.load_painted(1, i), atol=1e-5)
    pipeline.encode(job)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{i:06d}.png" for i in range(1, 7)]
