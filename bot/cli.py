"""The ``paperbot`` command line: one sub-command per job, each a thin layer over a domain module.

Exit status is 0 on success and non-zero with a one-line reason on stderr on failure (2 for usage
errors, as argparse does). Expected failures are :class:`CommandError`, :class:`ConfigError` and
:class:`DigestError`; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.db import DatabaseError, connect
from bot.digest import DigestError
from bot.store import load_file


class CommandError(Exception):
    """A command cannot do what was asked; the message is the one line printed to stderr."""


def _month(value: str) -> str:
    from bot.digest import validate_month

    try:
        return validate_month(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="paperbot", description="Monthly paper digests for Slack teams.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    load = commands.add_parser("load", help="parse digest files and upsert them into the database")
    load.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="digest files (.txt or .md)")
    load.add_argument("--month", type=_month, help="the digests' month, YYYY-MM (default: from the file name)")
    load.set_defaults(handler=cmd_load)
    return parser


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    """Load each file in its own transaction; good files load even when others fail."""
    db = connect(settings.db_path)
    failures = 0
    for path in args.paths:
        try:
            result = load_file(db, path, month=args.month)
        except DigestError as error:
            print(f"error: {error}", file=sys.stderr)
            failures += 1
            continue
        print(result.describe())
    if failures:
        print(f"error: {failures} of {len(args.paths)} files could not be loaded", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        return int(args.handler(args, settings))
    except (CommandError, ConfigError, DatabaseError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
