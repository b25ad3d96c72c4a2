"""add-product: publish a product's base pack as level 0 of both channels."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uplevel.core.updateinfo import CHANNELS, UpdateInfo, check_product
from uplevel.engine.profiles import load_profiles, profile_for
from uplevel.errors import UsageError
from uplevel.repo.packzip import Pack
from uplevel.repo.state import NewLevel, open_repo


@dataclass(frozen=True, kw_only=True)
class AddProductResult:
    repo: str
    product: str
    profile: str
    files: int
    bytes: int
    blobs_written: int
    levels: dict[str, int]
    targets_version: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def resolve_profile(product: str, name: str | None) -> str:
    """The named profile (it must exist), else the one that matches the product."""
    if name is None:
        return profile_for(product).name
    names = sorted(p.name for p in load_profiles())
    if name not in names:
        raise UsageError(f"--profile {name!r} is not one of {', '.join(names)}")
    return name


def add_product(
    repo_dir: Path, *, pack: Path, product: str, profile: str | None = None
) -> AddProductResult:
    """Store the pack's contents as blobs and publish level 0 of `full` and `security`."""
    check_product(product)
    profile_name = resolve_profile(product, profile)
    with Pack(pack) as zipped, open_repo(repo_dir) as repo:
        if any(repo.levels(product, channel) for channel in CHANNELS):
            raise UsageError(
                f"product {product} is already in {repo_dir}",
                hint="publish its updates with `uplevel repo add-update`",
            )

        def store(path: str, sha: str, data: bytes) -> None:
            repo.blobs.put(sha, data, where=f"{pack}: {path}")

        manifest = zipped.read(store)
        if not manifest:
            raise UsageError(f"{pack} holds no files", hint="is this the product's pack?")
        info = UpdateInfo(
            level=0,
            title=f"{product} base pack",
            description=f"The base distribution ({pack.name}).",
        )
        version = repo.publish_levels(
            [
                NewLevel(
                    product=product,
                    channel=channel,
                    level=0,
                    from_level=None,
                    manifest=manifest,
                    changes={},
                    info=info,
                )
                for channel in CHANNELS
            ],
            profile=profile_name,
        )
        return AddProductResult(
            repo=str(repo_dir),
            product=product,
            profile=profile_name,
            files=sum(1 for e in manifest.values() if e.kind == "file"),
            bytes=manifest.total_size,
            blobs_written=repo.blobs.written,
            levels=dict.fromkeys(CHANNELS, 0),
            targets_version=version,
        )
