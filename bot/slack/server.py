"""Running the bot: HTTP on waitress, or Socket Mode, until SIGTERM or SIGINT.

HTTP mode serves ``POST /slack/events`` (the signature is checked on the raw bytes first: forged, unsigned
or stale requests get 401 whatever their body; signed bodies Bolt cannot route get 400) and
``GET /healthz`` (503 naming the problem once the database ``serve`` started with was deleted or
replaced); every other path is 404. waitress is a production WSGI
server (Bolt's ``app.start()`` is a development server).

Socket Mode uses slack_sdk's built-in client, helped to reconnect at once when Slack ends a connection.

:class:`Serving` is what ``paperbot serve`` runs: on SIGTERM or SIGINT it stops taking requests, lets the
work in flight finish (at most :data:`SHUTDOWN_GRACE_SECONDS`), closes the connection, runs the shutdown
hooks that other parts of ``serve`` added (:meth:`Serving.on_shutdown`) and prints one line."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import select
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from types import FrameType
from typing import Any, Protocol
from urllib.parse import parse_qsl

import waitress
from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from slack_bolt.error import BoltError
from slack_bolt.request.internals import build_context, build_normalized_headers, extract_content_type
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from waitress import wasyncore

from bot.config import Settings
from bot.db import database_health
from bot.slack.app import build_app
from bot.slack.requestlog import log_request

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
HTTP_THREADS = 8

log = logging.getLogger("bot.slack.server")

StartResponse = Callable[..., Any]


def say(line: str) -> None:
    """One line to stdout in one write: log lines of other threads share the stream and must not split it."""
    sys.stdout.write(f"{line}\n")
    sys.stdout.flush()


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
        started = time.perf_counter()
        request = WsgiHttpRequest(environ)
        raw = _read_raw(environ)
        headers = request.get_headers()
        timestamp = str(headers.get("x-slack-request-timestamp") or "")
        signature = str(headers.get("x-slack-signature") or "")
        if not signature_is_valid(self.signing_secret, raw, timestamp, signature):
            log.info("refused a request without a valid signature from %s", environ.get("REMOTE_ADDR", "?"))
            refused = BoltResponse(status=401, body={"error": "invalid request"})
        else:
            try:
                bolt_request = SlackEventsRequest(body=raw.decode("utf-8"), query=request.query_string, headers=headers)
            except (UnicodeDecodeError, UnreadableBody) as error:
                refused = _bad_request(str(error))
            except Exception as error:  # Bolt's own reading of a shape read_body did not foresee
                refused = _bad_request(f"{type(error).__name__}: {error}")
            else:
                try:
                    return self.app.dispatch(bolt_request)  # LoggedApp logs it
                except Exception as error:  # Bolt's routing, outside every listener (those apologise)
                    refused = _bad_request(f"cannot route it ({type(error).__name__}: {error})")
        log_request(_described(raw, headers), refused.status, (time.perf_counter() - started) * 1000)
        return refused


def _described(raw: bytes, headers: Any) -> dict[str, Any]:
    """As much of a refused body as its log line may name (ids and names; {} when it cannot be read)."""
    content_type = headers.get("content-type")
    kind = content_type[0] if isinstance(content_type, list | tuple) and content_type else content_type
    try:
        return read_body(raw.decode("utf-8", errors="replace"), str(kind) if kind else None)
    except (UnreadableBody, ValueError):
        return {}


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


def create_http_server(app: App, host: str, port: int, *, signing_secret: str) -> Any:
    """A waitress server bound to ``host:port`` (port 0: any free port; see ``server.effective_port``)."""
    wsgi = make_wsgi_app(app, signing_secret)
    return waitress.create_server(wsgi, host=host, port=port, threads=HTTP_THREADS, ident="paperbot")


# --- stopping cleanly (SIGTERM, SIGINT) -----------------------------------------------------------------

SHUTDOWN_GRACE_SECONDS = 10.0
"""How long a stop waits for the work in flight (requests, acks, lazy listeners) before abandoning it."""


@dataclass(frozen=True)
class Stopped:
    """How serving ended: on which signal (or request), and whether work in flight was abandoned."""

    reason: str
    unfinished: bool
    grace: float

    @property
    def line(self) -> str:
        if self.unfinished:
            return f"paperbot: stopped on {self.reason}; work still running after {self.grace:g} s was abandoned"
        return f"paperbot: stopped on {self.reason} after finishing the work in flight"


class StopRequest:
    """Where a stop is asked for: SIGTERM, SIGINT or :meth:`ask`.

    While the bot connects, a signal interrupts the start (``KeyboardInterrupt``: a start-up that waits
    on Slack can be given up). Once it is connected (:meth:`defer`), a signal only records the stop and
    wakes :meth:`wait`, so one that comes before serving starts is kept for when it does."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.deferring = False
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)  # a signal handler must never block (a full buffer: already woken)
        self._previous: dict[int, Any] = {}

    def catch_signals(self) -> None:
        """Handle SIGTERM and SIGINT from now on (main thread only; elsewhere only :meth:`ask` stops)."""
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGTERM, signal.SIGINT):
                self._previous[number] = signal.signal(number, self._on_signal)

    @property
    def catching_signals(self) -> bool:
        return bool(self._previous)

    def release_signals(self) -> None:
        """Give the signals back to whoever had them (the bot did not start after all)."""
        for number, previous in self._previous.items():
            signal.signal(number, previous)
        self._previous.clear()

    def ask(self, reason: str) -> None:
        """Ask for a stop (from any thread, or a signal handler)."""
        if self.reason is None:
            self.reason = reason
        with contextlib.suppress(OSError):
            self._writer.send(b"!")

    def wait(self) -> str:
        """Block until a stop is asked for; return why."""
        while self.reason is None:
            select.select([self._reader], [], [])
            self._reader.recv(64)
        self._reader.close()
        self._writer.close()
        return self.reason

    def defer(self) -> None:
        """From now on a signal asks for a clean stop instead of interrupting."""
        self.deferring = True

    def _on_signal(self, number: int, frame: FrameType | None) -> None:
        if not self.deferring:
            raise KeyboardInterrupt
        self.ask(signal.Signals(number).name)


class _Mode(Protocol):
    def start(self) -> None: ...
    def stop_taking_requests(self) -> None: ...
    def finish_requests(self, deadline: float) -> bool: ...
    def close(self, *, finished: bool) -> None: ...


class Serving:
    """The bot serving Slack, until SIGTERM or SIGINT (or :meth:`stop`).

    Then it stops taking requests, lets the work in flight finish (requests being answered, Socket Mode
    acks, Bolt's lazy listeners on the app's executor) for at most :data:`SHUTDOWN_GRACE_SECONDS`, closes
    the connection (a close frame in Socket Mode), runs the shutdown hooks and prints one line.
    """

    def __init__(
        self, app: App, mode: _Mode, *, grace: float = SHUTDOWN_GRACE_SECONDS, stop_request: StopRequest | None = None
    ) -> None:
        self.app = app
        self.grace = grace
        self._mode = mode
        self._hooks: list[Callable[[], None]] = []
        self._stop_request = stop_request or StopRequest()

    def on_shutdown(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` once serving stops, after the work in flight, before the last line (in the order
        added; a hook that fails is logged and the others still run)."""
        self._hooks.append(hook)

    def stop(self, reason: str = "request") -> None:
        """Ask the bot to stop (from any thread)."""
        self._stop_request.ask(reason)

    def __call__(self) -> None:
        """Serve until SIGTERM or SIGINT, stop cleanly and print one line. When work in flight outlives
        the grace period the process exits at once with status 0: the abandoned threads (Python joins
        executor threads at exit) must not hold it past the promised time."""
        if not self._stop_request.catching_signals:
            self._stop_request.catch_signals()
        self._stop_request.defer()
        stopped = self.serve_until_stopped()
        say(stopped.line)
        if stopped.unfinished:
            sys.stderr.flush()
            os._exit(0)

    def serve_until_stopped(self) -> Stopped:
        """Serve until :meth:`stop`; then stop as the class says and return how it went."""
        self._mode.start()
        reason = self._stop_request.wait()
        deadline = time.monotonic() + self.grace
        self._mode.stop_taking_requests()
        requests_done = self._mode.finish_requests(deadline)
        lazy_done = requests_done and _drain(self.app.listener_runner.listener_executor, deadline)
        self._mode.close(finished=requests_done)
        for hook in self._hooks:
            try:
                hook()
            except Exception:
                log.exception("a shutdown hook failed")
        return Stopped(reason=reason, unfinished=not lazy_done, grace=self.grace)


def _drain(executor: Executor, deadline: float) -> bool:
    """Shut ``executor`` down letting its queued and running work finish; False if that outlives the
    deadline (the work goes on in the background: ``Executor.shutdown`` has no timeout)."""
    waiter = threading.Thread(target=executor.shutdown, kwargs={"wait": True}, name="paperbot-drain", daemon=True)
    waiter.start()
    waiter.join(max(0.0, deadline - time.monotonic()))
    return not waiter.is_alive()


class HttpMode:
    """waitress, its loop in a thread of its own (the main thread waits for the signal)."""

    def __init__(self, server: Any, host: str) -> None:
        self.server = server
        self.host = host
        self._thread = threading.Thread(target=server.run, name="paperbot-http", daemon=True)

    def start(self) -> None:
        log.info("paperbot listening on http://%s:%s%s", self.host, self.server.effective_port, EVENTS_PATH)
        url = f"http://{self.host}:{self.server.effective_port}{EVENTS_PATH}"
        say(f"paperbot: HTTP mode on {url} (Ctrl-C or SIGTERM stops)")
        self._thread.start()

    def stop_taking_requests(self) -> None:
        """Close the listening socket (new connections are refused) and the idle keep-alive connections,
        in waitress's loop thread, which owns them."""
        done = threading.Event()

        def close_listener() -> None:
            try:
                self.server.accepting = False
                wasyncore.dispatcher.close(self.server)  # not the server's own close(): that ends the loop
                for channel in list(self.server.active_channels.values()):
                    if not channel.requests:
                        channel.will_close = True
            finally:
                done.set()

        self.server.trigger.pull_trigger(close_listener)
        done.wait(1.0)

    def finish_requests(self, deadline: float) -> bool:
        dispatcher = self.server.task_dispatcher
        while (dispatcher.queue or dispatcher.active_count) and time.monotonic() < deadline:
            time.sleep(0.02)
        finished = not (dispatcher.queue or dispatcher.active_count)
        dispatcher.shutdown(cancel_pending=True, timeout=max(0.0, deadline - time.monotonic()))
        return finished

    def close(self, *, finished: bool) -> None:
        # In the loop's own thread (closing its sockets from another one breaks its select: EBADF); the
        # loop ends with its last channel.
        self.server.trigger.pull_trigger(lambda: wasyncore.close_all(self.server._map))
        self._thread.join(timeout=2.0)


SOCKET_MODE_PING_INTERVAL = 10.0
"""Bolt's default: slack_sdk's monitor checks the connection (and reconnects a dead one) this often."""


def connect_socket_mode(
    app: App, app_token: str, *, ping_interval: float = SOCKET_MODE_PING_INTERVAL
) -> SocketModeHandler:
    """Open the Socket Mode connection (raises when Slack refuses the app-level token).

    slack_sdk's built-in client (3.x) reconnects at once on a ``disconnect`` message
    (``BaseSocketModeClient.process_message``) but not on a close frame: its close handler tries while
    the socket still counts as open, so nothing happens until the monitor runs, every ``ping_interval``
    seconds. :class:`ReconnectOnClose` reconnects as soon as the socket is closed. And on a
    ``disconnect`` message the switch to the new connection waits for the old connection's reader, up to
    its 3 s receive timeout: :class:`LetGoOnDisconnect` wakes it once the new connection is open. A
    connection that drops without a close frame leaves the client's reader spinning on end-of-stream until
    the monitor gives up on it (4 to 6 ping intervals): :class:`ReconnectOnDrop` notices within a second.
    """
    handler = SocketModeHandler(app, app_token, ping_interval=ping_interval)
    handler.client.on_close_listeners.append(ReconnectOnClose(handler.client))
    handler.client.on_message_listeners.append(LetGoOnDisconnect(handler.client))
    handler.connect()  # type: ignore[no-untyped-call]
    ReconnectOnDrop(handler.client).start()
    return handler


class ReconnectOnClose:
    """A Socket Mode ``on_close`` listener: once the closed connection is shut, open a new one (unless a
    ``disconnect`` message already did, or the bot is stopping)."""

    def __init__(self, client: SocketModeClient) -> None:
        self.client = client

    def __call__(self, code: int, reason: str | None) -> None:
        if self.client.closed or not self.client.auto_reconnect_enabled:
            return
        log.info("Slack closed the Socket Mode connection (%s %s): reconnecting now", code, reason or "")
        closing = self.client.current_session
        threading.Thread(target=self._reconnect, args=(closing,), name="paperbot-reconnect", daemon=True).start()

    def _reconnect(self, closing: Any) -> None:
        # The SDK shuts the socket right after its close listeners return; until then it counts as open.
        deadline = time.monotonic() + 1.0
        while closing is not None and closing.is_active() and time.monotonic() < deadline:
            time.sleep(0.005)
        if self.client.closed or not self.client.auto_reconnect_enabled:
            return
        try:
            self.client.connect_to_new_endpoint()  # nothing to do when the connection was already replaced
        except Exception as error:  # Slack unreachable for now: the SDK's monitor keeps trying
            log.warning("cannot reconnect to Slack yet (%s); trying again in %g s", error, self.client.ping_interval)


class LetGoOnDisconnect:
    """A Socket Mode ``on_message`` listener for Slack's ``disconnect`` message. slack_sdk opens the new
    connection at once, then closes the old one under the lock its reader holds while blocked in
    ``recv`` (up to 3 s): meanwhile nobody reads the new connection. Once the client has marked the old
    connection as ended, shutting its socket down returns that ``recv`` at once."""

    def __init__(self, client: SocketModeClient) -> None:
        self.client = client

    def __call__(self, message: str) -> None:
        if '"disconnect"' not in message or self.client.closed:
            return
        try:
            is_disconnect = json.loads(message).get("type") == "disconnect"
        except (ValueError, AttributeError):
            return
        if is_disconnect:
            old, state = self.client.current_session, self.client.current_session_state
            threading.Thread(target=self._let_go, args=(old, state), name="paperbot-let-go", daemon=True).start()

    def _let_go(self, old: Any, state: Any) -> None:
        deadline = time.monotonic() + 5.0
        while not state.terminated and time.monotonic() < deadline:  # set once the new connection is open
            time.sleep(0.005)
        sock = getattr(old, "sock", None)
        if state.terminated and sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class ReconnectOnDrop:
    """Watches the Socket Mode connection for a peer that went away without a close frame (slack_sdk's
    reader then gets end-of-stream on every ``recv`` and spins) and reconnects at once."""

    INTERVAL = 0.25

    def __init__(self, client: SocketModeClient) -> None:
        self.client = client

    def start(self) -> None:
        threading.Thread(target=self._watch, name="paperbot-socket-watch", daemon=True).start()

    def _watch(self) -> None:
        while not self.client.closed:
            time.sleep(self.INTERVAL)
            session = self.client.current_session
            sock = getattr(session, "sock", None)
            if session is None or sock is None or self.client.closed or not self.client.auto_reconnect_enabled:
                continue
            if _peer_ended(sock):
                log.info("the Socket Mode connection dropped without a close frame: reconnecting now")
                session.disconnect()
                try:
                    self.client.connect_to_new_endpoint()
                except Exception as error:  # Slack unreachable for now: the SDK's monitor keeps trying
                    log.warning("cannot reconnect to Slack yet (%s)", error)


def _peer_ended(sock: socket.socket) -> bool:
    """True when the peer closed the TCP connection and nothing is left to read. Peeks on a duplicate of
    the descriptor: TLS sockets refuse ``recv`` flags, and a peek consumes nothing."""
    try:
        fd = sock.fileno()
        if fd < 0:
            return False
        with socket.fromfd(fd, sock.family, sock.type) as raw:
            readable, _, _ = select.select([raw], [], [], 0)
            return bool(readable) and raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except ConnectionResetError:
        return True
    except (OSError, ValueError):  # closed meanwhile by the client itself
        return False


def close_frame(code: int = 1000, reason: str = "paperbot is stopping") -> bytes:
    """A client's WebSocket close frame (RFC 6455, 5.5.1: clients mask every frame)."""
    data = struct.pack("!H", code) + reason.encode()[:123]
    mask = os.urandom(4)
    return bytes([0x88, 0x80 | len(data)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


class SocketMode:
    """A connected Socket Mode handler; slack_sdk's threads do the work, the main thread waits."""

    def __init__(self, handler: SocketModeHandler) -> None:
        self.handler = handler
        self.client: SocketModeClient = handler.client

    def start(self) -> None:
        say("paperbot: connected to Slack in Socket Mode (Ctrl-C or SIGTERM stops)")

    def stop_taking_requests(self) -> None:
        # The message processor stops taking envelopes off the socket; those it leaves are never acked,
        # so Slack delivers them again elsewhere.
        self.client.auto_reconnect_enabled = False
        self.client.closed = True

    def finish_requests(self, deadline: float) -> bool:
        return _drain(self.client.message_workers, deadline)  # envelopes being handled send their acks

    def close(self, *, finished: bool) -> None:
        close_socket_mode(self.handler, finished=finished)


def close_socket_mode(handler: SocketModeHandler, *, finished: bool = True) -> None:
    """Close the connection as Slack expects (a close frame, code 1000) and at once: the reader blocked in
    ``recv`` (up to slack_sdk's 3 s receive timeout) is woken, since disconnecting waits for the lock it
    holds. ``finished=False``: the workers still running are not waited for."""
    client: SocketModeClient = handler.client
    session = client.current_session
    if session is not None and session.sock is not None:
        with contextlib.suppress(OSError), session.sock_send_lock:
            session.sock.sendall(close_frame())
        with contextlib.suppress(OSError):
            session.sock.shutdown(socket.SHUT_RDWR)
    if finished:
        handler.close()  # type: ignore[no-untyped-call]
    else:
        client.disconnect()  # close() would wait for the workers still running


class StartupError(Exception):
    """The bot cannot start: Slack refused a token, cannot be reached, or the port cannot be bound. The
    message is one line naming the setting to check."""


def start_slack(settings: Settings, *, socket_mode: bool, host: str, port: int) -> Serving:
    """Build the app, have Slack accept the tokens and bind the port (or open the Socket Mode connection);
    returns the :class:`Serving` that serves once called. Raises :class:`StartupError`.

    SIGTERM and SIGINT are caught from here on: until connected they interrupt the start; after that (Socket
    Mode handles envelopes as soon as it is connected) a stop asked for before serving starts takes effect
    once it does."""
    stop_request = StopRequest()
    stop_request.catch_signals()
    try:
        serving = _start_slack(settings, socket_mode=socket_mode, host=host, port=port, stop_request=stop_request)
    except BaseException:
        stop_request.release_signals()
        raise
    stop_request.defer()
    return serving


def _start_slack(settings: Settings, *, socket_mode: bool, host: str, port: int, stop_request: StopRequest) -> Serving:
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
        return Serving(app, SocketMode(handler), stop_request=stop_request)
    try:
        http_server = create_http_server(app, host, port, signing_secret=settings.require_signing_secret())
    except (OSError, ValueError) as error:
        raise StartupError(f"cannot listen on {host}:{port} (--host/--port): {error}") from None
    return Serving(app, HttpMode(http_server, host), stop_request=stop_request)
