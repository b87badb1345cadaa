"""A real gateway (uvicorn on an ephemeral port) in front of the real storage and analyzer."""

from __future__ import annotations

import asyncio
import socket
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import uvicorn

from analyzer.server import AnalyzerServer
from gateway.app import build_app
from gateway.http_server import http_protocol
from gateway.settings import GatewaySettings
from skin.analyzer.v1 import analyzer_pb2, analyzer_pb2_grpc
from storage.embedded_postgres import free_port
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


@pytest.fixture
async def stalling():
    """A real gRPC analyzer on a port of its own that stalls after its first stage: yields the
    servicer (with `started`, `port` and `server`), stopped at the end."""
    servicer = StallingAnalyzer()
    servicer.port = free_port()
    servicer.server = grpc.aio.server()
    analyzer_pb2_grpc.add_AnalyzerServiceServicer_to_server(servicer, servicer.server)
    servicer.server.add_insecure_port(f"127.0.0.1:{servicer.port}")
    await servicer.server.start()
    yield servicer
    await servicer.server.stop(0)


class StallingAnalyzer(analyzer_pb2_grpc.AnalyzerServiceServicer):
    """A real gRPC analyzer that reports its first stage and then never finishes."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.port = 0
        self.server: grpc.aio.Server | None = None

    async def AnalyzeFace(self, request, context):
        yield analyzer_pb2.AnalyzeFaceResponse(
            progress=analyzer_pb2.AnalysisProgress(
                stage=analyzer_pb2.ANALYSIS_STAGE_DECODE, fraction=0.1
            )
        )
        self.started.set()
        await asyncio.sleep(3600)
