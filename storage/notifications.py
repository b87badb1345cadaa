"""Relays PostgreSQL notifications on the task channel to the WatchTask streams of this process.

One LISTEN connection per process. It reconnects by itself; after a reconnect every watcher is
told to re-read its task, since notifications sent while it was away are lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator
from typing import Any

import psycopg
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from skin.progress import relayable_event
from skin.retrying import backoff
from storage.repository import NOTIFY_CHANNEL

logger = logging.getLogger(__name__)

RESYNC: dict[str, Any] = {"kind": "resync"}
_QUEUE_LIMIT = 256


class TaskEvents:
    """Fans notifications out to per-task queues."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._queues: dict[str, set[asyncio.Queue[dict[str, Any]]]] = {}
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="task-events-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @contextlib.contextmanager
    def subscribe(self, task_id: str) -> Iterator[asyncio.Queue[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(_QUEUE_LIMIT)
        self._queues.setdefault(task_id, set()).add(queue)
        try:
            yield queue
        finally:
            watchers = self._queues.get(task_id)
            if watchers is not None:
                watchers.discard(queue)
                if not watchers:
                    del self._queues[task_id]

    def _dispatch(self, payload: str) -> None:
        # Any database session may NOTIFY this channel: only well-formed events pass, and only
        # their known fields.
        try:
            event = relayable_event(json.loads(payload))
        except ValueError:
            event = None
        if event is None:
            logger.warning("ignoring a malformed notification (%d bytes)", len(payload))
            return
        for queue in self._queues.get(event["task_id"], ()):
            _offer(queue, event)

    def _resync_all(self) -> None:
        for watchers in self._queues.values():
            for queue in watchers:
                _offer(queue, RESYNC)

    async def _listen_forever(self) -> None:
        """Listens, reconnecting with the project's retry policy (skin/retrying.py); the
        backoff starts afresh after each connection that was up."""
        while True:
            retrying = AsyncRetrying(
                wait=backoff(),
                retry=retry_if_exception_type((psycopg.Error, OSError)),
                before_sleep=_note_lost,
            )
            async for attempt in retrying:
                with attempt:
                    await self._listen_once()

    async def _listen_once(self) -> None:
        """One connection: raises if it cannot listen; returns when a connection that was up
        is lost."""
        conn = await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, connect_timeout=5
        )
        try:
            async with conn:
                await conn.execute(f"listen {NOTIFY_CHANNEL}")
                self.connected.set()
                self._resync_all()
                async for notification in conn.notifies():
                    self._dispatch(notification.payload)
        except (psycopg.Error, OSError) as exc:
            if not self.connected.is_set():
                raise
            logger.warning("task event listener lost the database (%s); reconnecting", exc)
        finally:
            self.connected.clear()


def _note_lost(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    logger.warning("task event listener cannot reach the database (%s); retrying", error)


def _offer(queue: asyncio.Queue[dict[str, Any]], event: dict[str, Any]) -> None:
    """Progress may be dropped for a slow watcher; a change never is (the queue keeps a resync)."""
    try:
        queue.put_nowait(event)
    except asyncio.QueueFull:
        if event.get("kind") != "progress":
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()
            queue.put_nowait(RESYNC)
