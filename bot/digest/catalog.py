"""Reading papers back: the views that cards, lists and roundups are built from.

Every function takes the caller's connection and returns plain frozen dataclasses, so Block Kit
builders stay pure and never touch the database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import sqlite_utils

from bot.digest.references import CitedWork, paper_citations


@dataclass(frozen=True)
class PaperView:
    """A paper as a card shows it: the digest's entry (latest month) with arXiv's metadata when known."""

    paper_id: int
    arxiv_id: str | None
    digest_title: str
    arxiv_title: str | None
    authors: tuple[str, ...]
    """The complete list from arXiv when enriched, else the digest's (see ``authors_truncated``)."""
    authors_truncated: bool
    month: str
    position: int
    summary: str
    project_url: str | None
    incomplete_link: str | None
    abstract: str | None = None
    latest_version: int | None = None
    primary_category: str | None = None
    published: str | None = None
    cites: tuple[CitedWork, ...] = ()
    """The references this entry's summary cites (filled for single cards, not for lists)."""

    @property
    def title(self) -> str:
        """arXiv's canonical title when known (digest titles carry scraping artifacts)."""
        return self.arxiv_title or self.digest_title

    @property
    def abs_url(self) -> str | None:
        return f"https://arxiv.org/abs/{self.arxiv_id}" if self.arxiv_id else None

    @property
    def pdf_url(self) -> str | None:
        return f"https://arxiv.org/pdf/{self.arxiv_id}" if self.arxiv_id else None

    @property
    def link(self) -> str | None:
        return self.abs_url or self.project_url


@dataclass(frozen=True)
class DigestView:
    month: str
    title: str | None
    intro: str | None
    source_url: str | None
    curator: str | None
    papers: tuple[PaperView, ...]


_PAPER_SELECT = """
SELECT p.id, p.arxiv_id, e.title, a.title, e.authors, a.authors, e.authors_truncated, e.month, e.position,
       e.summary, e.project_url, e.incomplete_link, a.abstract, a.latest_version, a.primary_category, a.published
FROM papers p
JOIN entries e ON e.paper_id = p.id
LEFT JOIN arxiv_entries a ON a.arxiv_id = p.arxiv_id
"""


def _paper(row: tuple[object, ...]) -> PaperView:
    (
        paper_id,
        arxiv_id,
        digest_title,
        arxiv_title,
        digest_authors,
        arxiv_authors,
        truncated,
        month,
        position,
        summary,
        project_url,
        incomplete_link,
        abstract,
        version,
        category,
        published,
    ) = row
    authors = json.loads(str(arxiv_authors)) if arxiv_authors else json.loads(str(digest_authors))
    return PaperView(
        paper_id=int(str(paper_id)),
        arxiv_id=str(arxiv_id) if arxiv_id else None,
        digest_title=str(digest_title),
        arxiv_title=" ".join(str(arxiv_title).split()) if arxiv_title else None,
        authors=tuple(authors),
        authors_truncated=bool(truncated) and not arxiv_authors,
        month=str(month),
        position=int(str(position)),
        summary=str(summary),
        project_url=str(project_url) if project_url else None,
        incomplete_link=str(incomplete_link) if incomplete_link else None,
        abstract=str(abstract) if abstract else None,
        latest_version=int(str(version)) if version else None,
        primary_category=str(category) if category else None,
        published=str(published) if published else None,
    )


def with_cites(db: sqlite_utils.Database, paper: PaperView) -> PaperView:
    """The paper with the references its summary cites resolved."""
    cites = paper_citations(db, paper.paper_id, paper.month, paper.summary)
    return replace(paper, cites=cites) if cites else paper


def get_paper(db: sqlite_utils.Database, paper_id: int) -> PaperView | None:
    """The paper with its latest digest entry (and what its summary cites), or ``None``."""
    row = db.execute(_PAPER_SELECT + " WHERE p.id = ? ORDER BY e.month DESC LIMIT 1", [paper_id]).fetchone()
    return with_cites(db, _paper(row)) if row else None


def get_papers(db: sqlite_utils.Database, paper_ids: list[int]) -> list[PaperView]:
    """Several papers, in the order asked (missing ones skipped)."""
    return [paper for paper_id in paper_ids if (paper := get_paper(db, paper_id)) is not None]


def find_by_arxiv_id(db: sqlite_utils.Database, arxiv_id: str) -> PaperView | None:
    row = db.execute(_PAPER_SELECT + " WHERE p.arxiv_id = ? ORDER BY e.month DESC LIMIT 1", [arxiv_id]).fetchone()
    return with_cites(db, _paper(row)) if row else None


def months(db: sqlite_utils.Database) -> list[str]:
    """Digest months, newest first."""
    return [str(row[0]) for row in db.execute("SELECT month FROM digests ORDER BY month DESC")]


def latest_month(db: sqlite_utils.Database) -> str | None:
    row = db.execute("SELECT max(month) FROM digests").fetchone()
    return str(row[0]) if row and row[0] else None


def get_digest(db: sqlite_utils.Database, month: str) -> DigestView | None:
    """A digest month with its papers in digest order."""
    head = db.execute(
        "SELECT month, title, intro, source_url, curator FROM digests WHERE month = ?", [month]
    ).fetchone()
    if head is None:
        return None
    rows = db.execute(_PAPER_SELECT + " WHERE e.month = ? ORDER BY e.position", [month]).fetchall()
    return DigestView(
        month=str(head[0]),
        title=head[1],
        intro=head[2],
        source_url=head[3],
        curator=head[4],
        papers=tuple(_paper(row) for row in rows),
    )


def some_titles(db: sqlite_utils.Database, limit: int = 5) -> list[PaperView]:
    """The latest digest's first papers: something to browse when a search finds nothing (only those
    read: a month of a large archive holds hundreds)."""
    month = latest_month(db)
    if month is None:
        return []
    rows = db.execute(_PAPER_SELECT + " WHERE e.month = ? ORDER BY e.position LIMIT ?", [month, limit]).fetchall()
    return [_paper(row) for row in rows]
