"""HTTP response models: the seed's `{task_id}` and `{task_id, status, result, error}` contract,
always with those keys (null where empty), plus intake, routine and timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, WithJsonSchema

from skin.routine import Routine
from skin.storage.v1 import storage_pb2
from skin.structs import from_struct

Status = Literal["queued", "running", "succeeded", "failed"]
STATUS_NAMES: dict[int, Status] = {
    storage_pb2.TASK_STATUS_QUEUED: "queued",
    storage_pb2.TASK_STATUS_RUNNING: "running",
    storage_pb2.TASK_STATUS_SUCCEEDED: "succeeded",
    storage_pb2.TASK_STATUS_FAILED: "failed",
}


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
        def struct(field: str) -> dict[str, Any] | None:
            return from_struct(getattr(task, field)) if task.HasField(field) else None

        return cls(
            task_id=task.id,
            status=STATUS_NAMES.get(task.status, "queued"),
            result=struct("result"),
            error=task.error if task.HasField("error") else None,
            real_age=task.real_age if task.HasField("real_age") else None,
            intake=struct("intake"),
            routine=struct("routine"),  # the current Routine when it fits, else as stored
            created_at=task.create_time.ToDatetime(tzinfo=UTC),
            updated_at=task.update_time.ToDatetime(tzinfo=UTC),
        )


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
