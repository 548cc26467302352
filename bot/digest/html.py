"""Digest web pages: the page's charset, and its article as text the digest parser reads.

The article is found by a real extractor, never by regular expressions over tags: trafilatura (Markdown
output, links kept, comments and images off) first in its fast mode, then in full, then readability-lxml.
Navigation, sidebars, related posts, comments, the comment form and the footer are what these extractors
leave out. Each candidate is handed to :func:`bot.digest.parse.parse_digest`; the first one in which it
finds papers wins.

Markdown that trafilatura writes for emphasis and escapes is undone where the digest parser expects plain
lines (``**1、Title**`` is the item ``1、Title``), and every link is made absolute against the page URL.
"""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

from bot.digest.parse import DigestError

log = logging.getLogger("bot.digest.html")

_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*(?P<charset>[A-Za-z0-9_\-:.]+)""",
    re.IGNORECASE,
)
_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|meta|title)\b", re.I | re.S)
_MD_LINK = re.compile(r"(?<!\\)\[(?P<text>(?:[^\]\\]|\\.)*)\]\((?P<url>[^)\s]*)\)")
_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])")
_WHOLE_EMPHASIS = re.compile(
    r"^(?P<indent>\s*(?:[-*]\s+|#{1,6}\s+)?)(?P<mark>\*\*|__|\*|_)(?P<inner>\S.*?\S|\S)(?P=mark)\s*$"
)


def looks_like_html(data: bytes) -> bool:
    """Whether bytes are an HTML document (for files named .txt that are really saved pages)."""
    head = data[:2048].lstrip(b"\xef\xbb\xbf")
    return bool(_HTML_START.match(head))


def _codec(name: str) -> str | None:
    """Python's codec for a charset label; GBK and GB2312 are read as GB18030, their superset (pages
    labelled GB2312 routinely use GBK characters)."""
    try:
        codec = codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None
    return "gb18030" if codec in ("gbk", "gb2312") else codec


def decode_html(data: bytes, header_charset: str | None, source: str) -> tuple[str, str]:
    """The page's text and the charset used: the HTTP header's, else ``<meta charset>``, else detected.

    A declared charset the bytes do not follow is refused (one line, saying which was declared where):
    guessing past a wrong declaration is how pages turn into mojibake that still parses.
    """
    if not data.strip():
        raise DigestError(source, "the page is empty")
    declared: list[tuple[str, str]] = []
    if header_charset:
        declared.append((header_charset, "the HTTP header"))
    meta = _META_CHARSET.search(data[:8192])
    if meta:
        declared.append((meta["charset"].decode("ascii", "replace"), "<meta charset>"))
    if data.startswith(b"\xef\xbb\xbf"):
        declared = [("utf-8", "its byte-order mark")]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        declared = [("utf-16", "its byte-order mark")]
    for label, where in declared:
        codec = _codec(label)
        if codec is None:
            continue  # an unknown label: the next declaration, or detection
        try:
            return data.decode(codec), codec
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            raise DigestError(
                source,
                f"the page declares charset {label!r} in {where} but is not {label} (invalid byte "
                f"0x{data[error.start]:02x} on line {line}); fix the declaration or save the page as UTF-8",
            ) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise DigestError(source, "cannot tell the page's charset (none declared, and it is not text)")
    return str(best), _codec(best.encoding) or best.encoding


def _candidates(html: str, url: str | None) -> Iterator[tuple[str, str]]:
    """(extractor, Markdown-ish text) for the article, best extractor first."""
    import trafilatura

    options = {
        "url": url,
        "output_format": "markdown",
        "include_links": True,
        "include_comments": False,
        "include_images": False,
        "include_formatting": True,
        "include_tables": True,
        "with_metadata": False,
    }
    seen: set[str] = set()
    for name, extra in (("trafilatura-fast", {"fast": True}), ("trafilatura", {"favor_recall": True})):
        try:
            text = trafilatura.extract(_tree(html), **options, **extra)  # type: ignore[arg-type]
        except Exception as error:  # the extractor's own bugs must not hide the fallback
            log.warning("%s failed on %s: %s", name, url, error)
            text = None
        if text and text not in seen:
            seen.add(text)
            yield name, text
    readable = _readability(html, url)
    if readable and readable not in seen:
        yield "readability", readable


def _tree(html: str) -> Any:
    """The page parsed by lxml (trafilatura's own loading of a string costs ~0.6 ms more a page; it
    changes the tree, so each extraction gets a fresh one), or the string when lxml refuses it."""
    from lxml import html as lxml_html

    try:
        return lxml_html.fromstring(html)
    except (ValueError, TypeError, lxml_html.etree.ParserError):
        return html


def _readability(html: str, url: str | None) -> str | None:
    """readability-lxml's article, turned into one line per block with Markdown links."""
    try:
        from lxml import html as lxml_html
        from readability import Document

        summary = Document(html, url=url).summary(html_partial=True)
        tree = lxml_html.fromstring(summary)
    except Exception as error:
        log.warning("readability failed on %s: %s", url, error)
        return None
    lines: list[str] = []
    blocks = ("h1", "h2", "h3", "h4", "p", "li", "pre", "blockquote")
    for element in tree.iter(*blocks):
        if any(ancestor.tag in blocks for ancestor in element.iterancestors()):
            continue
        text = _inline(element).strip()
        if not text:
            continue
        if element.tag in ("h1", "h2", "h3", "h4"):
            text = "#" * int(element.tag[1]) + " " + text
        elif element.tag == "li":
            text = "- " + text
        lines.append(text)
    return "\n\n".join(lines) or None


def _inline(element: Any) -> str:
    """An element's text with its links as Markdown links and ``<br>`` as line breaks."""
    parts = [element.text or ""]
    for child in element:
        if not isinstance(child.tag, str):
            pass  # a comment or processing instruction: only its tail is text
        elif child.tag == "a" and child.get("href"):
            parts.append(f"[{child.text_content().strip()}]({child.get('href')})")
        elif child.tag == "br":
            parts.append("\n")
        else:
            parts.append(_inline(child))
        parts.append(child.tail or "")
    return "".join(parts)


def markdown_to_digest_text(markdown: str, base_url: str | None) -> str:
    """Extractor Markdown → what the digest parser reads: links absolute (``[url](url)`` as the bare URL),
    escapes undone, and a line that is wholly bold or italic (an item title) without its markers."""
    lines = []
    for line in markdown.replace("\r\n", "\n").split("\n"):
        # Most lines are plain prose: the regular expressions only run where their markers are.
        if "](" in line:
            line = _MD_LINK.sub(lambda match: _link(match["text"], match["url"], base_url), line)
        if "*" in line or "_" in line:
            emphasis = _WHOLE_EMPHASIS.match(line)
            if emphasis:
                line = emphasis["indent"] + emphasis["inner"]
        if "\\" in line:
            line = _ESCAPED.sub(r"\1", line)
        lines.append(line)
    return "\n".join(lines)


def _link(text: str, url: str, base_url: str | None) -> str:
    absolute = urljoin(base_url, url) if base_url else url
    label = _ESCAPED.sub(r"\1", text).strip()
    if not label or label in (url, absolute) or urljoin(base_url or "", label) == absolute:
        return absolute
    return f"[{label}]({absolute})"


def article_texts(html: str, url: str | None) -> Iterator[tuple[str, str]]:
    """(extractor, digest text) candidates for a page, best first."""
    for name, markdown in _candidates(html, url):
        yield name, markdown_to_digest_text(markdown, url)
