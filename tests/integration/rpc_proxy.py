"""A small threaded JSON-RPC proxy in front of anvil that can lie: the node a gateway must not trust.

``RpcProxy(upstream)`` listens on 127.0.0.1 (free port) and forwards every request. It can:

* alter one byte of one record inside a ``BatchPublished`` log of ``eth_getLogs`` results
  (:meth:`tamper_record`), leaving everything else intact, as a compromised node would;
* fail the next *n* requests with HTTP 503 (:meth:`fail_next`), to exercise retries;
* count requests per method (``calls``).
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ledger_node.events import BATCH_PUBLISHED_TOPIC

_BATCH_TOPIC = "0x" + BATCH_PUBLISHED_TOPIC.hex()


class RpcProxy:
    """Forwarding JSON-RPC proxy with fault injection (see the module docstring)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.calls: Counter[str] = Counter()
        self.tampered: Counter[tuple[str, int]] = Counter()
        self._tamper: dict[tuple[str, int], tuple[int, int, int]] = {}
        self._failures = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, payload = proxy._handle(body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The proxy's JSON-RPC URL."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> RpcProxy:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def tamper_record(
        self, country: str, seq: int, *, index: int = 0, byte: int = 3, xor: int = 0x01
    ) -> None:
        """Flip bits of byte ``byte`` of record ``index`` in every log of batch ``country#seq``."""
        with self._lock:
            self._tamper[(country, seq)] = (index, byte, xor)

    def clear(self) -> None:
        """Stop tampering."""
        with self._lock:
            self._tamper.clear()

    def fail_next(self, count: int) -> None:
        """Answer the next ``count`` requests with HTTP 503."""
        with self._lock:
            self._failures = count

    # ----------------------------------------------------------------------------------- internals
    def _handle(self, body: bytes) -> tuple[int, bytes]:
        request = json.loads(body)
        for item in request if isinstance(request, list) else [request]:
            self.calls[item.get("method", "?")] += 1
        with self._lock:
            if self._failures > 0:
                self._failures -= 1
                return 503, b'{"error": "injected failure"}'
        upstream = urllib.request.Request(
            self.upstream, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(upstream, timeout=120) as response:
            raw = response.read()
        if not self._tamper or b"eth_getLogs" not in body:
            return 200, raw
        answer = json.loads(raw)
        requests = request if isinstance(request, list) else [request]
        answers = answer if isinstance(answer, list) else [answer]
        by_id = {json.dumps(r.get("id")): r.get("method") for r in requests}
        for item in answers:
            if by_id.get(json.dumps(item.get("id"))) == "eth_getLogs" and isinstance(
                item.get("result"), list
            ):
                for log in item["result"]:
                    self._maybe_tamper(log)
        return 200, json.dumps(answer).encode()

    def _maybe_tamper(self, log: dict[str, Any]) -> None:
        topics = log.get("topics") or []
        if len(topics) != 4 or topics[0].lower() != _BATCH_TOPIC:
            return
        country = bytes.fromhex(topics[1][2:6]).decode("ascii", errors="replace")
        seq = int(topics[2], 16)
        with self._lock:
            spec = self._tamper.get((country, seq))
        if spec is None:
            return
        index, byte, xor = spec
        data = bytearray(bytes.fromhex(log["data"][2:]))
        records_offset = int.from_bytes(data[160:192], "big")  # head word 5: offset of `records`
        position = records_offset + 32 + 16 * index + byte
        data[position] ^= xor
        log["data"] = "0x" + data.hex()
        self.tampered[(country, seq)] += 1


@contextmanager
def rpc_proxy(upstream: str) -> Iterator[RpcProxy]:
    """A started proxy, stopped on exit."""
    proxy = RpcProxy(upstream).start()
    try:
        yield proxy
    finally:
        proxy.stop()
