"""Product profiles: data files (profiles/*.toml) saying how a product family behaves.

Kept as data so a new product family needs a TOML file, not code.
"""

from __future__ import annotations

import fnmatch
import os
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from uplevel.errors import BusyError


@dataclass(frozen=True, kw_only=True)
class Profile:
    name: str
    products: tuple[str, ...]
    pid_file: str
    lock_files: tuple[str, ...]
    config: tuple[str, ...]

    def is_config(self, path: str) -> bool:
        return any(_match(path, pat) for pat in self.config)

    def check_not_running(self, home: Path) -> None:
        """BusyError (exit 4) if the product's pid file names a live process or an H2 lock exists."""
        if self.pid_file:
            pid_path = home / self.pid_file
            try:
                pid = int(pid_path.read_text().split()[0])
            except (FileNotFoundError, ValueError, IndexError):
                pid = 0
            if pid > 0 and _alive(pid):
                raise BusyError(
                    f"the product is running (pid {pid} from {self.pid_file})",
                    hint="stop the server first, or pass --force if you are sure",
                )
        for pat in self.lock_files:
            for hit in sorted(home.glob(pat)):
                raise BusyError(
                    f"a database is open: {hit.relative_to(home)} exists",
                    hint="stop the server first, or pass --force if you are sure",
                )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _match(path: str, pattern: str) -> bool:
    """Glob where '**/' spans any number of directories (including none) and '*' stays in one."""
    if pattern.startswith("**/"):
        rest = pattern[3:]
        parts = path.split("/")
        return any(_match("/".join(parts[i:]), rest) for i in range(len(parts)))
    if pattern.endswith("/**"):
        return path.startswith(pattern[:-2])
    return fnmatch.fnmatchcase(path, pattern) and path.count("/") == pattern.count("/")


def load_profiles() -> list[Profile]:
    out = []
    for item in sorted(resources.files("uplevel.profiles").iterdir(), key=lambda p: p.name):
        if item.name.endswith(".toml"):
            d = tomllib.loads(item.read_text())
            out.append(
                Profile(
                    name=d["name"],
                    products=tuple(d["products"]),
                    pid_file=d.get("pid_file", ""),
                    lock_files=tuple(d.get("lock_files", [])),
                    config=tuple(d.get("config", [])),
                )
            )
    return out


def profile_for(product: str) -> Profile:
    """The most specific profile whose product patterns match; 'generic' last."""
    profiles = load_profiles()
    for p in profiles:
        if p.name != "generic" and any(fnmatch.fnmatchcase(product, g) for g in p.products):
            return p
    return next(p for p in profiles if p.name == "generic")
