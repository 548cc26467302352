"""What a citation is made of: one :class:`CitationRecord` per archive paper, read in one query, and the
citation keys (``agostinelli2023musiclm``), unique across the archive.

A record prefers arXiv's metadata (canonical title, complete author list, category, DOI) and falls back to
the digest's entry (its title, its possibly cut author list, its month) for papers not enriched yet.

Keys are ``surname + year + first significant title word``, folded to ASCII. Papers that would share a
key keep it in paper order: the oldest paper has the plain key, later ones get ``a``, ``b``, … appended,
so a key once given out does not change when papers are added. The key table of the whole archive is
cached per database and rebuilt when the search index's version moves (any change to titles, authors or
arXiv ids bumps it, see ``bot.db.m008_search_version``).
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlite_utils

from bot.arxiv.ids import parse_arxiv_ref

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "on",
        "of",
        "in",
        "for",
        "and",
        "to",
        "with",
        "from",
        "by",
        "at",
        "as",
        "is",
        "are",
        "be",
        "via",
        "towards",
        "toward",
        "how",
        "what",
        "why",
        "when",
        "do",
        "does",
        "can",
        "we",
        "our",
        "its",
        "their",
        "your",
    ]
)
"""Title words skipped when choosing the key's word (Google Scholar and arXiv skip these too)."""


@dataclass(frozen=True)
class CitationRecord:
    paper_id: int
    key: str
    title: str
    authors: tuple[str, ...]
    authors_complete: bool
    """False when only the digest's list is known and it ended with ``et al.``."""
    year: int
    month: int | None
    day: int | None
    arxiv_id: str | None
    primary_class: str | None
    doi: str | None
    url: str | None
    abstract: str | None
    digest_month: str


_SELECT = """
SELECT p.id, p.arxiv_id, e.title, e.authors, e.authors_truncated, e.month, e.project_url,
       a.title, a.authors, a.abstract, a.primary_category, a.published, a.doi
FROM papers p
JOIN entries e ON e.id = (SELECT e2.id FROM entries e2 WHERE e2.paper_id = p.id ORDER BY e2.month DESC LIMIT 1)
LEFT JOIN arxiv_entries a ON a.arxiv_id = p.arxiv_id
"""


def ascii_fold(text: str) -> str:
    """``Kramár`` → ``Kramar``: accents dropped, other non-ASCII letters removed."""
    decomposed = unicodedata.normalize("NFKD", text)
    return decomposed.encode("ascii", "ignore").decode("ascii")


def surname(name: str) -> str:
    """The family name as keys use it: the last word (``Quoc V. Le`` → ``Le``)."""
    words = name.replace(",", " ").split()
    if not words:
        return ""
    return words[-1]


_NOT_LETTER = re.compile(r"[^a-z]")
_WORD = re.compile(r"[^\W_]+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ID_YYMM = re.compile(r"(?:.*/)?(\d{2})(\d{2})")


def key_base(first_author: str | None, year: int, title: str) -> str:
    author = _NOT_LETTER.sub("", ascii_fold(surname(first_author or "")).lower()) or "anon"
    word = ""
    for candidate in _WORD.findall(ascii_fold(title).lower()):
        if candidate not in STOPWORDS:
            word = candidate
            break
    return f"{author}{year}{word}"


def _suffix(index: int) -> str:
    """0 → '', 1 → 'a', 26 → 'z', 27 → 'aa', …"""
    letters = ""
    while index > 0:
        index -= 1
        letters = chr(ord("a") + index % 26) + letters
        index //= 26
    return letters


def assign_keys(bases: Iterable[tuple[int, str]]) -> dict[int, str]:
    """Unique keys from ``(paper_id, base)`` pairs: in paper id order, repeats get a letter suffix (and
    skip any suffixed key that another paper already has as its base, e.g. a title word ending in 'a')."""
    taken: set[str] = set()
    pairs = sorted(bases)
    plain = {base for _, base in pairs}
    seen: dict[str, int] = {}
    keys: dict[int, str] = {}
    for paper_id, base in pairs:
        count = seen.get(base, 0)
        key = base + _suffix(count)
        while key in taken or (count and key in plain):
            count += 1
            key = base + _suffix(count)
        seen[base] = count + 1
        taken.add(key)
        keys[paper_id] = key
    return keys


def _year_month_day(
    arxiv_id: str | None, published: str | None, digest_month: str
) -> tuple[int, int | None, int | None]:
    if published and _DATE.match(published):
        return int(published[:4]), int(published[5:7]), int(published[8:10])
    ref = parse_arxiv_ref(arxiv_id) if arxiv_id else None
    if ref is not None:
        match = _ID_YYMM.match(ref.id)
        if match:
            yy, mm = int(match.group(1)), int(match.group(2))
            return (1900 + yy if yy >= 91 else 2000 + yy), mm, None
    return int(digest_month[:4]), int(digest_month[5:7]), None


def _record(row: Sequence[object], keys: dict[int, str]) -> CitationRecord:
    (paper_id, arxiv_id, e_title, e_authors, truncated, month, project_url) = row[:7]
    (a_title, a_authors, abstract, category, published, doi) = row[7:]
    authors = json.loads(str(a_authors)) if a_authors else json.loads(str(e_authors))
    year, pub_month, day = _year_month_day(
        str(arxiv_id) if arxiv_id else None, str(published) if published else None, str(month)
    )
    pid = int(str(paper_id))
    title = " ".join(str(a_title or e_title).split())
    return CitationRecord(
        paper_id=pid,
        key=keys.get(pid) or key_base(authors[0] if authors else None, year, title),
        title=title,
        authors=tuple(" ".join(str(name).split()) for name in authors),
        authors_complete=bool(a_authors) or not truncated,
        year=year,
        month=pub_month,
        day=day,
        arxiv_id=str(arxiv_id) if arxiv_id else None,
        primary_class=str(category) if category else None,
        doi=str(doi) if doi else None,
        url=f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else (str(project_url) if project_url else None),
        abstract=" ".join(str(abstract).split()) if abstract else None,
        digest_month=str(month),
    )


MAX_CACHED_KEY_TABLES = 4
_keys_lock = threading.Lock()
_key_tables: OrderedDict[str, tuple[int, dict[int, str]]] = OrderedDict()


_KEY_SELECT = """
SELECT p.id, p.arxiv_id, a.published, e.month, coalesce(a.title, e.title),
       json_extract(coalesce(a.authors, e.authors), '$[0]')
FROM papers p
JOIN entries e ON e.id = (SELECT e2.id FROM entries e2 WHERE e2.paper_id = p.id ORDER BY e2.month DESC LIMIT 1)
LEFT JOIN arxiv_entries a ON a.arxiv_id = p.arxiv_id
"""
"""Only what keys are made of (SQLite picks the first author out of the JSON: no list is decoded)."""


def _compute_keys(rows: Iterable[Sequence[object]]) -> dict[int, str]:
    """Keys from :data:`_KEY_SELECT` rows."""
    bases = []
    for paper_id, arxiv_id, published, month, title, first_author in rows:
        year, _, _ = _year_month_day(
            str(arxiv_id) if arxiv_id else None, str(published) if published else None, str(month)
        )
        bases.append((int(str(paper_id)), key_base(str(first_author) if first_author else None, year, str(title))))
    return assign_keys(bases)


def citation_keys(db: sqlite_utils.Database) -> dict[int, str]:
    """Every archive paper's key; cached until the archive's titles, authors or ids change."""
    token, version = db.execute("SELECT token, version FROM search_state").fetchone()
    with _keys_lock:
        cached = _key_tables.get(token)
        if cached is not None and cached[0] == version:
            return cached[1]
    keys = _compute_keys(db.execute(_KEY_SELECT).fetchall())
    with _keys_lock:
        _key_tables[token] = (int(version), keys)
        _key_tables.move_to_end(token)
        while len(_key_tables) > MAX_CACHED_KEY_TABLES:
            _key_tables.popitem(last=False)
    return keys


def citation_records(db: sqlite_utils.Database, *, month: str | None = None) -> list[CitationRecord]:
    """The archive's records (or those of the papers in one digest month), in paper order."""
    if month is None:
        rows = db.execute(_SELECT + " ORDER BY p.id").fetchall()
    else:
        rows = db.execute(
            _SELECT.replace(
                "ORDER BY e2.month DESC LIMIT 1",
                "AND e2.month = ? LIMIT 1",
            )
            + " ORDER BY p.id",
            [month],
        ).fetchall()
    keys = citation_keys(db)
    return [_record(row, keys) for row in rows]


def citation_record(db: sqlite_utils.Database, paper_id: int) -> CitationRecord | None:
    row = db.execute(_SELECT + " WHERE p.id = ?", [paper_id]).fetchone()
    return _record(row, citation_keys(db)) if row else None
