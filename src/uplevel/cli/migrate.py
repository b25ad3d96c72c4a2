"""`uplevel migrate`: parse, call commands.migrate, render. Nothing else.

Imported lazily by uplevel.cli.app.LazyGroup.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from uplevel.cli.options import SERVER_URL, force_option, json_option, server_options
from uplevel.cli.output import notes, progress, run

if TYPE_CHECKING:
    from uplevel.commands.migrate import MigrateResult

SHOWN = 200  # items listed in the human report (all of them with --json)
VERB = {
    "copy": "copied",
    "carry": "carried",
    "merge": "merged",
    "conflict": "CONFLICT",
    "skip": "skipped",
    "deleted": "deleted",
}


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)  # pragma: no cover


def _render(r: MigrateResult) -> None:
    notes(r.notes)
    how = {"state": "from its uplevel state", "given": "as given", "closest": "closest published"}
    click.echo(
        f"OLD {r.old_home}: {r.old_product} level {r.old_level} "
        f"({how.get(r.old_level_from, r.old_level_from)})"
    )
    for sc in r.closeness:
        click.echo(
            f"  level {sc['level']}: {sc['matching']} files match, {sc['differing']} differ, "
            f"{sc['missing']} missing"
        )
    click.echo(
        f"NEW {r.new_home}: {r.product} level {r.new_level} (pristine: {r.new_pristine_from})"
    )
    verb = "would be" if r.status == "dry-run" else "were"
    listed = [d for d in r.items if d["action"] != "skip"]
    for d in listed[:SHOWN]:
        extra = f" [{d['how']}]" if d.get("how") and d["how"] != "copied" else ""
        click.echo(
            f"  {VERB[d['action']]:9} {d['category']:8} {d['path']} — {d['reason']}"
            f" ({_size(d['bytes'])}){extra}"
        )
    if len(listed) > SHOWN:
        click.echo(f"  … and {len(listed) - SHOWN} more (see --json)")
    skipped: dict[str, int] = {}
    for d in r.items:
        if d["action"] == "skip":
            skipped[d["reason"]] = skipped.get(d["reason"], 0) + 1
    for reason, n in sorted(skipped.items()):
        click.echo(f"  skipped   {n} file(s) — {reason}")
    c, b = r.counts, r.bytes
    click.echo(
        f"{c['copy']} runtime file(s) {verb} copied ({_size(b['copied'])}), {c['carry']} carried "
        f"({_size(b['carried'])}), {c['merge']} merged, {c['conflict']} conflict(s), "
        f"{c['skip']} skipped, {c['deleted']} deleted in OLD (not deleted in NEW)"
    )
    if r.links and (r.links.get("reflinked") or r.links.get("hardlinked")):
        click.echo(
            f"linked: {r.links['reflinked']} reflinked, {r.links['hardlinked']} hardlinked, "
            f"{r.links['copied']} copied"
        )
    for conflict in r.conflicts:
        click.echo(f"  conflict  {conflict['path']}: {conflict['reason']}")
        for st in conflict.get("settings", []):
            click.echo(
                f"            {st['path']}: original {st['base']!r}, "
                f"OLD {st['ours']!r}, NEW {st['theirs']!r}"
            )
    if r.status == "conflicts":
        click.echo(
            f"stopped on {len(r.conflicts)} conflict(s): in NEW, each f holds OLD's file, beside "
            "f.original, f.new and f.merge; write each f.final, then "
            f"`uplevel continue --home {r.new_home}`, or `uplevel abort --home {r.new_home}`"
        )
    elif r.status == "migrated":
        click.echo(f"migrated into {r.new_home}; `uplevel status` there lists what was carried")


@click.command()
@click.option(
    "--from",
    "old",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The old home (its server stopped).",
)
@click.option(
    "--to",
    "new",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The new home, e.g. an unzipped `uplevel pack`.",
)
@click.option(
    "--repo",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="A local repository that supplies pristine trees and files the homes do not hold.",
)
@click.option(
    "--server", type=SERVER_URL, help="An update server that supplies them (TUF-verified)."
)
@click.option("--product", help="OLD's product (NAME-VERSION) when OLD was never adopted.")
@click.option("--from-level", type=int, help="OLD's level when OLD was never adopted.")
@click.option(
    "--to-level", type=int, help="NEW's level when NEW was never adopted (default: identified)."
)
@click.option(
    "--link",
    is_flag=True,
    help="Reflink, else hardlink, runtime files when both homes share a filesystem.",
)
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@force_option
@server_options
@json_option
@click.pass_context
def migrate(
    ctx: click.Context,
    old: Path,
    new: Path,
    repo: Path | None,
    server: str | None,
    product: str | None,
    from_level: int | None,
    to_level: int | None,
    link: bool,
    dry_run: bool,
    force: bool,
    token_file: Path | None,
    ca_bundle: Path | None,
    as_json: bool,
) -> None:
    """Carry a stopped old home's runtime data, additions and customised configuration into a
    new home (exit 3 on conflicts: resolve in NEW, then `uplevel continue` or `abort`)."""
    from uplevel.commands import migrate as use_case

    with run(ctx, "migrate", as_json) as out, progress("copying", None, not as_json) as cb:
        r = use_case.migrate(
            old,
            new,
            repo=repo,
            server=server,
            product=product,
            from_level=from_level,
            to_level=to_level,
            link=link,
            dry_run=dry_run,
            force=force,
            token_file=token_file,
            ca_bundle=ca_bundle,
            progress=cb,
        )
        out.finish(r, _render, r.exit_code)
