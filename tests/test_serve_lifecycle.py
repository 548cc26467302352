"""``paperbot serve`` over its lifetime, driven from outside: a Socket Mode connection that Slack ends
(issue 9, #14) and SIGTERM / SIGINT in both modes (#12), with the fake Slack and the fake Socket Mode server.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.db import connect
from bot.digest.store import load_file
from bot.slack.app import build_app
from bot.slack.ids import ACTION_OPEN
from bot.slack.server import (
    HttpMode,
    Serving,
    SocketModeHandler,
    Stopped,
    close_socket_mode,
    connect_socket_mode,
    create_http_server,
)
from tests.conftest import SHIPPED_DIGEST
from tests.fakes.bot_server import bot_settings
from tests.fakes.signing import SIGNING_SECRET, block_actions_payload, interactive_body, post, slash_command_body
from tests.fakes.slack_api import FakeSlack
from tests.fakes.socket_mode import APP_TOKEN, FakeSocketMode, interactive_envelope, slash_command_envelope
from tests.helpers import fake_slack_env, free_port, spawn_bot, wait_until_serving

NO_MONITOR = 3600.0
"""A ping interval that keeps slack_sdk's monitor (which reconnects dead connections every interval) out of
a test: a reconnect seen within the test comes from the close or disconnect itself."""


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    path = tmp_path / "bot.db"
    load_file(connect(path), SHIPPED_DIGEST)
    return path


@pytest.fixture
def slack() -> Iterator[tuple[FakeSlack, FakeSocketMode]]:
    with FakeSlack() as fake, FakeSocketMode() as socket_mode:
        socket_mode.attach(fake)
        yield fake, socket_mode


@pytest.fixture
def socket_mode_bot(slack: tuple[FakeSlack, FakeSocketMode], db_file: Path) -> Iterator[SocketModeHandler]:
    fake, socket_mode = slack
    app = build_app(bot_settings(fake, db_file, SLACK_APP_TOKEN=APP_TOKEN), socket_mode=True)
    handler = connect_socket_mode(app, APP_TOKEN, ping_interval=NO_MONITOR)
    socket_mode.wait_for_connections(1)
    yield handler
    close_socket_mode(handler)


def tracr_is_answered(socket_mode: FakeSocketMode) -> None:
    ack = socket_mode.deliver(slash_command_envelope(slash_command_body("tracr")))
    assert ack["payload"]["text"].startswith("Tracr: Compiled Transformers")


# --- #14: Socket Mode reconnects at once ----------------------------------------------------------------


def test_a_close_frame_from_slack_is_followed_by_a_new_connection_at_once(
    slack: tuple[FakeSlack, FakeSocketMode], socket_mode_bot: SocketModeHandler
) -> None:
    fake, socket_mode = slack
    tracr_is_answered(socket_mode)
    for closed in range(1, 4):  # Slack ends connections routinely: every time
        socket_mode.close(code=1001, reason="going away")
        socket_mode.wait_for_connections(closed + 1)
        tracr_is_answered(socket_mode)
    assert len(fake.calls("apps.connections.open")) == 4  # a fresh URL for each connection
    assert len(socket_mode.open_connections()) == 1


def test_a_disconnect_message_is_followed_by_a_new_connection_that_answers(
    slack: tuple[FakeSlack, FakeSocketMode], socket_mode_bot: SocketModeHandler
) -> None:
    fake, socket_mode = slack
    socket_mode.send_disconnect("refresh_requested")
    socket_mode.wait_for_connections(2)
    tracr_is_answered(socket_mode)
    socket_mode.wait_for(lambda: not socket_mode.connections()[0].open, what="the old connection to end")
    assert len(fake.calls("apps.connections.open")) == 2 and len(socket_mode.open_connections()) == 1


def test_a_connection_that_drops_without_a_close_frame_is_replaced_at_once(
    slack: tuple[FakeSlack, FakeSocketMode], socket_mode_bot: SocketModeHandler
) -> None:
    fake, socket_mode = slack
    socket_mode.drop()  # TCP ends, no close frame: slack_sdk alone waits for 4 to 6 ping intervals
    socket_mode.wait_for_connections(2)
    tracr_is_answered(socket_mode)
    assert len(fake.calls("apps.connections.open")) == 2


def test_the_bot_stopping_does_not_reconnect(
    slack: tuple[FakeSlack, FakeSocketMode], socket_mode_bot: SocketModeHandler
) -> None:
    fake, socket_mode = slack
    socket_mode_bot.close()  # type: ignore[no-untyped-call]
    socket_mode.close()
    socket_mode.wait_for(lambda: not socket_mode.open_connections(), what="no open connection")
    assert len(fake.calls("apps.connections.open")) == 1


# --- #12: SIGTERM and SIGINT ----------------------------------------------------------------------------


def stopped_cleanly(proc: subprocess.Popen[str], signal_name: str) -> list[str]:
    """Wait for ``proc`` to exit; check it exited 0 with one last line saying it stopped and no traceback.
    Returns its stdout lines."""
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, (out, err)
    lines = out.splitlines()
    assert lines[-1] == f"paperbot: stopped on {signal_name} after finishing the work in flight", lines
    assert "Traceback" not in err and "Traceback" not in out, err
    return lines


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def test_sigterm_stops_http_mode_after_the_work_in_flight(db_file: Path, tmp_path: Path) -> None:
    with FakeSlack() as fake:
        port = free_port()
        proc = spawn_bot(
            *("serve", "--http", "--host", "127.0.0.1", "--port", str(port), "--no-scheduler"),
            env=fake_slack_env(fake, db_file),
            cwd=tmp_path,
        )
        try:
            wait_until_serving(proc, port, health_path="/healthz")
            slow = fake.response_url("slow")
            fake.delay("response_url", 3)  # the button's answer is still on its way when SIGTERM comes
            payload = block_actions_payload(ACTION_OPEN, "1", response_url=slow)
            status, _, _ = post(f"http://127.0.0.1:{port}/slack/events", interactive_body(payload), SIGNING_SECRET)
            assert status == 200
            proc.send_signal(signal.SIGTERM)
            fake.wait_for(lambda: refuses_connections(port), timeout=10, message="the port to refuse connections")
            assert fake.response_calls(slow) == [] and proc.poll() is None  # new requests refused, work going on
            lines = stopped_cleanly(proc, "SIGTERM")
        finally:
            proc.kill()
        [answer] = fake.response_calls(slow)
        assert answer.accepted and answer.payload["replace_original"] is True
        assert lines[0].startswith("paperbot: HTTP mode on") and len(lines) == 2


def test_sigint_stops_http_mode_the_same_way(db_file: Path, tmp_path: Path) -> None:
    with FakeSlack() as fake:
        port = free_port()
        proc = spawn_bot(
            *("serve", "--http", "--host", "127.0.0.1", "--port", str(port), "--no-scheduler"),
            env=fake_slack_env(fake, db_file),
            cwd=tmp_path,
        )
        try:
            wait_until_serving(proc, port, health_path="/healthz")
            proc.send_signal(signal.SIGINT)
            stopped_cleanly(proc, "SIGINT")
        finally:
            proc.kill()


def test_sigterm_while_starting_gives_up_the_start_with_one_line(db_file: Path, tmp_path: Path) -> None:
    with FakeSlack() as fake:
        fake.delay("auth.test", 30)  # Slack is slow to accept the token; woken when the fake stops
        proc = spawn_bot("serve", "--http", "--port", str(free_port()), env=fake_slack_env(fake, db_file), cwd=tmp_path)
        try:
            fake.wait_for(lambda: fake.calls("auth.test"), timeout=30, message="the start-up to ask Slack")
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
    assert (proc.returncode, out, err) == (130, "", "interrupted\n")


def test_sigterm_stops_socket_mode_after_the_work_in_flight_with_a_close_frame(
    slack: tuple[FakeSlack, FakeSocketMode], db_file: Path, tmp_path: Path
) -> None:
    fake, socket_mode = slack
    proc = spawn_bot(
        "serve", "--no-scheduler", env=fake_slack_env(fake, db_file, SLACK_APP_TOKEN=APP_TOKEN), cwd=tmp_path
    )
    try:
        socket_mode.wait_for_connections(1, timeout=30)
        tracr_is_answered(socket_mode)
        slow = fake.response_url("slow")
        fake.delay("response_url", 2)
        socket_mode.deliver(interactive_envelope(block_actions_payload(ACTION_OPEN, "1", response_url=slow)))
        proc.send_signal(signal.SIGTERM)
        lines = stopped_cleanly(proc, "SIGTERM")
    finally:
        proc.kill()
    [answer] = fake.response_calls(slow)
    assert answer.accepted
    [connection] = socket_mode.connections()
    assert connection.close_frame == (1000, "paperbot is stopping") and not connection.open
    assert len(fake.calls("apps.connections.open")) == 1  # stopping is not a reason to reconnect
    assert lines[0] == "paperbot: connected to Slack in Socket Mode (Ctrl-C or SIGTERM stops)"


def test_work_that_outlives_the_grace_period_is_abandoned_and_said(
    db_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In process, with a short grace period: ``serve`` itself then exits at once (status 0) rather than
    wait for the abandoned threads; the subprocess tests cover the signals."""
    with FakeSlack() as fake:
        settings = bot_settings(fake, db_file)
        app = build_app(settings)
        server = create_http_server(app, "127.0.0.1", 0, signing_secret=SIGNING_SECRET)
        serving = Serving(app, HttpMode(server, "127.0.0.1"), grace=0.2)
        hooks: list[str] = []
        serving.on_shutdown(lambda: hooks.append("first"))
        serving.on_shutdown(lambda: 1 / 0)  # a failing hook is logged, and the others still run
        serving.on_shutdown(lambda: hooks.append("last"))
        results: list[Stopped] = []
        thread = threading.Thread(target=lambda: results.append(serving.serve_until_stopped()))
        thread.start()
        url = f"http://127.0.0.1:{server.effective_port}/slack/events"
        fake.wait_for(lambda: not refuses_connections(server.effective_port), message="the server to listen")
        slow = fake.response_url("slow")
        fake.delay("response_url", 2)  # ten times the grace period
        post(url, interactive_body(block_actions_payload(ACTION_OPEN, "1", response_url=slow)), SIGNING_SECRET)
        serving.stop("test")
        thread.join(timeout=30)
        fake.wait_for_responses(1, slow)  # the abandoned work goes on in the background (here: it ends)
    [stopped] = results
    assert stopped.unfinished and stopped.line == (
        "paperbot: stopped on test; work still running after 0.2 s was abandoned"
    )
    assert hooks == ["first", "last"]
    assert "HTTP mode on" in capsys.readouterr().out
