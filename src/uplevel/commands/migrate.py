"""migrate: carry a stopped old home's runtime data, additions and configuration into a new one.

Order of work (safety rules 2 and 4): refuse while either server runs (pid file, H2 lock
files, a database file another process holds locked); find the pristine trees of both
homes; read and hash what the plan needs; plan (migrate_plan, pure); do the merges in
memory; then one Transaction on NEW (kind "migrate"): every carried file is staged with
its hash checked, the journal is written, the steps run, NEW's state.json commits.
OLD is only read: not one byte of it changes (an adopted OLD is locked while it is read).

NEW's pristine manifest stays NEW's pristine: what migrate carries is a local change of
NEW, so `uplevel status` on NEW lists it and a later `uplevel update` merges it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uplevel.commands.adopt import adoption, write_adoption
from uplevel.core.closest import closest_level
from uplevel.core.manifest import Entry, Manifest
from uplevel.core.migrate_plan import Item, counts, differs, plan_migration
from uplevel.core.paths import parents
from uplevel.core.plan import MERGE_MAX
from uplevel.core.profile import Profile
from uplevel.engine import fsio
from uplevel.engine.conflicts import ConflictRecord, helper_change, helper_files
from uplevel.engine.home import Event, Home, State, now
from uplevel.engine.localchanges import load_index, rebase_index  # OLD's index: only read
from uplevel.engine.profiles import profile_for
from uplevel.engine.running import check_stopped
from uplevel.engine.scan import entry_from_stat, hash_many, walk
from uplevel.engine.session import open_home
from uplevel.engine.txn import Change, CopyOf, Transaction
from uplevel.errors import BusyError, HomeError, UplevelError, UsageError

if TYPE_CHECKING:
    from uplevel.client.sources import LevelSource


@dataclass(frozen=True, kw_only=True)
class MigrateResult:
    old_home: str
    new_home: str
    status: str  # migrated | conflicts | dry-run
    product: str
    old_product: str
    old_level: int
    old_level_from: str  # state | given | closest
    new_level: int
    new_pristine_from: str  # state | repository | adopted as it is
    link: bool
    items: tuple[dict[str, Any], ...]
    counts: dict[str, int]
    bytes: dict[str, int]
    links: dict[str, int] = field(default_factory=dict)
    conflicts: tuple[dict[str, Any], ...] = ()
    closeness: tuple[dict[str, int], ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        return 3 if self.status == "conflicts" else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "old_home": self.old_home,
            "new_home": self.new_home,
            "status": self.status,
            "product": self.product,
            "old_product": self.old_product,
            "old_level": self.old_level,
            "old_level_from": self.old_level_from,
            "new_level": self.new_level,
            "new_pristine_from": self.new_pristine_from,
            "link": self.link,
            "counts": self.counts,
            "bytes": self.bytes,
            "links": self.links,
            "items": list(self.items),
            "conflicts": list(self.conflicts),
            "closeness": list(self.closeness),
            "notes": list(self.notes),
        }


# --- reading a tree ---------------------------------------------------------------------------


def _stats(root: Path) -> dict[str, os.stat_result]:
    out = {}
    for rel, st in walk(root):
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            raise UplevelError(f"{root / rel}: not a file, symlink or directory")
        out[rel] = st
    return out


def _entries(
    root: Path, stats: dict[str, os.stat_result], hashes: dict[str, str]
) -> dict[str, Entry]:
    return {p: entry_from_stat(root, p, st, hashes.get(p, "")) for p, st in stats.items()}


def _hash(root: Path, paths: Iterable[str]) -> dict[str, str]:
    todo = sorted(set(paths))
    return dict(zip(todo, hash_many(root / p for p in todo), strict=True))


def _lstat(path: Path | str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _same_shape(st: os.stat_result, e: Entry | None) -> bool:
    return (
        e is not None
        and e.kind == "file"
        and stat.S_ISREG(st.st_mode)
        and e.size == st.st_size
        and e.mode == stat.S_IMODE(st.st_mode)
    )


# --- the pristine trees -----------------------------------------------------------------------


@dataclass
class _Old:
    product: str
    channel: str
    level: int
    level_from: str
    base: Manifest
    closeness: list[dict[str, int]] = field(default_factory=list)


def _find_old_pristine(
    old_home: Home,
    stats: dict[str, os.stat_result],
    hashes: dict[str, str],
    *,
    product: str,
    channel: str,
    from_level: int | None,
    source: Callable[[], LevelSource | None],
) -> _Old:
    if old_home.adopted:
        st = old_home.load_state()
        if from_level is not None and from_level != st.level:
            raise UsageError(
                f"OLD's uplevel state says level {st.level}, not {from_level}",
                hint="leave out --from-level for an adopted home",
            )
        return _Old(st.product, st.channel, st.level, "state", old_home.load_manifest(st.pristine))
    repo = source()
    if repo is None:
        raise UsageError(
            f"OLD ({old_home.root}) was never adopted by uplevel, so its pristine files are unknown",
            hint="give --repo DIR or --server URL (its level is then found by comparing), "
            "or adopt it with `uplevel init` when it is pristine",
        )
    levels = repo.levels(product, channel)
    if not levels:
        raise UsageError(f"{repo.origin} publishes no level of {product} ({channel} channel)")
    if from_level is not None:
        if from_level not in levels:
            raise UsageError(
                f"level {from_level} of {product} is not published "
                f"(levels: {', '.join(map(str, levels))})"
            )
        base = repo.level_manifest(product, channel, from_level).manifest
        return _Old(product, channel, from_level, "given", base)
    candidates = {n: repo.level_manifest(product, channel, n).manifest for n in levels}
    # Only files that could match a candidate need hashing to score closeness.
    wanted = {
        p
        for m in candidates.values()
        for p, e in m.items()
        if p in stats and p not in hashes and _same_shape(stats[p], e)
    }
    hashes.update(_hash(old_home.root, wanted))
    old_tree = {p: entry_from_stat(old_home.root, p, stats[p], hashes.get(p, "")) for p in stats}
    best, scores = closest_level(candidates, old_tree)
    return _Old(
        product,
        channel,
        best.level,
        "closest",
        candidates[best.level],
        [s.__dict__ for s in scores],
    )


@contextlib.contextmanager
def _level_source(
    repo: Path | None,
    server: str | None,
    pinned: list[Path],
    token_file: Path | None,
    ca_bundle: Path | None,
) -> Iterator[Callable[[], LevelSource | None]]:
    """A lazily opened repository (a server is contacted only when it is needed)."""
    if repo is not None and server is not None:
        raise UsageError("give --repo or --server, not both")
    opened: list[LevelSource] = []

    def get() -> LevelSource | None:
        if opened:
            return opened[0]
        from uplevel.client.sources import RepositoryDirectory, ServerLevels

        src: LevelSource | None = None
        if repo is not None:
            src = RepositoryDirectory(repo)
        elif server is not None:
            tuf = next((p for p in pinned if (p / "root.json").is_file()), None)
            src = ServerLevels(server, pinned=tuf, token_file=token_file, ca_bundle=ca_bundle)
        if src is not None:
            opened.append(src)
        return src

    try:
        yield get
    finally:
        for s in opened:
            s.close()


# --- migrate -----------------------------------------------------------------------------------


def migrate(
    old_root: Path,
    new_root: Path,
    *,
    repo: Path | None = None,
    server: str | None = None,
    product: str | None = None,
    from_level: int | None = None,
    to_level: int | None = None,
    link: bool = False,
    dry_run: bool = False,
    force: bool = False,
    token_file: Path | None = None,
    ca_bundle: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> MigrateResult:
    """Carry OLD's runtime data, additions and customised configuration into NEW."""
    old_home, new_home = Home(old_root), Home(new_root)
    for h, which in ((old_home, "OLD"), (new_home, "NEW")):
        if not h.root.is_dir():
            raise UsageError(f"{which} ({h.root}) is not a directory")
    a, b = old_home.root, new_home.root
    if a == b or a in b.parents or b in a.parents:
        raise UsageError("OLD and NEW must be two separate directories, neither inside the other")
    with contextlib.ExitStack() as stack:
        old_state = None
        if old_home.adopted:
            stack.enter_context(old_home.locked())  # no uplevel changes OLD while it is read
            old_state = old_home.load_state()
            if old_state.pending or os.path.lexists(old_home.txn_dir):
                raise HomeError(
                    f"OLD ({a}) has an update in progress or stopped on conflicts",
                    hint="finish it there first (`uplevel status`, then `continue` or `abort`)",
                )
        new_state = new_home.load_state() if new_home.adopted else None
        old_product = (
            old_state.product if old_state else product or (new_state.product if new_state else "")
        )
        if not old_product:
            raise UsageError(
                "neither home was adopted by uplevel, so the product is unknown",
                hint="pass --product NAME-VERSION (OLD's product)",
            )
        new_product = new_state.product if new_state else old_product
        channel = old_state.channel if old_state else new_state.channel if new_state else "full"
        profile = profile_for(new_product)
        old_stats = _stats(a)
        check_stopped(a, profile_for(old_product), files=old_stats, which="OLD", force=force)
        new_stats = _stats(b)
        check_stopped(b, profile, files=new_stats, which="NEW", force=force)
        source = stack.enter_context(
            _level_source(
                repo,
                server,
                # A root pinned by a home that follows this very server; else trust on first use.
                [
                    h.tuf_dir
                    for h, st in ((old_home, old_state), (new_home, new_state))
                    if st is not None and server and st.server == server.rstrip("/")
                ],
                token_file,
                ca_bundle,
            )
        )
        hashes: dict[str, str] = {}
        old = _find_old_pristine(
            old_home,
            old_stats,
            hashes,
            product=old_product,
            channel=channel,
            from_level=from_level,
            source=source,
        )
        notes: list[str] = []
        if new_state is None:
            level, pristine, new_from, notes = _new_pristine(
                new_home, new_stats, new_product, channel, to_level, source
            )
            if not dry_run:
                _adopt(new_home, new_product, channel, level, pristine, new_from, a)
                notes.append(f"NEW adopted at level {level} ({new_from})")
                new_from = f"{new_from}, adopted"
        if new_home.adopted:
            session = stack.enter_context(open_home(b, change=not dry_run, force=force))
            if session.read_only:
                raise BusyError(f"another uplevel is working on {b}")
            notes += session.notes
            level, pristine = session.state.level, new_home.load_manifest(session.state.pristine)
            if new_state is not None:
                new_from = "state"
        plan = _plan(old_home, new_home, old, old_stats, hashes, pristine, profile, source)
        head = _Head(
            old_home=str(a),
            new_home=str(b),
            product=new_product,
            old_product=old.product,
            old_level=old.level,
            old_level_from=old.level_from,
            new_level=level,
            new_pristine_from=new_from,
            link=link,
            closeness=tuple(old.closeness),
        )
        if old.product != new_product:
            notes.append(
                f"OLD is {old.product}, NEW is {new_product}: configuration merged across releases"
            )
        notes += plan.notes
        if dry_run:
            return head.result("dry-run", plan, {}, notes)
        return _carry(session.home, session.state, pristine, plan, head, notes, link, progress)
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True, kw_only=True)
class _Head:
    """What the result says about the two homes (the same in every outcome)."""

    old_home: str
    new_home: str
    product: str
    old_product: str
    old_level: int
    old_level_from: str
    new_level: int
    new_pristine_from: str
    link: bool
    closeness: tuple[dict[str, int], ...]

    def result(
        self, status: str, plan: _Plan, links: dict[str, int], notes: list[str]
    ) -> MigrateResult:
        return MigrateResult(
            **self.__dict__,
            status=status,
            items=tuple(plan.shown),
            counts=counts(plan.items),
            bytes=plan.sizes,
            links=links,
            conflicts=tuple(plan.conflicts),
            notes=tuple(notes),
        )


@dataclass
class _Plan:
    items: list[Item]
    changes: list[Change]
    merged: dict[str, bytes]
    helpers: dict[str, bytes]
    copies: dict[str, CopyOf]
    conflicts: list[dict[str, Any]]
    notes: list[str]

    @property
    def shown(self) -> list[dict[str, Any]]:
        out = []
        for i in self.items:
            if i.old is None and i.action == "skip":
                continue
            d = i.to_dict()
            if i.action == "merge":
                d["bytes"] = len(self.merged[i.path])
            copy = self.copies.get(i.path)
            if copy is not None and copy.how:
                d["how"] = copy.how
            out.append(d)
        return out

    @property
    def sizes(self) -> dict[str, int]:
        def total(action: str) -> int:
            return sum(i.size for i in self.items if i.action == action)

        return {
            "copied": total("copy"),
            "carried": total("carry"),
            "merged": sum(len(m) for m in self.merged.values()),
            "conflicts": total("conflict"),
        }


def _new_pristine(
    new_home: Home,
    new_stats: dict[str, os.stat_result],
    product: str,
    channel: str,
    to_level: int | None,
    source: Callable[[], LevelSource | None],
) -> tuple[int, Manifest, str, list[str]]:
    """An unadopted NEW's level and pristine tree: the repository's level (given, or the
    closest to NEW's files); else its own files as they are, at --to-level (default 0)."""
    repo = source()
    if repo is not None:
        levels = repo.levels(product, channel)
        if to_level is not None:
            if to_level not in levels:
                raise UsageError(f"level {to_level} of {product} is not published")
            manifest = repo.level_manifest(product, channel, to_level).manifest
            return to_level, manifest, "repository", []
        if levels:
            candidates = {n: repo.level_manifest(product, channel, n).manifest for n in levels}
            wanted = {
                p
                for m in candidates.values()
                for p, e in m.items()
                if p in new_stats and _same_shape(new_stats[p], e)
            }
            found = _entries(new_home.root, new_stats, _hash(new_home.root, wanted))
            best, _ = closest_level(candidates, found)
            return best.level, candidates[best.level], "repository", []
    files = (p for p, s in new_stats.items() if stat.S_ISREG(s.st_mode))
    tree = Manifest(_entries(new_home.root, new_stats, _hash(new_home.root, files)))
    level = to_level or 0
    note = (
        f"NEW was not adopted and no repository names its level: its files as they are "
        f"count as pristine at level {level} (--to-level says otherwise)"
    )
    return level, tree, "its own files", [note]


def _adopt(
    new_home: Home,
    product: str,
    channel: str,
    level: int,
    pristine: Manifest,
    how: str,
    old: Path,
) -> None:
    """Adopt NEW (as `uplevel init` does, with the pristine tree found) before migrating."""
    with new_home.locked():
        if new_home.adopted:
            raise HomeError(f"{new_home.root} was adopted meanwhile; run the command again")
        detail = f"adopted by migrate from {old} (pristine: {how})"
        state = adoption(product, channel, level, pristine, detail=detail)
        write_adoption(new_home, state, pristine)


def _plan(
    old_home: Home,
    new_home: Home,
    old: _Old,
    old_stats: dict[str, os.stat_result],
    hashes: dict[str, str],
    new_pristine: Manifest,
    profile: Profile,
    source: Callable[[], LevelSource | None],
) -> _Plan:
    """Hash what the planner must compare, plan, merge in memory, and list the changes."""
    a, b, base = old_home.root, new_home.root, old.base
    notes: list[str] = []
    todo = [p for p, s in old_stats.items() if p not in hashes and _same_shape(s, base.get(p))]
    if old.level_from == "state":
        # An adopted OLD's stat index proves most of its pristine files unchanged unread.
        index = load_index(old_home, base.digest)
        if index is not None:
            for p in [p for p in todo if index.trusted(p, old_stats[p])]:
                hashes[p] = base[p].sha256
            todo = [p for p in todo if p not in hashes]
    hashes.update(_hash(a, todo))
    old_entries = _entries(a, old_stats, hashes)
    for p, e in base.items():  # listed empty in the manifest, holding files in OLD now
        if e.kind == "dir" and p not in old_entries and fsio.is_dir_nofollow(a / p):
            old_entries[p] = Entry(kind="dir", mode=stat.S_IMODE(os.lstat(a / p).st_mode))
    changed = [p for p, e in old_entries.items() if differs(e, base.get(p))]
    # NEW's files at those paths, all hashed (a change backs them up under their hash);
    # OLD's file hashed too where it could equal NEW's.
    new_st = {p: _lstat(f"{b}/{p}") for p in changed}
    new_todo, old_todo = [], []
    for p, s in new_st.items():
        if s is None:
            continue
        if stat.S_ISREG(s.st_mode):
            new_todo.append(p)
        if _same_shape(s, old_entries[p]) and not old_entries[p].sha256:
            old_todo.append(p)
    new_hashes = _hash(b, new_todo)
    for p, sha in _hash(a, old_todo).items():
        old_entries[p] = entry_from_stat(a, p, old_stats[p], sha)
    new_entries: dict[str, Entry | None] = {
        p: None if s is None else entry_from_stat(b, p, s, new_hashes.get(p, ""))
        for p, s in new_st.items()
    }
    items = plan_migration(base, old_entries, new_entries, profile)
    # Conflicts record OLD's file in the journal: hash those (few) now.
    unhashed = [
        i.path
        for i in items
        if i.action in ("merge", "conflict") and i.old and i.old.kind == "file" and not i.old.sha256
    ]
    if unhashed:
        found = _hash(a, unhashed)
        items = [
            replace(i, old=entry_from_stat(a, i.path, old_stats[i.path], found[i.path]))
            if i.path in found
            else i
            for i in items
        ]
    both = [i for i in items if i.action in ("merge", "conflict") and i.base is not None]
    bases = _base_bytes(
        both,
        old_home,
        new_home,
        old,
        new_pristine,
        old_entries,
        source,
        need={i.path for i in items if i.action == "merge"},
    )
    merged: dict[str, bytes] = {}
    helpers: dict[str, bytes] = {}
    conflicts: list[dict[str, Any]] = []
    final: list[Item] = []
    for i in items:
        outcome = None
        if i.action == "merge":
            outcome, why = _merge(i, a, b, bases, profile.is_config(i.path))
            if outcome is not None and outcome.clean:
                merged[i.path] = outcome.merged
                final.append(i)
                if outcome.fallback:
                    notes.append(f"{i.path}: {outcome.fallback}")
                continue
            reason = why or "changed in OLD and in NEW: the merge conflicts"
            i = replace(i, action="conflict", reason=reason)
        if i.action == "conflict":
            made = _helpers(i, b, bases, outcome.merged if outcome else None)
            helpers.update(made)
            conflicts.append(_conflict(i, outcome, tuple(made)).to_dict())
        final.append(i)
    changes: list[Change] = []
    copies: dict[str, CopyOf] = {}
    for i in final:
        if i.old is None or i.action not in ("copy", "carry", "conflict", "merge"):
            continue
        after = i.old
        if i.action == "merge":
            after = Entry.for_bytes(merged[i.path], i.old.mode)
        elif i.old.kind == "file":
            copies[i.path] = CopyOf(a / i.path, link=i.action == "copy")
        changes.append(Change(path=i.path, before=i.new, after=after))
    changes.extend(helper_change(path, data) for path, data in sorted(helpers.items()))
    return _Plan(final, changes, merged, helpers, copies, conflicts, notes)


def _carry(
    home: Home,
    state: State,
    pristine: Manifest,
    plan: _Plan,
    head: _Head,
    notes: list[str],
    link: bool,
    progress: Callable[[int], None] | None,
) -> MigrateResult:
    """One transaction on NEW: stage (hash-checked), journal, steps, commit or stop."""
    if not link:
        for copy in plan.copies.values():
            copy.link = False

    def content(c: Change) -> Iterable[bytes]:
        if c.path in plan.merged:
            return [plan.merged[c.path]]
        if c.path in plan.helpers:
            return [plan.helpers[c.path]]
        return plan.copies[c.path]  # type: ignore[return-value]  # staged by the transaction

    # Directories migrate creates in NEW get the mode (and, as root, the owner) they have in OLD.
    old_root = Path(head.old_home)
    old_dirs: dict[str, os.stat_result] = {}
    for c in plan.changes:
        for d in parents(c.path):
            if d not in old_dirs:
                st = _lstat(old_root / d)
                if st is not None and stat.S_ISDIR(st.st_mode):
                    old_dirs[d] = st
    txn = Transaction.prepare(
        home,
        kind="migrate",
        changes=plan.changes,
        content=content,
        from_level=state.level,
        to_level=state.level,
        to_pristine=state.pristine,
        target_dirs=lambda d: d in pristine and pristine[d].kind == "dir",
        conflicts=plan.conflicts,
        meta={
            "source": head.old_home,
            "old_product": head.old_product,
            "old_level": head.old_level,
        },
        dir_modes={d: stat.S_IMODE(st.st_mode) for d, st in old_dirs.items()},
        progress=progress,
    )
    links = {"copied": 0, "reflinked": 0, "hardlinked": 0}
    for copy in plan.copies.values():
        links[copy.how] += 1
    if any(c.link and c.how == "copied" for c in plan.copies.values()):
        notes.append("--link: some runtime files were copied (links refused or another filesystem)")
    if links["hardlinked"]:
        notes.append(
            f"{links['hardlinked']} runtime file(s) hardlinked: OLD and NEW share them, so "
            "never start the old server again (docs/migrate.md)"
        )
    txn.execute()
    if os.geteuid() == 0:  # before the commit: a crash until then removes these directories
        for d in txn.j.dirs_created:
            if d in old_dirs:
                with contextlib.suppress(OSError):
                    os.lchown(home.root / d, old_dirs[d].st_uid, old_dirs[d].st_gid)
    n = counts(plan.items)
    detail = (
        f"from {head.old_home} ({head.old_product} level {head.old_level}): {n['copy']} copied, "
        f"{n['carry']} carried, {n['merge']} merged"
    )
    if plan.conflicts:
        event = Event(
            time=now(),
            event="stopped",
            from_level=state.level,
            to_level=state.level,
            txn=txn.j.id,
            detail=f"migrate {detail}; {len(plan.conflicts)} conflict(s)",
        )
        txn.stop(state.with_event(event, pending=txn.j.id))
        return head.result("conflicts", plan, links, notes)
    event = Event(
        time=now(),
        event="migrated",
        from_level=state.level,
        to_level=state.level,
        txn=txn.j.id,
        detail=detail,
    )
    txn.commit(state.with_event(event))
    rebase_index(home, state.pristine, pristine, {c.path for c in plan.changes}, set())
    return head.result("migrated", plan, links, notes)


def _base_bytes(
    items: list[Item],
    old_home: Home,
    new_home: Home,
    old: _Old,
    new_pristine: Manifest,
    old_entries: dict[str, Entry],
    source: Callable[[], LevelSource | None],
    *,
    need: set[str],
) -> dict[str, bytes]:
    """sha256 → bytes of OLD's pristine version of each item: from a backup store, from any
    file of either home that still holds those bytes, else from the repository. Missing
    bytes are an error only for merges (`need`); a conflict then lacks f.original."""
    wanted = {i.base.sha256: i for i in items if i.base is not None and i.base.kind == "file"}
    files: dict[str, list[Path]] = {}
    for h in (old_home, new_home):
        if h.adopted:
            for sha in wanted:
                if h.has_object(sha):
                    files.setdefault(sha, []).append(h.object_path(sha))
    for root, tree in ((new_home.root, new_pristine), (old_home.root, old_entries)):
        for p, e in tree.items():
            if e.kind == "file" and e.sha256 in wanted:
                files.setdefault(e.sha256, []).append(root / p)
    out: dict[str, bytes] = {}
    for sha, paths in files.items():
        for f in paths:
            with contextlib.suppress(OSError):
                data = f.read_bytes()
                if hashlib.sha256(data).hexdigest() == sha:
                    out[sha] = data
                    break
    missing = {sha for sha in wanted if sha not in out}
    if missing:
        repo = source()
        if repo is not None:
            out.update(repo.blobs(old.product, old.channel, old.level, missing))
    lacking = sorted(i.path for sha, i in wanted.items() if sha not in out and i.path in need)
    if lacking:
        raise UplevelError(
            f"OLD's pristine version of {lacking[0]} is needed for a three-way merge "
            f"({len(lacking)} file(s)) and neither home holds it",
            hint="give --repo DIR or --server URL so migrate can read it from the repository",
        )
    return out


def _merge(
    i: Item, a: Path, b: Path, bases: dict[str, bytes], config: bool
) -> tuple[Any, str | None]:
    from uplevel.merge.engine import merge
    from uplevel.merge.result import UnparsableInput
    from uplevel.merge.text import is_text

    assert i.base is not None and i.old is not None and i.new is not None
    base = bases.get(i.base.sha256)
    if base is None:
        return None, "changed in OLD and in NEW; OLD's pristine version is not available"
    if max(i.base.size, i.old.size, i.new.size) > MERGE_MAX:
        return None, "changed in OLD and in NEW; too large to merge"
    ours, theirs = (a / i.path).read_bytes(), (b / i.path).read_bytes()
    if not (is_text(base) and is_text(ours) and is_text(theirs)):
        return None, "binary, changed in OLD and in NEW"
    try:
        return merge(base, ours, theirs, "auto" if config else "text", path=i.path), None
    except UnparsableInput as exc:
        return None, f"changed in OLD and in NEW; cannot be merged ({exc})"


def _conflict(i: Item, outcome: Any, helpers: tuple[str, ...]) -> ConflictRecord:
    return ConflictRecord(
        path=i.path,
        reason=i.reason,
        base=i.base,
        upstream=i.new,
        local=i.old,
        mode=i.old.mode if i.old is not None and i.old.kind == "file" else 0o644,
        helpers=helpers,
        outcome=outcome,
    )


def _helpers(i: Item, b: Path, bases: dict[str, bytes], merged: bytes | None) -> dict[str, bytes]:
    """f.original (OLD's pristine), f.new (NEW's file) and f.merge beside f in NEW, which
    holds OLD's file while the migrate is stopped (as a stopped apply leaves the operator's)."""
    return helper_files(
        b,
        i.path,
        original=bases.get(i.base.sha256) if i.base and i.base.kind == "file" else None,
        new=(b / i.path).read_bytes() if i.new is not None and i.new.kind == "file" else None,
        merge=merged,
        where=" in NEW",
    )
