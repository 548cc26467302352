"""Block Kit messages for ``/paper``: pure functions from views to payloads, nothing else.

Every message has a ``text`` fallback (notifications, screen readers) and stays inside Slack's limits:
at most 50 blocks, 3,000 characters per section text, 150 per header, 75 per button label, 10 context
elements (https://api.slack.com/reference/block-kit/blocks). Text that comes from users or digests goes
through :mod:`bot.slack.mrkdwn` so it shows as written and cannot ping anyone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.digest.catalog import DigestView, PaperView
from bot.digest.references import CitedWork
from bot.slack import mrkdwn
from bot.slack.ids import (
    ACTION_ABSTRACT,
    ACTION_CITE,
    ACTION_FULL_SUMMARY,
    ACTION_LINK,
    ACTION_OPEN,
    ACTION_OPEN_CITED,
    ACTION_RELATED,
    ACTION_SHARE,
    COMMAND,
)

Block = dict[str, Any]

MAX_BLOCKS = 50
SECTION_LIMIT = 3000
CARD_SUMMARY_LIMIT = 2000
"""A card shows the summary whole up to this many characters; longer ones are cut at a sentence."""
MAX_AUTHORS_SHOWN = 4
MAX_CHOICES = 5


@dataclass(frozen=True)
class Message:
    """A Slack message: ``text`` fallback plus blocks. Slack formats ``text`` as mrkdwn too (it is what
    notifications show), so it is escaped like every other mrkdwn field."""

    text: str
    blocks: tuple[Block, ...]

    def payload(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": list(self.blocks)}


# --- small builders ------------------------------------------------------------------------------------


def section(text: str) -> Block:
    """A mrkdwn section; ``text`` must already be escaped. ``verbatim`` stops Slack auto-linking."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_LIMIT], "verbatim": True}}


def context(*parts: str) -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": part[:SECTION_LIMIT], "verbatim": True} for part in parts[:10]],
    }


def button(label: str, action_id: str, value: str = "", *, url: str | None = None, style: str | None = None) -> Block:
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": mrkdwn.plain(label)[:75], "emoji": True},
        "action_id": action_id,
    }
    if value:
        element["value"] = value[:2000]
    if url:
        element["url"] = url[:3000]
    if style:
        element["style"] = style
    return element


def actions(*elements: Block, block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": list(elements[:25])}
    if block_id:
        block["block_id"] = block_id
    return block


def fit(text: str, limit: int = SECTION_LIMIT) -> str:
    """Escape ``text`` and shorten it so that the escaped form fits ``limit`` characters."""
    budget = limit
    while True:
        escaped = mrkdwn.escape(mrkdwn.truncate(text, budget))
        if len(escaped) <= limit:
            return escaped
        budget -= len(escaped) - limit + 1


def _cut_point(line: str, limit: int) -> int:
    """Where to cut an escaped line at ``limit``: never inside an entity such as ``&lt;``."""
    amp = line.rfind("&", max(0, limit - 5), limit)
    return amp if amp > 0 and ";" not in line[amp:limit] else limit


def split_sections(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Escaped chunks of at most ``limit`` characters, split at line ends where possible."""
    chunks: list[str] = []
    current = ""
    for line in mrkdwn.escape(text).split("\n"):
        while len(line) > limit:
            cut = _cut_point(line, limit)
            head, line = line[:cut], line[cut:]
            if current:
                chunks.append(current)
                current = ""
            chunks.append(head)
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current.strip():
        chunks.append(current)
    return [chunk for chunk in chunks if chunk.strip()]


def _bullets(text: str) -> str:
    """Digest bullets ``- item`` shown as ``• item``."""
    return re.sub(r"(?m)^\s*[-*]\s+", "• ", text)


def authors_line(paper: PaperView, limit: int = MAX_AUTHORS_SHOWN) -> str:
    """``A, B, C, D and 7 others`` (or ``et al.`` when the digest cut the list and arXiv has not filled it)."""
    names = list(paper.authors)
    if not names:
        return "Authors unknown"
    if len(names) > limit:
        shown = ", ".join(names[:limit])
        others = len(names) - limit
        return f"{shown} and {others} other{'s' if others > 1 else ''}"
    text = ", ".join(names)
    return f"{text} et al." if paper.authors_truncated else text


def title_link(paper: PaperView) -> str:
    title = mrkdwn.truncate(" ".join(paper.title.split()), 250)
    return f"*{mrkdwn.link(paper.link, title)}*" if paper.link else f"*{mrkdwn.escape(title)}*"


def paper_facts(paper: PaperView) -> str:
    """``Digest 2023-01 · #3 · arXiv 2301.11325 (abs · PDF)`` as mrkdwn."""
    parts = [f"Digest {paper.month} · #{paper.position}"]
    if paper.arxiv_id and paper.abs_url and paper.pdf_url:
        version = f"v{paper.latest_version}" if paper.latest_version else ""
        parts.append(
            f"arXiv {mrkdwn.link(paper.abs_url, paper.arxiv_id + version)} · {mrkdwn.link(paper.pdf_url, 'PDF')}"
        )
    elif paper.project_url:
        parts.append(mrkdwn.link(paper.project_url, "project page"))
    else:
        parts.append("arXiv id not known yet")
    if paper.primary_category:
        parts.append(mrkdwn.escape(paper.primary_category))
    return " · ".join(parts)


# --- messages ------------------------------------------------------------------------------------------


def paper_card(
    paper: PaperView,
    *,
    corrected: str | None = None,
    shared_by: str | None = None,
    full_summary: bool = False,
    shareable: bool = True,
    note: str | None = None,
) -> Message:
    """The card for one paper: linked title, authors, digest month and position, the digest's summary
    (whole when it fits, else cut at a sentence with a button for the rest), arXiv id and links."""
    blocks: list[Block] = []
    cites = cites_block(paper.cites)
    if corrected:
        blocks.append(context(f"Did you mean *{mrkdwn.escape(corrected)}*? Showing that."))
    if note:
        blocks.append(context(note))
    blocks.append(section(f"{title_link(paper)}\n{fit(authors_line(paper), 600)}"))
    blocks.append(context(paper_facts(paper)))
    summary = _bullets(paper.summary.strip()) or "(The digest has no summary for this paper.)"
    cut = False
    if full_summary:
        chunks = split_sections(summary)
        room = MAX_BLOCKS - len(blocks) - 3 - (cites is not None)
        if len(chunks) > room:
            chunks = [*chunks[: room - 1], fit("\n".join(chunks[room - 1 :]))]
        blocks += [section(mrkdwn.from_markdown(chunk)) for chunk in chunks]
    else:
        shown = mrkdwn.from_markdown(fit(summary, CARD_SUMMARY_LIMIT))
        cut = len(mrkdwn.escape(summary)) > CARD_SUMMARY_LIMIT
        blocks.append(section(shown))
    if cites is not None:
        blocks.append(cites)
    buttons: list[Block] = []
    if shareable:
        buttons.append(button("Share in channel", ACTION_SHARE, str(paper.paper_id), style="primary"))
    if cut:
        buttons.append(button("Full summary", ACTION_FULL_SUMMARY, str(paper.paper_id)))
    buttons += card_buttons(paper)
    if buttons:
        blocks.append(actions(*buttons, block_id=f"paper_{paper.paper_id}"))
    if shared_by:
        blocks.append(context(f"Shared by {mrkdwn.user(shared_by)} with `{COMMAND}`"))
    text = f"{fit(paper.title, 300)} ({paper.arxiv_id or 'digest ' + paper.month})"
    return Message(text=text, blocks=tuple(blocks[:MAX_BLOCKS]))


MAX_CITES_SHOWN = 12
"""Cited works named on a card's "Cites:" line; the rest are counted."""
MAX_MENU_OPTIONS = 5
"""Options in an overflow menu (Slack's limit)."""


def overflow(action_id: str, options: Sequence[tuple[str, str | None, str | None]]) -> Block:
    """An overflow menu; each option is (label, value, url), 2 to 5 of them (Slack's limits)."""
    built = []
    for index, (label, value, url) in enumerate(options[:MAX_MENU_OPTIONS]):
        option: Block = {
            "text": {"type": "plain_text", "text": mrkdwn.plain(label)[:75], "emoji": True},
            "value": (value or f"link{index}")[:150],
        }
        if url:
            option["url"] = url[:3000]
        built.append(option)
    return {"type": "overflow", "action_id": action_id, "options": built}


def card_buttons(paper: PaperView) -> list[Block]:
    """English abstract, Cite, Related, then arXiv and PDF in an overflow menu, so the row stays one line."""
    value = str(paper.paper_id)
    elements = [
        button("English abstract", ACTION_ABSTRACT, value),
        button("Cite", ACTION_CITE, value),
        button("Related", ACTION_RELATED, value),
    ]
    if paper.abs_url and paper.pdf_url:
        elements.append(
            overflow(ACTION_LINK + "_more", [("arXiv page", None, paper.abs_url), ("PDF", None, paper.pdf_url)])
        )
    return elements


def cited_work_line(work: CitedWork) -> str:
    """``[1] SoundStream: An End-to-End Neural Audio Codec (2021)`` as mrkdwn, the title linked to arXiv
    when the work is an archive paper, with the summary's own words when they are not in the title."""
    title = mrkdwn.truncate(work.title, 120)
    shown = (
        mrkdwn.link(f"https://arxiv.org/abs/{work.archive_arxiv_id}", title)
        if work.archive_arxiv_id
        else mrkdwn.escape(title)
    )
    line = f"[{work.number}] {shown}" + (f" ({work.year})" if work.year else "")
    if work.mismatched_labels:
        line += ", cited as " + ", ".join(f"“{fit(label, 60)}”" for label in work.mismatched_labels[:3])
    return line


def cites_block(cites: Sequence[CitedWork]) -> Block | None:
    """The card's "Cites:" line; cited works that are archive papers can be opened from its menu."""
    if not cites:
        return None
    lines = join_limited([cited_work_line(work) for work in cites[:MAX_CITES_SHOWN]], SECTION_LIMIT - 200)
    text = "*Cites:* " + lines[0].replace("\n", " · ")
    more = len(cites) - (lines[0].count("\n") + 1)
    if more > 0:
        text += f" · and {more} more"
    in_archive = [work for work in cites if work.archive_paper_id is not None]
    if len(in_archive) > MAX_MENU_OPTIONS:
        text += f" (the menu opens the first {MAX_MENU_OPTIONS} of the {len(in_archive)} in the archive)"
    block = section(text)
    if len(in_archive) == 1:  # an overflow menu needs two options at least
        work = in_archive[0]
        block["accessory"] = button(
            f"Open [{work.number}] {work.short_title}", ACTION_OPEN_CITED, str(work.archive_paper_id)
        )
    elif in_archive:
        block["accessory"] = overflow(
            ACTION_OPEN_CITED,
            [(f"Open [{work.number}] {work.short_title}", str(work.archive_paper_id), None) for work in in_archive],
        )
    return block


def choices(
    query: str,
    papers: Sequence[PaperView],
    *,
    corrected: str | None = None,
    partial: bool = False,
    alternatives: Sequence[str] = (),
    heading: str | None = None,
) -> Message:
    """Several close matches: a short list with a button each that opens that paper's card.

    ``alternatives``: equally likely readings of a misspelt query ("Did you mean *a* or *b*?");
    ``heading``: an intro of the caller's, already escaped mrkdwn."""
    shown = list(papers[:MAX_CHOICES])
    if heading:
        intro = heading
    elif len(alternatives) > 1:
        readings = [f"*{mrkdwn.escape(reading)}*" for reading in alternatives]
        intro = f"Did you mean {', '.join(readings[:-1])} or {readings[-1]}? Pick one:"
    elif corrected:
        intro = f"Did you mean *{mrkdwn.escape(corrected)}*? These papers match it:"
    elif partial:
        intro = f"No paper matches every word of *{fit(query, 200)}*; these match some of them:"
    else:
        intro = f"{len(shown)} papers match *{fit(query, 200)}*. Pick one:"
    blocks: list[Block] = [section(intro)]
    for paper in shown:
        block = section(
            f"{title_link(paper)}\n{fit(authors_line(paper, 3), 300)} · Digest {paper.month} #{paper.position}"
        )
        block["accessory"] = button("Open", ACTION_OPEN, str(paper.paper_id))
        blocks.append(block)
    blocks.append(context(f"Tip: `{COMMAND} NAME` with a nickname, an arXiv id or an author narrows it down."))
    text = f"{len(shown)} papers match “{fit(query, 100)}”: " + "; ".join(fit(paper.title, 80) for paper in shown)
    return Message(text=text, blocks=tuple(blocks))


def nothing_found(
    query: str,
    *,
    arxiv_id: str | None = None,
    closest: Sequence[PaperView] = (),
    browse: Sequence[PaperView] = (),
) -> Message:
    """No match: say so, show the closest titles (or, failing those, what the latest digest has), and
    what to try."""
    if arxiv_id:
        url = f"https://arxiv.org/abs/{arxiv_id}"
        head = f"arXiv {mrkdwn.link(url, arxiv_id)} is not in any digest yet."
    elif query:
        head = f"No paper in the digests matches *{fit(query, 300)}*."
    else:
        head = "Tell me what to look for."
    blocks: list[Block] = [section(head)]
    for heading, papers in (("The closest titles:", closest), ("The latest digest has, for example:", browse)):
        if papers:
            lines = "\n".join(f"• {title_link(paper)} ({paper.month} #{paper.position})" for paper in papers)
            blocks.append(section(f"{heading}\n{lines}"))
    blocks.append(
        context(
            f"Try a nickname (`{COMMAND} musiclm`), title words, an arXiv id or link, an author "
            f"(`{COMMAND} carlini`), Chinese words (`{COMMAND} 水印`), or `{COMMAND} list` to browse a month."
        )
    )
    text = f"arXiv {arxiv_id} is not in any digest yet." if arxiv_id else f"No paper matches “{fit(query, 100)}”."
    return Message(text=text, blocks=tuple(blocks))


HELP_LINES = (
    (
        f"{COMMAND} QUERY",
        "find a paper by nickname, title words, arXiv id or link, author, Chinese words; typos are fine",
    ),
    (f"{COMMAND} list [YYYY-MM]", "the papers of a digest month (default: the latest)"),
    (f"{COMMAND} cite QUERY", "the paper's BibTeX entry (arXiv style)"),
    (f"{COMMAND} suggest ARXIV_ID_OR_URL [why]", "suggest a paper for the next roundup (or vote for it)"),
    (f"{COMMAND} suggestions", "the suggestions for the next roundup, most votes first"),
    (f"{COMMAND} roundup [YYYY-MM]", "preview the monthly roundup, only you see it"),
    (f"{COMMAND} roundup post [YYYY-MM]", "admins: post the roundup to the team's channel now"),
    (f"{COMMAND} watch WORDS", "a direct message when a new digest has a paper matching the words"),
    (f"{COMMAND} watches", "your watches, numbered"),
    (f"{COMMAND} unwatch N|WORDS", "stop a watch"),
    (f"{COMMAND} load URL [YYYY-MM]", "admins: load a digest from its web page (or send me the file in a DM)"),
    (f"{COMMAND} help", "this help"),
)


def help_message(extra: Sequence[tuple[str, str]] = ()) -> Message:
    """Usage of ``/paper``: one line per sub-command."""
    lines = "\n".join(f"• `{usage}` — {mrkdwn.escape(what)}" for usage, what in (*HELP_LINES, *extra))
    blocks = (
        section(f"*paperbot* finds papers from the team's monthly digests.\n{lines}"),
        context(
            f"Examples: `{COMMAND} musiclm` · `{COMMAND} 2301.11325` · `{COMMAND} 扩散模型` · `{COMMAND} list 2023-01`"
        ),
    )
    words = " | ".join(usage.removeprefix(f"{COMMAND} ") for usage, _ in HELP_LINES)
    return Message(text=f"Usage: {COMMAND} {words}", blocks=blocks)


def digest_list(digest: DigestView, other_months: Sequence[str] = ()) -> Message:
    """A month's papers in digest order, numbered, each with its arXiv id."""
    head = f"*Digest {digest.month}*"
    if digest.title:
        head += f" — {fit(digest.title, 200)}"
    if digest.intro:
        head += f"\n{fit(digest.intro, 600)}"
    blocks: list[Block] = [section(head)]
    lines = []
    for paper in digest.papers:
        ident = f" · `{paper.arxiv_id}`" if paper.arxiv_id else ""
        lines.append(f"{paper.position}. {title_link(paper)}{ident}")
    for chunk in join_limited(lines, SECTION_LIMIT):
        if len(blocks) >= MAX_BLOCKS - 2:
            break
        blocks.append(section(chunk))
    others = [month for month in other_months if month != digest.month][:12]
    footer = f"`{COMMAND} NAME` shows a paper's card."
    if others:
        footer += " Other months: " + ", ".join(f"`{month}`" for month in others)
    blocks.append(context(footer))
    text = f"Digest {digest.month}: {len(digest.papers)} papers"
    return Message(text=text, blocks=tuple(blocks))


def month_not_found(month: str, months: Sequence[str]) -> Message:
    if months:
        available = ", ".join(f"`{m}`" for m in months[:24])
        body = f"There is no digest for {mrkdwn.escape(month)}. Digests: {available}."
    else:
        body = "no digest loaded yet — `paperbot load FILE_OR_URL`"
    return Message(text=f"No digest for {fit(month, 40)}.", blocks=(section(body),))


def notice(text: str) -> Message:
    """A one-paragraph message; ``text`` is plain and gets escaped."""
    return Message(text=fit(text), blocks=(section(fit(text)),))


def join_limited(lines: Sequence[str], limit: int) -> list[str]:
    """Lines joined into chunks of at most ``limit`` characters (a longer line is cut)."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit and current:
            chunks.append(current)
            current = line[:limit]
        else:
            current = candidate[:limit]
    if current:
        chunks.append(current)
    return chunks


# --- terminal rendering -------------------------------------------------------------------------------


def _unmrkdwn(text: str) -> str:
    text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"\2 (\1)", text)
    text = re.sub(r"<@([A-Z0-9]+)>", r"@\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").replace("\u2060", "")


def render_text(message: Message) -> str:
    """The message as a terminal shows it (``paperbot search``): mrkdwn links become ``label (url)``."""
    out: list[str] = []
    for block in message.blocks:
        kind = block.get("type")
        if kind == "section":
            line = _unmrkdwn(block["text"]["text"])
            accessory = block.get("accessory")
            if accessory and accessory.get("type") == "button":
                line += f"  [{accessory['text']['text']}]"
            out.append(line)
        elif kind == "context":
            out.append("  ".join(_unmrkdwn(element.get("text", "")) for element in block["elements"]))
        elif kind == "actions":
            out.append(" ".join(f"[{element['text']['text']}]" for element in block["elements"] if "text" in element))
        elif kind == "header":
            out.append(block["text"]["text"])
        elif kind == "divider":
            out.append("-" * 40)
    return "\n\n".join(out)
