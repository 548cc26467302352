"""Answers to ``/paper …``: the one code path shared by Slack and ``paperbot search``.

:func:`paper_reply` handles every sub-command that only reads (help, list, search); sub-commands that
change something are routed by the Slack listener before it falls back to this.
"""

from __future__ import annotations

import logging

import sqlite_utils

from bot.arxiv.enrich import enrichment_status, request_enrichment
from bot.cite import bibtex
from bot.cite.records import citation_record
from bot.db import DatabaseProblem, read_snapshot, user_write
from bot.digest import catalog
from bot.digest.catalog import PaperView
from bot.digest.months import MonthError, parse_month
from bot.digest.references import find_references
from bot.roundup.post import load_roundup, roundup_states
from bot.search.query import MAX_CANDIDATES, search
from bot.search.related import related_papers
from bot.slack import blocks, card_blocks, mrkdwn
from bot.slack.blocks import Message
from bot.suggestions.blocks import suggestion_list
from bot.suggestions.model import count_open, open_suggestions

log = logging.getLogger("bot.slack.replies")

NO_DIGEST = "no digest loaded yet — `paperbot load FILE_OR_URL`"


def paper_reply(db: sqlite_utils.Database, text: str) -> Message:
    """The reply to ``/paper TEXT``."""
    text = " ".join(text.split())
    head, _, rest = text.partition(" ")
    word = head.lower()
    if word in ("", "help", "-h", "--help", "?"):
        return blocks.help_message()
    if word == "list":
        return list_reply(db, rest)
    if word == "suggestions":
        return suggestion_list(open_suggestions(db), count_open(db))
    if word == "cite":
        return cite_reply(db, rest)
    if word == "suggest":
        return blocks.notice("Suggesting is done in Slack: /paper suggest ARXIV_ID_OR_URL [why].")
    if word in ("load", "watch", "watches", "unwatch"):
        return blocks.notice(f"/paper {word} is done in Slack (paperbot load FILE_OR_URL loads from the shell).")
    if word == "roundup":
        post, month_text = parse_roundup_args(rest)
        if post:
            return blocks.notice(
                "Posting a roundup is done in Slack with /paper roundup post (admins only) "
                "or with paperbot roundup --post."
            )
        return roundup_preview(db, month_text)
    return search_reply(db, text)


def parse_roundup_args(rest: str) -> tuple[bool, str]:
    """``roundup [post] [YYYY-MM]`` → (post?, month text)."""
    words = rest.split()
    post = bool(words) and words[0].lower() == "post"
    return post, " ".join(words[1:] if post else words)


def resolve_month(db: sqlite_utils.Database, month_text: str) -> str | Message:
    """The month asked for in any form people write (bot.digest.months; default: the latest digest), or
    the message saying why there is none, with the months that have one."""
    known = catalog.months(db)
    if month_text.strip():
        try:
            month = parse_month(month_text, known)
        except MonthError:
            return blocks.month_not_found(month_text.strip()[:40], known)
        return month if month in known else blocks.month_not_found(month, known)
    return known[0] if known else blocks.month_not_found("", known)


def roundup_preview(db: sqlite_utils.Database, month_text: str) -> Message:
    """``/paper roundup [YYYY-MM]``: the headline as the channel would see it, and where it stands."""
    month = resolve_month(db, month_text)
    if isinstance(month, Message):
        return month
    roundup = load_roundup(db, month)
    states = roundup_states(db, month)
    status = "; ".join(state.describe() for state in states) or "not posted anywhere yet"
    note = blocks.context(
        f"Preview, only you see this. In the channel, its thread holds {len(roundup.replies)} replies with the "
        f"full summaries. Status: {blocks.fit(status, 1500)}"
    )
    return Message(text=roundup.headline.text, blocks=(*roundup.headline.blocks, note))


def list_reply(db: sqlite_utils.Database, month_text: str) -> Message:
    """``/paper list [YYYY-MM]``: that month's papers, default the latest digest."""
    month = resolve_month(db, month_text)
    if isinstance(month, Message):
        return month
    digest = catalog.get_digest(db, month)
    if digest is None:
        return blocks.month_not_found(month, catalog.months(db))
    return blocks.digest_list(digest, catalog.months(db))


def search_reply(db: sqlite_utils.Database, query: str) -> Message:
    """A card for one clear winner, a short list for several, a helpful nothing otherwise. A query that
    names a reference of a digest (``soundstream``) answers with it: under the card of a paper that
    matches too, else on its own with the papers that cite it."""
    with read_snapshot(db):
        return _search_reply(db, query)


def _search_reply(db: sqlite_utils.Database, query: str) -> Message:
    if catalog.latest_month(db) is None:  # one index lookup; months() reads them all (1,000 at 100k papers)
        return blocks.notice(NO_DIGEST)
    result = search(db, query)
    references = find_references(db, query) if result.arxiv_ref is None else ()
    if references:
        if result.kind == "winner" and not result.partial:
            card = blocks.paper_card(result.papers[0], corrected=result.corrected)
            return Message(text=card.text, blocks=(*card.blocks, card_blocks.reference_lines(references)))
        return card_blocks.reference_answer(references)
    prefix = f"*{mrkdwn.escape(result.id_prefix)}*" if result.id_prefix is not None else None
    if result.kind == "winner":
        note = f"No paper has the arXiv id {prefix}; this is the one whose id starts with it." if prefix else None
        return blocks.paper_card(result.papers[0], corrected=result.corrected, note=note)
    if result.kind == "choices":
        heading = None
        if prefix:
            count = f"More than {MAX_CANDIDATES}" if result.id_matches > MAX_CANDIDATES else str(result.id_matches)
            shown = f" The first {len(result.papers)}:" if result.id_matches > len(result.papers) else " Pick one:"
            heading = f"{count} papers have an arXiv id starting with {prefix}.{shown}"
        return blocks.choices(
            query,
            result.papers,
            corrected=result.corrected,
            partial=result.partial,
            alternatives=result.alternatives,
            heading=heading,
        )
    if result.arxiv_ref is not None:
        return blocks.nothing_found(query, arxiv_id=result.arxiv_ref.id)
    if result.papers:
        return blocks.nothing_found(query, closest=result.papers)
    return blocks.nothing_found(query, browse=catalog.some_titles(db))


def _one_paper(db: sqlite_utils.Database, query: str) -> PaperView | Message:
    """The paper a query clearly means, or the reply that says it is not clear (a list, or nothing)."""
    result = search(db, query)
    if result.kind == "winner":
        return result.papers[0]
    if result.kind == "choices":
        return blocks.choices(
            query, result.papers, corrected=result.corrected, partial=result.partial, alternatives=result.alternatives
        )
    if result.arxiv_ref is not None:
        return blocks.nothing_found(query, arxiv_id=result.arxiv_ref.id)
    return blocks.nothing_found(query, closest=result.papers, browse=() if result.papers else catalog.some_titles(db))


def cite_reply(db: sqlite_utils.Database, query: str) -> Message:
    """``/paper cite QUERY``: the paper's BibTeX entry."""
    if not query.strip():
        return blocks.notice(
            "Usage: /paper cite QUERY (a nickname, title words or an arXiv id), e.g. /paper cite musiclm"
        )
    paper = _one_paper(db, query)
    return citation_message(db, paper) if isinstance(paper, PaperView) else paper


def citation_message(db: sqlite_utils.Database, paper: PaperView) -> Message:
    record = citation_record(db, paper.paper_id)
    if record is None:
        return blocks.notice("That paper is no longer in the digests.")
    return card_blocks.bibtex(paper, bibtex.entry(record))


def abstract_message(db: sqlite_utils.Database, paper: PaperView) -> Message:
    """The English abstract, or (not enriched yet) why not, with the paper queued for enrichment."""
    if paper.abstract:
        return card_blocks.english_abstract(paper)
    try:
        # A click waits on the write lock only as long as a vote would (bot.db.user_write).
        with user_write(db):
            status, detail, queued = request_enrichment(db, paper.paper_id)
    except DatabaseProblem as problem:
        log.warning("enrichment of paper %s not queued: %s", paper.paper_id, problem)
        status, detail = enrichment_status(db, paper.paper_id)
        queued = False
    return card_blocks.not_enriched(paper, status, detail, queued)


def english_reply(db: sqlite_utils.Database, query: str) -> Message:
    """``paperbot search QUERY --en``: the English abstract of the paper the query means."""
    paper = _one_paper(db, query)
    return abstract_message(db, paper) if isinstance(paper, PaperView) else paper


def related_message(db: sqlite_utils.Database, paper: PaperView) -> Message:
    found = related_papers(db, paper.paper_id)
    views = {view.paper_id: view for view in catalog.get_papers(db, [item.paper_id for item in found])}
    return card_blocks.related(
        paper, [(views[item.paper_id], item.reasons) for item in found if item.paper_id in views]
    )
