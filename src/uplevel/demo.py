"""`uplevel demo`: the whole in-place flow on the sample product, printed step by step.

It runs the real CLI as subprocesses, exactly as an operator would type it.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from uplevel.sample import PRODUCT, write_level


def _run(args: list[str], *, ok: tuple[int, ...] = (0,)) -> int:
    shown = " ".join(shlex.quote(a) for a in ["uplevel", *args])
    print(f"\n$ {shown}", flush=True)
    rc = subprocess.run([sys.executable, "-m", "uplevel", *args]).returncode
    if rc not in ok:
        print(f"demo: `{shown}` exited {rc}", file=sys.stderr)
        raise SystemExit(1)
    return rc


def main(workdir: Path | None) -> int:
    work = Path(workdir or tempfile.mkdtemp(prefix="uplevel-demo-"))
    if work.exists() and any(work.iterdir()):
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    print(f"demo directory: {work}")
    trees = {lvl: work / "publisher" / f"level{lvl}" for lvl in (0, 1, 2)}
    for lvl, tree in trees.items():
        tree.mkdir(parents=True)
        write_level(tree, lvl)
    bundles = work / "bundles"
    bundles.mkdir()
    _run(
        [
            "bundle",
            "create",
            "--product",
            PRODUCT,
            "--from-tree",
            str(trees[0]),
            "--to-tree",
            str(trees[1]),
            "--from-level",
            "0",
            "--to-level",
            "1",
            "--title",
            "Throttling data publishing fix",
            "--fix",
            "APIM-1024=throttling events were not published",
            "-o",
            str(bundles / "level-1.bundle"),
        ]
    )
    _run(
        [
            "bundle",
            "create",
            "--product",
            PRODUCT,
            "--from-tree",
            str(trees[1]),
            "--to-tree",
            str(trees[2]),
            "--from-level",
            "1",
            "--to-level",
            "2",
            "--title",
            "TLS hardening",
            "--security",
            "--advisory",
            "WSO2-2026-0042=high",
            "-o",
            str(bundles / "level-2.bundle"),
        ]
    )
    home = work / "home"
    shutil.copytree(trees[0], home, symlinks=True)
    _run(["init", "--home", str(home), "--product", PRODUCT, "--level", "0"])
    print("\n# the operator customises the home: a database URL, a JVM option and an extra jar")
    conf = home / "repository/conf/deployment.toml"
    conf.write_text(
        conf.read_text().replace('hostname = "localhost"', 'hostname = "apim.example.com"')
    )
    sh = home / "bin/api-manager.sh"
    sh.write_text(sh.read_text().replace("-Xms256m", "-Xms512m"))
    (home / "repository/components/lib").mkdir(parents=True, exist_ok=True)
    (home / "repository/components/lib/mysql-connector-j-8.4.0.jar").write_bytes(
        b"operator's JDBC driver\n"
    )
    _run(["status", "--home", str(home)])
    _run(["apply", "--home", str(home), "--dry-run", str(bundles / "level-1.bundle")])
    _run(["apply", "--home", str(home), str(bundles / "level-1.bundle")])
    print(
        "\n# level 2 changes the JVM options line that the operator also changed: a true conflict"
    )
    _run(["apply", "--home", str(home), str(bundles / "level-2.bundle")], ok=(3,))
    _run(["status", "--home", str(home)], ok=(0,))
    print("\n# the operator writes bin/api-manager.sh.final, keeping both changes, and continues")
    new_opts = 'JAVA_OPTS="-Xms512m -Xmx1024m -Djdk.tls.ephemeralDHKeySize=2048"'
    final = "\n".join(
        new_opts if line.startswith("JAVA_OPTS") else line
        for line in (home / "bin/api-manager.sh.new").read_text().splitlines()
    )
    (home / "bin/api-manager.sh.final").write_text(final + "\n")
    _run(["continue", "--home", str(home)])
    _run(["status", "--home", str(home)])
    print("\n# the operator's hostname and heap size survived both updates:")
    print(
        "  " + next(line for line in conf.read_text().splitlines() if line.startswith("hostname"))
    )
    print("  " + next(line for line in sh.read_text().splitlines() if line.startswith("JAVA_OPTS")))
    _run(["history", "--home", str(home)])
    _run(["revert", "--home", str(home)])
    _run(["verify", "--home", str(home)], ok=(0, 1))
    _run(["history", "--home", str(home)])
    print(f"\ndemo finished; everything is in {work}")
    return 0
