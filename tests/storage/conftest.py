"""Storage test fixtures: a stub on the session's storage server, and fresh users."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import grpc
import pytest

from skin.storage.v1 import storage_pb2_grpc
from storage.server import StorageServer
from tests.servers import auth


@pytest.fixture(scope="session")
async def stub(
    storage_server: StorageServer,
) -> AsyncIterator[storage_pb2_grpc.TaskStoreServiceStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{storage_server.port}") as channel:
        yield storage_pb2_grpc.TaskStoreServiceStub(channel)


@pytest.fixture
def user(
    make_user: Callable[[], str], token_for: Callable[[str], str]
) -> tuple[str, list[tuple[str, str]]]:
    """A fresh user and the call metadata carrying their token."""
    user_id = make_user()
    return user_id, auth(token_for(user_id))


@pytest.fixture(scope="session")
def service_md(service_token: str) -> list[tuple[str, str]]:
    """Call metadata of the analysis service (service_role), which writes results."""
    return auth(service_token)
