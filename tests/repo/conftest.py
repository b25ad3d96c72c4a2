"""Helpers for repository tests: pack zips made from trees, repositories, a TUF client on files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.homes import Sample
from tests.support.repo import (
    new_repo,
    tree_members,
    write_zip,
)
from uplevel.devtools.sample import PRODUCT
from uplevel.repo.product import add_product


@pytest.fixture(scope="session")
def pack0(sample_source: Sample, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample product's level-0 tree as a WSO2-style pack zip."""
    out = tmp_path_factory.mktemp("pack") / f"{PRODUCT}.zip"
    return write_zip(out, tree_members(sample_source.trees[0]))


@pytest.fixture
def product_repo(tmp_path: Path, pack0: Path) -> Path:
    """A new repository holding the sample product at level 0."""
    repo = new_repo(tmp_path / "repo")
    add_product(repo, pack=pack0, product=PRODUCT)
    return repo
