"""What the digests cite: each summary's ``[n]`` resolved from its digest's references block, and the
references a query names.

A digest ends with a references block (``[1] “SoundStream: …” by …, 2021.``) and summaries cite it by
number. Digests are hand-written, so a number can be wrong (January cites [8] for OPT-IML and again for
DreamFusion, and [8] is OPT): each citation keeps the words the summary put before it
(:attr:`CitedWork.labels`), and a card shows them when they are not in the reference's title, so a
reader can tell a mismatch from a nickname (``RASP [6]`` for "Thinking Like Transformers").

A cited work is linked to its archive paper when one of the archive's papers has the same normalised
title. Nothing here imports Slack or the catalog: it returns plain data and paper ids.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import sqlite_utils

from bot.digest.parse import normalise_title

MAX_REFERENCE_HITS = 3
SCANNED = 500
"""Matches of the query's phrase looked at, newest first."""
CANDIDATES = 100
"""References read per query (the newest listings that contain the query's words as a phrase)."""
COVERAGE = 0.5
"""A query names a reference when it is the reference's short name (``soundstream``, the part before
the colon), its whole title, or covers at least this share of the title's words."""
_LATIN = "0-9A-Za-z\u00c0-\u024f"
_LABEL = re.compile(f"([{_LATIN}][{_LATIN}\\-·.']*)\\s*\\[(\\d{{1,3}})\\]")


@dataclass(frozen=True)
class CitedWork:
    """One reference as a summary cites it."""

    month: str
    """The digest whose references block lists it."""
    number: int
    title: str
    authors: tuple[str, ...]
    year: int | None
    labels: tuple[str, ...] = ()
    """The words before ``[n]`` in the summary (``SoundStream``), as written."""
    archive_paper_id: int | None = None
    archive_arxiv_id: str | None = None

    @property
    def mismatched_labels(self) -> tuple[str, ...]:
        """Labels that do not occur in the title: a nickname, or a wrong number in the digest."""
        title = _compact(self.title)
        return tuple(label for label in self.labels if _compact(label) not in title)

    @property
    def short_title(self) -> str:
        head = self.title.split(":")[0].strip()
        return head if 2 <= len(head) <= 40 else self.title


@dataclass(frozen=True)
class Citing:
    """A digest paper whose summary cites a reference."""

    paper_id: int
    month: str
    position: int
    title: str
    number: int

    @property
    def short_title(self) -> str:
        head = self.title.split(":")[0].strip()
        return head if 2 <= len(head) <= 60 else self.title


@dataclass(frozen=True)
class ReferenceHit:
    """A reference a query named: one work, the digests listing it, and the papers citing it."""

    work: CitedWork
    listings: tuple[tuple[str, int], ...]
    """(month, number) of every digest that lists it, oldest first."""
    citing: tuple[Citing, ...]


def _compact(text: str) -> str:
    return normalise_title(text).replace(" ", "")


def citation_labels(summary: str) -> dict[int, tuple[str, ...]]:
    """``{1: ("SoundStream",), 8: ("OPT-IML-Max",)}``: the word written before each ``[n]``."""
    labels: dict[int, list[str]] = {}
    for match in _LABEL.finditer(summary):
        label = match.group(1).rstrip(".-'")
        found = labels.setdefault(int(match.group(2)), [])
        if label and label not in found:
            found.append(label)
    return {number: tuple(found) for number, found in labels.items()}


def _archive_papers(db: sqlite_utils.Database, titles: Sequence[str]) -> dict[str, tuple[int, str | None]]:
    """Normalised title → (paper id, arXiv id) for the titles that are archive papers."""
    keys = sorted({normalise_title(title) for title in titles})
    if not keys:
        return {}
    rows = db.execute(
        "SELECT title_key, id, arxiv_id FROM papers WHERE title_key IN (SELECT value FROM json_each(?))"
        " AND EXISTS (SELECT 1 FROM entries e WHERE e.paper_id = papers.id) ORDER BY id",
        [json.dumps(keys)],
    ).fetchall()
    found: dict[str, tuple[int, str | None]] = {}
    for key, paper_id, arxiv_id in rows:
        found.setdefault(str(key), (int(paper_id), str(arxiv_id) if arxiv_id else None))
    return found


def _work(row: Sequence[object], labels: tuple[str, ...], archive: dict[str, tuple[int, str | None]]) -> CitedWork:
    month, number, title, authors, year = row
    linked = archive.get(normalise_title(str(title)))
    return CitedWork(
        month=str(month),
        number=int(str(number)),
        title=" ".join(str(title).split()),
        authors=tuple(json.loads(str(authors))),
        year=int(str(year)) if year else None,
        labels=labels,
        archive_paper_id=linked[0] if linked else None,
        archive_arxiv_id=linked[1] if linked else None,
    )


def cited_works(
    db: sqlite_utils.Database, month: str, citations: Sequence[int], summary: str, *, paper_id: int | None = None
) -> tuple[CitedWork, ...]:
    """The references a summary of ``month`` cites, in number order (a number the block lacks is
    skipped). ``paper_id`` is never linked to itself."""
    if not citations:
        return ()
    rows = db.execute(
        "SELECT month, number, title, authors, year FROM digest_references"
        " WHERE month = ? AND number IN (SELECT value FROM json_each(?)) ORDER BY number",
        [month, json.dumps(sorted(set(citations)))],
    ).fetchall()
    archive = _archive_papers(db, [str(row[2]) for row in rows])
    if paper_id is not None:
        archive = {key: value for key, value in archive.items() if value[0] != paper_id}
    labels = citation_labels(summary)
    return tuple(_work(row, labels.get(int(row[1]), ()), archive) for row in rows)


def paper_citations(db: sqlite_utils.Database, paper_id: int, month: str, summary: str) -> tuple[CitedWork, ...]:
    """What the paper's entry in ``month`` cites."""
    row = db.execute("SELECT citations FROM entries WHERE paper_id = ? AND month = ?", [paper_id, month]).fetchone()
    numbers = [int(n) for n in json.loads(str(row[0]))] if row and row[0] else []
    return cited_works(db, month, numbers, summary, paper_id=paper_id)


def _query_words(query: str) -> list[str]:
    return normalise_title(query).split()


def _names_reference(words: list[str], title: str) -> bool:
    wanted = "".join(words)
    title_words = normalise_title(title).split()
    if not wanted or not title_words:
        return False
    head = _compact(title.split(":")[0])
    if wanted in (head, "".join(title_words)):
        return True
    matched = sum(1 for word in set(words) if any(t.startswith(word) for t in title_words))
    return matched == len(set(words)) and matched / len(set(title_words)) >= COVERAGE


def citing_papers(db: sqlite_utils.Database, month: str, number: int) -> list[Citing]:
    rows = db.execute(
        "SELECT DISTINCT e.paper_id, e.month, e.position, e.title FROM entries e, json_each(e.citations) c"
        " WHERE e.month = ? AND c.value = ? ORDER BY e.position",
        [month, number],
    ).fetchall()
    return [Citing(int(r[0]), str(r[1]), int(r[2]), str(r[3]), number) for r in rows]


def find_references(db: sqlite_utils.Database, query: str) -> tuple[ReferenceHit, ...]:
    """The references ``query`` names (see :data:`COVERAGE`), one hit per work (listings in several
    months are merged by title), with every paper citing it. Empty for queries in other scripts:
    references are English titles."""
    words = _query_words(query)[:12]
    if not words or not all(word.isascii() for word in words):
        return ()
    groups: dict[str, list[Sequence[object]]] = {}
    phrase = '"' + " ".join(word.replace('"', '""') for word in words) + '"'
    widest = phrase + "*" if len(words[-1]) >= 3 else phrase
    # Most queries name no reference: one bare index lookup (~4 us) says so, where the query below costs
    # ~20 us even when nothing matches (its subquery is materialised and sorted).
    if db.execute("SELECT 1 FROM reference_search WHERE reference_search MATCH ? LIMIT 1", [widest]).fetchone() is None:
        return ()
    # The words as a phrase (a reference is named by its head or most of its title, in order), whole
    # words first, then the last as a prefix. Newest listings first, unranked: ranking every match of a
    # common word costs tens of milliseconds at 100,000 papers, and the strict test decides anyway.
    for expression in (phrase, phrase + "*" if len(words[-1]) >= 3 else None):
        if expression is None:
            break
        # Cheap filters first, in SQL: the title starts with the query's words (its head), or it is short
        # enough for the query to cover half of it. At most SCANNED matches are looked at: a word in every
        # title ("scale") must not make a search walk the whole table.
        rows = db.execute(
            "SELECT r.month, r.number, r.title, r.authors, r.year FROM"
            " (SELECT rowid FROM reference_search WHERE reference_search MATCH ? ORDER BY rowid DESC LIMIT ?) s"
            " JOIN digest_references r ON r.rowid = s.rowid"
            " WHERE r.title LIKE ? OR length(r.title) - length(replace(r.title, ' ', '')) < ?"
            " ORDER BY s.rowid DESC LIMIT ?",
            [expression, SCANNED, "%".join(words) + "%", 2 * len(set(words)), CANDIDATES],
        ).fetchall()
        for row in rows:
            if _names_reference(words, str(row[2])):
                groups.setdefault(normalise_title(str(row[2])), []).append(row)
        if groups:
            break
    hits = []
    archive = _archive_papers(db, [str(group[0][2]) for group in groups.values()])
    for group in list(groups.values())[:MAX_REFERENCE_HITS]:
        group.sort(key=lambda row: (str(row[0]), int(str(row[1]))))
        citing = [paper for row in group for paper in citing_papers(db, str(row[0]), int(str(row[1])))]
        hits.append(
            ReferenceHit(
                work=_work(group[0], (), archive),
                listings=tuple((str(row[0]), int(str(row[1]))) for row in group),
                citing=tuple(citing),
            )
        )
    return tuple(hits)
