"""Load on a front: the requests of `uplevel check` from many clients, real `uplevel check`
processes, and blob downloads with curl.

Why the check sequence is replayed rather than run: a real `uplevel check` is a Python
process that spends ~0.3 s of CPU starting up and verifying signatures; 200 of them on 2
cores would measure the client, not the server. The replay makes the same requests in the
same order (seen in the access log of a real check): the probe for the next root version
(404 while there is none), timestamp.json, the snapshot it names, the targets it names,
the manifest.json of the newest level and the update.json of every newer level, each a
consistent-snapshot name taken from the metadata just fetched. Signatures are not verified
(that is client CPU). A small sample of real checks is run beside it to show it is the same
traffic.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import statistics
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass
class CheckLoad:
    """What the replayed checks of one front did."""

    front: str
    clients: int
    rounds: int
    latencies: list[float] = field(default_factory=list)
    requests: int = 0
    errors: int = 0
    failed_checks: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    bytes: int = 0
    wall: float = 0.0
    client_cpu: float = 0.0
    server_cpu: dict[str, float] = field(default_factory=dict)

    @property
    def checks(self) -> int:
        return len(self.latencies)


class _Failed(Exception):
    pass


@dataclass(frozen=True)
class Subscriber:
    """Where the replayed clients stand: the product and channel they follow, their level and
    the newest root version they trust."""

    product: str
    channel: str
    level: int
    root_version: int = 1


async def _check_once(
    base: str, token: str, who: Subscriber, ctx: ssl.SSLContext, out: CheckLoad
) -> None:
    """One check from a client standing where `who` says: a new connection,
    the requests in order, the connection closed. A wrong status or a transport error is an
    error and ends this check (a real client would stop there too)."""
    started = time.perf_counter()

    async def get(c: httpx.AsyncClient, path: str, want: int = 200) -> bytes:
        out.requests += 1
        try:
            r = await c.get(path)
        except httpx.HTTPError as exc:
            out.errors += 1
            out.kinds[type(exc).__name__] += 1
            raise _Failed from exc
        if r.status_code != want:
            out.errors += 1
            out.kinds[f"HTTP {r.status_code}"] += 1
            raise _Failed
        out.bytes += len(r.content)
        return r.content

    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(
            base_url=base, headers=headers, verify=ctx, trust_env=False, timeout=120
        ) as c:
            await get(c, f"/v1/metadata/{who.root_version + 1}.root.json", 404)
            ts = json.loads(await get(c, "/v1/metadata/timestamp.json"))
            sv = ts["signed"]["meta"]["snapshot.json"]["version"]
            snap = json.loads(await get(c, f"/v1/metadata/{sv}.snapshot.json"))
            tv = snap["signed"]["meta"]["targets.json"]["version"]
            targets = json.loads(await get(c, f"/v1/metadata/{tv}.targets.json"))
            docs: dict[tuple[int, str], tuple[str, int]] = {}
            prefix = f"{who.product}/{who.channel}/"
            for name, info in targets["signed"]["targets"].items():
                if name.startswith(prefix):
                    n, doc = name[len(prefix) :].split("/")
                    docs[(int(n), doc)] = (info["hashes"]["sha256"], info["length"])
            newer = sorted(n for n, doc in docs if doc == "update.json" and n > who.level)
            wanted = [(newer[-1], "manifest.json")] if newer else []
            wanted += [(n, "update.json") for n in newer]
            for n, doc in wanted:
                sha, length = docs[(n, doc)]
                body = await get(c, f"/v1/targets/{prefix}{n}/{sha}.{doc}")
                if len(body) != length:
                    out.errors += 1
                    out.kinds["wrong length"] += 1
                    raise _Failed
    except _Failed:
        out.failed_checks += 1
    out.latencies.append(time.perf_counter() - started)


async def _run_clients(
    base: str, tokens: list[str], who: Subscriber, rounds: int, out: CheckLoad
) -> None:
    ctx = ssl.create_default_context()  # one context for all: building one costs ~10 ms

    async def client(token: str) -> None:
        for _ in range(rounds):
            await _check_once(base, token, who, ctx, out)

    await asyncio.gather(*(client(t) for t in tokens))


def replay_checks(
    front: str,
    base: str,
    tokens: list[str],
    *,
    who: Subscriber,
    rounds: int,
    server_pids: dict[str, list[int]],
) -> CheckLoad:
    """len(tokens) concurrent clients, each running `rounds` checks back to back (closed loop)."""
    from repo_fronts import cpu_seconds

    out = CheckLoad(front, len(tokens), rounds)
    before = {k: cpu_seconds(v) for k, v in server_pids.items()}
    cpu0, t0 = time.process_time(), time.perf_counter()
    asyncio.run(_run_clients(base, tokens, who, rounds, out))
    out.wall = time.perf_counter() - t0
    out.client_cpu = time.process_time() - cpu0
    out.server_cpu = {k: cpu_seconds(v) - before[k] for k, v in server_pids.items()}
    return out


@dataclass
class RealChecks:
    front: str
    seconds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: int = 0  # counted in the front's access log


def real_checks(
    front: str, up: list[str], homes: list[Path], tokens: list[str], want_available: list[int]
) -> RealChecks:
    """Every home's `uplevel check --json` at the same time, one process each."""
    out = RealChecks(front)
    lock = threading.Lock()
    barrier = threading.Barrier(len(homes))

    def one(home: Path, token: str) -> None:
        env = {**os.environ, "UPLEVEL_TOKEN": token}
        cmd = [*up, "check", "--home", str(home), "--json"]
        barrier.wait()
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        secs = time.perf_counter() - start
        problem = None
        try:
            doc = json.loads(proc.stdout)
            if proc.returncode != 0 or not doc.get("ok"):
                problem = f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"
            elif doc["result"]["available"] != want_available:
                problem = f"available {doc['result']['available']} != {want_available}"
        except (ValueError, KeyError, TypeError):
            problem = f"exit {proc.returncode}, no JSON: {proc.stderr.strip()[-300:]}"
        with lock:
            out.seconds.append(secs)
            if problem:
                out.errors.append(f"{home.name}: {problem}")

    with ThreadPoolExecutor(len(homes)) as pool:
        list(pool.map(one, homes, tokens))
    return out


@dataclass
class Throughput:
    what: str
    size: int
    batches: list[tuple[int, float]] = field(default_factory=list)  # (bytes, seconds)
    failures: list[str] = field(default_factory=list)

    def mb_per_s(self) -> list[float]:
        return [b / s / 1e6 for b, s in self.batches]

    def median(self) -> float:
        rates = self.mb_per_s()
        return statistics.median(rates) if rates else float("nan")


def curl_batch(url: str, token: str | None, n: int, concurrency: int, out: Throughput) -> None:
    """n downloads of url to /dev/null, `concurrency` at a time; one batch = bytes / wall."""
    cmd = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", url]
    if token:
        cmd[1:1] = ["-H", f"Authorization: Bearer {token}"]

    def one(_: int) -> int:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        status, _, size = proc.stdout.partition(" ")
        if proc.returncode != 0 or status != "200" or int(size or 0) != out.size:
            out.failures.append(f"{out.what}: curl exit {proc.returncode}, {proc.stdout!r}")
            return 0
        return int(size)

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        total = sum(pool.map(one, range(n)))
    out.batches.append((total, time.perf_counter() - start))


def log_lines(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0
