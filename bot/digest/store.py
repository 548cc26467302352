"""The digest store: loading parsed digests into SQLite, one transaction per file.

Papers are keyed by arXiv id, or by normalised title when the digest gives no id. Loading the same file
again changes nothing; an edited file updates what changed; a paper in two digests is one paper with
two entries. The hot path is plain SQL with ``executemany``: sqlite-utils' per-row introspection costs
more than the writes themselves (see ``bench/bench_load.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from bot.db import write_transaction
from bot.digest.parse import (
    Digest,
    DigestError,
    Paper,
    content_hash,
    decode_digest,
    month_from_name,
    parse_digest,
    read_digest_bytes,
    validate_month,
)
from bot.search.index import search_terms


@dataclass(frozen=True)
class LoadResult:
    """What one digest file did to the store."""

    source: str
    month: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    same_file: bool = False
    encoding: str = "utf-8"

    @property
    def papers(self) -> int:
        return self.added + self.updated + self.unchanged

    def describe(self) -> str:
        counts = f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged"
        if self.removed:
            counts += f", {self.removed} removed"
        note = " (file unchanged since last load)" if self.same_file else ""
        if self.encoding != "utf-8":
            note += f" (decoded as {self.encoding.upper()})"
        return f"{self.source}: {self.month}: {self.papers} papers: {counts}{note}"


_ENTRY_FIELDS = (
    "title",
    "authors",
    "authors_truncated",
    "summary",
    "links",
    "arxiv_version",
    "incomplete_link",
    "project_url",
    "citations",
    "line",
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def search_values(paper: Paper) -> tuple[str, str]:
    """The entry's derived search columns (see bot.search.index), the same as a reindex derives."""
    return search_terms(paper.title, paper.summary)


def _entry_values(paper: Paper) -> tuple[Any, ...]:
    return (
        paper.title,
        json.dumps(list(paper.authors), ensure_ascii=False),
        int(paper.authors_truncated),
        paper.summary,
        json.dumps(list(paper.links), ensure_ascii=False),
        paper.arxiv.version if paper.arxiv else None,
        paper.incomplete_link,
        paper.project_url,
        json.dumps(list(paper.citations)),
        paper.line,
    )


def load_file(db: sqlite_utils.Database, path: Path, month: str | None = None) -> LoadResult:
    """Read, parse and store one digest file in one transaction.

    Raises :class:`DigestError` (file, line, reason) and leaves the database as it was for this file.
    """
    source = str(path)
    if month is not None:
        try:
            month = validate_month(month)
        except ValueError as error:
            raise DigestError(source, str(error)) from None
    data = read_digest_bytes(path)
    digest_hash = content_hash(data)
    known_month = month or month_from_name(source)
    if known_month is not None:
        unchanged = _unchanged(db, known_month, digest_hash, source)
        if unchanged is not None:
            return unchanged
    text, encoding = decode_digest(data, source)
    digest = parse_digest(text, source=source, month=month, data_hash=digest_hash, encoding=encoding)
    return store_digest(db, digest)


def _unchanged(db: sqlite_utils.Database, month: str, digest_hash: str, source: str) -> LoadResult | None:
    row = db.execute(
        "SELECT encoding, (SELECT count(*) FROM entries WHERE entries.month = digests.month) "
        "FROM digests WHERE month = ? AND content_hash = ?",
        [month, digest_hash],
    ).fetchone()
    if row is None:
        return None
    return LoadResult(source, month, unchanged=row[1], same_file=True, encoding=row[0])


def store_digest(db: sqlite_utils.Database, digest: Digest) -> LoadResult:
    """Upsert a parsed digest and its papers in one ``BEGIN IMMEDIATE`` transaction."""
    with write_transaction(db):
        same = _unchanged(db, digest.month, digest.content_hash, digest.source)
        if same is not None:
            return same
        conn = db.conn
        now = _now()
        existing = {
            row[0]: row[1:]
            for row in conn.execute(
                f"SELECT paper_id, position, {', '.join(_ENTRY_FIELDS)} FROM entries WHERE month = ?",
                [digest.month],
            )
        }
        conn.execute(
            "INSERT INTO digests (month, title, intro, source_url, curator, source_file, content_hash, encoding,"
            " loaded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (month) DO UPDATE SET"
            " title = excluded.title, intro = excluded.intro, source_url = excluded.source_url,"
            " curator = excluded.curator, source_file = excluded.source_file,"
            " content_hash = excluded.content_hash, encoding = excluded.encoding, loaded_at = excluded.loaded_at",
            [
                digest.month,
                digest.title,
                digest.intro,
                digest.source_url,
                digest.curator,
                digest.source,
                digest.content_hash,
                digest.encoding,
                now,
            ],
        )
        paper_ids = [_paper_id(conn, paper, now) for paper in digest.papers]
        if len(set(paper_ids)) != len(paper_ids):
            seen: set[int] = set()
            for paper, paper_id in zip(digest.papers, paper_ids, strict=True):
                if paper_id in seen:
                    raise DigestError(digest.source, f"paper {paper.title!r} appears twice in this digest", paper.line)
                seen.add(paper_id)
        added = updated = unchanged = 0
        changed_ids: list[int] = []
        rows: list[tuple[Any, ...]] = []
        for paper, paper_id in zip(digest.papers, paper_ids, strict=True):
            values = (paper.position, *_entry_values(paper))
            before = existing.get(paper_id)
            if before is None:
                added += 1
            elif tuple(before) == values:
                unchanged += 1
                continue
            else:
                updated += 1
                changed_ids.append(paper_id)
            rows.append((digest.month, paper_id, *values, *search_values(paper)))
        removed_ids = [paper_id for paper_id in existing if paper_id not in set(paper_ids)]
        stale = changed_ids + removed_ids
        if stale:
            conn.executemany(
                "DELETE FROM entries WHERE month = ? AND paper_id = ?", [(digest.month, paper_id) for paper_id in stale]
            )
        conn.executemany(
            f"INSERT INTO entries (month, paper_id, position, {', '.join(_ENTRY_FIELDS)}, search_nick, search_body)"
            f" VALUES ({', '.join('?' * (5 + len(_ENTRY_FIELDS)))})",
            rows,
        )
        if removed_ids:
            conn.executemany(
                "DELETE FROM papers WHERE id = ? AND NOT EXISTS (SELECT 1 FROM entries WHERE paper_id = papers.id)",
                [(paper_id,) for paper_id in removed_ids],
            )
        conn.execute("DELETE FROM digest_references WHERE month = ?", [digest.month])
        conn.executemany(
            "INSERT INTO digest_references (month, number, title, authors, year, raw) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    digest.month,
                    ref.number,
                    ref.title,
                    json.dumps(list(ref.authors), ensure_ascii=False),
                    ref.year,
                    ref.raw,
                )
                for ref in {ref.number: ref for ref in digest.references}.values()
            ],
        )
    return LoadResult(
        digest.source, digest.month, added, updated, unchanged, len(removed_ids), encoding=digest.encoding
    )


def _paper_id(conn: Any, paper: Paper, now: str) -> int:
    """Find or create the paper an entry is about: by arXiv id, else by normalised title."""
    title_key = paper.title_key
    if paper.arxiv_id is not None:
        row = conn.execute("SELECT id FROM papers WHERE arxiv_id = ?", [paper.arxiv_id]).fetchone()
        if row:
            return int(row[0])
        # A paper first seen without an id (then resolved or not) that now comes with one.
        # Filtered in Python: with "AND arxiv_id IS NULL" SQLite picks the arxiv_id index and scans NULLs.
        row = next((r for r in _by_title(conn, title_key) if r[1] is None), None)
        if row:
            conn.execute("UPDATE papers SET arxiv_id = ?, id_source = 'digest' WHERE id = ?", [paper.arxiv_id, row[0]])
            return int(row[0])
        cursor = conn.execute(
            "INSERT INTO papers (arxiv_id, title_key, id_source, created_at) VALUES (?, ?, 'digest', ?)",
            [paper.arxiv_id, title_key, now],
        )
        return int(cursor.lastrowid)
    rows = _by_title(conn, title_key)
    row = min(rows, key=lambda r: (r[1] is None, r[0])) if rows else None
    if row:
        return int(row[0])
    cursor = conn.execute(
        "INSERT INTO papers (arxiv_id, title_key, id_source, created_at) VALUES (NULL, ?, NULL, ?)",
        [title_key, now],
    )
    return int(cursor.lastrowid)


def _by_title(conn: Any, title_key: str) -> list[tuple[int, str | None]]:
    return [
        (int(r[0]), r[1])
        for r in conn.execute(
            "SELECT id, arxiv_id FROM papers INDEXED BY papers_title_key WHERE title_key = ?", [title_key]
        )
    ]
