"""Import a WSO2 WUM update zip (the format WSO2's `wum-uc` writes) as an uplevel change set.

A WUM update is `WSO2-CARBON-UPDATE-<kernel version>-<number>.zip` holding one folder of the
same name: `carbon.home/` (the delivered files at product-relative paths),
`update-descriptor.yaml` (v2: one set of file lists) and/or `update-descriptor3.yaml` (v3: file
lists per product in `compatible_products` / `partially_applicable_products`), `LICENSE.txt`,
and optionally `instructions.txt`, `NOT_A_CONTRIBUTION.txt` and `README.txt`.

`read_wum_zip` opens and validates one; `wum_changes` turns it into manifest changes against a
pristine tree. Accept what is unambiguous, refuse what is not, and name the field:

- The zip name or, failing that, the folder name gives the kernel version and the number; the
  descriptors must agree with it and with each other on `update_number`, `platform_version`,
  `platform_name` and the product's file lists. A value that one side leaves empty is taken from
  the other. `update_number` is read as text: wum-uc strips the quotes around it, so real files
  say `update_number: 0327`, which a YAML 1.1 reader would turn into octal 215. Descriptors are
  loaded with ruamel's base loader, where every scalar is text (as in wum-uc's Go structs).
- Misspelled keys are accepted through `ALIASES` when only one spelling is present or both
  spellings carry the same value. The key sets of `file_changes` and of a product entry are
  closed: any other key there is refused, because a silently dropped file list would change
  what the update does.
- v3 `product_version` is `<base version>.<tag>` (e.g. `2.1.0.standard`); `wso2am-2.1.0` selects
  such an entry when exactly one listed entry has that prefix. v2's lists describe the update
  for the products it fully applies to, so they are compared with a `compatible_products` entry
  only; a partially applicable product has its own, smaller lists. v2 `applies_to` is free text,
  kept in `applies_to` and not enforced.
- `md5sum` (v3) is wum-uc's guard against hand-edited file lists: the md5 of, for each product
  sorted by `name-version` (compatible products, then partially applicable ones), its comma-joined
  added, modified and removed lists followed by its name and version. It is verified when present
  and a mismatch is refused, as `wum-uc validate` does. It covers no file content: the format has
  no checksum of the delivered bytes.
- Every file under `carbon.home/` must be in some added or modified list and every such listed
  file must be there; paths must be plain relative paths (`paths.check_relative`).

This module only reads the zip file. It never extracts anything and never writes to disk.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import IO, Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from uplevel.core.manifest import Entry, Manifest
from uplevel.core.paths import check_relative, parents
from uplevel.core.updateinfo import Fix, check_product
from uplevel.engine import fsio
from uplevel.errors import BundleError

V2 = "update-descriptor.yaml"
V3 = "update-descriptor3.yaml"
INSTRUCTIONS = "instructions.txt"
CARBON_HOME = "carbon.home"
RESOURCE_FILES = frozenset(
    {V2, V3, INSTRUCTIONS, "LICENSE.txt", "NOT_A_CONTRIBUTION.txt", "README.txt"}
)
"""The files wum-uc puts next to `carbon.home/`; anything else in the folder is refused."""

COMPATIBLE = "compatible_products"
PARTIAL = "partially_applicable_products"
LISTS = ("added_files", "modified_files", "removed_files")

ALIASES: Mapping[str, tuple[str, ...]] = {
    "bug_fixes": ("bugfixes",),
    "added_files": ("added_file",),
    "modified_files": ("modified_file",),
    "removed_files": ("removed_file",),
    COMPATIBLE: ("compatible_product",),
    PARTIAL: ("partial_applicable_products",),
}
"""Known misspellings (canonical key → other spellings), accepted when unambiguous."""

_NAME = re.compile(r"WSO2-CARBON-UPDATE-(\d+\.\d+\.\d+)-(\d+)")
_MAX_TEXT = 4 << 20  # descriptors and instructions are read into memory
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError)


@dataclass(frozen=True, kw_only=True)
class WumUpdate:
    """One WUM update as it applies to one product (see `read_wum_zip`)."""

    name: str  # WSO2-CARBON-UPDATE-4.4.0-0327
    number: str  # "0327": text, leading zeros kept
    platform_version: str  # kernel version, "4.4.0"
    platform_name: str  # "wilkes"
    description: str
    bug_fixes: tuple[Fix, ...]
    instructions: str
    added: tuple[str, ...]
    modified: tuple[str, ...]
    removed: tuple[str, ...]
    products: tuple[str, ...]  # v3 `name-version` entries, e.g. wso2am-2.1.0.standard
    applies_to: str = ""  # v2 free text, informational
    _zip: Path | None = field(default=None, repr=False, compare=False)
    _members: Mapping[str, tuple[str, int, int]] = field(
        default_factory=dict, repr=False, compare=False
    )  # carbon.home path → (zip member name, CRC-32, size) as validated

    def read(self, path: str) -> bytes:
        """The bytes of `carbon.home/<path>` in the zip."""
        with self._open() as zf, _zip_errors(f"{self.name}: {path}"), self._member(zf, path) as f:
            return f.read()

    def _digests(self, paths: Iterable[str]) -> dict[str, tuple[int, str]]:
        """path → (size, sha256) for each path, reading the zip once and streaming each file."""
        out: dict[str, tuple[int, str]] = {}
        with self._open() as zf:
            for path in paths:
                h, size = hashlib.sha256(), 0
                with _zip_errors(f"{self.name}: {path}"), self._member(zf, path) as f:
                    while chunk := f.read(fsio.CHUNK):
                        h.update(chunk)
                        size += len(chunk)
                out[path] = (size, h.hexdigest())
        return out

    def _open(self) -> zipfile.ZipFile:
        if self._zip is None:
            raise BundleError(f"{self.name}: not read from a zip, so it has no files")
        return _open_zip(self._zip)

    def _member(self, zf: zipfile.ZipFile, path: str) -> IO[bytes]:
        if path not in self._members:
            raise BundleError(f"{self.name}: {CARBON_HOME}/{path} is not in the update")
        member, crc, size = self._members[path]
        try:
            info = zf.getinfo(member)
        except KeyError:
            info = None
        if info is None or (info.CRC, info.file_size) != (crc, size):
            raise BundleError(f"{self._zip}: {member} changed since the update was read")
        return zf.open(info)


def read_wum_zip(zip_path: Path, *, product: str | None = None) -> WumUpdate:
    """Open and validate a WUM update zip.

    `product` (NAME-VERSION, e.g. wso2am-2.6.0) selects the v3 per-product file lists; without
    it, v2's lists are used, or the only product v3 lists. Raises BundleError naming the field.
    """
    if product is not None:
        check_product(product)
    with _open_zip(zip_path) as zf:
        folder, resources, delivered = _layout(zf, zip_path.name)
        name, version, number = _update_name(zip_path, folder)
        texts = {n: _read_text(zf, resources[n], n) for n in (V2, V3) if n in resources}
        instructions_txt = ""
        if INSTRUCTIONS in resources:
            instructions_txt = _read_text(zf, resources[INSTRUCTIONS], INSTRUCTIONS, strict=False)
    if not texts:
        raise BundleError(f"{name}: has neither {V2} nor {V3}")
    d2 = _parse(V2, texts[V2]) if V2 in texts else None
    d3 = _parse(V3, texts[V3]) if V3 in texts else None
    descs = [d for d in (d2, d3) if d is not None]

    from_name = f"the name {name}"
    number = _agree("update_number", [*((d.file, d.number) for d in descs), (from_name, number)])
    version = _agree(
        "platform_version", [*((d.file, d.platform_version) for d in descs), (from_name, version)]
    )
    platform_name = _agree("platform_name", [(d.file, d.platform_name) for d in descs])
    if not platform_name:
        raise BundleError(f"{' and '.join(d.file for d in descs)}: platform_name: missing")

    lists = _file_lists(d2, d3, product)
    all_lists = [d.lists for d in descs if d.lists] + [
        p.lists for d in descs for p in d.products.values()
    ]
    _check_delivered(name, delivered, all_lists)
    fixes: dict[str, str] = {}
    for d in (d3, d2):
        for fid, summary in d.fixes.items() if d else ():
            fixes.setdefault(fid, summary)
    instructions = [d3.instructions.strip() if d3 else "", instructions_txt.strip()]
    return WumUpdate(
        name=name,
        number=number,
        platform_version=version,
        platform_name=platform_name,
        description=((d3.description if d3 else "") or (d2.description if d2 else "")).strip(),
        bug_fixes=tuple(Fix(id=k, summary=v) for k, v in fixes.items()),
        instructions="\n\n".join(dict.fromkeys(t for t in instructions if t)),
        added=tuple(dict.fromkeys(lists.added_files)),
        modified=tuple(dict.fromkeys(lists.modified_files)),
        removed=tuple(dict.fromkeys(lists.removed_files)),
        products=tuple(d3.products) if d3 else (),
        applies_to=d2.applies_to.strip() if d2 else "",
        _zip=zip_path,
        _members={p: (i.filename, i.CRC, i.file_size) for p, i in delivered.items()},
    )


def wum_changes(
    update: WumUpdate, base: Manifest, *, default_mode: int = 0o644
) -> dict[str, Entry | None]:
    """The update's changes to the pristine tree `base`: path → file entry, or None to remove.

    Entries carry the sha256 and size of the zip's bytes, and the base entry's mode when the
    path exists (the zip's own modes are those of wum-uc's temporary copies), else
    `default_mode`. An added path already in `base` is taken as a modification. Refused: a
    removed or modified path not in `base`, a path whose base entry (or a parent's) is of the
    wrong kind, a path listed twice, an unsafe path, a listed file the zip lacks.
    """
    changes: dict[str, Entry | None] = {}
    for key, paths in (
        ("removed_files", update.removed),
        ("added_files", update.added),
        ("modified_files", update.modified),
    ):
        for path in paths:
            check_relative(path, where=f"{update.name}: {key}")
            where = f"{update.name}: {key}: {path!r}"
            old = base.get(path)
            if path in changes:
                raise BundleError(f"{where} is listed twice")
            if old is None and key != "added_files":
                raise BundleError(f"{where} is not in the base tree")
            allowed = ("file", "symlink") if key == "removed_files" else ("file",)
            if old is not None and old.kind not in allowed:
                raise BundleError(f"{where} is a {old.kind} in the base tree")
            for parent in parents(path):
                if parent in base and base[parent].kind != "dir":
                    raise BundleError(f"{where}: its parent {parent} is a {base[parent].kind}")
            changes[path] = None
    for path, (size, sha) in update._digests([*update.added, *update.modified]).items():
        old = base.get(path)
        mode = old.mode if old else default_mode
        changes[path] = Entry(kind="file", mode=mode, size=size, sha256=sha)
    return changes


# -- zip layout ------------------------------------------------------------------------------


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise BundleError(f"{path}: cannot be opened as a zip: {exc}") from exc


@contextmanager
def _zip_errors(where: str) -> Iterator[None]:
    try:
        yield
    except _ZIP_ERRORS as exc:
        raise BundleError(f"{where}: cannot be read from the zip: {exc}") from exc


def _layout(
    zf: zipfile.ZipFile, label: str
) -> tuple[str, dict[str, zipfile.ZipInfo], dict[str, zipfile.ZipInfo]]:
    """(top folder, resource files by name, carbon.home files by product-relative path)."""
    seen: set[str] = set()
    files: dict[str, zipfile.ZipInfo] = {}
    tops: set[str] = set()
    for info in zf.infolist():
        member = info.filename[:-1] if info.is_dir() else info.filename
        check_relative(member, where=f"{label}: zip member")
        if member in seen:
            raise BundleError(f"{label}: zip member {member!r} appears twice")
        seen.add(member)
        top, sep, _ = member.partition("/")
        tops.add(top)
        if not info.is_dir():
            if not sep:
                raise BundleError(f"{label}: {member!r} is outside the update folder")
            if info.flag_bits & 0x1:
                raise BundleError(f"{label}: {member} is encrypted")
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise BundleError(f"{label}: {member} is a symlink")
            files[member] = info
    if len(tops) != 1:
        raise BundleError(
            f"{label}: expected one top folder, found {len(tops)}: {', '.join(sorted(tops))}"
        )
    folder = tops.pop()
    resources: dict[str, zipfile.ZipInfo] = {}
    delivered: dict[str, zipfile.ZipInfo] = {}
    for member in sorted(seen):
        rest, file = member.partition("/")[2], files.get(member)
        if rest.startswith(CARBON_HOME + "/"):
            if file is not None:
                path = check_relative(rest[len(CARBON_HOME) + 1 :], where=f"{label}: {member}")
                delivered[path] = file
        elif file is not None and rest in RESOURCE_FILES:
            resources[rest] = file
        elif file is not None or rest not in ("", CARBON_HOME):
            raise BundleError(
                f"{label}: {member!r} is not part of a WUM update (expected {CARBON_HOME}/ "
                f"and {', '.join(sorted(RESOURCE_FILES))})"
            )
    for path in delivered:
        clash = next((p for p in parents(path) if p in delivered), None)
        if clash:
            raise BundleError(f"{label}: {CARBON_HOME}/{clash} is both a file and a folder")
    return folder, resources, delivered


def _update_name(zip_path: Path, folder: str) -> tuple[str, str, str]:
    """(update name, kernel version, number) from the folder's name, else the zip's."""
    stem = zip_path.name[:-4] if zip_path.name.lower().endswith(".zip") else zip_path.name
    stem_ok, folder_ok = _NAME.fullmatch(stem), _NAME.fullmatch(folder)
    if stem_ok and folder_ok and stem != folder:
        raise BundleError(f"{zip_path.name}: the zip name and its folder {folder} disagree")
    if not (stem_ok or folder_ok):
        raise BundleError(
            f"{zip_path.name}: neither the zip name nor its folder {folder!r} is "
            "WSO2-CARBON-UPDATE-<kernel version>-<number>"
        )
    match = folder_ok or stem_ok
    assert match is not None
    return match.group(0), match.group(1), match.group(2)


def _read_text(zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str, strict: bool = True) -> str:
    if info.file_size > _MAX_TEXT:
        raise BundleError(f"{label}: {info.file_size} bytes is too large")
    with _zip_errors(label):
        data = zf.read(info)
    try:
        text = data.decode("utf-8-sig", errors="strict" if strict else "replace")
    except UnicodeDecodeError as exc:
        raise BundleError(f"{label}: not UTF-8 text: {exc}") from exc
    return text.replace("\r\n", "\n").replace("\r", "\n")


# -- descriptors -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Lists:
    where: str  # "update-descriptor3.yaml: compatible_products[0]"
    added_files: tuple[str, ...] = ()
    modified_files: tuple[str, ...] = ()
    removed_files: tuple[str, ...] = ()

    def get(self, key: str) -> tuple[str, ...]:
        value: tuple[str, ...] = getattr(self, key)
        return value

    def content(self) -> tuple[tuple[str, ...], ...]:
        return tuple(self.get(key) for key in LISTS)

    def check_disjoint(self) -> _Lists:
        for a, b in combinations(LISTS, 2):
            both = sorted(set(self.get(a)) & set(self.get(b)))
            if both:
                raise BundleError(f"{self.where}: {both[0]!r} is in both {a} and {b}")
        return self


@dataclass(frozen=True)
class _Product:
    kind: str  # COMPATIBLE or PARTIAL
    name: str
    version: str
    lists: _Lists


@dataclass(frozen=True)
class _Desc:
    file: str
    number: str
    platform_version: str
    platform_name: str
    description: str
    instructions: str
    applies_to: str
    fixes: dict[str, str]
    lists: _Lists | None  # v2
    products: dict[str, _Product]  # v3, by name-version, in order


class _Node:
    """One mapping of a descriptor, with its field path for error messages."""

    def __init__(self, data: Any, file: str, path: str = "") -> None:
        self.file, self.path = file, path
        if not isinstance(data, dict):
            raise BundleError(f"{self.where()}: expected a mapping of fields, got {_kind(data)}")
        self.data: dict[str, Any] = data

    def where(self, key: str = "") -> str:
        full = ".".join(p for p in (self.path, key) if p)
        return f"{self.file}: {full}" if full else self.file

    def get(self, key: str) -> Any:
        present = [k for k in (key, *ALIASES.get(key, ())) if k in self.data]
        for other in present[1:]:
            if self.data[other] != self.data[present[0]]:
                raise BundleError(
                    f"{self.where(key)}: both {present[0]!r} and {other!r} are present, "
                    "with different values"
                )
        return self.data[present[0]] if present else None

    def only(self, keys: Iterable[str]) -> None:
        known = {k for key in keys for k in (key, *ALIASES.get(key, ()))}
        for key in self.data:
            if key not in known:
                raise BundleError(f"{self.where(key)}: unknown field (expected {', '.join(keys)})")

    def text(self, key: str, *, required: bool = False) -> str:
        value = self.get(key)
        if value is not None and not isinstance(value, str):
            raise BundleError(f"{self.where(key)}: expected text, got {_kind(value)}")
        if required and not (value or "").strip():
            raise BundleError(f"{self.where(key)}: missing")
        return value or ""

    def paths(self, key: str) -> tuple[str, ...]:
        value = self.get(key)
        if value in (None, ""):
            return ()
        if not isinstance(value, list):
            raise BundleError(f"{self.where(key)}: expected a list of paths, got {_kind(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise BundleError(f"{self.where(key)}[{i}]: expected a path, got {_kind(item)}")
            check_relative(item, where=f"{self.where(key)}[{i}]")
        return tuple(value)

    def fixes(self, key: str) -> dict[str, str]:
        value = self.get(key)
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise BundleError(
                f"{self.where(key)}: expected a map of id: summary, got {_kind(value)}"
            )
        fixes: dict[str, str] = {}
        for fid, summary in value.items():
            if summary is not None and not isinstance(summary, str):
                raise BundleError(
                    f"{self.where(key)}[{fid!r}]: expected text, got {_kind(summary)}"
                )
            if str(fid).strip().upper() != "N/A":
                fixes[str(fid).strip()] = (summary or "").strip()
        return fixes

    def lists(self, *, also: tuple[str, ...] = ()) -> _Lists:
        self.only((*also, *LISTS))
        found = {key: self.paths(key) for key in LISTS}
        return _Lists(self.where(), **found).check_disjoint()

    def children(self, key: str) -> list[_Node]:
        value = self.get(key)
        if value in (None, ""):
            return []
        if not isinstance(value, list):
            raise BundleError(f"{self.where(key)}: expected a list, got {_kind(value)}")
        path = ".".join(p for p in (self.path, key) if p)
        return [_Node(item, self.file, f"{path}[{i}]") for i, item in enumerate(value)]


def _kind(value: Any) -> str:
    if value is None or value == "":
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    return "a list" if isinstance(value, list) else "text"


def _load_yaml(file: str, text: str) -> Any:
    try:
        return YAML(typ="base").load(text)  # every scalar stays text: `0327` is "0327"
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise BundleError(f"{file}: not valid YAML: {exc.problem}{line}") from exc
    except YAMLError as exc:
        raise BundleError(f"{file}: not valid YAML: {exc}") from exc


def _parse(file: str, text: str) -> _Desc:
    root = _Node(_load_yaml(file, text), file)
    lists: _Lists | None = None
    products: dict[str, _Product] = {}
    if file == V2:
        changes = root.get("file_changes")
        where = f"{file}: file_changes"
        lists = _Node(changes, file, "file_changes").lists() if changes else _Lists(where)
    else:
        for kind in (COMPATIBLE, PARTIAL):
            for node in root.children(kind):
                own = node.lists(also=("product_name", "product_version"))
                name = node.text("product_name", required=True).strip()
                version = node.text("product_version", required=True).strip()
                pid, prev = f"{name}-{version}", products.get(f"{name}-{version}")
                if prev and (prev.kind, prev.lists.content()) != (kind, own.content()):
                    raise BundleError(f"{node.where()}: {pid} is listed twice, differently")
                products[pid] = _Product(kind, name, version, own)
        _check_md5(root, list(products.values()))
    return _Desc(
        file=file,
        number=root.text("update_number").strip(),
        platform_version=root.text("platform_version").strip(),
        platform_name=root.text("platform_name").strip(),
        description=root.text("description"),
        instructions=root.text("instructions"),
        applies_to=root.text("applies_to"),
        fixes=root.fixes("bug_fixes"),
        lists=lists,
        products=products,
    )


def _md5sum(products: list[_Product]) -> str:
    """wum-uc's GenerateMd5sumForFileChanges: see the module docstring."""
    text = ""
    for kind in (COMPATIBLE, PARTIAL):
        group = {f"{p.name}-{p.version}": p for p in products if p.kind == kind}
        for pid in sorted(group):
            p = group[pid]
            text += "".join(",".join(files) for files in p.lists.content()) + p.name + p.version
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _check_md5(root: _Node, products: list[_Product]) -> None:
    given = root.text("md5sum").strip().lower()
    if not given:
        return
    actual = _md5sum(products)
    if given != actual:
        raise BundleError(
            f"{root.where('md5sum')}: {given} does not match the file lists ({actual}); "
            f"they were edited after wum-uc created the update"
        )


def _agree(field_name: str, values: list[tuple[str, str]]) -> str:
    """The one non-empty value the sources give; refuse two different ones."""
    given = [(source, value) for source, value in values if value]
    for source, value in given[1:]:
        if value != given[0][1]:
            raise BundleError(
                f"{field_name}: {given[0][0]} says {given[0][1]!r}, {source} says {value!r}"
            )
    return given[0][1] if given else ""


def _select(d3: _Desc | None, product: str | None) -> _Product | None:
    if d3 is None:
        return None
    if product is None:
        return next(iter(d3.products.values())) if len(d3.products) == 1 else None
    found = [p for pid, p in d3.products.items() if pid == product]
    found = found or [p for pid, p in d3.products.items() if pid.startswith(product + ".")]
    listed = ", ".join(d3.products) or "none"
    if not found:
        raise BundleError(f"{V3}: {product} is not in {COMPATIBLE} or {PARTIAL} (listed: {listed})")
    if len(found) > 1:
        raise BundleError(f"{V3}: {product} matches several entries ({listed}); name one exactly")
    return found[0]


def _file_lists(d2: _Desc | None, d3: _Desc | None, product: str | None) -> _Lists:
    """The file lists for `product`: v2's, the product's v3 entry, or both when they agree."""
    chosen, v2 = _select(d3, product), d2.lists if d2 else None
    if v2 is None:
        if chosen is None:
            listed = ", ".join(d3.products) if d3 and d3.products else "no products"
            raise BundleError(f"{V3}: lists {listed}; say which product the update is for")
        return chosen.lists
    if chosen is None:
        return v2
    if chosen.kind != COMPATIBLE:  # its own lists, a subset of v2's
        return chosen.lists if product else v2
    merged: dict[str, tuple[str, ...]] = {}
    for key in LISTS:
        a, b = v2.get(key), chosen.lists.get(key)
        if a and b and set(a) != set(b):
            raise BundleError(
                f"{v2.where}.{key} and {chosen.lists.where}.{key} disagree: only in {V2}: "
                f"{sorted(set(a) - set(b))}, only in {V3}: {sorted(set(b) - set(a))}"
            )
        merged[key] = a or b
    return _Lists(f"{v2.where} and {chosen.lists.where}", **merged).check_disjoint()


def _check_delivered(name: str, delivered: Mapping[str, object], all_lists: list[_Lists]) -> None:
    """Every listed added/modified file is in carbon.home, and every file there is listed."""
    listed: dict[str, str] = {}
    for lists in all_lists:
        for key in ("added_files", "modified_files"):
            for path in lists.get(key):
                listed.setdefault(path, f"{lists.where}.{key}")
    for path, where in sorted(listed.items()):
        if path not in delivered:
            raise BundleError(
                f"{where}: {path!r} is listed but {CARBON_HOME}/{path} is not in {name}"
            )
    for path in sorted(delivered):
        if path not in listed:
            removed = [f"{ls.where}.removed_files" for ls in all_lists if path in ls.removed_files]
            only = f" (only in {removed[0]})" if removed else ""
            raise BundleError(
                f"{name}: {CARBON_HOME}/{path} is in no added_files or modified_files list{only}"
            )
