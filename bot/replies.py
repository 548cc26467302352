"""Answers to ``/paper …``: the one code path shared by Slack and ``paperbot search``.

:func:`paper_reply` handles every sub-command that only reads (help, list, search); sub-commands that
change something are routed by the Slack listener before it falls back to this.
"""

from __future__ import annotations

import sqlite_utils

from bot import blocks, catalog
from bot.blocks import Message
from bot.digest import validate_month
from bot.search import search


def paper_reply(db: sqlite_utils.Database, text: str) -> Message:
    """The reply to ``/paper TEXT``."""
    text = " ".join(text.split())
    head, _, rest = text.partition(" ")
    word = head.lower()
    if word in ("", "help", "-h", "--help", "?"):
        return blocks.help_message()
    if word == "list":
        return list_reply(db, rest)
    return search_reply(db, text)


def list_reply(db: sqlite_utils.Database, month_text: str) -> Message:
    """``/paper list [YYYY-MM]``: that month's papers, default the latest digest."""
    known = catalog.months(db)
    if month_text.strip():
        try:
            month = validate_month(month_text)
        except ValueError:
            return blocks.month_not_found(month_text.strip()[:40], known)
    elif known:
        month = known[0]
    else:
        return blocks.month_not_found("", known)
    digest = catalog.get_digest(db, month)
    if digest is None:
        return blocks.month_not_found(month, known)
    return blocks.digest_list(digest, known)


def search_reply(db: sqlite_utils.Database, query: str) -> Message:
    """A card for one clear winner, a short list for several, a helpful nothing otherwise."""
    result = search(db, query)
    if result.kind == "winner":
        return blocks.paper_card(result.papers[0], corrected=result.corrected)
    if result.kind == "choices":
        return blocks.choices(query, result.papers, corrected=result.corrected, partial=result.partial)
    browse = catalog.some_titles(db) if result.arxiv_ref is None else []
    return blocks.nothing_found(query, arxiv_id=result.arxiv_ref.id if result.arxiv_ref else None, browse=browse)
