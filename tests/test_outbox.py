"""The outbox (bot.outbox) and the database's refusals (bot.db): jobs in the order asked, once per delivery,
merged redraws, backoff, resume after a restart, giving up with a word to the user, a job the database
refused kept and finished once it takes writes; busy, full and gone databases named; a failed COMMIT that
leaves the connection usable."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlite_utils

from bot import outbox
from bot.arxiv.ids import ArxivRef
from bot.db import (
    STUCK_SECONDS,
    USER_WRITES_WAITING,
    DatabaseBusy,
    DatabaseFull,
    DatabaseReadOnly,
    DatabaseUnavailable,
    connect,
    pin_database,
    thread_db,
    unpin_database,
    user_write,
    user_writes_waiting,
    write_transaction,
)
from bot.outbox import GiveUp, Handler, Held, Job, Retry
from bot.slack.followups import NOTIFY, Followups
from bot.suggestions import model as suggestions
from tests.fakes.bot_server import bot_settings
from tests.fakes.slack_api import FakeSlack


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    return connect(tmp_path / "outbox.db")


def _kinds(db: sqlite_utils.Database) -> list[tuple[str, str]]:
    return [(str(k), str(s)) for k, s in db.execute("SELECT kind, status FROM outbox ORDER BY id").fetchall()]


def test_jobs_run_in_the_order_asked_lane_by_lane(db: sqlite_utils.Database) -> None:
    ran: list[str] = []
    handlers = {"a": Handler(lambda _db, job: ran.append(job.payload["n"]))}
    for n in ("1", "2", "3"):
        outbox.enqueue(db, "a", {"n": n}, lane="arxiv")
    outbox.enqueue(db, "a", {"n": "other lane"}, lane="slack")
    while outbox.run_one(db, "arxiv", handlers):
        pass
    assert ran == ["1", "2", "3"]
    assert outbox.pending(db) == 1


def test_a_repeated_delivery_enqueues_nothing_more(db: sqlite_utils.Database) -> None:
    assert outbox.enqueue(db, "a", {}, lane="slack", once_key="view:V1") is not None
    assert outbox.enqueue(db, "a", {}, lane="slack", once_key="view:V1") is None
    outbox.run_one(db, "slack", {"a": Handler(lambda _db, _job: None)})
    assert outbox.enqueue(db, "a", {}, lane="slack", once_key="view:V1") is None  # done or not: once
    assert _kinds(db) == [("a", "done")]


def test_waiting_redraws_of_one_card_merge_but_a_redraw_under_way_gets_a_successor(db: sqlite_utils.Database) -> None:
    assert outbox.enqueue(db, "r", {}, lane="slack", merge_key="card:1") is not None
    assert outbox.enqueue(db, "r", {}, lane="slack", merge_key="card:1") is None
    job = outbox.claim(db, "slack")
    assert job is not None
    # Votes after the redraw started need another redraw.
    assert outbox.enqueue(db, "r", {}, lane="slack", merge_key="card:1") is not None
    # The first one fails: it is merged into the waiting one instead of running twice.
    outbox.retry(db, job, "Slack said 500")
    assert [s for _, s in _kinds(db)] == ["done", "pending"]


def test_failures_back_off_then_give_up_and_say_so(db: sqlite_utils.Database) -> None:
    told: list[str] = []

    def flaky(_db: sqlite_utils.Database, _job: Job) -> None:
        raise RuntimeError("Slack is down")

    handlers = {"x": Handler(flaky, lambda _db, _job, reason: told.append(reason), max_attempts=3)}
    outbox.enqueue(db, "x", {}, lane="slack")
    delays = []
    for _ in range(3):
        db.execute("UPDATE outbox SET due_at = 0 WHERE status = 'pending'")
        before = time.time()
        assert outbox.run_one(db, "slack", handlers)
        due = db.execute("SELECT due_at FROM outbox").fetchone()[0]
        delays.append(round(due - before))
    assert delays[:2] == [5, 10]  # backoff doubles
    assert told == ["RuntimeError: Slack is down"]
    assert _kinds(db) == [("x", "failed")]
    assert outbox.backoff(30) == outbox.BACKOFF_CAP_SECONDS


def test_give_up_and_retry_are_the_handlers_to_ask_for(db: sqlite_utils.Database) -> None:
    told: list[str] = []

    def never(_db: sqlite_utils.Database, _job: Job) -> None:
        raise GiveUp("arXiv has no such paper")

    def later(_db: sqlite_utils.Database, job: Job) -> None:
        raise Retry("not yet", delay=60, payload={**job.payload, "tries": 1})

    handlers = {
        "never": Handler(never, lambda _db, _job, reason: told.append(reason)),
        "later": Handler(later),
    }
    outbox.enqueue(db, "never", {}, lane="slack")
    outbox.enqueue(db, "later", {"x": 1}, lane="slack")
    outbox.run_one(db, "slack", handlers)
    outbox.run_one(db, "slack", handlers)
    assert told == ["arXiv has no such paper"]
    assert _kinds(db) == [("never", "failed"), ("later", "pending")]
    assert db.execute("SELECT payload FROM outbox WHERE kind = 'later'").fetchone()[0] == '{"x": 1, "tries": 1}'
    assert outbox.run_one(db, "slack", handlers) is None  # not due for a minute


def test_a_restart_resumes_claimed_and_waiting_jobs_at_once(db: sqlite_utils.Database) -> None:
    outbox.enqueue(db, "a", {"n": 1}, lane="arxiv")
    outbox.enqueue(db, "a", {"n": 2}, lane="arxiv", delay=3600)
    assert outbox.claim(db, "arxiv") is not None  # the process dies holding it
    assert outbox.claim(db, "arxiv") is None
    assert outbox.resume(db) == 2
    ran: list[int] = []
    handlers = {"a": Handler(lambda _db, job: ran.append(job.payload["n"]))}
    while outbox.run_one(db, "arxiv", handlers):
        pass
    assert ran == [1, 2]


def test_a_job_the_full_database_refused_stays_with_its_worker_and_finishes_later(tmp_path: Path) -> None:
    path = tmp_path / "full.db"
    db = connect(path)
    outbox.enqueue(db, "w", {"arxiv_id": "2305.01234"}, lane="arxiv")

    def store(db: sqlite_utils.Database, job: Job) -> None:
        with write_transaction(db):
            db.execute("CREATE TABLE IF NOT EXISTS filler (x BLOB)")
            db.execute("INSERT INTO filler VALUES (zeroblob(200000))")

    handlers = {"w": Handler(store)}
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages + 2}")
    with pytest.raises(Held) as held:
        outbox.run_one(db, "arxiv", handlers)
    assert isinstance(held.value.problem, DatabaseFull) and "free space on its volume" in str(held.value.problem)
    assert not db.conn.in_transaction
    db.execute("PRAGMA max_page_count = 1073741823")  # space is back
    assert outbox.run_one(db, "arxiv", handlers, held.value.job) == held.value.job
    assert _kinds(db) == [("w", "done")]


# --- the database's refusals --------------------------------------------------------------------------------


def test_a_user_write_on_a_full_database_names_it_records_nothing_and_the_connection_goes_on(tmp_path: Path) -> None:
    db = connect(tmp_path / "full.db")
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")
    refused = None
    for n in range(200):  # until the capped file has no room left (free space in its pages is used first)
        try:
            with user_write(db):
                suggestions.suggest(db, f"U{n}", ArxivRef(f"2305.{n:05d}"), "x" * 400)
        except DatabaseFull as full:
            refused = (n, full)
            break
    assert refused is not None
    n, full = refused
    assert "disk is full" in full.user_message and "max_page_count" in str(full)
    assert suggestions.find_open(db, f"2305.{n:05d}") is None
    assert not db.conn.in_transaction
    db.execute("PRAGMA max_page_count = 1073741823")  # space is back
    assert suggestions.suggest(db, f"U{n}", ArxivRef(f"2305.{n:05d}")).outcome == "created"


def test_a_failed_commit_leaves_the_connection_outside_any_transaction(db: sqlite_utils.Database) -> None:
    db.execute("PRAGMA defer_foreign_keys = ON")
    with pytest.raises(sqlite3.IntegrityError), write_transaction(db):
        # Deferred: the violation is found by COMMIT, which fails and leaves the transaction open.
        db.execute("INSERT INTO votes (suggestion_id, user_id, created_at) VALUES (999, 'U1', 'now')")
    assert not db.conn.in_transaction
    assert suggestions.suggest(db, "U1", ArxivRef("2305.01234")).outcome == "created"


def test_an_error_after_sqlite_rolled_back_itself_is_the_error_raised(db: sqlite_utils.Database) -> None:
    with pytest.raises(ValueError, match="the original"), write_transaction(db):
        db.execute("ROLLBACK")
        raise ValueError("the original")


def test_a_user_write_waits_about_a_second_for_another_writer_then_says_busy(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    db = connect(path)
    with closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(DatabaseBusy) as busy, user_write(db):
            suggestions.suggest(db, "U1", ArxivRef("2305.01234"))
        other.execute("ROLLBACK")
    assert busy.value.user_message.startswith("paperbot is busy, try again in a moment")
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 30000  # back to the patient default
    assert suggestions.suggest(db, "U1", ArxivRef("2305.01234")).outcome == "created"


def test_a_pinned_database_that_vanished_is_never_created_again(tmp_path: Path) -> None:
    path = tmp_path / "pinned.db"
    connect(path)
    pin_database(path)
    try:
        path.unlink()
        for open_it in (lambda: thread_db(path), lambda: connect(path)):
            with pytest.raises(DatabaseUnavailable, match="deleted or moved"):
                open_it()
        # Not even from another thread, which has no connection yet.
        errors: list[BaseException] = []

        def other_thread() -> None:
            try:
                thread_db(path)
            except DatabaseUnavailable as error:
                errors.append(error)

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        assert len(errors) == 1
        assert not path.exists()
    finally:
        unpin_database(path)


def test_a_read_only_database_is_named_and_reads_go_on(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    suggestions.suggest(connect(path), "U1", ArxivRef("2305.01234"))
    read_only = sqlite_utils.Database(sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None))
    with pytest.raises(DatabaseReadOnly) as refused, user_write(read_only):
        suggestions.toggle_vote(read_only, 1, "U2")
    assert "read-only" in refused.value.user_message and "writable" in str(refused.value)
    assert suggestions.get_suggestion(read_only, 1) is not None and suggestions.get_suggestion(read_only, 1).votes == 1


def test_finished_jobs_are_pruned_after_a_week_failed_ones_after_a_month(db: sqlite_utils.Database) -> None:
    for age_days, status in ((1, "done"), (8, "done"), (8, "failed"), (31, "failed")):
        finished = datetime.fromtimestamp(time.time() - age_days * 86400, UTC).isoformat(timespec="seconds")
        job = outbox.enqueue(db, f"{status}-{age_days}", {}, lane="slack", once_key=f"k{age_days}{status}")
        db.execute("UPDATE outbox SET status = ?, finished_at = ? WHERE id = ?", [status, finished, job])
    outbox.enqueue(db, "pending", {}, lane="slack")
    assert outbox.prune(db) == 2
    assert [k for k, _ in _kinds(db)] == ["done-1", "failed-8", "pending"]


def test_while_another_process_holds_the_lock_only_a_few_user_actions_wait_the_rest_hear_busy_at_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "crowd.db"
    connect(path)
    outcomes: dict[int, str] = {}

    def user(n: int) -> None:
        try:
            with user_write(connect(path)) as db:
                suggestions.suggest(db, f"U{n}", ArxivRef(f"2305.{n:05d}"))
            outcomes[n] = "recorded"
        except DatabaseBusy:
            outcomes[n] = "busy"

    with closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        threads = [threading.Thread(target=user, args=(n,)) for n in range(USER_WRITES_WAITING + 1)]
        for thread in threads:
            thread.start()
        # One waits for the lock, the others queue behind it in this process.
        wait_for(lambda: user_writes_waiting()[0] == USER_WRITES_WAITING and user_writes_waiting()[1] > STUCK_SECONDS)
        with pytest.raises(DatabaseBusy), user_write(connect(path)):
            pass
        assert all(thread.is_alive() for thread in threads)  # refused while they still wait
        other.execute("ROLLBACK")
        for thread in threads:
            thread.join()
    # A burst without another process's lock: everyone takes their turn, nobody is refused.
    threads = [threading.Thread(target=user, args=(n,)) for n in range(10, 19)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [outcomes[n] for n in range(10, 19)] == ["recorded"] * 9


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


# --- a message to a user arrives once, even when a try's outcome is unknown -------------------------------


def test_a_direct_message_whose_try_timed_out_is_found_not_sent_again(
    tmp_path: Path, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.slack.client

    # Slack's answer comes after the client gave up: the message is posted, and the try looks failed.
    monkeypatch.setattr(bot.slack.client, "WEB_API_TIMEOUT_SECONDS", 0.3)
    settings = bot_settings(fake, tmp_path / "notify.db")
    db = connect(settings.db_path)
    handlers = Followups(settings).handlers()
    outbox.enqueue(db, NOTIFY, {"tell": {"dm": "U0ALICE"}, "text": "Your card is up"}, lane="slack", once_key="a")
    fake.delay("chat.postMessage", 0.6)
    first = outbox.run_one(db, "slack", handlers)
    assert first is not None and outbox.pending(db, NOTIFY) == 1  # to be tried again
    fake.wait_for(lambda: fake.messages("D0ALICE"))  # the late message lands
    monkeypatch.undo()  # the retry, once its backoff is over, by a worker with Slack's usual deadline
    handlers = Followups(settings).handlers()
    outbox.run_one(db, "slack", handlers, replace(first, attempts=2))
    assert [m["text"] for m in fake.messages("D0ALICE")] == ["Your card is up"]
    assert outbox.pending(db, NOTIFY) == 0
    assert fake.calls("conversations.open")[0].params["users"] == "U0ALICE"

    # A 503 (Slack may or may not have posted it) is not retried blindly by the client: one call, then the
    # job's own retry reads the DM back and, the message not being there, sends it.
    outbox.enqueue(db, NOTIFY, {"tell": {"dm": "U0BOB"}, "text": "Your vote counted"}, lane="slack", once_key="b")
    fake.fail("chat.postMessage", status=503, retry_after=None, times=3)
    posts = len(fake.calls("chat.postMessage"))
    second = outbox.run_one(db, "slack", handlers)
    assert second is not None and fake.messages("D0BOB") == []
    assert len(fake.calls("chat.postMessage")) == posts + 1
    fake.clear_faults()
    outbox.run_one(db, "slack", handlers, replace(second, attempts=2))
    [message] = fake.messages("D0BOB")
    assert message["text"] == "Your vote counted"
    assert message["metadata"]["event_payload"] == {"key": f"{NOTIFY}:{second.id}"}
