"""Webhooks for server-side integrators, as the Standard Webhooks specification defines them:
`webhook-id`, `webhook-timestamp` and `webhook-signature` (v1, HMAC-SHA256 over
"id.timestamp.body" with the base64 secret after its `whsec_` prefix). Sent when a task reaches
a final status and when its routine is ready; retried with exponential backoff; never on the
runner's path (a queue and a sender task of their own)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

logger = logging.getLogger(__name__)

QUEUE_LIMIT = 1000
PARALLEL_DELIVERIES = 8


def secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


class WebhookSender:
    def __init__(self, url: str, secret: str, attempts: int = 6, first_delay: float = 1.0) -> None:
        self._url, self._key = url, secret_key(secret)
        self._attempts, self._first_delay = attempts, first_delay
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(QUEUE_LIMIT)
        self._slots = asyncio.Semaphore(PARALLEL_DELIVERIES)
        self._deliveries: set[asyncio.Task[None]] = set()
        self._worker: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=10)
        self._worker = asyncio.create_task(self._dispatch(), name="webhooks")

    async def stop(self, grace: float = 5.0) -> None:
        if self._deliveries:
            await asyncio.wait(list(self._deliveries), timeout=grace)
        for task in [*self._deliveries, *([self._worker] if self._worker else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.aclose()

    async def enqueue(self, event: str, user_id: str, data: dict[str, Any]) -> None:
        """Called by the runner: queues the event and returns at once."""
        message_id = f"msg_{uuid.uuid4().hex}"
        payload = {"type": event, "timestamp": datetime.now(UTC).isoformat(), "data": data}
        try:
            self._queue.put_nowait(
                (message_id, json.dumps(payload, separators=(",", ":")).encode())
            )
        except asyncio.QueueFull:
            logger.error("webhook queue full: %s for task %s dropped", event, data.get("task_id"))

    async def _dispatch(self) -> None:
        while True:
            message_id, body = await self._queue.get()
            await self._slots.acquire()
            delivery = asyncio.create_task(self._deliver(message_id, body))
            self._deliveries.add(delivery)
            delivery.add_done_callback(self._deliveries.discard)

    async def _deliver(self, message_id: str, body: bytes) -> None:
        assert self._client is not None
        try:
            for attempt in range(self._attempts):
                timestamp = int(time.time())
                headers = {
                    "content-type": "application/json",
                    "webhook-id": message_id,
                    "webhook-timestamp": str(timestamp),
                    "webhook-signature": sign(self._key, message_id, timestamp, body),
                }
                try:
                    response = await self._client.post(self._url, content=body, headers=headers)
                    if 200 <= response.status_code < 300:
                        return
                    reason = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    reason = type(exc).__name__
                delay = self._first_delay * 4**attempt
                logger.warning(
                    "webhook %s failed (%s); attempt %d, next in %.0f s",
                    message_id,
                    reason,
                    attempt + 1,
                    delay,
                )
                await asyncio.sleep(delay)
            logger.error("webhook %s given up after %d attempts", message_id, self._attempts)
        finally:
            self._slots.release()
