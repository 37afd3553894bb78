"""The app's one task runner: long work off the GUI thread, results back through queued signals.

A job has a *kind* ("load", "prune", "verify", ...). Submitting a job cancels the
previous job of the same kind, and a result that arrives after a newer job of its
kind was submitted is dropped (generation numbers), so the GUI only ever sees the
latest answer. Work functions take keyword-only ``progress`` and ``cancel``
arguments (see graph/cancel.py). Model jobs run on a one-thread queue so that only
one forward pass runs at a time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal

from ..graph.cancel import CancelToken
from ..graph.errors import Cancelled
from .error_report import details_of, one_line

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.05
PROGRESS_STEP = 0.01


@dataclass
class Job:
    """Handle of one submitted job."""

    kind: str
    generation: int
    token: CancelToken = field(default_factory=CancelToken)
    on_done: Callable[[Any], None] | None = None
    on_error: Callable[[BaseException], None] | None = None
    on_progress: Callable[[float, str], None] | None = None
    on_partial: Callable[[Any], None] | None = None
    future: Future[Any] | None = None
    finished: bool = False

    def cancel(self) -> None:
        self.token.cancel()

    def release(self) -> None:
        """Drop the callbacks once the job is over: the runner keeps the latest job of each
        kind, and its closures held what they were given (a replaced 400 MB graph stayed in
        memory until the next job of that kind)."""
        self.on_done = self.on_error = self.on_progress = self.on_partial = None
        self.future = None


class _Throttle:
    """Forward progress at most every 50 ms or 1 %, whichever comes first."""

    def __init__(self, emit: Callable[[float, str], None]) -> None:
        self._emit = emit
        self._last_t = 0.0
        self._last_f = -1.0
        self._last_phase = ""

    def __call__(self, fraction: float, phase: str, /) -> None:
        now = time.monotonic()
        if (phase != self._last_phase or fraction >= 1.0 or now - self._last_t >= PROGRESS_INTERVAL_S
                or fraction - self._last_f >= PROGRESS_STEP):
            self._last_t, self._last_f, self._last_phase = now, fraction, phase
            self._emit(round(float(fraction), 3), phase)


class TaskRunner(QObject):
    """Runs work functions on worker threads (or inline, in synchronous mode).

    Signals (all delivered on the GUI thread):
        job_started(str kind), job_progressed(str kind, float, str phase),
        job_finished(str kind), job_failed(str kind, str message, str details),
        job_cancelled(str kind).
    """

    job_started = Signal(str)
    job_progressed = Signal(str, float, str)
    job_finished = Signal(str)
    job_failed = Signal(str, str, str)
    job_cancelled = Signal(str)
    # internal: worker -> GUI thread (queued because the runner lives on the GUI thread)
    _progress = Signal(object, float, str)
    _partial = Signal(object, object)
    _done = Signal(object, object, object)

    def __init__(self, parent: QObject | None = None, *, synchronous: bool = False) -> None:
        super().__init__(parent)
        self.synchronous = synchronous
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._latest: dict[str, Job] = {}
        self._generation = 0
        self._progress.connect(self._on_progress)
        self._partial.connect(self._on_partial)
        self._done.connect(self._on_done)

    def _pool(self, queue: str) -> ThreadPoolExecutor:
        if queue not in self._pools:
            workers = 1 if queue == "model" else 2
            self._pools[queue] = ThreadPoolExecutor(workers, thread_name_prefix=f"cd-{queue}")
        return self._pools[queue]

    def submit(
        self,
        kind: str,
        fn: Callable[..., Any],
        *,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_progress: Callable[[float, str], None] | None = None,
        on_partial: Callable[[Any], None] | None = None,
        queue: str = "default",
    ) -> Job:
        """Run ``fn(progress=..., cancel=...)``; inputs must already be immutable snapshots.

        With ``on_partial``, ``fn`` also gets ``partial=``: each value it passes reaches
        ``on_partial`` on the GUI thread (rows of results as they arrive).
        """
        self.cancel(kind)
        self._generation += 1
        job = Job(kind, self._generation, on_done=on_done, on_error=on_error,
                  on_progress=on_progress, on_partial=on_partial)
        self._latest[kind] = job
        self.job_started.emit(kind)
        throttle = _Throttle(lambda f, ph: self._progress.emit(job, f, ph))
        extra: dict[str, Any] = {}
        if on_partial is not None:
            extra["partial"] = lambda value: self._partial.emit(job, value)

        def work() -> None:
            try:
                result = fn(progress=throttle, cancel=job.token, **extra)
            except BaseException as exc:  # noqa: BLE001 - every error must reach the user
                self._done.emit(job, None, exc)
            else:
                self._done.emit(job, result, None)

        if self.synchronous:
            work()
        else:
            job.future = self._pool(queue).submit(work)
        return job

    def cancel(self, kind: str) -> None:
        job = self._latest.get(kind)
        if job is not None and not job.finished:
            job.cancel()

    def is_running(self, kind: str) -> bool:
        job = self._latest.get(kind)
        return job is not None and not job.finished

    def _is_current(self, job: Job) -> bool:
        return self._latest.get(job.kind) is job

    def _on_progress(self, job: Job, fraction: float, phase: str) -> None:
        if self._is_current(job) and not job.token.cancelled:
            if job.on_progress:
                job.on_progress(fraction, phase)
            self.job_progressed.emit(job.kind, fraction, phase)

    def _on_partial(self, job: Job, value: Any) -> None:
        if self._is_current(job) and not job.token.cancelled and job.on_partial:
            job.on_partial(value)

    def _on_done(self, job: Job, result: Any, error: BaseException | None) -> None:
        job.finished = True
        try:
            self._finish(job, result, error)
        finally:
            job.release()

    def _finish(self, job: Job, result: Any, error: BaseException | None) -> None:
        if not self._is_current(job):
            return  # superseded: a newer job of this kind owns the UI now
        if isinstance(error, Cancelled) or (error is None and job.token.cancelled):
            self.job_cancelled.emit(job.kind)
        elif error is not None:
            self._fail(job, error)
        else:
            try:
                if job.on_done:
                    job.on_done(result)
            except Exception as exc:  # noqa: BLE001 - set-up on the GUI thread failed: a failed job
                self._fail(job, exc)
            else:
                self.job_finished.emit(job.kind)

    def _fail(self, job: Job, error: BaseException) -> None:
        log.error("%s job failed", job.kind, exc_info=error)
        if job.on_error:
            job.on_error(error)
        self.job_failed.emit(job.kind, one_line(error), details_of(error))

    def shutdown(self) -> None:
        """Cancel everything and wait for the workers to exit."""
        for job in self._latest.values():
            job.cancel()
        for pool in self._pools.values():
            pool.shutdown(wait=True, cancel_futures=True)
        self._pools.clear()
