"""The monthly roundup: composed within Slack's limits, posted exactly once whatever fails or restarts.

Everything runs against the fake Slack Web API with the real slack_sdk client. Sleeping is injected (the
protocol's waits are recorded, not slept) and time is a parameter, so nothing depends on the wall clock.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlite_utils
from slack_sdk import WebClient

from bot.config import Settings
from bot.db import connect
from bot.digest import catalog
from bot.digest.store import load_file
from bot.roundup.compose import MAX_MESSAGE_CHARS, compose_roundup
from bot.roundup.post import (
    EVENT_TYPE,
    LEASE_SECONDS,
    PostResult,
    RoundupError,
    _process_identity,
    due_month,
    load_roundup,
    owner_name,
    post_roundup,
    roundup_state,
)
from bot.roundup.schedule import (
    cron_trigger,
    needs_catch_up,
    next_roundup_line,
    record_first_start,
    run_scheduled_roundup,
    start_scheduler,
)
from bot.slack.client import WebApiChannel
from tests.conftest import SHIPPED_DIGEST
from tests.fakes.bot_server import bot_settings, running_bot
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack
from tests.helpers import bot_process_env, run_cli, spawn_bot

CHANNEL = "C0ROUNDUP"
PARTS = 11  # headline + 10 summaries for the shipped digest


class Crash(Exception):
    """A simulated crash of the posting process."""


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    database = connect(tmp_path / "roundup.db")
    load_file(database, SHIPPED_DIGEST)
    return database


def client_for(fake: FakeSlack, timeout: float = 10) -> WebApiChannel:
    """The roundup's channel to the fake Slack, through the real slack_sdk client without retries."""
    return WebApiChannel(WebClient(token=BOT_TOKEN, base_url=fake.api_url, timeout=timeout, retry_handlers=[]))  # type: ignore[arg-type]


def post_unpaced(
    db: sqlite_utils.Database,
    fake: FakeSlack,
    *,
    owner: str,
    channel: str = CHANNEL,
    clock: Callable[[], float] = time.time,
    checkpoint: Callable[[str], None] | None = None,
) -> PostResult:
    """``post_roundup`` of 2023-01 to ``channel`` with no pause between messages and no sleeping."""
    return post_roundup(
        db,
        client_for(fake),
        "2023-01",
        channel,
        owner=owner,
        post_interval=0,
        clock=clock,
        sleep=lambda s: None,
        checkpoint=checkpoint,
    )


def posted(fake: FakeSlack, channel: str = CHANNEL) -> list[dict[str, Any]]:
    return [m for m in fake.messages(channel) if (m.get("metadata") or {}).get("event_type") == EVENT_TYPE]


def parts_of(fake: FakeSlack, channel: str = CHANNEL) -> list[int]:
    return sorted(m["metadata"]["event_payload"]["part"] for m in posted(fake, channel))


def assert_one_complete_roundup(fake: FakeSlack, db: sqlite_utils.Database, channel: str = CHANNEL) -> None:
    assert parts_of(fake, channel) == list(range(PARTS)), parts_of(fake, channel)
    messages = posted(fake, channel)
    headline = next(m for m in messages if m["metadata"]["event_payload"]["part"] == 0)
    assert all(m.get("thread_ts") == headline["ts"] for m in messages if m is not headline)
    state = roundup_state(db, "2023-01", channel)
    assert state is not None and state.status == "posted" and state.ts == headline["ts"]
    assert state.replies_posted == PARTS - 1


def test_composed_roundup_reads_well_and_fits(db: sqlite_utils.Database) -> None:
    digest = catalog.get_digest(db, "2023-01")
    assert digest is not None
    roundup = compose_roundup(digest)
    blocks = roundup.headline.blocks
    assert blocks[0]["type"] == "header" and blocks[0]["text"]["text"] == "Paper roundup — January 2023"
    text = json.dumps(roundup.headline.payload(), ensure_ascii=False)
    assert "本月的论文包括语言模型" in text
    assert "1. *<https://arxiv.org/abs/2301.11325|MusicLM" in text and "`2301.11325`" in text
    assert "扩散模型和自回归离散模型都在生成音乐/音频显示出令人印象深刻的性能。" in text  # the gist
    assert "curated by Sergi Castella i Sapé" in text and "`/paper NAME`" in text
    assert len(roundup.replies) == 10
    for reply, paper in zip(roundup.replies, digest.papers, strict=True):
        body = "".join(b["text"]["text"] for b in reply.blocks[1:]).replace("\n", "")
        assert body.replace("• ", "- ") == paper.summary.replace("\n", "").replace("&", "&amp;")
    for message in (roundup.headline, *roundup.replies):
        assert len(message.blocks) <= 50 and message.text
        assert all(len(b["text"]["text"]) <= 3000 for b in message.blocks if b["type"] == "section")


def test_a_huge_digest_is_split_not_truncated(tmp_path: Path) -> None:
    long = "很长的总结句子。" * 700  # 5,600 characters: more than a section, more than a message
    items = "".join(
        f"{n}、Paper number {n} about a long topic\nhttps://arxiv.org/abs/2305.{n:05d}\nAda Lovelace.\n{long}\n"
        for n in range(1, 61)
    )
    path = tmp_path / "huge-2023-05.txt"
    path.write_text(items, encoding="utf-8")
    database = connect(tmp_path / "huge.db")
    load_file(database, path)
    digest = catalog.get_digest(database, "2023-05")
    assert digest is not None and len(digest.papers) == 60
    roundup = compose_roundup(digest)
    everything = json.dumps([m.payload() for m in (roundup.headline, *roundup.replies)], ensure_ascii=False)
    for n in range(1, 61):
        assert f"Paper number {n} about a long topic" in everything
    for message in (roundup.headline, *roundup.replies):
        assert len(message.blocks) <= 50
        size = sum(len(b.get("text", {}).get("text", "")) for b in message.blocks)
        assert size <= MAX_MESSAGE_CHARS
        assert all(len(b["text"]["text"]) <= 3000 for b in message.blocks if b["type"] == "section")
    summary_text = "".join(
        b["text"]["text"] for m in roundup.replies for b in m.blocks if long[:20] in b["text"].get("text", "")
    )
    assert summary_text.count("很长的总结句子。") == 60 * 700


def test_posts_headline_then_summaries_in_its_thread_once(fake: FakeSlack, db: sqlite_utils.Database) -> None:
    sleeps: list[float] = []
    result = post_roundup(db, client_for(fake), "2023-01", CHANNEL, owner="test", sleep=sleeps.append)
    assert result.status == "posted" and result.replies == 10
    assert_one_complete_roundup(fake, db)
    assert sleeps == [1.0] * 10  # ~1 message per second per channel
    calls = fake.calls("chat.postMessage")
    assert calls[0].params["metadata"] == {"event_type": EVENT_TYPE, "event_payload": {"month": "2023-01", "part": 0}}
    assert all(c.params.get("unfurl_links") in (False, "false", "0", 0) for c in calls)
    again = post_roundup(db, client_for(fake), "2023-01", CHANNEL, owner="test", sleep=sleeps.append)
    assert again.status == "already" and again.ts == result.ts
    assert len(fake.calls("chat.postMessage")) == PARTS
    assert due_month(db, CHANNEL) is None


def test_scheduled_job_run_twice_posts_once(fake: FakeSlack, db: sqlite_utils.Database) -> None:
    fire = datetime(2023, 2, 1, 9, tzinfo=UTC)
    first = run_scheduled_roundup(db, client_for(fake), CHANNEL, fire, post_interval=0)
    second = run_scheduled_roundup(db, client_for(fake), CHANNEL, fire, post_interval=0)
    assert first is not None and first.status == "posted"
    assert second is None  # nothing due any more
    assert_one_complete_roundup(fake, db)


def test_two_threads_racing_post_once(fake: FakeSlack, db: sqlite_utils.Database, tmp_path: Path) -> None:
    path = tmp_path / "roundup.db"
    results: list[str] = []
    barrier = threading.Barrier(2)

    def poster(name: str) -> None:
        own = connect(path)
        barrier.wait()
        results.append(post_roundup(own, client_for(fake), "2023-01", CHANNEL, owner=name, post_interval=0).status)

    threads = [threading.Thread(target=poster, args=(f"t{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) in (["busy", "posted"], ["already", "posted"])
    assert_one_complete_roundup(fake, db)


def test_two_processes_racing_post_once(fake: FakeSlack, db: sqlite_utils.Database, tmp_path: Path) -> None:
    env = bot_process_env(
        PAPERBOT_DB=str(tmp_path / "roundup.db"),
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_API_URL=fake.api_url,
        ROUNDUP_CHANNEL=CHANNEL,
    )
    procs = [
        spawn_bot("roundup", "--post", "--month", "2023-01", env=env, cwd=tmp_path, pace_seconds=0) for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    # The loser either saw it posted (exit 0) or saw it being posted (75, EX_TEMPFAIL: check again later).
    assert sorted(proc.returncode for proc in procs) in ([0, 0], [0, 75]), outputs
    said = " ".join(out + err for out, err in outputs)
    assert said.count("posted the 2023-01 roundup") == 1
    assert ("already posted" in said) or ("another process" in said)
    assert_one_complete_roundup(fake, db)


@pytest.mark.parametrize("fault", ["429", "500", "timeout"])
@pytest.mark.parametrize("call", range(PARTS))
def test_a_fault_on_any_post_still_gives_one_complete_roundup(
    fake: FakeSlack, db: sqlite_utils.Database, fault: str, call: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps: list[float] = []
    if fault == "timeout":
        # Slack posts the message, but only after the client gave up: the poster must find it, not resend.
        fake.delay("chat.postMessage", 0.45, after=call)
        client = client_for(fake, timeout=0.3)

        def sleep(seconds: float) -> None:
            # The backoff lasts until Slack has posted the late message (what the real backoff waits for),
            # not a guessed number of seconds.
            sleeps.append(seconds)
            if seconds > 0:  # not the pace between messages (0 here)
                fake.wait_for_calls("chat.postMessage", call + 1)
    else:
        fake.fail("chat.postMessage", status=int(fault), retry_after=7, after=call)
        client = client_for(fake)
        sleep = sleeps.append
    result = post_roundup(db, client, "2023-01", CHANNEL, owner="test", post_interval=0, sleep=sleep)
    assert result.status == "posted", result
    made = len(fake.calls("chat.postMessage"))
    fake.wait_for_calls("chat.postMessage", made, timeout=5)  # every request answered, delayed ones too
    assert_one_complete_roundup(fake, db)
    if fault == "429":
        assert 7.0 in sleeps  # Retry-After honoured
    if fault == "timeout":
        assert any(seconds > 0 for seconds in sleeps)  # the timed-out post was waited for, then found


STEPS = ["claimed", "sent 0", "headline", *[s for n in range(1, 11) for s in (f"sent {n}", f"reply {n}")], "complete"]


@pytest.mark.parametrize("step", STEPS)
def test_a_crash_at_any_step_resumes_without_duplicates(fake: FakeSlack, db: sqlite_utils.Database, step: str) -> None:
    def crash_at(current: str) -> None:
        if current == step:
            raise Crash(step)

    clock = [1_700_000_000.0]
    with pytest.raises(Crash):
        post_unpaced(db, fake, owner="first", clock=lambda: clock[0], checkpoint=crash_at)
    # While the crashed poster's lease runs, nobody else posts.
    busy = post_unpaced(db, fake, owner="second", clock=lambda: clock[0] + 1)
    assert busy.status in ("busy", "already")
    clock[0] += LEASE_SECONDS + 1
    resumed = post_unpaced(db, fake, owner="second", clock=lambda: clock[0])
    assert resumed.status in ("posted", "already")
    assert_one_complete_roundup(fake, db)


@pytest.mark.parametrize(("channel", "reason"), [("C404", "does not exist"), ("C0NOTIN", "not in channel")])
def test_a_channel_that_does_not_exist_or_lacks_the_bot(
    fake: FakeSlack, db: sqlite_utils.Database, channel: str, reason: str
) -> None:
    fake.not_in_channel.add("C0NOTIN")
    result = post_unpaced(db, fake, owner="test", channel=channel)
    assert result.status == "failed" and reason in (result.error or "")
    state = roundup_state(db, "2023-01", channel)
    assert state is not None and state.status == "failed" and reason in state.describe()
    assert "still due" in state.describe()
    assert due_month(db, channel) == "2023-01"
    assert len(fake.calls("chat.postMessage")) == 1  # not hammered: a permanent error is not retried


def test_no_digest_for_the_month(fake: FakeSlack, db: sqlite_utils.Database) -> None:
    with pytest.raises(RoundupError, match="no digest for 1999-01"):
        post_roundup(db, client_for(fake), "1999-01", CHANNEL, owner="test")


def test_a_missed_schedule_is_caught_up_once_at_start(
    fake: FakeSlack, db: sqlite_utils.Database, tmp_path: Path
) -> None:
    settings = Settings(
        {
            "PAPERBOT_DB": str(tmp_path / "roundup.db"),
            "ROUNDUP_CHANNEL": CHANNEL,
            "ROUNDUP_SCHEDULE": "0 9 1 * *",
            "ROUNDUP_TIMEZONE": "Europe/Paris",
        }
    )
    trigger = cron_trigger("0 9 1 * *", settings.roundup_timezone)
    now = datetime(2023, 2, 15, 12, tzinfo=UTC)
    record_first_start(db, CHANNEL, datetime(2023, 1, 20, tzinfo=UTC))  # installed before the 1 Feb fire
    missed = needs_catch_up(db, CHANNEL, trigger, now)
    assert missed is not None and missed.isoformat() == "2023-02-01T09:00:00+01:00"
    scheduler = start_scheduler(settings, lambda: client_for(fake), now=lambda: now, post_interval=0)
    assert scheduler is not None
    try:
        fake.wait_for(lambda: len(posted(fake)) == PARTS, timeout=20)
        job = scheduler.get_job("monthly_roundup")
        assert job is not None and job.next_run_time is not None
    finally:
        scheduler.shutdown(wait=True)
    assert_one_complete_roundup(fake, db)
    assert needs_catch_up(db, CHANNEL, trigger, now) is None
    restarted = start_scheduler(settings, lambda: client_for(fake), now=lambda: now, post_interval=0)
    assert restarted is not None
    restarted.shutdown(wait=True)
    assert len(posted(fake)) == PARTS


def test_the_first_start_waits_for_the_next_fire_time(
    fake: FakeSlack, db: sqlite_utils.Database, tmp_path: Path
) -> None:
    """A new install never posts to the team at once: the fire time before it was installed is not missed."""
    settings = Settings({"PAPERBOT_DB": str(tmp_path / "roundup.db"), "ROUNDUP_CHANNEL": CHANNEL})
    trigger = cron_trigger("0 9 1 * *", ZoneInfo("UTC"))
    now = datetime(2023, 2, 15, 12, tzinfo=UTC)
    assert needs_catch_up(db, CHANNEL, trigger, now) is None  # never started: nothing was missed
    scheduler = start_scheduler(settings, lambda: client_for(fake), now=lambda: now, post_interval=0)
    assert scheduler is not None
    try:
        assert [job.id for job in scheduler.get_jobs()] == ["monthly_roundup"]  # no catch-up job
    finally:
        scheduler.shutdown(wait=True)
    assert posted(fake) == []
    assert next_roundup_line(settings, now) == "next roundup: 2023-03-01 09:00 UTC, month 2023-01, to C0ROUNDUP"
    # Down over the 1 March fire time: that one was missed while installed, and is caught up.
    later = datetime(2023, 3, 2, tzinfo=UTC)
    assert needs_catch_up(db, CHANNEL, trigger, later) is not None


def test_no_channel_no_scheduler(tmp_path: Path) -> None:
    assert start_scheduler(Settings({"PAPERBOT_DB": str(tmp_path / "x.db")}), lambda: client_for(FakeSlack())) is None


def test_cli_prints_posts_and_reports(
    fake: FakeSlack,
    db: sqlite_utils.Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PAPERBOT_DB", str(tmp_path / "roundup.db"))
    code, out, _ = run_cli(capsys, "roundup")
    assert code == 0 and out.startswith("Paper roundup — January 2023")
    assert "thread reply 10/10" in out and "has not been posted anywhere yet" in out
    code, _, err = run_cli(capsys, "roundup", "--post")
    assert code == 1 and "ROUNDUP_CHANNEL is not set" in err
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_API_URL", fake.api_url)
    code, _, err = run_cli(capsys, "roundup", "--post", "--channel", "C404")
    assert code == 1 and "does not exist" in err and len(err.strip().splitlines()) == 1
    code, out, _ = run_cli(capsys, "roundup", "--month", "2023-01")
    assert "attempt 1 failed" in out and "still due" in out
    monkeypatch.setenv("ROUNDUP_CHANNEL", CHANNEL)
    monkeypatch.setattr("bot.roundup.post.PACE_SECONDS", 0.0)
    code, out, _ = run_cli(capsys, "roundup", "--post")
    assert code == 0 and "posted the 2023-01 roundup to C0ROUNDUP" in out
    code, out, _ = run_cli(capsys, "roundup", "--post")
    assert code == 0 and "already posted" in out
    assert_one_complete_roundup(fake, db)


def test_slack_preview_and_admin_only_post(fake: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "slack.db"
    load_file(connect(path), SHIPPED_DIGEST)
    settings = bot_settings(fake, path, PAPERBOT_ADMINS="UADMIN", ROUNDUP_CHANNEL=CHANNEL)
    monkeypatch.setattr("bot.roundup.post.PACE_SECONDS", 0.0)
    with running_bot(settings, fake) as running:
        _, preview = running.command("roundup")
        assert preview["response_type"] == "ephemeral"
        assert preview["blocks"][0]["text"]["text"] == "Paper roundup — January 2023"
        assert "Preview, only you see this" in json.dumps(preview, ensure_ascii=False)
        _, refused = running.command("roundup post", user_id="U0NOBODY")
        assert "Only paperbot admins" in refused["text"]
        assert fake.calls("chat.postMessage") == []
        response_url = fake.response_url("admin")
        _, accepted = running.command("roundup post 2023-01", user_id="UADMIN", response_url=response_url)
        assert accepted["text"] == f"Posting the 2023-01 roundup to <#{CHANNEL}>…"
        [done] = fake.wait_for_responses(1, response_url, timeout=20)
        assert "posted the 2023-01 roundup" in done["text"]
        _, status = running.command("roundup")
        assert "posted to C0ROUNDUP" in json.dumps(status, ensure_ascii=False)
    assert parts_of(fake) == list(range(PARTS))


def test_a_claim_held_by_a_dead_process_on_this_host_is_taken_over_at_once(
    fake: FakeSlack, db: sqlite_utils.Database
) -> None:
    def crash_at(step: str) -> None:
        if step == "reply 3":
            raise Crash(step)

    with pytest.raises(Crash):
        post_unpaced(db, fake, owner="first", checkpoint=crash_at)
    host = socket.gethostname()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    identity = _process_identity(other.pid)
    assert identity is not None
    namespace, started = identity.split(".")
    try:
        # Alive, or in another PID namespace (a container with the same hostname): wait for the lease.
        for holder in (f"scheduler@{host}:{other.pid}:{identity}", f"scheduler@{host}:{other.pid}:1.{started}"):
            db.execute("UPDATE roundup_posts SET claimed_by = ?", [holder])
            assert post_unpaced(db, fake, owner="restarted").status == "busy"
    finally:
        other.kill()
        other.wait()
    # The lease is still valid, but its holder is gone (or its PID now names a later process, e.g. a
    # restarted bot that is PID 1 again): a restarted bot finishes the thread now.
    db.execute("UPDATE roundup_posts SET claimed_by = ?", [f"scheduler@{host}:{os.getpid()}:{namespace}.1"])
    resumed = post_unpaced(db, fake, owner="restarted")
    assert resumed.status == "posted"
    assert_one_complete_roundup(fake, db)


def test_a_busy_month_is_caught_up_and_retried(fake: FakeSlack, db: sqlite_utils.Database) -> None:
    trigger = cron_trigger("0 9 1 * *", ZoneInfo("UTC"))
    now = datetime(2023, 2, 15, tzinfo=UTC)
    db.execute(
        "INSERT INTO roundup_schedule_runs (channel, fire_time, month, outcome, ran_at) VALUES (?, ?, ?, ?, ?)",
        [CHANNEL, datetime(2023, 2, 1, 9, tzinfo=ZoneInfo("UTC")).isoformat(), "2023-01", "busy", "x"],
    )
    record_first_start(db, CHANNEL, datetime(2023, 1, 1, tzinfo=UTC))
    assert needs_catch_up(db, CHANNEL, trigger, now) is not None


def test_a_failed_roundup_that_posted_nothing_is_recomposed_from_the_current_digest(
    fake: FakeSlack, db: sqlite_utils.Database, tmp_path: Path
) -> None:
    fake.not_in_channel.add(CHANNEL)
    assert post_unpaced(db, fake, owner="first").status == "failed"
    edited = tmp_path / "digest-2023-01.txt"
    edited.write_text(SHIPPED_DIGEST.read_text(encoding="utf-8").replace("TextPage", "Text"), encoding="utf-8")
    load_file(db, edited)
    fake.not_in_channel.discard(CHANNEL)
    assert post_unpaced(db, fake, owner="second").status == "posted"
    headline = json.dumps(posted(fake)[0], ensure_ascii=False)
    assert "MusicLM: Generating Music From Text>" in headline and "TextPage" not in headline


def test_a_headline_slack_took_unbeknown_to_us_keeps_its_own_thread(
    fake: FakeSlack, db: sqlite_utils.Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.roundup.post.BACKOFF_SECONDS", (0.0,))
    fake.delay("chat.postMessage", 0.6)  # Slack posts the headline after the client gave up…
    fake.fail("conversations.history", status=500, times=10)  # …and cannot be asked whether it did
    first = post_roundup(
        db, client_for(fake, timeout=0.3), "2023-01", CHANNEL, owner="t", post_interval=0, sleep=lambda s: None
    )
    assert first.status == "failed"
    fake.wait_for_calls("chat.postMessage", 1)
    fake.clear_faults()
    edited = tmp_path / "digest-2023-01.txt"
    edited.write_text(SHIPPED_DIGEST.read_text(encoding="utf-8").replace("TextPage", "Text"), encoding="utf-8")
    load_file(db, edited)
    assert post_unpaced(db, fake, owner="second").status == "posted"
    assert_one_complete_roundup(fake, db)
    thread = json.dumps(posted(fake), ensure_ascii=False)
    assert "TextPage" in thread and "Generating Music From Text>" not in thread  # one roundup, not a mix


def test_a_busy_scheduled_run_is_retried_after_the_lease(
    fake: FakeSlack, db: sqlite_utils.Database, tmp_path: Path
) -> None:
    def crash_at(step: str) -> None:
        if step == "claimed":
            raise Crash(step)

    with pytest.raises(Crash):  # a live holder (this process) keeps the month: the scheduler finds it busy
        post_unpaced(db, fake, owner=owner_name("admin U1"), checkpoint=crash_at)
    settings = Settings({"PAPERBOT_DB": str(tmp_path / "roundup.db"), "ROUNDUP_CHANNEL": CHANNEL})
    now = datetime(2023, 2, 15, 12, tzinfo=UTC)
    record_first_start(db, CHANNEL, datetime(2023, 1, 1, tzinfo=UTC))
    scheduler = start_scheduler(settings, lambda: client_for(fake), now=lambda: now, post_interval=0)
    assert scheduler is not None
    try:
        retry = fake.wait_for(
            lambda: [
                j for j in scheduler.get_jobs() if j.id not in ("monthly_roundup",) and j.kwargs.get("retry") == 1
            ],
            timeout=10,
        )
        wait = (retry[0].next_run_time - datetime.now(UTC)).total_seconds()
        assert LEASE_SECONDS < wait <= LEASE_SECONDS + 31
    finally:
        scheduler.shutdown(wait=True)
    assert posted(fake) == []


def test_an_answer_without_a_ts_is_not_recorded_as_posted(fake: FakeSlack, db: sqlite_utils.Database) -> None:
    """Slack's answer must carry ``ok: true`` and a ``ts``; anything else leaves the month due."""
    fake.set_handler("chat.postMessage", lambda params: {"ok": True})
    result = post_unpaced(db, fake, owner="test")
    assert result.status == "failed" and "no message ts" in (result.error or "")
    state = roundup_state(db, "2023-01", CHANNEL)
    assert state is not None and state.status == "failed" and state.ts is None
    assert due_month(db, CHANNEL) == "2023-01"
    fake.set_handler("chat.postMessage", None)
    assert post_unpaced(db, fake, owner="test").status == "posted"
    assert_one_complete_roundup(fake, db)


def test_markdown_emphasis_in_a_summary_shows_as_slack_formatting(tmp_path: Path) -> None:
    """Markdown digests load now: their emphasis and links read as Slack's in the headline and the thread."""
    digest = tmp_path / "digest-2023-05.txt"
    digest.write_text(
        "1、Bold Claims: A Study\nhttps://arxiv.org/abs/2305.01234\nAda Lovelace, Alan Turing\n"
        "A **bold** claim with [a link](https://example.com/x). More follows.\n",
        encoding="utf-8",
    )
    database = connect(tmp_path / "md.db")
    load_file(database, digest)
    roundup = load_roundup(database, "2023-05")
    shown = json.dumps([roundup.headline.payload(), *(reply.payload() for reply in roundup.replies)])
    assert "*bold*" in shown and "<https://example.com/x|a link>" in shown
    assert "**bold**" not in shown and "](https://example.com/x)" not in shown
