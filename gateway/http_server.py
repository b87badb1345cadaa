"""The HTTP server's protocol: uvicorn's httptools protocol with a deadline for the request head,
so a client that opens connections and sends headers slowly, or nothing at all (slowloris),
cannot hold them open; uvicorn itself only times out idle keep-alive connections."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def http_protocol(header_timeout_seconds: float) -> type[asyncio.Protocol]:
    """An HttpToolsProtocol that closes a connection whose request line and headers have not
    all arrived `header_timeout_seconds` after it opened, or after the request began."""

    class HeadDeadlineProtocol(HttpToolsProtocol):
        _head_deadline: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._head_deadline = self.loop.call_later(header_timeout_seconds, self._expire)

        def _disarm(self) -> None:
            if self._head_deadline is not None:
                self._head_deadline.cancel()
                self._head_deadline = None

        def _expire(self) -> None:
            self._head_deadline = None
            if not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeadDeadlineProtocol
