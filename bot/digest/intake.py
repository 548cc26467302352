"""Digest sources: a path, a URL or bytes from Slack turned into a :class:`Source`, and a source parsed
into a :class:`~bot.digest.parse.Digest` (text, Markdown or an HTML page).

The month rules live here: ``--month``, else a ``YYYY-MM`` in the file name or URL, else the most common
arXiv ``yymm``; a ``--month`` that contradicts the name's month is refused unless the load replaces.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from bot.digest.fetch import fetch_page, is_url
from bot.digest.html import article_texts, decode_html, looks_like_html
from bot.digest.parse import (
    Digest,
    DigestError,
    content_hash,
    decode_digest,
    month_from_name,
    parse_digest,
    read_digest_bytes,
    validate_month,
)
from bot.digest.versions import Source

HTML_SUFFIXES = (".html", ".htm", ".xhtml")
TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".text")


def source_from_path(path: Path) -> Source:
    data = read_digest_bytes(path)
    html = path.suffix.lower() in HTML_SUFFIXES or looks_like_html(data)
    return Source(name=str(path), data=data, kind="html" if html else "text")


def source_from_url(url: str) -> Source:
    fetched = fetch_page(url)
    html = fetched.content_type in ("text/html", "application/xhtml+xml") or looks_like_html(fetched.data)
    return Source(
        name=url, data=fetched.data, kind="html" if html else "text", url=fetched.final_url, charset=fetched.charset
    )


def source_from_bytes(name: str, data: bytes, url: str | None = None) -> Source:
    """A file received another way (a Slack upload): its kind from its name, else its bytes."""
    html = name.lower().endswith(HTML_SUFFIXES) or looks_like_html(data)
    return Source(name=name, data=data, kind="html" if html else "text", url=url)


def read_source(argument: str) -> Source:
    """``paperbot load ARG``: an http(s) URL is fetched, anything else is a path."""
    if is_url(argument):
        return source_from_url(argument)
    if re.match(r"^[a-z][a-z0-9+.-]*://", argument, re.IGNORECASE):
        raise DigestError(argument, "only http:// and https:// URLs can be fetched")
    return source_from_path(Path(argument))


def check_month(source_name: str, month: str | None) -> None:
    """Refuse a ``--month`` that contradicts the ``YYYY-MM`` in the source's name."""
    if month is None:
        return
    named = month_from_name(source_name)
    if named is not None and named != validate_month(month):
        raise DigestError(
            source_name,
            f"--month {month} contradicts the {named} in its name; nothing loaded"
            f" (give --replace to load it as {month} anyway)",
        )


def parse_source(source: Source, month: str | None = None) -> Digest:
    """Parse a source's bytes (no network: a URL source carries what was fetched)."""
    data_hash = content_hash(source.data)
    if source.kind == "text":
        text, encoding = decode_digest(source.data, source.name)
        return parse_digest(text, source=source.name, month=month, data_hash=data_hash, encoding=encoding)
    html, encoding = decode_html(source.data, source.charset, source.name)
    first_error: DigestError | None = None
    best: tuple[tuple[int, int, int], Digest] | None = None
    base = source.url or (source.name if is_url(source.name) else None)
    for _extractor, text in article_texts(html, base):
        title, body = _split_title(text)
        try:
            digest = parse_digest(body, source=source.name, month=month, data_hash=data_hash, encoding=encoding)
        except DigestError as error:
            first_error = first_error or error
            continue
        digest = dataclasses.replace(digest, title=digest.title or title)
        linked = sum(1 for paper in digest.papers if paper.links)
        score = (len(digest.papers), linked, sum(len(paper.links) for paper in digest.papers))
        if best is None or score > best[0]:
            best = (score, digest)
        if linked == len(digest.papers):
            break  # every paper kept its link: no other extractor can do better on what matters
    if best is not None:
        return best[1]
    if first_error is None or "no recognisable paper" in first_error.reason:
        raise DigestError(source.name, "no papers found in the page's article (is this the digest's page?)")
    # Line numbers of extracted text mean nothing to the user: keep the reason only.
    raise DigestError(source.name, first_error.reason)


def _split_title(text: str) -> tuple[str | None, str]:
    """A page's ``# Title`` line (the article's heading) apart from the text, when the rest is not
    Markdown-sectioned (then the parser takes the title itself)."""
    lines = text.split("\n")
    if any(line.startswith("## ") for line in lines):
        return None, text
    for index, line in enumerate(lines):
        if line.strip():
            if line.startswith("# "):
                return line[2:].strip() or None, "\n".join(lines[index + 1 :])
            break
    return None, text
