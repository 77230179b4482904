"""benchmarks/video_clips.py: the synthetic clips' ground truth is exact, and e_warp reads it."""

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import video_clips

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PHOTO, LAYER = EXAMPLES / "tubingen.jpg", EXAMPLES / "the_scream.jpg"


@pytest.fixture(scope="module")
def clip():
    return video_clips.pan_zoom(PHOTO, LAYER)


def test_the_ground_truth_flow_explains_the_pan_zoom_clip(clip):
    assert len(clip.frames) == len(clip.flows) == len(clip.valid) == 12
    assert clip.frames[0].shape == (192, 256, 3) and clip.frames[0].dtype == np.uint8
    assert clip.flows[1].shape == (192, 256, 2) and clip.flows[1].dtype == np.float32
    assert not clip.flows[0].any() and not clip.valid[0].any()
    exact = video_clips.e_warp(clip.frames, clip.flows, clip.valid)  # 2.4e-4 (bilinear warp's own blur)
    still = video_clips.e_warp(clip.frames, [np.zeros_like(f) for f in clip.flows], clip.valid)  # 1.6e-2
    assert exact < 1e-3
    assert still > 20 * exact
    # The flow is the minimum: a tenth of a pixel off either way, in x or y, warps worse.
    for shift in ((0.1, 0), (-0.1, 0), (0, 0.1), (0, -0.1)):
        off = [f + np.float32(shift) for f in clip.flows]
        assert video_clips.e_warp(clip.frames, off, clip.valid) > exact


def test_the_layer_uncovers_a_band_as_wide_as_its_motion_over_the_background(clip):
    t, (height, width) = 6, clip.frames[0].shape[:2]
    flow, valid = clip.flows[t], clip.valid[t]
    step = flow[height // 2, width // 2]  # the layer's path is centred: it covers the middle mid-clip
    on_layer = (flow == step).all(axis=-1)
    row = height // 2
    columns = np.flatnonzero(on_layer[row])
    # The layer moves by -step: its trailing edge is on the side step points to.
    direction = 1 if step[0] > 0 else -1
    edge = columns.max() if direction > 0 else columns.min()
    band = 0
    while not valid[row, edge + direction * (band + 1)]:
        band += 1
    background = flow[row, edge + direction * (band + 1), 0]
    relative = abs(step[0] - background)  # 5 px/frame of the layer and about 1.5 of the camera
    assert relative > 3
    assert abs(band - relative) <= 1
    assert valid[row, columns].all() and valid[row, edge + direction * (band + 1)]


def test_the_still_clip_reads_as_its_noise():
    clip = video_clips.still(PHOTO, noise=2.0)
    assert not any(f.any() for f in clip.flows) and all(v.all() for v in clip.valid[1:])
    error = video_clips.e_warp(clip.frames, clip.flows, clip.valid)  # 3.8e-4 (rounding adds 1/12 level²)
    assert error == pytest.approx(2 * 3 * (2.0 / 255) ** 2, rel=0.1)
    assert video_clips.e_warp(clip.frames[:1] * 3, clip.flows[:3], clip.valid[:3]) == 0
    floats = [f / 255.0 for f in clip.frames]
    assert video_clips.e_warp(floats, clip.flows, clip.valid) == pytest.approx(error, rel=1e-5)


def test_small_clips_work_and_save_losslessly(tmp_path):
    clip = video_clips.pan_zoom(PHOTO, LAYER, size=(64, 48), frames=4, seed=3)
    assert [f.shape for f in clip.frames] == [(48, 64, 3)] * 4
    assert [v.shape for v in clip.valid] == [(48, 64)] * 4 and clip.valid[1].mean() > 0.9
    assert video_clips.e_warp(clip.frames, clip.flows, clip.valid) < 2e-3
    paths = video_clips.save_frames(clip, tmp_path / "frames")
    assert [p.name for p in paths] == ["000001.png", "000002.png", "000003.png", "000004.png"]
    assert np.array_equal(np.asarray(Image.open(paths[2])), clip.frames[2])
    assert video_clips.still(PHOTO, size=(64, 48), frames=2).frames[1].shape == (48, 64, 3)
    with pytest.raises(ValueError, match="at least 2 frames"):
        video_clips.e_warp(clip.frames[:1], clip.flows[:1], clip.valid[:1])
