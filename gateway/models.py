"""HTTP response models: the seed's `{task_id}` and `{task_id, status, result, error}` contract,
always with those keys (null where empty), plus intake, routine and timestamps."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, cast

from google.protobuf import timestamp_pb2
from pydantic import BaseModel, Field, TypeAdapter, WithJsonSchema

from skin import contracts
from skin.routine import Routine
from skin.storage.v1 import storage_pb2
from skin.structs import from_struct

Status = Literal["queued", "running", "succeeded", "failed"]
# The API's type of the shared names (skin/contracts.py); a test holds the two equal.
STATUS_NAMES = cast(dict[int, Status], contracts.STATUS_NAMES)


class TaskAccepted(BaseModel):
    task_id: str = Field(json_schema_extra={"format": "uuid"})


def _nullable_ref(component: str, description: str) -> WithJsonSchema:
    """A field read as plain JSON (a row written by another version is still returned) but
    published as the component that describes it."""
    return WithJsonSchema(
        {
            "anyOf": [{"$ref": f"#/components/schemas/{component}"}, {"type": "null"}],
            "description": description,
        }
    )


class TaskView(BaseModel):
    task_id: str = Field(json_schema_extra={"format": "uuid"})
    status: Status
    result: Annotated[
        dict[str, Any] | None,
        _nullable_ref("AnalysisResult", "The raw face analysis; null until the task succeeds."),
    ]
    error: str | None = Field(description="Why the task failed, in words a person can act on.")
    real_age: int | None
    intake: Annotated[
        dict[str, Any] | None,
        _nullable_ref("Intake", "The intake form, as the user last sent it; null before."),
    ]
    routine: Routine | dict[str, Any] | None = Field(
        description="The routine (skin/schemas/routine.schema.json). A routine stored by an "
        "older version that no longer fits the current schema is returned as it was stored."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_proto(cls, task: storage_pb2.Task) -> TaskView:
        """The view of a task read as TASK_VIEW_FULL (Structs) or TASK_VIEW_JSON (text)."""

        def document(field: str) -> dict[str, Any] | None:
            value: dict[str, Any] | None = json.loads(_document(task, field))
            return value

        return cls(
            task_id=task.id,
            status=STATUS_NAMES.get(task.status, "queued"),
            result=document("result"),
            error=task.error if task.HasField("error") else None,
            real_age=task.real_age if task.HasField("real_age") else None,
            intake=document("intake"),
            routine=document("routine"),  # the current Routine when it fits, else as stored
            created_at=task.create_time.ToDatetime(tzinfo=UTC),
            updated_at=task.update_time.ToDatetime(tzinfo=UTC),
        )


def _string(value: str) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def _timestamp(value: timestamp_pb2.Timestamp) -> bytes:
    moment = value.ToDatetime(tzinfo=UTC).isoformat().replace("+00:00", "Z")
    return b'"' + moment.encode() + b'"'


# The routine goes through its model as in TaskView: jsonb keeps keys in its own order, and the
# model puts them back in the published one (the week from Monday). It is the small document.
_ROUTINE: TypeAdapter[Routine | dict[str, Any]] = TypeAdapter(Routine | dict[str, Any])


def _document(task: storage_pb2.Task, field: str) -> bytes:
    """A document's JSON: the text as storage sent it, or, from a storage that answered with a
    Struct (one from before TASK_VIEW_JSON, during a rolling update), converted."""
    text = getattr(task, f"{field}_json")
    if text:
        return str(text).encode()
    if task.HasField(field):
        return json.dumps(from_struct(getattr(task, field)), ensure_ascii=False).encode()
    return b"null"


def task_view_json(task: storage_pb2.Task) -> bytes:
    """TaskView's JSON for a task read as TASK_VIEW_JSON, the result and intake spliced in as
    the table's text. They are the bulk of a reply and the gateway only passes them on, so it
    parses neither (a Struct walk and a model dump cost more than the rest of a GET).
    tests/gateway/test_task_json.py holds it equal to TaskView.from_proto's dump."""
    routine = _document(task, "routine")
    routine_json = (
        _ROUTINE.dump_json(_ROUTINE.validate_json(routine)) if routine != b"null" else routine
    )
    status = STATUS_NAMES.get(task.status, "queued")
    return b"".join(
        (
            b'{"task_id":', _string(task.id),
            b',"status":', _string(status),
            b',"result":', _document(task, "result"),
            b',"error":', _string(task.error) if task.HasField("error") else b"null",
            b',"real_age":', str(task.real_age).encode() if task.HasField("real_age") else b"null",
            b',"intake":', _document(task, "intake"),
            b',"routine":', routine_json,
            b',"created_at":', _timestamp(task.create_time),
            b',"updated_at":', _timestamp(task.update_time),
            b"}",
        )
    )  # fmt: skip


def task_page_json(tasks: Iterable[storage_pb2.Task], next_page_token: str) -> bytes:
    """TaskPage's JSON, built as task_view_json builds each task."""
    listed = b",".join(task_view_json(task) for task in tasks)
    token = _string(next_page_token) if next_page_token else b"null"
    return b'{"tasks":[' + listed + b'],"next_page_token":' + token + b"}"


class TaskPage(BaseModel):
    tasks: list[TaskView]
    next_page_token: str | None


class ErrorDetail(BaseModel):
    type_: str = Field(alias="@type", examples=["type.googleapis.com/google.rpc.ErrorInfo"])
    reason: str = Field(examples=["TASK_NOT_FOUND"])
    domain: str
    metadata: dict[str, str]


class ErrorStatus(BaseModel):
    code: int = Field(examples=[404])
    status: str = Field(examples=["NOT_FOUND"])
    message: str
    details: list[ErrorDetail]


class ErrorBody(BaseModel):
    """Google's JSON error shape (AIP-193)."""

    error: ErrorStatus


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(default_factory=dict)
