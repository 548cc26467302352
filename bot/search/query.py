"""Finding the paper a query means: ids and URLs, nicknames, title words, authors, Chinese, typos.

:func:`search` tries, in order, until something is found:

1. an arXiv id or URL in any form → that paper (or "not in any digest", with the id); a partial id
   (``2301.13``) → the papers whose id starts with it;
2. every query word (Latin words as prefixes, Chinese runs as bigram phrases, abbreviations also as
   their spelled-out forms from :data:`bot.search.terms.SYNONYMS`) → ranked by BM25 over title,
   nickname, authors and body, with papers that one query word (or run of words) names exactly, by
   nickname or whole title, first;
3. the same with misspelt words replaced by the closest indexed word (one edit: a letter dropped,
   added, changed or two swapped; words that keep the first letter first), reported as "did you mean";
   when two readings are equally likely, both, as "Did you mean *a* or *b*?";
4. any of the words, as weaker candidates.

A word that is only the beginning of a rare longer word (``telmiphom`` → ``telmiphomigpt``) and also one
edit from another (``telmipholm``) is ambiguous in the same way.

Query text is user input: it only ever reaches SQLite as a bound parameter, and the FTS expression is
built from words the tokenizer itself would produce (letters and digits), each double-quoted.
Cost: one FTS query per step tried; spelling candidates and document frequencies come from an
in-memory copy of the index's vocabulary. A Chinese word found in thousands of papers (``模型``) ranks
only the newest :data:`CAPPED_CANDIDATES` of them: BM25 over every match would cost ~15 ms at 100,000.
"""

from __future__ import annotations

import bisect
import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

import sqlite_utils

from bot.arxiv.ids import ArxivRef, find_arxiv_refs, parse_arxiv_ref
from bot.digest import catalog
from bot.digest.catalog import PaperView
from bot.search.terms import EDIT_LETTERS, SYNONYMS, cjk_bigrams, compact, is_cjk, words

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
    alternatives: tuple[str, ...] = ()
    """Readings of a misspelt query that are equally likely ("Did you mean a or b?"); ``papers`` holds
    the best papers of each, taken in turn."""
    id_prefix: str | None = None
    """The partial arXiv id the query was, when it was one: ``papers`` are those whose id starts with it."""
    id_matches: int = 0
    """How many papers' ids start with ``id_prefix`` (counted up to ``MAX_CANDIDATES + 1``)."""


def _run(words: tuple[str, ...], prefix: str, lo: int = 0, hi: int | None = None) -> tuple[int, int]:
    """Where the words that start with ``prefix`` are in sorted ``words`` (within ``lo:hi``)."""
    hi = len(words) if hi is None else hi
    if not prefix:
        return lo, hi
    lo = bisect.bisect_left(words, prefix, lo, hi)
    return lo, bisect.bisect_left(words, prefix[:-1] + chr(ord(prefix[-1]) + 1), lo, hi)


@dataclass(frozen=True)
class Vocabulary:
    """Every indexed word with the number of papers that have it, the words in order (for prefixes) and
    spelt backwards in order (for endings)."""

    counts: dict[str, int]
    ordered: tuple[str, ...]
    backwards: tuple[str, ...] = ()

    @classmethod
    def of(cls, counts: dict[str, int]) -> Vocabulary:
        """The vocabulary of these words, sorted both ways."""
        return cls(counts, tuple(sorted(counts)), tuple(sorted(word[::-1] for word in counts)))

    def completions(self, prefix: str, limit: int) -> list[str]:
        """Up to ``limit`` indexed words that start with ``prefix`` (the word itself included)."""
        start = bisect.bisect_left(self.ordered, prefix)
        found = []
        for word in self.ordered[start : start + limit]:
            if not word.startswith(prefix):
                break
            found.append(word)
        return found

    def one_edit(self, term: str) -> set[str]:
        """The indexed words one edit from ``term`` (a lower-case ASCII word): the same set as
        ``counts.keys() & edits1(term)``, without spelling out its ~700 edits (~60 us). A letter added or
        changed at one place leaves the term's beginning before it and its ending after it: the words
        that share that beginning, or that ending, are a run of the sorted words (or of the words spelt
        backwards). Read the shorter run; try all 36 letters only where both runs are long."""
        counts = self.counts
        found = {term[:i] + term[i + 1 :] for i in range(len(term))} & counts.keys()
        found |= {term[:i] + term[i + 1] + term[i] + term[i + 2 :] for i in range(len(term) - 1)} & counts.keys()
        ordered, lo, hi = self.ordered, 0, len(self.ordered)
        for at in range(len(term) + 1):
            if at:  # the run of words that start with term[:at], inside the run for term[:at - 1]
                lo, hi = _run(ordered, term[:at], lo, hi)
                if lo == hi:
                    break
            head, rest = term[:at], term[at:]
            if hi - lo <= 2 * len(EDIT_LETTERS):
                for word in ordered[lo:hi]:  # a letter at ``at``, then the term's rest (added) or all but its first
                    if len(word) > at and word[at] in EDIT_LETTERS and word[at + 1 :] in (rest, rest[1:]):
                        found.add(word)
                continue
            # Added at ``at``: the rest follows, one letter longer; changed there: all but its first follows.
            tails = [(rest, len(term) + 1)] + ([(rest[1:], len(term))] if rest else [])
            for tail, length in tails:
                start, end = _run(self.backwards, tail[::-1])
                if self.backwards and end - start <= len(EDIT_LETTERS):
                    for backwards in self.backwards[start:end]:  # ends with the tail: the beginning and length?
                        word = backwards[::-1]
                        if len(word) == length and word.startswith(head) and word[at] in EDIT_LETTERS:
                            found.add(word)
                else:
                    found |= counts.keys() & [head + letter + tail for letter in EDIT_LETTERS]
        found.discard(term)
        return found


_EMPTY = Vocabulary({}, ())
_PARTIAL_ID = re.compile(
    r"^(?:arxiv\s*:?\s*)?(?P<yymm>(?P<yy>\d{2})(?P<mm>\d{2}))\.(?P<num>\d{0,4})(?:\.{2,}|…)?$", re.IGNORECASE
)
CAPPED_CANDIDATES = 1000
"""A query whose rarest Chinese word is in more papers than this ranks the newest this many of its matches."""
MAX_READINGS = 3
"""Readings offered for an ambiguous misspelling, at most."""
AMBIGUOUS_PREFIX_MIN_LENGTH = 5
AMBIGUOUS_PREFIX_MAX_COMPLETIONS = 20
AMBIGUOUS_PREFIX_FREQUENCY = 5
"""A word that begins a few rare words (nickname-like: at most 20, none in more than 5 times the papers of
the spelling) and is one edit from another word is ambiguous between them; ``diffus`` is not, as
``diffusion`` is in far more papers than ``diffs``."""


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
    prefix = partial_arxiv_id(text)
    if prefix is not None:
        return _by_id_prefix(db, text, prefix, limit)

    terms = words(text[:MAX_QUERY_CHARS])[:MAX_QUERY_WORDS]
    if not terms:
        return SearchResult(query=text, kind="none")
    vocabulary = _vocabulary(db)
    ranked = _ranked(db, _match_all(terms, vocabulary), _estimate(vocabulary, terms), _names(terms))
    if ranked:
        readings = _prefix_readings(vocabulary, terms)
        ambiguous = _ambiguous(db, text, readings, limit, {tuple(terms): ranked}, vocabulary) if readings else None
        return ambiguous or _decide(db, text, terms, ranked, limit, None, partial=False)
    found = []
    for fixed in _corrections(vocabulary, terms):
        fixed_ranked = _ranked(db, _match_all(fixed, vocabulary), _estimate(vocabulary, fixed), _names(fixed))
        if fixed_ranked:
            found.append((fixed, fixed_ranked))
    if len(found) > 1:
        readings = [(fixed, " ".join(fixed)) for fixed, _ in found]
        ambiguous = _ambiguous(db, text, readings, limit, {tuple(fixed): r for fixed, r in found}, vocabulary)
        if ambiguous is not None:
            return ambiguous
    if found:
        fixed, fixed_ranked = found[0]
        return _decide(db, text, fixed, fixed_ranked, limit, " ".join(fixed), partial=False)
    if len(terms) > 1:
        # Words in thousands of papers say little next to rarer ones, and would cost BM25 over all of them.
        rare = [term for term in terms if _estimate_any(vocabulary, [term]) <= CAPPED_CANDIDATES]
        some = rare or terms
        expression = " OR ".join(_term_expression(term, vocabulary) for term in some)
        ranked = _ranked(db, expression, _estimate_any(vocabulary, some))
        if ranked:
            return _decide(db, text, terms, ranked, limit, None, partial=True)
    return SearchResult(query=text, kind="none", papers=_closest(db, vocabulary, terms, limit))


def partial_arxiv_id(text: str) -> str | None:
    """``2301.13`` or ``2301.1132`` (an id cut short: fewer digits than ids of that month have) → itself."""
    match = _PARTIAL_ID.match(text.strip())
    if match is None or not 1 <= int(match["mm"]) <= 12:
        return None
    yy = int(match["yy"])
    full = 5 if yy >= 15 else 4  # https://info.arxiv.org/help/arxiv_identifier.html
    if len(match["num"]) >= full or (yy, int(match["mm"])) < (7, 4):
        return None
    return f"{match['yymm']}.{match['num']}"


def _by_id_prefix(db: sqlite_utils.Database, text: str, prefix: str, limit: int) -> SearchResult:
    """The papers whose arXiv id starts with ``prefix``, in id order (one range scan of the id index)."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    rows = db.execute(
        "SELECT id FROM papers WHERE arxiv_id >= ? AND arxiv_id < ?"
        " AND EXISTS (SELECT 1 FROM entries WHERE entries.paper_id = papers.id) ORDER BY arxiv_id LIMIT ?",
        [prefix, upper, MAX_CANDIDATES + 1],
    ).fetchall()
    papers = tuple(catalog.get_papers(db, [int(row[0]) for row in rows[:limit]]))
    kind: Kind = "none" if not papers else "winner" if len(rows) == 1 else "choices"
    return SearchResult(query=text, kind=kind, papers=papers, id_prefix=prefix, id_matches=len(rows))


def _closest(db: sqlite_utils.Database, vocabulary: Vocabulary, terms: list[str], limit: int) -> tuple[PaperView, ...]:
    """For a query that matched nothing: the papers whose words share the longest beginning with one of
    the query's words (``transformxyz`` → the papers with ``transform…``), best first. Empty when even the
    first five letters match nothing: shorter beginnings (``for…``, ``the…``) match thousands of papers,
    cost tens of milliseconds at 100,000, and say nothing about what was meant."""
    latin = sorted((t for t in terms if not is_cjk(t) and len(t) >= 6 and t.isascii()), key=len, reverse=True)
    for term in latin[:3]:
        for size in range(len(term) - 1, CLOSEST_MIN_PREFIX - 1, -1):
            if vocabulary.completions(term[:size], 1):
                ranked = _ranked(db, _quote(term[:size]) + "*", 0)
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


def _term_expression(term: str, vocabulary: Vocabulary) -> str:
    """One query word as an FTS5 expression. A Latin word of three letters or more is a prefix, unless the
    vocabulary says no longer word starts with it: the same matches, and a plain term costs FTS5 far less
    (``tanaka`` in 16,000 papers: 0.05 ms instead of 0.35 ms, ANDed with a rare word)."""
    if is_cjk(term):
        return _quote(" ".join(cjk_bigrams(term)))
    whole = len(term) < 3 or vocabulary.completions(term, 2) == [term]
    expression = _quote(term) + ("" if whole else "*")
    synonym = SYNONYMS.get(term)
    if synonym:
        # The phrase's last word as a prefix: "large language model"* also matches "... models".
        expression = f"({expression} OR {_quote(synonym)}*)"
    return expression


def _match_all(terms: list[str], vocabulary: Vocabulary) -> str:
    return " AND ".join(_term_expression(term, vocabulary) for term in terms)


def _estimate(vocabulary: Vocabulary, terms: list[str]) -> int:
    """At most how many papers a query's Chinese words match (its rarest bigram's document frequency);
    0 without Chinese: Latin words ANDed together are bounded by their own index lookups."""
    counts = [min(vocabulary.counts.get(bigram, 0) for bigram in cjk_bigrams(term)) for term in terms if is_cjk(term)]
    return min(counts) if counts else 0


def _estimate_any(vocabulary: Vocabulary, terms: list[str]) -> int:
    """About how many papers match any of the words (an upper bound, summed over the words' index
    entries; a beginning with more than 50 completions counts as matching everything)."""
    total = 0
    for term in terms:
        if is_cjk(term):
            total += min(vocabulary.counts.get(bigram, 0) for bigram in cjk_bigrams(term))
            continue
        completions = [term] if len(term) < 3 else vocabulary.completions(term, 51)
        if len(completions) > 50:
            return len(vocabulary.ordered)
        total += sum(vocabulary.counts.get(word, 0) for word in completions)
    return total


FEW_MATCHES = 10
"""Up to this many matches, the one a query word names exactly is found without scoring them."""


def _ranked(
    db: sqlite_utils.Database, expression: str, estimate: int, names: set[str] | None = None
) -> list[tuple[int, float]]:
    """The best :data:`MAX_CANDIDATES` matches by BM25, best first.

    BM25 costs a pass over every paper that has any of the words (``tanaka`` in 16,000 of 100,000), even
    when only two papers have all of them. So a query with one match, or a few of which exactly one is
    named by a query word (``names``), is answered without scores. When the estimate says thousands
    match, only the newest :data:`CAPPED_CANDIDATES` are ranked: FTS5 finds them in rowid order without
    scoring. (Latin words ANDed are not capped: their intersection is small.)"""
    where = "paper_search MATCH ?"
    bounds: list[object] = [expression]
    if estimate <= CAPPED_CANDIDATES:
        few = [
            int(row[0])
            for row in db.execute(
                "SELECT rowid FROM paper_search WHERE paper_search MATCH ? LIMIT ?", [expression, FEW_MATCHES + 1]
            )
        ]
        if len(few) <= 1:
            return [(paper_id, 0.0) for paper_id in few]
        if names is not None and len(few) <= FEW_MATCHES:
            exact = _exact_ids(db, few, names)
            if len(exact) == 1:
                return [(paper_id, 0.0) for paper_id in sorted(few, key=lambda paper_id: paper_id not in exact)]
    else:
        row = db.execute(
            "SELECT rowid FROM paper_search WHERE paper_search MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?",
            [expression, CAPPED_CANDIDATES - 1],
        ).fetchone()
        if row is not None:
            where += " AND rowid >= ?"
            bounds.append(int(row[0]))
    rows = db.execute(
        f"SELECT rowid, bm25(paper_search, ?, ?, ?, ?) AS score FROM paper_search WHERE {where} ORDER BY score LIMIT ?",
        [*WEIGHTS, *bounds, MAX_CANDIDATES],
    ).fetchall()
    return [(int(row[0]), float(row[1])) for row in rows]


def _correctable(term: str) -> bool:
    return not is_cjk(term) and 4 <= len(term) <= MAX_CORRECTED_LENGTH and term.isascii()


def _spellings(vocabulary: Vocabulary, term: str) -> list[str]:
    """The indexed words one edit from ``term`` that are about equally likely, best first: those that keep
    the first letter (people rarely mistype it) if any do, and among them the most frequent and any
    other at least half as frequent (two rare nicknames are a tie; ``model`` beats ``mode``)."""
    counts = vocabulary.counts
    found = [(counts[word], word) for word in vocabulary.one_edit(term)]
    same_start = [candidate for candidate in found if candidate[1][0] == term[0]]
    ranked = sorted(same_start or found, reverse=True)
    return [word for count, word in ranked if 2 * count > ranked[0][0]] if ranked else []


def _corrections(vocabulary: Vocabulary, terms: list[str]) -> list[list[str]]:
    """Readings of ``terms`` with each unknown word replaced by its best spelling; the first word with
    several equally likely spellings gives one reading each. Empty when nothing is to correct."""
    readings: list[list[str]] = [[]]
    for term in terms:
        options = [term]
        if _correctable(term) and not vocabulary.completions(term, 1):
            options = _spellings(vocabulary, term) or options
        if len(readings) == 1:
            readings = [[*readings[0], option] for option in options[:MAX_READINGS]]
        else:
            readings = [[*reading, options[0]] for reading in readings]
    return [] if readings == [terms] else readings


def _prefix_readings(vocabulary: Vocabulary, terms: list[str]) -> list[tuple[list[str], str]]:
    """For a word that is not itself indexed but begins a few rare words, and is one edit from another
    word: the readings "one edit" and "the beginning of", each with how it is shown. Else empty."""
    for index, term in enumerate(terms):
        if not _correctable(term) or len(term) < AMBIGUOUS_PREFIX_MIN_LENGTH or term in vocabulary.counts:
            continue
        completions = vocabulary.completions(term, AMBIGUOUS_PREFIX_MAX_COMPLETIONS + 1)
        if not completions or len(completions) > AMBIGUOUS_PREFIX_MAX_COMPLETIONS:
            continue
        spelt = [word for word in _spellings(vocabulary, term) if word[0] == term[0] and not word.startswith(term)]
        if not spelt:
            continue
        most_common = max(vocabulary.counts[word] for word in completions)
        if most_common > AMBIGUOUS_PREFIX_FREQUENCY * vocabulary.counts[spelt[0]]:
            continue
        shown = completions[0] if len(completions) == 1 else term + "…"
        readings = [([*terms[:index], word, *terms[index + 1 :]], word) for word in spelt[: MAX_READINGS - 1]]
        readings.append((terms, shown))
        return [(reading, " ".join([*reading[:index], label, *reading[index + 1 :]])) for reading, label in readings]
    return []


MAX_CACHED_VOCABULARIES = 4
"""Vocabularies kept at once (one per database; a bot has one, tests and tools may open several)."""


_vocabulary_lock = threading.Lock()
_vocabularies: OrderedDict[str, tuple[int, Vocabulary]] = OrderedDict()


def word_counts(db: sqlite_utils.Database) -> dict[str, int]:
    """Every indexed word with the number of papers that have it (the cached vocabulary; read-only)."""
    return _vocabulary(db).counts


def _vocabulary(db: sqlite_utils.Database) -> Vocabulary:
    """The index's vocabulary, shared by all threads of the process.

    Keyed by the database's own random token and checked against ``search_state.version``, which
    triggers move on every change to the index: a load or an enrichment pass makes the next lookup
    rebuild it (~0.3 s at 100,000 papers). One thread rebuilds while the others keep using the previous
    vocabulary. Looking up ~700 spelling candidates in FTS5's vocabulary table instead costs ~6 ms.
    """
    token, version = db.execute("SELECT token, version FROM search_state").fetchone()
    cached = _vocabularies.get(token)
    if cached is not None and cached[0] == version:
        return cached[1]
    if not _vocabulary_lock.acquire(blocking=cached is None):
        return cached[1] if cached is not None else _EMPTY
    try:
        cached = _vocabularies.get(token)
        if cached is None or cached[0] != version:
            counts = {str(term): int(doc) for term, doc in db.execute("SELECT term, doc FROM paper_search_vocab")}
            cached = (int(version), Vocabulary.of(counts))
            _vocabularies[token] = cached
            _vocabularies.move_to_end(token)
            while len(_vocabularies) > MAX_CACHED_VOCABULARIES:
                _vocabularies.popitem(last=False)
        return cached[1]
    finally:
        _vocabulary_lock.release()


def _names(terms: list[str]) -> set[str]:
    """What the query may name a paper by: all its words together, and each run of its words (of three
    letters or more): ``tanaka bekridra`` names ``bekridra``, ``karras stylegan t`` names ``stylegan t``."""
    names = {compact(" ".join(terms))}
    for start in range(len(terms)):
        for end in range(start + 1, len(terms) + 1):
            name = compact(" ".join(terms[start:end]))
            if len(name) >= 3:
                names.add(name)
    return names


def _exact(titles: str, nicks: str, names: set[str]) -> bool:
    """One of the names is one of the paper's titles (digest or arXiv; the index joins them with " | ")
    or one of its nicknames."""
    return any(compact(title) in names for title in titles.split(" | ")) or any(
        compact(nick) in names for nick in nicks.split()
    )


def _exact_ids(db: sqlite_utils.Database, paper_ids: list[int], names: set[str]) -> set[int]:
    """Those of ``paper_ids`` that one of ``names`` names exactly. The index's own columns tell: no card
    is read for a candidate not shown."""
    rows = db.execute(
        f"SELECT rowid, title, nick FROM paper_search WHERE rowid IN ({', '.join('?' * len(paper_ids))})", paper_ids
    ).fetchall()
    return {int(row[0]) for row in rows if _exact(str(row[1]), str(row[2]), names)}


def _exact_first(db: sqlite_utils.Database, terms: list[str], ranked: list[tuple[int, float]]) -> tuple[list[int], int]:
    """The ranked ids with the papers the query names exactly first, and how many those are."""
    exact = _exact_ids(db, [paper_id for paper_id, _ in ranked], _names(terms))
    exact_ids = [paper_id for paper_id, _ in ranked if paper_id in exact]
    return exact_ids + [paper_id for paper_id, _ in ranked if paper_id not in exact], len(exact_ids)


def _ambiguous(
    db: sqlite_utils.Database,
    original: str,
    readings: list[tuple[list[str], str]],
    limit: int,
    known: dict[tuple[str, ...], list[tuple[int, float]]],
    vocabulary: Vocabulary,
) -> SearchResult | None:
    """ "Did you mean *a* or *b*?": each reading's best papers in turn. ``None`` when only one reading
    finds anything (then it is not ambiguous)."""
    orders: list[tuple[str, list[int]]] = []
    for terms, shown in readings[:MAX_READINGS]:
        ranked = known.get(tuple(terms))
        if ranked is None:
            ranked = _ranked(db, _match_all(terms, vocabulary), 0)
        if ranked:
            orders.append((shown, _exact_first(db, terms, ranked)[0]))
    if len(orders) < 2:
        return None
    chosen: list[int] = []
    for rank in range(limit):
        for _, order in orders:
            if rank < len(order) and order[rank] not in chosen:
                chosen.append(order[rank])
    papers = tuple(catalog.get_papers(db, chosen[:limit]))
    alternatives = tuple(shown for shown, _ in orders)
    return SearchResult(query=original, kind="choices", papers=papers, alternatives=alternatives)


def _decide(
    db: sqlite_utils.Database,
    original: str,
    terms: list[str],
    ranked: list[tuple[int, float]],
    limit: int,
    corrected: str | None,
    partial: bool,
) -> SearchResult:
    order, exact = _exact_first(db, terms, ranked)
    papers = tuple(catalog.get_papers(db, order[:limit]))
    scores = dict(ranked)
    if (
        (exact == 1 and not partial)
        or len(ranked) == 1
        or (not exact and not partial and scores[order[0]] <= CLEAR_WINNER_RATIO * scores[order[1]])
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
        [_match_all(terms, _vocabulary(db)), json.dumps(paper_ids)],
    ).fetchall()
    return [int(row[0]) for row in rows]
