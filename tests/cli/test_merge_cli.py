"""`uplevel merge` on real files, and as a git merge driver in a real git repository."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.homes import run_cli

BASE = """\
[server]
hostname = "localhost"
offset = 0

[database.apim_db]
url = "jdbc:h2:./repository/database/WSO2AM_DB"
username = "wso2carbon"
"""
# The operator moves [database.apim_db] first and changes the hostname.
OURS = """\
[database.apim_db]
url = "jdbc:h2:./repository/database/WSO2AM_DB"
username = "wso2carbon"

[server]
hostname = "apim.example.com"
offset = 0
"""
# Upstream changes the database URL and adds a table.
THEIRS = """\
[server]
hostname = "localhost"
offset = 0

[database.apim_db]
url = "jdbc:h2:./repository/database/WSO2AM_DB;AUTO_SERVER=FALSE"
username = "wso2carbon"

[apim.ai]
enable = true
"""


def _toml(text: str) -> dict[str, object]:
    import tomllib

    return tomllib.loads(text)


def test_merge_command_by_structure(tmp_path: Path) -> None:
    for name, text in (("base", BASE), ("ours", OURS), ("theirs", THEIRS)):
        (tmp_path / f"{name}.toml").write_text(text)
    r = run_cli(
        "merge",
        tmp_path / "base.toml",
        tmp_path / "ours.toml",
        tmp_path / "theirs.toml",
        "-o",
        tmp_path / "out.toml",
        "--json",
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.json["result"]["format"] == "toml" and r.json["result"]["clean"]
    merged = _toml((tmp_path / "out.toml").read_text())
    assert merged["server"] == {"hostname": "apim.example.com", "offset": 0}
    assert merged["database"]["apim_db"]["url"].endswith("AUTO_SERVER=FALSE")  # type: ignore[index]
    assert merged["apim"] == {"ai": {"enable": True}}
    # a true conflict: exit 1, the operator's value kept, the setting named
    (tmp_path / "theirs2.toml").write_text(BASE.replace('"localhost"', '"gw.example.org"'))
    r = run_cli(
        "merge",
        tmp_path / "base.toml",
        tmp_path / "ours.toml",
        tmp_path / "theirs2.toml",
        "-o",
        tmp_path / "out2.toml",
        "--json",
    )
    assert r.returncode == 1
    (conflict,) = r.json["result"]["conflicts"]
    assert conflict["path"] == "server.hostname"
    assert _toml((tmp_path / "out2.toml").read_text())["server"]["hostname"] == "apim.example.com"  # type: ignore[index]


def test_git_merge_driver(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=tmp_path, check=True, capture_output=True, text=True
        ).stdout

    git("init", "-q", "-b", "main")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    driver = f"{sys.executable} -m uplevel merge %O %A %B --name %P"
    git("config", "merge.uplevel.name", "uplevel structured merge")
    git("config", "merge.uplevel.driver", driver)
    (tmp_path / ".gitattributes").write_text("*.toml merge=uplevel\n")
    (tmp_path / "deployment.toml").write_text(BASE)
    git("add", "-A")
    git("commit", "-qm", "base")
    git("checkout", "-qb", "upstream")
    (tmp_path / "deployment.toml").write_text(THEIRS)
    git("commit", "-qam", "upstream")
    git("checkout", "-q", "main")
    (tmp_path / "deployment.toml").write_text(OURS)
    git("commit", "-qam", "operator")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    merged = subprocess.run(
        ["git", "merge", "-q", "--no-edit", "upstream"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert merged.returncode == 0, merged.stdout + merged.stderr  # a line merge would conflict here
    result = _toml((tmp_path / "deployment.toml").read_text())
    assert result["server"]["hostname"] == "apim.example.com"  # type: ignore[index]
    assert result["apim"] == {"ai": {"enable": True}}
