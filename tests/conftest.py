"""Shared fixtures: tiny real images (the bundled samples, downscaled) and the real VGG19, once."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import torch

from impasto.io.read import load_tensor, open_image, resize_long_side
from impasto.nst.vgg import load_vgg19

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(autouse=True)
def _impasto_logger_as_it_was():
    """A CLI run sets up the "impasto" logger for its process (level, handler, no propagation):
    in a test it must not leave that to the tests after it, whatever order they run in."""
    logger = logging.getLogger("impasto")
    level, propagate, handlers = logger.level, logger.propagate, list(logger.handlers)
    yield
    logger.setLevel(level)
    logger.propagate = propagate
    logger.handlers[:] = handlers


@pytest.fixture(scope="session")
def vgg():
    return load_vgg19()


@pytest.fixture(scope="session")
def content_path() -> Path:
    return EXAMPLES / "tubingen.jpg"


@pytest.fixture(scope="session")
def style_path() -> Path:
    return EXAMPLES / "starry_night.jpg"


@pytest.fixture(scope="session")
def small_content(content_path):
    """The Tübingen photo as a 64-px-wide PIL image."""
    return resize_long_side(open_image(content_path), 64)


@pytest.fixture(scope="session")
def small_style(style_path):
    return resize_long_side(open_image(style_path), 64)


@pytest.fixture()
def content_tensor(content_path) -> torch.Tensor:
    return load_tensor(content_path, 64)


@pytest.fixture()
def style_tensor(style_path) -> torch.Tensor:
    return load_tensor(style_path, 64)


# Ray (impasto batch, impasto video --workers): one HOME per session, a short temp path per test.
@pytest.fixture(scope="session")
def ray_home(tmp_path_factory) -> Path:
    """One HOME for every Ray test of the session: Ray caches its auth token (~/.ray/auth_token)
    in the process, so a new HOME per test would make the next cluster's token differ."""
    return tmp_path_factory.mktemp("ray-home")


@pytest.fixture()
def ray_env(tmp_path, monkeypatch, ray_home):
    home = ray_home
    short = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("RAY_TMPDIR", str(short))
    monkeypatch.setenv("IMPASTO_CACHE", str(tmp_path / "cache"))
    yield {**os.environ, "HOME": str(home), "RAY_TMPDIR": str(short)}
    shutil.rmtree(short, ignore_errors=True)
