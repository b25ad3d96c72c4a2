"""The signed offline bundle: what an air-gapped home needs to verify an update exactly as
an online refresh would, in one zip (docs/bundle-format.md, "Signed bundles").

Three parts, each the offline twin of an online one:

- `SignedBundle` reads the zip. Member names follow fixed patterns and are never used
  as paths; a name that fits no pattern, or appears twice, refuses the whole file.
- `BundleFetcher` is the network of an offline apply: python-tuf (through TufClient)
  asks for the same URLs it would ask the server for, and gets the bundle's
  `metadata/` and `targets/` members, or a 404. So the root chain, signatures,
  thresholds, rollback and mix-and-match checks are python-tuf's own, unchanged.
- `OfflineTrustedSet` changes the one thing an air gap must change: *when* expiry is
  judged. An online client compares every expiry with now; a bundle carried to a
  site days later would always fail on its one-day timestamp. Here the root is still
  judged at now, the timestamp is accepted up to `max_age` after it expired, and
  snapshot and targets are judged at the last second the timestamp was valid (or at
  now, if that is earlier). See the class for what that leaves protected.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tuf.api._payload import Targets as TargetsRole
from tuf.api._payload import Timestamp
from tuf.api.exceptions import (
    BadVersionNumberError,
    DownloadError,
    DownloadHTTPError,
    DownloadLengthMismatchError,
    ExpiredMetadataError,
    RepositoryError,
    UnsignedMetadataError,
)
from tuf.api.metadata import Metadata
from tuf.ngclient._internal.trusted_metadata_set import TrustedMetadataSet
from tuf.ngclient.config import EnvelopeType

from uplevel.client.fetch import FetchConfig, Fetcher
from uplevel.client.tufclient import ROOT_HISTORY, TargetNotFoundError, TufClient
from uplevel.core.jsonstrict import loads_strict
from uplevel.core.jump import BundleDescriptor
from uplevel.core.updateinfo import CHANNELS, PRODUCT_RE, check_product
from uplevel.engine import fsio
from uplevel.errors import BundleError, UsageError
from uplevel.formats.bundle import SIGNED_DESCRIPTOR
from uplevel.repo.documents import (
    LevelManifest,
    LevelUpdate,
    read_level_manifest,
    read_level_update,
)

SIGNED_FORMAT = "uplevel-signed-bundle"
SIGNED_SCHEMA = 1
BUNDLE_URL = "uplevel-bundle:/"
"""The pretend server of an offline apply: `<BUNDLE_URL>metadata/…` and `…targets/…` are
zip members. Not http(s), so uplevel's real network code could never send it anywhere."""
METADATA_URL = BUNDLE_URL + "metadata/"
TARGETS_URL = BUNDLE_URL + "targets/"
DEFAULT_MAX_AGE = dt.timedelta(days=30)
MAX_DESCRIPTOR = 1 << 20
TIMESTAMP_MEMBER = "metadata/timestamp.json"

_VERSION = r"[1-9][0-9]{0,9}"
_ROOT_MEMBER = re.compile(rf"metadata/({_VERSION})\.root\.json")
_ROLE_MEMBER = re.compile(rf"metadata/({_VERSION})\.(snapshot|targets)\.json")
_PRODUCT = PRODUCT_RE.pattern.removeprefix("^").removesuffix("$")
_TARGET_MEMBER = re.compile(
    rf"targets/({_PRODUCT})/(full|security)/(0|[1-9][0-9]{{0,8}})"
    r"/([0-9a-f]{64})\.(manifest|update)\.json"
)
_BLOB_MEMBER = re.compile(r"blobs/([0-9a-f]{64})")

# OfflineTrustedSet overrides this python-tuf 7 internal (and VerifiedBundle checks the
# Updater's `_trusted_set`): fail at import, not mid-apply, if a release renames it (the
# same guard uplevel.client.tufclient keeps for its hooks).
if not callable(getattr(TrustedMetadataSet, "_check_final_timestamp", None)):
    raise ImportError("python-tuf's TrustedMetadataSet changed: uplevel.client.offline needs tuf 7")


def parse_max_age(text: str) -> dt.timedelta:
    """`--max-age`: a duration as the repository commands write them (`30d`, `12h`, `2w`),
    or 0 for "only while the timestamp is valid" (the online rule)."""
    from uplevel.repo.config import parse_duration

    if re.fullmatch(r"0[smhdw]?", text.strip()):
        return dt.timedelta(0)
    return parse_duration(text, option="--max-age")


def utc_iso(moment: dt.datetime) -> str:
    """How the client side writes times (as home state does): ISO 8601, seconds, UTC."""
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


# --- the descriptor -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SignedBundleInfo:
    """`uplevel-signed-bundle.json`. Unsigned: it only says what the bundle claims to hold,
    so a reader can refuse a wrong product or level early and clearly. Every decision that
    matters is taken from the signed metadata and the documents it verifies."""

    product: str
    channel: str
    from_level: int
    to_level: int
    exported_at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SIGNED_FORMAT,
            "schema_version": SIGNED_SCHEMA,
            "product": self.product,
            "channel": self.channel,
            "from_level": self.from_level,
            "to_level": self.to_level,
            "exported_at": self.exported_at,
        }

    @classmethod
    def from_dict(cls, d: Any) -> SignedBundleInfo:
        where = SIGNED_DESCRIPTOR
        if not isinstance(d, dict):
            raise BundleError(f"{where}: expected a JSON object")
        if d.get("format") != SIGNED_FORMAT:
            raise BundleError(f"{where}: format {d.get('format')!r} is not {SIGNED_FORMAT!r}")
        if d.get("schema_version") != SIGNED_SCHEMA:
            raise BundleError(
                f"{where}: schema_version {d.get('schema_version')!r} is not supported "
                f"(this uplevel reads {SIGNED_SCHEMA})",
                hint="upgrade uplevel",
            )
        product = d.get("product")
        try:
            check_product(product if isinstance(product, str) else "")
        except UsageError as exc:
            raise BundleError(f"{where}: product: {exc.message}") from exc
        if d.get("channel") not in CHANNELS:
            raise BundleError(f"{where}: channel {d.get('channel')!r} is not one of {CHANNELS}")
        levels = []
        for key in ("from_level", "to_level"):
            v = d.get(key)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise BundleError(f"{where}: {key}: expected a non-negative integer, got {v!r}")
            levels.append(v)
        if levels[1] <= levels[0]:
            raise BundleError(f"{where}: to_level must be greater than from_level")
        exported = d.get("exported_at")
        if not isinstance(exported, str):
            raise BundleError(f"{where}: exported_at: expected an ISO 8601 time")
        return cls(
            product=str(product),
            channel=str(d["channel"]),
            from_level=levels[0],
            to_level=levels[1],
            exported_at=exported,
        )


# --- reading ----------------------------------------------------------------------------------


class SignedBundle:
    """An opened signed bundle with its member names checked. Use as a context manager.

    Checks here are about shape only (which names, how many, each once); the contents are
    judged by python-tuf (metadata, documents) and by the verified manifests (blobs).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._zip = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise BundleError(f"{path}: not a readable bundle ({exc})") from exc
        try:
            self._index()
            self.info = self._read_descriptor()
            self._check_targets()
        except BaseException:
            self._zip.close()
            raise

    def __enter__(self) -> SignedBundle:
        return self

    def __exit__(self, *exc: object) -> None:
        self._zip.close()

    def _index(self) -> None:
        self._members: dict[str, zipfile.ZipInfo] = {}
        roots: list[int] = []
        roles: dict[str, list[int]] = {"snapshot": [], "targets": []}
        self.blobs: set[str] = set()
        for info in self._zip.infolist():
            name = info.filename
            if name in self._members:
                raise BundleError(f"{self.path}: member {name!r} appears twice")
            self._members[name] = info
            if m := _ROOT_MEMBER.fullmatch(name):
                roots.append(int(m[1]))
            elif m := _ROLE_MEMBER.fullmatch(name):
                roles[m[2]].append(int(m[1]))
            elif m := _BLOB_MEMBER.fullmatch(name):
                self.blobs.add(m[1])
            elif name not in (SIGNED_DESCRIPTOR, TIMESTAMP_MEMBER) and not _TARGET_MEMBER.fullmatch(
                name
            ):
                raise BundleError(f"{self.path}: unexpected member {name!r}")
        if SIGNED_DESCRIPTOR not in self._members:
            raise BundleError(f"{self.path}: no {SIGNED_DESCRIPTOR}; is this a signed bundle?")
        if TIMESTAMP_MEMBER not in self._members:
            raise BundleError(f"{self.path}: no {TIMESTAMP_MEMBER}")
        if sorted(roots) != list(range(1, len(roots) + 1)) or not roots:
            raise BundleError(
                f"{self.path}: the root versions must run from 1 without a gap, found {sorted(roots)}"
            )
        for role, versions in roles.items():
            if len(versions) != 1:
                raise BundleError(
                    f"{self.path}: expected exactly one {role} metadata file, found {len(versions)}"
                )
        self.root_versions = len(roots)

    def _read_descriptor(self) -> SignedBundleInfo:
        try:
            data = self.read_member(SIGNED_DESCRIPTOR, MAX_DESCRIPTOR)
            doc = loads_strict(data)
        except (ValueError, DownloadError) as exc:
            raise BundleError(f"{self.path}: {SIGNED_DESCRIPTOR} is not valid: {exc}") from exc
        return SignedBundleInfo.from_dict(doc)

    def _check_targets(self) -> None:
        """Documents of one product, channel and level range only: what the descriptor says."""
        for name in self._members:
            m = _TARGET_MEMBER.fullmatch(name)
            if m and (
                (m[1], m[2]) != (self.info.product, self.info.channel)
                or not self.info.from_level <= int(m[3]) <= self.info.to_level
            ):
                raise BundleError(
                    f"{self.path}: member {name!r} is outside {self.info.product} "
                    f"{self.info.channel} levels {self.info.from_level}..{self.info.to_level}"
                )

    def has_member(self, name: str) -> bool:
        return name in self._members

    def read_member(self, name: str, max_length: int) -> bytes:
        """A member's bytes, at most max_length of them (DownloadLengthMismatchError beyond,
        judged on what is read, not on the size the zip directory claims)."""
        try:
            with self._zip.open(self._members[name]) as f:
                data = f.read(max_length + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as exc:
            raise BundleError(f"{self.path}: member {name!r} is corrupt ({exc})") from exc
        if len(data) > max_length:
            raise DownloadLengthMismatchError(f"{name}: more than the {max_length} bytes allowed")
        return data

    def member_chunks(self, name: str) -> Iterator[bytes]:
        """A member's bytes in chunks (as many as the zip directory says it has)."""
        try:
            with self._zip.open(self._members[name]) as f:
                while chunk := f.read(fsio.CHUNK):
                    yield chunk
        except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as exc:
            raise BundleError(f"{self.path}: member {name!r} is corrupt ({exc})") from exc

    def blob_chunks(self, sha256: str, size: int) -> Iterator[bytes]:
        """Stream a blob, then check it has exactly `size` bytes and this sha256 (the values a
        TUF-verified manifest gives); BundleError if not. Never reads more than size + 1."""
        name = f"blobs/{sha256}"
        h = hashlib.sha256()
        n = 0
        try:
            with self._zip.open(self._members[name]) as f:
                while chunk := f.read(min(fsio.CHUNK, size - n + 1)):
                    n += len(chunk)
                    if n > size:
                        break
                    h.update(chunk)
                    yield chunk
        except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as exc:
            raise BundleError(
                f"blob {sha256[:12]}… is corrupt ({exc}): the bundle was damaged or tampered with",
                hint="export the bundle again; nothing was changed",
            ) from exc
        if n != size or h.hexdigest() != sha256:
            raise BundleError(
                f"blob {sha256[:12]}… does not match the signed manifest: the bundle was "
                "damaged or tampered with",
                hint="export the bundle again; nothing was changed",
            )


# --- python-tuf's view of the bundle ------------------------------------------------------------


class BundleFetcher(Fetcher):
    """The fetcher of an offline apply: URLs under BUNDLE_URL are served from the bundle's
    `metadata/` and `targets/` members; every other request fails.

    It is an uplevel Fetcher (what TufClient takes) with each way to the network
    overridden, so no byte can be fetched from anywhere but the zip: a missing member
    is HTTP 404, exactly what python-tuf expects from a server that lacks a file (it is
    how the root walk learns the newest root).
    """

    def __init__(self, bundle: SignedBundle) -> None:
        super().__init__(FetchConfig(proxies_from_env=False))
        self._bundle = bundle

    def _member(self, url: str) -> str:
        name = url.removeprefix(BUNDLE_URL)
        if (
            name == url
            or not name.startswith(("metadata/", "targets/"))
            or not self._bundle.has_member(name)
        ):
            raise DownloadHTTPError(f"{name}: not in the bundle", 404)
        return name

    def _fetch(self, url: str) -> Iterator[bytes]:
        """FetcherInterface's unbounded stream; python-tuf itself uses download_file."""
        return self._bundle.member_chunks(self._member(url))

    @contextlib.contextmanager
    def download_file(self, url: str, max_length: int) -> Iterator[IO[bytes]]:
        yield io.BytesIO(self._bundle.read_member(self._member(url), max_length))

    def get(self, url: str, *, max_length: int, headers: Mapping[str, str] | None = None) -> bytes:
        raise DownloadError(f"{url}: an offline apply has no network")

    def download_to(
        self,
        url: str,
        dest_path: Path,
        *,
        expected_sha256: str,
        expected_size: int,
        resume: bool = True,
        mode: int = 0o644,
    ) -> None:
        raise DownloadError(f"{url}: an offline apply has no network")


class OfflineTrustedSet(TrustedMetadataSet):
    """python-tuf's trusted metadata set with expiry judged for an air gap.

    python-tuf compares every expiry with `reference_time`, which it sets to now. Here:

    - the final root is judged at the wall clock, as online (its lifetime is a year: a
      site that cannot get a current root must not keep trusting retired keys);
    - the timestamp is accepted until `max_age` after it expired (online: until it
      expires). This is the one protection that is weaker offline: an attacker who holds
      an old bundle can hide newer updates from a site for at most the timestamp's
      lifetime plus max_age after that bundle was exported (a freeze attack), instead of
      the timestamp's lifetime. `--max-age 0` gives the online rule back;
    - snapshot and targets are judged at `reference_time` = the last second the trusted
      timestamp was valid, or now if that is earlier: a bundle is exactly as acceptable
      as it was in its final second online. The time comes from the signed timestamp,
      never from the bundle's unsigned descriptor.

    Everything else is python-tuf's, unchanged: signatures and thresholds against the
    pinned root and each root it rotates to, version rollback of every role against what
    the home already trusts, the hashes and versions that bind timestamp → snapshot →
    targets → documents (mix-and-match).
    """

    def __init__(
        self, root_data: bytes, envelope_type: EnvelopeType, *, max_age: dt.timedelta
    ) -> None:
        if max_age < dt.timedelta(0):
            raise UsageError("--max-age must not be negative")
        self.max_age = max_age
        self.wall_clock = dt.datetime.now(dt.UTC)
        super().__init__(root_data, envelope_type)

    @property
    def reference_time(self) -> dt.datetime:
        if Timestamp.type not in self:
            return self.wall_clock
        return min(self.wall_clock, self.timestamp.expires - dt.timedelta(seconds=1))

    @reference_time.setter
    def reference_time(self, value: dt.datetime) -> None:
        """python-tuf sets it to now when it starts; that is the wall clock."""
        self.wall_clock = value

    def update_timestamp(self, data: bytes) -> Timestamp:
        """Judge the final root at the wall clock before python-tuf judges it at
        reference_time (which, once an earlier timestamp is trusted, may lie in the past)."""
        if self.root.is_expired(self.wall_clock):
            raise ExpiredMetadataError("Final root.json is expired")
        return super().update_timestamp(data)

    def _check_final_timestamp(self) -> None:
        super()._check_final_timestamp()  # python-tuf's own check, at reference_time
        late = self.wall_clock - self.timestamp.expires
        if late >= self.max_age:  # `>=` as python-tuf's is_expired: max_age 0 is the online rule
            raise ExpiredMetadataError(
                f"the bundle's timestamp expired {_days(late)} ago "
                f"({utc_iso(self.timestamp.expires)}), more than --max-age {_days(self.max_age)}"
            )


def _days(delta: dt.timedelta) -> str:
    if delta.total_seconds() % 86400 == 0:
        return f"{delta.days}d"
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f}d" if hours >= 48 else f"{hours:.1f}h"


# --- verifying a bundle against a home's trust ----------------------------------------------------


class VerifiedBundle:
    """The offline twin of client.remote.Remote: the bundle's metadata run through TufClient
    against the trust in `metadata_dir`, then documents and blobs checked against it.

    `metadata_dir` receives what python-tuf trusts, exactly as an online refresh writes it;
    the caller gives a scratch copy of the home's trust and moves the result in with
    `commit_trust` only once everything verified, so a refused bundle changes nothing.
    """

    def __init__(
        self,
        bundle: SignedBundle,
        metadata_dir: Path,
        *,
        bootstrap: bytes,
        max_age: dt.timedelta = DEFAULT_MAX_AGE,
    ) -> None:
        self.bundle = bundle
        self.metadata_dir = metadata_dir
        self.tuf = TufClient(
            metadata_dir,
            METADATA_URL,
            bootstrap=bootstrap,
            fetcher=BundleFetcher(bundle),
            target_base_url=TARGETS_URL,
        )
        # TufClient builds python-tuf's Updater, which builds its TrustedMetadataSet from
        # the bootstrap root and has loaded nothing else yet. Swapping in the offline set,
        # built from the same root, is the one change: expiry (see OfflineTrustedSet).
        updater = self.tuf._updater
        if not isinstance(getattr(updater, "_trusted_set", None), TrustedMetadataSet):
            raise ImportError("python-tuf's Updater changed: uplevel.client.offline needs tuf 7")
        self.trusted = OfflineTrustedSet(bootstrap, updater.config.envelope_type, max_age=max_age)
        updater._trusted_set = self.trusted

    def refresh(self) -> None:
        """python-tuf's workflow: root chain, timestamp, snapshot, targets, from the zip."""
        self._guard(self.tuf.refresh)

    def target_paths(self) -> list[str]:
        """Target paths the trusted top-level targets metadata lists (after refresh)."""
        data = (self.metadata_dir / "targets.json").read_bytes()
        return list(Metadata[TargetsRole].from_bytes(data).signed.targets)

    def level_manifest(self, product: str, channel: str, level: int) -> LevelManifest:
        return read_level_manifest(self._target, product, channel, level)

    def level_update(self, product: str, channel: str, level: int) -> LevelUpdate:
        return read_level_update(self._target, product, channel, level)

    def _target(self, name: str) -> bytes:
        out: list[bytes] = []
        self._guard(lambda: out.append(self.tuf.get_target(name)))
        return out[0]

    def _guard(self, call: Callable[[], None]) -> None:
        """python-tuf's refusals, said in terms of a bundle (each is exit 1, nothing changed)."""
        path = self.bundle.path
        untouched = "nothing was changed"
        try:
            call()
        except TargetNotFoundError as exc:
            raise BundleError(
                f"{path}: the signed targets metadata does not list {exc}",
                hint=f"the level is not published in this repository; {untouched}",
            ) from exc
        except BadVersionNumberError as exc:
            raise BundleError(
                f"{path}: the bundle's metadata is older than what this home already trusts "
                f"({exc}): refused as a rollback",
                hint=f"export a new bundle from the server; {untouched}",
            ) from exc
        except ExpiredMetadataError as exc:
            raise BundleError(
                f"{path}: the bundle's metadata has expired: {exc}",
                hint=f"export a new bundle (or, knowingly, allow more with --max-age); {untouched}",
            ) from exc
        except UnsignedMetadataError as exc:
            raise BundleError(
                f"{path}: the bundle's metadata is not signed by the keys this home trusts ({exc})",
                hint="the bundle comes from another repository or was tampered with; " + untouched,
            ) from exc
        except (RepositoryError, DownloadLengthMismatchError) as exc:
            # A member longer than the signed length of it (or python-tuf's bound) counts
            # as failing verification, as its hash would.
            raise BundleError(
                f"{path}: the bundle's metadata failed verification: {exc}",
                hint=f"the bundle was damaged or tampered with; {untouched}",
            ) from exc
        except DownloadHTTPError as exc:
            raise BundleError(
                f"{path}: the bundle lacks a file the signed metadata needs ({exc})",
                hint=f"export the bundle again; {untouched}",
            ) from exc
        except DownloadError as exc:
            raise BundleError(f"{path}: {exc}", hint=untouched) from exc


class SignedBundleUpdate:
    """An update source for apply_source: the descriptor built from verified documents, and
    blobs streamed from the zip, each checked against the size and sha256 the verified
    manifest gives (on every read: the file could change between two reads)."""

    def __init__(self, bundle: SignedBundle, descriptor: BundleDescriptor) -> None:
        self._bundle = bundle
        self._descriptor = descriptor

    @property
    def descriptor(self) -> BundleDescriptor:
        return self._descriptor

    def check_blobs(self) -> int:
        """Before anything changes: every blob the bundle carries belongs to this jump and
        matches its manifest, and every new content of a changed file is there. Returns the
        number of bytes checked."""
        path = self._bundle.path
        for sha in sorted(self._bundle.blobs):
            if sha not in self._descriptor.blobs:
                raise BundleError(
                    f"{path}: blob {sha[:12]}… is not a content of level "
                    f"{self._descriptor.from_level} or {self._descriptor.to_level}"
                )
        for p, e in sorted(self._descriptor.changes.items()):
            if e is not None and e.kind == "file" and e.sha256 not in self._bundle.blobs:
                raise BundleError(
                    f"{path}: the new content of {p} ({e.sha256[:12]}…) is not in the bundle",
                    hint="export the bundle again; nothing was changed",
                )
        total = 0
        for sha in sorted(self._bundle.blobs):
            for chunk in self.blob_chunks(sha):
                total += len(chunk)
        return total

    def has_blob(self, sha256: str) -> bool:
        return sha256 in self._bundle.blobs and sha256 in self._descriptor.blobs

    def blob_chunks(self, sha256: str) -> Iterator[bytes]:
        return self._bundle.blob_chunks(sha256, self._descriptor.blobs[sha256].size)

    def read_blob(self, sha256: str) -> bytes:
        return b"".join(self.blob_chunks(sha256))


TRUST_FILES = ("root.json", "timestamp.json", "snapshot.json", "targets.json")


def commit_trust(work: Path, tuf_dir: Path) -> list[str]:
    """Move what python-tuf trusted in the scratch `work` dir into the home's `tuf_dir`: each
    file that is new or differs, durably, in python-tuf's own order (root versions, root,
    timestamp, snapshot, targets), so a crash leaves a state an online refresh could leave
    too. The files and bytes are those an online refresh would have written. Returns the
    names written."""
    history = sorted(
        (p for p in (work / ROOT_HISTORY).glob("*.root.json") if p.name.split(".")[0].isdigit()),
        key=lambda p: int(p.name.split(".")[0]),
    )
    ordered = [*history, *(work / n for n in TRUST_FILES)]
    ordered += sorted(p for p in work.glob("*.json") if p.name not in TRUST_FILES)
    written = []
    for src in ordered:
        if not src.is_file():
            continue
        rel = src.relative_to(work)
        dest = tuf_dir / rel
        data = src.read_bytes()
        if dest.is_file() and not dest.is_symlink() and dest.read_bytes() == data:
            continue
        fsio.makedirs(dest.parent)
        fsio.write_durable(dest, data)
        written.append(str(rel))
    return written
