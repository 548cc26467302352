"""Digest intake from Slack, over real HTTP: ``/paper load URL`` (admins), digest files sent in a DM,
Replace/Cancel, and watches with their direct messages. A loopback web server serves the pages; the fake
Slack hosts the files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from slack_sdk import WebClient

from bot import outbox
from bot.db import connect
from bot.digest.store import load_file
from bot.slack.ids import ACTION_LOAD_CANCEL, ACTION_LOAD_REPLACE
from bot.slack.watching import SETTLE_JOB, deliver_notices, settle_job, settle_unknown
from bot.watches.model import add_watch, claim_notices, record_matches, settle, stamp_sending, unsettled
from tests.conftest import DATA, SHIPPED_DIGEST
from tests.fakes.bot_server import RunningBot, bot_settings, running_bot
from tests.fakes.signing import SIGNING_SECRET, block_actions_payload, event_body, interactive_body, post
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack
from tests.fakes.web import WebServer, web_server
from tests.helpers import snapshot

ADMIN = "UADMIN"
ZH_PAGE = (DATA / "page-zh.html").read_bytes()


@pytest.fixture
def web() -> Iterator[WebServer]:
    with web_server() as server:
        yield server


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    path = tmp_path / "bot.db"
    connect(path).close()
    return path


@pytest.fixture
def bot(fake: FakeSlack, db_file: Path) -> Iterator[RunningBot]:
    with running_bot(bot_settings(fake, db_file, PAPERBOT_ADMINS=ADMIN), fake) as running:
        yield running


def text_of(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False)


def test_admin_loads_a_page_after_the_ack_and_hears_month_counts_and_titles(bot: RunningBot, web: WebServer) -> None:
    url = web.add("/post/2023-01-papers", ZH_PAGE)
    response_url = bot.fake.response_url("load")
    status, ack = bot.command(f"load <{url}>", user_id=ADMIN, response_url=response_url)
    assert status == 200 and ack["text"].startswith(f"Loading {url}")
    [reply] = bot.fake.wait_for_responses(1, response_url, timeout=20)
    text = text_of(reply)
    assert "Loaded the 2023-01 digest" in text and "10 papers: 10 added, 0 updated, 0 unchanged" in text
    assert "MusicLM: Generating Music From TextPage" in text and "(version 1)" in text
    assert [path for path in web.paths()] == ["/post/2023-01-papers"]


def test_non_admin_is_refused_before_anything_is_fetched(bot: RunningBot, web: WebServer, db_file: Path) -> None:
    url = web.add("/post/2023-01-papers", ZH_PAGE)
    before = snapshot(db_file)
    status, ack = bot.command(f"load {url}", user_id="UOTHER")
    assert status == 200 and "Only paperbot admins" in ack["text"]
    assert web.requests == [] and snapshot(db_file) == before


@pytest.mark.parametrize(
    ("text", "says"),
    [("load", "Usage"), ("load ftp://x/y", "only http"), ("load https://x/y 2023-13", "month must look like")],
)
def test_bad_load_arguments(bot: RunningBot, text: str, says: str) -> None:
    _, ack = bot.command(text, user_id=ADMIN)
    assert says in ack["text"]


def test_a_bad_page_gives_the_admin_the_same_one_line_reason(bot: RunningBot, web: WebServer, db_file: Path) -> None:
    before = snapshot(db_file)
    response_url = bot.fake.response_url("load")
    bot.command(f"load {web.url}/2023-01/missing", user_id=ADMIN, response_url=response_url)
    [reply] = bot.fake.wait_for_responses(1, response_url, timeout=20)
    assert reply["text"] == f"{web.url}/2023-01/missing: the server answered HTTP 404 Not Found"
    assert snapshot(db_file) == before


def _file_event(file: dict[str, Any], user: str = ADMIN, ts: str = "1700000001.000100") -> dict[str, Any]:
    return {
        "type": "message",
        "subtype": "file_share",
        "channel_type": "im",
        "channel": "D0ADMIN",
        "user": user,
        "ts": ts,
        "event_ts": ts,
        "text": "",
        "files": [file],
    }


def _send(bot: RunningBot, event: dict[str, Any], event_id: str | None = None) -> int:
    status, _, _ = post(bot.events_url, event_body(event, event_id=event_id), SIGNING_SECRET)
    return status


def _thread_replies(fake: FakeSlack, n: int = 1) -> list[dict[str, Any]]:
    calls = fake.wait_for_calls("chat.postMessage", n, timeout=20)
    return [call.params for call in calls]


def test_admin_sends_a_digest_file_in_a_dm_and_it_loads_once_whatever_slack_retries(
    bot: RunningBot, db_file: Path
) -> None:
    file = bot.fake.add_file("2023-01.txt", SHIPPED_DIGEST.read_bytes())
    event = _file_event(file)
    assert _send(bot, event, "Ev1") == 200
    [reply] = _thread_replies(bot.fake)
    assert reply["channel"] == "D0ADMIN" and reply["thread_ts"] == event["ts"]
    assert "Loaded the 2023-01 digest" in reply["text"]
    assert bot.fake.file_downloads[0][1] is not None and bot.fake.file_downloads[0][1].startswith("Bearer xoxb-")
    # Slack retries the same event (and may send it under a new id): nothing happens twice.
    assert _send(bot, event, "Ev1") == 200 and _send(bot, event, "Ev2") == 200
    bot.fake.wait_for(lambda: len(bot.fake.file_downloads) >= 1)
    assert len(bot.fake.calls("chat.postMessage")) == 1 and len(bot.fake.file_downloads) == 1
    rows = connect(db_file).execute("SELECT status, user_id FROM slack_file_loads").fetchall()
    assert rows == [("done", ADMIN)]
    assert connect(db_file).execute("SELECT loaded_by FROM digest_versions").fetchone()[0] == f"slack {ADMIN}"


def test_an_html_file_in_a_dm_loads(bot: RunningBot) -> None:
    file = bot.fake.add_file("digest-2023-01.html", ZH_PAGE, mimetype="text/html")
    _send(bot, _file_event(file))
    [reply] = _thread_replies(bot.fake)
    assert "Loaded the 2023-01 digest" in reply["text"] and "10 added" in reply["text"]


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("2023-01.pdf", b"%PDF-1.7", "2023-01.pdf: this is a PDF file; save the article as UTF-8 text"),
        ("2023-01.docx", b"PK\x03\x04word/", "2023-01.docx: this is a Word file"),
        ("cat.png", b"\x89PNG\r\n", "cat.png: not a digest file"),
    ],
)
def test_other_file_types_are_refused_without_download(
    bot: RunningBot, name: str, data: bytes, says: str, db_file: Path
) -> None:
    before = snapshot(db_file)
    _send(bot, _file_event(bot.fake.add_file(name, data)))
    [reply] = _thread_replies(bot.fake)
    assert reply["text"].startswith(says)
    assert bot.fake.file_downloads == []
    assert [row[2:] for row in snapshot(db_file) if row[0] != "slack_file_loads"] == [
        row[2:] for row in before if row[0] != "slack_file_loads"
    ]


def test_a_file_over_5_mib_is_refused(bot: RunningBot) -> None:
    file = bot.fake.add_file("2023-01.txt", b"x")
    file["size"] = 6 * 1024 * 1024
    _send(bot, _file_event(file))
    [reply] = _thread_replies(bot.fake)
    assert "file is too large (6.0 MiB" in reply["text"] and bot.fake.file_downloads == []


def test_slacks_sign_in_page_is_recognised(bot: RunningBot, fake: FakeSlack) -> None:
    file = fake.add_file("2023-01.txt", SHIPPED_DIGEST.read_bytes(), readable=False)
    _send(bot, _file_event(file))
    [reply] = _thread_replies(fake)
    assert reply["text"].startswith("2023-01.txt: Slack answered with its sign-in page instead of the file")


def test_non_admin_file_gets_a_polite_refusal(bot: RunningBot, db_file: Path) -> None:
    _send(bot, _file_event(bot.fake.add_file("2023-01.txt", SHIPPED_DIGEST.read_bytes()), user="UOTHER"))
    [reply] = _thread_replies(bot.fake)
    assert reply["text"].startswith("Thanks! Only paperbot admins") and bot.fake.file_downloads == []
    assert connect(db_file).execute("SELECT count(*) FROM digests").fetchone()[0] == 0


def test_a_plain_channel_file_is_not_ours(bot: RunningBot) -> None:
    event = _file_event(bot.fake.add_file("2023-01.txt", b"1. x"))
    event["channel_type"] = "channel"
    assert _send(bot, event) == 200
    assert bot.fake.calls("chat.postMessage") == []


def _truncated_january() -> bytes:
    text = SHIPPED_DIGEST.read_text(encoding="utf-8")
    return (text[: text.index("2、A Watermark")] + text[text.index("最后本文") :]).encode()


def test_a_reload_that_removes_papers_offers_replace_and_cancel(bot: RunningBot, db_file: Path) -> None:
    load_file(connect(db_file), SHIPPED_DIGEST)
    before = snapshot(db_file)
    _send(bot, _file_event(bot.fake.add_file("2023-01.txt", _truncated_january())))
    [reply] = _thread_replies(bot.fake)
    assert "would remove 9 papers from 2023-01 (A Watermark for Large Language Models;" in reply["text"]
    buttons = {e["action_id"]: e for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert set(buttons) == {ACTION_LOAD_REPLACE, ACTION_LOAD_CANCEL}
    assert [r for r in snapshot(db_file) if r[0] not in ("slack_file_loads", "staged_loads")] == [
        r for r in before if r[0] not in ("slack_file_loads", "staged_loads")
    ]
    # A non-admin's click does nothing.
    url = bot.fake.response_url("click")
    payload = block_actions_payload(ACTION_LOAD_REPLACE, buttons[ACTION_LOAD_REPLACE]["value"], user_id="UOTHER",
                                    response_url=url)  # fmt: skip
    post(bot.events_url, interactive_body(payload), SIGNING_SECRET)
    [answer] = bot.fake.wait_for_responses(1, url)
    assert "Only paperbot admins" in answer["text"]
    assert connect(db_file).execute("SELECT count(*) FROM entries").fetchone()[0] == 10

    url = bot.fake.response_url("replace")
    payload = block_actions_payload(ACTION_LOAD_REPLACE, buttons[ACTION_LOAD_REPLACE]["value"], user_id=ADMIN,
                                    response_url=url)  # fmt: skip
    post(bot.events_url, interactive_body(payload), SIGNING_SECRET)
    [answer] = bot.fake.wait_for_responses(1, url)
    assert "Replaced the 2023-01 digest" in answer["text"] and "9 removed" in answer["text"]
    assert connect(db_file).execute("SELECT count(*) FROM entries").fetchone()[0] == 1
    # A second click (or Cancel afterwards) changes nothing.
    again = bot.fake.response_url("again")
    cancel = block_actions_payload(ACTION_LOAD_CANCEL, buttons[ACTION_LOAD_CANCEL]["value"], user_id=ADMIN,
                                   response_url=again)  # fmt: skip
    post(bot.events_url, interactive_body(cancel), SIGNING_SECRET)
    [answer] = bot.fake.wait_for_responses(1, again)
    assert answer["text"] == "This load was already replaced, cancelled or expired."
    versions = connect(db_file).execute("SELECT version, action FROM digest_versions ORDER BY version").fetchall()
    assert versions == [(1, "load"), (2, "replace")]


# --- watches -------------------------------------------------------------------------------------------


def test_watch_commands(bot: RunningBot) -> None:
    _, answer = bot.command("watches", user_id="U1")
    assert "You have no watches" in answer["text"]
    assert "Watching “diffusion”" in bot.command("watch diffusion", user_id="U1")[1]["text"]
    assert "already watch" in bot.command("watch  Diffusion ", user_id="U1")[1]["text"]
    bot.command("watch 水印", user_id="U1")
    bot.command("watch carlini", user_id="U1")
    _, answer = bot.command("watches", user_id="U1")
    assert "1. diffusion" in text_of(answer) and "2. 水印" in text_of(answer) and "3. carlini" in text_of(answer)
    assert "Stopped watching “水印”" in bot.command("unwatch 2", user_id="U1")[1]["text"]
    assert "Stopped watching “carlini”" in bot.command("unwatch CARLINI", user_id="U1")[1]["text"]
    assert "no watch number 9" in bot.command("unwatch 9", user_id="U1")[1]["text"]
    for number in range(19):
        bot.command(f"watch topic{number}", user_id="U1")
    assert "You have 20 watches" in bot.command("watch one-too-many", user_id="U1")[1]["text"]
    assert "You have no watches" in bot.command("watches", user_id="U2")[1]["text"]


def test_a_load_sends_one_dm_per_watcher_and_never_the_same_paper_twice(
    bot: RunningBot, web: WebServer, db_file: Path
) -> None:
    bot.command("watch diffusion", user_id="U1")
    bot.command("watch carlini", user_id="U1")  # also matches "Extracting Training Data from Diffusion Models"
    bot.command("watch 水印", user_id="U2")
    bot.command("watch difusion", user_id="U3")  # a typo: no guesses for watches

    url = web.add("/post/2023-01", ZH_PAGE)
    response_url = bot.fake.response_url("load")
    bot.command(f"load {url}", user_id=ADMIN, response_url=response_url)
    bot.fake.wait_for_responses(1, response_url, timeout=20)
    dms = {call.params["channel"]: call.params for call in bot.fake.wait_for_calls("chat.postMessage", 2)}
    assert set(dms) == {"U1", "U2"}
    # Two of U1's watches match one paper: one DM, the paper once.
    u1 = text_of(dms["U1"])
    assert dms["U1"]["text"] == "1 new paper matching your watches"
    assert u1.count("Extracting Training Data from Diffusion Models") == 1
    assert "A Watermark for Large Language Models" in text_of(dms["U2"])

    # A reload that drops and a restore that brings papers back tell nobody again.
    db = connect(db_file)
    from bot.digest.store import load_source, restore_version
    from bot.digest.versions import Source

    load_source(db, Source("2023-01.txt", _truncated_january()), replace=True)
    restore_version(db, "2023-01", 1)

    assert record_matches(db, [row[0] for row in db.execute("SELECT id FROM papers")]) == 0
    assert len(bot.fake.calls("chat.postMessage")) == 2


def test_app_home_shows_the_users_watches(bot: RunningBot) -> None:
    bot.command("watch diffusion", user_id="U1")
    post(
        bot.events_url,
        event_body({"type": "app_home_opened", "user": "U1", "tab": "home", "event_ts": "1.1"}),
        SIGNING_SECRET,
    )
    bot.fake.wait_for_calls("views.publish", 1)
    view = bot.fake.home_view("U1")
    assert view is not None and "*Your watches*\n1. diffusion" in text_of(view).replace("\\n", "\n")


def test_cli_load_sends_the_watch_dms_when_slack_is_configured(
    fake: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.watches.model import add_watch
    from tests.fakes.slack_api import BOT_TOKEN
    from tests.helpers import run_cli

    db_path = tmp_path / "cli.db"
    add_watch(connect(db_path), "U7", "musiclm")
    monkeypatch.setenv("PAPERBOT_DB", str(db_path))
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_API_URL", fake.api_url)
    code, _, err = run_cli(capsys, "load", "--no-enrich", str(SHIPPED_DIGEST))
    assert code == 0 and "watches: 1 direct message sent" in err
    [call] = fake.calls("chat.postMessage")
    assert call.params["channel"] == "U7" and "MusicLM" in text_of(call.params)
    code, _, err = run_cli(capsys, "restore", "2023-01", "1")
    assert code == 1 and "already the current version" in err
    assert len(fake.calls("chat.postMessage")) == 1


def test_notices_recorded_without_slack_are_sent_when_the_bot_starts(
    fake: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.watches.model import add_watch
    from tests.helpers import fake_slack_env, free_port, run_cli, start_http_server, wait_until_serving

    db_path = tmp_path / "serve.db"
    add_watch(connect(db_path), "U7", "水印")
    monkeypatch.setenv("PAPERBOT_DB", str(db_path))
    code, _, err = run_cli(capsys, "load", "--no-enrich", str(SHIPPED_DIGEST))
    assert code == 0 and "watches: 1 match waiting for the bot to send (paperbot serve)" in err
    port = free_port()
    proc = start_http_server(port, env=fake_slack_env(fake, db_path), cwd=tmp_path)
    try:
        wait_until_serving(proc, port, health_path="/healthz")
        [call] = fake.wait_for_calls("chat.postMessage", 1, timeout=20)
        assert call.params["channel"] == "U7" and "A Watermark for Large Language Models" in text_of(call.params)
        # The notice is marked sent just after Slack took it: wait for that before stopping the bot.
        fake.wait_for(
            lambda: connect(db_path).execute("SELECT status FROM watch_notices").fetchall() == [("sent",)],
            timeout=20,
        )
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def _stage_truncated_january(bot: RunningBot, db_file: Path) -> str:
    """The admin sends a copy that removes papers; the value of the Replace button it gets."""
    _send(bot, _file_event(bot.fake.add_file("2023-01.txt", _truncated_january())))
    [reply] = _thread_replies(bot.fake)
    buttons = {e["action_id"]: e for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"]}
    return str(buttons[ACTION_LOAD_REPLACE]["value"])


def _click_replace(bot: RunningBot, staged: str) -> dict[str, Any]:
    url = bot.fake.response_url("replace")
    post(bot.events_url, interactive_body(block_actions_payload(ACTION_LOAD_REPLACE, staged, user_id=ADMIN,
                                                                response_url=url)), SIGNING_SECRET)  # fmt: skip
    [answer] = bot.fake.wait_for_responses(1, url)
    return answer


def test_replace_after_a_newer_load_of_the_month_is_refused_and_that_load_stands(
    bot: RunningBot, db_file: Path, tmp_path: Path
) -> None:
    load_file(connect(db_file), SHIPPED_DIGEST)
    staged = _stage_truncated_january(bot, db_file)
    edited = tmp_path / "2023-01.txt"
    edited.write_text(SHIPPED_DIGEST.read_text(encoding="utf-8").replace("超越文本的", "超越文字的"), encoding="utf-8")
    load_file(connect(db_file), edited)  # someone else loads a corrected January meanwhile
    before = snapshot(db_file)
    answer = _click_replace(bot, staged)
    assert answer["text"].startswith("2023-01 was loaded again since this load was staged (version 2, by cli")
    assert "nothing was replaced" in answer["text"]
    assert [r for r in snapshot(db_file) if r[0] != "staged_loads"] == [r for r in before if r[0] != "staged_loads"]
    assert _click_replace(bot, staged)["text"] == "This load was already replaced, cancelled or expired."


def test_a_staged_load_expires_after_a_week(bot: RunningBot, db_file: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from bot.digest.versions import STAGED_LOAD_DAYS, StaleStagedLoad, claim_staged

    load_file(connect(db_file), SHIPPED_DIGEST)
    staged = int(_stage_truncated_january(bot, db_file))
    db = connect(db_file)
    later = datetime.now(UTC) + timedelta(days=STAGED_LOAD_DAYS, minutes=1)
    with pytest.raises(StaleStagedLoad, match=r"^This load of 2023-01 was staged on .* and expired after 7 days"):
        claim_staged(db, staged, "replaced", now=later)
    assert claim_staged(db, staged, "replaced") is None  # its buttons are dead from then on
    assert db.execute("SELECT count(*) FROM entries").fetchone()[0] == 10


def _watching(tmp_path: Path, user: str) -> sqlite_utils.Database:
    """A database where ``user`` watches "watermark" and January is loaded: one notice waits to be sent."""
    db = connect(tmp_path / "watching.db")
    add_watch(db, user, "watermark")
    load_file(db, SHIPPED_DIGEST)
    return db


def test_a_watch_dm_whose_outcome_is_unknown_is_read_back_not_sent_twice_nor_lost(
    fake: FakeSlack, tmp_path: Path
) -> None:
    db = _watching(tmp_path, "U0ALICE")
    statuses = "SELECT status FROM watch_notices ORDER BY user_id"
    # Slack answers after the client gave up: the DM arrives, and the send looks failed.
    fake.delay("chat.postMessage", 0.6)
    impatient = WebClient(token=BOT_TOKEN, base_url=fake.api_url, timeout=0.3)
    assert deliver_notices(db, impatient) == 0
    assert db.execute(statuses).fetchall() == [("sending",)] and outbox.pending(db, SETTLE_JOB) == 1
    fake.wait_for(lambda: fake.messages("D0ALICE"))
    later = datetime.now(UTC) + timedelta(minutes=3)
    client = WebClient(token=BOT_TOKEN, base_url=fake.api_url)
    assert settle_unknown(db, client, now=later) == 0
    assert db.execute(statuses).fetchall() == [("sent",)]
    assert deliver_notices(db, client) == 0 and len(fake.messages("D0ALICE")) == 1

    # A run that stopped after claiming, before anything reached Slack: read back, then sent once.
    add_watch(db, "U0BOB", "watermark")
    db.execute("DELETE FROM watch_notices")

    record_matches(db, [row[0] for row in db.execute("SELECT id FROM papers")])
    [bob] = [n for n in claim_notices(db) if n.user_id == "U0BOB"]
    assert settle_unknown(db, client, now=later) == 0  # not in Bob's DM: pending again
    assert deliver_notices(db, client) == 2  # Alice's new claim and Bob's
    [message] = fake.messages("D0BOB")
    assert "A Watermark for Large Language Models" in message["text"] + str(message.get("blocks"))
    assert message["metadata"]["event_payload"]["key"].startswith("watch:U0BOB:")
    assert bob.key != message["metadata"]["event_payload"]["key"]  # claimed again, as a new message


def test_a_send_under_way_and_a_read_back_never_both_send_a_watch_dm(fake: FakeSlack, tmp_path: Path) -> None:
    db = _watching(tmp_path, "U0BOB")
    [bob] = claim_notices(db)
    long_ago = (datetime.now(UTC) - timedelta(minutes=3)).isoformat(timespec="seconds")
    status = "SELECT status FROM watch_notices"
    # A delivery claimed Bob's notice 3 minutes ago (its earlier sends were slow) and starts his send now,
    # after another delivery read his DM back and found nothing: that one's "not there" must not stand.
    db.execute("UPDATE watch_notices SET claimed_at = ?", [long_ago])
    [seen] = unsettled(db)
    assert stamp_sending(db, bob.key)
    settle(db, seen.key, "pending", claimed_at=seen.claimed_at)
    assert db.execute(status).fetchall() == [("sending",)]
    # The other order: the read-back closes it first; the slow delivery then must not send it.
    db.execute("UPDATE watch_notices SET claimed_at = ?", [long_ago])
    [seen] = unsettled(db)
    settle(db, seen.key, "pending", claimed_at=seen.claimed_at)
    assert not stamp_sending(db, bob.key)
    assert db.execute(status).fetchall() == [("pending",)]


def test_the_settle_job_retries_while_a_dm_cannot_be_read_then_gives_up_and_never_enqueues_itself(
    fake: FakeSlack, tmp_path: Path
) -> None:
    db = _watching(tmp_path, "U0BOB")
    claim_notices(db)  # a run that stopped mid-send
    db.execute("UPDATE watch_notices SET claimed_at = ?", [(datetime.now(UTC) - timedelta(minutes=3)).isoformat()])
    client = WebClient(token=BOT_TOKEN, base_url=fake.api_url)
    fake.error("conversations.history", "internal_error", times=10)
    with pytest.raises(outbox.Retry):
        settle_job(db, client)
    assert outbox.pending(db, SETTLE_JOB) == 0  # the running job is the one to try again: no new job
    assert fake.messages("D0BOB") == []
    assert settle_unknown(db, client, now=datetime.now(UTC) + timedelta(days=2)) == 0
    assert db.execute("SELECT status, error FROM watch_notices").fetchall() == [("failed", "unknown: SlackApiError")]
    fake.clear_faults()
    settle_job(db, client)  # nothing left: done


def test_a_refused_load_names_the_version_it_would_replace_as_read_in_its_own_transaction(db_file: Path) -> None:
    from bot.digest.store import RemovalRefused, load_source
    from bot.digest.versions import Source

    db = connect(db_file)
    load_file(db, SHIPPED_DIGEST)
    with pytest.raises(RemovalRefused) as refused:
        load_source(db, Source("2023-01.txt", _truncated_january()))
    assert refused.value.current_version == 1
