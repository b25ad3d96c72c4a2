"""`uplevel check` for monitoring, against a real `uplevel serve` on 127.0.0.1: the exit codes
0 / 100 / 101 of `--exit-code`, the JSON keys, and the node_exporter textfile that
`--prometheus` writes, read back with prometheus_client's own parser."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.client.test_online import _publish
from tests.support.homes import run_cli
from tests.support.server import serving
from uplevel.devtools.sample import PRODUCT

pytestmark = pytest.mark.e2e


Server = tuple[str, dict[int, Path]]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Levels 0-3 of the sample; level 2 is a security update (advisory, severity high)."""
    root = tmp_path_factory.mktemp("monitoring")
    repo, trees = _publish(root)
    token = run_cli(
        "repo", "token", "create", repo, "--subscriber", "monitor", "--product", "wso2am-*",
        "--channel", "full", "--json", check=0,
    ).json["result"]["token"]  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("UPLEVEL_TOKEN", token)  # inherited by every run_cli below
        with serving(repo) as url:
            yield url, trees


def _adopted(server: Server, tmp: Path, level: int) -> Path:
    url, trees = server
    home = tmp / f"home{level}"
    shutil.copytree(trees[level], home, symlinks=True)
    run_cli(
        "init", "--home", home, "--product", PRODUCT, "--server", url, "--level", str(level),
        check=0,
    )  # fmt: skip
    return home


def _metrics(path: Path) -> dict[str, tuple[dict[str, str], float]]:
    out = {}
    for family in text_string_to_metric_families(path.read_text()):
        assert family.type == "gauge", family.name
        (sample,) = family.samples
        out[sample.name] = (sample.labels, sample.value)
    return out


@pytest.mark.parametrize(
    ("level", "code", "pending", "security"),
    [(1, 101, 2, 1), (2, 100, 1, 0), (3, 0, 0, 0)],  # level 2 is the security fix
)
def test_exit_code_json_and_textfile(
    server: Server,
    tmp_path: Path,
    level: int,
    code: int,
    pending: int,
    security: int,
) -> None:
    home = _adopted(server, tmp_path, level)
    (home / "bin/extra.sh").write_text("#!/bin/sh\n")  # one local change
    (home / "repository/logs/wso2carbon.log").write_text("runtime data, not counted\n")
    prom = tmp_path / "textfile" / "uplevel.prom"
    prom.parent.mkdir()
    r = run_cli("check", "--home", home, "--exit-code", "--prometheus", prom, "--json")
    assert r.returncode == code, r.stderr
    env = r.json
    assert env["ok"] is True and env["exit_code"] == code and env["error"] is None
    res = env["result"]
    assert (res["level"], res["latest"], res["pending"]) == (level, 3, pending)
    assert res["security_pending"] == security
    assert res["highest_severity"] == ("high" if security else None)
    assert res["local_changes"] == 1
    got = _metrics(prom)
    labels = {"home": str(home), "product": PRODUCT, "channel": "full"}
    assert got == {
        "uplevel_level": (labels, level),
        "uplevel_latest_level": (labels, 3),
        "uplevel_security_pending": (labels, security),
        "uplevel_local_changes": (labels, 1),
    }
    assert os.listdir(prom.parent) == ["uplevel.prom"]  # no temp file left for the collector
    # Without --exit-code the answer is no failure either: 0.
    plain = run_cli("check", "--home", home)
    assert plain.returncode == 0 and ("up to date" in plain.stdout) == (code == 0)


def test_errors_keep_their_codes(server: Server, tmp_path: Path) -> None:
    """An error is never mistaken for "pending": not adopted stays what it is without the flag."""
    (tmp_path / "empty").mkdir()
    plain = run_cli("check", "--home", tmp_path / "empty", "--json")
    flagged = run_cli("check", "--home", tmp_path / "empty", "--exit-code", "--json")
    assert plain.returncode == flagged.returncode not in (0, 100, 101)
    assert flagged.json["ok"] is False
    home = _adopted(server, tmp_path, 1)
    state = home / "updates/uplevel/state.json"
    state.write_text(state.read_text().replace(server[0], "http://127.0.0.1:9"))  # nothing there
    down = run_cli("check", "--home", home, "--exit-code", "--prometheus", tmp_path / "m.prom")
    assert down.returncode not in (0, 100, 101), down.stderr
    assert not (tmp_path / "m.prom").exists()
