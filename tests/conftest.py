"""Fixtures every test directory shares: the sample levels and bundles, and homes made from them
(the helpers themselves are tests/support/homes.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.homes import (
    Sample,
    run_cli,
)
from uplevel.devtools.sample import PRODUCT, write_level


@pytest.fixture(scope="session")
def sample_source(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    root = tmp_path_factory.mktemp("sample")
    trees = {}
    for lvl in (0, 1, 2):
        trees[lvl] = root / f"level{lvl}"
        trees[lvl].mkdir()
        write_level(trees[lvl], lvl)
    bundles = {}
    for lvl in (1, 2):
        bundles[lvl] = root / f"level-{lvl}.bundle"
        run_cli(
            "bundle",
            "create",
            "--product",
            PRODUCT,
            "--from-tree",
            trees[lvl - 1],
            "--to-tree",
            trees[lvl],
            "--from-level",
            str(lvl - 1),
            "--to-level",
            str(lvl),
            "--title",
            f"update {lvl}",
            "-o",
            bundles[lvl],
            check=0,
        )
    return Sample(root, trees, bundles)


@pytest.fixture
def sample(sample_source: Sample, tmp_path: Path) -> Sample:
    """Per test: the shared trees and bundles, homes made in this test's tmp_path."""
    return Sample(tmp_path, sample_source.trees, sample_source.bundles)
