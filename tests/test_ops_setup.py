"""Setting paperbot up as a Slack admin does: the start-up errors say what is wrong and what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from tests.fakes.signing import SIGNING_SECRET
from tests.fakes.slack_api import FakeSlack


def test_neither_app_token_nor_signing_secret_says_either_one_and_what_each_is_for(
    db_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    assert main(["serve"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    for words in ("neither is SLACK_APP_TOKEN", "needs one of them", "Socket Mode", "no public URL", "HTTP mode"):
        assert words in err[0], (words, err[0])


@pytest.mark.parametrize(
    ("error", "meaning"),
    [
        ("invalid_auth", "invalid_auth: Slack does not know this token"),
        ("token_revoked", "token_revoked: the token was revoked"),
        ("account_inactive", "account_inactive: the token belongs to an app that was uninstalled"),
        ("some_new_error", "some_new_error (see https://api.slack.com/methods"),
    ],
)
def test_a_refused_bot_token_is_explained_not_dumped(
    db_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, error: str, meaning: str
) -> None:
    with FakeSlack() as fake:
        fake.error("auth.test", error)
        for name, value in {
            "SLACK_BOT_TOKEN": "xoxb-1",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.api_url,
        }.items():
            monkeypatch.setenv(name, value)
        assert main(["serve", "--http", "--host", "127.0.0.1", "--port", "0"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: Slack refused SLACK_BOT_TOKEN: ") and meaning in err[0], err
    assert "{" not in err[0] and "'ok'" not in err[0]


def test_the_demo_points_at_doctor(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve"]) == 0
    assert "`paperbot doctor`" in capsys.readouterr().out
