"""A hostile HTTP server on 127.0.0.1 for the client's time limits: it drips, stalls or resets.

- drip: a correct status line and Content-Length, then the body one byte every `interval`;
- stall: accepts the connection, reads the request, never answers;
- reset: headers and part of the body, then a TCP reset (SO_LINGER 0).

Raw sockets, one thread per connection, so that nothing in an HTTP library smooths the
behaviour out. Every connection is counted (a client that retries a stall is seen).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class SlowServer:
    mode: str  # drip | stall | reset
    interval: float = 0.2
    size: int = 100_000
    port: int = 0
    connections: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.settimeout(5)
            conn.recv(65536)  # the request (small: one GET)
            if self.mode == "stall":
                self._stop.wait()
                return
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                + f"Content-Length: {self.size}\r\n\r\n".encode()
            )
            if self.mode == "reset":
                conn.sendall(b"x" * 1000)
                time.sleep(0.1)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            for _ in range(self.size):
                if self._stop.wait(self.interval):
                    return
                conn.sendall(b"x")


@contextlib.contextmanager
def slow_server(mode: str, **options: float) -> Iterator[SlowServer]:
    server = SlowServer(mode, **options)  # type: ignore[arg-type]
    listener = socket.create_server(("127.0.0.1", 0))
    server.port = listener.getsockname()[1]
    listener.settimeout(0.1)

    def accept() -> None:
        while not server._stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server.connections += 1
            threading.Thread(target=server._serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server._stop.set()
        thread.join(5)
        listener.close()
