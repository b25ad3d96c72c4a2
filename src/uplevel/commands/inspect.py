"""status, verify, history, profile: looking at a home (adopting one is commands/adopt.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uplevel.commands.revert import load_record
from uplevel.engine.home import Home, State
from uplevel.engine.localchanges import LocalChanges, compare
from uplevel.engine.session import open_home


@dataclass(frozen=True, kw_only=True)
class StatusResult:
    home: str
    product: str
    level: int
    channel: str
    server: str | None
    pending: dict[str, Any] | None
    local: LocalChanges
    notes: tuple[str, ...]
    busy: bool
    show_runtime: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "home": self.home,
            "product": self.product,
            "level": self.level,
            "channel": self.channel,
            "server": self.server,
            "pending": self.pending,
            "local_changes": self.local.to_dict(),
            "runtime_data": runtime_data(self.local, self.show_runtime),
            "notes": list(self.notes),
            "busy": self.busy,
        }


def runtime_data(local: LocalChanges, shown: bool) -> dict[str, int] | None:
    """The runtime data found (the profile's runtime paths, pid, lock and log files): never
    local changes, reported apart; None when the operator asked to leave it out."""
    return {"files": local.runtime_files, "bytes": local.runtime_bytes} if shown else None


def _pending(home: Home, state: State) -> dict[str, Any] | None:
    if not state.pending:
        return None
    from uplevel.engine.txn import open_transaction

    txn = open_transaction(home)
    if txn is None:
        return {"transaction": state.pending, "conflicts": []}
    return {
        "transaction": txn.j.id,
        "kind": txn.j.kind,
        "from_level": txn.j.from_level,
        "to_level": txn.j.to_level,
        "conflicts": txn.j.conflicts,
    }


def status(root: Path, *, show_runtime: bool = True) -> StatusResult:
    with open_home(root, change=False) as s:
        local = compare(
            s.home,
            s.state.pristine,
            use_index=True,
            save_index=not s.read_only,
            runtime=s.home.profile(s.state).is_runtime_data,
        )
        return StatusResult(
            home=str(s.home.root),
            product=s.state.product,
            level=s.state.level,
            channel=s.state.channel,
            server=s.state.server,
            pending=None if s.read_only else _pending(s.home, s.state),
            local=local,
            notes=tuple(s.notes)
            + local.notes
            + (
                ("another uplevel is changing this home; shown without recovery",)
                if s.read_only
                else ()
            ),
            busy=s.read_only,
            show_runtime=show_runtime,
        )


@dataclass(frozen=True, kw_only=True)
class VerifyResult:
    home: str
    level: int
    files: int
    bytes: int
    local: LocalChanges
    notes: tuple[str, ...] = ()
    show_runtime: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "home": self.home,
            "level": self.level,
            "files_hashed": self.files,
            "bytes_hashed": self.bytes,
            "pristine": self.local.clean,
            "local_changes": self.local.to_dict(),
            "runtime_data": runtime_data(self.local, self.show_runtime),
            "notes": list(self.notes),
        }


def verify(
    root: Path, progress: Callable[[int], None] | None = None, *, show_runtime: bool = True
) -> VerifyResult:
    """Hash every file against pristine, ignoring the stat cache (runtime data apart)."""
    with open_home(root, change=False) as s:
        local = compare(
            s.home,
            s.state.pristine,
            use_index=False,
            progress=progress,
            runtime=s.home.profile(s.state).is_runtime_data,
        )
        return VerifyResult(
            home=str(s.home.root),
            level=s.state.level,
            files=local.hashed_files,
            bytes=local.hashed_bytes,
            local=local,
            notes=tuple(s.notes),
            show_runtime=show_runtime,
        )


@dataclass(frozen=True, kw_only=True)
class HistoryResult:
    product: str
    level: int
    events: tuple[dict[str, Any], ...]
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "level": self.level,
            "events": list(self.events),
            "notes": list(self.notes),
        }


def history(root: Path) -> HistoryResult:
    with open_home(root, change=False) as s:
        events = []
        for e in s.state.history:
            d = e.to_dict()
            if e.txn and e.event == "applied":
                rec = s.home.records / f"{e.txn}.json"
                if rec.exists():
                    meta = load_record(s.home, e.txn).get("meta", {})
                    d["titles"] = [u.get("title", "") for u in meta.get("updates", [])]
            events.append(d)
        return HistoryResult(
            product=s.state.product, level=s.state.level, events=tuple(events), notes=tuple(s.notes)
        )


@dataclass(frozen=True)
class ProfileResult:
    profiles: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"profiles": self.profiles}


def profiles(root: Path, *, product: str | None = None, list_all: bool = False) -> ProfileResult:
    """The profile in effect for `product` (default: the home's product), or, with
    `list_all`, every profile found, as written."""
    from uplevel.engine.profiles import load_profiles, profile_for

    if list_all:
        return ProfileResult([p.as_dict() for p in load_profiles()])
    if product is None:
        home = Home(root)
        home.require_adopted()
        product = home.load_state().product
    return ProfileResult([profile_for(product).as_dict()])
