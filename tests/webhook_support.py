"""A real HTTP server on localhost that receives webhook deliveries: it checks their
signatures, remembers what came, and answers with the statuses it is told to."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from integrations.webhooks.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, verify


@dataclass
class Receiver:
    url: str
    secret: str = ""
    statuses: list[int] = field(default_factory=list)  # answers to give, then 200s
    received: list[dict[str, Any]] = field(default_factory=list)
    location: str | None = None  # sent with 3xx answers
    hold_first: float = 0.0  # seconds the first request waits before its answer
    lock: threading.Lock = field(default_factory=threading.Lock)

    def event_ids(self) -> list[str]:
        return [item["event_id"] for item in self.received]


@contextmanager
def receiver(now: Any = None) -> Iterator[Receiver]:
    """``now()``: the receiver's clock for the signature's timestamp check."""
    box: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            state = box["receiver"]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            clock = int(now().timestamp()) if now is not None else None
            signed = (
                verify(state.secret, self.headers.get(SIGNATURE_HEADER, ""), body, now=clock)
                if clock is not None
                else None
            )
            with state.lock:
                first = not state.received
                status = state.statuses.pop(0) if state.statuses else 200
                state.received.append(
                    {
                        "event_id": self.headers.get(EVENT_ID_HEADER),
                        "body": body,
                        "signed": signed,
                        "status": status,
                    }
                )
            if first and state.hold_first:
                time.sleep(state.hold_first)  # the sender is mid-delivery meanwhile
            try:
                self.send_response(status)
            except OSError:
                return  # the sender is gone
            if state.location and 300 <= status < 400:
                self.send_header("Location", state.location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box["receiver"] = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hooks")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box["receiver"]
    finally:
        server.shutdown()
        server.server_close()
