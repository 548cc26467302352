"""The outbox: work promised to a user after the ack, kept in SQLite until it is done.

A user's action is recorded together with the follow-ups it needs (fetch the paper from arXiv, post or
redraw a card, tell the user) in one transaction, so either both are durable or neither is. Workers
(:class:`Workers`, started by ``serve``) claim jobs lane by lane, in the order they were asked, run them,
and mark them done; a job that fails is tried again with exponential backoff, and one that fails for
good calls its handler's ``give_up`` (which tells the user). A claim is a lease: a job whose worker
died (a restart, a crash) is taken again once the lease runs out, and at once by :func:`resume`.

Each lane has its own thread, apart from the threads that answer Slack, so a hung arXiv delays only the
arXiv lane, never a vote or a redraw. This module knows nothing about Slack; handlers do.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from bot.db import DatabaseError, DatabaseProblem, classify, path_of, thread_db, write_transaction

log = logging.getLogger(__name__)

LEASE_SECONDS = 300.0
"""How long a claimed job is its worker's; a job still leased after that is taken again."""
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 3600.0
IDLE_POLL_SECONDS = 2.0
"""How often an idle worker looks for due jobs when nobody woke it (a job another process enqueued)."""
PROBLEM_PAUSE_SECONDS = 5.0
"""How long a worker first waits after the database refused it (busy, full, read-only, gone); the wait
doubles while the refusals go on, up to :data:`PROBLEM_PAUSE_CAP_SECONDS`."""
PROBLEM_PAUSE_CAP_SECONDS = 30.0

_wake = threading.Condition()
_generation = [0]
"""Moves on each :func:`wake`: a worker that found nothing sleeps only if nothing was enqueued since."""


class Retry(Exception):
    """Raised by a handler: not done yet; try again after ``delay`` seconds (default: the backoff),
    keeping ``payload`` (default: unchanged) for the next try."""

    def __init__(self, reason: str, *, delay: float | None = None, payload: Mapping[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.delay = delay
        self.payload = payload


class GiveUp(Exception):
    """Raised by a handler: this job can never succeed (e.g. the id is not on arXiv)."""


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    lane: str
    payload: dict[str, Any]
    attempts: int
    """Tries so far, this one included."""
    created_at: str


@dataclass(frozen=True)
class Handler:
    """How to run one kind of job: ``run(db, job)`` returns when done, or raises :class:`Retry` or
    :class:`GiveUp`; any other exception is a retry too. After ``max_attempts`` tries, or on
    :class:`GiveUp`, ``give_up(db, job, reason)`` runs (best effort) and the job is marked failed."""

    run: Callable[[sqlite_utils.Database, Job], None]
    give_up: Callable[[sqlite_utils.Database, Job, str], None] | None = None
    max_attempts: int = 12


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def backoff(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed try: 5 s, 10 s, 20 s, … at most an hour."""
    return float(min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS))


def wake() -> None:
    """Tell idle workers there may be work (after a commit that enqueued some)."""
    with _wake:
        _generation[0] += 1
        _wake.notify_all()


def enqueue(
    db: sqlite_utils.Database,
    kind: str,
    payload: Mapping[str, Any],
    *,
    lane: str,
    once_key: str | None = None,
    merge_key: str | None = None,
    delay: float = 0.0,
) -> int | None:
    """Add a job (inside the caller's transaction when one is open, so it commits with the action).

    ``once_key``: a job with this key was ever enqueued → nothing is added (a repeated Slack delivery).
    ``merge_key``: a job with this key is waiting to run → nothing is added (it will do the same work).
    Returns the new job's id, or ``None`` when nothing was added. Call :func:`wake` after the commit.
    """

    def insert() -> int | None:
        if merge_key is not None:
            waiting = db.execute(
                "SELECT 1 FROM outbox WHERE merge_key = ? AND status = 'pending' AND lease_until IS NULL",
                [merge_key],
            ).fetchone()
            if waiting:
                return None
        cursor = db.execute(
            "INSERT OR IGNORE INTO outbox (kind, lane, payload, once_key, merge_key, due_at, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [kind, lane, json.dumps(dict(payload)), once_key, merge_key, time.time() + delay, _now_iso()],
        )
        return int(cursor.lastrowid or 0) if cursor.rowcount else None

    if db.conn.in_transaction:
        return insert()
    with write_transaction(db):
        return insert()


def claim(db: sqlite_utils.Database, lane: str, *, lease_seconds: float = LEASE_SECONDS) -> Job | None:
    """Take the lane's oldest due job (due first, then in the order asked), leased to the caller."""
    now = time.time()
    with write_transaction(db):
        row = db.execute(
            "SELECT id, kind, lane, payload, attempts, created_at FROM outbox"
            " WHERE lane = ? AND status = 'pending' AND due_at <= ? AND (lease_until IS NULL OR lease_until < ?)"
            " ORDER BY due_at, id LIMIT 1",
            [lane, now, now],
        ).fetchone()
        if row is None:
            return None
        db.execute(
            "UPDATE outbox SET lease_until = ?, attempts = attempts + 1 WHERE id = ?", [now + lease_seconds, row[0]]
        )
    return Job(int(row[0]), str(row[1]), str(row[2]), json.loads(str(row[3])), int(row[4]) + 1, str(row[5]))


def complete(db: sqlite_utils.Database, job: Job) -> None:
    with write_transaction(db):
        db.execute(
            "UPDATE outbox SET status = 'done', lease_until = NULL, finished_at = ? WHERE id = ?", [_now_iso(), job.id]
        )


def fail(db: sqlite_utils.Database, job: Job, reason: str) -> None:
    """Given up for good: kept, marked failed, with the reason."""
    with write_transaction(db):
        db.execute(
            "UPDATE outbox SET status = 'failed', lease_until = NULL, last_error = ?, finished_at = ? WHERE id = ?",
            [reason, _now_iso(), job.id],
        )


def retry(
    db: sqlite_utils.Database,
    job: Job,
    reason: str,
    *,
    delay: float | None = None,
    payload: Mapping[str, Any] | None = None,
) -> None:
    """Release the job to run again after ``delay`` (default: :func:`backoff`); a redraw that another
    waiting job will do anyway is merged into it."""
    wait = backoff(job.attempts) if delay is None else delay
    with write_transaction(db):
        try:
            db.execute(
                "UPDATE outbox SET lease_until = NULL, due_at = ?, last_error = ?, payload = ? WHERE id = ?",
                [time.time() + wait, reason, json.dumps(dict(payload if payload is not None else job.payload)), job.id],
            )
        except sqlite3.IntegrityError:  # another job with the same merge_key waits: it does this work
            db.execute(
                "UPDATE outbox SET status = 'done', lease_until = NULL, last_error = ?, finished_at = ? WHERE id = ?",
                [f"merged into a later job ({reason})", _now_iso(), job.id],
            )


def resume(db: sqlite_utils.Database, lane: str | None = None) -> int:
    """At start: every pending job (of ``lane``) may run at once, including those a previous process had
    claimed (it is gone: one ``serve`` per database) and those waiting out a backoff (a restart is a good
    moment to try again). Returns how many jobs are pending."""
    now = time.time()
    lanes = "" if lane is None else " AND lane = ?"
    args = [] if lane is None else [lane]
    with write_transaction(db):
        # A claimed redraw whose key another waiting job has is done by that job.
        db.execute(
            "UPDATE outbox SET status = 'done', lease_until = NULL, finished_at = ?, last_error = 'merged at restart'"
            " WHERE status = 'pending' AND lease_until IS NOT NULL AND merge_key IN"
            " (SELECT merge_key FROM outbox WHERE status = 'pending' AND lease_until IS NULL)" + lanes,
            [_now_iso(), *args],
        )
        db.execute(
            "UPDATE outbox SET lease_until = NULL, due_at = min(due_at, ?) WHERE status = 'pending'" + lanes,
            [now, *args],
        )
        return int(db.execute("SELECT count(*) FROM outbox WHERE status = 'pending'" + lanes, args).fetchone()[0])


KEEP_DONE_DAYS = 7
"""Finished jobs are kept this long: a repeated Slack delivery within it still finds its ``once_key``."""
KEEP_FAILED_DAYS = 30
"""Failed jobs are kept longer, for an admin to see why."""


def prune(db: sqlite_utils.Database) -> int:
    """Delete jobs finished long ago; returns how many."""
    with write_transaction(db):
        return int(
            db.execute(
                "DELETE FROM outbox"
                " WHERE (status = 'done' AND finished_at < ?) OR (status = 'failed' AND finished_at < ?)",
                [
                    datetime.fromtimestamp(time.time() - KEEP_DONE_DAYS * 86400, UTC).isoformat(timespec="seconds"),
                    datetime.fromtimestamp(time.time() - KEEP_FAILED_DAYS * 86400, UTC).isoformat(timespec="seconds"),
                ],
            ).rowcount
        )


def pending(db: sqlite_utils.Database, kind: str | None = None) -> int:
    """Jobs not done yet (of ``kind``)."""
    sql = "SELECT count(*) FROM outbox WHERE status = 'pending'" + (" AND kind = ?" if kind else "")
    return int(db.execute(sql, [kind] if kind else []).fetchone()[0])


class Held(Exception):
    """The database refused a job's write (busy, full, read-only, gone): the job stays with its worker,
    which runs it again once the database takes writes (its lease may not be releasable meanwhile)."""

    def __init__(self, job: Job, problem: DatabaseProblem) -> None:
        super().__init__(str(problem))
        self.job = job
        self.problem = problem


def run_one(
    db: sqlite_utils.Database, lane: str, handlers: Mapping[str, Handler], job: Job | None = None
) -> Job | None:
    """Run ``job``, or claim and run the lane's next due job; returns the job run (``None``: nothing was
    due). A database refusal raises :class:`Held` with the job (or :class:`~bot.db.DatabaseProblem` when
    not even the claim went through)."""
    if job is None:
        try:
            job = claim(db, lane)
        except sqlite3.Error as error:
            refused = classify(error, path_of(db))
            if refused is None:
                raise
            raise refused from error
        if job is None:
            return None
    try:
        _run(db, job, handlers)
    except DatabaseProblem as problem:
        raise Held(job, problem) from problem
    except sqlite3.Error as error:
        refusal = classify(error, path_of(db))
        if refusal is None:
            raise
        raise Held(job, refusal) from error
    return job


def _run(db: sqlite_utils.Database, job: Job, handlers: Mapping[str, Handler]) -> None:
    handler = handlers.get(job.kind)
    if handler is None:
        fail(db, job, f"no handler for {job.kind!r} in this version of paperbot")
        return
    try:
        handler.run(db, job)
    except GiveUp as error:
        _give_up(db, job, handler, str(error))
        return
    except Retry as error:
        if job.attempts >= handler.max_attempts:
            _give_up(db, job, handler, str(error))
        else:
            log.info("%s #%d: try %d: %s; again later", job.kind, job.id, job.attempts, error)
            retry(db, job, str(error), delay=error.delay, payload=error.payload)
        return
    except (DatabaseProblem, sqlite3.Error):
        raise
    except Exception as error:
        log.warning("%s #%d: try %d failed", job.kind, job.id, job.attempts, exc_info=error)
        if job.attempts >= handler.max_attempts:
            _give_up(db, job, handler, f"{type(error).__name__}: {error}")
        else:
            retry(db, job, f"{type(error).__name__}: {error}")
        return
    complete(db, job)


def _give_up(db: sqlite_utils.Database, job: Job, handler: Handler, reason: str) -> None:
    log.warning("%s #%d: giving up after %d tries: %s", job.kind, job.id, job.attempts, reason)
    if handler.give_up is not None:
        try:
            handler.give_up(db, job, reason)
        except DatabaseProblem:
            raise
        except Exception:
            log.exception("%s #%d: telling the user it failed did not work either", job.kind, job.id)
    fail(db, job, reason)


class Workers:
    """One thread per lane, each running that lane's due jobs one at a time, oldest first."""

    def __init__(
        self,
        db_path: Path | str,
        handlers: Mapping[str, Handler],
        lanes: tuple[str, ...],
        *,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self.db_path = db_path
        self.handlers = dict(handlers)
        self.lanes = lanes
        self.on_stop = on_stop
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the lanes; each first resumes what a previous run left in it (waiting, if the database
        does not take writes yet, rather than failing the start)."""
        for lane in self.lanes:
            thread = threading.Thread(target=self._loop, args=(lane,), name=f"paperbot-outbox-{lane}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def _resume(self, lane: str) -> None:
        reported = ""
        while not self.stop_event.is_set():
            try:
                waiting = resume(thread_db(self.db_path), lane)
                prune(thread_db(self.db_path))
            except (DatabaseProblem, DatabaseError, sqlite3.Error) as error:
                if str(error) != reported:
                    log.error(
                        "outbox (%s): cannot resume yet: %s; trying again in %g s", lane, error, PROBLEM_PAUSE_SECONDS
                    )
                    reported = str(error)
                self.stop_event.wait(PROBLEM_PAUSE_SECONDS)
                continue
            if waiting:
                log.info("outbox (%s): %d follow-up(s) left from before; resuming them", lane, waiting)
            return

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking jobs, cut short what can be (``on_stop``), and wait up to ``timeout`` in all."""
        self.stop_event.set()
        if self.on_stop is not None:
            self.on_stop()
        wake()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _loop(self, lane: str) -> None:
        self._resume(lane)
        reported: str | None = None
        held: Job | None = None
        refusals = 0  # in a row: the pause grows, so a held job does not ask arXiv again every few seconds
        while not self.stop_event.is_set():
            generation = _generation[0]
            pause = min(PROBLEM_PAUSE_SECONDS * 2**refusals, PROBLEM_PAUSE_CAP_SECONDS)
            try:
                worked = run_one(thread_db(self.db_path), lane, self.handlers, held)
                held, reported, refusals = None, None, 0
            except (Held, DatabaseProblem) as error:
                problem = error.problem if isinstance(error, Held) else error
                if isinstance(error, Held):
                    held = error.job
                if str(problem) != reported:
                    waits = f"{held.kind} #{held.id} waits: " if held is not None else ""
                    log.error("outbox (%s): %s%s; trying again in %g s and on", lane, waits, problem, pause)
                    reported = str(problem)
                refusals += 1
                self.stop_event.wait(pause)
                continue
            except Exception:
                log.exception("outbox (%s): the worker failed; trying again in %g s", lane, pause)
                refusals += 1
                self.stop_event.wait(pause)
                continue
            if not worked:
                with _wake:
                    if not self.stop_event.is_set() and _generation[0] == generation:
                        _wake.wait(IDLE_POLL_SECONDS)
