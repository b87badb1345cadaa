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
