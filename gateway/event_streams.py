"""How many event streams each user holds open on this gateway replica: each one holds a
storage watch and a connection for as long as its task runs, so one user cannot take them all."""

from __future__ import annotations

from collections import Counter

from gateway.reservations import Reservation


class StreamLimiter:
    def __init__(self, per_user: int) -> None:
        self.per_user = per_user
        self._open: Counter[str] = Counter()

    def acquire(self, user_id: str) -> Reservation | None:
        """A place for one more stream (a stream can end on several paths; its release counts
        once), or None at the cap."""
        if self._open[user_id] >= self.per_user:
            return None
        self._open[user_id] += 1
        return Reservation(lambda: self._give_back(user_id))

    def _give_back(self, user_id: str) -> None:
        self._open[user_id] -= 1
        if self._open[user_id] <= 0:
            del self._open[user_id]
