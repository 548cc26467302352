"""Block Kit for paperbot in the conversation: arXiv link unfurls and the compact cards of @mentions.

Pure functions from views (:class:`~bot.digest.catalog.PaperView`, :class:`~bot.suggestions.model.Suggestion`,
:class:`~bot.arxiv.cache.ArxivPaper`) to payloads. An unfurl is what ``chat.unfurl`` takes for one URL
(``{"blocks": [...]}``); a compact card is a :class:`~bot.slack.blocks.Message` posted in a thread, public,
so it stays short and its *Full summary* button answers only the person who clicks. Everything a user,
a digest or arXiv wrote is escaped (:mod:`bot.slack.mrkdwn`). Unfurl blocks carry no ``block_id``: one
message may unfurl the same paper twice (its abs and its pdf link), and Slack makes its own ids unique.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from bot.arxiv.cache import ArxivPaper
from bot.digest.catalog import PaperView
from bot.digest.months import month_name
from bot.search.terms import nicknames
from bot.slack import mrkdwn
from bot.slack.blocks import (
    HELP_LINES,
    Block,
    Message,
    actions,
    authors_line,
    button,
    context,
    fit,
    section,
    title_link,
)
from bot.slack.ids import ACTION_FULL_SUMMARY, ACTION_LINK, ACTION_UNFURL_SUGGEST, COMMAND
from bot.suggestions.blocks import vote_button
from bot.suggestions.model import Suggestion

Unfurl = dict[str, Any]

GIST_CHARS = 300
"""The first sentence of a summary, or of an abstract, is cut at this many characters."""
GIST_ESCAPED_CHARS = 900
"""Room for a gist once escaped (``&`` becomes ``&amp;``): with the title and authors, a section stays
under Slack's 3,000 characters and is never cut inside an entity or a link."""
MAX_AUTHORS = 3
BOT_NAME = "@paperbot"

_SENTENCE_END = re.compile(r"[。！？!?]|\.(?=\s|$)")


def digest_place(paper: PaperView) -> str:
    """``January 2023 digest · #1`` (plain text: escape before use)."""
    return f"{month_name(paper.month)} digest · #{paper.position}"


def first_sentence(text: str, limit: int = GIST_CHARS) -> str:
    """The first sentence of ``text`` (plain), bullets and line breaks folded; at most ``limit`` characters."""
    flat = " ".join(re.sub(r"(?m)^\s*[-*•]\s+", "", text).split())
    match = _SENTENCE_END.search(flat)
    sentence = flat[: match.end()] if match else flat
    return mrkdwn.truncate(sentence, limit)


def hint_query(paper: PaperView) -> str:
    """What to type after ``/paper`` to get this paper's card: its one-word nickname, else its arXiv id,
    else the start of its title."""
    for nick in nicknames(paper.digest_title, paper.summary):
        if " " not in nick and len(nick) <= 30:
            return nick.lower()
    if paper.arxiv_id:
        return paper.arxiv_id
    return " ".join(paper.digest_title.split()[:4])


def _names(names: Sequence[str]) -> str:
    if not names:
        return "Authors unknown"
    if len(names) > MAX_AUTHORS:
        others = len(names) - MAX_AUTHORS
        return ", ".join(names[:MAX_AUTHORS]) + f" and {others} other{'s' if others > 1 else ''}"
    return ", ".join(names)


def _linked_title(url: str, title: str) -> str:
    return f"*{mrkdwn.link(url, mrkdwn.truncate(' '.join(title.split()), 250))}*"


def _votes(count: int) -> str:
    return f"{count} vote{'s' if count != 1 else ''}"


# --- unfurls -------------------------------------------------------------------------------------------


def digest_unfurl(paper: PaperView) -> Unfurl:
    """A paper the team covered: title, authors, "January 2023 digest · #1", the first sentence of the
    team's summary, the ``/paper`` query for the rest, and *Full summary* for whoever clicks."""
    summary = first_sentence(paper.summary) if paper.summary.strip() else "(The digest has no summary for it.)"
    query = hint_query(paper)
    blocks: list[Block] = [
        section(f"{title_link(paper)}\n{fit(authors_line(paper, MAX_AUTHORS), 400)}"),
        context(f"📚 *{mrkdwn.escape(digest_place(paper))}*"),
        section(mrkdwn.from_markdown(fit(summary, GIST_ESCAPED_CHARS))),
        context(f"`{COMMAND} {fit(query, 60)}` for the rest"),
        actions(button("Full summary", ACTION_FULL_SUMMARY, str(paper.paper_id))),
    ]
    return {"blocks": blocks}


def suggestion_unfurl(suggestion: Suggestion) -> Unfurl:
    """A paper suggested for the next roundup: what arXiv says of it, "Suggested by @x · N votes", and the
    same *Vote* toggle as its suggestion card."""
    lines = [_linked_title(suggestion.abs_url, suggestion.title or f"arXiv {suggestion.arxiv_id}")]
    lines.append(fit(_names(suggestion.authors) if suggestion.authors else "Authors not known yet", 400))
    if suggestion.abstract:
        lines.append(fit(first_sentence(suggestion.abstract), GIST_ESCAPED_CHARS))
    blocks: list[Block] = [
        section("\n".join(lines)),
        context(f"Suggested by {mrkdwn.user(suggestion.suggested_by)} · {_votes(suggestion.votes)}"),
        actions(vote_button(suggestion)),
    ]
    return {"blocks": blocks}


def arxiv_unfurl(paper: ArxivPaper) -> Unfurl:
    """Any other arXiv paper: its title, authors and the gist of its abstract, and *Suggest for roundup*."""
    lines = [_linked_title(paper.abs_url, paper.title or f"arXiv {paper.arxiv_id}"), fit(_names(paper.authors), 400)]
    if paper.abstract.strip():
        lines.append(fit(first_sentence(paper.abstract), GIST_ESCAPED_CHARS))
    facts = f"arXiv {mrkdwn.escape(paper.arxiv_id)}"
    if paper.primary_category:
        facts += f" · {mrkdwn.escape(paper.primary_category)}"
    blocks: list[Block] = [
        section("\n".join(lines)),
        context(facts + " · not in the team's digests yet"),
        actions(button("Suggest for roundup", ACTION_UNFURL_SUGGEST, paper.arxiv_id)),
    ]
    return {"blocks": blocks}


# --- @mentions -----------------------------------------------------------------------------------------


def compact_card(paper: PaperView) -> Message:
    """The public answer to ``@paperbot QUERY``: title, authors, digest month and position, the gist and
    the arXiv link; *Full summary* shows the whole summary to the clicker alone."""
    facts = mrkdwn.escape(digest_place(paper))
    if paper.abs_url and paper.arxiv_id:
        facts += f" · arXiv {mrkdwn.link(paper.abs_url, paper.arxiv_id)}"
    elif paper.project_url:
        facts += f" · {mrkdwn.link(paper.project_url, 'project page')}"
    gist = first_sentence(paper.summary) if paper.summary.strip() else "(The digest has no summary for it.)"
    buttons = [button("Full summary", ACTION_FULL_SUMMARY, str(paper.paper_id))]
    if paper.abs_url:
        buttons.append(button("arXiv", ACTION_LINK + "_abs", url=paper.abs_url))
    blocks: tuple[Block, ...] = (
        section(f"{title_link(paper)}\n{fit(authors_line(paper, MAX_AUTHORS), 400)}"),
        context(facts),
        section(mrkdwn.from_markdown(fit(gist, GIST_ESCAPED_CHARS))),
        actions(*buttons, block_id=f"compact_{paper.paper_id}"),
    )
    return Message(text=f"{fit(paper.title, 300)} ({fit(digest_place(paper), 60)})", blocks=blocks)


def compact_choices(query: str, papers: Sequence[PaperView]) -> Message:
    """Several papers match a mention: their titles and where they were covered, and how to pick one."""
    shown = list(papers[:5])
    lines = [f"• {title_link(paper)} ({mrkdwn.escape(digest_place(paper))})" for paper in shown]
    blocks = (
        section(f"{len(shown)} papers match *{fit(query, 200)}*:\n" + "\n".join(lines)),
        context(f"Ask `{BOT_NAME} NAME` with a nickname or an arXiv id for one of them."),
    )
    return Message(text=f"{len(shown)} papers match “{fit(query, 100)}”", blocks=blocks)


def mention_help() -> Message:
    """``@paperbot`` alone: what a mention can do. Every ``/paper`` sub-command works after ``@paperbot``."""
    lines = "\n".join(
        f"• `{usage.replace(COMMAND, BOT_NAME, 1)}` — {mrkdwn.escape(what)}"
        for usage, what in HELP_LINES
        if not usage.endswith(" help")
    )
    body = (
        f"Mention me with a paper and I answer in the thread (`{BOT_NAME} musiclm`, an arXiv link, title words, "
        f"an author), or with anything `{COMMAND}` takes:\n{lines}"
    )
    note = f"Private answers are shown to you alone; a direct message to me works like `{COMMAND}` too."
    return Message(
        text="Mention me with a paper name, an arXiv link or an author.", blocks=(section(body), context(note))
    )
