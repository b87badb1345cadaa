"""The task-event listener on real PostgreSQL: when its connection is killed it reconnects
(with the project's retry policy), tells its watchers to re-read, and relays again."""

from __future__ import annotations

import asyncio
import json
import uuid

import psycopg

from storage.notifications import RESYNC, TaskEvents
from storage.repository import NOTIFY_CHANNEL


async def notify(url: str, task_id: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        payload = json.dumps({"kind": "change", "task_id": task_id})
        await conn.execute("select pg_notify(%s, %s)", (NOTIFY_CHANNEL, payload))


async def next_event(queue: asyncio.Queue, kind: str) -> dict:
    while True:
        event = await asyncio.wait_for(queue.get(), 20)
        if event["kind"] == kind:
            return event


async def test_the_listener_comes_back_after_its_connection_is_killed(pg_admin_url):
    # Its own application name, so only its session is killed (storage's listener may share
    # the cluster).
    name = f"listener-test-{uuid.uuid4().hex[:8]}"
    separator = "&" if "?" in pg_admin_url else "?"
    events = TaskEvents(f"{pg_admin_url}{separator}application_name={name}")
    events.start()
    task_id = str(uuid.uuid4())
    try:
        await asyncio.wait_for(events.connected.wait(), 20)
        with events.subscribe(task_id) as queue:
            await notify(pg_admin_url, task_id)
            assert (await next_event(queue, "change"))["task_id"] == task_id
            # Kill the listener's session from another one, as a failover or a restart would.
            async with await psycopg.AsyncConnection.connect(
                pg_admin_url, autocommit=True
            ) as admin:
                killed = await admin.execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity"
                    " where application_name = %s",
                    (name,),
                )
                assert (await killed.fetchall()) == [(True,)]
            # It reconnects and asks its watchers to re-read what they may have missed.
            assert await next_event(queue, "resync") == RESYNC
            await asyncio.wait_for(events.connected.wait(), 20)
            await notify(pg_admin_url, task_id)
            assert (await next_event(queue, "change"))["task_id"] == task_id
    finally:
        await events.stop()
