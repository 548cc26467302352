"""`paperbot doctor` against the fake Slack and the fake arXiv: a healthy set-up passes, and each broken part
gives its own ✗ line with the fix, and exit 1. Doctor changes nothing it looks at."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cli import main
from bot.db import connect
from bot.digest.store import load_file
from bot.ops.backup import backup_database, default_backup_path
from bot.slack.ids import BOT_SCOPES
from tests.conftest import SHIPPED_DIGEST
from tests.fakes.arxiv_api import FakeArxivAPI
from tests.fakes.signing import SIGNING_SECRET
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack
from tests.helpers import run_cli, snapshot

APP_TOKEN = "xapp-1-A0APP-good"
CHANNEL = "C0ROUNDUP"


@dataclass
class Setup:
    slack: FakeSlack
    arxiv: FakeArxivAPI
    db_path: Path
    monkeypatch: pytest.MonkeyPatch

    def env(self, **values: str) -> None:
        for name, value in values.items():
            if value:
                self.monkeypatch.setenv(name, value)
            else:
                self.monkeypatch.delenv(name, raising=False)

    def doctor(self, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
        code, out, _ = run_cli(capsys, "doctor")
        return code, out.splitlines()


@pytest.fixture
def setup(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    """Everything right: a loaded and backed-up database, a Socket Mode app with every scope, a roundup
    channel the bot is in, arXiv answering."""
    load_file(connect(db_path), SHIPPED_DIGEST)
    with FakeSlack() as slack, FakeArxivAPI() as arxiv:
        slack.scopes = set(BOT_SCOPES)
        slack.app_tokens = {APP_TOKEN}
        slack.channels[CHANNEL] = {"name": "ml-papers"}
        setup = Setup(slack, arxiv, db_path, monkeypatch)
        setup.env(
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_APP_TOKEN=APP_TOKEN,
            SLACK_API_URL=slack.api_url,
            ARXIV_API_URL=arxiv.url,
            ROUNDUP_CHANNEL=CHANNEL,
            ROUNDUP_TIMEZONE="Europe/Paris",
        )
        from bot.config import load_settings

        backup_database(db_path, default_backup_path(load_settings()))
        yield setup


def line(lines: list[str], name: str) -> str:
    found = [text for text in lines if text[2:].startswith(f"{name}:")]
    assert len(found) == 1, (name, lines)
    return found[0]


def test_a_healthy_set_up_passes_every_check(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = setup.doctor(capsys)
    checks = lines[:-1]
    assert code == 0, lines
    assert all(text.startswith("✓ ") for text in checks), lines
    assert lines[-1] == "all checks passed"
    names = [text[2:].split(":")[0] for text in checks]
    assert names == [
        "settings",
        "mode",
        "database",
        "Slack bot token",
        "scopes",
        "Socket Mode",
        "roundup channel",
        "schedule",
        "arXiv",
        "enrichment",
        "backups",
    ]
    assert "Socket Mode" in line(lines, "mode") and "manifest.yml" in line(lines, "mode")
    database = line(lines, "database")
    assert (
        "quick_check ok" in database and "migrations current" in database and "10 papers in 1 digest months" in database
    )
    assert "team Paperbot Test (T000TEST), bot user @paperbot (U0BOT)" in line(lines, "Slack bot token")
    assert f"all {len(BOT_SCOPES)} scopes" in line(lines, "scopes")
    # manifest.yml has no channels:read: membership is read from the channel's history, as the roundup reads it.
    assert f"{CHANNEL} exists and the bot is a member" in line(lines, "roundup channel")
    assert setup.slack.calls("conversations.history")[0].params["channel"] == CHANNEL
    schedule = line(lines, "schedule")
    assert "Europe/Paris" in schedule and schedule.count("→") == 3 and "posts 2023-01" in schedule
    assert " 09:00 CE" in schedule  # 09:00 local time (CET or CEST)
    assert "10 of 10 papers pending" in line(lines, "enrichment")
    assert "0 min old" in line(lines, "backups")
    # It asked Slack what it says it asked, and arXiv exactly once.
    assert setup.slack.calls("auth.test") and setup.slack.calls("apps.connections.open")
    assert len(setup.arxiv.requests) == 1


def test_with_channels_read_the_channel_is_named(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    setup.slack.scopes = {*BOT_SCOPES, "channels:read"}
    code, lines = setup.doctor(capsys)
    assert code == 0, lines
    assert f"#ml-papers ({CHANNEL}) exists and the bot is a member" in line(lines, "roundup channel")
    assert not setup.slack.calls("conversations.history")


def test_doctor_changes_nothing(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(setup.db_path)
    setup.doctor(capsys)
    assert snapshot(setup.db_path) == before
    assert not setup.slack.calls("chat.postMessage")


@pytest.mark.parametrize(
    ("case", "check", "expected"),
    [
        ("bad token", "Slack bot token", ["Slack refused SLACK_BOT_TOKEN (invalid_auth)", "Bot User OAuth Token"]),
        ("revoked token", "Slack bot token", ["token_revoked", "reinstall the app"]),
        ("missing scope", "scopes", ["missing channels:history, im:write", "reinstall the app"]),
        ("bot not in channel", "roundup channel", ["the bot is not a member of #ml-papers", "/invite @paperbot"]),
        ("not in channel, no channels:read", "roundup channel", ["not a member of C0ROUNDUP", "/invite @paperbot"]),
        ("no such channel", "roundup channel", ["channel_not_found", "About tab"]),
        ("app token refused", "Socket Mode", ["Slack refused SLACK_APP_TOKEN (invalid_auth)", "connections:write"]),
        ("bot token as app token", "Socket Mode", ["not_allowed_token_type", "xapp-"]),
        ("neither app token nor secret", "connection", ["SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "Socket Mode"]),
        ("database not a database", "database", ["file is not a database", "restore the newest backup"]),
        ("database damaged", "database", ["restore the newest backup"]),
        ("database missing", "database", ["no database at", "PAPERBOT_DB"]),
        ("arXiv down", "arXiv", ["not reachable", "HTTP 503"]),
        ("arXiv refused", "arXiv", ["not reachable", "cannot connect"]),
        ("bad schedule", "schedule", ["ROUNDUP_SCHEDULE"]),
        ("bad setting", "settings", ["PAPERBOT_BACKUPS must be a whole number"]),
        ("stale backup", "backups", ["3 days old", "is `paperbot serve` running?"]),
    ],
)
def test_each_broken_part_gives_its_line_with_the_fix_and_exit_1(
    setup: Setup, capsys: pytest.CaptureFixture[str], case: str, check: str, expected: list[str]
) -> None:
    slack, path = setup.slack, setup.db_path
    if case == "bad token":
        slack.tokens = {"xoxb-another"}
    elif case == "revoked token":
        slack.error("auth.test", "token_revoked")
    elif case == "missing scope":
        slack.scopes = set(BOT_SCOPES) - {"channels:history", "im:write"}
    elif case == "bot not in channel":
        slack.scopes = {*BOT_SCOPES, "channels:read"}
        slack.not_in_channel.add(CHANNEL)
    elif case == "not in channel, no channels:read":
        slack.not_in_channel.add(CHANNEL)
    elif case == "no such channel":
        slack.missing_channels.add(CHANNEL)
    elif case == "app token refused":
        slack.app_tokens = set()
    elif case == "bot token as app token":
        setup.monkeypatch.setattr("bot.config.Settings.slack_app_token", property(lambda self: BOT_TOKEN))
    elif case == "neither app token nor secret":
        setup.env(SLACK_APP_TOKEN="", SLACK_SIGNING_SECRET="")
    elif case == "database not a database":
        _remove_database(path)
        path.write_bytes(b"this is not a database" * 500)
    elif case == "database damaged":
        _damage(path)
    elif case == "database missing":
        _remove_database(path)
    elif case == "arXiv down":
        setup.arxiv.fail_always("503")
    elif case == "arXiv refused":
        setup.env(ARXIV_API_URL="http://127.0.0.1:9/api/query")
    elif case == "bad schedule":
        setup.env(ROUNDUP_SCHEDULE="0 9 31 2 *")
    elif case == "bad setting":
        setup.env(PAPERBOT_BACKUPS="seven")
    elif case == "stale backup":
        _age_backups(path, days=3)
    code, lines = setup.doctor(capsys)
    assert code == 1, lines
    text = line(lines, check)
    assert text.startswith("✗ ") and "→ fix: " in text, text
    for words in expected:
        assert words in text, (words, text)
    failed = [t for t in lines[:-1] if t.startswith("✗ ")]
    assert lines[-1].startswith(f"{len(failed)} of ") and check in lines[-1]


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _damage(path: Path) -> None:
    """Overwrite the middle of the file (not its header) with garbage: pages of tables and indexes."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.seek(4096 * 2)
        file.write(b"\xff\x00garbage" * ((size - 4096 * 3) // 9))


def _age_backups(path: Path, days: int) -> None:
    """The backups' names carry their time: rename the newest to ``days`` ago."""
    from datetime import UTC, datetime, timedelta

    folder = path.parent / "backups"
    stamp = (datetime.now(UTC) - timedelta(days=days, hours=1)).strftime("%Y%m%d-%H%M%S")
    for file in folder.iterdir():
        file.rename(folder / f"paperbot-{stamp}.db")


def test_http_mode_needs_only_the_signing_secret(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    setup.env(SLACK_APP_TOKEN="", SLACK_SIGNING_SECRET=SIGNING_SECRET)
    code, lines = setup.doctor(capsys)
    assert code == 0, lines
    assert "SLACK_SIGNING_SECRET is set" in line(lines, "HTTP mode")
    assert "manifest.http.yml" in line(lines, "mode")
    assert not setup.slack.calls("apps.connections.open")


def test_unset_optional_features_are_off_not_failures(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    setup.env(SLACK_BOT_TOKEN="", SLACK_APP_TOKEN="", ROUNDUP_CHANNEL="", PAPERBOT_BACKUPS="0")
    for file in (setup.db_path.parent / "backups").iterdir():
        file.unlink()
    code, lines = setup.doctor(capsys)
    assert code == 0, lines
    for name in ("mode", "Slack", "schedule", "backups"):
        assert line(lines, name).startswith("– "), lines
    assert "off" in line(lines, "Slack") and not setup.slack.calls()


def test_doctor_on_a_missing_database_does_not_create_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAPERBOT_DB", "nowhere/paperbot.db")
    code, out, _ = run_cli(capsys, "doctor")
    assert code == 1
    assert f"no database at nowhere/paperbot.db (in {tmp_path}: PAPERBOT_DB is relative to this folder)" in out
    assert not (tmp_path / "nowhere").exists()


def test_pending_migrations_are_reported(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    with closing(sqlite3.connect(setup.db_path)) as conn:
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm008_search_version'")
        conn.commit()
    code, lines = setup.doctor(capsys)
    assert code == 1
    assert "1 migrations are pending (m008_search_version)" in line(lines, "database")


def test_one_line_per_check(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    setup.slack.tokens = {"xoxb-another"}
    setup.arxiv.fail_always("503")
    assert main(["doctor"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert all(text[:2] in ("✓ ", "✗ ", "– ") for text in lines[:-1]), lines


def test_a_refused_bot_token_still_checks_the_app_token(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    setup.slack.tokens = {"xoxb-another"}
    code, lines = setup.doctor(capsys)
    assert code == 1
    assert line(lines, "scopes").startswith("– ") and line(lines, "roundup channel").startswith("– ")
    assert line(lines, "Socket Mode").startswith("✓ ")


# --- the fake's additions that doctor relies on, held to Slack's documented behaviour -------------------


def test_fake_sends_granted_scopes_and_checks_them() -> None:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    with FakeSlack() as fake:
        client = WebClient(token=BOT_TOKEN, base_url=fake.api_url)
        assert "x-oauth-scopes" not in {k.lower() for k in client.auth_test().headers}  # not set: no header
        fake.scopes = {"chat:write", "commands"}
        headers = {k.lower(): v for k, v in client.auth_test().headers.items()}
        assert headers["x-oauth-scopes"] == "chat:write,commands"
        with pytest.raises(SlackApiError) as refused:
            client.conversations_info(channel="C1")
        assert refused.value.response["error"] == "missing_scope"
        assert "channels:read" in refused.value.response["needed"]
        fake.scopes.add("channels:read")
        assert client.conversations_info(channel="C1")["channel"]["is_member"] is True


@pytest.mark.parametrize(
    ("token", "error"),
    [("xapp-1-good", None), ("xapp-1-other", "invalid_auth"), (BOT_TOKEN, "not_allowed_token_type")],
)
def test_fake_opens_socket_mode_connections_only_for_its_app_tokens(token: str, error: str | None) -> None:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    with FakeSlack() as fake:
        fake.app_tokens = {"xapp-1-good"}
        client = WebClient(base_url=fake.api_url)
        if error is None:
            assert client.apps_connections_open(app_token=token)["url"].startswith("wss://")
            return
        with pytest.raises(SlackApiError) as refused:
            client.apps_connections_open(app_token=token)
        assert refused.value.response["error"] == error


def test_no_backup_yet_is_said_but_is_not_a_failure(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    """A new install has no backup until `serve` starts: doctor says so, and still passes."""
    for file in (setup.db_path.parent / "backups").iterdir():
        file.unlink()
    code, lines = setup.doctor(capsys)
    text = line(lines, "backups")
    assert code == 0 and text.startswith("– backups: none yet in") and "paperbot backup" in text, lines
