"""The JSON API over the job queue: submit, list, read, cancel and delete jobs, their events and their pictures."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, HTTPException, UploadFile
from fastapi.responses import Response, StreamingResponse

from .errors import errors, shown
from .jobs import FINISHED, Job, JobStateError, JobStore, QueueFullError
from .settings import JobOptions
from .state import SettingsDep, StoreDep
from .uploads import SAMPLES, BusyError, InputError, Upload, create_job

log = logging.getLogger(__name__)

EVENT_POLL = 0.1  # seconds between looks at a job for its event stream
KEEPALIVE = 15.0

router = APIRouter()


def missing(job_id: str) -> HTTPException:
    return HTTPException(404, f"no such job: {shown(job_id)}")


def find(store: JobStore, job_id: str) -> Job:
    try:
        return store.get(job_id)
    except KeyError:
        raise missing(job_id) from None


def public(store: JobStore, job_id: str) -> dict:
    try:
        return store.public(job_id)
    except KeyError:  # unknown, or deleted meanwhile
        raise missing(job_id) from None


def job_file(
    store: JobStore, job: Job, names: tuple[str, ...], media_type: str, headers: dict | None = None
) -> Response:
    """The first of `names` in the job's folder, read whole (a result is a few MB): a file
    deleted between a check and the send cannot break the answer."""
    for name in names:
        try:
            return Response((store.folder(job.id) / name).read_bytes(), media_type=media_type, headers=headers)
        except OSError:
            continue
    raise HTTPException(404, f"job {job.id} has no {names[0].split('.')[0]} ({job.state})")


@router.post("/api/jobs", status_code=201, responses=errors(400, 403, 413, 422, 429, 503))
def submit(
    store: StoreDep,
    settings: SettingsDep,
    content: Annotated[UploadFile | None, File(description="The photo (or give content_sample)")] = None,
    styles: Annotated[list[UploadFile], File(description="One or more paintings")] = [],  # noqa: B006
    content_sample: Annotated[str | None, Form(description=f"One of {', '.join(SAMPLES)}")] = None,
    style_samples: Annotated[list[str], Form(description="Bundled paintings, by name")] = [],  # noqa: B006
    size: Annotated[int | None, Form(description="Long side of the result, px")] = None,
    iterations: Annotated[int | None, Form(description="Steps at the first scale")] = None,
    style_strength: Annotated[float | None, Form(description="Times the preset's style weight")] = None,
    preserve_color: Annotated[Literal["none", "luminance", "histogram"] | None, Form()] = None,
    preset: Annotated[str | None, Form()] = None,
    seed: Annotated[int | None, Form()] = None,
) -> dict:
    """Queue a job. 201 with the job; 413 over the upload limit; 422 for a bad image or option;
    429 when the queue is full; 503 when the server cannot store it."""
    photo = Upload(content.filename or "", content.file) if content is not None else content_sample
    paintings = [Upload(f.filename or "", f.file) for f in styles] + list(style_samples)
    given = {
        "size": size,
        "iterations": iterations,
        "style_strength": style_strength,
        "preserve_color": preserve_color,
        "preset": preset,
        "seed": seed,
    }
    options = JobOptions(**{k: v for k, v in given.items() if v is not None})  # defaults: settings.py
    try:
        job = create_job(store, settings, options, photo, paintings)
    except InputError as err:
        raise HTTPException(422, str(err)) from None
    except QueueFullError as err:
        raise HTTPException(429, str(err), headers={"Retry-After": "30"}) from None
    except BusyError as err:
        raise HTTPException(503, str(err), headers={"Retry-After": "5"}) from None
    except OSError as err:
        log.error("cannot store a new job: %s", err)
        raise HTTPException(503, f"the server cannot store the job ({err.strerror or err})") from None
    return public(store, job.id)


@router.get("/api/jobs")
def jobs(store: StoreDep) -> list[dict]:
    return store.listing()


@router.get("/api/jobs/{job_id}", responses=errors(404))
def job(job_id: str, store: StoreDep) -> dict:
    return public(store, job_id)


@router.get(
    "/api/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **errors(404)},
)
async def events(job_id: str, store: StoreDep) -> StreamingResponse:
    """`event: job` with the job's JSON at every change (step, queue position, state), ending
    after the job finishes; `event: gone` if it is deleted."""
    find(store, job_id)

    async def stream() -> AsyncIterator[str]:
        last, quiet, seq = None, 0.0, 0
        while True:
            try:
                now = store.public(job_id)
            except KeyError:
                yield "event: gone\ndata: {}\n\n"
                return
            if now != last:
                seq += 1
                yield f"id: {seq}\nevent: job\ndata: {json.dumps(now)}\n\n"
                last, quiet = now, 0.0
                if now["state"] in FINISHED:
                    return
            elif quiet >= KEEPALIVE:
                yield ": keep-alive\n\n"
                quiet = 0.0
            await asyncio.sleep(EVENT_POLL)
            quiet += EVENT_POLL

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


@router.get(
    "/api/jobs/{job_id}/preview",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, **errors(404)},
)
def preview(job_id: str, store: StoreDep) -> Response:
    """The live preview while it runs; after it, the last one (saved as preview.jpg)."""
    job = find(store, job_id)
    if job.preview is not None:
        return Response(job.preview, media_type="image/jpeg", headers={"Cache-Control": "no-cache"})
    return job_file(store, job, ("preview.jpg", "thumb.jpg"), "image/jpeg", {"Cache-Control": "no-cache"})


@router.get(
    "/api/jobs/{job_id}/thumbnail",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, **errors(404)},
)
def thumbnail(job_id: str, store: StoreDep) -> Response:
    return job_file(store, find(store, job_id), ("thumb.jpg",), "image/jpeg")


@router.get(
    "/api/jobs/{job_id}/result",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **errors(404)},
)
def result(job_id: str, store: StoreDep, download: bool = False) -> Response:
    job = find(store, job_id)  # first: an unknown id gets its 404 before anything is built from it
    disposition = f'{"attachment" if download else "inline"}; filename="impasto-{job.id[:8]}.png"'
    return job_file(store, job, ("result.png",), "image/png", {"Content-Disposition": disposition})


@router.delete("/api/jobs/{job_id}", responses=errors(403, 404, 409))
def cancel(job_id: str, store: StoreDep, purge: bool = False) -> dict:
    """Cancel: a queued job leaves the queue, a running one stops at its next step (409 for a
    job already done or failed). With ?purge=1, delete a finished job and its files."""
    try:
        if purge:
            store.purge(job_id)
            return {"id": job_id, "status": "deleted"}
        return {"id": job_id, "status": store.cancel(job_id)}
    except KeyError:
        raise missing(job_id) from None
    except JobStateError as err:
        raise HTTPException(409, str(err)) from None
