"""A fake Slack Web API served over real HTTP on ``127.0.0.1``, for tests.

The real :class:`slack_sdk.WebClient` (and therefore the real Bolt app) talks to it unmodified::

    with FakeSlack() as fake:
        client = WebClient(token=BOT_TOKEN, base_url=fake.api_url)
        client.chat_postMessage(channel="C1", text="hi", metadata={"event_type": "t", "event_payload": {}})
        assert fake.calls("chat.postMessage")[0].params["text"] == "hi"
        history = client.conversations_history(channel="C1", include_all_metadata=True)

What it does
------------
* Answers ``POST /api/<method>`` (``GET`` with a query string works too) with form-encoded or JSON
  bodies. JSON-valued fields that arrive as strings in form posts (``blocks``, ``attachments``,
  ``metadata``, ``view``, ``unfurls``, ``user_auth_blocks``) are decoded, so recorded params always
  hold Python objects. Multipart bodies (``data=``/file uploads) are parsed too: file parts are
  recorded as ``{"filename": ..., "content": bytes}``.
* Records every call as a :class:`Call` (thread-safe), see :meth:`FakeSlack.calls`.
* Keeps a per-channel store of messages so ``chat.postMessage``, ``chat.update``, ``chat.delete``,
  ``conversations.history`` and ``conversations.replies`` are consistent with each other. Message
  ``ts`` values are unique, strictly increasing and derived from ``clock()`` (``time.time`` by
  default, so "oldest = now - 30 days" style queries behave as in production).
* Behaves like Slack where tests are likely to notice: ``metadata`` is only returned by history /
  replies when ``include_all_metadata`` is true; thread replies are not in ``conversations.history``
  (unless broadcast); ``oldest``/``latest`` are exclusive unless ``inclusive``; cursors paginate;
  ``chat.update`` keeps previous ``blocks``/``metadata`` unless new ones are given; block kit limits
  (50 blocks per message, 100 per view, 3000 chars per section text, 150 per header, 24 per modal
  title, ...) answer ``invalid_blocks`` / ``invalid_arguments`` (set ``validate_blocks=False`` to
  turn this off); ``metadata`` must be ``{"event_type": str, "event_payload": dict}`` or the call
  answers ``invalid_metadata_format``; posting to a user ID (``U...``) lands in the DM ``D...``.
* Authentication: ``Authorization: Bearer <token>`` (or a ``token`` body param, which Slack also
  accepts). No token -> ``not_authed``; a token not starting with ``xoxb-``/``xoxp-`` (or not in
  ``tokens`` when given) -> ``invalid_auth``. Both are HTTP 200 with ``ok: false``, like Slack.
* ``response_url`` endpoints (:meth:`FakeSlack.response_url`): each URL accepts at most
  :data:`RESPONSE_URL_MAX_USES` (5) posts, as Slack documents; later posts answer HTTP 404 with
  ``{"ok": false, "error": "used_url"}`` (:data:`RESPONSE_URL_EXHAUSTED_ERROR`; Slack's exact body
  for this case is not documented, this value is the fake's choice). Unknown tokens answer 404
  ``invalid_token``. Payloads with invalid blocks answer 400 ``invalid_blocks`` and do not count.
* Fault injection per method (or ``"*"`` for any method, ``"response_url"`` for response URLs),
  consumed first-in first-out: :meth:`FakeSlack.fail` (HTTP 429 + ``Retry-After`` / 5xx),
  :meth:`FakeSlack.error` (HTTP 200, ``ok: false``) and :meth:`FakeSlack.delay` (slow answer). A
  failed call never changes state; a delayed call is processed normally after the delay (as Slack
  would, even if the client gave up) unless the fake is stopped meanwhile, in which case the
  connection is dropped. Faulted calls are recorded with ``Call.fault`` set.
* Extra methods can be served with :meth:`FakeSlack.set_handler`; other unknown methods answer
  ``unknown_method``.
* Silent: no request logging; unexpected exceptions inside the fake are kept in
  :attr:`FakeSlack.server_errors` (and answered with HTTP 500) instead of being printed.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import email.policy
import json
import re
import secrets
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_TOKEN",
    "BOT_USER_ID",
    "METHOD_SCOPES",
    "RESPONSE_URL_EXHAUSTED_ERROR",
    "RESPONSE_URL_MAX_USES",
    "TEAM_DOMAIN",
    "TEAM_ID",
    "WORKSPACE_URL",
    "Call",
    "FakeSlack",
    "ResponseCall",
]

TEAM_ID = "T000TEST"
TEAM_DOMAIN = "paperbot-test"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
APP_ID = "A0APP"
BOT_TOKEN = "xoxb-test-token"
"""A token the fake accepts (any ``xoxb-``/``xoxp-`` token is accepted unless ``tokens`` is given)."""
WORKSPACE_URL = f"https://{TEAM_DOMAIN}.slack.com/"
RESPONSE_URL_MAX_USES = 5
RESPONSE_URL_EXHAUSTED_ERROR = "used_url"

JSONDict = dict[str, Any]
MethodHandler = Callable[[JSONDict], JSONDict]
"""A custom method implementation: receives the decoded params, returns the JSON answer (HTTP 200)."""

T = TypeVar("T")

METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "conversations.info": ("channels:read", "groups:read", "im:read", "mpim:read"),
}
"""Methods whose scopes the fake checks when ``FakeSlack.scopes`` is set (any one of them will do)."""
_APP_TOKEN_METHODS = frozenset({"apps.connections.open"})

_JSON_FIELDS = ("blocks", "attachments", "metadata", "view", "unfurls", "user_auth_blocks")
_KNOWN_BLOCK_TYPES = frozenset(
    {
        "actions",
        "call",
        "context",
        "context_actions",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)
_MAX_TEXT = 40_000
_MAX_MESSAGE_BLOCKS = 50
_MAX_VIEW_BLOCKS = 100


@dataclass
class Call:
    """One request received on ``/api/<method>``.

    ``params`` are the decoded request params (query string + body); ``headers`` have lower-cased
    names; ``timestamp`` is ``time.monotonic()`` at arrival. ``status``/``response`` are filled once
    the fake has answered (``None`` while a delayed call is still pending). ``fault`` describes the
    injected fault that was applied to this call (e.g. ``"http_429"``, ``"error:channel_not_found"``,
    ``"delay:0.5"``), ``None`` for normal calls.
    """

    method: str
    params: JSONDict
    headers: dict[str, str]
    timestamp: float
    fault: str | None = None
    status: int | None = None
    response: JSONDict | None = None

    @property
    def faulted(self) -> bool:
        """True when an injected fault (failure, error or delay) was applied to this call."""
        return self.fault is not None

    @property
    def ok(self) -> bool:
        """True when the call was answered with HTTP 200 and ``"ok": true``."""
        return self.status == 200 and self.response is not None and self.response.get("ok") is True


@dataclass
class ResponseCall:
    """One POST received on a ``response_url``; ``accepted`` when it was answered 200."""

    token: str
    payload: JSONDict
    headers: dict[str, str]
    timestamp: float
    status: int
    fault: str | None = None

    @property
    def accepted(self) -> bool:
        # An injected "error" fault answers ok:false, even with HTTP 200 (see FakeSlack.error).
        return self.status == 200 and not (self.fault or "").startswith("error:")


@dataclass(frozen=True)
class _Fault:
    kind: str  # "status", "error", "delay", or "pass" (let one call through: see ``after``)
    status: int = 200
    retry_after: int | None = None
    error: str = ""
    seconds: float = 0.0
    http_status: int | None = None  # an "error" answer's HTTP status (None: 200, or 400 on a response_url)

    def describe(self) -> str:
        if self.kind == "status":
            return f"http_{self.status}"
        if self.kind == "error":
            return f"error:{self.error}"
        return f"delay:{self.seconds:g}"


class _SlackError(Exception):
    """Raised by built-in handlers to answer ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.body: JSONDict = {"ok": False, "error": error, **extra}


_Reply = tuple[int, JSONDict, dict[str, str]]


SIGN_IN_PAGE = (
    b"<!DOCTYPE html><html><head><title>Sign in to Slack | Slack</title></head><body>"
    b'<form action="/signin" method="post"><input name="email"><button>Sign in</button></form></body></html>'
)
"""What Slack answers (HTTP 200) to a file download without a token allowed to read the file."""


class FakeSlack:
    """A fake Slack Web API server; see the module docstring for the behaviour.

    Use as a context manager (``with FakeSlack() as fake:``) or call :meth:`start`/:meth:`stop`.
    The public mutable attributes may be changed at any time:

    * ``missing_channels`` (default ``{"C404"}``): answer ``channel_not_found``.
    * ``not_in_channel`` (default empty): answer ``not_in_channel`` (except ``conversations.info``).
    * ``missing_users`` (default ``{"U404"}``): ``users.info`` answers ``user_not_found``.
    * ``channels`` / ``users``: ``{id: {...}}`` merged over the default ``conversations.info`` /
      ``users.info`` objects (e.g. ``fake.channels["C1"] = {"name": "ml-papers"}``).
    * ``tokens``: ``None`` (accept any ``xoxb-``/``xoxp-`` token) or the set of accepted tokens.
    * ``validate_blocks``: check Block Kit limits (default True).
    * ``scopes``: ``None`` (default: no ``X-OAuth-Scopes`` header, no scope checks) or the bot token's
      granted scopes: every API answer then carries them in ``X-OAuth-Scopes`` (comma-separated, as
      Slack sends them), and methods listed in :data:`METHOD_SCOPES` answer ``missing_scope`` (with
      ``needed`` and ``provided``) unless one of their scopes is granted.
    * ``app_tokens``: the app-level tokens (``xapp-…``) ``apps.connections.open`` accepts (default
      none: Socket Mode connections are refused with ``invalid_auth``); a bot token there answers
      ``not_allowed_token_type``. The answer's ``url`` is a ``wss://`` URL nothing listens on, unless
      ``socket_mode_url`` is set: a callable giving a fresh URL per call (``tests/fakes/socket_mode.py``).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        tokens: Iterable[str] | None = None,
        validate_blocks: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.missing_channels: set[str] = {"C404"}
        self.not_in_channel: set[str] = set()
        self.missing_users: set[str] = {"U404"}
        self.channels: dict[str, JSONDict] = {}
        self.users: dict[str, JSONDict] = {}
        self.tokens: set[str] | None = set(tokens) if tokens is not None else None
        self.validate_blocks = validate_blocks
        self.scopes: set[str] | None = None
        self.app_tokens: set[str] = set()
        self.socket_mode_url: Callable[[], str] | None = None
        self.server_errors: list[BaseException] = []

        self._clock = clock
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

        self._calls: list[Call] = []
        self._response_calls: list[ResponseCall] = []
        self._response_uses: dict[str, int] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        self._custom: dict[str, MethodHandler] = {}
        self._messages: dict[str, list[JSONDict]] = {}
        self._views: dict[str, JSONDict] = {}
        self._home_views: dict[str, str] = {}
        self._unfurls: dict[tuple[str, str], dict[str, JSONDict]] = {}
        self._last_ts = 0
        self._id_counter = 0
        self._files: dict[str, tuple[str, bytes, str, bool]] = {}
        self.file_downloads: list[tuple[str, str | None]] = []
        """``(file id, Authorization header)`` of every download of a hosted file."""
        self._builtin: dict[str, MethodHandler] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.info": self._conversations_info,
            "conversations.open": self._conversations_open,
            "users.info": self._users_info,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "apps.connections.open": self._apps_connections_open,
            "chat.unfurl": self._chat_unfurl,
        }

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSlack:
        """Start serving on a background daemon thread (idempotent). Returns ``self``."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server((self.host, self.port), self)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="FakeSlack", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving. Pending delayed requests are woken up and dropped; never blocks for long."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=2.0)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/`` (the server must be started)."""
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        host, port = self._server.server_address[:2]
        host_str = host.decode() if isinstance(host, bytes) else str(host)
        return f"http://{host_str}:{port}/"

    @property
    def api_url(self) -> str:
        """``http://127.0.0.1:PORT/api/``: pass it as ``WebClient(base_url=...)``."""
        return self.base_url + "api/"

    # ------------------------------------------------------------------ inspection

    def calls(self, method: str | None = None) -> list[Call]:
        """Recorded API calls (all, or only ``method``), oldest first. Includes faulted calls."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def clear(self) -> None:
        """Forget recorded calls and response_url posts. Messages, views and pending faults are kept."""
        with self._lock:
            self._calls.clear()
            self._response_calls.clear()

    def reset(self) -> None:
        """Forget everything: calls, response posts and use counts, faults, messages, views, handlers."""
        with self._lock:
            self.clear()
            self._response_uses.clear()
            self._faults.clear()
            self._custom.clear()
            self._messages.clear()
            self._views.clear()
            self._home_views.clear()
            self._unfurls.clear()

    def messages(self, channel: str) -> list[JSONDict]:
        """Copies of the messages stored in ``channel`` (oldest first, thread replies included, with
        ``metadata``)."""
        with self._lock:
            return copy.deepcopy(self._messages.get(channel, []))

    def views(self) -> dict[str, JSONDict]:
        """Copies of all views opened/pushed/published/updated, by view id."""
        with self._lock:
            return copy.deepcopy(self._views)

    def home_view(self, user_id: str) -> JSONDict | None:
        """The App Home view last published for ``user_id`` (a copy), or ``None``."""
        with self._lock:
            view_id = self._home_views.get(user_id)
            return copy.deepcopy(self._views[view_id]) if view_id else None

    def unfurls(self, channel: str, ts: str) -> dict[str, JSONDict]:
        """The unfurls ``chat.unfurl`` attached to a message (``channel``, ``ts``), or to a link still in
        the composer (``"composer"``, ``unfurl_id``): URL -> ``{"blocks": [...]}``, later calls merged in."""
        with self._lock:
            return copy.deepcopy(self._unfurls.get((channel, ts), {}))

    def describe(self) -> str:
        """A human-readable summary of the recorded calls (used in timeout messages)."""
        with self._lock:
            calls = list(self._calls)
            responses = list(self._response_calls)
        lines = [f"{len(calls)} API call(s) received:"]
        for i, call in enumerate(calls, 1):
            keys = ("channel", "ts", "thread_ts", "user", "user_id", "view_id", "text")
            shown = ", ".join(f"{k}={str(call.params[k])[:60]!r}" for k in keys if k in call.params)
            outcome = "pending" if call.status is None else str(call.status)
            if call.response is not None and call.response.get("ok") is not True:
                outcome += f" {call.response.get('error')}"
            fault = f" [fault {call.fault}]" if call.fault else ""
            lines.append(f"  {i}. {call.method}({shown}) -> {outcome}{fault}")
        lines.append(f"{len(responses)} response_url post(s) received:")
        for i, resp in enumerate(responses, 1):
            text = str(resp.payload.get("text", ""))[:60]
            lines.append(f"  {i}. {resp.token} text={text!r} -> {resp.status}")
        return "\n".join(lines)

    def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 5.0,
        *,
        message: str = "condition",
        interval: float = 0.01,
    ) -> T:
        """Poll ``predicate`` until it returns a truthy value, and return that value.

        Raises ``AssertionError`` (listing the calls received so far) after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(f"Timed out after {timeout:g}s waiting for {message}.\n{self.describe()}")
            time.sleep(interval)

    def wait_for_calls(self, method: str, n: int = 1, timeout: float = 5.0) -> list[Call]:
        """Wait until at least ``n`` calls to ``method`` have been *answered*; return all answered
        calls to ``method`` (oldest first). Raises ``AssertionError`` on timeout."""

        def answered() -> list[Call]:
            done = [c for c in self.calls(method) if c.status is not None]
            return done if len(done) >= n else []

        return self.wait_for(answered, timeout, message=f"{n} answered {method} call(s)")

    def wait_for_responses(self, n: int = 1, token_or_url: str | None = None, timeout: float = 5.0) -> list[JSONDict]:
        """Wait until at least ``n`` accepted response_url posts (optionally for one URL) exist;
        return their payloads. Raises ``AssertionError`` on timeout."""

        def accepted() -> list[JSONDict]:
            got = self.responses(token_or_url)
            return got if len(got) >= n else []

        return self.wait_for(accepted, timeout, message=f"{n} response_url post(s)")

    # ------------------------------------------------------------------ response_url

    def response_url(self, name: str = "r") -> str:
        """A fresh ``http://127.0.0.1:PORT/response/<token>`` URL (token = ``name`` + random suffix)."""
        label = re.sub(r"[^A-Za-z0-9_-]", "_", name) or "r"
        token = f"{label}-{secrets.token_hex(6)}"
        with self._lock:
            self._response_uses[token] = 0
        return f"{self.base_url}response/{token}"

    def responses(self, token_or_url: str | None = None) -> list[JSONDict]:
        """Payloads of the *accepted* response_url posts (all URLs, or one URL / token), oldest first."""
        return [r.payload for r in self.response_calls(token_or_url) if r.accepted]

    def response_calls(self, token_or_url: str | None = None) -> list[ResponseCall]:
        """All response_url posts, including rejected ones (e.g. the 6th use of a URL)."""
        token = _token_of(token_or_url) if token_or_url is not None else None
        with self._lock:
            return [r for r in self._response_calls if token is None or r.token == token]

    # ------------------------------------------------------------------ faults & customisation

    def fail(
        self, method: str, *, status: int = 429, retry_after: int | None = 1, times: int = 1, after: int = 0
    ) -> None:
        """Answer the next ``times`` calls to ``method`` with HTTP ``status`` (no state change).

        429 answers carry ``Retry-After: <retry_after>`` (omitted when ``None``) and the body
        ``{"ok": false, "error": "ratelimited"}``; other statuses answer
        ``{"ok": false, "error": "internal_error"}``. ``method`` may be ``"*"`` (any API method) or
        ``"response_url"``. ``after`` lets that many calls through first (fault the N+1th call).
        """
        if status == 200:
            raise ValueError("use error() for HTTP 200 ok=false answers")
        self._add_fault(method, _Fault("status", status=status, retry_after=retry_after), times, after)

    def error(self, method: str, error: str, *, times: int = 1, after: int = 0, status: int | None = None) -> None:
        """Answer the next ``times`` calls to ``method`` with HTTP 200 ``{"ok": false, "error": error}``
        (HTTP 400 on ``"response_url"``, or ``status`` when given: ``status=200`` on a response_url)."""
        self._add_fault(method, _Fault("error", error=error, http_status=status), times, after)

    def delay(self, method: str, seconds: float, *, times: int = 1, after: int = 0) -> None:
        """Answer the next ``times`` calls to ``method`` only after ``seconds`` (then normally)."""
        self._add_fault(method, _Fault("delay", seconds=seconds), times, after)

    def clear_faults(self) -> None:
        """Drop all pending injected faults."""
        with self._lock:
            self._faults.clear()

    def set_handler(self, method: str, handler: MethodHandler | None) -> None:
        """Serve ``method`` with ``handler(params) -> answer`` (overrides built-ins; ``None`` removes).
        Authentication and fault injection still apply."""
        with self._lock:
            if handler is None:
                self._custom.pop(method, None)
            else:
                self._custom[method] = handler

    def add_message(
        self,
        channel: str,
        text: str = "",
        *,
        user: str = "U123",
        ts: str | None = None,
        thread_ts: str | None = None,
        blocks: list[JSONDict] | None = None,
        metadata: JSONDict | None = None,
        **extra: Any,
    ) -> JSONDict:
        """Seed a message into ``channel`` (e.g. posted by a human before the test) and return a copy.

        ``user == BOT_USER_ID`` makes it look like the bot's own message. ``ts`` defaults to a fresh
        increasing timestamp; an explicit one may be in the past.
        """
        msg: JSONDict = {"type": "message", "user": user, "text": text, "team": TEAM_ID}
        if user == BOT_USER_ID:
            msg.update(bot_id=BOT_ID, app_id=APP_ID)
        if blocks is not None:
            msg["blocks"] = copy.deepcopy(blocks)
        if metadata is not None:
            msg["metadata"] = copy.deepcopy(metadata)
        msg.update(copy.deepcopy(extra))
        with self._lock:
            if ts is None:
                ts = self._next_ts()
            else:
                self._last_ts = max(self._last_ts, _ts_micro(ts))
            msg["ts"] = ts
            self._store(channel, msg, thread_ts)
            return copy.deepcopy(msg)

    # ------------------------------------------------------------------ request handling (server side)

    def add_file(
        self,
        name: str,
        data: bytes,
        *,
        mimetype: str = "text/plain",
        filetype: str | None = None,
        user: str = "U1",
        readable: bool = True,
    ) -> JSONDict:
        """Host a file as Slack does and return its file object (as a ``file_share`` event carries it).

        ``url_private_download`` answers the bytes to a request with a valid bot token in the
        ``Authorization`` header, and, like Slack, HTTP 200 with the HTML sign-in page otherwise (always,
        with ``readable=False``: a file the bot's token may not read).
        """
        file_id = self._next_id("F")
        with self._lock:
            self._files[file_id] = (name, data, mimetype, readable)
        url = f"{self.base_url}files-pri/{TEAM_ID}-{file_id}/download/{name}"
        return {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": filetype or (name.rsplit(".", 1)[-1] if "." in name else "text"),
            "size": len(data),
            "user": user,
            "url_private": url.replace("/download/", "/"),
            "url_private_download": url,
        }

    def _handle_file(self, path: str, headers: dict[str, str]) -> tuple[int, bytes, str]:
        """A ``files-pri`` download: (status, body, content type)."""
        parts = path.split("/")
        file_id = parts[2].split("-", 1)[-1] if len(parts) > 2 else ""
        auth = headers.get("authorization")
        with self._lock:
            self.file_downloads.append((file_id, auth))
            hosted = self._files.get(file_id)
        scheme, _, token = (auth or "").partition(" ")
        allowed = scheme.lower() == "bearer" and (
            token in self.tokens if self.tokens is not None else token.startswith(("xoxb-", "xoxp-"))
        )
        if hosted is None or not allowed or not hosted[3]:
            return 200, SIGN_IN_PAGE, "text/html; charset=utf-8"
        return 200, hosted[1], hosted[2]

    def _add_fault(self, method: str, fault: _Fault, times: int, after: int = 0) -> None:
        if times < 1 or after < 0:
            raise ValueError("times must be >= 1 and after >= 0")
        with self._lock:
            self._faults.setdefault(method, deque()).extend([_Fault("pass")] * after + [fault] * times)

    def _pop_fault(self, method: str) -> _Fault | None:
        with self._lock:
            for key in (method, "*") if method != "response_url" else (method,):
                queue = self._faults.get(key)
                if queue:
                    fault = queue.popleft()
                    return None if fault.kind == "pass" else fault
            return None

    def _handle_api(self, method: str, params: JSONDict, headers: dict[str, str]) -> _Reply | None:
        call = Call(method, params, headers, time.monotonic())
        with self._lock:
            fault = self._pop_fault(method)
            call.fault = fault.describe() if fault else None
            self._calls.append(call)
        reply: _Reply
        if fault is not None and fault.kind == "status":
            reply = _fault_reply(fault)
        elif fault is not None and fault.kind == "error":
            reply = (fault.http_status or 200, {"ok": False, "error": fault.error}, {})
        else:
            if fault is not None and self._stopping.wait(fault.seconds):
                return None  # stopped while delaying: drop the connection
            reply = (200, self._dispatch(method, params, headers), self._scope_headers(method))
        with self._lock:
            call.status, call.response = reply[0], reply[1]
        return reply

    def _dispatch(self, method: str, params: JSONDict, headers: dict[str, str]) -> JSONDict:
        with self._lock:
            handler = self._custom.get(method) or self._builtin.get(method)
        if handler is None:
            return {"ok": False, "error": "unknown_method", "req_method": method}
        auth_error = (
            self._app_auth_error(headers, params) if method in _APP_TOKEN_METHODS else self._auth_error(headers, params)
        )
        if auth_error is not None:
            return {"ok": False, "error": auth_error}
        scope_error = self._scope_error(method)
        if scope_error is not None:
            return scope_error
        try:
            return handler(params)
        except _SlackError as exc:
            return exc.body
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            return {
                "ok": False,
                "error": "invalid_arguments",
                "response_metadata": {"messages": [f"[ERROR] {type(exc).__name__}: {exc}"]},
            }

    def _handle_response_url(self, token: str, body: bytes, headers: dict[str, str]) -> _Reply | None:
        now = time.monotonic()
        fault: _Fault | None = None
        try:
            payload = _parse_response_payload(body, headers.get("content-type", ""))
        except ValueError:
            payload = {"_raw": body.decode("utf-8", errors="replace")}
            reply: _Reply = (400, {"ok": False, "error": "invalid_payload"}, {})
        else:
            fault = self._pop_fault("response_url")
            if fault is not None and fault.kind == "delay" and self._stopping.wait(fault.seconds):
                return None
            with self._lock:
                uses = self._response_uses.get(token)
                if fault is not None and fault.kind == "status":
                    reply = _fault_reply(fault)
                elif fault is not None and fault.kind == "error":
                    reply = (fault.http_status or 400, {"ok": False, "error": fault.error}, {})
                elif uses is None:
                    reply = (404, {"ok": False, "error": "invalid_token"}, {})
                elif uses >= RESPONSE_URL_MAX_USES:
                    reply = (404, {"ok": False, "error": RESPONSE_URL_EXHAUSTED_ERROR}, {})
                elif errors := self._payload_block_errors(payload):
                    reply = (400, {"ok": False, "error": "invalid_blocks", "errors": errors}, {})
                else:
                    self._response_uses[token] = uses + 1
                    reply = (200, {"ok": True}, {})
        with self._lock:
            self._response_calls.append(
                ResponseCall(token, payload, headers, now, reply[0], fault.describe() if fault else None)
            )
        return reply

    def _payload_block_errors(self, payload: JSONDict) -> list[str]:
        if not self.validate_blocks or "blocks" not in payload:
            return []
        return _block_errors(payload["blocks"], "/blocks", _MAX_MESSAGE_BLOCKS)

    def _auth_error(self, headers: dict[str, str], params: JSONDict) -> str | None:
        auth = headers.get("authorization")
        if auth is None:
            token = params.get("token")
            if not token:
                return "not_authed"
        else:
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return "invalid_auth"
        token = str(token).strip()
        if self.tokens is not None:
            return None if token in self.tokens else "invalid_auth"
        return None if token.startswith(("xoxb-", "xoxp-")) else "invalid_auth"

    # ------------------------------------------------------------------ state helpers (hold the lock)

    def _next_ts(self) -> str:
        with self._lock:
            value = max(int(self._clock() * 1_000_000), self._last_ts + 1)
            self._last_ts = value
            return f"{value // 1_000_000}.{value % 1_000_000:06d}"

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._id_counter += 1
            return f"{prefix}{self._id_counter:08X}"

    def _store(self, channel: str, msg: JSONDict, thread_ts: str | None) -> None:
        """Insert ``msg`` (ordered by ts) and maintain thread bookkeeping on the parent."""
        msgs = self._messages.setdefault(channel, [])
        if thread_ts and thread_ts != msg["ts"]:
            msg["thread_ts"] = thread_ts
            parent = _find(msgs, thread_ts)
            if parent is not None:
                msg["parent_user_id"] = parent.get("user")
                parent["thread_ts"] = parent["ts"]
                parent["reply_count"] = int(parent.get("reply_count", 0)) + 1
                users = list(parent.get("reply_users", []))
                if msg.get("user") not in users:
                    users.append(msg.get("user"))
                parent["reply_users"] = users
                parent["reply_users_count"] = len(users)
                parent["latest_reply"] = max((str(parent.get("latest_reply", "0")), str(msg["ts"])), key=_ts_micro)
        msgs.append(msg)
        msgs.sort(key=lambda m: _ts_micro(m["ts"]))

    def _channel(self, params: JSONDict, *, member: bool = True) -> str:
        channel = params.get("channel")
        if not isinstance(channel, str) or not channel or channel in self.missing_channels:
            raise _SlackError("channel_not_found")
        if member and channel in self.not_in_channel:
            raise _SlackError("not_in_channel")
        return channel

    def _bot_message(self, channel: str, params: JSONDict) -> tuple[str, JSONDict]:
        """Return ``(ts, message)`` for the bot message being posted to ``channel``."""
        msg_ts = params.get("ts")
        if not isinstance(msg_ts, str) or not msg_ts:
            raise _SlackError("message_not_found")
        msg = _find(self._messages.get(channel, []), msg_ts)
        if msg is None:
            raise _SlackError("message_not_found")
        return msg_ts, msg

    def _check_content(self, params: JSONDict, *, require: bool = True) -> None:
        text, blocks, attachments = params.get("text"), params.get("blocks"), params.get("attachments")
        if require and not text and not blocks and not attachments:
            raise _SlackError("no_text")
        if text is not None and len(str(text)) > _MAX_TEXT:
            raise _SlackError("msg_too_long")
        if blocks is not None:
            if not isinstance(blocks, list):
                raise _SlackError("invalid_blocks_format")
            if self.validate_blocks and (errors := _block_errors(blocks, "/blocks", _MAX_MESSAGE_BLOCKS)):
                raise _SlackError(
                    "invalid_blocks", errors=errors, response_metadata={"messages": [f"[ERROR] {e}" for e in errors]}
                )
        if "metadata" in params:
            meta = params["metadata"]
            if not (
                isinstance(meta, dict)
                and isinstance(meta.get("event_type"), str)
                and meta["event_type"]
                and isinstance(meta.get("event_payload"), dict)
            ):
                raise _SlackError("invalid_metadata_format")

    def _render(self, msg: JSONDict, include_metadata: bool) -> JSONDict:
        out = copy.deepcopy(msg)
        if not include_metadata:
            out.pop("metadata", None)
        return out

    # ------------------------------------------------------------------ built-in methods

    def _api_test(self, params: JSONDict) -> JSONDict:
        return {"ok": True, "args": {k: v for k, v in params.items() if k != "token"}}

    def _auth_test(self, params: JSONDict) -> JSONDict:
        return {
            "ok": True,
            "url": WORKSPACE_URL,
            "team": "Paperbot Test",
            "user": "paperbot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, params: JSONDict) -> JSONDict:
        channel = self._channel(params)
        if channel[0] in "UW":  # posting to a user ID goes to the bot's DM with them
            channel = "D" + channel[1:]
        self._check_content(params)
        msg: JSONDict = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "text": str(params.get("text") or ""),
        }
        for key in ("blocks", "attachments", "metadata", "username", "icon_emoji", "icon_url"):
            if params.get(key) is not None:
                msg[key] = copy.deepcopy(params[key])
        thread_ts = params.get("thread_ts") or None
        if thread_ts and _truthy(params.get("reply_broadcast")):
            msg["subtype"] = "thread_broadcast"
        with self._lock:
            msg["ts"] = self._next_ts()
            self._store(channel, msg, str(thread_ts) if thread_ts else None)
            rendered = self._render(msg, True)
        return {"ok": True, "channel": channel, "ts": msg["ts"], "message": rendered}

    def _chat_post_ephemeral(self, params: JSONDict) -> JSONDict:
        self._channel(params)
        if not params.get("user"):
            raise _SlackError("user_not_found")
        self._check_content(params)
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_update(self, params: JSONDict) -> JSONDict:
        channel = self._channel(params)
        self._check_content(params, require=False)
        if not any(k in params for k in ("text", "blocks", "attachments", "metadata")):
            raise _SlackError("no_text")
        with self._lock:
            msg_ts, msg = self._bot_message(channel, params)
            if msg.get("bot_id") != BOT_ID:
                raise _SlackError("cant_update_message")
            if "text" in params:
                msg["text"] = str(params["text"] or "")
            for key in ("blocks", "attachments"):
                if key in params:  # an empty list removes them, absent keeps them (as Slack does)
                    if params[key]:
                        msg[key] = copy.deepcopy(params[key])
                    else:
                        msg.pop(key, None)
            if params.get("metadata") is not None:
                msg["metadata"] = copy.deepcopy(params["metadata"])
            msg["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
            rendered = self._render(msg, True)
        return {"ok": True, "channel": channel, "ts": msg_ts, "text": rendered["text"], "message": rendered}

    def _chat_unfurl(self, params: JSONDict) -> JSONDict:
        """``chat.unfurl``: ``channel`` + ``ts`` (a posted message) or ``unfurl_id`` + ``source`` (the
        composer), never a mix; ``unfurls`` maps URLs to ``{"blocks": [...]}`` (at most 50 blocks each).
        When the message is in the store, every URL must appear in its text (else ``cannot_unfurl_url``),
        as Slack matches the keys against the message."""
        channel, ts = params.get("channel"), params.get("ts")
        unfurl_id, source = params.get("unfurl_id"), params.get("source")
        if channel and ts and not unfurl_id:
            key = (self._channel(params), str(ts))
        elif unfurl_id and source and not channel and not ts:
            if source not in ("composer", "conversations_history"):
                raise _invalid_arguments("source must be composer or conversations_history")
            key = ("composer", str(unfurl_id))
        else:
            raise _SlackError("invalid_arguments", response_metadata={"messages": ["channel+ts or unfurl_id+source"]})
        unfurls = params.get("unfurls")
        if not isinstance(unfurls, dict) or not unfurls:
            raise _SlackError("invalid_unfurls_format")
        for url, unfurl in unfurls.items():
            if not isinstance(unfurl, dict):
                raise _SlackError("invalid_unfurls_format")
            blocks = unfurl.get("blocks") if self.validate_blocks else None
            if blocks is not None and (errors := _block_errors(blocks, f"/unfurls/{url}/blocks", _MAX_MESSAGE_BLOCKS)):
                raise _SlackError("invalid_blocks", errors=errors)
        with self._lock:
            if key[0] != "composer":
                msg = _find(self._messages.get(key[0], []), key[1])
                if msg is not None and any(url not in str(msg.get("text", "")) for url in unfurls):
                    raise _SlackError("cannot_unfurl_url")
            self._unfurls.setdefault(key, {}).update(copy.deepcopy(unfurls))
        return {"ok": True}

    def _chat_delete(self, params: JSONDict) -> JSONDict:
        channel = self._channel(params)
        with self._lock:
            msg_ts, msg = self._bot_message(channel, params)
            if msg.get("bot_id") != BOT_ID:
                raise _SlackError("cant_delete_message")
            self._messages[channel].remove(msg)
        return {"ok": True, "channel": channel, "ts": msg_ts}

    def _chat_get_permalink(self, params: JSONDict) -> JSONDict:
        channel = self._channel(params, member=False)
        msg_ts = params.get("message_ts")
        with self._lock:
            msg = _find(self._messages.get(channel, []), str(msg_ts)) if msg_ts else None
            if msg is None:
                raise _SlackError("message_not_found")
            link = f"{WORKSPACE_URL}archives/{channel}/p{str(msg_ts).replace('.', '')}"
            thread_ts = msg.get("thread_ts")
            if thread_ts and thread_ts != msg_ts:
                link += f"?thread_ts={thread_ts}&cid={channel}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _conversations_history(self, params: JSONDict) -> JSONDict:
        channel = self._channel(params)
        with self._lock:
            msgs = [
                m
                for m in self._messages.get(channel, [])
                if m.get("thread_ts") in (None, m["ts"]) or m.get("subtype") == "thread_broadcast"
            ]
            msgs.sort(key=lambda m: _ts_micro(m["ts"]), reverse=True)
            return self._page(msgs, params, default_limit=100)

    def _conversations_open(self, params: JSONDict) -> JSONDict:
        """The bot's direct message with one user (``users``): ``D`` + the user ID's rest, the channel a
        ``chat.postMessage`` to that user ID lands in. Several users (a group DM) are not modelled."""
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if not users:
            raise _SlackError("users_list_not_supplied")
        if len(users) > 1:
            raise _SlackError("not_supported")  # the bot opens one-to-one DMs only
        return {"ok": True, "channel": {"id": "D" + users[0][1:]}}

    def _conversations_replies(self, params: JSONDict) -> JSONDict:
        channel = self._channel(params)
        ts = params.get("ts")
        with self._lock:
            msgs = self._messages.get(channel, [])
            anchor = _find(msgs, str(ts)) if ts else None
            if anchor is None:
                raise _SlackError("thread_not_found")
            root_ts = str(anchor.get("thread_ts") or anchor["ts"])
            thread = [m for m in msgs if m["ts"] == root_ts or m.get("thread_ts") == root_ts]
            thread.sort(key=lambda m: (m["ts"] != root_ts, _ts_micro(m["ts"])))
            return self._page(thread, params, default_limit=1000)

    def _page(self, ordered: list[JSONDict], params: JSONDict, *, default_limit: int) -> JSONDict:
        """Filter by oldest/latest/cursor, cut to ``limit`` and render (metadata per the flag)."""
        inclusive = _truthy(params.get("inclusive"))
        oldest = _ts_micro(params.get("oldest") or "0")
        latest = _ts_micro(params["latest"]) if params.get("latest") else None

        def in_range(m: JSONDict) -> bool:
            t = _ts_micro(m["ts"])
            lo_ok = t >= oldest if inclusive else t > oldest
            hi_ok = latest is None or (t <= latest if inclusive else t < latest)
            return lo_ok and hi_ok

        selected = [m for m in ordered if in_range(m)]
        cursor = params.get("cursor")
        if cursor:
            start = _decode_cursor(str(cursor))
            selected = selected[start:]
            offset = start
        else:
            offset = 0
        limit = max(1, min(int(params.get("limit") or 0) or default_limit, 1000))
        page, has_more = selected[:limit], len(selected) > limit
        include_metadata = _truthy(params.get("include_all_metadata"))
        return {
            "ok": True,
            "messages": [self._render(m, include_metadata) for m in page],
            "has_more": has_more,
            "pin_count": 0,
            "response_metadata": {"next_cursor": _encode_cursor(offset + limit) if has_more else ""},
        }

    def _conversations_info(self, params: JSONDict) -> JSONDict:
        channel = self._channel(params, member=False)
        info: JSONDict = {
            "id": channel,
            "name": channel.lower(),
            "is_channel": channel[0] == "C",
            "is_group": False,
            "is_im": channel[0] == "D",
            "is_mpim": False,
            "is_private": channel[0] == "G",
            "is_archived": False,
            "is_general": False,
            "is_member": channel not in self.not_in_channel,
            "created": 1_600_000_000,
            "creator": "U123",
            "context_team_id": TEAM_ID,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }
        info.update(copy.deepcopy(self.channels.get(channel, {})))
        return {"ok": True, "channel": info}

    def _scope_headers(self, method: str) -> dict[str, str]:
        if self.scopes is None or method in _APP_TOKEN_METHODS:
            return {}
        return {"X-OAuth-Scopes": ",".join(sorted(self.scopes))}

    def _scope_error(self, method: str) -> JSONDict | None:
        needed = METHOD_SCOPES.get(method)
        if self.scopes is None or needed is None or self.scopes & set(needed):
            return None
        provided = ",".join(sorted(self.scopes))
        return {"ok": False, "error": "missing_scope", "needed": ",".join(needed), "provided": provided}

    def _users_info(self, params: JSONDict) -> JSONDict:
        user = params.get("user")
        if not isinstance(user, str) or not user or user in self.missing_users:
            raise _SlackError("user_not_found")
        name = f"user_{user.lower()}"
        info: JSONDict = {
            "id": user,
            "team_id": TEAM_ID,
            "name": name,
            "real_name": f"User {user}",
            "deleted": False,
            "is_bot": user == BOT_USER_ID,
            "is_admin": False,
            "tz": "UTC",
            "tz_label": "Coordinated Universal Time",
            "tz_offset": 0,
            "profile": {"real_name": f"User {user}", "display_name": name, "email": f"{name}@example.com"},
        }
        info.update(copy.deepcopy(self.users.get(user, {})))
        return {"ok": True, "user": info}

    def _view_spec(self, params: JSONDict, allowed: tuple[str, ...]) -> JSONDict:
        view = params.get("view")
        if not isinstance(view, dict) or view.get("type") not in allowed:
            raise _invalid_arguments(f"view must be an object with type in {allowed} [json-pointer:/view]")
        if self.validate_blocks and (errors := _view_errors(view)):
            raise _invalid_arguments(*errors)
        return view

    def _new_view(self, spec: JSONDict, *, view_id: str | None = None, **extra: Any) -> JSONDict:
        view_id = view_id or self._next_id("V")
        view: JSONDict = {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": spec["type"],
            "title": None,
            "blocks": [],
            "close": None,
            "submit": None,
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "state": {"values": {}},
            "hash": f"{int(self._clock())}.{secrets.token_hex(4)}",
            "clear_on_close": False,
            "notify_on_close": False,
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": APP_ID,
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }
        view.update(extra)
        for key in (
            "title",
            "blocks",
            "close",
            "submit",
            "private_metadata",
            "callback_id",
            "external_id",
            "clear_on_close",
            "notify_on_close",
            "submit_disabled",
        ):
            if key in spec:
                view[key] = copy.deepcopy(spec[key])
        self._views[view_id] = view
        return copy.deepcopy(view)

    def _views_open(self, params: JSONDict) -> JSONDict:
        if not params.get("trigger_id"):
            raise _invalid_arguments("missing required field: trigger_id")
        spec = self._view_spec(params, ("modal",))
        with self._lock:
            return {"ok": True, "view": self._new_view(spec)}

    def _views_push(self, params: JSONDict) -> JSONDict:
        if not params.get("trigger_id"):
            raise _invalid_arguments("missing required field: trigger_id")
        spec = self._view_spec(params, ("modal",))
        with self._lock:
            return {"ok": True, "view": self._new_view(spec)}

    def _find_view(self, params: JSONDict) -> JSONDict:
        view_id, external_id = params.get("view_id"), params.get("external_id")
        if view_id:
            found = self._views.get(str(view_id))
        elif external_id:
            found = next((v for v in self._views.values() if v.get("external_id") == external_id), None)
        else:
            raise _invalid_arguments("either view_id or external_id is required")
        if found is None:
            raise _SlackError("not_found")
        return found

    def _views_update(self, params: JSONDict) -> JSONDict:
        spec = self._view_spec(params, ("modal", "home"))
        with self._lock:
            old = self._find_view(params)
            if params.get("hash") and params["hash"] != old["hash"]:
                raise _SlackError("hash_conflict")
            keep = {k: old[k] for k in ("previous_view_id", "root_view_id")}
            return {"ok": True, "view": self._new_view(spec, view_id=old["id"], **keep)}

    def _apps_connections_open(self, params: JSONDict) -> JSONDict:
        if self.socket_mode_url is not None:
            return {"ok": True, "url": self.socket_mode_url()}
        return {"ok": True, "url": f"wss://127.0.0.1:9/link/?ticket={secrets.token_hex(8)}&app_id={APP_ID}"}

    def _app_auth_error(self, headers: dict[str, str], params: JSONDict) -> str | None:
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else str(params.get("token") or "").strip()
        if not token:
            return "not_authed"
        if not token.startswith("xapp-"):
            return "not_allowed_token_type"
        return None if token in self.app_tokens else "invalid_auth"

    def _views_publish(self, params: JSONDict) -> JSONDict:
        user_id = params.get("user_id")
        if not isinstance(user_id, str) or not user_id or user_id in self.missing_users:
            raise _SlackError("user_not_found")
        spec = self._view_spec(params, ("home",))
        with self._lock:
            old_id = self._home_views.get(user_id)
            if old_id and params.get("hash") and params["hash"] != self._views[old_id]["hash"]:
                raise _SlackError("hash_conflict")
            view = self._new_view(spec, view_id=old_id)
            self._home_views[user_id] = view["id"]
            return {"ok": True, "view": view}


# ---------------------------------------------------------------------- HTTP plumbing


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # socketserver's default backlog of 5 drops the SYNs of a burst of concurrent clients, which then wait
    # a second for TCP to retransmit: Slack takes bursts.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], fake: FakeSlack) -> None:
        self.fake = fake
        super().__init__(address, _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Keep quiet: remember unexpected errors, ignore clients that went away."""
        exc = sys.exc_info()[1]
        if exc is not None and not isinstance(exc, ConnectionError | TimeoutError):
            self.fake.server_errors.append(exc)


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "FakeSlack/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request logging to stderr."""

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def _handle(self) -> None:
        fake = self.server.fake
        try:
            url = urlsplit(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            reply: _Reply | None
            if url.path.startswith("/files-pri/"):
                status, data, content_type = fake._handle_file(url.path, headers)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            if url.path.startswith("/api/"):
                method = url.path[len("/api/") :]
                try:
                    params = _parse_params(url.query, body, headers.get("content-type", ""))
                except ValueError:
                    reply = (200, {"ok": False, "error": "invalid_json"}, {})
                else:
                    reply = fake._handle_api(method, params, headers)
            elif url.path.startswith("/response/"):
                reply = fake._handle_response_url(url.path[len("/response/") :], body, headers)
            else:
                reply = (404, {"ok": False, "error": "not_found"}, {})
        except Exception as exc:  # a bug in the fake: answer 500 and keep it for inspection
            fake.server_errors.append(exc)
            reply = (500, {"ok": False, "error": "fake_internal_error", "detail": repr(exc)}, {})
        if reply is None:
            self.close_connection = True
            return
        status, payload, extra_headers = reply
        data = json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra_headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (ConnectionError, TimeoutError):
            pass  # the client gave up (e.g. timed out on a delayed call)


# ---------------------------------------------------------------------- pure helpers


def _fault_reply(fault: _Fault) -> _Reply:
    if fault.status == 429:
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        return 429, {"ok": False, "error": "ratelimited"}, headers
    return fault.status, {"ok": False, "error": "internal_error"}, {}


def _invalid_arguments(*messages: str) -> _SlackError:
    return _SlackError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {m}" for m in messages]})


def _parse_params(query: str, body: bytes, content_type: str) -> JSONDict:
    """Merge query-string and body params; decode JSON-valued fields given as strings."""
    params: JSONDict = dict(parse_qsl(query, keep_blank_values=True))
    mime = content_type.split(";")[0].strip().lower()
    text = body.decode("utf-8", errors="replace")
    if mime == "application/json":
        if text.strip():
            loaded = json.loads(text)
            if not isinstance(loaded, dict):
                raise ValueError("JSON body must be an object")
            params.update(loaded)
    elif mime == "multipart/form-data":
        params.update(_parse_multipart(body, content_type))
    elif text:
        params.update(parse_qsl(text, keep_blank_values=True))
    for key in _JSON_FIELDS:
        value = params.get(key)
        if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
            with contextlib.suppress(json.JSONDecodeError):  # if invalid, validation reports it
                params[key] = json.loads(value)
    return params


def _parse_multipart(body: bytes, content_type: str) -> JSONDict:
    """Fields of a multipart body (slack_sdk uses it for ``data=``): text fields as ``str``, file
    parts as ``{"filename": ..., "content": bytes}``."""
    message = BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    fields: JSONDict = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        raw = part.get_payload(decode=True)
        content = raw if isinstance(raw, bytes) else b""
        filename = part.get_filename()
        fields[name] = {"filename": filename, "content": content} if filename else content.decode("utf-8")
    return fields


def _parse_response_payload(body: bytes, content_type: str) -> JSONDict:
    text = body.decode("utf-8")
    if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        text = dict(parse_qsl(text)).get("payload", "")
    loaded = json.loads(text)
    if not isinstance(loaded, dict):
        raise ValueError("payload must be a JSON object")
    return loaded


def _token_of(token_or_url: str) -> str:
    return token_or_url.rstrip("/").rsplit("/", 1)[-1]


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _ts_micro(value: Any) -> int:
    """A Slack ts (``"1700000000.000100"``, ``"0"``, ``1.5``) as integer microseconds."""
    try:
        return int(Decimal(str(value)) * 1_000_000)
    except InvalidOperation as exc:
        raise ValueError(f"invalid ts: {value!r}") from exc


def _find(msgs: list[JSONDict], ts: str) -> JSONDict | None:
    return next((m for m in msgs if m["ts"] == ts), None)


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        prefix, _, number = base64.b64decode(cursor).decode().partition(":")
        if prefix == "offset":
            return int(number)
    except (ValueError, UnicodeDecodeError):
        pass
    raise _SlackError("invalid_cursor")


def _text_errors(obj: Any, ptr: str, max_len: int, *, plain_only: bool = False) -> list[str]:
    if not isinstance(obj, dict):
        return [f"must be an object [json-pointer:{ptr}]"]
    allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    if obj.get("type") not in allowed:
        return [f"must be a valid enum value {allowed} [json-pointer:{ptr}/type]"]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [f"must be more than 0 characters [json-pointer:{ptr}/text]"]
    if len(text) > max_len:
        return [f"must be less than {max_len + 1} characters [json-pointer:{ptr}/text]"]
    return []


def _element_errors(el: Any, ptr: str) -> list[str]:
    if not isinstance(el, dict) or not isinstance(el.get("type"), str):
        return [f"missing required field: type [json-pointer:{ptr}]"]
    errors: list[str] = []
    action_id = el.get("action_id")
    if action_id is not None and (not isinstance(action_id, str) or len(action_id) > 255):
        errors.append(f"must be a string of at most 255 characters [json-pointer:{ptr}/action_id]")
    if el["type"] == "button":
        errors += _text_errors(el.get("text"), f"{ptr}/text", 75, plain_only=True)
        if "value" in el and len(str(el["value"])) > 2000:
            errors.append(f"must be less than 2001 characters [json-pointer:{ptr}/value]")
        if "url" in el and len(str(el["url"])) > 3000:
            errors.append(f"must be less than 3001 characters [json-pointer:{ptr}/url]")
    elif el["type"] == "overflow":
        options = el.get("options")
        if not isinstance(options, list) or not 2 <= len(options) <= 5:
            errors.append(f"must be an array of 2-5 items [json-pointer:{ptr}/options]")
        else:
            for j, option in enumerate(options):
                errors += _text_errors(option.get("text"), f"{ptr}/options/{j}/text", 75, plain_only=True)
                if not 1 <= len(str(option.get("value", ""))) <= 150:
                    errors.append(f"must be 1-150 characters [json-pointer:{ptr}/options/{j}/value]")
                if "url" in option and len(str(option["url"])) > 3000:
                    errors.append(f"must be less than 3001 characters [json-pointer:{ptr}/options/{j}/url]")
    return errors


def message_block_errors(blocks: Any) -> list[str]:
    """What Slack would refuse in a message's blocks (the same checks as ``chat.postMessage``): for
    answers Slack reads from an HTTP response, such as a slash command's, which the fake never sees."""
    return _block_errors(blocks, "/blocks", _MAX_MESSAGE_BLOCKS)


def _block_errors(blocks: Any, prefix: str, max_blocks: int) -> list[str]:
    """Validate the Block Kit limits most likely to bite; messages mimic Slack's."""
    if not isinstance(blocks, list):
        return [f"must be an array [json-pointer:{prefix}]"]
    errors: list[str] = []
    if len(blocks) > max_blocks:
        errors.append(f"must be less than {max_blocks + 1} items [json-pointer:{prefix}]")
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        ptr = f"{prefix}/{i}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            errors.append(f"missing required field: type [json-pointer:{ptr}]")
            continue
        kind = block["type"]
        if kind not in _KNOWN_BLOCK_TYPES:
            errors.append(f"unsupported type: {kind} [json-pointer:{ptr}/type]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not block_id or len(block_id) > 255:
                errors.append(f"must be 1-255 characters [json-pointer:{ptr}/block_id]")
            elif block_id in seen:
                errors.append(f"duplicate block_id {block_id!r} [json-pointer:{ptr}/block_id]")
            else:
                seen.add(block_id)
        if kind == "section":
            text, fields = block.get("text"), block.get("fields")
            if text is None and not fields:
                errors.append(f"must provide either text or fields [json-pointer:{ptr}]")
            if text is not None:
                errors += _text_errors(text, f"{ptr}/text", 3000)
            if fields is not None:
                if not isinstance(fields, list) or len(fields) > 10:
                    errors.append(f"must be an array of at most 10 items [json-pointer:{ptr}/fields]")
                else:
                    for j, fld in enumerate(fields):
                        errors += _text_errors(fld, f"{ptr}/fields/{j}", 2000)
            if "accessory" in block:
                errors += _element_errors(block["accessory"], f"{ptr}/accessory")
        elif kind == "header":
            errors += _text_errors(block.get("text"), f"{ptr}/text", 150, plain_only=True)
        elif kind in ("context", "actions"):
            limit = 10 if kind == "context" else 25
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= limit:
                errors.append(f"must be an array of 1-{limit} items [json-pointer:{ptr}/elements]")
            elif kind == "actions":
                action_ids = [el.get("action_id") for el in elements if isinstance(el, dict) and el.get("action_id")]
                if len(action_ids) != len(set(action_ids)):
                    errors.append(f"duplicate action_id in an actions block [json-pointer:{ptr}/elements]")
                for j, el in enumerate(elements):
                    errors += _element_errors(el, f"{ptr}/elements/{j}")
        elif kind == "input":
            errors += _text_errors(block.get("label"), f"{ptr}/label", 2000, plain_only=True)
            if "element" not in block:
                errors.append(f"missing required field: element [json-pointer:{ptr}]")
    return errors


def _view_errors(view: JSONDict) -> list[str]:
    errors: list[str] = []
    if view["type"] == "modal":
        errors += _text_errors(view.get("title"), "/view/title", 24, plain_only=True)
    for key in ("submit", "close"):
        if view.get(key) is not None:
            errors += _text_errors(view[key], f"/view/{key}", 24, plain_only=True)
    if len(str(view.get("private_metadata", ""))) > 3000:
        errors.append("must be less than 3001 characters [json-pointer:/view/private_metadata]")
    if len(str(view.get("callback_id", ""))) > 255:
        errors.append("must be less than 256 characters [json-pointer:/view/callback_id]")
    errors += _block_errors(view.get("blocks", []), "/view/blocks", _MAX_VIEW_BLOCKS)
    return errors
