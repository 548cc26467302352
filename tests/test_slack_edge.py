"""The HTTP edge of the bot, driven over real HTTP as Slack and strangers would: a ``response_url`` that Slack
refuses in any way (issue 9, #3) and bodies that do not parse or that Bolt cannot route (#11)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.db import connect
from bot.digest.store import load_file
from bot.slack.ids import ACTION_OPEN
from tests.conftest import SHIPPED_DIGEST
from tests.fakes.bot_server import RunningBot, bot_settings, running_bot
from tests.fakes.signing import SIGNING_SECRET, block_actions_payload, interactive_body, post
from tests.fakes.slack_api import FakeSlack


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


@pytest.fixture
def bot(fake: FakeSlack, tmp_path: Path) -> Iterator[RunningBot]:
    db_path = tmp_path / "bot.db"
    load_file(connect(db_path), SHIPPED_DIGEST)
    with running_bot(bot_settings(fake, db_path), fake) as running:
        yield running


# --- #3: a response_url that Slack refuses ------------------------------------------------------------


@pytest.mark.parametrize(
    "refusal",
    [
        pytest.param(lambda fake: fake.fail("response_url", status=410), id="410 gone"),
        pytest.param(lambda fake: fake.fail("response_url", status=500), id="500"),
        pytest.param(lambda fake: fake.error("response_url", "expired_url", status=200), id="200 ok false"),
    ],
)
def test_a_refused_response_url_falls_back_to_an_ephemeral_message(bot: RunningBot, refusal: object) -> None:
    refusal(bot.fake)  # type: ignore[operator]
    response_url = bot.fake.response_url("refused")
    payload = block_actions_payload(ACTION_OPEN, "1", response_url=response_url, user_id="U42", channel_id="C9")
    status, _, _ = post(bot.events_url, interactive_body(payload), SIGNING_SECRET)
    assert status == 200
    [ephemeral] = bot.fake.wait_for_calls("chat.postEphemeral", 1)
    assert ephemeral.params["user"] == "U42" and ephemeral.params["channel"] == "C9"
    assert "expired" in ephemeral.params["text"]
    [refused] = bot.fake.response_calls(response_url)
    assert not refused.accepted and bot.fake.responses(response_url) == []


def test_a_refused_response_url_outside_the_bots_channels_falls_back_to_a_direct_message(bot: RunningBot) -> None:
    bot.fake.error("response_url", "expired_url", status=200)
    bot.fake.not_in_channel.add("C9")
    response_url = bot.fake.response_url("refused")
    payload = block_actions_payload(ACTION_OPEN, "1", response_url=response_url, user_id="U42", channel_id="C9")
    post(bot.events_url, interactive_body(payload), SIGNING_SECRET)
    [dm] = bot.fake.wait_for_calls("chat.postMessage", 1)
    assert dm.params["channel"] == "U42" and "expired" in dm.params["text"]


def test_an_accepted_response_url_sends_no_fallback(bot: RunningBot) -> None:
    response_url = bot.fake.response_url("fine")
    payload = block_actions_payload(ACTION_OPEN, "1", response_url=response_url, user_id="U42", channel_id="C9")
    post(bot.events_url, interactive_body(payload), SIGNING_SECRET)
    [card] = bot.fake.wait_for_responses(1, response_url)
    assert card["replace_original"] is True
    assert bot.fake.calls("chat.postEphemeral") == [] and bot.fake.calls("chat.postMessage") == []
