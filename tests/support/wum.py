"""WSO2 update zips (wum-uc format) built for the tests: a Carbon product and its files."""

from __future__ import annotations

import zipfile
from pathlib import Path

NAME = "WSO2-CARBON-UPDATE-4.4.0-0327"
NEW = "repository/components/lib/xmlsec_2.1.4.jar"
JAR = "repository/components/plugins/org.wso2.carbon.identity.application.authenticator.samlsso_5.1.1.jar"
GONE = "repository/components/plugins/xmlsec_1.5.8.jar"

V2 = f"""\
update_number: 0327
platform_version: 4.4.0
platform_name: wilkes
applies_to: wso2am-2.6.0, wso2is-km-5.7.0
bug_fixes:
  N/A: N/A
  IDENTITY-7331: XML Signature Wrapping in the federated SAML SSO authenticator
  https://github.com/wso2/product-apim/issues/1563: Assertion expiry not validated
description: |-
  Improves XML Signature Wrapping mitigation and SAML assertion expiry validation.
file_changes:
  added_files:
  - {NEW}
  removed_files:
  - {GONE}
  modified_files:
  - {JAR}
"""

CARBON = {JAR: b"samlsso 5.1.1", NEW: b"xmlsec 2.1.4"}


def build(
    tmp_path: Path,
    *,
    v2: str | None = V2,
    v3: str | None = None,
    carbon: dict[str, bytes] | None = None,
    extra: dict[str, str] | None = None,
    folder: str = NAME,
    zip_name: str | None = None,
) -> Path:
    """A wum-uc-shaped zip; `extra` members are added by their full member names."""
    path = tmp_path / (zip_name or f"{folder}.zip")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{folder}/", b"")
        zf.writestr(f"{folder}/carbon.home/", b"")
        for rel, data in (CARBON if carbon is None else carbon).items():
            zf.writestr(f"{folder}/carbon.home/{rel}", data)
        zf.writestr(f"{folder}/LICENSE.txt", "WSO2 update license\n")
        if v2 is not None:
            zf.writestr(f"{folder}/update-descriptor.yaml", v2)
        if v3 is not None:
            zf.writestr(f"{folder}/update-descriptor3.yaml", v3)
        for member, text in (extra or {}).items():
            zf.writestr(member, text)
    return path
