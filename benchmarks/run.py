"""Benchmark uplevel's in-place engine against the plain tools an operator would use instead.

Usage: .venv/bin/python benchmarks/run.py [--scale 1.0] [--workdir /var/tmp/uplevel-bench]
                                          [--repeat 3] [--seed 1] [--check]

Why side by side in one run: absolute seconds depend on the machine and on what else it is
doing; the ratio to rsync, git or sha256sum measured minutes apart on the same warm page
cache does not, so the targets are ratios. Every uplevel command must exit 0 and every
applied or reverted home must equal the expected tree byte for byte, or the run stops.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import report
import trees
from measure import CommandFailed, Timed, median, run_timed, tree_peak_pss
from report import MIB, Row

HERE = Path(__file__).resolve().parent
PRODUCT = "wso2am-4.2.0"
REF_VERIFY = (
    f"find . -path ./{trees.STATE_DIR} -prune -o -type f -print0 | xargs -0 sha256sum > /dev/null"
)
RSS_LIMIT = 150 * MIB
MEMORY_NOTE = """\
Max RSS is `ru_maxrss` from `os.wait4` for each timed run: the largest single process
(a command's reaped worker processes are not added). Process-tree PSS is the peak, polled
every 5 ms in a separate untimed run, of the summed proportional set size of the command
and all its descendants: the memory it really holds when it hashes in worker processes.
The peak RSS row passes when both are within the limit."""
COMMANDS = """\
- uplevel is `{up}`; the bundle `{bundle}` is made by `uplevel bundle create` (set-up).
- apply: `uplevel apply --home H BUNDLE` vs `rsync -a --delete --fsync NEW/ COPY/`, each on
  a fresh `cp -a` of OLD (the copy and `uplevel init` are untimed).
- revert: `uplevel revert --home H` right after that apply vs
  `rsync -a --delete --fsync OLD/ COPY/` on the rsync copy, which is then at NEW.
- status, warm: `uplevel status --home H` after one untimed status vs
  `git status --porcelain` on a separate committed copy, after one untimed run.
- verify: `uplevel verify --home H` vs `{ref_verify}` in H, both after a warm-up.
- backup growth: apparent bytes under `H/updates/uplevel/objects/` after the first apply
  ({after_apply}; {after_init} right after init) vs the old bytes of every file the
  update modifies or removes.
- every apply/revert result (of both tools) is compared with NEW/OLD by the sha256 of every
  file, every mode and every symlink target before the next step runs.
"""


class BenchError(RuntimeError):
    """The environment or the result is not fit to measure: say what to do and stop."""


@dataclass
class Bench:
    """Shared state of one run: paths, expected trees and everything measured so far."""

    up: list[str]
    work: Path
    old: Path
    new: Path
    manifest: dict[str, object]
    repeat: int
    want_old: trees.Digest = field(default_factory=dict)
    want_new: trees.Digest = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)
    rss: dict[str, int] = field(default_factory=dict)
    setup: list[str] = field(default_factory=list)
    backup: dict[str, int] = field(default_factory=dict)
    pss: dict[str, int] = field(default_factory=dict)

    @property
    def bundle(self) -> Path:
        return self.work / "bench.bundle"

    def uplevel(self, *args: str) -> Timed:
        t = run_timed([*self.up, *args])
        key = "bundle create" if args[0] == "bundle" else args[0]
        self.rss[key] = max(self.rss.get(key, 0), t.max_rss)
        return t

    def note(self, what: str, t: Timed | float | None = None) -> None:
        secs = t if isinstance(t, float) else t.seconds if t else None
        line = what if secs is None else f"{what}: {secs:.2f} s"
        if isinstance(t, Timed) and t.argv.startswith(self.up[0]):
            line += f", max RSS {t.max_rss / MIB:.0f} MiB"
        self.setup.append(line)
        print(f"  set-up  {line}", flush=True)

    def timed(self, key: str, cmd: list[str] | str, cwd: Path | None = None) -> Timed:
        """Flush dirty pages first (untimed): writeback left by the set-up copies must not
        land inside one side's fsyncs and not the other's."""
        os.sync()
        if isinstance(cmd, list) and cmd[: len(self.up)] == self.up:
            t = self.uplevel(*cmd[len(self.up) :])
        else:
            t = run_timed(cmd, cwd=cwd)
        self.sample(key, t)
        return t

    def sample(self, key: str, t: Timed) -> None:
        self.samples.setdefault(key, []).append(t.seconds)
        print(f"  timed   {key}: {t.seconds:.3f} s", flush=True)

    def probe(self, *args: str) -> None:
        """Untimed run of an uplevel command that records its process tree's peak PSS."""
        peak, code = tree_peak_pss([*self.up, *args])
        if code != 0:
            raise BenchError(f"uplevel {args[0]} exited {code} during the memory probe")
        self.pss[args[0]] = max(self.pss.get(args[0], 0), peak)
        print(f"  probe   {args[0]}: process-tree PSS {peak / MIB:.1f} MiB", flush=True)

    def check(self, home: Path, want: trees.Digest, what: str) -> None:
        diffs = trees.differences(trees.digest(home), want)
        if diffs:
            raise BenchError(f"{what}: {home} is not the expected tree:\n  " + "\n  ".join(diffs))

    def adopted_copy(self, name: str) -> Path:
        home = self.work / "run" / name
        start = time.perf_counter()
        trees.copy_tree(self.old, home)
        self.note(f"cp -a old {name}", time.perf_counter() - start)
        self.note(
            "uplevel init",
            self.uplevel("init", "--home", str(home), "--product", PRODUCT, "--level", "0"),
        )
        return home


def apply_revert_round(b: Bench, i: int) -> None:
    """One repeat: uplevel apply+revert on one fresh copy, rsync both ways on another."""

    def ours() -> None:
        home = b.adopted_copy("apply-home")
        objects = home / trees.STATE_DIR / "objects"
        before = trees.bytes_under(objects)
        b.timed("apply/uplevel", [*b.up, "apply", "--home", str(home), str(b.bundle)])
        b.check(home, b.want_new, "after uplevel apply")
        b.backup.setdefault("after init", before)
        b.backup.setdefault("after apply", trees.bytes_under(objects))
        b.timed("revert/uplevel", [*b.up, "revert", "--home", str(home)])
        b.check(home, b.want_old, "after uplevel revert")
        trees.remove_tree(home)

    def theirs() -> None:
        home = b.work / "run" / "rsync-home"
        trees.copy_tree(b.old, home)
        rsync = ["rsync", "-a", "--delete", "--fsync"]
        b.timed("apply/rsync", [*rsync, f"{b.new}/", f"{home}/"])
        b.check(home, b.want_new, "after rsync NEW/ COPY/")
        b.timed("revert/rsync", [*rsync, f"{b.old}/", f"{home}/"])
        b.check(home, b.want_old, "after rsync OLD/ COPY/")
        trees.remove_tree(home)

    # Alternate who goes first so slow drift (writeback, cache) does not favour one side.
    for step in (ours, theirs) if i % 2 == 0 else (theirs, ours):
        step()


def status_and_verify(b: Bench) -> None:
    home = b.adopted_copy("status-home")
    b.note("uplevel status (cold, fills the stat cache)", b.uplevel("status", "--home", str(home)))
    repo = b.work / "run" / "git-home"
    trees.copy_tree(b.old, repo)
    start = time.perf_counter()
    git = ["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    for args in (
        ["init", "-q"],
        ["config", "gc.auto", "0"],
        ["add", "-A"],
        ["commit", "-q", "-m", "level 0"],
    ):
        subprocess.run([*git, *args], check=True)
    b.note("git init && git add -A && git commit", time.perf_counter() - start)
    status = [*git, "status", "--porcelain"]
    if run_timed(status).stdout.strip():
        raise BenchError(f"git status is not clean in {repo}: the reference would do extra work")
    for _ in range(b.repeat):
        b.timed("status/uplevel", [*b.up, "status", "--home", str(home)])
        b.timed("status/git", status)
    trees.remove_tree(repo)
    b.note("uplevel verify (warm-up)", b.uplevel("verify", "--home", str(home)))
    b.note("sha256sum (warm-up)", run_timed(REF_VERIFY, cwd=home))
    for _ in range(b.repeat):
        b.timed("verify/uplevel", [*b.up, "verify", "--home", str(home)])
        b.timed("verify/sha256sum", REF_VERIFY, cwd=home)
    b.probe("status", "--home", str(home))
    b.probe("verify", "--home", str(home))
    trees.remove_tree(home)


def memory_round(b: Bench) -> None:
    """Apply and revert once more, untimed, under /proc polling (see measure.tree_peak_pss)."""
    home = b.adopted_copy("probe-home")
    b.probe("apply", "--home", str(home), str(b.bundle))
    b.check(home, b.want_new, "after uplevel apply (memory probe)")
    b.probe("revert", "--home", str(home))
    b.check(home, b.want_old, "after uplevel revert (memory probe)")
    trees.remove_tree(home)


def rows(b: Bench) -> list[Row]:
    m = {k: median(v) for k, v in b.samples.items()}
    update = b.manifest["update"]
    assert isinstance(update, dict)
    replaced = int(update["replaced_old_bytes"])
    ops = ("apply", "revert", "status", "verify", "init")
    worst = max(ops, key=lambda k: b.rss.get(k, 0))
    peak = b.rss.get(worst, 0)
    worst_tree = max(ops, key=lambda k: b.pss.get(k, 0))
    tree = b.pss.get(worst_tree, 0)
    memory = f"{report.mib(peak)} ({worst}); tree PSS {report.mib(tree)} ({worst_tree})"
    return [
        report.ratio_row("apply", m["apply/uplevel"], m["apply/rsync"], 1.0),
        report.ratio_row("revert", m["revert/uplevel"], m["revert/rsync"], 1.0),
        report.ratio_row("status, warm", m["status/uplevel"], m["status/git"], 1.5),
        report.ratio_row("verify", m["verify/uplevel"], m["verify/sha256sum"], 0.4),
        report.ratio_row("backup growth", b.backup["after apply"], replaced, 1.05, unit="B"),
        Row("peak RSS", memory, "—", "—", "≤ 150 MiB", max(peak, tree) <= RSS_LIMIT),
    ]


def details(b: Bench) -> list[tuple[str, str]]:
    up = " ".join(b.up)
    samples = "\n".join(
        f"- {k}: " + ", ".join(f"{s:.3f}" for s in v) for k, v in sorted(b.samples.items())
    )
    rss = "\n".join(
        f"- uplevel {k}: max RSS {v / MIB:.1f} MiB"
        + (f"; process-tree PSS {b.pss[k] / MIB:.1f} MiB" if k in b.pss else "")
        for k, v in sorted(b.rss.items())
    )
    m = {k: v for k, v in b.manifest.items() if k not in ("changes",)}
    commands = COMMANDS.format(
        up=up, bundle=b.bundle, ref_verify=REF_VERIFY,
        after_apply=report.mib(b.backup["after apply"]),
        after_init=report.mib(b.backup["after init"]),
    )  # fmt: skip
    return [
        ("Commands", commands),
        ("Timed samples (seconds)", samples),
        ("Memory per uplevel command (max over all its runs)", rss + "\n\n" + MEMORY_NOTE),
        ("Set-up steps (untimed)", "\n".join(f"- {s}" for s in b.setup)),
        ("Trees (benchmarks/gen_home.py)", "```json\n" + json.dumps(m, indent=1) + "\n```"),
    ]


def find_uplevel(explicit: str | None) -> list[str]:
    """The console script beside this interpreter, else `python -m uplevel`; must answer --help."""
    script = Path(sys.prefix) / "bin" / "uplevel"
    candidates = [[sys.executable, "-m", "uplevel"]]
    if script.exists():
        candidates.insert(0, [str(script)])
    if explicit:
        candidates = [[explicit]]
    for argv in candidates:
        probe = subprocess.run([*argv, "--help"], capture_output=True, check=False)
        if probe.returncode == 0:
            return argv
    raise BenchError(f"uplevel CLI not available: tried {script} and `{sys.executable} -m uplevel`")


def check_tools() -> None:
    missing = [
        t for t in ("rsync", "git", "sha256sum", "cp", "find", "xargs") if not shutil.which(t)
    ]
    if missing:
        hint = " (apt-get install -y rsync)" if "rsync" in missing else ""
        raise BenchError(f"missing tools: {', '.join(missing)}{hint}")


def ensure_trees(work: Path, scale: float, seed: int) -> dict[str, object]:
    """Reuse work/trees if it was generated with the same scale, seed and generator version."""
    import gen_home

    out = work / "trees"
    path = out / gen_home.MANIFEST
    if path.exists():
        manifest: dict[str, object] = json.loads(path.read_text())
        same = (manifest.get("scale"), manifest.get("seed"), manifest.get("generator_version"))
        if same == (scale, seed, gen_home.GENERATOR_VERSION):
            print(f"reusing trees in {out}", flush=True)
            return manifest
    need = int(6 * 700e6 * scale) + 512 * MIB
    have = trees.free_bytes(work)
    if have < need:
        raise BenchError(
            f"need about {need / 1e9:.1f} GB free under {work}, have {have / 1e9:.1f} GB: "
            "pass --workdir on a bigger file system or a smaller --scale"
        )
    print(f"generating trees in {out} (scale {scale:g}, seed {seed})", flush=True)
    gen = [sys.executable, str(HERE / "gen_home.py"), str(out), "--force"]
    gen += ["--scale", str(scale), "--seed", str(seed)]
    subprocess.run(gen, check=True, stdout=subprocess.DEVNULL)
    manifest = json.loads(path.read_text())
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--workdir", type=Path, default=Path("/var/tmp/uplevel-bench"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--check", action="store_true", help="exit 3 if any target is missed")
    ap.add_argument("--uplevel", help="uplevel executable to measure (default: this venv's)")
    args = ap.parse_args(argv)
    load_start = os.getloadavg()[0]
    if load_start > (os.cpu_count() or 1) / 2:
        print(f"warning: load average {load_start:.2f} on {os.cpu_count()} cores: "
              "other work will skew both sides", file=sys.stderr)  # fmt: skip
    try:
        check_tools()
        up = find_uplevel(args.uplevel)
        work = args.workdir.resolve()
        work.mkdir(parents=True, exist_ok=True)
        trees.remove_tree(work / "run")
        manifest = ensure_trees(work, args.scale, args.seed)
        tree_bytes = int(manifest["old"]["bytes"])  # type: ignore[index]
        if trees.free_bytes(work) < 4 * tree_bytes + 512 * MIB:
            raise BenchError(
                f"need about {4 * tree_bytes / 1e9:.1f} GB free under {work} for copies"
            )
        b = Bench(up, work, work / "trees" / "old", work / "trees" / "new", manifest, args.repeat)
        b.want_old, b.want_new = trees.digest(b.old), trees.digest(b.new)
        b.bundle.unlink(missing_ok=True)
        create = ["bundle", "create", "--product", PRODUCT, "--title", "bench"]
        create += ["--from-tree", str(b.old), "--to-tree", str(b.new)]
        create += ["--from-level", "0", "--to-level", "1", "-o", str(b.bundle)]
        b.note("uplevel bundle create", b.uplevel(*create))
        b.note(f"bundle size: {b.bundle.stat().st_size / MIB:.1f} MiB")
        for i in range(args.repeat):
            print(f"apply/revert round {i + 1}/{args.repeat}", flush=True)
            apply_revert_round(b, i)
        print("memory probe", flush=True)
        memory_round(b)
        print("status and verify", flush=True)
        status_and_verify(b)
    except (BenchError, CommandFailed) as exc:
        print(f"benchmark stopped: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, BenchError) and "CLI" in str(exc) else 1
    result = rows(b)
    facts = report.machine_facts(work) | {
        "scale": f"{args.scale:g} ({manifest['old']['files']} files, "  # type: ignore[index]
        f"{tree_bytes / 1e6:.0f} MB per tree)",
        "repeat": str(args.repeat),
        # Both sides share the machine with whatever else runs: a busy one skews the ratios.
        "load average (1 min) at start / end": f"{load_start:.2f} / {os.getloadavg()[0]:.2f}",
    }
    report.write_results(HERE / "RESULTS.md", result, facts, details(b))
    print("\n" + report.table(result))
    print(f"\nwritten to {HERE / 'RESULTS.md'}")
    trees.remove_tree(work / "run")
    return 3 if args.check and not all(r.ok for r in result if r.ok is not None) else 0


if __name__ == "__main__":
    sys.exit(main())
