"""docs/json-output.md's exit-code table and `uplevel --help` name the same codes, and the
interrupt codes are the ones the CLI really uses (128 + the signal)."""

from __future__ import annotations

import re
import signal
from pathlib import Path

from tests.support.homes import run_cli
from uplevel.engine.interrupt import Interrupted

DOC = Path(__file__).resolve().parents[2] / "docs" / "json-output.md"


def table_codes() -> set[int]:
    text = DOC.read_text()
    table = text[text.index("## Exit codes") :]
    return {int(m) for m in re.findall(r"^\| (\d+) \|", table, flags=re.M)}


def test_help_names_every_code_of_the_table() -> None:
    codes = table_codes()
    assert {0, 1, 2, 3, 4, 100, 101, 130, 143} <= codes
    help_text = " ".join(run_cli("--help", check=0).stdout.split())
    for code in codes:
        assert re.search(rf"(?<!\d){code}(?!\d)", help_text), f"--help does not name {code}"


def test_interrupt_codes_are_128_plus_the_signal() -> None:
    codes = table_codes()
    for sig in (signal.SIGINT, signal.SIGTERM):
        assert Interrupted(sig).exit_code in codes
