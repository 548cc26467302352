"""Keeping the stored search terms current: ``entries.search_nick`` / ``search_body`` (derived in Python
by :mod:`bot.search.terms`) and the FTS5 index ``paper_search`` built from them and arXiv's metadata.

SQL triggers keep the index in step with every write, but they cannot know when the Python that derives
the terms changes. :data:`bot.search.terms.TERMS_VERSION` names that code's version; the database records
the version its columns were derived with (``search_state.terms_version``). Opening a database whose
version differs re-derives the columns (:func:`refresh_terms`, cheap to detect: one row read), and
``paperbot reindex`` rebuilds everything (:func:`rebuild`). Both expect the caller's write transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlite_utils

from bot.search.terms import TERMS_VERSION, index_text, nicknames


@dataclass(frozen=True)
class ReindexReport:
    """What a reindex did."""

    entries: int
    changed: int
    papers: int
    seconds: float

    def describe(self) -> str:
        return (
            f"reindexed {self.papers} papers from {self.entries} digest entries "
            f"({self.changed} with new search terms, terms version {TERMS_VERSION}) in {self.seconds:.1f} s"
        )


def stored_version(db: sqlite_utils.Database) -> int:
    row = db.execute("SELECT terms_version FROM search_state").fetchone()
    return int(row[0]) if row else 0


def is_current(db: sqlite_utils.Database) -> bool:
    """Whether the stored search columns were derived by this code's terms version."""
    return stored_version(db) == TERMS_VERSION


def search_terms(title: str, summary: str) -> tuple[str, str]:
    """An entry's derived search columns: its nicknames and its text as the index sees it."""
    return " ".join(nicknames(title, summary)), index_text(f"{title}\n{summary}")


def refresh_terms(db: sqlite_utils.Database) -> tuple[int, int]:
    """Re-derive every entry's search columns and write those that differ (the triggers then rebuild
    those papers' documents); record the current terms version. Returns (entries, changed)."""
    rows = db.execute("SELECT id, title, summary, search_nick, search_body FROM entries").fetchall()
    changed = []
    for entry_id, title, summary, nick, body in rows:
        fresh = search_terms(str(title), str(summary))
        if fresh != (nick, body):
            changed.append((*fresh, entry_id))
    db.conn.executemany("UPDATE entries SET search_nick = ?, search_body = ? WHERE id = ?", changed)
    db.execute("UPDATE search_state SET terms_version = ?", [TERMS_VERSION])
    return len(rows), len(changed)


MERGED_SEGMENTS = 2
"""An index in more b-tree segments than this is worth merging (:func:`merge`)."""


def segments(db: sqlite_utils.Database) -> int:
    """How many b-tree segments the full-text index is in. FTS5 writes one per transaction (a digest
    load) and merges them four at a time, so monthly loads leave ~10 at 1,000 months; every lookup
    probes each (~35 us for ``lopez trendelm`` at 100,000 papers in 10 segments, ~6 us in one)."""
    return int(db.execute("SELECT count(DISTINCT segid) FROM paper_search_idx").fetchone()[0])


def merge(db: sqlite_utils.Database) -> None:
    """Merge the full-text index into one segment (FTS5's ``optimize``; ~0.5 s at 100,000 papers). The
    same documents and statistics: searches find and rank exactly as before, only faster."""
    db.execute("INSERT INTO paper_search (paper_search) VALUES ('optimize')")


def rebuild(db: sqlite_utils.Database) -> ReindexReport:
    """Re-derive the entries' search columns, then rebuild the whole FTS index from the digests and
    arXiv's metadata, and merge it into one segment (the fastest shape to query)."""
    start = time.perf_counter()
    entries, changed = refresh_terms(db)
    db.execute("DELETE FROM paper_search")
    db.execute(
        "INSERT INTO paper_search (rowid, title, nick, authors, body)"
        " SELECT paper_id, title, nick, authors, body FROM paper_documents"
    )
    merge(db)
    # Readers cache what they derive from the index (the spelling vocabulary) under this counter.
    db.execute("UPDATE search_state SET version = version + 1")
    papers = int(db.execute("SELECT count(*) FROM paper_search").fetchone()[0])
    return ReindexReport(entries, changed, papers, time.perf_counter() - start)
