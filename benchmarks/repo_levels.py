"""Levels 2…N of a product for the repository benchmark, on disk, from gen_home's levels 0 and 1.

Why a schedule rather than random churn: the jump's promise is about contents that change
more than once ("each content once however many levels it spans"), so the history must
have them on purpose: hot files changed at levels 3 and 17 and a few more, files changed at
3 and removed at 17, files added and removed again a few levels later, a file changed and
later restored to its level-0 bytes, jars renamed under bumped versions, two new files with
the same bytes, and a mode-only change. Everything is a pure function of the seed, so runs
compare like with like.

Each level is a `cp -al` of the one before (cheap), and every write first unlinks the path,
so a change never leaks into an earlier level through a shared inode.
"""

from __future__ import annotations

import os
import random
import re
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

TEXT_SUFFIXES = frozenset(
    {".xml", ".properties", ".sh", ".js", ".jsp", ".css", ".toml", ".txt", ".sql", ".j2", ".html"}
)
# Data files a product update never ships: left alone, as in a real update.
FROZEN_PREFIXES = ("repository/database/", "solr/", "updates/")
HOT_BINARY, HOT_TEXT = 12, 8
COLD_PER_LEVEL = 5
RENAME_LEVELS = (4, 9, 14, 19)
KEPT_ADD_LEVELS = (6, 10, 15, 20)
DROPINS = "repository/components/dropins"


@dataclass
class History:
    """What the schedule did, for the report (counts are paths, not levels)."""

    levels: int
    hot: dict[str, list[int]] = field(default_factory=dict)
    changed_then_removed: list[str] = field(default_factory=list)
    transient: dict[str, tuple[int, int]] = field(default_factory=dict)
    restored: str = ""
    renamed: list[tuple[str, str, int]] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    mode_only: str = ""
    writes: int = 0  # file contents written across all levels (every level counts)

    def summary(self) -> dict[str, object]:
        changes = [len(v) for v in self.hot.values()]
        return {
            "levels": self.levels,
            "hot files (changed at 3, 17 and more)": len(self.hot),
            "hot changes per file (min-max)": f"{min(changes)}-{max(changes)}" if changes else "-",
            "changed at 3, removed at 17": len(self.changed_then_removed),
            "added then removed again": len(self.transient),
            "changed at 5, restored to level-0 bytes at 12": 1 if self.restored else 0,
            "jars renamed to a bumped version": len(self.renamed),
            "new files with identical bytes (level 8)": len(self.duplicated),
            "mode-only change (level 11)": 1 if self.mode_only else 0,
            "file contents written, all levels": self.writes,
        }


def _files(root: Path) -> dict[str, int]:
    """{relative path: size} of the regular files under root."""
    out: dict[str, int] = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            full = Path(dirpath, name)
            st = full.lstat()
            if stat.S_ISREG(st.st_mode):
                out[full.relative_to(root).as_posix()] = st.st_size
    return out


def _write(root: Path, rel: str, data: bytes, mode: int | None = None) -> None:
    """Replace (never modify in place: the inode may be shared with earlier levels)."""
    path = root / rel
    old_mode = None
    if path.exists():
        old_mode = stat.S_IMODE(path.lstat().st_mode)
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.chmod(path, mode if mode is not None else old_mode if old_mode is not None else 0o644)


def _text_line(rel: str, level: int, tag: str) -> bytes:
    suffix = Path(rel).suffix
    words = f"level {level}: {tag}"
    if suffix in (".xml", ".html", ".jsp"):
        return f"<!-- {words} -->\n".encode()
    if suffix in (".js", ".css"):
        return f"/* {words} */\n".encode()
    if suffix == ".sql":
        return f"-- {words}\n".encode()
    return f"# {words}\n".encode()


def _bump(rel: str, existing: set[str]) -> str:
    """foo_4.2.0.jar → foo_4.2.1.jar (the last number before .jar), never an existing name."""
    m = re.search(r"(\d+)(\D*)\.jar$", rel)
    n = int(m.group(1)) if m else 0
    while True:
        n += 1
        new = rel[: m.start(1)] + f"{n}{m.group(2)}.jar" if m else rel[:-4] + f"-{n}.jar"
        if new not in existing:
            return new


class Builder:
    def __init__(self, seed: int, levels: int) -> None:
        self.seed = seed
        self.history = History(levels)

    def change(self, root: Path, rel: str, level: int, tag: str) -> None:
        """A new version of rel: a text line appended, or fresh bytes of about the same size."""
        path = root / rel
        data = path.read_bytes()
        if Path(rel).suffix in TEXT_SUFFIXES:
            new = data + (b"" if data.endswith(b"\n") or not data else b"\n")
            new += _text_line(rel, level, tag)
        else:
            rng = random.Random(f"{self.seed}:{rel}:{level}:{tag}")
            new = rng.randbytes(max(1024, int(len(data) * rng.uniform(0.97, 1.03))))
        _write(root, rel, new)
        self.history.writes += 1

    def new_file(self, root: Path, rel: str, level: int, size: int, key: str = "") -> None:
        rng = random.Random(f"{self.seed}:new:{key or rel}:{level}")
        _write(root, rel, rng.randbytes(size), 0o644)
        self.history.writes += 1


def build_levels(level0: Path, level1: Path, out: Path, *, levels: int, seed: int) -> History:
    """Write out/2 … out/<levels> (level 0 and 1 are gen_home's old/ and new/, used as is)."""
    if levels < 20:
        raise ValueError("the schedule needs at least 20 levels (it changes files at 17 and 19)")
    b = Builder(seed, levels)
    h = b.history
    rng = random.Random(f"{seed}:levels")
    base0, base1 = _files(level0), _files(level1)
    pool = sorted(
        p for p in base1 if not p.startswith(FROZEN_PREFIXES) and base0.get(p) == base1[p]
    )
    texts = [p for p in pool if Path(p).suffix in TEXT_SUFFIXES]
    binaries = [p for p in pool if Path(p).suffix not in TEXT_SUFFIXES]
    hot = rng.sample(binaries, HOT_BINARY) + rng.sample(texts, HOT_TEXT)
    middle = [n for n in range(2, levels + 1) if n not in (3, 17)]
    for p in hot:
        h.hot[p] = sorted({3, 17, *rng.sample(middle, rng.randint(1, 3))})
    rest = [p for p in binaries if p not in h.hot]
    h.changed_then_removed = rng.sample(rest, 2)
    rest = [p for p in rest if p not in h.changed_then_removed]
    h.restored = rng.choice(rest)
    rest.remove(h.restored)
    jars = [p for p in rest if p.endswith(".jar") and "/plugins/" in p]
    renames = rng.sample(jars, len(RENAME_LEVELS))
    rest = [p for p in rest if p not in renames]
    shell = sorted(p for p in pool if p.endswith(".sh") and p not in h.hot)
    h.mode_only = shell[0] if shell else ""
    cold_pool = [
        p for p in pool if p in rest or (p in texts and p not in h.hot and p != h.mode_only)
    ]

    prev = level1
    for n in range(2, levels + 1):
        here = out / str(n)
        if here.exists():
            subprocess.run(["rm", "-rf", str(here)], check=True)
        here.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-al", str(prev), str(here)], check=True)
        for p, at in h.hot.items():
            if n in at:
                b.change(here, p, n, "hot")
        for p in h.changed_then_removed:
            if n == 3:
                b.change(here, p, n, "then removed")
            elif n == 17:
                (here / p).unlink()
        if n == 5:
            b.change(here, h.restored, n, "restored later")
        elif n == 12:
            _write(here, h.restored, (level0 / h.restored).read_bytes())
        for p in rng.sample(cold_pool, COLD_PER_LEVEL):
            b.change(here, p, n, "cold")
        if n <= levels - 3:  # two files that come and go again
            for i in range(2):
                rel = f"{DROPINS}/bench.transient-{n}.{i}_1.0.0.jar"
                b.new_file(here, rel, n, rng.randint(20_000, 400_000))
                h.transient[rel] = (n, n + rng.randint(1, 3))
        for rel, (_added, gone) in h.transient.items():
            if gone == n:
                (here / rel).unlink()
        if n in RENAME_LEVELS:
            old = renames[RENAME_LEVELS.index(n)]
            new = _bump(old, set(_files(here)))
            size = (here / old).stat().st_size
            (here / old).unlink()
            b.new_file(here, new, n, size)
            h.renamed.append((old, new, n))
        if n in KEPT_ADD_LEVELS:
            b.new_file(
                here, f"{DROPINS}/bench.added-{n}_1.0.0.jar", n, rng.randint(50_000, 300_000)
            )
        if n == 8:
            for i in range(2):
                rel = f"{DROPINS}/bench.twin-{i}_1.0.0.jar"
                b.new_file(here, rel, n, 150_000, key="twin")
                h.duplicated.append(rel)
        if n == 11 and h.mode_only:
            path = here / h.mode_only
            data = path.read_bytes()
            _write(here, h.mode_only, data, 0o750)
        prev = here
    return h
