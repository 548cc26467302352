"""``write_transaction`` (bot/db.py) after a failure: the original error surfaces, and the per-thread
connection is ready for the next write (issue 9, #5)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from bot.db import read_snapshot, thread_db, write_transaction


def _rows(path: Path, table: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(f"SELECT * FROM [{table}]").fetchall()


def test_disk_full_reports_the_disk_full_error_and_the_next_write_works(db_path: Path) -> None:
    db = thread_db(db_path)
    db.conn.execute("CREATE TABLE IF NOT EXISTS blobs (body TEXT)")
    pages = db.conn.execute("PRAGMA page_count").fetchone()[0]
    db.conn.execute(f"PRAGMA max_page_count = {pages + 1}")
    # SQLite rolls the whole transaction back by itself on SQLITE_FULL: a ROLLBACK after that would raise
    # "cannot rollback - no transaction is active" and hide why the write failed.
    with pytest.raises(sqlite3.OperationalError, match="full"), write_transaction(db):
        for _ in range(50):
            db.conn.execute("INSERT INTO blobs VALUES (?)", ("x" * 4000,))
    assert not db.conn.in_transaction
    db.conn.execute("PRAGMA max_page_count = 1073741823")
    with write_transaction(thread_db(db_path)) as again:
        again.conn.execute("INSERT INTO blobs VALUES ('after')")
    assert _rows(db_path, "blobs") == [("after",)]


def test_a_commit_that_fails_leaves_no_open_transaction_for_the_next_write(db_path: Path) -> None:
    db = thread_db(db_path)
    db.conn.executescript(
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
        "CREATE TABLE child (parent_id INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);"
    )
    # A deferred foreign key is checked at COMMIT: the COMMIT fails and SQLite keeps the transaction open.
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"), write_transaction(db):
        db.conn.execute("INSERT INTO child VALUES (42)")
    assert not db.conn.in_transaction
    assert _rows(db_path, "child") == []
    # The same thread's connection takes the next write (before the fix: "cannot start a transaction
    # within a transaction", and the failed rows would have been committed by the next COMMIT).
    with write_transaction(thread_db(db_path)) as again:
        again.conn.execute("INSERT INTO parent VALUES (1)")
        again.conn.execute("INSERT INTO child VALUES (1)")
    assert _rows(db_path, "child") == [(1,)] and _rows(db_path, "parent") == [(1,)]


def test_an_error_in_the_body_rolls_back_and_is_the_error_raised(db_path: Path) -> None:
    db = thread_db(db_path)
    db.conn.execute("CREATE TABLE IF NOT EXISTS notes (body TEXT)")
    with pytest.raises(KeyError, match="boom"), write_transaction(db):
        db.conn.execute("INSERT INTO notes VALUES ('lost')")
        raise KeyError("boom")
    assert not db.conn.in_transaction and _rows(db_path, "notes") == []


def test_read_snapshot_sees_one_state_and_always_ends(db_path: Path) -> None:
    """``read_snapshot`` (a search reply's reads): a write committed meanwhile by another connection is
    not seen inside, is seen after; an error inside ends it too; inside a write it adds nothing."""
    db = thread_db(db_path)
    db.conn.execute("CREATE TABLE IF NOT EXISTS notes (body TEXT)")
    with read_snapshot(db):
        assert db.conn.execute("SELECT count(*) FROM notes").fetchone()[0] == 0
        with closing(sqlite3.connect(db_path)) as other:
            other.execute("INSERT INTO notes VALUES ('meanwhile')")
            other.commit()
        assert db.conn.execute("SELECT count(*) FROM notes").fetchone()[0] == 0
    assert not db.conn.in_transaction
    assert db.conn.execute("SELECT count(*) FROM notes").fetchone()[0] == 1
    with pytest.raises(ZeroDivisionError), read_snapshot(db):
        db.conn.execute("SELECT count(*) FROM notes").fetchone()
        _ = 1 / 0
    assert not db.conn.in_transaction
    with write_transaction(db):
        with read_snapshot(db):
            db.conn.execute("INSERT INTO notes VALUES ('inside')")
        assert db.conn.in_transaction  # still the write's transaction: read_snapshot did not end it
    assert [row[0] for row in _rows(db_path, "notes")] == ["meanwhile", "inside"]
