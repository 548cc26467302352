"""Watches and their notices: ``/paper watch WORDS`` (at most 20 per person), ``/paper watches``,
``/paper unwatch N|WORDS``, and which papers each person is to be told about.

A load that adds papers records, in ``watch_notices``, every (person, paper) that one of the person's
watches clearly matches (:func:`bot.search.query.clear_matches`: every word, no typo guesses). The
primary key (person, paper) is what makes "never the same paper twice to the same person" hold, whatever
is reloaded or restored. Sending is the Slack adapter's job (:mod:`bot.slack.watching`): one direct
message per person for all their pending notices, claimed before sending so that two senders never both
send one.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import sqlite_utils

from bot.db import write_transaction
from bot.digest import catalog
from bot.digest.catalog import PaperView
from bot.search.query import clear_matches
from bot.search.terms import normalise

MAX_WATCHES = 20
MAX_WATCH_CHARS = 100
MAX_WATCH_WORDS = 8


@dataclass(frozen=True)
class Watch:
    number: int
    """1-based position in the person's list (what ``unwatch N`` takes)."""
    words: str


@dataclass(frozen=True)
class Notice:
    """Papers to tell one person about, with the watch each matched."""

    user_id: str
    papers: tuple[tuple[PaperView, str], ...]
    key: str
    """The message's key, in its Slack metadata: how to find it in the DM when a send's outcome is unknown."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _key(words: str) -> str:
    return " ".join(normalise(words).split())


def list_watches(db: sqlite_utils.Database, user_id: str) -> list[Watch]:
    rows = db.execute("SELECT words FROM watches WHERE user_id = ? ORDER BY id", [user_id]).fetchall()
    return [Watch(number, str(row[0])) for number, row in enumerate(rows, start=1)]


def add_watch(db: sqlite_utils.Database, user_id: str, words: str) -> str:
    """Add a watch; returns what to tell the person (added, already there, or why not)."""
    words = " ".join(words.split())
    if not words:
        return "Watch what? For example: `/paper watch diffusion`, `/paper watch carlini`, `/paper watch 水印`."
    if len(words) > MAX_WATCH_CHARS or len(words.split()) > MAX_WATCH_WORDS:
        return f"A watch is a few words (at most {MAX_WATCH_WORDS} words, {MAX_WATCH_CHARS} characters)."
    key = _key(words)
    with write_transaction(db):
        existing = db.conn.execute(
            "SELECT 1 FROM watches WHERE user_id = ? AND words_key = ?", [user_id, key]
        ).fetchone()
        if existing:
            return f"You already watch “{words}”."
        count = int(db.conn.execute("SELECT count(*) FROM watches WHERE user_id = ?", [user_id]).fetchone()[0])
        if count >= MAX_WATCHES:
            return f"You have {MAX_WATCHES} watches, the most there can be: `/paper unwatch N` one first."
        db.conn.execute(
            "INSERT INTO watches (user_id, words, words_key, created_at) VALUES (?, ?, ?, ?)",
            [user_id, words, key, _now()],
        )
    return f"Watching “{words}”: I will send you a direct message when a new digest has a paper matching it."


def remove_watch(db: sqlite_utils.Database, user_id: str, what: str) -> str:
    """Remove a watch by its number in ``/paper watches`` or by its words."""
    what = " ".join(what.split())
    if not what:
        return "Unwatch which? `/paper unwatch N` (the number in `/paper watches`) or `/paper unwatch WORDS`."
    watches = list_watches(db, user_id)
    target: Watch | None = None
    if what.isdigit():
        number = int(what)
        target = next((watch for watch in watches if watch.number == number), None)
        if target is None:
            return f"You have no watch number {number}; `/paper watches` lists yours." if watches else _NONE
    else:
        target = next((watch for watch in watches if _key(watch.words) == _key(what)), None)
        if target is None:
            return f"You do not watch “{what}”; `/paper watches` lists yours." if watches else _NONE
    with write_transaction(db):
        db.conn.execute("DELETE FROM watches WHERE user_id = ? AND words_key = ?", [user_id, _key(target.words)])
    return f"Stopped watching “{target.words}”."


_NONE = "You have no watches. Add one with `/paper watch WORDS`."


def record_matches(db: sqlite_utils.Database, paper_ids: list[int] | tuple[int, ...]) -> int:
    """Record a pending notice for each (person, newly added paper) a watch clearly matches, unless that
    person was ever told (or is to be told) about that paper. Returns how many were recorded."""
    ids = sorted(set(paper_ids))
    if not ids:
        return 0
    watches = db.execute("SELECT user_id, words FROM watches ORDER BY id").fetchall()
    if not watches:
        return 0
    months = {
        int(row[0]): str(row[1])
        for row in db.execute(
            "SELECT paper_id, max(month) FROM entries WHERE paper_id IN (SELECT value FROM json_each(?))"
            " GROUP BY paper_id",
            [json.dumps(ids)],
        )
    }
    rows: list[tuple[str, int, str, str, str, str]] = []
    now = _now()
    for user_id, words in watches:
        for paper_id in clear_matches(db, str(words), ids):
            if paper_id in months:
                rows.append((str(user_id), paper_id, months[paper_id], str(words), "pending", now))
    if not rows:
        return 0
    if db.conn.in_transaction:  # a load's own transaction: the notices commit with the load, or not at all
        return _insert_notices(db, rows)
    with write_transaction(db):
        return _insert_notices(db, rows)


def _insert_notices(db: sqlite_utils.Database, rows: list[tuple[str, int, str, str, str, str]]) -> int:
    before = db.conn.total_changes
    db.conn.executemany(
        "INSERT OR IGNORE INTO watch_notices (user_id, paper_id, month, words, status, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    return db.conn.total_changes - before


def claim_notices(db: sqlite_utils.Database) -> list[Notice]:
    """Take every pending notice (marked ``sending``, with its message's key), grouped by person: one
    message each."""
    claimed_at = _now()
    claim = secrets.token_hex(6)  # each claim's messages are new ones, however soon after the last
    with write_transaction(db):
        rows = db.conn.execute(
            "SELECT user_id, paper_id, words FROM watch_notices WHERE status = 'pending' ORDER BY user_id, month,"
            " paper_id"
        ).fetchall()
        by_user: dict[str, list[tuple[int, str]]] = {}
        for user_id, paper_id, words in rows:
            by_user.setdefault(str(user_id), []).append((int(paper_id), str(words)))
        db.conn.executemany(
            "UPDATE watch_notices SET status = 'sending', message_key = ?, claimed_at = ?"
            " WHERE status = 'pending' AND user_id = ?",
            [(_message_key(user_id, claim), claimed_at, user_id) for user_id in by_user],
        )
    notices = []
    for user_id, items in by_user.items():
        papers = {paper.paper_id: paper for paper in catalog.get_papers(db, [paper_id for paper_id, _ in items])}
        notices.append(
            Notice(
                user_id,
                tuple((papers[paper_id], words) for paper_id, words in items if paper_id in papers),
                _message_key(user_id, claim),
            )
        )
    return notices


def _message_key(user_id: str, claim: str) -> str:
    return f"watch:{user_id}:{claim}"


def finish_notice(db: sqlite_utils.Database, notice: Notice, *, sent: bool, error: str | None = None) -> None:
    """Close a claimed notice: ``sent``, or ``failed`` with why (Slack refused it: never sent again). A
    send whose outcome is unknown is not finished: it stays ``sending`` for :func:`settle_unknown`."""
    settle(db, notice.key, "sent" if sent else "failed", error)


def settle(
    db: sqlite_utils.Database,
    key: str,
    status: Literal["sent", "failed", "pending"],
    error: str | None = None,
    *,
    claimed_at: str | None = None,
) -> None:
    """Close the notices sent as message ``key``: ``sent``, ``failed``, or ``pending`` again (it did not
    arrive: the next delivery sends it). With ``claimed_at``, only if no delivery stamped them since
    (:func:`stamp_sending`): a send that started after the DM was read back is that delivery's to close."""
    with write_transaction(db):
        db.conn.execute(
            "UPDATE watch_notices SET status = ?, sent_at = ?, error = ?,"
            " message_key = CASE WHEN ? = 'pending' THEN NULL ELSE message_key END"
            " WHERE status = 'sending' AND message_key = ? AND (? IS NULL OR claimed_at = ?)",
            [status, _now() if status == "sent" else None, error, status, key, claimed_at, claimed_at],
        )


UNKNOWN_AFTER_SECONDS = 120.0
"""A notice still ``sending`` this long after its send started: its outcome is unknown (a timeout, a
dropped connection, a process that stopped mid-send), so its DM is read back before anything else. Far
above the Web API's 10 s deadline: a send under way is never taken for a lost one."""
GIVE_UP_SECONDS = 86400.0
"""A notice whose DM still cannot be read back this long after its send is closed as failed."""


@dataclass(frozen=True)
class Unsettled:
    """A message to one person whose send's outcome is unknown."""

    key: str
    user_id: str
    claimed_at: str
    """When its send started (ISO 8601, UTC), as stored: :func:`settle` checks it is unchanged."""

    @property
    def since(self) -> float:
        return datetime.fromisoformat(self.claimed_at).timestamp()


def unsettled(db: sqlite_utils.Database, *, now: datetime | None = None) -> list[Unsettled]:
    """Each message whose send started :data:`UNKNOWN_AFTER_SECONDS` ago or more and is not closed."""
    cutoff = ((now or datetime.now(UTC)) - timedelta(seconds=UNKNOWN_AFTER_SECONDS)).isoformat(timespec="seconds")
    return [
        Unsettled(str(key), str(user_id), str(claimed))
        for key, user_id, claimed in db.execute(
            "SELECT message_key, min(user_id), min(claimed_at) FROM watch_notices WHERE status = 'sending'"
            " AND message_key IS NOT NULL AND claimed_at <= ? GROUP BY message_key",
            [cutoff],
        )
    ]


def still_sending(db: sqlite_utils.Database) -> bool:
    """Whether any notice is claimed and not settled (being sent now, or its send's outcome unknown)."""
    return (
        db.execute(
            "SELECT 1 FROM watch_notices WHERE status = 'sending' AND message_key IS NOT NULL LIMIT 1"
        ).fetchone()
        is not None
    )


def stamp_sending(db: sqlite_utils.Database, key: str) -> bool:
    """Mark the notices of message ``key`` as being sent *now* (their outcome is unknown only
    :data:`UNKNOWN_AFTER_SECONDS` after this, however long the delivery's earlier messages took). False:
    another delivery closed them meanwhile (it read the DM back), and this one must not send them."""
    with write_transaction(db):
        cursor = db.conn.execute(
            "UPDATE watch_notices SET claimed_at = ? WHERE status = 'sending' AND message_key = ?", [_now(), key]
        )
    return cursor.rowcount > 0
