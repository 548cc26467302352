"""Suggestions in Slack: ``/paper suggest``, vote and remove buttons, the shortcuts, the modal, App Home.

Ack listeners only touch SQLite (suggest, validate) and answer; everything that waits on arXiv or the
Web API (fetching metadata, posting and updating cards, opening modals, publishing App Home) happens in
the lazy halves, after the ack.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.arxiv.ids import find_arxiv_refs, parse_arxiv_ref
from bot.digest import catalog
from bot.slack import blocks, mrkdwn
from bot.slack.blocks import Message
from bot.slack.listeners.errors import ACCEPTED
from bot.slack.listeners.unfurls import refresh_unfurl
from bot.slack.services import Services
from bot.suggestions import model as suggestions
from bot.suggestions.blocks import home_view, suggest_modal, suggestion_card, suggestion_list
from bot.suggestions.model import EXAMPLE, SuggestResult, parse_suggest_args, suggest

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


def publish_suggestion(services: Services, client: WebClient, suggestion_id: int, channel: str | None) -> str:
    """Make sure the suggestion has arXiv metadata and an up-to-date card; returns what to tell the user.

    The card is posted in ``channel`` the first time, and updated in place afterwards.
    """
    db = services.db()
    suggestion = suggestions.get_suggestion(db, suggestion_id)
    if suggestion is None:
        return CLOSED
    note = ""
    if suggestion.title is None:
        note = _fetch_metadata(services, suggestion.arxiv_id)
        if note == "not found":
            # arXiv sometimes answers with an empty feed by mistake: ask once more before believing it.
            note = _fetch_metadata(services, suggestion.arxiv_id)
        if note == "not found":
            suggestions.withdraw(db, suggestion_id)
            return f"arXiv has no paper {suggestion.arxiv_id}; the suggestion was not recorded. Check the id."
    with services.card_lock(suggestion_id):
        suggestion = suggestions.get_suggestion(db, suggestion_id)
        if suggestion is None:
            return CLOSED
        card = suggestion_card(suggestion)
        if suggestion.channel and suggestion.message_ts and _update_card(services, client, suggestion.id):
            return "The card shows your vote." + note
        if channel is None:
            return "Recorded. It is listed in /paper suggestions and the App Home tab." + note
        try:
            # No blind retries: a timed-out post may have gone through, and a card must not appear twice.
            posted = services.posting_client().chat_postMessage(channel=channel, unfurl_links=False, **card.payload())
        except SlackApiError as error:
            code = error.response.get("error") if error.response is not None else "error"
            if code in ("not_in_channel", "channel_not_found", "is_archived"):
                return (
                    "Recorded, but I cannot post in this channel (" + str(code) + "): invite @paperbot "
                    "to show the card here. It is listed in /paper suggestions."
                )
            raise
        suggestions.record_card(db, suggestion_id, str(posted["channel"]), str(posted["ts"]))
    return "Posted its card." + note


def _fetch_metadata(services: Services, arxiv_id: str) -> str:
    """Fetch the paper from arXiv (rate-limited, with deadlines). ``"not found"``, or a note for the user."""
    from bot.arxiv.client import ArxivClient, ArxivError
    from bot.arxiv.enrich import enrich_ids

    try:
        with ArxivClient.from_settings(services.settings) as client:
            result = enrich_ids(services.db(), client, [arxiv_id])
    except ArxivError as error:
        log.warning("arXiv metadata for suggestion %s not fetched: %s", arxiv_id, error)
        return " (arXiv did not answer; the title will appear once it does.)"
    if arxiv_id in result.not_found:
        return "not found"
    if arxiv_id in result.failed:
        return f" (arXiv's entry could not be read: {result.failed[arxiv_id]}.)"
    return ""


CARD_GONE = ("message_not_found", "cant_update_message", "channel_not_found", "is_archived", "not_in_channel")


def _update_card(services: Services, client: WebClient, suggestion_id: int) -> bool:
    """Redraw the card in place (caller holds the card lock). A card that was deleted or can no longer be
    edited is forgotten, so votes keep working; returns whether a card was updated."""
    suggestion = suggestions.get_suggestion(services.db(), suggestion_id)
    if suggestion is None or not (suggestion.channel and suggestion.message_ts):
        return False
    try:
        client.chat_update(
            channel=suggestion.channel, ts=suggestion.message_ts, **suggestion_card(suggestion).payload()
        )
    except SlackApiError as error:
        code = error.response.get("error") if error.response is not None else None
        if code not in CARD_GONE:
            raise
        log.info("suggestion %s: its card is gone (%s); forgetting it", suggestion_id, code)
        suggestions.forget_card(services.db(), suggestion_id)
        return False
    return True


def refresh_card(services: Services, client: WebClient, suggestion_id: int) -> None:
    """Redraw a suggestion's card (votes, removal) wherever it was posted."""
    with services.card_lock(suggestion_id):
        _update_card(services, client, suggestion_id)


def publish_home(services: Services, client: WebClient, user_id: str) -> None:
    db = services.db()
    month = catalog.latest_month(db)
    view = home_view(
        catalog.get_digest(db, month) if month else None,
        suggestions.open_suggestions(db),
        suggestions.user_suggestions(db, user_id),
        admin=user_id in services.settings.admins,
    )
    from bot.slack.watching import home_blocks
    from bot.watches.model import list_watches

    view["blocks"] = [*view["blocks"], *home_blocks(list_watches(db, user_id))][:100]
    client.views_publish(user_id=user_id, view=view)


# --- /paper suggest -------------------------------------------------------------------------------------


def suggest_command(services: Services, command: dict[str, Any], rest: str) -> Message:
    """The ack half of ``/paper suggest ARXIV_ID_OR_URL [why]``: record it, say what happened."""
    ref, why = parse_suggest_args(rest)
    if ref is None:
        return blocks.notice(NOT_AN_ID.replace("`", ""))
    result = suggest(services.db(), str(command.get("user_id")), ref, why, channel=str(command.get("channel_id")))
    return suggest_reply(result)


def suggest_command_work(
    services: Services, body: dict[str, Any], rest: str, respond: Respond, client: WebClient
) -> None:
    """The lazy half: fetch metadata, post or update the card, tell the user how it went."""
    ref, _ = parse_suggest_args(rest)
    if ref is None:
        return
    suggestion = suggestions.find_open(services.db(), ref.id)
    if suggestion is None or str(body.get("user_id")) not in suggestion.voters:
        return  # refused in the ack (limit, too long, already in a digest…): nothing to do
    text = publish_suggestion(services, client, suggestion.id, str(body.get("channel_id")))
    respond(response_type="ephemeral", replace_original=False, **blocks.notice(text).payload())


# --- buttons --------------------------------------------------------------------------------------------


def ack_button(ack: Ack) -> None:
    ack()


def _action(body: dict[str, Any]) -> tuple[int | None, str, str]:
    action = (body.get("actions") or [{}])[0]
    value = str(action.get("value") or "")
    container = str((body.get("container") or {}).get("type") or "")
    return (int(value) if value.isdigit() else None), str((body.get("user") or {}).get("id") or ""), container


def vote(body: dict[str, Any], respond: Respond, context: BoltContext, client: WebClient) -> None:
    """Toggle the clicking user's vote and redraw the card, the list or the home tab it came from."""
    services: Services = context["services"]
    suggestion_id, user_id, container = _action(body)
    toggled = suggestions.toggle_vote(services.db(), suggestion_id, user_id) if suggestion_id else None
    if toggled is None:
        if body.get("response_url"):
            respond(response_type="ephemeral", replace_original=False, text=CLOSED)
        return
    assert suggestion_id is not None
    refresh_card(services, client, suggestion_id)
    if container == "view":
        publish_home(services, client, user_id)
    elif (body.get("container") or {}).get("is_ephemeral"):
        listing = suggestion_list(suggestions.open_suggestions(services.db()))
        respond(response_type="ephemeral", replace_original=True, **listing.payload())
    elif container == "message_attachment":  # the Vote button of an arXiv link's unfurl
        refresh_unfurl(services, client, body)


def remove(body: dict[str, Any], respond: Respond, context: BoltContext, client: WebClient) -> None:
    """Admins remove a suggestion; others get a polite refusal."""
    services: Services = context["services"]
    suggestion_id, user_id, container = _action(body)
    if user_id not in services.settings.admins:
        if body.get("response_url"):
            respond(response_type="ephemeral", replace_original=False, text=NOT_ADMIN_REMOVE)
        else:
            channel = (body.get("channel") or {}).get("id")
            if channel:
                client.chat_postEphemeral(channel=channel, user=user_id, text=NOT_ADMIN_REMOVE)
        return
    if suggestion_id is None or suggestions.remove(services.db(), suggestion_id, user_id) is None:
        return
    refresh_card(services, client, suggestion_id)
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
    """Validate the modal and record the suggestion; errors are shown in the modal itself."""
    services: Services = context["services"]
    raw, why, channel = _submitted(body)
    ref = parse_arxiv_ref(raw)
    if ref is None:
        ack(response_action="errors", errors={"paper": "Not an arXiv id or link, e.g. 2301.11325"})
        return
    user_id = str((body.get("user") or {}).get("id"))
    result = suggest(services.db(), user_id, ref, why, channel=channel)
    if result.outcome in ("invalid",):
        ack(response_action="errors", errors={"why": result.message[:150]})
    elif result.outcome in ("limit", "picked_before", "in_digest"):
        ack(response_action="errors", errors={"paper": result.message[:150]})
    else:
        context[ACCEPTED] = True
        ack()


def submit_work(body: dict[str, Any], respond: Respond, context: BoltContext, client: WebClient) -> None:
    """After the modal closed: post or update the card, and tell the user in a DM."""
    if not context.get(ACCEPTED):
        return  # the modal showed an error and stays open
    services: Services = context["services"]
    raw, _, channel = _submitted(body)
    ref = parse_arxiv_ref(raw)
    user_id = str((body.get("user") or {}).get("id"))
    if ref is None:
        return
    suggestion = suggestions.find_open(services.db(), ref.id)
    if suggestion is None or user_id not in suggestion.voters:
        return
    target = channel or services.settings.roundup_channel
    text = publish_suggestion(services, client, suggestion.id, target)
    client.chat_postMessage(channel=user_id, text=mrkdwn.escape(f"Your suggestion of arXiv {ref.id}: {text}"))


# --- App Home --------------------------------------------------------------------------------------------


def ack_event(ack: Ack) -> None:
    ack()


def home_opened(body: dict[str, Any], respond: Respond, context: BoltContext, client: WebClient) -> None:
    event = body.get("event") or {}
    if event.get("tab", "home") != "home":
        return
    publish_home(context["services"], client, str(event.get("user")))
