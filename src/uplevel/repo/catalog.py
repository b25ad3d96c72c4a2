"""repo list: every product, its channels and their levels with titles.

Read-only and lock-free: it shows the levels the signed targets metadata names,
so a publisher halfway through never makes a level appear early.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uplevel.core.updateinfo import CHANNELS
from uplevel.repo import db
from uplevel.repo.config import RepoConfig
from uplevel.repo.layout import RepoLayout
from uplevel.repo.metadata import TufMetadata
from uplevel.repo.state import load_keys, published_levels


@dataclass(frozen=True, kw_only=True)
class LevelInfo:
    level: int
    title: str
    security: bool
    created: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True, kw_only=True)
class ProductInfo:
    product: str
    profile: str
    channels: dict[str, list[LevelInfo]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "profile": self.profile,
            "channels": {c: [lv.to_dict() for lv in lvs] for c, lvs in self.channels.items()},
        }


@dataclass(frozen=True, kw_only=True)
class RepoListing:
    repo: str
    products: list[ProductInfo]

    def to_dict(self) -> dict[str, Any]:
        return {"repo": self.repo, "products": [p.to_dict() for p in self.products]}


def list_repo(repo_dir: Path) -> RepoListing:
    layout = RepoLayout(repo_dir)
    config = RepoConfig.load(layout.config)
    targets = TufMetadata(layout, config, load_keys(layout, config, None)).targets().signed
    published = published_levels(targets)
    conn = db.connect(layout.db, readonly=True)
    try:
        profiles = dict(conn.execute("SELECT product, profile FROM products").fetchall())
        rows = conn.execute(
            "SELECT product, channel, level, title, security, created_at FROM levels "
            "ORDER BY product, channel, level"
        ).fetchall()
    finally:
        conn.close()
    products: dict[str, ProductInfo] = {}
    for product, channel, level, title, security, created in rows:
        if (product, channel, level) not in published:
            continue
        info = products.setdefault(
            product,
            ProductInfo(
                product=product,
                profile=profiles.get(product, ""),
                channels={c: [] for c in CHANNELS},
            ),
        )
        info.channels[channel].append(
            LevelInfo(level=level, title=title, security=bool(security), created=created)
        )
    return RepoListing(repo=str(repo_dir), products=list(products.values()))
