"""Helpers that start the real services for tests: storage settings, bearer metadata, and a
private storage server."""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from analyzer.settings import AnalyzerSettings
from skin.storage.v1 import storage_pb2_grpc
from storage.server import build_server
from storage.settings import StorageSettings


def storage_settings(
    database_url: str, jwt_secret: str | None, **overrides: Any
) -> StorageSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "supabase_jwt_secret": jwt_secret,
        "storage_host": "127.0.0.1",
        "storage_port": 0,
        "data_dir": Path(tempfile.mkdtemp(prefix="skin-test-data-")),
        "janitor_interval_seconds": 3600,
        "storage_grace_seconds": 1,
    }
    values.update(overrides)
    return StorageSettings(**values)


def auth(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


def analyzer_settings(jwt_secret: str, **overrides: Any) -> AnalyzerSettings:
    values: dict[str, Any] = {
        "supabase_jwt_secret": jwt_secret,
        "analyzer_host": "127.0.0.1",
        "analyzer_port": 0,
        "analyzer_workers": 2,
        "analyzer_max_concurrent": 4,
    }
    values.update(overrides)
    return AnalyzerSettings(**values)


def _with_token(details: Any, token: str) -> Any:
    """The call's details with `authorization: Bearer <token>` added, unless it has one."""
    metadata = list(details.metadata or ())
    if not any(key == "authorization" for key, _ in metadata):
        metadata.append(("authorization", f"Bearer {token}"))
    return details._replace(metadata=grpc.aio.Metadata(*metadata))


class _UnaryBearer(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, token: str) -> None:
        self._token = token

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_with_token(details, self._token), request)


class _StreamBearer(grpc.aio.UnaryStreamClientInterceptor):
    # A separate class: the channel files each interceptor under the first kind it is.
    def __init__(self, token: str) -> None:
        self._token = token

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_with_token(details, self._token), request)


def service_channel(port: int, token: str, **options: Any) -> grpc.aio.Channel:
    """A channel to 127.0.0.1:`port` whose calls carry `token` (the service_role one)."""
    return grpc.aio.insecure_channel(
        f"127.0.0.1:{port}",
        options=list(options.items()),
        interceptors=[_UnaryBearer(token), _StreamBearer(token)],
    )


@asynccontextmanager
async def running_storage(
    settings: StorageSettings,
) -> AsyncIterator[storage_pb2_grpc.TaskStoreServiceStub]:
    """A storage server of its own for one test, with a stub on a fresh channel."""
    server = await build_server(settings)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            yield storage_pb2_grpc.TaskStoreServiceStub(channel)
    finally:
        await server.stop(0)


async def wait_serving(
    port: int, service: str, process: subprocess.Popen[bytes], seconds: float = 60
) -> None:
    """Until the server on `port` reports SERVING for `service`; fails if the process exits."""
    deadline = time.monotonic() + seconds
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                reply = await health.Check(
                    health_pb2.HealthCheckRequest(service=service), timeout=1
                )
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            assert process.poll() is None, f"the server exited with {process.returncode}"
            assert time.monotonic() < deadline, "the server did not start"
            await asyncio.sleep(0.2)
