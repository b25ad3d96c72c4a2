"""pack: the distribution zip of a product at a level, built from the update repository.

Two sources of the same verified documents and contents (client/sources.py):

- a local repository directory (`--repo`, the publisher's): each level document is read
  from `targets/` and checked against the signed targets metadata (whose signatures are
  checked against the repository's root); blobs are streamed from `blobs/` (raw or zstd);
- an update server (`--server`): the documents come through the TUF client like every
  online command (root pinned from `--root`, else trusted on first use), blobs are fetched
  from `/v1/blobs/` and decompressed in memory.

Either way every content is checked against the sha256 and size of the level's verified
manifest while it is written (uplevel.formats.packwriter), into a temporary file beside the output
that is fsynced and renamed only when the whole zip is written: a refused content, a
hostile path or an interrupted run leaves no pack behind.

The zip holds one top folder named after the product (`wso2am-4.2.0/`), the pristine tree
of the level, and `updates/uplevel/` inside it: the state of a home adopted at that level
(as `uplevel init` writes it; with `--server` also the server URL and its pinned root) and
`UPDATE-SUMMARY.md`. Nothing under `updates/uplevel/` counts as a local change, so an
unzipped pack is a clean, adopted home. docs/packs.md has the naming convention and the
reproducibility guarantees.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from uplevel.client.sources import LevelSource, RepositoryDirectory, ServerLevels
from uplevel.commands.adopt import adoption
from uplevel.core.changelog import LevelNotes, changelog
from uplevel.core.manifest import Manifest
from uplevel.core.paths import STATE_DIR, is_state_path, parents
from uplevel.core.updateinfo import CHANNELS, SEVERITIES, check_channel, check_product
from uplevel.engine.home import adopted_state_files
from uplevel.errors import UnsafePathError, UsageError
from uplevel.formats.packwriter import ZipItem, ZipOptions, ZipStats, write_zip
from uplevel.repo.documents import (
    LevelUpdate,
)

SUMMARY_NAME = "UPDATE-SUMMARY.md"
DEFAULT_DATE = dt.datetime(1980, 1, 1)
DIR_MODE = 0o755
STATE_FILE_MODE = 0o644


def pack_name(product: str, level: int, channel: str) -> str:
    """The conventional file name: `<product>+<level>.<channel>.zip`, e.g.
    `wso2am-4.2.0+12.full.zip` (WUM named its packs `<product>+<timestamp>.full.zip`)."""
    return f"{product}+{level}.{channel}.zip"


def parse_level(text: str | None) -> int | None:
    """`--level`: a level number, or `latest` (None)."""
    if text is None or text.strip().lower() == "latest":
        return None
    if not text.strip().isdigit():
        raise UsageError(f"--level {text!r}: expected a level number or 'latest'")
    return int(text)


def pack_date(environ: dict[str, str] | os._Environ[str] | None = None) -> dt.datetime:
    """The one timestamp of every member: SOURCE_DATE_EPOCH (the reproducible-builds
    convention) if set, else 1980-01-01 00:00 — never the clock or the time zone."""
    env = os.environ if environ is None else environ
    raw = env.get("SOURCE_DATE_EPOCH", "").strip()
    if not raw:
        return DEFAULT_DATE
    if not raw.isdigit():
        raise UsageError(f"SOURCE_DATE_EPOCH={raw!r} is not a number of seconds")
    moment = dt.datetime.fromtimestamp(int(raw), dt.UTC).replace(tzinfo=None)
    return min(max(moment, DEFAULT_DATE), dt.datetime(2107, 12, 31, 23, 59, 58))


# --- the pack's contents ---------------------------------------------------------------------


def summary_markdown(
    *,
    product: str,
    channel: str,
    level: int,
    manifest: Manifest,
    updates: list[LevelUpdate],
) -> str:
    """UPDATE-SUMMARY.md: the levels in the pack, each update's title, description, fixes,
    advisories with severity, instructions and how many files it changed. (Net file changes
    since the base pack would need the base manifest parsed too: `uplevel summary` has them.)"""
    log = changelog(
        product=product,
        channel=channel,
        from_level=0,
        to_level=level,
        levels=[LevelNotes(info=u.update, changes=u.changes) for u in updates if u.level > 0],
        old={},
        new={},
    )
    files = sum(1 for e in manifest.values() if e.kind == "file")
    out = [
        f"# {product} at update level {level} ({channel} channel)",
        "",
        f"This pack is the base distribution of {product} with every update of the "
        f"{channel} channel up to level {level} applied: {files} files, "
        f"{manifest.total_size:,} bytes (pristine manifest `{manifest.digest}`).",
        "",
        f"It is already an uplevel home at level {level}: unzip it and run `uplevel status` "
        "in the folder; `uplevel update` or `uplevel apply` bring it to newer levels.",
        "",
        f"{len(log.levels)} update(s) included, {log.security_count} security"
        + (f", highest severity: {log.highest_severity}" if log.highest_severity else "")
        + ".",
        "",
        "| level | title | security | advisories |",
        "| ---: | --- | --- | --- |",
    ]
    for doc in updates:
        i = doc.update
        advisories = ", ".join(f"{a.id} ({a.severity})" for a in i.advisories)
        title = i.title.replace("|", "\\|") or "-"
        out.append(
            f"| {i.level} | {title} | {'yes' if i.security else 'no'} | {advisories or '-'} |"
        )
    out.append("")
    for n in log.levels:
        u = n.info
        out.append(f"## Level {u.level}: {u.title}" + (" [security]" if u.security else ""))
        if u.description:
            out += ["", u.description]
        if u.fixes:
            out += ["", "Fixes:", ""] + [f"- {f.id}: {f.summary}" for f in u.fixes]
        if u.advisories:
            out += ["", "Security advisories:", ""] + [
                f"- {a.id} (severity: {a.severity})"
                for a in sorted(u.advisories, key=lambda a: -SEVERITIES.index(a.severity))
            ]
        if u.instructions:
            out += ["", "Instructions:", "", u.instructions.rstrip()]
        out += ["", f"Files changed by this update: {len(n.changes)}.", ""]
    out += [
        f"`uplevel summary --server URL --product {product} --channel {channel} --from 0 "
        f"--to {level}` lists every file added, changed and removed since the base pack.",
        "",
    ]
    return "\n".join(out)


def pack_items(
    top: str, manifest: Manifest, state_files: dict[str, bytes], extra_dirs: Iterable[str] = ()
) -> list[ZipItem]:
    """Every zip entry, sorted by name: the product tree under `top/` (every directory listed,
    as WSO2 packs do), then uplevel's state files inside it."""
    items: dict[str, ZipItem] = {}
    dirs: dict[str, int] = {}
    for path, e in manifest.items():  # checked by LevelManifest.from_bytes, and again below
        for p in parents(path):
            dirs.setdefault(p, DIR_MODE)
        if e.kind == "dir":
            dirs[path] = e.mode
        elif e.kind == "symlink":
            items[path] = ZipItem(name=f"{top}/{path}", kind="symlink", data=e.target.encode())
        else:
            items[path] = ZipItem(
                name=f"{top}/{path}", kind="file", mode=e.mode, size=e.size, sha256=e.sha256
            )
    inside = next((p for p in [*items, *dirs] if is_state_path(p)), None)
    if inside is not None:  # LevelManifest.from_bytes refuses these too
        raise UnsafePathError(f"the manifest names {inside}, inside uplevel's own state")
    for rel, data in state_files.items():
        path = f"{STATE_DIR}/{rel}"
        for p in parents(path):
            dirs.setdefault(p, DIR_MODE)
        items[path] = ZipItem(
            name=f"{top}/{path}", kind="file", mode=STATE_FILE_MODE, size=len(data), data=data
        )
    for d in extra_dirs:
        for p in [*parents(d), d]:
            dirs.setdefault(p, DIR_MODE)
    for path, mode in dirs.items():
        if path in items:
            raise UnsafePathError(
                f"{path} is both a directory and a {items[path].kind} in the pack",
                hint="the repository's manifest is not a valid tree; no pack was written",
            )
        items[path] = ZipItem(name=f"{top}/{path}/", kind="dir", mode=mode)
    top_dir = ZipItem(name=f"{top}/", kind="dir", mode=DIR_MODE)
    return [top_dir, *sorted(items.values(), key=lambda i: i.name.encode())]


# --- the use case --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PackResult:
    output: str
    product: str
    channel: str
    level: int
    source: str  # repo | server
    origin: str  # the repository directory or server URL
    stats: ZipStats
    manifest_digest: str
    updates: tuple[dict[str, Any], ...]
    root_pinned: bool
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        s = self.stats
        return {
            "output": self.output,
            "bytes": s.size,
            "sha256": s.sha256,
            "product": self.product,
            "channel": self.channel,
            "level": self.level,
            "source": self.source,
            "origin": self.origin,
            "top": self.product,
            "members": {
                "total": s.entries,
                "files": s.files,
                "dirs": s.dirs,
                "symlinks": s.symlinks,
                "stored": s.stored,
                "deflated": s.deflated,
            },
            "content_bytes": s.content_bytes,
            "stored_bytes": s.stored_bytes,
            "deflated_bytes": s.deflated_bytes,
            "manifest_digest": self.manifest_digest,
            "summary": f"{self.product}/{STATE_DIR}/{SUMMARY_NAME}",
            "server": self.origin if self.source == "server" else None,
            "root_pinned": self.root_pinned,
            "updates": list(self.updates),
            "seconds": round(self.seconds, 3),
        }


def resolve_output(output: Path | None, name: str) -> Path:
    """-o FILE, -o DIR (the conventional name in it), or the conventional name here."""
    if output is None:
        return Path.cwd() / name
    if output.is_dir():
        return output / name
    if not output.parent.is_dir():
        raise UsageError(f"-o {output}: the directory {output.parent} does not exist")
    if output.suffix.lower() != ".zip":
        raise UsageError(f"-o {output}: a pack is a .zip file (or give a directory)")
    return output


def _pick_level(levels: list[int], level: int | None, product: str, channel: str) -> int:
    if level is None:
        return levels[-1]
    if level not in levels:
        published = (
            f"{levels[0]}-{levels[-1]}"
            if levels == list(range(levels[0], levels[-1] + 1))
            else ", ".join(map(str, levels))
        )
        raise UsageError(
            f"level {level} of {product} is not published in the {channel} channel "
            f"(levels {published})",
            hint="omit --level (or give --level latest) for the newest",
        )
    return level


def build_pack(
    source: LevelSource,
    *,
    product: str,
    channel: str,
    level: int | None,
    output: Path | None,
    date: dt.datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> PackResult:
    """Write the pack of `product` at `level` (None: the newest) of `channel` from `source`."""
    import time

    started = time.perf_counter()
    levels = source.levels(product, channel)
    if not levels:
        other = [c for c in CHANNELS if c != channel and source.levels(product, c)]
        raise UsageError(
            f"{product} is not in {source.origin}"
            if not other
            else f"{product} has no level in the {channel} channel of {source.origin}",
            hint="`uplevel repo list REPO` shows the products and levels published",
        )
    n = _pick_level(levels, level, product, channel)
    lm = source.level_manifest(product, channel, n)
    updates = [source.level_update(product, channel, k) for k in levels if k <= n]
    digest = lm.manifest.digest
    label = pack_name(product, n, channel)
    moment = date or DEFAULT_DATE
    state = adoption(
        product,
        channel,
        n,
        lm.manifest,
        server=source.server,
        time=moment.replace(tzinfo=dt.UTC).isoformat(timespec="seconds"),
        detail=f"unzipped from the uplevel pack of level {n} ({channel} channel)",
    )
    root = source.trusted_root()
    state_files = adopted_state_files(state, lm.manifest, trusted_root=root)
    state_files[SUMMARY_NAME] = summary_markdown(
        product=product,
        channel=channel,
        level=n,
        manifest=lm.manifest,
        updates=updates,
    ).encode()
    items = pack_items(product, lm.manifest, state_files, extra_dirs=[f"{STATE_DIR}/objects"])
    dest = resolve_output(output, label)
    stats = _write_atomically(
        dest,
        items,
        source.content(lm.blobs),
        ZipOptions(date_time=moment, workers=source.workers, stream_large=source.stream_large),
        progress,
    )
    return PackResult(
        output=str(dest),
        product=product,
        channel=channel,
        level=n,
        source="server" if source.server else "repo",
        origin=source.origin,
        stats=stats,
        manifest_digest=digest,
        updates=tuple(
            {
                "level": u.level,
                "title": u.update.title,
                "security": u.update.security,
                "advisories": [{"id": a.id, "severity": a.severity} for a in u.update.advisories],
            }
            for u in updates
        ),
        root_pinned=root is not None,
        seconds=time.perf_counter() - started,
    )


def _write_atomically(
    dest: Path,
    items: list[ZipItem],
    content: Callable[[str, int], Iterable[bytes]],
    options: ZipOptions,
    progress: Callable[[int], None] | None,
) -> ZipStats:
    """The output appears whole or not at all (fsio.durable_output); an existing file of that
    name is replaced only then."""
    from uplevel.engine import fsio

    with fsio.durable_output(dest) as tmp, open(tmp, "wb", buffering=1 << 20) as f:
        return write_zip(f, items, content, options=options, progress=progress)


def pack(
    *,
    product: str,
    channel: str = "full",
    level: int | None = None,
    repo: Path | None = None,
    server: str | None = None,
    output: Path | None = None,
    token_file: Path | None = None,
    root_file: Path | None = None,
    ca_bundle: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> PackResult:
    """`uplevel pack`: from a repository directory or a server (exactly one)."""
    check_product(product)
    check_channel(channel)
    if (repo is None) == (server is None):
        raise UsageError("give exactly one of --repo DIR and --server URL")
    if level is not None and level < 0:
        raise UsageError("--level must be 0 or more")
    if output is not None and not output.is_dir() and not output.parent.is_dir():
        raise UsageError(f"-o {output}: the directory {output.parent} does not exist")
    date = pack_date()
    if repo is not None and root_file is not None:
        raise UsageError("--root is for --server (a repository directory has its own root)")
    source: LevelSource
    if repo is not None:
        source = RepositoryDirectory(repo)
    else:
        assert server is not None
        source = ServerLevels(
            server, token_file=token_file, root_file=root_file, ca_bundle=ca_bundle
        )
    try:
        return build_pack(
            source,
            product=product,
            channel=channel,
            level=level,
            output=output,
            date=date,
            progress=progress,
        )
    finally:
        source.close()
