"""Backups of the database: a consistent copy taken while the bot keeps writing, and the daily rotation.

:func:`backup_database` uses SQLite's online backup API in a single step: the copy is one read
transaction, so it holds exactly what was committed when it began (in WAL mode writers go on meanwhile).
It is written next to its final name and renamed into place once complete and checked, so a backup file
that exists is always whole. It never overwrites a file.

``serve`` runs :func:`run_daily_backups`: one automatic backup a day (``paperbot-auto-…`` names, so
that pruning to ``PAPERBOT_BACKUPS`` never touches a backup somebody took by hand).
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.config import Settings
from bot.db import BUSY_TIMEOUT_SECONDS

log = logging.getLogger("bot.ops.backup")

BACKUP_INTERVAL = timedelta(days=1)
_STAMP = "%Y%m%d-%H%M%S"
_MANUAL = re.compile(r"^paperbot-(\d{8}-\d{6})(?:-\d+)?\.db$")
_AUTO = re.compile(r"^paperbot-auto-(\d{8}-\d{6})(?:-\d+)?\.db$")


class BackupError(Exception):
    """A backup could not be written; the message says which file and why, in one line."""


@dataclass(frozen=True)
class Backup:
    path: Path
    taken_at: datetime
    """UTC, from the file name."""
    size: int
    automatic: bool


def backups_dir(settings: Settings) -> Path:
    """``backups/`` next to the database (``data/backups`` for the default ``data/paperbot.db``)."""
    return settings.db_path.parent / "backups"


def default_backup_path(
    settings: Settings, *, automatic: bool = False, now: datetime | None = None, folder: Path | None = None
) -> Path:
    """``…/backups/paperbot-YYYYMMDD-HHMMSS.db`` (UTC), or that name in ``folder``; ``-2``, ``-3``… when
    the name is taken there."""
    stamp = (now or datetime.now(UTC)).strftime(_STAMP)
    folder = folder if folder is not None else backups_dir(settings)
    stem = f"paperbot-auto-{stamp}" if automatic else f"paperbot-{stamp}"
    path, number = folder / f"{stem}.db", 1
    while path.exists():
        number += 1
        path = folder / f"{stem}-{number}.db"
    return path


def backup_database(source: Path, target: Path) -> Backup:
    """Copy the database at ``source`` to ``target`` (a new file) consistently, even while other
    connections write; raises :class:`BackupError`. ``target`` is written only when complete."""
    if not source.is_file():
        raise BackupError(f"no database at {source} (PAPERBOT_DB): nothing to back up")
    if target.exists():
        raise BackupError(f"{target} already exists: give another name (a backup never overwrites a file)")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BackupError(f"cannot create {target.parent}: {error.strerror or error}") from None
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}-{threading.get_ident()}")
    try:
        # Read-only: a backup must not migrate, create or otherwise change the database it copies.
        uri = f"{source.resolve().as_uri()}?mode=ro"
        with (
            closing(sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS)) as src,
            closing(sqlite3.connect(partial, isolation_level=None)) as dst,
        ):
            src.backup(dst, pages=-1)  # one step: one read transaction, one consistent snapshot
            # A self-contained file: no -wal or -shm beside it, so copying it back is the whole restore.
            dst.execute("PRAGMA journal_mode = DELETE")
            problem = dst.execute("PRAGMA quick_check").fetchone()[0]
        if problem != "ok":
            raise BackupError(f"the copy of {source} failed its check ({problem}); the database may be damaged")
        os.replace(partial, target)  # same folder: atomic; the final name appears only now
    except sqlite3.Error as error:
        raise BackupError(f"cannot back up {source} to {target}: {error}") from None
    except OSError as error:
        raise BackupError(f"cannot write {target}: {error.strerror or error}") from None
    finally:
        for leftover in (partial, partial.with_name(partial.name + "-journal")):
            leftover.unlink(missing_ok=True)
    taken = datetime.now(UTC)
    return Backup(target, taken, target.stat().st_size, automatic=bool(_AUTO.match(target.name)))


def list_backups(settings: Settings) -> list[Backup]:
    """The backups in the backups folder (by-hand and automatic), newest first."""
    folder = backups_dir(settings)
    found: list[Backup] = []
    if not folder.is_dir():
        return found
    for path in folder.iterdir():
        match = _AUTO.match(path.name) or _MANUAL.match(path.name)
        if match is None or not path.is_file():
            continue
        taken = datetime.strptime(match.group(1), _STAMP).replace(tzinfo=UTC)
        found.append(Backup(path, taken, path.stat().st_size, automatic=bool(_AUTO.match(path.name))))
    return sorted(found, key=lambda backup: (backup.taken_at, backup.path.name), reverse=True)


def prune_automatic(settings: Settings, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest automatic backups; returns what was deleted."""
    automatic = [backup for backup in list_backups(settings) if backup.automatic]
    removed: list[Path] = []
    for backup in automatic[keep:]:
        try:
            backup.path.unlink()
        except OSError as error:
            log.warning("backup: could not delete old backup %s: %s", backup.path, error)
            continue
        removed.append(backup.path)
    return removed


def take_daily_backup(settings: Settings, now: datetime | None = None) -> Backup | None:
    """An automatic backup when the newest one is a day old or more (or there is none), then prune.
    Returns the new backup, or ``None`` when none was due."""
    keep = settings.backups_kept
    current = now or datetime.now(UTC)
    newest = next((b for b in list_backups(settings) if b.automatic), None)
    if newest is not None and current - newest.taken_at < BACKUP_INTERVAL:
        return None
    backup = backup_database(settings.db_path, default_backup_path(settings, automatic=True, now=current))
    removed = prune_automatic(settings, keep)
    log.info(
        "backup: wrote %s (%d bytes); keeping the %d newest daily backups%s",
        backup.path,
        backup.size,
        keep,
        f", deleted {len(removed)} older" if removed else "",
    )
    return backup


def seconds_until_due(settings: Settings, now: datetime | None = None) -> float:
    """How long until the next automatic backup is due (0 when it is due now)."""
    newest = next((b for b in list_backups(settings) if b.automatic), None)
    if newest is None:
        return 0.0
    remaining = newest.taken_at + BACKUP_INTERVAL - (now or datetime.now(UTC))
    return max(0.0, remaining.total_seconds())


RETRY_SECONDS = 3600.0
"""After a failed automatic backup, try again this much later."""


def run_daily_backups(settings: Settings, stop: threading.Event) -> None:
    """``serve``'s backup thread: a backup when one is due (at once at start when the last is a day old),
    until ``stop`` is set. Failures are logged and retried an hour later; they never stop the bot."""
    if settings.backups_kept == 0:
        log.info("backup: automatic backups are off (PAPERBOT_BACKUPS=0)")
        return
    log.info("backup: daily backups to %s, keeping %d", backups_dir(settings), settings.backups_kept)
    while not stop.is_set():
        wait = RETRY_SECONDS
        try:
            take_daily_backup(settings)
            wait = max(1.0, seconds_until_due(settings))
        except BackupError as error:
            log.error("backup: %s; trying again in %.0f min", error, RETRY_SECONDS / 60)
        except Exception:  # a bug must not end the thread silently, nor stop the bot
            log.exception("backup: unexpected failure; trying again in %.0f min", RETRY_SECONDS / 60)
        stop.wait(wait)


def age_text(taken_at: datetime, now: datetime | None = None) -> str:
    """``3 h``, ``2 days``, ``5 min``: how long ago."""
    seconds = max(0.0, ((now or datetime.now(UTC)) - taken_at).total_seconds())
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 2 * 86400:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} days"
