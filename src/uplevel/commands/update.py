"""apply, continue, abort: bringing a home to a bundle's level, and settling conflicts.

Order of work in `apply` (safety rule 2): open and verify the bundle, check that
it is for this home's product, channel and level, check every path, plan, do the
merges in memory, then hand everything to one Transaction. The home proper is
first touched by Transaction.execute.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from uplevel.core.jump import BundleDescriptor
from uplevel.core.manifest import Entry, Manifest
from uplevel.core.paths import check_relative
from uplevel.core.plan import Decision, changed_paths, plan_update
from uplevel.engine import fsio
from uplevel.engine.home import Event, Home, State, now
from uplevel.engine.localchanges import current_entries, rebase_index
from uplevel.engine.scan import hash_file, read_entry
from uplevel.engine.session import open_home
from uplevel.engine.txn import (
    Change,
    Content,
    Transaction,
    Verified,
    open_transaction,
    recover,
    sweep_finals,
)
from uplevel.errors import BundleError, UplevelError, UsageError
from uplevel.formats.bundle import Bundle
from uplevel.merge.engine import merge
from uplevel.merge.result import MergeResult, UnparsableInput
from uplevel.merge.text import is_text, merge_text

OnConflict = Literal["stop", "new", "local"]


class UpdateSource(Protocol):
    """What apply needs: a verified descriptor and the blobs it names (Bundle is one)."""

    @property
    def descriptor(self) -> BundleDescriptor: ...

    def has_blob(self, sha256: str) -> bool: ...

    def blob_chunks(self, sha256: str) -> Iterator[bytes]: ...

    def read_blob(self, sha256: str) -> bytes: ...


@dataclass(frozen=True, kw_only=True)
class ApplyResult:
    home: str
    status: str  # applied | conflicts | dry-run
    from_level: int
    to_level: int
    plan: tuple[dict[str, Any], ...]
    conflicts: tuple[dict[str, Any], ...] = ()
    notes: tuple[str, ...] = ()
    updates: tuple[dict[str, Any], ...] = ()
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 3 if self.status == "conflicts" else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "home": self.home,
            "status": self.status,
            "from_level": self.from_level,
            "to_level": self.to_level,
            "counts": self.counts,
            "plan": list(self.plan),
            "conflicts": list(self.conflicts),
            "updates": list(self.updates),
            "notes": list(self.notes),
        }


def _blob_source(bundle: UpdateSource, home: Home, merged: dict[str, bytes]) -> Content:
    """Content for a change: merged bytes, the bundle, the backup store, or the home itself."""

    def content(c: Change) -> Iterable[bytes]:
        assert c.after is not None
        sha = c.after.sha256
        if sha in merged:
            return [merged[sha]]
        if bundle.has_blob(sha):
            return Verified(bundle.blob_chunks(sha))
        if home.has_object(sha):
            return _file_chunks(home.object_path(sha))
        if c.before is not None and c.before.kind == "file" and c.before.sha256 == sha:
            return _file_chunks(home.root / c.path)  # same content, new mode
        raise BundleError(f"{c.path}: the bundle does not carry its new content {sha[:12]}…")

    return content


def _file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            yield chunk


def _decision_dict(d: Decision) -> dict[str, Any]:
    return {"path": d.path, "action": d.action, "reason": d.reason}


def apply(
    root: Path,
    bundle_path: Path,
    *,
    dry_run: bool = False,
    on_conflict: OnConflict = "stop",
    force: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ApplyResult:
    """In-place update from an offline bundle file."""
    with Bundle(bundle_path) as bundle:
        return apply_source(
            root,
            bundle,
            label=bundle_path.name,
            dry_run=dry_run,
            on_conflict=on_conflict,
            force=force,
            progress=progress,
        )


def apply_source(
    root: Path,
    bundle: UpdateSource,
    *,
    label: str,
    dry_run: bool = False,
    on_conflict: OnConflict = "stop",
    force: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ApplyResult:
    """In-place update from any verified source of a descriptor and its blobs (a bundle file,
    or what the online client fetched): plan, merge, then one transaction."""
    if on_conflict not in ("stop", "new", "local"):
        raise UsageError(f"--on-conflict must be stop, new or local, not {on_conflict!r}")
    with open_home(root, change=not dry_run, force=force) as s:
        home, state = s.home, s.state
        desc = bundle.descriptor
        notes = list(s.notes)
        _check_applies(desc.product, desc.channel, desc.from_level, desc.to_level, state)
        old = desc.from_manifest
        if old.digest != state.pristine:
            notes.append(
                f"pristine level {desc.from_level} taken from the bundle's manifest "
                "(the home's recorded manifest differs; differing files count as local changes)"
            )
        new = desc.to_manifest()
        paths = sorted({*desc.changes, *(p for p in old if p not in new)})
        known_dirs: set[str] = set()
        for p in paths:
            check_relative(p)
            fsio.check_in_home(home.root, p, known_dirs)
        local = current_entries(home, paths, old)
        decisions = plan_update(old, new, local)
        profile = home.profile(state)
        merged: dict[str, bytes] = {}
        changes: list[Change] = []
        conflicts: list[_Conflict] = []
        for d in decisions:
            if d.action in ("take", "remove"):
                changes.append(Change(path=d.path, before=d.local, after=d.result))
            elif d.action == "merge":
                assert d.result is not None
                outcome = _merge(home, bundle, d, profile.is_config(d.path))
                if outcome is not None and outcome.clean:
                    entry = _bytes_entry(outcome.merged, d.result.mode)
                    merged[entry.sha256] = outcome.merged
                    changes.append(Change(path=d.path, before=d.local, after=entry))
                    if outcome.fallback:
                        notes.append(f"{d.path}: {outcome.fallback}")
                else:
                    conflicts.append(_Conflict(d, outcome.merged if outcome else None, outcome))
            elif d.action == "conflict":
                conflicts.append(_Conflict(d, _two_way(bundle, home, d)))
        counts = {
            a: sum(1 for d in decisions if d.action == a)
            for a in ("take", "remove", "keep", "merge", "noop")
        }
        counts["conflict"] = len(conflicts)
        counts["merged"] = len(merged)

        def result(status: str) -> ApplyResult:
            return ApplyResult(
                home=str(home.root),
                status=status,
                from_level=desc.from_level,
                to_level=desc.to_level,
                plan=tuple(_decision_dict(d) for d in decisions),
                conflicts=tuple(c.to_dict() for c in conflicts),
                notes=tuple(notes),
                updates=tuple(u.to_dict() for u in desc.updates),
                counts=counts,
            )

        if dry_run:
            return result("dry-run")
        keep: dict[str, Iterable[bytes]] = {}
        for c in conflicts:
            d = c.decision
            if on_conflict == "new":
                upstream = d.upstream if d.upstream and d.upstream.kind != "dir" else None
                changes.append(Change(path=d.path, before=d.local, after=upstream))
            elif on_conflict == "local":
                if d.upstream is not None and d.upstream.kind == "file":
                    keep[d.upstream.sha256] = bundle.blob_chunks(d.upstream.sha256)
            else:
                changes.extend(c.helper_changes(home, bundle))
        for c in conflicts:
            merged.update((_sha(b), b) for b in c.helper_bytes.values())
        stopping = bool(conflicts) and on_conflict == "stop"
        txn = Transaction.prepare(
            home,
            kind="apply",
            changes=changes,
            content=_blob_source(bundle, home, merged),
            from_level=desc.from_level,
            to_level=desc.to_level,
            to_pristine=new.digest,
            target_dirs=lambda d: d in new and new[d].kind == "dir",
            keep=keep,
            progress=progress,
            conflicts=[c.to_dict() for c in conflicts] if stopping else [],
            meta={
                "source": label,
                "updates": [u.to_dict() for u in desc.updates],
                "on_conflict": on_conflict,
            },
        )
        txn.execute()

        def save_manifests() -> None:
            home.save_manifest(old)
            home.save_manifest(new)

        if stopping:
            event = Event(
                time=now(),
                event="stopped",
                from_level=desc.from_level,
                to_level=desc.to_level,
                txn=txn.j.id,
                detail=f"{len(conflicts)} conflict(s)",
            )
            txn.stop(state.with_event(event, pending=txn.j.id), before=save_manifests)
            return result("conflicts")
        detail = f"{len(changes)} change(s)"
        if conflicts:
            detail += f", {len(conflicts)} conflict(s) resolved to {on_conflict}"
        _commit(txn, state, new, desc.from_level, desc.to_level, detail, before=save_manifests)
        rebase_index(
            home, old.digest, new, {*paths, *(c.path for c in changes)}, _settled(changes, new)
        )
        return result("applied")


def _settled(changes: Iterable[Change], new: Manifest) -> set[str]:
    """Paths a transaction left exactly as pristine `new` has them (not merged, not kept)."""
    return {c.path for c in changes if c.after is not None and new.get(c.path) == c.after}


def _check_applies(
    product: str, channel: str, from_level: int, to_level: int, state: State
) -> None:
    if product != state.product:
        raise BundleError(f"the bundle is for {product}; this home is {state.product}")
    if channel != state.channel:
        raise BundleError(
            f"the bundle's levels are those of the {channel} channel; this home follows {state.channel}"
        )
    if from_level != state.level:
        raise BundleError(
            f"the bundle goes from level {from_level} to {to_level}; this home is at level {state.level}",
            hint="apply the bundles in order, or get one that starts at this home's level",
        )


def _commit(
    txn: Transaction,
    state: State,
    new: Manifest,
    from_level: int,
    to_level: int,
    detail: str,
    before: Callable[[], None] | None = None,
) -> State:
    new_state = state.with_event(
        Event(
            time=now(),
            event="migrated" if txn.j.kind == "migrate" else "applied",
            from_level=from_level,
            to_level=to_level,
            txn=txn.j.id,
            detail=detail,
        ),
        level=to_level,
        pristine=new.digest,
        levels={**state.levels, to_level: new.digest},
    )
    return txn.commit(new_state, before=before)


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _bytes_entry(data: bytes, mode: int) -> Entry:
    return Entry(kind="file", mode=mode, size=len(data), sha256=_sha(data))


def _content(home: Home, bundle: UpdateSource, entry: Entry | None) -> bytes | None:
    if entry is None or entry.kind != "file":
        return None
    if bundle.has_blob(entry.sha256):
        return bundle.read_blob(entry.sha256)
    if home.has_object(entry.sha256):
        return home.object_path(entry.sha256).read_bytes()
    return None


def _merge(home: Home, bundle: UpdateSource, d: Decision, config: bool) -> MergeResult | None:
    """The three-way merge of a file changed on both sides: by structure when the profile
    calls it configuration (TOML, XML, YAML, JSON, .properties), else by lines; None when
    it cannot be merged (binary, or the old content is not available)."""
    base = _content(home, bundle, d.base)
    theirs = _content(home, bundle, d.upstream)
    ours = (home.root / d.path).read_bytes()
    if base is None or theirs is None:
        return None
    try:
        return merge(base, ours, theirs, "auto" if config else "text", path=d.path)
    except UnparsableInput:
        return None


def _two_way(bundle: UpdateSource, home: Home, d: Decision) -> bytes | None:
    """A best-effort f.merge for add/add conflicts between two text files."""
    if d.local is None or d.local.kind != "file" or d.base is not None:
        return None
    theirs = _content(home, bundle, d.upstream)
    ours = (home.root / d.path).read_bytes()
    if theirs is None or not (is_text(ours) and is_text(theirs)):
        return None
    return merge_text(b"", ours, theirs).merged


@dataclass
class _Conflict:
    """A path changed on both sides, and the helper files left beside it when stopping."""

    decision: Decision
    merge_bytes: bytes | None
    outcome: MergeResult | None = None  # the merge that found the conflicting settings
    helper_bytes: dict[str, bytes] = field(default_factory=dict)  # helper path → bytes

    @property
    def mode(self) -> int:
        """The mode f.final gets: the operator's if they changed it, else upstream's."""
        d = self.decision
        if d.local and d.base and d.local.mode != d.base.mode:
            return d.local.mode
        for e in (d.upstream, d.local):
            if e is not None and e.kind == "file":
                return e.mode
        return 0o644

    def to_dict(self) -> dict[str, Any]:
        d = self.decision

        def e(x: Entry | None) -> dict[str, Any] | None:
            return x.to_dict() if x else None

        return {
            "path": d.path,
            "reason": d.reason,
            "base": e(d.base),
            "upstream": e(d.upstream),
            "local": e(d.local),
            "mode": self.mode,
            "helpers": sorted(self.helper_bytes),
            "format": self.outcome.format if self.outcome else None,
            "settings": [c.to_dict() for c in self.outcome.conflicts] if self.outcome else [],
        }

    def helper_changes(self, home: Home, bundle: UpdateSource) -> list[Change]:
        """f.original, f.new and f.merge beside f (refused if one of them exists already)."""
        d = self.decision
        wanted = {
            ".original": _content(home, bundle, d.base),
            ".new": _content(home, bundle, d.upstream),
            ".merge": self.merge_bytes,
        }
        out = []
        for suffix, data in wanted.items():
            if data is None:
                continue
            path = d.path + suffix
            if os.path.lexists(home.root / path):
                raise UplevelError(
                    f"cannot leave {path} for the conflict on {d.path}: that file already exists",
                    hint="move it away and run the command again",
                )
            self.helper_bytes[path] = data
            entry = _bytes_entry(data, 0o644)
            out.append(Change(path=path, before=None, after=entry, helper=True))
        return out


# --- continue and abort ----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SettleResult:
    home: str
    status: str  # applied | conflicts | aborted
    level: int
    resolved: tuple[dict[str, Any], ...] = ()
    unresolved: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        return 3 if self.status == "conflicts" else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "home": self.home,
            "status": self.status,
            "level": self.level,
            "resolved": list(self.resolved),
            "unresolved": list(self.unresolved),
            "kept_in_store": list(self.kept),
            "notes": list(self.notes),
        }


def continue_(root: Path, *, take: OnConflict | None = None, force: bool = False) -> SettleResult:
    """Finish a stopped update: each conflict takes f.final (or the side named by `take`)."""
    with open_home(root, change=True, force=force, allow_pending=True) as s:
        home, state = s.home, s.state
        txn = open_transaction(home)
        if not state.pending or txn is None:
            raise UsageError("no update is stopped on conflicts in this home")
        changes: list[Change] = []
        resolved, unresolved = [], []
        for c in txn.j.conflicts:
            path = c["path"]
            final = home.root / (path + ".final")
            current = read_entry(home.root, path)
            upstream = Entry.from_dict(c["upstream"]) if c["upstream"] else None
            if os.path.lexists(final):
                if os.path.islink(final) or not final.is_file():
                    raise UplevelError(f"{path}.final must be a regular file")
                sha = hash_file(final)
                after = Entry(kind="file", mode=c["mode"], size=final.stat().st_size, sha256=sha)
                changes.append(Change(path=path, before=current, after=after))
                changes.append(
                    Change(
                        path=path + ".final",
                        before=read_entry(home.root, path + ".final"),
                        after=None,
                        helper=True,
                    )
                )
                resolved.append({"path": path, "from": "final"})
            elif take == "new":
                taken = upstream if upstream is None or upstream.kind != "dir" else None
                changes.append(Change(path=path, before=current, after=taken))
                resolved.append({"path": path, "from": "new"})
            elif take == "local":
                resolved.append({"path": path, "from": "local"})
            else:
                unresolved.append(path)
                continue
            for h in c.get("helpers", []):
                changes.append(
                    Change(path=h, before=read_entry(home.root, h), after=None, helper=True)
                )
        if unresolved:
            return SettleResult(
                home=str(home.root),
                status="conflicts",
                level=state.level,
                unresolved=tuple(unresolved),
                notes=(
                    "write each f.final (or pass --take new|local) and run `uplevel continue` again",
                ),
            )
        helper_files = {c.path: home.root / c.path for c in changes if c.path.endswith(".new")}

        def content(c: Change) -> Iterable[bytes]:
            assert c.after is not None
            final = home.root / (c.path + ".final")
            if os.path.isfile(final) and hash_file(final) == c.after.sha256:
                return _file_chunks(final)
            new_helper = helper_files.get(c.path + ".new")
            if new_helper is not None and new_helper.exists():
                return _file_chunks(new_helper)
            if home.has_object(c.after.sha256):
                return _file_chunks(home.object_path(c.after.sha256))
            raise UplevelError(
                f"{c.path}: the new content is no longer available (was {c.path}.new removed?)"
            )

        txn.extend(changes, content)
        txn.execute(txn.j.stop_index)
        old, new = home.load_manifest(state.pristine), home.load_manifest(txn.j.to_pristine)
        touched = {
            *changed_paths(old, new),
            *(c.path for c in txn.j.changes),
            *(c.path for c in changes),
        }
        committed = _commit(
            txn,
            replace(state, pending=None),
            new,
            txn.j.from_level,
            txn.j.to_level,
            f"continued: {len(resolved)} conflict(s) resolved",
        )
        rebase_index(home, old.digest, new, touched, _settled([*txn.j.changes, *changes], new))
        return SettleResult(
            home=str(home.root),
            status="applied",
            level=committed.level,
            resolved=tuple(resolved),
            notes=tuple(s.notes),
        )


def abort(root: Path, *, force: bool = False) -> SettleResult:
    """Undo a stopped update: the home returns to its exact bytes before `apply`."""
    with open_home(root, change=True, force=force, allow_pending=True) as s:
        home, state = s.home, s.state
        txn = open_transaction(home)
        if not state.pending or txn is None:
            raise UsageError("no update is stopped on conflicts in this home")
        txn.j.phase = "aborting"
        txn.save()
        kept = sweep_finals(txn)
        state, _ = recover(home, state)
        return SettleResult(
            home=str(home.root),
            status="aborted",
            level=state.level,
            kept=tuple(kept),
            notes=tuple(s.notes),
        )
