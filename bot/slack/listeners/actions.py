"""Buttons on paper cards and lists. Each acks at once; the lazy part answers through ``response_url``."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk.errors import SlackApiError

from bot.digest import catalog
from bot.digest.catalog import PaperView
from bot.slack import blocks
from bot.slack.services import Services

GONE = "That paper is no longer in the digests. Try /paper again."
EXPIRED = "This message has expired (Slack allows 5 answers within 30 minutes). Run /paper again for a fresh one."

log = logging.getLogger("bot.slack.listeners")


def ack_action(ack: Ack) -> None:
    ack()


def _paper(body: dict[str, Any], context: BoltContext) -> PaperView | None:
    services: Services = context["services"]
    value = str((body.get("actions") or [{}])[0].get("value") or "")
    return catalog.get_paper(services.db(), int(value)) if value.isdigit() else None


def _answer(
    body: dict[str, Any], respond: Respond, context: BoltContext, message: blocks.Message, **options: Any
) -> None:
    """Answer through ``response_url``; once Slack refuses it, tell the user with an ephemeral message,
    or a direct message where the bot is not in the channel. A click without a ``response_url`` (a button
    in a link unfurl may come without one) gets the answer that way at once.

    Slack documents the limit (5 uses within 30 minutes) but not the answer to a use past it, so any
    refusal counts: a status other than 2xx, or a 2xx whose JSON says ``"ok": false``.
    """
    if not body.get("response_url"):
        _tell_directly(body, context, message.payload())
        return
    result = respond(**options, **message.payload())
    if not _refused(result.status_code, result.body):
        return
    log.warning("response_url refused (HTTP %s %s): telling the user it expired", result.status_code, result.body)
    _tell_directly(body, context, blocks.notice(EXPIRED).payload())


def _tell_directly(body: dict[str, Any], context: BoltContext, notice: dict[str, Any]) -> None:
    """An ephemeral message to the clicking user in the channel, or a direct message failing that."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    user = (body.get("user") or {}).get("id")
    if not user:
        return
    try:
        if channel:
            context.client.chat_postEphemeral(channel=channel, user=user, **notice)
            return
    except SlackApiError as error:
        log.info("cannot post an ephemeral message in %s (%s): sending a direct message", channel, error)
    context.client.chat_postMessage(channel=user, **notice)


def _refused(status: int, body: str) -> bool:
    if not 200 <= status < 300:
        return True
    try:
        answer = json.loads(body) if body.lstrip().startswith("{") else None
    except ValueError:
        return False  # a 2xx that is not JSON ("ok" in plain text): accepted
    return isinstance(answer, dict) and answer.get("ok") is False


def open_card(body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    """From a list of choices: replace the list with the chosen paper's card."""
    paper = _paper(body, context)
    message = blocks.paper_card(paper) if paper else blocks.notice(GONE)
    _answer(body, respond, context, message, replace_original=True, response_type="ephemeral")


def share_card(body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    """Post the card in the channel for everyone, saying who shared it."""
    paper = _paper(body, context)
    if paper is None:
        _answer(body, respond, context, blocks.notice(GONE), replace_original=False, response_type="ephemeral")
        return
    user_id = str((body.get("user") or {}).get("id") or "")
    message = blocks.paper_card(paper, shared_by=user_id, shareable=False)
    _answer(body, respond, context, message, replace_original=False, response_type="in_channel")


def full_summary(body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    """Show the whole summary of a card that had to cut it: in place on the user's own (ephemeral) card,
    and to the clicking user alone on a card shared in the channel, which must not change for everyone."""
    paper = _paper(body, context)
    message = blocks.paper_card(paper, full_summary=True) if paper else blocks.notice(GONE)
    own_card = bool((body.get("container") or {}).get("is_ephemeral"))
    _answer(body, respond, context, message, replace_original=own_card, response_type="ephemeral")
