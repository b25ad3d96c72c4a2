"""TUF client: python-tuf's Updater, pinned to a root, fed by uplevel's Fetcher, made durable.

python-tuf does the whole client workflow (root rotation, rollback, freeze,
mix-and-match, thresholds, delegations). What this module adds:

- Durability. python-tuf 7 writes metadata with a temp file and os.replace but
  no fsync, and keeps `root.json` as a symlink it deletes and re-creates (a
  crash in between leaves no root.json). Here every metadata file goes through
  `fsio.write_durable` (fsync file, rename, fsync directory), `root.json` is a
  regular file replaced atomically, and targets are written the same way. An
  unchanged file is not rewritten.
- A pinned trust anchor: `bootstrap=` root bytes, as python-tuf 7 recommends.
- `get_target` / `download_target` by name, verified against signed metadata,
  raising instead of returning None.

The trusted metadata directory holds only trusted metadata under unversioned
names: `root.json` (the newest trusted root), `timestamp.json`, `snapshot.json`,
`targets.json`, `<role>.json` per delegated role loaded (role names URL-quoted),
plus python-tuf's `root_history/<N>.root.json`, every trusted root version
(python-tuf reads it before asking the network for root N+1). Nothing is written
there before python-tuf has verified it. As the TUF workflow (and the
tuf-conformance suite) requires, a valid timestamp or snapshot stays trusted
even when a later file of the same refresh is refused.

Errors are python-tuf's two trees: `RepositoryError` (metadata or target refused)
and `DownloadError` (network), plus `OSError` for the local disk.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib import parse

from tuf.api.exceptions import RepositoryError

# tuf.api.metadata re-exports these without `__all__`; mypy --strict calls that private.
from tuf.api.metadata import Metadata, Root, TargetFile  # type: ignore[attr-defined]
from tuf.ngclient.config import UpdaterConfig
from tuf.ngclient.updater import Updater

from uplevel.client.fetch import Fetcher
from uplevel.engine import fsio

ROOT_HISTORY = "root_history"

# The overrides below replace python-tuf 7 private hooks; fail at import rather
# than silently losing durability if a python-tuf release renames them.
_HOOKS = ("_persist_file", "_update_root_symlink", "_persist_root")
if not all(callable(getattr(Updater, hook, None)) for hook in _HOOKS):
    raise ImportError(
        f"tuf.ngclient.Updater lacks {_HOOKS}: uplevel.client.tufclient needs python-tuf 7"
    )


class TargetNotFoundError(RepositoryError):
    """The signed targets metadata (delegations included) has no such target."""


def validate_root(data: bytes) -> Metadata[Root]:
    """Parse a root and check it is signed by its own threshold, as a trust anchor must be.

    Expiry is not checked: an expired initial root is valid for fetching newer ones.
    Raises RepositoryError (UnsignedMetadataError when the signatures fall short).
    """
    try:
        md = Metadata[Root].from_bytes(data)
    except Exception as exc:
        raise RepositoryError(f"not TUF metadata: {exc}") from exc
    if not isinstance(md.signed, Root):
        raise RepositoryError(f"expected root metadata, got {md.signed.type!r}")
    try:
        md.signed.verify_delegate(Root.type, md.signed_bytes, md.signatures)
    except ValueError as exc:  # the root names no "root" role
        raise RepositoryError(f"root metadata is unusable: {exc}") from exc
    return md


def target_filename(target_path: str) -> str:
    """The local file name for a target path: URL-quoted, flat (as python-tuf names them)."""
    name = parse.quote(target_path, safe="")
    if name in ("", ".", ".."):
        raise RepositoryError(f"target path {target_path!r} cannot be stored as a file")
    return name


class _DurableUpdater(Updater):
    """python-tuf's Updater with its three disk-writing hooks routed through fsio."""

    def _persist_file(self, filename: str, data: bytes) -> None:
        path = Path(filename)
        if _same_content(path, data):
            return
        fsio.write_durable(path, data)
        if path.parent != Path(self._dir):
            # root_history/ may have just been created inside the metadata dir
            fsio.fsync_dir(Path(self._dir))

    def _persist_root(self, version: int, data: bytes) -> None:
        history = Path(self._dir, ROOT_HISTORY)
        if not history.is_dir():
            fsio.makedirs(history)
        self._persist_file(str(history / f"{version}.root.json"), data)

    def _update_root_symlink(self) -> None:
        """Make root.json a durable regular-file copy of the newest trusted root."""
        version = self.trusted_root.version
        data = Path(self._dir, ROOT_HISTORY, f"{version}.root.json").read_bytes()
        self._persist_file(os.path.join(self._dir, "root.json"), data)

    @property
    def trusted_root(self) -> Root:
        return self._trusted_set.root


def _same_content(path: Path, data: bytes) -> bool:
    try:
        if path.is_symlink() or path.stat().st_size != len(data):
            return False
        return path.read_bytes() == data
    except OSError:
        return False


class TufClient:
    """Verified metadata and targets from one TUF repository.

    `bootstrap` is the pinned root (bytes) trust starts from; newer roots already
    trusted are taken from the metadata dir's root_history/. One TufClient does
    one refresh (python-tuf's rule); make a new one to refresh again.
    """

    def __init__(
        self,
        metadata_dir: Path,
        metadata_url: str,
        *,
        bootstrap: bytes,
        fetcher: Fetcher | None = None,
        target_base_url: str | None = None,
        updater_config: UpdaterConfig | None = None,
    ) -> None:
        self._fetcher = fetcher or Fetcher()
        self._config = updater_config or UpdaterConfig()
        self._target_base_url = target_base_url
        self._updater = _DurableUpdater(
            str(metadata_dir),
            metadata_url,
            fetcher=self._fetcher,
            config=self._config,
            bootstrap=bootstrap,
        )

    def refresh(self) -> None:
        """Run the TUF workflow for root, timestamp, snapshot and targets."""
        self._updater.refresh()

    def target_info(self, name: str) -> TargetFile:
        """The signed description of a target, searching delegations (refreshes if needed)."""
        info = self._updater.get_targetinfo(name)
        if info is None:
            raise TargetNotFoundError(f"target {name!r} is not in the repository's metadata")
        return info

    def get_target(self, name: str) -> bytes:
        """A target's bytes, verified against its signed length and hashes.

        Held in memory: uplevel's targets are small JSON documents (blobs are not
        targets), and the length read is bounded by the signed length.
        """
        info = self.target_info(name)
        data = self._fetcher.download_bytes(self._target_url(info), info.length)
        info.verify_length_and_hashes(data)
        return data

    def download_target(self, name: str, directory: Path) -> Path:
        """Store a verified target in directory (flat, quoted name); skip it if already there."""
        info = self.target_info(name)
        dest = directory / target_filename(info.path)
        if self._is_cached(info, dest):
            return dest
        data = self._fetcher.download_bytes(self._target_url(info), info.length)
        info.verify_length_and_hashes(data)
        fsio.makedirs(directory)
        fsio.write_durable(dest, data)
        return dest

    @staticmethod
    def _is_cached(info: TargetFile, dest: Path) -> bool:
        if dest.is_symlink() or not dest.is_file():
            return False
        try:
            with open(dest, "rb") as existing:
                info.verify_length_and_hashes(existing)
        except (OSError, RepositoryError):
            return False
        return True

    def _target_url(self, info: TargetFile) -> str:
        """Where python-tuf would fetch it: hash-prefixed file name under consistent snapshots."""
        if self._target_base_url is None:
            raise ValueError("this TufClient was made without target_base_url")
        base = self._target_base_url.rstrip("/") + "/"
        path = info.path
        if self._updater.trusted_root.consistent_snapshot and self._config.prefix_targets_with_hash:
            dirname, sep, basename = path.rpartition("/")
            path = f"{dirname}{sep}{next(iter(info.hashes.values()))}.{basename}"
        return base + path
