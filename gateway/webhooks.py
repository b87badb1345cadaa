"""Webhooks for server-side integrators, as the Standard Webhooks specification defines them
(`webhook-id`, `webhook-timestamp`, `webhook-signature`, signed by the `standardwebhooks`
library). Sent when a task reaches a final status and when its routine is ready.

Messages are stored by storage (an outbox in its private schema) before anything is sent, so a
restart, a burst or a dead endpoint loses none. A delivery loop leases due messages and sends
each on its own with a timeout; a failure is rescheduled in the outbox (x4 backoff) instead of
sleeping in a slot, so one slow or dead endpoint never holds back other messages. A lease that
runs out (the gateway died mid-send) makes the message due again for any gateway replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import grpc
import httpx
from standardwebhooks.webhooks import Webhook
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

from skin.retrying import backoff
from skin.storage.v1 import storage_pb2, storage_pb2_grpc

logger = logging.getLogger(__name__)

CLAIM_BATCH = 16
POLL_SECONDS = 1.0
DELIVERY_TIMEOUT_SECONDS = 10.0
LEASE_SECONDS = 60  # longer than one delivery attempt
ENQUEUE_ATTEMPTS = 5  # storing a message through a brief storage outage
Metadata = Callable[[], list[tuple[str, str]]]


def message_body(event: str, data: dict[str, Any]) -> str:
    payload = {"type": event, "timestamp": datetime.now(UTC).isoformat(), "data": data}
    return json.dumps(payload, separators=(",", ":"))


class WebhookSender:
    def __init__(
        self,
        url: str,
        secret: str,
        storage: storage_pb2_grpc.TaskStoreServiceStub,
        metadata: Metadata,
        attempts: int = 6,
        first_delay: float = 1.0,
    ) -> None:
        self._url, self._signer = url, Webhook(secret)
        self._storage, self._metadata = storage, metadata
        self._attempts, self._first_delay = attempts, first_delay
        self._wake = asyncio.Event()
        self._deliveries: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=DELIVERY_TIMEOUT_SECONDS)
        self._loop_task = asyncio.create_task(self._deliver_forever(), name="webhooks")

    async def stop(self, grace: float = 5.0) -> None:
        """Stops claiming; deliveries in flight get `grace` seconds. Anything unsent stays in
        the outbox for the next gateway."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self._deliveries:
            await asyncio.wait(list(self._deliveries), timeout=grace)
        for task in list(self._deliveries):
            task.cancel()
        if self._client is not None:
            await self._client.aclose()

    async def enqueue(self, event: str, user_id: str, data: dict[str, Any]) -> None:
        """Stores the message in the outbox (the runner calls this once a task is final)."""
        request = storage_pb2.EnqueueWebhookRequest(
            message_id=f"msg_{uuid.uuid4().hex}",
            event=event,
            user_id=user_id,
            body=message_body(event, data),
        )
        retrying = AsyncRetrying(
            wait=backoff(),
            stop=stop_after_attempt(ENQUEUE_ATTEMPTS),
            retry=retry_if_exception(
                lambda exc: (
                    isinstance(exc, grpc.aio.AioRpcError)
                    and exc.code() == grpc.StatusCode.UNAVAILABLE
                )
            ),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._storage.EnqueueWebhook(
                        request, metadata=self._metadata(), timeout=10
                    )
        except grpc.aio.AioRpcError as exc:
            logger.error("webhook %s for task %s not stored: %s", event,
                         data.get("task_id"), exc.code().name)  # fmt: skip
            return
        self._wake.set()

    async def _deliver_forever(self) -> None:
        while True:
            try:
                claimed = await self._storage.ClaimWebhooks(
                    storage_pb2.ClaimWebhooksRequest(
                        max_messages=CLAIM_BATCH, lease_seconds=LEASE_SECONDS
                    ),
                    metadata=self._metadata(),
                    timeout=10,
                )
                for delivery in claimed.deliveries:
                    task = asyncio.create_task(self._deliver(delivery))
                    self._deliveries.add(task)
                    task.add_done_callback(self._deliveries.discard)
                more = len(claimed.deliveries) == CLAIM_BATCH
            except grpc.aio.AioRpcError as exc:
                logger.warning("webhook outbox unreachable: %s", exc.code().name)
                more = False
            if not more:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)

    async def _deliver(self, delivery: storage_pb2.WebhookDelivery) -> None:
        assert self._client is not None
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": delivery.message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._signer.sign(delivery.message_id, now, delivery.body),
        }
        error = ""
        try:
            # Only the status is read: a receiver's body, however large or slow, is closed
            # unread rather than held in memory.
            async with self._client.stream(
                "POST", self._url, content=delivery.body.encode(), headers=headers
            ) as response:
                if not 200 <= response.status_code < 300:
                    error = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        retry_after = 0.0
        if error:
            if delivery.attempt < self._attempts:
                retry_after = self._first_delay * 4 ** (delivery.attempt - 1)
                logger.warning(
                    "webhook %s failed (%s); attempt %d, next in %.1f s",
                    delivery.message_id, error, delivery.attempt, retry_after,
                )  # fmt: skip
            else:
                logger.error("webhook %s given up after %d attempts (%s)",
                             delivery.message_id, delivery.attempt, error)  # fmt: skip
        try:
            await self._storage.FinishWebhook(
                storage_pb2.FinishWebhookRequest(
                    message_id=delivery.message_id,
                    delivered=not error,
                    error=error,
                    retry_after_seconds=retry_after,
                ),
                metadata=self._metadata(),
                timeout=10,
            )
        except grpc.aio.AioRpcError as exc:
            # The lease runs out and the message is tried again: at-least-once delivery.
            logger.warning("webhook %s outcome not recorded: %s", delivery.message_id,
                           exc.code().name)  # fmt: skip
        if error and retry_after:
            self._wake.set()  # nothing to wait for if the retry is due soon; the loop polls
