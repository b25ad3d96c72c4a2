"""The reproducible zip writer on its own: formats read back by zipfile and Info-ZIP, methods,
the streaming path, ZIP64, verification and the name checks."""

from __future__ import annotations

import hashlib
import io
import random
import shutil
import stat
import subprocess
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pytest

from uplevel.errors import BundleError, UnsafePathError
from uplevel.formats import packwriter
from uplevel.formats.packwriter import (
    ZipItem,
    ZipOptions,
    already_compressed,
    check_names,
    write_zip,
)

TEXT = b"".join(b'<property name="k%d">value %d</property>\n' % (i, i % 7) for i in range(4000))
NOISE = random.Random(1).randbytes(300_000)
JAR = b"PK\x03\x04" + NOISE[:50_000]


class Store:
    """A content source over a dict, counting how often each content is read."""

    def __init__(self, *contents: bytes) -> None:
        self.by_sha = {hashlib.sha256(c).hexdigest(): c for c in contents}
        self.reads: dict[str, int] = {}

    def item(self, name: str, data: bytes, mode: int = 0o644) -> ZipItem:
        sha = hashlib.sha256(data).hexdigest()
        return ZipItem(name=name, kind="file", mode=mode, size=len(data), sha256=sha)

    def __call__(self, sha: str, size: int) -> Iterable[bytes]:
        self.reads[sha] = self.reads.get(sha, 0) + 1
        data = self.by_sha[sha]
        for i in range(0, len(data), 7000):
            yield data[i : i + 7000]


def build(items: list[ZipItem], store: Store, **options: int) -> bytes:
    buf = io.BytesIO()
    write_zip(buf, items, store, options=ZipOptions(**options))  # type: ignore[arg-type]
    return buf.getvalue()


def test_methods_modes_and_contents_read_back() -> None:
    s = Store(TEXT, NOISE, JAR)
    items = [
        ZipItem(name="p/", kind="dir", mode=0o755),
        s.item("p/a.xml", TEXT),
        s.item("p/b.sh", TEXT, 0o755),
        s.item("p/lib/x.jar", NOISE),  # by name
        s.item("p/lib/y.bin", JAR),  # by its first bytes
        s.item("p/noise.txt", NOISE),  # deflating does not help: stored after all
        ZipItem(name="p/link", kind="symlink", data=b"a.xml"),
        ZipItem(name="p/made.json", kind="file", mode=0o600, data=b"{}\n" * 100),
    ]
    with zipfile.ZipFile(io.BytesIO(build(items, s))) as z:
        info = {i.filename: i for i in z.infolist()}
        assert [i.filename for i in z.infolist()] == [i.name for i in items]
        assert z.testzip() is None
        assert z.read("p/a.xml") == TEXT and z.read("p/lib/x.jar") == NOISE
        assert z.read("p/link") == b"a.xml" and z.read("p/made.json") == b"{}\n" * 100
    methods = {n: i.compress_type for n, i in info.items()}
    assert methods["p/a.xml"] == methods["p/b.sh"] == methods["p/made.json"] == zipfile.ZIP_DEFLATED
    assert methods["p/lib/x.jar"] == methods["p/lib/y.bin"] == methods["p/noise.txt"] == 0
    assert info["p/b.sh"].external_attr >> 16 == stat.S_IFREG | 0o755
    assert info["p/made.json"].external_attr >> 16 == stat.S_IFREG | 0o600
    assert info["p/link"].external_attr >> 16 == stat.S_IFLNK | 0o777
    assert info["p/"].external_attr == ((stat.S_IFDIR | 0o755) << 16) | 0x10


def test_large_contents_stream_to_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Store(TEXT, JAR)
    items = [s.item("a.txt", TEXT), s.item("b.jar", JAR), s.item("c.txt", TEXT)]
    in_memory = build(items, s)
    monkeypatch.setattr(packwriter, "IN_MEMORY_MAX", 1000)
    assert build(items, s) == in_memory


@pytest.mark.parametrize("limit", [packwriter.IN_MEMORY_MAX, 1000])
def test_a_content_that_is_not_what_its_hash_says_is_refused(
    monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    monkeypatch.setattr(packwriter, "IN_MEMORY_MAX", limit)
    s = Store(TEXT)
    good = s.item("a.txt", TEXT)
    for bad in (
        ZipItem(name="a.txt", kind="file", mode=0o644, size=good.size, sha256="0" * 64),
        ZipItem(name="a.txt", kind="file", mode=0o644, size=good.size - 1, sha256=good.sha256),
        ZipItem(name="a.txt", kind="file", mode=0o644, size=good.size + 1, sha256=good.sha256),
    ):
        s.by_sha[bad.sha256] = TEXT
        with pytest.raises(BundleError, match="does not match its sha256"):
            build([bad], s)


def test_a_content_at_many_paths_is_read_once() -> None:
    s = Store(TEXT, JAR)
    items = [s.item(f"d{i}/a.txt", TEXT) for i in range(5)] + [s.item("z.jar", JAR)]
    build(sorted(items, key=lambda i: i.name), s)
    assert sorted(s.reads.values()) == [1, 1]


def test_the_output_depends_on_the_inputs_only() -> None:
    s = Store(TEXT, NOISE)
    items = [s.item("a.txt", TEXT), s.item("b.bin", NOISE)]
    one = build(items, s, workers=1)
    assert build(items, s, workers=4) == one
    assert build(items, s, level=1) != one  # the deflate level is an input


def test_zip64_end_records_when_there_are_more_than_65535_entries() -> None:
    items = [ZipItem(name=f"d/{i:05d}/", kind="dir", mode=0o755) for i in range(70_000)]
    data = build(items, Store())
    assert b"PK\x06\x06" in data[-200:] and b"PK\x06\x07" in data[-200:]
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert len(z.infolist()) == 70_000


@pytest.mark.skipif(shutil.which("unzip") is None, reason="needs Info-ZIP unzip")
def test_info_zip_accepts_it(tmp_path: Path) -> None:
    s = Store(TEXT, JAR)
    out = tmp_path / "t.zip"
    out.write_bytes(build([ZipItem(name="p/", kind="dir", mode=0o755), s.item("p/é.txt", TEXT)], s))
    r = subprocess.run(["unzip", "-t", str(out)], capture_output=True, text=True, check=True)
    assert "No errors detected" in r.stdout


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["a", "a"], "appears twice"),
        (["../a"], "not a plain relative path"),
        (["/a"], "not a plain relative path"),
        (["a//b"], "not a plain relative path"),
        (["a\\b"], "not a plain relative path"),
        (["a\x00"], "not a plain relative path"),
        (["a", "a/b"], "lies under the file 'a'"),
    ],
)
def test_names_that_could_trick_an_unzip_are_refused(names: list[str], message: str) -> None:
    items = [ZipItem(name=n, kind="file", data=b"") for n in names]
    with pytest.raises(UnsafePathError, match=message):
        check_names(items)


def test_only_contents_worth_it_are_deflated() -> None:
    assert packwriter.worth_deflating("a.xml", TEXT)
    assert not packwriter.worth_deflating("WSO2CARBON_DB.mv.db", NOISE)  # the sample says no
    assert packwriter.worth_deflating("small.bin", NOISE[:1000])  # small: deflate and see
    assert not packwriter.worth_deflating("a.jar", TEXT)


def test_already_compressed_by_name_or_head() -> None:
    assert already_compressed("lib/A.JAR") and already_compressed("x/logo.png")
    assert already_compressed("data.bin", b"\x1f\x8b\x08")
    assert not already_compressed("conf/deployment.toml", b"[server]")
    assert not already_compressed("jar.d/readme", b"text")


def test_a_source_that_cannot_stream_twice_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packwriter, "IN_MEMORY_MAX", 1000)
    s = Store(TEXT)
    streamed = build([s.item("a.txt", TEXT)], s)
    s.reads.clear()
    assert build([s.item("a.txt", TEXT)], s, stream_large=False) == streamed
    assert list(s.reads.values()) == [1]
