"""`uplevel repo …` and `uplevel bundle create`: the publisher's commands (parse, call a use
case in uplevel.repo, render).

Imported lazily by uplevel.cli.app.LazyGroup, so operator commands never pay for TUF.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from uplevel.cli.options import allow_special_option, json_option
from uplevel.cli.output import progress, run
from uplevel.core.updateinfo import CHANNELS, parse_advisory, parse_fix
from uplevel.errors import UsageError

_repo_arg = click.argument("repo", type=click.Path(file_okay=False, path_type=Path))


def _when(seconds: int | None) -> str:
    if seconds is None:
        return "never"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _root_key_dir_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--root-key-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help=help_text,
    )


@click.group()
def repo() -> None:
    """Publisher: an update repository (TUF-signed levels, blobs, subscriber tokens)."""


@repo.command("init")
@_repo_arg
@click.option(
    "--expires",
    metavar="ROLE=DAYS,…",
    help="Metadata lifetimes, e.g. root=365d,targets=90d,snapshot=7d,timestamp=1d (the defaults).",
)
@_root_key_dir_option("Keep the root keys in this (offline) directory instead of REPO/keys/root.")
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    metavar="ROLE=N",
    help="Signatures a role needs (that many keys are made); repeatable. Default 1.",
)
@json_option
@click.pass_context
def init_cmd(
    ctx: click.Context,
    repo: Path,
    expires: str | None,
    root_key_dir: Path | None,
    thresholds: tuple[str, ...],
    as_json: bool,
) -> None:
    """Create a repository in REPO: keys for root, targets, snapshot and timestamp, and
    version 1 of their metadata."""
    from uplevel.repo.config import describe, parse_expires, parse_thresholds
    from uplevel.repo.roles import InitResult, init_repo

    def human(r: InitResult) -> None:
        click.echo(f"created repository {r.repo}")
        for role, keyids in r.keys.items():
            click.echo(f"  {role:9} {len(keyids)} key(s), threshold {r.thresholds[role]}")
        click.echo(f"  lifetimes (days): {describe(r.expires_days)}")
        if r.root_key_dir:
            click.echo(f"  root keys are in {r.root_key_dir}: keep that directory offline")

    with run(ctx, "repo init", as_json) as out:
        result = init_repo(
            repo,
            expires_days=parse_expires(expires),
            thresholds=parse_thresholds(thresholds),
            root_key_dir=root_key_dir,
        )
        out.finish(result, human)


@repo.command("rotate-key")
@_repo_arg
@click.argument("role", type=click.Choice(["root", "targets", "snapshot", "timestamp"]))
@_root_key_dir_option("Where the root keys are now (default: as recorded in repo.json).")
@json_option
@click.pass_context
def rotate_key_cmd(
    ctx: click.Context, repo: Path, role: str, root_key_dir: Path | None, as_json: bool
) -> None:
    """Replace ROLE's keys: a new root version lists the new keys, then the role's metadata
    (and the roles after it) is re-signed. The old private keys are deleted."""
    from uplevel.repo.roles import RotateResult, rotate_key

    def human(r: RotateResult) -> None:
        click.echo(
            f"rotated {r.role}: {len(r.old_keys)} key(s) retired, {len(r.new_keys)} new; "
            f"root is now version {r.root_version}"
        )
        for role_name, version in r.versions.items():
            if role_name != "root":
                click.echo(f"  {role_name} re-signed as version {version}")

    with run(ctx, "repo rotate-key", as_json) as out:
        out.finish(rotate_key(repo, role, root_key_dir=root_key_dir), human)


@repo.command("refresh")
@_repo_arg
@click.option(
    "--role",
    type=click.Choice(["targets", "snapshot", "timestamp"]),
    default="targets",
    show_default=True,
    help="Re-sign this role and the ones after it.",
)
@json_option
@click.pass_context
def refresh_cmd(ctx: click.Context, repo: Path, role: str, as_json: bool) -> None:
    """Re-sign metadata with fresh expiry dates (run it from a periodic job)."""
    from uplevel.repo.roles import ResignResult, resign

    def human(r: ResignResult) -> None:
        click.echo("re-signed " + ", ".join(f"{k} (version {v})" for k, v in r.versions.items()))

    with run(ctx, "repo refresh", as_json) as out:
        out.finish(resign(repo, role), human)


@repo.command("add-product")
@_repo_arg
@click.option(
    "--pack",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The product's distribution zip (level 0).",
)
@click.option("--product", required=True, help="NAME-VERSION, e.g. wso2am-4.2.0.")
@click.option("--profile", help="Product profile (default: the one matching the product).")
@json_option
@click.pass_context
def add_product_cmd(
    ctx: click.Context,
    repo: Path,
    pack: Path,
    product: str,
    profile: str | None,
    as_json: bool,
) -> None:
    """Publish a product's base pack as level 0 of the full and security channels."""
    from uplevel.repo.product import AddProductResult, add_product

    def human(r: AddProductResult) -> None:
        click.echo(
            f"added {r.product} (profile {r.profile}) at level 0: {r.files} files, "
            f"{r.bytes:,} bytes, {r.blobs_written} new blob(s)"
        )

    with run(ctx, "repo add-product", as_json) as out:
        out.finish(add_product(repo, pack=pack, product=product, profile=profile), human)


@repo.command("add-update")
@_repo_arg
@click.argument(
    "bundle", required=False, type=click.Path(dir_okay=False, exists=True, path_type=Path)
)
@click.option("--product", required=True, help="NAME-VERSION, e.g. wso2am-4.2.0.")
@click.option(
    "--from-tree",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The pristine tree before the update (with --to-tree, instead of BUNDLE).",
)
@click.option(
    "--to-tree",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The pristine tree after the update.",
)
@click.option(
    "--wum-zip",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A WSO2 update zip (WSO2-CARBON-UPDATE-<version>-<number>.zip) made by wum-uc.",
)
@click.option("--security", is_flag=True, help="A security update: it enters both channels.")
@click.option("--title", default="", help="Title (required with trees; overrides a bundle's).")
@click.option("--description", default="", help="What the update does.")
@click.option("--fix", "fixes", multiple=True, metavar="ID=summary", help="A bug fixed.")
@click.option(
    "--advisory", "advisories", multiple=True, metavar="ID=severity", help="A security advisory."
)
@click.option(
    "--instructions",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="File of manual steps.",
)
@allow_special_option
@json_option
@click.pass_context
def add_update_cmd(
    ctx: click.Context,
    repo: Path,
    bundle: Path | None,
    product: str,
    from_tree: Path | None,
    to_tree: Path | None,
    wum_zip: Path | None,
    security: bool,
    title: str,
    description: str,
    fixes: tuple[str, ...],
    advisories: tuple[str, ...],
    instructions: Path | None,
    allow_special: bool,
    as_json: bool,
) -> None:
    """Append the next level: from BUNDLE, from --from-tree OLD --to-tree NEW, or --wum-zip.

    Security updates get the next level of both channels; others of `full` only.
    The update must apply to each channel's pristine tree, or nothing is written.
    """
    from uplevel.repo.update import (
        AddUpdateResult,
        UpdateDetails,
        add_update_from_bundle,
        add_update_from_trees,
    )

    def human(r: AddUpdateResult) -> None:
        levels = ", ".join(f"{c} level {n}" for c, n in r.levels.items())
        kind = "security update" if r.security else "update"
        click.echo(f"published {kind} {r.title!r} of {r.product} as {levels}")
        click.echo(
            f"  {r.added} added, {r.modified} modified, {r.removed} removed, "
            f"{r.blobs_written} new blob(s)"
        )

    with run(ctx, "repo add-update", as_json) as out:
        trees = from_tree is not None or to_tree is not None
        fix_list = tuple(parse_fix(f) for f in fixes)
        advisory_list = tuple(parse_advisory(a) for a in advisories)
        steps = instructions.read_text() if instructions else ""
        if wum_zip is not None:
            if bundle is not None or trees:
                raise UsageError("give one of BUNDLE, --from-tree/--to-tree or --wum-zip")
            from uplevel.repo.wum.publish import add_update_from_wum

            result = add_update_from_wum(
                repo,
                product=product,
                wum_zip=wum_zip,
                security=security,
                title=title,
                description=description,
                fixes=fix_list,
                advisories=advisory_list,
                instructions=steps,
            )
        elif bundle is not None and not trees:
            result = add_update_from_bundle(
                repo,
                product=product,
                bundle=bundle,
                security=security,
                title=title,
                description=description,
                fixes=fix_list,
                advisories=advisory_list,
                instructions=steps,
                allow_special=allow_special,
            )
        elif bundle is None and from_tree is not None and to_tree is not None:
            if not title:
                raise UsageError("--title is required with --from-tree/--to-tree")
            details = UpdateDetails(
                title=title,
                description=description,
                fixes=fix_list,
                advisories=advisory_list,
                instructions=steps,
            )
            result = add_update_from_trees(
                repo,
                product=product,
                old_tree=from_tree,
                new_tree=to_tree,
                details=details,
                security=security,
                allow_special=allow_special,
            )
        else:
            raise UsageError("give either BUNDLE or both --from-tree and --to-tree")
        out.finish(result, human)


@repo.command("list")
@_repo_arg
@json_option
@click.pass_context
def list_cmd(ctx: click.Context, repo: Path, as_json: bool) -> None:
    """Products, channels and levels with their titles."""
    from uplevel.repo.catalog import RepoListing, list_repo

    def human(r: RepoListing) -> None:
        if not r.products:
            click.echo(f"{r.repo}: no products yet")
        for p in r.products:
            click.echo(f"{p.product} (profile {p.profile})")
            for channel in CHANNELS:
                for lv in p.channels[channel]:
                    mark = " [security]" if lv.security else ""
                    click.echo(f"  {channel:8} {lv.level:4}  {lv.title}{mark}")

    with run(ctx, "repo list", as_json) as out:
        out.finish(list_repo(repo), human)


@repo.group("token")
def token() -> None:
    """Subscriber tokens: which products and channels a bearer may fetch."""


@token.command("create")
@_repo_arg
@click.option("--subscriber", required=True, help="Who the token is for.")
@click.option("--product", required=True, help="Product name or glob, e.g. wso2am-*.")
@click.option("--channel", required=True, type=click.Choice(list(CHANNELS)))
@click.option("--expires", help="Lifetime, e.g. 90d or 12h (default: never expires).")
@json_option
@click.pass_context
def token_create_cmd(
    ctx: click.Context,
    repo: Path,
    subscriber: str,
    product: str,
    channel: str,
    expires: str | None,
    as_json: bool,
) -> None:
    """Make a token; it is printed once and only its hash is kept."""
    from uplevel.repo.config import parse_duration
    from uplevel.repo.tokens import TokenCreated, create_token

    def human(r: TokenCreated) -> None:
        click.echo(r.token)
        click.echo(
            f"token {r.info.id} for {r.info.subscriber}: {r.info.product}, {r.info.channel} "
            f"channel, expires {_when(r.info.expires)}. It is shown only now: store it.",
            err=True,
        )

    with run(ctx, "repo token create", as_json) as out:
        lifetime = parse_duration(expires, option="--expires") if expires else None
        result = create_token(
            repo, subscriber=subscriber, product=product, channel=channel, expires=lifetime
        )
        out.finish(result, human)


@token.command("list")
@_repo_arg
@json_option
@click.pass_context
def token_list_cmd(ctx: click.Context, repo: Path, as_json: bool) -> None:
    """Every token's id, subscriber, product, channel and dates (never the token)."""
    from uplevel.repo.tokens import TokenList, list_tokens

    def human(r: TokenList) -> None:
        if not r.tokens:
            click.echo("no tokens")
        for t in r.tokens:
            state = f"revoked {_when(t.revoked)}" if t.revoked else f"expires {_when(t.expires)}"
            click.echo(f"{t.id}  {t.subscriber}  {t.product}  {t.channel}  {state}")

    with run(ctx, "repo token list", as_json) as out:
        out.finish(list_tokens(repo), human)


@token.command("revoke")
@_repo_arg
@click.argument("token_id")
@json_option
@click.pass_context
def token_revoke_cmd(ctx: click.Context, repo: Path, token_id: str, as_json: bool) -> None:
    """Revoke a token by its id: the server refuses it (403) from now on."""
    from uplevel.repo.tokens import TokenInfo, revoke_token

    def human(r: TokenInfo) -> None:
        click.echo(f"token {r.id} of {r.subscriber} revoked at {_when(r.revoked)}")

    with run(ctx, "repo token revoke", as_json) as out:
        out.finish(revoke_token(repo, token_id), human)


@click.group()
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
@allow_special_option
@json_option
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
    allow_special: bool,
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
            allow_special=allow_special,
            progress=cb,
        )
        out.finish(r, human)
