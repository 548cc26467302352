"""Digest web pages: the page's charset, and its article as text the digest parser reads.

The article is found by a real extractor, never by regular expressions over tags: trafilatura (the tree
its Markdown output is written from: formatting and links kept, comments and images off) first in its
fast mode, then in full, then readability-lxml. Navigation, sidebars, related posts, comments, the
comment form and the footer are what these extractors leave out. Each candidate is handed to
:func:`bot.digest.parse.parse_digest`; the first one in which it finds papers wins.

trafilatura's article tree is rendered by :func:`render_article` straight into the text the parser reads:
Markdown headings, lists, links and inline emphasis, a wholly bold line (``**1、Title**``) as the plain
item ``1、Title``, nothing escaped, every link absolute against the page URL. readability's article is
written as Markdown and read back by :func:`markdown_to_digest_text`.

trafilatura's metadata is off: it costs ~2.6 ms a page (more than half the text path's whole load, see
bench/bench_intake.py) and gives nothing the digest uses: the title is the article's own heading, and the
publication date is not the digest month.
"""

from __future__ import annotations

import codecs
import functools
import logging
import re
import unicodedata
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


def _trafilatura_texts(html: str, url: str | None) -> Iterator[tuple[str, str]]:
    """(extractor, digest text) from trafilatura, fast mode first, then in full.

    The page is parsed once: trafilatura copies the tree it is given before changing it. Its article
    tree is rendered here (:func:`render_article`) rather than as its Markdown, which escapes every
    special character and re-wraps emphasis only for :func:`markdown_to_digest_text` to undo it: that
    round trip was a quarter of the extraction's time. trafilatura is not given the URL: it resolves a
    relative link against the site root, not the page; :func:`render_article` resolves against the page.
    """
    import trafilatura

    tree = _tree(html)
    seen: set[str] = set()
    for name, fast in (("trafilatura-fast", True), ("trafilatura", False)):
        try:
            document = trafilatura.bare_extraction(tree, options=_extractor(fast))
            body = getattr(document, "body", None)
            text = render_article(body, url) if body is not None else None
        except Exception as error:  # the extractor's own bugs must not hide the fallback
            log.warning("%s failed on %s: %s", name, url, error)
            text = None
        if text and text not in seen:
            seen.add(text)
            yield name, text


@functools.cache
def _extractor(fast: bool) -> Any:
    """trafilatura's options, made once (they are only read): Markdown's tree (formatting and links
    kept), comments, images and metadata off; fast mode, or the full cascade favouring recall."""
    from trafilatura.settings import Extractor

    return Extractor(
        output_format="markdown",
        fast=fast,
        recall=not fast,
        comments=False,
        formatting=True,
        links=True,
        images=False,
        tables=True,
        with_metadata=False,
    )


def _tree(html: str) -> Any:
    """The page parsed by lxml (trafilatura's own loading of a string costs ~0.6 ms more a page), or
    the string when lxml refuses it."""
    from lxml import html as lxml_html

    try:
        return lxml_html.fromstring(html)
    except (ValueError, TypeError, lxml_html.etree.ParserError):
        return html


# trafilatura's article tree (its XML: head, p, list/item, quote, code, table/row/cell, hi, ref, lb, del)
_EMPHASIS = {"#b": "**", "#i": "*", "#t": "`"}


def render_article(body: Any, base_url: str | None) -> str:
    """trafilatura's article tree as the text the digest parser reads: one block per paragraph, heading
    (``#`` by level), list (``-`` or ``N.``), quote, code block or table, blank lines between them;
    links absolute against the page URL (``[text](url)``, or the bare URL when the text is the URL);
    inline emphasis as Markdown, but a line that is wholly emphasis (an item title) without its markers.
    Nothing is escaped: the parser reads plain text."""
    blocks: list[str] = []
    _render_blocks(body, blocks, base_url)
    return unicodedata.normalize("NFC", "\n\n".join(blocks))


def _render_blocks(element: Any, blocks: list[str], base_url: str | None) -> None:
    if element.text:
        _add_paragraph(element.text, blocks)
    for child in element:
        tag = child.tag
        if tag == "p" and len(child) == 0:
            if child.text:
                _add_paragraph(child.text, blocks)  # most paragraphs: plain text, nothing inline
        elif tag == "head":
            level = child.get("rend") or ""
            marks = "#" * (int(level[1]) if level[1:2] in ("1", "2", "3", "4", "5", "6") else 2)
            text = " ".join(line for line in _lines(_render_inline(child, base_url)))
            if text:
                blocks.append(f"{marks} {text}")
        elif tag == "list":
            lines: list[str] = []
            _render_list(child, lines, base_url, "")
            if lines:
                blocks.append("\n".join(lines))
        elif tag == "quote":
            lines = _lines(_render_inline(child, base_url))
            if lines:
                blocks.append("\n".join(f"> {line}" for line in lines))
        elif tag == "code":
            code = _code_text(child).strip("\n")
            if code.strip():
                blocks.append(f"```\n{code}\n```")
        elif tag == "table":
            rows = [
                "| " + " | ".join(" ".join(_lines(_render_inline(cell, base_url))) for cell in row) + " |"
                for row in child.iter("row")
            ]
            if rows:
                blocks.append("\n".join(rows))
        elif tag in ("div", "body", "section", "article"):
            _render_blocks(child, blocks, base_url)
        elif tag != "graphic":
            _add_paragraph(_render_inline(child, base_url), blocks)
        if child.tail and not child.tail.isspace():
            _add_paragraph(child.tail, blocks)


def _add_paragraph(text: str, blocks: list[str]) -> None:
    if "\n" not in text:
        line = _unwrap_emphasis(" ".join(text.split()))  # one line already: the common case
        if line:
            blocks.append(line)
        return
    lines = [_unwrap_emphasis(line) for line in _lines(text)]
    if lines:
        blocks.append("\n".join(lines))


def _lines(text: str) -> list[str]:
    """The non-blank lines of ``text``, stripped, runs of spaces made one."""
    return [" ".join(line.split()) for line in text.split("\n") if line and not line.isspace()]


def _unwrap_emphasis(line: str) -> str:
    if "*" in line or "_" in line:
        whole = _WHOLE_EMPHASIS.match(line)
        if whole:
            return str(whole["indent"] + whole["inner"])
    return line


def _render_list(element: Any, lines: list[str], base_url: str | None, indent: str) -> None:
    ordered = element.get("rend") == "ol"
    number = 0
    for item in element:
        if item.tag != "item":
            continue
        number += 1
        marker = f"{number}. " if ordered else "- "
        text = _lines(_render_inline(item, base_url, skip_lists=True))
        if text:
            lines.append(f"{indent}{marker}{_unwrap_emphasis(text[0])}")
            lines.extend(f"{indent}{' ' * len(marker)}{line}" for line in text[1:])
        for sublist in item.iterchildren("list"):
            _render_list(sublist, lines, base_url, indent + " " * len(marker))


def _render_inline(element: Any, base_url: str | None, skip_lists: bool = False) -> str:
    """An element's text with its inline children: links, emphasis, line breaks."""
    parts = [element.text or ""]
    for child in element:
        tag = child.tag
        if tag == "ref":
            parts.append(_render_link(_render_inline(child, base_url).strip(), child.get("target"), base_url))
        elif tag == "lb":
            parts.append("\n")
        elif tag == "hi" or (tag == "code" and "\n" not in _code_text(child)):
            inner = _render_inline(child, base_url)
            mark = "`" if tag == "code" else _EMPHASIS.get(child.get("rend") or "")
            core = inner.strip()
            if mark and core and "\n" not in core:
                start = inner.index(core[0])
                inner = f"{inner[:start]}{mark}{core}{mark}{inner[start + len(core) :]}"
            parts.append(inner)
        elif tag == "code":
            parts.append("\n" + _code_text(child) + "\n")
        elif tag == "list":
            if not skip_lists:
                lines: list[str] = []
                _render_list(child, lines, base_url, "")
                parts.append("\n" + "\n".join(lines) + "\n")
        elif tag != "graphic":
            parts.append(_render_inline(child, base_url, skip_lists))
        parts.append(child.tail or "")
    return "".join(parts)


def _code_text(element: Any) -> str:
    """A code element's text, its ``<lb>`` as line breaks."""
    parts = [element.text or ""]
    for child in element:
        parts.append("\n" if child.tag == "lb" else _code_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _render_link(text: str, href: str | None, base_url: str | None) -> str:
    """A link as the parser reads it: absolute, and bare when its text is its address."""
    if not href:
        return text
    absolute = urljoin(base_url, href) if base_url else href
    if not text or text in (href, absolute) or urljoin(base_url or "", text) == absolute:
        return absolute
    return f"[{text}]({absolute})"


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
    seen: set[str] = set()
    for name, text in _trafilatura_texts(html, url):
        seen.add(text)
        yield name, text
    readable = _readability(html, url)
    if readable:
        text = markdown_to_digest_text(readable, url)
        if text not in seen:
            yield "readability", text
