"""Webhooks reach a real local HTTP receiver, signed as Standard Webhooks says, and are retried."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.analyzer import photos
from tests.gateway.conftest import gateway_settings, running_gateway, serve_asgi, wait_for

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
