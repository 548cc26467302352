"""Running the bot: HTTP on waitress, or Socket Mode.

HTTP mode serves ``POST /slack/events`` (the signature is checked on the raw bytes first: forged, unsigned
or stale requests get 401 whatever their body; signed bodies Bolt cannot route get 400) and
``GET /healthz``; every other path is 404. waitress is a production WSGI
server (Bolt's ``app.start()`` is a development server).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

import waitress
from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from slack_bolt.error import BoltError
from slack_bolt.request.internals import build_context, build_normalized_headers, extract_content_type
from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.slack.app import build_app

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
HTTP_THREADS = 8

log = logging.getLogger("bot.slack.server")

StartResponse = Callable[..., Any]


class UnreadableBody(ValueError):
    """A signed body that Bolt cannot route; the message is the one-line reason (answered with 400)."""


def read_body(raw: str, content_type: str | None) -> dict[str, Any]:
    """The body as Bolt will read it (``slack_bolt.request.internals.parse_body``), checked so that Bolt's
    parsing and routing cannot raise on it. Raises :class:`UnreadableBody`.

    Bolt reads a JSON object for ``application/json`` or a body that starts with ``{``; a form body with a
    ``payload`` field is that field's JSON object; any other form is the form itself (see
    :class:`SlackEventsRequest`).
    """
    if not raw:
        return {}
    if content_type == "application/json" or raw.startswith("{"):
        body = _json_object(raw, "the body")
    else:
        form = dict(parse_qsl(raw, keep_blank_values=True))
        if "payload" not in form:
            return form
        body = _json_object(form["payload"], "the payload field")
    _check_routable(body)
    return body


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise UnreadableBody(f"{what} is not JSON ({error})") from None
    if not isinstance(value, dict):
        raise UnreadableBody(f"{what} is JSON {type(value).__name__}, not an object")
    return value


_OBJECTS = ("user", "channel", "container", "view", "message", "event")
"""Fields Bolt and the listeners read as objects whenever they are present (``team`` and ``enterprise``
may also be an id)."""
_NEEDS = {
    "block_actions": "actions",
    "interactive_message": "actions",
    "view_submission": "view",
    "view_closed": "view",
    "event_callback": "event",
}


def _check_routable(body: dict[str, Any]) -> None:
    """Refuse the shapes on which Bolt's matchers index or call ``.get`` on the wrong type (Slack never
    sends them; a request that has them was forged by someone who holds the signing secret, or is a bug)."""
    for name in _OBJECTS:
        if name in body and not isinstance(body[name], dict):
            raise UnreadableBody(f"{name} is not an object")
    for name in ("team", "enterprise"):
        if body.get(name) is not None and not isinstance(body[name], dict | str):
            raise UnreadableBody(f"{name} is neither an object nor an id")
    authorizations = body.get("authorizations")
    if authorizations is not None and not (
        isinstance(authorizations, list) and all(isinstance(a, dict) for a in authorizations)
    ):
        raise UnreadableBody("authorizations is not a list of objects")
    kind = body.get("type")
    needed = _NEEDS.get(kind) if isinstance(kind, str) else None
    if needed and needed not in body:
        raise UnreadableBody(f"a {kind} without {needed}")
    if needed == "actions":
        actions = body["actions"]
        if not (isinstance(actions, list) and actions and all(isinstance(a, dict) for a in actions)):
            raise UnreadableBody(f"a {kind} whose actions are not a non-empty list of objects")
        if kind == "block_actions" and not all(isinstance(a.get("action_id"), str) for a in actions):
            raise UnreadableBody("a block_actions with an action without an action_id")
    if needed == "event" and not isinstance(body["event"].get("type"), str):
        raise UnreadableBody("an event_callback whose event has no type")


class SlackEventsRequest(BoltRequest):
    """A Bolt request that reads every slash command right, and refuses bodies Bolt cannot route.

    Bolt takes any form body that merely *contains* the word "payload" for an interactivity payload
    (``slack_bolt.request.internals.parse_body``), so ``/paper payload`` or ``/paper suggest ID payload
    attacks`` parsed as ``{}`` and got a 404 ("dispatch_failed" in Slack). A form body without a
    ``payload`` field is read as the form it is; lazy listeners get a copy read the same way.
    In HTTP mode a body that :func:`read_body` refuses raises :class:`UnreadableBody` before Bolt reads it.
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
        form: dict[str, Any] | None = None
        if isinstance(body, str) and mode == "http":
            content_type = extract_content_type(build_normalized_headers(headers))
            parsed = read_body(body, content_type)
            is_json = content_type == "application/json" or body.startswith("{")
            # Only where Bolt reads it wrong: the word "payload" somewhere, but no payload field.
            form = parsed if not is_json and "payload" in body and "payload" not in parsed else None
        super().__init__(body=body, query=query, headers=headers, context=context, mode=mode)
        if form is not None:
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


SIGNATURE_MAX_AGE = 5 * 60
"""Slack's replay window: a request signed longer ago than this is refused, as Bolt does."""


def signature_is_valid(secret: str, raw: bytes, timestamp: str, signature: str, now: float | None = None) -> bool:
    """Slack's request signature over the raw bytes (https://api.slack.com/authentication/verifying-requests-from-slack):
    ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}``. Never raises, whatever the headers hold."""
    if not secret or not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > SIGNATURE_MAX_AGE:
        return False
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"v0={digest}".encode(), signature.encode("utf-8", "replace"))


class EventsEndpoint:
    """``POST /slack/events``: the signature is checked on the raw bytes before anything reads them, so
    an unsigned request gets 401 whatever its body; a signed body that Bolt cannot route gets 400 and
    one log line. Only then does Bolt see the request."""

    def __init__(self, app: App, signing_secret: str) -> None:
        self.app = app
        self.signing_secret = signing_secret

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        response = self.respond(environ)
        wsgi = WsgiHttpResponse(status=response.status, headers=response.headers, body=response.body)
        start_response(wsgi.status, wsgi.get_headers())
        return wsgi.get_body()

    def respond(self, environ: dict[str, Any]) -> BoltResponse:
        request = WsgiHttpRequest(environ)
        raw = _read_raw(environ)
        headers = request.get_headers()
        timestamp = str(headers.get("x-slack-request-timestamp") or "")
        signature = str(headers.get("x-slack-signature") or "")
        if not signature_is_valid(self.signing_secret, raw, timestamp, signature):
            log.info("refused a request without a valid signature from %s", environ.get("REMOTE_ADDR", "?"))
            return BoltResponse(status=401, body={"error": "invalid request"})
        try:
            bolt_request = SlackEventsRequest(body=raw.decode("utf-8"), query=request.query_string, headers=headers)
        except (UnicodeDecodeError, UnreadableBody) as error:
            return _bad_request(str(error))
        except Exception as error:  # Bolt's own reading of a shape read_body did not foresee
            return _bad_request(f"{type(error).__name__}: {error}")
        try:
            return self.app.dispatch(bolt_request)
        except Exception as error:  # Bolt's routing, outside every listener (those answer with an apology)
            return _bad_request(f"cannot route it ({type(error).__name__}: {error})")


def _read_raw(environ: dict[str, Any]) -> bytes:
    stream = environ.get("wsgi.input")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return stream.read(length) if stream is not None and length > 0 else b""


def _bad_request(reason: str) -> BoltResponse:
    log.warning("refused a signed request that cannot be routed: %s", reason)
    return BoltResponse(status=400, body={"error": "bad request"})


def make_wsgi_app(app: App, signing_secret: str) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """Route ``POST /slack/events`` to Bolt, answer health checks, 404 the rest."""
    bolt = EventsEndpoint(app, signing_secret)

    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == EVENTS_PATH and method == "POST":
            return bolt(environ, start_response)
        if path == HEALTH_PATH and method == "GET":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        if path == EVENTS_PATH:
            start_response("405 Method Not Allowed", [("Content-Type", "text/plain"), ("Allow", "POST")])
            return [b"POST only\n"]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]

    return wsgi


def create_http_server(app: App, host: str, port: int, *, signing_secret: str) -> Any:
    """A waitress server bound to ``host:port`` (port 0: any free port; see ``server.effective_port``)."""
    wsgi = make_wsgi_app(app, signing_secret)
    return waitress.create_server(wsgi, host=host, port=port, threads=HTTP_THREADS, ident="paperbot")


def serve_http(server: Any, host: str) -> None:
    """Run a server made by :func:`create_http_server` until interrupted."""
    log.info("paperbot listening on http://%s:%s%s", host, server.effective_port, EVENTS_PATH)
    print(f"paperbot: HTTP mode on http://{host}:{server.effective_port}{EVENTS_PATH} (Ctrl-C stops)", flush=True)
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
        raise StartupError(f"Slack refused SLACK_BOT_TOKEN ({error})") from None
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
        http_server = create_http_server(app, host, port, signing_secret=settings.require_signing_secret())
    except (OSError, ValueError) as error:
        raise StartupError(f"cannot listen on {host}:{port} (--host/--port): {error}") from None
    return lambda: serve_http(http_server, host)
