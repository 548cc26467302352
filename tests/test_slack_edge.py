"""The HTTP edge of the bot, driven over real HTTP as Slack and strangers would: a ``response_url`` that Slack
refuses in any way (issue 9, #3) and bodies that do not parse or that Bolt cannot route (#11)."""

from __future__ import annotations

import json
import logging
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


# --- #11: bodies that do not parse, or that Bolt cannot route -----------------------------------------

ACTION = block_actions_payload(ACTION_OPEN, "1")
UNREADABLE: dict[str, tuple[bytes, str | None]] = {
    "payload= not JSON": (b"payload=%7Bnot", None),
    "JSON that does not parse": (b'{"type": ', None),
    "payload=[]": (b"payload=%5B%5D", None),
    "payload=null": (b"payload=null", None),
    "payload a string": (b"payload=%22x%22", None),
    "null as JSON": (b"null", "application/json"),
    "[] as JSON": (b"[]", "application/json"),
    "not UTF-8": (b"payload=\xff\xfe", None),
    "block_actions with actions: []": (interactive_body({**ACTION, "actions": []}).encode(), None),
    "block_actions without actions": (interactive_body({"type": "block_actions"}).encode(), None),
    "block_actions with actions: [null]": (interactive_body({**ACTION, "actions": [None]}).encode(), None),
    "block_actions with a user id for a user": (interactive_body({**ACTION, "user": "U1"}).encode(), None),
    "event_callback with event: []": (json.dumps({"type": "event_callback", "event": []}).encode(), None),
    "event_callback without an event": (json.dumps({"type": "event_callback"}).encode(), None),
    "view_submission with view: []": (interactive_body({"type": "view_submission", "view": []}).encode(), None),
    "team a list": (json.dumps({"type": "event_callback", "team": [], "event": {"type": "x"}}).encode(), None),
}


@pytest.mark.parametrize(("raw", "content_type"), UNREADABLE.values(), ids=UNREADABLE.keys())
def test_an_unsigned_body_gets_401_whatever_it_holds(
    bot: RunningBot, caplog: pytest.LogCaptureFixture, raw: bytes, content_type: str | None
) -> None:
    with caplog.at_level(logging.INFO):
        for secret in ("not-the-secret", ""):
            status, _, answer = post(bot.events_url, raw, secret, content_type=content_type)
            assert (status, json.loads(answer)) == (401, {"error": "invalid request"})
        status, _, _ = post(bot.events_url, raw, SIGNING_SECRET, content_type=content_type, timestamp=1)
        assert status == 401  # signed, but long ago: a replay
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert all(raw.decode("latin-1") not in r.getMessage() for r in caplog.records)  # the body is not logged


@pytest.mark.parametrize(("raw", "content_type"), UNREADABLE.values(), ids=UNREADABLE.keys())
def test_a_signed_body_bolt_cannot_route_gets_400_and_one_log_line(
    bot: RunningBot, caplog: pytest.LogCaptureFixture, raw: bytes, content_type: str | None
) -> None:
    bot.fake.clear()
    with caplog.at_level(logging.INFO):
        status, _, answer = post(bot.events_url, raw, SIGNING_SECRET, content_type=content_type)
    assert (status, json.loads(answer)) == (400, {"error": "bad request"})
    [line] = [r for r in caplog.records if r.name == "bot.slack.server"]
    assert line.levelno == logging.WARNING and "cannot be routed" in line.getMessage() and not line.exc_info
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert bot.fake.calls() == [] and bot.fake.response_calls() == []  # nothing was done


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Slack-Request-Timestamp": "soon"},
        {"X-Slack-Request-Timestamp": "9" * 40},
        {"X-Slack-Request-Timestamp": "-1"},
        {"X-Slack-Request-Timestamp": "\u00b9\u00b2\u00b3"},  # superscript digits: isdigit() is true, int() fails
        {"X-Slack-Signature": "v0=ÿ"},
        {"X-Slack-Signature": ""},
    ],
)
def test_malformed_signature_headers_get_401(bot: RunningBot, headers: dict[str, str]) -> None:
    status, _, _ = post(bot.events_url, interactive_body(ACTION), SIGNING_SECRET, headers=headers)
    assert status == 401


def test_bodies_slack_sends_still_work_after_the_checks(bot: RunningBot) -> None:
    status, answer = bot.command("payload attacks")  # the word "payload" in a slash command
    assert status == 200 and answer["response_type"] == "ephemeral"
    status, _, _ = post(bot.events_url, b"", SIGNING_SECRET)
    assert status == 404  # signed and empty: Bolt has no listener for it, and says so
