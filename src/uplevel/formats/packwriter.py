"""Write a distribution zip that is the same, byte for byte, every time it is built.

The zip format is written here directly (not through `zipfile`) so that every field is
decided by the inputs alone: entries in the order given (the caller sorts them), one fixed
timestamp, permission bits from the manifest, "made by" Unix 2.0, no extra fields (except
ZIP64 sizes, which depend only on sizes), no data descriptors, no archive comment. Nothing
is read from the host: not the clock, the time zone, the umask, the user or the file system.

Speed: contents that are already compressed (jars, wars, zips, images, gzip…, by name or by
their first bytes) are STORED; the rest is deflated, and stored after all when deflating
does not make it smaller. Contents are prepared (read, verified, compressed) by a few worker
threads, a bounded window ahead of the one thread that writes them in order; zlib, hashlib
and zstandard release the GIL, so this uses every core. Contents larger than
`IN_MEMORY_MAX` are streamed twice (sizes and CRC first, then the bytes), so memory stays
bounded and nothing is ever extracted to disk.

Every content is checked against its sha256 and size while it is written; a mismatch
raises before the caller's output file is complete. This module never decides paths: the
caller gives checked names, and `check_names` refuses duplicates, absolute names, `..`,
backslashes, NUL bytes and any entry that lies under a file or symlink entry.
"""

from __future__ import annotations

import hashlib
import queue
import struct
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from stat import S_IFDIR, S_IFLNK, S_IFREG
from typing import BinaryIO, Literal

from uplevel.errors import BundleError, UnsafePathError

STORED = 0
DEFLATED = 8
DEFLATE_LEVEL = 6
"""zlib's default. Measured here on WSO2's own configuration files (tests/corpus), level 6
makes text 13 % smaller than level 1 for 1.6x the CPU (40 vs 65 MB/s); text is a few percent
of a pack's bytes and is deflated by the workers while the writer is busy writing the
stored jars, so the smaller pack costs next to no wall time (benchmarks/RESULTS.md,
"Updated packs", has both measurements)."""
IN_MEMORY_MAX = 16 << 20
"""Larger contents are streamed twice instead of held in memory."""
WINDOW_BYTES = 96 << 20
"""How many bytes of prepared contents may wait for the writer."""
PROBE = 64 << 10
"""A content bigger than this is deflated only if its first PROBE bytes shrink by PROBE_GAIN at
level 1: random-looking data (H2 files, search indexes, keystores, class files of obfuscated
code) costs as much to deflate as text and gains nothing."""
PROBE_GAIN = 0.05
MEMO_MAX = 4 << 20
"""A content that appears at several paths is prepared once if it is at most this big."""
ZIP64_LIMIT = 0xFFFF_FFFF
MADE_BY = (3 << 8) | 20  # Unix, zip 2.0
MADE_BY_64 = (3 << 8) | 45

COMPRESSED_SUFFIXES = frozenset(
    (
        # Java archives (all zip-based): jar, war, ear, and the Carbon/Axis2/Synapse ones
        *(".jar", ".war", ".ear", ".rar", ".sar", ".car", ".mar", ".aar", ".nar", ".kar"),
        *(".jmod", ".apk", ".zip"),
        # compressed streams and archives
        *(".gz", ".tgz", ".bz2", ".tbz2", ".xz", ".txz", ".zst", ".lz4", ".lzma", ".7z", ".br"),
        # images, fonts and media that carry their own compression
        *(".png", ".jpg", ".jpeg", ".gif", ".webp", ".woff", ".woff2", ".mp3", ".mp4", ".ogg"),
        ".webm",
    )
)
_MAGIC = (
    b"PK\x03\x04",  # zip (jars …)
    b"\x1f\x8b",  # gzip
    b"\x89PNG",
    b"\xff\xd8\xff",  # jpeg
    b"GIF8",
    b"\x28\xb5\x2f\xfd",  # zstd
    b"BZh",
    b"\xfd7zXZ",
    b"7z\xbc\xaf",
    b"wOF2",
    b"wOFF",
)

_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
_EOCD = struct.Struct("<4sHHHHIIH")
_EOCD64 = struct.Struct("<4sQHHIIQQQQ")
_LOCATOR64 = struct.Struct("<4sIQI")

Kind = Literal["file", "dir", "symlink"]
ContentSource = Callable[[str, int], Iterable[bytes]]
"""(sha256, size) → the content's bytes in chunks; the writer verifies them."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ZipItem:
    """One entry. `name` is the full member name (a directory's ends with '/'). Files come
    from the content source by `sha256` and `size`, or, when `data` is set, are these bytes
    (files made by the caller, such as state and summary). A symlink's `data` is its target."""

    name: str
    kind: Kind
    mode: int = 0
    size: int = 0
    sha256: str = ""
    data: bytes | None = None


@dataclass
class ZipStats:
    entries: int = 0
    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    stored: int = 0
    deflated: int = 0
    content_bytes: int = 0
    stored_bytes: int = 0
    deflated_bytes: int = 0
    """Uncompressed bytes of the deflated members (what deflating cost)."""
    sha256: str = ""
    size: int = 0


@dataclass(frozen=True, slots=True)
class _Prepared:
    method: int
    crc: int
    size: int
    payload: bytes


@dataclass
class _CentralEntry:
    name: bytes
    flags: int
    method: int
    crc: int
    csize: int
    usize: int
    offset: int
    external: int
    zip64: bool


@dataclass
class ZipOptions:
    date_time: datetime = field(default_factory=lambda: datetime(1980, 1, 1))
    level: int = DEFLATE_LEVEL
    workers: int = 2
    stream_large: bool = True
    """False when reading a content twice costs more than holding it (a download)."""


def dos_date_time(moment: datetime) -> tuple[int, int]:
    """(date, time) fields of the zip format: 2-second resolution, years 1980-2107."""
    if not 1980 <= moment.year <= 2107:
        raise ValueError(f"zip timestamps cover 1980-2107, not {moment.year}")
    date = ((moment.year - 1980) << 9) | (moment.month << 5) | moment.day
    time = (moment.hour << 11) | (moment.minute << 5) | (moment.second // 2)
    return date, time


def already_compressed(name: str, head: bytes = b"") -> bool:
    """Whether deflating is wasted on a content: by its name's suffix, else its first bytes."""
    dot = name.rfind(".")
    if dot > name.rfind("/") and name[dot:].lower() in COMPRESSED_SUFFIXES:
        return True
    return head.startswith(_MAGIC)


def worth_deflating(name: str, data: bytes) -> bool:
    """The cheap checks before deflating a whole content: its name, its first bytes, and for
    a large one whether a sample of it deflates at all. Decided by the bytes alone."""
    if already_compressed(name, data[:8]):
        return False
    if len(data) <= PROBE:
        return True
    sample = data[:PROBE]
    return len(_deflate(sample, 1)) <= len(sample) * (1 - PROBE_GAIN)


def check_names(items: Sequence[ZipItem]) -> None:
    """Refuse names a careful unzip could be tricked by, before anything is written."""
    kinds: dict[str, Kind] = {}
    for item in items:
        name = item.name
        bare = name[:-1] if item.kind == "dir" and name.endswith("/") else name
        parts = bare.split("/")
        if (
            not bare
            or "\x00" in name
            or "\\" in name
            or bare.startswith("/")
            or any(p in ("", ".", "..") for p in parts)
        ):
            raise UnsafePathError(f"pack member {name!r}: not a plain relative path")
        if (item.kind == "dir") != name.endswith("/"):
            raise UnsafePathError(f"pack member {name!r}: only directory names end with '/'")
        if bare in kinds:
            raise UnsafePathError(f"pack member {bare!r} appears twice")
        kinds[bare] = item.kind
    for bare, _kind in kinds.items():
        parts = bare.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            other = kinds.get(parent)
            if other is not None and other != "dir":
                raise UnsafePathError(f"pack member {bare!r} lies under the {other} {parent!r}")


class _HashingWriter:
    """The output file, with the size of everything written to it and its sha256, which a
    thread of its own computes (in order) while the writer goes on: hashing the whole pack
    again would cost as much as writing it. Small writes (headers) are batched."""

    BATCH = 1 << 20

    def __init__(self, fp: BinaryIO) -> None:
        self.fp = fp
        self.offset = 0
        self._hash = hashlib.sha256()
        self._small = bytearray()
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=16)
        self._thread = threading.Thread(target=self._run, name="uplevel-pack-sha256", daemon=True)
        self._thread.start()
        self._closed = False

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            self._hash.update(data)

    def write(self, data: bytes) -> None:
        self.fp.write(data)
        self.offset += len(data)
        if len(data) < 64 << 10:
            self._small += data
            if len(self._small) >= self.BATCH:
                self._flush()
        else:
            self._flush()
            self._queue.put(data)

    def _flush(self) -> None:
        if self._small:
            self._queue.put(bytes(self._small))
            self._small.clear()

    def close(self) -> None:
        """Stop the hashing thread (also when the pack failed)."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()

    def hexdigest(self) -> str:
        self._flush()
        self.close()
        return self._hash.hexdigest()


def _mismatch(item: ZipItem) -> BundleError:
    return BundleError(
        f"the content of {item.name} does not match its sha256 {item.sha256[:12]}… and size "
        f"{item.size}: refused",
        hint="the repository's blob is damaged or was tampered with; no pack was written",
    )


def _deflate(data: bytes, level: int) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


class ZipWriter:
    """Writes items in order; see the module docstring. Use `write_zip`."""

    def __init__(self, fp: BinaryIO, source: ContentSource, options: ZipOptions) -> None:
        self.out = _HashingWriter(fp)
        self.source = source
        self.options = options
        self.date, self.time = dos_date_time(options.date_time)
        self.central: list[_CentralEntry] = []
        self.stats = ZipStats()

    # --- preparing contents (worker threads) -------------------------------------------

    def _content(self, item: ZipItem) -> bytes:
        if item.data is not None:
            return item.data
        h = hashlib.sha256()
        parts = []
        got = 0
        for chunk in self.source(item.sha256, item.size):
            got += len(chunk)
            if got > item.size:
                raise _mismatch(item)
            h.update(chunk)
            parts.append(chunk)
        if got != item.size or h.hexdigest() != item.sha256:
            raise _mismatch(item)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def prepare(self, item: ZipItem) -> _Prepared:
        data = self._content(item)
        crc = zlib.crc32(data)
        if item.kind == "file" and worth_deflating(item.name, data):
            packed = _deflate(data, self.options.level)
            if len(packed) < len(data):
                return _Prepared(DEFLATED, crc, len(data), packed)
        return _Prepared(STORED, crc, len(data), data)

    # --- streaming a large content (writer thread) -------------------------------------

    def _streamed(self, item: ZipItem) -> Iterator[bytes]:
        """The content's chunks, verified once they are all read (raise at the end)."""
        h = hashlib.sha256()
        got = 0
        for chunk in self.source(item.sha256, item.size):
            got += len(chunk)
            if got > item.size:
                raise _mismatch(item)
            h.update(chunk)
            yield chunk
        if got != item.size or h.hexdigest() != item.sha256:
            raise _mismatch(item)

    def _stream_pass(self, item: ZipItem, method: int, sink: Callable[[bytes], None]) -> int:
        """One pass over the content: compress (or not) into sink; returns the CRC."""
        crc = 0
        c = zlib.compressobj(self.options.level, zlib.DEFLATED, -15) if method else None
        for chunk in self._streamed(item):
            crc = zlib.crc32(chunk, crc)
            sink(c.compress(chunk) if c else chunk)
        if c:
            sink(c.flush())
        return crc

    def _emit_streamed(self, item: ZipItem) -> None:
        head = bytearray()
        for chunk in self._streamed(item):  # only the first bytes: decide the method
            head += chunk
            if len(head) > PROBE:
                break
        method = DEFLATED if worth_deflating(item.name, bytes(head)) else STORED
        csize = 0

        def count(b: bytes) -> None:
            nonlocal csize
            csize += len(b)

        crc = self._stream_pass(item, method, count)
        offset = self._local_header(item, method, crc, csize, item.size)
        crc2 = self._stream_pass(item, method, self.out.write)
        if crc2 != crc:
            raise _mismatch(item)  # the source changed between the passes
        self._record(item, method, crc, csize, item.size, offset)

    # --- writing (writer thread) -------------------------------------------------------

    def _external(self, item: ZipItem) -> int:
        if item.kind == "dir":
            return ((S_IFDIR | item.mode) << 16) | 0x10
        if item.kind == "symlink":
            return (S_IFLNK | 0o777) << 16
        return (S_IFREG | item.mode) << 16

    def _local_header(self, item: ZipItem, method: int, crc: int, csize: int, usize: int) -> int:
        name = item.name.encode("utf-8")
        flags = 0 if name.isascii() else 0x800
        zip64 = csize >= ZIP64_LIMIT or usize >= ZIP64_LIMIT
        extra = struct.pack("<HHQQ", 1, 16, usize, csize) if zip64 else b""
        offset = self.out.offset
        self.out.write(
            _LOCAL.pack(
                b"PK\x03\x04",
                45 if zip64 else 20,
                flags,
                method,
                self.time,
                self.date,
                crc,
                ZIP64_LIMIT if zip64 else csize,
                ZIP64_LIMIT if zip64 else usize,
                len(name),
                len(extra),
            )
            + name
            + extra
        )
        return offset

    def _record(
        self, item: ZipItem, method: int, crc: int, csize: int, usize: int, offset: int
    ) -> None:
        name = item.name.encode("utf-8")
        self.central.append(
            _CentralEntry(
                name=name,
                flags=0 if name.isascii() else 0x800,
                method=method,
                crc=crc,
                csize=csize,
                usize=usize,
                offset=offset,
                external=self._external(item),
                zip64=csize >= ZIP64_LIMIT or usize >= ZIP64_LIMIT or offset >= ZIP64_LIMIT,
            )
        )
        s = self.stats
        s.entries += 1
        if item.kind == "dir":
            s.dirs += 1
            return
        if item.kind == "symlink":
            s.symlinks += 1
        else:
            s.files += 1
        s.content_bytes += usize
        if method == DEFLATED:
            s.deflated += 1
            s.deflated_bytes += usize
        else:
            s.stored += 1
            s.stored_bytes += usize

    def emit(self, item: ZipItem, prepared: _Prepared | None) -> None:
        if item.kind == "dir":
            prepared = _Prepared(STORED, 0, 0, b"")
        elif prepared is None:
            self._emit_streamed(item)
            return
        p = prepared
        offset = self._local_header(item, p.method, p.crc, len(p.payload), p.size)
        self.out.write(p.payload)
        self._record(item, p.method, p.crc, len(p.payload), p.size, offset)

    def finish(self) -> ZipStats:
        start = self.out.offset
        for e in self.central:
            extra_fields = []
            usize, csize, offset = e.usize, e.csize, e.offset
            if e.zip64:
                if e.usize >= ZIP64_LIMIT or e.csize >= ZIP64_LIMIT:
                    extra_fields += [e.usize, e.csize]
                    usize = csize = ZIP64_LIMIT
                if e.offset >= ZIP64_LIMIT:
                    extra_fields.append(e.offset)
                    offset = ZIP64_LIMIT
            extra = (
                struct.pack(f"<HH{len(extra_fields)}Q", 1, 8 * len(extra_fields), *extra_fields)
                if extra_fields
                else b""
            )
            self.out.write(
                _CENTRAL.pack(
                    b"PK\x01\x02",
                    MADE_BY_64 if e.zip64 else MADE_BY,
                    45 if e.zip64 else 20,
                    e.flags,
                    e.method,
                    self.time,
                    self.date,
                    e.crc,
                    csize,
                    usize,
                    len(e.name),
                    len(extra),
                    0,
                    0,
                    0,
                    e.external,
                    offset,
                )
                + e.name
                + extra
            )
        size = self.out.offset - start
        count = len(self.central)
        if count >= 0xFFFF or size >= ZIP64_LIMIT or start >= ZIP64_LIMIT:
            eocd64 = self.out.offset
            self.out.write(
                _EOCD64.pack(b"PK\x06\x06", 44, MADE_BY_64, 45, 0, 0, count, count, size, start)
            )
            self.out.write(_LOCATOR64.pack(b"PK\x06\x07", 0, eocd64, 1))
            self.out.write(
                _EOCD.pack(
                    b"PK\x05\x06",
                    0,
                    0,
                    min(count, 0xFFFF),
                    min(count, 0xFFFF),
                    min(size, ZIP64_LIMIT),
                    min(start, ZIP64_LIMIT),
                    0,
                )
            )
        else:
            self.out.write(_EOCD.pack(b"PK\x05\x06", 0, 0, count, count, size, start, 0))
        self.stats.size = self.out.offset
        self.stats.sha256 = self.out.hexdigest()
        return self.stats


def write_zip(
    fp: BinaryIO,
    items: Sequence[ZipItem],
    source: ContentSource,
    *,
    options: ZipOptions | None = None,
    progress: Callable[[int], None] | None = None,
) -> ZipStats:
    """Write `items`, in the order given, as a zip to `fp` (positioned at 0, empty)."""
    check_names(items)
    writer = ZipWriter(fp, source, options or ZipOptions())
    uses: dict[str, int] = {}
    for item in items:
        if item.data is None and item.kind == "file" and item.size <= MEMO_MAX:
            uses[item.sha256] = uses.get(item.sha256, 0) + 1
    memo: dict[tuple[str, bool], Future[_Prepared]] = {}
    pool = ThreadPoolExecutor(max(1, writer.options.workers), thread_name_prefix="uplevel-pack")
    queue: deque[tuple[ZipItem, Future[_Prepared] | None, int]] = deque()
    waiting = 0
    max_queue = 16 * max(1, writer.options.workers)

    def drain_one() -> None:
        nonlocal waiting
        item, fut, cost = queue.popleft()
        writer.emit(item, fut.result() if fut is not None else None)
        waiting -= cost
        if progress and item.size:
            progress(item.size)

    try:
        for item in items:
            fut: Future[_Prepared] | None = None
            cost = 0
            if item.kind == "symlink" or item.data is not None:
                fut = pool.submit(writer.prepare, item)
            elif item.kind == "file" and (
                item.size <= IN_MEMORY_MAX or not writer.options.stream_large
            ):
                key = (item.sha256, already_compressed(item.name))
                if key in memo:
                    fut = memo[key]
                else:
                    fut = pool.submit(writer.prepare, item)
                    cost = item.size
                    if uses.get(item.sha256, 0) > 1:
                        memo[key] = fut
                if key[0] in uses:
                    uses[key[0]] -= 1
                    if uses[key[0]] == 0:
                        memo.pop(key, None)
                        memo.pop((key[0], not key[1]), None)
            queue.append((item, fut, cost))
            waiting += cost
            while queue and (waiting > WINDOW_BYTES or len(queue) > max_queue):
                drain_one()
        while queue:
            drain_one()
        return writer.finish()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        writer.out.close()
