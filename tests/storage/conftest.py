"""A real storage gRPC server on an ephemeral port, over the test cluster."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest

from skin.storage.v1 import storage_pb2_grpc
from storage.server import StorageServer, build_server
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


@pytest.fixture(scope="session")
async def storage_server(pg_admin_url: str, jwt_secret: str) -> AsyncIterator[StorageServer]:
    server = await build_server(storage_settings(pg_admin_url, jwt_secret))
    yield server
    await server.stop(0)


@pytest.fixture(scope="session")
async def stub(
    storage_server: StorageServer,
) -> AsyncIterator[storage_pb2_grpc.TaskStoreServiceStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{storage_server.port}") as channel:
        yield storage_pb2_grpc.TaskStoreServiceStub(channel)


def auth(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


@pytest.fixture
def user(
    make_user: Callable[[], str], token_for: Callable[[str], str]
) -> tuple[str, list[tuple[str, str]]]:
    """A fresh user and the call metadata carrying their token."""
    user_id = make_user()
    return user_id, auth(token_for(user_id))
