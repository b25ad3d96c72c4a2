"""What the end-to-end tests share: the sample levels a repository publishes, and a real
`uplevel serve` on 127.0.0.1."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from uplevel.devtools.sample import write_level, write_security_fix

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


@contextlib.contextmanager
def serving(repo: Path, *options: str | Path) -> Iterator[str]:
    """Run `uplevel serve REPO --port 0 OPTIONS…` and yield the URL it prints."""
    server = subprocess.Popen(
        [sys.executable, "-m", "uplevel", "serve", str(repo), "--port", "0", *map(str, options)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert " at " in line, line
        yield line.rsplit(" at ", 1)[1].strip()
    finally:
        server.terminate()
        server.wait(timeout=20)
