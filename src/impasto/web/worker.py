"""The one worker thread: runs queued jobs in order, one at a time, on the run's device.

Progress comes through the API's callback after every step; a live preview is encoded at most
every `preview_interval` seconds (and at the first and last step). Cancelling is a flag that the
next step's callback turns into an exception, so a run stops within one step.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from ..api import prepare, render
from ..engine.loop import NonFiniteLossError, Progress
from ..io.write import encode_preview, save_image, write_atomic
from .jobs import CANCELLED, DONE, FAILED, QUEUED, RUNNING, Job, JobStore
from .settings import ServerSettings
from .uploads import relabel

log = logging.getLogger(__name__)

THUMB_SIZE = 320


class _Stopped(Exception):
    """Raised in the progress callback: the job was cancelled, or the server is shutting down."""


class Worker(threading.Thread):
    def __init__(self, store: JobStore, settings: ServerSettings) -> None:
        super().__init__(name="impasto-worker", daemon=True)
        self.store, self.settings = store, settings
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            job = None
            try:  # nothing may end this loop but stop(): every later job would wait forever
                job = self.store.next(timeout=0.5)
                if job is not None:
                    self._run(job)
            except Exception as err:
                log.exception("the worker failed outside a job's own handling; it goes on")
                if job is not None and job.state == RUNNING:
                    with contextlib.suppress(Exception):
                        self.store.finish(job, FAILED, error=f"internal error: {type(err).__name__}")
                time.sleep(1)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current step; the job it ran is queued again for the next start, also
        when a step outlasts `timeout` (the thread is a daemon: the process may end under it)."""
        self._stopping.set()
        self.join(timeout)
        if self.is_alive():
            self.store.hand_back_running()

    def _run(self, job: Job) -> None:
        store, settings = self.store, self.settings
        folder = store.folder(job.id)
        last_preview = 0.0

        def on_step(p: Progress) -> None:
            nonlocal last_preview
            if job.cancel_requested or self._stopping.is_set():
                raise _Stopped
            progress = {
                "step": p.step,
                "total": p.total,
                "scale": p.scale,
                "scales": p.scale_count,  # the JSON keeps its name: clients read it
                "width": p.width,
                "height": p.height,
                "done": round(p.done, 4),
                "elapsed": round(p.elapsed, 2),
                "loss": p.loss,
            }
            now = time.monotonic()
            preview = None
            if p.step in (1, p.total) or now - last_preview >= settings.preview_interval:
                preview, last_preview = encode_preview(p.image, settings.preview_size), now
            store.report(job, progress, preview)

        try:
            if self._stopping.is_set():
                raise _Stopped
            run = prepare(
                folder / "content",
                [folder / f for f in job.style_files],
                config=job.options.config(),
                max_pixels=settings.max_pixels,
            )
            if self._stopping.is_set():
                raise _Stopped
            result = render(run, callback=on_step)
            save_image(result, folder / "result.png")
            write_atomic(folder / "thumb.jpg", encode_preview(result, THUMB_SIZE))
            final = encode_preview(result, settings.preview_size)
            write_atomic(folder / "preview.jpg", final)
            store.report(job, job.progress, final)
            store.finish(job, DONE, result_size=(result.shape[-1], result.shape[-2]))
        except _Stopped:
            if self._stopping.is_set() and not job.cancel_requested:
                store.finish(job, QUEUED)  # the server stops: run it again on the next start
            else:
                _keep_preview(job, folder)
                store.finish(job, CANCELLED)
        except ValueError as err:  # an input that passed the upload checks but fails here
            _keep_preview(job, folder)
            store.finish(job, FAILED, error=relabel(str(err), folder, job))
        except NonFiniteLossError as err:
            _keep_preview(job, folder)
            store.finish(job, FAILED, error=str(err))
        except Exception as err:  # the server goes on with the next job
            log.exception("job %s failed", job.id)
            text = str(err).strip().splitlines()[0] if str(err).strip() else ""
            _keep_preview(job, folder)
            store.finish(job, FAILED, error=f"internal error: {type(err).__name__}: {text}")


def _keep_preview(job: Job, folder) -> None:
    """Where an unfinished job got to stays on its page (best effort: a full disk loses it)."""
    if job.preview is not None:
        with contextlib.suppress(OSError):
            write_atomic(folder / "preview.jpg", job.preview)
