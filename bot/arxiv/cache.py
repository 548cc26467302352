"""arXiv metadata as a reader wants it, from the ``arxiv_entries`` cache, and filling that cache on demand.

Link unfurls show any arXiv paper someone pastes. What the cache holds is read at once (:func:`cached`);
the rest is fetched with the polite client (:func:`fetch_missing`, which waits on arXiv: never on a Slack
request path). Ids arXiv answered "no such paper" for are remembered in ``arxiv_misses`` for
:data:`MISS_TTL`, so a pasted typo does not cost arXiv a request each time it is unfurled.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlite_utils

from bot.config import Settings
from bot.db import write_transaction

log = logging.getLogger(__name__)

MISS_TTL = timedelta(days=1)
"""How long an id arXiv does not have is not asked for again."""
FETCH_TIMEOUT_SECONDS = 10.0
FETCH_ATTEMPTS = 2


@dataclass(frozen=True)
class ArxivPaper:
    """arXiv's own metadata for one id (without version)."""

    arxiv_id: str
    title: str
    authors: tuple[str, ...]
    abstract: str
    primary_category: str | None = None

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv_id}"

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.arxiv_id}"


def cached(db: sqlite_utils.Database, ids: Sequence[str]) -> dict[str, ArxivPaper]:
    """The cached metadata of those ``ids`` that have some."""
    if not ids:
        return {}
    rows = db.execute(
        "SELECT arxiv_id, title, authors, abstract, primary_category FROM arxiv_entries"
        " WHERE arxiv_id IN (SELECT value FROM json_each(?))",
        [json.dumps(list(ids))],
    ).fetchall()
    return {
        str(arxiv_id): ArxivPaper(
            arxiv_id=str(arxiv_id),
            title=" ".join(str(title).split()),
            authors=tuple(json.loads(str(authors))) if authors else (),
            abstract=str(abstract or ""),
            primary_category=str(category) if category else None,
        )
        for arxiv_id, title, authors, abstract, category in rows
    }


def recent_misses(db: sqlite_utils.Database, ids: Sequence[str], now: datetime | None = None) -> set[str]:
    """Those ``ids`` arXiv said it does not have, within :data:`MISS_TTL`."""
    if not ids:
        return set()
    since = ((now or datetime.now(UTC)) - MISS_TTL).isoformat()
    rows = db.execute(
        "SELECT arxiv_id FROM arxiv_misses WHERE arxiv_id IN (SELECT value FROM json_each(?)) AND checked_at >= ?",
        [json.dumps(list(ids)), since],
    ).fetchall()
    return {str(row[0]) for row in rows}


def record_misses(db: sqlite_utils.Database, ids: Sequence[str], now: datetime | None = None) -> None:
    if not ids:
        return
    moment = (now or datetime.now(UTC)).isoformat()
    with write_transaction(db):
        db.conn.executemany(
            "INSERT INTO arxiv_misses (arxiv_id, checked_at) VALUES (?, ?)"
            " ON CONFLICT (arxiv_id) DO UPDATE SET checked_at = excluded.checked_at",
            [(arxiv_id, moment) for arxiv_id in ids],
        )


@dataclass(frozen=True)
class Fetched:
    """What :func:`fetch_missing` found; ``error`` says why arXiv could not be asked (then nothing was)."""

    papers: dict[str, ArxivPaper]
    not_found: tuple[str, ...] = ()
    error: str | None = None


def fetch_missing(db: sqlite_utils.Database, settings: Settings, ids: Sequence[str]) -> Fetched:
    """Fetch ``ids`` (without version) that the cache lacks from arXiv into ``arxiv_entries``, politely
    (the process-wide rate limit, a 10 s deadline, two tries). Ids recently found missing are skipped.
    Never raises for arXiv: a failure is returned in ``error``."""
    from bot.arxiv.client import ArxivClient, ArxivError
    from bot.arxiv.enrich import enrich_ids

    have = cached(db, ids)
    skip = recent_misses(db, [arxiv_id for arxiv_id in ids if arxiv_id not in have])
    wanted = [arxiv_id for arxiv_id in dict.fromkeys(ids) if arxiv_id not in have and arxiv_id not in skip]
    if not wanted:
        return Fetched(have, tuple(skip))
    try:
        with ArxivClient.from_settings(
            settings, timeout_seconds=FETCH_TIMEOUT_SECONDS, attempts=FETCH_ATTEMPTS
        ) as client:
            result = enrich_ids(db, client, wanted)
    except ArxivError as error:
        log.warning("arXiv lookup of %d id(s) failed: %s", len(wanted), error)
        return Fetched(have, tuple(skip), error=str(error))
    record_misses(db, list(result.not_found))
    return Fetched({**have, **cached(db, list(result.available))}, (*skip, *result.not_found))
