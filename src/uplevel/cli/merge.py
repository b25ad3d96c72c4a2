"""`uplevel merge BASE OURS THEIRS`: one file's three-way merge (a git merge driver too)."""

from __future__ import annotations

from pathlib import Path

import click

from uplevel.cli.options import json_option
from uplevel.cli.output import run


@click.command(name="merge")
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
@json_option
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
    from uplevel.commands.merge import merge_file
    from uplevel.merge.result import MergeResult

    def human(r: MergeResult) -> None:
        if r.fallback:
            click.echo(f"note: {r.fallback}", err=True)
        if r.clean:
            click.echo(f"merged cleanly ({r.format})")
            return
        click.echo(f"{len(r.conflicts)} conflict(s) ({r.format}):")
        for c in r.conflicts:
            click.echo(f"  {c.path}: base {c.base!r}, ours {c.ours!r}, theirs {c.theirs!r}")

    with run(ctx, "merge", as_json) as out:
        result = merge_file(base, ours, theirs, output=output, fmt=fmt, name=name)
        out.finish(result, human, 0 if result.clean else 1)
