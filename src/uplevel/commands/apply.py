"""apply, continue, abort: bringing a home to a bundle's level, and settling conflicts.

`apply_source` is the one way any update changes a home: a bundle file (`apply`), a signed
bundle (`apply_signed`) or what `update` fetched from a server.

Order of work in `apply` (safety rule 2): open and verify the bundle, check that
it is for this home's product, channel and level, check every path, plan, do the
merges in memory, then hand everything to one Transaction. The home proper is
first touched by Transaction.execute.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from uplevel.core.jump import BundleDescriptor, refuse_special
from uplevel.core.manifest import Entry, Manifest
from uplevel.core.paths import check_relative
from uplevel.core.plan import Decision, changed_paths, plan_update
from uplevel.engine import fsio, interrupt
from uplevel.engine.conflicts import ConflictRecord, helper_change, helper_files
from uplevel.engine.home import Event, Home, State, now
from uplevel.engine.localchanges import current_entries, rebase_index
from uplevel.engine.scan import hash_file, read_entry
from uplevel.engine.session import Session, open_home
from uplevel.engine.txn import (
    Change,
    Content,
    Transaction,
    Verified,
    open_transaction,
    recover,
    sweep_finals,
)
from uplevel.errors import BundleError, HomeError, UplevelError, UsageError
from uplevel.formats.bundle import Bundle, is_signed_bundle
from uplevel.merge.engine import merge
from uplevel.merge.result import MergeResult, UnparsableInput
from uplevel.merge.text import is_text, merge_text

if TYPE_CHECKING:
    from uplevel.client.offline import (
        SignedBundle,
        SignedBundleInfo,
        SignedBundleUpdate,
        VerifiedBundle,
    )

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
        while chunk := f.read(fsio.CHUNK):
            yield chunk


def _decision_dict(d: Decision) -> dict[str, Any]:
    return {"path": d.path, "action": d.action, "reason": d.reason}


def apply(
    root: Path,
    bundle_path: Path,
    *,
    max_age: str | None = None,
    dry_run: bool = False,
    on_conflict: OnConflict = "stop",
    force: bool = False,
    allow_special: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ApplyResult:
    """In-place update from an offline bundle file. A signed bundle (`uplevel export`) is
    verified against the root this home pinned, and accepted up to `max_age` (e.g. "30d")
    after its timestamp expired; an unsigned one (`uplevel bundle create`) by its hashes."""
    if is_signed_bundle(bundle_path):
        from uplevel.client import offline

        return apply_signed(
            root,
            bundle_path,
            max_age=offline.DEFAULT_MAX_AGE if max_age is None else offline.parse_max_age(max_age),
            dry_run=dry_run,
            on_conflict=on_conflict,
            force=force,
            progress=progress,
        )
    if max_age is not None:
        raise UsageError("--max-age applies to signed bundles only (see `uplevel export`)")
    with Bundle(bundle_path) as bundle:
        # an unsigned bundle's publisher made no promise: set-ID files and links out of the
        # home are refused before the home is opened (signed ones were checked when published)
        refuse_special(
            bundle.descriptor.changes, allow=allow_special, what=f"bundle {bundle_path.name}"
        )
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
    cleanup: Callable[[], None] | None = None,
) -> ApplyResult:
    """In-place update from any verified source of a descriptor and its blobs (a bundle file,
    or what the online client fetched): plan, merge, then one transaction. `cleanup` runs once
    the home is updated or stopped on conflicts, while its lock is still held (the online
    update's download cache, which another uplevel could otherwise already be filling)."""
    if on_conflict not in ("stop", "new", "local"):
        raise UsageError(f"--on-conflict must be stop, new or local, not {on_conflict!r}")
    with open_home(root, change=not dry_run, force=force) as s:
        result = _apply_in_session(
            s, bundle, label=label, dry_run=dry_run, on_conflict=on_conflict, progress=progress
        )
        if cleanup is not None:
            cleanup()
        return result


def _apply_in_session(
    s: Session,
    bundle: UpdateSource,
    *,
    label: str,
    dry_run: bool,
    on_conflict: OnConflict,
    progress: Callable[[int], None] | None,
) -> ApplyResult:
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
                entry = Entry.for_bytes(outcome.merged, d.result.mode)
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

    def record(self) -> ConflictRecord:
        d = self.decision
        return ConflictRecord(
            path=d.path,
            reason=d.reason,
            base=d.base,
            upstream=d.upstream,
            local=d.local,
            mode=self.mode,
            helpers=tuple(sorted(self.helper_bytes)),
            outcome=self.outcome,
        )

    def to_dict(self) -> dict[str, Any]:
        return self.record().to_dict()

    def helper_changes(self, home: Home, bundle: UpdateSource) -> list[Change]:
        """f.original, f.new and f.merge beside f (refused if one of them exists already)."""
        d = self.decision
        self.helper_bytes.update(
            helper_files(
                home.root,
                d.path,
                original=_content(home, bundle, d.base),
                new=_content(home, bundle, d.upstream),
                merge=self.merge_bytes,
            )
        )
        return [helper_change(p, data) for p, data in self.helper_bytes.items()]


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
        interrupt.commit_point()  # once "aborting" is written, recovery finishes the abort
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


# --- apply a signed bundle -------------------------------------------------------------------


def apply_signed(
    root: Path,
    bundle_path: Path,
    *,
    max_age: dt.timedelta,
    dry_run: bool = False,
    on_conflict: OnConflict = "stop",
    force: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ApplyResult:
    """In-place update from a signed bundle, verified against the home's pinned root.

    python-tuf walks the bundle as if it were the server, against the root this home pinned
    at `init --server`; the level documents it verifies give the descriptor, each blob is
    checked against them, and the home then changes only through apply_source. The home's
    trusted metadata is advanced only after all of that verified, and to exactly the files
    an online refresh would have written."""
    # TUF is imported here so that `apply` of an unsigned bundle never loads it.
    from uplevel.client.offline import (
        SignedBundle,
        VerifiedBundle,
        commit_trust,
        utc_iso,
    )

    with SignedBundle(bundle_path) as bundle:
        with open_home(root, change=False) as s:
            s.check_can_change()
            home, st = s.home, s.state
            pinned = home.tuf_dir / "root.json"
            if not pinned.is_file():
                raise HomeError(
                    "this home has no pinned root of trust, so a signed bundle cannot be "
                    "verified here (the home was adopted without a server)",
                    hint="adopt the home with `uplevel init --server URL` (that pins the "
                    "repository's root), or apply an unsigned bundle",
                )
            _check_for_home(bundle.info, st.product, st.channel, st.level)
            with tempfile.TemporaryDirectory(prefix="uplevel-offline-") as scratch:
                work = Path(scratch) / "tuf"
                shutil.copytree(home.tuf_dir, work)
                verified = VerifiedBundle(
                    bundle, work, bootstrap=pinned.read_bytes(), max_age=max_age
                )
                verified.refresh()
                source = _verified_source(
                    verified, bundle, st.product, st.channel, st.level, st.pristine
                )
                trusted = verified.trusted
                notes = [
                    f"signed bundle verified against this home's root (version "
                    f"{trusted.root.version}); timestamp version {trusted.timestamp.version}, "
                    f"exported {bundle.info.exported_at}"
                ]
                if trusted.timestamp.is_expired(trusted.wall_clock):
                    notes.append(
                        f"its timestamp expired at {utc_iso(trusted.timestamp.expires)}; "
                        "accepted as an offline bundle within --max-age"
                    )
                if not dry_run:
                    commit_trust(work, home.tuf_dir)
        result = apply_source(
            root,
            source,
            label=bundle_path.name,
            dry_run=dry_run,
            on_conflict=on_conflict,
            force=force,
            progress=progress,
        )
    return replace(result, notes=(*notes, *result.notes))


def _check_for_home(info: SignedBundleInfo, product: str, channel: str, level: int) -> None:
    """The descriptor's claims against the home, for a clear early refusal (the verified
    documents decide again later)."""
    if info.product != product:
        raise BundleError(f"the bundle is for {info.product}; this home is {product}")
    if info.channel != channel:
        raise BundleError(
            f"the bundle's levels are those of the {info.channel} channel; this home follows {channel}"
        )
    if info.from_level != level:
        raise BundleError(
            f"the bundle goes from level {info.from_level} to {info.to_level}; "
            f"this home is at level {level}",
            hint="export a bundle that starts at this home's level",
        )


def _verified_source(
    verified: VerifiedBundle,
    bundle: SignedBundle,
    product: str,
    channel: str,
    level: int,
    pristine: str,
) -> SignedBundleUpdate:
    """The descriptor from documents python-tuf verified, and blobs checked against them."""
    from uplevel.client.offline import SignedBundleUpdate
    from uplevel.client.remote import descriptor_between
    from uplevel.repo.documents import channel_levels

    to_level = bundle.info.to_level
    levels = channel_levels(verified.target_paths(), product, channel)
    if to_level not in levels:
        raise BundleError(
            f"{bundle.path}: level {to_level} of {product} ({channel}) is not in the signed metadata"
        )
    old = verified.level_manifest(product, channel, level)
    if old.manifest.digest != pristine:
        raise HomeError(
            f"the repository's level {level} differs from the pristine tree this home recorded",
            hint="the repository was rebuilt; adopt the home again with `uplevel init --server`",
        )
    new = verified.level_manifest(product, channel, to_level)
    updates = [verified.level_update(product, channel, n) for n in levels if level < n <= to_level]
    descriptor = descriptor_between(
        product=product, channel=channel, old=old, new=new, updates=updates
    )
    source = SignedBundleUpdate(bundle, descriptor)
    source.check_blobs()
    return source
