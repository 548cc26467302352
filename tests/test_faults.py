"""Under faults, driven from outside: ``paperbot serve --http`` in a subprocess against the fake Slack and
the fake arXiv, with Slack's 3 s as the HTTP client's timeout. A user's action is recorded before the ack
or the ack says it was not; work after the ack survives arXiv hanging, a restart and a full disk; the
database is never silently replaced.

Each test prints its acks' p50/max and the actions lost (``pytest -s`` shows them; ``bench/bench_faults.py``
prints the same figures for all faults at once).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.db import connect
from bot.digest.store import load_file
from bot.slack.ids import ACTION_OPEN, ACTION_VOTE
from tests.conftest import SHIPPED_DIGEST
from tests.fakes.arxiv_api import FakeArxivAPI
from tests.fakes.slack_api import FakeSlack
from tests.fault_driver import (
    SLACK_ACK_SECONDS,
    Bot,
    cards,
    fill_disk,
    mount_tmpfs,
    rows,
    running,
    suggestion_ids,
    unmount,
    votes,
    wait_until,
    write_lock_held,
)

SUGGESTED = "suggested for the next roundup"
BUSY = "paperbot is busy, try again in a moment"
UNAVAILABLE = "paperbot's database is unavailable"
DISK_FULL = "paperbot's disk is full"
TITLE = "Synthetic Study"


@pytest.fixture
def digest_db(tmp_path: Path) -> Path:
    path = tmp_path / "faults.db"
    load_file(connect(path), SHIPPED_DIGEST)
    return path


def _paper_id(db_path: Path) -> int:
    return int(rows(db_path, "SELECT paper_id FROM entries ORDER BY position LIMIT 1")[0][0])


def _titled_cards(fake: FakeSlack, wanted: dict[str, int]) -> bool:
    shown = cards(fake)
    return all(
        len(shown.get(sid, [])) == 1 and TITLE in shown[sid][0]["text"] and arxiv_id in shown[sid][0]["text"]
        for arxiv_id, sid in wanted.items()
    )


def _pending(db_path: Path, kind: str) -> int:
    return int(rows(db_path, "SELECT count(*) FROM outbox WHERE kind = ? AND status = 'pending'", kind)[0][0])


def _outbox_stopped_by_full_disk(log: str) -> bool:
    return any("outbox (arxiv)" in line and "is full" in line for line in log.splitlines())


def _report(name: str, bot: Bot, lost: int) -> None:
    kinds = sorted({a.kind for a in bot.acks.acks})
    print(f"\n{name}: " + "; ".join(f"{kind} {bot.acks.summary(kind)}" for kind in kinds) + f"; actions lost {lost}")


# --- arXiv accepts and never answers ----------------------------------------------------------------------


@pytest.mark.slow(seconds=7)
def test_arxiv_hangs_votes_and_open_answer_and_a_restart_gives_every_suggestion_its_card(
    tmp_path: Path, digest_db: Path
) -> None:
    ids = [f"2305.{10001 + n}" for n in range(9)]
    with FakeSlack() as fake, FakeArxivAPI(synthetic=True) as arxiv:
        arxiv.fail_always("hang")
        with running(fake, digest_db, tmp_path, ARXIV_API_URL=arxiv.url) as bot:
            with ThreadPoolExecutor(max_workers=9) as pool:
                suggested = list(pool.map(lambda n: bot.suggest(ids[n], f"US{n}"), range(9)))
            wait_until(arxiv.hanging, 10, "a follow-up waiting on the hung arXiv")
            by_id = suggestion_ids(digest_db)
            paper = _paper_id(digest_db)
            with ThreadPoolExecutor(max_workers=13) as pool:
                voting = [
                    pool.submit(bot.click, ACTION_VOTE, str(by_id[ids[n % 9]]), f"UV{n}", "vote") for n in range(10)
                ]
                opening = [pool.submit(bot.click, ACTION_OPEN, str(paper), f"UO{n}", "open") for n in range(3)]
                voted = [f.result() for f in voting]
                opened = [f.result() for f in opening]
            # Open answers through its response_url while arXiv still hangs (Slack's budget as the bound).
            for ack in opened:
                fake.wait_for_responses(1, ack.response_url, timeout=SLACK_ACK_SECONDS)
            assert arxiv.hanging()
            assert bot.acks.missed() == []
            assert all(SUGGESTED in ack.answer.get("text", "") for ack in suggested)
            # Every vote is in the database as soon as it was acked.
            counted = votes(digest_db)
            assert {(by_id[ids[n % 9]], f"UV{n}") for n in range(10)} <= counted
            assert all(not fake.responses(ack.response_url) for ack in voted)  # nothing to apologise for
            # A waiting suggester's lookup gets 5 s, then the card goes out with what is known.
            early = fake.wait_for(lambda: [r for a in suggested for r in fake.responses(a.response_url)], timeout=30)
            assert "arXiv did not answer; the title will appear" in early[0]["text"]
            untitled = wait_until(lambda: cards(fake), 5, "a card without its title")
            assert all(TITLE not in found[0]["text"] for found in untitled.values())
            # SIGTERM while the arXiv lane hangs, once no message to a user is half-sent: this branch's serve
            # dies at once on SIGTERM, and a message sent just before the kill is sent again at restart.
            wait_until(lambda: not _pending(digest_db, "user.notify"), 10, "messages to users sent")
            bot.stop(signal.SIGTERM)
        arxiv.release()
        with running(fake, digest_db, tmp_path, ARXIV_API_URL=arxiv.url):
            wait_until(lambda: _titled_cards(fake, by_id), 60, "every suggestion's card with its title")
            wait_until(lambda: all(fake.responses(a.response_url) for a in suggested), 10, "every suggester told")
        for ack in suggested:
            told = fake.responses(ack.response_url)
            assert len(told) == 1 and "card" in told[0]["text"], told
    lost = 9 - len(by_id) + sum(1 for n in range(10) if (by_id[ids[n % 9]], f"UV{n}") not in counted)
    _report("arXiv hangs", bot, lost)
    assert lost == 0


# --- another process holds the write lock --------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("hold_seconds", [5, pytest.param(40, marks=pytest.mark.slow(seconds=42))])
def test_a_write_lock_held_elsewhere_never_delays_an_ack_and_every_user_hears_the_truth(
    tmp_path: Path, digest_db: Path, hold_seconds: int
) -> None:
    with (
        FakeSlack() as fake,
        FakeArxivAPI(synthetic=True) as arxiv,
        running(fake, digest_db, tmp_path, ARXIV_API_URL=arxiv.url) as bot,
    ):
        assert SUGGESTED in bot.suggest("2305.20000", "UFIRST").answer["text"]
        target = suggestion_ids(digest_db)["2305.20000"]
        wait_until(lambda: cards(fake).get(target), 10, "the first card")
        suggested: dict[str, str] = {}
        voted = []
        with write_lock_held(digest_db, hold_seconds) as holder:
            round_ = 0
            while holder.poll() is None:  # rounds of 10 suggestions, 2 votes and 6 searches at once
                with ThreadPoolExecutor(max_workers=18) as pool:
                    wanted = [f"2305.{21000 + round_ * 10 + n}" for n in range(10)]
                    asks = [pool.submit(bot.suggest, a, f"US{round_}x{n}") for n, a in enumerate(wanted)]
                    clicks = [
                        pool.submit(bot.click, ACTION_VOTE, str(target), f"UV{round_}x{n}", "vote") for n in range(2)
                    ]
                    reads = [pool.submit(bot.command, "musiclm", f"UR{n}") for n in range(6)]
                    suggested.update((a, f.result().answer.get("text", "")) for a, f in zip(wanted, asks, strict=True))
                    voted += [f.result() for f in clicks]
                    assert all("MusicLM" in str(f.result().answer) for f in reads)
                round_ += 1
        assert bot.acks.missed() == []
        # The truth: "suggested" means recorded (its card follows), "busy" means nothing was recorded.
        assert all(SUGGESTED in text or BUSY in text for text in suggested.values()), suggested
        recorded = suggestion_ids(digest_db)
        said = {a for a, text in suggested.items() if SUGGESTED in text}

        # A vote is recorded, or its user is told "busy" (a button's ack shows nothing itself).
        def votes_unaccounted() -> int:
            busy = sum(1 for ack in voted for r in fake.responses(ack.response_url) if BUSY in r.get("text", ""))
            count = rows(digest_db, "SELECT count(*) FROM votes WHERE suggestion_id = ?", target)[0][0]
            return int(1 + len(voted) - busy - count)

        with contextlib.suppress(AssertionError):
            wait_until(lambda: votes_unaccounted() == 0, 10, "each vote recorded or its user told 'busy'")
        lost = len(said - set(recorded)) + votes_unaccounted()
        _report(f"write lock held {hold_seconds} s", bot, lost)
        assert said == set(recorded) - {"2305.20000"}
        assert lost == 0
        wait_until(lambda: all(cards(fake).get(sid) for sid in recorded.values()), 30, "every recorded card")


# --- the database file deleted or replaced under the running bot -------------------------------------------


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_database_deleted_or_replaced_under_serve_is_never_recreated_and_healthz_fails(
    tmp_path: Path, digest_db: Path, how: str
) -> None:
    with (
        FakeSlack() as fake,
        FakeArxivAPI(synthetic=True) as arxiv,
        running(fake, digest_db, tmp_path, ARXIV_API_URL=arxiv.url) as bot,
    ):
        assert SUGGESTED in bot.suggest("2305.30000", "U1").answer["text"]
        target = suggestion_ids(digest_db)["2305.30000"]
        wait_until(lambda: cards(fake).get(target), 10, "the first card")
        assert bot.health()[0] == 200
        if how == "deleted":
            digest_db.unlink()
        else:  # another file at the same path (a restored backup, a second `paperbot load` elsewhere)
            copy = tmp_path / "other.db"
            shutil.copyfile(digest_db, copy)
            os.replace(copy, digest_db)
        replacement = None if how == "deleted" else digest_db.stat().st_ino
        read = bot.command("musiclm", "U2")
        suggested = bot.suggest("2305.30001", "U3")
        voted = bot.click(ACTION_VOTE, str(target), "U4", "vote")
        assert bot.acks.missed() == []
        assert UNAVAILABLE in read.answer["text"] and UNAVAILABLE in suggested.answer["text"]
        fake.wait_for(
            lambda: any(UNAVAILABLE in r.get("text", "") for r in fake.responses(voted.response_url)), timeout=15
        )
        status, body = bot.health()
        assert status == 503 and "PAPERBOT_DB" in body
        assert ("deleted" if how == "deleted" else "replaced") in body
        if how == "deleted":
            assert not digest_db.exists()  # no new, empty database in its place
        else:
            assert digest_db.stat().st_ino == replacement
            assert "2305.30001" not in suggestion_ids(digest_db)
        wait_until(lambda: "stopped using it and will not create a new one" in bot.log(), 15, "the log line")
    _report(f"database {how}", bot, 0)


# --- a full disk ------------------------------------------------------------------------------------------


@pytest.mark.slow(seconds=12)
def test_a_full_disk_is_named_reads_go_on_and_follow_ups_finish_once_space_is_back(tmp_path: Path) -> None:
    volume = tmp_path / "volume"
    if not mount_tmpfs(volume, "3m"):
        pytest.skip("a 3 MB tmpfs cannot be mounted here (needs root)")
    try:
        db_path = volume / "paperbot.db"
        load_file(connect(db_path), SHIPPED_DIGEST)
        with FakeSlack() as fake, FakeArxivAPI(synthetic=True) as arxiv:
            arxiv.fail_always("503")  # the first card goes out without a title; its follow-up keeps trying
            with running(fake, db_path, tmp_path, ARXIV_API_URL=arxiv.url) as bot:
                assert SUGGESTED in bot.suggest("2305.40000", "U1").answer["text"]
                first = suggestion_ids(db_path)["2305.40000"]
                wait_until(lambda: cards(fake).get(first), 15, "the first card, without its title yet")
                assert TITLE not in cards(fake)[first][0]["text"]
                # The background loop gave up for this hour: only the suggestion's own follow-up brings the title.
                wait_until(lambda: "background enrichment stopped early" in bot.log(), 15, "the loop's first pass")
                filler = fill_disk(volume)
                arxiv.fail_always(None)
                answers: dict[str, str] = {}
                for n in range(200):  # until the disk refuses one (SQLite may first reuse its log's space)
                    arxiv_id = f"2305.{40001 + n}"
                    answers[arxiv_id] = bot.suggest(arxiv_id, f"UF{n}").answer.get("text", "")
                    assert SUGGESTED in answers[arxiv_id] or DISK_FULL in answers[arxiv_id], answers[arxiv_id]
                    if DISK_FULL in answers[arxiv_id]:
                        break
                assert DISK_FULL in answers[arxiv_id]
                assert "MusicLM" in str(bot.command("musiclm", "UR").answer)  # reads keep working
                assert bot.acks.missed() == []
                # The first suggestion's follow-up runs again meanwhile, and the full disk stops it too.
                wait_until(lambda: _outbox_stopped_by_full_disk(bot.log()), 30, "the follow-up stopped by the disk")
                filler.unlink()
                recorded = suggestion_ids(db_path)
                said = {a for a, text in answers.items() if SUGGESTED in text}
                assert set(recorded) == {"2305.40000"} | said
                wait_until(lambda: TITLE in cards(fake).get(first, [{"text": ""}])[0]["text"], 60, "the title")
                wait_until(lambda: all(cards(fake).get(sid) for sid in recorded.values()), 60, "every card")
                assert all(len(found) == 1 for found in cards(fake).values())
                assert "is full" in bot.log() and "free space on its volume" in bot.log()
        _report("disk full", bot, len(said) + 1 - len(recorded))
    finally:
        unmount(volume)
