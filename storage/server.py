"""Builds and runs the storage gRPC server: migrate, connect as the login role, serve."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import grpc
import psycopg
from grpc_health.v1 import health
from sqlalchemy.engine import make_url
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_delay,
)

from skin.contracts import STORAGE_SERVICE
from skin.grpc_runtime import (
    ServiceInterceptor,
    add_health_and_reflection,
    run_until_signal,
    server_options,
    set_serving,
)
from skin.identity import build_verifier, signing_secret
from skin.retrying import backoff
from skin.storage.v1 import storage_pb2_grpc
from storage.database import (
    Database,
    derive_db_password,
    inspect_role,
    libpq_url,
    translate_db_error,
)
from storage.health import database_answers, follow_database
from storage.janitor import run_janitor
from storage.migrations import LoginRole, migrate
from storage.notifications import TaskEvents
from storage.servicer import TaskStoreServicer
from storage.settings import StorageSettings

logger = logging.getLogger(__name__)

ERROR_DOMAIN = "storage.skin-analysis"


@dataclass
class StorageServer:
    """A built server and what it owns; `stop()` releases all of it."""

    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    database: Database
    events: TaskEvents
    background: list[asyncio.Task[None]] = field(default_factory=list)

    async def stop(self, grace: float | None = None) -> None:
        await self.server.stop(grace)
        await self.close_resources()

    async def close_resources(self) -> None:
        for task in self.background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.events.stop()
        await self.database.dispose()


def serving_url(settings: StorageSettings) -> str:
    """Migrates when it may, and returns the URL that serves requests (README, "Configuration"):

    - DATABASE_ADMIN_URL set: it migrates, and DATABASE_URL is used exactly as given; its role
      (user and password from the URL) is created or updated as the login role.
    - DATABASE_URL names a role that may migrate (a superuser, or Supabase's `postgres`): it
      migrates, then serving logs in as STORAGE_DB_ROLE with STORAGE_DB_PASSWORD (or a password
      derived from the JWT secret, the same in every replica).
    - DATABASE_URL names a low-privilege role: used as it is, nothing migrated.
    Whatever serves must be neither a superuser nor BYPASSRLS."""
    if settings.database_url is None:
        raise ValueError("database_url must be set (serve() starts the embedded cluster)")
    if settings.database_admin_url:
        if not inspect_role(settings.database_admin_url).can_migrate:
            raise RuntimeError("DATABASE_ADMIN_URL names a role that may not create roles")
        given = make_url(settings.database_url)
        if not given.username:
            raise RuntimeError("DATABASE_URL must name the role storage serves as")
        migrate(settings.database_admin_url, LoginRole(given.username, given.password))
        url = libpq_url(settings.database_url)
    elif inspect_role(settings.database_url).can_migrate:
        password = settings.storage_db_password
        if not password:
            secret = signing_secret(settings)
            if not secret:
                raise RuntimeError("set STORAGE_DB_PASSWORD (no JWT secret to derive it from)")
            password = derive_db_password(secret)
        migrate(settings.database_url, LoginRole(settings.storage_db_role, password))
        url = libpq_url(settings.database_url, role=settings.storage_db_role, password=password)
    else:
        url = libpq_url(settings.database_url)
    serving = inspect_role(url)
    if serving.superuser or serving.bypassrls:
        raise RuntimeError(f"role {serving.name} bypasses row-level security; it may not serve")
    return url


async def _wait_for_database(settings: StorageSettings) -> str:
    """Migrates as soon as the database answers: storage may start before PostgreSQL does."""

    def note(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        logger.warning("database not reachable yet (%s); retrying", str(error).strip())

    retrying = AsyncRetrying(
        wait=backoff(),
        stop=stop_after_delay(settings.storage_startup_wait_seconds),
        retry=retry_if_exception_type(psycopg.OperationalError),
        before_sleep=note,
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await asyncio.to_thread(serving_url, settings)
    raise AssertionError("unreachable: tenacity returns or raises")


async def build_server(settings: StorageSettings) -> StorageServer:
    """Migrates, connects and binds `storage_host:storage_port` (0 picks a free port)."""
    url = await _wait_for_database(settings)
    database = Database(url, settings.storage_pool_size)
    await database.open()
    events = TaskEvents(url)
    events.start()
    interceptor = ServiceInterceptor(
        package="skin.storage.v1",
        domain=ERROR_DOMAIN,
        verifier=build_verifier(settings),
        max_call_seconds=settings.storage_max_call_seconds,
        translate=translate_db_error,
    )
    server = grpc.aio.server(
        interceptors=[interceptor],
        # WatchTask streams live as long as an analysis: they get as long again to end.
        options=server_options(
            8 * 1024 * 1024,
            settings.storage_max_connection_age_seconds,
            grace_seconds=settings.storage_max_connection_age_seconds,
        ),
    )
    servicer = TaskStoreServicer(database, events, local_users=settings.local_auth)
    storage_pb2_grpc.add_TaskStoreServiceServicer_to_server(servicer, server)
    health_servicer = add_health_and_reflection(server, [STORAGE_SERVICE])
    port = server.add_insecure_port(f"{settings.storage_host}:{settings.storage_port}")
    built = StorageServer(
        server=server, port=port, health=health_servicer, database=database, events=events
    )
    built.background.append(
        asyncio.create_task(
            run_janitor(
                database, settings.task_stale_after_seconds, settings.janitor_interval_seconds
            ),
            name="janitor",
        )
    )
    await server.start()
    if await database_answers(database):
        await set_serving(health_servicer, [STORAGE_SERVICE])
    built.background.append(
        asyncio.create_task(
            follow_database(
                database, health_servicer, [STORAGE_SERVICE], settings.health_check_interval_seconds
            ),
            name="database-health",
        )
    )
    return built


async def serve(settings: StorageSettings) -> None:
    """Runs until SIGTERM; with DATABASE_URL unset, on the embedded cluster under DATA_DIR."""
    cluster = None
    if settings.database_url is None:
        from storage.embedded_postgres import EmbeddedPostgres

        cluster = EmbeddedPostgres(settings.data_dir / "postgres", settings.embedded_pg_port)
        settings = settings.model_copy(
            update={"database_url": await asyncio.to_thread(cluster.start)}
        )
    try:
        built = await build_server(settings)
        logger.info("storage listening on port %d", built.port)
        await run_until_signal(
            built.server,
            built.health,
            settings.storage_grace_seconds,
            on_stop=built.close_resources,
        )
    finally:
        if cluster is not None:
            await asyncio.to_thread(cluster.stop)
