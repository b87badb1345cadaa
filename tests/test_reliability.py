"""A bounded slice of `make reliability`: the whole system as separate processes, with a
process killed, PostgreSQL stopped, a crowd of clients, and the decoder fuzzed. Every case
asserts the promise, not a timing: accepted tasks end, no 5xx where none is allowed."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from reliability import cases
from reliability.stack import Stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    workdir = Path(tempfile.mkdtemp(prefix="skin-test-reliability-"))
    running = Stack(workdir)
    try:
        running.start_all()
        yield running
    finally:
        running.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)


def test_decoder_fuzz_finds_no_crash() -> None:
    outcome = cases.decoder_fuzz(150)
    assert outcome.passed, outcome.detail


@pytest.mark.timeout(120)
async def test_a_user_past_the_event_stream_cap_gets_429(stack: Stack) -> None:
    outcome = await cases.stream_cap(stack, extra=2)
    assert outcome.passed, outcome.detail


@pytest.mark.timeout(300)
async def test_kill_9_of_storage_loses_no_task(stack: Stack) -> None:
    outcome = await cases.kill_nine(stack, "storage", users=3)
    assert outcome.passed, outcome.detail


@pytest.mark.timeout(300)
async def test_kill_9_of_the_analyzer_loses_no_task(stack: Stack) -> None:
    outcome = await cases.kill_nine(stack, "analyzer", users=3)
    assert outcome.passed, outcome.detail


@pytest.mark.timeout(300)
async def test_a_database_outage_loses_no_task(stack: Stack) -> None:
    outcome = await cases.database_outage(stack, 4, users=3)
    assert outcome.passed, outcome.detail


@pytest.mark.timeout(300)
async def test_a_crowd_on_every_route_gets_no_5xx(stack: Stack) -> None:
    outcome = await cases.crowd(stack, clients=12, seconds=6)
    assert outcome.passed, outcome.detail


@pytest.mark.timeout(300)
async def test_schemathesis_with_every_check_finds_no_failure(stack: Stack) -> None:
    outcome = await cases.contract(stack, max_examples=25, seconds=30)
    assert outcome.passed, outcome.detail


@pytest.mark.timeout(300)
async def test_analyses_follow_the_analyzers_as_they_scale() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="skin-test-scaling-"))
    try:
        outcome = await cases.load_balancing(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    assert outcome.passed, outcome.detail
