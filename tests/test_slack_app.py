"""The real Bolt app over real HTTP: signed requests in, what the user sees out.

A fake Slack Web API (tests/fakes/slack_api.py) answers the app's Web API calls and its response_url
posts; requests are signed exactly as Slack signs them.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from slack_bolt import BoltRequest

from bot.db import connect
from bot.digest.store import load_file
from bot.slack.app import build_app
from bot.slack.ids import ACTION_FULL_SUMMARY, ACTION_OPEN, ACTION_SHARE
from tests.conftest import DATA, SHIPPED_DIGEST
from tests.fakes.bot_server import RunningBot, bot_settings, running_bot
from tests.fakes.signing import (
    SIGNING_SECRET,
    block_actions_payload,
    interactive_body,
    post,
    slash_command_body,
)
from tests.fakes.slack_api import FakeSlack
from tests.helpers import strings


def load_digests(path: Path) -> Path:
    db = connect(path)
    for digest in (SHIPPED_DIGEST, DATA / "digest-2023-02.md", DATA / "digest-2023-03-variants.txt"):
        load_file(db, digest)
    db.close()
    return path


@pytest.fixture
def loaded_db(tmp_path: Path) -> Path:
    return load_digests(tmp_path / "bot.db")


@pytest.fixture(scope="module")
def shared_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return load_digests(tmp_path_factory.mktemp("shared") / "bot.db")


@pytest.fixture(scope="module")
def shared_bot(shared_db: Path) -> Iterator[RunningBot]:
    with FakeSlack() as slack, running_bot(bot_settings(slack, shared_db), slack) as running:
        yield running


@pytest.fixture
def reader(shared_bot: RunningBot) -> RunningBot:
    """One bot for the whole module, for tests that only read the database (searches, lists, refusals):
    starting a server per test costs more than the test. Earlier tests' lazy work is finished and their
    calls forgotten first."""
    shared_bot.drain()
    shared_bot.fake.reset()
    return shared_bot


@pytest.fixture
def bot(fake: FakeSlack, loaded_db: Path) -> Iterator[RunningBot]:
    with running_bot(bot_settings(fake, loaded_db), fake) as running:
        yield running


def all_text(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False)


def test_paper_musiclm_answers_with_the_card_in_the_ack(reader: RunningBot, shared_db: Path) -> None:
    status, answer = reader.command("musiclm")
    assert status == 200
    assert answer["response_type"] == "ephemeral"
    assert answer["text"].startswith("MusicLM")
    card = answer["blocks"]
    assert card[0]["text"]["text"].startswith("*<https://arxiv.org/abs/2301.11325|MusicLM: Generating Music From")
    assert "Andrea Agostinelli, Timeo I. Denk et al." in card[0]["text"]["text"]
    assert "Digest 2023-01 · #1" in card[1]["elements"][0]["text"]
    assert "<https://arxiv.org/pdf/2301.11325|PDF>" in card[1]["elements"][0]["text"]
    assert card[2]["text"]["text"].startswith("扩散模型和自回归离散模型")
    assert card[3]["text"]["text"].startswith("*Cites:* [1] SoundStream: An End-to-End Neural Audio Codec (2021)")
    buttons = {element["action_id"]: element for element in card[4]["elements"]}
    # Share carries MusicLM's own paper id: the click shares this paper, not another one.
    musiclm_id = connect(shared_db).execute("SELECT id FROM papers WHERE arxiv_id = '2301.11325'").fetchone()[0]
    assert buttons[ACTION_SHARE]["value"] == str(musiclm_id)
    # The answer is the HTTP response itself: no Web API call, no response_url post.
    assert reader.fake.calls("chat.postMessage") == [] and reader.fake.responses() == []


@pytest.mark.parametrize("text", ["", "help", "  HELP  "])
def test_help(reader: RunningBot, text: str) -> None:
    status, answer = reader.command(text)
    assert status == 200 and "/paper list [YYYY-MM]" in all_text(answer)


def test_list_months(reader: RunningBot) -> None:
    _, latest = reader.command("list")
    assert "Digest 2023-03" in all_text(latest)
    _, january = reader.command("list 2023-01")
    text = all_text(january)
    assert (
        "1. *<https://arxiv.org/abs/2301.11325|MusicLM" in text
        and "10. *<https://arxiv.org/abs/2301.13868|PADL" in text
    )
    _, missing = reader.command("list 1999-01")
    assert "There is no digest for 1999-01" in all_text(missing) and "`2023-01`" in all_text(missing)
    _, bad = reader.command("list next-month")
    assert "There is no digest for next-month" in all_text(bad)


def test_several_matches_give_a_list_whose_buttons_open_the_card(reader: RunningBot) -> None:
    _, answer = reader.command("diffusion")
    sections = [block for block in answer["blocks"] if block.get("accessory")]
    assert 2 <= len(sections) <= 5
    open_button = next(s["accessory"] for s in sections if "Extracting Training Data" in s["text"]["text"])
    assert open_button["action_id"] == ACTION_OPEN
    response_url = reader.fake.response_url("open")
    payload = block_actions_payload(ACTION_OPEN, open_button["value"], response_url=response_url)
    status, _, body = post(reader.events_url, interactive_body(payload), SIGNING_SECRET)
    assert status == 200 and body == b""
    [reply] = reader.fake.wait_for_responses(1, response_url)
    assert reply["replace_original"] is True and reply["response_type"] == "ephemeral"
    assert "Extracting Training Data from Diffusion Models" in reply["blocks"][0]["text"]["text"]


def test_share_in_channel_posts_the_card_saying_who_shared_it(bot: RunningBot) -> None:
    _, answer = bot.command("carlini")
    share = next(
        e for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"] if e["action_id"] == ACTION_SHARE
    )
    response_url = bot.fake.response_url("share")
    payload = block_actions_payload(ACTION_SHARE, share["value"], user_id="U777", response_url=response_url)
    status, _, _ = post(bot.events_url, interactive_body(payload), SIGNING_SECRET)
    assert status == 200
    [shared] = bot.fake.wait_for_responses(1, response_url)
    assert shared["response_type"] == "in_channel" and shared["replace_original"] is False
    assert "Shared by <@U777>" in all_text(shared)
    assert ACTION_SHARE not in all_text(shared)


def one_paper_database(tmp_path: Path, title: str, summary: str) -> Path:
    """A database holding one digest (2023-07) of one paper with this title and summary."""
    digest = tmp_path / "one-2023-07.txt"
    digest.write_text(f"1、{title}\nhttps://arxiv.org/abs/2307.00001\nAda Lovelace.\n{summary}\n", encoding="utf-8")
    db_path = tmp_path / "one.db"
    load_file(connect(db_path), digest)
    return db_path


def test_long_summary_is_cut_at_a_sentence_with_a_button_for_the_rest(fake: FakeSlack, tmp_path: Path) -> None:
    long_summary = "".join(f"这是第{i}句很长的总结，用来测试卡片的长度限制。" for i in range(200))
    db_path = one_paper_database(tmp_path, "Long Paper Title", long_summary)
    with running_bot(bot_settings(fake, db_path), fake) as bot:
        _, answer = bot.command("long paper")
        summary = answer["blocks"][2]["text"]["text"]
        assert len(summary) <= 2000 and summary.endswith("。 …")
        more = next(
            e
            for b in answer["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
            if e["action_id"] == ACTION_FULL_SUMMARY
        )
        response_url = fake.response_url("full")
        post(
            bot.events_url,
            interactive_body(block_actions_payload(ACTION_FULL_SUMMARY, more["value"], response_url=response_url)),
            SIGNING_SECRET,
        )
        [full] = fake.wait_for_responses(1, response_url)
        sections = [b["text"]["text"] for b in full["blocks"] if b["type"] == "section"][1:]
        assert all(len(s) <= 3000 for s in sections) and len(full["blocks"]) <= 50
        assert "".join(sections).replace("\n", "") == long_summary


def test_response_url_used_up_falls_back_to_an_ephemeral_message(bot: RunningBot) -> None:
    response_url = bot.fake.response_url("worn")
    payload = block_actions_payload(ACTION_OPEN, "1", response_url=response_url, user_id="U42", channel_id="C9")
    for _ in range(6):
        post(bot.events_url, interactive_body(payload), SIGNING_SECRET)
    bot.fake.wait_for_calls("chat.postEphemeral", 1)
    [ephemeral] = bot.fake.calls("chat.postEphemeral")
    assert ephemeral.params["user"] == "U42" and ephemeral.params["channel"] == "C9"
    assert "expired" in ephemeral.params["text"]
    assert len(bot.fake.responses(response_url)) == 5


def test_unknown_paper_id_in_a_button(reader: RunningBot) -> None:
    response_url = reader.fake.response_url("gone")
    for value in ("999999", "not-a-number", ""):
        post(
            reader.events_url,
            interactive_body(block_actions_payload(ACTION_OPEN, value, response_url=response_url)),
            SIGNING_SECRET,
        )
    replies = reader.fake.wait_for_responses(3, response_url)
    assert all("no longer in the digests" in reply["text"] for reply in replies)


@pytest.mark.parametrize("case", ["forged", "unsigned", "stale", "future"])
def test_requests_not_signed_by_slack_get_401(reader: RunningBot, case: str) -> None:
    body = slash_command_body("musiclm")
    if case == "forged":
        status, _, _ = post(reader.events_url, body, "not-the-secret")
    elif case == "stale":
        status, _, _ = post(reader.events_url, body, SIGNING_SECRET, timestamp=int(time.time()) - 6 * 60)
    elif case == "future":
        status, _, _ = post(reader.events_url, body, SIGNING_SECRET, timestamp=int(time.time()) + 6 * 60)
    else:
        request = urllib.request.Request(
            reader.events_url,
            data=body.encode(),
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            opener.open(request, timeout=5)
            status = 200
        except urllib.error.HTTPError as error:
            status = error.code
    assert status == 401


def test_other_paths_and_methods(reader: RunningBot) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{reader.url}/healthz", timeout=5) as response:
        assert response.status == 200
    for path, expected in (("/", 404), ("/slack/events", 405), ("/admin", 404)):
        with pytest.raises(urllib.error.HTTPError) as caught:
            opener.open(f"{reader.url}{path}", timeout=5)
        assert caught.value.code == expected


def test_a_failing_listener_apologises_and_logs_the_traceback(
    fake: FakeSlack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not a database" * 100)
    with running_bot(bot_settings(fake, broken), fake) as bot:
        status, answer = bot.command("musiclm")
    assert status == 200 and answer["response_type"] == "ephemeral"
    assert answer["text"].startswith("Sorry, something went wrong")
    failures = [r for r in caplog.records if r.name == "bot.slack.listeners" and r.exc_info]
    assert failures and "file is not a database" in str(failures[0].exc_info[1])


def test_socket_mode_requests_take_the_same_path(fake: FakeSlack, loaded_db: Path) -> None:
    settings = bot_settings(fake, loaded_db, SLACK_APP_TOKEN="xapp-1-test")
    app = build_app(settings, socket_mode=True)
    body = slash_command_body("tracr")
    response = app.dispatch(BoltRequest(body=body, mode="socket_mode"))
    assert response.status == 200
    assert "Tracr: Compiled Transformers" in response.body
    # An HTTP-mode app refuses the same unsigned body.
    http_app = build_app(settings)
    assert http_app.dispatch(BoltRequest(body=body, headers={})).status == 401


def test_fifty_concurrent_signed_requests_all_answered_correctly(reader: RunningBot) -> None:
    queries = {
        "musiclm": "MusicLM",
        "tracr": "Tracr",
        "carlini": "Extracting Training Data",
        "水印": "A Watermark",
        "stylegn": "StyleGAN-T",
    }
    jobs = [list(queries)[i % len(queries)] for i in range(50)]

    def ask(query: str) -> tuple[str, int, dict[str, Any]]:
        status, answer = reader.command(query)
        return query, status, answer

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(ask, jobs))
    assert len(results) == 50
    for query, status, answer in results:
        assert status == 200, query
        assert answer["response_type"] == "ephemeral" and answer["text"].startswith(queries[query]), query


def test_every_reply_stays_within_slack_limits(reader: RunningBot) -> None:
    for text in ("musiclm", "diffusion", "list", "list 2023-01", "help", "zzzz", "2401.00001", "language"):
        _, answer = reader.command(text)
        assert answer["text"] and len(answer["blocks"]) <= 50
        for block in answer["blocks"]:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= 3000
            for element in block.get("elements", []):
                if element.get("type") == "button":
                    assert len(element["text"]["text"]) <= 75


MENTION = re.compile(r"<[!@#]|(?<!\u2060)@(channel|here|everyone)\b", re.IGNORECASE)


def assert_no_mention(answer: dict[str, Any]) -> None:
    for value in strings(answer):
        assert not MENTION.search(value.replace("@\u2060", "")), value[:200]


HOSTILE = [
    "",
    " ",
    "\t\n",
    "x" * 4000,
    '"',
    '""',
    "*",
    "musiclm*",
    "NEAR(",
    "NEAR(a b)",
    "AND",
    "a AND",
    "OR NOT",
    "-",
    "--",
    ":",
    "title:musiclm",
    "'; DROP TABLE papers; --",
    "' OR 1=1 --",
    "<!channel>",
    "<!here> hi",
    "<@U123>",
    "<#C123|general>",
    "@channel",
    "@here musiclm",
    "@everyone",
    "\x00\x01\x02",
    "\u202emusiclm",
    "🎵🎶 music",
    "مرحبا بالعالم",
    "שלום",
    "<https://evil.example|click>",
    "&lt;!channel&gt;",
    "%s%s%n",
    "{}",
    "\\",
    "^",
    "(",
    ")",
    "[",
    "]",
    "2301.11325 OR 1",
    "list ../../etc/passwd",
    "list 2023-13",
    "help me",
    "payload",
    "payload=%7B%7D",
    "musiclm payload",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_over_http_gets_a_reply_and_pings_nobody(reader: RunningBot, text: str) -> None:
    status, answer = reader.command(text)
    assert status == 200
    assert answer["text"] and answer["blocks"]
    assert_no_mention(answer)


def test_slack_escaped_command_text_is_unescaped_once(reader: RunningBot) -> None:
    # Slack sends & < > in slash-command text as entities; they must show as typed, escaped exactly once.
    _, answer = reader.command("R&amp;D &lt;!channel&gt; zzzz")
    text = all_text(answer)
    assert "R&amp;D &lt;!channel&gt; zzzz" in text
    assert "&amp;amp;" not in text and "&amp;lt;" not in text


def test_long_lines_are_never_split_inside_an_entity() -> None:
    from bot.slack.blocks import split_sections

    text = ("a&b<c>" * 900) + "\n" + ("<" * 7000)
    chunks = split_sections(text)
    assert all(len(chunk) <= 3000 for chunk in chunks)
    for chunk in chunks:
        assert re.sub(r"&(amp|lt|gt);", "", chunk).count("&") == 0, chunk[-10:]
    joined = "".join(chunks).replace("\n", "")
    assert joined.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == text.replace("\n", "")


def test_full_summary_on_a_shared_card_goes_to_the_clicker_alone(fake: FakeSlack, tmp_path: Path) -> None:
    db_path = one_paper_database(tmp_path, "Long Shared Paper", "这是一句用来测试的总结。" * 300)
    with running_bot(bot_settings(fake, db_path), fake) as bot:
        for ephemeral, replaces in ((False, False), (True, True)):
            response_url = fake.response_url("full")
            payload = block_actions_payload(ACTION_FULL_SUMMARY, "1", response_url=response_url)
            payload["container"]["is_ephemeral"] = ephemeral
            post(bot.events_url, interactive_body(payload), SIGNING_SECRET)
            [reply] = fake.wait_for_responses(1, response_url)
            assert reply["replace_original"] is replaces and reply["response_type"] == "ephemeral"


def test_expired_response_url_outside_the_bots_channels_falls_back_to_a_direct_message(bot: RunningBot) -> None:
    bot.fake.not_in_channel.add("C9")
    response_url = bot.fake.response_url("worn")
    payload = block_actions_payload(ACTION_OPEN, "1", response_url=response_url, user_id="U42", channel_id="C9")
    for _ in range(6):
        post(bot.events_url, interactive_body(payload), SIGNING_SECRET)
    [dm] = bot.fake.wait_for_calls("chat.postMessage", 1)
    assert dm.params["channel"] == "U42" and "expired" in dm.params["text"]
