"""arXiv enrichment: complete, correct metadata for every paper, fetched politely from the arXiv API.

Digest entries are scraped text (titles with artifacts, author lists cut with ``et al.``, cut or missing
links). Enrichment fills the ``arxiv_entries`` cache (one row per arXiv id: canonical title, full author
list, abstract, categories, dates, latest version, links, comment, journal reference, DOI) and records on
each paper how that went in ``papers.enrich_status``:

* ``pending``: not asked yet, or every try so far failed on the way (a failed request writes nothing);
* ``enriched``: ``arxiv_entries`` holds the paper's metadata; ``enrich_detail`` says how the id was known
  (from the digest, or how a title search matched);
* ``not_found``: arXiv did not return the id (the API drops unknown ids silently). An answer with no
  entry at all for several ids is only believed once arXiv returns an id it is known to have (one
  extra request); otherwise it counts as one of arXiv's spurious empty answers and the papers stay pending;
* ``unresolved``: no id, and no title-search result was safe to accept (``enrich_detail`` says why);
* ``failed``: arXiv's error feed rejected the id itself (``enrich_detail`` has arXiv's message).

``enrich_attempts`` counts arXiv's answers about a paper and ``enriched_at`` is the time of the latest.
Only ``pending`` papers are fetched (plus papers whose id changed since, e.g. a reloaded digest now gives
the id of an unresolved paper); ``refresh`` asks again for every selected paper. An answer never blanks
what is stored: an upsert keeps stored values that the new answer lacks, and a paper already enriched
keeps its metadata when a later answer leaves it out.

Papers without an id are searched by title (``ti:"…"``, one request each) and a result is accepted only
when the normalised titles agree (equal, equal once an artifact such as ``Page`` or ``(MAV3D)`` is dropped,
or at least :data:`TITLE_RATIO` alike by ``difflib``), the digest's first author (when known) is among the
result's authors (same surname and first initial), and, for a cut link such as ``arxiv.org/pdf/2212.14...``,
the id starts with the visible part. Without an author to check, the titles must agree exactly. A wrong
match is worse than none: anything else is ``unresolved``, with the reason.

Public functions (none of them is meant for a Slack request path: they wait on arXiv):

* :func:`enrich_pending` — one enrichment run over the database; returns an :class:`EnrichReport`.
* :func:`enrich_ids` — fetch arbitrary arXiv ids into ``arxiv_entries`` (for suggestions).
* :func:`enrich_after_load` — what ``paperbot load`` runs for the months it loaded; never raises for arXiv.
* :func:`enrich_suggestions` — fetch open suggestions still without metadata, and have their cards redrawn.
* :func:`run_background_enrichment` — the bot's loop: enrich pending papers and suggestions every
  ``interval_seconds``.
* :func:`match_title`, :func:`clean_title`, :func:`same_person` — the matching rules, pure.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from difflib import SequenceMatcher
from typing import Any, NamedTuple, TextIO

import sqlite_utils

from bot import outbox
from bot.arxiv.client import (
    MAX_IDS_PER_REQUEST,
    ArxivCancelled,
    ArxivClient,
    ArxivEmptyFeed,
    ArxivEntry,
    ArxivError,
    ArxivQueryError,
    IdFetch,
    title_query,
)
from bot.arxiv.ids import parse_arxiv_ref
from bot.config import ConfigError, Settings
from bot.db import DatabaseError, thread_db, write_transaction
from bot.digest.parse import normalise_title
from bot.suggestions import model as suggestions

log = logging.getLogger(__name__)

TITLE_RATIO = 0.9
"""Least ``difflib`` ratio of two normalised titles for them to count as the same title."""
TITLE_SEARCH_RESULTS = 10
"""Results asked for per title search."""

Progress = Callable[[str], None]


# --- title and author matching (pure) ------------------------------------------------------------------

_GLUED_ARTIFACT = re.compile(
    r"(?<=[a-z0-9)])(?:Page|PDF|Pdf|Code|Paper|Project|Website|Blog|Demo|Video|GitHub|Github|Link|Arxiv|ArXiv)$"
)
_TRAILING_ASIDE = re.compile(r"\s*[(\[（【][^()\[\]（）【】]{1,40}[)\]）】]\s*$")
_TRAILING_LABEL = re.compile(r"\s*[-–—|:]\s*(?:project page|paper|code|pdf|arxiv|website)\s*$", re.IGNORECASE)


def clean_title(title: str) -> str:
    """The digest title without trailing scraping artifacts: a glued ``Page``/``PDF``/``Code`` word
    (``…From TextPage``), a bracketed aside (``(MAV3D)``), a ``- Project Page`` label."""
    text = " ".join(title.split())
    while True:
        cleaned = _GLUED_ARTIFACT.sub("", _TRAILING_LABEL.sub("", _TRAILING_ASIDE.sub("", text))).rstrip()
        if cleaned == text or not cleaned:
            break
        text = cleaned
    return text or " ".join(title.split())


class TitleAgreement(NamedTuple):
    score: float
    """1.0 for equal normalised titles, down to :data:`TITLE_RATIO`."""
    how: str
    same: bool
    """The same title, possibly once an artifact is dropped (not merely alike)."""


def title_agreement(digest_title: str, arxiv_title: str) -> TitleAgreement | None:
    """How well a digest title names an arXiv title, or ``None`` when it does not."""
    raw, target = normalise_title(digest_title), normalise_title(arxiv_title)
    if not raw or not target:
        return None
    if raw == target:
        return TitleAgreement(1.0, "same title", True)
    cleaned_title = clean_title(digest_title)
    cleaned = normalise_title(cleaned_title)
    if cleaned == target:
        dropped = " ".join(digest_title.split())[len(cleaned_title) :].strip()
        return TitleAgreement(0.99, f"same title once {dropped!r} is dropped", True)
    if raw.startswith(target) and len(target.split()) >= 3:
        rest = raw[len(target) :].strip()
        if 0 < len(rest) <= 16 and len(rest.split()) <= 2:
            return TitleAgreement(0.98, f"same title plus a trailing artifact {rest!r}", True)
    ratio = max(SequenceMatcher(None, raw, target).ratio(), SequenceMatcher(None, cleaned, target).ratio())
    if ratio >= TITLE_RATIO:
        return TitleAgreement(min(ratio, 0.97), f"titles {ratio:.0%} alike", False)
    return None


def _name_parts(name: str) -> list[str]:
    text = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)).casefold()
    if "," in text:
        last, _, first = text.partition(",")
        text = f"{first} {last}"
    return re.findall(r"[^\W\d_]+", text)


def same_person(a: str, b: str) -> bool:
    """Whether two printed author names are the same person: the same words, or the same surname and first
    initial (``Timeo I. Denk`` / ``Timo I. Denk``), or a two-word name in the other order. Accents, case,
    dots and hyphens are ignored."""
    pa, pb = _name_parts(a), _name_parts(b)
    if not pa or not pb:
        return False
    if pa == pb or (pa[-1] == pb[-1] and pa[0][0] == pb[0][0]):
        return True
    return len(pa) == len(pb) == 2 and pa == pb[::-1]


def visible_id_prefix(link: str | None) -> str | None:
    """The part of an arXiv id a cut link shows: ``https://arxiv.org/pdf/2212.14...`` → ``2212.14``."""
    if not link:
        return None
    match = re.search(r"arxiv\.org/(?:abs|pdf|html)/(?P<rest>[^\s?#]*)", link, re.IGNORECASE)
    if not match:
        return None
    rest = re.split(r"\.{2,}|…", match["rest"], maxsplit=1)[0]
    rest = re.sub(r"(?:\.pdf|(?<=\d)v\d*)$", "", rest, flags=re.IGNORECASE).rstrip("/")
    return rest or None


@dataclass(frozen=True)
class TitleMatch:
    """The outcome of a title search: the accepted entry, or ``None``; ``detail`` says how or why not."""

    entry: ArxivEntry | None
    detail: str


def match_title(
    title: str, first_author: str | None, id_prefix: str | None, candidates: Sequence[ArxivEntry]
) -> TitleMatch:
    """Pick the search result that is this paper, or none (see the module docstring for the rules)."""
    accepted: list[tuple[float, ArxivEntry, str]] = []
    rejected: list[tuple[float, str]] = []
    for candidate in candidates:
        agreement = title_agreement(title, candidate.title)
        if agreement is None:
            continue
        score, how, same = agreement
        name = f"{candidate.arxiv_id} {candidate.title!r}"
        if id_prefix and not candidate.arxiv_id.startswith(id_prefix):
            rejected.append((score, f"{name}: id does not start with {id_prefix} as the digest's cut link does"))
            continue
        if first_author:
            author = next((a for a in candidate.authors if same_person(first_author, a)), None)
            if author is None:
                rejected.append((score, f"{name}: the digest's first author {first_author} is not among its authors"))
                continue
            how += f"; first author {first_author}" + (f" is {author}" if author != first_author else " listed")
        elif not same:
            rejected.append((score, f"{name}: titles only {score:.0%} alike and no author to confirm"))
            continue
        else:
            how += "; no author in the digest to check"
        if id_prefix:
            how += f"; id starts with {id_prefix} as the cut link does"
        accepted.append((score, candidate, how))
    if accepted:
        accepted.sort(key=lambda item: -item[0])
        score, best, how = accepted[0]
        rivals = [c.arxiv_id for s, c, _ in accepted[1:] if c.arxiv_id != best.arxiv_id and score - s < 0.02]
        if rivals:
            return TitleMatch(None, f"ambiguous title search: {best.arxiv_id} and {rivals[0]} both match")
        return TitleMatch(best, f"resolved by title search as {best.arxiv_id}: {how}")
    if rejected:
        return TitleMatch(None, "title search refused " + max(rejected)[1])
    if candidates:
        ratios = [
            (SequenceMatcher(None, normalise_title(title), normalise_title(c.title)).ratio(), c) for c in candidates
        ]
        ratio, closest = max(ratios, key=lambda item: item[0])
        return TitleMatch(
            None,
            f"no title close enough among {len(candidates)} arXiv results"
            f" (closest: {closest.arxiv_id} {closest.title!r}, {ratio:.0%} alike)",
        )
    return TitleMatch(None, "title search found nothing on arXiv")


# --- storing -------------------------------------------------------------------------------------------

_UPSERT_ENTRY = """
INSERT INTO arxiv_entries (arxiv_id, title, authors, abstract, primary_category, categories, published, updated,
                           latest_version, abs_url, pdf_url, comment, journal_ref, doi, fetched_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (arxiv_id) DO UPDATE SET
    title = excluded.title,
    authors = excluded.authors,
    abstract = CASE WHEN excluded.abstract <> '' THEN excluded.abstract ELSE arxiv_entries.abstract END,
    primary_category = coalesce(excluded.primary_category, arxiv_entries.primary_category),
    categories = CASE WHEN excluded.categories <> '[]' THEN excluded.categories ELSE arxiv_entries.categories END,
    published = coalesce(excluded.published, arxiv_entries.published),
    updated = coalesce(excluded.updated, arxiv_entries.updated),
    latest_version = coalesce(excluded.latest_version, arxiv_entries.latest_version),
    abs_url = coalesce(excluded.abs_url, arxiv_entries.abs_url),
    pdf_url = coalesce(excluded.pdf_url, arxiv_entries.pdf_url),
    comment = coalesce(excluded.comment, arxiv_entries.comment),
    journal_ref = coalesce(excluded.journal_ref, arxiv_entries.journal_ref),
    doi = coalesce(excluded.doi, arxiv_entries.doi),
    fetched_at = excluded.fetched_at
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def store_entries(db: sqlite_utils.Database, entries: Iterable[ArxivEntry], now: str | None = None) -> None:
    """Upsert entries into ``arxiv_entries`` (plain ``INSERT … ON CONFLICT DO UPDATE``; call inside a
    write transaction). Title and authors are always present; other stored values survive an answer that
    lacks them."""
    fetched_at = now or _now()
    db.conn.executemany(
        _UPSERT_ENTRY,
        [
            (
                entry.arxiv_id,
                entry.title,
                json.dumps(list(entry.authors), ensure_ascii=False),
                entry.abstract,
                entry.primary_category,
                json.dumps(list(entry.categories)),
                entry.published,
                entry.updated,
                entry.version,
                entry.abs_url,
                entry.pdf_url,
                entry.comment,
                entry.journal_ref,
                entry.doi,
                fetched_at,
            )
            for entry in entries
        ],
    )


def _set_status(db: sqlite_utils.Database, paper_id: int, arxiv_id: str | None, status: str, detail: str) -> None:
    """Record arXiv's answer about a paper, unless its id changed meanwhile (a concurrent load)."""
    db.conn.execute(
        "UPDATE papers SET enrich_status = ?, enrich_detail = ?, enrich_attempts = enrich_attempts + 1,"
        " enriched_at = ? WHERE id = ? AND arxiv_id IS ?",
        [status, detail, _now(), paper_id, arxiv_id],
    )


def _set_enriched(db: sqlite_utils.Database, paper_id: int, arxiv_id: str, detail: str) -> None:
    """Mark enriched; a title-search paper keeps the record of how it was matched."""
    db.conn.execute(
        "UPDATE papers SET enrich_status = 'enriched',"
        " enrich_detail = CASE WHEN id_source = 'title-search' AND enrich_detail IS NOT NULL"
        "   THEN enrich_detail ELSE ? END,"
        " enrich_attempts = enrich_attempts + 1, enriched_at = ? WHERE id = ? AND arxiv_id = ?",
        [detail, _now(), paper_id, arxiv_id],
    )


# --- a run ---------------------------------------------------------------------------------------------


@dataclass
class EnrichReport:
    """What one run did. Counts are papers of this run except ``pending``, which counts the whole
    database after the run. ``enriched`` includes those ``resolved by title``."""

    selected: int = 0
    enriched: int = 0
    by_title: int = 0
    not_found: int = 0
    unresolved: int = 0
    failed: int = 0
    pending: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    """Why papers failed this run, with how many."""
    error: str | None = None
    """The arXiv failure that ended the run early (the papers not done stay pending)."""
    requests: int = 0
    network_seconds: float = 0.0
    spacing_seconds: float = 0.0
    parse_seconds: float = 0.0
    store_seconds: float = 0.0

    def summary(self) -> str:
        """One line: ``enriched N, resolved by title M, not found K, unresolved U, failed F (why…), pending P``."""
        why = "; ".join(f"{count} × {reason}" if count > 1 else reason for reason, count in self.reasons.most_common())
        return (
            f"enriched {self.enriched}, resolved by title {self.by_title}, not found {self.not_found},"
            f" unresolved {self.unresolved}, failed {self.failed}{f' ({why})' if why else ''}, pending {self.pending}"
        )

    def fail(self, count: int, reason: str) -> None:
        self.failed += count
        self.reasons[reason] += count


@dataclass(frozen=True)
class _Paper:
    id: int
    arxiv_id: str | None
    status: str
    title: str
    first_author: str | None
    incomplete_link: str | None
    cached: bool


def _select(
    db: sqlite_utils.Database, *, refresh: bool, limit: int | None, paper_ids: Sequence[int] | None
) -> list[_Paper]:
    where = (
        "1"
        if refresh
        else "(p.enrich_status = 'pending' OR (p.arxiv_id IS NOT NULL"
        " AND p.enrich_status IN ('enriched', 'unresolved') AND a.arxiv_id IS NULL))"
    )
    params: list[Any] = []
    if paper_ids is not None:
        where += " AND p.id IN (SELECT value FROM json_each(?))"
        params.append(json.dumps(list(paper_ids)))
    params.append(-1 if limit is None else limit)
    rows = db.execute(
        "SELECT p.id, p.arxiv_id, p.enrich_status, coalesce(e.title, p.title_key), e.authors, e.incomplete_link,"
        " a.arxiv_id IS NOT NULL"
        " FROM papers p"
        " LEFT JOIN entries e ON e.id = (SELECT e2.id FROM entries e2 WHERE e2.paper_id = p.id"
        "   ORDER BY e2.month DESC, e2.position LIMIT 1)"
        " LEFT JOIN arxiv_entries a ON a.arxiv_id = p.arxiv_id"
        # Papers someone asked for (an *English abstract* click) go first, oldest request first.
        f" WHERE {where} ORDER BY p.enrich_requested_at IS NULL, p.enrich_requested_at, p.id LIMIT ?",
        params,
    ).fetchall()
    papers = []
    for paper_id, arxiv_id, status, title, authors, incomplete_link, cached in rows:
        names = json.loads(authors) if authors else []
        papers.append(
            _Paper(int(paper_id), arxiv_id, status, title, names[0] if names else None, incomplete_link, bool(cached))
        )
    return papers


def _pending_count(db: sqlite_utils.Database) -> int:
    return int(db.execute("SELECT count(*) FROM papers WHERE enrich_status = 'pending'").fetchone()[0])


def enrich_pending(
    db: sqlite_utils.Database,
    client: ArxivClient,
    *,
    limit: int | None = None,
    refresh: bool = False,
    paper_ids: Sequence[int] | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> EnrichReport:
    """Enrich the papers that need it (at most ``limit``, only ``paper_ids`` if given; every paper with
    ``refresh``): ids in batches of :data:`MAX_IDS_PER_REQUEST`, then one title search per paper without
    an id. The first arXiv failure ends the run (``report.error``); the papers not done stay pending.
    ``progress`` gets one line per request; ``stop`` ends the run between requests."""
    say = progress or (lambda _line: None)
    report = EnrichReport()
    before = (client.stats.requests, client.stats.network_seconds, client.stats.spacing_seconds)
    parse_before = client.stats.parse_seconds
    papers = _select(db, refresh=refresh, limit=limit, paper_ids=paper_ids)
    report.selected = len(papers)
    cached = [p for p in papers if p.arxiv_id and p.cached and not refresh and p.status == "pending"]
    cached_ids = {p.id for p in cached}
    by_id = [p for p in papers if p.arxiv_id and p.id not in cached_ids]
    by_title = [p for p in papers if not p.arxiv_id]
    batches = [by_id[i : i + MAX_IDS_PER_REQUEST] for i in range(0, len(by_id), MAX_IDS_PER_REQUEST)]
    if papers:
        say(
            f"{_count(len(papers), 'paper')} to enrich: {len(by_id)} by id in {_count(len(batches), 'request')},"
            f" {len(by_title)} by title search" + (f", {len(cached)} already cached" if cached else "")
        )
    try:
        if cached:
            _timed_write(report, db, lambda: _mark_cached(db, cached, report))
        for number, batch in enumerate(batches, 1):
            if stop is not None and stop.is_set():
                break
            say(f"batch {number}/{len(batches)}: {len(batch)} ids…")
            _enrich_batch(db, client, batch, report)
        for number, paper in enumerate(by_title, 1):
            if stop is not None and stop.is_set():
                break
            say(f"title search {number}/{len(by_title)}: {_shorten(paper.title)}")
            outcome = _enrich_by_title(db, client, paper, report)
            say(f"  → {outcome}")
    except _RunStopped:
        pass
    except ArxivCancelled:
        pass  # ``stop`` was set: the caller knows
    report.pending = _pending_count(db)
    report.requests = client.stats.requests - before[0]
    report.network_seconds = client.stats.network_seconds - before[1]
    report.spacing_seconds = client.stats.spacing_seconds - before[2]
    report.parse_seconds = client.stats.parse_seconds - parse_before
    return report


class _RunStopped(Exception):
    """An arXiv failure ended the run; it is in ``report.error``."""


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _shorten(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _timed_write(report: EnrichReport, db: sqlite_utils.Database, write: Callable[[], None]) -> None:
    started = time.perf_counter()
    with write_transaction(db):
        write()
    report.store_seconds += time.perf_counter() - started


def _mark_cached(db: sqlite_utils.Database, papers: list[_Paper], report: EnrichReport) -> None:
    for paper in papers:
        assert paper.arxiv_id is not None
        _set_enriched(db, paper.id, paper.arxiv_id, "from the arXiv metadata already cached")
        report.enriched += 1


def _enrich_batch(db: sqlite_utils.Database, client: ArxivClient, batch: list[_Paper], report: EnrichReport) -> None:
    ids = [paper.arxiv_id for paper in batch if paper.arxiv_id]
    try:
        try:
            fetched = client.fetch_ids(ids)
        except ArxivEmptyFeed:
            if not _arxiv_answers_properly(db, client, ids):
                raise
            log.info("arXiv knows none of %d ids and answers for a known one: not found", len(ids))
            fetched = IdFetch(entries=(), missing=tuple(ids))
    except ArxivCancelled:
        raise
    except ArxivError as error:
        report.fail(len(batch), error.reason)
        report.error = str(error)
        raise _RunStopped from None
    found = {entry.arxiv_id for entry in fetched.entries}
    missing = set(fetched.missing)

    def write() -> None:
        store_entries(db, fetched.entries)
        for paper in batch:
            arxiv_id = paper.arxiv_id
            assert arxiv_id is not None
            if arxiv_id in found:
                _set_enriched(db, paper.id, arxiv_id, "fetched by the arXiv id the digest gives")
                report.enriched += 1
            elif arxiv_id in missing:
                report.not_found += 1
                if paper.cached:
                    log.warning("arXiv left out %s this time; keeping its cached metadata", arxiv_id)
                    continue
                _set_status(db, paper.id, arxiv_id, "not_found", f"arXiv returned no entry for {arxiv_id}")
            elif arxiv_id in fetched.rejected:
                reason = fetched.rejected[arxiv_id]
                report.fail(1, reason)
                if not paper.cached:
                    _set_status(db, paper.id, arxiv_id, "failed", reason)
            else:
                report.fail(1, fetched.incomplete.get(arxiv_id, f"no usable entry for {arxiv_id}"))

    _timed_write(report, db, write)


def _arxiv_answers_properly(db: sqlite_utils.Database, client: ArxivClient, ids: Sequence[str]) -> bool:
    """After an empty answer for several ids: ask for one id arXiv is known to have (the most recently
    cached). If it comes back, the empty answer was true and the ids are not found; if not, or when there
    is nothing cached to ask for, it was one of arXiv's spurious empty feeds."""
    row = db.execute(
        "SELECT arxiv_id FROM arxiv_entries WHERE arxiv_id NOT IN (SELECT value FROM json_each(?))"
        " ORDER BY fetched_at DESC LIMIT 1",
        [json.dumps(list(ids))],
    ).fetchone()
    if row is None:
        return False
    try:
        return bool(client.fetch_ids([row[0]]).entries)
    except ArxivCancelled:
        raise
    except ArxivError:
        return False


def _enrich_by_title(db: sqlite_utils.Database, client: ArxivClient, paper: _Paper, report: EnrichReport) -> str:
    try:
        query = title_query(clean_title(paper.title))
    except ValueError:
        match = TitleMatch(None, "the digest title has no words to search for")
    else:
        try:
            candidates = client.search(query, max_results=TITLE_SEARCH_RESULTS)
        except ArxivCancelled:
            raise
        except ArxivQueryError as error:
            match = TitleMatch(None, error.reason)
        except ArxivError as error:
            report.fail(1, error.reason)
            report.error = str(error)
            raise _RunStopped from None
        else:
            match = match_title(paper.title, paper.first_author, visible_id_prefix(paper.incomplete_link), candidates)
    outcome = match.detail

    def write() -> None:
        nonlocal outcome
        entry = match.entry
        if entry is None:
            _set_status(db, paper.id, None, "unresolved", match.detail)
            report.unresolved += 1
            return
        owner = db.execute("SELECT id FROM papers WHERE arxiv_id = ?", [entry.arxiv_id]).fetchone()
        if owner is not None and int(owner[0]) != paper.id:
            outcome = (
                f"title search matched {entry.arxiv_id}, but paper #{owner[0]} already has that id"
                " (the same paper under two titles?); left unresolved"
            )
            _set_status(db, paper.id, None, "unresolved", outcome)
            report.unresolved += 1
            return
        store_entries(db, [entry])
        changed = db.conn.execute(
            "UPDATE papers SET arxiv_id = ?, id_source = 'title-search', enrich_status = 'enriched',"
            " enrich_detail = ?, enrich_attempts = enrich_attempts + 1, enriched_at = ?"
            " WHERE id = ? AND arxiv_id IS NULL",
            [entry.arxiv_id, match.detail, _now(), paper.id],
        ).rowcount
        if changed:
            report.enriched += 1
            report.by_title += 1

    _timed_write(report, db, write)
    return outcome


# --- arbitrary ids (suggestions) -----------------------------------------------------------------------


@dataclass(frozen=True)
class IdsResult:
    """What :func:`enrich_ids` did with each id (ids without version)."""

    fetched: tuple[str, ...] = ()
    cached: tuple[str, ...] = ()
    not_found: tuple[str, ...] = ()
    failed: dict[str, str] = field(default_factory=dict)
    """Input → reason: not an arXiv id, rejected by arXiv, or an incomplete entry."""

    @property
    def available(self) -> tuple[str, ...]:
        """Ids whose metadata is now in ``arxiv_entries``."""
        return self.cached + self.fetched


def enrich_ids(
    db: sqlite_utils.Database, client: ArxivClient, ids: Iterable[str], *, refresh: bool = False
) -> IdsResult:
    """Make sure ``arxiv_entries`` holds arXiv's metadata for ``ids`` (ids or URLs, any version).

    Ids already cached are not fetched again unless ``refresh``. Papers with a fetched id that were still
    pending become enriched. Raises :class:`~bot.arxiv.client.ArxivError` when arXiv fails (batches stored
    before the failure stay stored). Waits on arXiv: call it off the Slack request path.
    """
    failed: dict[str, str] = {}
    wanted: list[str] = []
    for raw in ids:
        ref = parse_arxiv_ref(raw)
        if ref is None:
            failed[raw] = "not an arXiv id or URL"
        elif ref.id not in wanted:
            wanted.append(ref.id)
    cached: list[str] = []
    if not refresh and wanted:
        known = {
            row[0]
            for row in db.execute(
                "SELECT arxiv_id FROM arxiv_entries WHERE arxiv_id IN (SELECT value FROM json_each(?))",
                [json.dumps(wanted)],
            )
        }
        cached = [arxiv_id for arxiv_id in wanted if arxiv_id in known]
        wanted = [arxiv_id for arxiv_id in wanted if arxiv_id not in known]
    fetched: list[str] = []
    not_found: list[str] = []
    for start in range(0, len(wanted), MAX_IDS_PER_REQUEST):
        answer = client.fetch_ids(wanted[start : start + MAX_IDS_PER_REQUEST])
        with write_transaction(db):
            store_entries(db, answer.entries)
            now = _now()
            db.conn.executemany(
                "UPDATE papers SET enrich_status = 'enriched', enrich_detail = 'fetched by the arXiv id the digest"
                " gives', enrich_attempts = enrich_attempts + 1, enriched_at = ?"
                " WHERE arxiv_id = ? AND enrich_status = 'pending'",
                [(now, entry.arxiv_id) for entry in answer.entries],
            )
        fetched += [entry.arxiv_id for entry in answer.entries]
        not_found += answer.missing
        failed.update(answer.rejected)
        failed.update(answer.incomplete)
    return IdsResult(tuple(fetched), tuple(cached), tuple(not_found), failed)


# --- entry points --------------------------------------------------------------------------------------


def enrich_after_load(db: sqlite_utils.Database, settings: Settings, months: Sequence[str], out: TextIO) -> None:
    """Enrich the pending papers of the digest months just loaded, telling ``out`` (stderr) how it went.

    Never raises for arXiv or its settings: a load that succeeded stays a success, the papers stay pending
    for ``paperbot enrich`` or the bot. Two tries with a 10 s deadline (5 s to connect) instead of three with
    30 s, and the run stops at the first failure, so an unreachable arXiv costs seconds, not minutes.
    """

    def say(line: str) -> None:
        print(f"enrich: {line}", file=out, flush=True)

    if not months:
        return
    paper_ids = [
        int(row[0])
        for row in db.execute(
            "SELECT DISTINCT paper_id FROM entries WHERE month IN (SELECT value FROM json_each(?))",
            [json.dumps(list(months))],
        )
    ]
    try:
        client = ArxivClient.from_settings(settings, attempts=2, timeout_seconds=10.0, connect_timeout_seconds=5.0)
    except ConfigError as error:
        say(f"skipped: {error}; papers stay pending")
        return
    with client:
        report = enrich_pending(db, client, paper_ids=paper_ids, progress=say)
    if report.selected or report.error:
        say(report.summary())
    if report.error:
        say(f"arXiv failed ({report.error}); {report.pending} papers pending: run `paperbot enrich` later")


def request_enrichment(db: sqlite_utils.Database, paper_id: int) -> tuple[str, str | None, bool]:
    """Someone wants a paper's arXiv metadata that is not cached: put it first in line for the next
    enrichment pass (pending again if arXiv did not find it or its title did not match, since a digest
    reload or arXiv itself may have changed since). A paper whose id arXiv rejected stays as it is.
    Returns the paper's status and detail before the request, and whether it is queued now. Asking
    again changes nothing: the first request keeps its place."""
    with write_transaction(db):
        row = db.execute("SELECT enrich_status, enrich_detail FROM papers WHERE id = ?", [paper_id]).fetchone()
        if row is None:
            return "missing", None, False
        status, detail = str(row[0]), row[1]
        if status == "failed":
            return status, detail, False
        db.execute(
            "UPDATE papers SET enrich_status = 'pending', enrich_requested_at = coalesce(enrich_requested_at, ?)"
            " WHERE id = ?",
            [_now(), paper_id],
        )
    return status, detail, True


def enrichment_status(db: sqlite_utils.Database, paper_id: int) -> tuple[str, str | None]:
    """A paper's enrichment status and detail, read only (``missing`` for no such paper)."""
    row = db.execute("SELECT enrich_status, enrich_detail FROM papers WHERE id = ?", [paper_id]).fetchone()
    return ("missing", None) if row is None else (str(row[0]), row[1])


def enrich_suggestions(db: sqlite_utils.Database, client: ArxivClient) -> list[int]:
    """Fetch the papers of open suggestions that still have no arXiv metadata (suggested while arXiv was
    down) and have their cards redrawn (bot.outbox); returns the suggestions that got their metadata.
    arXiv failures are logged, never raised: the next pass tries again."""
    waiting = suggestions.without_metadata(db, limit=MAX_IDS_PER_REQUEST)
    if not waiting:
        return []
    try:
        result = enrich_ids(db, client, [s.arxiv_id for s in waiting])
    except ArxivCancelled:
        return []
    except ArxivError as error:
        log.warning("background enrichment of %d suggestion(s) stopped: %s", len(waiting), error)
        return []
    done = [s.id for s in waiting if s.arxiv_id in result.available]
    if done:
        with write_transaction(db):
            for suggestion_id in done:
                suggestions.enqueue_redraw(db, suggestion_id)
        outbox.wake()
        log.info("background enrichment: %d suggestion(s) got their arXiv metadata; redrawing their cards", len(done))
    return done


BACKGROUND_CHUNK = 500
"""Papers the bot's loop takes per pass: a database of 100,000 pending papers is not held in memory at once."""


REQUEST_POLL_SECONDS = 30.0
"""While the loop waits, how often it looks for papers someone asked for (:func:`request_enrichment`)."""


def _requested_since(settings: Settings, since: str) -> bool:
    """Whether someone asked for a paper's metadata since ``since`` (ISO time) and it is still pending."""
    try:
        row = (
            thread_db(settings.db_path)
            .execute(
                "SELECT 1 FROM papers WHERE enrich_status = 'pending' AND enrich_requested_at >= ? LIMIT 1", [since]
            )
            .fetchone()
        )
    except (DatabaseError, sqlite3.Error):
        return False
    return row is not None


def _wait(settings: Settings, stop: threading.Event, seconds: float, poll_seconds: float, since: str) -> bool:
    """Wait ``seconds``, cut short by a new request for a paper; ``True`` when ``stop`` was set."""
    deadline = time.monotonic() + seconds
    while True:
        if stop.wait(max(0.0, min(poll_seconds, deadline - time.monotonic()))):
            return True
        if time.monotonic() >= deadline or _requested_since(settings, since):
            return False


def run_background_enrichment(
    settings: Settings,
    stop: threading.Event,
    interval_seconds: float = 3600.0,
    poll_seconds: float = REQUEST_POLL_SECONDS,
) -> None:
    """The bot's enrichment loop: enrich pending papers, then open suggestions without metadata (their cards
    are then redrawn), then wait ``interval_seconds`` (or until ``stop``), or only until someone asks for a
    paper's metadata (a click on *English abstract*), looked for every ``poll_seconds``.

    Runs in its own thread with its own database connection. Never raises: a failed pass is logged with
    its traceback and tried again next interval. Returns soon after ``stop`` is set: waits are cut short
    and a request under way is abandoned at its next read (at most its deadline).
    """
    pending_before: int | None = None
    while not stop.is_set():
        more = False
        started = _now()
        try:
            db = thread_db(settings.db_path)
            with ArxivClient.from_settings(settings, cancel=stop) as client:
                report = enrich_pending(db, client, stop=stop, limit=BACKGROUND_CHUNK)
                if not report.error and not stop.is_set():
                    enrich_suggestions(db, client)
            if report.error:
                log.warning("background enrichment stopped early: %s (%s)", report.error, report.summary())
            elif report.selected:
                log.info("background enrichment: %s", report.summary())
                # Go on at once only while passes make progress: a chunk arXiv leaves pending is not
                # asked for again in a tight loop.
                progressed = pending_before is None or report.pending < pending_before
                more = report.selected >= BACKGROUND_CHUNK and progressed
                pending_before = report.pending
        except (ConfigError, DatabaseError) as error:
            log.error("background enrichment cannot run: %s", error)
        except Exception:
            log.exception("background enrichment failed; trying again in %g s", interval_seconds)
        if more:
            continue  # a full chunk went well: take the next one now (the rate limiter spaces requests)
        if _wait(settings, stop, interval_seconds, poll_seconds, started):
            return
