"""Importing WSO2 WUM update zips: layout, descriptors v2/v3, reconciliation, manifest changes.

The zips are built here with zipfile, shaped like wum-uc's output: one folder named after the
update, `carbon.home/`, descriptors with `update_number` unquoted (wum-uc strips its quotes).
"""

from __future__ import annotations

import dataclasses
import hashlib
import warnings
import zipfile
from pathlib import Path

import pytest

from tests.support.wum import CARBON, GONE, JAR, NAME, NEW, V2, build
from uplevel.core.manifest import Entry, Manifest
from uplevel.core.updateinfo import Fix
from uplevel.errors import BundleError, UnsafePathError, UsageError
from uplevel.repo.wum.reader import read_wum_zip, wum_changes

STRAY = "repository/conf/stray.xml"


V3 = f"""\
update_number: 0327
platform_version: 4.4.0
platform_name: wilkes
description: |
  Improves XML Signature Wrapping mitigation (wso2am-2.6.0, wso2is-km-5.7.0).
instructions: |
  Restart the server.
bug_fixes:
  IDENTITY-7331: XML Signature Wrapping (XSW) in the federated SAML SSO authenticator
  IDENTITY-7400: Clock skew is not configurable
compatible_products:
- product_name: wso2am
  product_version: 2.6.0
  added_files:
  - {NEW}
  removed_files:
  - {GONE}
  modified_files:
  - {JAR}
partially_applicable_products:
- product_name: wso2is-km
  product_version: 5.7.0
  added_files: []
  removed_files: []
  modified_files:
  - {JAR}
"""

# The sample update-descriptor3.yaml of WSO2's wum-uc developer guide, md5sum as published there.
NETTY = "repository/components/plugins/io.netty.handler_4.0.30.Final.jar"
OLTU = "repository/components/plugins/oltu_1.0.0.wso2v3.jar"
LCM = "repository/components/plugins/org.wso2.carbon.governance.lcm_4.7.0.jar"
GUIDE = f"""\
update_number: 2922
platform_version: 4.4.0
platform_name: wilkes
md5sum: 8f6e83731dc1da6634c6d24c92606d06
description: |
  Details about the update for wso2am-2.1.0.standard
instructions: |
  Instructions for wso2am-2.1.0.standard
bug_fixes:
  JIRA_ID: Summary
compatible_products:
- product_name: wso2am
  product_version: 2.1.0.standard
  added_files: []
  removed_files:
  - {LCM}
  modified_files:
  - {NETTY}
  - {OLTU}
partially_applicable_products:
- product_name: wso2am
  product_version: 2.0.0.standard
  added_files: []
  removed_files: []
  modified_files:
  - {NETTY}
  - {OLTU}
- product_name: wso2esb
  product_version: 5.0.0.standard
  added_files: []
  removed_files: []
  modified_files:
  - {NETTY}
- product_name: wso2is-km
  product_version: 5.3.0.standard
  added_files: []
  removed_files: []
  modified_files:
  - {OLTU}
"""


def refused(zip_path: Path, *fragments: str, product: str | None = None) -> str:
    with pytest.raises(BundleError) as info:
        read_wum_zip(zip_path, product=product)
    for fragment in fragments:
        assert fragment in info.value.message
    return info.value.message


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- descriptors -----------------------------------------------------------------------------


def test_v2_only(tmp_path: Path) -> None:
    u = read_wum_zip(build(tmp_path))
    assert (u.name, u.number, u.platform_version, u.platform_name) == (
        NAME,
        "0327",
        "4.4.0",
        "wilkes",
    )
    assert u.bug_fixes == (
        Fix(
            id="IDENTITY-7331",
            summary="XML Signature Wrapping in the federated SAML SSO authenticator",
        ),
        Fix(
            id="https://github.com/wso2/product-apim/issues/1563",
            summary="Assertion expiry not validated",
        ),
    )
    assert u.description.startswith("Improves XML Signature Wrapping mitigation")
    assert (u.added, u.modified, u.removed) == ((NEW,), (JAR,), (GONE,))
    assert u.products == ()
    assert u.applies_to == "wso2am-2.6.0, wso2is-km-5.7.0"
    assert u.instructions == ""
    assert u.read(JAR) == b"samlsso 5.1.1"


@pytest.mark.parametrize("number", ["0327", "0089", "0010"])
def test_update_number_is_text_though_unquoted(tmp_path: Path, number: str) -> None:
    name = f"WSO2-CARBON-UPDATE-4.4.0-{number}"
    z = build(
        tmp_path, v2=V2.replace("update_number: 0327", f"update_number: {number}"), folder=name
    )
    assert read_wum_zip(z).number == number


def test_v3_only_takes_the_products_lists(tmp_path: Path) -> None:
    z = build(tmp_path, v2=None, v3=V3)
    am = read_wum_zip(z, product="wso2am-2.6.0")
    assert (am.added, am.modified, am.removed) == ((NEW,), (JAR,), (GONE,))
    km = read_wum_zip(z, product="wso2is-km-5.7.0")
    assert (km.added, km.modified, km.removed) == ((), (JAR,), ())
    assert km.products == ("wso2am-2.6.0", "wso2is-km-5.7.0")
    assert km.instructions == "Restart the server."
    assert [f.id for f in km.bug_fixes] == ["IDENTITY-7331", "IDENTITY-7400"]


def test_v3_only_without_product_needs_one_when_several_are_listed(tmp_path: Path) -> None:
    refused(build(tmp_path, v2=None, v3=V3), "wso2am-2.6.0, wso2is-km-5.7.0", "which product")


def test_product_not_listed_is_refused_naming_the_listed_ones(tmp_path: Path) -> None:
    z = build(tmp_path, v2=None, v3=V3)
    refused(
        z, "wso2am-4.2.0 is not in", "listed: wso2am-2.6.0, wso2is-km-5.7.0", product="wso2am-4.2.0"
    )


def test_product_argument_must_be_name_version(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        read_wum_zip(build(tmp_path, v2=None, v3=V3), product="API Manager")


def test_guide_sample_md5sum_and_tagged_versions(tmp_path: Path) -> None:
    name = "WSO2-CARBON-UPDATE-4.4.0-2922"
    z = build(tmp_path, v2=None, v3=GUIDE, folder=name, carbon={NETTY: b"netty", OLTU: b"oltu"})
    u = read_wum_zip(z, product="wso2am-2.1.0")  # the entry's version is 2.1.0.standard
    assert (u.added, u.modified, u.removed) == ((), (NETTY, OLTU), (LCM,))
    assert u.products == (
        "wso2am-2.1.0.standard",
        "wso2am-2.0.0.standard",
        "wso2esb-5.0.0.standard",
        "wso2is-km-5.3.0.standard",
    )
    assert u.bug_fixes == (Fix(id="JIRA_ID", summary="Summary"),)
    assert read_wum_zip(z, product="wso2esb-5.0.0.standard").modified == (NETTY,)


def test_md5sum_that_does_not_match_the_lists_is_refused(tmp_path: Path) -> None:
    edited = GUIDE.replace(f"  modified_files:\n  - {OLTU}\n", "  modified_files: []\n")
    assert edited != GUIDE
    name = "WSO2-CARBON-UPDATE-4.4.0-2922"
    z = build(tmp_path, v2=None, v3=edited, folder=name, carbon={NETTY: b"netty", OLTU: b"oltu"})
    refused(z, "update-descriptor3.yaml: md5sum: 8f6e83731dc1da6634c6d24c92606d06 does not match")


def test_both_descriptors_agreeing(tmp_path: Path) -> None:
    u = read_wum_zip(build(tmp_path, v3=V3), product="wso2am-2.6.0")
    assert (u.added, u.modified, u.removed) == ((NEW,), (JAR,), (GONE,))
    assert u.description.endswith("(wso2am-2.6.0, wso2is-km-5.7.0).")  # v3's
    assert [f.id for f in u.bug_fixes] == [
        "IDENTITY-7331",
        "IDENTITY-7400",
        "https://github.com/wso2/product-apim/issues/1563",
    ]
    assert "(XSW)" in u.bug_fixes[0].summary  # the same id in both: v3's summary
    assert u.applies_to.startswith("wso2am-2.6.0")


def test_both_descriptors_partial_product_uses_its_own_lists(tmp_path: Path) -> None:
    u = read_wum_zip(build(tmp_path, v3=V3), product="wso2is-km-5.7.0")
    assert (u.added, u.modified, u.removed) == ((), (JAR,), ())


EXTRA_JAR = "repository/components/plugins/extra_1.0.0.jar"


@pytest.mark.parametrize(
    ("old", "new", "fragments"),
    [
        ("update_number: 0327", "update_number: 0328", ["update_number", "'0327'", "'0328'"]),
        (
            "platform_name: wilkes",
            "platform_name: hamming",
            ["platform_name", "'wilkes'", "'hamming'"],
        ),
        ("platform_version: 4.4.0", "platform_version: 4.4.1", ["platform_version", "'4.4.1'"]),
        (
            f"  modified_files:\n  - {JAR}\npartially",
            f"  modified_files:\n  - {JAR}\n  - {EXTRA_JAR}\npartially",
            [
                "update-descriptor.yaml: file_changes.modified_files and "
                "update-descriptor3.yaml: compatible_products[0].modified_files disagree",
                f"only in update-descriptor3.yaml: ['{EXTRA_JAR}']",
            ],
        ),
    ],
)
def test_descriptors_disagreeing_are_refused(
    tmp_path: Path, old: str, new: str, fragments: list[str]
) -> None:
    assert old in V3
    z = build(tmp_path, v3=V3.replace(old, new), carbon={**CARBON, EXTRA_JAR: b"x"})
    refused(z, *fragments, product="wso2am-2.6.0")


def test_a_side_left_empty_takes_the_other(tmp_path: Path) -> None:
    v2 = V2.replace("platform_name: wilkes", "platform_name:").replace(
        f"  added_files:\n  - {NEW}\n", "  added_files: []\n"
    )
    u = read_wum_zip(build(tmp_path, v2=v2, v3=V3), product="wso2am-2.6.0")
    assert u.platform_name == "wilkes"
    assert u.added == (NEW,)


def test_platform_name_missing_everywhere_is_refused(tmp_path: Path) -> None:
    v2 = V2.replace("platform_name: wilkes\n", "")
    refused(build(tmp_path, v2=v2), "update-descriptor.yaml: platform_name: missing")


def test_known_misspellings_are_accepted(tmp_path: Path) -> None:
    v2 = V2.replace("bug_fixes:", "bugfixes:").replace("added_files:", "added_file:")
    v3 = V3.replace("compatible_products:", "compatible_product:").replace(
        "partially_applicable_products:", "partial_applicable_products:"
    )
    u = read_wum_zip(build(tmp_path, v2=v2, v3=v3), product="wso2am-2.6.0")
    assert u.added == (NEW,)
    assert "https://github.com/wso2/product-apim/issues/1563" in [f.id for f in u.bug_fixes]
    assert u.products == ("wso2am-2.6.0", "wso2is-km-5.7.0")


def test_both_spellings_with_different_values_are_refused(tmp_path: Path) -> None:
    same = V2.replace("file_changes:\n", f"file_changes:\n  added_file:\n  - {NEW}\n")
    assert read_wum_zip(build(tmp_path, v2=same)).added == (NEW,)
    different = V2.replace("file_changes:\n", "file_changes:\n  added_file: []\n")
    refused(
        build(tmp_path, v2=different),
        "update-descriptor.yaml: file_changes.added_files: both 'added_files' and 'added_file'",
    )


def test_unknown_key_among_file_lists_is_refused(tmp_path: Path) -> None:
    v2 = V2.replace("modified_files:", "modifed_files:")
    refused(
        build(tmp_path, v2=v2), "update-descriptor.yaml: file_changes.modifed_files: unknown field"
    )


def test_product_entry_without_version_is_refused_naming_the_field(tmp_path: Path) -> None:
    v3 = V3.replace(
        "partially_applicable_products:",
        "- product_name: wso2am\n  modified_files: []\npartially_applicable_products:",
    )
    message = refused(build(tmp_path, v2=None, v3=v3), product="wso2am-2.6.0")
    assert message == "update-descriptor3.yaml: compatible_products[1].product_version: missing"


def test_path_in_two_lists_is_refused(tmp_path: Path) -> None:
    v2 = V2.replace(f"  removed_files:\n  - {GONE}\n", f"  removed_files:\n  - {NEW}\n")
    refused(build(tmp_path, v2=v2), f"'{NEW}' is in both added_files and removed_files")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("update_number: 0327\n  platform_version: [\n", "not valid YAML"),
        ("update_number: 0327\nupdate_number: 0328\n", "duplicate key"),
        ("- just\n- a list\n", "expected a mapping of fields"),
    ],
)
def test_malformed_descriptor_is_refused(tmp_path: Path, text: str, fragment: str) -> None:
    refused(build(tmp_path, v2=text), "update-descriptor.yaml", fragment)


def test_no_descriptor_is_refused(tmp_path: Path) -> None:
    refused(build(tmp_path, v2=None), "neither update-descriptor.yaml nor update-descriptor3.yaml")


def test_instructions_from_descriptor_and_instructions_txt(tmp_path: Path) -> None:
    txt = {f"{NAME}/instructions.txt": "Add <TimestampSkew>300</TimestampSkew>\r\nto the file.\r\n"}
    u = read_wum_zip(build(tmp_path, v3=V3, extra=txt), product="wso2am-2.6.0")
    assert (
        u.instructions
        == "Restart the server.\n\nAdd <TimestampSkew>300</TimestampSkew>\nto the file."
    )
    assert read_wum_zip(build(tmp_path, extra=txt)).instructions.endswith("\nto the file.")


# -- names and layout ------------------------------------------------------------------------


def test_number_disagreeing_with_the_name_is_refused(tmp_path: Path) -> None:
    z = build(tmp_path, folder="WSO2-CARBON-UPDATE-4.4.0-0328")
    refused(z, "update_number: update-descriptor.yaml says '0327'", "'0328'")


def test_renamed_zip_takes_the_name_from_its_folder(tmp_path: Path) -> None:
    assert read_wum_zip(build(tmp_path, zip_name="download (1).zip")).name == NAME


def test_folder_and_zip_names_must_not_disagree(tmp_path: Path) -> None:
    refused(build(tmp_path, zip_name="WSO2-CARBON-UPDATE-4.4.0-0326.zip"), "disagree")


def test_neither_name_matching_is_refused(tmp_path: Path) -> None:
    refused(build(tmp_path, folder="update", zip_name="update.zip"), "WSO2-CARBON-UPDATE-<kernel")


def test_file_in_carbon_home_that_no_list_mentions_is_refused(tmp_path: Path) -> None:
    refused(build(tmp_path, carbon={**CARBON, STRAY: b"<x/>"}), f"carbon.home/{STRAY} is in no")
    removed_but_shipped = {**CARBON, GONE: b"old"}
    refused(
        build(tmp_path, carbon=removed_but_shipped),
        "only in update-descriptor.yaml: file_changes.removed_files",
    )


def test_listed_file_missing_from_carbon_home_is_refused(tmp_path: Path) -> None:
    refused(
        build(tmp_path, carbon={JAR: b"samlsso"}),
        f"update-descriptor.yaml: file_changes.added_files: '{NEW}' is listed",
    )


@pytest.mark.parametrize(
    "member",
    [
        f"{NAME}/carbon.home/../../bin/evil.sh",
        f"/{NAME}/carbon.home/bin/evil.sh",
        f"{NAME}/carbon.home\\bin\\evil.sh",
        f"{NAME}/carbon.home/updates/uplevel/state.json",
    ],
)
def test_unsafe_member_is_refused(tmp_path: Path, member: str) -> None:
    with pytest.raises(UnsafePathError):
        read_wum_zip(build(tmp_path, extra={member: "x"}))


def test_unsafe_path_in_a_list_is_refused(tmp_path: Path) -> None:
    v2 = V2.replace(f"  - {GONE}\n", "  - ../../bin/evil.sh\n")
    with pytest.raises(UnsafePathError, match=r"file_changes\.removed_files\[0\]"):
        read_wum_zip(build(tmp_path, v2=v2))


def test_duplicate_member_is_refused(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns of the duplicate name
        z = build(tmp_path, extra={f"{NAME}/carbon.home/{JAR}": "other bytes"})
    refused(z, f"{NAME}/carbon.home/{JAR}' appears twice")


def test_second_top_folder_is_refused(tmp_path: Path) -> None:
    refused(build(tmp_path, extra={"__MACOSX/._x": "x"}), "one top folder", f"{NAME}, __MACOSX")


def test_member_outside_the_folder_is_refused(tmp_path: Path) -> None:
    refused(build(tmp_path, extra={"update-descriptor.yaml": V2}), "outside the update folder")


def test_unknown_file_in_the_folder_is_refused(tmp_path: Path) -> None:
    refused(build(tmp_path, extra={f"{NAME}/notes.md": "x"}), f"'{NAME}/notes.md' is not part")


def test_symlink_member_is_refused(tmp_path: Path) -> None:
    z = build(tmp_path)
    link = zipfile.ZipInfo(f"{NAME}/carbon.home/bin/wso2server.sh")
    link.external_attr = 0o120777 << 16
    with zipfile.ZipFile(z, "a") as zf:
        zf.writestr(link, "/etc/passwd")
    refused(z, "carbon.home/bin/wso2server.sh is a symlink")


def test_encrypted_member_is_refused(tmp_path: Path) -> None:
    z = build(tmp_path)
    data = bytearray(z.read_bytes())
    name = f"{NAME}/carbon.home/{JAR}".encode()
    header = data.index(name, data.index(b"PK\x01\x02")) - 46  # its central directory header
    data[header + 8] |= 0x1  # the "encrypted" flag: zipfile cannot write encrypted members
    z.write_bytes(bytes(data))
    refused(z, f"carbon.home/{JAR} is encrypted")


def test_file_that_is_also_a_folder_is_refused(tmp_path: Path) -> None:
    v2 = V2.replace(f"  - {NEW}\n", f"  - {NEW}\n  - {NEW}/inner.txt\n")
    z = build(tmp_path, v2=v2, carbon={**CARBON, f"{NEW}/inner.txt": b"x"})
    refused(z, f"carbon.home/{NEW} is both a file and a folder")


def test_read_refuses_a_zip_changed_since_it_was_validated(tmp_path: Path) -> None:
    z = build(tmp_path)
    u = read_wum_zip(z)
    z.unlink()
    build(tmp_path, carbon={JAR: b"swapped", NEW: b"xmlsec 2.1.4"})
    with pytest.raises(BundleError, match="changed since"):
        u.read(JAR)
    assert u.read(NEW) == b"xmlsec 2.1.4"


# -- manifest changes ------------------------------------------------------------------------


def base_manifest(**extra: Entry) -> Manifest:
    old = b"samlsso 5.1.0"
    return Manifest(
        {
            JAR: Entry(kind="file", mode=0o600, size=len(old), sha256=sha(old)),
            GONE: Entry(kind="file", mode=0o644, size=3, sha256=sha(b"old")),
            "repository/components/lib": Entry(kind="dir", mode=0o755),
            **extra,
        }
    )


def test_changes_against_a_base_tree(tmp_path: Path) -> None:
    u = read_wum_zip(build(tmp_path))
    changes = wum_changes(u, base_manifest(), default_mode=0o640)
    assert changes == {
        GONE: None,
        NEW: Entry(kind="file", mode=0o640, size=12, sha256=sha(b"xmlsec 2.1.4")),
        JAR: Entry(kind="file", mode=0o600, size=13, sha256=sha(b"samlsso 5.1.1")),
    }
    assert base_manifest().with_changes(changes)[JAR].mode == 0o600


def test_added_path_already_in_base_is_a_modification_keeping_its_mode(tmp_path: Path) -> None:
    base = base_manifest(**{NEW: Entry(kind="file", mode=0o755, size=1, sha256=sha(b"x"))})
    changes = wum_changes(read_wum_zip(build(tmp_path)), base)
    assert changes[NEW] == Entry(kind="file", mode=0o755, size=12, sha256=sha(b"xmlsec 2.1.4"))


@pytest.mark.parametrize("missing", [GONE, JAR])
def test_removed_or_modified_path_not_in_base_is_refused(tmp_path: Path, missing: str) -> None:
    base = Manifest({p: e for p, e in base_manifest().items() if p != missing})
    key = "removed_files" if missing == GONE else "modified_files"
    with pytest.raises(BundleError, match=f"{key}: '{missing}' is not in the base tree"):
        wum_changes(read_wum_zip(build(tmp_path)), base)


def test_added_path_that_is_a_directory_in_base_is_refused(tmp_path: Path) -> None:
    base = base_manifest(**{NEW: Entry(kind="dir", mode=0o755)})
    with pytest.raises(BundleError, match="is a dir in the base tree"):
        wum_changes(read_wum_zip(build(tmp_path)), base)


def test_changes_refuse_unsafe_paths(tmp_path: Path) -> None:
    u = dataclasses.replace(read_wum_zip(build(tmp_path)), removed=("../outside",))
    with pytest.raises(UnsafePathError):
        wum_changes(u, base_manifest())
