"""The transaction: prepare (check, stage, write the journal), execute (renames, mkdirs,
rmdirs that recovery can read off the disk), commit or stop, rollback, finish."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from uplevel.core.manifest import Entry
from uplevel.core.paths import check_relative, parents
from uplevel.engine import fsio, interrupt
from uplevel.engine.home import Home, State, TxnInfo, now
from uplevel.engine.txn.copy import COPY_WORKERS, CopyOf, Verified, copy_verified
from uplevel.engine.txn.journal import RECORD_SCHEMA, Change, Content, Journal, dumps
from uplevel.errors import HomeError, NotEnoughSpaceError, UnsafePathError, UplevelError

SPACE_MARGIN = 4 << 20


class Transaction:
    """A transaction on one home; the caller holds the home's lock."""

    def __init__(self, home: Home, journal: Journal) -> None:
        self.home = home
        self.j = journal
        self.dir = home.txn_dir
        self.journal_path = self.dir / "journal.json"

    # --- paths --------------------------------------------------------------------

    def _abs(self, ref: str) -> Path:
        """'H/<path>' is in the home, 'T/<path>' in the transaction directory."""
        base = self.home.root if ref[0] == "H" else self.dir
        return base / ref[2:]

    def _abs_str(self, ref: str) -> str:
        """_abs as a string (thousands of steps: pathlib's parsing is the cost)."""
        return f"{self.home.root if ref[0] == 'H' else self.dir}/{ref[2:]}"

    def save(self) -> None:
        fsio.write_durable(self.journal_path, self.j.to_bytes())

    # --- prepare ------------------------------------------------------------------

    @classmethod
    def prepare(
        cls,
        home: Home,
        *,
        kind: str,
        changes: list[Change],
        content: Content,
        from_level: int,
        to_level: int,
        to_pristine: str,
        target_dirs: Callable[[str], bool],
        keep: dict[str, Iterable[bytes]] | None = None,
        conflicts: list[dict[str, Any]] | None = None,
        meta: dict[str, Any] | None = None,
        dir_modes: dict[str, int] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Transaction:
        """Check, stage and journal `changes`. Nothing in the home proper changes here.

        `target_dirs(d)` says whether directory `d` must exist after the change even when
        empty (it is listed in the target pristine tree); other directories that the change
        empties are removed, and missing parents are created (mode from `dir_modes`).
        """
        if os.path.lexists(home.txn_dir):
            raise HomeError("a transaction is already in progress on this home")
        fsio.makedirs(home.state_dir)
        journal = Journal(
            id=uuid.uuid4().hex[:12],
            kind=kind,
            phase="executing",
            from_level=from_level,
            to_level=to_level,
            to_pristine=to_pristine,
            changes=changes,
            ops=[],
            backups={},
            conflicts=conflicts or [],
            meta=meta or {},
        )
        txn = cls(home, journal)
        txn._check(changes)
        fsio.mkdir(txn.dir, 0o700)
        try:
            fsio.mkdir(txn.dir / "stage", 0o700)
            fsio.mkdir(txn.dir / "backup", 0o700)
            txn._stage_and_plan_ops(
                changes,
                content,
                target_dirs,
                dir_modes or {},
                prefix="",
                progress=progress,
                trees=True,
            )
            for i, (sha, chunks) in enumerate((keep or {}).items()):
                slot = f"keep{i}"
                fsio.write_new(txn.dir / "stage" / slot, iter(chunks), mode=0o444)
                journal.keep[slot] = sha
            fsio.fsync_dir(txn.dir / "stage")
            txn.save()
        except BaseException:
            with contextlib.suppress(OSError):
                shutil.rmtree(txn.dir)
            raise
        return txn

    def _check(self, changes: list[Change]) -> None:
        """Refuse unsafe paths, cross-filesystem homes and too little space, before any write."""
        root = self.home.root
        seen: set[str] = set()
        known_dirs: set[str] = set()
        checked_devs: set[str] = set()  # parent directories already found on the right device
        state_dev = os.stat(self.home.state_dir).st_dev
        for c in changes:
            check_relative(c.path)
            if c.path in seen:
                raise UnsafePathError(f"{c.path}: appears twice in one transaction")
            seen.add(c.path)
            fsio.check_in_home(root, c.path, known_dirs)
            rel_parent = c.path.rpartition("/")[0]
            if rel_parent in checked_devs:
                continue
            checked_devs.add(rel_parent)
            parent = (root / c.path).parent
            while not fsio.is_dir_nofollow(parent):
                parent = parent.parent
            if os.lstat(parent).st_dev != state_dev:
                raise HomeError(
                    f"{c.path} is on another filesystem than {self.home.state_dir}",
                    hint="uplevel keeps backups by rename; mount points inside the home are not supported",
                )
        needed = sum(c.after.size for c in changes if c.after and c.after.kind == "file")
        if os.environ.get("UPLEVEL_SKIP_SPACE_CHECK") != "1":
            st = os.statvfs(self.home.state_dir)
            free = st.f_bavail * st.f_frsize
            if free < needed + SPACE_MARGIN:
                raise NotEnoughSpaceError(
                    f"not enough free space in {self.home.root}: need {needed + SPACE_MARGIN:,} bytes, "
                    f"have {free:,}",
                    hint="free disk space (backups are renames, so only new contents need room)",
                )

    def _stage_and_plan_ops(
        self,
        changes: list[Change],
        content: Content,
        target_dirs: Callable[[str], bool],
        dir_modes: dict[str, int],
        *,
        prefix: str,
        progress: Callable[[int], None] | None = None,
        trees: bool = False,
    ) -> None:
        """Stage new contents and write the steps: old entries out, parents in, new entries in,
        then directories the change leaves empty.

        With `trees`, a directory missing from the home whose whole content is new (its
        parent exists) is staged as one tree, stage/t<k>, and moved into place by ONE
        rename step instead of a mkdir per directory and a rename per file: thousands of
        carried runtime files (tenants, an index) then cost one step. Whether it ran reads
        off the disk like any rename (stage/t<k> is gone), and undoing it renames it back."""
        root = self.home.root
        ops = self.j.ops
        installs: list[list[Any]] = []
        removed: set[str] = set()  # paths this change empties out of the home
        copies: list[tuple[int, CopyOf, Path]] = []
        tree_of = self._tree_roots(changes) if trees else {}
        tree_slot: dict[str, str] = {}  # tree root (a path of the home) -> stage slot
        tree_dirs: list[str] = []  # directories of the home created inside staged trees
        made: set[str] = set()  # the same, as a set
        stage = self.dir / "stage"
        modes = {
            **dir_modes,
            **{c.path: c.after.mode for c in changes if c.after and c.after.kind == "dir"},
        }

        def in_stage(path: str, top: str) -> Path:
            """Where `path` (under the tree root `top`) is staged; its directories made."""
            if top not in tree_slot:
                tree_slot[top] = f"{prefix}t{len(tree_slot)}"
                fsio.mkdir(self.dir / "stage" / tree_slot[top], modes.get(top, 0o755))
                tree_dirs.append(top)
                installs.append(["rename", f"T/stage/{tree_slot[top]}", f"H/{top}"])
            base = self.dir / "stage" / tree_slot[top]
            rel = path[len(top) + 1 :]
            for d in parents(rel):
                full = f"{top}/{d}"
                if full not in made:
                    made.add(full)
                    fsio.mkdir(base / d, modes.get(full, 0o755))
                    tree_dirs.append(full)
            return base / rel

        for i, c in enumerate(changes):
            slot = f"{prefix}{i}"
            if c.before is not None:
                if c.after is None:
                    removed.add(c.path)
                if c.before.kind == "dir":
                    if os.listdir(root / c.path):
                        if c.after is None:
                            removed.discard(c.path)
                            continue  # the operator put files in it: it stays
                        raise UplevelError(
                            f"{c.path}: is a directory with files in it; cannot replace it"
                        )
                    ops.append(["rmdir", f"H/{c.path}", c.before.mode])
                else:
                    ops.append(["rename", f"H/{c.path}", f"T/backup/{slot}"])
                    if c.before.kind == "file":
                        self.j.backups[slot] = c.before.sha256
            if c.after is None:
                continue
            top = tree_of.get(c.path)
            if c.after.kind == "dir":
                if top is None:
                    installs.append(["mkdir", f"H/{c.path}", c.after.mode])
                elif c.path not in made:  # else made already, as a parent (same mode)
                    staged_dir = in_stage(c.path, top)
                    made.add(c.path)
                    fsio.mkdir(staged_dir, c.after.mode)
                    tree_dirs.append(c.path)
                continue
            staged = stage / slot if top is None else in_stage(c.path, top)
            if c.after.kind == "symlink":
                fsio.symlink(c.after.target, staged)
            else:
                chunks = content(c)
                if isinstance(chunks, CopyOf):
                    copies.append((i, chunks, staged))
                else:
                    self._stage_file(c, chunks, staged)
                    if progress:
                        progress(c.after.size)
            if top is None:
                installs.append(["rename", f"T/stage/{slot}", f"H/{c.path}"])
        if copies:
            self._stage_copies(changes, copies, progress)
        if copies or tree_slot:
            # One flush for the staged copies and the trees' directories (thousands of
            # fsyncs cost seconds); the journal is written after it.
            syncfs(self.dir)
        wanted = {
            d
            for c in changes
            if c.after is not None and c.path not in tree_of
            for d in parents(c.path)
        }
        created = sorted(
            (d for d in wanted if not fsio.is_dir_nofollow(root / d)),
            key=lambda d: (d.count("/"), d),
        )
        ops.extend(["mkdir", f"H/{d}", dir_modes.get(d, 0o755)] for d in created)
        self.j.dirs_created = sorted([*created, *tree_dirs], key=lambda d: (d.count("/"), d))
        ops.extend(installs)
        # Directories that the change leaves empty and the target tree does not list go too.
        added = {c.path for c in changes if c.after is not None}
        candidates = sorted({d for p in removed for d in parents(p)}, key=lambda d: -d.count("/"))
        gone: set[str] = set()
        for d in candidates:
            if target_dirs(d) or not fsio.is_dir_nofollow(root / d):
                continue
            if any(a.startswith(d + "/") for a in added):
                continue
            names = {f"{d}/{n}" for n in os.listdir(root / d)}
            if names <= (removed | gone):
                mode = stat.S_IMODE(os.lstat(root / d).st_mode)
                ops.append(["rmdir", f"H/{d}", mode])
                self.j.dirs_removed[d] = mode
                gone.add(d)

    def _tree_roots(self, changes: list[Change]) -> dict[str, str]:
        """Path of each change that can be staged in a tree → its tree root: the outermost
        directory above it that the home lacks (nothing is there at all) while its parent
        is a directory. Only additions (a missing directory holds nothing to replace), and
        never a root that is itself a change's path."""
        root = self.home.root
        absent: dict[str, bool] = {}

        def missing(d: str) -> bool:
            if d not in absent:
                absent[d] = not os.path.lexists(root / d)
            return absent[d]

        paths = {c.path for c in changes}
        out: dict[str, str] = {}
        for c in changes:
            if c.before is not None or c.after is None:
                continue
            for d in parents(c.path):
                if missing(d):
                    if d not in paths:
                        out[c.path] = d
                    break
        return out

    def _stage_copies(
        self,
        changes: list[Change],
        copies: list[tuple[int, CopyOf, Path]],
        progress: Callable[[int], None] | None,
    ) -> None:
        """Copy (or link) files of another tree into the stage on a few threads (reading,
        hashing and writing all release the GIL), complete each change's entry with the hash
        of the bytes staged, then make them all durable with one syncfs."""

        def one(job: tuple[int, CopyOf, Path]) -> tuple[int, Entry]:
            i, copy, staged = job
            c = changes[i]
            assert c.after is not None
            entry = copy_verified(c.path, c.after, copy, staged)
            if progress:
                progress(entry.size)
            return i, entry

        if len(copies) == 1 or COPY_WORKERS < 2:
            done = [one(job) for job in copies]
        else:
            from concurrent.futures import ThreadPoolExecutor

            # Batches, not one task per file: thousands of small artifacts otherwise cost
            # more in task handling than in copying.
            batches = [copies[i : i + 16] for i in range(0, len(copies), 16)]
            with ThreadPoolExecutor(COPY_WORKERS) as pool:
                done = [
                    d for part in pool.map(lambda b: [one(j) for j in b], batches) for d in part
                ]
        for i, entry in done:
            changes[i] = replace(changes[i], after=entry)

    @staticmethod
    def _stage_file(c: Change, chunks: Iterable[bytes], staged: Path) -> None:
        import hashlib

        assert c.after is not None
        if isinstance(chunks, Verified):
            fsio.write_new(staged, iter(chunks), mode=c.after.mode)
            return
        h = hashlib.sha256()
        n = 0

        def hashed() -> Iterator[bytes]:
            nonlocal n
            for chunk in chunks:
                h.update(chunk)
                n += len(chunk)
                yield chunk

        fsio.write_new(staged, hashed(), mode=c.after.mode)
        if h.hexdigest() != c.after.sha256 or n != c.after.size:
            raise UplevelError(
                f"{c.path}: new content does not match its hash; nothing was changed"
            )

    def extend(self, changes: list[Change], content: Content) -> None:
        """Append the steps of `uplevel continue` to a stopped transaction and stage them."""
        self._check(changes)
        self._drop_continue_part()  # what an interrupted continue staged before its journal write
        self.j.stop_index = len(self.j.ops)
        try:
            self._stage_and_plan_ops(changes, content, lambda d: True, {}, prefix="c")
            fsio.fsync_dir(self.dir / "stage")
        except BaseException:
            self._drop_continue_part()
            raise
        self.j.resolved = [c for c in changes if not c.helper]
        self.j.phase = "continuing"
        self.save()

    # --- execute, stop, commit, roll back ----------------------------------------------

    def execute(self, start: int = 0) -> None:
        """Run the steps from `start`; on any error undo them all and re-raise."""
        try:
            for op in self.j.ops[start:]:
                self._do(op)
            self._sync_dirs(self.j.ops[start:])
        except BaseException as exc:
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt etc.: recovery on the next run
            self.rollback(start)
            raise

    def _do(self, op: list[Any]) -> None:
        kind = op[0]
        try:
            if kind == "rename":
                fsio.rename(self._abs_str(op[1]), self._abs_str(op[2]))
            elif kind == "mkdir":
                fsio.mkdir(self._abs_str(op[1]), op[2])
            elif kind == "rmdir":
                fsio.rmdir(self._abs_str(op[1]))
            else:
                raise HomeError(f"journal: unknown step {kind!r}")
        except UplevelError:
            raise
        except OSError as exc:
            # The operator knows the path in the home, not our staging slot (txn/stage/4).
            where = next((ref[2:] for ref in op[1:3] if str(ref).startswith("H/")), None)
            if where is None:
                raise
            raise UplevelError(
                f"cannot change {self.home.root / where}: {exc.strerror or exc}; "
                "the update was rolled back",
                hint="check that uplevel may write there (owner, permissions, read-only "
                "mounts, immutable attributes)",
            ) from exc

    def _done(self, op: list[Any]) -> bool:
        if op[0] == "rename":
            return not os.path.lexists(self._abs_str(op[1]))
        if op[0] == "mkdir":
            return os.path.lexists(self._abs_str(op[1]))
        return not os.path.lexists(self._abs_str(op[1]))  # rmdir

    def _undo(self, op: list[Any]) -> None:
        if op[0] == "rename":
            fsio.rename(self._abs(op[2]), self._abs(op[1]))
        elif op[0] == "mkdir":
            fsio.rmdir(self._abs(op[1]))
        else:
            fsio.mkdir(self._abs(op[1]), op[2])

    def _sync_dirs(self, ops: list[list[Any]]) -> None:
        parents = {ref.rpartition("/")[0] for op in ops for ref in op[1:] if isinstance(ref, str)}
        if len(parents) > MANY_DIRS:
            syncfs(self.home.root)  # one flush instead of thousands of directory fsyncs
            return
        dirs = {self._abs(ref) for ref in parents}  # "H/a/x" → home/a; "H/x" → home
        for d in sorted(dirs):
            if d.is_dir():
                fsio.fsync_dir(d)

    def rollback(self, start: int = 0) -> None:
        """Undo every step from `start` that ran (reverse order), using the disk as the log."""
        for op in reversed(self.j.ops[start:]):
            if self._done(op):
                self._undo(op)
        self._sync_dirs(self.j.ops[start:])
        if start == 0:
            fsio.remove_tree(self.dir)
        else:
            self._drop_continue_part()
            self.save()

    def _drop_continue_part(self) -> None:
        """Forget the steps and staged files of a continue; the stopped part stays."""
        for entry in os.scandir(self.dir / "stage"):
            if entry.name.startswith("c"):
                fsio.unlink(Path(entry.path))
        del self.j.ops[self.j.stop_index :]
        self.j.backups = {k: v for k, v in self.j.backups.items() if not k.startswith("c")}
        self.j.resolved = []
        self.j.phase = "stopped"

    def net_changes(self) -> list[Change]:
        """Per path, from what the home held before the transaction to what it holds after."""
        resolved = {c.path: c for c in self.j.resolved}
        out = []
        for c in self.j.changes:
            if c.helper:
                continue
            r = resolved.pop(c.path, None)
            out.append(Change(path=c.path, before=c.before, after=r.after) if r else c)
        out.extend(resolved.values())
        return [c for c in out if c.before != c.after]

    def record(self) -> dict[str, Any]:
        """What the committed transaction changed, for revert and history."""
        return {
            "schema_version": RECORD_SCHEMA,
            "id": self.j.id,
            "kind": self.j.kind,
            "from_level": self.j.from_level,
            "to_level": self.j.to_level,
            "time": now(),
            "changes": [c.to_dict() for c in self.net_changes()],
            "dirs_created": self.j.dirs_created,
            "dirs_removed": self.j.dirs_removed,
            "meta": self.j.meta,
        }

    def commit(self, new_state: State, *, before: Callable[[], None] | None = None) -> State:
        """Write the record, then state.json (the commit point), then fold backups into the store.

        `before` writes what the new state refers to (manifests). Any failure up to the
        commit point undoes the whole transaction. From here on a SIGINT or SIGTERM waits
        for the command to finish (engine/interrupt.py): the commit is not cut short.
        """
        interrupt.commit_point()
        info = TxnInfo(
            id=self.j.id,
            kind=self.j.kind,
            from_level=self.j.from_level,
            to_level=self.j.to_level,
            status="applied" if self.j.kind == "apply" else "done",
            time=now(),
        )
        committed = replace(new_state, transactions=(*new_state.transactions, info), pending=None)
        try:
            if before:
                before()
            fsio.makedirs(self.home.records)
            record = dumps(self.record())
            fsio.write_durable(self.home.records / f"{self.j.id}.json", record)
            self.home.save_state(committed)
        except Exception:
            self.rollback()
            raise
        self.finish()
        return committed

    def stop(self, stopped_state: State, *, before: Callable[[], None] | None = None) -> None:
        """Leave the transaction stopped on conflicts (phase "stopped", state.pending set)."""
        interrupt.commit_point()  # stopping is this command's outcome: a signal waits for it
        try:
            if before:
                before()
            self.j.phase = "stopped"
            self.j.stop_index = len(self.j.ops)
            self.save()
        except Exception:
            self.rollback()
            raise
        self.home.save_state(stopped_state)  # recovery sets pending if this write is lost

    def finish(self) -> None:
        """After the commit point: move backups and kept contents into the store; drop txn/."""
        for slot, sha in {**self.j.backups, **self.j.keep}.items():
            src = self.dir / ("backup" if slot in self.j.backups else "stage") / slot
            if os.path.lexists(src):
                self.home.store_by_rename(src, sha)
        # The journal goes last: while it is there, recovery knows the transaction
        # committed and says so ("finished committing"), whatever else is already gone.
        for part in ("stage", "backup"):
            fsio.remove_tree(self.dir / part)
        fsio.remove_tree(self.dir)


MANY_DIRS = 64


def syncfs(path: Path) -> None:
    """Flush every dirty page and inode of the filesystem that holds `path` (Linux syncfs(2);
    sync(2) elsewhere)."""
    import ctypes
    import ctypes.util

    fd = os.open(path, os.O_RDONLY)
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        fn = getattr(libc, "syncfs", None)
        if fn is None or fn(fd) != 0:
            os.sync()
    finally:
        os.close(fd)
