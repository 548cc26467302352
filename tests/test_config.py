"""Configuration: the environment over a ``.env`` file, checked only when a command needs a value, and
every problem reported as one line naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings
from tests.conftest import SHIPPED_DIGEST
from tests.helpers import run_cli


def test_dotenv_is_read_and_the_real_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text(
        "PAPERBOT_DB=from-dotenv.db\nROUNDUP_CHANNEL=C0DOTENV\n# a comment\nPAPERBOT_ADMINS=U1,U2\n", encoding="utf-8"
    )
    monkeypatch.setenv("ROUNDUP_CHANNEL", "C0REALENV")
    settings = load_settings()
    assert settings.db_path == Path("from-dotenv.db")
    assert settings.roundup_channel == "C0REALENV"
    assert settings.admins == frozenset({"U1", "U2"})


def test_defaults() -> None:
    settings = Settings({})
    assert settings.db_path == Path("data/paperbot.db")
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.arxiv_api_url == "https://export.arxiv.org/api/query"
    assert settings.arxiv_delay_seconds == 3.0
    assert settings.roundup_schedule == "0 9 1 * *" and str(settings.roundup_timezone) == "UTC"
    assert settings.roundup_channel is None and settings.slack_bot_token is None and settings.admins == frozenset()


@pytest.mark.parametrize(
    ("name", "value", "read"),
    [
        ("SLACK_BOT_TOKEN", "xoxp-user-token", lambda s: s.slack_bot_token),
        ("SLACK_APP_TOKEN", "xoxb-not-app", lambda s: s.slack_app_token),
        ("SLACK_API_URL", "slack.com/api", lambda s: s.slack_api_url),
        ("ARXIV_API_URL", "ftp://arxiv", lambda s: s.arxiv_api_url),
        ("ARXIV_DELAY_SECONDS", "-1", lambda s: s.arxiv_delay_seconds),
        ("ARXIV_DELAY_SECONDS", "three", lambda s: s.arxiv_delay_seconds),
        ("ROUNDUP_CHANNEL", "#general", lambda s: s.roundup_channel),
        ("ROUNDUP_SCHEDULE", "monthly", lambda s: s.roundup_schedule),
        ("ROUNDUP_TIMEZONE", "Paris", lambda s: s.roundup_timezone),
        ("PAPERBOT_ADMINS", "alice,bob", lambda s: s.admins),
    ],
)
def test_a_malformed_value_names_its_variable(name: str, value: str, read: object) -> None:
    with pytest.raises(ConfigError, match=name) as caught:
        read(Settings({name: value}))  # type: ignore[operator]
    assert "\n" not in str(caught.value)


def test_a_malformed_value_a_command_does_not_need_does_not_stop_it(
    db_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUNDUP_SCHEDULE", "whenever")
    monkeypatch.setenv("PAPERBOT_ADMINS", "nobody")
    code, out, _ = run_cli(capsys, "load", "--no-enrich", str(SHIPPED_DIGEST))
    assert code == 0 and "10 added" in out
    code, out, _ = run_cli(capsys, "search", "musiclm")
    assert code == 0 and "MusicLM" in out
