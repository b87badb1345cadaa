"""HTTP details an attacker or a careless client exercised: request ids, challenges, Allow,
slow headers, unexpected errors and stored data of older versions."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import uuid
from urllib.parse import urlparse

import httpx
import psycopg
import pytest

from gateway.app import build_app
from tests.analyzer import photos
from tests.gateway.conftest import gateway_settings, running_gateway, serve_asgi, wait_for
from tests.gateway.test_tasks_api import assert_error


@pytest.mark.parametrize(
    "sent",
    [b"with\ttab", "café".encode(), b"x" * 17_000, b"<script>"],
    ids=["tab", "non-ASCII", "17 KB", "markup"],
)
async def test_request_ids_that_cannot_travel_are_replaced(client, headers, sent):
    response = await client.get("/tasks", headers={**headers, "x-request-id": sent})
    assert response.status_code == 200, response.text
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def test_a_safe_request_id_is_kept(client, headers):
    response = await client.get("/tasks", headers={**headers, "x-request-id": "app-7f3a:42"})
    assert response.headers["x-request-id"] == "app-7f3a:42"


async def test_401_carries_a_bearer_challenge(client):
    missing = await client.get("/tasks")
    assert_error(missing, 401)
    assert missing.headers["www-authenticate"] == 'Bearer realm="skin-analysis"'
    refused = await client.get("/tasks", headers={"authorization": "Bearer not.a.token"})
    assert_error(refused, 401)
    challenge = refused.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="skin-analysis", error="invalid_token"')


async def test_405_says_which_methods_are_allowed(client, headers):
    response = await client.patch("/tasks", headers=headers)
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


async def test_slow_or_silent_connections_are_closed(storage_server, analyzer_server, jwt_secret):
    # Found: 300 half-open connections were held with no timeout for the request's headers.
    settings = gateway_settings(
        storage_server.port, analyzer_server.port, jwt_secret, header_timeout_seconds=1
    )
    async with running_gateway(settings) as url:
        address = urlparse(url)
        slow, silent = socket.socket(), socket.socket()
        for sock in (slow, silent):
            sock.settimeout(5)
            sock.connect((address.hostname, address.port))
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finished
        started = asyncio.get_running_loop().time()
        assert await asyncio.to_thread(slow.recv, 100) == b""
        assert await asyncio.to_thread(silent.recv, 100) == b""
        assert asyncio.get_running_loop().time() - started < 4
        slow.close()
        silent.close()
        # An ordinary request is unaffected.
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/healthz")).status_code == 200


async def test_an_unexpected_error_is_a_json_500_with_the_request_id(
    storage_server, analyzer_server, jwt_secret
):
    app = build_app(gateway_settings(storage_server.port, analyzer_server.port, jwt_secret))

    async def broken() -> None:
        raise RuntimeError("a bug nobody expected: secret=hunter2")

    app.add_api_route("/broken", broken)
    async with serve_asgi(app) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.get("/broken", headers={"x-request-id": "trace-1"})
    error = assert_error(response, 500, "INTERNAL_ERROR")
    assert response.headers["content-type"].startswith("application/json")
    assert "trace-1" in error["message"] and "hunter2" not in response.text
    assert response.headers["x-request-id"] == "trace-1"


async def test_a_routine_stored_by_an_older_version_is_still_readable(
    client, headers, pg_admin_url
):
    # A routine that does not fit today's schema must not turn GET and the list into 500s.
    selfie = photos.encode(photos.astronaut())
    task_id = (
        await client.post(
            "/tasks", headers=headers, files={"image": ("a.jpg", selfie, "image/jpeg")}
        )
    ).json()["task_id"]
    await wait_for(client, f"/tasks/{task_id}", headers, lambda b: b["status"] == "succeeded")
    old = {"version": 0, "steps": "wash, then moisturise"}
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(
            "update public.skin_analysis_tasks set routine_json = %s where id = %s",
            (json.dumps(old), uuid.UUID(task_id)),
        )
    body = (await client.get(f"/tasks/{task_id}", headers=headers)).json()
    assert body["routine"] == old
    assert (await client.get("/tasks", headers=headers)).status_code == 200
    # Timestamps carry their offset (RFC 3339).
    assert body["created_at"].endswith(("Z", "+00:00"))


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_api_docs_work_offline(client, page):
    # Found: /docs and /redoc were blank offline (Swagger UI and ReDoc came from a CDN).
    html = (await client.get(page)).text
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources, html
    for source in sources:
        assert source.startswith("/"), f"{page} loads {source} from elsewhere"
        if not source.endswith(".json"):
            asset = await client.get(source)
            assert asset.status_code == 200 and len(asset.content) > 100, source
