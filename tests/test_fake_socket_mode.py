"""The fake Socket Mode server (tests/fakes/socket_mode.py) against the real slack_sdk client: the fake is
only useful if the real client connects to it, gets envelopes, acks them, and sees disconnects and closes."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import struct
import threading
from collections.abc import Iterator
from typing import BinaryIO

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from tests.fakes.signing import event_body, slash_command_body
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack
from tests.fakes.socket_mode import (
    APP_TOKEN,
    FakeSocketMode,
    events_api_envelope,
    interactive_envelope,
    slash_command_envelope,
)


@pytest.fixture
def servers() -> Iterator[tuple[FakeSlack, FakeSocketMode]]:
    with FakeSlack() as slack, FakeSocketMode() as socket_mode:
        socket_mode.attach(slack)
        yield slack, socket_mode


def echo_client(slack: FakeSlack, *, ping_interval: float = 3600) -> SocketModeClient:
    """A real client that acks every request with a payload naming its type (no monitor: a long interval)."""
    client = SocketModeClient(
        app_token=APP_TOKEN,
        web_client=WebClient(token=BOT_TOKEN, base_url=slack.api_url),
        ping_interval=ping_interval,
        logger=logging.getLogger("test.socket_mode"),
    )

    def ack(client: SocketModeClient, request: SocketModeRequest) -> None:
        payload = {"text": f"{request.type} {request.retry_attempt}"}
        client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id, payload=payload))

    client.socket_mode_request_listeners.append(ack)  # type: ignore[arg-type]
    return client


def close_now(client: SocketModeClient) -> None:
    """``client.close()`` without waiting out the reader's 3 s receive timeout (it holds the lock that
    disconnecting takes): shut the socket first, as paperbot's own close does."""
    session = client.current_session
    if session is not None and session.sock is not None:
        with contextlib.suppress(OSError):
            session.sock.shutdown(socket.SHUT_RDWR)
    client.close()


def test_the_real_client_connects_over_ws_and_acks_each_kind_of_envelope(
    servers: tuple[FakeSlack, FakeSocketMode],
) -> None:
    slack, socket_mode = servers
    client = echo_client(slack)
    try:
        client.connect()
        conn = socket_mode.wait_for_connections(1)
        assert conn.path.startswith("/link/?ticket=") and client.is_connected()
        [opened] = slack.calls("apps.connections.open")
        assert opened.headers["authorization"] == f"Bearer {APP_TOKEN}"
        for message, kind in (
            (slash_command_envelope(slash_command_body("tracr")), "slash_commands"),
            (interactive_envelope({"type": "block_actions", "actions": []}), "interactive"),
            (events_api_envelope(event_body({"type": "app_mention", "text": "hi"})), "events_api"),
        ):
            ack = socket_mode.deliver(message)
            assert ack["envelope_id"] == message["envelope_id"] and ack["payload"]["text"].startswith(kind)
        assert slash_command_envelope(slash_command_body("tracr"))["payload"]["text"] == "tracr"
    finally:
        close_now(client)


def test_a_redelivery_is_the_same_envelope_with_a_retry_attempt(servers: tuple[FakeSlack, FakeSocketMode]) -> None:
    slack, socket_mode = servers
    client = echo_client(slack)
    try:
        client.connect()
        socket_mode.wait_for_connections(1)
        first = events_api_envelope(event_body({"type": "app_mention", "text": "hi"}))
        again = {**first, "retry_attempt": 1, "retry_reason": "timeout"}
        assert socket_mode.deliver(first)["payload"]["text"] == "events_api 0"
        assert socket_mode.deliver(again)["payload"]["text"] == "events_api 1"
        assert [m["envelope_id"] for m in socket_mode.received] == [first["envelope_id"]] * 2
    finally:
        close_now(client)


def test_disconnect_close_and_drop_end_connections_and_are_counted(servers: tuple[FakeSlack, FakeSocketMode]) -> None:
    slack, socket_mode = servers
    client = echo_client(slack)
    closes: list[int] = []
    client.on_close_listeners.append(lambda code, reason: closes.append(code))
    try:
        client.connect()
        socket_mode.wait_for_connections(1)
        socket_mode.send_disconnect()  # slack_sdk reconnects at once on this message
        socket_mode.wait_for_connections(2)
        assert len(slack.calls("apps.connections.open")) == 2
        socket_mode.wait_for(lambda: not socket_mode.connections()[0].open, what="the first connection to end")
        socket_mode.close(code=1001)
        socket_mode.wait_for(lambda: closes == [1001], what="the client to see the close frame")
        assert socket_mode.open_connections() == []
    finally:
        close_now(client)


def test_a_close_frame_from_the_app_is_recorded_and_answered(servers: tuple[FakeSlack, FakeSocketMode]) -> None:
    _, socket_mode = servers
    with socket.create_connection(("127.0.0.1", socket_mode.port)) as raw:
        raw.sendall(
            b"GET /link/?ticket=t HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        reader = raw.makefile("rb")
        assert reader.readline().startswith(b"HTTP/1.1 101")
        while reader.readline() != b"\r\n":
            pass
        assert json.loads(_read_frame(reader)[1])["type"] == "hello"
        mask = b"\x01\x02\x03\x04"
        data = struct.pack("!H", 1000) + b"bye"
        raw.sendall(bytes([0x88, 0x80 | len(data)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
        assert _read_frame(reader) == (0x8, struct.pack("!H", 1000))
    socket_mode.wait_for(lambda: socket_mode.connections()[0].close_frame == (1000, "bye"))


def _read_frame(reader: BinaryIO) -> tuple[int, bytes]:
    head = reader.read(2)
    length = head[1] & 0x7F
    if length == 126:
        length = struct.unpack("!H", reader.read(2))[0]
    return head[0] & 0x0F, reader.read(length)


def test_apps_connections_open_wants_an_attached_app_level_token(servers: tuple[FakeSlack, FakeSocketMode]) -> None:
    slack, socket_mode = servers
    client = WebClient(base_url=slack.api_url)
    assert client.apps_connections_open(app_token=APP_TOKEN)["url"].startswith(f"ws://127.0.0.1:{socket_mode.port}/")
    for token, error in ((BOT_TOKEN, "not_allowed_token_type"), ("xapp-1-other", "invalid_auth")):
        with pytest.raises(SlackApiError) as refused:
            client.apps_connections_open(app_token=token)
        assert refused.value.response["error"] == error


def test_deliver_without_an_ack_fails_loudly(servers: tuple[FakeSlack, FakeSocketMode]) -> None:
    slack, socket_mode = servers
    client = echo_client(slack)
    client.socket_mode_request_listeners.clear()
    try:
        client.connect()
        socket_mode.wait_for_connections(1)
        with pytest.raises(AssertionError, match="the ack of"):
            socket_mode.deliver(slash_command_envelope(slash_command_body("x")), timeout=0.3)
    finally:
        close_now(client)
    assert threading.active_count() >= 1
