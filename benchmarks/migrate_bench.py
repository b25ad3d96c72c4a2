"""Measure `uplevel migrate` against `cp -a` of the same runtime data, and `--link` at two sizes.

Usage: .venv/bin/python benchmarks/migrate_bench.py [--scale 1.0] [--repeat 3] [--workdir DIR]
                                                  [--no-write] [--keep]

The data set (a pure function of --scale; contents seeded, never from the clock):
- the product: gen_home.py's synthetic API Manager (level 0 for OLD, level 1 for NEW) at
  a quarter of --scale, adopted by `uplevel init` (OLD's `uplevel status` warms its index,
  as any operator command does);
- what a server leaves in OLD: H2-like databases (repository/database/*.mv.db), solr index
  segments, thousands of deployed synapse artifacts, tenants with their own artifacts and
  keystores, an added jar: about 270 MB at --scale 1.

Rows (same run, median of --repeat, page cache warm for both sides):
- copy mode: `uplevel migrate` vs `cp -a` of exactly the runtime directories it copies
  (target ≤ 1.2×), and vs `cp -a` followed by `sync` (uplevel makes its copies durable
  before its journal; cp -a does not);
- --link: the same migrate with `--link` on data of 1× and 4× the bytes (same file count):
  near-constant time means the 4× run takes at most 1.25× the 1× run.
Every uplevel run starts from a fresh copy of NEW (made outside the timed span) and is
checked afterwards: every runtime file arrived with OLD's bytes.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gen_home import generate  # noqa: E402
from measure import median, run_timed  # noqa: E402
from report import Row, machine_facts, ratio_row, seconds, table, write_section  # noqa: E402

HEADING = "## Migration"
PRODUCT = "wso2am-4.2.0"
UPLEVEL = str(Path(sys.executable).with_name("uplevel"))
RUNTIME_DIRS = [
    "repository/database",
    "solr/data",
    "repository/deployment/server/synapse-configs",
    "repository/tenants",
]


@dataclass(frozen=True)
class DataSet:
    files: int
    bytes: int


def _blob(rng: random.Random, size: int) -> bytes:
    return rng.randbytes(size)


def write_runtime(old: Path, scale: float, factor: int) -> DataSet:
    """What a server leaves in OLD; `factor` multiplies the big files' sizes only."""
    rng = random.Random(f"runtime-{scale}-{factor}")
    files: dict[str, int] = {}

    def put(rel: str, size: int) -> None:
        path = old / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        chunk = _blob(rng, min(size, 1 << 20))
        with open(path, "wb") as f:
            left = size
            while left > 0:  # repeated chunks: as fast to write, just as costly to copy
                f.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)
        files[rel] = size

    mb = 1 << 20
    for name, size in (("WSO2AM_DB", 60), ("WSO2CARBON_DB", 40), ("WSO2METRICS_DB", 30)):
        put(f"repository/database/{name}.mv.db", int(size * mb * scale) * factor)
    put("repository/database/WSO2SHARED_DB.h2.db", int(20 * mb * scale) * factor)
    for i in range(int(24 * scale) or 1):
        put(f"solr/data/WSO2_CARBON_REGISTRY/index/_{i:x}.cfs", int(4 * mb) * factor)
    for i in range(int(3000 * scale) or 1):
        kind = ("api", "sequences", "endpoints", "proxy-services")[i % 4]
        put(f"repository/deployment/server/synapse-configs/default/{kind}/artifact_{i}.xml", 4096)
    for t in range(1, int(40 * scale) + 2):
        for i in range(40):
            put(f"repository/tenants/{t}/synapse-configs/default/api/api_{i}.xml", 2048)
        put(f"repository/tenants/{t}/resources/security/tenant.jks", 4096)
    put("repository/components/lib/mysql-connector-j-8.4.0.jar", 2_500_000)
    return DataSet(len(files), sum(files.values()))


def uplevel(*args: str | Path) -> None:
    run_timed([UPLEVEL, *map(str, args)])


def fresh(src: Path, dst: Path) -> Path:
    if dst.exists():
        shutil.rmtree(dst)
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)
    return dst


def same_bytes(a: Path, b: Path) -> None:
    for rel in RUNTIME_DIRS:
        r = subprocess.run(["diff", "-rq", str(a / rel), str(b / rel)], capture_output=True)
        if r.returncode != 0:
            raise SystemExit(f"migrate result differs from OLD under {rel}:\n{r.stdout[:2000]!r}")


def migrate_once(old: Path, new_template: Path, work: Path, name: str, *extra: str) -> float:
    new = fresh(new_template, work / name)
    os.sync()  # start clean: no writeback of earlier runs inside the timed span
    t = run_timed([UPLEVEL, "migrate", "--from", str(old), "--to", str(new), *extra])
    same_bytes(old, new)
    return t.seconds


def cp_once(old: Path, work: Path, name: str, *, sync: bool) -> float:
    dest = work / name
    dest.mkdir()
    os.sync()
    cmd = " && ".join(
        f"mkdir -p {dest / os.path.dirname(rel)} && cp -a {old / rel} {dest / rel}"
        for rel in RUNTIME_DIRS
    )
    return run_timed(cmd + (" && sync" if sync else "")).seconds


def prepare(work: Path, scale: float, seed: int) -> tuple[Path, Path]:
    product = work / "product"
    generate(product, scale / 4, seed)
    old, new = work / "old-template", work / "new-template"
    os.rename(product / "old", old)
    os.rename(product / "new", new)
    uplevel("init", "--home", old, "--product", PRODUCT, "--level", "0")
    uplevel("init", "--home", new, "--product", PRODUCT, "--level", "1")
    return old, new


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--workdir",
        type=Path,
        help="its migrate/ subdirectory is used (default: a new one in /var/tmp)",
    )
    ap.add_argument("--seed", type=int, default=1, help="gen_home.py seed of the product")
    ap.add_argument("--uplevel", help="uplevel executable to measure (default: this venv's)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md")
    ap.add_argument("--check", action="store_true", help="exit 3 if a target is missed")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args(argv)  # the options of pack_bench.py too: `./dev bench-pack` passes both
    if args.scale <= 0 or args.repeat < 3:
        ap.error("--scale must be > 0 and --repeat at least 3 (a median of three or more)")
    global UPLEVEL
    UPLEVEL = args.uplevel or UPLEVEL
    if args.workdir:
        work = args.workdir / "migrate"
        if work.exists():
            shutil.rmtree(work)
    else:
        work = Path(tempfile.mkdtemp(prefix="uplevel-migrate-bench-", dir="/var/tmp"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        old_product, new_template = prepare(work, args.scale, args.seed)
        rows: list[Row] = []
        sets: dict[int, DataSet] = {}
        link_times: dict[int, float] = {}
        samples: dict[str, list[float]] = {}
        for factor in (1, 4):
            old = fresh(old_product, work / f"old-x{factor}")
            sets[factor] = write_runtime(old, args.scale, factor)
            uplevel("status", "--home", old)  # as any command would: the index is warm
            if factor == 1:
                # Interleaved, and nothing deleted until the end (this file system may
                # discard freed blocks online): noise from the machine hits every column.
                runs: dict[str, list[float]] = {"ours": [], "cp": [], "cp_sync": []}
                for i in range(args.repeat):
                    runs["ours"].append(migrate_once(old, new_template, work, f"copy{i}"))
                    runs["cp"].append(cp_once(old, work, f"cp{i}", sync=False))
                    runs["cp_sync"].append(cp_once(old, work, f"cps{i}", sync=True))
                ours, cp, cp_sync = (median(runs[k]) for k in ("ours", "cp", "cp_sync"))
                samples["migrate (copy)"] = runs["ours"]
                samples["cp -a"] = runs["cp"]
                samples["cp -a && sync"] = runs["cp_sync"]
                what = f"{sets[1].files:,} files, {sets[1].bytes / (1 << 20):.0f} MiB"
                rows.append(ratio_row(f"migrate (copy) vs cp -a — {what}", ours, cp, 1.2))
                rows.append(
                    ratio_row(f"migrate (copy) vs cp -a && sync — {what}", ours, cp_sync, 1.2)
                )
                plan_only = median(
                    [
                        run_timed(
                            [UPLEVEL, "migrate", "--from", str(old), "--to", str(new_template),
                             "--dry-run"]
                        ).seconds
                        for _ in range(args.repeat)
                    ]
                )  # fmt: skip
            samples[f"migrate --link, {factor}×"] = [
                migrate_once(old, new_template, work, f"link{factor}-{i}", "--link")
                for i in range(args.repeat)
            ]
            link_times[factor] = median(samples[f"migrate --link, {factor}×"])
        small, big = link_times[1], link_times[4]
        rows.append(
            Row(
                f"migrate --link: {sets[4].bytes / (1 << 20):.0f} MiB vs "
                f"{sets[1].bytes / (1 << 20):.0f} MiB (same {sets[1].files:,} files)",
                seconds(big),
                seconds(small),
                f"{big / small:.2f}",
                "≤ 1.25 (near-constant)",
                big / small <= 1.25,
            )
        )
        rows.append(
            Row("migrate --dry-run (scan and plan only)", seconds(plan_only), "", "", "", None)
        )
        facts = machine_facts(work)
        text = render(rows, facts, args.scale, args.repeat, sets, samples)
        print(text)
        if not args.no_write:
            write_section(HERE / "RESULTS.md", HEADING, text)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 3 if args.check and any(r.ok is False for r in rows) else 0


EXPLANATION = """\
Where the time goes, measured inside quiet copy-mode runs on the 1× data set (1.09-1.19 s
in all, in-process): walking both homes 0.06-0.09 s, planning 0.18-0.21 s (per-file Python
work over ~8,400 files of OLD, the product's files proven unchanged by OLD's stat index
without being read), staging 0.38 s (copying and hashing 263 MiB in 4,710 files on two
threads) plus one syncfs of 0.14-0.15 s, the rest of staging (trees, journal) 0.1 s, the
steps 0.03-0.06 s, commit 0.03 s; about 0.1 s more is interpreter start-up. Directories NEW
lacks altogether (here the 41 tenants, 1,681 files) are staged as whole trees and moved in
by one rename step each, so the steps went from ~4,960 (a mkdir per directory, a rename per
file) to ~3,050 (the 3,000 synapse artifacts land in directories NEW already has: one
rename each); that took the steps from 0.13-0.17 s to 0.03-0.06 s. An A/B run of the
previous and this version, interleaved with `cp -a` (5 rounds, medians): 2.00 s → 1.77 s,
ratio to `cp -a` 1.97 → 1.74, to `cp -a && sync` 1.39. What remains over `cp -a && sync` is
per-file Python work `cp -a` does not have (the plan against the pristine manifest, the
journal and record of every file, the hash of every byte) and interpreter start-up, about
0.4-0.5 s in all, none of it one dominant cost; the byte copy itself issues the same system
calls as `cp -a` (strace: open, copy or read/write, fchmod/fchown, close per file). On this
2-core VM shared with other jobs (ext4 mounted with online discard), single runs of the
very same command vary by 2-3× (see the samples), so a ratio that passes in one run may
fail in the next; the copy-mode target of 1.2× is not met: at quiet moments `cp -a` takes
0.3-0.45 s, and 1.2× of that leaves no room for the ~0.5 s of per-file work and start-up
above, let alone the hashing. `--link` follows the number of files, not their bytes; its
4×/1× ratio is within this machine's noise and can cross 1.25 in one run (A/B on the 1×
data, 5 rounds: 1.14 s before the tree steps, 0.95 s after).

What the ratios mean. `cp -a` copies without reading anything back and leaves its data in
the page cache, not on disk. uplevel migrate, in copy mode, (1) walks OLD and NEW and
refuses if a server runs (pid file, `*.lock.db`, a POSIX lock on any `*.mv.db`/`*.h2.db`),
(2) plans from OLD's pristine manifest (its stat index spares re-reading the product's
files), (3) copies each runtime file into NEW's staging area and hashes it (small files
through one buffer, large ones with copy_file_range and a read-back of the staged copy; a
few threads), re-checks that OLD's file did not change meanwhile, (4) makes all
staged files durable with one syncfs(2) and writes its journal, then (5) renames them into
place (a directory NEW lacks as one tree) and commits. Step (4) is the part `cp -a` does not do at all: the `cp -a && sync` row
is the like-for-like comparison for durability. With `--link`, runtime files are reflinked
(CoW file systems) or hardlinked instead of copied, and not read (no byte copied, nothing
to verify), so its time depends on the number of files, not on their bytes.
"""


def render(
    rows: list[Row],
    facts: dict[str, str],
    scale: float,
    repeat: int,
    sets: dict[int, DataSet],
    samples: dict[str, list[float]],
) -> str:
    lines = [
        HEADING,
        "",
        "Produced by `benchmarks/migrate_bench.py` (`./dev bench-pack`); "
        f"--scale {scale:g}, median of {repeat} runs.",
        "",
        table(rows),
        "",
        f"Data set at 1×: {sets[1].files:,} runtime files, {sets[1].bytes:,} bytes; "
        f"at 4×: {sets[4].bytes:,} bytes.",
        "",
        "Every timed run, in order (seconds): "
        + "; ".join(f"{k}: {', '.join(f'{x:.2f}' for x in v)}" for k, v in samples.items())
        + ".",
        "",
        EXPLANATION,
        "Machine: " + "; ".join(f"{k}: {v}" for k, v in facts.items() if k != "rsync"),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
