"""A real gateway (uvicorn on an ephemeral port) in front of the real storage and analyzer."""

from __future__ import annotations

import asyncio
import socket
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from analyzer.server import AnalyzerServer
from gateway.app import build_app
from gateway.http_server import http_protocol
from gateway.settings import GatewaySettings
from storage.server import StorageServer


def gateway_settings(
    storage_port: int, analyzer_port: int, jwt_secret: str, **overrides: Any
) -> GatewaySettings:
    values: dict[str, Any] = {
        "storage_target": f"127.0.0.1:{storage_port}",
        "analyzer_target": f"127.0.0.1:{analyzer_port}",
        "supabase_jwt_secret": jwt_secret,
        "data_dir": Path(tempfile.mkdtemp(prefix="skin-test-gateway-")),
        "shutdown_grace_seconds": 2,
    }
    values.update(overrides)
    return GatewaySettings(**values)


@asynccontextmanager
async def serve_asgi(app: Any, **config: Any) -> AsyncIterator[str]:
    """Serves an ASGI app with uvicorn on 127.0.0.1 and a port of its own; yields the base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", **config)
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


@asynccontextmanager
async def running_gateway(settings: GatewaySettings) -> AsyncIterator[str]:
    """The gateway as `python -m gateway` serves it (the same HTTP protocol)."""
    protocol = http_protocol(settings.header_timeout_seconds)
    async with serve_asgi(build_app(settings), http=protocol) as url:
        yield url


@pytest.fixture(scope="session")
async def gateway_url(
    storage_server: StorageServer, analyzer_server: AnalyzerServer, jwt_secret: str
) -> AsyncIterator[str]:
    settings = gateway_settings(storage_server.port, analyzer_server.port, jwt_secret)
    async with running_gateway(settings) as url:
        yield url


@pytest.fixture
async def client(gateway_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as http:
        yield http


@pytest.fixture
def headers(make_user: Callable[[], str], token_for: Callable[[str], str]) -> dict[str, str]:
    """A fresh user's Authorization header."""
    return {"authorization": f"Bearer {token_for(make_user())}"}


async def wait_for(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], done: Callable[[dict], bool]
) -> dict:
    for _ in range(300):
        body = (await client.get(path, headers=headers)).json()
        if done(body):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} never reached the expected state: {body}")
