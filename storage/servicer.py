"""The TaskStoreService handlers: validate, resolve who acts, run one identified transaction."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc
from psycopg.types.json import Jsonb

from skin.contracts import declared_age_problem
from skin.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ServiceError,
)
from skin.grpc_runtime import current_caller
from skin.identity import parse_uuid
from skin.progress import progress_problem
from skin.storage.v1 import storage_pb2, storage_pb2_grpc
from skin.structs import compact_json, request_document, storable_text_problem
from storage import outbox, repository
from storage.convert import (
    PROTO_TO_STATUS,
    decode_page_token,
    encode_page_token,
    task_to_proto,
    view_from_proto,
)
from storage.database import (
    SERVICE_ROLE,
    USER_ROLE,
    Database,
    Session,
    claims_for_user,
    service_claims,
)
from storage.notifications import TaskEvents

logger = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 20, 100
MAX_ERROR_CHARS = 2000
MAX_IDEMPOTENCY_KEY_CHARS = 255
MAX_WEBHOOK_BODY_CHARS = 1024 * 1024
# A watcher re-reads its task this often even without a notification (a safety net only).
WATCH_REFRESH_SECONDS = 15.0


def _not_found(task_id: str) -> NotFound:
    return NotFound(f"task {task_id} not found", reason="TASK_NOT_FOUND", task_id=task_id)


def _document(request: Any, field: str) -> Jsonb | None:
    """A document the request carries (as a Struct or as JSON text), ready for PostgreSQL and
    dumped once, or None when absent; INVALID_ARGUMENT names where it cannot be stored. A NUL
    (which jsonb refuses) shows in the text as \\u0000; only then is the value walked to name
    the place (the text alone cannot tell an escaped backslash)."""
    found = request_document(request, field)
    if found is None:
        return None
    value, sent = found
    name = field if sent is None else f"{field}_json"
    text = sent if sent is not None else compact_json(value)
    if "\\u0000" in text:
        where = storable_text_problem(value)
        if where is not None:
            raise InvalidArgument(f"{name}.{where}", "must not contain a NUL character")
    return Jsonb(value, dumps=lambda _value: text)


def _task_id(value: str) -> str:
    task_id = parse_uuid(value)
    if task_id is None:
        raise InvalidArgument("task_id", "must be a UUID", reason="INVALID_TASK_ID")
    return task_id


async def _refusal(
    session: Session, user_id: str, task_id: str, reason: str, explanation: str, **metadata: str
) -> ServiceError:
    """Why a guarded write changed nothing, read just after it: NOT_FOUND when the task is not
    the caller's (RLS and the user_id filter cannot tell absent from foreign), else
    FAILED_PRECONDITION naming the status that blocked it."""
    current = await repository.get_task(session, user_id, task_id, repository.BASIC)
    if current is None:
        return _not_found(task_id)
    return FailedPrecondition(
        f"task {task_id} is {current.status}; {explanation}",
        reason=reason,
        task_id=task_id,
        current_status=current.status,
        **metadata,
    )


def _require_service(what: str = "delivers webhooks") -> None:
    if not current_caller.get().is_service:
        raise PermissionDenied(f"only the service identity {what}", reason="SERVICE_ROLE_REQUIRED")


class Acting:
    """The user a call acts for, and the database role and claims its transaction carries: a
    user's token acts as `authenticated` with the token's claims (RLS and the column
    privileges bind it); a service_role token acts as `service_role` for the user it names,
    and every statement still filters on that user."""

    def __init__(self, requested_user_id: str, *, service_only: bool = False) -> None:
        if service_only:
            _require_service("writes a task's status, result, routine and progress")
        caller = current_caller.get()
        if caller.is_service:
            if not requested_user_id:
                raise InvalidArgument("user_id", "is required with a service_role token")
            user_id = parse_uuid(requested_user_id)
            if user_id is None:
                raise InvalidArgument("user_id", "must be a UUID")
            self.user_id = user_id
            self.role = SERVICE_ROLE
            self.claims = service_claims(user_id)
            return
        assert caller.user_id is not None
        if requested_user_id and parse_uuid(requested_user_id) != caller.user_id:
            raise PermissionDenied(
                "user_id names another user; leave it empty to act as yourself",
                reason="USER_MISMATCH",
            )
        self.user_id = caller.user_id
        self.role = USER_ROLE
        self.claims = claims_for_user(caller.user_id, caller.claims)

    def session(self, database: Database) -> Session:
        return database.acting(self.role, self.claims)


class TaskStoreServicer(storage_pb2_grpc.TaskStoreServiceServicer):
    def __init__(self, database: Database, events: TaskEvents, local_users: bool) -> None:
        self._db = database
        self._events = events
        self._local_users = local_users
        self._known_users: set[str] = set()

    async def CreateTask(
        self, request: storage_pb2.CreateTaskRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.CreateTaskResponse:
        acting = Acting(request.user_id)
        real_age = request.real_age if request.HasField("real_age") else None
        if (problem := declared_age_problem(real_age)) is not None:
            raise InvalidArgument("real_age", problem)
        key = request.idempotency_key or None
        if key is not None and (len(key) > MAX_IDEMPOTENCY_KEY_CHARS or not key.isprintable()):
            raise InvalidArgument(
                "idempotency_key",
                f"must be at most {MAX_IDEMPOTENCY_KEY_CHARS} printable characters",
            )
        if self._local_users and acting.user_id not in self._known_users:
            await self._db.ensure_local_user(acting.user_id)
            self._known_users.add(acting.user_id)
        fingerprint = request.request_fingerprint or None
        if fingerprint is not None and (len(fingerprint) > 128 or not fingerprint.isprintable()):
            raise InvalidArgument("request_fingerprint", "must be at most 128 printable characters")
        session = acting.session(self._db)
        row, created = await repository.create_task(
            session, acting.user_id, real_age, key, fingerprint
        )
        if not created and row.request_fingerprint != fingerprint:
            raise AlreadyExists(
                "idempotency_key was already used for a different request; send a new key",
                reason="IDEMPOTENCY_KEY_REUSED",
                task_id=str(row.id),
            )
        return storage_pb2.CreateTaskResponse(task=task_to_proto(row), created=created)

    async def GetTask(
        self, request: storage_pb2.GetTaskRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.GetTaskResponse:
        acting = Acting(request.user_id)
        task_id = _task_id(request.task_id)
        view = view_from_proto(request.view)
        session = acting.session(self._db)
        row = await repository.get_task(session, acting.user_id, task_id, view)
        if row is None:
            raise _not_found(task_id)
        return storage_pb2.GetTaskResponse(task=task_to_proto(row))

    async def ListTasks(
        self, request: storage_pb2.ListTasksRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.ListTasksResponse:
        acting = Acting(request.user_id)
        if request.page_size < 0:
            raise InvalidArgument("page_size", "must not be negative")
        size = min(request.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        after = decode_page_token(request.page_token) if request.page_token else None
        view = view_from_proto(request.view)
        session = acting.session(self._db)
        rows = await repository.list_tasks(session, acting.user_id, size + 1, after, view)
        page, more = rows[:size], len(rows) > size
        return storage_pb2.ListTasksResponse(
            tasks=[task_to_proto(row) for row in page],
            next_page_token=encode_page_token(page[-1]) if more else "",
        )

    async def UpdateTask(
        self, request: storage_pb2.UpdateTaskRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.UpdateTaskResponse:
        acting = Acting(request.user_id, service_only=True)
        task_id = _task_id(request.task_id)
        status = PROTO_TO_STATUS.get(request.status)
        if status is None:
            raise InvalidArgument("status", "must be QUEUED, RUNNING, SUCCEEDED or FAILED")
        result = _document(request, "result")
        has_result, has_error = result is not None, request.HasField("error")
        if (status == repository.SUCCEEDED) != has_result:
            raise InvalidArgument("result", "is required with SUCCEEDED and only allowed with it")
        if (status == repository.FAILED) != has_error:
            raise InvalidArgument("error", "is required with FAILED and only allowed with it")
        if has_error and not request.error.strip():
            raise InvalidArgument("error", "must say why the task failed")
        if "\x00" in request.error:
            raise InvalidArgument("error", "must not contain a NUL character")
        if len(request.error) > MAX_ERROR_CHARS:
            raise InvalidArgument("error", f"must be at most {MAX_ERROR_CHARS} characters")
        error = request.error if has_error else None
        view = view_from_proto(request.view)
        session = acting.session(self._db)
        row = await repository.update_status(
            session, acting.user_id, task_id, status, result, error, view
        )
        if not row:
            raise await _refusal(
                session, acting.user_id, task_id, "INVALID_STATUS_TRANSITION",
                f"it cannot become {status}", requested_status=status,
            )  # fmt: skip
        return storage_pb2.UpdateTaskResponse(task=task_to_proto(row))

    async def _set_after_success(
        self,
        user_id: str,
        task_id: str,
        values: dict[str, Any],
        view: int,
        *,
        service_only: bool,
    ) -> Any:
        acting = Acting(user_id, service_only=service_only)
        task_id = _task_id(task_id)
        selected = view_from_proto(view)
        session = acting.session(self._db)
        row = await repository.set_if_succeeded(session, acting.user_id, task_id, values, selected)
        if not row:
            raise await _refusal(
                session, acting.user_id, task_id, "ANALYSIS_NOT_SUCCEEDED",
                "its analysis must succeed first",
            )  # fmt: skip
        return task_to_proto(row)

    async def SetIntake(
        self, request: storage_pb2.SetIntakeRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.SetIntakeResponse:
        intake = _document(request, "intake")
        if intake is None:
            raise InvalidArgument("intake", "is required")
        task = await self._set_after_success(
            request.user_id, request.task_id, {"intake": intake}, request.view, service_only=False
        )
        return storage_pb2.SetIntakeResponse(task=task)

    async def SetRoutine(
        self, request: storage_pb2.SetRoutineRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.SetRoutineResponse:
        routine = _document(request, "routine")
        if routine is None:
            raise InvalidArgument("routine", "is required")
        values = {"routine_json": routine}
        intake = _document(request, "intake")
        if intake is not None:  # stored with it, in the same statement
            values["intake"] = intake
        task = await self._set_after_success(
            request.user_id, request.task_id, values, request.view, service_only=True
        )
        return storage_pb2.SetRoutineResponse(task=task)

    async def DeleteTask(
        self, request: storage_pb2.DeleteTaskRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.DeleteTaskResponse:
        acting = Acting(request.user_id)
        task_id = _task_id(request.task_id)
        session = acting.session(self._db)
        deleted = await repository.delete_task(session, acting.user_id, task_id)
        if not deleted:
            raise _not_found(task_id)
        return storage_pb2.DeleteTaskResponse()

    async def PublishProgress(
        self, request: storage_pb2.PublishProgressRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.PublishProgressResponse:
        acting = Acting(request.user_id, service_only=True)
        task_id = _task_id(request.task_id)
        progress = request.progress
        problem = progress_problem(progress.stage, progress.fraction, progress.message)
        if problem is not None:
            raise InvalidArgument(f"progress.{problem[0]}", problem[1])
        payload = {
            "stage": progress.stage,
            "fraction": progress.fraction,
            "message": progress.message,
        }
        session = acting.session(self._db)
        sent = await repository.publish_progress(session, acting.user_id, task_id, payload)
        if not sent:
            raise await _refusal(
                session, acting.user_id, task_id, "TASK_FINISHED",
                "progress is only for unfinished tasks",
            )  # fmt: skip
        return storage_pb2.PublishProgressResponse()

    async def EnqueueWebhook(
        self, request: storage_pb2.EnqueueWebhookRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.EnqueueWebhookResponse:
        acting = Acting(request.user_id, service_only=True)
        if not request.message_id or len(request.message_id) > 128:
            raise InvalidArgument("message_id", "is required, at most 128 characters")
        if not request.event or len(request.event) > 64:
            raise InvalidArgument("event", "is required, at most 64 characters")
        if not request.body or len(request.body) > MAX_WEBHOOK_BODY_CHARS or "\x00" in request.body:
            raise InvalidArgument("body", "is required: JSON text of at most 1 MiB")
        session = self._db.as_login_role()
        await outbox.enqueue(
            session, request.message_id, request.event, acting.user_id, request.body
        )
        return storage_pb2.EnqueueWebhookResponse()

    async def ClaimWebhooks(
        self, request: storage_pb2.ClaimWebhooksRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.ClaimWebhooksResponse:
        _require_service()
        if not 1 <= request.max_messages <= 100:
            raise InvalidArgument("max_messages", "must be 1 to 100")
        if not 1 <= request.lease_seconds <= 600:
            raise InvalidArgument("lease_seconds", "must be 1 to 600")
        session = self._db.as_login_role()
        rows = await outbox.claim(session, request.max_messages, request.lease_seconds)
        reply = storage_pb2.ClaimWebhooksResponse()
        for message_id, body, attempt, created in rows:
            delivery = reply.deliveries.add(message_id=message_id, body=body, attempt=attempt)
            delivery.create_time.FromDatetime(created)
        return reply

    async def FinishWebhook(
        self, request: storage_pb2.FinishWebhookRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.FinishWebhookResponse:
        _require_service()
        if not request.message_id:
            raise InvalidArgument("message_id", "is required")
        if request.retry_after_seconds < 0:
            raise InvalidArgument("retry_after_seconds", "must not be negative")
        session = self._db.as_login_role()
        await outbox.finish(
            session,
            request.message_id,
            request.delivered,
            request.error.replace("\x00", ""),
            request.retry_after_seconds,
        )
        return storage_pb2.FinishWebhookResponse()

    async def WatchTask(
        self, request: storage_pb2.WatchTaskRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[storage_pb2.WatchTaskResponse]:
        acting = Acting(request.user_id)
        task_id = _task_id(request.task_id)
        view = view_from_proto(request.view)
        session = acting.session(self._db)
        # Subscribe before the first read, so no change between the two is missed.
        with self._events.subscribe(task_id) as queue:
            last_seen = None
            event: dict[str, Any] = {"kind": "change"}
            while True:
                if event.get("kind") == "progress":
                    yield storage_pb2.WatchTaskResponse(
                        progress=storage_pb2.TaskProgress(
                            stage=str(event.get("stage", "")),
                            fraction=float(event.get("fraction", 0.0)),
                            message=str(event.get("message", "")),
                        )
                    )
                else:
                    row = await repository.get_task(session, acting.user_id, task_id, view)
                    if row is None:
                        raise _not_found(task_id)
                    if row.updated_at != last_seen:
                        last_seen = row.updated_at
                        yield storage_pb2.WatchTaskResponse(task=task_to_proto(row))
                    if row.status in repository.TERMINAL:
                        return
                try:
                    event = await asyncio.wait_for(queue.get(), WATCH_REFRESH_SECONDS)
                except TimeoutError:
                    event = {"kind": "refresh"}
