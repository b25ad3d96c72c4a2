"""The migration planner (pure): one decision per path of the old home, and the profile's
path lists compiled with exactly the meaning Profile gives them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from uplevel.core.manifest import Entry
from uplevel.core.migrate_plan import category, counts, decide, differs, excluded, plan_migration
from uplevel.engine.profiles import load_profiles, profile_for

AM = profile_for("wso2am-4.2.0")


def f(seed: str, size: int = 10, mode: int = 0o644) -> Entry:
    import hashlib

    return Entry(
        kind="file", mode=mode, size=size, sha256=hashlib.sha256(seed.encode()).hexdigest()
    )


# --- the profile's globs, compiled -----------------------------------------------------------

PARTS = st.sampled_from(
    ["repository", "conf", "deployment", "server", "tenants", "1", "database", "solr", "data",
     "components", "lib", "dropins", "bin", "x.jar", "a.xml", "WSO2AM_DB.mv.db", "db.h2.db",
     "DB.lock.db", "t.trace.db", "deployment.toml", "wso2server.sh", "k.jks", "f.tmp", "readme",
     "resources", "security", "conf.j2"]
)  # fmt: skip


@given(st.lists(PARTS, min_size=1, max_size=6))
def test_compiled_globs_mean_what_profile_says(parts: list[str]) -> None:
    path = "/".join(parts)
    for name in {p.name for p in load_profiles()}:
        for product in ("wso2am-2.6.0", "wso2am-4.2.0", "wso2is-7.0.0", "other-1.0"):
            p = next(x for x in load_profiles() if x.name == name).for_product(product)
            want = (
                "runtime"
                if p.is_runtime(path)
                else "config"
                if p.is_config(path)
                else "addition"
                if p.is_addition(path)
                else "other"
            )
            assert category(p, path) == want, (name, product, path)
            assert excluded(p, path) == p.is_runtime_excluded(path), (name, path)


# --- decisions ----------------------------------------------------------------------------------

WAR = "repository/deployment/server/webapps/am#sample.war"
CONF = "repository/conf/deployment.toml"
JAR = "repository/components/lib/driver.jar"


@pytest.mark.parametrize(
    ("path", "base", "old", "new", "action"),
    [
        # A webapp the update replaced in NEW and OLD never touched: NEW's stays.
        (WAR, f("war"), f("war"), f("war-2"), "skip"),
        # Runtime data the server changed or added: copied, even over NEW's newer one.
        (WAR, f("war"), f("war-hot", 12), f("war-2"), "copy"),
        ("repository/database/WSO2AM_DB.mv.db", None, f("db", 99), None, "copy"),
        ("solr/data/index/_0.cfs", None, f("seg"), None, "copy"),
        # Lock, trace and temporary files: never.
        ("repository/database/WSO2AM_DB.trace.db", None, f("trace"), None, "skip"),
        ("repository/database/WSO2AM_DB.lock.db", None, f("lock"), None, "skip"),
        ("repository/logs/wso2carbon.log", None, f("log"), None, "skip"),
        ("tmp/work/compiled.class", None, f("tmp"), None, "skip"),
        ("wso2carbon.pid", None, f("pid"), None, "skip"),
        # Configuration changed in OLD only: carried; changed on both sides: merged.
        (CONF, f("c0"), f("c-op", 11), f("c0"), "carry"),
        (CONF, f("c0"), f("c-op", 11), f("c1", 12), "merge"),
        (CONF, f("c0"), f("c-op", 11), None, "conflict"),
        (CONF, None, f("c-op"), f("c-new", 13), "conflict"),
        # Additions: carried; the same bytes already in NEW: nothing to do.
        (JAR, None, f("jar", 5000), None, "carry"),
        (JAR, None, f("jar", 5000), f("jar", 5000), "skip"),
        # Deleted in OLD: reported, never applied.
        (CONF, f("c0"), None, f("c1"), "deleted"),
        # A directory in NEW where OLD has a file: a conflict, not a silent replace.
        (JAR, None, f("jar"), Entry(kind="dir", mode=0o755), "conflict"),
    ],
)
def test_decide(
    path: str, base: Entry | None, old: Entry | None, new: Entry | None, action: str
) -> None:
    assert decide(path, base, old, new, AM).action == action


def test_unhashed_files_differ_by_size_or_mode_only() -> None:
    unhashed = Entry(kind="file", mode=0o644, size=10)
    assert differs(unhashed, f("x", 11))
    assert differs(unhashed, f("x", 10, 0o600))
    with pytest.raises(ValueError, match="not hashed"):
        differs(unhashed, f("x", 10))


def test_plan_covers_old_tree_and_pristine_and_counts() -> None:
    base = {CONF: f("c0"), "README.txt": f("r"), WAR: f("war")}
    old = {CONF: f("c-op", 11), WAR: f("war"), JAR: f("jar")}
    new = {CONF: f("c0"), WAR: f("war-2"), JAR: None}
    items = plan_migration(base, old, new, AM)
    assert [(i.path, i.action) for i in items] == [
        ("README.txt", "deleted"),
        (JAR, "carry"),
        (CONF, "carry"),
        (WAR, "skip"),
    ]
    assert counts(items) == {
        "copy": 0,
        "carry": 2,
        "merge": 0,
        "conflict": 0,
        "skip": 1,
        "deleted": 1,
    }
