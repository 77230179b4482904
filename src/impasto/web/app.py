"""The web app: a static page, a JSON API over the job queue, and live progress as Server-Sent Events.

    POST   /api/jobs                 multipart: content | content_sample, styles | style_samples, options
    GET    /api/jobs                 every job of this server, newest first
    GET    /api/jobs/{id}            one job's state, queue position and progress
    GET    /api/jobs/{id}/events     the same, as an event stream: one event per change, until it ends
    GET    /api/jobs/{id}/preview    the live preview (JPEG)
    GET    /api/jobs/{id}/result     the result (PNG); ?download=1 to save it
    DELETE /api/jobs/{id}            cancel a queued or running job; ?purge=1 deletes a finished one

Errors are JSON `{"error": "one line"}` with a 4xx status. The OpenAPI page is /docs, served
from local files like everything else: the page works with no network.
"""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Literal

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from .guard import Guard
from .jobs import FINISHED, Job, JobStateError, JobStore, QueueFullError
from .settings import JobOptions, ServerSettings, option_defaults
from .uploads import SAMPLES, BusyError, InputError, Upload, create_job, sample_thumbnail
from .worker import Worker

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"


class ErrorBody(BaseModel):
    error: str  # one line


_WHY = {
    400: "Malformed request",
    401: "The server's token is missing or wrong",
    403: "A cross-site request",
    404: "No such job, sample or file",
    409: "Not in a state that allows it",
    413: "Over the upload limit",
    422: "A bad image or option",
    429: "The queue is full",
    503: "The server cannot take it now",
}


def errors(*codes: int) -> dict:
    """OpenAPI entries of the error answers a route gives, all `{"error": "one line"}`."""
    return {code: {"model": ErrorBody, "description": _WHY[code]} for code in (401, *codes)}


EVENT_POLL = 0.1  # seconds between looks at a job for its event stream
KEEPALIVE = 15.0


def create_app(settings: ServerSettings, *, allowed_hosts: list[str] | None = None, run_jobs: bool = True) -> FastAPI:
    """The ASGI app. allowed_hosts: Host names to accept (against DNS rebinding; None: any).
    run_jobs=False queues jobs without running them (for tests of the queue itself)."""
    store = JobStore(settings.data_dir, max_queue=settings.max_queue)
    worker = Worker(store, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store.load()
        if run_jobs:
            worker.start()
        yield
        if worker.is_alive():  # also when a test started it by hand
            await asyncio.to_thread(worker.stop)

    app = FastAPI(
        title="impasto",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="Neural style transfer: upload a photo and paintings, watch it paint, keep the result.",
    )
    app.state.store, app.state.worker, app.state.settings = store, worker, settings

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid')}"}, status_code=422)

    def missing(job_id: str) -> HTTPException:
        return HTTPException(404, f"no such job: {shown(job_id)}")

    def find(job_id: str) -> Job:
        try:
            return store.get(job_id)
        except KeyError:
            raise missing(job_id) from None

    def public(job_id: str) -> dict:
        try:
            return store.public(job_id)
        except KeyError:  # unknown, or deleted meanwhile
            raise missing(job_id) from None

    def job_file(job: Job, names: tuple[str, ...], media_type: str, headers: dict | None = None) -> Response:
        """The first of `names` in the job's folder, read whole (a result is a few MB): a file
        deleted between a check and the send cannot break the answer."""
        for name in names:
            try:
                return Response((store.folder(job.id) / name).read_bytes(), media_type=media_type, headers=headers)
            except OSError:
                continue
        raise HTTPException(404, f"job {job.id} has no {names[0].split('.')[0]} ({job.state})")

    # --- the page ------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    @app.get("/jobs/{job_id}", include_in_schema=False)
    def page(job_id: str | None = None) -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    # Module scripts run only when served as JavaScript; Windows' registry often says text/plain.
    mimetypes.add_type("text/javascript", ".js")
    mimetypes.add_type("text/css", ".css")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    try:
        import swagger_ui_bundle

        app.mount("/docs-static", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-static")
    except ImportError:  # the docs page needs the web extra's swagger-ui-bundle
        swagger_ui_bundle = None

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        from fastapi.openapi.docs import get_swagger_ui_html

        if swagger_ui_bundle is None:
            raise HTTPException(404, "the API page needs swagger-ui-bundle (pip install 'impasto[web]')")
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title="impasto API",
            swagger_js_url="/docs-static/swagger-ui-bundle.js",
            swagger_css_url="/docs-static/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    # --- the API -------------------------------------------------------------------------------
    @app.get("/api/health")
    async def health() -> JSONResponse:
        """200 while the worker runs; 503 if it has stopped (the queue would never move)."""
        ok = worker.is_alive() or not run_jobs
        return JSONResponse(
            {"status": "ok" if ok else "worker stopped", "version": __version__, **store.counts()},
            status_code=200 if ok else 503,
        )

    @app.get("/api/options")
    def options() -> dict:
        """Each preset's defaults, the choices and this server's limits: what the form offers."""
        return option_defaults(settings)

    @app.get("/api/samples")
    def samples() -> list[dict]:
        return [{"name": n, "title": t, "kind": k} for n, (t, k) in SAMPLES.items()]

    @app.get(
        "/api/samples/{name}", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}, **errors(404)}
    )
    def sample(name: str) -> Response:
        if name not in SAMPLES:
            raise HTTPException(404, f"no such sample: {shown(name)}")
        return Response(
            sample_thumbnail(name), media_type="image/jpeg", headers={"Cache-Control": "public, max-age=86400"}
        )

    @app.post("/api/jobs", status_code=201, responses=errors(400, 403, 413, 422, 429, 503))
    def submit(
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
        return public(job.id)

    @app.get("/api/jobs")
    def jobs() -> list[dict]:
        return store.listing()

    @app.get("/api/jobs/{job_id}", responses=errors(404))
    def job(job_id: str) -> dict:
        return public(job_id)

    @app.get(
        "/api/jobs/{job_id}/events",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}, **errors(404)},
    )
    async def events(job_id: str) -> StreamingResponse:
        """`event: job` with the job's JSON at every change (step, queue position, state), ending
        after the job finishes; `event: gone` if it is deleted."""
        find(job_id)

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

    @app.get(
        "/api/jobs/{job_id}/preview",
        response_class=Response,
        responses={200: {"content": {"image/jpeg": {}}}, **errors(404)},
    )
    def preview(job_id: str) -> Response:
        """The live preview while it runs; after it, the last one (saved as preview.jpg)."""
        job = find(job_id)
        if job.preview is not None:
            return Response(job.preview, media_type="image/jpeg", headers={"Cache-Control": "no-cache"})
        return job_file(job, ("preview.jpg", "thumb.jpg"), "image/jpeg", {"Cache-Control": "no-cache"})

    @app.get(
        "/api/jobs/{job_id}/thumbnail",
        response_class=Response,
        responses={200: {"content": {"image/jpeg": {}}}, **errors(404)},
    )
    def thumbnail(job_id: str) -> Response:
        return job_file(find(job_id), ("thumb.jpg",), "image/jpeg")

    @app.get(
        "/api/jobs/{job_id}/result",
        response_class=Response,
        responses={200: {"content": {"image/png": {}}}, **errors(404)},
    )
    def result(job_id: str, download: bool = False) -> Response:
        job = find(job_id)  # first: an unknown id gets its 404 before anything is built from it
        disposition = f'{"attachment" if download else "inline"}; filename="impasto-{job.id[:8]}.png"'
        return job_file(job, ("result.png",), "image/png", {"Content-Disposition": disposition})

    @app.delete("/api/jobs/{job_id}", responses=errors(403, 404, 409))
    def cancel(job_id: str, purge: bool = False) -> dict:
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

    app.add_middleware(Guard, max_body=settings.max_upload_bytes, token=settings.token, allowed_hosts=allowed_hosts)
    return app


def shown(text: str) -> str:
    """A request's text, quoted in an error: printable and short, so the message stays one line."""
    text = "".join(c for c in text if c.isprintable())
    return repr(text[:40] + ("..." if len(text) > 40 else ""))
