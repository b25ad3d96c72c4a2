"""init and init --server: adopting a home, and the one way every adoption is written.

A home is adopted when its state (updates/uplevel/state.json) names a product, channel and
level and the manifest of that level's pristine tree is stored. `init` takes the home's own
files as pristine; `init --server` pins the repository's root of trust and takes the
server's manifest of a published level; `migrate` adopts NEW before carrying OLD into it;
`pack` writes the same state files into a zip. All of them build the state with `adoption`
and write it with `write_adoption`, so an adopted home looks the same however it came to be.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uplevel.client.remote import home_remote
from uplevel.core.closest import closest_level
from uplevel.core.manifest import Manifest
from uplevel.core.profile import Profile
from uplevel.core.updateinfo import check_channel, check_product
from uplevel.engine import fsio
from uplevel.engine.home import Event, Home, State, now
from uplevel.engine.localchanges import LocalChanges, compare, seed_index
from uplevel.engine.profiles import profile_for
from uplevel.engine.running import check_stopped
from uplevel.engine.scan import read_tree, walk
from uplevel.errors import HomeError, ServerError, UsageError


def adoption(
    product: str,
    channel: str,
    level: int,
    pristine: Manifest,
    *,
    detail: str = "",
    server: str | None = None,
    time: str | None = None,
) -> State:
    """The state of a home adopted at `level` with `pristine` as that level's tree."""
    digest = pristine.digest
    event = Event(time=time or now(), event="init", from_level=level, to_level=level, detail=detail)
    return State(
        product=product,
        channel=channel,
        level=level,
        pristine=digest,
        levels={level: digest},
        server=server,
        history=(event,),
    )


def write_adoption(home: Home, state: State, pristine: Manifest) -> None:
    """Write an adoption into the home (the caller holds its lock): the store's directories,
    the pristine manifest, then the state that names it (last, so a crash leaves the home
    not adopted rather than adopted without its manifest)."""
    fsio.makedirs(home.manifests)
    fsio.makedirs(home.objects)
    home.save_manifest(pristine)
    home.save_state(state)


def adoptable(root: Path, product: str, channel: str) -> Home:
    """The home at `root`, refused unless it is a directory uplevel has not adopted yet."""
    check_product(product)
    check_channel(channel)
    home = Home(root)
    if not home.root.is_dir():
        raise UsageError(f"{root} is not a directory")
    if home.adopted:
        raise HomeError(f"{home.root} is already adopted by uplevel", hint="see `uplevel status`")
    return home


def refuse_running(home: Home, product: str, *, force: bool) -> Profile:
    """The product's profile, after the running check every changing command makes (exit 4):
    adopting a live home would record its pid file and open databases. `force` skips it."""
    profile = profile_for(product)
    check_stopped(home.root, profile, force=force, files=None if force else dict(walk(home.root)))
    return profile


@dataclass(frozen=True, kw_only=True)
class InitResult:
    home: str
    product: str
    level: int
    channel: str
    files: int
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def init(
    root: Path,
    *,
    product: str,
    level: int,
    channel: str,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
) -> InitResult:
    """Adopt a home that is pristine at `level`: record its manifest as pristine, less the
    scratch a server leaves (pid and lock files, logs, temporary files: Profile.is_scratch)."""
    if level < 0:
        check_product(product)
        check_channel(channel)
        raise UsageError("--level must be 0 or more")
    home = adoptable(root, product, channel)
    profile = refuse_running(home, product, force=force)
    with home.locked():
        stats: dict[str, os.stat_result] = {}
        manifest = read_tree(home.root, progress, stats, skip=profile.is_scratch)
        write_adoption(home, adoption(product, channel, level, manifest), manifest)
        seed_index(home, manifest, stats)
    return InitResult(
        home=str(home.root),
        product=product,
        level=level,
        channel=channel,
        files=sum(1 for e in manifest.values() if e.kind == "file"),
        bytes=manifest.total_size,
    )


# --- init --server ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ServerInitResult:
    home: str
    product: str
    channel: str
    level: int
    server: str
    found_level: bool  # True when the level was identified by comparing with the server
    scores: tuple[dict[str, int], ...]
    local: LocalChanges

    def to_dict(self) -> dict[str, Any]:
        return {
            "home": self.home,
            "product": self.product,
            "channel": self.channel,
            "level": self.level,
            "server": self.server,
            "level_identified": self.found_level,
            "closeness": list(self.scores),
            "local_changes": self.local.to_dict(),
        }


def init_from_server(
    root: Path,
    *,
    server: str,
    product: str,
    channel: str,
    level: int | None,
    token_file: Path | None = None,
    root_file: Path | None = None,
    ca_bundle: Path | None = None,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ServerInitResult:
    """Pin the repository's root of trust and adopt the home at a published level.

    Pristine is the server's manifest of that level, not the home's bytes, so the
    operator's earlier customisations show up as local changes from the start.
    """
    home = adoptable(root, product, channel)
    refuse_running(home, product, force=force)
    created = [d for d in (home.state_dir.parent, home.state_dir) if not d.exists()]
    try:
        return _adopt_from_server(
            home, server, product, channel, level, token_file, root_file, ca_bundle, progress
        )
    except BaseException:
        for d in reversed(created):  # a refused adoption leaves no trace in the home
            shutil.rmtree(d, ignore_errors=True)
        raise


def _adopt_from_server(
    home: Home,
    server: str,
    product: str,
    channel: str,
    level: int | None,
    token_file: Path | None,
    root_file: Path | None,
    ca_bundle: Path | None,
    progress: Callable[[int], None] | None,
) -> ServerInitResult:
    with home.locked():
        remote = home_remote(home.tuf_dir, server, token_file, ca_bundle)
        bootstrap = root_file.read_bytes() if root_file else remote.fetch_initial_root()
        remote.refresh(bootstrap)
        levels = remote.levels(product, channel)
        if not levels:
            raise ServerError(f"{server} publishes no level of {product} in the {channel} channel")
        stats: dict[str, os.stat_result] = {}
        profile = profile_for(product)
        tree = read_tree(home.root, progress, stats, skip=profile.is_scratch)
        scores: list[dict[str, int]] = []
        if level is None:
            candidates = {n: remote.level_manifest(product, channel, n) for n in levels}
            best, all_scores = closest_level({n: m.manifest for n, m in candidates.items()}, tree)
            level = best.level
            scores = [s.__dict__ for s in all_scores]
            published = candidates[level]
        elif level not in levels:
            raise UsageError(
                f"level {level} is not published (levels: {', '.join(map(str, levels))})"
            )
        else:
            published = remote.level_manifest(product, channel, level)
        state = adoption(
            product,
            channel,
            level,
            published.manifest,
            server=server.rstrip("/"),
            detail=f"from {server}",
        )
        write_adoption(home, state, published.manifest)
        if published.manifest.digest == tree.digest:
            seed_index(home, tree, stats)
        local = compare(home, state.pristine, use_index=True, runtime=profile.is_runtime_data)
    return ServerInitResult(
        home=str(home.root),
        product=product,
        channel=channel,
        level=level,
        server=server,
        found_level=bool(scores),
        scores=tuple(scores),
        local=local,
    )
