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

A claim is taken with a user's short busy timeout (:func:`bot.db.user_write`): while another process holds
the write lock, or the disk is full, the key is remembered in this process instead (at most
:data:`MEMORY_KEYS` of them) and the message is answered anyway, rather than holding a worker thread for
the 30 s busy timeout and then dropping the message without a word.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import OrderedDict
from datetime import UTC, datetime, timedelta

import sqlite_utils

from bot.db import DatabaseProblem, user_write, write_transaction

log = logging.getLogger("bot.slack.deliveries")

KEEP = timedelta(days=7)
"""How long a handled message is remembered (Slack's last retry comes minutes after the first try)."""
PRUNE_EVERY = 100
"""Old rows are deleted by one claim in this many, at random (a scan: not on every event's path)."""
MEMORY_KEYS = 10_000
"""Claims the database refused, remembered in this process (oldest forgotten first): Slack redelivers
within minutes, so a few thousand cover any burst."""

_remembered: OrderedDict[tuple[str, ...], None] = OrderedDict()
_remembered_lock = threading.Lock()


def _seen_in_memory(key: tuple[str, ...]) -> bool:
    with _remembered_lock:
        return key in _remembered


def _remember(key: tuple[str, ...]) -> bool:
    """Claim ``key`` in this process only; ``False`` when it already was."""
    with _remembered_lock:
        if key in _remembered:
            return False
        _remembered[key] = None
        while len(_remembered) > MEMORY_KEYS:
            _remembered.popitem(last=False)
        return True


def _claim(
    db: sqlite_utils.Database, key: tuple[str, ...], insert: str, values: list[object], prune: str, moment: datetime
) -> bool:
    """Insert the claim (and now and then prune old ones) with a user's short busy timeout; a database
    that refuses it leaves the claim in memory (:data:`MEMORY_KEYS`)."""
    if _seen_in_memory(key):
        return False
    try:
        with user_write(db), write_transaction(db):
            inserted = db.execute(insert, values).rowcount > 0
            if inserted and random.randrange(PRUNE_EVERY) == 0:
                db.execute(prune, [(moment - KEEP).isoformat()])
    except DatabaseProblem as problem:
        log.warning("claim of %s kept in memory only: %s", "/".join(key), problem)
        return _remember(key)
    return inserted


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
    return _claim(
        db,
        ("message", team, channel, ts),
        "INSERT OR IGNORE INTO handled_messages (team, channel, ts, event_type, event_id, user_id, handled_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [team, channel, ts, event_type, event_id, user_id, moment.isoformat()],
        "DELETE FROM handled_messages WHERE handled_at < ?",
        moment,
    )


def claim_unfurl(db: sqlite_utils.Database, team: str, channel: str, ts: str, *, now: datetime | None = None) -> bool:
    """Record that the links of ``(team, channel, ts)`` are being unfurled; ``False`` for a redelivery."""
    moment = now or _now()
    return _claim(
        db,
        ("unfurl", team, channel, ts),
        "INSERT OR IGNORE INTO handled_unfurls (team, channel, ts, handled_at) VALUES (?, ?, ?, ?)",
        [team, channel, ts, moment.isoformat()],
        "DELETE FROM handled_unfurls WHERE handled_at < ?",
        moment,
    )


def handled_count(db: sqlite_utils.Database) -> int:
    """How many messages are on record (for tests and ``doctor``-style checks)."""
    return int(db.execute("SELECT count(*) FROM handled_messages").fetchone()[0])
