"""Converts between table rows and protobuf messages, and between page tokens and keys."""

from __future__ import annotations

from datetime import datetime
from typing import cast
from uuid import UUID

from skin import page_tokens
from skin.contracts import STATUS_NAMES, STATUS_VALUES
from skin.errors import InvalidArgument
from skin.storage.v1 import storage_pb2
from skin.structs import to_struct
from storage import repository
from storage.repository import TaskRow

# The shared names (skin/contracts.py) typed as the generated code's enum.
STATUS_TO_PROTO = cast(dict[str, "storage_pb2.TaskStatus"], STATUS_VALUES)
PROTO_TO_STATUS = STATUS_NAMES


VIEWS: dict[int, str] = {
    storage_pb2.TASK_VIEW_UNSPECIFIED: repository.FULL,
    storage_pb2.TASK_VIEW_FULL: repository.FULL,
    storage_pb2.TASK_VIEW_BASIC: repository.BASIC,
    storage_pb2.TASK_VIEW_JSON: repository.JSON,
}
# column -> (Struct field, JSON text field)
_DOCUMENT_FIELDS = {
    "result": ("result", "result_json"),
    "intake": ("intake", "intake_json"),
    "routine_json": ("routine", "routine_json"),
}


def view_from_proto(value: int) -> str:
    view = VIEWS.get(value)
    if view is None:
        raise InvalidArgument("view", "must be TASK_VIEW_BASIC, TASK_VIEW_FULL or TASK_VIEW_JSON")
    return view


def task_to_proto(row: TaskRow) -> storage_pb2.Task:
    """The row as a Task, in the view its statement selected: a document the row does not carry
    is left out, one it carries as text (TASK_VIEW_JSON) goes to the *_json field unparsed."""
    task = storage_pb2.Task(
        id=str(row.id),
        user_id=str(row.user_id),
        status=STATUS_TO_PROTO.get(row.status, storage_pb2.TASK_STATUS_UNSPECIFIED),
    )
    for column, (struct_field, text_field) in _DOCUMENT_FIELDS.items():
        value = getattr(row, column, None)
        if isinstance(value, str):
            setattr(task, text_field, value)
        elif value is not None:
            getattr(task, struct_field).CopyFrom(to_struct(value))
    if row.error is not None:
        task.error = row.error
    if row.real_age is not None:
        task.real_age = row.real_age
    task.create_time.FromDatetime(row.created_at)
    task.update_time.FromDatetime(row.updated_at)
    return task


def encode_page_token(row: TaskRow) -> str:
    return page_tokens.encode_page_token(row.created_at, row.id)


def decode_page_token(token: str) -> tuple[datetime, UUID]:
    """The (created_at, id) key a token names; any other shape is INVALID_ARGUMENT."""
    try:
        return page_tokens.decode_page_token(token)
    except ValueError as exc:
        raise InvalidArgument("page_token", "is not a token this service issued") from exc
