"""RIS records (Zotero, EndNote, Mendeley): one tagged line per field, ``ER`` closing each record.

Preprints are ``GEN`` (generic) with arXiv as the publisher and the arXiv id in ``AN``. RIS is line
based, so values are collapsed onto one line; nothing else needs escaping.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.cite.records import CitationRecord


def _line(tag: str, value: str) -> str:
    return f"{tag}  - {' '.join(value.split())}\n"


def record_text(record: CitationRecord) -> str:
    lines = [_line("TY", "GEN"), _line("ID", record.key), _line("TI", record.title)]
    lines += [_line("AU", name) for name in record.authors if name.strip()]
    lines.append(_line("PY", str(record.year)))
    if record.month:
        day = f"{record.day:02d}" if record.day else ""
        lines.append(_line("DA", f"{record.year:04d}/{record.month:02d}/{day}"))
    if record.arxiv_id:
        lines += [_line("PB", "arXiv"), _line("AN", f"arXiv:{record.arxiv_id}")]
        if record.primary_class:
            lines.append(_line("KW", record.primary_class))
    if record.url:
        lines.append(_line("UR", record.url))
    if record.doi:
        lines.append(_line("DO", record.doi))
    if record.abstract:
        lines.append(_line("AB", record.abstract))
    lines.append("ER  - \n")
    return "".join(lines)


def records_text(records: Iterable[CitationRecord]) -> Iterable[str]:
    for index, record in enumerate(records):
        yield ("\n" if index else "") + record_text(record)
