"""Synthetic video clips with known motion and occlusion, and the warping error that reads them.

`pan_zoom` is a camera pan and slow zoom over a photo with a textured rectangle (cut from a second
image) moving across it at another velocity, so that background appears and disappears at its
edges; `still` is a static shot with fresh sensor noise in every frame. Both are built from the
bundled images (no downloads), and their backward flows and visibility masks are exact by
construction, where an optical-flow estimate would be a guess.

`e_warp` is the warping error of Lai et al. 2018 ("Learning Blind Video Temporal Consistency",
ECCV; github.com/phoenix104104/fast_blind_video_consistency, evaluate_WarpError.py): the flicker
of a processed clip, measured against the input's flows and occlusions (benchmarks/video.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

REFERENCE_WIDTH = 256  # the motions below are in px per frame at this width, scaled with the clip's
PAN = (1.5, 0.5)  # camera pan, px/frame
ZOOM = 1.01  # per frame (zooming in)
LAYER_VELOCITY = (5, 1)  # the moving layer, px/frame (rounded to whole pixels: crisp edges, exact copies)
SUPERSAMPLE = 2  # the background is rendered at 2x and area-averaged: no aliasing of the photo's detail
# A lens-like blur of the background (std in supersampled px, 0.4 frame px): detail at the pixel
# pitch would make even the exact flow's bilinear warp err (e_warp of the input 9e-4 unblurred,
# 2.4e-4 blurred, at 256 px), a floor under every row of benchmarks/video.py.
LENS_BLUR = 0.8


@dataclass
class SyntheticClip:
    """A clip and its ground truth. frames: (H, W, 3) uint8 RGB. flows[t] (t >= 1): (H, W, 2)
    float32 backward flow in px: pixel (x, y) of frame t shows the point (x + u, y + v) of frame
    t-1, u = flows[t][..., 0], v = flows[t][..., 1]; flows[0] is zeros. valid[t]: (H, W) bool,
    True where that pixel of frame t was visible in frame t-1 (not disoccluded, its source inside
    frame t-1); valid[0] is all False."""

    name: str
    frames: list[np.ndarray]
    flows: list[np.ndarray]
    valid: list[np.ndarray]
    fps: int = 25


def _load(path: Path) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB."""
    return np.asarray(Image.open(path).convert("RGB"))


def _fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """The largest centred crop of `image` with the aspect of (width, height), area-resized to it."""
    h, w = image.shape[:2]
    crop_w, crop_h = min(w, round(h * width / height)), min(h, round(w * height / width))
    x0, y0 = (w - crop_w) // 2, (h - crop_h) // 2
    crop = image[y0 : y0 + crop_h, x0 : x0 + crop_w]
    interpolation = cv2.INTER_AREA if crop_w >= width else cv2.INTER_CUBIC
    return cv2.resize(crop, (width, height), interpolation=interpolation)


def _camera(size: tuple[int, int], frames: int, pan: np.ndarray) -> tuple[list[float], list[np.ndarray], tuple]:
    """Per frame t the affine map frame px p -> background px b = s_t (p - centre) + c_t, as the
    lists s_t and c_t, and the background's (width, height) that holds every frame's window."""
    width, height = size
    travel = np.abs(pan) * max(frames - 1, 0)
    back_w, back_h = int(np.ceil(width + travel[0])) + 4, int(np.ceil(height + travel[1])) + 4
    centre = np.array([(back_w - 1) / 2, (back_h - 1) / 2])
    scales = [ZOOM**-t for t in range(frames)]  # source px per frame px: < 1 zooms in (no minifying)
    centres = [centre + pan * (t - (frames - 1) / 2) for t in range(frames)]
    return scales, centres, (back_w, back_h)


def _render_background(back: np.ndarray, size: tuple[int, int], s: float, c: np.ndarray) -> np.ndarray:
    """Frame (H, W, 3) uint8 of the background `back` (at SUPERSAMPLE x the background's px) under
    the map b = s (p - centre) + c: bilinear at SUPERSAMPLE x, then area-averaged."""
    width, height = size
    k = SUPERSAMPLE
    frame_centre = np.array([(width - 1) / 2, (height - 1) / 2])
    # Supersampled pixel X has frame coordinate p = (X - (k-1)/2) / k; background b has
    # supersampled pixel k b + (k-1)/2. So X' = s X + offset.
    half = (k - 1) / 2
    offset = k * (c - s * frame_centre) + half - s * half
    matrix = np.array([[s, 0.0, offset[0]], [0.0, s, offset[1]]])
    big = cv2.warpAffine(
        back,
        matrix,
        (width * k, height * k),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT,
    )
    return cv2.resize(big, (width, height), interpolation=cv2.INTER_AREA)


def _layer_box(corner: np.ndarray, layer_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1), exclusive ends, of the layer with its top-left pixel at `corner`."""
    return int(corner[0]), int(corner[1]), int(corner[0]) + layer_size[0], int(corner[1]) + layer_size[1]


def _inside(box: tuple[int, int, int, int], xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Where the integer pixel (xs, ys) lies in box."""
    return (xs >= box[0]) & (xs < box[2]) & (ys >= box[1]) & (ys < box[3])


def pan_zoom(
    photo: Path, layer: Path, size: tuple[int, int] = (256, 192), frames: int = 12, seed: int = 0
) -> SyntheticClip:
    """A camera pan (PAN px/frame) and zoom (ZOOM per frame) over `photo`, with a rectangle of
    `layer`'s texture (a quarter of the width, a third of the height) moving across it at
    LAYER_VELOCITY px/frame; every motion scales with size[0] / REFERENCE_WIDTH. size: (W, H).
    The seed picks the directions of both motions and where the texture is cut from `layer`.

    Ground truth: a background pixel's flow follows the two frames' affine maps, a layer pixel's
    the layer's step. A background pixel is invalid where its source in frame t-1 lies outside
    that frame, or where the 2x2 footprint of its bilinear source touches the layer there (the
    band uncovered at the layer's trailing edge, as wide as the relative motion, up to 1 px more).
    """
    width, height = size
    rng = np.random.default_rng(seed)
    scale = width / REFERENCE_WIDTH
    signs = np.where(rng.random(4) < 0.5, -1, 1)
    pan = np.array(PAN) * scale * signs[:2]
    velocity = np.array([max(1, round(LAYER_VELOCITY[0] * scale)), round(LAYER_VELOCITY[1] * scale)]) * signs[2:]

    scales, centres, back_size = _camera(size, frames, pan)
    back = _fit(_load(photo), back_size[0] * SUPERSAMPLE, back_size[1] * SUPERSAMPLE)
    back = cv2.GaussianBlur(back, (0, 0), LENS_BLUR)
    layer_size = (max(2, round(width / 4)), max(2, round(height / 3)))
    source = _load(layer)
    texture_scale = 0.6 * width / source.shape[1]  # the texture at a readable scale, then a seeded cut
    source = cv2.resize(source, None, fx=texture_scale, fy=texture_scale, interpolation=cv2.INTER_AREA)
    tx = rng.integers(0, source.shape[1] - layer_size[0] + 1)
    ty = rng.integers(0, source.shape[0] - layer_size[1] + 1)
    texture = source[ty : ty + layer_size[1], tx : tx + layer_size[0]]
    # The layer's path is centred on the frame (it may enter or leave a long clip).
    start = np.array([(width - layer_size[0]) / 2, (height - layer_size[1]) / 2]) - velocity * (frames - 1) / 2
    corners = [np.round(start).astype(int) + velocity * t for t in range(frames)]

    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    frame_centre = np.array([(width - 1) / 2, (height - 1) / 2])
    clip = SyntheticClip("pan_zoom", [], [], [])
    for t in range(frames):
        frame = _render_background(back, size, scales[t], centres[t])
        box = _layer_box(corners[t], layer_size)
        x0, y0, x1, y1 = max(box[0], 0), max(box[1], 0), min(box[2], width), min(box[3], height)
        if x1 > x0 and y1 > y0:
            frame[y0:y1, x0:x1] = texture[y0 - box[1] : y1 - box[1], x0 - box[0] : x1 - box[0]]
        clip.frames.append(frame)
        if t == 0:
            clip.flows.append(np.zeros((height, width, 2), np.float32))
            clip.valid.append(np.zeros((height, width), bool))
            continue
        # Background: b = s_t (p - centre) + c_t, then p' = (b - c_{t-1}) / s_{t-1} + centre.
        ratio = scales[t] / scales[t - 1]
        sx = ratio * (xs - frame_centre[0]) + (centres[t][0] - centres[t - 1][0]) / scales[t - 1] + frame_centre[0]
        sy = ratio * (ys - frame_centre[1]) + (centres[t][1] - centres[t - 1][1]) / scales[t - 1] + frame_centre[1]
        on_layer = _inside(box, xs, ys)
        step = corners[t - 1] - corners[t]
        sx = np.where(on_layer, xs + step[0], sx)
        sy = np.where(on_layer, ys + step[1], sy)
        in_frame = (sx >= 0) & (sx <= width - 1) & (sy >= 0) & (sy <= height - 1)
        before = _layer_box(corners[t - 1], layer_size)
        # The bilinear footprint [floor, ceil] of the source, against the layer's pixels at t-1.
        hidden = (
            (np.ceil(sx) >= before[0])
            & (np.floor(sx) < before[2])
            & (np.ceil(sy) >= before[1])
            & (np.floor(sy) < before[3])
        )
        clip.flows.append(np.stack([sx - xs, sy - ys], axis=-1).astype(np.float32))
        clip.valid.append(in_frame & (on_layer | ~hidden))
    return clip


def still(
    photo: Path, size: tuple[int, int] = (256, 192), frames: int = 12, noise: float = 2.0, seed: int = 0
) -> SyntheticClip:
    """A static shot of `photo` at size (W, H) with Gaussian sensor noise of std `noise` (in levels
    of 255), drawn afresh for every frame: zero flows, every pixel valid from frame 1 on."""
    width, height = size
    rng = np.random.default_rng(seed)
    base = _fit(_load(photo), width, height).astype(np.float64)
    frames_out = [
        np.clip(np.rint(base + rng.normal(0, noise, base.shape)), 0, 255).astype(np.uint8) for _ in range(frames)
    ]
    flows = [np.zeros((height, width, 2), np.float32) for _ in range(frames)]
    valid = [np.full((height, width), t > 0) for t in range(frames)]
    return SyntheticClip("still", frames_out, flows, valid)


def save_frames(clip: SyntheticClip, folder: Path) -> list[Path]:
    """The clip's frames as lossless PNGs folder/000001.png, 000002.png, ... (the folder is made)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, frame in enumerate(clip.frames, start=1):
        path = folder / f"{index:06d}.png"
        Image.fromarray(frame, "RGB").save(path, compress_level=1)
        paths.append(path)
    return paths


def _as_float(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 or float in [0, 1] -> float32 in [0, 1]."""
    return frame.astype(np.float32) / 255.0 if frame.dtype == np.uint8 else frame.astype(np.float32)


def e_warp(frames: Sequence[np.ndarray], flows: Sequence[np.ndarray], valid: Sequence[np.ndarray]) -> float:
    """The warping error of Lai et al. 2018 of `frames` ((H, W, 3), uint8 or float in [0, 1]) under
    the backward flows and masks of a SyntheticClip: for each pair (t-1, t), frame t-1 is warped
    onto frame t (bilinear, cv2.remap), and the squared RGB difference, in [0, 1] units and summed
    over the 3 channels, is averaged over the valid pixels of frame t; then over the pairs.
    As in Lai's evaluate_WarpError.py, the masked squared error is divided by the number of
    non-occluded pixels (not by 3x that number: the channels are summed), and a pair without a
    valid pixel counts as 0. A frame's own noise of std σ (in [0, 1]) so reads as about 6σ²."""
    if len(frames) < 2:
        raise ValueError(f"e_warp needs at least 2 frames, got {len(frames)}")
    height, width = frames[0].shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    errors = []
    for t in range(1, len(frames)):
        previous, current = _as_float(frames[t - 1]), _as_float(frames[t])
        flow, mask = flows[t], valid[t]
        warped = cv2.remap(
            previous, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        squared = ((warped - current) ** 2).sum(axis=-1)  # (H, W)
        count = int(mask.sum())
        errors.append(float(squared[mask].sum() / count) if count else 0.0)
    return float(np.mean(errors))
