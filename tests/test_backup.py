"""Backups: consistent while another thread writes, never overwriting, rotated daily, and restorable."""

from __future__ import annotations

import re
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Settings
from bot.db import connect, write_transaction
from bot.digest.store import load_file
from bot.ops.backup import (
    BackupError,
    backup_database,
    list_backups,
    prune_automatic,
    take_daily_backup,
)
from tests.conftest import SHIPPED_DIGEST
from tests.helpers import run_cli, snapshot


class Writer:
    """A thread that adds a suggestion and a vote in each transaction, in a loop, and remembers which
    suggestion ids have committed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.committed: list[int] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="writer", daemon=True)
        self._lock = threading.Lock()

    def _run(self) -> None:
        try:
            db = connect(self.path)
            number = 0
            while not self.stop.is_set():
                number += 1
                with write_transaction(db):
                    cursor = db.execute(
                        "INSERT INTO suggestions (arxiv_id, suggested_by, why, created_at) VALUES (?, ?, ?, ?)",
                        [f"2401.{number:05d}", "U1", "x" * 200, "2024-01-01T00:00:00+00:00"],
                    )
                    suggestion = int(cursor.lastrowid or 0)
                    db.execute(
                        "INSERT INTO votes (suggestion_id, user_id, created_at) VALUES (?, ?, ?)",
                        [suggestion, f"U{number}", "2024-01-01T00:00:00+00:00"],
                    )
                with self._lock:
                    self.committed.append(suggestion)
        except BaseException as error:
            self.error = error

    def done(self) -> list[int]:
        with self._lock:
            return list(self.committed)

    def wait_for(self, count: int) -> None:
        for _ in range(30_000):
            if len(self.done()) >= count or self.error is not None:
                break
            threading.Event().wait(0.001)
        assert self.error is None and len(self.done()) >= count


@pytest.fixture
def writer(db_path: Path) -> Iterator[Writer]:
    load_file(connect(db_path), SHIPPED_DIGEST)
    writer = Writer(db_path)
    writer.thread.start()
    yield writer
    writer.stop.set()
    writer.thread.join(timeout=10)


def test_a_backup_taken_while_another_thread_writes_is_whole_and_consistent(
    writer: Writer, db_path: Path, tmp_path: Path
) -> None:
    for round_ in range(5):
        writer.wait_for(50 * (round_ + 1))
        before = set(writer.done())  # committed before the backup began
        target = tmp_path / f"copy-{round_}.db"
        backup_database(db_path, target)
        with closing(sqlite3.connect(target)) as copy:
            assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
            suggestions = {row[0] for row in copy.execute("SELECT id FROM suggestions")}
            voted = {row[0] for row in copy.execute("SELECT suggestion_id FROM votes")}
            papers = copy.execute("SELECT count(*) FROM papers").fetchone()[0]
        assert before <= suggestions, f"missing {sorted(before - suggestions)[:5]}"
        assert suggestions == voted  # each transaction is in the copy whole, or not at all
        assert papers == 10
        assert not Path(f"{target}-wal").exists() and not list(tmp_path.glob(".copy-*partial*"))
    writer.wait_for(len(writer.done()) + 10)  # the writer was never blocked for good


def test_cli_backup_while_writes_go_on_default_path(
    writer: Writer, db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    writer.wait_for(20)
    before = set(writer.done())
    code, out, err = run_cli(capsys, "backup")
    assert code == 0, err
    made = list((db_path.parent / "backups").iterdir())
    assert len(made) == 1 and re.fullmatch(r"paperbot-\d{8}-\d{6}\.db", made[0].name)
    assert out.startswith(f"backed up {db_path} to {made[0]}")
    with closing(sqlite3.connect(made[0])) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert before <= {row[0] for row in copy.execute("SELECT id FROM suggestions")}


def test_default_folder_is_data_backups_for_the_default_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    connect(tmp_path / "data" / "paperbot.db")  # PAPERBOT_DB unset: data/paperbot.db in the working folder
    assert run_cli(capsys, "backup")[0] == 0
    assert run_cli(capsys, "backup")[0] == 0  # the same second: another name, nothing overwritten
    names = sorted(p.name for p in (tmp_path / "data" / "backups").iterdir())
    assert len(names) == 2 and all(re.fullmatch(r"paperbot-\d{8}-\d{6}(-2)?\.db", n) for n in names), names


def test_backup_to_a_path_or_a_folder_and_never_over_a_file(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    load_file(connect(db_path), SHIPPED_DIGEST)
    assert run_cli(capsys, "backup", "mine.db")[0] == 0
    assert snapshot(tmp_path / "mine.db") == snapshot(db_path)
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    assert run_cli(capsys, "backup", str(folder))[0] == 0
    assert len(list(folder.glob("paperbot-*.db"))) == 1
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    code, out, err = run_cli(capsys, "backup", str(precious))
    assert (
        code == 1
        and out == ""
        and err.strip().splitlines()
        == [f"error: {precious} already exists: give another name (a backup never overwrites a file)"]
    )
    assert precious.read_text() == "keep me"


def test_backup_without_a_database_says_so_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "backup")
    assert code == 1 and err.strip() == "error: no database at data/paperbot.db (PAPERBOT_DB): nothing to back up"
    assert not (tmp_path / "data").exists()


def test_backup_of_a_damaged_file_fails_and_leaves_nothing(db_path: Path, tmp_path: Path) -> None:
    db_path.write_bytes(b"not a database at all" * 300)
    with pytest.raises(BackupError, match="cannot back up"):
        backup_database(db_path, tmp_path / "out" / "copy.db")
    assert list((tmp_path / "out").iterdir()) == []


def test_restore_stop_copy_start_gives_back_the_backup(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The README's restore: stop the bot, set the database and its -wal/-shm aside, copy the backup in."""
    db = connect(db_path)
    load_file(db, SHIPPED_DIGEST)
    assert run_cli(capsys, "backup", "good.db")[0] == 0
    expected = snapshot(db_path)
    with write_transaction(db):
        db.execute("DELETE FROM entries")  # the disaster, still partly in the -wal file
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{db_path}{suffix}")
        if source.exists():
            source.rename(f"{db_path}{suffix}.broken")
    shutil.copyfile("good.db", db_path)
    assert snapshot(db_path) == expected
    code, out, _ = run_cli(capsys, "search", "musiclm")
    assert code == 0 and "MusicLM" in out


def _settings(db_path: Path, keep: int) -> Settings:
    return Settings(values={"PAPERBOT_DB": str(db_path), "PAPERBOT_BACKUPS": str(keep)})


def test_daily_backups_are_taken_once_a_day_and_pruned_to_the_number_kept(db_path: Path) -> None:
    connect(db_path)
    settings = _settings(db_path, keep=3)
    manual = backup_database(db_path, db_path.parent / "backups" / "paperbot-20200101-000000.db")
    start = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
    assert take_daily_backup(settings, now=start) is not None
    assert take_daily_backup(settings, now=start + timedelta(hours=23)) is None  # not due yet
    for day in range(1, 6):
        assert take_daily_backup(settings, now=start + timedelta(days=day)) is not None
    automatic = [b for b in list_backups(settings) if b.automatic]
    assert [b.taken_at.day for b in automatic] == [6, 5, 4]
    assert manual.path.exists()  # a backup taken by hand is never pruned
    assert prune_automatic(settings, 1) == [b.path for b in automatic[1:]]
