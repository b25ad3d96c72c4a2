"""The two HTTP fronts of a repository, started for the benchmark and always stopped again.

`uplevel serve REPO` on a free loopback port, and nginx with deploy/nginx/uplevel.conf
rendered exactly as tests/server/test_nginx.py does it (REPO, backend, listen), in the
foreground with everything (pid, logs, temp dirs) under a prefix directory. The only
addition is one plain static location, `/bench-static/` → REPO/blobs/, inserted into the
same server block, so a blob can be fetched with and without auth_request from the same
nginx process with the same sendfile/tcp_nopush settings.

Why `master_process on` with `worker_processes auto` (the test runs one process): that is
how nginx runs in production, and 200 clients plus 200 upstream connections need more
than the test's 64 worker_connections.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

TEMPLATE = Path(__file__).resolve().parents[1] / "deploy" / "nginx" / "uplevel.conf"
STATIC_PREFIX = "/bench-static/"
_CATCH_ALL = "    # Nothing else of REPO"


def find_nginx() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited {proc.returncode}: {log.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not answer /health within 20 s")
        time.sleep(0.05)


def children(pid: int) -> list[int]:
    """Direct children of pid (nginx's workers under its master)."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat_line = Path(f"/proc/{name}/stat").read_text()
            except OSError:
                continue
            if int(stat_line.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(name))
    return out


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes so far (seconds); gone processes count 0."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


@dataclass
class Serve:
    """A running `uplevel serve`; stop() ends it with SIGTERM (graceful), then SIGKILL."""

    proc: subprocess.Popen[bytes]
    url: str
    access_log: Path

    @classmethod
    def start(cls, up: list[str], repo: Path, logdir: Path) -> Serve:
        logdir.mkdir(parents=True, exist_ok=True)
        access, errors = logdir / "serve-access.log", logdir / "serve.err"
        cmd = [*up, "serve", str(repo), "--port", "0", "--access-log", str(access)]
        with open(errors, "wb") as err:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err
            )
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        if " at " not in line:
            proc.kill()
            proc.wait()
            raise RuntimeError(
                f"uplevel serve did not start: {line!r} {errors.read_text()[-2000:]}"
            )
        url = line.rsplit(" at ", 1)[1].strip()
        serve = cls(proc, url, access)
        try:
            _wait_healthy(url, proc, "uplevel serve", errors)
        except BaseException:
            serve.stop()
            raise
        return serve

    @property
    def pids(self) -> list[int]:
        return [self.proc.pid]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


def render_site(repo: Path, backend: str, listen: str) -> str:
    """The template with its three variables filled in (as the nginx test does), plus the
    benchmark's static location for the same blob files."""
    text = (
        TEMPLATE.read_text()
        .replace("${UPLEVEL_REPO}", str(repo))
        .replace("${UPLEVEL_BACKEND}", backend)
        .replace("${UPLEVEL_LISTEN}", listen)
    )
    if "${UPLEVEL_" in text or text.count(_CATCH_ALL) != 1:
        raise RuntimeError(f"{TEMPLATE} changed shape: cannot render it for the benchmark")
    static = (
        "    # Benchmark only: the same blob files with no auth_request, for comparison.\n"
        f"    location {STATIC_PREFIX} {{\n"
        f"        alias {repo}/blobs/;\n"
        "        types { }\n"
        "        default_type application/octet-stream;\n"
        "    }\n\n"
    )
    return text.replace(_CATCH_ALL, static + _CATCH_ALL)


def main_config(prefix: Path, site: Path, workers: str) -> str:
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""daemon off;
master_process on;
worker_processes {workers};
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;
events {{ worker_connections 4096; }}
http {{
    access_log {prefix / "access.log"};
{temp}
    include {site};
}}
"""


@dataclass
class Nginx:
    proc: subprocess.Popen[bytes]
    url: str
    prefix: Path
    workers: list[int] = field(default_factory=list)

    @property
    def access_log(self) -> Path:
        return self.prefix / "access.log"

    @classmethod
    def start(cls, binary: str, repo: Path, backend: str, port: int, prefix: Path) -> Nginx:
        prefix.mkdir(parents=True, exist_ok=True)
        site = prefix / "uplevel.conf"
        site.write_text(render_site(repo, backend, f"127.0.0.1:{port}"))
        conf = prefix / "nginx.conf"
        conf.write_text(main_config(prefix, site, "auto"))
        log = prefix / "error.log"
        command = [binary, "-p", str(prefix), "-c", str(conf), "-e", str(log)]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
        if checked.returncode != 0:
            raise RuntimeError(f"nginx -t refused the rendered configuration: {checked.stderr}")
        with open(prefix / "stderr.log", "wb") as err:
            proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        nginx = cls(proc, f"http://127.0.0.1:{port}", prefix)
        try:
            _wait_healthy(nginx.url, proc, "nginx", log)
            nginx.workers = children(proc.pid)
        except BaseException:
            nginx.stop()
            raise
        return nginx

    @property
    def pids(self) -> list[int]:
        return [self.proc.pid, *self.workers]

    def stop(self) -> None:
        """SIGTERM is nginx's fast shutdown: the master stops its workers, then exits."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in self.workers:  # only ever our own master's workers, by pid
            deadline = time.monotonic() + 5
            while _is_nginx_worker(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _is_nginx_worker(pid):
                os.kill(pid, signal.SIGKILL)


def _is_nginx_worker(pid: int) -> bool:
    """Still one of nginx's workers (not a reused pid)?"""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"nginx: worker process")
    except OSError:
        return False


def nginx_version(binary: str) -> str:
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    return (out.stderr or out.stdout).strip().splitlines()[0] if (out.stderr or out.stdout) else "?"
