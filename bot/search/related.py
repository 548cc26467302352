"""Related papers: up to three other archive papers for a card's *Related* button, each with why.

Ranked by kind, in this order, each kind ranked within itself:

0. papers this one's summary cites, or whose summaries cite this one (a reference with its title);
1. papers whose summaries cite the same works (the same reference title, in any digest), most shared first;
2. papers sharing authors (names as arXiv or the digest print them), most shared first, newest first;
3. text similarity: BM25 over title and body (summary terms and arXiv abstract) for the paper's own
   rarest title and abstract words, the words that say what it is about.

The paper itself is never returned. Cost at 100,000 papers: a handful of indexed lookups; the author and
text queries stop after :data:`CANDIDATES` documents instead of ranking every match (a common name can
match thousands of papers).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlite_utils

from bot.digest.parse import normalise_title
from bot.digest.references import citation_labels
from bot.search.query import word_counts

LIMIT = 3
CANDIDATES = 50
KEY_TERMS = 6
"""Rarest words of the paper that make its text-similarity query."""
MAX_VOCAB_LOOKUPS = 60
"""Title words first, then the abstract's, at most this many considered."""
STOPWORDS = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "from",
        "that",
        "this",
        "are",
        "was",
        "were",
        "which",
        "their",
        "these",
        "those",
        "using",
        "use",
        "based",
        "into",
        "via",
        "over",
        "under",
        "than",
        "then",
        "also",
        "can",
        "our",
        "its",
        "not",
        "but",
        "all",
        "any",
        "more",
        "most",
        "such",
        "new",
        "show",
        "shows",
        "model",
        "models",
        "method",
        "methods",
        "paper",
        "approach",
        "results",
        "learning",
        "large",
        "data",
        "task",
        "tasks",
        "work",
        "both",
        "each",
        "other",
        "between",
        "while",
        "when",
        "where",
        "what",
        "how",
        "does",
        "have",
        "has",
        "been",
        "being",
        "towards",
        "toward",
        "propose",
        "proposed",
        "we",
        "they",
        "it",
        "is",
        "of",
        "on",
        "in",
        "to",
        "an",
        "as",
        "at",
        "by",
        "be",
        "or",
    ]
)


@dataclass(frozen=True)
class Related:
    paper_id: int
    reasons: tuple[str, ...]


def _short(title: str) -> str:
    head = title.split(":")[0].strip()
    return head if 2 <= len(head) <= 40 else (title[:39].rstrip() + "…" if len(title) > 40 else title)


def _by_direct_citation(db: sqlite_utils.Database, paper_id: int) -> dict[int, list[str]]:
    """Archive papers this paper's summary cites, and papers whose summaries cite this one."""
    found: dict[int, list[str]] = {}
    cited = db.execute(
        "SELECT DISTINCT r.title, r.number FROM entries e, json_each(e.citations) c"
        " JOIN digest_references r ON r.month = e.month AND r.number = c.value WHERE e.paper_id = ?",
        [paper_id],
    ).fetchall()
    for title, number in cited:
        for (other,) in db.execute(
            "SELECT id FROM papers WHERE title_key = ? AND id != ?", [normalise_title(str(title)), paper_id]
        ):
            found.setdefault(int(other), []).append(f"cited by this paper [{number}]")
    titles = [
        str(row[0])
        for row in db.execute(
            "SELECT title FROM entries WHERE paper_id = ? UNION SELECT a.title FROM papers p"
            " JOIN arxiv_entries a ON a.arxiv_id = p.arxiv_id WHERE p.id = ?",
            [paper_id, paper_id],
        )
    ]
    if titles:
        rows = db.execute(
            "SELECT DISTINCT e.paper_id, r.number FROM digest_references r"
            " JOIN entries e ON e.month = r.month JOIN json_each(e.citations) c ON c.value = r.number"
            " WHERE lower(r.title) IN (SELECT lower(value) FROM json_each(?)) AND e.paper_id != ?",
            [json.dumps([" ".join(title.split()) for title in titles]), paper_id],
        ).fetchall()
        for other, number in rows:
            found.setdefault(int(other), []).append(f"cites this paper [{number}]")
    return found


def _by_citations(db: sqlite_utils.Database, paper_id: int) -> dict[int, list[str]]:
    rows = db.execute(
        """
        WITH mine AS (
            SELECT DISTINCT lower(r.title) AS work, r.title AS title, r.number AS number
            FROM entries e, json_each(e.citations) c
            JOIN digest_references r ON r.month = e.month AND r.number = c.value
            WHERE e.paper_id = ?
        )
        SELECT DISTINCT e2.paper_id, mine.title, mine.number
        FROM mine
        JOIN digest_references r2 ON lower(r2.title) = mine.work
        JOIN entries e2 ON e2.month = r2.month
        JOIN json_each(e2.citations) c2 ON c2.value = r2.number
        WHERE e2.paper_id != ?
        LIMIT 500
        """,
        [paper_id, paper_id],
    ).fetchall()
    if not rows:
        return {}
    # The name this paper's summary gives a work ("Chain-of-thought [9]"), when it is in the work's title.
    labels: dict[int, list[str]] = {}
    for (summary,) in db.execute("SELECT summary FROM entries WHERE paper_id = ?", [paper_id]):
        for number, found_labels in citation_labels(str(summary)).items():
            labels.setdefault(number, []).extend(found_labels)
    found: dict[int, list[str]] = {}
    for other, title, number in rows:
        compact = normalise_title(str(title)).replace(" ", "")
        faithful = [
            label for label in labels.get(int(number), []) if normalise_title(label).replace(" ", "") in compact
        ]
        reason = f"also cites {faithful[0] if faithful else _short(str(title))} [{number}]"
        reasons = found.setdefault(int(other), [])
        if reason not in reasons:
            reasons.append(reason)
    return found


def _authors_of(db: sqlite_utils.Database, paper_id: int) -> list[str]:
    row = db.execute(
        "SELECT a.authors, (SELECT e.authors FROM entries e WHERE e.paper_id = p.id ORDER BY e.month DESC LIMIT 1)"
        " FROM papers p LEFT JOIN arxiv_entries a ON a.arxiv_id = p.arxiv_id WHERE p.id = ?",
        [paper_id],
    ).fetchone()
    if row is None:
        return []
    names = json.loads(row[0]) if row[0] else json.loads(row[1] or "[]")
    return [" ".join(str(name).split()) for name in names if str(name).strip()]


def _phrase(words: list[str]) -> str:
    return '"' + " ".join(word.replace('"', '""') for word in words) + '"'


def _by_authors(db: sqlite_utils.Database, paper_id: int) -> dict[int, list[str]]:
    names = {normalise_title(name): name for name in _authors_of(db, paper_id)[:30]}
    names = {key: name for key, name in names.items() if len(key.split()) >= 2}
    if not names:
        return {}
    expression = "authors : (" + " OR ".join(_phrase(key.split()) for key in names) + ")"
    rows = db.execute(
        "SELECT rowid, authors FROM paper_search WHERE paper_search MATCH ? AND rowid != ? ORDER BY rowid DESC LIMIT ?",
        [expression, paper_id, CANDIDATES],
    ).fetchall()
    found: dict[int, list[str]] = {}
    for other, authors in rows:
        text = f" {normalise_title(str(authors))} "
        shared = [name for key, name in names.items() if f" {key} " in text]
        if shared:
            found[int(other)] = [f"also by {name}" for name in shared]
    return found


def _key_terms(db: sqlite_utils.Database, paper_id: int) -> list[str]:
    row = db.execute(
        "SELECT coalesce(a.title, '') || ' ' || coalesce(a.abstract, '') || ' ' ||"
        " coalesce((SELECT group_concat(e.title, ' ') FROM entries e WHERE e.paper_id = p.id), '')"
        " FROM papers p LEFT JOIN arxiv_entries a ON a.arxiv_id = p.arxiv_id WHERE p.id = ?",
        [paper_id],
    ).fetchone()
    if row is None:
        return []
    seen: dict[str, None] = {}
    for word in normalise_title(str(row[0])).split():
        if len(word) >= 3 and word.isascii() and not word.isdigit() and word not in STOPWORDS:
            seen.setdefault(word, None)
    words = list(seen)[:MAX_VOCAB_LOOKUPS]
    if not words:
        return []
    # Document frequencies from the spelling corrector's cached vocabulary (one copy per process, rebuilt
    # when the index changes): fts5vocab counts a term by walking its whole posting list, ~1 ms for a
    # common word at 100,000 papers.
    frequency = word_counts(db)
    # A word only this paper has finds nothing; the rarest of the others say what it is about.
    useful = sorted((int(frequency[w]), w) for w in words if int(frequency.get(w, 0)) > 1)
    return [word for _, word in useful[:KEY_TERMS]]


def _by_text(db: sqlite_utils.Database, paper_id: int) -> dict[int, list[str]]:
    terms = _key_terms(db, paper_id)
    if not terms:
        return {}
    expression = "{title body} : (" + " OR ".join(_phrase([term]) for term in terms) + ")"
    rows = db.execute(
        "SELECT rowid FROM paper_search WHERE paper_search MATCH ? AND rowid != ?"
        " ORDER BY bm25(paper_search, 10.0, 0.0, 0.0, 1.0) LIMIT ?",
        [expression, paper_id, LIMIT + 1],
    ).fetchall()
    if not rows:
        return {}
    found: dict[int, list[str]] = {}
    ids = [int(row[0]) for row in rows]
    texts = dict(
        db.execute(
            f"SELECT rowid, title || ' ' || body FROM paper_search WHERE rowid IN ({', '.join('?' * len(ids))})", ids
        ).fetchall()
    )
    for other in ids:
        words = set(normalise_title(str(texts.get(other, ""))).split())
        shared = [term for term in terms if term in words][:3]
        found[other] = [f"similar topic: {', '.join(shared)}" if shared else "similar topic"]
    return found


def related_papers(db: sqlite_utils.Database, paper_id: int, limit: int = LIMIT) -> list[Related]:
    """Up to ``limit`` other papers related to ``paper_id``, best first, each with its reasons (reference
    numbers are the ones this paper's own summary uses)."""
    direct = _by_direct_citation(db, paper_id)
    kinds = [direct, _by_citations(db, paper_id)]
    order = sorted(direct, key=lambda other: -other)
    order += sorted((o for o in kinds[1] if o not in order), key=lambda o: (-len(kinds[1][o]), -o))
    if len(order) < limit:
        kinds.append(_by_authors(db, paper_id))
        order += sorted((o for o in kinds[-1] if o not in order), key=lambda o: (-len(kinds[-1][o]), -o))
    if len(order) < limit:
        kinds.append(_by_text(db, paper_id))
        order += [other for other in kinds[-1] if other not in order]
    chosen = [other for other in order if other != paper_id][:limit]
    related = []
    for other in chosen:
        reasons = [reason for kind in kinds for reason in kind.get(other, [])]
        related.append(Related(other, tuple(dict.fromkeys(reasons))[:3]))
    return related
