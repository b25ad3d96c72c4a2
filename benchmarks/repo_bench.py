"""Benchmark the update repository and its fronts: jump downloads, checks, blob throughput.

What a jump of many levels downloads, how `uplevel serve` and the nginx front stand 200
concurrent checks, and what auth_request costs nginx's blob throughput.

Usage: .venv/bin/python benchmarks/repo_bench.py [--workdir /var/tmp/uplevel-repo-bench]
                                                 [--clients 200] [--quick] [--check]

Why side by side in one run: bytes are exact, but latencies and MB/s depend on the machine
and on what else it is doing, so each is set beside a reference measured minutes apart on
the same machine: the distinct final blobs and a zip of the final tree for the jump, the
same load on the other front for the checks, nginx serving the same file statically for
blobs. Every uplevel command must exit 0, every updated home must equal the final tree byte
for byte, and every download must be complete, or the run stops.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import repo_fronts
import repo_levels
import repo_load
import report
import trees
from measure import CommandFailed, Timed, run_timed
from report import MIB, machine_facts
from run import find_uplevel

HERE = Path(__file__).resolve().parent
PRODUCT = "wso2am-4.2.0"
BLOB_PRODUCT = "benchblob-1.0.0"
CHANNEL = "full"
HEADING = "## Update repository and server"


class BenchError(RuntimeError):
    """The environment or a result is not fit to measure: say what to do and stop."""


@dataclass
class Row:
    what: str
    ours: str
    ref: str
    ratio: str
    target: str
    ok: bool | None


@dataclass
class Bench:
    up: list[str]
    work: Path
    levels: int
    seed: int
    setup: list[str] = field(default_factory=list)
    loads: dict[str, float] = field(default_factory=dict)
    procs: list[repo_fronts.Serve | repo_fronts.Nginx] = field(default_factory=list)

    @property
    def repo(self) -> Path:
        return self.work / "repo"

    def level(self, n: int) -> Path:
        if n == 0:
            return self.work / "trees" / "old"
        if n == 1:
            return self.work / "trees" / "new"
        return self.work / "levels" / str(n)

    def note(self, what: str, t: Timed | float | None = None) -> None:
        secs = t if isinstance(t, float) else t.seconds if t else None
        line = what if secs is None else f"{what}: {secs:.2f} s"
        self.setup.append(line)
        print(f"  set-up  {line}", flush=True)

    def uplevel(self, *args: str | Path, token: str | None = None) -> Timed:
        """Run the CLI (exit 0 or CommandFailed); the token goes in UPLEVEL_TOKEN, as a
        subscriber's service would pass it."""
        argv = [*self.up, *map(str, args)]
        if token is None:
            return run_timed(argv)
        env = {**os.environ, "UPLEVEL_TOKEN": token}
        start = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        t = Timed(" ".join(argv), time.perf_counter() - start, 0, proc.returncode,
                  proc.stdout, proc.stderr)  # fmt: skip
        if proc.returncode != 0:
            raise CommandFailed(t)
        return t

    def load(self, label: str) -> None:
        self.loads[label] = os.getloadavg()[0]


def result_of(t: Timed) -> dict[str, object]:
    doc = json.loads(t.stdout)
    if not doc.get("ok"):
        raise BenchError(f"{t.argv}: not ok: {t.stdout[-2000:]}")
    result: dict[str, object] = doc["result"]
    return result


# --- set-up: trees, levels, repository, tokens, fronts, homes -------------------------------


def build_trees(b: Bench, scale: float) -> repo_levels.History:
    out = b.work / "trees"
    start = time.perf_counter()
    gen = [sys.executable, str(HERE / "gen_home.py"), str(out), "--force"]
    subprocess.run([*gen, "--scale", str(scale), "--seed", str(b.seed)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    b.note(f"gen_home.py --scale {scale:g} (levels 0 and 1)", time.perf_counter() - start)
    start = time.perf_counter()
    history = repo_levels.build_levels(
        b.level(0), b.level(1), b.work / "levels", levels=b.levels, seed=b.seed
    )
    b.note(f"repo_levels.py: levels 2-{b.levels} (cp -al + changes)", time.perf_counter() - start)
    return history


def write_zip(tree: Path, dest: Path) -> None:
    from uplevel.devtools.sample import (
        write_pack,  # the way packs are shipped: deflate, one top folder
    )

    write_pack(tree, dest)


def create_tokens(repo: Path, n: int, product: str) -> list[str]:
    """Straight through the library: `repo token create` 200 times would take minutes."""
    from uplevel.repo.tokens import create_token

    return [
        create_token(repo, subscriber=f"bench-{i:03d}", product=product, channel=CHANNEL).token
        for i in range(n)
    ]


def publish(b: Bench, upto: int) -> None:
    """Levels 1..upto, each `repo add-update --from-tree L(n-1) --to-tree L(n)`."""
    done = _published(b)
    for n in range(done + 1, upto + 1):
        t = b.uplevel("repo", "add-update", b.repo, "--product", PRODUCT,
                      "--from-tree", b.level(n - 1), "--to-tree", b.level(n),
                      "--title", f"update {n}", "--fix", f"BENCH-{n}=bench fix {n}", "--json")  # fmt: skip
        got = result_of(t)["levels"]
        if got != {CHANNEL: n}:
            raise BenchError(f"add-update of level {n} published {got}")
        b.note(f"repo add-update level {n}", t)


def _published(b: Bench) -> int:
    t = b.uplevel("repo", "list", b.repo, "--json")
    products = result_of(t)["products"]
    assert isinstance(products, list)
    for p in products:
        if p["product"] == PRODUCT:
            return max(x["level"] for x in p["channels"][CHANNEL])
    return -1


def setup_repo(b: Bench, blob_bytes: int) -> tuple[str, Path]:
    """Repository with level 0 of the product, and a second product holding one big blob
    (for the throughput part, so the big file does not distort the jump). Returns the
    blob's sha256 and its stored file."""
    trees.remove_tree(b.repo)
    b.note("repo init", b.uplevel("repo", "init", b.repo, "--json"))
    pack = b.work / "pack-level0.zip"
    start = time.perf_counter()
    write_zip(b.level(0), pack)
    b.note(f"zip level 0 ({pack.stat().st_size / MIB:.1f} MiB)", time.perf_counter() - start)
    b.note("repo add-product", b.uplevel("repo", "add-product", b.repo, "--pack", pack,
                                          "--product", PRODUCT, "--json"))  # fmt: skip
    # The big blob: random bytes (they do not compress, so it is stored raw, as jars are).
    blob_zip = b.work / "benchblob.zip"
    data = os.urandom(blob_bytes)
    sha = hashlib.sha256(data).hexdigest()
    with zipfile.ZipFile(blob_zip, "w", zipfile.ZIP_STORED) as z:
        z.writestr("benchblob-1.0.0/lib/payload.bin", data)
    del data
    b.note(f"repo add-product {BLOB_PRODUCT} ({blob_bytes / MIB:.0f} MiB blob)",
           b.uplevel("repo", "add-product", b.repo, "--pack", blob_zip,
                     "--product", BLOB_PRODUCT, "--json"))  # fmt: skip
    blob_zip.unlink()
    stored = b.repo / "blobs" / sha[:2] / sha
    if not stored.is_file():
        raise BenchError(f"the big blob was not stored raw at {stored}")
    return sha, stored


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def adopt(b: Bench, name: str, server: str, token: str) -> Path:
    home = b.work / "run" / name
    trees.copy_tree(b.level(0), home)
    t = b.uplevel("init", "--home", home, "--product", PRODUCT, "--server", server,
                  "--level", "0", "--json", token=token)  # fmt: skip
    if result_of(t)["level"] != 0:
        raise BenchError(f"init of {home} did not adopt level 0: {t.stdout}")
    b.note(f"uplevel init --server ({name})", t)
    return home


def clone_home(src: Path, dst: Path) -> None:
    """Product files hard-linked (check reads none of them), uplevel's state copied: each
    clone has its own lock, TUF metadata and state, as a separate server would."""
    trees.remove_tree(dst)
    subprocess.run(["cp", "-al", str(src), str(dst)], check=True)
    state = dst / trees.STATE_DIR
    shutil.rmtree(state)
    subprocess.run(["cp", "-a", str(src / trees.STATE_DIR), str(state)], check=True)


# --- part 1: what a jump downloads -----------------------------------------------------------


def stored_size(repo: Path, sha: str) -> int:
    for name in (sha, f"{sha}.zst"):
        path = repo / "blobs" / sha[:2] / name
        if path.is_file():
            return path.stat().st_size
    raise BenchError(f"blob {sha} is not in {repo}/blobs")


def file_shas(root: Path) -> dict[str, str]:
    d = trees.digest(root)
    return {p: v[3] for p, v in d.items() if v[0] == "file"}


def access_lines(log: Path, offset: int) -> list[dict[str, object]]:
    with open(log, "rb") as f:
        f.seek(offset)
        return [json.loads(line) for line in f.read().splitlines() if line.strip()]


@dataclass
class Jump:
    downloaded: int = 0
    copied: int = 0
    seconds: float = 0.0
    http_bytes: int = 0
    requests: int = 0
    blob_requests: int = 0
    fetched_twice: int = 0
    fetched_not_final: int = 0
    distinct_final: int = 0
    distinct_final_bytes: int = 0
    zip_bytes: int = 0
    walk_downloaded: int = 0
    walk_seconds: float = 0.0
    walk_blob_requests: int = 0
    walk_fetched_twice: int = 0
    walk_level0_bytes: int = 0  # contents of level 0 the walk downloaded again
    ever_published_bytes: int = 0


def part_jump(b: Bench, serve: repo_fronts.Serve, token: str) -> Jump:
    j = Jump()
    final = b.level(b.levels)
    want = trees.digest(final)
    old, new = file_shas(b.level(0)), file_shas(final)
    # The contents a jump needs: new bytes at a path (mode-only changes need none), once each.
    distinct = {sha for p, sha in new.items() if old.get(p) != sha}
    j.distinct_final = len(distinct)
    j.distinct_final_bytes = sum(stored_size(b.repo, s) for s in distinct)
    ever: set[str] = set()
    for n in range(1, b.levels + 1):
        ever |= set(file_shas(b.level(n)).values())
    ever -= set(old.values())
    j.ever_published_bytes = sum(stored_size(b.repo, s) for s in ever)
    zip_path = b.work / f"level{b.levels}.zip"
    write_zip(final, zip_path)
    j.zip_bytes = zip_path.stat().st_size

    home = adopt(b, "jump-home", serve.url, token)
    offset = serve.access_log.stat().st_size
    t = b.uplevel("update", "--home", home, "--json", token=token)
    r = result_of(t)
    if r.get("to_level") != b.levels:
        raise BenchError(f"the jump ended at level {r.get('to_level')}, not {b.levels}")
    transfer = r["transfer"]
    assert isinstance(transfer, dict)
    j.downloaded, j.copied, j.seconds = transfer["downloaded"], transfer.get("copied", 0), t.seconds
    print(f"  timed   jump 0→{b.levels}: {t.seconds:.2f} s, transfer {transfer}", flush=True)
    check_tree(home, want, f"after the jump 0→{b.levels}")
    time.sleep(0.2)  # the access log line is written when the response ends
    lines = access_lines(serve.access_log, offset)
    j.requests = len(lines)
    j.http_bytes = sum(int(x["bytes"]) for x in lines)  # type: ignore[call-overload]
    blobs = Counter(
        str(x["path"]).rsplit("/", 1)[1]
        for x in lines
        if str(x["path"]).startswith("/v1/blobs/") and x["status"] == 200
    )
    j.blob_requests = sum(blobs.values())
    j.fetched_twice = sum(1 for c in blobs.values() if c > 1)
    j.fetched_not_final = len(set(blobs) - distinct)

    walk = adopt(b, "walk-home", serve.url, token)
    offset = serve.access_log.stat().st_size
    for n in range(1, b.levels + 1):
        t = b.uplevel("update", "--home", walk, "--level", str(n), "--json", token=token)
        r = result_of(t)
        transfer = r["transfer"]
        assert isinstance(transfer, dict)
        j.walk_downloaded += transfer["downloaded"]
        j.walk_seconds += t.seconds
    print(f"  timed   walk 1..{b.levels}: {j.walk_seconds:.2f} s, "
          f"{j.walk_downloaded / MIB:.2f} MiB", flush=True)  # fmt: skip
    check_tree(walk, want, f"after the walk to level {b.levels}")
    time.sleep(0.2)
    walked = Counter(
        str(x["path"]).rsplit("/", 1)[1]
        for x in access_lines(serve.access_log, offset)
        if str(x["path"]).startswith("/v1/blobs/") and x["status"] == 200
    )
    j.walk_blob_requests = sum(walked.values())
    j.walk_fetched_twice = sum(1 for n in walked.values() if n > 1)
    j.walk_level0_bytes = sum(stored_size(b.repo, s) for s in set(walked) & set(old.values()))
    trees.remove_tree(home)
    trees.remove_tree(walk)
    return j


def check_tree(home: Path, want: trees.Digest, what: str) -> None:
    diffs = trees.differences(trees.digest(home), want)
    if diffs:
        raise BenchError(f"{what}: {home} is not the expected tree:\n  " + "\n  ".join(diffs))


# --- part 2: concurrent checks ----------------------------------------------------------------


@dataclass
class Checks:
    replay: dict[str, repo_load.CheckLoad] = field(default_factory=dict)
    real: dict[str, repo_load.RealChecks] = field(default_factory=dict)
    per_check: int = 0


def part_checks_real(
    b: Bench, fronts: dict[str, tuple[str, Path, bool]], homes: dict[str, list[Path]],
    tokens: list[str],
) -> dict[str, repo_load.RealChecks]:  # fmt: skip
    """Real `uplevel check` processes, all at once per front; each home's first check since
    the newest level was published (so it fetches the new snapshot and targets too)."""
    out = {}
    want = list(range(1, b.levels + 1))
    for front, (_url, log, _is_json) in fronts.items():
        before = repo_load.log_lines(log)
        r = repo_load.real_checks(front, b.up, homes[front], tokens[: len(homes[front])], want)
        time.sleep(0.3)
        r.requests = repo_load.log_lines(log) - before
        out[front] = r
        print(f"  timed   {len(r.seconds)} real checks via {front}: p50 "
              f"{statistics.median(r.seconds):.2f} s, errors {len(r.errors)}, "
              f"{r.requests / len(r.seconds):.1f} requests each", flush=True)  # fmt: skip
    return out


def part_checks_replay(
    b: Bench, fronts: dict[str, tuple[str, Path, bool]], tokens: list[str], rounds: int,
    pids: dict[str, dict[str, list[int]]],
) -> dict[str, repo_load.CheckLoad]:  # fmt: skip
    who = repo_load.Subscriber(PRODUCT, CHANNEL, 0)
    out = {}
    names = list(fronts)
    # One round each, alternating who goes first, so drift favours neither front.
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for front in order:
            url = fronts[front][0]
            load = repo_load.replay_checks(front, url, tokens, who=who, rounds=1,
                                           server_pids=pids[front])  # fmt: skip
            print(f"  timed   {len(tokens)} concurrent checks via {front}: wall {load.wall:.1f} s, "
                  f"p50 {repo_load.percentile(load.latencies, 50):.2f} s, "
                  f"p99 {repo_load.percentile(load.latencies, 99):.2f} s, "
                  f"errors {load.errors}", flush=True)  # fmt: skip
            merge(out.setdefault(front, repo_load.CheckLoad(front, len(tokens), 0)), load)
    return out


def merge(into: repo_load.CheckLoad, one: repo_load.CheckLoad) -> None:
    into.rounds += one.rounds
    into.latencies += one.latencies
    into.requests += one.requests
    into.errors += one.errors
    into.failed_checks += one.failed_checks
    into.kinds.update(one.kinds)
    into.bytes += one.bytes
    into.wall += one.wall
    into.client_cpu += one.client_cpu
    for k, v in one.server_cpu.items():
        into.server_cpu[k] = into.server_cpu.get(k, 0.0) + v


# --- part 3: blob throughput ---------------------------------------------------------------------


def part_throughput(
    b: Bench, nginx: repo_fronts.Nginx, serve: repo_fronts.Serve, sha: str, stored: Path,
    token: str, downloads: int, concurrency: int, rounds: int,
) -> dict[str, repo_load.Throughput]:  # fmt: skip
    size = stored.stat().st_size
    urls = {
        "nginx auth_request": f"{nginx.url}/v1/blobs/{sha}",
        "nginx static": f"{nginx.url}{repo_fronts.STATIC_PREFIX}{sha[:2]}/{sha}",
        "uplevel serve": f"{serve.url}/v1/blobs/{sha}",
    }
    auth = {"nginx auth_request": token, "nginx static": None, "uplevel serve": token}
    # Untimed: each way returns exactly the stored bytes (and warms the page cache).
    for what, url in urls.items():
        dest = b.work / "run" / "download.bin"
        cmd = ["curl", "-sf", "-o", str(dest), url]
        if auth[what]:
            cmd[1:1] = ["-H", f"Authorization: Bearer {auth[what]}"]
        subprocess.run(cmd, check=True)
        with open(dest, "rb") as f:
            if hashlib.file_digest(f, "sha256").hexdigest() != sha:
                raise BenchError(f"{what}: the downloaded blob is not the stored one")
        dest.unlink()
    # The auth location must refuse a request without a token, or it measures nothing.
    if subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", urls["nginx auth_request"]],
                      capture_output=True, text=True, check=False).stdout != "401":  # fmt: skip
        raise BenchError("nginx served a blob without a token: the auth_request is not in effect")
    out = {what: repo_load.Throughput(what, size) for what in urls}
    pair = ["nginx static", "nginx auth_request"]
    for r in range(rounds):
        for what in pair if r % 2 == 0 else pair[::-1]:
            repo_load.curl_batch(urls[what], auth[what], downloads, concurrency, out[what])
            nbytes, secs = out[what].batches[-1]
            print(f"  timed   {what}: {downloads} × {size / MIB:.0f} MiB in {secs:.2f} s = "
                  f"{nbytes / secs / 1e6:.0f} MB/s", flush=True)  # fmt: skip
    # For contrast only: uplevel serve streaming the same file itself (one batch).
    repo_load.curl_batch(urls["uplevel serve"], token, downloads, concurrency, out["uplevel serve"])
    nbytes, secs = out["uplevel serve"].batches[-1]
    print(f"  timed   uplevel serve: {downloads} × {size / MIB:.0f} MiB in {secs:.2f} s = "
          f"{nbytes / secs / 1e6:.0f} MB/s", flush=True)  # fmt: skip
    failures = [f for t in out.values() for f in t.failures]
    if failures:
        raise BenchError("downloads failed:\n  " + "\n  ".join(failures[:10]))
    return out


# --- report -------------------------------------------------------------------------------------


def mib(n: float) -> str:
    return f"{n / MIB:.2f} MiB"


def rows(b: Bench, j: Jump, c: Checks, tp: dict[str, repo_load.Throughput]) -> list[Row]:
    out: list[Row] = []
    once = j.fetched_twice == 0 and j.fetched_not_final == 0
    ratio = j.downloaded / j.distinct_final_bytes
    out.append(Row(
        f"jump 0→{b.levels}: downloaded vs distinct final blobs",
        mib(j.downloaded), mib(j.distinct_final_bytes), f"{ratio:.2f}",
        "≤ 1.0, nothing fetched twice", ratio <= 1.0 and once,
    ))  # fmt: skip
    out.append(Row(
        f"jump 0→{b.levels}: downloaded vs zip of level {b.levels} (deflate)",
        mib(j.downloaded), mib(j.zip_bytes), f"{j.downloaded / j.zip_bytes:.3f}", "—", None,
    ))  # fmt: skip
    out.append(Row(
        f"walk 1…{b.levels} (`update --level N` each): downloaded vs distinct final blobs",
        mib(j.walk_downloaded), mib(j.distinct_final_bytes),
        f"{j.walk_downloaded / j.distinct_final_bytes:.2f}", "—", None,
    ))  # fmt: skip
    serve, nginx = c.replay["uplevel serve"], c.replay["nginx front"]
    for load in (serve, nginx):
        out.append(Row(
            f"{load.clients} concurrent checks, {load.front}: errors",
            f"{load.errors} in {load.requests:,} requests ({load.checks} checks)", "—", "—",
            "0", load.errors == 0,
        ))  # fmt: skip
    p = {k: (repo_load.percentile(v.latencies, 50), repo_load.percentile(v.latencies, 99))
         for k, v in c.replay.items()}  # fmt: skip
    out.append(Row(
        f"{serve.clients} concurrent checks, p50 / p99 of the whole check: nginx front vs uplevel serve",
        f"{p['nginx front'][0]:.2f} s / {p['nginx front'][1]:.2f} s",
        f"{p['uplevel serve'][0]:.2f} s / {p['uplevel serve'][1]:.2f} s",
        f"{p['nginx front'][0] / p['uplevel serve'][0]:.2f} / "
        f"{p['nginx front'][1] / p['uplevel serve'][1]:.2f}", "—", None,
    ))  # fmt: skip
    for front, r in c.real.items():
        out.append(Row(
            f"{len(r.seconds)} real `uplevel check` processes at once, {front}: errors, p50",
            f"{len(r.errors)} errors; p50 {statistics.median(r.seconds):.2f} s; "
            f"{r.requests / len(r.seconds):.1f} requests each",
            f"replay: {c.per_check} requests each", "—", "0 errors", not r.errors,
        ))  # fmt: skip
    a, s = tp["nginx auth_request"].median(), tp["nginx static"].median()
    out.append(Row(
        "blob download, nginx with auth_request vs nginx static (same file, same process)",
        f"{a:,.0f} MB/s", f"{s:,.0f} MB/s", f"{a / s:.2f}", "≥ 0.8", a / s >= 0.8,
    ))  # fmt: skip
    u = tp["uplevel serve"].median()
    out.append(Row("blob download, uplevel serve alone vs nginx static (contrast)",
                   f"{u:,.0f} MB/s", f"{s:,.0f} MB/s", f"{u / s:.2f}", "—", None))  # fmt: skip
    return out


def table(rs: list[Row]) -> str:
    lines = [
        "| measurement | uplevel | reference, same run | ratio | target | result |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for r in rs:
        verdict = "—" if r.ok is None else ("PASS" if r.ok else "**FAIL**")
        lines.append(f"| {r.what} | {r.ours} | {r.ref} | {r.ratio} | {r.target} | {verdict} |")
    return "\n".join(lines)


def first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError:
        return "?"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else "?"


def section(b: Bench, args: argparse.Namespace, rs: list[Row], j: Jump, c: Checks,
            tp: dict[str, repo_load.Throughput], history: repo_levels.History,
            tree_facts: dict[str, object], nginx_bin: str) -> str:  # fmt: skip
    facts = machine_facts(b.work)
    facts = {k: v for k, v in facts.items() if k not in ("rsync", "git", "sha256sum")}
    facts["nginx"] = repo_fronts.nginx_version(nginx_bin) + " (worker_processes auto, master on)"
    facts["curl"] = first_line(["curl", "--version"])
    facts["uplevel"] = " ".join(b.up) + " — " + first_line([*b.up, "--version"])
    facts["mode"] = "quick" if args.quick else "full"
    facts["load average (1 min) per part"] = ", ".join(f"{k} {v:.2f}" for k, v in b.loads.items())
    out = [HEADING, "",
           "Produced by `benchmarks/repo_bench.py`; see `benchmarks/README.md` (last section).", "",
           "### Machine and run", ""]  # fmt: skip
    out += [f"- {k}: {v}" for k, v in facts.items()]
    out += ["", "### Results", "", table(rs), ""]
    out += ["### The jump, in detail", ""]
    out += [
        f"- product: {tree_facts['files']} files, {tree_facts['bytes'] / 1e6:.1f} MB at level 0 "
        f"(benchmarks/gen_home.py --scale {args.scale:g}); {b.levels} levels published with "
        "`uplevel repo add-update --from-tree --to-tree`.",
        f"- jump: `uplevel update --json` from level 0: {j.seconds:.2f} s; "
        f"`transfer.downloaded` {j.downloaded:,} B, `copied` {j.copied:,} B; "
        f"{j.blob_requests} blob requests for {j.distinct_final} distinct final contents; "
        f"contents fetched twice: {j.fetched_twice}; fetched but not in the final tree: "
        f"{j.fetched_not_final}.",
        f"- everything the jump moved over HTTP (server access log: metadata, {b.levels} "
        f"update.json, 2 manifest.json, blobs): {j.http_bytes:,} B in {j.requests} requests.",
        f"- distinct final blobs: stored size (raw or zstd, as served) of every content at a "
        f"path whose bytes differ between level 0 and level {b.levels}, each once: "
        f"{j.distinct_final_bytes:,} B. Mode-only changes need no bytes.",
        f"- zip of level {b.levels}: `uplevel.devtools.sample.write_pack` (deflate, one top folder): "
        f"{j.zip_bytes:,} B.",
        f"- walk: {b.levels} × `uplevel update --level N --json` on another home adopted at 0: "
        f"{j.walk_seconds:.2f} s in all, {j.walk_downloaded:,} B downloaded in "
        f"{j.walk_blob_requests} blob requests ({j.walk_fetched_twice} contents fetched more "
        f"than once; {j.walk_level0_bytes:,} B were level-0 contents the home no longer had "
        "at that path, e.g. the file restored at level 12). For scale: every distinct "
        f"content of levels 1-{b.levels} that is not in level 0, stored: "
        f"{j.ever_published_bytes:,} B.",
        "- both homes equal the level-" + str(b.levels) + " tree afterwards (sha256 of every "
        "file, modes, symlinks, directories).",
        "",
        "History of the levels (benchmarks/repo_levels.py):",
        "",
    ]
    out += [f"- {k}: {v}" for k, v in history.summary().items()]
    out += ["", "### The checks, in detail", ""]
    for front, load in c.replay.items():
        cpu = ", ".join(f"{k} {v:.1f} s" for k, v in load.server_cpu.items())
        per_request = load.server_cpu.get("uplevel serve", 0.0) / max(load.requests, 1) * 1e3
        cpu += f" ({per_request:.2f} ms of uplevel serve CPU per request)"
        kinds = ", ".join(f"{k} × {n}" for k, n in load.kinds.most_common()) or "none"
        out.append(
            f"- replay via {front}: {load.clients} clients × {load.rounds} rounds = {load.checks} "
            f"checks, {load.requests:,} requests, {load.bytes / 1e6:.1f} MB, {load.wall:.1f} s "
            f"of wall time ({load.checks / load.wall:.1f} checks/s, "
            f"{load.requests / load.wall:.0f} requests/s); p50 "
            f"{repo_load.percentile(load.latencies, 50):.3f} s, p90 "
            f"{repo_load.percentile(load.latencies, 90):.3f} s, p99 "
            f"{repo_load.percentile(load.latencies, 99):.3f} s, max {max(load.latencies):.3f} s; "
            f"errors: {kinds}; failed checks {load.failed_checks}. CPU: load generator "
            f"{load.client_cpu:.1f} s, {cpu}."
        )
    for front, r in c.real.items():
        errs = "; ".join(r.errors[:3]) or "none"
        out.append(
            f"- real checks via {front}: {len(r.seconds)} × `uplevel check --json` started "
            f"together, p50 {statistics.median(r.seconds):.2f} s, max {max(r.seconds):.2f} s, "
            f"{r.requests} requests in the front's access log ({r.requests / len(r.seconds):.1f} "
            f"per check); errors: {errs}."
        )
    out += [
        f"- one check (replayed) = GET `/v1/metadata/2.root.json` (404: no newer root), "
        f"`timestamp.json`, the `N.snapshot.json` it names, the `N.targets.json` that names, the "
        f"newest level's `manifest.json` and the `update.json` of each of the {b.levels} newer "
        f"levels: {c.per_check} requests on one new keep-alive connection, each client with its "
        "own bearer token. That is what a real check does right after a new level is published "
        "(its snapshot and targets are new); the real checks above ran exactly then.",
        f"- each round starts all {c.replay['uplevel serve'].clients} clients at the same "
        "instant (the fronts alternate, and who goes first flips each round). With every "
        "check in flight at once and a server that answers them fairly, each check ends only "
        "when nearly all of the round's requests are done, so p50 and p99 are both close to "
        "the rounds' wall times: the latency here is the front's throughput (requests/s "
        "above), not a queue of unlucky clients. `uplevel serve` is one process (one core at "
        "most) and the nginx front still asks it about every request (auth_request), so both "
        "fronts are bound by its CPU per request. The load generator (Python, httpx, one "
        f"process) shares the {os.cpu_count()} cores with the servers; its CPU time is listed "
        "beside theirs, so compare the fronts with each other, not with another machine.",
        "",
        "### Blob throughput, in detail",
        "",
    ]
    for what, t in tp.items():
        rates = ", ".join(f"{x:,.0f}" for x in t.mb_per_s())
        out.append(f"- {what}: batches of {args.downloads}"
                   f" × {t.size / MIB:.0f} MiB, {args.concurrency} at a time, "
                   f"curl to /dev/null; MB/s per batch: {rates}")  # fmt: skip
    out += [
        "- the same raw blob file (random bytes, stored raw), warm in the page cache; each "
        "way was first checked to return exactly its bytes, and the auth location to answer "
        "401 without a token. Static: a `location /bench-static/ { alias REPO/blobs/; }` "
        "added to the rendered deploy/nginx/uplevel.conf server block (same sendfile, "
        "tcp_nopush), so the only difference is the auth_request subrequest (and try_files).",
        "",
        "### Set-up steps (untimed)",
        "",
    ]
    out += [f"- {s}" for s in b.setup]
    return "\n".join(out) + "\n"


# --- main -------------------------------------------------------------------------------------


def check_tools() -> str:
    nginx = repo_fronts.find_nginx()
    missing = [t for t in ("curl", "cp") if not shutil.which(t)]
    if nginx is None:
        missing.append("nginx")
    if missing:
        raise BenchError(f"missing tools: {', '.join(missing)} (apt-get install -y nginx curl)")
    assert nginx is not None
    return nginx


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--workdir",
        type=Path,
        default=Path("/var/tmp/uplevel-repo-bench"),
        help="trees, repository, homes and logs (~1 GB; default %(default)s)",
    )
    ap.add_argument("--clients", type=int, default=200, help="concurrent replayed checks")
    ap.add_argument("--quick", action="store_true",
                    help="fewer rounds, a smaller blob and fewer real checks (~1 min)")  # fmt: skip
    ap.add_argument("--scale", type=float, default=0.02, help="gen_home.py scale of level 0")
    ap.add_argument("--levels", type=int, default=20, help="levels to publish (>= 20)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, help="check rounds per front (default 4, quick 1)")
    ap.add_argument("--real-checks", type=int, help="real check processes (default 20, quick 10)")
    ap.add_argument("--blob-mib", type=int, help="big blob size (default 128, quick 64)")
    ap.add_argument("--downloads", type=int, help="downloads per batch (default 32, quick 16)")
    ap.add_argument("--batches", type=int, help="download batches per way (default 4, quick 2)")
    ap.add_argument("--concurrency", type=int, default=4, help="downloads at a time")
    ap.add_argument("--uplevel", help="uplevel executable to measure (default: this venv's)")
    ap.add_argument("--no-write", action="store_true", help="do not touch benchmarks/RESULTS.md")
    ap.add_argument("--check", action="store_true", help="exit 3 if any target is missed")
    args = ap.parse_args(argv)
    if args.levels < 20:
        ap.error("--levels must be at least 20 (the history changes files at levels 17 and 19)")
    q = args.quick
    args.rounds = args.rounds or (1 if q else 4)
    args.real_checks = args.real_checks or (10 if q else 20)
    args.blob_mib = args.blob_mib or (64 if q else 128)
    args.downloads = args.downloads or (16 if q else 32)
    args.batches = args.batches or (2 if q else 4)
    load_start = os.getloadavg()[0]
    if load_start > (os.cpu_count() or 1) / 2:
        print(f"warning: load average {load_start:.2f} on {os.cpu_count()} cores: "
              "other work will skew latencies and MB/s", file=sys.stderr)  # fmt: skip
    started = time.perf_counter()
    b: Bench | None = None
    try:
        nginx_bin = check_tools()
        work = args.workdir.resolve()
        work.mkdir(parents=True, exist_ok=True)
        need = 40 * MIB * args.levels + 4 * args.blob_mib * MIB + 512 * MIB
        if trees.free_bytes(work) < need:
            raise BenchError(f"need about {need / 1e9:.1f} GB free under {work}")
        for sub in ("run", "levels", "repo"):
            trees.remove_tree(work / sub)
        b = Bench(find_uplevel(args.uplevel), work, args.levels, args.seed)
        b.load("start")
        print("set-up: trees, levels, repository", flush=True)
        history = build_trees(b, args.scale)
        tree_facts = json.loads((work / "trees" / "manifest.json").read_text())["old"]
        sha, stored = setup_repo(b, args.blob_mib * MIB)
        publish(b, b.levels - 1)
        start = time.perf_counter()
        tokens = create_tokens(b.repo, max(args.clients, args.real_checks), "wso2am-*")
        ops_token = create_tokens(b.repo, 1, "wso2am-*")[0]
        blob_token = create_tokens(b.repo, 1, "benchblob-*")[0]
        b.note(f"{len(tokens) + 2} tokens (uplevel.repo.tokens.create_token)",
               time.perf_counter() - start)  # fmt: skip
        serve = repo_fronts.Serve.start(b.up, b.repo, work / "run" / "logs")
        b.procs.append(serve)
        nginx = repo_fronts.Nginx.start(nginx_bin, b.repo, serve.url.removeprefix("http://"),
                                        free_port(), work / "run" / "nginx")  # fmt: skip
        b.procs.append(nginx)
        b.note(f"uplevel serve at {serve.url}; nginx at {nginx.url} "
               f"({len(nginx.workers)} workers)")  # fmt: skip
        fronts = {
            "uplevel serve": (serve.url, serve.access_log, True),
            "nginx front": (nginx.url, nginx.access_log, False),
        }
        homes: dict[str, list[Path]] = {}
        for front, (url, _log, _) in fronts.items():
            key = "serve" if front == "uplevel serve" else "nginx"
            base = adopt(b, f"check-{key}-base", url, ops_token)
            homes[front] = []
            for i in range(args.real_checks):
                clone_home(base, work / "run" / f"check-{key}-{i:02d}")
                homes[front].append(work / "run" / f"check-{key}-{i:02d}")
        b.note(f"{args.real_checks} check homes per front (cp -al, state copied)")
        publish(b, b.levels)  # the newest level appears after the check homes were adopted

        print(f"part 1: a jump of {b.levels} levels", flush=True)
        b.load("jump")
        jump = part_jump(b, serve, ops_token)

        print("part 2: concurrent checks", flush=True)
        b.load("checks")
        c = Checks()
        c.real = part_checks_real(b, fronts, homes, tokens)
        pids = {
            "uplevel serve": {"uplevel serve": serve.pids},
            "nginx front": {"nginx": nginx.pids, "uplevel serve": serve.pids},
        }
        c.replay = part_checks_replay(b, fronts, tokens[: args.clients], args.rounds, pids)
        first = c.replay["uplevel serve"]
        c.per_check = round(first.requests / first.checks)

        print("part 3: blob throughput", flush=True)
        b.load("throughput")
        tp = part_throughput(b, nginx, serve, sha, stored, blob_token, args.downloads,
                             args.concurrency, args.batches)  # fmt: skip
        b.load("end")
    except (BenchError, CommandFailed, RuntimeError) as exc:
        print(f"benchmark stopped: {exc}", file=sys.stderr)
        return 1
    finally:
        for p in reversed(b.procs if b else []):
            p.stop()
    result = rows(b, jump, c, tp)
    text = section(b, args, result, jump, c, tp, history, tree_facts, nginx_bin)
    print("\n" + table(result))
    print(f"\nwhole run: {time.perf_counter() - started:.0f} s")
    if args.no_write:
        print("\n" + text)
    else:
        report.write_section(HERE / "RESULTS.md", HEADING, text)
        print(f"written to {HERE / 'RESULTS.md'} ({HEADING})")
    trees.remove_tree(work / "run")
    return 3 if args.check and not all(r.ok for r in result if r.ok is not None) else 0


if __name__ == "__main__":
    sys.exit(main())
