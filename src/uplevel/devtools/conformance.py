"""`uplevel-tuf-client`: the tuf-conformance client-under-test CLI, on uplevel's own stack.

It exists so that the TUF conformance suite exercises exactly the code
`uplevel update` uses (uplevel.client.fetch.Fetcher under uplevel.client.tufclient.TufClient).
The protocol (tuf-conformance CLIENT-CLI.md):

    uplevel-tuf-client --metadata-dir D init ROOT_FILE
    uplevel-tuf-client --metadata-url URL --metadata-dir D refresh
    uplevel-tuf-client --metadata-url URL --metadata-dir D --target-name P [--target-name P2 …]
                       --target-dir T --target-base-url TURL download

Exit status is 0 on success and 1 on any failure, usage errors included (the
protocol knows no other code). `init` makes no request; it refuses a root that
does not parse or is not signed by its own threshold, so a bad trust anchor
never reaches D. D's `root.json` is the trust anchor of every later command.
Time is the system clock (the suite moves it with faketime).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from uplevel.client.fetch import FetchConfig, Fetcher
from uplevel.client.tufclient import TufClient, validate_root
from uplevel.engine import fsio

PROG = "uplevel-tuf-client"


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on a usage error; the protocol allows only 0 and 1."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def _parser() -> _Parser:
    parser = _Parser(prog=PROG, description="TUF conformance client for uplevel.")
    parser.add_argument("--metadata-dir", type=Path, required=True)
    parser.add_argument("--metadata-url")
    parser.add_argument("--target-name", action="append", dest="target_names", default=[])
    parser.add_argument("--target-dir", type=Path)
    parser.add_argument("--target-base-url")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    init = commands.add_parser("init", help="trust ROOT_FILE as the initial root (no network)")
    init.add_argument("trusted_root", type=Path, metavar="ROOT_FILE")
    commands.add_parser("refresh", help="update the top-level metadata")
    commands.add_parser("download", help="refresh, then download and verify each --target-name")
    return parser


# Options each command needs, by flag and by argparse destination.
_NEEDS = {
    "init": {},
    "refresh": {"--metadata-url": "metadata_url"},
    "download": {
        "--metadata-url": "metadata_url",
        "--target-name": "target_names",
        "--target-dir": "target_dir",
        "--target-base-url": "target_base_url",
    },
}


def _check_options(parser: _Parser, args: argparse.Namespace) -> None:
    missing = [flag for flag, dest in _NEEDS[args.command].items() if not getattr(args, dest)]
    if missing:
        parser.error(f"{args.command} needs {', '.join(missing)}")


def init(metadata_dir: Path, trusted_root: Path) -> None:
    """Trust the given root: validate it, then store it durably as D/root.json."""
    data = trusted_root.read_bytes()
    validate_root(data)
    fsio.makedirs(metadata_dir)
    fsio.write_durable(metadata_dir / "root.json", data)


def _client(metadata_dir: Path, metadata_url: str, target_base_url: str | None) -> TufClient:
    bootstrap = (metadata_dir / "root.json").read_bytes()
    return TufClient(
        metadata_dir,
        metadata_url,
        bootstrap=bootstrap,
        fetcher=Fetcher(FetchConfig()),
        target_base_url=target_base_url,
    )


def refresh(metadata_dir: Path, metadata_url: str) -> None:
    _client(metadata_dir, metadata_url, None).refresh()


def download(
    metadata_dir: Path,
    metadata_url: str,
    target_names: Sequence[str],
    target_dir: Path,
    target_base_url: str,
) -> None:
    """Refresh, then fetch each target in order; the first failure stops the rest."""
    client = _client(metadata_dir, metadata_url, target_base_url)
    client.refresh()
    for name in target_names:
        client.download_target(name, target_dir)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _check_options(parser, args)
    logging.basicConfig(
        level=logging.DEBUG
        if args.verbose > 1
        else logging.INFO
        if args.verbose
        else logging.WARNING,
        format=f"{PROG}: %(name)s: %(message)s",
    )
    try:
        if args.command == "init":
            init(args.metadata_dir, args.trusted_root)
        elif args.command == "refresh":
            refresh(args.metadata_dir, args.metadata_url)
        else:
            download(
                args.metadata_dir,
                args.metadata_url,
                args.target_names,
                args.target_dir,
                args.target_base_url,
            )
    except (Exception, KeyboardInterrupt) as exc:
        print(f"{PROG}: {args.command} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0
