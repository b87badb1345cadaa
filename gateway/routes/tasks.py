"""/tasks: submit a photo, read tasks, follow one live, send the intake, delete."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

import grpc
from fastapi import APIRouter, Header, Path, Query, Request, Response
from google.protobuf import json_format
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask

from gateway.clients import Backends
from gateway.deps import BackendsDep, CurrentUser, RunnerDep, User
from gateway.errors import ApiError, rpc_error_response
from gateway.event_streams import StreamLimiter
from gateway.models import (
    STATUS_NAMES,
    ErrorBody,
    TaskAccepted,
    TaskPage,
    TaskView,
    task_page_json,
    task_view_json,
)
from gateway.reservations import Reservation
from gateway.routines import store_intake_with_routine
from gateway.runner import TaskRunner
from gateway.uploads import read_form
from skin.contracts import (
    DECLARED_AGE_RANGE,
    MAX_DECLARED_AGE,
    MIN_DECLARED_AGE,
    declared_age_problem,
    sniff_format,
)
from skin.errors import error_info
from skin.intake import Intake
from skin.page_tokens import PAGE_TOKEN_PATTERN
from skin.storage.v1 import storage_pb2

router = APIRouter(prefix="/tasks", tags=["tasks"])
TaskId = Annotated[UUID, Path(description="The task's id, as POST /tasks returned it.")]

REAL_AGE = re.compile(r"[0-9]{1,3}")
IDEMPOTENCY_KEY_PATTERN = r"^[ -~]*$"  # printable ASCII, as storage keeps it
# The formats the analyzer takes, as media types (published in the OpenAPI document) and as
# magic numbers (checked here, so anything else is refused before a task exists).
IMAGE_MEDIA_TYPES = ("image/jpeg", "image/png", "image/webp")
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Invalid request; the error names the field."},
    401: {"model": ErrorBody, "description": "Missing or invalid access token."},
    404: {"model": ErrorBody, "description": "No such task for this user."},
    503: {"model": ErrorBody, "description": "A backend is unavailable; try again."},
}


def _is_image(data: bytes) -> bool:
    return sniff_format(data) is not None


def _real_age(raw: str | None) -> int | None:
    """The declared age: ASCII digits only (str.isdigit would take '³'), in the declared-age
    range; an empty field is no age. Nothing else, spaces included, so the published schema is
    exact."""
    text = raw or ""
    if not text:
        return None
    if not REAL_AGE.fullmatch(text) or declared_age_problem(int(text)) is not None:
        raise ApiError(
            400,
            "INVALID_FIELD",
            f"real_age: a whole number of years, {DECLARED_AGE_RANGE}",
            field="real_age",
        )
    return int(text)


def _fingerprint(image: bytes, real_age: int | None) -> str:
    """What makes two uploads the same request: the photo's bytes and the declared age."""
    digest = hashlib.sha256(image)
    digest.update(b"\0real_age=" + str(real_age).encode())
    return "sha256:" + digest.hexdigest()


def call_timeout(request: Request) -> float:
    return float(request.app.state.settings.call_timeout_seconds)


@router.post(
    "",
    status_code=202,
    response_model=TaskAccepted,
    responses={
        202: {
            "description": "Accepted: the task exists and its analysis has started.",
            # What a client (or a fuzzer) can do next with the id it got.
            "links": {
                name: {"operationId": name, "parameters": {"task_id": "$response.body#/task_id"}}
                for name in ("get_task", "task_events", "put_intake", "delete_task")
            },
        },
        **ERROR_RESPONSES,
        413: {"model": ErrorBody, "description": "Upload too large."},
        415: {"model": ErrorBody, "description": "Not an image."},
        409: {
            "model": ErrorBody,
            "description": "The Idempotency-Key was used before with a different photo or age.",
        },
        429: {"model": ErrorBody, "description": "Too many photos await analysis; retry later."},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["image"],
                        "additionalProperties": False,
                        "properties": {
                            "image": {
                                "type": "string",
                                "format": "binary",
                                "description": "The selfie: a JPEG, PNG or WebP file.",
                            },
                            "real_age": {
                                "description": "The user's age in whole years; an empty "
                                "field (as an HTML form sends it) is no age.",
                                "anyOf": [
                                    {
                                        "type": "integer",
                                        "minimum": MIN_DECLARED_AGE,
                                        "maximum": MAX_DECLARED_AGE,
                                    },
                                    {"const": ""},
                                ],
                            },
                        },
                    },
                    # The part's media types, as OpenAPI declares them for multipart bodies;
                    # the server checks the file's signature, not the part's header.
                    "encoding": {"image": {"contentType": ", ".join(IMAGE_MEDIA_TYPES)}},
                }
            },
        }
    },
)
async def submit_task(
    request: Request,
    user: CurrentUser,
    backends: BackendsDep,
    runner: RunnerDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=255,
            pattern=IDEMPOTENCY_KEY_PATTERN,
            description="Any string of visible ASCII characters (a UUID is a good choice): "
            "sending it again with the same photo and age returns the same task.",
        ),
    ] = None,
) -> TaskAccepted:
    """Accepts a selfie and answers at once with the task's id; the analysis runs behind it.
    The same `Idempotency-Key` from the same user returns the same task and starts nothing."""
    # A place for the photo is taken before a byte of it is read, and given back on every path
    # but the one that hands it to the task.
    reservation = runner.reserve()
    if reservation is None:
        raise ApiError(
            429,
            "TOO_MANY_PENDING_ANALYSES",
            "too many photos are waiting for analysis; try again shortly",
            retry_after=5,
        )
    try:
        return await _accept(request, user, backends, runner, reservation, idempotency_key)
    finally:
        reservation.release()


async def _accept(
    request: Request,
    user: User,
    backends: Backends,
    runner: TaskRunner,
    reservation: Reservation,
    idempotency_key: str | None,
) -> TaskAccepted:
    form = await read_form(
        request,
        request.app.state.settings.max_upload_bytes,
        file_fields=frozenset({"image"}),
        text_fields=frozenset({"real_age"}),
    )
    image = form.files.get("image")
    if not image:
        raise ApiError(
            400,
            "INVALID_FIELD",
            "image: attach the photo as a file field named 'image'",
            field="image",
        )
    if not _is_image(image):
        raise ApiError(
            415, "UNSUPPORTED_FORMAT", "image: send a JPEG, PNG or WebP photo", field="image"
        )
    real_age = _real_age(form.fields.get("real_age"))
    create = storage_pb2.CreateTaskRequest(idempotency_key=idempotency_key or "")
    if idempotency_key:
        create.request_fingerprint = _fingerprint(image, real_age)
    if real_age is not None:
        create.real_age = real_age
    try:
        created = await backends.storage.CreateTask(
            create, metadata=user.metadata(), timeout=call_timeout(request)
        )
    except grpc.aio.AioRpcError as exc:
        info = error_info(exc)
        if info is not None and info.reason == "IDEMPOTENCY_KEY_REUSED":
            # 409: the key is state the server holds, and this request conflicts with it (the
            # gRPC ALREADY_EXISTS it maps from). The IETF draft suggests 422, but 422 would
            # say the body itself is wrong, and a schema-valid body is not.
            raise ApiError(
                409,
                "IDEMPOTENCY_KEY_REUSED",
                "Idempotency-Key was already used with a different photo or age; send a new key",
            ) from exc
        raise
    if created.created:
        runner.start(reservation, created.task.id, user.id, image, real_age)
    return TaskAccepted(task_id=created.task.id)


@router.get("", response_model=TaskPage, responses=ERROR_RESPONSES)
async def list_tasks(
    request: Request,
    user: CurrentUser,
    backends: BackendsDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    page_token: Annotated[
        str | None,
        Query(
            pattern=f"^{PAGE_TOKEN_PATTERN}$",
            description="The previous page's next_page_token.",
        ),
    ] = None,
) -> Response:
    """The user's tasks, newest first."""
    page = await backends.storage.ListTasks(
        storage_pb2.ListTasksRequest(
            page_size=limit, page_token=page_token or "", view=storage_pb2.TASK_VIEW_JSON
        ),
        metadata=user.metadata(),
        timeout=call_timeout(request),
    )
    return _json_response(task_page_json(page.tasks, page.next_page_token))


@router.get("/{task_id}", response_model=TaskView, responses=ERROR_RESPONSES)
async def get_task(
    request: Request, task_id: TaskId, user: CurrentUser, backends: BackendsDep
) -> Response:
    reply = await backends.storage.GetTask(
        storage_pb2.GetTaskRequest(task_id=str(task_id), view=storage_pb2.TASK_VIEW_JSON),
        metadata=user.metadata(),
        timeout=call_timeout(request),
    )
    return _json_response(task_view_json(reply.task))


@router.delete("/{task_id}", status_code=204, responses=ERROR_RESPONSES)
async def delete_task(
    request: Request, task_id: TaskId, user: CurrentUser, backends: BackendsDep
) -> Response:
    await backends.storage.DeleteTask(
        storage_pb2.DeleteTaskRequest(task_id=str(task_id)),
        metadata=user.metadata(),
        timeout=call_timeout(request),
    )
    return Response(status_code=204)


@router.put(
    "/{task_id}/intake",
    response_model=TaskView,
    responses={
        **ERROR_RESPONSES,
        409: {"model": ErrorBody, "description": "The analysis has not succeeded."},
        503: {
            "model": ErrorBody,
            "description": "No routine could be made now; nothing was stored. Retry.",
        },
    },
)
async def put_intake(
    request: Request,
    task_id: TaskId,
    intake: Intake,
    user: CurrentUser,
    backends: BackendsDep,
    runner: RunnerDep,
) -> Response:
    """Stores the intake form together with the routine made from it and the analysis, and
    answers with the task as it now is. The routine's `intake_sha256` names the intake it came
    from. If no routine can be made now, the answer is 503 and nothing is stored."""
    task = await store_intake_with_routine(
        backends,
        runner.token,
        user.metadata(),
        user.id,
        str(task_id),
        intake,
        call_timeout(request),
    )
    runner.announce("routine.ready", user.id, task)
    return _json_response(task_view_json(task))


@router.get(
    "/{task_id}/events",
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "Server-sent events."},
        429: {"model": ErrorBody, "description": "This user has too many event streams open."},
        **ERROR_RESPONSES,
    },
)
async def task_events(
    request: Request, task_id: TaskId, user: CurrentUser, backends: BackendsDep
) -> Response:
    """Server-sent events from storage's WatchTask, so they work on any gateway replica: `task`
    (the task now, then after each change), `progress` while it runs, and a last `end` event at
    the final status; then the stream closes. An idle stream gets a comment line every
    EVENT_STREAM_KEEPALIVE_SECONDS (at most 15) so a proxy does not cut it; a user may hold
    MAX_EVENT_STREAMS_PER_USER open on one replica (429 past it); a stream's watch ends after
    EVENT_STREAM_MAX_SECONDS with an `error` event (DEADLINE_EXCEEDED): reconnect to go on."""
    settings = request.app.state.settings
    streams: StreamLimiter = request.app.state.streams
    place = streams.acquire(user.id)
    if place is None:
        raise ApiError(
            429,
            "TOO_MANY_EVENT_STREAMS",
            f"at most {streams.per_user} event streams may be open at once; close one",
            retry_after=5,
        )
    try:
        stream = backends.storage.WatchTask(
            storage_pb2.WatchTaskRequest(task_id=str(task_id), view=storage_pb2.TASK_VIEW_JSON),
            metadata=user.metadata(),
            timeout=settings.event_stream_max_seconds,
        )
        first = await stream.read()  # errors (not found, bad token) answer as HTTP errors
    except grpc.aio.AioRpcError as exc:
        place.release()
        return rpc_error_response(exc, user.request_id)
    except BaseException:
        place.release()
        raise
    if first is grpc.aio.EOF:
        place.release()
        raise ApiError(404, "TASK_NOT_FOUND", f"task {task_id} not found")

    async def events() -> AsyncIterator[ServerSentEvent]:
        event = first
        try:
            while event is not grpc.aio.EOF:
                if event.HasField("progress"):
                    data = json_format.MessageToDict(
                        event.progress, preserving_proto_field_name=True
                    )
                    yield _sse("progress", data)
                else:
                    yield ServerSentEvent(
                        task_view_json(event.task).decode(), event="task", sep=SSE_LINE_END
                    )
                    status = STATUS_NAMES.get(event.task.status)
                    if status in ("succeeded", "failed"):
                        yield _sse("end", {"task_id": str(task_id), "status": status})
                        return
                event = await stream.read()
        except grpc.aio.AioRpcError as exc:
            yield _sse("error", {"code": exc.code().name, "message": exc.details()})
        finally:
            stream.cancel()
            place.release()

    return EventSourceResponse(
        events(),
        headers={"cache-control": "no-cache"},
        ping=settings.event_stream_keepalive_seconds,
        sep=SSE_LINE_END,
        # Also when the client left before the first event was sent.
        background=BackgroundTask(place.release),
    )


# Lines of the event stream end in LF alone (the spec allows CR LF too; LF is what every
# client splits on, the page's own reader included).
SSE_LINE_END = "\n"


def _sse(kind: str, data: object) -> ServerSentEvent:
    """One event; `data` as JSON on one line (JSON text escapes its own line breaks)."""
    return ServerSentEvent(json.dumps(data, separators=(",", ":")), event=kind, sep=SSE_LINE_END)


def _json_response(body: bytes) -> Response:
    """A body built as JSON bytes already; the route's response_model documents its shape."""
    return Response(body, media_type="application/json")
