"""The ``paperbot`` command line: one sub-command per job, each a thin layer over a domain module.

Exit status is 0 on success and non-zero with a one-line reason on stderr on failure (2 for usage
errors, as argparse does). Expected failures are :class:`CommandError`, :class:`ConfigError` and
:class:`DigestError`; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sqlite3
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.db import DatabaseError, connect
from bot.digest.parse import DigestError
from bot.digest.store import load_file

EXIT_BUSY = 75
"""``roundup --post`` while another process is posting the same month (EX_TEMPFAIL: try again later)."""


class CommandError(Exception):
    """A command cannot do what was asked; the message is the one line printed to stderr."""


def _month(value: str) -> str:
    from bot.digest.parse import validate_month

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
    load.add_argument("--no-enrich", action="store_true", help="do not fetch arXiv metadata after loading")
    load.set_defaults(handler=cmd_load)

    enrich = commands.add_parser("enrich", help="fetch arXiv metadata for papers that lack it")
    enrich.add_argument("--limit", type=_positive, metavar="N", help="enrich at most N papers this run")
    enrich.add_argument("--refresh", action="store_true", help="fetch again papers already enriched or not found")
    enrich.set_defaults(handler=cmd_enrich)

    search = commands.add_parser("search", help="print the answer /paper QUERY would give")
    search.add_argument("query", nargs="+", metavar="QUERY", help="what you would type after /paper")
    search.add_argument("--json", action="store_true", help="print the Slack message payload (text + blocks)")
    search.set_defaults(handler=cmd_search)

    serve = commands.add_parser("serve", help="run the bot (Socket Mode, or HTTP with --http)")
    serve.add_argument("--http", action="store_true", help="HTTP mode even when SLACK_APP_TOKEN is set")
    serve.add_argument("--host", default="0.0.0.0", help="HTTP mode: address to bind (default 0.0.0.0)")
    serve.add_argument("--port", type=_port, default=3000, help="HTTP mode: port (default 3000)")
    serve.add_argument("--no-scheduler", action="store_true", help="do not run the monthly roundup scheduler")
    serve.set_defaults(handler=cmd_serve)

    roundup = commands.add_parser("roundup", help="print the monthly roundup, or post it with --post")
    roundup.add_argument("--month", type=_month, help="the digest month, YYYY-MM (default: the latest)")
    roundup.add_argument("--post", action="store_true", help="post it to the channel, exactly once")
    roundup.add_argument("--channel", type=_channel, help="channel ID (default: ROUNDUP_CHANNEL)")
    roundup.set_defaults(handler=cmd_roundup)
    return parser


def _channel(value: str) -> str:
    if not re.fullmatch(r"[CGD][A-Z0-9]{2,20}", value):
        raise argparse.ArgumentTypeError(f"channel must be a channel ID such as C0123456789, got {value!r}")
    return value


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more, got {value!r}")
    return int(value)


def cmd_enrich(args: argparse.Namespace, settings: Settings) -> int:
    """Progress on stderr, the summary line on stdout; an arXiv failure exits 1 (papers stay pending)."""
    from bot.arxiv.client import ArxivClient
    from bot.arxiv.enrich import enrich_pending

    db = connect(settings.db_path)
    with ArxivClient.from_settings(settings) as client:
        report = enrich_pending(
            db, client, limit=args.limit, refresh=args.refresh, progress=lambda line: print(line, file=sys.stderr)
        )
    print(report.summary())
    if report.error:
        raise CommandError(f"arXiv failed: {report.error}; {report.pending} papers pending, try again later")
    return 0


def _port(value: str) -> int:
    if not value.isdigit() or not 0 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"port must be a number from 0 to 65535, got {value!r}")
    return int(value)


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    """The same reply as ``/paper QUERY`` (same code path), as text or as the Slack payload."""
    from bot.slack.blocks import render_text
    from bot.slack.replies import paper_reply

    reply = paper_reply(connect(settings.db_path), " ".join(args.query))
    if args.json:
        print(json.dumps(reply.payload(), ensure_ascii=False, indent=2))
    else:
        print(render_text(reply))
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Socket Mode when SLACK_APP_TOKEN is set and --http is not given, else HTTP; no token: a demo.

    Everything that can fail at start (settings, the database, Slack accepting the tokens, the port) is
    done before any background work starts, and fails with one line."""
    if settings.slack_bot_token is None:
        if args.http:
            raise ConfigError("SLACK_BOT_TOKEN is not set: HTTP mode needs it (and SLACK_SIGNING_SECRET)")
        from bot.demo import run_demo

        return run_demo(settings)
    socket_mode = settings.slack_app_token is not None and not args.http
    check_serve_settings(settings, socket_mode=socket_mode, scheduler=not args.no_scheduler)
    connect(settings.db_path)  # create and migrate before any listener thread opens it
    from bot.slack.server import StartupError, start_slack

    try:
        with _quiet_libraries():
            run = start_slack(settings, socket_mode=socket_mode, host=args.host, port=args.port)
    except StartupError as error:
        raise CommandError(str(error)) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    scheduler = None
    if not args.no_scheduler:
        from bot.roundup.schedule import next_roundup_line, start_scheduler
        from bot.slack.client import roundup_channel

        scheduler = start_scheduler(settings, lambda: roundup_channel(settings))
        line = next_roundup_line(settings)
        if line:
            print(f"paperbot: {line}", flush=True)
    from bot.arxiv.enrich import run_background_enrichment

    stop = threading.Event()
    run.on_shutdown(stop.set)  # background loops end with the bot, before its last line
    threading.Thread(
        target=run_background_enrichment, args=(settings, stop), name="paperbot-enrich", daemon=True
    ).start()
    try:
        run()
    finally:
        stop.set()
        if scheduler is not None:
            scheduler.shutdown(wait=False)
    return 0


@contextmanager
def _quiet_libraries() -> Iterator[None]:
    """While starting, a failure is reported as one line by us: keep the libraries' retry logs out."""
    loggers = [logging.getLogger(name) for name in ("slack_sdk", "slack_bolt", "bot.slack.app")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def check_serve_settings(settings: Settings, *, socket_mode: bool, scheduler: bool) -> None:
    """Read every setting the bot will need, so a malformed one stops ``serve`` at once with one line
    naming it, instead of failing later in a listener or a job."""
    settings.require_slack_bot_token()
    if not socket_mode:
        settings.require_signing_secret()
    _ = (settings.slack_api_url, settings.admins, settings.arxiv_api_url, settings.arxiv_delay_seconds)
    if scheduler and settings.roundup_channel is not None:
        from bot.roundup.schedule import cron_trigger

        cron_trigger(settings.roundup_schedule, settings.roundup_timezone)


def cmd_roundup(args: argparse.Namespace, settings: Settings) -> int:
    """Print the month's roundup and where it stands; with --post, post it exactly once."""
    from bot.digest import catalog
    from bot.roundup.post import RoundupError, load_roundup, owner_name, post_roundup, roundup_states
    from bot.slack.blocks import render_text

    db = connect(settings.db_path)
    month = args.month or catalog.latest_month(db)
    if month is None:
        raise CommandError("no digest loaded yet: run `paperbot load data/digests/*.txt` first")
    try:
        if not args.post:
            roundup = load_roundup(db, month)
            print(render_text(roundup.headline))
            for number, reply in enumerate(roundup.replies, start=1):
                print(f"\n--- thread reply {number}/{len(roundup.replies)} ---\n")
                print(render_text(reply))
            states = roundup_states(db, month)
            print()
            for state in states:
                print(f"status: {state.describe()}")
            if not states:
                print(f"status: the {month} roundup has not been posted anywhere yet")
            return 0
        channel = args.channel or settings.roundup_channel
        if channel is None:
            raise ConfigError("ROUNDUP_CHANNEL is not set (or pass --channel C0123456789)")
        from bot.slack.client import roundup_channel

        result = post_roundup(db, roundup_channel(settings), month, channel, owner=owner_name("cli"))
    except RoundupError as error:
        raise CommandError(str(error)) from None
    if result.status == "failed":
        raise CommandError(result.describe())
    if result.status == "busy":
        print(f"paperbot: {result.describe()}; run it again later to check", file=sys.stderr)
        return EXIT_BUSY
    print(result.describe())
    return 0


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    """Load each file in its own transaction; good files load even when others fail."""
    if args.month and len(args.paths) > 1:
        # One digest per month: several files under one month would replace each other.
        raise CommandError("--month names the month of one digest: give a single PATH with it")
    db = connect(settings.db_path)
    failures = 0
    months: list[str] = []
    for path in args.paths:
        try:
            result = load_file(db, path, month=args.month)
        except DigestError as error:
            print(f"error: {error}", file=sys.stderr)
            failures += 1
            continue
        print(result.describe())
        months.append(result.month)
    if months and not args.no_enrich:
        from bot.arxiv.enrich import enrich_after_load

        sys.stdout.flush()
        enrich_after_load(db, settings, months, out=sys.stderr)
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
    except sqlite3.Error as error:
        # A database another process keeps locked past the busy timeout, or a damaged file.
        print(f"error: database (PAPERBOT_DB): {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`paperbot search … | head`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
