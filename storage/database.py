"""Connections: which role serves requests, the pooled engine, and per-transaction identity.

Every transaction that touches the table starts with one statement that sets, transaction-locally
as PostgREST does, the request role, the JWT claims auth.uid() reads and a statement timeout from
the call's remaining deadline. Nothing is set at session level, so a pooled connection carries
nothing from one request to the next.

That statement and the call's own travel in one simple-protocol message: PostgreSQL runs the
statements of one message as one implicit transaction, so a call costs one round trip, with no
BEGIN or COMMIT of its own. Values are bound client-side by psycopg's escaping (ClientCursor).
Measured against BEGIN, identity, statement, COMMIT on server-side prepared statements: 0.27
instead of 0.6 ms of this process's CPU per GetTask (docs/performance.md). It also suits
transaction-mode poolers such as Supavisor, which do not keep prepared statements.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import psycopg
from psycopg import AsyncConnection, AsyncCursor
from psycopg.pq import ExecStatus
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

# The parameter names start with an underscore so they cannot meet a statement's own.
SET_IDENTITY = (
    "select set_config('role', %(_role)s, true) as role,"
    " set_config('request.jwt.claims', %(_claims)s, true) as claims,"
    " set_config('statement_timeout', %(_timeout)s, true) as statement_timeout"
)
SET_TIMEOUT = "select set_config('statement_timeout', %(_timeout)s, true) as statement_timeout"
TUPLES_OK = ExecStatus.TUPLES_OK
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


Row = Any
# Each prefix joined to each statement once: the joined text is what psycopg sends.
_JOINED: dict[tuple[str, str], str] = {}
# The cursor each pooled connection reuses; it goes when its connection does.
_CURSORS: WeakKeyDictionary[AsyncConnection[Any], AsyncCursor[Any]] = WeakKeyDictionary()


class Session:
    """Statements run as one identity, each in its own implicit transaction, one round trip
    each: the prefix (identity and timeout) and the statement go in one message."""

    def __init__(self, pool: AsyncConnectionPool[Any], prefix: str, values: dict[str, str]) -> None:
        self._pool = pool
        self._prefix = prefix
        self._values = values

    async def all(self, sql: str, params: dict[str, Any]) -> list[Row]:
        """The statement's rows ([] for a statement that returns none)."""
        joined = _JOINED.get((self._prefix, sql))
        if joined is None:
            joined = _JOINED[(self._prefix, sql)] = f"{self._prefix};\n{sql}"
        timeout_ms = max(1, int(call_budget.get() * 1000))
        values = {**params, **self._values, "_timeout": f"{timeout_ms}ms"}
        # getconn/putconn rather than pool.connection(): the latter also enters the connection's
        # own context, a commit check that autocommit makes pointless. Each connection keeps
        # one cursor. Together about 0.1 ms of CPU per call (docs/performance.md).
        conn = await self._pool.getconn()
        try:
            cursor = _CURSORS.get(conn)
            if cursor is None:
                cursor = _CURSORS[conn] = conn.cursor()
            await cursor.execute(joined, values)
            cursor.nextset()
            # The result's status, not cursor.description, which builds a Column per field.
            if cursor.pgresult is None or cursor.pgresult.status != TUPLES_OK:
                return []
            return await cursor.fetchall()
        finally:
            await self._pool.putconn(conn)

    async def one(self, sql: str, params: dict[str, Any]) -> Row | None:
        rows = await self.all(sql, params)
        return rows[0] if rows else None


class Database:
    """One connection pool per process, logged in as the low-privilege role. Its connections
    are in autocommit mode: every call is one message and one implicit transaction (Session)."""

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
                "autocommit": True,
                "cursor_factory": psycopg.AsyncClientCursor,
            },
        )

    async def open(self) -> None:
        # Do not wait for the connections: storage starts (and says UNAVAILABLE) while the
        # database is still coming up, and the pool fills in once it is there.
        await self.pool.open(wait=False)

    def acting(self, role: str, claims_json: str) -> Session:
        """Statements as `role` with these JWT claims: as `authenticated`, RLS sees the
        claims' `sub` as the caller."""
        return Session(self.pool, SET_IDENTITY, {"_role": role, "_claims": claims_json})

    def as_login_role(self) -> Session:
        """Statements as the login role itself (no SET ROLE), for the project's private
        tables, which hold no user rows and no API role may use."""
        return Session(self.pool, SET_TIMEOUT, {})

    def as_service(self) -> Session:
        """Statements as service_role (BYPASSRLS), for the janitor only."""
        return self.acting(SERVICE_ROLE, SERVICE_CLAIMS)

    async def ensure_local_user(self, user_id: str) -> None:
        """Local mode: creates the auth.users row of a user seen for the first time."""
        async with self.pool.connection() as conn:
            await conn.execute(ENSURE_LOCAL_USER, {"user_id": user_id})

    async def dispose(self) -> None:
        await self.pool.close()


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
