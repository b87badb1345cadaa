"""Webhooks reach a real local HTTP receiver, signed as Standard Webhooks says, and are retried."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from gateway.webhooks import WebhookSender
from skin.storage.v1 import storage_pb2_grpc
from storage.embedded_postgres import free_port
from tests.analyzer import photos
from tests.gateway.conftest import gateway_settings, running_gateway, serve_asgi, wait_for
from tests.servers import auth

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def verify(headers, body: bytes) -> bool:
    """The receiver's side of the spec, written from it, not from the gateway's code."""
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(sig == f"v1,{expected}" for sig in headers["webhook-signature"].split())


class Receiver:
    def __init__(self, fail_first: int) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        self.events: asyncio.Queue[dict] = asyncio.Queue()

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        self.calls.append((dict(request.headers), body))
        if len(self.calls) <= self.fail_first:
            return Response(status_code=503)
        assert verify(request.headers, body)
        self.events.put_nowait(json.loads(body))
        return Response(status_code=204)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    hooks = Receiver(fail_first=1)
    app = Starlette(routes=[Route("/hooks", hooks.hook, methods=["POST"])])
    async with serve_asgi(app) as url:
        yield hooks, f"{url}/hooks"


async def test_signed_webhook_for_the_final_status_with_a_retry(
    receiver, storage_server, analyzer_server, jwt_secret, make_user, token_for
):
    hooks, url = receiver
    settings = gateway_settings(
        storage_server.port, analyzer_server.port, jwt_secret,
        webhook_url=url, webhook_secret=SECRET, webhook_first_retry_seconds=0.2,
    )  # fmt: skip
    headers = {"authorization": f"Bearer {token_for(make_user())}"}
    async with (
        running_gateway(settings) as base,
        httpx.AsyncClient(base_url=base, timeout=30) as client,
    ):
        selfie = photos.encode(photos.astronaut())
        response = await client.post(
            "/tasks", headers=headers, files={"image": ("a.jpg", selfie, "image/jpeg")}
        )
        task_id = response.json()["task_id"]
        event = await asyncio.wait_for(hooks.events.get(), 30)
        task = await wait_for(
            client, f"/tasks/{task_id}", headers, lambda b: b["status"] == "succeeded"
        )
    assert event["type"] == "task.succeeded"
    assert event["data"] == task  # the same JSON as GET /tasks/{id}
    # The first delivery was refused (503) and retried with the same id.
    assert len(hooks.calls) == 2
    assert hooks.calls[0][0]["webhook-id"] == hooks.calls[1][0]["webhook-id"]
    assert not verify(hooks.calls[1][0] | {"webhook-timestamp": "1"}, hooks.calls[1][1])


class HangingReceiver:
    """Hangs on the first message it gets; answers every other at once."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.release = asyncio.Event()

    async def hook(self, request: Request) -> Response:
        body = json.loads(await request.body())
        self.ids.append(str(body["data"].get("task_id")))
        if len(self.ids) == 1:
            await self.release.wait()
        return Response(status_code=204)


@pytest.fixture
async def outbox_sender(storage_server, service_token):
    """A factory of WebhookSenders on the session's storage, with the service token."""
    senders: list[WebhookSender] = []
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{storage_server.port}")
    stub = storage_pb2_grpc.TaskStoreServiceStub(channel)

    async def make(url: str, first_delay: float = 0.3) -> WebhookSender:
        sender = WebhookSender(url, SECRET, stub, lambda: auth(service_token), 6, first_delay)
        await sender.start()
        senders.append(sender)
        return sender

    yield make
    for sender in senders:
        await sender.stop(0)
    await channel.close()


async def test_a_hanging_delivery_does_not_hold_back_the_others(outbox_sender, make_user):
    # Found: eight delivery slots each sleeping up to 1,024 s, so one dead endpoint stalled all.
    hanging = HangingReceiver()
    app = Starlette(routes=[Route("/hooks", hanging.hook, methods=["POST"])])
    async with serve_asgi(app) as url:
        sender = await outbox_sender(f"{url}/hooks")
        user_id = make_user()
        for index in range(4):
            await sender.enqueue("task.succeeded", user_id, {"task_id": f"t{index}"})
        mine = {f"t{index}" for index in range(4)}
        for _ in range(50):
            if mine <= set(hanging.ids):
                break
            await asyncio.sleep(0.1)
        hanging.release.set()
    # All four arrived while the first delivery still hung.
    assert mine <= set(hanging.ids)


async def test_a_message_outlives_the_gateway_that_stored_it(outbox_sender, make_user):
    # Found: queued webhooks were lost on shutdown. The outbox keeps them for the next gateway.
    dead_endpoint = f"http://127.0.0.1:{free_port()}/hooks"
    first = await outbox_sender(dead_endpoint, first_delay=0.5)
    await first.enqueue("task.failed", make_user(), {"task_id": "kept"})
    await asyncio.sleep(1.0)  # one failed attempt, rescheduled in the outbox
    await first.stop(0)
    hooks = Receiver(fail_first=0)
    app = Starlette(routes=[Route("/hooks", hooks.hook, methods=["POST"])])
    async with serve_asgi(app) as url:
        await outbox_sender(f"{url}/hooks", first_delay=0.5)

        async def kept() -> dict:
            while True:  # the session's outbox may hold other tests' messages too
                event = await hooks.events.get()
                if event["data"] == {"task_id": "kept"}:
                    return event

        event = await asyncio.wait_for(kept(), 10)
    assert event["type"] == "task.failed"


async def test_waiting_retries_hold_nothing_back(outbox_sender, make_user):
    # Ten messages the endpoint refuses wait for their retries (30 s) in the outbox, not in
    # delivery slots: the next message goes out at once.
    seen: list[str] = []

    async def hook(request: Request) -> Response:
        task_id = json.loads(await request.body())["data"]["task_id"]
        seen.append(task_id)
        return Response(status_code=503 if task_id.startswith("refused") else 204)

    app = Starlette(routes=[Route("/hooks", hook, methods=["POST"])])
    async with serve_asgi(app) as url:
        sender = await outbox_sender(f"{url}/hooks", first_delay=30)
        user_id = make_user()
        for index in range(10):
            await sender.enqueue("task.failed", user_id, {"task_id": f"refused-{index}"})
        await asyncio.sleep(0.5)
        await sender.enqueue("task.succeeded", user_id, {"task_id": "welcome"})
        for _ in range(50):
            if "welcome" in seen:
                break
            await asyncio.sleep(0.1)
    assert "welcome" in seen
    assert sum(task_id.startswith("refused") for task_id in seen) == 10  # no early retries


class EndlessReceiver:
    """Accepts a message with 200 and then streams a body that never ends."""

    def __init__(self) -> None:
        self.sent = 0
        self.closed = asyncio.Event()
        self.got = asyncio.Event()

    async def hook(self, request: Request) -> Response:
        await request.body()
        self.got.set()

        async def forever() -> AsyncIterator[bytes]:
            try:
                while True:
                    self.sent += 65536
                    yield b"x" * 65536
                    await asyncio.sleep(0)
            finally:
                self.closed.set()

        return StreamingResponse(forever(), status_code=200)


async def test_a_receivers_endless_body_is_not_read(outbox_sender, make_user):
    # The sender reads the status only: a body that never ends is closed unread, and the
    # delivery is done (read whole, it held the delivery and its memory without bound).
    endless = EndlessReceiver()
    app = Starlette(routes=[Route("/hooks", endless.hook, methods=["POST"])])
    async with serve_asgi(app) as url:
        sender = await outbox_sender(f"{url}/hooks")
        await sender.enqueue("task.succeeded", make_user(), {"task_id": "endless"})
        await asyncio.wait_for(endless.got.wait(), 10)
        await asyncio.wait_for(endless.closed.wait(), 10)
    assert endless.sent < 64 * 1024 * 1024
