"""Fixtures every test shares: a throwaway PostgreSQL cluster, signing keys, users and tokens."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from analyzer.server import AnalyzerServer
from analyzer.server import build_server as build_analyzer
from skin.identity import mint_token
from storage.embedded_postgres import EmbeddedPostgres, free_port
from storage.server import StorageServer
from storage.server import build_server as build_storage
from tests.servers import analyzer_settings, storage_settings


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """A privileged URL: TEST_DATABASE_URL when set, else a private cluster for this run."""
    if os.environ.get("TEST_DATABASE_URL"):
        yield os.environ["TEST_DATABASE_URL"]
        return
    directory = Path(tempfile.mkdtemp(prefix="skin-test-pg-"))
    cluster = EmbeddedPostgres(directory, free_port(), durable=False)
    try:
        yield cluster.start()
    finally:
        cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def jwt_secret() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture(scope="session")
def make_user(pg_admin_url: str) -> Callable[[], str]:
    """Creates a fresh auth.users row, as Supabase's sign-up would, and returns its id."""

    def create() -> str:
        user_id = str(uuid.uuid4())
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(
                "insert into auth.users (id, aud, role)"
                " values (%s, 'authenticated', 'authenticated')",
                (user_id,),
            )
        return user_id

    return create


@pytest.fixture(scope="session")
def token_for(jwt_secret: str) -> Callable[[str], str]:
    def mint(user_id: str) -> str:
        return mint_token(jwt_secret, user_id)

    return mint


@pytest.fixture(scope="session")
def service_token(jwt_secret: str) -> str:
    return mint_token(jwt_secret, None, role="service_role")


@pytest.fixture(scope="session")
async def storage_server(pg_admin_url: str, jwt_secret: str) -> AsyncIterator[StorageServer]:
    server = await build_storage(storage_settings(pg_admin_url, jwt_secret))
    yield server
    await server.stop(0)


@pytest.fixture(scope="session")
async def analyzer_server(jwt_secret: str) -> AsyncIterator[AnalyzerServer]:
    server = await build_analyzer(analyzer_settings(jwt_secret))
    yield server
    await server.stop(0)
