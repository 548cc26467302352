"""The digest store: loading parsed digests into SQLite, one transaction per source, each load a version.

Papers are keyed by arXiv id, or by normalised title when the digest gives no id. Loading the same file
again changes nothing; an edited file updates what changed; a paper in two digests is one paper with
two entries. A reload that would remove papers is refused unless it replaces; a removed paper keeps its
row (arXiv metadata, suggestions, votes), so that restoring a version (bot.digest.versions keeps every
one, with its bytes) brings it back whole. The hot path is plain SQL with ``executemany``: sqlite-utils'
per-row introspection costs more than the writes themselves (see ``bench/bench_load.py``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from bot.db import write_transaction
from bot.digest.intake import check_month, parse_source, source_from_path
from bot.digest.parse import (
    Digest,
    DigestError,
    Paper,
    content_hash,
    month_from_name,
    validate_month,
)
from bot.digest.versions import Provenance, Source, record_version
from bot.search.index import search_terms
from bot.watches.model import record_matches

MAX_TITLES_LISTED = 10
"""Titles named in a report or a refusal before "and N more"."""


class RemovalRefused(DigestError):
    """A reload that would remove papers from a month, or empty the summary or authors of papers it keeps
    (a source cut short), refused (no ``--replace``)."""

    def __init__(
        self,
        source: str,
        month: str,
        removed: tuple[str, ...],
        emptied: tuple[str, ...] = (),
        *,
        current_version: int | None = None,
    ) -> None:
        self.month = month
        self.removed = removed
        self.emptied = emptied
        self.current_version = current_version
        """The month's latest version when the load was refused (read in the refused load's transaction):
        what a later *Replace* would replace."""
        losses = []
        if removed:
            losses.append(
                f"remove {len(removed)} paper{'s' if len(removed) != 1 else ''} from {month} ({name_titles(removed)})"
            )
        if emptied:
            whose = f"{len(emptied)} paper{'s' if len(emptied) != 1 else ''}" + ("" if removed else f" in {month}")
            losses.append(f"empty the summary or authors of {whose} ({name_titles(emptied)}; is the source cut short?)")
        super().__init__(source, f"would {' and '.join(losses)}; nothing loaded — give --replace to load it anyway")


def name_titles(titles: tuple[str, ...] | list[str], limit: int = MAX_TITLES_LISTED, width: int = 70) -> str:
    """``A; B; C and 4 more``, each title cut to ``width`` characters."""
    shown = [title if len(title) <= width else title[: width - 1] + "…" for title in titles[:limit]]
    more = len(titles) - len(shown)
    return "; ".join(shown) + (f" and {more} more" if more > 0 else "")


@dataclass(frozen=True)
class LoadResult:
    """What one digest source did to the store."""

    source: str
    month: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    same_file: bool = False
    encoding: str = "utf-8"
    added_titles: tuple[str, ...] = ()
    removed_titles: tuple[str, ...] = ()
    emptied_titles: tuple[str, ...] = ()
    """Papers kept whose summary or authors this load emptied (what a source cut short does)."""
    added_ids: tuple[int, ...] = field(default=(), repr=False)
    version: int | None = None
    dry_run: bool = False
    first_titles: tuple[str, ...] = ()
    needs_replace: bool = False
    notices: int = 0
    """Watch notices this load recorded (in its own transaction), waiting to be sent."""

    @property
    def papers(self) -> int:
        return self.added + self.updated + self.unchanged

    def counts(self) -> str:
        counts = f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged"
        if self.removed:
            counts += f", {self.removed} removed"
        return counts

    def summary(self) -> str:
        """The first line: source, month, counts, and what kind of load it was."""
        note = " (file unchanged since last load)" if self.same_file else ""
        if self.encoding != "utf-8":
            note += f" (decoded as {self.encoding.upper()})"
        if self.dry_run:
            note += (
                " (dry run: nothing written; loading it needs --replace)"
                if self.needs_replace
                else (" (dry run: nothing written)")
            )
        elif self.version is not None:
            note += f" (version {self.version})"
        papers = f"{self.papers} paper{'' if self.papers == 1 else 's'}"
        return f"{self.source}: {self.month}: {papers}: {self.counts()}{note}"

    def describe(self) -> str:
        """The summary, then the titles added (+) and removed (-)."""
        lines = [self.summary()]
        lines += [f"  + {title}" for title in self.added_titles[:MAX_TITLES_LISTED]]
        if len(self.added_titles) > MAX_TITLES_LISTED:
            lines.append(f"  + … and {len(self.added_titles) - MAX_TITLES_LISTED} more")
        lines += [f"  - {title}" for title in self.removed_titles]
        lines += [f"  ! {title} (summary or authors now empty)" for title in self.emptied_titles]
        return "\n".join(lines)


class _DryRun(Exception):
    """Raised inside the write transaction to roll a dry run back."""

    def __init__(self, result: LoadResult) -> None:
        self.result = result


def default_loader() -> str:
    """``cli NAME``: the account running the command (from the password database, not the environment,
    which only bot.config reads)."""
    try:
        import pwd

        return f"cli {pwd.getpwuid(os.getuid()).pw_name}"
    except (ImportError, KeyError, OSError):
        return "cli"


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


def load_file(db: sqlite_utils.Database, path: Path, month: str | None = None, **options: Any) -> LoadResult:
    """Read, parse and store one digest file in one transaction (see :func:`load_source`)."""
    return load_source(db, source_from_path(path), month=month, **options)


def load_source(
    db: sqlite_utils.Database,
    source: Source,
    month: str | None = None,
    *,
    replace: bool = False,
    dry_run: bool = False,
    who: Provenance | None = None,
) -> LoadResult:
    """Parse and store one source in one transaction, recording it as a new version of its month.

    Raises :class:`DigestError` (source, line, reason) and leaves the database as it was: a source that
    cannot be parsed, a ``month`` contradicting the name's, or (without ``replace``) a reload that would
    remove papers (:class:`RemovalRefused`).
    """
    if month is not None:
        try:
            month = validate_month(month)
        except ValueError as error:
            raise DigestError(source.name, str(error)) from None
    if not replace:
        check_month(source.name, month)
    digest_hash = content_hash(source.data)
    known_month = month or month_from_name(source.name)
    if known_month is not None:
        unchanged = _unchanged(db, known_month, digest_hash, source.name)
        if unchanged is not None:
            return replace_result(unchanged, dry_run=dry_run)
    digest = parse_source(source, month)
    # A dry run shows everything the load would change, removals included, and says what it would need.
    result = store_digest(db, digest, replace=replace or dry_run, dry_run=dry_run, source=source, who=who)
    if dry_run and (result.removed or result.emptied_titles) and not replace:
        result = replace_result(result, needs_replace=True)
    return result


def replace_result(result: LoadResult, **changes: Any) -> LoadResult:
    return replace(result, **changes)


def _unchanged(db: sqlite_utils.Database, month: str, digest_hash: str, source: str) -> LoadResult | None:
    row = db.execute(
        "SELECT encoding, (SELECT count(*) FROM entries WHERE entries.month = digests.month) "
        "FROM digests WHERE month = ? AND content_hash = ?",
        [month, digest_hash],
    ).fetchone()
    if row is None:
        return None
    return LoadResult(source, month, unchanged=row[1], same_file=True, encoding=row[0])


def store_digest(
    db: sqlite_utils.Database,
    digest: Digest,
    *,
    replace: bool = True,
    dry_run: bool = False,
    source: Source | None = None,
    who: Provenance | None = None,
) -> LoadResult:
    """Upsert a parsed digest and its papers in one ``BEGIN IMMEDIATE`` transaction.

    Without ``replace``, a digest that would remove papers from its month is refused
    (:class:`RemovalRefused`). A removed paper keeps its row (arXiv metadata and enrichment state), its
    suggestions, votes and roundup records: a restore brings it back as it was. ``dry_run`` computes the
    same result and rolls everything back. With ``source``, the load is recorded as a new version.
    """
    try:
        return _store(db, digest, replace=replace, dry_run=dry_run, source=source, who=who)
    except _DryRun as rolled_back:
        return rolled_back.result


def _store(
    db: sqlite_utils.Database,
    digest: Digest,
    *,
    replace: bool,
    dry_run: bool,
    source: Source | None,
    who: Provenance | None,
) -> LoadResult:
    with write_transaction(db):
        same = _unchanged(db, digest.month, digest.content_hash, digest.source)
        if same is not None:
            return replace_result(same, dry_run=dry_run)
        conn = db.conn
        now = _now()
        existing = {
            row[0]: row[1:]
            for row in conn.execute(
                f"SELECT paper_id, position, {', '.join(_ENTRY_FIELDS)} FROM entries WHERE month = ?",
                [digest.month],
            )
        }
        had_digest = conn.execute("SELECT 1 FROM digests WHERE month = ?", [digest.month]).fetchone() is not None
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
        new_ids = set(paper_ids)
        removed_ids = [paper_id for paper_id in existing if paper_id not in new_ids]
        # Titles as the month printed them (position order), for the refusal and the report.
        removed_titles = tuple(
            str(existing[paper_id][1]) for paper_id in sorted(removed_ids, key=lambda i: int(existing[i][0]))
        )
        emptied_titles = tuple(
            paper.title
            for paper, paper_id in zip(digest.papers, paper_ids, strict=True)
            if paper_id in existing and _empties(existing[paper_id], paper)
        )
        if (removed_ids or emptied_titles) and not replace:
            current = conn.execute("SELECT max(version) FROM digest_versions WHERE month = ?", [digest.month])
            raise RemovalRefused(
                digest.source, digest.month, removed_titles, emptied_titles, current_version=current.fetchone()[0]
            )
        added = updated = unchanged = 0
        changed_ids: list[int] = []
        added_ids: list[int] = []
        added_titles: list[str] = []
        rows: list[tuple[Any, ...]] = []
        for paper, paper_id in zip(digest.papers, paper_ids, strict=True):
            values = (paper.position, *_entry_values(paper))
            before = existing.get(paper_id)
            if before is None:
                added += 1
                added_ids.append(paper_id)
                added_titles.append(paper.title)
            elif tuple(before) == values:
                unchanged += 1
                continue
            else:
                updated += 1
                changed_ids.append(paper_id)
            rows.append((digest.month, paper_id, *values, *search_values(paper)))
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
        version = None
        if source is not None:
            action = who.action if who else "load"
            if action == "load" and (removed_ids or emptied_titles):
                action = "replace"
            provenance = Provenance(
                who.loaded_by if who else default_loader(), action, who.restored_from if who else None
            )
            version = record_version(conn, digest.month, digest.content_hash, source, len(digest.papers), provenance)
        # Watch notices commit with the load itself: a load that lands has them, one that fails has none.
        notices = record_matches(db, added_ids) if added_ids and not dry_run else 0
        result = LoadResult(
            digest.source,
            digest.month,
            added,
            updated,
            unchanged,
            len(removed_ids),
            encoding=digest.encoding,
            added_titles=tuple(added_titles) if had_digest else (),
            removed_titles=removed_titles,
            emptied_titles=emptied_titles,
            added_ids=tuple(added_ids),
            version=version,
            dry_run=dry_run,
            first_titles=tuple(paper.title for paper in digest.papers[:5]),
            notices=notices,
        )
        if dry_run:
            raise _DryRun(result)
    return result


def _empties(before: tuple[Any, ...], paper: Paper) -> bool:
    """Whether an entry as stored (``position``, then :data:`_ENTRY_FIELDS`) would lose its summary or its
    authors to ``paper``."""
    authors, summary = before[1 + _ENTRY_FIELDS.index("authors")], before[1 + _ENTRY_FIELDS.index("summary")]
    return bool(summary and not paper.summary) or (authors not in (None, "[]") and not paper.authors)


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


def restore_version(
    db: sqlite_utils.Database, month: str, version: int, *, dry_run: bool = False, loaded_by: str | None = None
) -> LoadResult:
    """Make ``version`` of ``month`` current again, from its stored bytes (no network), recorded as a new
    version. Papers it brings back find their rows, arXiv metadata, suggestions and votes where they were."""
    from bot.digest.versions import get_source

    source = get_source(db, month, version)
    if source is None:
        known = [v for (v,) in db.execute("SELECT version FROM digest_versions WHERE month = ?", [month])]
        have = f"its versions are {', '.join(map(str, known))}" if known else "it has no stored versions"
        raise DigestError(f"{month} v{version}", f"no such version ({have}; see paperbot history {month})")
    who = Provenance(loaded_by or default_loader(), "restore", version)
    result = load_source(db, source, month=month, replace=True, dry_run=dry_run, who=who)
    if result.same_file:
        raise DigestError(f"{month} v{version}", "is already the current version; nothing changed")
    return result
