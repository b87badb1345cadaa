"""SQL for public.skin_analysis_tasks. Every statement filters user_id = caller as well as RLS
(the seed's final safeguard); the caller's identity is set by Database before these run."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    TIMESTAMP,
    Column,
    Integer,
    MetaData,
    Row,
    Table,
    Text,
    Uuid,
    delete,
    func,
    insert,
    literal_column,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

NOTIFY_CHANNEL = "skin_analysis_tasks"

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
TERMINAL = frozenset({SUCCEEDED, FAILED})
# The statuses a task may be in before moving to each status.
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    QUEUED: (QUEUED,),
    RUNNING: (QUEUED, RUNNING),
    SUCCEEDED: (QUEUED, RUNNING),
    FAILED: (QUEUED, RUNNING),
}

tasks = Table(
    "skin_analysis_tasks",
    MetaData(schema="public"),
    Column("id", Uuid, primary_key=True, server_default=text("gen_random_uuid()")),
    Column("user_id", Uuid, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'queued'")),
    Column("result", JSONB),
    Column("error", Text),
    Column("real_age", Integer),
    Column("intake", JSONB),
    Column("routine_json", JSONB),
    Column("created_at", TIMESTAMP(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", TIMESTAMP(timezone=True), nullable=False, server_default=func.now()),
)

TaskRow = Row[Any]


def _mine(user_id: str, task_id: str) -> Any:
    return (tasks.c.id == UUID(task_id)) & (tasks.c.user_id == UUID(user_id))


async def create_task(conn: AsyncConnection, user_id: str, real_age: int | None) -> TaskRow:
    statement = insert(tasks).values(user_id=UUID(user_id), real_age=real_age).returning(*tasks.c)
    return (await conn.execute(statement)).one()


async def get_task(conn: AsyncConnection, user_id: str, task_id: str) -> TaskRow | None:
    return (await conn.execute(select(tasks).where(_mine(user_id, task_id)))).one_or_none()


async def list_tasks(
    conn: AsyncConnection, user_id: str, limit: int, after: tuple[datetime, UUID] | None
) -> list[TaskRow]:
    """Newest first, keyset-paged on (created_at, id); `after` is the previous page's last row."""
    statement = select(tasks).where(tasks.c.user_id == UUID(user_id))
    if after is not None:
        statement = statement.where(tuple_(tasks.c.created_at, tasks.c.id) < tuple_(*after))
    statement = statement.order_by(tasks.c.created_at.desc(), tasks.c.id.desc()).limit(limit)
    return list((await conn.execute(statement)).all())


async def update_status(
    conn: AsyncConnection,
    user_id: str,
    task_id: str,
    status: str,
    result: dict[str, Any] | None,
    error: str | None,
) -> TaskRow | None:
    """Moves the task to `status` when its current status allows it; None when it does not (or
    the task is not the caller's: the caller tells the two apart with get_task)."""
    statement = (
        update(tasks)
        .where(_mine(user_id, task_id), tasks.c.status.in_(ALLOWED_FROM[status]))
        .values(status=status, result=result, error=error)
        .returning(*tasks.c)
    )
    return (await conn.execute(statement)).one_or_none()


async def set_column_if_succeeded(
    conn: AsyncConnection, user_id: str, task_id: str, column: str, value: dict[str, Any]
) -> TaskRow | None:
    statement = (
        update(tasks)
        .where(_mine(user_id, task_id), tasks.c.status == SUCCEEDED)
        .values({column: value})
        .returning(*tasks.c)
    )
    return (await conn.execute(statement)).one_or_none()


async def delete_task(conn: AsyncConnection, user_id: str, task_id: str) -> bool:
    statement = delete(tasks).where(_mine(user_id, task_id)).returning(tasks.c.id)
    return (await conn.execute(statement)).one_or_none() is not None


async def publish_progress(
    conn: AsyncConnection, user_id: str, task_id: str, progress: dict[str, Any]
) -> bool:
    """Sends a progress notification when the task is the caller's and not finished; delivered
    to listeners when the transaction commits."""
    payload = json.dumps({"kind": "progress", "task_id": task_id, **progress})
    statement = select(func.pg_notify(NOTIFY_CHANNEL, payload)).where(
        _mine(user_id, task_id), tasks.c.status.not_in(TERMINAL)
    )
    return (await conn.execute(statement.select_from(tasks))).first() is not None


async def fail_stale_tasks(conn: AsyncConnection, stale_after_seconds: float, error: str) -> int:
    """Fails every task left queued or running longer than the window (its process died)."""
    cutoff = func.now() - func.make_interval(0, 0, 0, 0, 0, 0, stale_after_seconds)
    statement: Any = (
        update(tasks)
        .where(tasks.c.status.in_((QUEUED, RUNNING)), tasks.c.updated_at < cutoff)
        .values(status=FAILED, error=error)
        .returning(literal_column("1"))
    )
    return len((await conn.execute(statement)).all())
