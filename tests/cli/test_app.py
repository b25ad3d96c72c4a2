"""The `uplevel` group: a lazily imported command group that fails to import is a broken
installation, shown as the ImportError it is, never as "No such command"."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from uplevel.cli.app import LazyGroup, cli


def test_every_lazy_command_imports() -> None:
    ctx = click.Context(cli)
    for name in LazyGroup.lazy:
        assert isinstance(cli.get_command(ctx, name), click.Command), name


def test_an_import_error_is_raised_not_turned_into_no_such_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    group = LazyGroup(name="uplevel")
    monkeypatch.setattr(group, "lazy", {"repo": "uplevel.cli.no_such_module:repo"})
    result = CliRunner().invoke(group, ["repo", "--help"])
    assert isinstance(result.exception, ModuleNotFoundError)
    assert "No such command" not in result.output
