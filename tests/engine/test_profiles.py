"""Product profiles: the shipped data files, variants per release line, operator overrides."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from uplevel.core.profile import parse_profile
from uplevel.engine.profiles import load_profiles, profile_for
from uplevel.errors import BusyError, UsageError


def test_shipped_profiles_parse_and_generic_is_last() -> None:
    names = [p.name for p in load_profiles()]
    assert {"wso2am", "wso2is", "generic"} <= set(names)
    assert names[-1] == "generic"


@pytest.mark.parametrize(
    ("product", "start", "solr_whole"),
    [
        ("wso2am-2.6.0", "sh bin/wso2server.sh start", True),
        ("wso2am-3.2.0", "sh bin/wso2server.sh start", False),
        ("wso2am-4.2.0", "sh bin/api-manager.sh start", False),
    ],
)
def test_wso2am_variants_per_release_line(product: str, start: str, solr_whole: bool) -> None:
    p = profile_for(product)
    assert p.name == "wso2am"
    assert p.start == start
    assert p.is_runtime("solr/indexed-data/segments_1") is solr_whole
    assert p.is_runtime("solr/data/index/_0.cfs")


def test_wso2am_artifact_lists() -> None:
    p = profile_for("wso2am-4.2.0")
    for runtime in (
        "repository/deployment/server/synapse-configs/default/api/A.xml",
        "repository/deployment/server/userstores/ldap.xml",
        "repository/tenants/1/x",
        "repository/data/carbon.db",
        "repository/database/WSO2CARBON_DB.mv.db",
        "repository/database/WSO2CARBON_DB.h2.db",
    ):
        assert p.is_runtime(runtime), runtime
    for not_runtime in (
        "repository/database/WSO2CARBON_DB.lock.db",
        "repository/database/WSO2CARBON_DB.trace.db",
        "repository/conf/deployment.toml",
        "lib/x.jar",
    ):
        assert not p.is_runtime(not_runtime), not_runtime
    assert p.is_config("repository/conf/deployment.toml")
    assert p.is_config("repository/resources/security/wso2carbon.jks")
    assert p.is_config("bin/api-manager.sh")
    assert p.is_addition("repository/components/lib/mysql-connector-j-8.4.0.jar")
    assert p.is_addition("repository/components/dropins/custom_handler.jar")
    assert not p.is_addition("repository/components/plugins/org.wso2.carbon.core.jar")


def test_other_products_fall_back_to_generic_and_wso2is_resolves() -> None:
    assert profile_for("acme-1.0").name == "generic"
    assert profile_for("wso2is-7.0.0").health_url.endswith("/health")
    assert profile_for("wso2is-5.11.0").health_url.endswith("/services/Version")


def test_operator_profile_dir_shadows_and_adds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "acme.toml").write_text(
        'name = "acme"\nproducts = ["acme-*"]\npid_file = "run/acme.pid"\n'
        'runtime = ["data/**"]\nhealth_command = "test -f run/ok"\n'
    )
    (tmp_path / "wso2am.toml").write_text('name = "wso2am"\nproducts = ["wso2am-*"]\n')
    monkeypatch.setenv("UPLEVEL_PROFILES", str(tmp_path))
    acme = profile_for("acme-2.0")
    assert (acme.name, acme.pid_file, acme.health_command) == (
        "acme",
        "run/acme.pid",
        "test -f run/ok",
    )
    assert acme.is_runtime("data/x/y")
    assert profile_for("wso2am-4.2.0").source == str(tmp_path / "wso2am.toml")


@pytest.mark.parametrize(
    "text",
    [
        "name = 1\nproducts = []",
        'name = "x"\nproducts = "x-*"',
        'name = "x"\nproducts = ["x"]\nruntime = "data"',
        'name = "x"\nproducts = ["x"]\nhealth_timeout = -1',
        'name = "x"\nproducts = ["x"]\nunknown = 1',
        'name = "x"\nproducts = ["x"]\n[[variant]]\nstart = "a"',
        "name = [",
    ],
)
def test_malformed_profiles_are_usage_errors_naming_the_file(text: str) -> None:
    with pytest.raises(UsageError, match=r"bad\.toml"):
        parse_profile(text, "bad.toml")


def test_a_zombie_in_the_pid_file_is_not_a_running_product(tmp_path: Path) -> None:
    """A product that exited but was not reaped yet must not block the home (exit 4)."""
    import subprocess
    import time

    from uplevel.core.profile import Profile
    from uplevel.engine.running import check_stopped

    child = subprocess.Popen(["true"])  # exits at once; not waited for, so a zombie
    try:
        for _ in range(200):
            stat = Path(f"/proc/{child.pid}/stat").read_text()
            if stat[stat.rfind(")") + 2] == "Z":
                break
            time.sleep(0.01)
        else:
            pytest.fail("the child never became a zombie")
        (tmp_path / "p.pid").write_text(f"{child.pid}\n")
        check_stopped(tmp_path, Profile(name="t", products=("t",), pid_file="p.pid"), force=False)
    finally:
        child.wait()
    (tmp_path / "p.pid").write_text(f"{os.getpid()}\n")
    with pytest.raises(BusyError, match="running"):
        check_stopped(tmp_path, Profile(name="t", products=("t",), pid_file="p.pid"), force=False)
