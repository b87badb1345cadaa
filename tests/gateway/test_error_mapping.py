"""gRPC status -> HTTP status, as grpc-gateway maps them (google/rpc/code.proto), one exception."""

from __future__ import annotations

import grpc

from gateway.errors import HTTP_STATUS


def test_every_grpc_code_has_an_http_status():
    assert set(HTTP_STATUS) == set(grpc.StatusCode)


def test_mapping_follows_grpc_gateway():
    expected = {
        "INVALID_ARGUMENT": 400, "UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403, "NOT_FOUND": 404,
        "ALREADY_EXISTS": 409, "ABORTED": 409, "RESOURCE_EXHAUSTED": 429, "UNAVAILABLE": 503,
        "DEADLINE_EXCEEDED": 504, "OUT_OF_RANGE": 400, "UNIMPLEMENTED": 501, "INTERNAL": 500,
        "UNKNOWN": 500, "DATA_LOSS": 500, "CANCELLED": 499, "OK": 200,
        # grpc-gateway: 400; here 409, a conflict with the task's state (the README says why).
        "FAILED_PRECONDITION": 409,
    }  # fmt: skip
    assert {code.name: status for code, status in HTTP_STATUS.items()} == expected
