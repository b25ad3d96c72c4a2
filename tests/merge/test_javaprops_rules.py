"""Issue 10's three classes and its rules, on .properties files shaped like WSO2's log4j2.properties.

Each test is a small reproducer: base, the operator's file (ours), upstream's (theirs), the
exact settings of the merged file (read by the independent reader, not the engine's parser),
the exact conflicts, and the comment lines that must or must not be there.
"""

from __future__ import annotations

from tests.merge.test_javaprops_reader import read_properties
from uplevel.merge.engine import merge
from uplevel.merge.properties import merge_properties
from uplevel.merge.result import MergeResult

BOM = b"\xef\xbb\xbf"

LOG4J2 = b"""\
# Root logger
rootLogger.level = INFO
rootLogger.appenderRef.CARBON_CONSOLE.ref = CARBON_CONSOLE
rootLogger.appenderRef.CARBON_LOGFILE.ref = CARBON_LOGFILE

appenders = CARBON_CONSOLE, CARBON_LOGFILE

# CARBON_CONSOLE is set to be a ConsoleAppender using a PatternLayout.
appender.CARBON_CONSOLE.type = Console
appender.CARBON_CONSOLE.name = CARBON_CONSOLE
appender.CARBON_CONSOLE.layout.type = PatternLayout

# CARBON_LOGFILE is set to be a DailyRollingFileAppender using a PatternLayout.
appender.CARBON_LOGFILE.type = RollingFile
appender.CARBON_LOGFILE.name = CARBON_LOGFILE
appender.CARBON_LOGFILE.fileName = ${sys:carbon.home}/repository/logs/wso2carbon.log
appender.CARBON_LOGFILE.policies.time.interval = 1

#appender.AUDIT_LOGFILE.type = RollingFile
#appender.AUDIT_LOGFILE.name = AUDIT_LOGFILE
"""


def merged_settings(result: MergeResult) -> dict[str, str]:
    return read_properties(result.merged)


def conflicts(result: MergeResult) -> list[tuple[str, str | None, str | None, str | None]]:
    return [(c.path, c.base, c.ours, c.theirs) for c in result.conflicts]


def edit(data: bytes, *pairs: tuple[bytes, bytes]) -> bytes:
    for old, new in pairs:
        assert data.count(old) == 1, old
        data = data.replace(old, new)
    return data


# --- class 1: no conflict invented by an unrelated local edit ------------------------------------


def test_unrelated_local_edit_invents_no_conflict() -> None:
    """The issue's reproducer in .properties: upstream deletes a key, renames an appender and
    uncomments a block; the operator only changed the root level."""
    ours = edit(LOG4J2, (b"rootLogger.level = INFO", b"rootLogger.level = WARN"))
    theirs = edit(
        LOG4J2,
        (b"appender.CARBON_LOGFILE.policies.time.interval = 1\n", b""),
        (
            b"#appender.AUDIT_LOGFILE.type = RollingFile\n#appender.AUDIT_LOGFILE.name = AUDIT_LOGFILE",
            b"appender.AUDIT_LOGFILE.type = RollingFile\nappender.AUDIT_LOGFILE.name = AUDIT_LOGFILE",
        ),
        (
            b"appender.CARBON_CONSOLE.name = CARBON_CONSOLE",
            b"appender.CARBON_CONSOLE.name = CONSOLE",
        ),
    )
    result = merge_properties(LOG4J2, ours, theirs)
    assert conflicts(result) == []
    expected = read_properties(theirs) | {"rootLogger.level": "WARN"}
    assert merged_settings(result) == expected
    assert "appender.CARBON_LOGFILE.policies.time.interval" not in expected  # the deletion applied
    assert b"#appender.AUDIT_LOGFILE" not in result.merged  # uncommented, not kept twice


def test_a_bom_on_the_operators_file_invents_no_conflict() -> None:
    """Before: ours' first key read as '\\ufeffrootLogger.level', so upstream's change of
    rootLogger.level became a delete-vs-change conflict and was lost."""
    base = b"rootLogger.level = INFO\nappenders = CARBON_CONSOLE\n"
    ours = BOM + edit(base, (b"CARBON_CONSOLE", b"CARBON_CONSOLE, ACME"))
    theirs = edit(base, (b"INFO", b"WARN"))
    result = merge_properties(base, ours, theirs)
    assert conflicts(result) == []
    assert result.merged == BOM + b"rootLogger.level = WARN\nappenders = CARBON_CONSOLE, ACME\n"


# --- class 2: a conflicted merge still carries every other change ---------------------------------


def test_one_true_conflict_keeps_every_other_change_of_both_sides() -> None:
    ours = edit(
        LOG4J2,
        (b"wso2carbon.log", b"acme-carbon.log"),  # the true conflict
        (b"rootLogger.level = INFO", b"rootLogger.level = DEBUG"),
        (b"interval = 1\n", b"interval = 1\nappender.CARBON_LOGFILE.append = false\n"),
    )
    theirs = edit(
        LOG4J2,
        (b"wso2carbon.log", b"carbon.log"),
        (b"# Root logger\n", b"# Root logger: set the level with -Dlog.level\n"),
        (b"CARBON_CONSOLE.layout.type = PatternLayout\n", b""),
        (
            b"appender.CARBON_CONSOLE.name = CARBON_CONSOLE\n",
            b"appender.CARBON_CONSOLE.name = CARBON_CONSOLE\n"
            b"# The pattern of every line\n"
            b"appender.CARBON_CONSOLE.layout.pattern = [%d] %5p {%c} - %m%n\n",
        ),
        (b"#appender.AUDIT_LOGFILE.name = AUDIT_LOGFILE\n", b""),
    )
    result = merge_properties(LOG4J2, ours, theirs)
    path = "appender.CARBON_LOGFILE.fileName"
    assert conflicts(result) == [
        (
            path,
            "${sys:carbon.home}/repository/logs/wso2carbon.log",
            "${sys:carbon.home}/repository/logs/acme-carbon.log",
            "${sys:carbon.home}/repository/logs/carbon.log",
        )
    ]
    expected = read_properties(theirs) | {
        "rootLogger.level": "DEBUG",
        "appender.CARBON_LOGFILE.append": "false",
        path: "${sys:carbon.home}/repository/logs/acme-carbon.log",
    }
    assert merged_settings(result) == expected
    assert b"# Root logger: set the level with -Dlog.level\n" in result.merged
    assert b"# The pattern of every line\n" in result.merged
    assert b"# Root logger\n" not in result.merged
    assert b"#appender.AUDIT_LOGFILE.name" not in result.merged  # upstream removed it


# --- class 3: upstream comment lines survive the operator's edits nearby ------------------------


def test_upstream_comment_block_appended_while_operator_appends_a_key() -> None:
    ours = LOG4J2 + b"appender.CARBON_LOGFILE.append = false\n"
    block = (
        b"\n# Masking of sensitive data in the logs\n"
        b"#appender.CARBON_LOGFILE.layout.maskingPatternFile=${sys:carbon.home}/conf/masking\n"
    )
    theirs = LOG4J2 + block
    result = merge_properties(LOG4J2, ours, theirs)
    assert conflicts(result) == []
    assert result.merged == ours + block  # the operator's key stays with its appender
    assert merged_settings(result) == read_properties(ours)


def test_upstream_comment_edit_next_to_an_operator_edit() -> None:
    ours = edit(
        LOG4J2, (b"appender.CARBON_CONSOLE.type = Console", b"appender.CARBON_CONSOLE.type = Null")
    )
    theirs = edit(
        LOG4J2,
        (b"# CARBON_CONSOLE is set to be a ConsoleAppender", b"# CARBON_CONSOLE writes to stdout,"),
        (b"# Root logger\n", b""),
    )
    result = merge_properties(LOG4J2, ours, theirs)
    assert conflicts(result) == []
    assert result.merged == edit(
        theirs, (b"appender.CARBON_CONSOLE.type = Console", b"appender.CARBON_CONSOLE.type = Null")
    )


def test_upstream_comment_lines_survive_a_reformatted_operator_file() -> None:
    """The operator reformatted every line (a = b → a=b), so the line merge conflicts
    everywhere; upstream's added, edited and removed comments are carried all the same."""
    ours = b"".join(
        line if line.startswith(b"#") else line.replace(b" = ", b"=")
        for line in LOG4J2.splitlines(keepends=True)
    )
    theirs = edit(
        LOG4J2,
        (b"# Root logger\n", b"# Root logger (OFF, ERROR, WARN, INFO, DEBUG, TRACE)\n"),
        (b"appenders = ", b"# every appender must be listed here\nappenders = "),
        (b"#appender.AUDIT_LOGFILE.type = RollingFile\n", b""),
    )
    result = merge_properties(LOG4J2, ours, theirs)
    assert conflicts(result) == []
    assert result.merged == edit(
        ours,
        (b"# Root logger\n", b"# Root logger (OFF, ERROR, WARN, INFO, DEBUG, TRACE)\n"),
        (b"appenders=", b"# every appender must be listed here\nappenders="),
        (b"#appender.AUDIT_LOGFILE.type = RollingFile\n", b""),
    )


# --- rules ---------------------------------------------------------------------------------------

RENAMED = {
    b"appender.CARBON_LOGFILE.": b"appender.CARBON_FILE.",
    b"appender.CARBON_FILE.name = CARBON_LOGFILE": b"appender.CARBON_FILE.name = CARBON_FILE",
    b"appenders = CARBON_CONSOLE, CARBON_LOGFILE": b"appenders = CARBON_CONSOLE, CARBON_FILE",
}


def rename_appender(data: bytes) -> bytes:
    for old, new in RENAMED.items():
        data = data.replace(old, new)
    return data


def test_identity_rename_of_an_untouched_entry_is_a_rename() -> None:
    """.properties has no repeated elements: log4j2's entry identity is the key prefix, and a
    rename upstream is the deletion of the old keys and the addition of the new ones."""
    ours = edit(LOG4J2, (b"rootLogger.level = INFO", b"rootLogger.level = ERROR"))
    theirs = rename_appender(LOG4J2)
    result = merge_properties(LOG4J2, ours, theirs)
    assert conflicts(result) == []
    assert merged_settings(result) == read_properties(theirs) | {"rootLogger.level": "ERROR"}
    assert b"CARBON_LOGFILE.type" not in result.merged


def test_identity_rename_of_a_touched_entry_is_one_conflict_naming_it() -> None:
    ours = edit(LOG4J2, (b"wso2carbon.log", b"acme.log"))
    theirs = rename_appender(LOG4J2)
    result = merge_properties(LOG4J2, ours, theirs)
    assert conflicts(result) == [
        (
            "appender.CARBON_LOGFILE.fileName",
            "${sys:carbon.home}/repository/logs/wso2carbon.log",
            "${sys:carbon.home}/repository/logs/acme.log",
            None,
        )
    ]
    # the renamed entry is there, the operator's setting stays until f.final
    expected = read_properties(theirs) | {
        "appender.CARBON_LOGFILE.fileName": "${sys:carbon.home}/repository/logs/acme.log"
    }
    assert merged_settings(result) == expected


def test_uncommenting_a_block_is_an_addition_by_that_side() -> None:
    uncommented = edit(
        LOG4J2,
        (b"#appender.AUDIT_LOGFILE.type", b"appender.AUDIT_LOGFILE.type"),
        (b"#appender.AUDIT_LOGFILE.name", b"appender.AUDIT_LOGFILE.name"),
    )
    upstream_edit = (
        b"appender.CARBON_CONSOLE.type = Console",
        b"appender.CARBON_CONSOLE.type = Null",
    )
    for ours, theirs in (
        (uncommented, edit(LOG4J2, upstream_edit)),
        (edit(LOG4J2, upstream_edit), uncommented),
    ):
        result = merge_properties(LOG4J2, ours, theirs)
        assert conflicts(result) == []
        assert result.merged == edit(uncommented, upstream_edit)


def test_both_sides_uncomment_the_same_key_differently_is_one_conflict() -> None:
    ours = edit(
        LOG4J2,
        (b"#appender.AUDIT_LOGFILE.name = AUDIT_LOGFILE", b"appender.AUDIT_LOGFILE.name = AUDIT"),
    )
    theirs = edit(
        LOG4J2,
        (
            b"#appender.AUDIT_LOGFILE.name = AUDIT_LOGFILE",
            b"appender.AUDIT_LOGFILE.name = AUDIT_LOGFILE",
        ),
    )
    result = merge_properties(LOG4J2, ours, theirs)
    assert conflicts(result) == [("appender.AUDIT_LOGFILE.name", None, "AUDIT", "AUDIT_LOGFILE")]
    assert merged_settings(result)["appender.AUDIT_LOGFILE.name"] == "AUDIT"


def test_every_upstream_deletion_is_applied_or_a_conflict() -> None:
    ours = edit(
        LOG4J2,
        (b"rootLogger.level = INFO", b"rootLogger.level = WARN"),
        (b"interval = 1", b"interval = 2"),
    )
    theirs = edit(
        LOG4J2,
        (b"rootLogger.appenderRef.CARBON_CONSOLE.ref = CARBON_CONSOLE\n", b""),  # deleted
        (b"appender.CARBON_LOGFILE.policies.time.interval = 1\n", b""),  # deleted, ours changed it
        (
            b"appender.CARBON_CONSOLE.layout.type = PatternLayout",
            b"#appender.CARBON_CONSOLE.layout.type = PatternLayout",
        ),
    )
    result = merge_properties(LOG4J2, ours, theirs)
    assert conflicts(result) == [("appender.CARBON_LOGFILE.policies.time.interval", "1", "2", None)]
    merged = merged_settings(result)
    assert "rootLogger.appenderRef.CARBON_CONSOLE.ref" not in merged
    assert "appender.CARBON_CONSOLE.layout.type" not in merged
    assert merged["appender.CARBON_LOGFILE.policies.time.interval"] == "2"
    # upstream's commented-out line takes the deleted key's place
    assert (
        b"CARBON_CONSOLE\n#appender.CARBON_CONSOLE.layout.type = PatternLayout\n\n" in result.merged
    )


def test_comments_both_sides_add_at_the_same_place_are_both_kept() -> None:
    ours = edit(
        LOG4J2,
        (
            b"rootLogger.level = INFO\n",
            b"rootLogger.level = INFO\n# operator: raised for ACME-42\n",
        ),
    )
    theirs = edit(
        LOG4J2,
        (b"rootLogger.level = INFO\n", b"rootLogger.level = INFO\n# see the logging guide\n"),
    )
    result = merge_properties(LOG4J2, ours, theirs)
    assert conflicts(result) == []
    assert b"# operator: raised for ACME-42\n" in result.merged
    assert b"# see the logging guide\n" in result.merged
    assert merged_settings(result) == read_properties(LOG4J2)


def test_the_same_comment_added_by_both_sides_is_kept_once() -> None:
    note = b"# level: OFF, ERROR, WARN, INFO, DEBUG\n"
    ours = edit(LOG4J2, (b"rootLogger.level = INFO\n", note + b"rootLogger.level = DEBUG\n"))
    theirs = edit(
        LOG4J2,
        (b"rootLogger.level = INFO\n", note + b"rootLogger.level = INFO\n"),
        (b"interval = 1", b"interval = 7"),
    )
    result = merge_properties(LOG4J2, ours, theirs)
    assert conflicts(result) == []
    assert result.merged.count(note) == 1
    assert result.merged == edit(ours, (b"interval = 1", b"interval = 7"))


# --- BOM (issue 16, item 4) ----------------------------------------------------------------------


def test_bom_is_kept_exactly_as_ours_has_it() -> None:
    theirs_change = (b"rootLogger.level = INFO", b"rootLogger.level = WARN")
    ours_change = (b"interval = 1", b"interval = 3")
    for base_bom in (b"", BOM):
        for ours_bom in (b"", BOM):
            for theirs_bom in (b"", BOM):
                base = base_bom + LOG4J2
                ours = ours_bom + edit(LOG4J2, ours_change)
                theirs = theirs_bom + edit(LOG4J2, theirs_change)
                result = merge(base, ours, theirs, path="repository/conf/log4j2.properties")
                label = (base_bom, ours_bom, theirs_bom)
                assert result.format == "properties" and result.fallback is None, label
                assert conflicts(result) == [], label
                assert result.merged == ours_bom + edit(LOG4J2, ours_change, theirs_change), label
