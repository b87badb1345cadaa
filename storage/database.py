"""Connections: which role serves requests, the pooled engine, and per-transaction identity.

Every transaction that touches the table starts with one statement that sets, transaction-locally
as PostgREST does, the request role, the JWT claims auth.uid() reads and a statement timeout from
the call's remaining deadline. Nothing is set at session level, so a pooled connection carries
nothing from one request to the next.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from skin.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    PermissionDenied,
    ServiceError,
    Unavailable,
)
from skin.grpc_runtime import call_budget

SET_IDENTITY = text(
    "select set_config('role', :role, true),"
    " set_config('request.jwt.claims', :claims, true),"
    " set_config('statement_timeout', :timeout, true)"
)
ENSURE_LOCAL_USER = text("select auth.ensure_local_user(:user_id)")


def derive_db_password(jwt_secret: str) -> str:
    """The login role's password when STORAGE_DB_PASSWORD is unset: every replica that shares
    the JWT secret derives the same one."""
    return hmac.new(jwt_secret.encode(), b"skin-storage-db-password", hashlib.sha256).hexdigest()


def login_url(database_url: str, role: str, password: str) -> URL:
    """The same server and database as `database_url`, logged in as the service's role."""
    return make_url(database_url).set(
        drivername="postgresql+psycopg", username=role, password=password
    )


def as_sqlalchemy_url(database_url: str) -> URL:
    return make_url(database_url).set(drivername="postgresql+psycopg")


def as_libpq_url(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(frozen=True)
class RoleFacts:
    """What the catalog says of the role a URL logs in as."""

    name: str
    can_migrate: bool
    superuser: bool
    bypassrls: bool


def inspect_role(database_url: str) -> RoleFacts:
    with psycopg.connect(as_libpq_url(make_url(database_url)), connect_timeout=10) as conn:
        row = conn.execute(
            "select rolname, rolsuper or rolcreaterole, rolsuper, rolbypassrls"
            " from pg_roles where rolname = current_user"
        ).fetchone()
    assert row is not None
    return RoleFacts(name=row[0], can_migrate=row[1], superuser=row[2], bypassrls=row[3])


def claims_for_user(user_id: str, token_claims: dict[str, Any] | None) -> str:
    """The claims a user's transaction carries: the verified token's own claims, or, when a
    service acts for the user, claims naming that user with the authenticated role."""
    if token_claims and token_claims.get("sub") == user_id:
        return json.dumps(token_claims, separators=(",", ":"))
    claims = {"sub": user_id, "role": "authenticated", "aud": "authenticated", "on_behalf": True}
    return json.dumps(claims, separators=(",", ":"))


SERVICE_CLAIMS = json.dumps({"role": "service_role"})


class Database:
    """One pooled engine per process, logged in as the low-privilege role."""

    def __init__(self, url: URL, pool_size: int) -> None:
        self.url = url
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=5,
            pool_recycle=1800,
            connect_args={"connect_timeout": 5, "application_name": "skin-storage"},
        )

    @asynccontextmanager
    async def as_user(self, user_id: str, claims_json: str) -> AsyncIterator[AsyncConnection]:
        """A transaction in which RLS sees `user_id` as the caller."""
        async with self.engine.begin() as conn:
            await conn.execute(SET_IDENTITY, _identity("authenticated", claims_json))
            yield conn

    @asynccontextmanager
    async def as_service(self) -> AsyncIterator[AsyncConnection]:
        """A transaction as service_role (BYPASSRLS), for the janitor only."""
        async with self.engine.begin() as conn:
            await conn.execute(SET_IDENTITY, _identity("service_role", SERVICE_CLAIMS))
            yield conn

    async def ensure_local_user(self, user_id: str) -> None:
        """Local mode: creates the auth.users row of a user seen for the first time."""
        async with self.engine.begin() as conn:
            await conn.execute(ENSURE_LOCAL_USER, {"user_id": user_id})

    async def dispose(self) -> None:
        await self.engine.dispose()


def _identity(role: str, claims_json: str) -> dict[str, str]:
    timeout_ms = max(1, int(call_budget.get() * 1000))
    return {"role": role, "claims": claims_json, "timeout": f"{timeout_ms}ms"}


def translate_db_error(exc: BaseException) -> ServiceError | None:
    """Maps database failures to statuses a caller can act on; None for unknown errors."""
    if isinstance(exc, PoolTimeoutError):
        return Unavailable("storage is overloaded: no database connection was free in time")
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(orig, psycopg.errors.QueryCanceled):
        return DeadlineExceeded("the database did not answer within the call's deadline")
    if isinstance(orig, psycopg.errors.ForeignKeyViolation):
        return FailedPrecondition("the user does not exist", reason="USER_NOT_FOUND")
    if isinstance(orig, psycopg.errors.InsufficientPrivilege):
        return PermissionDenied("the database refused the change", reason="ROW_SECURITY")
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return Unavailable("the database is unavailable; try again", reason="DATABASE_UNAVAILABLE")
    if isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError | OSError):
        return Unavailable("the database is unavailable; try again", reason="DATABASE_UNAVAILABLE")
    return None
