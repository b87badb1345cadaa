"""How many event streams each user holds open on this gateway replica: each one holds a
storage watch and a connection for as long as its task runs, so one user cannot take them all."""

from __future__ import annotations

from collections import Counter


class StreamLimiter:
    def __init__(self, per_user: int) -> None:
        self.per_user = per_user
        self._open: Counter[str] = Counter()

    def acquire(self, user_id: str) -> bool:
        """Takes a place for one more stream, or answers False at the cap."""
        if self._open[user_id] >= self.per_user:
            return False
        self._open[user_id] += 1
        return True

    def release(self, user_id: str) -> None:
        self._open[user_id] -= 1
        if self._open[user_id] <= 0:
            del self._open[user_id]

    def open_for(self, user_id: str) -> int:
        return self._open[user_id]
