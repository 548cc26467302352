"""Suggestions and votes, through the real Bolt app over HTTP: signed slash commands, block_actions,
shortcuts, message actions, view submissions and events, against the fake Slack Web API and the fake
arXiv API."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import outbox
from bot.arxiv.enrich import run_background_enrichment
from bot.arxiv.ids import ArxivRef
from bot.db import connect, write_transaction
from bot.digest.store import load_file
from bot.roundup.post import post_roundup
from bot.slack import followups
from bot.slack.ids import ACTION_REMOVE, ACTION_VOTE, SHORTCUT_GLOBAL, SHORTCUT_MESSAGE, VIEW_SUGGEST
from bot.suggestions import model as suggestions
from tests.conftest import DATA, SHIPPED_DIGEST
from tests.fakes.arxiv_api import FakeArxivAPI
from tests.fakes.bot_server import RunningBot, bot_settings, running_bot
from tests.fakes.signing import (
    SIGNING_SECRET,
    block_actions_payload,
    event_body,
    interactive_body,
    post,
    shortcut_payload,
    view_submission_payload,
)
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack, message_block_errors

CHANNEL = "C0PAPERS"
ROUNDUP = "C0ROUNDUP"
MENTION = re.compile(r"<!|<@U(?!SER)|(?<!\u2060)@(channel|here|everyone)\b", re.IGNORECASE)


@pytest.fixture
def arxiv() -> Iterator[FakeArxivAPI]:
    with FakeArxivAPI(synthetic=True, missing=frozenset({"2312.99999"})) as api:
        yield api


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "suggest.db"
    load_file(connect(path), SHIPPED_DIGEST)
    return path


@pytest.fixture
def bot(fake: FakeSlack, arxiv: FakeArxivAPI, db_path: Path) -> Iterator[RunningBot]:
    settings = bot_settings(
        fake,
        db_path,
        ARXIV_API_URL=arxiv.url,
        ARXIV_DELAY_SECONDS="0",
        PAPERBOT_ADMINS="UADMIN",
        ROUNDUP_CHANNEL=ROUNDUP,
    )
    with running_bot(settings, fake) as running:
        yield running


def suggest_cmd(bot: RunningBot, text: str, user: str = "U1", channel: str = CHANNEL) -> tuple[dict[str, Any], str]:
    response_url = bot.fake.response_url("suggest")
    status, answer = bot.command(f"suggest {text}", user_id=user, channel_id=channel, response_url=response_url)
    assert status == 200
    return answer, response_url


def cards(fake: FakeSlack, channel: str = CHANNEL) -> list[dict[str, Any]]:
    return [m for m in fake.messages(channel) if "Suggested by" in json.dumps(m)]


def vote_count(message: dict[str, Any]) -> int:
    text = json.dumps(message, ensure_ascii=False)
    match = re.search(r"Vote \((\d+)\)", text)
    assert match, text
    return int(match.group(1))


def click(bot: RunningBot, action: str, value: str, user: str, **extra: Any) -> str:
    response_url = bot.fake.response_url("click")
    payload = block_actions_payload(action, value, user_id=user, response_url=response_url, channel_id=CHANNEL, **extra)
    status, _, _ = post(bot.events_url, interactive_body(payload), SIGNING_SECRET)
    assert status == 200
    return response_url


@pytest.mark.parametrize(
    "form",
    [
        "2305.01234",
        "2305.01234v2",
        "arXiv:2305.01234",
        "https://arxiv.org/abs/2305.01234",
        "http://arxiv.org/abs/2305.01234v3",
        "https://arxiv.org/pdf/2305.01234.pdf",
        "https://arxiv.org/pdf/2305.01234v1",
        "arxiv.org/abs/2305.01234",
        "<https://arxiv.org/abs/2305.01234>",
        "https://export.arxiv.org/abs/2305.01234",
    ],
)
def test_every_id_form_suggests_and_posts_a_card_with_arxiv_metadata(bot: RunningBot, form: str) -> None:
    answer, response_url = suggest_cmd(bot, f"{form} a great read")
    assert answer["response_type"] == "ephemeral" and "suggested for the next roundup" in answer["text"]
    bot.fake.wait_for_calls("chat.postMessage", 1)
    [card] = cards(bot.fake)
    text = json.dumps(card, ensure_ascii=False)
    assert "Synthetic Study 2305.01234" in text and "<https://arxiv.org/abs/2305.01234|" in text
    assert "Author0 Surname234" in text and "We study problem 2305.01234" in text
    assert "Suggested by <@U1>" in text and "a great read" in text
    assert vote_count(card) == 1
    [told] = bot.fake.wait_for_responses(1, response_url)
    assert "Posted its card" in told["text"]


def test_old_style_ids_work_too(bot: RunningBot) -> None:
    suggest_cmd(bot, "hep-th/9711200")
    bot.fake.wait_for_calls("chat.postMessage", 1)
    assert "hep-th/9711200" in json.dumps(cards(bot.fake))


@pytest.mark.parametrize("text", ["", "musiclm", "2212.14", "https://example.com/paper.pdf", "<!channel>"])
def test_not_an_arxiv_id_gets_a_clear_message_with_an_example(bot: RunningBot, text: str) -> None:
    answer, _ = suggest_cmd(bot, text)
    assert "not an arXiv id or link" in answer["text"] and "/paper suggest https://arxiv.org/abs/" in answer["text"]
    assert not MENTION.search(json.dumps(answer).replace("@\u2060", ""))
    assert bot.fake.calls("chat.postMessage") == []


def test_a_paper_already_in_a_digest_shows_its_card(bot: RunningBot) -> None:
    answer, _ = suggest_cmd(bot, "https://arxiv.org/abs/2301.11325")
    text = json.dumps(answer, ensure_ascii=False)
    assert "already in the 2023-01 digest (#1)" in text and "MusicLM" in text
    assert bot.fake.calls("chat.postMessage") == []


def test_an_id_arxiv_does_not_have_is_not_recorded(bot: RunningBot, db_path: Path) -> None:
    _, response_url = suggest_cmd(bot, "2312.99999")
    [told] = bot.fake.wait_for_responses(1, response_url)
    assert "arXiv has no paper 2312.99999" in told["text"]
    assert suggestions.open_suggestions(connect(db_path)) == []


def test_suggesting_again_is_a_vote_and_says_so(bot: RunningBot) -> None:
    suggest_cmd(bot, "2305.01234")
    bot.fake.wait_for_calls("chat.postMessage", 1)
    answer, _ = suggest_cmd(bot, "2305.01234 me too", user="U2")
    assert "already suggested; that counts as your vote (2 now)" in answer["text"]
    bot.fake.wait_for(lambda: vote_count(cards(bot.fake)[0]) == 2)
    again, _ = suggest_cmd(bot, "https://arxiv.org/abs/2305.01234", user="U2")
    assert "has your vote (2 votes)" in again["text"]
    assert len(cards(bot.fake)) == 1


def test_vote_button_toggles_and_concurrent_votes_count_exactly(bot: RunningBot, db_path: Path) -> None:
    suggest_cmd(bot, "2305.01234")
    bot.fake.wait_for_calls("chat.postMessage", 1)
    [card] = cards(bot.fake)
    suggestion_id = next(
        e["value"]
        for b in card["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == ACTION_VOTE
    )
    voters = [f"UV{n:03d}" for n in range(40)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(lambda user: click(bot, ACTION_VOTE, suggestion_id, user, message_ts=card["ts"]), voters))
    expected = 1 + len(voters)
    bot.fake.wait_for(lambda: suggestions.get_suggestion(connect(db_path), int(suggestion_id)).votes == expected)
    bot.fake.wait_for(lambda: vote_count(cards(bot.fake)[0]) == expected, timeout=10)
    # A second click takes the vote back.
    click(bot, ACTION_VOTE, suggestion_id, "UV000")
    bot.fake.wait_for(lambda: vote_count(cards(bot.fake)[0]) == expected - 1)
    assert suggestions.get_suggestion(connect(db_path), int(suggestion_id)).votes == expected - 1


def test_daily_limit_of_ten(bot: RunningBot, db_path: Path) -> None:
    db = connect(db_path)
    for n in range(10):
        assert suggestions.suggest(db, "U9", ArxivRef(f"2305.{n:05d}")).outcome == "created"
    answer, _ = suggest_cmd(bot, "2305.00099", user="U9")
    assert "10 suggestions today, the daily limit" in answer["text"]
    yesterday = datetime.now(UTC) - timedelta(days=1)
    assert suggestions.suggest(db, "U8", ArxivRef("2305.00500"), now=yesterday).outcome == "created"


def test_why_is_escaped_and_limited(bot: RunningBot) -> None:
    hostile = "<!channel> @here <@U999> &lt; <https://evil.example|click> *bold*"
    suggest_cmd(bot, f"2305.01234 {hostile}")
    bot.fake.wait_for_calls("chat.postMessage", 1)
    [card] = cards(bot.fake)
    text = json.dumps(card, ensure_ascii=False)
    assert not MENTION.search(text.replace("<@U1>", "").replace("@\u2060", ""))
    assert "&lt;!channel&gt;" in text and "&lt;@U999&gt;" in text and "@\u2060here" in text
    answer, _ = suggest_cmd(bot, "2305.05555 " + "x" * 501, user="U5")
    assert "501 characters long; please keep it to 500" in answer["text"]


def test_suggestions_list_ranked_by_votes_ties_earlier_first(bot: RunningBot, db_path: Path) -> None:
    db = connect(db_path)
    first = suggestions.suggest(db, "UA", ArxivRef("2305.00001")).suggestion
    second = suggestions.suggest(db, "UB", ArxivRef("2305.00002")).suggestion
    third = suggestions.suggest(db, "UC", ArxivRef("2305.00003")).suggestion
    assert first and second and third
    suggestions.toggle_vote(db, third.id, "UD")
    _status, answer = bot.command("suggestions")
    text = json.dumps(answer, ensure_ascii=False)
    assert text.index("2305.00003") < text.index("2305.00001") < text.index("2305.00002")
    assert "2 votes" in text and "suggested by <@UC>" in text


def test_admin_removes_others_are_refused(bot: RunningBot, db_path: Path) -> None:
    suggest_cmd(bot, "2305.01234")
    bot.fake.wait_for_calls("chat.postMessage", 1)
    suggestion_id = str(suggestions.open_suggestions(connect(db_path))[0].id)
    response_url = click(bot, ACTION_REMOVE, suggestion_id, "U1")
    [refusal] = bot.fake.wait_for_responses(1, response_url)
    assert "Only paperbot admins" in refusal["text"]
    assert suggestions.open_suggestions(connect(db_path))
    click(bot, ACTION_REMOVE, suggestion_id, "UADMIN")
    bot.fake.wait_for(lambda: "Removed by <@UADMIN>" in json.dumps(cards(bot.fake)))
    assert suggestions.open_suggestions(connect(db_path)) == []
    assert ACTION_VOTE not in json.dumps(cards(bot.fake))


def test_team_picks_appear_once_in_the_roundup(fake: FakeSlack, db_path: Path) -> None:
    db = connect(db_path)
    ids = []
    for n in range(7):
        result = suggestions.suggest(db, f"U{n}", ArxivRef(f"2305.0000{n}"))
        assert result.suggestion is not None
        ids.append(result.suggestion.id)
        for voter in range(n):
            suggestions.toggle_vote(db, result.suggestion.id, f"UX{voter}")
    client_kwargs = {"token": BOT_TOKEN, "base_url": fake.api_url, "retry_handlers": []}
    from slack_sdk import WebClient

    from bot.slack.client import WebApiChannel

    channel = WebApiChannel(WebClient(**client_kwargs))  # type: ignore[arg-type]

    result = post_roundup(
        db,
        channel,
        "2023-01",
        ROUNDUP,
        owner="t",
        post_interval=0,
        sleep=lambda s: None,
    )
    assert result.status == "posted"
    headline = json.dumps(fake.messages(ROUNDUP)[0], ensure_ascii=False)
    assert "*Team picks*" in headline
    for n in (6, 5, 4, 3, 2):
        assert f"2305.0000{n}" in headline
    assert "2305.00001" not in headline and "2305.00000" not in headline
    assert headline.index("2305.00006") < headline.index("2305.00002")
    assert "7 votes" in headline and "suggested by <@U6>" in headline
    remaining = [s.arxiv_id for s in suggestions.open_suggestions(db)]
    assert remaining == ["2305.00001", "2305.00000"]
    load_file(db, DATA / "digest-2023-02.md")
    post_roundup(
        db,
        channel,
        "2023-02",
        ROUNDUP,
        owner="t",
        post_interval=0,
        sleep=lambda s: None,
    )
    february = json.dumps(next(m for m in fake.messages(ROUNDUP) if "February" in json.dumps(m)), ensure_ascii=False)
    assert "2305.00001" in february and "2305.00006" not in february


def test_message_shortcut_offers_the_links_found(bot: RunningBot) -> None:
    message = {
        "type": "message",
        "user": "U7",
        "ts": "1700000000.000200",
        "text": "read <https://arxiv.org/abs/2305.01234v2> and arXiv:2305.04321, not 2212.14",
    }
    payload = shortcut_payload(
        SHORTCUT_MESSAGE, message=message, user_id="U1", channel_id=CHANNEL, response_url=bot.fake.response_url("m")
    )
    status, _, _ = post(bot.events_url, interactive_body(payload), SIGNING_SECRET)
    assert status == 200
    [call] = bot.fake.wait_for_calls("views.open", 1)
    view = call.params["view"]
    assert view["callback_id"] == VIEW_SUGGEST
    options = view["blocks"][0]["element"]["options"]
    assert [o["value"] for o in options] == ["2305.01234", "2305.04321"]
    assert json.loads(view["private_metadata"]) == {"channel": CHANNEL}


def test_message_without_links_gets_a_modal_that_says_so(bot: RunningBot) -> None:
    message = {"type": "message", "text": "no papers here", "ts": "1.2"}
    payload = shortcut_payload(
        SHORTCUT_MESSAGE, message=message, user_id="U1", channel_id=CHANNEL, response_url=bot.fake.response_url("m")
    )
    post(bot.events_url, interactive_body(payload), SIGNING_SECRET)
    [call] = bot.fake.wait_for_calls("views.open", 1)
    assert "has no arXiv link" in json.dumps(call.params["view"]) and "submit" not in call.params["view"]


def test_global_shortcut_opens_an_empty_link_field(bot: RunningBot) -> None:
    payload = shortcut_payload(SHORTCUT_GLOBAL, user_id="U1")
    post(bot.events_url, interactive_body(payload), SIGNING_SECRET)
    [call] = bot.fake.wait_for_calls("views.open", 1)
    element = call.params["view"]["blocks"][0]["element"]
    assert element["type"] == "plain_text_input" and "initial_value" not in element


def _submit(bot: RunningBot, arxiv: dict[str, Any], why: str, channel: str | None) -> tuple[int, bytes]:
    values = {"paper": {"arxiv_id": arxiv}, "why": {"why": {"type": "plain_text_input", "value": why}}}
    payload = view_submission_payload(
        VIEW_SUGGEST, values, private_metadata=json.dumps({"channel": channel}), user_id="U4"
    )
    status, _, body = post(bot.events_url, interactive_body(payload), SIGNING_SECRET)
    return status, body


def test_modal_submission_validates_then_goes_through_the_same_path(bot: RunningBot, db_path: Path) -> None:
    status, body = _submit(bot, {"type": "plain_text_input", "value": "not a paper"}, "", None)
    assert status == 200 and json.loads(body)["response_action"] == "errors"
    assert "Not an arXiv id" in json.loads(body)["errors"]["paper"]
    status, body = _submit(bot, {"type": "plain_text_input", "value": "https://arxiv.org/abs/2301.13188"}, "", None)
    assert "already in the 2023-01 digest" in json.loads(body)["errors"]["paper"]
    selected = {"type": "static_select", "selected_option": {"value": "2305.04321"}}
    status, body = _submit(bot, selected, "<!here> must read", CHANNEL)
    assert status == 200 and body.strip() in (b"", b"{}")
    bot.fake.wait_for_calls("chat.postMessage", 2)
    [card] = cards(bot.fake)
    assert "Suggested by <@U4>" in json.dumps(card) and "&lt;!here&gt; must read" in json.dumps(card)
    dm = [c for c in bot.fake.calls("chat.postMessage") if c.params["channel"] == "U4"]
    assert dm and "Posted its card" in dm[0].params["text"]
    # The global shortcut has no channel: the card goes to ROUNDUP_CHANNEL.
    _submit(bot, {"type": "plain_text_input", "value": "2305.07777"}, "", None)
    bot.fake.wait_for(lambda: len(cards(bot.fake, ROUNDUP)) == 1)


def test_app_home_shows_digest_ranked_suggestions_and_own(bot: RunningBot, db_path: Path) -> None:
    db = connect(db_path)
    suggestions.suggest(db, "U1", ArxivRef("2305.00001"))
    suggestions.suggest(db, "U2", ArxivRef("2305.00002"))
    for user, expect_remove in (("U1", False), ("UADMIN", True)):
        body = event_body({"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home", "event_ts": "1.1"})
        status, _, _ = post(bot.events_url, body, SIGNING_SECRET)
        assert status == 200
        bot.fake.wait_for(lambda user=user: bot.fake.home_view(user) is not None)
        home = json.dumps(bot.fake.home_view(user), ensure_ascii=False)
        assert "Latest digest: 2023-01" in home and "MusicLM" in home
        assert "2305.00001" in home and "2305.00002" in home
        assert (ACTION_REMOVE in home) is expect_remove
    assert "Your suggestions" in json.dumps(bot.fake.home_view("U1"))
    assert "You have not suggested a paper yet" in json.dumps(bot.fake.home_view("UADMIN"))


def test_one_spurious_empty_answer_from_arxiv_does_not_delete_a_suggestion(
    bot: RunningBot, arxiv: FakeArxivAPI, db_path: Path
) -> None:
    arxiv.fail_next("empty")
    _, response_url = suggest_cmd(bot, "2312.00042")
    [told] = bot.fake.wait_for_responses(1, response_url)
    assert "Posted its card" in told["text"]
    assert [s.arxiv_id for s in suggestions.open_suggestions(connect(db_path))] == ["2312.00042"]


def test_votes_keep_working_after_the_card_was_deleted(bot: RunningBot, db_path: Path) -> None:
    suggest_cmd(bot, "2305.01234")
    bot.fake.wait_for_calls("chat.postMessage", 1)
    [card] = cards(bot.fake)
    from slack_sdk import WebClient

    WebClient(token=BOT_TOKEN, base_url=bot.fake.api_url).chat_delete(channel=CHANNEL, ts=card["ts"])
    suggestion = suggestions.open_suggestions(connect(db_path))[0]
    response_url = click(bot, ACTION_VOTE, str(suggestion.id), "U77")
    bot.fake.wait_for(lambda: suggestions.get_suggestion(connect(db_path), suggestion.id).message_ts is None)
    assert suggestions.get_suggestion(connect(db_path), suggestion.id).votes == 2
    assert not any("Sorry" in r.get("text", "") for r in bot.fake.responses(response_url))
    # Suggesting it again posts a fresh card.
    suggest_cmd(bot, "2305.01234", user="U78")
    bot.fake.wait_for(lambda: len(cards(bot.fake)) == 1)
    assert vote_count(cards(bot.fake)[0]) == 3


def test_why_typed_in_slack_with_an_ampersand_shows_once_escaped(bot: RunningBot) -> None:
    suggest_cmd(bot, "2305.01234 R&amp;D at its best")  # as Slack sends "R&D at its best"
    bot.fake.wait_for_calls("chat.postMessage", 1)
    text = json.dumps(cards(bot.fake)[0], ensure_ascii=False)
    assert "R&amp;D at its best" in text and "&amp;amp;" not in text


def test_a_refused_modal_does_nothing_after_the_ack(bot: RunningBot, db_path: Path) -> None:
    suggestions.suggest(connect(db_path), "U4", ArxivRef("2305.04321"))  # U4 already voted for it
    status, body = _submit(bot, {"type": "plain_text_input", "value": "2305.04321"}, "x" * 600, CHANNEL)
    assert status == 200 and json.loads(body)["response_action"] == "errors"
    assert "500" in json.loads(body)["errors"]["why"]
    bot.drain()  # a wrongly started lazy half has finished by now
    assert bot.fake.calls("chat.postMessage") == []


def test_a_failing_modal_submission_gets_an_error_the_modal_can_show(fake: FakeSlack, tmp_path: Path) -> None:
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database" * 100)
    with running_bot(bot_settings(fake, broken), fake) as running:
        values = {"paper": {"arxiv_id": {"type": "plain_text_input", "value": "2305.04321"}}}
        payload = view_submission_payload(VIEW_SUGGEST, values)
        payload["view"]["blocks"] = [{"type": "input", "block_id": "paper"}, {"type": "input", "block_id": "why"}]
        status, _, body = post(running.events_url, interactive_body(payload), SIGNING_SECRET)
    answer = json.loads(body)
    assert status == 200 and answer["response_action"] == "errors"
    assert answer["errors"]["paper"].startswith("Sorry, something went wrong")


def test_the_word_payload_in_a_command_is_read_as_a_command(bot: RunningBot) -> None:
    # Bolt alone takes any form body containing "payload" for an interactivity payload (and 404s it).
    answer, response_url = suggest_cmd(bot, "2305.01234 the payload section is great")
    assert "suggested for the next roundup" in answer["text"]
    bot.fake.wait_for_responses(1, response_url)  # the lazy half read the same command
    assert "the payload section is great" in json.dumps(cards(bot.fake)[0])


def test_a_repeated_modal_submission_records_once_and_sends_one_dm(bot: RunningBot, db_path: Path) -> None:
    selected = {"type": "plain_text_input", "value": "2305.04321"}
    for _ in range(3):  # Slack delivers the same view_submission again when it missed our ack
        status, body = _submit(bot, selected, "worth it", CHANNEL)
        assert status == 200 and body.strip() in (b"", b"{}")
    bot.fake.wait_for(lambda: outbox.pending(connect(db_path)) == 0 and len(bot.fake.calls("chat.postMessage")) >= 2)
    dms = [c for c in bot.fake.calls("chat.postMessage") if c.params["channel"] == "U4"]
    assert len(dms) == 1 and "Posted its card" in dms[0].params["text"]
    assert len(cards(bot.fake)) == 1
    [suggestion] = suggestions.open_suggestions(connect(db_path))
    assert suggestion.votes == 1
    # Another submission (other words: not a repeat) is told again, as a vote already counted.
    _submit(bot, selected, "still worth it", CHANNEL)
    bot.fake.wait_for(lambda: len([c for c in bot.fake.calls("chat.postMessage") if c.params["channel"] == "U4"]) == 2)


def test_a_suggestion_made_while_arxiv_was_down_gets_its_title_from_the_background_loop(
    bot: RunningBot, arxiv: FakeArxivAPI, db_path: Path
) -> None:
    arxiv.fail_always("503")
    _, response_url = suggest_cmd(bot, "2305.05555")
    [told] = bot.fake.wait_for_responses(1, response_url)
    assert "arXiv did not answer; the title will appear" in told["text"]
    [card] = cards(bot.fake)
    assert "Synthetic Study" not in json.dumps(card)
    # Leave the suggestion's own retries for later: the background loop alone brings the title.
    with closing(sqlite3.connect(db_path)) as conn, conn:
        conn.execute("UPDATE outbox SET due_at = due_at + 3600 WHERE kind = 'suggestion.publish'")
    arxiv.fail_always(None)
    stop = threading.Event()
    settings = bot_settings(bot.fake, db_path, ARXIV_API_URL=arxiv.url, ARXIV_DELAY_SECONDS="0")
    loop = threading.Thread(target=run_background_enrichment, args=(settings, stop), daemon=True)
    loop.start()
    try:
        bot.fake.wait_for(lambda: "Synthetic Study 2305.05555" in json.dumps(cards(bot.fake)[0]), timeout=10)
    finally:
        stop.set()
        loop.join(timeout=10)
    assert len(cards(bot.fake)) == 1  # the card the user already saw, redrawn
    assert bot.fake.responses(response_url) == [told]


def test_a_card_posted_by_a_run_that_died_before_recording_it_is_not_posted_again(
    bot: RunningBot, db_path: Path
) -> None:
    db = connect(db_path)
    suggestion = suggestions.suggest(db, "U1", ArxivRef("2305.01234"), channel=CHANNEL).suggestion
    assert suggestion is not None
    with write_transaction(db):  # a previous process claimed the follow-up...
        followups.enqueue_publish(db, suggestion.id, CHANNEL, {"dm": "U1"})
        db.execute(
            "UPDATE outbox SET attempts = 1, lease_until = ? WHERE kind = ?", [time.time() + 3600, followups.PUBLISH]
        )
    from slack_sdk import WebClient

    # ...posted the card, and died before recording it.
    posted = WebClient(token=BOT_TOKEN, base_url=bot.fake.api_url).chat_postMessage(
        channel=CHANNEL, text="card", metadata=followups.card_metadata(suggestion.id)
    )
    outbox.resume(db)
    outbox.wake()
    bot.fake.wait_for(lambda: suggestions.get_suggestion(connect(db_path), suggestion.id).message_ts == posted["ts"])
    bot.fake.wait_for(lambda: outbox.pending(connect(db_path)) == 0)
    assert len(bot.fake.calls("chat.postMessage")) == 2  # the card above and the DM: no second card
    assert len(cards(bot.fake)) == 1 and "Synthetic Study 2305.01234" in json.dumps(cards(bot.fake)[0])


def test_the_cards_of_team_picks_are_redrawn_after_the_roundup(bot: RunningBot, db_path: Path) -> None:
    for n in range(2):
        suggest_cmd(bot, f"2305.0100{n}", user=f"U{n}")
    bot.fake.wait_for(lambda: len(cards(bot.fake)) == 2)
    from slack_sdk import WebClient

    from bot.slack.client import WebApiChannel

    client = WebApiChannel(WebClient(token=BOT_TOKEN, base_url=bot.fake.api_url, retry_handlers=[]))  # type: ignore[arg-type]
    db = connect(db_path)
    assert post_roundup(db, client, "2023-01", ROUNDUP, owner="t", post_interval=0, sleep=lambda s: None).status == (
        "posted"
    )
    bot.fake.wait_for(lambda: json.dumps(cards(bot.fake)).count("A team pick in the 2023-01 roundup") == 2)
    assert ACTION_VOTE not in json.dumps(cards(bot.fake))  # nothing left to vote on


def test_when_arxiv_never_answers_the_follow_up_finally_gives_up_and_says_so(
    bot: RunningBot, arxiv: FakeArxivAPI, db_path: Path
) -> None:
    arxiv.fail_always("503")
    _, response_url = suggest_cmd(bot, "2305.06666")
    bot.fake.wait_for_responses(1, response_url)
    # Skip the day of retries: the next try is its last.
    with closing(sqlite3.connect(db_path)) as conn, conn:
        conn.execute(
            "UPDATE outbox SET attempts = ?, due_at = 0 WHERE kind = ?",
            [followups.PUBLISH_ATTEMPTS - 1, followups.PUBLISH],
        )
    outbox.wake()
    [_, gave_up] = bot.fake.wait_for_responses(2, response_url, timeout=10)
    assert "gave up fetching arXiv 2305.06666 from arXiv" in gave_up["text"]
    status = connect(db_path).execute("SELECT status FROM outbox WHERE kind = ?", [followups.PUBLISH]).fetchone()[0]
    assert status == "failed"
    assert [s.arxiv_id for s in suggestions.open_suggestions(connect(db_path))] == ["2305.06666"]  # still listed


# --- long lists say what they leave out -----------------------------------------------------------------------


def _listed(n: int, votes: int) -> suggestions.Suggestion:
    return suggestions.Suggestion(
        n, f"2305.{n:05d}", "U1", "", "now", votes, (), f"Paper {n}", (), None, None, None, None, None
    )


def test_long_lists_and_the_home_tab_say_how_many_they_leave_out(tmp_path: Path) -> None:
    from bot.digest import catalog
    from bot.suggestions.blocks import home_view, suggestion_list

    ranked = [_listed(n, 20 - n) for n in range(1, 18)]
    listed = json.dumps(suggestion_list(ranked).payload())
    assert "Paper 15" in listed and "Paper 16" not in listed and "2 more with fewer votes are not listed." in listed
    digest_file = tmp_path / "2023-05.md"
    digest_file.write_text(
        "".join(f"## {n}. Paper number {n}\nAda Lovelace, Alan Turing\nIt does thing {n}.\n\n" for n in range(1, 26)),
        encoding="utf-8",
    )
    db = connect(tmp_path / "home.db")
    load_file(db, digest_file)
    home = home_view(catalog.get_digest(db, "2023-05"), ranked, [_listed(n, 0) for n in range(1, 13)], admin=True)
    text = json.dumps(home, ensure_ascii=False)
    assert "Paper number 20" in text and "Paper number 21" not in text
    assert "… and 5 more: `/paper list 2023-05`" in text
    assert "2 more with fewer votes are not listed." in text
    assert "… and 2 older" in text
    assert message_block_errors(home["blocks"]) == []  # (stricter than a view: 50 blocks)
    assert len(home["blocks"]) <= 100


def test_a_card_names_how_many_cited_works_it_leaves_out() -> None:
    from bot.digest.references import CitedWork
    from bot.slack.blocks import cites_block

    works = [
        CitedWork("2023-01", n, f"Work {n}", (), 2021, archive_paper_id=n if n <= 7 else None) for n in range(1, 16)
    ]
    block = cites_block(works)
    assert block is not None
    assert "[12] Work 12" in block["text"]["text"] and "[13]" not in block["text"]["text"]
    assert block["text"]["text"].endswith(" · and 3 more (the menu opens the first 5 of the 7 in the archive)")
    assert len(block["accessory"]["options"]) == 5
    assert cites_block(works[:3]) is not None and "more" not in cites_block(works[:3])["text"]["text"]  # type: ignore[index]


def test_the_counts_are_of_every_suggestion_not_of_those_fetched(tmp_path: Path) -> None:
    from bot.slack.replies import paper_reply

    db = connect(tmp_path / "many.db")
    load_file(db, SHIPPED_DIGEST)
    db.conn.executemany(
        "INSERT INTO suggestions (arxiv_id, suggested_by, created_at) VALUES (?, 'U1', 'now')",
        [(f"2305.{n:05d}",) for n in range(1, 81)],
    )
    listed = json.dumps(paper_reply(db, "suggestions").payload())
    assert "(80), most votes first" in listed and "65 more with fewer votes are not listed." in listed
    assert suggestions.count_open(db) == 80 and suggestions.count_user(db, "U1") == 80
