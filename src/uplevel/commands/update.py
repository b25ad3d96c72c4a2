"""update, check, summary, login: the online commands of a subscriber (adopting a home from
a server, `init --server`, is commands/adopt.py).

Every document comes TUF-verified through client.remote.Remote, every blob is
checked against a verified manifest, and the home changes only through the same
apply_source (planner, merge, conflicts, journal) that offline bundles use.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uplevel.client.credentials import resolve_token, store_token
from uplevel.client.remote import FetchedUpdate, Remote, descriptor_between, home_remote
from uplevel.commands.apply import ApplyResult, OnConflict, apply_source
from uplevel.core.changelog import Changelog, LevelNotes, changelog
from uplevel.core.manifest import Entry
from uplevel.core.plan import MERGE_MAX
from uplevel.engine.home import Home, State
from uplevel.engine.localchanges import compare, current_entries
from uplevel.engine.session import open_home
from uplevel.errors import HomeError, UsageError
from uplevel.repo.documents import LevelManifest, StoredBlob

# --- check and summary --------------------------------------------------------------------


def _notes(remote: Remote, product: str, channel: str, levels: list[int]) -> list[LevelNotes]:
    out = []
    for n in levels:
        doc = remote.level_update(product, channel, n)
        out.append(LevelNotes(info=doc.update, changes=doc.changes))
    return out


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    home: str
    product: str
    channel: str
    level: int
    available: tuple[int, ...]
    log: Changelog | None
    local_changes: int | None = None  # modified + added + deleted; counted for --prometheus

    @property
    def latest(self) -> int:
        return self.available[-1] if self.available else self.level

    @property
    def security_pending(self) -> int:
        return self.log.security_count if self.log else 0

    @property
    def exit_code(self) -> int:
        """For monitoring (`check --exit-code`): 0 current, 100 updates pending (as `dnf
        check-update`), 101 security updates pending."""
        if self.security_pending:
            return CHECK_SECURITY_PENDING
        return CHECK_PENDING if self.available else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "home": self.home,
            "product": self.product,
            "channel": self.channel,
            "level": self.level,
            "latest": self.latest,
            "available": list(self.available),
            "pending": len(self.available),
            "security_pending": self.security_pending,
            "security_updates": self.security_pending,
            "highest_severity": self.log.highest_severity if self.log else None,
            "local_changes": self.local_changes,
            "updates": [n.info.to_dict() for n in self.log.levels] if self.log else [],
        }


CHECK_PENDING = 100
CHECK_SECURITY_PENDING = 101


def _label(value: str) -> str:
    """A Prometheus label value, escaped as the text exposition format says."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def metrics_text(r: CheckResult) -> str:
    """The check as a node_exporter textfile (Prometheus text exposition format 0.0.4)."""
    labels = f'home="{_label(r.home)}",product="{_label(r.product)}",channel="{_label(r.channel)}"'
    gauges = [
        ("uplevel_level", "The update level the home is at.", r.level),
        ("uplevel_latest_level", "The newest level the server publishes.", r.latest),
        (
            "uplevel_security_pending",
            "Security updates published and not applied.",
            r.security_pending,
        ),
    ]
    if r.local_changes is not None:
        gauges.append(
            (
                "uplevel_local_changes",
                "Files changed, added or deleted against pristine (runtime data apart).",
                r.local_changes,
            )
        )
    out = []
    for name, help_, value in gauges:
        out += [f"# HELP {name} {help_}", f"# TYPE {name} gauge", f"{name}{{{labels}}} {value}"]
    return "\n".join(out) + "\n"


def write_metrics(path: Path, r: CheckResult) -> None:
    """Replace the textfile atomically: node_exporter never reads half a file."""
    from uplevel.engine import fsio

    fsio.write_durable(path, metrics_text(r).encode())


def _online_session_remote(
    home: Home, state: State, token_file: Path | None, ca: Path | None
) -> Remote:
    if not state.server:
        raise UsageError(
            "this home was not adopted from a server",
            hint="use `uplevel apply BUNDLE`, or adopt a home with `uplevel init --server URL`",
        )
    remote = home_remote(home.tuf_dir, state.server, token_file, ca)
    remote.refresh()
    return remote


def check(
    root: Path,
    *,
    token_file: Path | None = None,
    ca_bundle: Path | None = None,
    count_local: bool = False,
) -> CheckResult:
    """Levels newer than the home's; with `count_local`, also its local changes (the stat
    cache makes that cheap when nothing changed)."""
    with open_home(root, change=False) as s:
        remote = _online_session_remote(s.home, s.state, token_file, ca_bundle)
        st = s.state
        newer = [n for n in remote.levels(st.product, st.channel) if n > st.level]
        log = None
        if newer:
            old = s.home.load_manifest(st.pristine)
            new = remote.level_manifest(st.product, st.channel, newer[-1]).manifest
            log = changelog(
                product=st.product,
                channel=st.channel,
                from_level=st.level,
                to_level=newer[-1],
                levels=_notes(remote, st.product, st.channel, newer),
                old=dict(old.items()),
                new=dict(new.items()),
            )
        return CheckResult(
            home=str(s.home.root),
            product=st.product,
            channel=st.channel,
            level=st.level,
            available=tuple(newer),
            log=log,
            local_changes=_count_local(s.home, st, save=not s.read_only) if count_local else None,
        )


def _count_local(home: Home, state: State, *, save: bool) -> int:
    local = compare(
        home,
        state.pristine,
        use_index=True,
        save_index=save,
        runtime=home.profile(state).is_runtime_data,
    )
    return len(local.modified) + len(local.added) + len(local.deleted)


def summary(
    *,
    home_dir: Path | None,
    server: str | None,
    product: str | None,
    channel: str,
    from_level: int,
    to_level: int,
    token_file: Path | None = None,
    ca_bundle: Path | None = None,
) -> Changelog:
    """The changelog between two published levels (fixes, advisories, instructions, files)."""
    if to_level <= from_level:
        raise UsageError("--to must be greater than --from")
    if home_dir is not None:
        with open_home(home_dir, change=False) as s:
            remote = _online_session_remote(s.home, s.state, token_file, ca_bundle)
            product, channel = s.state.product, s.state.channel
            return _changelog(remote, product, channel, from_level, to_level)
    if not server or not product:
        raise UsageError("give --home, or --server and --product")

    with tempfile.TemporaryDirectory(prefix="uplevel-summary-") as tmp:
        remote = Remote(
            url=server,
            metadata_dir=Path(tmp),
            token=resolve_token(server, token_file),
            ca_bundle=ca_bundle,
        )
        remote.refresh(remote.fetch_initial_root())
        return _changelog(remote, product, channel, from_level, to_level)


def _changelog(remote: Remote, product: str, channel: str, a: int, b: int) -> Changelog:
    levels = remote.levels(product, channel)
    for n in (a, b):
        if n not in levels:
            raise UsageError(f"level {n} of {product} ({channel}) is not published")
    old = remote.level_manifest(product, channel, a).manifest
    new = remote.level_manifest(product, channel, b).manifest
    return changelog(
        product=product,
        channel=channel,
        from_level=a,
        to_level=b,
        levels=_notes(remote, product, channel, [n for n in levels if a < n <= b]),
        old=dict(old.items()),
        new=dict(new.items()),
    )


# --- update ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class UpdateResult:
    apply: ApplyResult | None
    level: int
    downloaded: dict[str, int]

    @property
    def exit_code(self) -> int:
        return self.apply.exit_code if self.apply else 0

    def to_dict(self) -> dict[str, Any]:
        if self.apply is None:
            return {"status": "up-to-date", "level": self.level, "transfer": self.downloaded}
        return {**self.apply.to_dict(), "transfer": self.downloaded}


def update(
    root: Path,
    *,
    level: int | None = None,
    dry_run: bool = False,
    on_conflict: OnConflict = "stop",
    force: bool = False,
    token_file: Path | None = None,
    ca_bundle: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> UpdateResult:
    """Fetch what the jump from the home's level to `level` (default: the newest) needs, each
    content once however many levels it spans, then apply it like a bundle."""
    with open_home(root, change=False) as s:
        s.check_can_change()
        home, st = s.home, s.state
        remote = _online_session_remote(home, st, token_file, ca_bundle)
        levels = remote.levels(st.product, st.channel)
        target = level if level is not None else (levels[-1] if levels else st.level)
        if target == st.level:
            return UpdateResult(apply=None, level=st.level, downloaded={})
        if target < st.level:
            raise UsageError(
                f"level {target} is older than the home's {st.level}", hint="use `uplevel revert`"
            )
        if target not in levels:
            raise UsageError(
                f"level {target} is not published (newest: {levels[-1] if levels else 'none'})"
            )
        old = remote.level_manifest(st.product, st.channel, st.level)
        if old.manifest.digest != st.pristine:
            raise HomeError(
                f"the server's level {st.level} differs from the pristine tree this home recorded",
                hint="the repository was rebuilt; adopt the home again with `uplevel init --server`",
            )
        new = remote.level_manifest(st.product, st.channel, target)
        updates = [
            remote.level_update(st.product, st.channel, n) for n in levels if st.level < n <= target
        ]
        descriptor = descriptor_between(
            product=st.product, channel=st.channel, old=old, new=new, updates=updates
        )
        needed, for_merges = _needed_blobs(home, old, new, descriptor.changes)
        local_files = {
            e.sha256: home.root / p
            for p, e in old.manifest.items()
            if e.kind == "file" and e.sha256 in needed
        }
        if dry_run:
            # Only what the plan's merges read, into a scratch directory: the home is not touched.
            with tempfile.TemporaryDirectory(prefix="uplevel-dry-run-") as scratch:
                counts = remote.fetch_blobs(for_merges, Path(scratch), local=local_files)
                result = apply_source(
                    root,
                    FetchedUpdate(descriptor, Path(scratch)),
                    label=f"{st.server} level {target}",
                    dry_run=True,
                    on_conflict=on_conflict,
                    force=force,
                )
            return UpdateResult(apply=result, level=st.level, downloaded=counts)
        counts = remote.fetch_blobs(needed, home.downloads, local=local_files, progress=progress)
    result = apply_source(
        root,
        FetchedUpdate(descriptor, home.downloads),
        label=f"{st.server} level {target}",
        on_conflict=on_conflict,
        force=force,
        cleanup=lambda: shutil.rmtree(home.downloads, ignore_errors=True),
    )
    return UpdateResult(apply=result, level=result.to_level, downloaded=counts)


def _needed_blobs(
    home: Home, old: LevelManifest, new: LevelManifest, changes: dict[str, Entry | None]
) -> tuple[dict[str, StoredBlob], dict[str, StoredBlob]]:
    """(everything the jump needs, the part the merges need): the new contents of changed
    files, plus the old contents of files the operator changed too (a merge's base)."""
    needed: dict[str, StoredBlob] = {}
    for e in changes.values():
        if e is not None and e.kind == "file":
            needed[e.sha256] = new.blobs[e.sha256]
    touched = [p for p in changes if p in old.manifest]
    local = current_entries(home, touched, old.manifest)
    for_merges: dict[str, StoredBlob] = {}
    for p in touched:
        base, upstream, mine = old.manifest[p], changes[p], local[p]
        if base.kind != "file" or mine is None or mine == base or base.size > MERGE_MAX:
            continue
        for_merges[base.sha256] = needed[base.sha256] = old.blobs[base.sha256]
        if upstream is not None and upstream.kind == "file":
            for_merges[upstream.sha256] = new.blobs[upstream.sha256]
    return needed, for_merges


# --- login ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LoginResult:
    server: str
    credentials: str

    def to_dict(self) -> dict[str, Any]:
        return {"server": self.server, "credentials": self.credentials}


def login(server: str, token: str, *, ca_bundle: Path | None = None) -> LoginResult:
    """Check the token against the server, then keep it in the credentials file."""

    with tempfile.TemporaryDirectory(prefix="uplevel-login-") as tmp:
        remote = Remote(url=server, metadata_dir=Path(tmp), token=token, ca_bundle=ca_bundle)
        remote.fetch_initial_root()  # 401/403 here means the token is not accepted
    path = store_token(server, token)
    return LoginResult(server=server.rstrip("/"), credentials=str(path))
