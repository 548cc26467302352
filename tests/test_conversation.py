"""@mentions and direct messages through the real Bolt app: signed ``app_mention`` and ``message`` events
over HTTP (and Bolt's Socket Mode adapter), answers on the fake Slack Web API, each message answered once."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.db import connect
from bot.digest.store import load_file
from bot.slack.app import build_app
from bot.slack.ids import ACTION_FULL_SUMMARY, ACTION_SHARE, ACTION_VOTE
from bot.slack.listeners.conversation import without_share
from bot.slack.replies import paper_reply
from bot.slack.server import close_socket_mode, connect_socket_mode
from bot.suggestions import model as suggestions
from tests.conftest import SHIPPED_DIGEST
from tests.fakes.arxiv_api import FakeArxivAPI
from tests.fakes.bot_server import RunningBot, bot_settings, running_bot
from tests.fakes.signing import (
    SIGNING_SECRET,
    block_actions_payload,
    event_body,
    interactive_body,
    link_shared_event,
    mention_event,
    message_event,
    post,
)
from tests.fakes.slack_api import BOT_ID, BOT_USER_ID, FakeSlack
from tests.fakes.socket_mode import APP_TOKEN, FakeSocketMode, events_api_envelope
from tests.helpers import fake_slack_env, free_port, start_http_server, strings, wait_until_serving

CHANNEL = "C0PAPERS"
DM = "D0ALICE"
ME = f"<@{BOT_USER_ID}>"
PINGS = re.compile(r"<!|(?<!\u2060)@(channel|here|everyone)\b", re.IGNORECASE)


@pytest.fixture
def arxiv() -> Iterator[FakeArxivAPI]:
    with FakeArxivAPI(synthetic=True) as api:
        yield api


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "talk.db"
    load_file(connect(path), SHIPPED_DIGEST)
    return path


@pytest.fixture
def bot(fake: FakeSlack, arxiv: FakeArxivAPI, db_path: Path) -> Iterator[RunningBot]:
    settings = bot_settings(fake, db_path, ARXIV_API_URL=arxiv.url, ARXIV_DELAY_SECONDS="0")
    with running_bot(settings, fake) as running:
        yield running


def send(bot: RunningBot, event: dict[str, Any], *, event_id: str | None = None, **headers: str) -> int:
    status, _, body = post(
        bot.events_url, event_body(event, event_id=event_id), SIGNING_SECRET, headers=headers or None
    )
    assert body == b""
    return status


def replies(fake: FakeSlack) -> list[dict[str, Any]]:
    """Every message paperbot posted or showed to someone (public and ephemeral), oldest first."""
    calls = fake.calls("chat.postMessage") + fake.calls("chat.postEphemeral")
    return [call.params for call in sorted(calls, key=lambda call: call.timestamp)]


def text_of(params: dict[str, Any]) -> str:
    return json.dumps([params.get("text"), params.get("blocks")], ensure_ascii=False)


def drain(app: Any) -> None:
    """Wait until every lazy listener Bolt has started has finished (then no more will run)."""
    app.listener_runner.listener_executor.shutdown(wait=True)


def count_handled(db_path: Path) -> int:
    return int(connect(db_path).execute("SELECT count(*) FROM handled_messages").fetchone()[0])


# --- @mentions -----------------------------------------------------------------------------------------


def test_a_mention_in_a_thread_answers_there_with_a_compact_card(bot: RunningBot, db_path: Path) -> None:
    root = bot.fake.add_message(CHANNEL, "which music paper was that?", user="U0BOB")["ts"]
    assert send(bot, mention_event(f"{ME} musiclm", channel=CHANNEL, thread_ts=root, user_id="U0ALICE")) == 200
    [call] = bot.fake.wait_for_calls("chat.postMessage")
    reply = call.params
    assert reply["channel"] == CHANNEL and reply["thread_ts"] == root
    text = text_of(reply)
    assert "MusicLM: Generating Music From Text" in text and "Andrea Agostinelli" in text
    assert "January 2023 digest · #1" in text and "<https://arxiv.org/abs/2301.11325|2301.11325>" in text
    assert "扩散模型和自回归离散模型都在生成音乐/音频显示出令人印象深刻的性能。" in text
    assert "与最近使用连续扩散模型" not in text  # compact: the gist only
    assert len(reply["blocks"]) <= 5
    [message] = [m for m in bot.fake.messages(CHANNEL) if m.get("user") == BOT_USER_ID]
    assert message["thread_ts"] == root

    # *Full summary* answers only the person who clicks.
    full = next(
        e
        for b in reply["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == ACTION_FULL_SUMMARY
    )
    response_url = bot.fake.response_url("full")
    click = block_actions_payload(
        ACTION_FULL_SUMMARY,
        full["value"],
        user_id="U0CAROL",
        channel_id=CHANNEL,
        message_ts=message["ts"],
        response_url=response_url,
    )
    post(bot.events_url, interactive_body(click), SIGNING_SECRET)
    [answer] = bot.fake.wait_for_responses(1, response_url)
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert "与最近使用连续扩散模型" in json.dumps(answer, ensure_ascii=False)
    assert len(bot.fake.calls("chat.postMessage")) == 1  # nothing new in the channel
    assert count_handled(db_path) == 1


def test_a_mention_in_a_channel_starts_a_thread_under_it(bot: RunningBot) -> None:
    event = mention_event(f"{ME}   tracr ", channel=CHANNEL)
    send(bot, event)
    [call] = bot.fake.wait_for_calls("chat.postMessage")
    assert call.params["thread_ts"] == event["ts"] and "Tracr: Compiled Transformers" in text_of(call.params)


@pytest.mark.parametrize("text", [ME, f"{ME}  ", f"{ME} help", f"{ME} HELP"])
def test_a_mention_alone_answers_with_a_short_help(bot: RunningBot, text: str) -> None:
    send(bot, mention_event(text, channel=CHANNEL))
    [call] = bot.fake.wait_for_calls("chat.postMessage")
    assert "@paperbot musiclm" in text_of(call.params) and "suggest" in text_of(call.params)
    for sub_command in ("list", "cite", "suggestions", "roundup post", "watch", "watches", "unwatch", "load"):
        assert f"@paperbot {sub_command}" in text_of(call.params), sub_command
    assert len(call.params["blocks"]) <= 3


def test_a_mention_matching_several_papers_lists_them_and_nothing_found_says_so(bot: RunningBot) -> None:
    send(bot, mention_event(f"{ME} language models", channel=CHANNEL))
    [call] = bot.fake.wait_for_calls("chat.postMessage")
    assert "papers match *language models*" in text_of(call.params) and "January 2023 digest" in text_of(call.params)
    send(bot, mention_event(f"{ME} quantum gravity sandwiches", channel=CHANNEL))
    calls = bot.fake.wait_for_calls("chat.postMessage", 2)
    assert "No paper in the digests matches" in text_of(calls[1].params)


def test_mention_suggest_works_exactly_like_paper_suggest(bot: RunningBot, db_path: Path) -> None:
    link = "<https://arxiv.org/abs/2305.00042v2|arxiv.org/abs/2305.00042v2>"
    send(bot, mention_event(f"{ME} suggest {link} great &amp; short", channel=CHANNEL, user_id="U0ALICE"))
    cards = bot.fake.wait_for(
        lambda: [c for c in bot.fake.calls("chat.postMessage") if c.ok and "Vote" in text_of(c.params)],
        message="the suggestion card",
    )
    assert cards[0].params["channel"] == CHANNEL
    suggestion = suggestions.find_open(connect(db_path), "2305.00042")
    assert suggestion is not None and suggestion.suggested_by == "U0ALICE" and suggestion.why == "great & short"
    notices = bot.fake.wait_for_calls("chat.postEphemeral", 2)
    assert [n.params["user"] for n in notices] == ["U0ALICE", "U0ALICE"]
    assert "is suggested for the next roundup" in text_of(notices[0].params)
    assert "Posted its card" in text_of(notices[1].params)
    vote = next(
        e
        for b in cards[0].params["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == ACTION_VOTE
    )
    assert vote["value"] == str(suggestion.id)


def test_the_same_mention_delivered_three_times_over_http_gets_one_reply(bot: RunningBot, db_path: Path) -> None:
    event = mention_event(f"{ME} tracr", channel=CHANNEL)
    event_id = f"Ev{uuid.uuid4().hex[:10].upper()}"
    statuses = [send(bot, event, event_id=event_id)]
    for retry in ("1", "2", "3"):
        statuses.append(
            send(bot, event, event_id=event_id, **{"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"})
        )
    assert statuses == [200, 200, 200, 200]
    drain(bot.app)  # all four deliveries' lazy halves have run
    assert len(bot.fake.calls("chat.postMessage")) == 1 and count_handled(db_path) == 1


def test_a_mention_arriving_as_app_mention_and_as_message_gets_one_reply(bot: RunningBot, db_path: Path) -> None:
    mention = mention_event(f"{ME} tracr", channel=CHANNEL)
    also = message_event(f"{ME} tracr", channel=CHANNEL, channel_type="channel", ts=mention["ts"])
    assert send(bot, also) == 200 and send(bot, mention) == 200
    # In a DM both events are handled, and the first one wins.
    dm_mention = mention_event(f"{ME} tracr", channel=DM)
    dm_message = message_event(f"{ME} tracr", channel=DM, ts=dm_mention["ts"])
    assert send(bot, dm_message) == 200 and send(bot, dm_mention) == 200
    drain(bot.app)
    assert sorted(c.params["channel"] for c in bot.fake.calls("chat.postMessage")) == sorted([CHANNEL, DM])
    assert count_handled(db_path) == 2


def test_a_mention_redelivered_in_socket_mode_gets_one_reply(fake: FakeSlack, db_path: Path) -> None:
    """Over a real loopback WebSocket, as `paperbot serve` connects: Slack redelivers an events_api envelope
    (retry_attempt 1 and 2, new envelope ids) until it sees an ack; each is acked, one reply is sent."""
    with FakeSocketMode() as socket_mode:
        socket_mode.attach(fake)
        app = build_app(bot_settings(fake, db_path, SLACK_APP_TOKEN=APP_TOKEN), socket_mode=True)
        handler = connect_socket_mode(app, APP_TOKEN)
        try:
            socket_mode.wait_for_connections(1)
            body = event_body(mention_event(f"{ME} tracr", channel=CHANNEL))
            for attempt in (0, 1, 2):
                ack = socket_mode.deliver(events_api_envelope(body, retry_attempt=attempt, retry_reason="timeout"))
                assert "envelope_id" in ack  # every delivery acknowledged
            drain(app)
        finally:
            close_socket_mode(handler)
    assert len(fake.calls("chat.postMessage")) == 1 and count_handled(db_path) == 1


# --- direct messages -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["musiclm", "help", "list 2023-01", "suggestions", "stylegn", "roundup"])
def test_a_direct_message_answers_exactly_as_paper_does(bot: RunningBot, db_path: Path, text: str) -> None:
    send(bot, message_event(text, channel=DM, user_id="U0ALICE"))
    [call] = bot.fake.wait_for_calls("chat.postMessage")
    expected = paper_reply(connect(db_path), text).payload()
    assert call.params["channel"] == DM and "thread_ts" not in call.params
    # The same answer, less "Share in channel": in a DM the card is already the user's own.
    assert call.params["text"] == expected["text"] and call.params["blocks"] == without_share(expected["blocks"])
    assert ACTION_SHARE not in json.dumps(call.params["blocks"])


def test_a_direct_message_suggest_records_it_and_posts_the_card_in_the_dm(bot: RunningBot, db_path: Path) -> None:
    send(bot, message_event("suggest https://arxiv.org/abs/2305.00077 for the reading group", channel=DM))
    calls = bot.fake.wait_for_calls("chat.postMessage", 3)
    assert {c.params["channel"] for c in calls} == {DM}
    texts = [text_of(c.params) for c in calls]
    assert "is suggested for the next roundup" in texts[0]
    assert any("Vote" in t for t in texts) and "Posted its card" in texts[-1]
    suggestion = suggestions.find_open(connect(db_path), "2305.00077")
    assert suggestion is not None and suggestion.why == "for the reading group"


def test_a_direct_message_in_a_thread_is_answered_in_that_thread(bot: RunningBot) -> None:
    send(bot, message_event("tracr", channel=DM, thread_ts="1700000000.000100"))
    [call] = bot.fake.wait_for_calls("chat.postMessage")
    assert call.params["thread_ts"] == "1700000000.000100"


@pytest.mark.parametrize(
    "event",
    [
        message_event("musiclm", channel=DM, user_id=BOT_USER_ID, bot_id=BOT_ID),  # paperbot's own
        message_event("musiclm", channel=DM, bot_id="B0OTHER"),  # another bot
        message_event("musiclm", channel=DM, subtype="bot_message", user_id=None, bot_id="B0OTHER"),
        message_event("musiclm", channel=DM, subtype="message_changed", user_id=None),
        message_event("musiclm", channel=DM, subtype="file_share"),  # another listener's (digest files)
        message_event("musiclm", channel=DM, subtype="me_message"),
        message_event("musiclm", channel=CHANNEL, channel_type="channel"),  # not a DM, not a mention
        mention_event(f"{ME} musiclm", channel=CHANNEL, bot_id="B0OTHER"),
        mention_event(f"{ME} musiclm", channel=CHANNEL, user_id=BOT_USER_ID),
    ],
)
def test_bots_edits_and_other_messages_are_acknowledged_and_ignored(
    bot: RunningBot, db_path: Path, event: dict[str, Any]
) -> None:
    assert send(bot, event) == 200
    drain(bot.app)
    assert bot.fake.calls("chat.postMessage") == [] and bot.fake.calls("chat.postEphemeral") == []
    assert count_handled(db_path) == 0


@pytest.mark.parametrize(
    "text",
    [
        f"{ME} <!channel> <!here|here> @everyone &lt;script&gt; <@U0VICTIM>",
        f"{ME} " + "x" * 40_000,
        f"{ME} <https://arxiv.org/abs/<!channel>>",
        f"{ME} \u202e\u0000\u200b",
        f"{ME} suggest <!channel> why",
        f"{ME} suggest https://arxiv.org/abs/2305.00042 " + "y" * 600,
    ],
)
def test_hostile_mentions_get_a_harmless_answer(bot: RunningBot, text: str) -> None:
    assert send(bot, mention_event(text, channel=CHANNEL)) == 200
    answers = bot.fake.wait_for(
        lambda: [c for c in replies_calls(bot.fake) if c.status is not None], message="an answer"
    )
    for call in answers:
        assert call.ok, call.response
        for value in strings(call.params):
            assert not PINGS.search(value), value
            assert "<@U0VICTIM>" not in value


def replies_calls(fake: FakeSlack) -> list[Any]:
    return fake.calls("chat.postMessage") + fake.calls("chat.postEphemeral")


@pytest.mark.parametrize("text", ["<!channel>", "x" * 40_000, "list 9999-99", "suggest not-an-id"])
def test_hostile_direct_messages_get_a_harmless_answer(bot: RunningBot, text: str) -> None:
    assert send(bot, message_event(text, channel=DM)) == 200
    [call] = bot.fake.wait_for_calls("chat.postMessage")
    assert call.ok, call.response
    for value in strings(call.params):
        assert not PINGS.search(value), value


# --- the real server --------------------------------------------------------------------------------------


def test_serve_http_unfurls_and_answers_mentions_in_a_subprocess(tmp_path: Path, db_path: Path) -> None:
    with FakeSlack() as fake:
        port = free_port()
        proc = start_http_server(port, env=fake_slack_env(fake, db_path), cwd=tmp_path)
        try:
            wait_until_serving(proc, port, health_path="/healthz", timeout=30)
            url = f"http://127.0.0.1:{port}/slack/events"
            link = "https://arxiv.org/pdf/2301.11325v1.pdf"
            ts = str(fake.add_message(CHANNEL, f"<{link}>", user="U0BOB")["ts"])
            mention = mention_event(f"{ME} stylegan-t", channel=CHANNEL)
            for event in (link_shared_event([link], channel=CHANNEL, message_ts=ts), mention, mention):
                status, _, body = post(url, event_body(event), SIGNING_SECRET)
                assert status == 200 and body == b""
            [unfurl] = fake.wait_for_calls("chat.unfurl", timeout=15)
            assert unfurl.ok and "January 2023 digest · #1" in json.dumps(fake.unfurls(CHANNEL, ts), ensure_ascii=False)
            [reply] = fake.wait_for_calls("chat.postMessage", timeout=15)
            assert reply.params["thread_ts"] == mention["ts"] and "StyleGAN-T" in text_of(reply.params)
        finally:
            proc.terminate()
            proc.wait(timeout=15)
        assert proc.returncode == 0 or proc.returncode == -15, proc.returncode
        assert len(fake.calls("chat.postMessage")) == 1


def test_a_mention_whose_answer_fails_gets_an_apology_to_its_author_alone(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot.fake.error("chat.postMessage", "fatal_error")
    with caplog.at_level(logging.ERROR, logger="bot.slack.listeners"):
        send(bot, mention_event(f"{ME} tracr", channel=CHANNEL, user_id="U0ALICE"))
        drain(bot.app)
    [apology] = bot.fake.calls("chat.postEphemeral")
    assert apology.params["user"] == "U0ALICE" and "Sorry, something went wrong" in apology.params["text"]
    assert any(record.exc_info for record in caplog.records)


def test_mention_text_is_read_once_unescaped_and_shown_escaped_once(bot: RunningBot) -> None:
    send(bot, mention_event(f"{ME} R&amp;D &lt;b&gt; zzzqqq", channel=CHANNEL))
    [call] = bot.fake.wait_for_calls("chat.postMessage")
    text = text_of(call.params)
    assert "R&amp;D &lt;b&gt; zzzqqq" in text and "&amp;amp;" not in text and "<b>" not in text
