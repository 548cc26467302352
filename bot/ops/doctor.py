"""``paperbot doctor``: is this installation set up right? One line per check, and the fix for each failure.

Each check returns a :class:`Result` (ok, fail, or off for an optional feature that is not set up); the
command prints one line per result and exits 1 when any failed. Checks never change anything: the
database is opened read-only (not created, not migrated), the Slack calls read, the app-level token's
connection URL is left unused, and arXiv gets one request through the usual rate limiter.

The Slack calls live in :mod:`bot.slack.checks`; this module only decides and words.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from bot.config import NO_CONNECTION_SETTING, ConfigError, Settings

Status = Literal["ok", "fail", "off"]

MARKS: dict[Status, str] = {"ok": "✓", "fail": "✗", "off": "–"}

STALE_BACKUP_DAYS = 2
"""With daily backups on, a newest backup older than this means ``serve`` is not taking them."""

PROBE_ARXIV_ID = "2301.11325"
"""A paper known to exist (MusicLM), asked of arXiv to see that it answers."""


@dataclass(frozen=True)
class Result:
    name: str
    status: Status
    detail: str
    fix: str | None = None

    def line(self) -> str:
        text = f"{MARKS[self.status]} {self.name}: {self.detail}"
        return f"{text} → fix: {self.fix}" if self.status == "fail" and self.fix else text


def _ok(name: str, detail: str) -> Result:
    return Result(name, "ok", detail)


def _fail(name: str, detail: str, fix: str) -> Result:
    return Result(name, "fail", detail, fix)


def _off(name: str, detail: str) -> Result:
    return Result(name, "off", detail)


# --- settings and mode --------------------------------------------------------------------------------


def check_settings(settings: Settings, dotenv: Path) -> Result:
    problems = settings.problems()
    source = f"{dotenv} read" if dotenv.is_file() else f"no {dotenv.name} in {dotenv.parent}"
    if problems:
        return _fail("settings", "; ".join(problems), "correct them in .env or the environment (see .env.example)")
    names = settings.configured()
    return _ok("settings", f"all parse ({source}; set: {', '.join(names) if names else 'none, all defaults'})")


def check_mode(settings: Settings) -> Result:
    """Which way the app talks to Slack, and which manifest it must have been created from."""
    try:
        token, app_token, secret = settings.slack_bot_token, settings.slack_app_token, settings.slack_signing_secret
    except ConfigError as error:
        return _fail("mode", str(error), "correct it in .env (see .env.example)")
    if token is None:
        return _off("mode", "no Slack (SLACK_BOT_TOKEN is not set): `paperbot serve` runs the local demo")
    if app_token is not None:
        return _ok(
            "mode",
            "Socket Mode (SLACK_APP_TOKEN is set): the app must be created from manifest.yml "
            "(socket_mode_enabled: true); no public URL needed",
        )
    if secret is not None:
        return _ok(
            "mode",
            "HTTP (SLACK_SIGNING_SECRET set, no SLACK_APP_TOKEN): the app must be created from manifest.http.yml, "
            "its request URLs pointing at https://YOUR-HOST/slack/events; run `paperbot serve --http`",
        )
    return _fail("mode", "neither SLACK_APP_TOKEN nor SLACK_SIGNING_SECRET is set", NO_CONNECTION_SETTING)


# --- the database -------------------------------------------------------------------------------------


@contextmanager
def _read_only(path: Path) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)) as conn:
        yield conn


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.is_file())


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size / 1000:.0f} kB"


def check_database(settings: Settings) -> Result:
    import sqlite_utils

    from bot.db import MIGRATIONS

    name = "database"
    try:
        path = settings.db_path
    except ConfigError as error:  # pragma: no cover - db_path has a default and cannot be malformed
        return _fail(name, str(error), "correct PAPERBOT_DB")
    where = f"{path}" if path.is_absolute() else f"{path} (in {Path.cwd()}: PAPERBOT_DB is relative to this folder)"
    if not path.is_file():
        return _fail(
            name,
            f"no database at {where}",
            "run paperbot from the folder that holds it, set PAPERBOT_DB to its absolute path, "
            "or create it with `paperbot load data/digests/*.txt`",
        )
    restore = (
        "restore the newest backup (README → Backups: stop the bot, move the file and its -wal/-shm aside, "
        "copy the backup in its place, start the bot)"
    )
    try:
        with _read_only(path) as conn:
            verdict = [str(row[0]) for row in conn.execute("PRAGMA quick_check").fetchall()]
            if verdict != ["ok"]:
                return _fail(name, f"{path} fails PRAGMA quick_check: {'; '.join(verdict[:3])}", restore)
            db = sqlite_utils.Database(conn)
            pending = [m.name for m in MIGRATIONS.pending(db)]
            known = {m.name for m in MIGRATIONS._migrations}
            unknown = [m.name for m in MIGRATIONS.applied(db) if m.name not in known]
            counts = _counts(conn) if not pending else None
    except sqlite3.DatabaseError as error:
        return _fail(name, f"cannot read {path}: {error}", restore)
    if unknown:
        return _fail(
            name,
            f"{path} has migrations this paperbot does not know ({', '.join(unknown[:3])})",
            "it was used by a newer paperbot: upgrade this one",
        )
    size = _megabytes(_size(path))
    if pending:
        return _fail(
            name,
            f"{path} ({size}) passes quick_check but {len(pending)} migrations are pending ({', '.join(pending[:3])})",
            "take a `paperbot backup`, then any paperbot command (e.g. `paperbot serve`) applies them",
        )
    assert counts is not None
    papers, months, suggestions = counts
    return _ok(
        name,
        f"{path}, {size}, quick_check ok, migrations current ({len(known)}); "
        f"{papers} papers in {months} digest months, {suggestions} suggestions",
    )


def _counts(conn: sqlite3.Connection) -> tuple[int, int, int]:
    def one(sql: str) -> int:
        return int(conn.execute(sql).fetchone()[0])

    return (
        one("SELECT count(*) FROM papers"),
        one("SELECT count(*) FROM digests"),
        one("SELECT count(*) FROM suggestions WHERE removed_by IS NULL"),
    )


def check_enrichment(settings: Settings, database_ok: bool) -> Result:
    name = "enrichment"
    if not database_ok:
        return _off(name, "not checked (the database check failed)")
    with _read_only(settings.db_path) as conn:
        rows = dict(conn.execute("SELECT enrich_status, count(*) FROM papers GROUP BY 1").fetchall())
    pending, failed = int(rows.get("pending", 0)), int(rows.get("failed", 0))
    total = sum(int(v) for v in rows.values())
    detail = f"{pending} of {total} papers pending, {failed} failed, {int(rows.get('enriched', 0))} enriched"
    if pending or failed:
        detail += " (`paperbot serve` fetches them in the background; `paperbot enrich` does it now)"
    return _ok(name, detail)


# --- Slack --------------------------------------------------------------------------------------------


def check_slack(settings: Settings) -> list[Result]:
    """The bot token, its scopes, the connection (Socket Mode or HTTP), the roundup channel."""
    from bot.slack import checks
    from bot.slack.ids import BOT_SCOPES

    try:
        token = settings.slack_bot_token
    except ConfigError as error:
        return [_fail("Slack bot token", str(error), "copy the Bot User OAuth Token (xoxb-…) into SLACK_BOT_TOKEN")]
    if token is None:
        return [_off("Slack", "off (SLACK_BOT_TOKEN is not set); see README → Connecting to Slack")]
    try:
        url = settings.slack_api_url
    except ConfigError as error:
        return [_fail("Slack bot token", str(error), "unset SLACK_API_URL (only tests need it)")]
    results: list[Result] = []
    auth = checks.check_bot_token(settings)
    if not auth.ok:
        fix = auth.explanation or "check SLACK_BOT_TOKEN"
        code = auth.error or "error"
        detail = f"Slack refused SLACK_BOT_TOKEN ({code})" if code != "unreachable" else f"Slack not reachable ({url})"
        return [
            _fail("Slack bot token", detail, fix),
            _off("scopes", "not checked (the bot token failed)"),
            _check_connection(settings),
            _off("roundup channel", "not checked (the bot token failed)"),
        ]
    results.append(
        _ok(
            "Slack bot token",
            f"valid: team {auth.team} ({auth.team_id}), bot user @{auth.bot_user} ({auth.bot_user_id})",
        )
    )
    if auth.scopes is None:
        results.append(
            _fail(
                "scopes",
                "Slack did not say which scopes the token has (no X-OAuth-Scopes header)",
                "compare OAuth & Permissions → Scopes with manifest.yml by hand",
            )
        )
    elif auth.missing_scopes:
        results.append(
            _fail(
                "scopes",
                f"missing {', '.join(auth.missing_scopes)} (granted: {', '.join(sorted(auth.scopes)) or 'none'})",
                "add them under OAuth & Permissions → Scopes (or update the app from manifest.yml), "
                "then reinstall the app to the workspace",
            )
        )
    else:
        results.append(_ok("scopes", f"all {len(BOT_SCOPES)} scopes manifest.yml asks for are granted"))
    results.append(_check_connection(settings))
    results.append(_check_roundup_channel(settings))
    return results


def _check_connection(settings: Settings) -> Result:
    from bot.slack import checks

    if settings.slack_app_token is not None:
        opened = checks.check_app_token(settings)
        if opened.ok:
            return _ok("Socket Mode", "Slack accepts SLACK_APP_TOKEN (apps.connections.open)")
        return _fail(
            "Socket Mode",
            f"Slack refused SLACK_APP_TOKEN ({opened.error})",
            opened.explanation or "check SLACK_APP_TOKEN",
        )
    if settings.slack_signing_secret is not None:
        return _ok("HTTP mode", "SLACK_SIGNING_SECRET is set (Slack's signature on each request is checked)")
    return _fail("connection", "neither SLACK_APP_TOKEN nor SLACK_SIGNING_SECRET is set", NO_CONNECTION_SETTING)


def _check_roundup_channel(settings: Settings) -> Result:
    from bot.slack import checks

    name = "roundup channel"
    try:
        channel = settings.roundup_channel
    except ConfigError as error:
        return _fail(name, str(error), "put the channel's id (C…) in ROUNDUP_CHANNEL (README → Finding a channel id)")
    if channel is None:
        return _off(name, "off (ROUNDUP_CHANNEL is not set: no scheduled roundup)")
    found = checks.check_channel(settings, channel)
    label = f"#{found.name} ({channel})" if found.name else channel
    if found.is_member and not found.archived:
        return _ok(name, f"{label} exists and the bot is a member")
    if found.archived:
        return _fail(name, f"{label} is archived", "unarchive it or set ROUNDUP_CHANNEL to another channel")
    if found.error == "not_in_channel":
        return _fail(name, f"the bot is not a member of {label}", f"type /invite @paperbot in {label}")
    return _fail(name, f"{label}: {found.error}", found.explanation or "check ROUNDUP_CHANNEL")


# --- the schedule ---------------------------------------------------------------------------------------


def check_schedule(settings: Settings, database_ok: bool, now: datetime | None = None) -> Result:
    from bot.roundup.schedule import cron_trigger

    name = "schedule"
    try:
        channel = settings.roundup_channel
        timezone = settings.roundup_timezone
        expression = settings.roundup_schedule
        trigger = cron_trigger(expression, timezone)
    except ConfigError as error:
        return _fail(name, str(error), "correct it in .env (see .env.example)")
    if channel is None:
        return _off(name, "off (no ROUNDUP_CHANNEL)")
    fires: list[datetime] = []
    fire: datetime | None = trigger.get_next_fire_time(None, (now or datetime.now(UTC)).astimezone(timezone))
    while fire is not None and len(fires) < 3:
        fires.append(fire)
        fire = trigger.get_next_fire_time(fire, fire.astimezone(UTC) + timedelta(seconds=1))
    due, latest = _due(settings, channel) if database_ok else (None, None)
    parts = []
    for index, fire in enumerate(fires):
        when = fire.strftime("%Y-%m-%d %H:%M %Z")
        if not database_ok:
            parts.append(when)
            continue
        if index == 0:
            what = f"posts {due}" if due else (f"nothing new ({latest} already posted)" if latest else "no digest yet")
        else:
            newest = due or latest
            what = f"posts a digest newer than {newest} if one is loaded by then" if newest else "a digest, if loaded"
        parts.append(f"{when} → {what}")
    zone = getattr(timezone, "key", str(timezone))
    unknown = "" if database_ok else " (which month each posts: unknown, the database check failed)"
    return _ok(name, f"{expression!r} in {zone}: " + "; ".join(parts) + unknown)


def _due(settings: Settings, channel: str) -> tuple[str | None, str | None]:
    """(the month the next fire posts, the latest digest month), read-only."""
    with _read_only(settings.db_path) as conn:
        latest = conn.execute("SELECT max(month) FROM digests").fetchone()[0]
        if latest is None:
            return None, None
        posted = conn.execute(
            "SELECT 1 FROM roundup_posts WHERE month = ? AND channel = ? AND status = 'posted'", [latest, channel]
        ).fetchone()
    return (None if posted else str(latest)), str(latest)


# --- arXiv and backups --------------------------------------------------------------------------------


def check_arxiv(settings: Settings) -> Result:
    from bot.arxiv.client import ArxivClient, ArxivError

    name = "arXiv"
    try:
        url, delay = settings.arxiv_api_url, settings.arxiv_delay_seconds
    except ConfigError as error:
        return _fail(name, str(error), "correct it in .env (see .env.example)")
    started = time.perf_counter()
    try:
        with ArxivClient(url, delay, attempts=1, timeout_seconds=20) as client:
            client.fetch_ids([PROBE_ARXIV_ID])
    except ArxivError as error:
        return _fail(
            name,
            f"not reachable: {error}",
            "check the network and ARXIV_API_URL (https://status.arxiv.org); papers wait as pending until it answers",
        )
    ms = (time.perf_counter() - started) * 1000
    return _ok(name, f"{url} answered in {ms:.0f} ms (one request, {delay:g} s apart as ARXIV_DELAY_SECONDS asks)")


def check_backups(settings: Settings, now: datetime | None = None) -> Result:
    from bot.ops.backup import age_text, backups_dir, list_backups

    name = "backups"
    try:
        keep = settings.backups_kept
    except ConfigError as error:
        return _fail(name, str(error), "set PAPERBOT_BACKUPS to a whole number (0 turns daily backups off)")
    found = list_backups(settings)
    daily = f"`paperbot serve` keeps {keep} daily" if keep else "daily backups off (PAPERBOT_BACKUPS=0)"
    if not found:
        if keep == 0:
            return _off(name, f"off (PAPERBOT_BACKUPS=0, none in {backups_dir(settings)})")
        # A new install has none until `serve` starts: not a failure, but said plainly.
        return _off(
            name,
            f"none yet in {backups_dir(settings)} ({daily}, the first when it starts; `paperbot backup` takes one now)",
        )
    newest = found[0]
    current = now or datetime.now(UTC)
    detail = f"newest {newest.path} is {age_text(newest.taken_at, current)} old; {len(found)} in all; {daily}"
    if keep and (current - newest.taken_at).days >= STALE_BACKUP_DAYS:
        return _fail(name, detail, "is `paperbot serve` running? it takes one a day; `paperbot backup` takes one now")
    return _ok(name, detail)


# --- the whole run ------------------------------------------------------------------------------------


def run_checks(settings: Settings, dotenv: Path, out: Callable[[str], None]) -> list[Result]:
    """Run every check in order, printing each line as soon as it is known."""
    results: list[Result] = []

    def emit(*found: Result) -> None:
        for result in found:
            results.append(result)
            out(result.line())

    emit(check_settings(settings, dotenv))
    emit(check_mode(settings))
    database = check_database(settings)
    emit(database)
    emit(*check_slack(settings))
    emit(check_schedule(settings, database.status == "ok"))
    emit(check_arxiv(settings))
    emit(check_enrichment(settings, database.status == "ok"))
    emit(check_backups(settings))
    return results


def summary(results: list[Result]) -> str:
    failed = [r for r in results if r.status == "fail"]
    if not failed:
        return "all checks passed"
    return f"{len(failed)} of {len(results)} checks failed: {', '.join(r.name for r in failed)}"
