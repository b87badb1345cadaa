"""Operations: liveness, readiness (storage's health over grpc.health; the analyzer's is
reported beside it), metrics."""

from __future__ import annotations

import asyncio

import grpc
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.deps import BackendsDep
from gateway.metrics import metrics_response
from gateway.models import Health
from skin.contracts import ANALYZER_SERVICE, STORAGE_SERVICE

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


async def _check(channel: grpc.aio.Channel, service: str) -> str:
    try:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=2
        )
    except grpc.aio.AioRpcError as exc:
        return exc.code().name
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(backends: BackendsDep) -> Response:
    """Ready when storage reports SERVING (it does only while its database answers). The
    analyzer's health is reported but does not decide: reads need only storage, and new tasks
    wait for a busy or absent analyzer within their deadline."""
    storage, analyzer = await asyncio.gather(
        _check(backends.storage_channel, STORAGE_SERVICE),
        _check(backends.analyzer_channel, ANALYZER_SERVICE),
    )
    ready = storage == "SERVING"
    body = Health(
        status="ok" if ready else "unavailable", checks={"storage": storage, "analyzer": analyzer}
    )
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    return metrics_response()
