"""Finding the paper a query means: ids and URLs, nicknames, title words, authors, Chinese, typos.

:func:`search` tries, in order, until something is found:

1. an arXiv id or URL in any form → that paper (or "not in any digest", with the id);
2. every query word (Latin words as prefixes, Chinese runs as bigram phrases, abbreviations also as
   their spelled-out forms from :data:`bot.search.terms.SYNONYMS`) → ranked by BM25 over title,
   nickname, authors and body, with exact nickname or title matches first;
3. the same with misspelt words replaced by the closest indexed word (one edit: a letter dropped,
   added, changed or two swapped), reported as "did you mean";
4. any of the words, as weaker candidates.

Query text is user input: it only ever reaches SQLite as a bound parameter, and the FTS expression is
built from words the tokenizer itself would produce (letters and digits), each double-quoted.
Cost: one FTS query per step tried, plus one vocabulary lookup per unknown word (~700 candidates).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

import sqlite_utils

from bot.arxiv.ids import ArxivRef, find_arxiv_refs, parse_arxiv_ref
from bot.digest import catalog
from bot.digest.catalog import PaperView
from bot.search.terms import SYNONYMS, cjk_bigrams, compact, edits1, is_cjk, words

MAX_QUERY_WORDS = 12
"""Words past this are ignored: a query is a few words, not a paragraph."""
MAX_QUERY_CHARS = 300
"""Characters past this are ignored (Slack allows 4,000 in a command)."""
MAX_CORRECTED_LENGTH = 24
"""Longer words are not spell-corrected: their ~70 candidates per letter would only cost time."""
MAX_CANDIDATES = 50
WEIGHTS = (10.0, 12.0, 6.0, 1.0)
"""BM25 column weights: title, nick (nicknames and arXiv id), authors, body (summaries, abstract)."""
CLOSEST_MIN_PREFIX = 5
"""The shortest word beginning that "closest titles" looks for."""
CLEAR_WINNER_RATIO = 1.6
"""The top hit wins outright when its BM25 score is this many times the runner-up's."""

Kind = Literal["winner", "choices", "none"]


@dataclass(frozen=True)
class SearchResult:
    """What a query found. ``papers`` are ranked best first; ``kind`` says how to answer."""

    query: str
    kind: Kind
    papers: tuple[PaperView, ...] = ()
    corrected: str | None = None
    """The query as understood after spelling correction ("did you mean"), when corrected."""
    arxiv_ref: ArxivRef | None = None
    """The arXiv id the query named, when it named one."""
    partial: bool = False
    """True when no paper matched every word and these match some of them."""


def search(db: sqlite_utils.Database, query: str, limit: int = 5) -> SearchResult:
    """Search the digests for ``query``; at most ``limit`` papers come back."""
    text = " ".join(query.split())
    if not text:
        return SearchResult(query=text, kind="none")
    ref = parse_arxiv_ref(text) or _single_ref(text)
    if ref is not None:
        paper = catalog.find_by_arxiv_id(db, ref.id)
        if paper is None:
            return SearchResult(query=text, kind="none", arxiv_ref=ref)
        return SearchResult(query=text, kind="winner", papers=(paper,), arxiv_ref=ref)

    terms = words(text[:MAX_QUERY_CHARS])[:MAX_QUERY_WORDS]
    if not terms:
        return SearchResult(query=text, kind="none")
    ranked = _ranked(db, _match_all(terms))
    corrected: str | None = None
    if not ranked:
        fixed = _corrected_terms(db, terms)
        if fixed != terms:
            ranked = _ranked(db, _match_all(fixed))
            if ranked:
                corrected = " ".join(fixed)
    partial = False
    if not ranked and len(terms) > 1:
        ranked = _ranked(db, " OR ".join(_term_expression(term) for term in terms))
        partial = bool(ranked)
    if not ranked:
        return SearchResult(query=text, kind="none", papers=_closest(db, terms, limit))
    return _decide(db, text, corrected or text, ranked, limit, corrected, partial)


def _closest(db: sqlite_utils.Database, terms: list[str], limit: int) -> tuple[PaperView, ...]:
    """For a query that matched nothing: the papers whose words share the longest beginning with one of
    the query's words (``transformxyz`` → the papers with ``transform…``), best first. Empty when even the
    first five letters match nothing: shorter beginnings (``for…``, ``the…``) match thousands of papers,
    cost tens of milliseconds at 100,000, and say nothing about what was meant."""
    latin = sorted((t for t in terms if not is_cjk(t) and len(t) >= 6 and t.isascii()), key=len, reverse=True)
    for term in latin[:3]:
        for size in range(len(term) - 1, CLOSEST_MIN_PREFIX - 1, -1):
            if _known(db, term[:size]):
                ranked = _ranked(db, _quote(term[:size]) + "*")
                return tuple(catalog.get_papers(db, [paper_id for paper_id, _ in ranked[:limit]]))
    return ()


def _single_ref(text: str) -> ArxivRef | None:
    """A query that is a link or an id with something around it (``<https://arxiv.org/abs/…>``)."""
    refs = find_arxiv_refs(text)
    if len(refs) == 1 and ("arxiv" in text.lower() or len(text.split()) == 1):
        return refs[0]
    return None


def _quote(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def _term_expression(term: str) -> str:
    """One query word as an FTS5 expression."""
    if is_cjk(term):
        return _quote(" ".join(cjk_bigrams(term)))
    expression = _quote(term) + ("*" if len(term) >= 3 else "")
    synonym = SYNONYMS.get(term)
    if synonym:
        # The phrase's last word as a prefix: "large language model"* also matches "... models".
        expression = f"({expression} OR {_quote(synonym)}*)"
    return expression


def _match_all(terms: list[str]) -> str:
    return " AND ".join(_term_expression(term) for term in terms)


def _ranked(db: sqlite_utils.Database, expression: str) -> list[tuple[int, float]]:
    rows = db.execute(
        "SELECT rowid, bm25(paper_search, ?, ?, ?, ?) AS score FROM paper_search WHERE paper_search MATCH ?"
        " ORDER BY score LIMIT ?",
        [*WEIGHTS, expression, MAX_CANDIDATES],
    ).fetchall()
    return [(int(row[0]), float(row[1])) for row in rows]


def _known(db: sqlite_utils.Database, term: str) -> bool:
    """Whether the index holds a word starting with ``term``."""
    upper = term[:-1] + chr(ord(term[-1]) + 1)
    row = db.execute("SELECT 1 FROM paper_search_vocab WHERE term >= ? AND term < ? LIMIT 1", [term, upper]).fetchone()
    return row is not None


def _corrected_terms(db: sqlite_utils.Database, terms: list[str]) -> list[str]:
    """Replace each unknown Latin word of 4+ letters by the most frequent indexed word one edit away."""
    fixed = []
    for term in terms:
        if is_cjk(term) or not 4 <= len(term) <= MAX_CORRECTED_LENGTH or not term.isascii() or _known(db, term):
            fixed.append(term)
            continue
        vocabulary = _vocabulary(db)
        found = [(vocabulary[candidate], candidate) for candidate in edits1(term) if candidate in vocabulary]
        fixed.append(max(found)[1] if found else term)
    return fixed


MAX_CACHED_VOCABULARIES = 4
"""Vocabularies kept at once (one per database; a bot has one, tests and tools may open several)."""

_vocabulary_lock = threading.Lock()
_vocabularies: OrderedDict[str, tuple[int, dict[str, int]]] = OrderedDict()


def _vocabulary(db: sqlite_utils.Database) -> dict[str, int]:
    """Every indexed word with the number of papers that have it, shared by all threads of the process.

    Keyed by the database's own random token and checked against ``search_state.version``, which
    triggers move on every change to the index: a load or an enrichment pass makes the next lookup
    rebuild it (~0.2 s at 100,000 papers). One thread rebuilds while the others keep using the previous
    vocabulary. Looking up ~700 spelling candidates in FTS5's vocabulary table instead costs ~6 ms.
    """
    token, version = db.execute("SELECT token, version FROM search_state").fetchone()
    cached = _vocabularies.get(token)
    if cached is not None and cached[0] == version:
        return cached[1]
    if not _vocabulary_lock.acquire(blocking=cached is None):
        return cached[1] if cached is not None else {}
    try:
        cached = _vocabularies.get(token)
        if cached is None or cached[0] != version:
            words = {str(term): int(doc) for term, doc in db.execute("SELECT term, doc FROM paper_search_vocab")}
            cached = (int(version), words)
            _vocabularies[token] = cached
            _vocabularies.move_to_end(token)
            while len(_vocabularies) > MAX_CACHED_VOCABULARIES:
                _vocabularies.popitem(last=False)
        return cached[1]
    finally:
        _vocabulary_lock.release()


def _exact(titles: str, nicks: str, wanted: str) -> bool:
    """The query is one of the paper's titles (digest or arXiv; the index joins them with " | ") or one
    of its nicknames."""
    return any(wanted == compact(title) for title in titles.split(" | ")) or any(
        wanted == compact(nick) for nick in nicks.split()
    )


def _decide(
    db: sqlite_utils.Database,
    original: str,
    understood: str,
    ranked: list[tuple[int, float]],
    limit: int,
    corrected: str | None,
    partial: bool,
) -> SearchResult:
    wanted = compact(understood)
    # The index's own columns tell exact matches apart: no card is read for a candidate not shown.
    rows = db.execute(
        f"SELECT rowid, title, nick FROM paper_search WHERE rowid IN ({', '.join('?' * len(ranked))})",
        [paper_id for paper_id, _ in ranked],
    ).fetchall()
    exact = {int(row[0]) for row in rows if _exact(str(row[1]), str(row[2]), wanted)}
    exact_ids = [paper_id for paper_id, _ in ranked if paper_id in exact][:limit]
    order = exact_ids + [paper_id for paper_id, _ in ranked if paper_id not in exact_ids]
    papers = tuple(catalog.get_papers(db, order[:limit]))
    scores = dict(ranked)
    if (
        len(exact_ids) == 1
        or len(ranked) == 1
        or (not exact_ids and not partial and scores[order[0]] <= CLEAR_WINNER_RATIO * scores[order[1]])
    ):
        return SearchResult(query=original, kind="winner", papers=papers[:1], corrected=corrected)
    return SearchResult(query=original, kind="choices", papers=papers, corrected=corrected, partial=partial)


def clear_matches(db: sqlite_utils.Database, query: str, paper_ids: list[int]) -> list[int]:
    """The papers among ``paper_ids`` that ``query`` clearly matches, as ``/paper`` reads it: an arXiv id
    names that paper; otherwise every word must match (prefixes, Chinese phrases, abbreviations). No
    spelling correction and no any-word fallback: a watch must not guess."""
    text = " ".join(query.split())
    if not text or not paper_ids:
        return []
    ref = parse_arxiv_ref(text) or _single_ref(text)
    if ref is not None:
        rows = db.execute(
            "SELECT id FROM papers WHERE arxiv_id = ? AND id IN (SELECT value FROM json_each(?))",
            [ref.id, json.dumps(paper_ids)],
        ).fetchall()
        return [int(row[0]) for row in rows]
    terms = words(text[:MAX_QUERY_CHARS])[:MAX_QUERY_WORDS]
    if not terms:
        return []
    rows = db.execute(
        "SELECT rowid FROM paper_search WHERE paper_search MATCH ? AND rowid IN (SELECT value FROM json_each(?))"
        " ORDER BY rowid",
        [_match_all(terms), json.dumps(paper_ids)],
    ).fetchall()
    return [int(row[0]) for row in rows]
