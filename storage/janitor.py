"""Fails tasks whose analysis was abandoned (a process died), so no task waits forever."""

from __future__ import annotations

import asyncio
import logging

from storage import repository
from storage.database import Database

logger = logging.getLogger(__name__)

STALE_ERROR = (
    "interrupted: analysis did not finish (the service restarted or lost the task); "
    "please submit the photo again"
)


async def fail_stale_tasks(database: Database, stale_after_seconds: float) -> int:
    count = await repository.fail_stale_tasks(
        database.as_service(), stale_after_seconds, STALE_ERROR
    )
    if count:
        logger.warning("failed %d stale task(s)", count)
    return count


async def run_janitor(database: Database, stale_after_seconds: float, interval: float) -> None:
    """Sweeps forever; a failed sweep (database down) is retried at the next interval."""
    while True:
        try:
            await fail_stale_tasks(database, stale_after_seconds)
        except Exception as exc:  # noqa: BLE001 - the sweep must outlive database outages
            logger.warning("janitor sweep failed: %s", exc)
        await asyncio.sleep(interval)
