"""The project's one retry policy (skin/retrying.py) and the deadline loop built on it
(gateway/retry.py), on calls that fail as a real backend's would."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc.aio import AioRpcError, Metadata
from tenacity import RetryCallState

from gateway.retry import GaveUp, retry_until
from skin.retrying import FIRST_DELAY_SECONDS, MAX_DELAY_SECONDS, backoff

RETRYABLE = (grpc.StatusCode.UNAVAILABLE,)


def failure(code: grpc.StatusCode) -> AioRpcError:
    return AioRpcError(code, Metadata(), Metadata(), details=code.name)


def test_the_wait_is_jittered_under_a_capped_exponential():
    wait = backoff()
    for attempt in range(1, 12):
        state = RetryCallState(None, None, (), {})
        state.attempt_number = attempt
        ceiling = min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2 ** (attempt - 1))
        waits = [wait(state) for _ in range(200)]
        assert all(0 <= w <= ceiling for w in waits)
        assert max(waits) > 0.5 * ceiling  # spread over the range, not a fixed step


async def test_retryable_failures_are_retried_until_the_call_succeeds():
    calls: list[float] = []
    retried: list[grpc.StatusCode] = []

    async def call(left: float) -> str:
        calls.append(left)
        if len(calls) < 3:
            raise failure(grpc.StatusCode.UNAVAILABLE)
        return "done"

    deadline = asyncio.get_running_loop().time() + 30
    answer = await retry_until(deadline, call, RETRYABLE, lambda exc: retried.append(exc.code()))
    assert answer == "done" and len(calls) == 3
    assert retried == [grpc.StatusCode.UNAVAILABLE] * 2
    assert all(0 < left <= 30 for left in calls)  # each attempt is told the time left


async def test_another_failure_is_raised_at_once():
    calls = 0

    async def call(left: float) -> None:
        nonlocal calls
        calls += 1
        raise failure(grpc.StatusCode.PERMISSION_DENIED)

    deadline = asyncio.get_running_loop().time() + 30
    with pytest.raises(AioRpcError) as raised:
        await retry_until(deadline, call, RETRYABLE)
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED and calls == 1


async def test_a_retryable_failure_at_the_deadline_gives_up_before_it():
    loop = asyncio.get_running_loop()

    async def call(left: float) -> None:
        raise failure(grpc.StatusCode.UNAVAILABLE)

    started = loop.time()
    with pytest.raises(GaveUp) as gave_up:
        await retry_until(started + 1.0, call, RETRYABLE)
    assert gave_up.value.last.code() == grpc.StatusCode.UNAVAILABLE
    assert loop.time() - started < 1.0  # no wait runs past the deadline
