"""Storage's gRPC health follows its database: SERVING only while a query answers, so probes and
the gateway's readiness see a PostgreSQL outage instead of a process that merely runs."""

from __future__ import annotations

import asyncio
import logging

from grpc_health.v1 import health, health_pb2

from storage.database import Database

logger = logging.getLogger(__name__)

PROBE_TIMEOUT_SECONDS = 2.0


async def database_answers(database: Database) -> bool:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            async with database.pool.connection(timeout=PROBE_TIMEOUT_SECONDS) as conn:
                await conn.execute("select 1")
        return True
    except Exception:  # noqa: BLE001 - any failure means "not answering"
        return False


async def follow_database(
    database: Database,
    servicer: health.aio.HealthServicer,
    service_names: list[str],
    interval: float,
) -> None:
    """Probes the database every `interval` seconds and sets every service's status (and the
    server's, "") to match; logs each change."""
    serving: bool | None = None
    while True:
        answers = await database_answers(database)
        if answers != serving:
            status = (
                health_pb2.HealthCheckResponse.SERVING
                if answers
                else health_pb2.HealthCheckResponse.NOT_SERVING
            )
            for name in ["", *service_names]:
                await servicer.set(name, status)
            if serving is not None or not answers:
                log = logger.info if answers else logger.warning
                log("database %s: health is now %s", "back" if answers else "unreachable",
                    health_pb2.HealthCheckResponse.ServingStatus.Name(status))  # fmt: skip
            serving = answers
        await asyncio.sleep(interval)
