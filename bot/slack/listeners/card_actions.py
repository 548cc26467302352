"""A card's *English abstract*, *Cite* and *Related* buttons and its "Cites" menu. Each acks at once;
the lazy half answers the clicking user alone through ``response_url`` (a new ephemeral message, so a
card shared in the channel stays as everyone sees it)."""

from __future__ import annotations

from typing import Any

from slack_bolt import BoltContext
from slack_bolt.context.respond import Respond

from bot.digest import catalog
from bot.digest.catalog import PaperView
from bot.slack import blocks
from bot.slack.listeners.actions import GONE, _answer
from bot.slack.replies import abstract_message, citation_message, related_message
from bot.slack.services import Services


def _clicked_paper(body: dict[str, Any], context: BoltContext) -> PaperView | None:
    """The paper a button's value (or an overflow option's value) names."""
    services: Services = context["services"]
    action = (body.get("actions") or [{}])[0]
    value = str(action.get("value") or (action.get("selected_option") or {}).get("value") or "")
    return catalog.get_paper(services.db(), int(value)) if value.isdigit() and len(value) < 19 else None


def _reply(body: dict[str, Any], respond: Respond, context: BoltContext, message: blocks.Message) -> None:
    _answer(body, respond, context, message, replace_original=False, response_type="ephemeral")


def english_abstract(body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    paper = _clicked_paper(body, context)
    services: Services = context["services"]
    _reply(body, respond, context, abstract_message(services.db(), paper) if paper else blocks.notice(GONE))


def cite(body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    paper = _clicked_paper(body, context)
    services: Services = context["services"]
    _reply(body, respond, context, citation_message(services.db(), paper) if paper else blocks.notice(GONE))


def related(body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    paper = _clicked_paper(body, context)
    services: Services = context["services"]
    _reply(body, respond, context, related_message(services.db(), paper) if paper else blocks.notice(GONE))


def open_cited(body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    """A cited work that is an archive paper: its own card, as a new message."""
    paper = _clicked_paper(body, context)
    _reply(body, respond, context, blocks.paper_card(paper) if paper else blocks.notice(GONE))
