"""paperbot in the conversation: ``@paperbot …`` mentions and direct messages, each answered exactly once.

* ``@paperbot QUERY`` (a channel or a thread) answers in that thread with a compact public card; several
  matches get a short list, none the usual "nothing found". ``@paperbot`` alone (or ``help``) answers with
  a short help. ``@paperbot suggest URL why`` and the other sub-commands run exactly as ``/paper`` runs them
  (its own ack and lazy halves), their private answers shown to the mentioning user alone.
* A direct message runs exactly as ``/paper`` with the same text, and every answer goes into the DM.
* Messages from bots (paperbot included) and message events with a subtype (edits, deletions, files…)
  are acknowledged and ignored; other listeners (e.g. digest files sent by DM) own those.

The ack is empty and immediate; the lazy half first claims the message ``(team, channel, ts)``
(:mod:`bot.slack.deliveries`), so Slack's retries, Socket Mode redeliveries and the ``app_mention`` +
``message`` pair of one mention produce one answer. A claim the database refuses is kept in memory and the
message answered anyway (a sub-command that writes says itself when the database is busy); a claim that
fails otherwise gets the apology.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.attachments import Attachment
from slack_sdk.models.blocks import Block
from slack_sdk.webhook import WebhookResponse

from bot.search.query import search
from bot.slack import blocks
from bot.slack.blocks import Message
from bot.slack.deliveries import claim_message
from bot.slack.ids import ACTION_SHARE, COMMAND
from bot.slack.listeners import commands
from bot.slack.listeners.errors import APOLOGY
from bot.slack.services import Services
from bot.slack.unfurl_blocks import compact_card, compact_choices, mention_help

log = logging.getLogger("bot.slack.listeners")

SUB_COMMANDS = frozenset({"list", "suggest", "suggestions", "roundup", "cite", "watch", "watches", "unwatch", "load"})
"""First words that make a mention a ``/paper`` sub-command rather than a search."""
MAX_TEXT_CHARS = 4000
"""A message longer than this is cut before it is read as a query (Slack allows 40,000 characters)."""

_LINK = re.compile(r"<((?:https?|mailto):[^|>\s]*)(?:\|[^>]*)?>")
_CHANNEL_REF = re.compile(r"<#[CG][A-Z0-9]+\|([^>]*)>")


def ack_event(ack: Ack) -> None:
    ack()


def from_a_bot(event: Mapping[str, Any], bot_user_id: str | None) -> bool:
    """Written by a bot (paperbot or any other), or by nobody in particular."""
    user = event.get("user")
    return bool(
        event.get("bot_id")
        or event.get("subtype") == "bot_message"
        or not user
        or (bot_user_id and user == bot_user_id)
    )


def query_text(text: str, bot_user_id: str | None) -> str:
    """The text of a message as ``/paper`` would receive it: paperbot's mention removed, ``<url|label>``
    links as their URL, channel references as ``#name`` (entities stay escaped: ``command_text`` undoes
    them, as it does for slash commands)."""
    text = text[:MAX_TEXT_CHARS]
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", " ", text)
    text = _LINK.sub(lambda match: match.group(1), text)
    text = _CHANNEL_REF.sub(lambda match: "#" + match.group(1), text)
    return " ".join(text.split())


class ConversationRespond(Respond):
    """``respond`` for a command that came as a message: posts where the message was, instead of using a
    ``response_url`` (a message has none). ``ephemeral`` answers go to the author alone in a channel and as
    plain messages in a DM; the others are posted in the thread."""

    def __init__(self, client: WebClient, channel: str, user: str, thread_ts: str | None, *, private: bool) -> None:
        super().__init__(response_url=None)
        self.client = client
        self.channel = channel
        self.user = user
        self.thread_ts = thread_ts
        self.private = private

    def __call__(
        self,
        text: str | dict[str, Any] = "",
        blocks: Sequence[dict[str, Any] | Block] | None = None,
        attachments: Sequence[dict[str, Any] | Attachment] | None = None,
        response_type: str | None = None,
        replace_original: bool | None = None,
        delete_original: bool | None = None,
        unfurl_links: bool | None = None,
        unfurl_media: bool | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> WebhookResponse:
        message: dict[str, Any] = dict(text) if isinstance(text, dict) else {"text": text}
        if blocks is not None:
            message["blocks"] = list(blocks)
        post(
            self.client,
            self.channel,
            self.user,
            self.thread_ts,
            message,
            private=self.private and response_type != "in_channel",
        )
        return WebhookResponse(url="", status_code=200, body="ok", headers={})


def post(
    client: WebClient, channel: str, user: str, thread_ts: str | None, message: Mapping[str, Any], *, private: bool
) -> None:
    payload = {key: message[key] for key in ("text", "blocks") if key in message}
    if channel.startswith("D") and payload.get("blocks"):
        # In a direct message the card is already the user's own: "Share in channel" would post it again there.
        payload["blocks"] = without_share(payload["blocks"])
    if private:
        client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, **payload)
    else:
        client.chat_postMessage(channel=channel, thread_ts=thread_ts, unfurl_links=False, **payload)


def without_share(blocks: Sequence[Any]) -> list[Any]:
    """The blocks less any *Share in channel* button (and an actions block left empty by that)."""
    kept: list[Any] = []
    for block in blocks:
        if isinstance(block, dict) and block.get("type") == "actions":
            elements = [e for e in block.get("elements", []) if e.get("action_id") != ACTION_SHARE]
            if not elements:
                continue
            block = {**block, "elements": elements}
        kept.append(block)
    return kept


def run_as_command(
    services: Services, client: WebClient, event: Mapping[str, Any], team: str, text: str, *, private: bool
) -> None:
    """Run ``/paper TEXT`` for the author of ``event``: its ack half, whose answer is posted, then its lazy
    half (suggest, roundup post…), whose answers go the same way."""
    channel, user = str(event.get("channel")), str(event.get("user"))
    thread_ts = event.get("thread_ts") or (event.get("ts") if private else None)
    command = {
        "command": COMMAND,
        "text": text,
        "user_id": user,
        "channel_id": channel,
        "team_id": team,
    }
    command_context = BoltContext({"services": services})
    ack = Ack()  # type: ignore[no-untyped-call]
    commands.paper_command(ack, command, command_context)
    respond = ConversationRespond(client, channel, user, str(thread_ts) if thread_ts else None, private=private)
    if ack.response is not None and ack.response.body:
        answer = json.loads(ack.response.body)
        respond(text=answer.get("text", ""), blocks=answer.get("blocks"), response_type=answer.get("response_type"))
    if commands.has_work_after_ack(command):
        commands.paper_command_work(body=command, respond=respond, context=command_context, client=client)


def mention_reply(services: Services, text: str) -> Message:
    """The public answer to ``@paperbot QUERY`` (a search); ``text`` as Slack sent it (entities escaped)."""
    query = commands.command_text({"text": text})
    result = search(services.db(), query)
    if result.kind == "winner":
        return compact_card(result.papers[0])
    if result.kind == "choices":
        return compact_choices(query, result.papers)
    if result.arxiv_ref is not None:
        return blocks.nothing_found(query, arxiv_id=result.arxiv_ref.id)
    return blocks.nothing_found(query, closest=result.papers[:3])


def _claim(services: Services, body: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    team = str(body.get("team_id") or event.get("team") or "")
    claimed = claim_message(
        services.db(),
        team,
        str(event.get("channel")),
        str(event.get("ts")),
        event_type=str(event.get("type")),
        event_id=str(body.get("event_id") or "") or None,
        user_id=str(event.get("user") or "") or None,
    )
    if not claimed:
        log.info(
            "message %s %s delivered again (%s): already answered",
            event.get("channel"),
            event.get("ts"),
            event.get("type"),
        )
    return claimed


def _is_direct(event: Mapping[str, Any]) -> bool:
    return event.get("channel_type") == "im" or str(event.get("channel") or "").startswith("D")


def on_mention(body: dict[str, Any], respond: Respond, context: BoltContext, client: WebClient) -> None:
    """The lazy half of ``app_mention``."""
    services: Services = context["services"]
    event = body.get("event") or {}
    if from_a_bot(event, context.bot_user_id) or not event.get("channel") or not event.get("ts"):
        return
    team = str(body.get("team_id") or "")
    text = query_text(str(event.get("text") or ""), context.bot_user_id)
    channel, user = str(event["channel"]), str(event.get("user"))
    thread_ts = str(event.get("thread_ts") or event["ts"])
    direct = _is_direct(event)
    try:
        if not _claim(services, body, event):
            return
        if direct:
            run_as_command(services, client, event, team, text, private=False)
            return
        head = text.partition(" ")[0].lower()
        if head in ("", "help", "-h", "--help", "?"):
            post(client, channel, user, thread_ts, mention_help().payload(), private=False)
        elif head in SUB_COMMANDS:
            run_as_command(services, client, event, team, text, private=True)
        else:
            post(client, channel, user, thread_ts, mention_reply(services, text).payload(), private=False)
    except Exception:
        _apologise(client, event, private=not direct)
        raise


def on_direct_message(body: dict[str, Any], respond: Respond, context: BoltContext, client: WebClient) -> None:
    """The lazy half of a ``message`` event: a person's direct message to paperbot runs as ``/paper``."""
    services: Services = context["services"]
    event = body.get("event") or {}
    if not _is_direct(event) or from_a_bot(event, context.bot_user_id) or not event.get("ts"):
        return
    text = query_text(str(event.get("text") or ""), context.bot_user_id)
    try:
        if not _claim(services, body, event):
            return
        run_as_command(services, client, event, str(body.get("team_id") or ""), text, private=False)
    except Exception:
        _apologise(client, event, private=False)
        raise


def _apologise(client: WebClient, event: Mapping[str, Any], *, private: bool) -> None:
    """Tell the author that their message failed (to them alone in a channel); the caller re-raises, so the
    failure is logged with its traceback (``errors.in_background``)."""
    channel, user = str(event.get("channel")), str(event.get("user"))
    thread_ts = event.get("thread_ts") or (event.get("ts") if private else None)
    try:
        post(client, channel, user, str(thread_ts) if thread_ts else None, {"text": APOLOGY}, private=private)
    except SlackApiError as error:
        log.warning("could not apologise in %s: %s", channel, error)
