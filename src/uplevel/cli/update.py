"""Bringing a home to a newer level: apply, continue, abort, update, check, summary, export,
login.

Parse, call one use case (uplevel.commands), render its typed result.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from uplevel.cli.options import (
    LEVEL,
    SERVER_URL,
    allow_special_option,
    force_option,
    home_option,
    json_option,
    server_options,
)
from uplevel.cli.output import notes, progress, run
from uplevel.errors import UplevelError

if TYPE_CHECKING:
    from uplevel.commands.apply import ApplyResult, SettleResult


def _render_apply(r: ApplyResult) -> None:
    notes(r.notes)
    c = r.counts
    head = {
        "dry-run": "would bring",
        "applied": "brought",
        "conflicts": "stopped bringing",
    }[r.status]
    click.echo(f"{head} {r.home} from level {r.from_level} to {r.to_level}")
    for u in r.updates:
        click.echo(
            f"  level {u['level']}: {u['title']}" + (" [security]" if u.get("security") else "")
        )
    click.echo(
        f"  {c.get('take', 0)} replaced or added, {c.get('remove', 0)} removed, {c.get('merged', 0)} merged, "
        f"{c.get('keep', 0)} kept as changed locally, {c.get('conflict', 0)} conflict(s)"
    )
    if r.status == "dry-run":
        for d in r.plan:
            if d["action"] != "noop":
                click.echo(f"  {d['action']:8} {d['path']}  ({d['reason']})")
    for cf in r.conflicts:
        click.echo(f"  CONFLICT {cf['path']}: {cf['reason']}")
        for st in cf.get("settings", []):
            click.echo(
                f"           {st['path']}: original {st['base']!r}, local {st['ours']!r}, "
                f"new {st['theirs']!r}"
            )
        if cf["helpers"]:
            click.echo(f"           see {', '.join(cf['helpers'])}; write {cf['path']}.final")
    if r.status == "conflicts":
        click.echo("resolve each conflict, then run `uplevel continue` (or `uplevel abort`)")


@click.command()
@home_option
@click.argument("bundle", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option(
    "--on-conflict",
    type=click.Choice(["stop", "new", "local"]),
    default="stop",
    show_default=True,
    help="stop: leave f.original/f.new/f.merge and exit 3; new/local: take that side "
    "(the other stays in the backup store).",
)
@click.option(
    "--max-age",
    help="Signed bundles: accept one up to this long after its signed timestamp expired "
    "(e.g. 30d, 12h; 0: only while it is valid, as online).  [default: 30d]",
)
@allow_special_option
@force_option
@json_option
@click.pass_context
def apply(
    ctx: click.Context,
    home: Path,
    bundle: Path,
    dry_run: bool,
    on_conflict: str,
    max_age: str | None,
    allow_special: bool,
    force: bool,
    as_json: bool,
) -> None:
    """In-place update from an offline BUNDLE.

    A signed bundle (`uplevel export`) is verified against the root this home pinned at
    `init --server`, exactly as an online update; an unsigned one (`uplevel bundle create`)
    by its hashes.
    """
    from uplevel.commands import apply as update

    with run(ctx, "apply", as_json) as out, progress("staging", None, not as_json) as cb:
        r = update.apply(
            home,
            bundle,
            max_age=max_age,
            dry_run=dry_run,
            on_conflict=on_conflict,  # type: ignore[arg-type]
            force=force,
            allow_special=allow_special,
            progress=cb,
        )
        out.finish(r, _render_apply, r.exit_code)


def _render_settle(r: SettleResult) -> None:
    notes(r.notes)
    if r.status == "conflicts":
        click.echo(f"still {len(r.unresolved)} conflict(s) without a .final file:")
        for p in r.unresolved:
            click.echo(f"  {p}  (write {p}.final)")
    elif r.status == "aborted":
        click.echo(f"aborted: {r.home} is back at level {r.level} exactly as before the update")
        for k in r.kept:
            click.echo(f"  {k} was moved to the backup store")
    else:
        click.echo(f"update finished: {r.home} is at level {r.level}")
        for x in r.resolved:
            click.echo(f"  {x['path']}: took {x['from']}")


@click.command(name="continue")
@home_option
@click.option(
    "--take",
    type=click.Choice(["new", "local"]),
    help="Resolve conflicts that have no f.final to one side.",
)
@force_option
@json_option
@click.pass_context
def continue_cmd(
    ctx: click.Context, home: Path, take: str | None, force: bool, as_json: bool
) -> None:
    """Finish an update stopped on conflicts, taking each f.final."""
    from uplevel.commands import apply as update

    with run(ctx, "continue", as_json) as out:
        r = update.continue_(home, take=take, force=force)  # type: ignore[arg-type]
        out.finish(r, _render_settle, r.exit_code)


@click.command()
@home_option
@force_option
@json_option
@click.pass_context
def abort(ctx: click.Context, home: Path, force: bool, as_json: bool) -> None:
    """Undo an update stopped on conflicts: the home returns to its bytes before it."""
    from uplevel.commands import apply as update

    with run(ctx, "abort", as_json) as out:
        r = update.abort(home, force=force)
        out.finish(r, _render_settle, r.exit_code)


@click.command()
@home_option
@click.option(
    "--exit-code",
    "exit_code",
    is_flag=True,
    help="For monitoring: exit 0 when the home is at the newest level, 100 when updates are "
    "pending, 101 when security updates are pending; errors keep their codes (1, 2, 4).",
)
@click.option(
    "--prometheus",
    "metrics_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write FILE for node_exporter's textfile collector (replaced atomically): "
    "uplevel_level, uplevel_latest_level, uplevel_security_pending, uplevel_local_changes.",
)
@server_options
@json_option
@click.pass_context
def check(
    ctx: click.Context,
    home: Path,
    exit_code: bool,
    metrics_file: Path | None,
    token_file: Path | None,
    ca_bundle: Path | None,
    as_json: bool,
) -> None:
    """Levels available on the server, with a summary.

    With --exit-code: 0 current, 100 updates pending, 101 security updates pending."""
    from uplevel.commands import update as online

    def human(r: online.CheckResult) -> None:
        if not r.available:
            click.echo(f"{r.product} is up to date at level {r.level} ({r.channel} channel)")
            return
        d = r.to_dict()
        sev = f", highest severity {d['highest_severity']}" if d["highest_severity"] else ""
        click.echo(
            f"{r.product} at level {r.level}: {len(r.available)} update(s) available up to level "
            f"{r.available[-1]} ({d['security_updates']} security{sev})"
        )
        for u in d["updates"]:
            click.echo(
                f"  level {u['level']}: {u['title']}" + (" [security]" if u["security"] else "")
            )

    with run(ctx, "check", as_json) as out:
        r = online.check(
            home, token_file=token_file, ca_bundle=ca_bundle, count_local=metrics_file is not None
        )
        if metrics_file is not None:
            online.write_metrics(metrics_file, r)
        out.finish(r, human, r.exit_code if exit_code else 0, ok=True)


@click.command()
@home_option
@click.option("--level", type=LEVEL, help="The level to go to (default: the newest).")
@click.option("--dry-run", is_flag=True, help="Print the plan; download and change nothing.")
@click.option(
    "--on-conflict", type=click.Choice(["stop", "new", "local"]), default="stop", show_default=True
)
@force_option
@server_options
@json_option
@click.pass_context
def update(
    ctx: click.Context,
    home: Path,
    level: int | None,
    dry_run: bool,
    on_conflict: str,
    force: bool,
    token_file: Path | None,
    ca_bundle: Path | None,
    as_json: bool,
) -> None:
    """In-place update from the server: verified download, then apply."""
    from uplevel.commands import update as online

    def human(r: online.UpdateResult) -> None:
        if r.apply is None:
            click.echo(f"up to date at level {r.level}")
            return
        t = r.downloaded
        if any(t.values()):
            click.echo(
                f"fetched {t.get('downloaded', 0):,} bytes; {t.get('copied', 0):,} bytes reused from the home, "
                f"{t.get('cached', 0):,} from an earlier attempt"
            )
        _render_apply(r.apply)

    with run(ctx, "update", as_json) as out, progress("downloading", None, not as_json) as cb:
        r = online.update(
            home,
            level=level,
            dry_run=dry_run,
            on_conflict=on_conflict,  # type: ignore[arg-type]
            force=force,
            token_file=token_file,
            ca_bundle=ca_bundle,
            progress=cb,
        )
        out.finish(r, human, r.exit_code)


@click.command()
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    help="An adopted home (its server and product).",
)
@click.option(
    "--server", type=SERVER_URL, help="Server URL (with --product, when no home is given)."
)
@click.option("--product", help="NAME-VERSION (with --server).")
@click.option(
    "--channel", type=click.Choice(["full", "security"]), default="full", show_default=True
)
@click.option("--from", "from_level", type=int, required=True)
@click.option("--to", "to_level", type=int, required=True)
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
@server_options
@click.pass_context
def summary(
    ctx: click.Context,
    home: Path | None,
    server: str | None,
    product: str | None,
    channel: str,
    from_level: int,
    to_level: int,
    fmt: str,
    token_file: Path | None,
    ca_bundle: Path | None,
) -> None:
    """Changelog between two levels: fixes, advisories, instructions, files."""
    from uplevel.commands import update as online

    with run(ctx, "summary", fmt == "json") as out:
        log = online.summary(
            home_dir=home,
            server=server,
            product=product,
            channel=channel,
            from_level=from_level,
            to_level=to_level,
            token_file=token_file,
            ca_bundle=ca_bundle,
        )
        out.finish(log, lambda r: click.echo(r.to_markdown()))


@click.command()
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    help="An adopted home: its server, product, channel, pinned root and token.",
)
@click.option(
    "--server", type=SERVER_URL, help="Server URL (with --product, when no home is given)."
)
@click.option("--product", help="NAME-VERSION (with --server).")
@click.option(
    "--channel",
    type=click.Choice(["full", "security"]),
    help="With --server (default full); a home's own channel otherwise.",
)
@click.option("--from", "from_level", type=int, required=True, help="The level the site is at.")
@click.option("--to", "to_level", type=int, required=True, help="The level to bring it to.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The signed bundle file to write.",
)
@server_options
@json_option
@click.pass_context
def export(
    ctx: click.Context,
    home: Path | None,
    server: str | None,
    product: str | None,
    channel: str | None,
    from_level: int,
    to_level: int,
    output: Path,
    token_file: Path | None,
    ca_bundle: Path | None,
    as_json: bool,
) -> None:
    """Write a signed bundle (TUF metadata + the contents needed) for an air-gapped site.

    Everything is verified while it is fetched; `uplevel apply FILE` on the site verifies
    it again against the root that home pinned.
    """
    from uplevel.commands import export as export_cmd

    def human(r: export_cmd.ExportResult) -> None:
        click.echo(
            f"wrote {r.output}: {r.product} ({r.channel}) level {r.from_level} to {r.to_level}, "
            f"{r.blobs} contents, {r.bytes:,} bytes"
        )
        for u in r.updates:
            click.echo(
                f"  level {u['level']}: {u['title']}" + (" [security]" if u["security"] else "")
            )
        click.echo(
            f"signed by root version {r.root_version}; timestamp version {r.timestamp_version} "
            f"valid until {r.timestamp_expires}; apply before {r.apply_before} "
            "(default --max-age of `uplevel apply`)"
        )

    with run(ctx, "export", as_json) as out, progress("downloading", None, not as_json) as cb:
        r = export_cmd.export(
            home_dir=home,
            server=server,
            product=product,
            channel=channel,
            from_level=from_level,
            to_level=to_level,
            output=output,
            token_file=token_file,
            ca_bundle=ca_bundle,
            progress=cb,
        )
        out.finish(r, human)


@click.command()
@click.option("--server", type=SERVER_URL, required=True, help="Server URL.")
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Read the token from this file (else it is asked for, without echo).",
)
@json_option
@click.pass_context
def login(ctx: click.Context, server: str, token_file: Path | None, as_json: bool) -> None:
    """Check a subscriber token against SERVER and keep it in the credentials file (0600)."""
    from uplevel.commands import update as online

    with run(ctx, "login", as_json) as out:
        if token_file is not None:
            token = token_file.read_text().strip()
        elif sys.stdin.isatty():
            token = click.prompt("token", hide_input=True).strip()
        else:
            token = sys.stdin.readline().strip()
        if not token:
            raise UplevelError("no token given")
        r = online.login(server, token)
        out.finish(r, lambda r: click.echo(f"token for {r.server} stored in {r.credentials}"))
