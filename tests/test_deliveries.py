"""The record behind "exactly one answer per message", and the arXiv misses the unfurls remember."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.arxiv import cache
from bot.db import connect, thread_db
from bot.slack import deliveries
from bot.slack.deliveries import claim_message, claim_unfurl

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def test_the_first_delivery_of_a_message_claims_it(tmp_path: Path) -> None:
    db = connect(tmp_path / "d.db")
    assert claim_message(db, "T1", "C1", "1.1", event_type="app_mention", event_id="Ev1", user_id="U1")
    assert not claim_message(db, "T1", "C1", "1.1", event_type="message", event_id="Ev2", user_id="U1")
    assert claim_message(db, "T1", "C2", "1.1", event_type="message")  # another channel, another message
    assert claim_message(db, "T2", "C1", "1.1", event_type="message")  # another workspace
    # Unfurls are recorded apart: a message with a mention and a link gets both answers.
    assert claim_unfurl(db, "T1", "C1", "1.1") and not claim_unfurl(db, "T1", "C1", "1.1")
    row = db.execute(
        "SELECT event_type, event_id FROM handled_messages WHERE channel = 'C1' AND team = 'T1'"
    ).fetchone()
    assert row == ("app_mention", "Ev1")


def test_concurrent_deliveries_claim_a_message_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    connect(path).close()

    def claim(index: int) -> bool:
        return claim_message(thread_db(path), "T1", "C1", "9.9", event_type="message", event_id=f"Ev{index}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(claim, range(40)))
    assert results.count(True) == 1


def test_old_records_are_pruned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = connect(tmp_path / "d.db")
    claim_message(db, "T1", "C1", "1.1", event_type="message", now=T0)
    claim_unfurl(db, "T1", "C1", "1.1", now=T0)
    monkeypatch.setattr(deliveries, "PRUNE_EVERY", 1)
    later = T0 + deliveries.KEEP + timedelta(minutes=1)
    claim_message(db, "T1", "C1", "2.2", event_type="message", now=later)
    claim_unfurl(db, "T1", "C1", "2.2", now=later)
    assert [r[0] for r in db.execute("SELECT ts FROM handled_messages")] == ["2.2"]
    assert [r[0] for r in db.execute("SELECT ts FROM handled_unfurls")] == ["2.2"]


def test_arxiv_misses_are_remembered_for_a_day(tmp_path: Path) -> None:
    db = connect(tmp_path / "d.db")
    cache.record_misses(db, ["2312.99999"], now=T0)
    assert cache.recent_misses(db, ["2312.99999", "2301.11325"], now=T0 + timedelta(hours=23)) == {"2312.99999"}
    assert cache.recent_misses(db, ["2312.99999"], now=T0 + cache.MISS_TTL + timedelta(minutes=1)) == set()
    cache.record_misses(db, ["2312.99999"], now=T0 + timedelta(days=2))  # asked again: remembered anew
    assert cache.recent_misses(db, ["2312.99999"], now=T0 + timedelta(days=2, hours=1)) == {"2312.99999"}


def test_lazy_listener_copies_share_the_web_api_client(tmp_path: Path) -> None:
    import copy

    from bot.config import Settings
    from bot.slack.app import make_web_client

    client = make_web_client(Settings(values={"SLACK_BOT_TOKEN": "xoxb-1", "PAPERBOT_DB": str(tmp_path / "x.db")}))
    context = {"client": client, "nested": [client]}
    copied = copy.deepcopy(context)
    assert copied["client"] is client and copied["nested"][0] is client and copied["nested"] is not context["nested"]
