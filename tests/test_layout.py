"""The layout's two rules, checked on the source itself (so CI holds them):

- the pure core (core/, merge/, and repo/documents.py, which says it is pure) imports
  nothing that touches a disk, a network or a process, and never calls open();
- every durable write goes through engine/fsio.py: `os.replace`, `os.fsync` and `mkstemp`
  appear in no other module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "uplevel"
PURE = sorted(
    [*(SRC / "core").glob("*.py"), *(SRC / "merge").glob("*.py"), SRC / "repo/documents.py"]
)

IO_MODULES = {
    "asyncio", "fcntl", "fileinput", "ftplib", "glob", "http", "mmap", "multiprocessing", "os",
    "pathlib", "select", "shutil", "signal", "socket", "sqlite3", "ssl", "subprocess",
    "tarfile", "tempfile", "threading", "urllib", "zipfile",
    "click", "fastapi", "httpx", "rich", "securesystemslib", "tuf", "urllib3", "uvicorn",
    "zstandard",
}  # fmt: skip
PURE_UPLEVEL = ("uplevel.core", "uplevel.merge", "uplevel.errors")


def imported(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every module an import statement names, anywhere in the file (functions included)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            if node.module == "uplevel":
                for alias in node.names:
                    yield node.lineno, f"uplevel.{alias.name}"


def io_use(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for line, module in imported(tree):
        top = module.split(".")[0]
        if top in IO_MODULES:
            found.append(f"{line}: imports {module}")
        elif top == "uplevel" and module != "uplevel" and not module.startswith(PURE_UPLEVEL):
            found.append(f"{line}: imports {module}, which is not pure")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "open"
        ):
            found.append(f"{node.lineno}: calls open()")
    return found


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(SRC)))
def test_the_pure_core_does_no_io(path: Path) -> None:
    assert io_use(path) == []


def durable_write_calls(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
            and node.attr in ("replace", "fsync")
        ):
            found.append(f"{node.lineno}: os.{node.attr}")
        elif isinstance(node, ast.Attribute) and node.attr == "mkstemp":
            found.append(f"{node.lineno}: mkstemp")
        elif (
            isinstance(node, ast.ImportFrom)
            and any(a.name in ("mkstemp", "replace", "fsync") for a in node.names)
            and node.module in ("os", "tempfile")
        ):
            found.append(f"{node.lineno}: from {node.module} import …")
    return found


def test_durable_writes_go_only_through_fsio() -> None:
    offenders = {
        str(p.relative_to(SRC)): calls
        for p in sorted(SRC.rglob("*.py"))
        if p != SRC / "engine" / "fsio.py" and (calls := durable_write_calls(p))
    }
    assert offenders == {}
    assert durable_write_calls(SRC / "engine" / "fsio.py")  # the check does see them


def test_the_checks_see_what_they_forbid(tmp_path: Path) -> None:
    """Both checks, on a module that breaks each rule once (a check that finds nothing in
    anything would pass the two tests above)."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import os\nfrom uplevel.engine import fsio\nfrom uplevel import txn\n"
        "def f():\n    from tempfile import mkstemp\n    os.fsync(3)\n    return open('x')\n"
    )
    assert io_use(bad) == [
        "1: imports os",
        "2: imports uplevel.engine, which is not pure",
        "3: imports uplevel.txn, which is not pure",
        "5: imports tempfile",
        "7: calls open()",
    ]
    assert durable_write_calls(bad) == ["5: from tempfile import …", "6: os.fsync"]
