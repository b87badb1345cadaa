"""SQL for public.skin_analysis_tasks. Every statement filters user_id = caller as well as RLS
(the seed's final safeguard); the caller's identity is set by Database before these run.

The statements are written with SQLAlchemy Core against a typed table and compiled once, at
import, for the psycopg dialect; storage.database sends each with the caller's identity in one
message. (SQLAlchemy's async execution layer measured 1.3 ms per call on
top of the database's own 0.6 ms: see bench/storage.py and the commit that made this change.)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb
from sqlalchemy import (
    TIMESTAMP,
    Column,
    Integer,
    Interval,
    MetaData,
    Table,
    Text,
    Uuid,
    bindparam,
    cast,
    delete,
    func,
    literal_column,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect
from sqlalchemy.sql import ClauseElement

from storage.database import Session

NOTIFY_CHANNEL = "skin_analysis_tasks"

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
TERMINAL = frozenset({SUCCEEDED, FAILED})
# The statuses a task may be in before moving to each status.
ALLOWED_FROM: dict[str, list[str]] = {
    QUEUED: [QUEUED],
    RUNNING: [QUEUED, RUNNING],
    SUCCEEDED: [QUEUED, RUNNING],
    FAILED: [QUEUED, RUNNING],
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
    Column("idempotency_key", Text),
    Column("request_fingerprint", Text),
)

# A row as psycopg's namedtuple_row returns it: attributes named after the columns.
TaskRow = Any

_DIALECT = psycopg_dialect.dialect()


def _sql(statement: ClauseElement) -> str:
    """Compiles once; every value is a named bind parameter or a SQL literal, never a default
    that would have to travel beside the string."""
    compiled = statement.compile(dialect=_DIALECT)
    unnamed = [name for name, value in compiled.params.items() if value is not None]
    assert not unnamed, f"statement has unnamed values: {unnamed}"
    return str(compiled)


def _literal(value: str) -> Any:
    return literal_column(f"'{value}'", Text)


# How much of a task a statement returns (the proto's TaskView): everything, everything but the
# three JSON documents, or the documents as the JSON text the table holds, so a reader that only
# passes them on parses nothing.
FULL, BASIC, JSON = "full", "basic", "json"
VIEWS = (FULL, BASIC, JSON)
_DOCUMENTS = ("result", "intake", "routine_json")


def _columns(view: str) -> list[Any]:
    if view == BASIC:
        return [column for column in tasks.c if column.name not in _DOCUMENTS]
    if view == JSON:
        return [
            cast(column, Text).label(column.name) if column.name in _DOCUMENTS else column
            for column in tasks.c
        ]
    return list(tasks.c)


_MINE = (tasks.c.id == bindparam("task_id")) & (tasks.c.user_id == bindparam("user_id"))
_NEWEST_FIRST = (tasks.c.created_at.desc(), tasks.c.id.desc())

CREATE = _sql(
    pg_insert(tasks)
    .values(
        user_id=bindparam("user_id"),
        real_age=bindparam("real_age"),
        idempotency_key=bindparam("idempotency_key"),
        request_fingerprint=bindparam("request_fingerprint"),
    )
    .on_conflict_do_nothing(
        index_elements=[tasks.c.user_id, tasks.c.idempotency_key],
        index_where=tasks.c.idempotency_key.is_not(None),
    )
    .returning(*tasks.c)
)
BY_IDEMPOTENCY_KEY = _sql(
    select(tasks).where(
        tasks.c.user_id == bindparam("user_id"),
        tasks.c.idempotency_key == bindparam("idempotency_key"),
    )
)
GET = {view: _sql(select(*_columns(view)).where(_MINE)) for view in VIEWS}


def _listing(view: str, *after: Any) -> str:
    """The user's tasks newest first, from the start or `after` a keyset position."""
    return _sql(
        select(*_columns(view))
        .where(tasks.c.user_id == bindparam("user_id"), *after)
        .order_by(*_NEWEST_FIRST)
        .limit(bindparam("limit"))
    )


_AFTER = tuple_(tasks.c.created_at, tasks.c.id) < tuple_(
    bindparam("after_created", type_=TIMESTAMP(timezone=True)),
    bindparam("after_id", type_=Uuid),
)
LIST_FIRST = {view: _listing(view) for view in VIEWS}
LIST_AFTER = {view: _listing(view, _AFTER) for view in VIEWS}


def _one_of(statuses: Iterable[str]) -> Any:
    """`status in (...)` with the statuses as SQL literals: they are constants, and an array
    parameter costs psycopg's client-side binding half a millisecond to type."""
    return tasks.c.status.in_([_literal(status) for status in sorted(statuses)])


# One statement per (target status, view): the statuses it may come from are part of its text.
UPDATE_STATUS = {
    (status, view): _sql(
        update(tasks)
        .where(_MINE, _one_of(ALLOWED_FROM[status]))
        .values(status=_literal(status), result=bindparam("result"), error=bindparam("error"))
        .returning(*_columns(view))
    )
    for status in ALLOWED_FROM
    for view in VIEWS
}
# The columns written once the analysis succeeded: the intake alone (a user), the routine
# alone, or both in one statement (the service, so a routine never sits beside another intake).
SET_AFTER_SUCCESS: dict[tuple[tuple[str, ...], str], str] = {
    (columns, view): _sql(
        update(tasks)
        .where(_MINE, tasks.c.status == _literal(SUCCEEDED))
        .values({column: bindparam(column) for column in columns})
        .returning(*_columns(view))
    )
    for columns in (("intake",), ("routine_json",), ("intake", "routine_json"))
    for view in VIEWS
}
DELETE = _sql(delete(tasks).where(_MINE).returning(tasks.c.id))
PUBLISH_PROGRESS = _sql(
    select(func.pg_notify(_literal(NOTIFY_CHANNEL), bindparam("payload", type_=Text)))
    .select_from(tasks)
    .where(_MINE, ~_one_of(TERMINAL))
)
FAIL_STALE = _sql(
    update(tasks)
    .where(
        _one_of([QUEUED, RUNNING]),
        tasks.c.updated_at < func.now() - bindparam("stale_after", type_=Interval),
    )
    .values(status=_literal(FAILED), error=bindparam("error"))
    .returning(literal_column("1"))
)


def _ids(user_id: str, task_id: str) -> dict[str, Any]:
    return {"user_id": UUID(user_id), "task_id": UUID(task_id)}


async def create_task(
    session: Session,
    user_id: str,
    real_age: int | None,
    idempotency_key: str | None,
    fingerprint: str | None = None,
) -> tuple[TaskRow, bool]:
    """The new task and True, or the task created earlier with the same key and False (the
    caller compares its request_fingerprint)."""
    params = {
        "user_id": UUID(user_id),
        "real_age": real_age,
        "idempotency_key": idempotency_key,
        "request_fingerprint": fingerprint,
    }
    row = await session.one(CREATE, params)
    if row is not None:
        return row, True
    earlier = await session.one(BY_IDEMPOTENCY_KEY, params)
    assert earlier is not None  # the conflict that skipped the insert is this row
    return earlier, False


async def get_task(
    session: Session, user_id: str, task_id: str, view: str = FULL
) -> TaskRow | None:
    return await session.one(GET[view], _ids(user_id, task_id))


async def list_tasks(
    session: Session,
    user_id: str,
    limit: int,
    after: tuple[datetime, UUID] | None,
    view: str = FULL,
) -> list[TaskRow]:
    """Newest first, keyset-paged on (created_at, id); `after` is the previous page's last row."""
    params: dict[str, Any] = {"user_id": UUID(user_id), "limit": limit}
    if after is None:
        return await session.all(LIST_FIRST[view], params)
    params.update(after_created=after[0], after_id=after[1])
    return await session.all(LIST_AFTER[view], params)


async def update_status(
    session: Session,
    user_id: str,
    task_id: str,
    status: str,
    result: Jsonb | None,
    error: str | None,
    view: str = FULL,
) -> TaskRow | None:
    """Moves the task to `status` when its current status allows it; None when it does not (or
    the task is not the caller's: the caller tells the two apart with get_task)."""
    params = _ids(user_id, task_id) | {"result": result, "error": error}
    return await session.one(UPDATE_STATUS[(status, view)], params)


async def set_if_succeeded(
    session: Session,
    user_id: str,
    task_id: str,
    values: dict[str, Jsonb],
    view: str = FULL,
) -> TaskRow | None:
    """Writes `values` (column -> JSON) in one statement when the analysis succeeded; None
    otherwise (or when the task is not the user's)."""
    columns = tuple(column for column in ("intake", "routine_json") if column in values)
    params = _ids(user_id, task_id) | {column: values[column] for column in columns}
    return await session.one(SET_AFTER_SUCCESS[(columns, view)], params)


async def delete_task(session: Session, user_id: str, task_id: str) -> bool:
    return await session.one(DELETE, _ids(user_id, task_id)) is not None


async def publish_progress(
    session: Session, user_id: str, task_id: str, progress: dict[str, Any]
) -> bool:
    """Sends a progress notification when the task is the caller's and not finished; delivered
    to listeners when the transaction commits."""
    payload = json.dumps({"kind": "progress", "task_id": task_id, **progress})
    params = _ids(user_id, task_id) | {"payload": payload}
    return await session.one(PUBLISH_PROGRESS, params) is not None


async def fail_stale_tasks(session: Session, stale_after_seconds: float, error: str) -> int:
    """Fails every task left queued or running longer than the window (its process died)."""
    params = {
        "stale_after": timedelta(seconds=stale_after_seconds),
        "error": error,
    }
    return len(await session.all(FAIL_STALE, params))
