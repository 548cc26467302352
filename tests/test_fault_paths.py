"""Issue 10's rules on the paths other features added, through the real Bolt app over signed HTTP: watches,
message and unfurl claims, refusals on App Home and unfurls, Replace, the English abstract button and
digest files sent by DM, each while another connection holds the write lock (``BEGIN IMMEDIATE``) or the
database refuses a write as a full disk does."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.arxiv.ids import ArxivRef
from bot.db import connect
from bot.digest import catalog
from bot.digest.store import load_file
from bot.slack import deliveries
from bot.slack.ids import ACTION_ABSTRACT, ACTION_LOAD_REPLACE, ACTION_REMOVE, ACTION_VOTE
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
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack

ADMIN = "UADMIN"
CHANNEL = "C0PAPERS"
BUSY = "paperbot is busy, try again in a moment"
DISK_FULL = "paperbot's disk is full"
MUSICLM = "2301.11325"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "faults.db"
    load_file(connect(path), SHIPPED_DIGEST)
    return path


@pytest.fixture
def bot(fake: FakeSlack, db_path: Path) -> Iterator[RunningBot]:
    with FakeArxivAPI(synthetic=True) as arxiv:
        settings = bot_settings(fake, db_path, ARXIV_API_URL=arxiv.url, ARXIV_DELAY_SECONDS="0", PAPERBOT_ADMINS=ADMIN)
        with running_bot(settings, fake) as running:
            yield running


@contextmanager
def write_lock_held(path: Path) -> Iterator[None]:
    """Another connection (as another process would) holds the database's write lock."""
    with closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")


@contextmanager
def versions_refused_as_by_a_full_disk(path: Path) -> Iterator[None]:
    """Every new digest version fails with SQLite's full-disk message (a capped page count cannot be set on
    the bot's own connections from here), so a load fails inside its transaction and changes nothing."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute(
            "CREATE TRIGGER disk_full BEFORE INSERT ON digest_versions"
            " BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
        try:
            yield
        finally:
            conn.execute("DROP TRIGGER disk_full")


def send(bot: RunningBot, event: dict[str, Any]) -> None:
    status, _, _ = post(bot.events_url, event_body(event), SIGNING_SECRET)
    assert status == 200


def click(bot: RunningBot, payload: dict[str, Any]) -> None:
    status, _, _ = post(bot.events_url, interactive_body(payload), SIGNING_SECRET)
    assert status == 200


def text_of(params: dict[str, Any]) -> str:
    return json.dumps([params.get("text"), params.get("blocks")], ensure_ascii=False)


def watches(db_path: Path) -> list[str]:
    return [str(row[0]) for row in connect(db_path).execute("SELECT words FROM watches ORDER BY id")]


# --- 1. watch / unwatch ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_watch_and_unwatch_under_a_held_write_lock_say_busy_and_watches_still_answers(
    bot: RunningBot, db_path: Path
) -> None:
    assert "Watching “diffusion”" in bot.command("watch diffusion", user_id="U1")[1]["text"]
    with write_lock_held(db_path):
        assert bot.command("watch carlini", user_id="U1")[1]["text"].startswith(BUSY)
        assert bot.command("unwatch diffusion", user_id="U1")[1]["text"].startswith(BUSY)
        assert bot.command("unwatch 1", user_id="U1")[1]["text"].startswith(BUSY)
        assert "1. diffusion" in json.dumps(bot.command("watches", user_id="U1")[1])  # a read: not refused
    assert watches(db_path) == ["diffusion"]  # nothing recorded half-way
    assert "Watching “carlini”" in bot.command("watch carlini", user_id="U1")[1]["text"]
    assert "Stopped watching “diffusion”" in bot.command("unwatch diffusion", user_id="U1")[1]["text"]


# --- 2. message and unfurl claims ------------------------------------------------------------------------------


@pytest.mark.slow
def test_mentions_dms_and_unfurls_are_answered_once_under_a_held_write_lock(bot: RunningBot, db_path: Path) -> None:
    dm = message_event("musiclm", channel="D0ALICE", user_id="U0ALICE")
    with write_lock_held(db_path):
        send(bot, dm)  # a search answers anyway
        [answer] = bot.fake.wait_for_calls("chat.postMessage", 1)
        assert answer.params["channel"] == "D0ALICE" and "MusicLM" in text_of(answer.params)
        send(bot, mention_event(f"<@{BOT_USER_ID}> musiclm", channel=CHANNEL, user_id="U0BOB"))
        [_, mention] = bot.fake.wait_for_calls("chat.postMessage", 2)
        assert mention.params["channel"] == CHANNEL and "MusicLM" in text_of(mention.params)
        send(bot, message_event("watch diffusion", channel="D0ALICE", user_id="U0ALICE"))  # a write says busy
        [*_, busy] = bot.fake.wait_for_calls("chat.postMessage", 3)
        assert busy.params["text"].startswith(BUSY)
        send(bot, link_shared_event([f"https://arxiv.org/abs/{MUSICLM}"], channel=CHANNEL))
        [unfurl] = bot.fake.wait_for_calls("chat.unfurl", 1)
        assert "MusicLM" in json.dumps(unfurl.params, ensure_ascii=False)
        send(bot, dm)  # Slack's retry of the first message, still under the lock
        bot.drain()
    send(bot, dm)  # and once the lock is gone: the claim kept in memory still holds
    bot.drain()
    assert len(bot.fake.calls("chat.postMessage")) == 3
    assert bot.fake.calls("chat.postEphemeral") == []
    assert watches(db_path) == []


def test_a_claim_that_fails_for_another_reason_reaches_the_apology(bot: RunningBot, db_path: Path) -> None:
    with closing(sqlite3.connect(db_path, isolation_level=None)) as conn:
        conn.execute("ALTER TABLE handled_messages RENAME TO handled_messages_gone")
    send(bot, message_event("musiclm", channel="D0ALICE", user_id="U0ALICE"))
    [apology] = bot.fake.wait_for_calls("chat.postMessage", 1)
    assert apology.params["channel"] == "D0ALICE" and "something went wrong" in apology.params["text"]


def test_claims_the_database_refuses_are_remembered_in_a_bounded_set(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deliveries, "MEMORY_KEYS", 2)
    monkeypatch.setattr(deliveries, "_remembered", type(deliveries._remembered)())
    read_only = connect(db_path)
    read_only.execute("PRAGMA query_only = ON")  # refused as a read-only file is: at once

    def claim(ts: str) -> bool:
        return deliveries.claim_message(read_only, "T1", "D1", ts, event_type="message")

    assert [claim("1.1"), claim("1.1"), claim("1.2"), claim("1.3")] == [True, False, True, True]
    assert claim("1.1")  # the oldest was forgotten: at most MEMORY_KEYS are kept
    assert deliveries.handled_count(connect(db_path)) == 0


# --- 3. refused votes and removals without a response_url ---------------------------------------------------


def _without_response_url(payload: dict[str, Any], container: dict[str, Any]) -> dict[str, Any]:
    del payload["response_url"]
    payload["container"] = container
    return payload


def test_a_refused_vote_or_removal_on_app_home_or_an_unfurl_is_told_to_the_clicker(
    bot: RunningBot, db_path: Path
) -> None:
    db = connect(db_path)
    suggestions.suggest(db, "U1", ArxivRef("2305.00001"))
    [open_one] = suggestions.open_suggestions(db)
    suggestions.remove(db, open_one.id, ADMIN)
    home = {"type": "view", "view_id": "V1"}
    # App Home: no channel, no response_url: a direct message.
    vote = _without_response_url(block_actions_payload(ACTION_VOTE, str(open_one.id), user_id="U2"), home)
    del vote["channel"]
    click(bot, vote)
    [told] = bot.fake.wait_for_calls("chat.postMessage", 1)
    assert told.params["channel"] == "U2" and "That suggestion is closed" in told.params["text"]
    removal = _without_response_url(block_actions_payload(ACTION_REMOVE, str(open_one.id), user_id="U3"), home)
    del removal["channel"]
    click(bot, removal)
    [_, refused] = bot.fake.wait_for_calls("chat.postMessage", 2)
    assert refused.params["channel"] == "U3" and "Only paperbot admins" in refused.params["text"]
    # An unfurl's Vote button: ephemeral in the click's channel.
    unfurl = {"type": "message_attachment", "message_ts": "1.2", "channel_id": CHANNEL, "is_app_unfurl": True}
    click(bot, _without_response_url(block_actions_payload(ACTION_VOTE, str(open_one.id), user_id="U4",
                                                           channel_id=CHANNEL), unfurl))  # fmt: skip
    [ephemeral] = bot.fake.wait_for_calls("chat.postEphemeral", 1)
    assert ephemeral.params["user"] == "U4" and ephemeral.params["channel"] == CHANNEL
    assert "That suggestion is closed" in ephemeral.params["text"]


def test_a_vote_refused_as_busy_on_app_home_is_told_to_the_clicker(bot: RunningBot, db_path: Path) -> None:
    suggestions.suggest(connect(db_path), "U1", ArxivRef("2305.00001"))
    [suggestion] = suggestions.open_suggestions(connect(db_path))
    vote = _without_response_url(block_actions_payload(ACTION_VOTE, str(suggestion.id), user_id="U2"),
                                 {"type": "view", "view_id": "V1"})  # fmt: skip
    del vote["channel"]
    with write_lock_held(db_path):
        click(bot, vote)
        [told] = bot.fake.wait_for_calls("chat.postMessage", 1)
    assert told.params["channel"] == "U2" and told.params["text"].startswith(BUSY)
    assert suggestions.open_suggestions(connect(db_path))[0].votes == 1


# --- 4. Replace ---------------------------------------------------------------------------------------------


def _truncated_january() -> bytes:
    text = SHIPPED_DIGEST.read_text(encoding="utf-8")
    return (text[: text.index("2、A Watermark")] + text[text.index("最后本文") :]).encode()


def _file_event(file: dict[str, Any], ts: str) -> dict[str, Any]:
    return {"type": "message", "subtype": "file_share", "channel_type": "im", "channel": "D0ADMIN", "user": ADMIN,
            "ts": ts, "event_ts": ts, "text": "", "files": [file]}  # fmt: skip


def test_a_failed_replace_is_put_back_and_the_admin_told_why_and_a_second_click_replaces(
    bot: RunningBot, db_path: Path
) -> None:
    send(bot, _file_event(bot.fake.add_file("2023-01.txt", _truncated_january()), "1700000001.000100"))
    [offer] = bot.fake.wait_for_calls("chat.postMessage", 1, timeout=20)
    [replace] = [e for b in offer.params["blocks"] if b["type"] == "actions" for e in b["elements"]
                 if e["action_id"] == ACTION_LOAD_REPLACE]  # fmt: skip
    with versions_refused_as_by_a_full_disk(db_path):
        first = bot.fake.response_url("replace")
        click(bot, block_actions_payload(ACTION_LOAD_REPLACE, replace["value"], user_id=ADMIN, response_url=first))
        [answer] = bot.fake.wait_for_responses(1, first)
    assert DISK_FULL in answer["text"] and "click Replace again" in answer["text"]
    assert connect(db_path).execute("SELECT count(*) FROM entries").fetchone()[0] == 10
    again = bot.fake.response_url("again")
    click(bot, block_actions_payload(ACTION_LOAD_REPLACE, replace["value"], user_id=ADMIN, response_url=again))
    [answer] = bot.fake.wait_for_responses(1, again, timeout=20)
    assert "Replaced the 2023-01 digest" in answer["text"] and "9 removed" in answer["text"]


# --- 5. the English abstract button ------------------------------------------------------------------------


def test_the_english_abstract_button_under_a_held_write_lock_shows_the_status_without_queueing(
    bot: RunningBot, db_path: Path
) -> None:
    paper = catalog.find_by_arxiv_id(connect(db_path), MUSICLM)
    assert paper is not None and not paper.abstract
    response_url = bot.fake.response_url("abstract")
    with write_lock_held(db_path):
        click(bot, block_actions_payload(ACTION_ABSTRACT, str(paper.paper_id), response_url=response_url))
        [answer] = bot.fake.wait_for_responses(1, response_url)
    assert "No English abstract yet" in text_of(answer) and "queued" not in text_of(answer)
    row = connect(db_path).execute("SELECT enrich_requested_at FROM papers WHERE id = ?", [paper.paper_id]).fetchone()
    assert row == (None,)


# --- 6. digest files sent by DM ---------------------------------------------------------------------------


def test_a_digest_file_under_a_held_write_lock_is_answered_busy_and_can_be_sent_again(
    bot: RunningBot, db_path: Path
) -> None:
    file = bot.fake.add_file("2023-02.txt", SHIPPED_DIGEST.read_bytes())
    with write_lock_held(db_path):
        send(bot, _file_event(file, "1700000002.000100"))
        [answer] = bot.fake.wait_for_calls("chat.postMessage", 1)
    assert answer.params["thread_ts"] == "1700000002.000100" and answer.params["text"].startswith(BUSY)
    assert connect(db_path).execute("SELECT count(*) FROM slack_file_loads").fetchone()[0] == 0
    send(bot, _file_event(file, "1700000003.000100"))  # sent again: loaded
    [_, loaded] = bot.fake.wait_for_calls("chat.postMessage", 2, timeout=20)
    assert "Loaded the 2023-02 digest" in loaded.params["text"]


def test_a_digest_file_the_full_disk_refuses_is_named(bot: RunningBot, db_path: Path) -> None:
    file = bot.fake.add_file("2023-02.txt", SHIPPED_DIGEST.read_bytes())
    with versions_refused_as_by_a_full_disk(db_path):
        send(bot, _file_event(file, "1700000004.000100"))
        [answer] = bot.fake.wait_for_calls("chat.postMessage", 1, timeout=20)
    assert answer.params["text"].startswith(DISK_FULL)
    assert catalog.get_digest(connect(db_path), "2023-02") is None
