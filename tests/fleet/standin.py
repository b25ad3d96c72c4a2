"""A stand-in for a product server, so the fleet tests run a real process per node.

`standin.py start|stop|health|serve --events FILE`, always run in the home (the profile's
start, stop and health commands). `start` returns at once, like `api-manager.sh start`,
leaving a detached `serve` process that writes the profile's pid file and answers
`GET /health` on the port the home's `conf/server.toml` names. Like a JVM given
`-Xms` above `-Xmx`, it is unhealthy when `min_heap_mb` exceeds `max_heap_mb`, so a
merged configuration can break it. Every start and stop is a line in the events file
(`time event port version pid`), which is how the tests see batches and restarts.

It must never need anything but the standard library: it runs under any interpreter.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PID_FILE = "standin.pid"
CONF = "conf/server.toml"
VERSION = "lib/core.txt"


def _settings() -> dict[str, object]:
    with open(CONF, "rb") as f:
        return dict(tomllib.load(f)["server"])


def _problem(settings: dict[str, object]) -> str | None:
    low, high = settings.get("min_heap_mb"), settings.get("max_heap_mb")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        return f"min_heap_mb {low} is above max_heap_mb {high}: the server cannot start"
    return None


def _event(events: str, what: str, port: object, version: str) -> None:
    with open(events, "a") as f:
        f.write(f"{time.time():.3f} {what} {port} {version} {os.getpid()}\n")


def serve(events: str) -> None:
    settings = _settings()
    version = Path(VERSION).read_text().strip()
    port = settings["port"]
    problem = _problem(settings)

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = {"port": port, "version": version, "pid": os.getpid(), "problem": problem}
            data = json.dumps(body).encode()
            self.send_response(503 if problem else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", int(str(port))), Health)

    def stop(signum: int, frame: object) -> None:
        Path(PID_FILE).unlink(missing_ok=True)
        _event(events, "stop", port, version)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    Path(PID_FILE).write_text(f"{os.getpid()}\n")
    _event(events, "start", port, version)
    server.serve_forever()


def start(events: str) -> int:
    Path("logs").mkdir(exist_ok=True)
    with open("logs/standin.out", "ab") as out:
        subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "serve", "--events", events],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    return 0


def stop_server() -> int:
    try:
        pid = int(Path(PID_FILE).read_text())
    except (OSError, ValueError):
        return 0
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        Path(PID_FILE).unlink(missing_ok=True)
        return 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not _running(pid):
            return 0
        time.sleep(0.05)
    return 1


def _running(pid: int) -> bool:
    """Alive and not a zombie: `serve` is reparented when `start` exits, and whoever adopts
    it may reap it late (a container's init), while its pid still answers kill(pid, 0)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def health() -> int:
    port = _settings()["port"]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
            return 0 if r.status == 200 else 1
    except (urllib.error.URLError, OSError):
        return 1


def main(argv: list[str]) -> int:
    command = argv[0]
    events = argv[argv.index("--events") + 1] if "--events" in argv else os.devnull
    if command == "serve":
        serve(events)
        return 0
    if command == "start":
        return start(events)
    if command == "stop":
        return stop_server()
    if command == "health":
        return health()
    print(f"usage: standin.py start|stop|health|serve --events FILE (got {command})")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
