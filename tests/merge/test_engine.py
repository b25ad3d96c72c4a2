"""The merge dispatcher: format by file name, identities, and the line fallback."""

from __future__ import annotations

import pytest

from uplevel.merge.engine import detect_format, line_merge, merge
from uplevel.merge.result import UnparsableInput


@pytest.mark.parametrize(
    ("path", "fmt"),
    [
        ("repository/conf/deployment.toml", "toml"),
        ("repository/conf/carbon.xml", "xml"),
        ("repository/resources/conf/templates/repository/conf/axis2/axis2.xml.j2", "text"),
        ("values.yaml", "yaml"),
        ("docker-compose.yml", "yaml"),
        ("settings.json", "json"),
        ("repository/conf/log4j2.properties", "properties"),
        ("bin/api-manager.sh", "text"),
        (None, "text"),
    ],
)
def test_detect_format(path: str | None, fmt: str) -> None:
    assert detect_format(path) == fmt


def test_identities_return_a_side_exactly_whatever_the_format() -> None:
    b, o, t = b"a = 1\n", b"a = 2\n", b"a = 3\n"
    assert merge(b, b, t, "toml").merged == t
    assert merge(b, o, b, "xml").merged == o
    assert merge(b, o, o, "json").merged == o
    assert merge(b, o, o, "json").clean


def test_unparsable_structured_input_falls_back_to_lines_and_says_so() -> None:
    base = b"<a>\n<b>1</b>\n<c>1</c>\n"  # not well-formed XML: no closing tag
    ours = b"<a>\n<b>2</b>\n<c>1</c>\n"
    theirs = b"<a>\n<b>1</b>\n<c>1</c>\n<d/>\n"
    r = merge(base, ours, theirs, "xml")
    assert r.format == "text" and r.fallback and r.fallback.startswith("xml:")
    assert r.clean and r.merged == b"<a>\n<b>2</b>\n<c>1</c>\n<d/>\n"


def test_line_conflicts_name_their_line_and_values() -> None:
    r = line_merge(b"x\ny\nz\n", b"x\nY\nz\n", b"x\nQ\nz\n")
    assert not r.clean
    (c,) = r.conflicts
    assert (c.path, c.base, c.ours, c.theirs) == ("line 2", "y\n", "Y\n", "Q\n")
    assert b"<<<<<<< local" in r.merged


def test_binary_input_is_refused() -> None:
    with pytest.raises(UnparsableInput):
        line_merge(b"\x00a", b"\x00b", b"\x00c")
