"""Property-based: whatever text follows /paper, the app answers, within Slack's limits, pinging nobody."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_bolt import App

from bot.db import connect
from bot.digest.store import load_file
from bot.slack.app import build_app
from bot.slack.server import SlackEventsRequest
from tests.conftest import SHIPPED_DIGEST
from tests.fakes.bot_server import bot_settings
from tests.fakes.signing import SIGNING_SECRET, signed_headers, slash_command_body
from tests.fakes.slack_api import FakeSlack
from tests.helpers import strings

MENTION = re.compile(r"<[!@#]|@(channel|here|everyone)\b", re.IGNORECASE)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    path: Path = tmp_path_factory.mktemp("hostile") / "h.db"
    load_file(connect(path), SHIPPED_DIGEST)
    with FakeSlack() as fake:
        built = build_app(bot_settings(fake, path))
        yield built
        built.listener_runner.listener_executor.shutdown(wait=True)  # lazy work ends while the fake answers


SPECIAL = st.sampled_from(
    [
        '"',
        "*",
        "NEAR(",
        "AND",
        "OR",
        "NOT",
        "-",
        ":",
        "'",
        ";",
        "<!channel>",
        "<!here>",
        "<@U123>",
        "@channel",
        "@here",
        "<#C1>",
        "\x00",
        "\u202e",
        "🎵",
        "مرحبا",
        "水印",
        "musiclm",
        "2301.11325",
        "list",
        "help",
        "^",
        "{",
        "\\",
    ]
)
TEXT = st.lists(st.one_of(SPECIAL, st.text(max_size=40)), max_size=12).map(" ".join) | st.text(max_size=4000)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT)
def test_any_text_gets_a_reply_that_pings_nobody(app: App, text: str) -> None:
    body = slash_command_body(text)
    # The request class the HTTP server uses (bot.slack.server), as Slack's form body reaches it.
    response = app.dispatch(SlackEventsRequest(body=body, headers=signed_headers(body, SIGNING_SECRET)))
    assert response.status == 200
    answer = json.loads(response.body)
    assert answer["response_type"] == "ephemeral"
    assert answer["text"] and answer["blocks"] and len(answer["blocks"]) <= 50
    for block in answer["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
    for value in strings(answer):
        assert not MENTION.search(value.replace("@\u2060", "")), value[:120]
