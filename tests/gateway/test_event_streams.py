"""The event stream under a task that waits: keep-alive comments, a cap on a user's open streams,
and a deadline on the storage watch behind each one. A real gateway, storage and a real gRPC
analyzer that stalls, so the task stays running."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx

from tests.analyzer import photos
from tests.gateway.conftest import gateway_settings, running_gateway


@asynccontextmanager
async def gateway_with_a_running_task(
    storage_server, stalling, jwt_secret: str, headers: dict[str, str], **overrides: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A gateway in front of the stalling analyzer, and a task of `headers`' user that stays
    running on it."""
    settings = gateway_settings(storage_server.port, stalling.port, jwt_secret, **overrides)
    async with (
        running_gateway(settings) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        yield client, await running_task(client, headers, stalling)


async def running_task(client: httpx.AsyncClient, headers: dict[str, str], stalling) -> str:
    selfie = photos.encode(photos.astronaut())
    answer = await client.post(
        "/tasks", headers=headers, files={"image": ("a.jpg", selfie, "image/jpeg")}
    )
    await asyncio.wait_for(stalling.started.wait(), 10)
    return str(answer.json()["task_id"])


async def lines_for(response: httpx.Response, seconds: float) -> list[str]:
    """The stream's lines read for `seconds` (or until it ends)."""
    found: list[str] = []

    async def read() -> None:
        async for line in response.aiter_lines():
            found.append(line)

    try:
        await asyncio.wait_for(read(), seconds)
    except TimeoutError:
        pass
    return found


async def stream_of_a_running_task(
    storage_server,
    stalling,
    jwt_secret: str,
    headers: dict[str, str],
    seconds: float,
    **overrides: Any,
) -> tuple[list[str], float]:
    """The lines of a running task's event stream read for `seconds` (or to its end), and how
    long the stream lasted."""
    async with gateway_with_a_running_task(
        storage_server, stalling, jwt_secret, headers, **overrides
    ) as (client, task_id):
        started = time.monotonic()
        async with client.stream("GET", f"/tasks/{task_id}/events", headers=headers) as events:
            assert events.status_code == 200
            lines = await lines_for(events, seconds)
        return lines, time.monotonic() - started


async def test_an_idle_stream_gets_keep_alive_comments(
    storage_server, stalling, jwt_secret, make_user, token_for
):
    headers = {"authorization": f"Bearer {token_for(make_user())}"}
    lines, _ = await stream_of_a_running_task(
        storage_server, stalling, jwt_secret, headers, 1.6, event_stream_keepalive_seconds=0.3
    )
    comments = [line for line in lines if line.startswith(":")]
    assert len(comments) >= 3, lines  # one every 0.3 s while nothing happens
    assert "event: task" in lines and "event: end" not in lines


async def test_a_user_may_hold_only_so_many_streams(
    storage_server, stalling, jwt_secret, make_user, token_for
):
    user = {"authorization": f"Bearer {token_for(make_user())}"}
    other = {"authorization": f"Bearer {token_for(make_user())}"}
    async with gateway_with_a_running_task(
        storage_server, stalling, jwt_secret, user, max_event_streams_per_user=2
    ) as (client, task_id):
        path = f"/tasks/{task_id}/events"
        async with AsyncExitStack() as held:
            for _ in range(2):
                stream = await held.enter_async_context(client.stream("GET", path, headers=user))
                assert stream.status_code == 200
            refused = await client.get(path, headers=user)
            assert refused.status_code == 429, refused.text
            assert refused.json()["error"]["details"][0]["reason"] == "TOO_MANY_EVENT_STREAMS"
            assert "retry-after" in refused.headers
            # Another user is not held to this one's count (their task is not theirs: 404).
            assert (await client.get(path, headers=other)).status_code == 404
        # Closed streams give their places back.
        deadline = time.monotonic() + 10
        while True:
            async with client.stream("GET", path, headers=user) as again:
                if again.status_code == 200:
                    break
            assert time.monotonic() < deadline, "a closed stream's place was not given back"
            await asyncio.sleep(0.1)


async def test_a_streams_watch_ends_at_its_deadline(
    storage_server, stalling, jwt_secret, make_user, token_for
):
    headers = {"authorization": f"Bearer {token_for(make_user())}"}
    lines, took = await stream_of_a_running_task(
        storage_server, stalling, jwt_secret, headers, 15, event_stream_max_seconds=1.0
    )
    assert took < 15, "the stream did not end at its deadline"
    errors = [
        json.loads(lines[i + 1].removeprefix("data: "))
        for i, line in enumerate(lines[:-1])
        if line == "event: error"
    ]
    assert errors and errors[0]["code"] == "DEADLINE_EXCEEDED", lines
