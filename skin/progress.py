"""What a progress event may hold, checked where one is published and again where one is relayed
(any database session can NOTIFY the channel, so a relayed payload is untrusted input)."""

from __future__ import annotations

import math
from typing import Any

from skin.contracts import STAGE_NAMES
from skin.identity import parse_uuid

STAGES = frozenset(STAGE_NAMES.values())
MAX_MESSAGE_CHARS = 200


def progress_problem(stage: object, fraction: object, message: object) -> tuple[str, str] | None:
    """(field, what is wrong) when these are not a valid progress event, else None."""
    if stage not in STAGES:
        return "stage", f"must be one of {', '.join(sorted(STAGES))}"
    if (
        not isinstance(fraction, int | float)
        or isinstance(fraction, bool)
        or not math.isfinite(fraction)
        or not 0.0 <= fraction <= 1.0
    ):
        return "fraction", "must be a number from 0 to 1"
    if not isinstance(message, str) or len(message) > MAX_MESSAGE_CHARS:
        return "message", f"must be text of at most {MAX_MESSAGE_CHARS} characters"
    if not message.isprintable():
        return "message", "must be printable text"
    return None


def relayable_event(event: Any) -> dict[str, Any] | None:
    """A notification payload made safe to relay to watchers, or None to drop it: a `change`
    only names a task (watchers re-read it under their own identity); a `progress` must be a
    valid progress event, and only its known fields pass."""
    if not isinstance(event, dict):
        return None
    raw_id = event.get("task_id")
    task_id = parse_uuid(raw_id) if isinstance(raw_id, str) else None
    if task_id is None:
        return None
    kind = event.get("kind")
    if kind == "change":
        return {"kind": "change", "task_id": task_id}
    if kind == "progress":
        stage, fraction, message = event.get("stage"), event.get("fraction"), event.get("message")
        if progress_problem(stage, fraction, message) is not None:
            return None
        return {
            "kind": "progress",
            "task_id": task_id,
            "stage": stage,
            "fraction": float(fraction),  # type: ignore[arg-type]
            "message": message,
        }
    return None
