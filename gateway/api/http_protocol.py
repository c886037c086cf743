"""uvicorn's httptools protocol, writing each response's head and first body chunk in one send.

uvicorn writes the status line and headers to the socket when the app sends
``http.response.start``, and the body when it sends ``http.response.body``: two ``write`` system
calls, two TCP segments over loopback, two wake-ups of the client for a 200-byte answer. On the
check endpoints that is about half of the server's CPU time per request (profiled). This protocol
holds the head back and writes it together with the first body chunk, so a small response costs
one ``write``.

It changes nothing else: the cycle's transport is wrapped only while the head is pending, the
bytes are uvicorn's own, and a response whose body never comes (HEAD requests, where uvicorn
writes no body; an app that fails between the two messages and gets the connection closed) is
not held: HEAD requests are not wrapped at all, and closing the connection discards the
unfinished head as uvicorn would have left it unfinished. ``100 Continue`` interim answers are
written at once (they are not the response's head).

Pass the class to uvicorn as ``http=`` (:mod:`gateway.cli.serve` does).
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

__all__ = ["CoalescingHttpToolsProtocol"]

_INTERIM = b"HTTP/1.1 1"  # 1xx interim answers (100 Continue) are written as they come


class _HeldHead:
    """A transport proxy for one request cycle: the first response bytes wait for the next write."""

    __slots__ = ("_held", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._pending = True  # the head has not been seen yet
        self._held = b""

    def write(self, data: bytes) -> None:
        if self._pending and not data.startswith(_INTERIM):
            self._pending = False
            self._held = data
            return
        if self._held:
            data, self._held = self._held + data, b""
        self._transport.write(data)

    def close(self) -> None:
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """:class:`HttpToolsProtocol` whose responses are written head and body together."""

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        if cycle.scope["method"] != "HEAD":
            cycle.transport = cast(asyncio.Transport, _HeldHead(cycle.transport))
        super()._start_asgi_task(cycle, app)
