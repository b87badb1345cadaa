"""Converts between table rows and protobuf messages, and between page tokens and keys."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from skin import page_tokens
from skin.errors import InvalidArgument
from skin.storage.v1 import storage_pb2
from skin.structs import to_struct
from storage.repository import TaskRow

STATUS_TO_PROTO = {
    "queued": storage_pb2.TASK_STATUS_QUEUED,
    "running": storage_pb2.TASK_STATUS_RUNNING,
    "succeeded": storage_pb2.TASK_STATUS_SUCCEEDED,
    "failed": storage_pb2.TASK_STATUS_FAILED,
}
PROTO_TO_STATUS = {value: key for key, value in STATUS_TO_PROTO.items()}


def task_to_proto(row: TaskRow) -> storage_pb2.Task:
    task = storage_pb2.Task(
        id=str(row.id),
        user_id=str(row.user_id),
        status=STATUS_TO_PROTO.get(row.status, storage_pb2.TASK_STATUS_UNSPECIFIED),
    )
    if row.result is not None:
        task.result.CopyFrom(to_struct(row.result))
    if row.error is not None:
        task.error = row.error
    if row.real_age is not None:
        task.real_age = row.real_age
    if row.intake is not None:
        task.intake.CopyFrom(to_struct(row.intake))
    if row.routine_json is not None:
        task.routine.CopyFrom(to_struct(row.routine_json))
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
