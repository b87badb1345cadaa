"""Retrying a backend call until a deadline, with the project's one retry policy
(skin/retrying.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
from tenacity import AsyncRetrying, RetryCallState, RetryError, retry_if_exception

from skin.retrying import backoff

T = TypeVar("T")


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
    """`call(seconds_left)` until it succeeds; a retryable failure is retried while the next
    wait ends before `deadline` (the loop's clock), any other failure is raised as it is, and a
    retryable one at the deadline becomes GaveUp."""
    loop = asyncio.get_running_loop()

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None:
            error = state.outcome.exception()
            assert isinstance(error, grpc.aio.AioRpcError)
            on_retry(error)

    retrying = AsyncRetrying(
        wait=backoff(),
        stop=lambda state: loop.time() + state.upcoming_sleep >= deadline,
        retry=retry_if_exception(
            lambda exc: isinstance(exc, grpc.aio.AioRpcError) and exc.code() in retryable
        ),
        before_sleep=before_sleep,
    )
    try:
        async for attempt in retrying:
            with attempt:
                return await call(max(deadline - loop.time(), 0.001))
    except RetryError as exc:
        last = exc.last_attempt.exception()
        assert isinstance(last, grpc.aio.AioRpcError)
        raise GaveUp(last) from last
    raise AssertionError("unreachable: tenacity returns or raises")
