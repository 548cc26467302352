"""Block Kit for what a card's buttons answer (English abstract, BibTeX, related papers) and for queries
that name a reference from a digest's references block. Pure functions, like :mod:`bot.slack.blocks`.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.digest.catalog import PaperView
from bot.digest.references import ReferenceHit
from bot.slack import mrkdwn
from bot.slack.blocks import (
    MAX_BLOCKS,
    SECTION_LIMIT,
    Block,
    Message,
    actions,
    button,
    context,
    fit,
    overflow,
    section,
    split_sections,
    title_link,
)
from bot.slack.ids import ACTION_OPEN, ACTION_OPEN_CITED, COMMAND

MAX_AUTHORS_LISTED = 400
"""Past this many, a long collaboration's author list is cut (the section would not hold more)."""


def _facts(paper: PaperView) -> str:
    parts = []
    if paper.arxiv_id and paper.abs_url:
        parts.append(f"arXiv {mrkdwn.link(paper.abs_url, paper.arxiv_id)}")
    if paper.primary_category:
        parts.append(mrkdwn.escape(paper.primary_category))
    if paper.published:
        parts.append(f"submitted {mrkdwn.escape(paper.published[:10])}")
    parts.append(f"Digest {paper.month} #{paper.position}")
    return " · ".join(parts)


def english_abstract(paper: PaperView) -> Message:
    """The arXiv abstract with the title and the full author list (the paper must be enriched)."""
    authors = ", ".join(paper.authors[:MAX_AUTHORS_LISTED])
    blocks: list[Block] = [
        section(f"{title_link(paper)}\n{fit(authors, SECTION_LIMIT - 400)}"),
        context(_facts(paper)),
    ]
    chunks = split_sections(" ".join((paper.abstract or "").split()))
    blocks += [section(chunk) for chunk in chunks[: MAX_BLOCKS - len(blocks)]]
    return Message(text=f"Abstract of {fit(paper.title, 300)}", blocks=tuple(blocks))


def not_enriched(paper: PaperView, status: str, detail: str | None, queued: bool) -> Message:
    """No abstract yet: say why and whether the paper was queued for arXiv."""
    if status == "failed":
        why = f"arXiv rejected its id ({detail or 'no reason given'}), so there is no English abstract."
    elif status == "not_found":
        why = "arXiv did not return it last time."
    elif status == "unresolved":
        why = f"its arXiv id is not known yet ({detail or 'no safe title match'})."
    else:
        why = "its arXiv metadata has not been fetched yet."
    then = (
        " It is queued first for enrichment: the running bot fetches it within a minute (`paperbot enrich`"
        " does it now). Try again then."
        if queued
        else ""
    )
    body = f"No English abstract yet: {why}{then}"
    return Message(text=fit(f"“{paper.title}”: {body}"), blocks=(section(f"{title_link(paper)}\n{fit(body)}"),))


def bibtex(paper: PaperView, entry: str) -> Message:
    """A BibTeX entry in code blocks (split only if a huge author list needs several sections)."""
    blocks: list[Block] = [context(f"BibTeX for {title_link(paper)}")]
    chunks = split_sections(entry.rstrip("\n"), SECTION_LIMIT - 10)
    blocks += [section(f"```\n{chunk}\n```") for chunk in chunks[: MAX_BLOCKS - 1]]
    return Message(text=f"BibTeX for {fit(paper.title, 300)}", blocks=tuple(blocks))


def related(paper: PaperView, papers: Sequence[tuple[PaperView, Sequence[str]]]) -> Message:
    """Up to three related papers, each with why and a button that opens its card."""
    if not papers:
        head = f"No other paper in the archive is related to {title_link(paper)} yet."
        return Message(text=f"Nothing related to {fit(paper.title, 200)}", blocks=(section(head),))
    blocks: list[Block] = [section(f"Related to {title_link(paper)}:")]
    for other, reasons in papers:
        why = " · ".join(mrkdwn.escape(reason) for reason in reasons)
        block = section(f"{title_link(other)}\n_{why}_ · Digest {other.month} #{other.position}")
        block["accessory"] = button("Open", ACTION_OPEN, str(other.paper_id))
        blocks.append(block)
    text = f"Related to {fit(paper.title, 100)}: " + "; ".join(fit(other.title, 80) for other, _ in papers)
    return Message(text=text, blocks=tuple(blocks))


def _work_head(hit: ReferenceHit) -> str:
    work = hit.work
    year = f" ({work.year})" if work.year else ""
    return f"“{fit(work.title, 300)}”{year}"


def _citing_text(hit: ReferenceHit) -> str:
    if hit.citing:
        return "cited by " + ", ".join(
            f"{fit(paper.short_title, 80)} ({paper.month} #{paper.position}) as [{paper.number}]"
            for paper in hit.citing[:8]
        )
    listed = ", ".join(f"{month} as [{number}]" for month, number in hit.listings[:6])
    return f"listed in the references of digest {listed}; no summary cites it"


def reference_lines(hits: Sequence[ReferenceHit]) -> Block:
    """Under a card: the references the query named, e.g. “SoundStream: …” (2021), cited by MusicLM
    (2023-01 #1) as [1]."""
    return context(*[f"{_work_head(hit)}, {_citing_text(hit)}" for hit in hits])


def reference_answer(hits: Sequence[ReferenceHit]) -> Message:
    """A query that names references and no digest paper: each work with its authors, the digests that
    list it and the papers that cite it (with buttons to open them)."""
    blocks: list[Block] = []
    for hit in hits:
        authors = ", ".join(hit.work.authors) or "authors not given"
        blocks.append(section(f"*{_work_head(hit)}*\n{fit(authors, 600)}\n{_upper_first(_citing_text(hit))}."))
        openers = [(paper.paper_id, f"Open {paper.short_title}") for paper in hit.citing]
        if hit.work.archive_paper_id is not None:
            openers.insert(0, (hit.work.archive_paper_id, f"Open {hit.work.short_title}"))
        unique = list(dict.fromkeys(openers))[:5]
        if len(unique) == 1:
            blocks.append(actions(button(unique[0][1], ACTION_OPEN, str(unique[0][0]))))
        elif unique:  # Slack refuses one action_id twice in a block: several papers go in one menu
            blocks.append(actions(overflow(ACTION_OPEN_CITED, [(label, str(pid), None) for pid, label in unique])))
    blocks.append(context(f"A reference from a digest's references block. `{COMMAND} NAME` finds digest papers."))
    text = "; ".join(f"{_work_head(hit)}, {_citing_text(hit)}" for hit in hits)
    return Message(text=text[:SECTION_LIMIT], blocks=tuple(blocks[:MAX_BLOCKS]))


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]
