"""BibTeX entries in arXiv's own style (``@misc`` with ``eprint``, ``archivePrefix``, ``primaryClass``).

Text is escaped for LaTeX so that any title survives: ``\\ { } % & $ # _ ^ ~`` become commands, and
braces are written as ``\\textbraceleft{}`` / ``\\textbraceright{}`` because BibTeX counts every brace in a
field, escaped or not, and one unbalanced brace breaks the whole file. Accented letters stay as they are
(UTF-8: biber, bibtex8 and every reference manager read them). Words with capitals past their first
letter (``MusicLM``, ``GPT-4``) are wrapped in braces so that styles which lowercase titles keep them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.cite.records import CitationRecord

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "%": r"\%",
    "&": r"\&",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "^": r"\textasciicircum{}",
    "~": r"\textasciitilde{}",
}
_SPECIAL_RE = re.compile("|".join(re.escape(char) for char in _SPECIAL))


_LIGATURE = re.compile(r"(?<=-)(?=-)|(?<=')(?=')|(?<=`)(?=`)|(?<=,)(?=,)|(?<=<)(?=<)|(?<=>)(?=>)|(?<=[?!])(?=`)")
"""Character pairs LaTeX fonts join into another character (``--`` an en dash, ``''`` a closing quote)."""


_NEEDS_ESCAPE = re.compile(r"[\\{}%&$#_^~]|--|''|``|,,|<<|>>|[?!]`")
_WORD_PARTS = re.compile(r"(\W*)(.*?)(\W*)")
_INNER_CAPITAL = re.compile(r"[^\W\d_]\S*?[A-Z]")
_MISREAD_NAME = re.compile(r"\band\b|,", re.IGNORECASE)


def escape(text: str) -> str:
    """Plain text as LaTeX: specials escaped, whitespace (newlines included) collapsed, and ligatures
    broken with ``{}`` so that the text prints as written."""
    text = " ".join(text.split())
    if _NEEDS_ESCAPE.search(text) is None:  # most names and titles: nothing to do (export speed)
        return text
    escaped = _SPECIAL_RE.sub(lambda match: _SPECIAL[match.group(0)], text)
    return _LIGATURE.sub("{}", escaped)


def _protected_word(word: str) -> str:
    match = _WORD_PARTS.fullmatch(word)
    assert match is not None  # the pattern matches any string
    lead, core, tail = match.groups()
    if _INNER_CAPITAL.search(core):
        return escape(lead) + "{" + escape(core) + "}" + escape(tail)
    return escape(word)


def title_field(title: str) -> str:
    """The title escaped, with capitals past a word's first letter protected by braces."""
    if _INNER_CAPITAL.search(title) is None:
        return escape(title)
    return " ".join(_protected_word(word) for word in title.split())


def author_field(authors: Iterable[str], complete: bool = True) -> str:
    """Names joined with ``and``; a name BibTeX would misread (one holding ``and`` or a comma) is braced."""
    names = []
    for name in authors:
        escaped = escape(name)
        if _MISREAD_NAME.search(name):
            escaped = "{" + escaped + "}"
        if escaped:
            names.append(escaped)
    if not complete or not names:
        names.append("others")
    return " and ".join(names)


def entry(record: CitationRecord) -> str:
    """One ``@misc`` entry."""
    fields: list[tuple[str, str]] = [
        ("title", title_field(record.title)),
        ("author", author_field(record.authors, record.authors_complete)),
        ("year", str(record.year)),
    ]
    if record.arxiv_id:
        fields += [("eprint", escape(record.arxiv_id)), ("archivePrefix", "arXiv")]
        if record.primary_class:
            fields.append(("primaryClass", escape(record.primary_class)))
    if record.url:
        fields.append(("url", record.url.replace("{", "%7B").replace("}", "%7D").replace(" ", "%20")))
    if record.doi:
        fields.append(("doi", escape(record.doi)))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{record.key},\n{body}\n}}\n"


def bibliography(records: Iterable[CitationRecord]) -> Iterable[str]:
    """Entries one by one, separated by a blank line (written as they come: 100,000 fit in no buffer)."""
    for index, record in enumerate(records):
        yield ("\n" if index else "") + entry(record)
