"""The Bolt app: built on demand from settings (nothing happens at import time).

``process_before_response=True``: Bolt's default runner acks from a worker thread and polls for it
every 10 ms, which alone costs ~10 ms a request; running the ack listener in the request thread answers
as soon as the reply is built. Everything that waits on the network is a lazy listener, which Bolt runs
on its executor after the ack.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.config import Settings
from bot.slack.listeners import register_listeners
from bot.slack.services import Services
from bot.slack.webclient_sharing import SharedWebClient

WEB_API_TIMEOUT_SECONDS = 10
"""Per-request deadline of Web API calls (slack_sdk's default is 30 s)."""


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


def build_app(settings: Settings, *, socket_mode: bool = False, client: WebClient | None = None) -> App:
    """The paperbot Bolt app. HTTP mode needs ``SLACK_SIGNING_SECRET``; Socket Mode does not (Slack
    authenticates the WebSocket instead)."""
    secret = settings.slack_signing_secret if socket_mode else settings.require_signing_secret()
    services = Services(settings)
    app = App(
        client=client or make_web_client(settings),
        signing_secret=secret or "",
        request_verification_enabled=not socket_mode,
        process_before_response=True,
        listener_executor=ThreadPoolExecutor(max_workers=8, thread_name_prefix="paperbot-lazy"),
        logger=logging.getLogger("bot.slack.app"),
    )

    def inject_services(context: BoltContext, next: Callable[[], None]) -> None:
        context["services"] = services
        next()

    app.middleware(inject_services)
    register_listeners(app)
    return app
