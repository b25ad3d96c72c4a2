"""`uplevel demo`: the whole flow on an embedded default, printed step by step.

A publisher makes a signed repository with a sample product and two updates (one
changes a configuration file the operator customised, one is a security fix),
serves it on 127.0.0.1, and an operator adopts a sample home, checks, updates it
in place, reads the summary and reverts. Every step runs the real CLI as a
subprocess, exactly as typed.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from uplevel.devtools.sample import PRODUCT, write_level, write_pack, write_security_fix


def _run(args: list[str], *, ok: tuple[int, ...] = (0,), env: dict[str, str] | None = None) -> str:
    shown = " ".join(shlex.quote(a) for a in ["uplevel", *args])
    print(f"\n$ {shown}", flush=True)
    p = subprocess.run(
        [sys.executable, "-m", "uplevel", *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        text=True,
    )
    print(p.stdout, end="", flush=True)
    if p.returncode not in ok:
        print(f"demo: `{shown}` exited {p.returncode}", file=sys.stderr)
        raise SystemExit(1)
    return p.stdout


def _start_server(repo: Path) -> tuple[subprocess.Popen[str], str]:
    print(f"\n$ uplevel serve {repo} --port 0 &", flush=True)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uplevel",
            "serve",
            str(repo),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--access-log",
            str(repo.parent / "access.log"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    line = server.stdout.readline()
    print(line, end="")
    if " at " not in line:
        server.kill()
        raise SystemExit("demo: the server did not start")
    return server, line.rsplit(" at ", 1)[1].strip()


def main(workdir: Path | None) -> int:
    work = Path(workdir or tempfile.mkdtemp(prefix="uplevel-demo-"))
    if work.exists() and any(work.iterdir()):
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    print(f"demo directory: {work}")

    print("\n# publisher: a sample product at level 0, a fix at level 1, a security fix at level 2")
    trees = {n: work / "publisher" / f"level{n}" for n in (0, 1)}
    for n, tree in trees.items():
        tree.mkdir(parents=True)
        write_level(tree, n)
    trees[2] = work / "publisher" / "level2"
    shutil.copytree(trees[1], trees[2], symlinks=True)
    write_security_fix(trees[2])
    pack = work / "publisher" / f"{PRODUCT}.zip"
    write_pack(trees[0], pack)
    repo = work / "repository"
    _run(["repo", "init", str(repo)])
    _run(["repo", "add-product", str(repo), "--pack", str(pack), "--product", PRODUCT])
    _run(
        [
            "repo",
            "add-update",
            str(repo),
            "--product",
            PRODUCT,
            "--from-tree",
            str(trees[0]),
            "--to-tree",
            str(trees[1]),
            "--title",
            "Throttling data publishing fix",
            "--fix",
            "APIM-1024=throttling events were not published",
        ]
    )
    _run(
        [
            "repo",
            "add-update",
            str(repo),
            "--product",
            PRODUCT,
            "--from-tree",
            str(trees[1]),
            "--to-tree",
            str(trees[2]),
            "--title",
            "TLS hardening",
            "--security",
            "--advisory",
            "WSO2-2026-0042=high",
            "--fix",
            "APIM-2048=weak DH parameters accepted",
        ]
    )
    _run(["repo", "list", str(repo)])
    out = _run(
        [
            "repo",
            "token",
            "create",
            str(repo),
            "--subscriber",
            "acme",
            "--product",
            "wso2am-*",
            "--channel",
            "full",
            "--expires",
            "30d",
            "--json",
        ]
    )
    token_file = work / "acme.token"
    token_file.write_text(json.loads(out)["result"]["token"] + "\n")
    os.chmod(token_file, 0o600)
    server, url = _start_server(repo)
    try:
        home = work / "home"
        shutil.copytree(trees[0], home, symlinks=True)
        print(
            "\n# the operator's home: unzipped level 0, then customised (hostname, heap, a JDBC driver)"
        )
        conf = home / "repository/conf/deployment.toml"
        conf.write_text(
            conf.read_text().replace('hostname = "localhost"', 'hostname = "apim.example.com"')
        )
        sh = home / "bin/api-manager.sh"
        sh.write_text(sh.read_text().replace("-Xms256m", "-Xms512m"))
        (home / "repository/components/lib").mkdir(parents=True, exist_ok=True)
        (home / "repository/components/lib/mysql-connector-j-8.4.0.jar").write_bytes(
            b"operator's driver\n"
        )
        auth = ["--token-file", str(token_file)]
        _run(["init", "--home", str(home), "--product", PRODUCT, "--server", url, *auth])
        _run(["check", "--home", str(home), *auth])
        _run(["update", "--home", str(home), "--dry-run", *auth])
        print("\n# level 2 changes the JAVA_OPTS line the operator changed too: a true conflict")
        _run(["update", "--home", str(home), *auth], ok=(3,))
        _run(["status", "--home", str(home)])
        print(
            "\n# the operator writes bin/api-manager.sh.final, keeping both changes, and continues"
        )
        final = "\n".join(
            'JAVA_OPTS="-Xms512m -Xmx1024m -Djdk.tls.ephemeralDHKeySize=2048"'
            if line.startswith("JAVA_OPTS")
            else line
            for line in (home / "bin/api-manager.sh.new").read_text().splitlines()
        )
        (home / "bin/api-manager.sh.final").write_text(final + "\n")
        _run(["continue", "--home", str(home)])
        _run(["status", "--home", str(home)])
        print("\n# the operator's settings survived; the updates are in:")
        for path, prefix in ((conf, "hostname"), (conf, "[apim.throttling]"), (sh, "JAVA_OPTS")):
            print("  " + next(x for x in path.read_text().splitlines() if x.startswith(prefix)))
        _run(["summary", "--home", str(home), "--from", "0", "--to", "2", *auth])
        _run(["history", "--home", str(home)])
        _run(["revert", "--home", str(home), "--level", "0"])
        _run(["verify", "--home", str(home)], ok=(1,))
    finally:
        server.terminate()
        server.wait(timeout=20)
    print(f"\ndemo finished; everything is in {work}")
    return 0
