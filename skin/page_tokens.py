"""Page tokens of ListTasks and GET /tasks: "<created_at in microseconds since the Unix epoch>.
<task id as 32 hex digits>", naming the last task of a page. Every string of that shape is a
valid key (it asks for the tasks older than it), so the pattern, published in the API
description, is the whole contract: a client can check a token without asking."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from uuid import UUID

PAGE_TOKEN_PATTERN = r"[0-9]{1,17}\.[0-9a-f]{32}"
_PAGE_TOKEN = re.compile(PAGE_TOKEN_PATTERN)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def encode_page_token(created_at: datetime, task_id: UUID) -> str:
    micros = (created_at - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}.{task_id.hex}"


def decode_page_token(token: str) -> tuple[datetime, UUID]:
    """The (created_at, id) a token names; ValueError when it is not of the token's shape."""
    if not _PAGE_TOKEN.fullmatch(token):
        raise ValueError("not a page token")
    micros, task_hex = token.split(".")
    return _EPOCH + timedelta(microseconds=int(micros)), UUID(hex=task_hex)
