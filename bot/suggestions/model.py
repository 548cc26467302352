"""Suggestions and votes: the team feeds the next roundup.

A suggestion is an arXiv paper a team member proposes for the next roundup. It is *open* until a
roundup shows it as a team pick (``included_in``) or an admin removes it. One open suggestion per
paper: suggesting it again counts as a vote. Each user has one vote per suggestion (the suggester's
own vote is counted). A user may make at most :data:`DAILY_LIMIT` suggestions per UTC day; ``why`` is
at most :data:`MAX_WHY_CHARS` characters of plain text (escaped wherever it is shown).

Every function takes the caller's connection; writes are one ``BEGIN IMMEDIATE`` transaction each, so
concurrent votes from many users count exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import sqlite_utils

from bot import outbox
from bot.arxiv.ids import ArxivRef, parse_arxiv_ref
from bot.db import write_transaction
from bot.digest import catalog
from bot.digest.catalog import PaperView

REDRAW_JOB = "suggestion.redraw"
"""The outbox job that redraws a suggestion's card (run by bot.slack.followups)."""

DAILY_LIMIT = 10
MAX_WHY_CHARS = 500
EXAMPLE = "/paper suggest https://arxiv.org/abs/2301.11325 great music model"
MAX_PICKS = 5
"""Open suggestions a roundup shows as the team's picks."""


@dataclass(frozen=True)
class Pick:
    """A team pick: a suggested paper with its votes."""

    title: str
    arxiv_id: str
    votes: int
    suggested_by: tuple[str, ...]
    url: str = ""


@dataclass(frozen=True)
class Suggestion:
    id: int
    arxiv_id: str
    suggested_by: str
    why: str
    created_at: str
    votes: int
    voters: tuple[str, ...]
    title: str | None
    authors: tuple[str, ...]
    abstract: str | None
    channel: str | None
    message_ts: str | None
    included_in: str | None
    removed_by: str | None

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv_id}"

    @property
    def open(self) -> bool:
        return self.included_in is None and self.removed_by is None


Recorded = Callable[[sqlite_utils.Database, int, str], None]
"""Called inside the transaction that recorded an action, with the suggestion id and the outcome, to
record what must follow it (bot.outbox) atomically with it."""

Outcome = Literal["created", "voted", "already_voted", "in_digest", "picked_before", "limit", "invalid"]


@dataclass(frozen=True)
class SuggestResult:
    """What ``/paper suggest`` did; ``message`` is what to tell the user when there is nothing to post."""

    outcome: Outcome
    message: str
    suggestion: Suggestion | None = None
    paper: PaperView | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def parse_suggest_args(text: str) -> tuple[ArxivRef | None, str]:
    """``ARXIV_ID_OR_URL [why]`` → (the id, the reason); the id is ``None`` when the first word is none."""
    words = text.strip().split(maxsplit=1)
    if not words:
        return None, ""
    ref = parse_arxiv_ref(words[0].strip("<>").split("|", 1)[0])
    return ref, words[1].strip() if len(words) > 1 else ""


def validate_why(why: str) -> str | None:
    """The problem with a reason, or ``None`` when it is fine."""
    if len(why) > MAX_WHY_CHARS:
        return f"Your reason is {len(why)} characters long; please keep it to {MAX_WHY_CHARS}."
    return None


_SELECT = """
SELECT s.id, s.arxiv_id, s.suggested_by, s.why, s.created_at,
       (SELECT count(*) FROM votes v WHERE v.suggestion_id = s.id) AS votes,
       (SELECT group_concat(user_id, ',') FROM (SELECT user_id FROM votes v WHERE v.suggestion_id = s.id
                                                ORDER BY created_at, user_id)) AS voters,
       a.title, a.authors, a.abstract, s.channel, s.message_ts, s.included_in, s.removed_by
FROM suggestions s LEFT JOIN arxiv_entries a ON a.arxiv_id = s.arxiv_id
"""


def _suggestion(row: tuple[object, ...]) -> Suggestion:
    import json

    (id_, arxiv_id, by, why, created, votes, voters, title, authors, abstract, channel, ts, included, removed) = row
    return Suggestion(
        id=int(str(id_)),
        arxiv_id=str(arxiv_id),
        suggested_by=str(by),
        why=str(why or ""),
        created_at=str(created),
        votes=int(str(votes)),
        voters=tuple(str(voters).split(",")) if voters else (),
        title=" ".join(str(title).split()) if title else None,
        authors=tuple(json.loads(str(authors))) if authors else (),
        abstract=str(abstract) if abstract else None,
        channel=str(channel) if channel else None,
        message_ts=str(ts) if ts else None,
        included_in=str(included) if included else None,
        removed_by=str(removed) if removed else None,
    )


def get_suggestion(db: sqlite_utils.Database, suggestion_id: int) -> Suggestion | None:
    row = db.execute(_SELECT + " WHERE s.id = ?", [suggestion_id]).fetchone()
    return _suggestion(row) if row else None


def find_open(db: sqlite_utils.Database, arxiv_id: str) -> Suggestion | None:
    """The open suggestion of a paper, if any (there is at most one)."""
    row = db.execute(
        _SELECT + " WHERE s.arxiv_id = ? AND s.included_in IS NULL AND s.removed_by IS NULL", [arxiv_id]
    ).fetchone()
    return _suggestion(row) if row else None


def open_suggestions(db: sqlite_utils.Database, limit: int = 50) -> list[Suggestion]:
    """Open suggestions ranked by votes, earlier first on ties."""
    rows = db.execute(
        _SELECT + " WHERE s.included_in IS NULL AND s.removed_by IS NULL ORDER BY votes DESC, s.id LIMIT ?", [limit]
    ).fetchall()
    return [_suggestion(row) for row in rows]


def without_metadata(db: sqlite_utils.Database, limit: int = 100) -> list[Suggestion]:
    """Open suggestions whose paper arXiv has not described yet (suggested while arXiv was down)."""
    rows = db.execute(
        _SELECT + " WHERE s.included_in IS NULL AND s.removed_by IS NULL AND a.arxiv_id IS NULL ORDER BY s.id LIMIT ?",
        [limit],
    ).fetchall()
    return [_suggestion(row) for row in rows]


def enqueue_redraw(db: sqlite_utils.Database, suggestion_id: int) -> None:
    """Have the suggestion's card redrawn after this transaction (one waiting redraw per card)."""
    outbox.enqueue(db, REDRAW_JOB, {"suggestion_id": suggestion_id}, lane="slack", merge_key=f"card:{suggestion_id}")


def count_open(db: sqlite_utils.Database) -> int:
    """How many suggestions are open (:func:`open_suggestions` returns the first ``limit``)."""
    return int(
        db.execute("SELECT count(*) FROM suggestions WHERE included_in IS NULL AND removed_by IS NULL").fetchone()[0]
    )


def count_user(db: sqlite_utils.Database, user_id: str) -> int:
    """How many suggestions ``user_id`` ever made (:func:`user_suggestions` returns the newest ``limit``)."""
    return int(db.execute("SELECT count(*) FROM suggestions WHERE suggested_by = ?", [user_id]).fetchone()[0])


def user_suggestions(db: sqlite_utils.Database, user_id: str, limit: int = 20) -> list[Suggestion]:
    rows = db.execute(_SELECT + " WHERE s.suggested_by = ? ORDER BY s.id DESC LIMIT ?", [user_id, limit]).fetchall()
    return [_suggestion(row) for row in rows]


def suggest(
    db: sqlite_utils.Database,
    user_id: str,
    ref: ArxivRef,
    why: str = "",
    *,
    channel: str | None = None,
    now: datetime | None = None,
    then: Recorded | None = None,
) -> SuggestResult:
    """Record ``user_id``'s suggestion of ``ref`` (or their vote, when it is already suggested); ``then``
    runs in the same transaction for a created, voted or already voted suggestion."""
    problem = validate_why(why)
    if problem:
        return SuggestResult("invalid", problem)
    moment = now or _now()
    paper = catalog.find_by_arxiv_id(db, ref.id)
    if paper is not None:
        return SuggestResult(
            "in_digest", f"arXiv {ref.id} is already in the {paper.month} digest (#{paper.position}).", paper=paper
        )
    with write_transaction(db):
        open_row = db.execute(
            "SELECT id FROM suggestions WHERE arxiv_id = ? AND included_in IS NULL AND removed_by IS NULL", [ref.id]
        ).fetchone()
        if open_row is not None:
            added = db.execute(
                "INSERT OR IGNORE INTO votes (suggestion_id, user_id, created_at) VALUES (?, ?, ?)",
                [open_row[0], user_id, moment.isoformat()],
            ).rowcount
            outcome: Outcome = "voted" if added else "already_voted"
            suggestion_id = int(open_row[0])
        else:
            picked = db.execute(
                "SELECT included_in FROM suggestions WHERE arxiv_id = ? AND included_in IS NOT NULL"
                " ORDER BY included_in DESC LIMIT 1",
                [ref.id],
            ).fetchone()
            if picked is not None:
                return SuggestResult("picked_before", f"arXiv {ref.id} was a team pick in the {picked[0]} roundup.")
            day_start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
            today = db.execute(
                "SELECT count(*) FROM suggestions WHERE suggested_by = ? AND created_at >= ? AND created_at < ?",
                [user_id, day_start.isoformat(), (day_start + timedelta(days=1)).isoformat()],
            ).fetchone()[0]
            if today >= DAILY_LIMIT:
                return SuggestResult(
                    "limit", f"You have made {DAILY_LIMIT} suggestions today, the daily limit. Try again tomorrow."
                )
            cursor = db.execute(
                "INSERT INTO suggestions (arxiv_id, suggested_by, why, channel, created_at) VALUES (?, ?, ?, ?, ?)",
                [ref.id, user_id, why, channel, moment.isoformat()],
            )
            suggestion_id = int(cursor.lastrowid or 0)
            db.execute(
                "INSERT INTO votes (suggestion_id, user_id, created_at) VALUES (?, ?, ?)",
                [suggestion_id, user_id, moment.isoformat()],
            )
            outcome = "created"
        if then is not None:
            then(db, suggestion_id, outcome)
    suggestion = get_suggestion(db, suggestion_id)
    assert suggestion is not None
    messages = {
        "created": f"Thanks! arXiv {ref.id} is suggested for the next roundup.",
        "voted": f"arXiv {ref.id} was already suggested; that counts as your vote ({suggestion.votes} now).",
        "already_voted": f"arXiv {ref.id} is already suggested and has your vote ({suggestion.votes} votes).",
    }
    return SuggestResult(outcome, messages[outcome], suggestion)


def toggle_vote(
    db: sqlite_utils.Database, suggestion_id: int, user_id: str, *, then: Recorded | None = None
) -> tuple[Suggestion, bool] | None:
    """Add the user's vote, or take it back; returns the suggestion and whether the user now votes for it.

    ``None`` when the suggestion does not exist or is no longer open. ``then`` runs in the same transaction.
    """
    with write_transaction(db):
        row = db.execute(
            "SELECT 1 FROM suggestions WHERE id = ? AND included_in IS NULL AND removed_by IS NULL", [suggestion_id]
        ).fetchone()
        if row is None:
            return None
        removed = db.execute(
            "DELETE FROM votes WHERE suggestion_id = ? AND user_id = ?", [suggestion_id, user_id]
        ).rowcount
        if not removed:
            db.execute(
                "INSERT INTO votes (suggestion_id, user_id, created_at) VALUES (?, ?, ?)",
                [suggestion_id, user_id, _now().isoformat()],
            )
        if then is not None:
            then(db, suggestion_id, "unvoted" if removed else "voted")
    suggestion = get_suggestion(db, suggestion_id)
    assert suggestion is not None
    return suggestion, not removed


def remove(
    db: sqlite_utils.Database, suggestion_id: int, admin_id: str, *, then: Recorded | None = None
) -> Suggestion | None:
    """An admin removes a suggestion (it stays in the database, marked, and leaves every list); ``then``
    runs in the same transaction when it was removed now."""
    with write_transaction(db):
        changed = db.execute(
            "UPDATE suggestions SET removed_by = ?, removed_at = ? WHERE id = ? AND removed_by IS NULL",
            [admin_id, _now().isoformat(), suggestion_id],
        ).rowcount
        if changed and then is not None:
            then(db, suggestion_id, "removed")
    return get_suggestion(db, suggestion_id)


def record_card(db: sqlite_utils.Database, suggestion_id: int, channel: str, ts: str) -> None:
    """Where the suggestion's card was posted, so votes from anywhere can update it."""
    with write_transaction(db):
        db.execute("UPDATE suggestions SET channel = ?, message_ts = ? WHERE id = ?", [channel, ts, suggestion_id])


def forget_card(db: sqlite_utils.Database, suggestion_id: int) -> None:
    """The card was deleted in Slack: votes go on without it (a later suggestion posts a new one)."""
    with write_transaction(db):
        db.execute("UPDATE suggestions SET channel = NULL, message_ts = NULL WHERE id = ?", [suggestion_id])


def withdraw(db: sqlite_utils.Database, suggestion_id: int) -> None:
    """Delete a suggestion that turned out not to exist on arXiv (votes go with it)."""
    with write_transaction(db):
        db.execute("DELETE FROM suggestions WHERE id = ?", [suggestion_id])


def roundup_picks(db: sqlite_utils.Database) -> tuple[list[Pick], tuple[int, ...]]:
    """The top open suggestions for the roundup's "Team picks", and their ids."""
    top = open_suggestions(db, MAX_PICKS)
    picks = [
        Pick(
            title=s.title or f"arXiv {s.arxiv_id}",
            arxiv_id=s.arxiv_id,
            votes=s.votes,
            suggested_by=(s.suggested_by,),
            url=s.abs_url,
        )
        for s in top
    ]
    return picks, tuple(s.id for s in top)


def mark_included(db: sqlite_utils.Database, month: str, suggestion_ids: tuple[int, ...]) -> None:
    """Inside the caller's transaction: these picks were shown in the ``month`` roundup (their cards are
    redrawn after it, by the outbox)."""
    for suggestion_id in suggestion_ids:
        if db.execute(
            "UPDATE suggestions SET included_in = ? WHERE id = ? AND included_in IS NULL", [month, suggestion_id]
        ).rowcount:
            enqueue_redraw(db, suggestion_id)  # its card says it was a team pick, and loses its buttons
