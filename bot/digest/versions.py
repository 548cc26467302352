"""Digest versions: every loaded version of a month kept with its raw source (compressed), its hash, when,
by whom and from where; and loads staged in Slack until an admin picks *Replace* or *Cancel*.

Writes happen inside the caller's transaction (:func:`record_version` is called by the store while it
holds the write lock), so a version exists exactly when its load committed.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import sqlite_utils

from bot.db import write_transaction

Kind = Literal["text", "html"]


@dataclass(frozen=True)
class Source:
    """A digest's source as loaded: the bytes and where they came from. Enough to parse it again."""

    name: str
    """The path, URL or Slack file name as given (messages name it)."""
    data: bytes
    kind: Kind = "text"
    url: str | None = None
    """The page URL the bytes came from, for relative links (after redirects)."""
    charset: str | None = None
    """The charset an HTTP header declared."""


@dataclass(frozen=True)
class Provenance:
    """Who loads a source and why (recorded with the version)."""

    loaded_by: str
    action: Literal["load", "replace", "restore"] = "load"
    restored_from: int | None = None


@dataclass(frozen=True)
class Version:
    month: str
    version: int
    content_hash: str
    kind: str
    source: str
    url: str | None
    size: int
    papers: int
    loaded_by: str
    loaded_at: str
    action: str
    restored_from: int | None
    current: bool

    def describe(self) -> str:
        what = f"restore of v{self.restored_from}" if self.action == "restore" else self.action
        mark = "  (current)" if self.current else ""
        papers = f"{self.papers} paper{'' if self.papers == 1 else 's'}"
        return (
            f"{self.month} v{self.version}  {self.loaded_at}  {self.loaded_by}  {what}  {papers}  "
            f"{self.source}  sha256:{self.content_hash[:12]}{mark}"
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def record_version(conn: Any, month: str, content_hash: str, source: Source, papers: int, who: Provenance) -> int:
    """Append a version of ``month`` (inside the caller's transaction); returns its number."""
    row = conn.execute("SELECT max(version) FROM digest_versions WHERE month = ?", [month]).fetchone()
    number = int(row[0] or 0) + 1
    conn.execute(
        "INSERT INTO digest_versions (month, version, content_hash, kind, source, url, charset, raw, size, papers,"
        " loaded_by, loaded_at, action, restored_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            month,
            number,
            content_hash,
            source.kind,
            source.name,
            source.url,
            source.charset,
            zlib.compress(source.data, 1),  # level 1: ~5% larger than 6, five times faster
            len(source.data),
            papers,
            who.loaded_by,
            _now(),
            who.action,
            who.restored_from,
        ],
    )
    return number


_SELECT = (
    "SELECT v.month, v.version, v.content_hash, v.kind, v.source, v.url, v.size, v.papers, v.loaded_by,"
    " v.loaded_at, v.action, v.restored_from,"
    " v.version = (SELECT max(w.version) FROM digest_versions w WHERE w.month = v.month)"
    "  AND v.content_hash = (SELECT d.content_hash FROM digests d WHERE d.month = v.month)"
    " FROM digest_versions v"
)


def history(db: sqlite_utils.Database, month: str | None = None) -> list[Version]:
    """Every version (of ``month``), by month then version."""
    where, params = (" WHERE v.month = ?", [month]) if month else ("", [])
    rows = db.execute(_SELECT + where + " ORDER BY v.month, v.version", params).fetchall()
    return [
        Version(
            month=row[0],
            version=int(row[1]),
            content_hash=row[2],
            kind=row[3],
            source=row[4],
            url=row[5],
            size=int(row[6]),
            papers=int(row[7]),
            loaded_by=row[8],
            loaded_at=row[9],
            action=row[10],
            restored_from=row[11],
            current=bool(row[12]),
        )
        for row in rows
    ]


def get_source(db: sqlite_utils.Database, month: str, version: int) -> Source | None:
    """A stored version's source, decompressed (no network)."""
    row = db.execute(
        "SELECT source, raw, kind, url, charset FROM digest_versions WHERE month = ? AND version = ?",
        [month, version],
    ).fetchone()
    if row is None:
        return None
    return Source(name=row[0], data=zlib.decompress(row[1]), kind=row[2], url=row[3], charset=row[4])


# --- staged Slack loads --------------------------------------------------------------------------------


def stage(db: sqlite_utils.Database, month: str, source: Source, user_id: str, base_version: int | None) -> int:
    """Keep a refused Slack load until the admin decides; returns its id (the buttons' value).
    ``base_version``: the month's latest version when the load was refused, the one a Replace replaces."""
    with write_transaction(db):
        cursor = db.conn.execute(
            "INSERT INTO staged_loads (month, kind, source, url, charset, raw, user_id, created_at, base_version)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                month,
                source.kind,
                source.name,
                source.url,
                source.charset,
                zlib.compress(source.data),
                user_id,
                _now(),
                base_version,
            ],
        )
    return int(cursor.lastrowid or 0)


STAGED_LOAD_DAYS = 7
"""How long a staged Slack load waits for Replace or Cancel before its buttons stop working."""


class StaleStagedLoad(Exception):
    """A staged load that may no longer be applied: it expired, or its month was loaded again since (its
    Replace would silently undo that newer load). The message is the one line for the admin."""


def claim_staged(
    db: sqlite_utils.Database,
    staged_id: int,
    status: Literal["replaced", "cancelled"],
    *,
    now: datetime | None = None,
) -> tuple[str, Source] | None:
    """Mark a waiting staged load decided (once: a second click finds nothing); its month and source.

    A Replace of a load staged more than :data:`STAGED_LOAD_DAYS` ago, or of a month that has a newer
    version than the staging, raises :class:`StaleStagedLoad` and marks the load ``expired``.
    """
    with write_transaction(db):
        row = db.conn.execute(
            "SELECT month, source, raw, kind, url, charset, created_at, base_version FROM staged_loads"
            " WHERE id = ? AND status = 'waiting'",
            [staged_id],
        ).fetchone()
        if row is None:
            return None
        reason = _staleness(db, row[0], row[6], row[7], now or datetime.now(UTC)) if status == "replaced" else None
        db.conn.execute(
            "UPDATE staged_loads SET status = ? WHERE id = ?", [status if reason is None else "expired", staged_id]
        )
    if reason is not None:
        raise StaleStagedLoad(reason)
    return row[0], Source(name=row[1], data=zlib.decompress(row[2]), kind=row[3], url=row[4], charset=row[5])


def _staleness(db: sqlite_utils.Database, month: str, staged_at: str, base: int | None, now: datetime) -> str | None:
    staged = datetime.fromisoformat(staged_at)
    if (now - staged).days >= STAGED_LOAD_DAYS:
        return (
            f"This load of {month} was staged on {staged:%Y-%m-%d} and expired after {STAGED_LOAD_DAYS} days:"
            " nothing was replaced. Load the digest again."
        )
    newer = db.conn.execute(
        "SELECT version, loaded_by FROM digest_versions WHERE month = ? AND version > ? ORDER BY version DESC",
        [month, base or 0],
    ).fetchone()
    if newer is not None:
        return (
            f"{month} was loaded again since this load was staged (version {newer[0]}, by {newer[1]}):"
            " nothing was replaced, so that load stands. Load the digest again if it should replace it."
        )
    return None


def unstage(db: sqlite_utils.Database, staged_id: int) -> None:
    """Put a claimed load back to waiting (its Replace failed for a reason the admin may fix)."""
    with write_transaction(db):
        db.conn.execute("UPDATE staged_loads SET status = 'waiting' WHERE id = ?", [staged_id])
