"""Where every file of an update repository lives (docs/repository.md), as paths only.

No I/O here: one place names the files so that the publisher, the server and the
tests agree on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CONFIG_NAME = "repo.json"
DB_NAME = "uplevel.db"
LOCK_NAME = ".lock"


@dataclass(frozen=True)
class RepoLayout:
    """The paths of one repository directory."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def db(self) -> Path:
        return self.root / DB_NAME

    @property
    def lock(self) -> Path:
        return self.root / LOCK_NAME

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def metadata(self) -> Path:
        return self.root / "metadata"

    @property
    def targets(self) -> Path:
        return self.root / "targets"

    @property
    def blobs(self) -> Path:
        return self.root / "blobs"

    def versioned(self, role: str, version: int) -> Path:
        """`metadata/<N>.<role>.json` (root, targets, snapshot)."""
        return self.metadata / f"{version}.{role}.json"

    @property
    def root_json(self) -> Path:
        """A copy of the newest root (for bootstrapping clients)."""
        return self.metadata / "root.json"

    @property
    def timestamp_json(self) -> Path:
        return self.metadata / "timestamp.json"

    def target_file(self, target_path: str, sha256: str) -> Path:
        """The on-disk name of a target under consistent snapshots: `<dir>/<sha256>.<name>`."""
        parent, _, name = target_path.rpartition("/")
        return self.targets / parent / f"{sha256}.{name}"

    def blob(self, sha256: str, *, compressed: bool) -> Path:
        name = f"{sha256}.zst" if compressed else sha256
        return self.blobs / sha256[:2] / name
