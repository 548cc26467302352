"""Suggestions in Slack: ``/paper suggest``, vote and remove buttons, the shortcuts, the modal, App Home.

Every user action (a suggestion, a vote, a removal) is recorded in the ack itself, with a short busy
timeout (bot.db.user_write), together with the follow-ups it needs in the outbox: the ack either means
"recorded, and what follows will happen" or says why nothing was recorded. arXiv lookups and card posts
and redraws run on the outbox's own workers (bot.slack.followups), never on the threads that answer
buttons; what only answers the clicking user (lists, App Home, modals) is a lazy half.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import sqlite_utils
from slack_bolt import Ack, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient

from bot import outbox
from bot.arxiv.ids import find_arxiv_refs, parse_arxiv_ref
from bot.db import DatabaseProblem, user_write
from bot.digest import catalog
from bot.slack import blocks, followups
from bot.slack.blocks import Message
from bot.slack.listeners.actions import _tell_directly
from bot.slack.listeners.unfurls import refresh_unfurl
from bot.slack.services import Services
from bot.suggestions import model as suggestions
from bot.suggestions.blocks import home_view, suggest_modal, suggestion_list
from bot.suggestions.model import EXAMPLE, Recorded, SuggestResult, parse_suggest_args, suggest

log = logging.getLogger("bot.slack.listeners")

NOT_AN_ID = f"That is not an arXiv id or link. For example: `{EXAMPLE}`"
CLOSED = "That suggestion is closed (already in a roundup, or removed)."
NOT_ADMIN_REMOVE = "Only paperbot admins (PAPERBOT_ADMINS) can remove suggestions."


# --- shared steps --------------------------------------------------------------------------------------


def suggest_reply(result: SuggestResult) -> Message:
    """What the user sees at once after suggesting."""
    if result.outcome == "in_digest" and result.paper is not None:
        card = blocks.paper_card(result.paper)
        return Message(text=card.text, blocks=(blocks.section(blocks.fit(result.message)), *card.blocks))
    if result.outcome == "created":
        return blocks.notice(result.message + " Fetching it from arXiv and posting its card here…")
    return blocks.notice(result.message)


def record_then_publish(channel: str | None, tell: dict[str, str], once_key: str | None = None) -> Recorded:
    """What a recorded suggestion needs after the ack, recorded with it (bot.slack.followups)."""

    def then(db: sqlite_utils.Database, suggestion_id: int, outcome: str) -> None:
        followups.enqueue_publish(db, suggestion_id, channel, tell, once_key=once_key)

    return then


def record_then_redraw(db: sqlite_utils.Database, suggestion_id: int, outcome: str) -> None:
    """A vote or a removal was recorded: its card is redrawn after the ack."""
    followups.enqueue_redraw(db, suggestion_id)


def publish_home(services: Services, client: WebClient, user_id: str) -> None:
    db = services.db()
    month = catalog.latest_month(db)
    view = home_view(
        catalog.get_digest(db, month) if month else None,
        suggestions.open_suggestions(db),
        suggestions.user_suggestions(db, user_id),
        admin=user_id in services.settings.admins,
        ranked_total=suggestions.count_open(db),
        own_total=suggestions.count_user(db, user_id),
    )
    from bot.slack.watching import home_blocks
    from bot.watches.model import list_watches

    view["blocks"] = [*view["blocks"], *home_blocks(list_watches(db, user_id))][:100]
    client.views_publish(user_id=user_id, view=view)


# --- /paper suggest -------------------------------------------------------------------------------------


def suggest_command(services: Services, command: dict[str, Any], rest: str) -> Message:
    """``/paper suggest ARXIV_ID_OR_URL [why]``: record it with its follow-up, in the ack, and say what
    happened; the card is posted and the user told after the ack (bot.slack.followups)."""
    ref, why = parse_suggest_args(rest)
    if ref is None:
        return blocks.notice(NOT_AN_ID.replace("`", ""))
    user, channel = str(command.get("user_id")), str(command.get("channel_id"))
    tell = {"response_url": str(command.get("response_url") or ""), "user": user, "channel": channel}
    try:
        with user_write(services.db()) as db:
            result = suggest(db, user, ref, why, channel=channel, then=record_then_publish(channel, tell))
    except DatabaseProblem as problem:
        log.warning("/paper suggest by %s not taken: %s", user, problem)
        return blocks.notice(problem.user_message)
    outbox.wake()
    return suggest_reply(result)


# --- buttons --------------------------------------------------------------------------------------------

OUTCOME = "paperbot_outcome"
"""Set in the context by a button's ack half: what happened, for the lazy half to show."""


def _action(body: dict[str, Any]) -> tuple[int | None, str, str]:
    action = (body.get("actions") or [{}])[0]
    value = str(action.get("value") or "")
    container = str((body.get("container") or {}).get("type") or "")
    return (int(value) if value.isdigit() else None), str((body.get("user") or {}).get("id") or ""), container


def _tell(body: dict[str, Any], respond: Respond, context: BoltContext, outcome: str) -> None:
    """Why a click was not taken, to the clicking user alone: through ``response_url``, else (App Home, an
    unfurl's button) as an ephemeral message in the click's channel or a direct message."""
    if body.get("response_url"):
        respond(response_type="ephemeral", replace_original=False, text=outcome)
    else:
        _tell_directly(body, context, blocks.notice(outcome).payload())


def vote_ack(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    """Record the vote (or take it back) in the ack itself, with its card's redraw; never queued behind
    other work. A busy or broken database is told to the user right after (a button's ack shows nothing)."""
    services: Services = context["services"]
    suggestion_id, user_id, _ = _action(body)
    try:
        with user_write(services.db()) as db:
            toggled = (
                suggestions.toggle_vote(db, suggestion_id, user_id, then=record_then_redraw) if suggestion_id else None
            )
    except DatabaseProblem as problem:
        log.warning("vote by %s on suggestion %s not taken: %s", user_id, suggestion_id, problem)
        context[OUTCOME] = problem.user_message
    else:
        context[OUTCOME] = "" if toggled is not None else CLOSED
        outbox.wake()
    ack()


def vote(body: dict[str, Any], respond: Respond, context: BoltContext, client: WebClient) -> None:
    """After the vote's ack: say why it was not taken, or redraw the list or the home tab it came from
    (the card itself is redrawn by the outbox)."""
    services: Services = context["services"]
    outcome = context.get(OUTCOME)
    _, user_id, container = _action(body)
    if outcome is None:
        return  # the ack half failed: the error handler answered
    if outcome:
        _tell(body, respond, context, outcome)
        return
    if container == "view":
        publish_home(services, client, user_id)
    elif (body.get("container") or {}).get("is_ephemeral"):
        db = services.db()
        listing = suggestion_list(suggestions.open_suggestions(db), suggestions.count_open(db))
        respond(response_type="ephemeral", replace_original=True, **listing.payload())
    elif container == "message_attachment":  # the Vote button of an arXiv link's unfurl
        refresh_unfurl(services, client, body)


def remove_ack(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    """An admin's removal is recorded in the ack, with its card's redraw."""
    services: Services = context["services"]
    suggestion_id, user_id, _ = _action(body)
    if user_id not in services.settings.admins:
        context[OUTCOME] = NOT_ADMIN_REMOVE
    elif suggestion_id is None:
        context[OUTCOME] = CLOSED
    else:
        try:
            with user_write(services.db()) as db:
                suggestions.remove(db, suggestion_id, user_id, then=record_then_redraw)
        except DatabaseProblem as problem:
            log.warning("removal by %s of suggestion %s not taken: %s", user_id, suggestion_id, problem)
            context[OUTCOME] = problem.user_message
        else:
            context[OUTCOME] = ""
            outbox.wake()
    ack()


def remove(body: dict[str, Any], respond: Respond, context: BoltContext, client: WebClient) -> None:
    """After the removal's ack: a refusal or a problem for the user, or the home tab redrawn."""
    services: Services = context["services"]
    outcome = context.get(OUTCOME)
    _, user_id, container = _action(body)
    if outcome is None:
        return
    if outcome:
        _tell(body, respond, context, outcome)
        return
    if container == "view":
        publish_home(services, client, user_id)


# --- shortcuts and the modal ------------------------------------------------------------------------------


def ack_shortcut(ack: Ack) -> None:
    ack()


def _message_text(message: dict[str, Any]) -> str:
    """All text of a message, including blocks and attachments, where links may hide."""
    return json.dumps(message, ensure_ascii=False).replace("\\/", "/")


def open_from_message(body: dict[str, Any], respond: Respond, context: BoltContext, client: WebClient) -> None:
    """Message shortcut: offer the message's arXiv links in the suggest modal."""
    services: Services = context["services"]
    refs = find_arxiv_refs(_message_text(body.get("message") or {}))
    channel = (body.get("channel") or {}).get("id")
    db = services.db()
    found = []
    for ref in refs:
        row = db.execute("SELECT title FROM arxiv_entries WHERE arxiv_id = ?", [ref.id]).fetchone()
        found.append((ref.id, f"{ref.id} · {' '.join(str(row[0]).split())}" if row else f"arXiv {ref.id}"))
    view = suggest_modal(found, channel=channel, empty_message=not found)
    client.views_open(trigger_id=str(body.get("trigger_id")), view=view)


def open_empty(body: dict[str, Any], respond: Respond, context: BoltContext, client: WebClient) -> None:
    """Global shortcut: the suggest modal with an empty link field."""
    client.views_open(trigger_id=str(body.get("trigger_id")), view=suggest_modal())


def _submitted(body: dict[str, Any]) -> tuple[str, str, str | None]:
    values = ((body.get("view") or {}).get("state") or {}).get("values") or {}
    paper = (values.get("paper") or {}).get("arxiv_id") or {}
    raw = str((paper.get("selected_option") or {}).get("value") or paper.get("value") or "")
    why = str(((values.get("why") or {}).get("why") or {}).get("value") or "")
    metadata = json.loads(str((body.get("view") or {}).get("private_metadata") or "{}") or "{}")
    return raw.strip(), why.strip(), metadata.get("channel")


def submit_ack(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    """Validate the modal and record the suggestion with its follow-up (post or update the card, DM the
    user); errors are shown in the modal itself. A repeated delivery of the same submission (the same
    view) records nothing more and sends no second DM."""
    services: Services = context["services"]
    raw, why, channel = _submitted(body)
    ref = parse_arxiv_ref(raw)
    if ref is None:
        ack(response_action="errors", errors={"paper": "Not an arXiv id or link, e.g. 2301.11325"})
        return
    user_id = str((body.get("user") or {}).get("id"))
    target = channel or services.settings.roundup_channel
    view_id = str((body.get("view") or {}).get("id") or "")
    # A repeated delivery is the same view with the same values (a modal that showed an error and is sent
    # again has the same view id but other values).
    digest = hashlib.sha256(json.dumps([user_id, ref.id, why, channel]).encode()).hexdigest()[:16]
    then = record_then_publish(target, {"dm": user_id}, once_key=f"view:{view_id}:{digest}" if view_id else None)
    try:
        with user_write(services.db()) as db:
            result = suggest(db, user_id, ref, why, channel=channel, then=then)
    except DatabaseProblem as problem:
        log.warning("suggestion by %s from the modal not taken: %s", user_id, problem)
        ack(response_action="errors", errors={"paper": problem.user_message[:150]})
        return
    if result.outcome in ("invalid",):
        ack(response_action="errors", errors={"why": result.message[:150]})
    elif result.outcome in ("limit", "picked_before", "in_digest"):
        ack(response_action="errors", errors={"paper": result.message[:150]})
    else:
        outbox.wake()
        ack()


# --- App Home --------------------------------------------------------------------------------------------


def ack_event(ack: Ack) -> None:
    ack()


def home_opened(body: dict[str, Any], respond: Respond, context: BoltContext, client: WebClient) -> None:
    event = body.get("event") or {}
    if event.get("tab", "home") != "home":
        return
    publish_home(context["services"], client, str(event.get("user")))
