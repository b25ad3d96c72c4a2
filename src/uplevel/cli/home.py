"""Looking after one home: init, status, verify, history, profile, revert, prune.

Parse, call one use case (uplevel.commands), render its typed result.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from uplevel.cli.options import (
    LEVEL,
    SERVER_URL,
    F,
    force_option,
    home_option,
    json_option,
    server_options,
)
from uplevel.cli.output import notes, progress, run

if TYPE_CHECKING:
    from uplevel.commands import inspect
    from uplevel.engine.localchanges import LocalChanges


@click.command()
@home_option
@click.option("--product", required=True, help="NAME-VERSION, e.g. wso2am-4.2.0.")
@click.option(
    "--level",
    type=LEVEL,
    default=None,
    help="The level the home is pristine at (default 0; with --server: found by comparing).",
)
@click.option(
    "--channel", type=click.Choice(["full", "security"]), default="full", show_default=True
)
@click.option(
    "--server", type=SERVER_URL, help="Update server URL: pin its root of trust and follow it."
)
@click.option(
    "--root",
    "root_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="With --server: the repository's root.json obtained out of band (else trust on first use).",
)
@server_options
@force_option
@json_option
@click.pass_context
def init(
    ctx: click.Context,
    home: Path,
    product: str,
    level: int | None,
    channel: str,
    server: str | None,
    root_file: Path | None,
    token_file: Path | None,
    ca_bundle: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    """Adopt a home: record what pristine means for it, at LEVEL.

    Refused (exit 4) while the product runs: stop it first. The profile's pid and lock
    files, logs and temporary files are never recorded as pristine."""
    from uplevel.commands import adopt

    if server:

        def human_server(r: adopt.ServerInitResult) -> None:
            how = "identified by comparing with the server" if r.found_level else "as given"
            click.echo(
                f"adopted {r.home}: {r.product} level {r.level} ({r.channel}), {how}; server {r.server}"
            )
            for sc in r.scores:
                click.echo(
                    f"  level {sc['level']}: {sc['matching']} files match, {sc['differing']} differ, "
                    f"{sc['missing']} missing"
                )
            loc = r.local
            click.echo(
                f"local changes: {len(loc.modified)} modified, {len(loc.added)} added, {len(loc.deleted)} deleted"
            )
            _show_changes(loc)

        with run(ctx, "init", as_json) as out, progress("hashing", None, not as_json) as cb:
            rs = adopt.init_from_server(
                home,
                server=server,
                product=product,
                channel=channel,
                level=level,
                token_file=token_file,
                root_file=root_file,
                ca_bundle=ca_bundle,
                force=force,
                progress=cb,
            )
            out.finish(rs, human_server)
    with run(ctx, "init", as_json) as out, progress("hashing", None, not as_json) as cb:
        r = adopt.init(
            home, product=product, level=level or 0, channel=channel, force=force, progress=cb
        )

        def human(r: adopt.InitResult) -> None:
            click.echo(
                f"adopted {r.home}: {r.product} level {r.level} ({r.channel}), "
                f"{r.files} files, {r.bytes:,} bytes"
            )

        out.finish(r, human)


def _show_changes(local: LocalChanges, limit: int = 50) -> None:
    for label, paths in (
        ("modified", local.modified),
        ("added", local.added),
        ("deleted", local.deleted),
    ):
        for p in paths[:limit]:
            click.echo(f"  {label:9} {p}")
        if len(paths) > limit:
            click.echo(f"  … and {len(paths) - limit} more {label} (see --json)")


def no_runtime_option(f: F) -> F:
    return click.option(
        "--no-runtime",
        "hide_runtime",
        is_flag=True,
        help="Leave runtime data (databases, deployed artifacts, logs: the profile's runtime "
        "paths) out of the report; it is never a local change either way.",
    )(f)


def _show_runtime(r: inspect.StatusResult | inspect.VerifyResult) -> None:
    if r.show_runtime and r.local.runtime_files:
        click.echo(
            f"runtime data (not compared): {r.local.runtime_files} files, "
            f"{r.local.runtime_bytes:,} bytes"
        )


@click.command()
@home_option
@no_runtime_option
@json_option
@click.pass_context
def status(ctx: click.Context, home: Path, hide_runtime: bool, as_json: bool) -> None:
    """Level, channel, pending work and local changes (runtime data counted apart)."""
    from uplevel.commands import inspect

    def human(r: inspect.StatusResult) -> None:
        notes(r.notes)
        click.echo(f"{r.product} at level {r.level} ({r.channel} channel) — {r.home}")
        if r.pending:
            p = r.pending
            what = (
                "migration into this home"
                if p.get("kind") == "migrate"
                else f"update to level {p.get('to_level')}"
            )
            click.echo(f"{what} STOPPED on {len(p['conflicts'])} conflict(s):")
            for c in p["conflicts"]:
                click.echo(f"  conflict  {c['path']}: {c['reason']}")
                for st in c.get("settings", []):
                    click.echo(
                        f"            {st['path']}: original {st['base']!r}, "
                        f"local {st['ours']!r}, new {st['theirs']!r}"
                    )
            click.echo("  write each f.final, then `uplevel continue`; or `uplevel abort`")
        loc = r.local
        if loc.clean:
            click.echo("no local changes")
        else:
            click.echo(
                f"local changes: {len(loc.modified)} modified, {len(loc.added)} added, "
                f"{len(loc.deleted)} deleted"
            )
            _show_changes(loc)
        _show_runtime(r)

    with run(ctx, "status", as_json) as out:
        r = inspect.status(home, show_runtime=not hide_runtime)
        out.finish(r, human)


@click.command()
@home_option
@no_runtime_option
@json_option
@click.pass_context
def verify(ctx: click.Context, home: Path, hide_runtime: bool, as_json: bool) -> None:
    """Hash every file against pristine (exit 1 when the home differs; runtime data is
    counted apart, never hashed)."""
    from uplevel.commands import inspect

    def human(r: inspect.VerifyResult) -> None:
        notes(r.notes)
        click.echo(f"hashed {r.files} files, {r.bytes:,} bytes at level {r.level}")
        if r.local.clean:
            click.echo("the home is pristine")
        else:
            click.echo(
                f"differs from pristine: {len(r.local.modified)} modified, {len(r.local.added)} added, "
                f"{len(r.local.deleted)} deleted"
            )
            _show_changes(r.local)
        _show_runtime(r)

    with run(ctx, "verify", as_json) as out, progress("verifying", None, not as_json) as cb:
        r = inspect.verify(home, progress=cb, show_runtime=not hide_runtime)
        out.finish(r, human, 0 if r.local.clean else 1)


@click.command()
@home_option
@json_option
@click.pass_context
def history(ctx: click.Context, home: Path, as_json: bool) -> None:
    """What was applied, reverted and aborted, and when."""
    from uplevel.commands import inspect

    def human(r: inspect.HistoryResult) -> None:
        notes(r.notes)
        click.echo(f"{r.product}, now at level {r.level}")
        for e in r.events:
            titles = "; ".join(t for t in e.get("titles", []) if t)
            arrow = (
                f"{e['from_level']} → {e['to_level']}"
                if e["from_level"] != e["to_level"]
                else f"{e['to_level']}"
            )
            extra = " — ".join(x for x in (e.get("detail", ""), titles) if x)
            click.echo(f"  {e['time']}  {e['event']:9} {arrow:8} {extra}")

    with run(ctx, "history", as_json) as out:
        out.finish(inspect.history(home), human)


@click.command("profile")
@home_option
@click.option("--product", help="NAME-VERSION to resolve (default: the home's product).")
@click.option("--list", "list_all", is_flag=True, help="Every profile found, as written.")
@json_option
@click.pass_context
def profile_cmd(
    ctx: click.Context, home: Path, product: str | None, list_all: bool, as_json: bool
) -> None:
    """The product profile in effect: configuration, runtime and addition paths, pid and lock
    files, stop/start commands and health check (what scripts and the Ansible roles read)."""
    from uplevel.commands import inspect

    def human(r: inspect.ProfileResult) -> None:
        for p in r.profiles:
            click.echo(f"{p['name']}: {p['description'] or '-'} ({p['source']})")
            if list_all:
                click.echo(f"  products: {', '.join(p['products'])}")
                continue
            for key in ("pid_file", "start", "stop", "health_url", "health_command"):
                if p[key]:
                    click.echo(f"  {key}: {p[key]}")
            for key in ("config", "runtime", "runtime_exclude", "additions", "lock_files"):
                if p[key]:
                    click.echo(f"  {key}: {', '.join(p[key])}")

    with run(ctx, "profile", as_json) as out:
        out.finish(inspect.profiles(home, product=product, list_all=list_all), human)


@click.command()
@home_option
@click.option(
    "--level", type=LEVEL, help="The level to go back to (default: the one before the last update)."
)
@force_option
@json_option
@click.pass_context
def revert(ctx: click.Context, home: Path, level: int | None, force: bool, as_json: bool) -> None:
    """Back to an earlier level, as the home was then, from the backup store."""
    from uplevel.commands import revert as revert_cmd

    def human(r: revert_cmd.RevertResult) -> None:
        notes(r.notes)
        click.echo(
            f"reverted {r.home} from level {r.from_level} to {r.to_level}: "
            f"{r.restored} restored, {r.removed} removed"
        )

    with run(ctx, "revert", as_json) as out:
        out.finish(revert_cmd.revert(home, level=level, force=force), human)


@click.command()
@home_option
@click.option("--keep-level", type=int, help="Keep what is needed to revert down to this level.")
@click.option("--dry-run", is_flag=True, help="Say what would be freed; delete nothing.")
@json_option
@click.pass_context
def prune(
    ctx: click.Context, home: Path, keep_level: int | None, dry_run: bool, as_json: bool
) -> None:
    """Delete backups (after this, revert below the kept level is impossible)."""
    from uplevel.commands import revert as revert_cmd

    def human(r: revert_cmd.PruneResult) -> None:
        verb = "would free" if r.dry_run else "freed"
        click.echo(
            f"{verb} {r.freed_bytes:,} bytes ({r.removed_objects} backups); "
            f"kept {r.kept_objects} needed to revert to level {r.keep_level}"
        )

    with run(ctx, "prune", as_json) as out:
        out.finish(revert_cmd.prune(home, keep_level=keep_level, dry_run=dry_run), human)
