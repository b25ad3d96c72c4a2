"""revert and prune: going back to an earlier level from the backup store, and freeing it.

Revert restores, for every path an update touched, exactly what the home held
before that update (pristine bytes and the operator's own changes alike). What
the operator changed after the update is itself backed up, never dropped.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from uplevel.core import jsonstrict
from uplevel.core.manifest import Entry
from uplevel.core.plan import changed_paths, same
from uplevel.engine import fsio
from uplevel.engine.home import Event, Home, State, TxnInfo, now
from uplevel.engine.localchanges import current_entries, rebase_index
from uplevel.engine.session import open_home
from uplevel.engine.txn import Change, Transaction
from uplevel.errors import CorruptStateError, HomeError, UsageError


@dataclass(frozen=True, kw_only=True)
class RevertResult:
    home: str
    from_level: int
    to_level: int
    restored: int
    removed: int
    reverted: tuple[str, ...]
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "home": self.home,
            "status": "reverted",
            "from_level": self.from_level,
            "to_level": self.to_level,
            "restored": self.restored,
            "removed": self.removed,
            "reverted_transactions": list(self.reverted),
            "notes": list(self.notes),
        }


def chain_to(state: State, level: int) -> list[TxnInfo]:
    """The applied transactions to undo (newest first) to get from the current level to `level`."""
    applied = [t for t in state.transactions if t.kind == "apply" and t.status == "applied"]
    chain: list[TxnInfo] = []
    current = state.level
    while current != level:
        step = next(
            (t for t in reversed(applied) if t.to_level == current and t not in chain), None
        )
        if step is None:
            reachable = sorted({t.from_level for t in applied if t.to_level <= state.level})
            raise UsageError(
                f"level {level} cannot be reached by revert from level {state.level}",
                hint=f"levels this home can revert to: {', '.join(map(str, reachable)) or 'none'}",
            )
        chain.append(step)
        current = step.from_level
    return chain


def load_record(home: Home, txn_id: str) -> dict[str, Any]:
    path = home.records / f"{txn_id}.json"
    try:
        record = jsonstrict.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise HomeError(f"transaction record {path} is missing") from exc
    except ValueError as exc:
        raise CorruptStateError(path, f"not valid JSON ({exc})") from exc
    if not isinstance(record, dict):
        raise CorruptStateError(path, "not a JSON object")
    return record


def revert(root: Path, *, level: int | None = None, force: bool = False) -> RevertResult:
    with open_home(root, change=True, force=force) as s:
        home, state = s.home, s.state
        if level is None:
            last = [t for t in state.transactions if t.kind == "apply" and t.status == "applied"]
            if not last:
                raise UsageError("nothing to revert: no update has been applied to this home")
            level = last[-1].from_level
        if level == state.level:
            raise UsageError(f"the home is already at level {level}")
        chain = chain_to(state, level)
        target: dict[str, Entry | None] = {}
        dir_modes: dict[str, int] = {}
        created: set[str] = set()
        for t in chain:  # newest first: the oldest `before` wins
            rec = load_record(home, t.id)
            for c in rec["changes"]:
                target[c["path"]] = Entry.from_dict(c["before"]) if c["before"] else None
            dir_modes.update(rec.get("dirs_removed", {}))
            created.update(rec.get("dirs_created", []))
        missing = sorted(
            p for p, e in target.items() if e and e.kind == "file" and not home.has_object(e.sha256)
        )
        if missing:
            raise HomeError(
                f"the backup store no longer holds {len(missing)} file(s) needed, e.g. {missing[0]}",
                hint="backups were pruned; revert to that level is not possible",
            )
        paths = sorted(target)
        known_dirs: set[str] = set()
        for p in paths:
            fsio.check_in_home(home.root, p, known_dirs)
        current_pristine = home.load_manifest(state.pristine)
        now_entries = current_entries(home, paths, current_pristine)
        changes = [
            Change(path=p, before=now_entries[p], after=target[p])
            for p in paths
            if not same(now_entries[p], target[p])
        ]
        pristine = home.load_manifest(state.levels[level])

        def content(c: Change) -> Iterable[bytes]:
            assert c.after is not None
            path = home.object_path(c.after.sha256)
            with open(path, "rb") as f:
                while chunk := f.read(fsio.CHUNK):
                    yield chunk

        txn = Transaction.prepare(
            home,
            kind="revert",
            changes=changes,
            content=content,
            from_level=state.level,
            to_level=level,
            to_pristine=pristine.digest,
            # only directories that the reverted updates created may go
            target_dirs=lambda d: d not in created or (d in pristine and pristine[d].kind == "dir"),
            meta={"reverts": [t.id for t in chain]},
            dir_modes=dir_modes,
        )
        txn.execute()
        reverted_ids = {t.id for t in chain}
        new_state = state.with_event(
            Event(
                time=now(),
                event="reverted",
                from_level=state.level,
                to_level=level,
                txn=txn.j.id,
                detail=f"{len(changes)} path(s) restored",
            ),
            level=level,
            pristine=pristine.digest,
            transactions=tuple(
                replace(t, status="reverted") if t.id in reverted_ids else t
                for t in state.transactions
            ),
        )
        txn.commit(new_state)
        touched = {*paths, *changed_paths(current_pristine, pristine)}
        settled = {
            c.path for c in changes if c.after is not None and pristine.get(c.path) == c.after
        }
        rebase_index(home, current_pristine.digest, pristine, touched, settled)
        return RevertResult(
            home=str(home.root),
            from_level=state.level,
            to_level=level,
            restored=sum(1 for c in changes if c.after is not None),
            removed=sum(1 for c in changes if c.after is None),
            reverted=tuple(t.id for t in chain),
            notes=tuple(s.notes),
        )


@dataclass(frozen=True, kw_only=True)
class PruneResult:
    home: str
    freed_bytes: int
    removed_objects: int
    kept_objects: int
    keep_level: int
    dry_run: bool

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def prune(root: Path, *, keep_level: int | None = None, dry_run: bool = False) -> PruneResult:
    """Delete backups not needed to revert down to `keep_level` (default: the current level)."""
    with open_home(root, change=not dry_run, force=True) as s:
        home, state = s.home, s.state
        keep = state.level if keep_level is None else keep_level
        needed: set[str] = set()
        if keep != state.level:
            for t in chain_to(state, keep):
                for c in load_record(home, t.id)["changes"]:
                    if c["before"] and c["before"]["kind"] == "file":
                        needed.add(c["before"]["sha256"])
        freed = removed = kept = 0
        if home.objects.is_dir():
            for sub in sorted(home.objects.iterdir()):
                for obj in sorted(sub.iterdir()):
                    if obj.name in needed:
                        kept += 1
                        continue
                    freed += obj.lstat().st_size
                    removed += 1
                    if not dry_run:
                        fsio.unlink(obj)
                if not dry_run and not any(os.scandir(sub)):
                    fsio.rmdir(sub)
        return PruneResult(
            home=str(home.root),
            freed_bytes=freed,
            removed_objects=removed,
            kept_objects=kept,
            keep_level=keep,
            dry_run=dry_run,
        )
