"""Builds and runs the analyzer gRPC server."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health

from analyzer.pipeline.limits import PHOTO_LIMITS
from analyzer.servicer import AnalyzerServicer
from analyzer.settings import AnalyzerSettings
from analyzer.workers import AnalysisPool
from skin.analyzer.v1 import analyzer_pb2_grpc
from skin.contracts import ANALYZER_SERVICE, MAX_ANALYSIS_CALL_SECONDS
from skin.grpc_runtime import (
    ServiceInterceptor,
    add_health_and_reflection,
    run_until_signal,
    server_options,
    set_serving,
)
from skin.identity import build_verifier

logger = logging.getLogger(__name__)

ERROR_DOMAIN = "analyzer.skin-analysis"
# The largest accepted photo plus room for the rest of the request; anything bigger is refused
# by gRPC itself before it is buffered whole.
MAX_RECEIVE_BYTES = PHOTO_LIMITS.max_bytes + 1024 * 1024


@dataclass
class AnalyzerServer:
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    pool: AnalysisPool

    async def stop(self, grace: float | None = None) -> None:
        await self.server.stop(grace)
        await asyncio.to_thread(self.pool.close)


async def build_server(settings: AnalyzerSettings) -> AnalyzerServer:
    pool = AnalysisPool(settings.analyzer_workers, settings.analyzer_max_concurrent)
    await pool.start()
    # Internal but not open: every call needs the service_role token (users reach analyses
    # only through the gateway, which holds it). Health and reflection stay open for probes.
    interceptor = ServiceInterceptor(
        package="skin.analyzer.v1",
        domain=ERROR_DOMAIN,
        verifier=build_verifier(settings),
        max_call_seconds=MAX_ANALYSIS_CALL_SECONDS,
        service_only=True,
    )
    server = grpc.aio.server(
        interceptors=[interceptor],
        # An analysis in flight when its connection ages out may take its whole deadline.
        options=server_options(
            MAX_RECEIVE_BYTES,
            settings.analyzer_max_connection_age_seconds,
            grace_seconds=MAX_ANALYSIS_CALL_SECONDS,
        ),
    )
    analyzer_pb2_grpc.add_AnalyzerServiceServicer_to_server(AnalyzerServicer(pool), server)
    health_servicer = add_health_and_reflection(server, [ANALYZER_SERVICE])
    port = server.add_insecure_port(f"{settings.analyzer_host}:{settings.analyzer_port}")
    await server.start()
    await set_serving(health_servicer, [ANALYZER_SERVICE])
    return AnalyzerServer(server=server, port=port, health=health_servicer, pool=pool)


async def serve(settings: AnalyzerSettings) -> None:
    built = await build_server(settings)
    logger.info(
        "analyzer listening on port %d with %d workers", built.port, settings.analyzer_workers
    )

    async def close_pool() -> None:
        await asyncio.to_thread(built.pool.close)

    await run_until_signal(
        built.server, built.health, settings.analyzer_grace_seconds, on_stop=close_pool
    )
