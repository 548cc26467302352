"""The real paperbot Bolt app served over real HTTP (waitress on 127.0.0.1, random port) for tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slack_bolt import App

from bot.config import Settings
from bot.slack.app import build_app
from bot.slack.followups import start_followups
from bot.slack.server import create_http_server

from .signing import SIGNING_SECRET, post, slash_command_body
from .slack_api import BOT_TOKEN, FakeSlack, message_block_errors

TEST_ARXIV_DELAY_SECONDS = "0.05"
"""The spacing between arXiv requests for bots under test, instead of arXiv's 3 s."""


def bot_settings(fake: FakeSlack, db_path: Path, **extra: str) -> Settings:
    """Settings for a bot talking to ``fake`` (never the real Slack)."""
    values = {
        "PAPERBOT_DB": str(db_path),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        "ARXIV_API_URL": "http://127.0.0.1:9/api/query",
        # arXiv's 3 s spacing (and the backoff built on it) only slows tests down; the limiter's own
        # tests and those about pacing set their own.
        "ARXIV_DELAY_SECONDS": TEST_ARXIV_DELAY_SECONDS,
        **extra,
    }
    return Settings(values=values)


@dataclass
class RunningBot:
    app: App
    url: str
    fake: FakeSlack

    @property
    def events_url(self) -> str:
        return f"{self.url}/slack/events"

    def drain(self) -> None:
        """Wait until every lazy listener started so far has finished, so a test can assert that something
        did *not* happen (no waiting for a guessed time). The app keeps working: later lazy listeners run
        on a fresh executor."""
        runner = self.app.listener_runner
        old = runner.listener_executor
        fresh = ThreadPoolExecutor(max_workers=8, thread_name_prefix="paperbot-lazy")
        # Bolt's listener runner and lazy runner share one executor (App(listener_executor=...)).
        runner.listener_executor = fresh
        runner.lazy_listener_runner.executor = fresh
        old.shutdown(wait=True)

    def command(self, text: str, **fields: Any) -> tuple[int, dict[str, Any]]:
        """Send a signed ``/paper TEXT``; return the HTTP status and the JSON answer (``{}`` if none)."""
        fields.setdefault("response_url", self.fake.response_url("cmd"))
        status, _, body = post(self.events_url, slash_command_body(text, **fields), SIGNING_SECRET)
        answer: dict[str, Any] = json.loads(body) if body.strip() else {}
        # Slack refuses an answer whose blocks break its rules: every test's answer is checked as it would.
        errors = message_block_errors(answer["blocks"]) if "blocks" in answer else []
        assert not errors, f"Slack would refuse the answer to /paper {text}: {errors}"
        return status, answer


@contextmanager
def running_bot(settings: Settings, fake: FakeSlack) -> Iterator[RunningBot]:
    app = build_app(settings)
    server = create_http_server(app, "127.0.0.1", 0, signing_secret=settings.require_signing_secret())
    thread = threading.Thread(target=server.run, name="paperbot-http", daemon=True)
    thread.start()
    workers = start_followups(settings)  # the outbox workers, as ``serve`` starts them
    try:
        yield RunningBot(app=app, url=f"http://127.0.0.1:{server.effective_port}", fake=fake)
    finally:
        # Work after the ack finishes while the fakes still answer: none outlives its test into the next.
        app.listener_runner.listener_executor.shutdown(wait=True)
        stop_http_server(server)
        thread.join(timeout=5)
        workers.stop()


def stop_http_server(server: Any, timeout: float = 5.0) -> None:
    """Stop a waitress server running in another thread: close every channel from inside its loop, then
    its workers.

    The loop waits in ``select`` for up to a second (waitress's ``asyncore_loop_timeout``); closing its
    sockets from another thread both waits out that second and makes ``select`` fail with EBADF in the
    server thread. Waitress's trigger runs a function inside the loop at once instead: the loop closes its
    own channels, finds its map empty and returns.
    """
    from waitress import wasyncore

    closed = threading.Event()

    def close_channels() -> None:
        wasyncore.close_all(server._map)
        closed.set()

    with suppress(OSError):  # the trigger is already closed: the loop is not running
        server.trigger.pull_trigger(close_channels)
    if not closed.wait(timeout):
        wasyncore.close_all(server._map)  # the loop is not running: nothing else touches the map
    server.task_dispatcher.shutdown()
