"""A new job's inputs: uploads and bundled samples, written under our own names and checked.

Uploaded file names are kept for display only (trimmed, control characters dropped); the files
are `content` and `style-1`, `style-2`, ... in the job's folder. Every input is decoded and checked
by `api.prepare` before the job is queued, so a bad image is a 4xx answer to the upload, not a
failed job later.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from ..api import prepare
from .jobs import Job, JobStore
from .settings import JobOptions, ServerSettings

SAMPLES_DIR = Path(__file__).parent / "samples"
# name -> (title, what it is); the files are copies of examples/ (sources in examples/README.md)
SAMPLES = {
    "tubingen": ("Tübingen, Neckarfront", "photo"),
    "starry_night": ("The Starry Night, van Gogh", "painting"),
    "the_scream": ("The Scream, Munch", "painting"),
}


# Uploads decoded at once: each may be 50 MP (150 MB decoded); more requests wait their turn.
_DECODING = threading.BoundedSemaphore(2)
_DECODING_WAIT = 30.0  # seconds an upload waits for its turn before a 503


class BusyError(Exception):
    """Too many uploads are being checked at once."""


class InputError(ValueError):
    """A bad input: answered with 422 and this message."""


@dataclass(frozen=True)
class Upload:
    """One uploaded file: its name as the user gave it and its bytes (already in a spooled file)."""

    name: str
    file: BinaryIO


def display_name(name: str | None) -> str:
    """For the page only: printable, at most 80 characters, no folders."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip()
    return (name[:77] + "...") if len(name) > 80 else (name or "(unnamed)")


def sample_path(name: str) -> Path:
    if name not in SAMPLES:
        raise InputError(f"unknown sample {name!r}; choose one of {', '.join(SAMPLES)}")
    return SAMPLES_DIR / f"{name}.jpg"


@lru_cache(maxsize=len(SAMPLES))
def sample_thumbnail(name: str) -> bytes:
    from ..io.read import open_image
    from ..io.write import encode_preview

    return encode_preview(open_image(sample_path(name)), 256)


def relabel(message: str, folder: Path, job: Job) -> str:
    """A message about a job's files with our paths replaced by what the user gave."""
    paths = [folder / "content", *(folder / f for f in job.style_files)]
    labels = [f"the photo ({job.content_name})", *(f"painting {i} ({n})" for i, n in enumerate(job.style_names, 1))]
    for path, label in sorted(zip(paths, labels), key=lambda pair: -len(str(pair[0]))):  # style-10 before style-1
        message = message.replace(str(path), label)
    return message


def _store(source: Upload | str, dest: Path) -> str:
    """Copy one input to `dest`; returns its display name."""
    if isinstance(source, str):
        shutil.copyfile(sample_path(source), dest)
        return SAMPLES[source][0]
    source.file.seek(0)
    with dest.open("wb") as out:
        shutil.copyfileobj(source.file, out, 1 << 20)
    return display_name(source.name)


def create_job(
    store: JobStore,
    settings: ServerSettings,
    options: JobOptions,
    content: Upload | str | None,
    styles: list[Upload | str],
) -> Job:
    """Write, check and queue a job. InputError for a bad input or option, QueueFullError."""
    if content is None:
        raise InputError("give a photo: upload one, or choose a sample")
    if not styles:
        raise InputError("give at least one painting: upload one, or choose a sample")
    if len(styles) > settings.max_styles:
        raise InputError(f"{len(styles)} paintings; at most {settings.max_styles} per job")
    try:
        options.check(settings)
        config = options.config()
    except (ValueError, TypeError) as err:
        raise InputError(str(err)) from None
    store.check_room()  # before any decoding
    job_id, staged = store.staging()
    try:
        content_name = _store(content, staged / "content")
        style_files = [f"style-{i}" for i in range(1, len(styles) + 1)]
        style_names = [_store(s, staged / f) for s, f in zip(styles, style_files)]
        job = Job(job_id, options, content_name, style_names, style_files)
        if not _DECODING.acquire(timeout=_DECODING_WAIT):
            raise BusyError("the server is busy checking other uploads; try again shortly")
        try:
            prepare(
                staged / "content", [staged / f for f in style_files], config=config, max_pixels=settings.max_pixels
            )
        except (ValueError, TypeError) as err:
            raise InputError(relabel(str(err), staged, job)) from None
        finally:
            _DECODING.release()
        store.add(job, staged)
        return job
    finally:
        shutil.rmtree(staged, ignore_errors=True)  # gone already when the job was queued
