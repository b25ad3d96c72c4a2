"""The command line: parse, call a use case, render its result. Nothing else.

Exit codes (PRODUCT.md): 0 done; 1 failed and the home is as it was; 2 usage
error; 3 stopped on conflicts; 4 the product runs or another uplevel holds the
home. With --json every command prints one envelope:
    {"uplevel": 1, "command": ..., "ok": ..., "exit_code": ..., "result": {...} | null,
     "error": {"type", "message", "hint"} | null}
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NoReturn

import click

from uplevel import __version__
from uplevel.errors import UplevelError, UsageError

JSON_ENVELOPE_VERSION = 1


def _home_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--home",
        type=click.Path(file_okay=False, path_type=Path),
        default=lambda: os.environ.get("UPLEVEL_HOME") or ".",
        show_default="$UPLEVEL_HOME, else the current directory",
        help="The product home.",
    )(f)


def _json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(f)


def _force_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--force", is_flag=True, help="Proceed even if the product seems to run.")(
        f
    )


class Output:
    def __init__(self, command: str, as_json: bool) -> None:
        self.command = command
        self.as_json = as_json

    def finish(self, result: Any, human: Callable[[Any], None], exit_code: int = 0) -> NoReturn:
        if self.as_json:
            click.echo(
                json.dumps(
                    {
                        "uplevel": JSON_ENVELOPE_VERSION,
                        "command": self.command,
                        "ok": exit_code in (0,),
                        "exit_code": exit_code,
                        "result": result.to_dict(),
                        "error": None,
                    },
                    indent=1,
                )
            )
        else:
            human(result)
        sys.exit(exit_code)

    def fail(self, exc: UplevelError) -> NoReturn:
        if self.as_json:
            click.echo(
                json.dumps(
                    {
                        "uplevel": JSON_ENVELOPE_VERSION,
                        "command": self.command,
                        "ok": False,
                        "exit_code": exc.exit_code,
                        "result": None,
                        "error": {
                            "type": type(exc).__name__,
                            "message": exc.message,
                            "hint": exc.hint,
                        },
                    },
                    indent=1,
                )
            )
        else:
            click.echo(f"uplevel {self.command}: error: {exc.message}", err=True)
            if exc.hint:
                click.echo(f"  hint: {exc.hint}", err=True)
        sys.exit(exc.exit_code)


@contextlib.contextmanager
def run(ctx: click.Context, command: str, as_json: bool) -> Iterator[Output]:
    out = Output(command, as_json)
    try:
        yield out
    except UplevelError as exc:
        if ctx.obj.get("debug"):
            raise
        out.fail(exc)
    except OSError as exc:
        if ctx.obj.get("debug"):
            raise
        out.fail(UplevelError(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")))
    except Exception as exc:
        if ctx.obj.get("debug"):
            raise
        out.fail(
            UplevelError(
                f"unexpected error: {type(exc).__name__}: {exc}",
                hint="this is a bug in uplevel; run again with --debug for the traceback and report it "
                "(an interrupted change is rolled back by the next command)",
            )
        )


@contextlib.contextmanager
def progress(
    label: str, total: int | None, enabled: bool
) -> Iterator[Callable[[int], None] | None]:
    """A byte progress bar on stderr for long work, only on a terminal."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        transient=True,
        console=__import__("rich.console").console.Console(stderr=True),
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def _notes(notes: Any) -> None:
    for n in notes:
        click.echo(f"note: {n}", err=True)


# --- commands -----------------------------------------------------------------------------


class LazyGroup(click.Group):
    """A group whose heavier subcommands (repository, server) live in their own modules and
    are imported only when used, so `uplevel status` does not pay for FastAPI or TUF."""

    lazy: ClassVar[dict[str, str]] = {
        "repo": "uplevel.cli_repo:repo",
        "serve": "uplevel.cli_serve:serve",
        "pack": "uplevel.cli_pack:pack",
        "migrate": "uplevel.cli_migrate:migrate",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy and name not in self.commands:
            import importlib

            module, attr = self.lazy[name].split(":")
            try:
                self.add_command(getattr(importlib.import_module(module), attr), name)
            except (ImportError, AttributeError):
                return None
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="uplevel")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """uplevel: bring a Java server product home to a newer update level, in place and safely.

    Exit codes: 0 done, 1 failed (the home is as it was), 2 usage error,
    3 stopped on conflicts, 4 the product runs or another uplevel holds the home.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _server_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option(
        "--token-file",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        help="File holding the subscriber token (else $UPLEVEL_TOKEN, else `uplevel login`'s).",
    )(f)
    return click.option(
        "--ca-bundle",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        help="CA certificates to trust for the server (else $UPLEVEL_CA_BUNDLE, else the system's).",
    )(f)


@cli.command()
@_home_option
@click.option("--product", required=True, help="NAME-VERSION, e.g. wso2am-4.2.0.")
@click.option(
    "--level",
    type=int,
    default=None,
    help="The level the home is pristine at (default 0; with --server: found by comparing).",
)
@click.option(
    "--channel", type=click.Choice(["full", "security"]), default="full", show_default=True
)
@click.option("--server", help="Update server URL: pin its root of trust and follow it.")
@click.option(
    "--root",
    "root_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="With --server: the repository's root.json obtained out of band (else trust on first use).",
)
@_server_options
@_json_option
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
    as_json: bool,
) -> None:
    """Adopt a home: record what pristine means for it, at LEVEL."""
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
                progress=cb,
            )
            out.finish(rs, human_server)
    with run(ctx, "init", as_json) as out, progress("hashing", None, not as_json) as cb:
        r = adopt.init(home, product=product, level=level or 0, channel=channel, progress=cb)
        out.finish(
            r,
            lambda r: click.echo(
                f"adopted {r.home}: {r.product} level {r.level} ({r.channel}), "
                f"{r.files} files, {r.bytes:,} bytes"
            ),
        )


def _show_changes(local: Any, limit: int = 50) -> None:
    for label, paths in (
        ("modified", local.modified),
        ("added", local.added),
        ("deleted", local.deleted),
    ):
        for p in paths[:limit]:
            click.echo(f"  {label:9} {p}")
        if len(paths) > limit:
            click.echo(f"  … and {len(paths) - limit} more {label} (see --json)")


@cli.command()
@_home_option
@_json_option
@click.pass_context
def status(ctx: click.Context, home: Path, as_json: bool) -> None:
    """Level, channel, pending work and local changes."""
    from uplevel.commands import inspect

    def human(r: inspect.StatusResult) -> None:
        _notes(r.notes)
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

    with run(ctx, "status", as_json) as out:
        r = inspect.status(home)
        out.finish(r, human)


@cli.command()
@_home_option
@_json_option
@click.pass_context
def verify(ctx: click.Context, home: Path, as_json: bool) -> None:
    """Hash every file against pristine (exit 1 when the home differs)."""
    from uplevel.commands import inspect

    def human(r: inspect.VerifyResult) -> None:
        _notes(r.notes)
        click.echo(f"hashed {r.files} files, {r.bytes:,} bytes at level {r.level}")
        if r.local.clean:
            click.echo("the home is pristine")
        else:
            click.echo(
                f"differs from pristine: {len(r.local.modified)} modified, {len(r.local.added)} added, "
                f"{len(r.local.deleted)} deleted"
            )
            _show_changes(r.local)

    with run(ctx, "verify", as_json) as out, progress("verifying", None, not as_json) as cb:
        r = inspect.verify(home, progress=cb)
        out.finish(r, human, 0 if r.local.clean else 1)


@cli.command()
@_home_option
@_json_option
@click.pass_context
def history(ctx: click.Context, home: Path, as_json: bool) -> None:
    """What was applied, reverted and aborted, and when."""
    from uplevel.commands import inspect

    def human(r: inspect.HistoryResult) -> None:
        _notes(r.notes)
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


@dataclass(frozen=True)
class _ProfileResult:
    profiles: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"profiles": self.profiles}


@cli.command("profile")
@_home_option
@click.option("--product", help="NAME-VERSION to resolve (default: the home's product).")
@click.option("--list", "list_all", is_flag=True, help="Every profile found, as written.")
@_json_option
@click.pass_context
def profile_cmd(
    ctx: click.Context, home: Path, product: str | None, list_all: bool, as_json: bool
) -> None:
    """The product profile in effect: configuration, runtime and addition paths, pid and lock
    files, stop/start commands and health check (what scripts and the Ansible roles read)."""
    from uplevel.engine.home import Home
    from uplevel.engine.profiles import load_profiles, profile_for

    def human(r: _ProfileResult) -> None:
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
        if list_all:
            found = [p.as_dict() for p in load_profiles()]
        else:
            if product is None:
                h = Home(home)
                h.require_adopted()
                product = h.load_state().product
            found = [profile_for(product).as_dict()]
        out.finish(_ProfileResult(found), human)


def _render_apply(r: Any) -> None:
    _notes(r.notes)
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


@cli.command()
@_home_option
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
@_force_option
@_json_option
@click.pass_context
def apply(
    ctx: click.Context,
    home: Path,
    bundle: Path,
    dry_run: bool,
    on_conflict: str,
    max_age: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """In-place update from an offline BUNDLE.

    A signed bundle (`uplevel export`) is verified against the root this home pinned at
    `init --server`, exactly as an online update; an unsigned one (`uplevel bundle create`)
    by its hashes.
    """
    from uplevel.commands import apply as update
    from uplevel.formats.bundle import is_signed_bundle

    with run(ctx, "apply", as_json) as out, progress("staging", None, not as_json) as cb:
        if is_signed_bundle(bundle):
            from uplevel.client import offline

            r = update.apply_signed(
                home,
                bundle,
                max_age=offline.DEFAULT_MAX_AGE
                if max_age is None
                else offline.parse_max_age(max_age),
                dry_run=dry_run,
                on_conflict=on_conflict,  # type: ignore[arg-type]
                force=force,
                progress=cb,
            )
        elif max_age is not None:
            raise UsageError("--max-age applies to signed bundles only (see `uplevel export`)")
        else:
            r = update.apply(
                home,
                bundle,
                dry_run=dry_run,
                on_conflict=on_conflict,  # type: ignore[arg-type]
                force=force,
                progress=cb,
            )
        out.finish(r, _render_apply, r.exit_code)


def _render_settle(r: Any) -> None:
    _notes(r.notes)
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


@cli.command(name="continue")
@_home_option
@click.option(
    "--take",
    type=click.Choice(["new", "local"]),
    help="Resolve conflicts that have no f.final to one side.",
)
@_force_option
@_json_option
@click.pass_context
def continue_cmd(
    ctx: click.Context, home: Path, take: str | None, force: bool, as_json: bool
) -> None:
    """Finish an update stopped on conflicts, taking each f.final."""
    from uplevel.commands import apply as update

    with run(ctx, "continue", as_json) as out:
        r = update.continue_(home, take=take, force=force)  # type: ignore[arg-type]
        out.finish(r, _render_settle, r.exit_code)


@cli.command()
@_home_option
@_force_option
@_json_option
@click.pass_context
def abort(ctx: click.Context, home: Path, force: bool, as_json: bool) -> None:
    """Undo an update stopped on conflicts: the home returns to its bytes before it."""
    from uplevel.commands import apply as update

    with run(ctx, "abort", as_json) as out:
        r = update.abort(home, force=force)
        out.finish(r, _render_settle, r.exit_code)


@cli.command()
@_home_option
@click.option(
    "--level", type=int, help="The level to go back to (default: the one before the last update)."
)
@_force_option
@_json_option
@click.pass_context
def revert(ctx: click.Context, home: Path, level: int | None, force: bool, as_json: bool) -> None:
    """Back to an earlier level, as the home was then, from the backup store."""
    from uplevel.commands import revert as revert_cmd

    def human(r: revert_cmd.RevertResult) -> None:
        _notes(r.notes)
        click.echo(
            f"reverted {r.home} from level {r.from_level} to {r.to_level}: "
            f"{r.restored} restored, {r.removed} removed"
        )

    with run(ctx, "revert", as_json) as out:
        out.finish(revert_cmd.revert(home, level=level, force=force), human)


@cli.command()
@_home_option
@click.option("--keep-level", type=int, help="Keep what is needed to revert down to this level.")
@click.option("--dry-run", is_flag=True, help="Say what would be freed; delete nothing.")
@_json_option
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


@cli.group()
def bundle() -> None:
    """Publisher: make update bundles."""


@bundle.command("create")
@click.option("--product", required=True, help="NAME-VERSION, e.g. wso2am-4.2.0.")
@click.option(
    "--from-tree",
    "from_tree",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
)
@click.option(
    "--to-tree",
    "to_tree",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
)
@click.option("--from-level", type=int, required=True)
@click.option("--to-level", type=int, required=True)
@click.option(
    "--channel", type=click.Choice(["full", "security"]), default="full", show_default=True
)
@click.option("--title", default="", help="Title of the update.")
@click.option("--description", default="", help="What the update does.")
@click.option("--security", is_flag=True, help="The update is a security fix.")
@click.option(
    "--fix", "fixes", multiple=True, metavar="ID=summary", help="A bug fixed (repeatable)."
)
@click.option(
    "--advisory",
    "advisories",
    multiple=True,
    metavar="ID=severity",
    help="A security advisory (repeatable).",
)
@click.option(
    "--instructions",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="File of manual steps.",
)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@_json_option
@click.pass_context
def bundle_create(
    ctx: click.Context,
    product: str,
    from_tree: Path,
    to_tree: Path,
    from_level: int,
    to_level: int,
    channel: str,
    title: str,
    description: str,
    security: bool,
    fixes: tuple[str, ...],
    advisories: tuple[str, ...],
    instructions: Path | None,
    output: Path,
    as_json: bool,
) -> None:
    """Make a bundle taking FROM-TREE (level A) to TO-TREE (level B)."""
    from uplevel.repo import bundle_create as publish

    def human(r: publish.BundleCreateResult) -> None:
        click.echo(
            f"wrote {r.output}: {r.product} level {r.from_level} → {r.to_level}, "
            f"{r.added} added, {r.modified} modified, {r.removed} removed, {r.bytes:,} bytes"
        )

    with (
        run(ctx, "bundle create", as_json) as out,
        progress("hashing trees", None, not as_json) as cb,
    ):
        r = publish.bundle_create(
            product=product,
            from_tree=from_tree,
            to_tree=to_tree,
            from_level=from_level,
            to_level=to_level,
            channel=channel,
            title=title,
            description=description,
            security=security,
            fixes=fixes,
            advisories=advisories,
            instructions=instructions,
            output=output,
            progress=cb,
        )
        out.finish(r, human)


@cli.command()
@_home_option
@_server_options
@_json_option
@click.pass_context
def check(
    ctx: click.Context, home: Path, token_file: Path | None, ca_bundle: Path | None, as_json: bool
) -> None:
    """Levels available on the server, with a summary."""
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
        out.finish(online.check(home, token_file=token_file, ca_bundle=ca_bundle), human)


@cli.command()
@_home_option
@click.option("--level", type=int, help="The level to go to (default: the newest).")
@click.option("--dry-run", is_flag=True, help="Print the plan; download and change nothing.")
@click.option(
    "--on-conflict", type=click.Choice(["stop", "new", "local"]), default="stop", show_default=True
)
@_force_option
@_server_options
@_json_option
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


@cli.command()
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    help="An adopted home (its server and product).",
)
@click.option("--server", help="Server URL (with --product, when no home is given).")
@click.option("--product", help="NAME-VERSION (with --server).")
@click.option(
    "--channel", type=click.Choice(["full", "security"]), default="full", show_default=True
)
@click.option("--from", "from_level", type=int, required=True)
@click.option("--to", "to_level", type=int, required=True)
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
@_server_options
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


@cli.command()
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    help="An adopted home: its server, product, channel, pinned root and token.",
)
@click.option("--server", help="Server URL (with --product, when no home is given).")
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
@_server_options
@_json_option
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


@cli.command()
@click.option("--server", required=True, help="Server URL.")
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Read the token from this file (else it is asked for, without echo).",
)
@_json_option
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


@cli.command(name="merge")
@click.argument("base", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.argument("ours", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.argument("theirs", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here (default: into OURS).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "toml", "xml", "yaml", "json", "properties", "text"]),
    default="auto",
    show_default=True,
    help="auto: by OURS's file name (.toml, .xml, .yaml/.yml, .json, .properties; else lines).",
)
@click.option("--name", help="The file's path in the home, for --format auto (git passes %P).")
@_json_option
@click.pass_context
def merge_cmd(
    ctx: click.Context,
    base: Path,
    ours: Path,
    theirs: Path,
    output: Path | None,
    fmt: str,
    name: str | None,
    as_json: bool,
) -> None:
    """Three-way merge of one file by structure (TOML, XML, YAML, JSON, .properties) or lines.

    Exit 0: merged cleanly; 1: conflicts (the output keeps the operator's value of each
    conflicting setting, or conflict markers for line merges); 2: error. Without -o the
    result goes into OURS, so it works as a git merge driver:

    \b
      [merge "uplevel"]
          name = uplevel structured merge
          driver = uplevel merge %O %A %B --name %P
    """
    from uplevel.engine import fsio
    from uplevel.merge.engine import merge
    from uplevel.merge.result import UnparsableInput

    def human(r: Any) -> None:
        if r.fallback:
            click.echo(f"note: {r.fallback}", err=True)
        if r.clean:
            click.echo(f"merged cleanly ({r.format})")
            return
        click.echo(f"{len(r.conflicts)} conflict(s) ({r.format}):")
        for c in r.conflicts:
            click.echo(f"  {c.path}: base {c.base!r}, ours {c.ours!r}, theirs {c.theirs!r}")

    out = Output("merge", as_json)
    try:
        result = merge(
            base.read_bytes(), ours.read_bytes(), theirs.read_bytes(), fmt, path=name or str(ours)
        )
        target = output or ours
        mode = target.stat().st_mode & 0o7777 if target.exists() else 0o644
        fsio.write_durable(target, result.merged, mode=mode)
    except (UnparsableInput, OSError, ValueError) as exc:
        if ctx.obj.get("debug"):
            raise
        out.fail(UsageError(f"cannot merge: {exc}"))
    out.finish(result, human, 0 if result.clean else 1)


@cli.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to build the demo (default: a new temp dir).",
)
@click.pass_context
def demo(ctx: click.Context, workdir: Path | None) -> None:
    """Run the whole flow on a generated sample product (what the README's first command does)."""
    from uplevel.devtools import demo as demo_mod

    sys.exit(demo_mod.main(workdir))


def main() -> None:
    cli(obj={})
