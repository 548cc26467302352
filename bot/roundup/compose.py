"""The monthly roundup as Slack messages: pure builders, no I/O.

A roundup is a headline message for the channel and, in its thread, one reply per paper with the whole
summary. Nothing is truncated: a headline too large for one message continues in the thread first, and
a summary too long for one reply continues in the next (Slack: 50 blocks and 3,000 characters per
section; a message is also kept under :data:`MAX_MESSAGE_CHARS` of text so Slack accepts its size).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.digest.catalog import DigestView, PaperView
from bot.digest.months import month_name
from bot.slack import mrkdwn
from bot.slack.blocks import (
    SECTION_LIMIT,
    Block,
    Message,
    context,
    fit,
    join_limited,
    section,
    split_sections,
    title_link,
)
from bot.slack.ids import COMMAND
from bot.suggestions.model import MAX_PICKS, Pick

MAX_MESSAGE_CHARS = 12_000
"""Block text per message; Slack's documented ceiling for a message is higher, this keeps it readable."""
MAX_MESSAGE_BLOCKS = 45
GIST_CHARS = 160


@dataclass(frozen=True)
class Roundup:
    month: str
    headline: Message
    replies: tuple[Message, ...]
    pick_ids: tuple[int, ...] = ()
    """The suggestions shown as team picks (marked as included once the roundup is posted)."""


def gist(summary: str, limit: int = GIST_CHARS) -> str:
    """The summary's first sentence (or line), at most ``limit`` characters."""
    first = summary.strip().split("\n", 1)[0]
    match = re.match(r"(.+?[。！？!?]|.+?\.(?=\s|$))", first)
    sentence = match.group(1) if match else first
    return mrkdwn.truncate(sentence.strip(), limit)


def _paper_line(paper: PaperView) -> str:
    ident = f" · `{paper.arxiv_id}`" if paper.arxiv_id else ""
    summary = mrkdwn.from_markdown(fit(gist(paper.summary), GIST_CHARS + 40))
    return f"{paper.position}. {title_link(paper)}{ident}\n{summary}"


def _picks_block(picks: Sequence[Pick]) -> Block:
    lines = []
    for number, pick in enumerate(picks[:MAX_PICKS], start=1):
        who = ", ".join(mrkdwn.user(user) for user in pick.suggested_by[:3])
        votes = f"{pick.votes} vote{'s' if pick.votes != 1 else ''}"
        url = pick.url or f"https://arxiv.org/abs/{pick.arxiv_id}"
        title = mrkdwn.link(url, mrkdwn.truncate(pick.title, 200))
        lines.append(f"{number}. {title} · `{pick.arxiv_id}` · {votes} · suggested by {who}")
    return section("*Team picks*\n" + "\n".join(lines))


def compose_roundup(digest: DigestView, picks: Sequence[Pick] = (), pick_ids: tuple[int, ...] = ()) -> Roundup:
    """The roundup of ``digest``: a headline and its thread replies, all within Slack's limits."""
    title = f"Paper roundup — {month_name(digest.month)}"
    head: list[Block] = [{"type": "header", "text": {"type": "plain_text", "text": title[:150], "emoji": True}}]
    if digest.intro:
        head.append(section(fit(digest.intro, 1000)))
    paper_sections = [section(chunk) for chunk in join_limited([_paper_line(p) for p in digest.papers], 2800)]
    tail: list[Block] = []
    if picks:
        tail.append(_picks_block(picks))
    credit = []
    if digest.source_url:
        credit.append(f"Digest: {mrkdwn.link(digest.source_url, 'source')}")
    if digest.curator:
        credit.append(f"curated by {mrkdwn.escape(digest.curator)}")
    credit.append(f"Full summaries in the thread · `{COMMAND} NAME` for any paper's card")
    tail.append(context(" · ".join(credit)))

    headline_blocks, overflow = _fill(head, paper_sections, tail)
    fallback = f"{title}: {len(digest.papers)} papers"
    headline = Message(text=mrkdwn.escape(fallback), blocks=tuple(headline_blocks))
    replies: list[Message] = []
    for chunk in overflow:
        replies.append(Message(text=mrkdwn.escape(f"{title} (continued)"), blocks=tuple(chunk)))
    for paper in digest.papers:
        replies.extend(_summary_replies(paper))
    return Roundup(month=digest.month, headline=headline, replies=tuple(replies), pick_ids=pick_ids)


def _size(blocks: Sequence[Block]) -> int:
    total = 0
    for block in blocks:
        if "text" in block:
            total += len(block["text"]["text"])
        total += sum(len(element.get("text", "")) for element in block.get("elements", []))
    return total


def _fill(head: list[Block], body: list[Block], tail: list[Block]) -> tuple[list[Block], list[list[Block]]]:
    """Put as many paper sections in the headline as fit with ``head`` and ``tail``; the rest become
    continuation messages, each within the limits."""
    headline = list(head)
    rest = list(body)
    while (
        rest
        and len(headline) + 1 + len(tail) <= MAX_MESSAGE_BLOCKS
        and (_size([*headline, rest[0], *tail]) <= MAX_MESSAGE_CHARS)
    ):
        headline.append(rest.pop(0))
    headline.extend(tail)
    overflow: list[list[Block]] = []
    current: list[Block] = []
    for block in rest:
        if current and (len(current) + 1 > MAX_MESSAGE_BLOCKS or _size([*current, block]) > MAX_MESSAGE_CHARS):
            overflow.append(current)
            current = []
        current.append(block)
    if current:
        overflow.append(current)
    return headline, overflow


def _summary_replies(paper: PaperView) -> list[Message]:
    """One thread reply with the paper's whole summary, or several when it is too long for one."""
    heading = f"{paper.position}. {title_link(paper)}"
    chunks = split_sections(re.sub(r"(?m)^\s*[-*]\s+", "• ", paper.summary.strip()) or "(no summary)")
    messages: list[Message] = []
    current: list[Block] = [section(heading[:SECTION_LIMIT])]
    for chunk in chunks:
        block = section(mrkdwn.from_markdown(chunk))
        if len(current) + 1 > MAX_MESSAGE_BLOCKS or _size([*current, block]) > MAX_MESSAGE_CHARS:
            messages.append(Message(text=mrkdwn.escape(paper.title[:200]), blocks=tuple(current)))
            current = [section(f"{heading} (continued)"[:SECTION_LIMIT])]
        current.append(block)
    messages.append(Message(text=mrkdwn.escape(paper.title[:200]), blocks=tuple(current)))
    return messages
