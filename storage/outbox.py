"""SQL of the webhook outbox (skin_private.webhook_outbox), run as the login role itself: the
outbox holds no user's rows to scope, and the API roles have no rights there."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from storage.database import Session

ENQUEUE = (
    "insert into skin_private.webhook_outbox (message_id, event, user_id, body)"
    " values (%(message_id)s, %(event)s, %(user_id)s, %(body)s)"
    " on conflict (message_id) do nothing"
)
# Due, unleased (or lease run out) messages, oldest due first; SKIP LOCKED lets replicas claim
# side by side without waiting on each other.
CLAIM = """
    update skin_private.webhook_outbox o
       set leased_until = now() + make_interval(secs => %(lease)s), attempts = o.attempts + 1
     where o.message_id in (
           select message_id from skin_private.webhook_outbox
            where delivered_at is null and given_up_at is null and next_attempt_at <= now()
              and (leased_until is null or leased_until < now())
            order by next_attempt_at
            limit %(limit)s
              for update skip locked)
 returning o.message_id, o.body, o.attempts, o.created_at
"""
DELIVERED = (
    "update skin_private.webhook_outbox set delivered_at = now(), leased_until = null,"
    " last_error = null where message_id = %(message_id)s"
)
RETRY = (
    "update skin_private.webhook_outbox set leased_until = null, last_error = %(error)s,"
    " next_attempt_at = now() + make_interval(secs => %(after)s)"
    " where message_id = %(message_id)s"
)
GIVE_UP = (
    "update skin_private.webhook_outbox set leased_until = null, last_error = %(error)s,"
    " given_up_at = now() where message_id = %(message_id)s"
)


async def enqueue(session: Session, message_id: str, event: str, user_id: str, body: str) -> None:
    params = {"message_id": message_id, "event": event, "user_id": UUID(user_id), "body": body}
    await session.all(ENQUEUE, params)


async def claim(
    session: Session, limit: int, lease_seconds: int
) -> list[tuple[str, str, int, datetime]]:
    rows = await session.all(CLAIM, {"limit": limit, "lease": lease_seconds})
    return [tuple(row) for row in rows]


async def finish(
    session: Session, message_id: str, delivered: bool, error: str, retry_after: float
) -> None:
    params = {"message_id": message_id, "error": error[:2000], "after": retry_after}
    if delivered:
        await session.all(DELIVERED, params)
    elif retry_after > 0:
        await session.all(RETRY, params)
    else:
        await session.all(GIVE_UP, params)
