"""``/paper``: answered within the ack itself, so the reply costs one HTTP round trip and no Web API call."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext

from bot.replies import paper_reply
from bot.services import Services


def paper_command(ack: Ack, command: dict[str, Any], context: BoltContext) -> None:
    services: Services = context["services"]
    reply = paper_reply(services.db(), str(command.get("text") or ""))
    ack(response_type="ephemeral", **reply.payload())
