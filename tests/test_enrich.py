"""`paperbot enrich` and enrichment after `paperbot load`, against the fake arXiv API: the shipped digest
ends complete and correct, requests are batched and spaced, and no fault loses or blanks what is stored."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import bot.arxiv.client
from bot.arxiv.client import ArxivClient, ArxivEntry, ArxivUnavailable, RateLimiter
from bot.arxiv.enrich import enrich_ids, enrich_pending, run_background_enrichment, store_entries
from bot.config import load_settings
from bot.db import connect, write_transaction
from tests.conftest import SHIPPED_DIGEST
from tests.fakes.arxiv_api import FAULTS, FakeArxivAPI
from tests.helpers import gaps, run_cli, run_cli_system_exit, snapshot

DELAY = 0.05


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeArxivAPI]:
    with FakeArxivAPI() as fake:
        monkeypatch.setenv("ARXIV_API_URL", fake.url)
        monkeypatch.setenv("ARXIV_DELAY_SECONDS", str(DELAY))
        yield fake


def papers(path: Path) -> list[dict[str, object]]:
    db = connect(path)
    return list(
        db.query(
            "SELECT e.position, e.title AS digest_title, e.authors AS digest_authors, p.arxiv_id, p.id_source,"
            " p.enrich_status, p.enrich_detail, p.enrich_attempts, a.title, a.authors, a.abstract, a.doi,"
            " a.journal_ref, a.latest_version, a.categories, a.primary_category, a.published, a.abs_url"
            " FROM entries e JOIN papers p ON p.id = e.paper_id LEFT JOIN arxiv_entries a ON a.arxiv_id = p.arxiv_id"
            " ORDER BY e.month, e.position"
        )
    )


def load(capsys: pytest.CaptureFixture[str], *paths: Path, enrich: bool = False) -> None:
    code, _, err = run_cli(capsys, "load", *map(str, paths), *([] if enrich else ["--no-enrich"]))
    assert code == 0, err


SUMMARY_ALL = "enriched 10, resolved by title 2, not found 0, unresolved 0, failed 0, pending 0"


# --- the shipped digest --------------------------------------------------------------------------------


def test_shipped_digest_ends_fully_enriched(
    api: FakeArxivAPI, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    load(capsys, SHIPPED_DIGEST)
    assert api.requests == []
    code, out, err = run_cli(capsys, "enrich")
    assert code == 0, err
    assert out.strip() == SUMMARY_ALL
    assert "batch 1/1: 8 ids…" in err and "title search 2/2: Text-To-4D Dynamic Scene Generation (MAV3D)" in err

    # ceil(8 ids / 100) + one request per title lookup, spaced by at least the delay, never overlapping.
    assert len(api.requests) == math.ceil(8 / 100) + 2
    batch, dsp_search, mav3d_search = api.requests
    assert len(batch.id_list) == 8 and batch.params["max_results"] == "8"
    assert dsp_search.search_query.startswith('ti:"Demonstrate Search Predict Composing retrieval')
    assert mav3d_search.search_query == 'ti:"Text To 4D Dynamic Scene Generation"'
    assert min(gaps(api.request_times())) >= DELAY and api.max_in_flight == 1

    rows = papers(db_path)
    assert all(row["enrich_status"] == "enriched" and row["title"] for row in rows)
    music, _, dsp, *_, mav3d, padl = rows
    # The digest's own title and authors are kept beside arXiv's.
    assert music["digest_title"] == "MusicLM: Generating Music From TextPage"
    assert music["title"] == "MusicLM: Generating Music From Text"
    assert json.loads(str(music["digest_authors"])) == ["Andrea Agostinelli", "Timeo I. Denk"]
    assert len(json.loads(str(music["authors"]))) == 13 and "Timo I. Denk" in str(music["authors"])
    assert music["abs_url"] == "https://arxiv.org/abs/2301.11325" and music["published"] == "2023-01-26T18:58:53+00:00"
    assert (
        json.loads(str(music["categories"])) == ["cs.SD", "cs.LG", "eess.AS"] and music["primary_category"] == "cs.SD"
    )
    # Item 3 (cut link) and item 9 (project page) resolved by title, and how is on record.
    assert (dsp["arxiv_id"], dsp["id_source"]) == ("2212.14024", "title-search")
    assert json.loads(str(dsp["authors"]))[0] == "Omar Khattab" and dsp["latest_version"] == 2
    assert "first author Omar Khattab" in str(dsp["enrich_detail"]) and "2212.14" in str(dsp["enrich_detail"])
    assert (mav3d["arxiv_id"], mav3d["id_source"]) == ("2301.11280", "title-search")
    assert mav3d["title"] == "Text-To-4D Dynamic Scene Generation"
    assert "'(MAV3D)' is dropped" in str(mav3d["enrich_detail"])
    assert padl["doi"] == "10.1145/3550469.3555391" and padl["journal_ref"] == "SIGGRAPH Asia 2022 Conference Papers"

    # Already enriched: not fetched again.
    before = snapshot(db_path)
    code, out, _ = run_cli(capsys, "enrich")
    assert code == 0 and out.strip() == SUMMARY_ALL.replace(
        "enriched 10, resolved by title 2", "enriched 0, resolved by title 0"
    )
    assert len(api.requests) == 3 and snapshot(db_path) == before


def test_refresh_fetches_everything_again_by_id_and_keeps_how_titles_matched(
    api: FakeArxivAPI, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    load(capsys, SHIPPED_DIGEST)
    assert run_cli(capsys, "enrich")[0] == 0
    detail = papers(db_path)[2]["enrich_detail"]
    code, out, _ = run_cli(capsys, "enrich", "--refresh")
    assert (
        code == 0 and out.strip() == "enriched 10, resolved by title 0, not found 0, unresolved 0, failed 0, pending 0"
    )
    assert len(api.requests) == 4 and len(api.requests[3].id_list) == 10
    rows = papers(db_path)
    assert rows[2]["enrich_detail"] == detail and rows[2]["enrich_attempts"] == 2


def test_limit(api: FakeArxivAPI, db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    load(capsys, SHIPPED_DIGEST)
    code, out, _ = run_cli(capsys, "enrich", "--limit", "3")
    assert (
        code == 0 and out.strip() == "enriched 3, resolved by title 1, not found 0, unresolved 0, failed 0, pending 7"
    )
    assert [r.id_list for r in api.requests[:1]] == [["2301.11325", "2301.10226"]] and len(api.requests) == 2
    code, out, _ = run_cli(capsys, "enrich")
    assert code == 0 and out.strip().endswith("pending 0")
    code, _, err = run_cli_system_exit(capsys, "enrich", "--limit", "0")
    assert code == 2 and "must be a whole number of 1 or more" in err


def test_not_found_ids_and_refused_matches(
    api: FakeArxivAPI, db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    digest = tmp_path / "digest-2023-04.md"
    digest.write_text(
        "# April\n\n"
        "## 1. A Paper arXiv Never Had\nhttps://arxiv.org/abs/2304.99999\nAuthors: Ada Lovelace\n\nSummary one.\n\n"
        "## 2. Demonstrate-Search-Predict: Composing retrieval and language models for knowledge-intensive NLP\n"
        "Authors: Marta Kowalska, Ravi Menon\n\nThe decoy's authors: a match on the real paper would be wrong.\n\n"
        "## 3. Text-To-4D Dynamic Scene Generation\nhttps://arxiv.org/abs/2305.0...\nAuthors: Rahul Mehta\n\n"
        "The cut link says 2305.0…, the same-title papers are 2301.11280 and 2306.01234.\n\n"
        "## 4. The Large N Limit of Superconformal Field Theories and Supergravity\n"
        "https://arxiv.org/abs/hep-th/9711200\nAuthors: Juan Maldacena\n\nOld-style id.\n",
        encoding="utf-8",
    )
    load(capsys, digest)
    code, out, err = run_cli(capsys, "enrich")
    assert code == 0, err
    assert out.strip() == "enriched 2, resolved by title 1, not found 1, unresolved 1, failed 0, pending 0"
    rows = {row["position"]: row for row in papers(db_path)}
    assert (
        rows[1]["enrich_status"] == "not_found" and rows[1]["enrich_detail"] == "arXiv returned no entry for 2304.99999"
    )
    # The decoy 2212.14987 has the same title and these authors: it is the right match, not 2212.14024.
    assert rows[2]["arxiv_id"] == "2212.14987"
    assert rows[3]["enrich_status"] == "unresolved" and rows[3]["arxiv_id"] is None
    assert "does not start with 2305.0" in str(rows[3]["enrich_detail"])
    assert rows[4]["title"] == "The Large N Limit of Superconformal Field Theories and Supergravity"
    # Not found / unresolved are not asked again unless --refresh.
    count = len(api.requests)
    assert run_cli(capsys, "enrich")[0] == 0 and len(api.requests) == count
    assert run_cli(capsys, "enrich", "--refresh")[0] == 0 and len(api.requests) == count + 2


def test_a_wrong_author_is_refused(
    api: FakeArxivAPI, db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    digest = tmp_path / "digest-2023-05.md"
    digest.write_text(
        "# May\n\n## 1. Text-To-4D Dynamic Scene Generation\nAuthors: Grace Hopper\n\nNot by the arXiv authors.\n",
        encoding="utf-8",
    )
    load(capsys, digest)
    code, out, err = run_cli(capsys, "enrich")
    assert code == 0 and "unresolved 1" in out
    (row,) = papers(db_path)
    assert row["arxiv_id"] is None and row["enrich_status"] == "unresolved"
    assert "the digest's first author Grace Hopper is not among its authors" in str(row["enrich_detail"])
    assert "→ title search refused" in err


def test_a_title_match_never_steals_another_papers_id(
    api: FakeArxivAPI, db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    digest = tmp_path / "digest-2023-06.md"
    digest.write_text(
        "# June\n\n## 1. MAV3D\nhttps://arxiv.org/abs/2301.11280\nAuthors: Uriel Singer\n\nBy id.\n\n"
        "## 2. Text-To-4D Dynamic Scene Generation (MAV3D)\nAuthors: Uriel Singer\n\nThe same paper by title.\n",
        encoding="utf-8",
    )
    load(capsys, digest)
    code, out, _ = run_cli(capsys, "enrich")
    assert code == 0 and "unresolved 1" in out
    first, second = papers(db_path)
    assert first["arxiv_id"] == "2301.11280" and second["arxiv_id"] is None
    assert "already has that id" in str(second["enrich_detail"])


def test_batches_of_100(db_path: Path) -> None:
    db = connect(db_path)
    ids = [f"2301.{n:05d}" for n in range(1, 251)]
    with write_transaction(db):
        db.conn.executemany(
            "INSERT INTO papers (arxiv_id, title_key, id_source, created_at) VALUES (?, ?, 'digest', '2023-01-01')",
            [(arxiv_id, f"paper {arxiv_id}") for arxiv_id in ids],
        )
    lines: list[str] = []
    with (
        FakeArxivAPI(synthetic=True, missing=frozenset({"2301.00007"})) as api,
        ArxivClient(api.url, 0.01, limiter=RateLimiter()) as client,
    ):
        report = enrich_pending(db, client, progress=lines.append)
    assert [len(r.id_list) for r in api.requests] == [100, 100, 50]
    assert [r.params["max_results"] for r in api.requests] == ["100", "100", "50"]
    assert report.summary() == "enriched 249, resolved by title 0, not found 1, unresolved 0, failed 0, pending 0"
    assert report.requests == 3 and "batch 3/3: 50 ids…" in lines
    assert db.execute("SELECT count(*) FROM arxiv_entries").fetchone()[0] == 249


# --- faults --------------------------------------------------------------------------------------------


def fault_client(api: FakeArxivAPI) -> ArxivClient:
    """A client for runs where every request faults: a short deadline, and the fake's slow answers come
    just after it (nothing waits on a stalled reply longer than the fault needs)."""
    api.slow_seconds = 0.4
    return ArxivClient(api.url, 0.01, timeout_seconds=0.25, attempts=2, limiter=RateLimiter())


@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_on_a_fresh_database_leaves_it_as_it_was(
    api: FakeArxivAPI, db_path: Path, capsys: pytest.CaptureFixture[str], fault: str
) -> None:
    load(capsys, SHIPPED_DIGEST)
    before = snapshot(db_path)
    api.fail_always(fault)
    with fault_client(api) as client:
        report = enrich_pending(connect(db_path), client)
    assert report.error is not None and report.failed == 8 and report.pending == 10
    assert snapshot(db_path) == before
    (reason,) = report.reasons
    assert f"failed 8 (8 × {reason}), pending 10" in report.summary() and "\n" not in report.summary()


@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_during_refresh_loses_and_blanks_nothing(
    api: FakeArxivAPI, db_path: Path, capsys: pytest.CaptureFixture[str], fault: str
) -> None:
    load(capsys, SHIPPED_DIGEST)
    assert run_cli(capsys, "enrich")[0] == 0
    before = snapshot(db_path)
    api.fail_always(fault)
    with fault_client(api) as client:
        report = enrich_pending(connect(db_path), client, refresh=True)
    assert report.error is not None and report.enriched == 0
    assert snapshot(db_path) == before


def test_a_fault_once_is_retried_and_the_digest_still_ends_complete(
    api: FakeArxivAPI, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    load(capsys, SHIPPED_DIGEST)
    api.fail_next("503", None, "429", None, "reset")  # the batch, then each title search, fail once
    api.retry_after = "0"
    code, out, _ = run_cli(capsys, "enrich")
    assert code == 0 and out.strip() == SUMMARY_ALL and len(api.requests) == 6


def test_a_failure_midway_keeps_what_was_done_and_exits_non_zero(
    api: FakeArxivAPI, db_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    load(capsys, SHIPPED_DIGEST)
    api.fail_next("503")  # the batch fails once and is retried; then every title search fails
    original = ArxivClient.search

    def failing_search(self: ArxivClient, query: str, max_results: int = 10) -> list[ArxivEntry]:
        api.fail_always("503")
        return original(self, query, max_results)

    monkeypatch.setattr(ArxivClient, "search", failing_search)
    code, out, err = run_cli(capsys, "enrich")
    assert code == 1
    assert out.strip().startswith("enriched 8, resolved by title 0") and out.strip().endswith("pending 2")
    (line,) = err.strip().splitlines()[-1:]
    assert line.startswith("error: arXiv failed: HTTP 503") and "attempt 3 of 3" in line and "2 papers pending" in line
    assert "Traceback" not in err


def virtual_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait of the process-wide arXiv limiter, recorded on a virtual clock instead of slept."""
    waits: list[float] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(bot.arxiv.client, "DEFAULT_LIMITER", RateLimiter(clock=lambda: now[0], sleep=sleep))
    return waits


def test_arxiv_unreachable(db_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # conftest points ARXIV_API_URL at a closed local port.
    load(capsys, SHIPPED_DIGEST)
    before = snapshot(db_path)
    waits = virtual_waits(monkeypatch)
    code, out, err = run_cli(capsys, "enrich")
    assert sum(waits) < 1  # short backoffs only: an unreachable host is not waited for
    assert code == 1 and snapshot(db_path) == before
    assert out.strip() == (
        "enriched 0, resolved by title 0, not found 0, unresolved 0, failed 8"
        " (8 × cannot connect to 127.0.0.1:9: connection refused), pending 10"
    )
    last = err.strip().splitlines()[-1]
    assert last.startswith(
        "error: arXiv failed: cannot connect to 127.0.0.1:9: connection refused (http://127.0.0.1:9/"
    )
    assert last.endswith("10 papers pending, try again later") and "Traceback" not in err


def test_bad_arxiv_settings_are_one_line(
    db_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARXIV_DELAY_SECONDS", "soon")
    code, _, err = run_cli(capsys, "enrich")
    assert code == 1 and err.strip() == "error: ARXIV_DELAY_SECONDS must be a number of seconds, got 'soon'"


# --- load → enrich -------------------------------------------------------------------------------------


def test_load_enriches_what_it_loaded(api: FakeArxivAPI, db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "load", str(SHIPPED_DIGEST))
    assert code == 0
    assert out.strip() == f"{SHIPPED_DIGEST}: 2023-01: 10 papers: 10 added, 0 updated, 0 unchanged (version 1)"
    assert f"enrich: {SUMMARY_ALL}" in err and len(api.requests) == 3
    assert all(row["enrich_status"] == "enriched" for row in papers(db_path))
    # Reloading: nothing pending, no request.
    assert run_cli(capsys, "load", str(SHIPPED_DIGEST))[0] == 0 and len(api.requests) == 3


def test_load_with_arxiv_unreachable_succeeds_quickly(
    db_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    waits = virtual_waits(monkeypatch)
    code, out, err = run_cli(capsys, "load", str(SHIPPED_DIGEST))
    assert sum(waits) < 1  # short backoffs only: load does not wait for an unreachable arXiv
    assert code == 0 and "10 added" in out
    assert "enrich: arXiv failed (cannot connect to 127.0.0.1:9: connection refused" in err
    assert "10 papers pending: run `paperbot enrich` later" in err and "Traceback" not in err


def test_load_no_enrich(api: FakeArxivAPI, db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "load", "--no-enrich", str(SHIPPED_DIGEST))
    assert code == 0 and err == "" and api.requests == []


# --- the cache, arbitrary ids, the background loop -----------------------------------------------------


def test_an_answer_never_blanks_stored_metadata(db_path: Path) -> None:
    db = connect(db_path)
    full = ArxivEntry(
        "2301.13868",
        1,
        "PADL: Language-Directed Physics-Based Character Control",
        ("Jordan Juravsky", "Yunrong Guo"),
        "Abstract.",
        "cs.GR",
        ("cs.GR", "cs.AI"),
        "2023-01-31T18:59:22+00:00",
        "2023-01-31T18:59:22+00:00",
        "https://arxiv.org/abs/2301.13868",
        "https://arxiv.org/pdf/2301.13868",
        "Comment.",
        "SIGGRAPH Asia 2022 Conference Papers",
        "10.1145/3550469.3555391",
    )
    partial = ArxivEntry(**{**full.__dict__, "title": "PADL (v2)", "abstract": "", "categories": (), "doi": None})
    with write_transaction(db):
        store_entries(db, [full])
    with write_transaction(db):
        store_entries(db, [partial])
    row = db.execute("SELECT title, abstract, categories, doi, journal_ref FROM arxiv_entries").fetchone()
    assert row == ("PADL (v2)", "Abstract.", '["cs.GR", "cs.AI"]', "10.1145/3550469.3555391", full.journal_ref)


def test_enrich_ids_for_suggestions(api: FakeArxivAPI, db_path: Path) -> None:
    db = connect(db_path)
    with ArxivClient(api.url, 0.01, limiter=RateLimiter()) as client:
        result = enrich_ids(db, client, ["2301.11325", "https://arxiv.org/abs/2301.10226v2", "2301.99999", "nope"])
        assert result.fetched == ("2301.11325", "2301.10226") and result.not_found == ("2301.99999",)
        assert result.failed == {"nope": "not an arXiv id or URL"}
        again = enrich_ids(db, client, ["2301.11325", "arXiv:2301.10226"])
        assert again.cached == ("2301.11325", "2301.10226") and again.fetched == () and len(api.requests) == 1
        assert enrich_ids(db, client, ["2301.11325"], refresh=True).fetched == ("2301.11325",)
    assert db.execute("SELECT title FROM arxiv_entries WHERE arxiv_id = '2301.10226'").fetchone()[0] == (
        "A Watermark for Large Language Models"
    )


def test_enrich_ids_raises_when_arxiv_fails(db_path: Path) -> None:
    with pytest.raises(ArxivUnavailable), ArxivClient("http://127.0.0.1:9/api/query", 0.01, attempts=1) as client:
        enrich_ids(connect(db_path), client, ["2301.11325"])


def test_background_loop_enriches_and_stops_promptly(
    api: FakeArxivAPI, db_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    load(capsys, SHIPPED_DIGEST)
    # A long delay: after the first request the loop is waiting for its next turn when it is stopped.
    monkeypatch.setenv("ARXIV_DELAY_SECONDS", "30")
    stop = threading.Event()
    thread = threading.Thread(target=run_background_enrichment, args=(load_settings(), stop, 60.0))
    thread.start()
    # The first batch is stored; the title searches wait 30 s for their turn: stop the loop there.
    deadline = time.monotonic() + 10
    while [row["enrich_status"] for row in papers(db_path)].count("enriched") < 8 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive(), "the loop did not stop while waiting for its next turn"
    statuses = [row["enrich_status"] for row in papers(db_path)]
    assert statuses.count("enriched") == 8 and statuses.count("pending") == 2 and len(api.requests) == 1


def test_background_loop_survives_errors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERBOT_DB", str(tmp_path))  # a directory: the database cannot be opened
    stop = threading.Event()
    calls: list[int] = []
    original_wait = stop.wait

    def wait(timeout: float | None = None) -> bool:
        calls.append(1)
        if len(calls) >= 2:
            stop.set()
        return original_wait(0.01)

    monkeypatch.setattr(stop, "wait", wait)
    with caplog.at_level(logging.ERROR, logger="bot.arxiv.enrich"):
        run_background_enrichment(load_settings(), stop, 0.01)
    assert len(calls) == 2
    assert sum("background enrichment cannot run" in r.getMessage() for r in caplog.records) == 2


def test_metadata_already_cached_is_not_fetched_again(
    api: FakeArxivAPI, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = connect(db_path)
    with ArxivClient(api.url, 0.01, limiter=RateLimiter()) as client:
        enrich_ids(db, client, ["2301.11325", "2301.10226"])  # e.g. suggested before the digest came
    load(capsys, SHIPPED_DIGEST)
    code, out, err = run_cli(capsys, "enrich")
    assert code == 0 and out.strip() == SUMMARY_ALL
    assert "2 already cached" in err and len(api.requests[1].id_list) == 6


def test_load_with_bad_arxiv_settings_still_loads(
    db_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARXIV_API_URL", "ftp://example.org")
    code, out, err = run_cli(capsys, "load", str(SHIPPED_DIGEST))
    assert code == 0 and "10 added" in out
    assert err.strip() == (
        "enrich: skipped: ARXIV_API_URL must be an http(s) URL, got 'ftp://example.org'; papers stay pending"
    )


def test_a_long_delay_is_waited_not_mistaken_for_retry_after(api: FakeArxivAPI) -> None:
    limiter = RateLimiter()
    limiter.hold_off(0.3)  # as if the previous request ended just now, with a delay longer than max_retry_after
    with ArxivClient(api.url, 0.3, max_retry_after_seconds=0.1, limiter=limiter) as client:
        assert len(client.fetch_ids(["2301.11325"]).entries) == 1


def test_an_empty_answer_for_unknown_ids_is_believed_once_arxiv_answers_for_a_known_one(
    api: FakeArxivAPI, db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    load(capsys, SHIPPED_DIGEST)
    assert run_cli(capsys, "enrich")[0] == 0
    digest = tmp_path / "digest-2023-07.md"
    digest.write_text(
        "# July\n\n## 1. Typo One\nhttps://arxiv.org/abs/2307.99998\nAuthors: Ada Lovelace\n\nOne.\n\n"
        "## 2. Typo Two\nhttps://arxiv.org/abs/2307.99999\nAuthors: Ada Lovelace\n\nTwo.\n",
        encoding="utf-8",
    )
    load(capsys, digest)
    code, out, _ = run_cli(capsys, "enrich")
    assert (
        code == 0 and out.strip() == "enriched 0, resolved by title 0, not found 2, unresolved 0, failed 0, pending 0"
    )
    # The empty batch is tried 3 times, then one id arXiv has is asked for: it comes back.
    assert [r.id_list for r in api.requests[3:6]] == [["2307.99998", "2307.99999"]] * 3
    (probe,) = api.requests[6:]
    assert len(probe.id_list) == 1 and probe.id_list[0] in {row["arxiv_id"] for row in papers(db_path)}


def test_background_loop_works_in_chunks_and_takes_the_next_at_once(
    api: FakeArxivAPI, db_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.arxiv.enrich

    load(capsys, SHIPPED_DIGEST)
    monkeypatch.setattr(bot.arxiv.enrich, "BACKGROUND_CHUNK", 3)
    stop = threading.Event()
    thread = threading.Thread(target=run_background_enrichment, args=(load_settings(), stop, 60.0))
    thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and [r["enrich_status"] for r in papers(db_path)].count("pending"):
        time.sleep(0.02)
    stop.set()
    thread.join(timeout=5)
    # 10 papers, 3 per pass: every pass asked for at most 3, and the loop did not wait an interval in between.
    assert [r["enrich_status"] for r in papers(db_path)].count("pending") == 0
    assert all(len(r.id_list) <= 3 for r in api.requests)
