"""One log line per Slack request: surface, sub-command or action id, user and channel ids, outcome, ms.

Bolt runs global middleware one after another *before* the listener (``next()`` does not wrap it), so a
middleware cannot see the outcome or the time the listener took; :class:`LoggedApp` wraps
``App.dispatch`` instead, which both HTTP mode and Socket Mode go through. The line holds ids and names
only: never the text a user typed, nor the request's ``response_url``, token or signature.

Work after the ack (lazy listeners) is not in the time; its failures are logged by
``bot.slack.listeners.errors``, which also marks the request so that the line says ``failed``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse

log = logging.getLogger("bot.slack.requests")

FAILED = "paperbot_failed"
"""Context key the error handler sets: the listener raised, the user got the apology."""

SUBCOMMANDS = frozenset(
    {"help", "list", "suggest", "suggestions", "roundup", "load", "cite", "watch", "watches", "unwatch"}
)
"""``/paper`` words logged as the sub-command; anything else is a search (whose words are not logged)."""


def describe(body: Any) -> dict[str, str | None]:
    """``surface``, ``name``, ``user``, ``channel`` of a Slack request body (ids and names only)."""
    if not isinstance(body, dict):
        return {"surface": "unknown", "name": None, "user": None, "channel": None}
    kind = body.get("type")
    if "command" in body:
        words = str(body.get("text") or "").split()
        head = words[0].lower() if words else "help"
        sub = head if head in SUBCOMMANDS else "search"
        if sub == "roundup" and len(words) > 1 and words[1].lower() == "post":
            sub = "roundup post"
        return {
            "surface": "command",
            "name": f"{body.get('command')} {sub}",
            "user": _str(body.get("user_id")),
            "channel": _str(body.get("channel_id")),
        }
    user = _str((body.get("user") or {}).get("id")) if isinstance(body.get("user"), dict) else None
    channel_obj: dict[str, Any] = body["channel"] if isinstance(body.get("channel"), dict) else {}
    channel = _str(channel_obj.get("id")) or _str((body.get("container") or {}).get("channel_id"))
    if kind == "block_actions":
        actions = body.get("actions") or [{}]
        return {"surface": "action", "name": _str(actions[0].get("action_id")), "user": user, "channel": channel}
    if kind in ("shortcut", "message_action"):
        return {"surface": "shortcut", "name": _str(body.get("callback_id")), "user": user, "channel": channel}
    if kind in ("view_submission", "view_closed"):
        view = body.get("view") or {}
        return {"surface": "view", "name": _str(view.get("callback_id")), "user": user, "channel": None}
    if kind == "event_callback":
        event = body.get("event") or {}
        name = _str(event.get("type"))
        if event.get("subtype"):
            name = f"{name}/{event.get('subtype')}"
        return {
            "surface": "event",
            "name": name,
            "user": _str(event.get("user")) if not isinstance(event.get("user"), dict) else None,
            "channel": _str(event.get("channel")) if not isinstance(event.get("channel"), dict) else None,
        }
    return {"surface": _str(kind) or "unknown", "name": None, "user": user, "channel": channel}


def _str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def outcome(status: int, failed: bool) -> str:
    if failed:
        return "failed"
    if status == 401:
        return "refused (signature)"
    if status == 404:
        return "unhandled"
    if status >= 500:
        return "error"
    return "ok" if status < 400 else f"status {status}"


def log_request(body: Any, status: int, ms: float, *, failed: bool = False) -> None:
    """The request's one line (also for requests refused before Bolt saw them: signature, unreadable)."""
    try:
        fields: dict[str, Any] = describe(body)
        fields.update(outcome=outcome(status, failed), status=status, ms=round(ms))
        log.info(
            "slack %s %s user=%s channel=%s %s (%d) %d ms",
            fields["surface"],
            fields["name"] or "-",
            fields["user"] or "-",
            fields["channel"] or "-",
            fields["outcome"],
            status,
            ms,
            extra={"fields": fields},
        )
    except Exception:  # a log line must never cost the user their answer
        log.exception("could not log a Slack request")


class LoggedApp(App):
    """The Bolt app, logging each request it dispatches."""

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        started = time.perf_counter()
        response: BoltResponse = super().dispatch(req)
        log_request(
            req.body, response.status, (time.perf_counter() - started) * 1000, failed=bool(req.context.get(FAILED))
        )
        return response
