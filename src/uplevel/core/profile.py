"""Product profiles: data files (profiles/*.toml) saying how a product family behaves.

Kept as data so a new product family needs a TOML file, not code: which paths are
configuration (merged by structure), which are runtime data (carried by `migrate`), which
are operator additions, the pid file and lock files that mean "running", and how to stop,
start and health-check the server. docs/profiles.md describes the format.

Pure: a profile is parsed from its text and answers questions about relative paths.
Finding the profile files is engine/profiles.py; the running check is engine/running.py.
"""

from __future__ import annotations

import fnmatch
import functools
import re
import tomllib
from dataclasses import dataclass, replace
from typing import Any

from uplevel.errors import UsageError

# Keys a profile (or one of its [[variant]] tables) may set, with their types.
_LISTS = ("config", "runtime", "runtime_exclude", "additions", "lock_files")
_STRINGS = ("pid_file", "start", "stop", "health_url", "health_command", "description")


@dataclass(frozen=True, kw_only=True)
class Profile:
    name: str
    products: tuple[str, ...]
    description: str = ""
    pid_file: str = ""
    lock_files: tuple[str, ...] = ()
    config: tuple[str, ...] = ()
    runtime: tuple[str, ...] = ()
    runtime_exclude: tuple[str, ...] = ()
    additions: tuple[str, ...] = ()
    start: str = ""
    stop: str = ""
    health_url: str = ""
    health_command: str = ""
    health_timeout: int = 300
    source: str = ""
    variants: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = ()

    def is_config(self, path: str) -> bool:
        return any(_match(path, pat) for pat in self.config)

    def is_runtime(self, path: str) -> bool:
        """Runtime data the server writes (databases, indexes, deployed artifacts, tenants)."""
        return any(_match(path, p) for p in self.runtime) and not any(
            _match(path, p) for p in self.runtime_exclude
        )

    def is_runtime_excluded(self, path: str) -> bool:
        """A file `migrate` never carries (lock, trace or temporary files of a runtime)."""
        return any(_match(path, p) for p in self.runtime_exclude)

    def is_scratch(self, path: str) -> bool:
        """What a running server leaves behind and nobody keeps: the pid file, lock files and
        `runtime_exclude` (logs, temporary, lock and trace files). Never recorded as pristine."""
        return (
            path == self.pid_file
            or matches_any(self.lock_files, path)
            or matches_any(self.runtime_exclude, path)
        )

    def is_runtime_data(self, path: str) -> bool:
        """Runtime data or scratch: never a local change (status and verify count it apart)."""
        return matches_any(self.runtime, path) or self.is_scratch(path)

    def is_addition(self, path: str) -> bool:
        """A place where operators add their own files (extra jars)."""
        return any(_match(path, pat) for pat in self.additions)

    def for_product(self, product: str) -> Profile:
        """This profile with the [[variant]] tables that match `product` applied in order."""
        out = self
        for patterns, values in self.variants:
            if any(fnmatch.fnmatchcase(product, g) for g in patterns):
                out = replace(out, **values)
        return replace(out, variants=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "products": list(self.products),
            "pid_file": self.pid_file,
            "lock_files": list(self.lock_files),
            "config": list(self.config),
            "runtime": list(self.runtime),
            "runtime_exclude": list(self.runtime_exclude),
            "additions": list(self.additions),
            "start": self.start,
            "stop": self.stop,
            "health_url": self.health_url,
            "health_command": self.health_command,
            "health_timeout": self.health_timeout,
            "source": self.source,
        }


def _match(path: str, pattern: str) -> bool:
    """Glob where '**/' spans any number of directories (including none) and '*' stays in one."""
    if pattern.startswith("**/"):
        rest = pattern[3:]
        parts = path.split("/")
        return any(_match("/".join(parts[i:]), rest) for i in range(len(parts)))
    if pattern.endswith("/**"):
        return path.startswith(pattern[:-2])
    return fnmatch.fnmatchcase(path, pattern) and path.count("/") == pattern.count("/")


@functools.lru_cache(maxsize=512)
def _regex(pattern: str) -> str:
    """A profile glob as a regular expression with the meaning Profile gives it: a leading
    `**/` spans any number of directories (none included), a trailing `/**` means "under this
    literal prefix", and `*`, `?` and `[...]` stay within one path component."""
    if pattern.startswith("**/"):
        return "(?:[^/]*/)*" + _regex(pattern[3:])
    if pattern.endswith("/**"):
        return re.escape(pattern[:-2]) + ".*"
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        i += 1
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            body = pattern[i:end]
            i = end + 1
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
        else:
            out.append(re.escape(c))
    return "".join(out)


@functools.lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{_regex(p)})" for p in patterns), re.DOTALL)


def matches_any(patterns: tuple[str, ...], path: str) -> bool:
    """Whether `path` matches one of the globs, compiled once (asked for every file of a home)."""
    rx = _compiled(patterns)
    return rx is not None and rx.fullmatch(path) is not None


def _fields(d: dict[str, Any], where: str) -> dict[str, Any]:
    """The profile keys of one table, type-checked, as dataclass field values."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        if key in _LISTS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise UsageError(f"profile {where}: {key} must be a list of strings")
            out[key] = tuple(value)
        elif key in _STRINGS:
            if not isinstance(value, str):
                raise UsageError(f"profile {where}: {key} must be a string")
            out[key] = value
        elif key == "health_timeout":
            if not isinstance(value, int) or value <= 0:
                raise UsageError(f"profile {where}: health_timeout must be a positive integer")
            out[key] = value
        elif key not in ("name", "products", "variant"):
            raise UsageError(f"profile {where}: unknown key {key!r}")
    return out


def parse_profile(text: str, source: str) -> Profile:
    """One profile from its TOML text; UsageError naming the file on anything malformed."""
    try:
        d = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"profile {source} is not valid TOML: {e}") from None
    name, products = d.get("name"), d.get("products")
    if not isinstance(name, str) or not name:
        raise UsageError(f"profile {source}: name must be a non-empty string")
    if not isinstance(products, list) or not all(isinstance(p, str) for p in products):
        raise UsageError(f"profile {source}: products must be a list of glob patterns")
    variants = []
    for i, v in enumerate(d.get("variant", [])):
        pats = v.get("products")
        if not isinstance(pats, list) or not all(isinstance(p, str) for p in pats):
            raise UsageError(f"profile {source}: variant {i + 1} needs a products list")
        variants.append((tuple(pats), _fields(v, f"{source} variant {i + 1}")))
    return Profile(
        name=name,
        products=tuple(products),
        source=source,
        variants=tuple(variants),
        **_fields(d, source),
    )
