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

This module is the wiring: the routes are in routes_jobs (the jobs) and routes_pages (the page,
the docs page, health, options, samples); they reach the app's state through state's dependencies.
"""

from __future__ import annotations

import mimetypes

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._version import __version__
from . import routes_jobs, routes_pages
from .errors import http_error, validation_error
from .guard import Guard
from .jobs import JobStore
from .routes_pages import STATIC, SWAGGER_UI
from .settings import ServerSettings
from .state import lifespan
from .worker import Worker


def create_app(settings: ServerSettings, *, allowed_hosts: list[str] | None = None, run_jobs: bool = True) -> FastAPI:
    """The ASGI app. allowed_hosts: Host names to accept (against DNS rebinding; None: any).
    run_jobs=False queues jobs without running them (for tests of the queue itself)."""
    app = FastAPI(
        title="impasto",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="Neural style transfer: upload a photo and paintings, watch it paint, keep the result.",
    )
    store = JobStore(settings.data_dir, max_queue=settings.max_queue)
    app.state.store, app.state.worker, app.state.settings = store, Worker(store, settings), settings
    app.state.run_jobs = run_jobs  # read by the lifespan and the health check

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)

    app.include_router(routes_pages.router)
    app.include_router(routes_jobs.router)

    # Module scripts run only when served as JavaScript; Windows' registry often says text/plain.
    mimetypes.add_type("text/javascript", ".js")
    mimetypes.add_type("text/css", ".css")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if SWAGGER_UI is not None:
        app.mount("/docs-static", StaticFiles(directory=SWAGGER_UI), name="docs-static")

    app.add_middleware(Guard, max_body=settings.max_upload_bytes, token=settings.token, allowed_hosts=allowed_hosts)
    return app
