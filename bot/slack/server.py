"""Running the bot: HTTP on waitress, or Socket Mode.

HTTP mode serves ``POST /slack/events`` (Bolt verifies each request's signature: forged, unsigned or
stale requests get 401) and ``GET /healthz`` (503 naming the problem once the database ``serve`` started
with was deleted or replaced); every other path is 404. waitress is a production WSGI
server (Bolt's ``app.start()`` is a development server).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

import waitress
from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.error import BoltError
from slack_bolt.request.internals import build_context
from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.db import database_health
from bot.slack.app import build_app

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
HTTP_THREADS = 8

log = logging.getLogger("bot.slack.server")

StartResponse = Callable[..., Any]


class SlackEventsRequest(BoltRequest):
    """A Bolt request that reads every slash command right.

    Bolt takes any form body that merely *contains* the word "payload" for an interactivity payload
    (``slack_bolt.request.internals.parse_body``), so ``/paper payload`` or ``/paper suggest ID payload
    attacks`` parsed as ``{}`` and got a 404 ("dispatch_failed" in Slack). A form body without a
    ``payload`` field is read as the form it is; lazy listeners get a copy read the same way.
    Upstream: https://github.com/slackapi/bolt-python/blob/v1.30.0/slack_bolt/request/internals.py#L33
    (no upstream issue filed yet; drop this class once Bolt checks for a ``payload`` field instead).
    """

    def __init__(
        self,
        *,
        body: str | dict[str, Any],
        query: Any = None,
        headers: Any = None,
        context: dict[str, Any] | None = None,
        mode: str = "http",
    ) -> None:
        super().__init__(body=body, query=query, headers=headers, context=context, mode=mode)
        if isinstance(body, str) and body and not self.body and not body.lstrip().startswith("{"):
            form = dict(parse_qsl(body, keep_blank_values=True))
            if form and "payload" not in form:
                self.body = form
                self.context = build_context(BoltContext(context or {}), form)

    def to_copyable(self) -> BoltRequest:
        return SlackEventsRequest(
            body=self.raw_body if self.mode == "http" else self.body,
            query=self.query,
            headers=self.headers,
            context=self.context.to_copyable(),
            mode=self.mode,
        )


class _EventsHandler(SlackRequestHandler):
    def dispatch(self, request: Any) -> BoltResponse:
        return self.app.dispatch(
            SlackEventsRequest(body=request.get_body(), query=request.query_string, headers=request.get_headers())
        )


def make_wsgi_app(app: App) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """Route ``POST /slack/events`` to Bolt, answer health checks, 404 the rest."""
    bolt = _EventsHandler(app)

    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == EVENTS_PATH and method == "POST":
            return bolt(environ, start_response)
        if path == HEALTH_PATH and method == "GET":
            problems = database_health()
            if problems:  # the database serve started with was deleted or replaced: not healthy
                start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
                return ["".join(f"{problem}\n" for problem in problems).encode()]
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        if path == EVENTS_PATH:
            start_response("405 Method Not Allowed", [("Content-Type", "text/plain"), ("Allow", "POST")])
            return [b"POST only\n"]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]

    return wsgi


def create_http_server(app: App, host: str, port: int) -> Any:
    """A waitress server bound to ``host:port`` (port 0: any free port; see ``server.effective_port``)."""
    return waitress.create_server(make_wsgi_app(app), host=host, port=port, threads=HTTP_THREADS, ident="paperbot")


def serve_http(server: Any, host: str) -> None:
    """Run a server made by :func:`create_http_server` until interrupted."""
    log.info("paperbot listening on http://%s:%s%s", host, server.effective_port, EVENTS_PATH)
    # One write: log lines from other threads share the stream and must not split the line.
    sys.stdout.write(f"paperbot: HTTP mode on http://{host}:{server.effective_port}{EVENTS_PATH} (Ctrl-C stops)\n")
    sys.stdout.flush()
    server.run()


def connect_socket_mode(app: App, app_token: str) -> Any:
    """Open the Socket Mode connection (raises when Slack refuses the app-level token)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(app, app_token)
    handler.connect()  # type: ignore[no-untyped-call]
    return handler


def serve_socket_mode(handler: Any) -> None:
    """Serve over a connected Socket Mode handler until interrupted."""
    print("paperbot: connected to Slack in Socket Mode (Ctrl-C stops)", flush=True)
    try:
        threading.Event().wait()
    finally:
        handler.close()


class StartupError(Exception):
    """The bot cannot start: Slack refused a token, cannot be reached, or the port cannot be bound. The
    message is one line naming the setting to check."""


def start_slack(settings: Settings, *, socket_mode: bool, host: str, port: int) -> Callable[[], None]:
    """Build the app, have Slack accept the tokens and bind the port (or open the Socket Mode connection);
    returns what serves until interrupted. Raises :class:`StartupError`."""
    try:
        app = build_app(settings, socket_mode=socket_mode)
    except BoltError as error:
        from bot.slack.checks import explain_bolt_error

        raise StartupError(f"Slack refused SLACK_BOT_TOKEN: {explain_bolt_error(error)}") from None
    except OSError as error:
        reason = getattr(error, "reason", None) or error
        raise StartupError(f"cannot reach Slack at {settings.slack_api_url} (SLACK_API_URL): {reason}") from None
    if socket_mode:
        try:
            handler = connect_socket_mode(app, str(settings.slack_app_token))
        except (SlackApiError, BoltError, OSError) as error:
            reason = error.response.get("error") if isinstance(error, SlackApiError) else error
            raise StartupError(f"Slack refused the Socket Mode connection (SLACK_APP_TOKEN): {reason}") from None
        return lambda: serve_socket_mode(handler)
    try:
        http_server = create_http_server(app, host, port)
    except (OSError, ValueError) as error:
        raise StartupError(f"cannot listen on {host}:{port} (--host/--port): {error}") from None
    return lambda: serve_http(http_server, host)
