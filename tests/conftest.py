"""Shared fixtures: tiny real images (the bundled samples, downscaled) and the real VGG19, once."""

from __future__ import annotations

import json
import logging
import operator
import os
import shutil
import tempfile
from pathlib import Path

# MKL's guidance for run-to-run reproducible BLAS: a fixed thread count, not one MKL picks at run
# time. Read when MKL starts, so before torch's first matrix product; the CLI subprocesses of the
# tests inherit it (docs/testing.md: an unverified suspect of the in-suite Adam failure on AMX).
os.environ.setdefault("MKL_DYNAMIC", "FALSE")

import pytest
import torch
from isa import bf16_path, effective_cap

from impasto.io.read import load_tensor, open_image, resize_long_side
from impasto.nst.vgg import load_vgg19

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


# Every test runs on this many threads, whatever the machine has, and leaves the count as it found
# it: fp32 sums are split by thread, so a count left behind by an earlier test (a batch task sets
# its own) would change the arithmetic of the tests after it (docs/testing.md).
TEST_THREADS = 2


def pytest_report_header(config):
    return f"impasto: oneDNN cap {effective_cap()}, bf16 path {'yes' if bf16_path() else 'no'}, {TEST_THREADS} threads"


def pytest_collection_modifyitems(config, items):
    if bf16_path():
        return
    skip = pytest.mark.skip(reason="no bf16 convolution path under this instruction set (ONEDNN_MAX_CPU_ISA)")
    for item in items:
        if "bf16" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _same_arithmetic_for_every_test():
    """The thread count fixed and restored, and torch's global generator seeded, so that a test's
    numbers do not depend on what ran before it in the process."""
    threads = torch.get_num_threads()
    torch.set_num_threads(TEST_THREADS)
    state = torch.random.get_rng_state()
    torch.manual_seed(0)
    yield
    torch.random.set_rng_state(state)
    torch.set_num_threads(threads)


@pytest.fixture()
def seed() -> int:
    """The seed of a numeric test's inputs: 0, or IMPASTO_TEST_SEED when tests/isa.py --spread
    measures a limit's spread over seeds."""
    return int(os.environ.get("IMPASTO_TEST_SEED", "0"))


_OPERATORS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@pytest.fixture()
def within(request, seed):
    """within(name, value, op, limit): assert `value op limit` and, when IMPASTO_SPREAD_OUT names a
    file, append the measurement to it (tests/isa.py --spread builds the table of docs/testing.md)."""

    def check(name: str, value: float, op: str, limit: float) -> None:
        value = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
        out = os.environ.get("IMPASTO_SPREAD_OUT")
        if out:
            row = {"test": request.node.nodeid, "name": name, "value": value, "op": op, "limit": limit}
            row |= {"seed": seed, "cap": effective_cap()}
            with open(out, "a") as f:
                f.write(json.dumps(row) + "\n")
        assert _OPERATORS[op](value, limit), f"{name}: {value:.6g} is not {op} {limit:g}"

    return check


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
