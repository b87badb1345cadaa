"""gRPC server plumbing shared by the services: one interceptor for identity, deadlines and
error mapping; health and reflection; and a serve loop that drains on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextvars import ContextVar
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from skin.errors import DeadlineExceeded, PermissionDenied, ServiceError, Unauthenticated, abort
from skin.identity import Caller, InvalidTokenError, TokenVerifier, bearer_token
from skin.request_ids import request_id_from

logger = logging.getLogger(__name__)

current_caller: ContextVar[Caller] = ContextVar("current_caller")
request_id: ContextVar[str] = ContextVar("request_id", default="-")
# Seconds the current call may still spend, after the server's cap; read by the database layer.
call_budget: ContextVar[float] = ContextVar("call_budget", default=10.0)

Translate = Callable[[BaseException], ServiceError | None]


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    """Wraps every method of the services under `package`: authenticates the caller, caps the
    deadline, and turns domain and infrastructure errors into statuses with ErrorInfo.
    Health and reflection are left alone so probes need no token."""

    def __init__(
        self,
        package: str,
        domain: str,
        verifier: TokenVerifier | None,
        max_call_seconds: float,
        translate: Translate | None = None,
        service_only: bool = False,
    ) -> None:
        self._prefix = f"/{package}."
        self._service_only = service_only
        self._domain = domain
        self._verifier = verifier
        self._cap = max_call_seconds
        self._translate = translate or (lambda _exc: None)
        # The wrapped handler of each method, built on its first call and reused.
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or not method.startswith(self._prefix):
            return handler
        wrapped = self._wrapped.get(method)
        if wrapped is None:
            wrapped = self._wrapped[method] = self._wrap(method, handler)
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(method, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(method, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    async def _enter(self, context: grpc.aio.ServicerContext) -> None:
        metadata = dict(context.invocation_metadata() or ())
        raw_id = metadata.get("x-request-id")
        request_id.set(request_id_from(raw_id if isinstance(raw_id, str) else None))
        remaining = context.time_remaining()
        call_budget.set(min(self._cap, remaining) if remaining is not None else self._cap)
        if self._verifier is None:
            return
        try:
            token = bearer_token(metadata.get("authorization"))
            if self._verifier.needs_network(token):
                caller = await asyncio.to_thread(self._verifier.verify, token)
            else:
                caller = self._verifier.verify(token)
        except InvalidTokenError as exc:
            raise Unauthenticated(str(exc), reason="INVALID_TOKEN") from exc
        if self._service_only and not caller.is_service:
            raise PermissionDenied(
                "this service is internal: it takes the service_role token only",
                reason="SERVICE_ROLE_REQUIRED",
            )
        current_caller.set(caller)

    async def _fail(
        self, context: grpc.aio.ServicerContext, method: str, exc: BaseException
    ) -> None:
        error = exc if isinstance(exc, ServiceError) else self._translate(exc)
        if isinstance(exc, TimeoutError) and error is None:
            error = DeadlineExceeded("the call took longer than the server allows")
        if error is None:
            logger.exception(
                "unexpected error in %s", method, extra={"request_id": request_id.get()}
            )
            error = ServiceError(f"internal error (request id {request_id.get()})")
        elif error.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            logger.warning("%s failed: %s", method, error.message)
        await abort(context, error, self._domain)

    def _wrap_unary(
        self, method: str, behavior: Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
    ) -> Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]:
        async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            try:
                await self._enter(context)
                async with asyncio.timeout(call_budget.get()):
                    return await behavior(request, context)
            except (asyncio.CancelledError, grpc.aio.AbortError):
                raise
            except Exception as exc:  # noqa: BLE001 - every failure becomes a status here
                await self._fail(context, method, exc)
            finally:
                logger.debug("%s done in %.1f ms", method, 1e3 * (time.perf_counter() - started))

        return unary

    def _wrap_stream(
        self,
        method: str,
        behavior: Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]],
    ) -> Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]:
        async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            try:
                await self._enter(context)
                async for item in behavior(request, context):
                    yield item
            except (asyncio.CancelledError, grpc.aio.AbortError):
                raise
            except Exception as exc:  # noqa: BLE001 - every failure becomes a status here
                await self._fail(context, method, exc)

        return stream


def server_options(
    max_receive_bytes: int, max_connection_age_seconds: float, grace_seconds: float
) -> list[tuple[str, int]]:
    """Options every server shares.

    - A maximum connection age: clients of a headless Service or a DNS name that lists every
      replica (round_robin) resolve again when a connection ends, so replicas added later
      get work; gRPC adds ±10 % jitter so the clients do not reconnect at once. Calls in flight
      get `grace_seconds` to finish.
    - Keepalive pings from idle clients (the gateway pings every 30 s) are welcome; by default
      a server answers pings more often than every 5 minutes with GOAWAY "too_many_pings".
    """
    return [
        ("grpc.max_receive_message_length", max_receive_bytes),
        ("grpc.max_connection_age_ms", int(max_connection_age_seconds * 1000)),
        ("grpc.max_connection_age_grace_ms", int(grace_seconds * 1000)),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
        ("grpc.http2.max_ping_strikes", 0),
    ]


def add_health_and_reflection(
    server: grpc.aio.Server, service_names: Iterable[str]
) -> health.aio.HealthServicer:
    """Registers grpc.health.v1 (one status per service, plus "") and server reflection."""
    names = list(service_names)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [
            *names,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ],
        server,
    )
    return health_servicer


async def set_serving(health_servicer: health.aio.HealthServicer, names: Iterable[str]) -> None:
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)


async def run_until_signal(
    server: grpc.aio.Server,
    health_servicer: health.aio.HealthServicer,
    grace_seconds: float,
    on_stop: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Serves until SIGTERM or SIGINT, then reports NOT_SERVING, stops accepting calls and lets
    the calls in flight finish within the grace period."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    logger.info("stopping: draining calls for up to %.0f s", grace_seconds)
    await health_servicer.enter_graceful_shutdown()
    await server.stop(grace_seconds)
    if on_stop is not None:
        await on_stop()
