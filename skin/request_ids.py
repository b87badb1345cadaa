"""Request ids: the caller's when it is a safe token, else a new one.

A client's X-Request-Id is echoed in responses, logs and gRPC metadata; a tab, a non-ASCII
character or 16 KB of it broke each of those (a 500, or gRPC's "metadata size exceeds hard
limit"). Only a short token of safe characters is kept.
"""

from __future__ import annotations

import re
import uuid

_SAFE = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


def request_id_from(value: str | None) -> str:
    """`value` when it is 1-128 characters of letters, digits and ._:@/+=-; else a new id."""
    if value and _SAFE.fullmatch(value):
        return value
    return uuid.uuid4().hex
