"""arXiv identifiers: recognising them in ids, URLs and free text, and normalising them.

Two schemes exist (https://info.arxiv.org/help/arxiv_identifier.html):
- new style ``YYMM.NNNN`` (April 2007 to December 2014) and ``YYMM.NNNNN`` (from January 2015);
- old style ``archive(.SUBJ)/YYMMNNN`` such as ``hep-th/9901001`` or ``math.AG/0601001``.
Either may carry a version suffix ``vN``. Stored ids never carry the version; it is kept separately.
A cut-short id such as ``2212.14`` is not an id: the rules below reject it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NEW = r"(?P<new>(?P<yy>\d{2})(?P<mm>\d{2})\.(?P<num>\d{4,5}))"
_OLD = r"(?P<old>(?P<archive>[a-z]+(?:-[a-z]+)?)(?P<subj>\.[A-Z]{2})?/(?P<oyy>\d{2})(?P<omm>\d{2})\d{3})"
_VERSION = r"(?:v(?P<version>\d{1,3}))?"
_ID = rf"(?:{_NEW}|{_OLD}){_VERSION}"

_BARE_ID = re.compile(rf"^(?:arxiv\s*:\s*)?{_ID}$", re.IGNORECASE)
_URL = re.compile(
    rf"^(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html|format)/{_ID}(?:\.pdf)?/?(?:[?#]\S*)?$",
    re.IGNORECASE,
)
_URL_START = re.compile(r"^(?:https?://)?(?:www\.|export\.)?arxiv\.org/", re.IGNORECASE)
_IN_TEXT = re.compile(
    rf"(?:(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/|\barxiv\s*:\s*|(?<![\w./-])){_ID}"
    r"(?![\w/]|\.\d)",
    re.IGNORECASE,
)
ELLIPSIS = re.compile(r"(?:\.{2,}|…)$")


@dataclass(frozen=True)
class ArxivRef:
    """An arXiv id without version, and the version that was written (``None`` when none was)."""

    id: str
    version: int | None = None

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.id}"

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.id}"

    @property
    def yymm(self) -> str:
        """The ``YYMM`` in which the id was assigned."""
        if "/" in self.id:
            return self.id.split("/", 1)[1][:4]
        return self.id[:4]

    @property
    def month(self) -> str:
        """The ``YYYY-MM`` in which the id was assigned (old-style ids run from 1991)."""
        yy, mm = int(self.yymm[:2]), self.yymm[2:]
        year = 1900 + yy if yy >= 91 else 2000 + yy
        return f"{year}-{mm}"


def _from_match(match: re.Match[str]) -> ArxivRef | None:
    version = int(match["version"]) if match["version"] else None
    if match["new"]:
        yy, mm, num = int(match["yy"]), int(match["mm"]), match["num"]
        if not 1 <= mm <= 12 or (yy, mm) < (7, 4):
            return None
        # Four digits until December 2014, five from January 2015: anything else is cut short or bogus.
        if (len(num) == 5) != (yy >= 15):
            return None
        return ArxivRef(match["new"], version)
    if not 1 <= int(match["omm"]) <= 12:
        return None
    archive = match["archive"].lower() + (match["subj"] or "").upper()
    return ArxivRef(f"{archive}/{match['old'].split('/', 1)[1]}", version)


def parse_arxiv_ref(text: str) -> ArxivRef | None:
    """Parse one arXiv id or arXiv URL (abs, pdf, html; with or without ``.pdf`` and version).

    Returns ``None`` for anything else, including a link cut short with ``...``.
    """
    candidate = text.strip().strip("<>").strip()
    if not candidate or ELLIPSIS.search(candidate):
        return None
    match = _BARE_ID.match(candidate) or _URL.match(candidate)
    return _from_match(match) if match else None


def is_arxiv_url(text: str) -> bool:
    """True for any link into arxiv.org, complete or not."""
    return bool(_URL_START.match(text.strip()))


def find_arxiv_refs(text: str) -> list[ArxivRef]:
    """Every distinct arXiv id or URL in free text, in order of appearance."""
    found: dict[str, ArxivRef] = {}
    for match in _IN_TEXT.finditer(text):
        ref = _from_match(match)
        if ref is not None and ref.id not in found:
            found[ref.id] = ref
    return list(found.values())
