"""Runs analyses in a pool of worker processes (all cores, off the event loop).

Each worker loads the face models once. Everything a job says — progress, then its result or
its refusal — travels on one queue, so the stream sees them in order. A caller that leaves
marks its job cancelled; the worker stops at the next stage boundary.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.managers import SyncManager
from typing import Any

from skin.errors import ResourceExhausted, ServiceError, Unavailable

logger = logging.getLogger(__name__)

_worker_state: dict[str, Any] = {}


# A worker whose analyzer died (kill -9 leaves no chance to stop the pool) notices within this.
PARENT_CHECK_SECONDS = 1.0


def _exit_with_parent(parent: int) -> None:
    """Ends this worker once its parent is gone: the kernel then re-parents it, and getppid()
    changes. (PR_SET_PDEATHSIG would follow the parent's thread that spawned the worker, which
    may end long before the analyzer does.)"""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


def _follow_parent(analyzer: int) -> None:
    """In each child (workers and the manager): ignore Ctrl-C, which reaches the whole process
    group (the analyzer stops its children itself), and exit when the analyzer is gone.

    The analyzer's pid comes from the analyzer, not from getppid() here: a worker spawned just
    before a kill -9 starts up already re-parented, and would then watch the wrong process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watchdog = threading.Thread(
        target=_exit_with_parent, args=(analyzer,), name="parent-watchdog", daemon=True
    )
    watchdog.start()


def _init_worker(analyzer: int, events: Any, cancelled: Any) -> None:
    from analyzer.native_logs import filter_native_stderr
    from analyzer.pipeline.face_model import FaceModel

    _follow_parent(analyzer)
    filter_native_stderr()
    _worker_state.update(model=FaceModel(), events=events, cancelled=cancelled)


def _run_job(job_id: int, image: bytes, real_age: int | None) -> None:
    from analyzer.pipeline.run import Cancelled, analyze

    events, cancelled = _worker_state["events"], _worker_state["cancelled"]
    try:
        result = analyze(
            image,
            real_age,
            _worker_state["model"],
            progress=lambda stage, fraction, message: events.put(
                (job_id, "progress", (stage, fraction, message))
            ),
            cancelled=lambda: job_id in cancelled,
        )
        events.put((job_id, "result", result))
    except Cancelled:
        events.put((job_id, "cancelled", None))
    except ServiceError as exc:
        events.put((job_id, "error", exc))
    except Exception as exc:  # noqa: BLE001 - reported to the caller, never lost
        logger.exception("analysis %d failed", job_id)
        events.put((job_id, "error", ServiceError(f"the analysis failed: {type(exc).__name__}")))


class AnalysisPool:
    def __init__(self, workers: int, max_concurrent: int) -> None:
        self._workers, self._max_concurrent = workers, max_concurrent
        context = multiprocessing.get_context("spawn")  # no fork: the server runs grpc threads
        self._manager = SyncManager(ctx=context)
        self._manager.start(_follow_parent, (os.getpid(),))
        self._cancelled = self._manager.dict()
        self._events = context.Queue()
        self._context = context
        self._executor = self._new_executor()
        self._queues: dict[int, asyncio.Queue[tuple[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._active = 0
        # How jobs ended ("result", "cancelled", "error"), as the workers reported it: a job
        # whose caller left ends "cancelled" when its worker stopped early, "result" if not.
        self.outcomes: collections.Counter[str] = collections.Counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reader = threading.Thread(
            target=self._read_events, name="analysis-events", daemon=True
        )

    @property
    def active(self) -> int:
        """Analyses running or queued now."""
        return self._active

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self._workers,
            mp_context=self._context,
            initializer=_init_worker,
            initargs=(os.getpid(), self._events, self._cancelled),
        )

    async def start(self) -> None:
        """Starts the workers and waits until each has loaded its models."""
        self._loop = asyncio.get_running_loop()
        self._reader.start()
        warmups = [self._loop.run_in_executor(self._executor, _warm) for _ in range(self._workers)]
        await asyncio.gather(*warmups)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._events.put(None)
        self._reader.join(timeout=5)
        self._manager.shutdown()

    def _read_events(self) -> None:
        while True:
            item = self._events.get()
            if item is None:
                return
            job_id, kind, payload = item
            if kind != "progress":
                self.outcomes[kind] += 1
            queue = self._queues.get(job_id)
            if queue is not None and self._loop is not None:
                self._loop.call_soon_threadsafe(queue.put_nowait, (kind, payload))

    async def run(self, image: bytes, real_age: int | None) -> AsyncIterator[tuple[str, Any]]:
        """Yields ("progress", (stage, fraction, message)) events, then ("result", dict).
        Raises the job's ServiceError, or ResourceExhausted past the concurrency cap."""
        if self._active >= self._max_concurrent:
            raise ResourceExhausted(
                f"the analyzer is busy ({self._active} analyses running); try again shortly",
                reason="ANALYZER_BUSY",
            )
        job_id = next(self._ids)
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._queues[job_id] = queue
        loop = asyncio.get_running_loop()
        try:
            future = self._submit(loop, job_id, image, real_age)
            while True:
                getter: asyncio.Future[tuple[str, Any]] = asyncio.ensure_future(queue.get())
                waited: set[asyncio.Future[Any]] = {getter, future}
                await asyncio.wait(waited, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    # The worker finished or died; its last words may still be in flight.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(getter), 2.0)
                    if not getter.done():
                        getter.cancel()
                        raise Unavailable(
                            "the analysis worker stopped; try again", reason="WORKER_LOST"
                        )
                kind, payload = getter.result()
                if kind == "error":
                    raise payload
                if kind not in ("progress", "result"):
                    return
                if kind == "result":
                    # The worker returns right after sending its result: wait for that, so the
                    # job's slot is free before the caller hears back and sends the next photo
                    # (else back-to-back callers at the cap are told the analyzer is busy).
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(asyncio.shield(future), 2.0)
                yield kind, payload
                if kind == "result":
                    return
        except (asyncio.CancelledError, GeneratorExit):
            # The worker sees this at its next stage boundary and stops; the job's slot is
            # freed when it does (see _submit), not before.
            self._cancelled[job_id] = True
            raise
        finally:
            self._queues.pop(job_id, None)

    def _submit(
        self, loop: asyncio.AbstractEventLoop, job_id: int, image: bytes, real_age: int | None
    ) -> asyncio.Future[None]:
        """Hands the job to a worker (a new pool if a crash broke the old one); the job holds
        its slot under the concurrency cap until the worker is done with it."""
        try:
            future = loop.run_in_executor(self._executor, _run_job, job_id, image, real_age)
        except BrokenProcessPool:
            self._executor = self._new_executor()
            future = loop.run_in_executor(self._executor, _run_job, job_id, image, real_age)
        self._active += 1
        future.add_done_callback(lambda _: self._job_done(job_id))
        return future

    def _job_done(self, job_id: int) -> None:
        self._active -= 1
        self._cancelled.pop(job_id, None)


def _warm() -> bool:
    return "model" in _worker_state
