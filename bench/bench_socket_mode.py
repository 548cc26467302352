"""Benchmark how long the bot is deaf after Slack ends a Socket Mode connection (issue 9, #14).

The real Bolt app on slack_sdk's built-in client, against the fake Socket Mode server: Slack ends the
connection (a close frame, a ``disconnect`` message, or a TCP drop without a close frame), and the clock
runs until a slash command delivered on the new connection is acked. Beside it, in the same run, the baseline: the stock
``SocketModeHandler`` without paperbot's helpers (``ReconnectOnClose``, ``LetGoOnDisconnect``,
``ReconnectOnDrop``). The baseline's close-frame and drop cases wait for slack_sdk's monitor, which runs
every ``ping_interval`` seconds (Bolt's default is 10 s; ``--ping-interval`` shortens it here to keep the
run short). Slack wants an ack within 3 s.

    python bench/bench_socket_mode.py [--rounds 3] [--ping-interval 4]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slack_bolt.adapter.socket_mode import SocketModeHandler  # noqa: E402

from bot.db import connect  # noqa: E402
from bot.slack.app import build_app  # noqa: E402
from bot.slack.server import connect_socket_mode  # noqa: E402
from tests.fakes.bot_server import bot_settings  # noqa: E402
from tests.fakes.signing import slash_command_body  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402
from tests.fakes.socket_mode import APP_TOKEN, FakeSocketMode, slash_command_envelope  # noqa: E402


def deaf_seconds(end_connection: Callable[[FakeSocketMode], None], paperbot: bool, ping_interval: float) -> float:
    """Seconds from the end of a connection to the ack of a command delivered right after it."""
    with FakeSlack() as slack, FakeSocketMode() as socket_mode, tempfile.TemporaryDirectory() as folder:
        socket_mode.attach(slack)
        db_path = Path(folder) / "bench.db"
        connect(db_path)
        app = build_app(bot_settings(slack, db_path, SLACK_APP_TOKEN=APP_TOKEN), socket_mode=True)
        handler: Any
        if paperbot:
            handler = connect_socket_mode(app, APP_TOKEN, ping_interval=ping_interval)
        else:
            handler = SocketModeHandler(app, APP_TOKEN, ping_interval=ping_interval)
            handler.connect()
        try:
            socket_mode.wait_for_connections(1)
            socket_mode.deliver(slash_command_envelope(slash_command_body("help")))
            started = time.perf_counter()
            end_connection(socket_mode)
            patience = 4 * ping_interval + 10
            socket_mode.wait_for_connections(2, timeout=patience)  # Slack sends on the new connection
            socket_mode.deliver(slash_command_envelope(slash_command_body("help")), timeout=patience)
            return time.perf_counter() - started
        finally:
            handler.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ping-interval", type=float, default=4.0)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    cases: dict[str, Callable[[FakeSocketMode], None]] = {
        "close frame": lambda socket_mode: socket_mode.close(code=1001),
        "disconnect message": lambda socket_mode: socket_mode.send_disconnect(),
        "TCP drop": lambda socket_mode: socket_mode.drop(),
    }
    print(f"median seconds from the end of a connection to the next ack ({args.rounds} rounds each)")
    for name, end_connection in cases.items():
        ours = statistics.median(deaf_seconds(end_connection, True, args.ping_interval) for _ in range(args.rounds))
        stock = statistics.median(deaf_seconds(end_connection, False, args.ping_interval) for _ in range(args.rounds))
        print(f"  {name:<19} paperbot {ours:6.3f} s   stock slack_sdk {stock:6.3f} s   ratio {stock / ours:6.1f}x")


if __name__ == "__main__":
    main()
