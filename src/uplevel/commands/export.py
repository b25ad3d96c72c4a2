"""export: signed bundles for air-gapped sites, verified as online (commands/apply.py's
`apply_signed` applies them).

`export` runs on the connected side. It refreshes TUF from the server exactly as
`uplevel update` does (the exporter verifies everything it packs) and writes the
metadata as served, the level documents and the blobs of one jump into a signed
bundle (docs/bundle-format.md, "Signed bundles").
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tuf.api._payload import Root, Snapshot, Targets, Timestamp
from tuf.api.exceptions import DownloadError, RepositoryError
from tuf.api.metadata import Metadata
from tuf.ngclient._internal.trusted_metadata_set import TrustedMetadataSet
from tuf.ngclient.config import EnvelopeType

from uplevel.client.credentials import resolve_token
from uplevel.client.offline import (
    DEFAULT_MAX_AGE,
    TIMESTAMP_MEMBER,
    SignedBundle,
    SignedBundleInfo,
    utc_iso,
)
from uplevel.client.remote import MAX_ROOT, Remote, descriptor_between
from uplevel.client.tufclient import ROOT_HISTORY
from uplevel.core.plan import MERGE_MAX
from uplevel.core.updateinfo import check_channel, check_product
from uplevel.engine import fsio
from uplevel.engine.session import open_home
from uplevel.errors import (
    ServerError,
    UsageError,
)
from uplevel.formats.bundle import SIGNED_DESCRIPTOR
from uplevel.merge.text import is_text
from uplevel.repo.documents import (
    MANIFEST_DOC,
    UPDATE_DOC,
    LevelManifest,
    LevelUpdate,
    StoredBlob,
    target_path,
)

_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_T = TypeVar("_T")


# --- export -----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ExportResult:
    output: str
    product: str
    channel: str
    from_level: int
    to_level: int
    server: str
    root_version: int
    timestamp_version: int
    timestamp_expires: str
    apply_before: str  # with the default --max-age of `uplevel apply`
    updates: tuple[dict[str, Any], ...]
    blobs: int
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "product": self.product,
            "channel": self.channel,
            "from_level": self.from_level,
            "to_level": self.to_level,
            "server": self.server,
            "root_version": self.root_version,
            "timestamp_version": self.timestamp_version,
            "timestamp_expires": self.timestamp_expires,
            "apply_before": self.apply_before,
            "updates": list(self.updates),
            "blobs": self.blobs,
            "bytes": self.bytes,
        }


def export(
    *,
    home_dir: Path | None,
    server: str | None,
    product: str | None,
    channel: str | None,
    from_level: int,
    to_level: int,
    output: Path,
    token_file: Path | None = None,
    ca_bundle: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Write a signed bundle taking a home from `from_level` to `to_level`.

    With `home_dir`, the home's server, product, channel, pinned root and token are used
    (and its trusted metadata advances, as `uplevel check` would advance it). Without,
    `server` and `product` name them and the root is trusted on first use, as
    `uplevel summary --server` does.
    """
    if from_level < 0 or to_level <= from_level:
        raise UsageError("--to must be greater than --from, and --from at least 0")
    if home_dir is not None:
        if server or product or channel:
            raise UsageError("give --home, or --server and --product (with --channel); not both")
        with open_home(home_dir, change=False) as s:
            st = s.state
            if not st.server:
                raise UsageError(
                    "this home was not adopted from a server",
                    hint="export with --server URL --product P, or adopt a home with "
                    "`uplevel init --server URL`",
                )
            remote = Remote(
                url=st.server,
                metadata_dir=s.home.tuf_dir,
                token=resolve_token(st.server, token_file),
                ca_bundle=ca_bundle,
            )
            remote.refresh()
            return _export(remote, st.product, st.channel, from_level, to_level, output, progress)
    if not server or not product:
        raise UsageError("give --home, or --server and --product")
    check_product(product)
    channel = channel or "full"
    check_channel(channel)
    with tempfile.TemporaryDirectory(prefix="uplevel-export-") as tmp:
        remote = Remote(
            url=server,
            metadata_dir=Path(tmp) / "tuf",
            token=resolve_token(server, token_file),
            ca_bundle=ca_bundle,
        )
        remote.refresh(remote.fetch_initial_root())
        return _export(remote, product, channel, from_level, to_level, output, progress)


def _export(
    remote: Remote,
    product: str,
    channel: str,
    a: int,
    b: int,
    output: Path,
    progress: Callable[[int], None] | None,
) -> ExportResult:
    levels = remote.levels(product, channel)
    for n in (a, b):
        if n not in levels:
            raise UsageError(f"level {n} of {product} ({channel}) is not published")
    metadata = _metadata_members(remote)
    docs: dict[str, bytes] = {}

    def document(level: int, kind: str) -> bytes:
        name = target_path(product, channel, level, kind)
        info = _guarded(remote, lambda: remote.tuf.target_info(name))
        data = _guarded(remote, lambda: remote.tuf.get_target(name))
        digest = next(iter(info.hashes.values()), "")
        if len(digest) != 64 or info.hashes.get("sha256") != digest:
            raise ServerError(f"{name}: the repository does not name it by its sha256")
        directory, _, base = name.rpartition("/")
        docs[f"targets/{directory}/{digest}.{base}"] = data
        return data

    def manifest(level: int) -> LevelManifest:
        doc = LevelManifest.from_bytes(document(level, MANIFEST_DOC), where=f"level {level}")
        if (doc.product, doc.channel, doc.level) != (product, channel, level):
            raise ServerError(f"level {level}: the document says {doc.product}/{doc.channel}")
        return doc

    old, new = manifest(a), manifest(b)
    updates = []
    for n in (n for n in levels if a < n <= b):
        doc = LevelUpdate.from_bytes(document(n, UPDATE_DOC), where=f"level {n}")
        if (doc.product, doc.channel, doc.level) != (product, channel, n):
            raise ServerError(f"level {n}: the update document says {doc.product}/{doc.channel}")
        updates.append(doc)
    descriptor = descriptor_between(
        product=product, channel=channel, old=old, new=new, updates=updates
    )
    needed: dict[str, StoredBlob] = {}
    bases: dict[str, StoredBlob] = {}
    for p, e in descriptor.changes.items():
        if e is None or e.kind != "file":
            continue
        needed[e.sha256] = new.blobs[e.sha256]
        before = old.manifest.get(p)
        if before is not None and before.kind == "file" and before.size <= MERGE_MAX:
            bases[before.sha256] = old.blobs[before.sha256]
    info = SignedBundleInfo(
        product=product,
        channel=channel,
        from_level=a,
        to_level=b,
        exported_at=utc_iso(dt.datetime.now(dt.UTC)),
    )
    with tempfile.TemporaryDirectory(prefix="uplevel-export-blobs-") as tmp:
        cache = Path(tmp)
        remote.fetch_blobs({**bases, **needed}, cache, progress=progress)
        blobs = {sha: cache / sha for sha in needed}
        for sha in bases:
            # A base only serves three-way merges, which are of text: binary ones stay out.
            if sha not in blobs and is_text(_head(cache / sha)):
                blobs[sha] = cache / sha
        _write(output, info, metadata, docs, blobs)
    ts = Metadata[Timestamp].from_bytes(metadata[TIMESTAMP_MEMBER]).signed
    root_version = max(
        int(n.removeprefix("metadata/").split(".")[0]) for n in metadata if ".root." in n
    )
    return ExportResult(
        output=str(output),
        product=product,
        channel=channel,
        from_level=a,
        to_level=b,
        server=remote.url,
        root_version=root_version,
        timestamp_version=ts.version,
        timestamp_expires=utc_iso(ts.expires),
        apply_before=utc_iso(ts.expires + DEFAULT_MAX_AGE),
        updates=tuple(u.update.to_dict() for u in sorted(updates, key=lambda u: u.level)),
        blobs=len(blobs),
        bytes=output.stat().st_size,
    )


def _guarded(remote: Remote, call: Callable[[], _T]) -> _T:
    try:
        return call()
    except DownloadError as exc:
        raise ServerError(f"{remote.url}: {exc}") from exc
    except RepositoryError as exc:
        raise ServerError(
            f"{remote.url}: the repository's metadata failed verification: {exc}",
            hint="the server or a mirror may be compromised or stale; nothing was written",
        ) from exc


def _head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(8192)


def _fetch_root(remote: Remote, version: int) -> bytes:
    url = f"{remote.url}/v1/metadata/{version}.root.json"
    return _guarded(remote, lambda: remote.fetcher.get(url, max_length=MAX_ROOT))


def _metadata_members(remote: Remote) -> dict[str, bytes]:
    """The metadata an offline home needs, as the server serves it: every root version from
    1 (whatever version a home pinned, it can walk from there), and the timestamp, snapshot
    and targets python-tuf just verified and stored under their unversioned names."""
    md = remote.metadata_dir
    trusted_root = (md / "root.json").read_bytes()
    root = Metadata[Root].from_bytes(trusted_root).signed
    if not root.consistent_snapshot:
        raise ServerError(
            f"{remote.url}: the repository does not use consistent snapshots, "
            "which signed bundles need"
        )
    roots: list[bytes] = []
    for n in range(1, root.version + 1):
        local = md / ROOT_HISTORY / f"{n}.root.json"
        if local.is_file():
            roots.append(local.read_bytes())
        else:  # older than the root this home pinned: ask the server, then check the chain
            roots.append(_fetch_root(remote, n))
    try:
        chain = TrustedMetadataSet(roots[0], EnvelopeType.METADATA)
        for data in roots[1:]:
            chain.update_root(data)
    except RepositoryError as exc:
        raise ServerError(
            f"{remote.url}: the repository's root history does not verify: {exc}"
        ) from exc
    if roots[-1] != trusted_root:
        raise ServerError(f"{remote.url}: the root history does not end at the trusted root")
    timestamp = (md / "timestamp.json").read_bytes()
    snapshot = (md / "snapshot.json").read_bytes()
    targets = (md / "targets.json").read_bytes()
    ts = Metadata[Timestamp].from_bytes(timestamp).signed
    snap = Metadata[Snapshot].from_bytes(snapshot).signed
    tgt = Metadata[Targets].from_bytes(targets).signed
    targets_meta = snap.meta.get("targets.json")
    if (
        snap.version != ts.snapshot_meta.version
        or targets_meta is None
        or tgt.version != targets_meta.version
    ):
        raise ServerError(f"{remote.url}: the trusted metadata does not hang together; try again")
    if tgt.delegations is not None:
        raise ServerError(
            f"{remote.url}: the repository delegates targets, which signed bundles do not carry"
        )
    # apply judges snapshot and targets at the timestamp's last valid second
    # (client.offline.OfflineTrustedSet): a bundle that would fail there is not written.
    last = ts.expires - dt.timedelta(seconds=1)
    for role, signed in (("snapshot", snap), ("targets", tgt)):
        if signed.is_expired(last):
            raise ServerError(
                f"{remote.url}: the {role} metadata expires at {utc_iso(signed.expires)}, "
                f"before the timestamp does ({utc_iso(ts.expires)}): an offline apply "
                "would refuse the bundle",
                hint=f"ask the publisher to run `uplevel repo refresh REPO --role {role}`",
            )
    members = {f"metadata/{n}.root.json": data for n, data in enumerate(roots, 1)}
    members[TIMESTAMP_MEMBER] = timestamp
    members[f"metadata/{snap.version}.snapshot.json"] = snapshot
    members[f"metadata/{tgt.version}.targets.json"] = targets
    return members


def _write(
    output: Path,
    info: SignedBundleInfo,
    metadata: dict[str, bytes],
    docs: dict[str, bytes],
    blobs: dict[str, Path],
) -> None:
    """The zip, written beside `output` and renamed into place once whole and fsynced (a
    half-written bundle never carries the final name)."""

    def entry(name: str, compress: bool) -> zipfile.ZipInfo:
        zi = zipfile.ZipInfo(name, _ZIP_TIME)
        zi.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        zi.external_attr = 0o644 << 16
        return zi

    with fsio.durable_output(output) as tmp:
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
            descriptor = json.dumps(info.to_dict(), indent=1, sort_keys=True).encode() + b"\n"
            zf.writestr(entry(SIGNED_DESCRIPTOR, True), descriptor)
            for name, data in {**metadata, **docs}.items():
                zf.writestr(entry(name, True), data)
            for sha, src in sorted(blobs.items()):
                zi = entry(f"blobs/{sha}", is_text(_head(src)))  # jars are deflated already
                zi.file_size = src.stat().st_size
                with open(src, "rb") as f, zf.open(zi, "w", force_zip64=True) as dst:
                    shutil.copyfileobj(f, dst, fsio.CHUNK)
        with SignedBundle(tmp):  # the reader's shape rules, so a writer bug never ships
            pass
