"""Errors as the app sees them: Google's JSON error shape (AIP-193), and the gRPC -> HTTP mapping
of grpc-gateway (google/rpc/code.proto)."""

from __future__ import annotations

import logging
import re
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from skin.errors import error_info

logger = logging.getLogger(__name__)

HTTP_STATUS = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    # grpc-gateway says 400; a state conflict ("analysis not finished") is what 409 is for.
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}
STATUS_NAME = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED", 409: "FAILED_PRECONDITION", 413: "RESOURCE_EXHAUSTED",
    415: "INVALID_ARGUMENT", 422: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED",
    500: "INTERNAL", 501: "UNIMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}  # fmt: skip
DOMAIN = "gateway.skin-analysis"
# Where FastAPI found a bad value; the field's own name is what a client needs.
LOCATIONS = ("body", "path", "query", "header")
REALM = "skin-analysis"


class ApiError(Exception):
    """An error the gateway itself raises, with its HTTP status and ErrorInfo reason."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        retry_after: int | None = None,
        headers: dict[str, str] | None = None,
        **metadata: str,
    ) -> None:
        super().__init__(message)
        self.status, self.reason, self.message, self.metadata = status, reason, message, metadata
        self.headers = dict(headers or {})
        if retry_after:
            self.headers["retry-after"] = str(retry_after)
        if status == 401:
            self.headers.setdefault("www-authenticate", www_authenticate(message))


def www_authenticate(problem: str | None) -> str:
    """RFC 6750's challenge: the scheme and realm, and for a token that was sent but refused,
    error="invalid_token" with a description (quoted-string safe ASCII)."""
    challenge = f'Bearer realm="{REALM}"'
    if problem is None or problem.startswith("missing"):
        return challenge
    description = "".join(c for c in problem if " " <= c <= "~" and c not in '"\\')[:200]
    return f'{challenge}, error="invalid_token", error_description="{description}"'


# What a backend's own failure (no ErrorInfo: the channel, not the service, answered) is told
# as: the details would name internal addresses.
TRANSPORT_MESSAGES = {
    grpc.StatusCode.UNAVAILABLE: "a backend service is unavailable; try again shortly",
    grpc.StatusCode.DEADLINE_EXCEEDED: "a backend service did not answer in time; try again",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "a backend service is overloaded; try again shortly",
}


def error_body(
    status: int,
    message: str,
    reason: str,
    domain: str = DOMAIN,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "error": {
            "code": status,
            "status": STATUS_NAME.get(status, "UNKNOWN"),
            "message": message,
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": reason,
                    "domain": domain,
                    "metadata": metadata or {},
                }
            ],
        }
    }


def rpc_error_response(exc: grpc.aio.AioRpcError, request_id: str = "-") -> JSONResponse:
    status = HTTP_STATUS.get(exc.code(), 500)
    info = error_info(exc)
    if info is None:
        # The channel answered, not one of our services: its details name internal targets.
        logger.warning(
            "backend call failed: %s %s", exc.code().name, exc.details(),
            extra={"request_id": request_id},
        )  # fmt: skip
        message = TRANSPORT_MESSAGES.get(
            exc.code(), f"the request could not be completed (request id {request_id})"
        )
        body = error_body(status, message, exc.code().name)
    else:
        if status >= 500 and exc.code() not in TRANSPORT_MESSAGES:
            logger.error("backend error %s: %s", exc.code().name, exc.details())
        message = exc.details() or exc.code().name
        body = error_body(status, message, info.reason, info.domain, dict(info.metadata))
    body["error"]["status"] = exc.code().name
    headers = (
        {"www-authenticate": www_authenticate(body["error"]["message"])} if status == 401 else None
    )
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        body = error_body(exc.status, exc.message, exc.reason, metadata=exc.metadata)
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(grpc.aio.AioRpcError)
    async def _rpc_error(request: Request, exc: grpc.aio.AioRpcError) -> JSONResponse:
        return rpc_error_response(exc, _request_id(request))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            ".".join(str(part) for part in error["loc"] if part not in LOCATIONS)
            for error in exc.errors()
        ]
        message = "; ".join(
            f"{field}: {error['msg']}" for field, error in zip(fields, exc.errors(), strict=True)
        )
        body = error_body(
            400, message, "INVALID_FIELD", metadata={"field": fields[0], "fields": ",".join(fields)}
        )
        return JSONResponse(body, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        reason = {404: "ROUTE_NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(
            exc.status_code, "HTTP_ERROR"
        )
        headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() != "allow"}
        if exc.status_code == 405:
            # Starlette names only the first route that matched the path; list them all.
            headers["allow"] = ", ".join(_allowed_methods(request))
        return JSONResponse(
            error_body(exc.status_code, str(exc.detail), reason),
            status_code=exc.status_code,
            headers=headers,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Anything no handler above expected: logged with its traceback, answered in the same
        # JSON shape with the request id to quote, nothing internal in the body.
        request_id = _request_id(request)
        logger.error("unexpected error", exc_info=exc, extra={"request_id": request_id})
        message = f"internal error; quote request id {request_id} when reporting it"
        return JSONResponse(
            error_body(500, message, "INTERNAL_ERROR"),
            status_code=500,
            headers={"x-request-id": request_id},
        )


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on this path, read from the app's OpenAPI paths (the
    routes the app documents are the routes it has); GET implies HEAD, as Starlette serves."""
    table = getattr(request.app.state, "allowed_methods", None)
    if table is None:
        table = [
            (re.compile("^" + re.sub(r"\{[^/}]+\}", "[^/]+", path) + "$"), set(operations))
            for path, operations in request.app.openapi()["paths"].items()
        ]
        request.app.state.allowed_methods = table
    methods: set[str] = set()
    for pattern, operations in table:
        if pattern.match(request.url.path):
            methods |= {method.upper() for method in operations}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def _request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "-"))
