"""A subscriber's view of one update server: TUF-verified documents and verified blobs.

All network access of the online commands goes through here (and through
uplevel.client.fetch, the one HTTP port). Documents are TUF targets, so python-tuf
verifies them against the root pinned in the home; blobs are checked against
the sizes and sha256 in a verified manifest.json before anything uses them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import zstandard
from tuf.api._payload import Targets as TargetsRole
from tuf.api.exceptions import DownloadError, RepositoryError
from tuf.api.metadata import Metadata

from uplevel.client.fetch import FetchConfig, Fetcher, waiting_on_stderr
from uplevel.client.tufclient import TufClient, validate_root
from uplevel.core.jump import BlobInfo, BundleDescriptor
from uplevel.core.manifest import Entry, Manifest
from uplevel.engine import fsio
from uplevel.errors import BundleError, ServerError
from uplevel.repo.documents import (
    LevelManifest,
    LevelUpdate,
    StoredBlob,
    channel_levels,
    read_level_manifest,
    read_level_update,
)

MAX_ROOT = 1 << 20
DOWNLOAD_THREADS = 4


@dataclass
class Remote:
    """One server, with the TUF metadata directory that holds this home's trust."""

    url: str
    metadata_dir: Path
    token: str | None = None
    ca_bundle: Path | None = None

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        if self.ca_bundle is None and os.environ.get("UPLEVEL_CA_BUNDLE"):
            self.ca_bundle = Path(os.environ["UPLEVEL_CA_BUNDLE"])
        # The operator's time limits (UPLEVEL_TIMEOUT, `uplevel --timeout`, ...); long waits
        # are shown on stderr, so that a stalled node of a rollout is visibly waiting.
        self.fetcher = Fetcher(
            FetchConfig.from_environ(
                os.environ,
                token=self.token,
                ca_bundle=self.ca_bundle,
                on_wait=waiting_on_stderr,
            )
        )
        self._tuf: TufClient | None = None

    # --- trust --------------------------------------------------------------------

    def fetch_initial_root(self) -> bytes:
        """Trust on first use: version 1 of the root, which the TUF client then walks forward
        to the newest version (each signed by its predecessor)."""
        data = self._guard(
            lambda: self.fetcher.get(f"{self.url}/v1/metadata/1.root.json", max_length=MAX_ROOT)
        )
        try:
            validate_root(data)
        except Exception as exc:
            raise ServerError(
                f"{self.url}: the server's root metadata is not valid: {exc}"
            ) from exc
        return data

    def refresh(self, bootstrap: bytes | None = None) -> None:
        """The TUF workflow (root chain, timestamp, snapshot, targets) against the pinned root."""
        if bootstrap is None:
            try:
                bootstrap = (self.metadata_dir / "root.json").read_bytes()
            except FileNotFoundError as exc:
                raise ServerError(
                    f"this home has no pinned root in {self.metadata_dir}",
                    hint="adopt it with `uplevel init --server URL`",
                ) from exc
        fsio.makedirs(self.metadata_dir)
        tuf = TufClient(
            self.metadata_dir,
            f"{self.url}/v1/metadata/",
            bootstrap=bootstrap,
            fetcher=self.fetcher,
            target_base_url=f"{self.url}/v1/targets/",
        )
        self._guard(tuf.refresh)
        self._tuf = tuf

    @property
    def tuf(self) -> TufClient:
        if self._tuf is None:
            self.refresh()
        assert self._tuf is not None
        return self._tuf

    def _guard(self, call: Callable[[], bytes] | Callable[[], None]) -> bytes:
        try:
            out = call()
        except DownloadError as exc:
            text = str(exc)  # names the URL already when the fetcher made it
            message = text if text.startswith(self.url) else f"{self.url}: {text}"
            raise ServerError(message, hint=_hint(text)) from exc
        except RepositoryError as exc:
            raise ServerError(
                f"{self.url}: the repository's metadata failed verification: {exc}",
                hint="the server or a mirror may be compromised or stale; nothing was changed",
            ) from exc
        return out if isinstance(out, bytes) else b""

    # --- documents --------------------------------------------------------------------

    def target_paths(self) -> list[str]:
        """Target paths listed by the trusted top-level targets metadata (after refresh)."""
        self.tuf  # noqa: B018 - make sure a refresh happened
        md = Metadata[TargetsRole].from_bytes((self.metadata_dir / "targets.json").read_bytes())
        return list(md.signed.targets)

    def levels(self, product: str, channel: str) -> list[int]:
        return channel_levels(self.target_paths(), product, channel)

    def level_manifest(self, product: str, channel: str, level: int) -> LevelManifest:
        return read_level_manifest(self._get_target, product, channel, level)

    def level_update(self, product: str, channel: str, level: int) -> LevelUpdate:
        return read_level_update(self._get_target, product, channel, level)

    def _get_target(self, name: str) -> bytes:
        return self._guard(lambda: self.tuf.get_target(name))

    # --- blobs ------------------------------------------------------------------------

    def fetch_blobs(
        self,
        needed: Mapping[str, StoredBlob],
        cache: Path,
        *,
        local: Mapping[str, Path] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, int]:
        """Make `cache/<sha256>` hold each needed content, verified. A content already in the
        cache is kept (an interrupted update resumes where it stopped); one the home already
        holds (`local`: sha256 → file) is copied from there; the rest is downloaded in
        parallel. Returns byte counts: downloaded, copied, cached."""
        fsio.makedirs(cache)
        counts = {"downloaded": 0, "copied": 0, "cached": 0}
        todo = []
        for sha, blob in sorted(needed.items()):
            dest = cache / sha
            if dest.is_file() and _sha_of(dest) == sha:
                counts["cached"] += blob.size
                continue
            source = (local or {}).get(sha)
            if source is not None and _copy_verified(source, dest, sha):
                counts["copied"] += blob.size
                continue
            todo.append((sha, blob))

        def one(item: tuple[str, StoredBlob]) -> int:
            sha, blob = item
            self._download_blob(sha, blob, cache / sha)
            if progress:
                progress(blob.size)
            return blob.stored_size

        with ThreadPoolExecutor(DOWNLOAD_THREADS) as pool:
            counts["downloaded"] = sum(pool.map(one, todo))
        return counts

    def blob_bytes(self, sha: str, blob: StoredBlob) -> bytes:
        """One content from the server, decompressed and checked against the signed
        manifest's sha256 and size (ServerError otherwise)."""
        from uplevel.repo.blobs import decompress

        url = f"{self.url}/v1/blobs/{sha}"
        stored = self._guard(lambda: self.fetcher.get(url, max_length=blob.stored_size))
        if len(stored) != blob.stored_size:
            raise ServerError(
                f"blob {sha[:12]}…: got {len(stored)} bytes, expected {blob.stored_size}"
            )
        try:
            data = stored if blob.encoding == "raw" else decompress(stored, blob.size)
        except zstandard.ZstdError as exc:
            raise ServerError(f"blob {sha[:12]}…: corrupt zstd data ({exc})") from exc
        if len(data) != blob.size or hashlib.sha256(data).hexdigest() != sha:
            raise ServerError(
                f"blob {sha[:12]}… does not match the signed manifest: refused",
                hint="the server or a mirror may be compromised; nothing was changed",
            )
        return data

    def _download_blob(self, sha: str, blob: StoredBlob, dest: Path) -> None:
        data = self.blob_bytes(sha, blob)
        tmp = dest.with_name(dest.name + ".part")
        if os.path.lexists(tmp):
            fsio.unlink(tmp)
        fsio.write_new(tmp, [data], mode=0o444)
        fsio.replace(tmp, dest)


def _sha_of(path: Path) -> str:
    from uplevel.engine.scan import hash_file

    return hash_file(path)


def _copy_verified(source: Path, dest: Path, sha: str) -> bool:
    """Copy a home file into the cache if it (still) has the content `sha`."""
    try:
        data = source.read_bytes()
    except OSError:
        return False
    if hashlib.sha256(data).hexdigest() != sha:
        return False
    tmp = dest.with_name(dest.name + ".part")
    if os.path.lexists(tmp):
        fsio.unlink(tmp)
    fsio.write_new(tmp, [data], mode=0o444)
    fsio.replace(tmp, dest)
    return True


def _hint(message: str) -> str | None:
    if "401" in message:
        return (
            "the server wants a token: set UPLEVEL_TOKEN, pass --token-file, or run `uplevel login`"
        )
    if "403" in message:
        return "the token is not entitled to this product or channel, or it expired or was revoked"
    return None


class FetchedUpdate:
    """An update source for apply_source, built from verified documents and the blob cache."""

    def __init__(self, descriptor: BundleDescriptor, cache: Path) -> None:
        self._descriptor = descriptor
        self.cache = cache

    @property
    def descriptor(self) -> BundleDescriptor:
        return self._descriptor

    def has_blob(self, sha256: str) -> bool:
        return (self.cache / sha256).is_file()

    def blob_chunks(self, sha256: str) -> Iterator[bytes]:
        h = hashlib.sha256()
        with open(self.cache / sha256, "rb") as f:
            while chunk := f.read(fsio.CHUNK):
                h.update(chunk)
                yield chunk
        if h.hexdigest() != sha256:
            raise BundleError(f"cached blob {sha256[:12]}… was damaged; run the command again")

    def read_blob(self, sha256: str) -> bytes:
        return b"".join(self.blob_chunks(sha256))


def descriptor_between(
    *,
    product: str,
    channel: str,
    old: LevelManifest,
    new: LevelManifest,
    updates: list[LevelUpdate],
) -> BundleDescriptor:
    """The same descriptor a bundle from `old.level` to `new.level` would carry."""
    from uplevel.core.jump import diff_manifests

    changes: dict[str, Entry | None] = diff_manifests(old.manifest, new.manifest)
    blobs = {
        sha: BlobInfo(size=b.size, encoding="raw") for m in (old, new) for sha, b in m.blobs.items()
    }
    return BundleDescriptor(
        product=product,
        channel=channel,
        from_level=old.level,
        to_level=new.level,
        updates=tuple(u.update for u in sorted(updates, key=lambda u: u.level)),
        from_manifest=old.manifest,
        to_manifest_digest=new.manifest.digest,
        changes=changes,
        blobs=blobs,
    )


def manifest_entries(m: Manifest) -> dict[str, Entry]:
    return dict(m.items())


def home_remote(
    metadata_dir: Path, server: str, token_file: Path | None, ca_bundle: Path | None
) -> Remote:
    """The Remote of a home (its TUF metadata in `metadata_dir`), with the subscriber token
    found the usual way (credentials.resolve_token)."""
    from uplevel.client.credentials import resolve_token

    return Remote(
        url=server,
        metadata_dir=metadata_dir,
        token=resolve_token(server, token_file),
        ca_bundle=ca_bundle,
    )
