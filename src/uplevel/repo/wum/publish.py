"""Publishing a real WSO2 update zip (wum-uc format) as the next level of a product."""

from __future__ import annotations

from pathlib import Path

from uplevel.core.updateinfo import Advisory, Fix
from uplevel.errors import UsageError
from uplevel.repo.state import open_repo
from uplevel.repo.update import AddUpdateResult, UpdateDetails, add_update_from_changes
from uplevel.repo.wum.reader import read_wum_zip, wum_changes


def add_update_from_wum(
    repo: Path,
    *,
    product: str,
    wum_zip: Path,
    security: bool = False,
    title: str = "",
    description: str = "",
    fixes: tuple[Fix, ...] = (),
    advisories: tuple[Advisory, ...] = (),
    instructions: str = "",
) -> AddUpdateResult:
    """The zip's file lists for `product` become changes against the full channel's current
    pristine tree; fields left empty take the zip's descriptor (title: the update's name)."""
    update = read_wum_zip(wum_zip, product=product)
    with open_repo(repo) as r:
        current = r.pristine(product, "full")
    if current is None:
        raise UsageError(
            f"product {product} is not in {repo}",
            hint=f"add its base pack first: `uplevel repo add-product {repo} --pack ZIP --product {product}`",
        )
    base = current.manifest
    changes = wum_changes(update, base)
    source = {e.sha256: p for p, e in changes.items() if e is not None and e.kind == "file"}
    details = UpdateDetails(
        title=title or update.name,
        description=description or update.description,
        fixes=fixes or update.bug_fixes,
        advisories=advisories,
        instructions=instructions or update.instructions,
    )
    return add_update_from_changes(
        repo, product, changes, base, lambda sha: update.read(source[sha]), details, security
    )
