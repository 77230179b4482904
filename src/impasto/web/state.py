"""The app's state (job store, worker, settings): its lifespan, and the dependencies that hand it to routes.

create_app puts them in `app.state`. The dependencies are `async def` on purpose: they run on the
event loop, so that the async routes (the health check, the event streams) never wait for a thread
of the pool that uploads may fill.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from .jobs import JobStore
from .settings import ServerSettings
from .worker import Worker


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load the jobs of an earlier run and start the worker (unless run_jobs is False); stop it at the end."""
    app.state.store.load()
    if app.state.run_jobs:
        app.state.worker.start()
    yield
    if app.state.worker.is_alive():  # also when a test started it by hand
        await asyncio.to_thread(app.state.worker.stop)


async def _store(request: Request) -> JobStore:
    return request.app.state.store


async def _worker(request: Request) -> Worker:
    return request.app.state.worker


async def _settings(request: Request) -> ServerSettings:
    return request.app.state.settings


async def _runs_jobs(request: Request) -> bool:
    return request.app.state.run_jobs


StoreDep = Annotated[JobStore, Depends(_store)]
WorkerDep = Annotated[Worker, Depends(_worker)]
SettingsDep = Annotated[ServerSettings, Depends(_settings)]
RunsJobsDep = Annotated[bool, Depends(_runs_jobs)]
