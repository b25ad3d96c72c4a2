"""The release artefacts install and work on a node without a package index.

`./dev dist` builds the wheel, the sdist and the wheelhouse; a fresh venv then installs
`uplevel-updater` from the wheelhouse alone (no index, no pip configuration of this
machine: its find-links would hide a wheel the wheelhouse lacks), and the installed
`uplevel` adopts, updates and reverts a sample home, run from outside the source tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.homes import snapshot
from uplevel import DISTRIBUTION, __version__
from uplevel.devtools.sample import PRODUCT, write_level

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def offline_env(tmp: Path) -> dict[str, str]:
    """This process's environment without pip's settings or the source tree on the path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    env |= {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "HOME": str(tmp)}
    env.pop("VIRTUAL_ENV", None)
    return env


def run(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    p = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600
    )
    assert p.returncode == 0, f"{args} exited {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run("bash", ROOT / "dev", "dist", out)
    return out


def test_dist_has_wheel_sdist_and_wheelhouse_for_both_pythons(dist: Path) -> None:
    names = {p.name for p in dist.iterdir()}
    wheel = f"uplevel_updater-{__version__}-py3-none-any.whl"
    assert wheel in names
    assert f"uplevel_updater-{__version__}.tar.gz" in names
    house = {p.name for p in (dist / "wheelhouse").iterdir()}
    assert wheel in house
    for tag in ("cp311", "cp312"):  # the compiled dependencies, per supported Python
        for project in ("lxml", "zstandard", "pydantic_core", "cffi"):
            assert any(n.startswith(f"{project}-") and f"-{tag}-" in n for n in house), (
                project,
                tag,
            )
    pinned = [
        line.split("==")[0].lower().replace("-", "_").replace(".", "_")
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    have = {n.split("-")[0].lower() for n in house}
    assert sorted(set(pinned) - have) == []
    with zipfile.ZipFile(dist / wheel) as whl:
        meta = whl.read(f"uplevel_updater-{__version__}.dist-info/METADATA").decode()
        assert f"Name: {DISTRIBUTION}\n" in meta
        assert any(n.startswith("uplevel/profiles/") for n in whl.namelist())


def test_offline_install_adopts_applies_and_reverts(dist: Path, tmp_path: Path) -> None:
    env = offline_env(tmp_path)
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, env=env)
    run(
        venv / "bin/python", "-m", "pip", "install", "-q", "--no-index",
        "--find-links", dist / "wheelhouse", DISTRIBUTION, env=env,
    )  # fmt: skip
    uplevel = venv / "bin/uplevel"
    assert run(uplevel, "--version", env=env, cwd=tmp_path).strip() == (
        f"uplevel {__version__} (distribution {DISTRIBUTION})"
    )
    # The installed package, not this checkout's, is what runs.
    where = run(venv / "bin/python", "-c", "import uplevel; print(uplevel.__file__)", env=env)
    assert where.startswith(str(venv)), where

    trees = {n: tmp_path / f"level{n}" for n in (0, 1)}
    for n, tree in trees.items():
        tree.mkdir()
        write_level(tree, n)
    bundle = tmp_path / "level-1.bundle"
    run(
        uplevel, "bundle", "create", "--product", PRODUCT, "--from-tree", trees[0],
        "--to-tree", trees[1], "--from-level", "0", "--to-level", "1", "--title", "update 1",
        "-o", bundle, env=env, cwd=tmp_path,
    )  # fmt: skip
    home = tmp_path / "home"
    shutil.copytree(trees[0], home, symlinks=True)
    run(uplevel, "init", "--home", home, "--product", PRODUCT, "--level", "0", env=env)
    run(uplevel, "apply", "--home", home, bundle, env=env)
    assert snapshot(home) == snapshot(trees[1])
    run(uplevel, "revert", "--home", home, env=env)
    assert snapshot(home) == snapshot(trees[0])


@pytest.mark.parametrize(("task", "code"), [("no-such-task", 2), ("dsit", 2), ("help", 0)])
def test_dev_refuses_an_unknown_task(task: str, code: int) -> None:
    """A typo in CI (`./dev tset`) must fail the job, not print the usage and pass."""
    p = subprocess.run(["bash", ROOT / "dev", task], capture_output=True, text=True, timeout=60)
    assert p.returncode == code, p.stderr
    assert "./dev dist" in (p.stdout + p.stderr)
    assert ("unknown task" in p.stderr) == (code == 2)
