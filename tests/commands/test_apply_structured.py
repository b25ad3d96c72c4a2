"""apply merges configuration files by structure and reports conflicting settings."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

from tests.support.homes import run_cli
from uplevel.devtools.sample import PRODUCT, write_level

TOML = "repository/conf/deployment.toml"
OLD_URL = 'url = "jdbc:h2:./repository/database/WSO2AM_DB;DB_CLOSE_ON_EXIT=FALSE"'


def _trees(tmp: Path) -> tuple[Path, Path]:
    old, new = tmp / "old", tmp / "new"
    old.mkdir()
    write_level(old, 0)
    shutil.copytree(old, new, symlinks=True)
    conf = new / TOML
    text = conf.read_text().replace(OLD_URL, OLD_URL.replace("FALSE", "TRUE"))
    conf.write_text(text + "\n[apim.ai]\nenable = true\n")
    return old, new


def _adopted(tmp: Path, old: Path, new: Path) -> tuple[Path, Path]:
    bundle = tmp / "u.bundle"
    run_cli(
        "bundle",
        "create",
        "--product",
        PRODUCT,
        "--from-tree",
        old,
        "--to-tree",
        new,
        "--from-level",
        "0",
        "--to-level",
        "1",
        "--title",
        "db",
        "-o",
        bundle,
        check=0,
    )
    home = tmp / "home"
    shutil.copytree(old, home, symlinks=True)
    run_cli("init", "--home", home, "--product", PRODUCT, check=0)
    return home, bundle


def _move_database_table_first(text: str) -> str:
    """The operator's reordering: a line merge cannot follow it."""
    start = text.index("[database.apim_db]")
    end = text.index("[keystore.tls]")
    return text[start:end] + text[:start] + text[end:]


def test_reordered_and_customised_toml_merges_cleanly(tmp_path: Path) -> None:
    old, new = _trees(tmp_path)
    home, bundle = _adopted(tmp_path, old, new)
    conf = home / TOML
    conf.write_text(
        _move_database_table_first(conf.read_text()).replace('"localhost"', '"apim.example.com"')
    )
    r = run_cli("apply", "--home", home, bundle, "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    merged = tomllib.loads(conf.read_text())
    assert merged["server"]["hostname"] == "apim.example.com"
    assert merged["database"]["apim_db"]["url"].endswith("DB_CLOSE_ON_EXIT=TRUE")
    assert merged["apim"]["ai"] == {"enable": True}
    assert conf.read_text().index("[database.apim_db]") < conf.read_text().index("[server]")


def test_same_setting_changed_differently_is_a_named_conflict(tmp_path: Path) -> None:
    old, new = _trees(tmp_path)
    home, bundle = _adopted(tmp_path, old, new)
    conf = home / TOML
    mysql = 'url = "jdbc:mysql://db.example.com:3306/apim"'
    conf.write_text(conf.read_text().replace(OLD_URL, mysql))
    r = run_cli("apply", "--home", home, bundle, "--json")
    assert r.returncode == 3, r.stdout + r.stderr
    (conflict,) = r.json["result"]["conflicts"]
    assert conflict["format"] == "toml"
    (setting,) = conflict["settings"]
    assert setting["path"] == "database.apim_db.url"
    assert setting["ours"] == "jdbc:mysql://db.example.com:3306/apim"
    assert setting["theirs"].endswith("DB_CLOSE_ON_EXIT=TRUE")
    # f.merge keeps the operator's value and every other upstream change
    proposal = tomllib.loads((home / (TOML + ".merge")).read_text())
    assert proposal["database"]["apim_db"]["url"] == "jdbc:mysql://db.example.com:3306/apim"
    assert proposal["apim"]["ai"] == {"enable": True}
    status = run_cli("status", "--home", home, "--json", check=0).json["result"]
    assert status["pending"]["conflicts"][0]["settings"][0]["path"] == "database.apim_db.url"
    human = run_cli("status", "--home", home, check=0).stdout
    assert "database.apim_db.url" in human and "db.example.com" in human
