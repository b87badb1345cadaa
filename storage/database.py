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
from psycopg import AsyncConnection
from psycopg.rows import namedtuple_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from sqlalchemy.engine import make_url

from skin.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    PermissionDenied,
    ServiceError,
    Unavailable,
)
from skin.grpc_runtime import call_budget

SET_IDENTITY = (
    "select set_config('role', %(role)s, true) as role,"
    " set_config('request.jwt.claims', %(claims)s, true) as claims,"
    " set_config('statement_timeout', %(timeout)s, true) as statement_timeout"
)
ENSURE_LOCAL_USER = "select auth.ensure_local_user(%(user_id)s)"


def derive_db_password(jwt_secret: str) -> str:
    """The login role's password when STORAGE_DB_PASSWORD is unset: every replica that shares
    the JWT secret derives the same one."""
    return hmac.new(jwt_secret.encode(), b"skin-storage-db-password", hashlib.sha256).hexdigest()


def libpq_url(database_url: str, *, role: str | None = None, password: str | None = None) -> str:
    """`database_url` as libpq takes it (no `+driver`), optionally logged in as another role."""
    url = make_url(database_url).set(drivername="postgresql")
    if role is not None:
        url = url.set(username=role, password=password)
    return url.render_as_string(hide_password=False)


@dataclass(frozen=True)
class RoleFacts:
    """What the catalog says of the role a URL logs in as."""

    name: str
    can_migrate: bool
    superuser: bool
    bypassrls: bool


def inspect_role(database_url: str) -> RoleFacts:
    with psycopg.connect(libpq_url(database_url), connect_timeout=10) as conn:
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


USER_ROLE, SERVICE_ROLE = "authenticated", "service_role"
SERVICE_CLAIMS = json.dumps({"role": SERVICE_ROLE})


def service_claims(user_id: str) -> str:
    """The claims of a service transaction acting for `user_id` (for the record: service_role
    bypasses RLS, so the statements' own user_id filter is what scopes it)."""
    return json.dumps({"role": SERVICE_ROLE, "acting_for": user_id}, separators=(",", ":"))


class Database:
    """One connection pool per process, logged in as the low-privilege role."""

    def __init__(self, conninfo: str, pool_size: int) -> None:
        self.pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
            conninfo,
            min_size=pool_size,
            max_size=pool_size,
            timeout=5,
            max_lifetime=1800,
            open=False,
            kwargs={
                "connect_timeout": 5,
                "application_name": "skin-storage",
                "row_factory": namedtuple_row,
            },
        )

    async def open(self) -> None:
        # Do not wait for the connections: storage starts (and says UNAVAILABLE) while the
        # database is still coming up, and the pool fills in once it is there.
        await self.pool.open(wait=False)

    @asynccontextmanager
    async def acting(self, role: str, claims_json: str) -> AsyncIterator[AsyncConnection[Any]]:
        """A transaction as `role` with these JWT claims, committed on success: as
        `authenticated`, RLS sees the claims' `sub` as the caller."""
        async with self.pool.connection() as conn:
            await conn.execute(SET_IDENTITY, _identity(role, claims_json))
            yield conn

    @asynccontextmanager
    async def as_login_role(self) -> AsyncIterator[AsyncConnection[Any]]:
        """A transaction as the login role itself (no SET ROLE), for the project's private
        tables, which hold no user rows and no API role may use."""
        async with self.pool.connection() as conn:
            timeout_ms = max(1, int(call_budget.get() * 1000))
            await conn.execute(
                "select set_config('statement_timeout', %s, true)", (f"{timeout_ms}ms",)
            )
            yield conn

    def as_service(self) -> Any:
        """A transaction as service_role (BYPASSRLS), for the janitor only."""
        return self.acting(SERVICE_ROLE, SERVICE_CLAIMS)

    async def ensure_local_user(self, user_id: str) -> None:
        """Local mode: creates the auth.users row of a user seen for the first time."""
        async with self.pool.connection() as conn:
            await conn.execute(ENSURE_LOCAL_USER, {"user_id": user_id})

    async def dispose(self) -> None:
        await self.pool.close()


def _identity(role: str, claims_json: str) -> dict[str, str]:
    timeout_ms = max(1, int(call_budget.get() * 1000))
    return {"role": role, "claims": claims_json, "timeout": f"{timeout_ms}ms"}


def translate_db_error(exc: BaseException) -> ServiceError | None:
    """Maps database failures to statuses a caller can act on; None for unknown errors."""
    if isinstance(exc, PoolTimeout):
        return Unavailable(
            "no database connection could be had in time; try again",
            reason="DATABASE_UNAVAILABLE",
        )
    orig = exc
    if isinstance(orig, psycopg.errors.QueryCanceled):
        return DeadlineExceeded("the database did not answer within the call's deadline")
    if isinstance(orig, psycopg.errors.ForeignKeyViolation):
        return FailedPrecondition("the user does not exist", reason="USER_NOT_FOUND")
    if isinstance(orig, psycopg.errors.InsufficientPrivilege):
        return PermissionDenied("the database refused the change", reason="ROW_SECURITY")
    if isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError | OSError):
        return Unavailable("the database is unavailable; try again", reason="DATABASE_UNAVAILABLE")
    return None
