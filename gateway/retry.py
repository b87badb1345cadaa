"""Retrying a backend call until a deadline, with capped exponential backoff and full jitter
(so many gateways retrying after one outage do not return in step)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc

T = TypeVar("T")

FIRST_DELAY_SECONDS = 0.2
MAX_DELAY_SECONDS = 5.0


class GaveUp(Exception):
    """The call kept failing with a retryable status until its deadline; `last` is why."""

    def __init__(self, last: grpc.aio.AioRpcError) -> None:
        super().__init__(last.details())
        self.last = last


async def retry_until(
    deadline: float,
    call: Callable[[float], Awaitable[T]],
    retryable: tuple[grpc.StatusCode, ...],
    on_retry: Callable[[grpc.aio.AioRpcError], None] | None = None,
) -> T:
    """`call(seconds_left)` until it succeeds; a retryable failure is retried while the loop's
    clock is before `deadline`, any other failure is raised as it is, and a retryable one at the
    deadline becomes GaveUp."""
    loop = asyncio.get_running_loop()
    attempt = 0
    while True:
        left = deadline - loop.time()
        try:
            return await call(max(left, 0.001))
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in retryable:
                raise
            delay = random.uniform(0, min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2**attempt))
            if loop.time() + delay >= deadline:
                raise GaveUp(exc) from exc
            if on_retry is not None:
                on_retry(exc)
            attempt += 1
            await asyncio.sleep(delay)
