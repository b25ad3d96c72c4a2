"""Finding product profiles on this machine (the Profile value is core/profile.py).

Profiles are searched in the directories named by $UPLEVEL_PROFILES (colon-separated), then
/etc/uplevel/profiles, then the ones shipped with the package; the first of a name wins.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from uplevel.core.profile import Profile, parse_profile
from uplevel.errors import UsageError

SYSTEM_DIR = Path("/etc/uplevel/profiles")


def _search_dirs() -> Iterable[Path]:
    for part in os.environ.get("UPLEVEL_PROFILES", "").split(":"):
        if part:
            yield Path(part)
    yield SYSTEM_DIR


def load_profiles() -> list[Profile]:
    """Every profile by name, the operator's directories shadowing the packaged ones."""
    found: dict[str, Profile] = {}
    for d in _search_dirs():
        if d.is_dir():
            for f in sorted(d.glob("*.toml")):
                p = parse_profile(f.read_text(), str(f))
                found.setdefault(p.name, p)
    for item in sorted(resources.files("uplevel.profiles").iterdir(), key=lambda p: p.name):
        if item.name.endswith(".toml"):
            p = parse_profile(item.read_text(), f"uplevel/profiles/{item.name}")
            found.setdefault(p.name, p)
    return sorted(found.values(), key=lambda p: (p.name == "generic", p.name))


def profile_named(name: str, product: str) -> Profile:
    for p in load_profiles():
        if p.name == name:
            return p.for_product(product)
    raise UsageError(f"no profile named {name!r}", hint="uplevel profile --list shows them")


def profile_for(product: str) -> Profile:
    """The first profile (by name) whose product patterns match, resolved for that product;
    'generic' last."""
    profiles = load_profiles()
    for p in profiles:
        if p.name != "generic" and any(fnmatch.fnmatchcase(product, g) for g in p.products):
            return p.for_product(product)
    return next(p for p in profiles if p.name == "generic").for_product(product)
