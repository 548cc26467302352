"""Logs an operator can read: one line per Slack request, arXiv request, roundup step and scheduler fire;
text or JSON; and never a token, the signing secret or a response_url, whatever the level."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.arxiv.client import ArxivClient, ArxivUnavailable, RateLimiter
from bot.config import ConfigError, Settings
from bot.db import connect
from bot.digest.store import load_file
from bot.logs import REDACTED, Redactor, setup_logging
from bot.roundup.post import post_roundup
from bot.roundup.schedule import record_first_start
from tests.conftest import SHIPPED_DIGEST
from tests.fakes.arxiv_api import FakeArxivAPI
from tests.fakes.bot_server import bot_settings, running_bot
from tests.fakes.signing import SIGNING_SECRET, block_actions_payload, interactive_body, post, slash_command_body
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack
from tests.helpers import fake_slack_env, free_port, spawn_bot, wait_until_serving


def _settings(**values: str) -> Settings:
    return Settings(values=values)


# --- format, level, redaction -------------------------------------------------------------------------


def test_json_format_is_one_object_per_line_with_the_fields() -> None:
    stream = io.StringIO()
    setup_logging(_settings(PAPERBOT_LOG_FORMAT="json"), stream)
    logging.getLogger("bot.test").info("hello %s", "world", extra={"fields": {"surface": "command", "ms": 3}})
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        logging.getLogger("bot.test").exception("it failed")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "hello world" and first["level"] == "INFO" and first["logger"] == "bot.test"
    assert first["surface"] == "command" and first["ms"] == 3 and first["time"].endswith("+00:00")
    assert second["level"] == "ERROR" and "ValueError: boom" in second["exc"]


def test_text_is_the_default_and_the_level_is_honoured() -> None:
    stream = io.StringIO()
    setup_logging(_settings(PAPERBOT_LOG_LEVEL="warning"), stream)
    logging.getLogger("bot.test").info("not shown")
    logging.getLogger("bot.test").warning("shown")
    assert stream.getvalue().strip().endswith("WARNING bot.test: shown")
    assert "not shown" not in stream.getvalue()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PAPERBOT_LOG_FORMAT", "xml", "PAPERBOT_LOG_FORMAT must be 'text' or 'json'"),
        ("PAPERBOT_LOG_LEVEL", "LOUD", "PAPERBOT_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR"),
        ("PAPERBOT_BACKUPS", "-1", "PAPERBOT_BACKUPS must be a whole number"),
    ],
)
def test_bad_log_or_backup_settings_stop_serve_with_one_line(
    db_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    value: str,
    message: str,
) -> None:
    from bot.cli import main

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        _ = getattr(
            Settings(values={name: value}), name.lower().replace("paperbot_", "").replace("backups", "backups_kept")
        )
    assert main(["serve", "--http", "--port", "0"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_apscheduler_routine_info_lines_are_debug() -> None:
    stream = io.StringIO()
    setup_logging(_settings(), stream)
    logging.getLogger("apscheduler.scheduler").info("Adding job tentatively")
    logging.getLogger("apscheduler.scheduler").warning("Run time of job was missed")
    logging.getLogger("arxiv").info("Got first page: 8 of 8 total results")
    logging.getLogger("bot.arxiv.client").info("arxiv ids 2301.11325: 200, 5 ms, 0 retries")
    assert "Adding job" not in stream.getvalue() and "was missed" in stream.getvalue()
    assert "Got first page" not in stream.getvalue() and "arxiv ids 2301.11325" in stream.getvalue()
    setup_logging(_settings(PAPERBOT_LOG_LEVEL="DEBUG"), stream)
    logging.getLogger("apscheduler.scheduler").info("Adding job tentatively")
    assert "DEBUG apscheduler.scheduler: Adding job tentatively" in stream.getvalue()


def test_redactor_removes_secrets_tokens_and_response_urls() -> None:
    redact = Redactor(["my-signing-secret", "xoxb-1-abc"])
    text = (
        "secret my-signing-secret token xoxb-1-abc other xoxb-2-zzz app xapp-1-A0-123 "
        "{'response_url': 'http://127.0.0.1:5/response/r-abc123', 'x': 1} "
        '"response_url": "https://hooks.slack.com/commands/T1/2/abc" '
        "body=a&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1&b=2 "
        "https://hooks.slack.com/actions/T1/99/xyz "
        '{"response_url":"https:\\/\\/hooks.slack.com\\/commands\\/T1\\/5\\/q"} '
        "raw https:\\/\\/hooks.slack.com\\/actions\\/T1\\/6\\/r "
        "wss://wss-primary.slack.com/link/?ticket=abc-123-def&app_id=A1"
    )
    out = redact(text)
    for secret in ("my-signing-secret", "xoxb-", "xapp-", "r-abc123", "hooks.slack.com", "abc-123-def"):
        assert secret not in out, (secret, out)
    assert out.count(REDACTED) >= 10 and "app_id=A1" in out


# --- one line per Slack request, arXiv request, roundup step -------------------------------------------


def test_one_line_per_slack_request(db_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    load_file(connect(db_path), SHIPPED_DIGEST)
    caplog.set_level(logging.INFO, logger="bot.slack.requests")
    with FakeSlack() as fake, running_bot(bot_settings(fake, db_path), fake) as bot:
        bot.command("musiclm", user_id="U42", channel_id="C77")
        bot.command("list 2023-01")
        body = interactive_body(block_actions_payload("paper_share", "1", response_url=fake.response_url()))
        post(bot.events_url, body, SIGNING_SECRET)
        post(bot.events_url, interactive_body(block_actions_payload("not_ours", "1")), SIGNING_SECRET)
        post(bot.events_url, slash_command_body("help"), "wrong-secret")
    records = [r for r in caplog.records if r.name == "bot.slack.requests"]
    fields = [r.fields for r in records]  # type: ignore[attr-defined]
    assert [(f["surface"], f["name"], f["outcome"]) for f in fields] == [
        ("command", "/paper search", "ok"),
        ("command", "/paper list", "ok"),
        ("action", "paper_share", "ok"),
        ("action", "not_ours", "unhandled"),
        ("command", "/paper help", "refused (signature)"),
    ]
    assert fields[0]["user"] == "U42" and fields[0]["channel"] == "C77" and isinstance(fields[0]["ms"], int)
    assert records[0].getMessage().startswith("slack command /paper search user=U42 channel=C77 ok (200) ")
    assert all("musiclm" not in r.getMessage() and "response" not in r.getMessage() for r in records)


def test_a_listener_that_fails_is_logged_as_failed(
    db_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("the search index is gone")

    monkeypatch.setattr("bot.slack.listeners.commands.paper_reply", broken)  # nothing real fails on demand
    caplog.set_level(logging.INFO)
    with FakeSlack() as fake, running_bot(bot_settings(fake, db_path), fake) as bot:
        status, answer = bot.command("musiclm")
    assert status == 200 and "Sorry" in answer["text"]
    (line,) = [r for r in caplog.records if r.name == "bot.slack.requests"]
    assert line.fields["outcome"] == "failed"  # type: ignore[attr-defined]


def test_one_line_per_arxiv_request_with_status_and_retries(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.arxiv.client")
    with FakeArxivAPI() as api:
        client = ArxivClient(api.url, 0.0, limiter=RateLimiter(), attempts=2)
        client.fetch_ids(["2301.11325", "2301.10226"])
        api.fail_next("503")
        client.search('ti:"MusicLM"', max_results=1)
        api.fail_always("503")
        with pytest.raises(ArxivUnavailable):
            client.fetch_ids(["2301.11325"])
    lines = [r for r in caplog.records if r.getMessage().startswith("arxiv ")]
    assert [(r.fields["status"], r.fields["retries"]) for r in lines] == [(200, 0), (200, 1), (503, 1)]  # type: ignore[attr-defined]
    assert lines[0].getMessage().startswith("arxiv ids 2301.11325,2301.10226: 200, ")
    assert lines[1].fields["arxiv"] == 'query ti:"MusicLM"'  # type: ignore[attr-defined]


def test_one_line_per_roundup_step(db_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from slack_sdk import WebClient

    from bot.slack.client import WebApiChannel

    db = connect(db_path)
    load_file(db, SHIPPED_DIGEST)
    caplog.set_level(logging.INFO, logger="bot.roundup.post")
    with FakeSlack() as fake:
        client = WebApiChannel(WebClient(token=BOT_TOKEN, base_url=fake.api_url))
        result = post_roundup(db, client, "2023-01", "C1", owner="test", post_interval=0, sleep=lambda s: None)
        post_roundup(db, client, "2023-01", "C1", owner="test", post_interval=0, sleep=lambda s: None)
    steps = [r.getMessage() for r in caplog.records if r.name == "bot.roundup.post"]
    expected = ["claimed", "headline", *(f"reply {n}" for n in range(1, result.replies + 1)), "complete", "already"]
    assert steps == [f"roundup 2023-01 to C1: {step}" for step in expected]


# --- a whole serve run: nothing secret in its output ----------------------------------------------------


class Output:
    """Reads a process's combined output line by line in a thread, so tests can wait for a line."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()
        assert proc.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream: io.TextIOBase) -> None:
        for line in stream:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def text(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def join(self) -> None:
        self._thread.join(timeout=10)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_full_serve_run_logs_no_secret(tmp_path: Path, log_format: str) -> None:
    db_path = tmp_path / "serve.db"
    db = connect(db_path)
    load_file(db, SHIPPED_DIGEST)
    # Installed two months ago: the missed 1st-of-the-month run is caught up at start.
    record_first_start(db, "C0ROUNDUP", datetime.now(UTC) - timedelta(days=62))
    app_token = "xapp-1-A0APP-1234-secretapptoken"
    with FakeSlack() as fake, FakeArxivAPI() as arxiv:
        port = free_port()
        env = fake_slack_env(
            fake,
            db_path,
            SLACK_APP_TOKEN=app_token,  # configured, unused in HTTP mode: must not be logged either
            ROUNDUP_CHANNEL="C0ROUNDUP",
            ARXIV_API_URL=arxiv.url,
            ARXIV_DELAY_SECONDS="0",
            PAPERBOT_LOG_LEVEL="DEBUG",
            PAPERBOT_LOG_FORMAT=log_format,
        )
        proc = spawn_bot(
            "serve", "--http", "--host", "127.0.0.1", "--port", str(port),
            env=env, cwd=tmp_path, stderr=subprocess.STDOUT, pace_seconds=0,
        )  # fmt: skip
        output = Output(proc)
        response_urls = [fake.response_url(name) for name in ("cmd", "suggest", "action")]
        try:
            wait_until_serving(proc, port, health_path="/healthz", timeout=30)
            events = f"http://127.0.0.1:{port}/slack/events"
            post(events, slash_command_body("musiclm", response_url=response_urls[0]), SIGNING_SECRET)
            post(events, slash_command_body("suggest 2302.05543 nice", response_url=response_urls[1]), SIGNING_SECRET)
            payload = block_actions_payload("paper_share", "1", response_url=response_urls[2])
            post(events, interactive_body(payload), SIGNING_SECRET)
            fake.wait_for_responses(1, response_urls[1], timeout=30)
            fake.wait_for_responses(1, response_urls[2], timeout=30)
            fake.wait_for(lambda: "complete" in output.text(), timeout=60, message="the roundup's last step")
            fake.wait_for(lambda: "backup: wrote" in output.text(), timeout=30, message="the daily backup")
            fake.wait_for(lambda: "arxiv ids 2302.05543" in output.text(), timeout=30, message="the arXiv line")
        finally:
            proc.terminate()
            proc.wait(timeout=15)
            output.join()
    text = output.text()
    for secret in (BOT_TOKEN, SIGNING_SECRET, app_token, *response_urls, *(u.rsplit("/", 1)[1] for u in response_urls)):
        assert secret not in text, f"{secret!r} was logged"
    assert "slack command /paper search user=U123 channel=C123 ok (200)" in text
    assert "slack command /paper suggest" in text and "slack action paper_share" in text
    assert "roundup: scheduler fired for C0ROUNDUP" in text and "roundup 2023-01 to C0ROUNDUP: claimed" in text
    assert "Adding job tentatively" not in text or "DEBUG" in text
    backups = list((tmp_path / "backups").glob("paperbot-auto-*.db"))
    assert len(backups) == 1 and str(backups[0].name) in text
    if log_format == "json":
        logged = [line for line in text.splitlines() if line.startswith("{")]
        assert logged and all(isinstance(json.loads(line), dict) for line in logged)
        others = [line for line in text.splitlines() if not line.startswith("{")]
        assert all(line.startswith("paperbot: ") for line in others), others  # print()s of the CLI itself
