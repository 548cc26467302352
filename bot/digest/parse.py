"""Monthly digests: reading a digest file and parsing it into papers and references.

Two shapes are understood:

* the plain-text article (the shipped ``2023-01.txt``): an intro line, items numbered ``N、``, ``N.``
  or ``N)``, each with optional link lines, an author line (``By …``, ``Authors: …`` or a bare list,
  ``et al.`` allowed) and a summary of paragraphs and ``- `` bullets; then a references block
  (``[n] “Title” by Authors, Year.``), the source URL, an ``作者:`` credit line, and web-page footer
  noise that is dropped;
* Markdown: a ``#`` title, ``## N. Title`` or ``### Title`` sections, bare or ``[arXiv:ID](url)``
  links, an ``Authors:`` line, paragraphs, and a trailing ``Source: …`` credit line.

Parsing is pure (text in, :class:`Digest` out). :func:`read_digest_file` turns a path into text, with
the checks that give every bad file one clear reason. Errors carry the file and, where it applies, the
line number.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bot.arxiv.ids import ELLIPSIS, ArxivRef, is_arxiv_url, parse_arxiv_ref

PARSER_VERSION = "2"
MAX_DIGEST_BYTES = 5 * 1024 * 1024
"""A digest is an article of ~15 KB; anything over 5 MiB is refused unread."""

_MONTH = re.compile(r"(?<!\d)(?P<year>(?:19|20)\d{2})-(?P<month>0[1-9]|1[0-2])(?!\d)")
_URL_MONTH = re.compile(r"(?<!\d)(?P<year>(?:19|20)\d{2})-(?P<month>0[1-9]|1[0-2])(?![\d]|-\d)")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_URL = re.compile(r"<?(?:https?://|www\.)[^\s<>()\[\]]+>?|(?<![\w/])arxiv\.org/[^\s<>()\[\]]+", re.IGNORECASE)
_MD_LINK = re.compile(r"\[(?P<text>[^\]]*)\]\((?P<url>[^)\s]+)\)")
_LINKISH = re.compile(r"https?://|www\.|arxiv", re.IGNORECASE)
_ARXIV_TOKEN = re.compile(r"^arxiv\s*:\s*\S+$", re.IGNORECASE)
_LINK_LABEL = re.compile(
    r"^(?:link|links|url|arxiv|paper|pdf|project(?: page)?|code|链接|论文|地址|项目)\s*[:：]\s*", re.IGNORECASE
)
# Any item count: ``1000、Title`` is item 1000. A ``.`` directly followed by a digit is a decimal (``1.5B
# parameters``), not an item number.
_TXT_ITEM = re.compile(r"^\s*(?P<num>\d+)\s*(?:[、．)）]|\.(?!\d))\s*(?P<title>\S.*?)\s*$")
_MD_HEADING = re.compile(r"^(?P<hashes>#{1,4})\s+(?P<rest>.*?)\s*#*\s*$")
_MD_NUMBER = re.compile(r"^(?P<num>\d+)\s*(?:[、．)）]|\.(?!\d))\s*(?P<title>\S.*)$")
_AUTHOR_PREFIX = re.compile(r"^(?:by|authors?|作者)\s*[:：]?\s+|^(?:authors?|作者)\s*[:：]\s*", re.IGNORECASE)
_REFERENCE = re.compile(r"^\s*(?:\[(?P<num>\d+)\]|(?P<num2>\d+)[.)])\s*(?P<body>\S.*?)\s*$")
_REF_BODY = re.compile(
    r"^[“\"'‘](?P<title>.+?)[”\"'’]\s*,?\s*(?:by\s+(?P<authors>.+?))?\s*,?\s*(?:\(?(?P<year>(?:19|20)\d{2})\)?)?\s*\.?$",
    re.IGNORECASE,
)
_REF_HEADING = re.compile(r"(引用|参考|文献|references?|bibliography|further reading|citations?)", re.IGNORECASE)
_CREDIT = re.compile(
    r"^[\s*_>]*(?:(?P<label>作者|编辑|整理|译者|策展|curator|curated by|compiled by|editor)"
    r"\s*[:：]?\s*(?P<name>[^*_]+?)"
    r"|(?P<slabel>source|来源|原文|出处)\s*[:：]\s*(?P<rest>.+?))[\s*_]*$",
    re.IGNORECASE,
)
_CURATED_BY = re.compile(
    r"(?:curated|compiled|edited)\s+by\s+(?P<name>[^,.;*_()（）]+)|(?:作者|编辑|整理)\s*[:：]\s*(?P<zh>[^,，。;*_()（）]+)",
    re.IGNORECASE,
)
_NAME_WORD = re.compile(r"^(?:[A-Z\u00C0-\u00DE][\w\u00C0-\u024F'’\-]*\.?|[A-Z]\.(?:-?[A-Z]\.)*|[a-z]{1,3}|d'\w+)$")
_PARTICLES = {
    "van",
    "von",
    "de",
    "der",
    "den",
    "da",
    "di",
    "del",
    "della",
    "la",
    "le",
    "bin",
    "al",
    "dos",
    "du",
    "ten",
    "ter",
    "y",
    "e",
}
_ET_AL = re.compile(r"^et\.?\s*al\.?$", re.IGNORECASE)


class DigestError(Exception):
    """A digest file that cannot be loaded; ``str()`` is one line: file, line (if known), reason."""

    def __init__(self, source: str, reason: str, line: int | None = None) -> None:
        self.source = source
        self.reason = reason
        self.line = line
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Reference:
    number: int
    title: str
    authors: tuple[str, ...]
    year: int | None
    raw: str


@dataclass(frozen=True)
class Paper:
    """One item of a digest, as printed."""

    position: int
    title: str
    arxiv: ArxivRef | None
    links: tuple[str, ...]
    authors: tuple[str, ...]
    authors_truncated: bool
    summary: str
    incomplete_link: str | None = None
    """An arXiv link cut short (``https://arxiv.org/pdf/2212.14...``): kept for enrichment to resolve."""
    project_url: str | None = None
    """The first non-arXiv link of the item, such as a project page."""
    citations: tuple[int, ...] = ()
    line: int = 0

    @property
    def arxiv_id(self) -> str | None:
        return self.arxiv.id if self.arxiv else None

    @property
    def title_key(self) -> str:
        return normalise_title(self.title)


@dataclass(frozen=True)
class Digest:
    month: str
    papers: tuple[Paper, ...]
    references: tuple[Reference, ...] = ()
    title: str | None = None
    intro: str | None = None
    source_url: str | None = None
    curator: str | None = None
    content_hash: str = ""
    source: str = "<digest>"
    encoding: str = "utf-8"
    month_from: str = "file name"


@dataclass
class _Line:
    number: int
    text: str

    @property
    def stripped(self) -> str:
        return self.text.strip()


@dataclass
class _Item:
    number: int
    title: str
    line: int
    body: list[_Line] = field(default_factory=list)


def normalise_title(title: str) -> str:
    """Case-, width- and punctuation-insensitive form of a title, used to match papers without an id."""
    text = unicodedata.normalize("NFKC", title).casefold()
    return " ".join(re.findall(r"[^\W_]+", text))


def content_hash(data: bytes) -> str:
    """Hash of a file's bytes and the parser version: a changed parser re-reads unchanged files."""
    return hashlib.sha256(PARSER_VERSION.encode() + b"\0" + data).hexdigest()


def month_from_name(name: str) -> str | None:
    """The ``YYYY-MM`` in a file name, or anywhere in a URL's path (but not a publication date
    ``YYYY-MM-DD``: a January digest is published in February)."""
    match = _URL_MONTH.search(name if re.match(r"https?://", name, re.IGNORECASE) else Path(name).name)
    return f"{match['year']}-{match['month']}" if match else None


def validate_month(value: str) -> str:
    """Check a ``YYYY-MM`` given by the user; raise ``ValueError`` with the reason."""
    match = _MONTH.fullmatch(value.strip())
    if not match:
        raise ValueError(f"month must look like 2023-01, got {value!r}")
    return f"{match['year']}-{match['month']}"


# --- reading files -------------------------------------------------------------------------------------


_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "this is a PDF file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "this is a Word file"),
    (b"{\\rtf", "this is an RTF (Word) file"),
    (b"\x89PNG", "binary file (a PNG image)"),
    (b"\xff\xd8\xff", "binary file (a JPEG image)"),
    (b"GIF8", "binary file (a GIF image)"),
)
SAVE_AS_TEXT = "save the article as UTF-8 text, Markdown or HTML"


def binary_kind(data: bytes) -> str | None:
    """What a known binary format is ("this is a PDF file"), or ``None`` for anything else."""
    for magic, kind in _SIGNATURES:
        if data.startswith(magic):
            return kind
    if data.startswith(b"PK\x03\x04"):
        # .docx, .odt and friends are zip files: name the word-processor ones.
        head = data[:4096]
        if b"word/" in head or b"opendocument.text" in head:
            return "this is a Word file"
        return "binary file (a zip archive)"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "binary file (a WebP image)"
    return None


def decode_digest(data: bytes, source: str) -> tuple[str, str]:
    """Decode a digest's bytes: UTF-8 (with or without BOM), UTF-16 with a BOM (Windows Notepad's
    "Unicode"), else GB18030 (which covers GBK and GB2312).

    Returns the text and the encoding used. Binary data and undecodable text raise :class:`DigestError`;
    a known binary format (PDF, Word, images) is named, without a line number.
    """
    if not data.strip():
        raise DigestError(source, "file is empty")
    kind = binary_kind(data)
    if kind is not None:
        raise DigestError(source, f"{kind}; {SAVE_AS_TEXT}")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise DigestError(source, "starts like UTF-16 text but is not valid UTF-16") from None
        if not text.strip("\ufeff \r\n\t"):
            raise DigestError(source, "file is empty")
        return text.lstrip("\ufeff"), "utf-16"
    if b"\0" in data:
        raise DigestError(source, f"binary file (contains NUL bytes), not a text digest; {SAVE_AS_TEXT}")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        bad_line = data[: utf8_error.start].count(b"\n") + 1
        bad_byte = data[utf8_error.start]
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        raise DigestError(source, f"not UTF-8 text (invalid byte 0x{bad_byte:02x}), nor GB18030", bad_line) from None
    if not _CJK.search(text):
        # Bytes that happen to decode as GB18030 but hold no Chinese are some other legacy encoding.
        raise DigestError(source, f"not UTF-8 text (invalid byte 0x{bad_byte:02x})", bad_line)
    return text, "gb18030"


def read_digest_bytes(path: Path) -> bytes:
    """Read a digest file's bytes, refusing what is not a readable regular file of sensible size."""
    source = str(path)
    if not path.exists():
        raise DigestError(source, "no such file")
    if path.is_dir():
        raise DigestError(source, "is a directory, not a digest file")
    if not path.is_file():
        raise DigestError(source, "not a regular file")
    size = path.stat().st_size
    if size > MAX_DIGEST_BYTES:
        raise DigestError(
            source,
            f"file is too large ({size / 1024 / 1024:.1f} MiB; a digest is at most "
            f"{MAX_DIGEST_BYTES // 1024 // 1024} MiB)",
        )
    try:
        return path.read_bytes()
    except OSError as error:
        raise DigestError(source, f"cannot read: {error.strerror or error}") from None


# --- parsing -------------------------------------------------------------------------------------------


def parse_digest(
    text: str,
    *,
    source: str = "<digest>",
    month: str | None = None,
    data_hash: str = "",
    encoding: str = "utf-8",
) -> Digest:
    """Parse digest text. The month is ``month``, else a ``YYYY-MM`` in ``source``'s file name, else
    the most common arXiv ``yymm`` of the papers; without any, :class:`DigestError`."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = [_Line(number, raw.rstrip()) for number, raw in enumerate(text.split("\n"), start=1)]
    markdown = any(_MD_HEADING.match(line.text) and line.text.startswith("##") for line in lines)
    title, intro, items = _split_markdown(lines) if markdown else _split_text(lines, source)
    if not items:
        raise DigestError(
            source,
            "no recognisable paper (expected items such as '1、Title' or '## 1. Title'"
            " followed by a link or an author line)",
        )
    references, trailer, body_end = _split_tail(items[-1])
    items[-1].body = items[-1].body[:body_end]
    source_url, curator = _parse_trailer(trailer)
    papers = tuple(_build_paper(position, item, source) for position, item in enumerate(items, start=1))
    numbers = {reference.number for reference in references}
    papers = tuple(_with_citations(paper, numbers) for paper in papers)
    chosen, month_from = _choose_month(month, source, papers)
    return Digest(
        month=chosen,
        papers=papers,
        references=tuple(references),
        title=title,
        intro=intro,
        source_url=source_url,
        curator=curator,
        content_hash=data_hash or content_hash(text.encode()),
        source=source,
        encoding=encoding,
        month_from=month_from,
    )


def _with_citations(paper: Paper, numbers: set[int]) -> Paper:
    cited = sorted({int(n) for n in re.findall(r"\[(\d+)\]", paper.summary)} & numbers)
    if not cited:
        return paper
    return Paper(**{**paper.__dict__, "citations": tuple(cited)})


def _choose_month(month: str | None, source: str, papers: tuple[Paper, ...]) -> tuple[str, str]:
    if month:
        try:
            return validate_month(month), "--month"
        except ValueError as error:
            raise DigestError(source, str(error)) from None
    from_name = month_from_name(source)
    if from_name:
        return from_name, "file name"
    counts = Counter(paper.arxiv.month for paper in papers if paper.arxiv)
    if counts:
        best = max(counts.values())
        # Ties go to the later month: a digest covers the papers of its month and a few older ones.
        return max(m for m, c in counts.items() if c == best), "arXiv ids"
    raise DigestError(source, "cannot tell the digest's month: give --month YYYY-MM or put YYYY-MM in the file name")


def _is_link_line(text: str) -> bool:
    """A line made only of links (bare URLs, Markdown links, ``arXiv:ID``), optionally labelled."""
    if not _LINKISH.search(text):
        return False
    rest = _LINK_LABEL.sub("", text.strip())
    if not rest:
        return False
    rest = _MD_LINK.sub(" ", rest)
    rest = _URL.sub(" ", rest)
    tokens = [token for token in re.split(r"[\s|·•,，]+", rest) if token]
    leftover = [token for token in tokens if not _ARXIV_TOKEN.match(token) and not parse_arxiv_ref(token)]
    changed = rest != _LINK_LABEL.sub("", text.strip())
    return not leftover and (changed or bool(tokens))


def _links_of(text: str) -> list[str]:
    rest = _LINK_LABEL.sub("", text.strip())
    links = [match["url"] for match in _MD_LINK.finditer(rest)]
    rest = _MD_LINK.sub(" ", rest)
    links += [match.group(0).strip("<>") for match in _URL.finditer(rest)]
    rest = _URL.sub(" ", rest)
    links += [token for token in re.split(r"[\s|·•,，]+", rest) if token and parse_arxiv_ref(token)]
    return links


def _is_author_line(text: str) -> bool:
    stripped = text.strip()
    if not stripped or (_CJK.search(stripped) and not _AUTHOR_PREFIX.match(stripped)):
        return False
    if _AUTHOR_PREFIX.match(stripped):
        return bool(_AUTHOR_PREFIX.sub("", stripped).strip())
    if stripped.endswith(("?", "!", ":", "：")) or len(stripped) > 600:
        return False
    names = _split_authors(stripped)[0]
    if not names:
        return False
    return all(_looks_like_name(name) for name in names) and (len(names) > 1 or stripped.endswith("."))


def _looks_like_name(name: str) -> bool:
    words = name.split()
    if not 1 <= len(words) <= 6:
        return False
    if not words[0][:1].isupper() or not words[-1][:1].isupper():
        return False
    return all(_NAME_WORD.match(word) and (word[:1].isupper() or word.lower() in _PARTICLES) for word in words)


def _split_authors(text: str) -> tuple[list[str], bool]:
    """Names in an author line, and whether it was cut with ``et al.``."""
    body = _AUTHOR_PREFIX.sub("", text.strip()).strip()
    body = re.sub(r"[.。]\s*$", "", body)
    truncated = False
    names: list[str] = []
    for part in re.split(r"\s*(?:[,;，；、]|\band\b|&)\s*", body):
        part = part.strip().strip("*_").strip()
        if not part:
            continue
        if _ET_AL.match(part) or part.lower() in {"et al", "et al.", "等", "等人"}:
            truncated = True
            continue
        if part.lower().endswith(" et al"):
            truncated = True
            part = part[: -len(" et al")].strip()
        names.append(part)
    return names, truncated


def _split_text(lines: list[_Line], source: str = "<digest>") -> tuple[str | None, str | None, list[_Item]]:
    """Split plain text into (no title), intro and items with their body lines; references and trailer
    stay in the last item's body for :func:`_split_tail`.

    An item is a numbered line followed by a link or an author line, numbered one more than the item before.
    A line that looks like an item (numbered, followed by a link or an author line) with any other number
    is refused with its line number: merged into the previous item's summary, it would silently swallow a
    paper (before any item, it is intro text).
    """
    items: list[_Item] = []
    intro: list[str] = []
    expected: int | None = None
    unplaced: _Line | None = None  # a line numbered like the expected item that did not start one
    for index, line in enumerate(lines):
        match = _TXT_ITEM.match(line.text)
        if match and _starts_item(lines, index) and not (items and _in_references(lines, index)):
            number = int(match["num"])
            if expected is not None and number != expected:
                hint = (
                    f"; line {unplaced.number} is numbered {expected} but has no link or author line after it"
                    if unplaced is not None
                    else ""
                )
                raise DigestError(
                    source,
                    f"{line.stripped[:60]!r} looks like item {number}, but item {expected} comes next"
                    f" (after item {expected - 1} on line {items[-1].line}){hint}",
                    line.number,
                )
            items.append(_Item(number, match["title"].strip(), line.number))
            expected = number + 1
            unplaced = None
            continue
        if match and expected is not None and int(match["num"]) == expected and unplaced is None:
            unplaced = line
        if items:
            items[-1].body.append(line)
        elif line.stripped:
            intro.append(line.stripped)
    return None, "\n".join(intro) or None, items


def _in_references(lines: list[_Line], index: int) -> bool:
    """Whether ``lines[index]`` sits in a references block: a ``[n]`` reference line comes before it with
    only reference lines (or blanks) in between, or a references heading does."""
    for line in reversed(lines[:index]):
        text = line.stripped
        if not text:
            continue
        match = _REFERENCE.match(text)
        if match and match["num"]:
            return True
        if match:
            continue
        heading = text.lstrip("#").strip().strip("*_")
        return bool(_REF_HEADING.search(heading)) and len(heading) <= 40
    return False


def _starts_item(lines: list[_Line], index: int) -> bool:
    """An item header is followed (next non-blank line) by a link line or an author line."""
    for line in lines[index + 1 : index + 4]:
        if line.stripped:
            return _is_link_line(line.text) or _is_author_line(line.text)
    return False


def _split_markdown(lines: list[_Line]) -> tuple[str | None, str | None, list[_Item]]:
    title: str | None = None
    intro: list[str] = []
    items: list[_Item] = []
    counter = 0
    in_references = False
    tail: list[_Line] = []
    for line in lines:
        heading = _MD_HEADING.match(line.text)
        if heading:
            rest = heading["rest"].strip().strip("*_").strip()
            if len(heading["hashes"]) == 1 and title is None and not items:
                title = rest
                continue
            if len(heading["hashes"]) >= 2 and _REF_HEADING.search(rest) and len(rest) < 40:
                in_references = True
                tail.append(line)
                continue
            if len(heading["hashes"]) >= 2 and rest:
                in_references = False
                numbered = _MD_NUMBER.match(rest)
                counter += 1
                items.append(
                    _Item(
                        int(numbered["num"]) if numbered else counter,
                        (numbered["title"] if numbered else rest).strip(),
                        line.number,
                    )
                )
                continue
        if in_references:
            tail.append(line)
        elif items:
            items[-1].body.append(line)
        elif line.stripped:
            intro.append(line.stripped)
    if tail and items:
        # References sit after the last item: hand them back through the last body for _split_tail.
        items[-1].body.extend(tail)
    return title, "\n".join(intro) or None, items


def _split_tail(last: _Item) -> tuple[list[Reference], list[_Line], int]:
    """Find, in the last item's body, where its summary ends: a references block and/or the trailer
    (source URL, credit line and page footer). Returns references, trailer lines, and the summary end."""
    body = last.body
    credit_index = None
    for index in range(len(body) - 1, -1, -1):
        if _is_credit(body, index):
            credit_index = index
            break
    end = len(body)
    trailer: list[_Line] = []
    if credit_index is not None:
        start = credit_index
        previous = _previous_nonblank(body, credit_index)
        if previous is not None and _is_bare_url(body[previous].stripped):
            start = previous
        while start > 0 and re.fullmatch(r"[-*_=]{3,}", body[start - 1].stripped or "-" * 3):
            start -= 1
            if body[start].stripped:
                break
        trailer = body[start : credit_index + 1]
        end = start
    references: list[Reference] = []
    ref_start = end
    index = end - 1
    while index >= 0:
        stripped = body[index].stripped
        if not stripped:
            index -= 1
            continue
        match = _REFERENCE.match(stripped)
        if match and (match["num"] or references):
            references.insert(0, _parse_reference(match))
            ref_start = index
            index -= 1
            continue
        break
    if references:
        heading = _previous_nonblank(body, ref_start)
        if heading is not None:
            text = body[heading].stripped.lstrip("#").strip().strip("*_")
            if (_REF_HEADING.search(text) and len(text) <= 40) or text.endswith((":", "：")):
                ref_start = heading
        end = ref_start
    return references, trailer, end


def _is_bare_url(text: str) -> bool:
    return bool(re.fullmatch(r"<?https?://\S+>?", text))


def _previous_nonblank(body: list[_Line], index: int) -> int | None:
    for previous in range(index - 1, -1, -1):
        if body[previous].stripped:
            return previous
    return None


def _is_credit(body: list[_Line], index: int) -> bool:
    """A credit line: ``作者: Name`` next to the source URL, or ``Source: …``/``Curated by …``."""
    match = _CREDIT.match(body[index].text)
    if not match:
        return False
    if match["slabel"]:
        return True
    if match["label"] and match["label"].lower() in {"curator", "curated by", "compiled by"}:
        return True
    previous = _previous_nonblank(body, index)
    return previous is not None and _is_bare_url(body[previous].stripped)


def _parse_trailer(trailer: list[_Line]) -> tuple[str | None, str | None]:
    source_url = None
    curator = None
    for line in trailer:
        text = line.stripped
        if not text:
            continue
        urls = [m["url"] for m in _MD_LINK.finditer(text)] or [m.group(0).strip("<>") for m in _URL.finditer(text)]
        if urls and source_url is None:
            source_url = urls[0]
        credit = _CREDIT.match(line.text)
        if credit and credit["label"] and not credit["slabel"]:
            curator = credit["name"].strip()
        curated = _CURATED_BY.search(text)
        if curated:
            curator = (curated["name"] or curated["zh"]).strip()
    return source_url, curator


def _parse_reference(match: re.Match[str]) -> Reference:
    number = int(match["num"] or match["num2"])
    body = match["body"]
    parsed = _REF_BODY.match(body)
    if parsed:
        authors = tuple(_split_authors(parsed["authors"])[0]) if parsed["authors"] else ()
        year = int(parsed["year"]) if parsed["year"] else None
        return Reference(number, parsed["title"].strip().rstrip(",，"), authors, year, body)
    year_match = re.search(r"((?:19|20)\d{2})\D*$", body)
    return Reference(number, body.rstrip("."), (), int(year_match.group(1)) if year_match else None, body)


def _build_paper(position: int, item: _Item, source: str) -> Paper:
    title = item.title.strip().strip("*_").strip()
    if not title:
        raise DigestError(source, f"item {item.number} has no title", item.line)
    body = list(item.body)
    while body and not body[0].stripped:
        body.pop(0)
    links: list[str] = []
    while body and (_is_link_line(body[0].text)):
        links.extend(_links_of(body.pop(0).text))
        while body and not body[0].stripped:
            body.pop(0)
    authors: tuple[str, ...] = ()
    truncated = False
    if body and _is_author_line(body[0].text):
        names, truncated = _split_authors(body.pop(0).text)
        authors = tuple(names)
    # A link line may also follow the author line (Markdown digests often put it there).
    while body and not body[0].stripped:
        body.pop(0)
    while body and _is_link_line(body[0].text):
        links.extend(_links_of(body.pop(0).text))
    summary_lines = [line.text.rstrip() for line in body]
    while summary_lines and not summary_lines[-1].strip():
        summary_lines.pop()
    while summary_lines and not summary_lines[0].strip():
        summary_lines.pop(0)
    summary = re.sub(r"\n{3,}", "\n\n", "\n".join(summary_lines))
    arxiv: ArxivRef | None = None
    incomplete: str | None = None
    project: str | None = None
    for link in links:
        ref = parse_arxiv_ref(link)
        if ref is not None:
            arxiv = arxiv or ref
        elif is_arxiv_url(link) or (ELLIPSIS.search(link) and re.search(r"arxiv", link, re.IGNORECASE)):
            incomplete = incomplete or link
        elif project is None and not _ARXIV_TOKEN.match(link) and not ELLIPSIS.search(link.rstrip("/")):
            project = link  # a link cut short ("https://make-a-video3d.github...") is no project page
    return Paper(
        position=position,
        title=title,
        arxiv=arxiv,
        links=tuple(links),
        authors=authors,
        authors_truncated=truncated,
        summary=summary,
        incomplete_link=incomplete,
        project_url=project,
        line=item.line,
    )
