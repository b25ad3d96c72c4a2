"""An independent .properties reader for the merge tests, pinned to java.util.Properties.

The merge tests check the merged bytes through this reader, not through the engine's own
parser (uplevel.merge.properties): it is a character-by-character transcription of the JDK's
`Properties.load(Reader)` (LineReader.readLine, load0, loadConvert), where the engine splits
physical lines. The cases below and their expected settings were produced once by
`Properties.load` of OpenJDK 17 reading each document as UTF-8.
"""

from __future__ import annotations

import pytest

_WS = " \t\f"
_CONTROL = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


class MalformedProperties(ValueError):
    """What Java's IllegalArgumentException is for a bad \\uXXXX escape."""


def read_properties(data: bytes) -> dict[str, str]:
    """The settings of a .properties document as Java reads it (a UTF-8 BOM is dropped)."""
    text = data.decode("utf-8")
    text = text.removeprefix("\ufeff")
    settings: dict[str, str] = {}
    for line in _logical_lines(text):
        key, value = _key_value(line)
        settings[key] = value
    return settings


def _logical_lines(text: str) -> list[str]:
    """LineReader.readLine: comments and blank lines skipped, continuations joined."""
    lines: list[str] = []
    buf: list[str] = []
    skip_ws, appended, backslash, skip_lf = True, False, False, False
    i = 0
    while i < len(text):
        c = text[i]
        i += 1
        if skip_lf:
            skip_lf = False
            if c == "\n":
                continue
        if skip_ws:
            if c in _WS:
                continue
            if not appended and c in "\r\n":
                continue
            skip_ws, appended = False, False
        if not buf and c in "#!":
            while i < len(text) and text[i] not in "\r\n":
                i += 1
            skip_ws = True
            continue
        if c not in "\r\n":
            buf.append(c)
            backslash = not backslash if c == "\\" else False
            continue
        if not buf:
            skip_ws = True
            continue
        if backslash:
            buf.pop()
            skip_ws, appended, backslash = True, True, False
            skip_lf = c == "\r"
            continue
        lines.append("".join(buf))
        buf, skip_ws, backslash = [], True, False
    if buf:
        lines.append("".join(buf[:-1] if backslash else buf))
    return lines


def _key_value(line: str) -> tuple[str, str]:
    """Properties.load0: the key ends at an unescaped separator or whitespace."""
    key_len, value_start, has_sep, backslash = 0, len(line), False, False
    while key_len < len(line):
        c = line[key_len]
        if c in "=:" and not backslash:
            value_start, has_sep = key_len + 1, True
            break
        if c in _WS and not backslash:
            value_start = key_len + 1
            break
        backslash = not backslash if c == "\\" else False
        key_len += 1
    while value_start < len(line):
        c = line[value_start]
        if c not in _WS:
            if not has_sep and c in "=:":
                has_sep = True
            else:
                break
        value_start += 1
    return _convert(line[:key_len]), _convert(line[value_start:])


def _convert(text: str) -> str:
    """Properties.loadConvert: \\uXXXX, \\t \\n \\r \\f, and any other escaped character."""
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        i += 1
        if c != "\\" or i >= len(text):
            out.append(c)
            continue
        c = text[i]
        i += 1
        if c == "u":
            digits = text[i : i + 4]
            if len(digits) < 4 or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise MalformedProperties("Malformed \\uxxxx encoding.")
            out.append(chr(int(digits, 16)))
            i += 4
        else:
            out.append(_CONTROL.get(c, c))
    return "".join(out)


# What OpenJDK 17's Properties.load(Reader) returned for each document.
JAVA_READS: dict[str, tuple[bytes, dict[str, str]]] = {
    "basic": (
        b"# c\n! bang\n  \na=1\nb = 2\nc: 3\nd 4\n  e\t=\t5  \n",
        {"a": "1", "b": "2", "c": "3", "d": "4", "e": "5  "},
    ),
    "cont": (
        b"f = one, \\\n    two, \\\n    three\nnext=x\n",
        {"f": "one, two, three", "next": "x"},
    ),
    "cont_crlf": (b"f = one, \\\r\n    two\r\ng=h\r\n", {"f": "one, two", "g": "h"}),
    "cont_cr": (b"f = one, \\\r    two\rg=h\r", {"f": "one, two", "g": "h"}),
    "escapes": (
        b"g\\ h = x\\ty\\u0041\\\\\nk\\:colon = v\nk\\=eq=w\n",
        {"g h": "x\tyA\\", "k:colon": "v", "k=eq": "w"},
    ),
    "empty_key_val": (b"empty\n=novalue\n:alsonovalue\n", {"": "alsonovalue", "empty": ""}),
    "comment_bs": (b"# a comment \\\nx = 1\n", {"x": "1"}),
    "cont_comment": (b"a = 1, \\\n  # not a comment\nb=2\n", {"a": "1, # not a comment", "b": "2"}),
    "cont_blank": (b"a = 1\\\n\nb=2\n", {"a": "1", "b": "2"}),
    "cont_eof": (b"a = 1\\", {"a": "1"}),
    "cont_eof_nl": (b"a = 1\\\n", {"a": "1"}),
    "double_bs": (b"a = 1\\\\\nb = 2\n", {"a": "1\\", "b": "2"}),
    "sep_twice": (b"a == 1\nb :=2\nc = :3\n", {"a": "= 1", "b": "=2", "c": ":3"}),
    "ws_key": (b"  key with\\ space   value here\n", {"key": "with space   value here"}),
    "last_wins": (b"a=1\na=2\n", {"a": "2"}),
    "no_eol": (b"a=1\nb=2", {"a": "1", "b": "2"}),
    "unicode": ("a=é€\nb=\\u00e9\n".encode(), {"a": "é€", "b": "é"}),
    "cont_ws_only": (b"a = x\\\n   \\\n   y\n", {"a": "xy"}),
    "colon_in_value": (b"url = jdbc:h2:./db;AUTO=TRUE\n", {"url": "jdbc:h2:./db;AUTO=TRUE"}),
    "tab_ff": (b"\f\ta\f=\f1\n", {"a": "1"}),
    "bs_other": (b"a=\\q\\\"\\'\n", {"a": "q\"'"}),
}


@pytest.mark.parametrize("name", sorted(JAVA_READS))
def test_reader_reads_as_java_does(name: str) -> None:
    data, expected = JAVA_READS[name]
    assert read_properties(data) == expected


def test_reader_refuses_what_java_refuses() -> None:
    with pytest.raises(MalformedProperties):
        read_properties(b"a=\\u12\n")


def test_reader_drops_a_bom() -> None:
    assert read_properties(b"\xef\xbb\xbfa=1\n") == {"a": "1"}
