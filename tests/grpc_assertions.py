"""Helpers to assert on gRPC failures: the status code and the ErrorInfo reason."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2

from skin.errors import error_info


async def rpc_error(
    call: Awaitable[Any], code: grpc.StatusCode, reason: str | None = None
) -> error_details_pb2.ErrorInfo | None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    assert raised.value.code() == code, raised.value.details()
    info = error_info(raised.value)
    if reason is not None:
        assert info is not None and info.reason == reason, (info, raised.value.details())
    return info
