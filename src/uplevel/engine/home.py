"""A home and uplevel's state inside it (`updates/uplevel/`).

Layout (docs/state-format.md):
    updates/uplevel/state.json          product, channel, level, pristine digests, history
    updates/uplevel/manifests/<d>.json.zst   pristine manifest of each level reached
    updates/uplevel/transactions/<id>.json   what each committed transaction changed
    updates/uplevel/objects/ab/<sha256>      backup store: every replaced or removed byte
    updates/uplevel/txn/                     the one transaction in progress (journal.json)
    updates/uplevel/statcache.bin            stat data → verdict, so status reads only what moved
    updates/uplevel/lock                     flock: one uplevel per home
    updates/uplevel/tuf/                     pinned root and trusted TUF metadata (online homes)
    updates/uplevel/downloads/<sha256>       verified blobs fetched for an update in progress
state.json is the commit point of every transaction: it is only ever replaced
whole through fsio.write_durable.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from uplevel.core import jsonstrict
from uplevel.core.manifest import Manifest
from uplevel.core.paths import STATE_DIR
from uplevel.core.profile import Profile
from uplevel.engine import fsio
from uplevel.engine.profiles import profile_for
from uplevel.errors import CORRUPT_STATE_HINT, CorruptStateError, HomeError, UsageError

STATE_SCHEMA = 1


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, kw_only=True)
class Event:
    time: str
    event: str  # init | applied | reverted | aborted | stopped | recovered
    from_level: int
    to_level: int
    txn: str = ""
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in ("time", "event", "from_level", "to_level", "txn", "detail")
        }


@dataclass(frozen=True, kw_only=True)
class TxnInfo:
    """A committed transaction as the state lists it; the record file holds the paths."""

    id: str
    kind: str  # apply | revert
    from_level: int
    to_level: int
    status: str  # applied | reverted (an apply later undone) | done (a revert)
    time: str

    def to_dict(self) -> dict[str, Any]:
        return {
            k: getattr(self, k) for k in ("id", "kind", "from_level", "to_level", "status", "time")
        }


@dataclass(frozen=True, kw_only=True)
class State:
    product: str
    channel: str
    level: int
    pristine: str  # digest of the pristine manifest at `level`
    levels: dict[int, str] = field(default_factory=dict)  # level → pristine digest
    transactions: tuple[TxnInfo, ...] = ()
    history: tuple[Event, ...] = ()
    pending: str | None = None  # id of a transaction stopped on conflicts
    server: str | None = None  # update server URL when adopted with --server

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": STATE_SCHEMA,
            "product": self.product,
            "channel": self.channel,
            "level": self.level,
            "pristine": self.pristine,
            "levels": {str(k): v for k, v in sorted(self.levels.items())},
            "transactions": [t.to_dict() for t in self.transactions],
            "history": [e.to_dict() for e in self.history],
            "pending": self.pending,
            "server": self.server,
        }

    @classmethod
    def from_dict(cls, d: Any, where: str) -> State:
        if not isinstance(d, dict):
            raise CorruptStateError(where, "not a JSON object")
        v = d.get("schema_version")
        if v != STATE_SCHEMA:
            raise HomeError(
                f"{where}: schema_version {v!r} is not one this uplevel reads ({STATE_SCHEMA})",
                hint="use the uplevel version that wrote it, or a newer one",
            )
        try:
            return cls(
                product=str(d["product"]),
                channel=str(d["channel"]),
                level=int(d["level"]),
                pristine=str(d["pristine"]),
                levels={int(k): str(v) for k, v in d["levels"].items()},
                transactions=tuple(TxnInfo(**t) for t in d["transactions"]),
                history=tuple(Event(**e) for e in d["history"]),
                pending=d.get("pending"),
                server=d.get("server"),
            )
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise CorruptStateError(where, f"malformed ({type(exc).__name__}: {exc})") from exc

    def committed(self, txn_id: str) -> bool:
        return any(t.id == txn_id for t in self.transactions)

    def with_event(self, event: Event, **changes: Any) -> State:
        return replace(self, history=(*self.history, event), **changes)


class Home:
    """Paths of a home and its state; loading and saving state. Does not plan or apply."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.state_dir = self.root / STATE_DIR
        self.state_file = self.state_dir / "state.json"
        self.manifests = self.state_dir / "manifests"
        self.records = self.state_dir / "transactions"
        self.objects = self.state_dir / "objects"
        self.txn_dir = self.state_dir / "txn"
        self.statcache = self.state_dir / "statcache.bin"
        self.lock_file = self.state_dir / "lock"
        self.tuf_dir = self.state_dir / "tuf"  # the pinned root and trusted TUF metadata
        self.downloads = self.state_dir / "downloads"  # verified blobs of an update in progress

    @property
    def adopted(self) -> bool:
        return self.state_file.exists()

    def require_adopted(self) -> None:
        if not self.root.is_dir():
            raise UsageError(f"{self.root} is not a directory")
        if not self.adopted:
            raise HomeError(
                f"{self.root} is not an uplevel home (no {STATE_DIR}/state.json)",
                hint="adopt it first with `uplevel init --home DIR --product NAME-VERSION`",
            )

    def load_state(self) -> State:
        try:
            data = self.state_file.read_bytes()
        except FileNotFoundError:
            self.require_adopted()
            raise
        try:
            doc = jsonstrict.loads(data)
        except ValueError as exc:
            raise CorruptStateError(self.state_file, f"not valid JSON ({exc})") from exc
        return State.from_dict(doc, str(self.state_file))

    def save_state(self, state: State) -> None:
        fsio.write_durable(self.state_file, state_file_bytes(state))

    def profile(self, state: State) -> Profile:
        return profile_for(state.product)

    # --- manifests ------------------------------------------------------------------

    def manifest_path(self, digest: str) -> Path:
        return self.manifests / f"{digest}.json.zst"

    def save_manifest(self, manifest: Manifest) -> str:
        path = self.manifest_path(manifest.digest)
        if not path.exists():
            fsio.write_durable(path, manifest_file_bytes(manifest))
        return manifest.digest

    def load_manifest(self, digest: str) -> Manifest:
        import zstandard

        path = self.manifest_path(digest)
        try:
            raw = zstandard.ZstdDecompressor().decompress(path.read_bytes())
        except FileNotFoundError as exc:
            raise HomeError(
                f"pristine manifest {digest[:12]}… is missing from {self.manifests}",
                hint=CORRUPT_STATE_HINT,
            ) from exc
        except zstandard.ZstdError as exc:  # truncated or garbled
            raise CorruptStateError(path, f"not a zstd frame ({exc})") from exc
        return Manifest.from_canonical_bytes(raw, digest, where=str(path))

    # --- backup store -----------------------------------------------------------------

    def object_path(self, sha256: str) -> Path:
        return self.objects / sha256[:2] / sha256

    def has_object(self, sha256: str) -> bool:
        return self.object_path(sha256).exists()

    def store_by_rename(self, src: Path, sha256: str) -> None:
        """Move a file whose content is `sha256` into the store (drop it if already stored)."""
        dst = self.object_path(sha256)
        fsio.makedirs(dst.parent)
        if dst.exists():
            fsio.unlink(src)
        else:
            fsio.replace(src, dst)
            os.chmod(dst, 0o444)

    # --- locking ----------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the home's lock (BusyError, exit 4, if another uplevel has it)."""
        fsio.makedirs(self.state_dir)
        with fsio.exclusive_lock(
            self.lock_file,
            busy=f"another uplevel is working on {self.root}",
            hint="wait for it to finish",
        ):
            yield


# --- the state files' bytes (also for a home made elsewhere: uplevel pack) ---------------------


def state_file_bytes(state: State) -> bytes:
    """`state.json`'s bytes, as `Home.save_state` writes them and a pack embeds them."""
    return json.dumps(state.to_dict(), indent=1).encode() + b"\n"


def manifest_file_bytes(manifest: Manifest) -> bytes:
    """`manifests/<digest>.json.zst`'s bytes, as `Home.save_manifest` writes them (zstd is
    deterministic for one library version and level)."""
    import zstandard

    return zstandard.ZstdCompressor(level=3).compress(manifest.to_json_bytes())


def adopted_state_files(
    state: State, manifest: Manifest, *, trusted_root: tuple[int, bytes] | None = None
) -> dict[str, bytes]:
    """The files under `updates/uplevel/` (relative names) of a home adopted at `state.level`
    with pristine `manifest`, as `uplevel init` leaves them, minus the stat cache (a cache of
    one host's stat data) and the lock. `trusted_root` (version, bytes) pins a TUF root as
    `init --server` does; the timestamp, snapshot and targets are fetched on first use."""
    if manifest.digest != state.pristine or state.levels.get(state.level) != state.pristine:
        raise ValueError("the state's pristine digest is not the manifest's")
    files = {
        "state.json": state_file_bytes(state),
        f"manifests/{manifest.digest}.json.zst": manifest_file_bytes(manifest),
    }
    if trusted_root is not None:
        version, root = trusted_root
        files["tuf/root.json"] = root
        files[f"tuf/root_history/{version}.root.json"] = root
    return files
