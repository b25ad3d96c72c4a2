"""Sample homes and snapshots of trees, and the real `uplevel` CLI run in a subprocess."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uplevel.core.paths import STATE_DIR
from uplevel.devtools.sample import PRODUCT, write_level, write_security_fix

Snapshot = dict[str, tuple[str, int, str]]


def snapshot(root: Path, *, include_state: bool = False) -> Snapshot:
    """Every path under root: (kind, mode, sha256 or link target). Directories included."""
    out: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        for name in dirnames + filenames:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if not include_state and (rel == STATE_DIR or rel.startswith(STATE_DIR + "/")):
                continue
            if (
                not include_state
                and rel == "updates"
                and os.listdir(os.path.join(dirpath, name)) == ["uplevel"]
            ):
                continue  # created by uplevel for its state
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", 0, os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode), "")
            else:
                out[rel] = (
                    "file",
                    stat.S_IMODE(st.st_mode),
                    hashlib.sha256(Path(p).read_bytes()).hexdigest(),
                )
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    return out


def store_hashes(home: Path) -> set[str]:
    objects = home / STATE_DIR / "objects"
    if not objects.is_dir():
        return set()
    return {p.name for sub in objects.iterdir() for p in sub.iterdir()}


@dataclass
class CLIResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(
    *args: str | Path, env: dict[str, str] | None = None, check: int | None = None
) -> CLIResult:
    """Run the real `uplevel` CLI in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    p = subprocess.run(
        [sys.executable, "-m", "uplevel", *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
    )
    r = CLIResult(p.returncode, p.stdout, p.stderr)
    if check is not None and r.returncode != check:
        raise AssertionError(
            f"uplevel {args} exited {r.returncode}, expected {check}\n{r.stdout}\n{r.stderr}"
        )
    return r


@dataclass
class Sample:
    """Pristine trees at levels 0..2, bundles 0→1 and 1→2, and a factory for adopted homes."""

    root: Path
    trees: dict[int, Path]
    bundles: dict[int, Path]  # to-level → bundle file

    def home(self, name: str = "home", level: int = 0) -> Path:
        home = self.root / name
        shutil.copytree(self.trees[level], home, symlinks=True)
        run_cli("init", "--home", home, "--product", PRODUCT, "--level", str(level), check=0)
        return home


def customise(home: Path) -> None:
    """Operator-style local changes that merge cleanly with the sample's updates."""
    conf = home / "repository/conf/deployment.toml"
    conf.write_text(
        conf.read_text().replace('hostname = "localhost"', 'hostname = "apim.example.com"')
    )
    lib = home / "repository/components/lib"
    lib.mkdir(parents=True, exist_ok=True)
    (lib / "mysql-connector.jar").write_bytes(b"driver\n")


def conflicting_change(home: Path) -> None:
    """A local change that conflicts with the sample's level-2 update (same line)."""
    sh = home / "bin/api-manager.sh"
    sh.write_text(sh.read_text().replace("-Xms256m", "-Xms512m"))


Mutator = Callable[[Path], None]


CONF = "repository/conf/deployment.toml"


def level_trees(root: Path) -> dict[int, Path]:
    """Levels 0-3 of the sample: 1 changes deployment.toml, 2 is a security fix, 3 adds a table."""
    trees = {n: root / f"level{n}" for n in (0, 1)}
    for n, tree in trees.items():
        tree.mkdir(parents=True)
        write_level(tree, n)
    trees[2] = root / "level2"
    shutil.copytree(trees[1], trees[2], symlinks=True)
    write_security_fix(trees[2])
    trees[3] = root / "level3"
    shutil.copytree(trees[2], trees[3], symlinks=True)
    conf = trees[3] / CONF
    conf.write_text(conf.read_text() + "\n[apim.ai]\nenable = true\n")
    return trees
