"""Which Slack messages paperbot has already answered: the record behind "exactly one answer per message".

Slack retries an event that was not acknowledged in 3 s (up to 3 times, ``X-Slack-Retry-Num``), Socket Mode
may redeliver, and one mention arrives as two events (``app_mention`` and ``message``) with different
``event_id``\\ s. What stays the same is the message: ``(team, channel, ts)``. The first delivery inserts that
key under a UNIQUE constraint and answers; every other delivery finds the key taken and does nothing.

Link unfurls are recorded the same way in a table of their own (a message may hold both a mention and an
arXiv link, and both deserve their answer): ``(team, channel, message ts)`` for a posted message,
``(team, "COMPOSER", unfurl_id)`` for a link still in the composer.

Rows older than :data:`KEEP` are pruned every :data:`PRUNE_EVERY` claims: Slack stops redelivering after
minutes.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import sqlite_utils

from bot.db import write_transaction

KEEP = timedelta(days=7)
"""How long a handled message is remembered (Slack's last retry comes minutes after the first try)."""
PRUNE_EVERY = 100
"""Old rows are deleted by one claim in this many, at random (a scan: not on every event's path)."""


def _now() -> datetime:
    return datetime.now(UTC)


def claim_message(
    db: sqlite_utils.Database,
    team: str,
    channel: str,
    ts: str,
    *,
    event_type: str,
    event_id: str | None = None,
    user_id: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Record that the message ``(team, channel, ts)`` is being answered; ``False`` when a delivery of the
    same message already claimed it (then do nothing)."""
    moment = now or _now()
    with write_transaction(db):
        cursor = db.execute(
            "INSERT OR IGNORE INTO handled_messages (team, channel, ts, event_type, event_id, user_id, handled_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [team, channel, ts, event_type, event_id, user_id, moment.isoformat()],
        )
        inserted = cursor.rowcount > 0
        if inserted and random.randrange(PRUNE_EVERY) == 0:
            db.execute("DELETE FROM handled_messages WHERE handled_at < ?", [(moment - KEEP).isoformat()])
    return inserted


def claim_unfurl(db: sqlite_utils.Database, team: str, channel: str, ts: str, *, now: datetime | None = None) -> bool:
    """Record that the links of ``(team, channel, ts)`` are being unfurled; ``False`` for a redelivery."""
    moment = now or _now()
    with write_transaction(db):
        cursor = db.execute(
            "INSERT OR IGNORE INTO handled_unfurls (team, channel, ts, handled_at) VALUES (?, ?, ?, ?)",
            [team, channel, ts, moment.isoformat()],
        )
        inserted = cursor.rowcount > 0
        if inserted and random.randrange(PRUNE_EVERY) == 0:
            db.execute("DELETE FROM handled_unfurls WHERE handled_at < ?", [(moment - KEEP).isoformat()])
    return inserted


def handled_count(db: sqlite_utils.Database) -> int:
    """How many messages are on record (for tests and ``doctor``-style checks)."""
    return int(db.execute("SELECT count(*) FROM handled_messages").fetchone()[0])
