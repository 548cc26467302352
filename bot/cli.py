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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from bot.config import ConfigError, Settings, load_settings
from bot.db import DatabaseError, connect
from bot.digest.parse import DigestError

if TYPE_CHECKING:
    import sqlite_utils

    from bot.digest.versions import Source

EXIT_BUSY = 75
"""``roundup --post`` while another process is posting the same month (EX_TEMPFAIL: try again later)."""


class CommandError(Exception):
    """A command cannot do what was asked; the message is the one line printed to stderr."""


def _month(value: str) -> str:
    """A month with its year in any form people write (``2023-1``, ``2023年1月``, ``jan 2023``)."""
    from bot.digest.months import MonthError, parse_month

    try:
        return parse_month(value)
    except MonthError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


class OneLineErrors(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2), as every other failure is."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def existing_database(settings: Settings) -> sqlite_utils.Database:
    """The database for a command that only reads it. Where there is none yet, an empty one in memory:
    the command answers as on an empty archive ("no digest loaded yet"), and a mistyped PAPERBOT_DB or
    the wrong working folder leaves no new file behind."""
    return connect(settings.db_path if settings.db_path.exists() else ":memory:")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrors(prog="paperbot", description="Monthly paper digests for Slack teams.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=OneLineErrors)

    load = commands.add_parser("load", help="parse digest files or pages and upsert them into the database")
    load.add_argument(
        "paths", nargs="+", metavar="PATH_OR_URL", help="digest files (.txt, .md, .html) or the digest's web page URL"
    )
    load.add_argument(
        "--month", type=_month, help="the digest's month, YYYY-MM (default: from the file name or URL, else arXiv ids)"
    )
    load.add_argument("--no-enrich", action="store_true", help="do not fetch arXiv metadata after loading")
    load.add_argument(
        "--replace", action="store_true", help="load even when it removes papers from a month or overrides its month"
    )
    load.add_argument("--dry-run", action="store_true", help="print what the load would change and write nothing")
    load.set_defaults(handler=cmd_load)

    history = commands.add_parser("history", help="list the stored versions of each digest")
    history.add_argument("month", nargs="?", type=_month, metavar="MONTH", help="only this month, YYYY-MM")
    history.set_defaults(handler=cmd_history)

    restore = commands.add_parser("restore", help="make an earlier version of a digest current again")
    restore.add_argument("month", type=_month, metavar="MONTH", help="the digest month, YYYY-MM")
    restore.add_argument("version", type=_positive, metavar="VERSION", help="the version number (see history)")
    restore.add_argument("--dry-run", action="store_true", help="print what the restore would change, write nothing")
    restore.set_defaults(handler=cmd_restore)

    enrich = commands.add_parser("enrich", help="fetch arXiv metadata for papers that lack it")
    enrich.add_argument("--limit", type=_positive, metavar="N", help="enrich at most N papers this run")
    enrich.add_argument("--refresh", action="store_true", help="fetch again papers already enriched or not found")
    enrich.set_defaults(handler=cmd_enrich)

    search = commands.add_parser("search", help="print the answer /paper QUERY would give")
    search.add_argument("query", nargs="+", metavar="QUERY", help="what you would type after /paper")
    search.add_argument("--json", action="store_true", help="print the Slack message payload (text + blocks)")
    search.add_argument("--en", action="store_true", help="the paper's English arXiv abstract instead of the summary")
    search.set_defaults(handler=cmd_search)

    serve = commands.add_parser("serve", help="run the bot (Socket Mode, or HTTP with --http)")
    serve.add_argument("--http", action="store_true", help="HTTP mode even when SLACK_APP_TOKEN is set")
    serve.add_argument("--host", default="0.0.0.0", help="HTTP mode: address to bind (default 0.0.0.0)")
    serve.add_argument("--port", type=_port, default=3000, help="HTTP mode: port (default 3000)")
    serve.add_argument("--no-scheduler", action="store_true", help="do not run the monthly roundup scheduler")
    serve.set_defaults(handler=cmd_serve)

    roundup = commands.add_parser("roundup", help="print the monthly roundup, or post it with --post")
    roundup.add_argument(
        "--month", help="the digest month: 2023-01, 2023/1, 202301, 2023年1月, jan 2023, 1月 (default: the latest)"
    )
    roundup.add_argument("--post", action="store_true", help="post it to the channel, exactly once")
    roundup.add_argument("--channel", type=_channel, help="channel ID (default: ROUNDUP_CHANNEL)")
    roundup.set_defaults(handler=cmd_roundup)

    reindex = commands.add_parser("reindex", help="rebuild the search index from the stored digests and arXiv metadata")
    reindex.set_defaults(handler=cmd_reindex)
    export = commands.add_parser("export", help="citations of the archive (or one month) on stdout")
    export.add_argument("--month", type=_month, help="only the papers of this digest month, YYYY-MM")
    export.add_argument("--format", choices=("bibtex", "ris", "csljson"), default="bibtex", help="default: bibtex")
    export.set_defaults(handler=cmd_export)

    doctor = commands.add_parser("doctor", help="check the set-up: settings, database, Slack, schedule, arXiv, backups")
    doctor.set_defaults(handler=cmd_doctor)

    backup = commands.add_parser("backup", help="write a consistent copy of the database (safe while serve runs)")
    backup.add_argument(
        "path",
        nargs="?",
        metavar="PATH",
        help="a file or folder (default: backups/paperbot-YYYYMMDD-HHMMSS.db next to PAPERBOT_DB)",
    )
    backup.set_defaults(handler=cmd_backup)
    return parser


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    """One line per check; exit 1 when any failed."""
    from bot.ops.doctor import run_checks, summary

    results = run_checks(settings, Path.cwd() / ".env", lambda line: print(line, flush=True))
    print(summary(results))
    return 1 if any(result.status == "fail" for result in results) else 0


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    """A consistent copy of the database; PATH may be a folder (the default file name goes in it)."""
    from bot.ops.backup import BackupError, backup_database, default_backup_path

    target = Path(args.path) if args.path else default_backup_path(settings)
    if args.path and (target.is_dir() or args.path.endswith(("/", "\\"))):
        # A folder, existing or to be made (a trailing slash says so): the default name, free in it.
        target = default_backup_path(settings, folder=target)
    try:
        backup = backup_database(settings.db_path, target)
    except BackupError as error:
        raise CommandError(str(error)) from None
    print(f"backed up {settings.db_path} to {backup.path} ({backup.size:,} bytes)")
    return 0


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
    from bot.slack.replies import english_reply, paper_reply

    db = existing_database(settings)
    reply = english_reply(db, " ".join(args.query)) if args.en else paper_reply(db, " ".join(args.query))
    if args.json:
        print(json.dumps(reply.payload(), ensure_ascii=False, indent=2))
    else:
        print(render_text(reply))
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """Every paper's citation (or one month's), streamed to stdout; an unknown month is an error."""
    from bot.cite import bibtex, csljson, ris
    from bot.cite.records import citation_records
    from bot.digest import catalog

    db = existing_database(settings)
    if args.month and args.month not in catalog.months(db):
        known = ", ".join(catalog.months(db)[:12]) or "none loaded yet"
        raise CommandError(f"no digest for {args.month} (digests: {known})")
    records = citation_records(db, month=args.month)
    writer = {"bibtex": bibtex.bibliography, "ris": ris.records_text, "csljson": csljson.items_text}[args.format]
    out = sys.stdout
    for chunk in writer(records):
        out.write(chunk)
    out.flush()
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Socket Mode when SLACK_APP_TOKEN is set and --http is not given, else HTTP; no token: a demo.

    Everything that can fail at start (settings, the database, Slack accepting the tokens, the port) is
    done before any background work starts, and fails with one line."""
    if settings.slack_bot_token is None:
        if args.http:
            raise ConfigError("SLACK_BOT_TOKEN is not set: HTTP mode needs it (and SLACK_SIGNING_SECRET)")
        others = [name for name in ("SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET") if settings.values.get(name, "").strip()]
        if others:
            # A deployment whose bot token went missing must fail, not load the demo into its database.
            raise ConfigError(
                f"SLACK_BOT_TOKEN is not set ({' and '.join(others)} is): the bot cannot start without it"
            )
        from bot.demo import run_demo

        return run_demo(settings)
    socket_mode = settings.slack_app_token is not None and not args.http
    from bot.logs import setup_logging

    setup_logging(settings)  # a malformed PAPERBOT_LOG_LEVEL / _FORMAT stops serve here
    _ = settings.backups_kept  # and PAPERBOT_BACKUPS too, rather than the backup thread
    check_serve_settings(settings, socket_mode=socket_mode, scheduler=not args.no_scheduler)
    db = connect(settings.db_path)  # create and migrate before any listener thread opens it
    from bot.db import merge_search_index, pin_database

    merge_search_index(db)  # loads leave the full-text index in segments; every search probes each
    db.close()

    pin_database(settings.db_path)  # from now on: this file, or none (never a fresh empty one)
    from bot.slack.server import StartupError, start_slack

    try:
        with _quiet_libraries():
            run = start_slack(settings, socket_mode=socket_mode, host=args.host, port=args.port)
    except StartupError as error:
        raise CommandError(str(error)) from None
    scheduler = None
    if not args.no_scheduler:
        from bot.roundup.schedule import next_roundup_line, start_scheduler
        from bot.slack.client import roundup_channel

        scheduler = start_scheduler(settings, lambda: roundup_channel(settings))
        line = next_roundup_line(settings)
        if line:
            # One write: log lines from other threads share the stream and must not split the line.
            sys.stdout.write(f"paperbot: {line}\n")
            sys.stdout.flush()
    from bot.arxiv.enrich import run_background_enrichment
    from bot.slack.followups import start_followups

    workers = start_followups(settings)
    stop = threading.Event()
    run.on_shutdown(stop.set)  # background loops end with the bot, before its last line
    run.on_shutdown(workers.stop)  # follow-ups under way finish or stay in the outbox for the next start
    threading.Thread(
        target=run_background_enrichment, args=(settings, stop), name="paperbot-enrich", daemon=True
    ).start()
    threading.Thread(target=_deliver_waiting_notices, args=(settings,), name="paperbot-watches", daemon=True).start()
    from bot.ops.backup import run_daily_backups

    threading.Thread(target=run_daily_backups, args=(settings, stop), name="paperbot-backup", daemon=True).start()
    try:
        run()
    finally:
        stop.set()
        workers.stop()
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

    db = existing_database(settings)
    month = _digest_month(args.month, catalog.months(db)) if args.month else catalog.latest_month(db)
    if month is None:
        raise CommandError("no digest loaded yet — `paperbot load FILE_OR_URL`")
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


def _digest_month(text: str, known: list[str]) -> str:
    """``--month`` in any form (bot.digest.months), refused with the digest months when none has it."""
    from bot.digest.months import MonthError, parse_month

    listed = ", ".join(known[:24]) or "none loaded"
    try:
        month = parse_month(text, known)
    except MonthError as error:
        raise CommandError(f"{error} (digests: {listed})") from None
    if month not in known:
        raise CommandError(f"there is no digest for {month} (digests: {listed})")
    return month


def cmd_reindex(args: argparse.Namespace, settings: Settings) -> int:
    """Re-derive every entry's search terms and rebuild the full-text index, in one transaction."""
    from bot.db import write_transaction
    from bot.search.index import rebuild

    db = connect(settings.db_path)
    with write_transaction(db):
        report = rebuild(db)
    print(report.describe())
    return 0


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    """Read every source first (files, pages), then load each in its own transaction; good sources load
    even when others fail. Two sources for one month are refused before anything is written."""
    from bot.digest.intake import read_source
    from bot.digest.parse import month_from_name
    from bot.digest.store import load_source

    if args.month and len(args.paths) > 1:
        # One digest per month: several files under one month would replace each other.
        raise CommandError("--month names the month of one digest: give a single PATH with it")
    failures = 0
    sources = []
    for argument in args.paths:
        try:
            sources.append(read_source(argument))
        except DigestError as error:
            print(f"error: {error}", file=sys.stderr)
            failures += 1
    db = _database_to_load_into(settings, sources, args.month, dry_run=args.dry_run)
    if not args.replace:
        _refuse_same_month(db, sources, args.month, month_from_name)
    months: list[str] = []
    notices = 0
    for source in sources:
        try:
            result = load_source(db, source, month=args.month, replace=args.replace, dry_run=args.dry_run)
        except DigestError as error:
            print(f"error: {error}", file=sys.stderr)
            failures += 1
            continue
        print(result.describe())
        months.append(result.month)
        notices += result.notices
    if not args.dry_run:
        _after_load(db, settings, months, notices, enrich=not args.no_enrich)
    if failures:
        if len(args.paths) > 1:
            print(f"error: {failures} of {len(args.paths)} sources could not be loaded", file=sys.stderr)
        return 1
    return 0


def _database_to_load_into(
    settings: Settings, sources: list[Source], month: str | None, *, dry_run: bool
) -> sqlite_utils.Database:
    """The database at ``PAPERBOT_DB``; but where none exists yet and this load would write nothing (a dry
    run, or no source that parses), an empty in-memory one: a load that loads nothing leaves no new file."""
    from bot.digest.intake import parse_source

    if settings.db_path.exists():
        return connect(settings.db_path)

    def parses(source: Source) -> bool:
        try:
            parse_source(source, month)  # ``--month`` may be all that names its month
        except DigestError:
            return False
        return True

    if dry_run or not any(parses(source) for source in sources):
        return connect(":memory:")
    return connect(settings.db_path)


def _refuse_same_month(
    db: sqlite_utils.Database, sources: list[Source], month: str | None, month_from_name: Callable[[str], str | None]
) -> None:
    """Two sources of one month in one command would silently replace each other: refuse the command."""
    from bot.digest.intake import parse_source

    seen: dict[str, str] = {}
    for source in sources:
        try:
            found = month or month_from_name(source.name) or parse_source(source).month
        except DigestError:
            continue  # reported when it is loaded
        if found in seen:
            raise CommandError(
                f"{seen[found]} and {source.name} are both the {found} digest: load one of them"
                " (or give --replace to load them in order, the last one winning); nothing loaded"
            )
        seen[found] = source.name


def _after_load(db: sqlite_utils.Database, settings: Settings, months: list[str], noted: int, *, enrich: bool) -> None:
    """arXiv metadata for what was loaded, the search index merged if the loads and the metadata left it in
    segments (a running ``serve`` reads the same file), then the watch notices the loads recorded (DMs when
    Slack is configured)."""
    if months and enrich:
        from bot.arxiv.enrich import enrich_after_load

        sys.stdout.flush()
        enrich_after_load(db, settings, months, out=sys.stderr)
    if months:
        from bot.db import merge_search_index

        merge_search_index(db)
    if noted:
        if settings.slack_bot_token:
            from bot.slack.client import make_web_client
            from bot.slack.watching import deliver_notices

            sent = deliver_notices(db, make_web_client(settings, retries=False))
            print(f"watches: {sent} direct message{'s' if sent != 1 else ''} sent", file=sys.stderr)
        else:
            what = "match" if noted == 1 else "matches"
            print(f"watches: {noted} {what} waiting for the bot to send (paperbot serve)", file=sys.stderr)


def _deliver_waiting_notices(settings: Settings) -> None:
    """Watch DMs recorded by a ``paperbot load`` run without Slack settings go out when the bot starts."""
    from bot.db import thread_db
    from bot.slack.client import make_web_client
    from bot.slack.watching import deliver_notices

    try:
        deliver_notices(thread_db(settings.db_path), make_web_client(settings, retries=False))
    except Exception:
        logging.getLogger("bot.watches").exception("sending waiting watch notices failed")


def cmd_history(args: argparse.Namespace, settings: Settings) -> int:
    from bot.digest.versions import history

    versions = history(existing_database(settings), args.month)
    if not versions:
        what = f"for {args.month}" if args.month else "yet"
        raise CommandError(f"no digest versions stored {what} — `paperbot load FILE_OR_URL`")
    for version in versions:
        print(version.describe())
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    """Parse the stored bytes again (no network) and load them as a new version of the month."""
    from bot.digest.store import restore_version

    db = existing_database(settings)
    try:
        result = restore_version(db, args.month, args.version, dry_run=args.dry_run)
    except DigestError as error:
        raise CommandError(str(error)) from None
    print(result.describe())
    if not args.dry_run:
        _after_load(db, settings, [result.month], result.notices, enrich=False)
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
