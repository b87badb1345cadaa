"""The progress relay: first event at once, then the latest only, at most one per interval."""

from __future__ import annotations

import asyncio

from gateway.progress_relay import ProgressRelay


async def test_first_event_goes_at_once_then_latest_wins():
    sent: list[tuple[float, int]] = []
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def publish(event: int) -> None:
        sent.append((loop.time() - started, event))

    relay = ProgressRelay(publish, min_interval=0.2)
    for event in range(1, 6):  # five stages 20 ms apart: faster than the interval
        relay.offer(event)
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)
    await relay.close()
    assert [event for _, event in sent] == [1, 5]
    assert sent[0][0] < 0.05  # not held back
    assert sent[1][0] >= 0.2  # the interval held


async def test_events_slower_than_the_interval_all_go():
    sent: list[int] = []

    async def publish(event: int) -> None:
        sent.append(event)

    relay = ProgressRelay(publish, min_interval=0.02)
    for event in range(4):
        relay.offer(event)
        await asyncio.sleep(0.05)
    await relay.close()
    assert sent == [0, 1, 2, 3]


async def test_a_slow_publish_is_not_queued_behind():
    sent: list[int] = []

    async def publish(event: int) -> None:
        await asyncio.sleep(0.1)  # storage is slow: one call in flight at a time
        sent.append(event)

    relay = ProgressRelay(publish, min_interval=0.0)
    for event in range(10):
        relay.offer(event)
        await asyncio.sleep(0.015)
    await asyncio.sleep(0.25)
    await relay.close()
    assert sent[0] == 0 and sent[-1] == 9
    assert len(sent) <= 3


async def test_close_drops_what_waits():
    sent: list[int] = []

    async def publish(event: int) -> None:
        sent.append(event)

    relay = ProgressRelay(publish, min_interval=10)
    relay.offer(1)
    await asyncio.sleep(0.01)
    relay.offer(2)
    await relay.close()
    assert sent == [1]
