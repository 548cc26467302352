"""Watches in Slack: the replies to ``/paper watch``, ``watches`` and ``unwatch``, the App Home section, and
the direct messages that tell people about newly loaded papers matching their watches.

Block Kit comes from the pure functions here; :func:`deliver_notices` is the only sender: one message per
person for everything pending, claimed in SQLite first (bot.watches.model), never retried blindly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlite_utils
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import outbox
from bot.slack import blocks, mrkdwn
from bot.slack.blocks import Block, Message, context, fit, join_limited, section
from bot.slack.client import already_posted, notice_metadata
from bot.slack.ids import COMMAND
from bot.watches.model import (
    GIVE_UP_SECONDS,
    MAX_WATCHES,
    UNKNOWN_AFTER_SECONDS,
    Notice,
    Watch,
    add_watch,
    claim_notices,
    finish_notice,
    list_watches,
    settle,
    stamp_sending,
    still_sending,
    unsettled,
)
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


def deliver_notices(db: sqlite_utils.Database, client: WebClient, *, settle_later: bool = True) -> int:
    """Send every pending notice, one direct message per person; returns how many were sent.

    ``client`` must not retry blindly. Each message carries its notice's key (Slack message metadata). A
    send whose outcome is unknown (a timeout, a dropped connection, a process stopped mid-send) stays
    ``sending``; a later delivery (:func:`settle_unknown`, first thing) reads the DM back: there, it was
    sent; not there, it goes out again; unreadable, it waits. Nobody is told twice, and nothing is lost."""
    settle_unknown(db, client)
    notices = claim_notices(db)
    sent = 0
    for notice in notices:
        if not notice.papers:
            finish_notice(db, notice, sent=True)
            continue
        if not stamp_sending(db, notice.key):
            continue  # another delivery took it over meanwhile (its send looked lost): it is theirs
        try:
            client.chat_postMessage(
                channel=notice.user_id,
                unfurl_links=False,
                metadata=notice_metadata(notice.key),
                **notice_message(notice).payload(),
            )
        except SlackApiError as error:
            code = str(error.response.get("error")) if error.response is not None else "error"
            log.warning("watch DM to %s refused: %s", notice.user_id, code)
            finish_notice(db, notice, sent=False, error=code)
            continue
        except Exception as error:  # the outcome is unknown: it may have arrived
            log.warning("watch DM to %s: outcome unknown (%s); its DM is read back later", notice.user_id, error)
            continue
        finish_notice(db, notice, sent=True)
        sent += 1
    if settle_later and still_sending(db):  # unknown outcomes, or another run's: read back later
        _settle_later(db)
    return sent


def settle_unknown(db: sqlite_utils.Database, client: WebClient, *, now: datetime | None = None) -> int:
    """Read back the DM of each notice whose send's outcome is unknown: ``sent`` when its message is
    there, ``pending`` (sent by this delivery) when it is not; left as it is when the DM cannot be read.
    Returns how many are still unknown. One whose DM cannot be read back for :data:`GIVE_UP_SECONDS` is
    closed as failed."""
    left = 0
    moment = (now or datetime.now(UTC)).timestamp()
    for message in unsettled(db, now=now):
        try:
            arrived = already_posted(client, message.user_id, message.key, oldest=message.since - 60)
        except Exception as error:  # Slack unreachable or refusing: still unknown, looked at next time
            if moment - message.since >= GIVE_UP_SECONDS:
                log.warning("watch DM to %s: outcome unknown after a day (%s); given up", message.user_id, error)
                settle(db, message.key, "failed", f"unknown: {error.__class__.__name__}", claimed_at=message.claimed_at)
                continue
            log.info("watch DM to %s: cannot read the conversation back yet: %s", message.user_id, error)
            left += 1
            continue
        settle(db, message.key, "sent" if arrived else "pending", claimed_at=message.claimed_at)
        log.info("watch DM to %s %s", message.user_id, "had arrived" if arrived else "had not: it goes out again")
    return left


SETTLE_JOB = "watch.settle"
"""The outbox job (lane ``slack``) that settles notices whose outcome is unknown once they may be read back;
``serve``'s workers run it (bot.slack.followups), whichever process enqueued it."""


def _settle_later(db: sqlite_utils.Database) -> None:
    outbox.enqueue(db, SETTLE_JOB, {}, lane="slack", merge_key=SETTLE_JOB, delay=UNKNOWN_AFTER_SECONDS + 5)
    outbox.wake()


def settle_job(db: sqlite_utils.Database, client: WebClient) -> None:
    """The :data:`SETTLE_JOB` job: settle what can be, send what did not arrive; try again while a DM cannot
    be read back."""
    deliver_notices(db, client, settle_later=False)  # this job is the later: it must not enqueue itself
    if still_sending(db):
        raise outbox.Retry("a watch DM's outcome is still unknown")
