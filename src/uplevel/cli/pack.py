"""`uplevel pack`: parse and render only; the work is uplevel.commands.pack."""

from __future__ import annotations

from pathlib import Path

import click

from uplevel.cli.options import SERVER_URL, json_option, server_options
from uplevel.cli.output import progress, run


@click.command()
@click.option("--product", required=True, help="NAME-VERSION, e.g. wso2am-4.2.0.")
@click.option(
    "--level",
    "level_text",
    default="latest",
    show_default=True,
    metavar="N|latest",
    help="The update level to build.",
)
@click.option(
    "--channel", type=click.Choice(["full", "security"]), default="full", show_default=True
)
@click.option(
    "--repo",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Build from this repository directory (the publisher's).",
)
@click.option(
    "--server", type=SERVER_URL, help="Build from this update server (TUF-verified, needs a token)."
)
@click.option(
    "--root",
    "root_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="With --server: the repository's root.json obtained out of band (else trust on first use).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="The zip to write, or a directory for the conventional name "
    "(default: PRODUCT+LEVEL.CHANNEL.zip here).",
)
@server_options
@json_option
@click.pass_context
def pack(
    ctx: click.Context,
    product: str,
    level_text: str,
    channel: str,
    repo: Path | None,
    server: str | None,
    root_file: Path | None,
    output: Path | None,
    token_file: Path | None,
    ca_bundle: Path | None,
    as_json: bool,
) -> None:
    """Build the distribution zip of PRODUCT at an update level.

    The zip is reproducible (same inputs, same bytes), holds one top folder named after
    the product, the pristine tree of that level, UPDATE-SUMMARY.md and the uplevel state,
    so the unzipped folder is already an adopted home: `uplevel status` shows it clean and
    `uplevel update` / `apply` work on it without `init`. Every content is verified against
    the level's signed manifest; the output appears only when complete.
    See docs/packs.md.
    """
    from uplevel.commands import pack as pack_cmd

    def human(r: pack_cmd.PackResult) -> None:
        s = r.stats
        click.echo(
            f"wrote {r.output}: {r.product} level {r.level} ({r.channel} channel) from {r.origin}"
        )
        click.echo(
            f"  {s.size:,} bytes, sha256 {s.sha256}; {s.files} files ({s.stored} stored, "
            f"{s.deflated} deflated), {s.dirs} directories, {s.symlinks} symlinks"
        )
        for u in r.updates:
            if u["level"] == 0:
                continue
            adv = ", ".join(f"{a['id']} ({a['severity']})" for a in u["advisories"])
            click.echo(
                f"  level {u['level']}: {u['title']}"
                + (" [security]" if u["security"] else "")
                + (f" — {adv}" if adv else "")
            )
        click.echo(
            f"  unzip it and use {r.product}/ as an adopted home at level {r.level}; "
            f"{r.product}/updates/uplevel/UPDATE-SUMMARY.md lists the updates"
        )

    with run(ctx, "pack", as_json) as out, progress("packing", None, not as_json) as cb:
        r = pack_cmd.pack(
            product=product,
            channel=channel,
            level=pack_cmd.parse_level(level_text),
            repo=repo,
            server=server,
            output=output,
            token_file=token_file,
            root_file=root_file,
            ca_bundle=ca_bundle,
            progress=cb,
        )
        out.finish(r, human)
