"""The routes around the jobs: the page, the API's docs page, the health check, the form's options and the samples."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from .._version import __version__
from .errors import errors, shown
from .settings import option_defaults
from .state import RunsJobsDep, SettingsDep, StoreDep, WorkerDep
from .uploads import SAMPLES, sample_thumbnail

STATIC = Path(__file__).parent / "static"

try:  # the docs page needs the web extra's swagger-ui-bundle
    from swagger_ui_bundle import swagger_ui_path as SWAGGER_UI
except ImportError:
    SWAGGER_UI = None

router = APIRouter()


# --- the page ----------------------------------------------------------------------------------
@router.get("/", include_in_schema=False)
@router.get("/jobs/{job_id}", include_in_schema=False)
def page(job_id: str | None = None) -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html")


@router.get("/docs", include_in_schema=False)
def docs(request: Request) -> HTMLResponse:
    from fastapi.openapi.docs import get_swagger_ui_html

    if SWAGGER_UI is None:
        raise HTTPException(404, "the API page needs swagger-ui-bundle (pip install 'impasto[web]')")
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title="impasto API",
        swagger_js_url="/docs-static/swagger-ui-bundle.js",
        swagger_css_url="/docs-static/swagger-ui.css",
        swagger_favicon_url="/static/favicon.svg",
    )


# --- the API -----------------------------------------------------------------------------------
@router.get("/api/health")
async def health(store: StoreDep, worker: WorkerDep, runs_jobs: RunsJobsDep) -> JSONResponse:
    """200 while the worker runs; 503 if it has stopped (the queue would never move)."""
    ok = worker.is_alive() or not runs_jobs
    return JSONResponse(
        {"status": "ok" if ok else "worker stopped", "version": __version__, **store.counts()},
        status_code=200 if ok else 503,
    )


@router.get("/api/options")
def options(settings: SettingsDep) -> dict:
    """Each preset's defaults, the choices and this server's limits: what the form offers."""
    return option_defaults(settings)


@router.get("/api/samples")
def samples() -> list[dict]:
    return [{"name": n, "title": t, "kind": k} for n, (t, k) in SAMPLES.items()]


@router.get(
    "/api/samples/{name}", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}, **errors(404)}
)
def sample(name: str) -> Response:
    if name not in SAMPLES:
        raise HTTPException(404, f"no such sample: {shown(name)}")
    return Response(sample_thumbnail(name), media_type="image/jpeg", headers={"Cache-Control": "public, max-age=86400"})
