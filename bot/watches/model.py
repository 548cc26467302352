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
from dataclasses import dataclass
from datetime import UTC, datetime

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
    """Take every pending notice (marked ``sending``), grouped by person: one message each."""
    with write_transaction(db):
        rows = db.conn.execute(
            "SELECT user_id, paper_id, words FROM watch_notices WHERE status = 'pending' ORDER BY user_id, month,"
            " paper_id"
        ).fetchall()
        db.conn.execute("UPDATE watch_notices SET status = 'sending' WHERE status = 'pending'")
    by_user: dict[str, list[tuple[int, str]]] = {}
    for user_id, paper_id, words in rows:
        by_user.setdefault(str(user_id), []).append((int(paper_id), str(words)))
    notices = []
    for user_id, items in by_user.items():
        papers = {paper.paper_id: paper for paper in catalog.get_papers(db, [paper_id for paper_id, _ in items])}
        notices.append(
            Notice(user_id, tuple((papers[paper_id], words) for paper_id, words in items if paper_id in papers))
        )
    return notices


def finish_notice(db: sqlite_utils.Database, notice: Notice, *, sent: bool, error: str | None = None) -> None:
    """Close a claimed notice: ``sent``, or ``failed`` with why. A failed one is never sent again: a send
    whose outcome is unknown may have arrived, and twice is worse than once missed."""
    ids = json.dumps([paper.paper_id for paper, _ in notice.papers])
    with write_transaction(db):
        db.conn.execute(
            "UPDATE watch_notices SET status = ?, sent_at = ?, error = ? WHERE user_id = ? AND status = 'sending'"
            " AND paper_id IN (SELECT value FROM json_each(?))",
            ["sent" if sent else "failed", _now() if sent else None, error, notice.user_id, ids],
        )
