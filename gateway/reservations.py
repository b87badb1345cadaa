"""A place taken from a bounded pool (a photo awaiting analysis, an open event stream), given
back exactly once on whichever path ends its use."""

from __future__ import annotations

from collections.abc import Callable


class Reservation:
    """One place from a pool. For a photo awaiting analysis it is taken before the upload is
    read, and released on every path: by the task it is handed to when that ends, else by
    `release()` (a refused or duplicate upload). `release()` is safe to call more than once."""

    def __init__(self, on_release: Callable[[], None]) -> None:
        self._on_release: Callable[[], None] | None = on_release

    def release(self) -> None:
        on_release = self._on_release
        self._on_release = None
        if on_release is not None:
            on_release()

    def hand_over(self) -> Callable[[], None]:
        """The release, now the task's to call when it ends."""
        on_release = self._on_release
        assert on_release is not None, "a reservation is used once"
        self._on_release = None
        return on_release
