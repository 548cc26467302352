"""Watches in Slack: the replies to ``/paper watch``, ``watches`` and ``unwatch``, the App Home section, and
the direct messages that tell people about newly loaded papers matching their watches.

Block Kit comes from the pure functions here; :func:`deliver_notices` is the only sender: one message per
person for everything pending, claimed in SQLite first (bot.watches.model), never retried blindly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlite_utils
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack import blocks, mrkdwn
from bot.slack.blocks import Block, Message, context, fit, join_limited, section
from bot.slack.ids import COMMAND
from bot.watches.model import MAX_WATCHES, Notice, Watch, add_watch, claim_notices, finish_notice, list_watches
from bot.watches.model import remove_watch as remove

log = logging.getLogger("bot.slack.watching")


def watch_reply(db: sqlite_utils.Database, user_id: str, sub: str, rest: str) -> Message:
    """``watch WORDS`` / ``watches`` / ``unwatch N|WORDS`` for ``user_id``."""
    if sub == "watch":
        return blocks.notice(add_watch(db, user_id, rest))
    if sub == "unwatch":
        return blocks.notice(remove(db, user_id, rest))
    return watches_message(list_watches(db, user_id))


def _watch_lines(watches: Sequence[Watch]) -> list[str]:
    return [f"{watch.number}. {fit(watch.words, 200)}" for watch in watches]


def watches_message(watches: Sequence[Watch]) -> Message:
    if not watches:
        return blocks.notice(
            "You have no watches. `/paper watch WORDS` (topic words, an author, Chinese words) sends you a direct"
            " message when a new digest has a matching paper."
        )
    body = f"*Your watches* ({len(watches)} of {MAX_WATCHES})\n" + "\n".join(_watch_lines(watches))
    return Message(
        text=f"Your watches: {len(watches)}",
        blocks=(section(join_limited(body.split("\n"), 3000)[0]), context(f"`{COMMAND} unwatch N` removes one.")),
    )


def home_blocks(watches: Sequence[Watch]) -> list[Block]:
    """The App Home section listing the user's watches."""
    if not watches:
        return [
            {"type": "divider"},
            section(f"*Your watches*\nNone yet: `{COMMAND} watch WORDS` tells you about new papers on a topic."),
        ]
    body = "\n".join(["*Your watches*", *_watch_lines(watches)])
    return [{"type": "divider"}, section(join_limited(body.split("\n"), 3000)[0])]


def notice_message(notice: Notice) -> Message:
    """The direct message: every newly loaded paper matching one of the person's watches."""
    lines = []
    for paper, words in notice.papers:
        title = mrkdwn.link(paper.link, mrkdwn.truncate(paper.title, 200)) if paper.link else fit(paper.title, 200)
        lines.append(f"• *{title}* — digest {paper.month} · #{paper.position} (watch: {fit(words, 60)})")
    count = len(notice.papers)
    head = f"*{count} new paper{'s' if count != 1 else ''} matching your watches*"
    chunks = join_limited([head, *lines], 3000)
    shown = [section(chunk) for chunk in chunks[:45]]
    return Message(
        text=f"{count} new paper{'s' if count != 1 else ''} matching your watches",
        blocks=(*shown, context(f"`{COMMAND} NAME` shows a paper's card · `{COMMAND} watches` lists your watches")),
    )


def deliver_notices(db: sqlite_utils.Database, client: WebClient) -> int:
    """Send every pending notice, one direct message per person; returns how many were sent.

    ``client`` must not retry blindly: a timed-out post may have arrived, and nobody is told twice."""
    notices = claim_notices(db)
    if not notices:
        return 0
    sent = 0
    for notice in notices:
        if not notice.papers:
            finish_notice(db, notice, sent=True)
            continue
        try:
            client.chat_postMessage(channel=notice.user_id, unfurl_links=False, **notice_message(notice).payload())
        except SlackApiError as error:
            code = str(error.response.get("error")) if error.response is not None else "error"
            log.warning("watch DM to %s refused: %s", notice.user_id, code)
            finish_notice(db, notice, sent=False, error=code)
            continue
        except Exception as error:
            log.warning("watch DM to %s: outcome unknown: %s", notice.user_id, error)
            finish_notice(db, notice, sent=False, error=f"unknown: {error.__class__.__name__}")
            continue
        finish_notice(db, notice, sent=True)
        sent += 1
    return sent
