"""Generate a synthetic WSO2 API Manager 4.x home (level 0) and its next level (level 1).

Usage: python benchmarks/gen_home.py OUTDIR [--scale 1.0] [--seed 1] [--force]

Why synthetic: a real pack is 700 MB that cannot be fetched here and would not come with a
matching update. The trees are a pure function of (seed, scale): contents, modes and mtimes
are fixed, never taken from the clock, so runs on different days compare like with like.
Unchanged files are written as plain files in both trees (no hardlinks), so an engine that
modifies a file in place can never corrupt the reference tree.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from homeshape import T0, Entry, build_level0
from update_plan import Change, plan_level1

GENERATOR_VERSION = 1
MANIFEST = "manifest.json"


def write_tree(root: Path, entries: list[Entry]) -> dict[str, int]:
    """Write entries under root; return {path: size} of regular files.

    Directory mtimes are set last, deepest first, because creating a child bumps them.
    """
    sizes: dict[str, int] = {}
    dirs: set[Path] = {root}
    for e in entries:
        path = root / e.path
        for parent in reversed(path.relative_to(root).parents):
            dirs.add(root / parent)
        if e.kind == "dir":
            path.mkdir(parents=True, exist_ok=True)
            dirs.add(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if e.kind == "link":
            os.symlink(e.target, path)
            os.utime(path, (e.mtime, e.mtime), follow_symlinks=False)
            continue
        assert e.content is not None
        data = e.content.render()
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, e.mode)
        os.utime(path, (e.mtime, e.mtime))
        sizes[e.path] = len(data)
    for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
        os.utime(d, (T0, T0))
    return sizes


def summarize(old: dict[str, int], new: dict[str, int], change: Change) -> dict[str, object]:
    """Counts and bytes of both trees and of the update, as the benchmark report needs them."""

    def part(paths: list[str], sizes: dict[str, int]) -> dict[str, int]:
        return {"files": len(paths), "bytes": sum(sizes[p] for p in paths)}

    return {
        "old": {"files": len(old), "bytes": sum(old.values())},
        "new": {"files": len(new), "bytes": sum(new.values())},
        "update": {
            "added": part(change.added, new),
            "modified": part(change.modified, new),
            "removed": part(change.removed, old),
            "mode_changed": {"files": len(change.mode)},
            # What an engine that keeps every replaced byte must store, at least.
            "replaced_old_bytes": sum(old[p] for p in change.modified + change.removed),
            "touched_files": len(change.added)
            + len(change.modified)
            + len(change.removed)
            + len(change.mode),
            "touched_new_bytes": sum(new[p] for p in change.added + change.modified),
        },
    }


def generate(outdir: Path, scale: float, seed: int) -> dict[str, object]:
    """Write OUTDIR/old and OUTDIR/new, then OUTDIR/manifest.json (written last: it marks a
    complete generation, so a run interrupted half-way is never mistaken for a good one)."""
    started = time.perf_counter()
    home = build_level0(seed, scale)
    level1, change = plan_level1(home, seed, scale)
    old_sizes = write_tree(outdir / "old", home.entries)
    new_sizes = write_tree(outdir / "new", level1)
    summary: dict[str, object] = {
        "generator_version": GENERATOR_VERSION,
        "scale": scale,
        "seed": seed,
        **summarize(old_sizes, new_sizes, change),
        "changes": {
            "added": change.added,
            "modified": change.modified,
            "removed": change.removed,
            "mode_changed": change.mode,
        },
    }
    (outdir / MANIFEST).write_text(json.dumps(summary, indent=1) + "\n")
    print(f"generated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--force", action="store_true", help="replace existing old/ and new/")
    args = ap.parse_args(argv)
    if args.scale <= 0:
        ap.error("--scale must be > 0")
    for sub in ("old", "new", MANIFEST):
        target = args.outdir / sub
        if target.exists() or target.is_symlink():
            if not args.force:
                ap.error(f"{target} exists; pass --force to replace it")
            shutil.rmtree(target) if target.is_dir() else target.unlink()
    args.outdir.mkdir(parents=True, exist_ok=True)
    summary = generate(args.outdir, args.scale, args.seed)
    summary.pop("changes")
    json.dump(summary, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
