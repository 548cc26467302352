"""The Bolt app: built on demand from settings (nothing happens at import time).

``process_before_response=True``: Bolt's default runner acks from a worker thread and polls for it
every 10 ms (https://github.com/slackapi/bolt-python/blob/v1.30.0/slack_bolt/listener/thread_runner.py#L164),
which alone costs ~10 ms a request; running the ack listener in the request thread answers as soon as the
reply is built. Everything that waits on the network is a lazy listener, which Bolt runs
on its executor after the ack.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.config import Settings
from bot.slack.client import make_web_client
from bot.slack.listeners import register_listeners
from bot.slack.requestlog import LoggedApp
from bot.slack.services import Services


def build_app(settings: Settings, *, socket_mode: bool = False, client: WebClient | None = None) -> App:
    """The paperbot Bolt app. HTTP mode needs ``SLACK_SIGNING_SECRET``; Socket Mode does not (Slack
    authenticates the WebSocket instead)."""
    secret = settings.slack_signing_secret if socket_mode else settings.require_signing_secret()
    services = Services(settings)
    app = LoggedApp(
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
