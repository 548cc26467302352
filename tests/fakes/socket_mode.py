"""A fake Slack Socket Mode server: a WebSocket server on ``127.0.0.1`` (random port), for tests.

Slack's Socket Mode (https://api.slack.com/apis/socket-mode): the app calls ``apps.connections.open`` with
its app-level token, gets a ``wss://`` URL, opens a WebSocket there and receives a ``hello`` message; Slack
then sends *envelopes* (``{"envelope_id", "type", "payload", ...}``, type ``slash_commands``,
``events_api`` or ``interactive``), which the app acknowledges by sending ``{"envelope_id": ...}`` back
(with a ``payload`` where the envelope ``accepts_response_payload``). Slack refreshes connections
routinely: it sends ``{"type": "disconnect", "reason": "refresh_requested"}`` and later closes the socket.

Wire it to the fake Web API, and the real ``slack_sdk`` Socket Mode client connects to it unmodified::

    with FakeSlack() as slack, FakeSocketMode() as socket_mode:
        socket_mode.attach(slack)  # apps.connections.open now answers with this server's ws:// URL
        ...start the bot with SLACK_APP_TOKEN=APP_TOKEN and SLACK_API_URL=slack.api_url...
        socket_mode.wait_for_connections(1)
        ack = socket_mode.deliver(slash_command_envelope(slash_command_body("tracr")))
        socket_mode.send_disconnect()  # or close() (a close frame), or drop() (TCP only)

The URL is ``ws://``: slack_sdk's built-in client speaks plain TCP to any port but 443
(``slack_sdk/socket_mode/builtin/internals.py``, ``_establish_new_socket_connection``).

:meth:`FakeSocketMode.deliver` sends one envelope and returns the app's ack, so a test can deliver the
same envelope twice (a redelivery: set ``retry_attempt``/``retry_reason`` as Slack does) and compare.
The server answers pings with pongs (the client counts a connection without pongs as stale), answers a
client's close frame with its own, and records every connection, ack and close frame it sees.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

from .slack_api import APP_ID, FakeSlack

__all__ = [
    "APP_TOKEN",
    "Connection",
    "FakeSocketMode",
    "envelope",
    "events_api_envelope",
    "interactive_envelope",
    "slash_command_envelope",
]

APP_TOKEN = "xapp-1-A0APP-1-test"
"""An app-level token: :meth:`FakeSocketMode.attach` makes the fake Web API accept it."""

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
_TEXT, _CLOSE, _PING, _PONG = 0x1, 0x8, 0x9, 0xA
_ids = itertools.count(1)

JSONDict = dict[str, Any]


# --- envelopes ------------------------------------------------------------------------------------------


def envelope(
    kind: str,
    payload: JSONDict,
    *,
    envelope_id: str | None = None,
    retry_attempt: int | None = None,
    retry_reason: str | None = None,
) -> JSONDict:
    """A Socket Mode envelope as Slack sends it. ``events_api`` envelopes carry ``retry_attempt`` and
    ``retry_reason`` (0 and "" on a first delivery); the others accept a response payload."""
    message: JSONDict = {
        "envelope_id": envelope_id or f"env-{next(_ids):06d}",
        "type": kind,
        "payload": payload,
        "accepts_response_payload": kind != "events_api",
    }
    if kind == "events_api":
        message["retry_attempt"] = retry_attempt or 0
        message["retry_reason"] = retry_reason or ""
    elif retry_attempt is not None:
        message.update(retry_attempt=retry_attempt, retry_reason=retry_reason or "")
    return message


def slash_command_envelope(form_body: str, **options: Any) -> JSONDict:
    """A ``slash_commands`` envelope from the form body an HTTP app would get (``signing.slash_command_body``):
    in Socket Mode the payload is the same fields as a JSON object."""
    return envelope("slash_commands", dict(parse_qsl(form_body, keep_blank_values=True)), **options)


def interactive_envelope(payload: JSONDict, **options: Any) -> JSONDict:
    """An ``interactive`` envelope (block_actions, view_submission, shortcut ...)."""
    return envelope("interactive", payload, **options)


def events_api_envelope(body: JSONDict | str, **options: Any) -> JSONDict:
    """An ``events_api`` envelope around an Events API body (``signing.event_body`` returns a JSON string)."""
    return envelope("events_api", json.loads(body) if isinstance(body, str) else body, **options)


# --- the server -----------------------------------------------------------------------------------------


@dataclass
class Connection:
    """One WebSocket connection the app opened. ``close_frame`` is the (code, reason) the app sent, if any."""

    number: int
    path: str
    sock: socket.socket = field(repr=False)
    open: bool = True
    close_frame: tuple[int, str] | None = None
    send_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def send_frame(self, opcode: int, data: bytes) -> None:
        """Send one unmasked frame (servers never mask); ``OSError`` once the socket is gone."""
        header = bytes([0x80 | opcode])
        if len(data) < 126:
            header += bytes([len(data)])
        elif len(data) < 1 << 16:
            header += bytes([126]) + struct.pack("!H", len(data))
        else:
            header += bytes([127]) + struct.pack("!Q", len(data))
        with self.send_lock:
            self.sock.sendall(header + data)


class FakeSocketMode:
    """A Socket Mode server on ``127.0.0.1``; see the module docstring. Thread-safe."""

    def __init__(self, *, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.received: list[JSONDict] = []
        """Every JSON message the app sent (acks), oldest first."""
        self.server_errors: list[BaseException] = []
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._connections: list[Connection] = []
        self._tickets = itertools.count(1)
        self._changed = threading.Condition()
        self._stopping = False

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSocketMode:
        listener = socket.create_server((self.host, 0))
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._accept_thread = threading.Thread(target=self._accept, name="FakeSocketMode", daemon=True)
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        """Close the listener and every connection (without close frames)."""
        self._stopping = True
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        for conn in self.connections():
            self._end(conn)
        if self._accept_thread is not None:
            self._accept_thread.join(timeout=2)

    def __enter__(self) -> FakeSocketMode:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ wiring to the fake Web API

    def issue_url(self) -> str:
        """A fresh connection URL, as ``apps.connections.open`` gives one per call."""
        return f"ws://{self.host}:{self.port}/link/?ticket=ticket-{next(self._tickets)}&app_id={APP_ID}"

    def attach(self, slack: FakeSlack, app_token: str = APP_TOKEN) -> None:
        """Make ``slack``'s ``apps.connections.open`` accept ``app_token`` and answer with URLs of this server."""
        slack.app_tokens.add(app_token)
        slack.socket_mode_url = self.issue_url

    # ------------------------------------------------------------------ what tests do

    def connections(self) -> list[Connection]:
        """Every connection the app opened, oldest first (open or not)."""
        with self._changed:
            return list(self._connections)

    def open_connections(self) -> list[Connection]:
        return [conn for conn in self.connections() if conn.open]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0, *, what: str = "the condition") -> None:
        """Wait until ``predicate()`` holds (re-checked on every change), or raise ``AssertionError``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"FakeSocketMode: timed out after {timeout:g} s waiting for {what}")
                self._changed.wait(min(remaining, 0.1))

    def wait_for_connections(self, n: int, timeout: float = 10.0) -> Connection:
        """Wait until the app has opened ``n`` connections in all and the newest is open; return it."""
        self.wait_for(
            lambda: len(self._connections) >= n and self._connections[-1].open,
            timeout,
            what=f"connection #{n} to be open",
        )
        return self.connections()[-1]

    def deliver(self, message: JSONDict, *, timeout: float = 5.0) -> JSONDict:
        """Send ``message`` (an :func:`envelope`) on the newest open connection and return the app's ack
        (``{"envelope_id": ..., "payload"?: ...}``). Waits for an open connection first (after a reconnect);
        raises ``AssertionError`` when no ack comes within ``timeout`` (Slack waits 3 s)."""
        envelope_id = message["envelope_id"]
        seen = len(self.received)
        self.wait_for(lambda: any(c.open for c in self._connections), timeout, what="an open connection")
        self.open_connections()[-1].send_frame(_TEXT, json.dumps(message).encode())
        found: list[JSONDict] = []

        def acked() -> bool:
            found[:] = [m for m in self.received[seen:] if m.get("envelope_id") == envelope_id]
            return bool(found)

        self.wait_for(acked, timeout, what=f"the ack of {envelope_id}")
        return found[0]

    def send_disconnect(self, reason: str = "refresh_requested") -> None:
        """Send Slack's ``disconnect`` message on every open connection (the socket stays open)."""
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "fake-socket-mode"}}
        for conn in self.open_connections():
            conn.send_frame(_TEXT, json.dumps(message).encode())

    def close(self, code: int = 1001, reason: str = "going away") -> None:
        """Close every open connection with a close frame, as Slack does when it ends a connection."""
        for conn in self.open_connections():
            with contextlib.suppress(OSError):
                conn.send_frame(_CLOSE, struct.pack("!H", code) + reason.encode())
            self._end(conn)

    def drop(self) -> None:
        """End every open connection at the TCP level, without a close frame (a network failure)."""
        for conn in self.open_connections():
            self._end(conn)

    # ------------------------------------------------------------------ server side

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stopping:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), name="FakeSocketMode-conn", daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        conn: Connection | None = None
        try:
            path = _handshake(sock)
            with self._changed:
                conn = Connection(number=len(self._connections) + 1, path=path, sock=sock)
                self._connections.append(conn)
                self._changed.notify_all()
            hello = {
                "type": "hello",
                "num_connections": len(self.open_connections()),
                "debug_info": {"host": "fake-socket-mode", "approximate_connection_time": 18060},
                "connection_info": {"app_id": APP_ID},
            }
            conn.send_frame(_TEXT, json.dumps(hello).encode())
            self._read_frames(conn)
        except (OSError, ConnectionError, ValueError):
            pass  # the app went away, or we ended the connection
        except Exception as error:  # a bug in the fake: keep it for inspection
            self.server_errors.append(error)
        finally:
            if conn is not None:
                self._end(conn)
            else:
                sock.close()

    def _read_frames(self, conn: Connection) -> None:
        reader = conn.sock.makefile("rb")
        while conn.open:
            head = reader.read(2)
            if len(head) < 2:
                return
            opcode, masked, length = head[0] & 0x0F, head[1] & 0x80, head[1] & 0x7F
            if length == 126:
                length = struct.unpack("!H", reader.read(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", reader.read(8))[0]
            mask = reader.read(4) if masked else b"\0\0\0\0"
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(reader.read(length)))
            if opcode == _PING:
                conn.send_frame(_PONG, data)
            elif opcode == _CLOSE:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
                with self._changed:
                    conn.close_frame = (code, data[2:].decode("utf-8", "replace"))
                    self._changed.notify_all()
                with contextlib.suppress(OSError):
                    conn.send_frame(_CLOSE, data[:2])
                return
            elif opcode == _TEXT:
                with self._changed:
                    self.received.append(json.loads(data))
                    self._changed.notify_all()

    def _end(self, conn: Connection) -> None:
        with self._changed:
            was_open, conn.open = conn.open, False
            self._changed.notify_all()
        if was_open:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
            conn.sock.close()


def _handshake(sock: socket.socket) -> str:
    """Read the client's HTTP upgrade request and accept it (RFC 6455, section 4.2); return the path."""
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed during the handshake")
        request += chunk
    lines = request.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    path = lines[0].split(" ")[1]
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    key = headers.get("sec-websocket-key")
    if not key:
        sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        raise ValueError("not a WebSocket upgrade")
    accept = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()
    sock.sendall(
        (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
        ).encode()
    )
    return path
