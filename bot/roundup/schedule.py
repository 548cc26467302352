"""The monthly roundup schedule: a cron trigger read as cron reads it, a job that posts what is due, and
a catch-up when the bot was down at the scheduled time.

APScheduler's ``CronTrigger`` numbers weekdays from Monday (0 = Monday) and ANDs day-of-month with
day-of-week; cron numbers them from Sunday (0 and 7 = Sunday) and ORs the two when both are restricted.
:func:`cron_trigger` translates, so ``ROUNDUP_SCHEDULE`` means what it means in a crontab.

Each fire the job served is recorded in ``roundup_schedule_runs``; at start, a most recent fire time
with no successful run is caught up at once. Posting itself is exactly-once (bot.roundup.post), so a
catch-up racing another process costs nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlite_utils
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

from bot.config import ConfigError, Settings
from bot.db import thread_db, write_transaction
from bot.roundup.post import (
    LEASE_SECONDS,
    PostResult,
    RoundupChannel,
    RoundupError,
    due_month,
    owner_name,
    post_roundup,
)

JOB_ID = "monthly_roundup"
RETRY_DELAYS = (timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
"""After a failed scheduled post: try again after these delays, then at the next start or fire."""

log = logging.getLogger("bot.roundup.schedule")

_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def _expand(field: str, low: int, high: int, names: tuple[str, ...] = (), name_base: int = 0) -> set[int]:
    """The values a cron field selects: ``*``, ``a-b``, ``a-b/n``, ``*/n``, lists, and names."""

    def number(token: str) -> int:
        token = token.lower()
        if token in names:
            return names.index(token) + name_base
        if not token.isdigit():
            raise ValueError(f"{token!r} is not a number")
        return int(token)

    values: set[int] = set()
    for part in field.split(","):
        match = re.fullmatch(r"(\*|[\w]+(?:-[\w]+)?)(?:/(\d+))?", part)
        if not match:
            raise ValueError(f"cannot read {part!r}")
        span, step = match.group(1), int(match.group(2) or 1)
        if step < 1:
            raise ValueError("a step must be 1 or more")
        if span == "*":
            start, stop = low, high
        elif "-" in span:
            start, stop = (number(x) for x in span.split("-", 1))
        else:
            start = stop = number(span)
            if match.group(2):
                stop = high
        if not (low <= start <= high and low <= stop <= high) or start > stop:
            raise ValueError(f"{part!r} is outside {low}-{high}")
        values.update(range(start, stop + 1, step))
    return values


class _OncePerWallTime(BaseTrigger):  # type: ignore[misc]
    """Skip the second of two fires at the same local wall time (when clocks go back, 02:30 happens
    twice and APScheduler fires at both; cron fires once).

    Still needed with APScheduler 3.11.3 (tests/test_dependencies.py checks that a bare ``CronTrigger``
    fires twice): https://github.com/agronholm/apscheduler/issues/120 asks for cron's behaviour and is open;
    3.11.2's fix (https://github.com/agronholm/apscheduler/issues/1021) only stops the infinite loop.
    """

    def __init__(self, inner: BaseTrigger, timezone: ZoneInfo) -> None:
        self.inner = inner
        self.timezone = timezone

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        fire: datetime | None = self.inner.get_next_fire_time(previous_fire_time, now)
        if fire is not None and previous_fire_time is not None:
            wall = [moment.astimezone(self.timezone).replace(tzinfo=None) for moment in (previous_fire_time, fire)]
            same_wall = wall[0] == wall[1]
            if same_wall and fire.timestamp() != previous_fire_time.timestamp():
                fire = self.inner.get_next_fire_time(fire, fire.astimezone(UTC) + timedelta(seconds=1))
        return fire

    def __str__(self) -> str:
        return f"cron {self.inner}"


def cron_trigger(expression: str, timezone: ZoneInfo) -> BaseTrigger:
    """A trigger that fires exactly when cron would for ``expression`` (minute hour day month weekday).

    Raises :class:`ConfigError` naming ``ROUNDUP_SCHEDULE`` when the expression cannot be read.
    """
    fields = expression.split()
    if len(fields) != 5:
        raise ConfigError(f"ROUNDUP_SCHEDULE must have 5 fields (minute hour day month weekday), got {expression!r}")
    minute, hour, day, month, weekday = fields
    try:
        weekdays = {value % 7 for value in _expand(weekday, 0, 7, _DAY_NAMES)}
        _expand(minute, 0, 59)
        _expand(hour, 0, 23)
        _expand(day, 1, 31)
        months = _expand(month, 1, 12, _MONTH_NAMES, name_base=1)
    except ValueError as error:
        raise ConfigError(f"ROUNDUP_SCHEDULE {expression!r} is not a crontab expression: {error}") from None
    day_of_week = ",".join(_DAY_NAMES[value] for value in sorted(weekdays))
    month_field = ",".join(str(value) for value in sorted(months))
    common = {"minute": minute, "hour": hour, "month": month_field, "timezone": timezone}
    # As in cron (vixie, cronie): a field that starts with "*" (also "*/2") does not restrict, so it is
    # ANDed; only when both name days are they ORed.
    day_restricted, weekday_restricted = not day.startswith("*"), not weekday.startswith("*")
    inner: BaseTrigger
    if day_restricted and weekday_restricted:
        # cron: either matches. APScheduler would require both.
        inner = OrTrigger([CronTrigger(day=day, **common), CronTrigger(day_of_week=day_of_week, **common)])
    else:
        inner = CronTrigger(day=day, day_of_week=day_of_week, **common)
    trigger = _OncePerWallTime(inner, timezone)
    # A date that never comes (31 February) would leave the scheduler silent forever. 28 years from a fixed
    # point cover every combination of day, month, weekday and leap year (the calendar repeats after 28).
    first: datetime | None = trigger.get_next_fire_time(None, datetime(2001, 1, 1, tzinfo=timezone))
    if first is None or first > datetime(2029, 1, 1, tzinfo=timezone):
        raise ConfigError(f"ROUNDUP_SCHEDULE {expression!r} never fires (no such date)")
    return trigger


def previous_fire_time(trigger: BaseTrigger, now: datetime) -> datetime | None:
    """The last time at or before ``now`` the trigger fired (within the past 13 months)."""
    for window in (timedelta(hours=1), timedelta(days=1), timedelta(days=32), timedelta(days=400)):
        fire: datetime | None = trigger.get_next_fire_time(None, now - window)
        last: datetime | None = None
        for _ in range(10_000):
            if fire is None or fire > now:
                break
            last = fire
            fire = trigger.get_next_fire_time(fire, fire.astimezone(UTC) + timedelta(seconds=1))
        if last is not None:
            return last
    return None


def _record_run(db: sqlite_utils.Database, channel: str, fire_time: datetime, month: str | None, outcome: str) -> None:
    with write_transaction(db):
        db.execute(
            "INSERT INTO roundup_schedule_runs (channel, fire_time, month, outcome, ran_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (channel, fire_time) DO UPDATE SET month = excluded.month, outcome = excluded.outcome,"
            " ran_at = excluded.ran_at",
            [channel, fire_time.isoformat(), month, outcome, datetime.now(UTC).isoformat(timespec="seconds")],
        )


def run_scheduled_roundup(
    db: sqlite_utils.Database,
    client: RoundupChannel,
    channel: str,
    fire_time: datetime,
    *,
    post_interval: float | None = None,
) -> PostResult | None:
    """The job: post the latest digest month not yet posted to ``channel``; record the fire as served.

    Returns ``None`` when nothing is due.
    """
    month = due_month(db, channel)
    if month is None:
        _record_run(db, channel, fire_time, None, "nothing")
        log.info("roundup: nothing due for %s", channel)
        return None
    try:
        result = post_roundup(db, client, month, channel, owner=owner_name("scheduler"), post_interval=post_interval)
    except RoundupError as error:
        _record_run(db, channel, fire_time, month, "failed")
        log.error("roundup %s for %s failed: %s", month, channel, error)
        return PostResult(month, channel, "failed", error=str(error))
    _record_run(db, channel, fire_time, month, result.status)
    log.info("roundup: %s", result.describe())
    return result


def record_first_start(db: sqlite_utils.Database, channel: str, now: datetime) -> datetime:
    """Note when the scheduler first ran for ``channel`` (kept across restarts); returns that time."""
    with write_transaction(db):
        db.execute(
            "INSERT OR IGNORE INTO roundup_schedule_start (channel, first_started) VALUES (?, ?)",
            [channel, now.isoformat()],
        )
        row = db.execute("SELECT first_started FROM roundup_schedule_start WHERE channel = ?", [channel]).fetchone()
    return datetime.fromisoformat(str(row[0]))


def needs_catch_up(db: sqlite_utils.Database, channel: str, trigger: BaseTrigger, now: datetime) -> datetime | None:
    """The most recent fire time, when no run served it to the end (the bot was down, the post failed, or
    another poster held the month and may have died with it). Only fire times that fell while the
    scheduler was installed for ``channel`` count: never one before its first start."""
    fire = previous_fire_time(trigger, now)
    if fire is None:
        return None
    started = db.execute("SELECT first_started FROM roundup_schedule_start WHERE channel = ?", [channel]).fetchone()
    if started is None or fire < datetime.fromisoformat(str(started[0])):
        return None
    row = db.execute(
        "SELECT outcome FROM roundup_schedule_runs WHERE channel = ? AND fire_time = ?", [channel, fire.isoformat()]
    ).fetchone()
    if row is not None and row[0] not in ("failed", "busy"):
        return None
    return fire


def start_scheduler(
    settings: Settings,
    client_factory: Callable[[], RoundupChannel],
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    post_interval: float | None = None,
) -> BackgroundScheduler | None:
    """Start the roundup scheduler for ``ROUNDUP_CHANNEL`` (``None`` when no channel is configured).

    ``now`` is the clock the schedule is read against (tests pass a fixed one); ``post_interval`` is
    the pause between messages in seconds (Slack allows ~1 message per second per channel).
    """
    channel = settings.roundup_channel
    if channel is None:
        log.info("ROUNDUP_CHANNEL is not set: no scheduled roundup")
        return None
    timezone = settings.roundup_timezone
    trigger = cron_trigger(settings.roundup_schedule, timezone)
    scheduler = BackgroundScheduler(timezone=timezone)

    def job(fire_time: datetime | None = None, retry: int = 0) -> None:
        fired = fire_time or previous_fire_time(trigger, now().astimezone(timezone)) or now()
        log.info(
            "roundup: scheduler fired for %s (due %s%s)",
            channel,
            fired.isoformat(),
            f", retry {retry}" if retry else "",
        )
        db = thread_db(settings.db_path)
        result = run_scheduled_roundup(db, client_factory(), channel, fired, post_interval=post_interval)
        if result is not None and result.status in ("failed", "busy") and retry < len(RETRY_DELAYS):
            # "busy": another poster holds the month; if it died, its lease expires and we finish the job.
            delay = RETRY_DELAYS[retry] if result.status == "failed" else timedelta(seconds=LEASE_SECONDS + 30)
            when = datetime.now(UTC) + delay
            log.warning("roundup: retrying at %s", when.isoformat())
            scheduler.add_job(job, "date", run_date=when, kwargs={"fire_time": fired, "retry": retry + 1})

    scheduler.add_job(job, trigger, id=JOB_ID, coalesce=True, max_instances=1, misfire_grace_time=3600)
    record_first_start(thread_db(settings.db_path), channel, now().astimezone(timezone))
    missed = needs_catch_up(thread_db(settings.db_path), channel, trigger, now().astimezone(timezone))
    if missed is not None:
        log.info("roundup: the run due at %s did not happen; catching up now", missed.isoformat())
        scheduler.add_job(job, kwargs={"fire_time": missed}, id="roundup_catch_up")  # no trigger: run at once
    scheduler.start()
    return scheduler


def describe_next_roundup(db: sqlite_utils.Database, channel: str, trigger: BaseTrigger, now: datetime) -> str:
    """``next roundup: 2026-12-01 09:00 UTC, month 2023-02, to C0123`` (the month as things stand now)."""
    fire: datetime | None = trigger.get_next_fire_time(None, now)
    if fire is None:
        return f"next roundup: never (ROUNDUP_SCHEDULE has no future date), to {channel}"
    month = due_month(db, channel)
    what = f"month {month}" if month else "nothing due yet (every digest month is posted; load the next one)"
    return f"next roundup: {fire.strftime('%Y-%m-%d %H:%M %Z')}, {what}, to {channel}"


def next_roundup_line(settings: Settings, now: datetime | None = None) -> str | None:
    """What ``serve`` says at start about the schedule, or ``None`` when ``ROUNDUP_CHANNEL`` is unset."""
    channel = settings.roundup_channel
    if channel is None:
        return None
    timezone = settings.roundup_timezone
    trigger = cron_trigger(settings.roundup_schedule, timezone)
    moment = (now or datetime.now(UTC)).astimezone(timezone)
    return describe_next_roundup(thread_db(settings.db_path), channel, trigger, moment)
