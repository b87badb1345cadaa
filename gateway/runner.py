"""Runs each accepted task's pipeline in the background: mark running, consume the analyzer's
stream (relaying its progress to storage, latest first: gateway/progress_relay.py), then store
the result or a clear error.

Every accepted task ends `succeeded` or `failed`: a busy or unreachable analyzer is retried
with backoff until the analysis deadline, then fails the task; a finished result is kept and its
write retried through a storage outage until the write deadline; a gateway that stops fails its
tasks in flight; a gateway that dies leaves them to storage's janitor. Calls to storage use a
service_role token naming the user, so a user token that expires mid-analysis does not strand
the task.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from gateway.clients import Backends, ServiceToken
from gateway.metrics import ANALYSIS_SECONDS, TASKS_FINISHED
from gateway.models import TaskView
from gateway.progress_relay import ProgressRelay
from gateway.reservations import Reservation
from gateway.retry import GaveUp, retry_until
from gateway.settings import GatewaySettings
from skin.analyzer.v1 import analyzer_pb2
from skin.contracts import MAX_ANALYSIS_CALL_SECONDS, STAGE_NAMES
from skin.errors import error_info
from skin.storage.v1 import storage_pb2

logger = logging.getLogger(__name__)

# A busy or unreachable analyzer is waited for; storage is waited for through an outage.
ANALYZER_RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)
STORAGE_RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
RUNNING, SUCCEEDED, FAILED = (
    storage_pb2.TASK_STATUS_RUNNING,
    storage_pb2.TASK_STATUS_SUCCEEDED,
    storage_pb2.TASK_STATUS_FAILED,
)
ANALYZER_DOWN = "The analysis service is unavailable right now; please try again in a few minutes"
NOT_STARTED = "The analysis could not be started (the task store was unavailable); please try again"
NOT_SAVED = (
    "The analysis finished but its result could not be saved (the task store was unavailable);"
    " please submit the photo again"
)
INTERRUPTED = (
    "interrupted: the service restarted during the analysis; please submit the photo again"
)

Finished = Callable[[str, str, dict[str, Any]], Awaitable[None]]


def person_message(error: grpc.aio.AioRpcError) -> str:
    """The analyzer's refusal, which already says what is wrong and how to fix it."""
    details = (error.details() or "").strip()
    if error.code() == grpc.StatusCode.INVALID_ARGUMENT and details:
        return details[0].upper() + details[1:]
    if error.code() in ANALYZER_RETRYABLE:
        return ANALYZER_DOWN
    if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
        return "The analysis took too long; please try again with a smaller photo"
    return "The analysis failed; please try again"


class TaskRunner:
    def __init__(
        self,
        backends: Backends,
        token: ServiceToken,
        settings: GatewaySettings,
        on_finished: Finished | None = None,
    ) -> None:
        self._backends, self._token, self._settings = backends, token, settings
        self._on_finished = on_finished
        self._running: dict[str, asyncio.Future[None]] = {}
        # Analyses sent to the analyzer at once; the rest wait here, queued, holding their photo.
        self._slots = asyncio.Semaphore(settings.analysis_concurrency)
        self._pending = 0

    def reserve(self) -> Reservation | None:
        """A place for one more photo, or None when the gateway holds as many as it may. Taken
        and counted in one step (nothing awaits in between), so concurrent uploads cannot all
        pass the check before any is counted; memory for photos is bounded by
        max_pending_tasks x max_upload_bytes."""
        if self._pending >= self._settings.max_pending_tasks:
            return None
        self._pending += 1
        return Reservation(self._unreserve)

    def _unreserve(self) -> None:
        self._pending -= 1

    @property
    def pending(self) -> int:
        return self._pending

    def start(
        self,
        reservation: Reservation,
        task_id: str,
        user_id: str,
        image: bytes,
        real_age: int | None,
    ) -> None:
        release = reservation.hand_over()
        job = asyncio.create_task(
            self._run(task_id, user_id, image, real_age), name=f"task-{task_id}"
        )
        self._running[task_id] = job

        def done(_: asyncio.Task[None]) -> None:
            release()
            self._running.pop(task_id, None)

        job.add_done_callback(done)

    @property
    def token(self) -> ServiceToken:
        """The service_role token the gateway writes with."""
        return self._token

    def announce(self, event: str, user_id: str, task: storage_pb2.Task) -> None:
        """Hands an event to the webhook sender, when one is configured, without waiting."""
        if self._on_finished is None:
            return
        view = TaskView.from_proto(task).model_dump(mode="json")
        job: asyncio.Future[None] = asyncio.ensure_future(self._on_finished(event, user_id, view))
        key = f"{event}-{id(job)}"
        self._running[key] = job
        job.add_done_callback(lambda _: self._running.pop(key, None))

    async def stop(self, grace: float) -> None:
        """Lets tasks finish within the grace period, then fails the rest as interrupted."""
        if self._running:
            await asyncio.wait(list(self._running.values()), timeout=grace)
        for job in list(self._running.values()):
            job.cancel()
        if self._running:
            await asyncio.wait(list(self._running.values()), timeout=5)

    def _metadata(self) -> list[tuple[str, str]]:
        return self._token.metadata(uuid.uuid4().hex)

    async def _update(
        self,
        task_id: str,
        user_id: str,
        status: storage_pb2.TaskStatus,
        deadline: float,
        **fields: Any,
    ) -> None:
        """Writes the status, retried through a storage outage until `deadline`. A retry that
        finds the status already written (the first try committed, its reply was lost) is done."""
        # The reply's task is not used: BASIC spares storage sending the result back.
        request = storage_pb2.UpdateTaskRequest(
            user_id=user_id, task_id=task_id, status=status, view=storage_pb2.TASK_VIEW_BASIC,
            **fields,
        )  # fmt: skip
        wanted = storage_pb2.TaskStatus.Name(status).removeprefix("TASK_STATUS_").lower()

        async def call(left: float) -> None:
            try:
                await self._backends.storage.UpdateTask(
                    request,
                    metadata=self._metadata(),
                    timeout=min(left, self._settings.call_timeout_seconds),
                )
            except grpc.aio.AioRpcError as exc:
                info = error_info(exc)
                already = info is not None and info.metadata.get("current_status") == wanted
                if exc.code() != grpc.StatusCode.FAILED_PRECONDITION or not already:
                    raise

        def note(exc: grpc.aio.AioRpcError) -> None:
            logger.warning("task %s: storage %s; retrying the write", task_id, exc.code().name)

        await retry_until(deadline, call, STORAGE_RETRYABLE, note)

    def _deadline(self, seconds: float) -> float:
        return asyncio.get_running_loop().time() + seconds

    async def _analyze(
        self, task_id: str, user_id: str, image: bytes, real_age: int | None
    ) -> dict[str, Any]:
        """The analyzer's result as UpdateTask's field for it, relaying its progress. A busy or
        unreachable analyzer is retried with backoff until the analysis deadline, so an
        overload makes tasks wait rather than fail."""
        # The result as JSON text: it goes to storage as it is, converted by neither side.
        request = analyzer_pb2.AnalyzeFaceRequest(
            image=image, result_encoding=analyzer_pb2.RESULT_ENCODING_JSON
        )
        if real_age is not None:
            request.real_age = real_age
        relay = ProgressRelay(lambda progress: self._publish(task_id, user_id, progress))

        async def attempt(left: float) -> dict[str, Any]:
            stream = self._backends.analyzer.AnalyzeFace(
                request,
                metadata=self._metadata(),
                timeout=min(left, MAX_ANALYSIS_CALL_SECONDS),
            )
            async for event in stream:
                kind = event.WhichOneof("event")
                if kind == "result_json":
                    return {"result_json": event.result_json}
                if kind == "result":  # an analyzer from before RESULT_ENCODING_JSON
                    return {"result": event.result}
                relay.offer(event.progress)
            raise grpc.aio.AioRpcError(  # a stream that ends without a result
                grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "no result"
            )

        def note(exc: grpc.aio.AioRpcError) -> None:
            logger.warning("analysis of %s: analyzer %s, retrying", task_id, exc.code().name)

        deadline = self._deadline(self._settings.analysis_timeout_seconds)
        try:
            return await retry_until(deadline, attempt, ANALYZER_RETRYABLE, note)
        except GaveUp as exc:
            raise exc.last from exc
        finally:
            await relay.close()

    async def _publish(self, task_id: str, user_id: str, progress: Any) -> None:
        """Progress is best effort: a lost event must never fail the task."""
        try:
            await self._backends.storage.PublishProgress(
                storage_pb2.PublishProgressRequest(
                    user_id=user_id,
                    task_id=task_id,
                    progress=storage_pb2.TaskProgress(
                        stage=STAGE_NAMES.get(progress.stage, "unknown"),
                        fraction=progress.fraction,
                        message=progress.message,
                    ),
                ),
                metadata=self._metadata(),
                timeout=self._settings.call_timeout_seconds,
            )
        except grpc.aio.AioRpcError as exc:
            logger.info("progress of %s not relayed: %s", task_id, exc.code().name)

    async def _run(self, task_id: str, user_id: str, image: bytes, real_age: int | None) -> None:
        started = time.perf_counter()
        status, error = "failed", None
        write_budget = self._settings.result_write_seconds
        try:
            async with self._slots:
                try:
                    await self._update(
                        task_id,
                        user_id,
                        RUNNING,
                        self._deadline(self._settings.call_timeout_seconds),
                    )
                except (GaveUp, grpc.aio.AioRpcError):
                    error = NOT_STARTED
                    raise
                result = await self._analyze(task_id, user_id, image, real_age)
            image = b""  # the photo is not kept while the result is written
            # The result is kept here and its write retried through a storage outage for as
            # long as the task's deadline allows.
            try:
                await self._update(
                    task_id, user_id, SUCCEEDED, self._deadline(write_budget), **result
                )
            except (GaveUp, grpc.aio.AioRpcError):
                error = NOT_SAVED
                raise
            status = "succeeded"
        except asyncio.CancelledError:
            error = INTERRUPTED
            raise
        except (GaveUp, grpc.aio.AioRpcError) as exc:
            if error is None:
                assert isinstance(exc, grpc.aio.AioRpcError)
                error = person_message(exc)
            logger.warning("task %s failed: %s", task_id, error)
        except Exception:  # noqa: BLE001 - the task must still end
            logger.exception("task %s failed unexpectedly", task_id)
            error = "The analysis failed; please try again"
        finally:
            image = b""  # the photo lives only as long as its analysis
            if error is not None:
                await asyncio.shield(self._fail(task_id, user_id, error))
            ANALYSIS_SECONDS.observe(time.perf_counter() - started)
            TASKS_FINISHED.labels(status=status).inc()
            if self._on_finished is not None:
                await asyncio.shield(self._notify(task_id, user_id, "task." + status))

    async def _fail(self, task_id: str, user_id: str, error: str) -> None:
        deadline = self._deadline(self._settings.result_write_seconds)
        try:
            await self._update(task_id, user_id, FAILED, deadline, error=error)
        except (GaveUp, grpc.aio.AioRpcError) as exc:
            # Already terminal, or storage unreachable past the deadline: the janitor ends it.
            reason = exc.last.code().name if isinstance(exc, GaveUp) else exc.code().name
            logger.warning("could not fail task %s: %s", task_id, reason)

    async def _notify(self, task_id: str, user_id: str, event: str) -> None:
        assert self._on_finished is not None
        try:
            task = (
                await self._backends.storage.GetTask(
                    storage_pb2.GetTaskRequest(
                        user_id=user_id, task_id=task_id, view=storage_pb2.TASK_VIEW_JSON
                    ),
                    metadata=self._metadata(),
                    timeout=self._settings.call_timeout_seconds,
                )
            ).task
        except grpc.aio.AioRpcError:
            return
        await self._on_finished(event, user_id, TaskView.from_proto(task).model_dump(mode="json"))
