"""The serving protocol writes a response's head and body in one transport write (uvicorn's own bytes)."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from gateway.api.http_protocol import CoalescingHttpToolsProtocol


class RecordingTransport(asyncio.Transport):
    """A transport that keeps every write (a list entry per ``write`` call)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "http"
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    answer = b'{"echo":%d}' % len(body)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(answer))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


def serve(protocol_class: type[HttpToolsProtocol], *requests: bytes) -> list[bytes]:
    """Feed ``requests`` (one after the other) to a protocol; the transport's writes."""

    async def run() -> list[bytes]:
        config = Config(app, http=protocol_class, log_level="warning")
        config.load()
        state = ServerState()
        state.default_headers = [(b"server", b"test")]
        protocol = protocol_class(config=config, server_state=state, app_state={})
        transport = RecordingTransport()
        protocol.connection_made(transport)
        for request in requests:
            protocol.data_received(request)
            for _ in range(50):
                await asyncio.sleep(0)
                if not state.tasks:
                    break
        protocol.connection_lost(None)
        return transport.writes

    return asyncio.run(run())


GET = b"GET /x HTTP/1.1\r\nhost: t\r\n\r\n"
POST_CONTINUE = b"POST /x HTTP/1.1\r\nhost: t\r\ncontent-length: 3\r\nexpect: 100-continue\r\n\r\n"


def test_one_write_per_response_with_the_same_bytes():
    coalesced = serve(CoalescingHttpToolsProtocol, GET, GET)
    plain = serve(HttpToolsProtocol, GET, GET)
    assert len(plain) == 4  # uvicorn alone: head, body, head, body
    assert coalesced == [plain[0] + plain[1], plain[2] + plain[3]]
    assert coalesced[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert coalesced[0].endswith(b'\r\n\r\n{"echo":0}')


def test_head_requests_are_answered_as_uvicorn_answers_them():
    head = b"HEAD /x HTTP/1.1\r\nhost: t\r\n\r\n"
    assert serve(CoalescingHttpToolsProtocol, head) == serve(HttpToolsProtocol, head)


def test_interim_100_continue_is_written_before_the_response():
    writes = serve(CoalescingHttpToolsProtocol, POST_CONTINUE, b"abc")
    assert writes[0] == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert len(writes) == 2
    assert writes[1].startswith(b"HTTP/1.1 200 OK\r\n")
    assert writes[1].endswith(b'{"echo":3}')
