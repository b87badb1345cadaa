"""Errors as the app sees them: Google's JSON error shape (AIP-193), and the gRPC -> HTTP mapping
of grpc-gateway (google/rpc/code.proto)."""

from __future__ import annotations

import logging
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


class ApiError(Exception):
    """An error the gateway itself raises, with its HTTP status and ErrorInfo reason."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        retry_after: int | None = None,
        **metadata: str,
    ) -> None:
        super().__init__(message)
        self.status, self.reason, self.message, self.metadata = status, reason, message, metadata
        self.headers = {"retry-after": str(retry_after)} if retry_after else None


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


def rpc_error_response(exc: grpc.aio.AioRpcError) -> JSONResponse:
    status = HTTP_STATUS.get(exc.code(), 500)
    info = error_info(exc)
    if status >= 500 and exc.code() not in (
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
    ):
        logger.error("backend error %s: %s", exc.code().name, exc.details())
    reason = info.reason if info else exc.code().name
    domain = info.domain if info else DOMAIN
    metadata = dict(info.metadata) if info else {}
    body = error_body(status, exc.details() or exc.code().name, reason, domain, metadata)
    body["error"]["status"] = exc.code().name
    return JSONResponse(body, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        body = error_body(exc.status, exc.message, exc.reason, metadata=exc.metadata)
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(grpc.aio.AioRpcError)
    async def _rpc_error(request: Request, exc: grpc.aio.AioRpcError) -> JSONResponse:
        return rpc_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            ".".join(str(part) for part in error["loc"] if part != "body") for error in exc.errors()
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
        return JSONResponse(
            error_body(exc.status_code, str(exc.detail), reason), status_code=exc.status_code
        )
