"""Build and sign HTTP requests exactly as Slack sends them to an app.

Signing follows https://api.slack.com/authentication/verifying-requests-from-slack :
``X-Slack-Signature = "v0=" + hex(HMAC-SHA256(signing_secret, f"v0:{timestamp}:{raw_body}"))``.

Typical use against a running Bolt app (or directly with ``BoltRequest(body=..., headers=...)``)::

    body = slash_command_body("diffusion", response_url=fake.response_url())
    status, headers, payload = post(f"{app_url}/slack/events", body, SIGNING_SECRET)

All builders return ``str`` bodies; sign the very same string you send.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

from .slack_api import APP_ID, BOT_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID

__all__ = [
    "DEFAULT_RESPONSE_URL",
    "FORM_CONTENT_TYPE",
    "JSON_CONTENT_TYPE",
    "SIGNING_SECRET",
    "block_actions_payload",
    "event_body",
    "interactive_body",
    "link_shared_event",
    "mention_event",
    "message_event",
    "post",
    "shortcut_payload",
    "sign",
    "signed_headers",
    "slash_command_body",
    "url_verification_body",
    "view_submission_payload",
]

SIGNING_SECRET = "test-signing-secret"
"""A signing secret for tests (any non-empty string works)."""
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json"
DEFAULT_RESPONSE_URL = "http://127.0.0.1:9/response/unused"
"""Default ``response_url``: refuses connections at once (never reaches the internet). Pass
``response_url=fake.response_url()`` when the code under test will respond."""
VERIFICATION_TOKEN = "deprecated-verification-token"

_counter = itertools.count(1)


def sign(body: bytes | str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Return the ``X-Slack-Request-Timestamp`` and ``X-Slack-Signature`` headers for ``body``.

    ``timestamp`` defaults to now (Bolt rejects timestamps more than 5 minutes away).
    """
    ts = int(time.time()) if timestamp is None else int(timestamp)
    raw = body.encode("utf-8") if isinstance(body, str) else body
    base = b"v0:" + str(ts).encode("ascii") + b":" + raw
    digest = hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}


def signed_headers(
    body: bytes | str, secret: str, *, timestamp: int | None = None, content_type: str | None = None
) -> dict[str, str]:
    """:func:`sign` headers plus ``Content-Type`` (guessed from the body when not given)."""
    headers = sign(body, secret, timestamp)
    headers["Content-Type"] = content_type or _guess_content_type(body)
    return headers


def _guess_content_type(body: bytes | str) -> str:
    start = body.lstrip()[:1]
    return JSON_CONTENT_TYPE if start in ("{", b"{") else FORM_CONTENT_TYPE


def _trigger_id() -> str:
    """A fresh trigger_id shaped like Slack's (``<digits>.<digits>.<hex>``)."""
    return f"{int(time.time() * 1000)}.{next(_counter):09d}.{secrets.token_hex(16)}"


def slash_command_body(
    text: str,
    *,
    command: str = "/paper",
    user_id: str = "U123",
    user_name: str | None = None,
    channel_id: str = "C123",
    channel_name: str | None = None,
    response_url: str = DEFAULT_RESPONSE_URL,
    trigger_id: str | None = None,
    team_id: str = TEAM_ID,
    team_domain: str = TEAM_DOMAIN,
    api_app_id: str = APP_ID,
) -> str:
    """A form-encoded slash command body with every field Slack sends."""
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": team_domain,
        "channel_id": channel_id,
        "channel_name": channel_name or ("directmessage" if channel_id.startswith("D") else channel_id.lower()),
        "user_id": user_id,
        "user_name": user_name or f"user_{user_id.lower()}",
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or _trigger_id(),
    }
    return urlencode(fields)


def interactive_body(payload: dict[str, Any]) -> str:
    """A form-encoded interactivity body: ``payload=<json>``."""
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))})


def block_actions_payload(
    action_id: str,
    value: str | None = None,
    *,
    block_id: str = "b1",
    user_id: str = "U123",
    channel_id: str = "C123",
    message_ts: str = "1700000000.000100",
    message: dict[str, Any] | None = None,
    response_url: str = DEFAULT_RESPONSE_URL,
    trigger_id: str | None = None,
    action_type: str = "button",
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """A ``block_actions`` payload for a click on a message button (wrap with :func:`interactive_body`)."""
    action: dict[str, Any] = {
        "type": action_type,
        "action_id": action_id,
        "block_id": block_id,
        "action_ts": f"{time.time():.6f}",
    }
    if value is not None:
        action["value"] = value
    if action_type == "button":
        action["text"] = {"type": "plain_text", "text": action_id, "emoji": True}
    msg = message or {"type": "message", "user": BOT_USER_ID, "ts": message_ts, "text": ""}
    return {
        "type": "block_actions",
        "user": _user(user_id, team_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel_id, "is_ephemeral": False},
        "trigger_id": trigger_id or _trigger_id(),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_id.lower()},
        "message": msg,
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }


def _user(user_id: str, team_id: str) -> dict[str, str]:
    return {"id": user_id, "username": f"user_{user_id.lower()}", "name": f"user_{user_id.lower()}", "team_id": team_id}


def shortcut_payload(
    callback_id: str,
    *,
    message: dict[str, Any] | None = None,
    user_id: str = "U123",
    channel_id: str = "C123",
    response_url: str = DEFAULT_RESPONSE_URL,
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """A global ``shortcut`` payload, or a ``message_action`` (message shortcut) when ``message`` is given."""
    payload: dict[str, Any] = {
        "type": "shortcut",
        "callback_id": callback_id,
        "trigger_id": _trigger_id(),
        "user": _user(user_id, team_id),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "action_ts": f"{time.time():.6f}",
    }
    if message is not None:
        payload.update(
            type="message_action",
            channel={"id": channel_id, "name": channel_id.lower()},
            message=message,
            message_ts=message.get("ts", ""),
            response_url=response_url,
        )
    return payload


def view_submission_payload(
    callback_id: str,
    values: dict[str, dict[str, dict[str, Any]]] | None = None,
    *,
    private_metadata: str = "",
    user_id: str = "U123",
    view_id: str = "V00000001",
    team_id: str = TEAM_ID,
    response_urls: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A ``view_submission`` payload; ``values`` is ``state.values`` (``{block_id: {action_id: {...}}}``)."""
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": _user(user_id, team_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": _trigger_id(),
        "view": {
            "id": view_id,
            "team_id": team_id,
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "blocks": [],
            "state": {"values": values or {}},
            "hash": f"{int(time.time())}.abcdef",
            "title": {"type": "plain_text", "text": "Paperbot"},
            "root_view_id": view_id,
            "previous_view_id": None,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
        },
        "response_urls": response_urls or [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def event_body(
    event: dict[str, Any],
    *,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
    event_id: str | None = None,
    event_time: int | None = None,
) -> str:
    """A JSON ``event_callback`` envelope around ``event`` (unique ``event_id`` by default)."""
    envelope = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_counter):08d}{secrets.token_hex(2).upper()}",
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": secrets.token_hex(16),
    }
    return json.dumps(envelope)


def _ts() -> str:
    """A fresh message ts shaped like Slack's (``seconds.micros``), unique in this process."""
    return f"{time.time():.0f}.{next(_counter):06d}"


def link_shared_event(
    urls: list[str],
    *,
    channel: str = "C123",
    user_id: str = "U123",
    message_ts: str | None = None,
    thread_ts: str | None = None,
    composer: bool = False,
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """A ``link_shared`` event (https://api.slack.com/events/link_shared) for ``urls``, as Slack sends it
    for a posted message, or, with ``composer``, for links still in the message composer: then ``channel``
    is ``COMPOSER``, and ``message_ts`` and ``unfurl_id`` are the same opaque id (not a timestamp)."""
    event: dict[str, Any] = {
        "type": "link_shared",
        "user": user_id,
        "is_bot_user_member": True,
        "links": [{"domain": _domain(url), "url": url} for url in urls],
        "event_ts": _ts(),
    }
    if composer:
        opaque = f"{user_id}-{secrets.token_hex(8)}-{secrets.token_hex(16)}"
        event.update(channel="COMPOSER", message_ts=opaque, unfurl_id=opaque, source="composer")
    else:
        ts = message_ts or _ts()
        event.update(
            channel=channel,
            message_ts=ts,
            unfurl_id=f"{channel}.{ts.replace('.', '')}.{secrets.token_hex(32)}",
            source="conversations_history",
        )
        if thread_ts:
            event["thread_ts"] = thread_ts
    return event


def _domain(url: str) -> str:
    host = url.split("://", 1)[-1].split("/", 1)[0].lower()
    parts = host.split(".")
    return ".".join(parts[-2:]) if len(parts) >= 2 else host


def _rich_text(text: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "rich_text",
            "block_id": secrets.token_hex(2),
            "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
        }
    ]


def mention_event(
    text: str,
    *,
    channel: str = "C123",
    user_id: str = "U123",
    ts: str | None = None,
    thread_ts: str | None = None,
    team_id: str = TEAM_ID,
    bot_id: str | None = None,
) -> dict[str, Any]:
    """An ``app_mention`` event (https://api.slack.com/events/app_mention); ``text`` as Slack sends it
    (the mention is ``<@BOT_USER_ID>``, ``&``, ``<``, ``>`` escaped as entities)."""
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": user_id,
        "text": text,
        "ts": ts or _ts(),
        "client_msg_id": secrets.token_hex(16),
        "team": team_id,
        "channel": channel,
        "blocks": _rich_text(text),
    }
    event["event_ts"] = event["ts"]
    if thread_ts:
        event["thread_ts"] = thread_ts
    if bot_id:
        event.update(bot_id=bot_id)
    return event


def message_event(
    text: str,
    *,
    channel: str = "D123",
    channel_type: str = "im",
    user_id: str | None = "U123",
    ts: str | None = None,
    thread_ts: str | None = None,
    subtype: str | None = None,
    bot_id: str | None = None,
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """A ``message`` event (https://api.slack.com/events/message.im): a direct message by default;
    ``subtype`` / ``bot_id`` for bot messages, edits and the like."""
    event: dict[str, Any] = {
        "type": "message",
        "text": text,
        "ts": ts or _ts(),
        "team": team_id,
        "channel": channel,
        "channel_type": channel_type,
    }
    event["event_ts"] = event["ts"]
    if user_id is not None:
        event["user"] = user_id
        event["client_msg_id"] = secrets.token_hex(16)
        event["blocks"] = _rich_text(text)
    if thread_ts:
        event["thread_ts"] = thread_ts
    if subtype:
        event["subtype"] = subtype
    if bot_id:
        event["bot_id"] = bot_id
        event.setdefault("app_id", "A0OTHER")
    return event


def url_verification_body(challenge: str = "challenge-token") -> str:
    """The JSON body Slack sends when the Events API request URL is configured."""
    return json.dumps({"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"})


def post(
    url: str,
    body: bytes | str,
    secret: str,
    *,
    timestamp: int | None = None,
    content_type: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, dict[str, str], bytes]:
    """POST a signed ``body`` to ``url`` (bypassing any proxy) and return ``(status, headers, body)``.

    ``content_type`` defaults to JSON for bodies starting with ``{`` and form-encoding otherwise.
    4xx/5xx answers are returned, not raised; connection errors still raise ``URLError``.
    """
    raw = body.encode("utf-8") if isinstance(body, str) else body
    all_headers = signed_headers(raw, secret, timestamp=timestamp, content_type=content_type)
    all_headers.update(headers or {})
    request = urllib.request.Request(url, data=raw, headers=all_headers, method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, dict(err.headers.items()), err.read()
