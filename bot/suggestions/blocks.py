"""Block Kit for suggestions: the suggestion card, the ranked list, the modal and the App Home tab.

Pure functions from :class:`bot.suggestions.model.Suggestion` views to payloads. ``why`` is user text: it is
escaped everywhere it appears (no ``@channel``, no user pings).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.digest.catalog import DigestView
from bot.slack import mrkdwn
from bot.slack.blocks import Block, Message, actions, button, context, fit, join_limited, section
from bot.slack.ids import (
    ACTION_REMOVE,
    ACTION_VOTE,
    COMMAND,
    VIEW_SUGGEST,
)
from bot.suggestions.model import MAX_WHY_CHARS, Suggestion

ABSTRACT_GIST_CHARS = 300
MAX_LISTED = 15
"""Suggestions listed (by votes); the rest are counted."""
HOME_DIGEST_PAPERS = 20
"""Papers of the latest digest on the App Home; the rest are counted, with the command that lists them."""
HOME_OWN_LISTED = 10
"""A person's own suggestions on the App Home, newest first; older ones are counted."""


def _unlisted(total: int) -> str:
    """``"3 more with fewer votes are not listed. "`` when there are more than :data:`MAX_LISTED`."""
    more = total - MAX_LISTED
    return f"{more} more with fewer votes {'is' if more == 1 else 'are'} not listed. " if more > 0 else ""


def _authors(suggestion: Suggestion) -> str:
    names = list(suggestion.authors)
    if not names:
        return "authors not known yet"
    if len(names) > 3:
        return ", ".join(names[:3]) + f" and {len(names) - 3} other{'s' if len(names) > 4 else ''}"
    return ", ".join(names)


def _title(suggestion: Suggestion) -> str:
    title = suggestion.title or f"arXiv {suggestion.arxiv_id}"
    return f"*{mrkdwn.link(suggestion.abs_url, mrkdwn.truncate(title, 250))}*"


def _votes(count: int) -> str:
    return f"{count} vote{'s' if count != 1 else ''}"


def vote_button(suggestion: Suggestion) -> Block:
    return button(f"👍 Vote ({suggestion.votes})", ACTION_VOTE, str(suggestion.id))


def suggestion_card(suggestion: Suggestion) -> Message:
    """The card posted where a paper was suggested: title, authors, abstract gist, who and why, votes."""
    lines = [_title(suggestion), fit(_authors(suggestion), 400)]
    if suggestion.abstract:
        lines.append(fit(" ".join(suggestion.abstract.split()), ABSTRACT_GIST_CHARS))
    blocks: list[Block] = [section("\n".join(lines))]
    who = f"Suggested by {mrkdwn.user(suggestion.suggested_by)} for the next roundup"
    if suggestion.why:
        who += f": “{fit(suggestion.why, MAX_WHY_CHARS + 100)}”"
    blocks.append(context(who))
    if suggestion.removed_by:
        blocks.append(context(f"Removed by {mrkdwn.user(suggestion.removed_by)}."))
    elif suggestion.included_in:
        blocks.append(
            context(f"A team pick in the {mrkdwn.escape(suggestion.included_in)} roundup ({_votes(suggestion.votes)}).")
        )
    else:
        blocks.append(
            actions(
                vote_button(suggestion),
                button("Remove", ACTION_REMOVE, str(suggestion.id), style="danger"),
                block_id=f"suggestion_{suggestion.id}",
            )
        )
    title = suggestion.title or suggestion.arxiv_id
    text = f"Suggested for the roundup: {fit(title, 200)} ({_votes(suggestion.votes)})"
    return Message(text=text, blocks=tuple(blocks))


def suggestion_list(suggestions: Sequence[Suggestion], total: int | None = None) -> Message:
    """``/paper suggestions``: the open suggestions ranked by votes, with who suggested them."""
    if not suggestions:
        body = f"No suggestions for the next roundup yet. Suggest one: `{COMMAND} suggest ARXIV_ID_OR_URL [why]`."
        return Message(text="No suggestions yet.", blocks=(section(body),))
    total = len(suggestions) if total is None else total
    blocks: list[Block] = [section(f"*Suggestions for the next roundup* ({total}), most votes first:")]
    for rank, suggestion in enumerate(suggestions[:MAX_LISTED], start=1):
        line = (
            f"{rank}. {_title(suggestion)} · {_votes(suggestion.votes)} · "
            f"suggested by {mrkdwn.user(suggestion.suggested_by)}"
        )
        if suggestion.why:
            line += f"\n“{fit(suggestion.why, 200)}”"
        block = section(line)
        block["accessory"] = vote_button(suggestion)
        blocks.append(block)
    unlisted = _unlisted(total)
    blocks.append(
        context(f"{unlisted}The top 5 become the roundup's team picks. `{COMMAND} suggest ID [why]` adds one.")
    )
    text = f"{total} suggestions for the next roundup"
    return Message(text=text, blocks=tuple(blocks))


def suggest_modal(
    found: Sequence[tuple[str, str]] = (), *, channel: str | None = None, empty_message: bool = False
) -> dict[str, Any]:
    """The "Suggest for roundup" modal.

    ``found``: (arXiv id, label) pairs from a message, offered in a select; none → a link field, or,
    for a message without any arXiv link (``empty_message``), a modal that says so and cannot submit.
    """
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": VIEW_SUGGEST,
        "title": {"type": "plain_text", "text": "Suggest for roundup"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps({"channel": channel}),
    }
    if empty_message:
        view["close"] = {"type": "plain_text", "text": "Close"}
        view["blocks"] = [
            section(
                "That message has no arXiv link (arxiv.org/abs/… or an id such as 2301.11325). "
                f"Use the *Suggest a paper* shortcut or `{COMMAND} suggest` with a link."
            )
        ]
        return view
    if found:
        options = [
            {"text": {"type": "plain_text", "text": mrkdwn.plain(label)[:75]}, "value": arxiv_id}
            for arxiv_id, label in found[:100]
        ]
        paper: Block = {
            "type": "input",
            "block_id": "paper",
            "label": {"type": "plain_text", "text": "Paper"},
            "element": {
                "type": "static_select",
                "action_id": "arxiv_id",
                "options": options,
                "initial_option": options[0],
            },
        }
    else:
        paper = {
            "type": "input",
            "block_id": "paper",
            "label": {"type": "plain_text", "text": "arXiv link or id"},
            "element": {
                "type": "plain_text_input",
                "action_id": "arxiv_id",
                "placeholder": {"type": "plain_text", "text": "https://arxiv.org/abs/2301.11325"},
            },
        }
    why: Block = {
        "type": "input",
        "block_id": "why",
        "optional": True,
        "label": {"type": "plain_text", "text": "Why should the team read it?"},
        "element": {"type": "plain_text_input", "action_id": "why", "multiline": True, "max_length": MAX_WHY_CHARS},
    }
    view["submit"] = {"type": "plain_text", "text": "Suggest"}
    view["blocks"] = [paper, why]
    return view


def home_view(
    digest: DigestView | None,
    ranked: Sequence[Suggestion],
    own: Sequence[Suggestion],
    *,
    admin: bool,
    ranked_total: int | None = None,
    own_total: int | None = None,
) -> dict[str, Any]:
    """The App Home tab: the latest digest, the ranked suggestions (admins can remove), the user's own.
    ``ranked_total`` / ``own_total``: how many there are when the lists given are the first of them."""
    blocks: list[Block] = [{"type": "header", "text": {"type": "plain_text", "text": "paperbot"}}]
    if digest is not None:
        lines = [
            f"{p.position}. {mrkdwn.link(p.link, mrkdwn.truncate(p.title, 150)) if p.link else fit(p.title, 150)}"
            for p in digest.papers[:HOME_DIGEST_PAPERS]
        ]
        # Whole lines only: a cut through "<url|label>" would show raw markup.
        shown = join_limited([f"*Latest digest: {digest.month}*", *lines], 2900)[0]
        more = len(digest.papers) - shown.count("\n")
        if more > 0:
            shown += f"\n… and {more} more: `{COMMAND} list {digest.month}`"
        blocks.append(section(shown))
    else:
        blocks.append(section("No digest loaded yet."))
    blocks.append({"type": "divider"})
    blocks.append(
        section(
            "*Suggestions for the next roundup*"
            if ranked
            else f"*Suggestions for the next roundup*\nNone yet: `{COMMAND} suggest ARXIV_ID [why]`."
        )
    )
    for suggestion in ranked[:MAX_LISTED]:
        block = section(
            f"{_title(suggestion)} · {_votes(suggestion.votes)} · by {mrkdwn.user(suggestion.suggested_by)}"
        )
        blocks.append(block)
        elements = [vote_button(suggestion)]
        if admin:
            elements.append(button("Remove", ACTION_REMOVE, str(suggestion.id), style="danger"))
        blocks.append(actions(*elements, block_id=f"home_suggestion_{suggestion.id}"))
    ranked_total = len(ranked) if ranked_total is None else ranked_total
    if ranked_total > MAX_LISTED:
        blocks.append(context(_unlisted(ranked_total).strip()))
    blocks.append({"type": "divider"})
    if own:
        own_lines: list[str] = []
        for suggestion in own[:HOME_OWN_LISTED]:
            state = (
                "removed"
                if suggestion.removed_by
                else f"team pick in {suggestion.included_in}"
                if suggestion.included_in
                else _votes(suggestion.votes)
            )
            own_lines.append(f"• {_title(suggestion)} ({mrkdwn.escape(state)})")
        # Whole lines only: a cut through "<url|label>" would show raw markup.
        mine = join_limited(["*Your suggestions*", *own_lines], 2900)[0]
        more = (len(own) if own_total is None else own_total) - mine.count("\n")
        if more > 0:
            mine += f"\n… and {more} older"
        blocks.append(section(mine))
    else:
        blocks.append(section("*Your suggestions*\nYou have not suggested a paper yet."))
    return {"type": "home", "blocks": blocks[:100]}
