"""``/paper``: answered within the ack itself, so a search costs one HTTP round trip and no Web API call.

Sub-commands that change something ack with what will happen: ``suggest`` records the suggestion and
its follow-up in the outbox, ``roundup post`` does it in :func:`paper_command_work`, the lazy half.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient

from bot.db import DatabaseProblem, user_write
from bot.digest.intake import source_from_url
from bot.digest.parse import DigestError
from bot.roundup.post import RoundupError, owner_name, post_roundup
from bot.slack import blocks, loading, mrkdwn
from bot.slack.blocks import Message
from bot.slack.client import WebApiChannel
from bot.slack.listeners import suggesting
from bot.slack.listeners.errors import ACCEPTED
from bot.slack.replies import paper_reply, parse_roundup_args, resolve_month
from bot.slack.services import Services
from bot.slack.watching import watch_reply

log = logging.getLogger("bot.slack.listeners")

NOT_ADMIN = "Only paperbot admins can post the roundup (PAPERBOT_ADMINS). /paper roundup shows you a preview."


def command_text(command: dict[str, Any]) -> str:
    """What the user typed: Slack sends slash-command text with ``&``, ``<`` and ``>`` escaped as
    entities; undo that once, so that "R&D" is not shown as ``R&amp;D`` after our own escaping."""
    raw = str(command.get("text") or "")
    return raw.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _words(command: dict[str, Any]) -> tuple[str, str]:
    text = " ".join(command_text(command).split())
    head, _, rest = text.partition(" ")
    return head.lower(), rest


def _roundup_post_target(services: Services, command: dict[str, Any]) -> tuple[str, str] | Message:
    """(month, channel) for ``/paper roundup post [YYYY-MM]`` by an admin, else the refusal to show."""
    if str(command.get("user_id")) not in services.settings.admins:
        return blocks.notice(NOT_ADMIN)
    _, month_text = parse_roundup_args(_words(command)[1])
    month = resolve_month(services.db(), month_text)
    if isinstance(month, Message):
        return month
    channel = services.settings.roundup_channel or str(command.get("channel_id"))
    return month, channel


def _is_roundup_post(command: dict[str, Any]) -> bool:
    head, rest = _words(command)
    return head == "roundup" and parse_roundup_args(rest)[0]


def has_work_after_ack(body: dict[str, Any]) -> bool:
    """``load`` and ``roundup post`` continue after the ack (a Bolt listener matcher); a suggestion's
    follow-up is recorded in the outbox with it (bot.slack.followups)."""
    return _words(body)[0] == "load" or _is_roundup_post(body)


def paper_command(ack: Ack, command: dict[str, Any], context: BoltContext) -> None:
    services: Services = context["services"]
    head, rest = _words(command)
    if head == "suggest":
        reply = suggesting.suggest_command(services, command, rest)
        ack(response_type="ephemeral", **reply.payload())
        return
    if head == "load":
        reply = loading_ack(services, command, rest)
        context[ACCEPTED] = reply.text.startswith("Loading ")
        ack(response_type="ephemeral", **reply.payload())
        return
    if head in ("watch", "watches", "unwatch"):
        reply = _watch_command(services, str(command.get("user_id")), head, rest)
        ack(response_type="ephemeral", **reply.payload())
        return
    if _is_roundup_post(command):
        target = _roundup_post_target(services, command)
        if isinstance(target, Message):
            ack(response_type="ephemeral", **target.payload())
        else:
            month, channel = target
            context[ACCEPTED] = True
            ack(response_type="ephemeral", text=f"Posting the {month} roundup to {mrkdwn.channel(channel)}…")
        return
    reply = paper_reply(services.db(), command_text(command))
    ack(response_type="ephemeral", **reply.payload())


def _watch_command(services: Services, user: str, head: str, rest: str) -> Message:
    """``watch`` and ``unwatch`` change the user's watches in the ack: a short busy timeout
    (bot.db.user_write), and a busy or broken database said so; ``watches`` only reads."""
    if head == "watches":
        return watch_reply(services.db(), user, head, rest)
    try:
        with user_write(services.db()) as db:
            return watch_reply(db, user, head, rest)
    except DatabaseProblem as problem:
        log.warning("/paper %s by %s not taken: %s", head, user, problem)
        return blocks.notice(problem.user_message)


def paper_command_work(body: dict[str, Any], respond: Respond, context: BoltContext, client: WebClient) -> None:
    """The lazy half of ``/paper``: ``suggest`` and an admin's ``roundup post`` have work after the ack."""
    if not context.get(ACCEPTED):
        return
    services: Services = context["services"]
    head, rest = _words(body)
    if head == "load":
        load_work(services, body, rest, respond)
        return
    if not _is_roundup_post(body):
        return
    target = _roundup_post_target(services, body)
    if isinstance(target, Message):
        return
    month, channel = target
    user = str(body.get("user_id"))
    try:
        result = post_roundup(
            services.db(), WebApiChannel(services.posting_client()), month, channel, owner=owner_name(f"admin {user}")
        )
        text = result.describe()
    except RoundupError as error:
        text = str(error)
    respond(response_type="ephemeral", replace_original=False, **blocks.notice(text).payload())


def loading_ack(services: Services, command: dict[str, Any], rest: str) -> Message:
    """``/paper load URL [YYYY-MM]``: a non-admin is refused here, before anything is fetched."""
    if str(command.get("user_id")) not in services.settings.admins:
        return blocks.notice(loading.NOT_ADMIN)
    parsed = loading.parse_load_args(rest)
    if isinstance(parsed, str):
        return blocks.notice(parsed)
    url, month = parsed
    return blocks.notice(f"Loading {url}{f' as {month}' if month else ''}… I will tell you here what changed.")


def load_work(services: Services, body: dict[str, Any], rest: str, respond: Respond) -> None:
    """The lazy half of ``/paper load``: fetch, parse, store, and tell the admin."""
    parsed = loading.parse_load_args(rest)
    if isinstance(parsed, str) or str(body.get("user_id")) not in services.settings.admins:
        return
    url, month = parsed
    try:
        source = source_from_url(url)
    except DigestError as error:
        reply = blocks.notice(str(error))
    else:
        reply = loading.load_for_admin(services, source, month, str(body.get("user_id")))
    respond(response_type="ephemeral", replace_original=False, **reply.payload())
