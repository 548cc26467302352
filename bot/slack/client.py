"""Slack's Web API client, built from settings, and the adapter that gives the roundup its channel.

``bot.roundup.post`` speaks to Slack through the :class:`~bot.roundup.post.RoundupChannel` port so that no
domain module imports ``slack_sdk``; :class:`WebApiChannel` implements it over a ``WebClient``.
"""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.config import Settings
from bot.roundup.post import SlackFailure
from bot.slack.blocks import Message
from bot.slack.webclient_sharing import SharedWebClient

WEB_API_TIMEOUT_SECONDS = 10
"""Per-request deadline of Web API calls (slack_sdk's default is 30 s)."""
HISTORY_PAGE = 200
"""Messages per page when reading a channel or thread back (Slack's maximum is 1,000; 200 is advised)."""


def make_web_client(settings: Settings, token: str | None = None, *, retries: bool = True) -> WebClient:
    """A Web API client for ``SLACK_API_URL`` that retries 429 (honouring ``Retry-After``, at most 3
    times), 5xx (twice) and connection errors (twice).

    ``retries=False`` for callers that must not send a message twice (the roundup): a timed-out or 5xx
    ``chat.postMessage`` may have been posted, so they check before sending again (bot.roundup.post).
    """
    handlers = (
        [
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ]
        if retries
        else []
    )
    return SharedWebClient(
        token=token or settings.require_slack_bot_token(),
        base_url=settings.slack_api_url,
        timeout=WEB_API_TIMEOUT_SECONDS,
        retry_handlers=handlers,
    )


NOTICE_EVENT = "paperbot_notice"
"""Slack message metadata ``event_type`` of a message to one user that must arrive once."""
NOTICE_PAGES = 3
"""Pages of :data:`HISTORY_PAGE` messages read back to find a message that may have arrived."""


def notice_metadata(key: str) -> dict[str, Any]:
    """The metadata that marks a message to a user with its once-key (see :func:`already_posted`)."""
    return {"event_type": NOTICE_EVENT, "event_payload": {"key": key}}


def already_posted(client: WebClient, channel: str, key: str, *, oldest: float) -> bool:
    """Whether a message carrying ``key`` (:func:`notice_metadata`) is in ``channel`` since ``oldest`` (Unix
    seconds): a post that timed out, or whose connection dropped, may have arrived all the same. A user ID
    means the bot's DM with that user (``conversations.open``, scope ``im:write``; reading it back needs
    ``im:history``). Reads at most :data:`NOTICE_PAGES` pages, newest first."""
    if channel.startswith(("U", "W")):
        channel = str(client.conversations_open(users=channel)["channel"]["id"])
    cursor = None
    for _ in range(NOTICE_PAGES):
        page = client.conversations_history(
            channel=channel, oldest=f"{oldest:.6f}", include_all_metadata=True, limit=HISTORY_PAGE, cursor=cursor
        )
        for message in page.get("messages") or []:
            metadata = message.get("metadata") or {}
            if metadata.get("event_type") == NOTICE_EVENT and (metadata.get("event_payload") or {}).get("key") == key:
                return True
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            break
    return False


def slack_failure(error: SlackApiError) -> SlackFailure:
    """The port's error for an SDK error: Slack's error code, the HTTP status and any ``Retry-After``."""
    response = error.response
    if response is None:
        return SlackFailure(None, 0)
    retry_after = response.headers.get("Retry-After", response.headers.get("retry-after"))
    try:
        seconds = float(retry_after) if retry_after is not None else None
    except ValueError:
        seconds = None
    code = response.get("error") if isinstance(response.data, dict) else None
    return SlackFailure(str(code) if code else None, int(response.status_code), seconds)


class WebApiChannel:
    """:class:`~bot.roundup.post.RoundupChannel` over the Web API. Give it a client without blind retries
    (``make_web_client(..., retries=False)``): the roundup decides itself when sending again is safe."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def post_message(
        self, channel: str, message: Message, *, thread_ts: str | None, metadata: dict[str, Any]
    ) -> str | None:
        try:
            response = self.client.chat_postMessage(
                channel=channel,
                text=message.text,
                blocks=list(message.blocks),
                thread_ts=thread_ts,
                metadata=metadata,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as error:
            raise slack_failure(error) from error
        ts = response.get("ts") if response.get("ok") else None
        return str(ts) if ts else None

    def history(self, channel: str, *, oldest: str, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        try:
            response = self.client.conversations_history(
                channel=channel, oldest=oldest, include_all_metadata=True, limit=HISTORY_PAGE, cursor=cursor
            )
        except SlackApiError as error:
            raise slack_failure(error) from error
        return list(response.get("messages") or []), (response.get("response_metadata") or {}).get("next_cursor")

    def replies(self, channel: str, ts: str, *, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        try:
            response = self.client.conversations_replies(
                channel=channel, ts=ts, include_all_metadata=True, limit=HISTORY_PAGE, cursor=cursor
            )
        except SlackApiError as error:
            raise slack_failure(error) from error
        return list(response.get("messages") or []), (response.get("response_metadata") or {}).get("next_cursor")


def roundup_channel(settings: Settings) -> WebApiChannel:
    """The roundup's channel to Slack for ``SLACK_BOT_TOKEN`` (no blind retries)."""
    return WebApiChannel(make_web_client(settings, retries=False))
