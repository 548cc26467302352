"""CSL-JSON items (the Citation Style Language's input format, read by Zotero, Pandoc and citeproc).

A preprint is type ``article`` with ``publisher`` arXiv and ``number`` ``arXiv:ID``, as Zotero writes
it. Names are split into ``family`` (the last word, with lowercase particles such as ``van`` before it)
and ``given``; a one-word name stays a ``literal``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from bot.cite.records import CitationRecord

PARTICLES = frozenset({"van", "von", "der", "den", "de", "del", "della", "da", "di", "du", "la", "le", "dos", "das"})


def name(full: str) -> dict[str, str]:
    words = full.split()
    if len(words) < 2:
        return {"literal": full.strip()}
    start = len(words) - 1
    while start > 1 and words[start - 1] in PARTICLES:
        start -= 1
    return {"family": " ".join(words[start:]), "given": " ".join(words[:start])}


def item(record: CitationRecord) -> dict[str, Any]:
    date: list[int] = [record.year]
    if record.month:
        date.append(record.month)
        if record.day:
            date.append(record.day)
    data: dict[str, Any] = {
        "id": record.key,
        "type": "article",
        "title": record.title,
        "author": [name(full) for full in record.authors if full.strip()],
        "issued": {"date-parts": [date]},
    }
    if record.arxiv_id:
        data["publisher"] = "arXiv"
        data["number"] = f"arXiv:{record.arxiv_id}"
        data["genre"] = "Preprint"
    if record.url:
        data["URL"] = record.url
    if record.doi:
        data["DOI"] = record.doi
    if record.abstract:
        data["abstract"] = record.abstract
    return data


def items_text(records: Iterable[CitationRecord]) -> Iterable[str]:
    """A JSON array, written item by item."""
    yield "["
    for index, record in enumerate(records):
        yield ("," if index else "") + "\n  " + json.dumps(item(record), ensure_ascii=False)
    yield "\n]\n"
