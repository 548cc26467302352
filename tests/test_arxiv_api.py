"""The polite arXiv client against the fake API: batching, spacing, deadlines, retries, error feeds; and the
title/author matching rules that decide whether a search result is the digest's paper."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from bot.arxiv.client import (
    ArxivBadResponse,
    ArxivCancelled,
    ArxivClient,
    ArxivEntry,
    ArxivQueryError,
    ArxivUnavailable,
    RateLimiter,
    parse_retry_after,
    title_query,
)
from bot.arxiv.enrich import clean_title, match_title, same_person, title_agreement, visible_id_prefix
from tests.fakes.arxiv_api import CORPUS, JANUARY_2023, FakeArxivAPI, FakePaper
from tests.helpers import gaps

DELAY = 0.05


@pytest.fixture
def api() -> Iterator[FakeArxivAPI]:
    with FakeArxivAPI() as fake:
        yield fake


def virtual_limiter(waits: list[float]) -> RateLimiter:
    """A limiter on a virtual clock: its waits are recorded (and pass at once) instead of slept."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    return RateLimiter(clock=lambda: now[0], sleep=sleep)


def client(api: FakeArxivAPI, **options: object) -> ArxivClient:
    settings: dict[str, object] = {"timeout_seconds": 2.0, "attempts": 3, "limiter": RateLimiter()}
    settings.update(options)
    return ArxivClient(api.url, float(settings.pop("delay", DELAY)), **settings)  # type: ignore[arg-type]


# --- fetching ------------------------------------------------------------------------------------------


def test_fetch_ids_reads_every_field_and_reports_missing_ids(api: FakeArxivAPI) -> None:
    ids = ["2301.13868", "hep-th/9711200", "2301.99999", "2212.14024"]
    answer = client(api).fetch_ids(ids)
    assert [e.arxiv_id for e in answer.entries] == ["2301.13868", "hep-th/9711200", "2212.14024"]
    assert answer.missing == ("2301.99999",) and not answer.rejected and not answer.incomplete
    padl, maldacena, dsp = answer.entries
    assert padl.doi == "10.1145/3550469.3555391" and padl.journal_ref == "SIGGRAPH Asia 2022 Conference Papers"
    assert padl.primary_category == "cs.GR" and padl.categories == ("cs.GR", "cs.AI", "cs.CL", "cs.LG")
    assert padl.published == "2023-01-31T18:59:22+00:00" and padl.version == 1
    # Old-style id, title wrapped over two lines in the feed, comment and journal ref wrapped too.
    assert maldacena.title == "The Large N Limit of Superconformal Field Theories and Supergravity"
    assert maldacena.abs_url == "https://arxiv.org/abs/hep-th/9711200" and maldacena.version == 3
    assert maldacena.updated == "1998-01-22T22:19:18+00:00" and maldacena.doi == "10.1023/A:1026654312961"
    assert "\n" not in maldacena.abstract and maldacena.abstract.startswith("We show that the large N limit")
    assert dsp.title.endswith("for knowledge-intensive NLP") and len(dsp.authors) == 7
    assert (
        dsp.pdf_url == "https://arxiv.org/pdf/2212.14024" and dsp.comment == "Code: https://github.com/stanfordnlp/dsp"
    )
    (request,) = api.requests
    assert request.id_list == ids and request.params["max_results"] == "4"


def test_more_than_100_ids_is_refused(api: FakeArxivAPI) -> None:
    with pytest.raises(ValueError):
        client(api).fetch_ids([f"2301.{n:05d}" for n in range(101)])
    assert api.requests == []


def test_title_query_quotes_a_phrase_arxiv_can_parse() -> None:
    assert title_query('He said "hi": A (B) C-D') == 'ti:"He said hi A B C D"'
    assert title_query("Text-To-4D Dynamic Scene Generation") == 'ti:"Text To 4D Dynamic Scene Generation"'
    with pytest.raises(ValueError):
        title_query(" :-) ")


def test_search_returns_candidates_in_relevance_order(api: FakeArxivAPI) -> None:
    found = client(api).search(title_query("Text-To-4D Dynamic Scene Generation"))
    assert [e.arxiv_id for e in found] == ["2301.11280", "2306.01234", "2305.04521"]
    assert api.requests[0].params["max_results"] == "10"


# --- faults --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "error", "retried"),
    [
        ("429", ArxivUnavailable, True),
        ("503", ArxivUnavailable, True),
        ("reset", ArxivUnavailable, True),
        ("slow", ArxivUnavailable, True),
        ("html", ArxivBadResponse, True),
        ("truncated", ArxivBadResponse, True),
        ("empty", ArxivBadResponse, True),
        ("400-error-feed", ArxivQueryError, False),
        ("error-entry", ArxivQueryError, False),
    ],
)
def test_every_fault_is_an_error_with_context(
    api: FakeArxivAPI, fault: str, error: type[Exception], retried: bool
) -> None:
    api.fail_always(fault)
    api.slow_seconds = 0.6
    polite = client(api, timeout_seconds=0.3, attempts=2)
    with pytest.raises(error) as caught:
        polite.fetch_ids(["2301.11325", "2301.10226"])
    assert len(api.requests) == (2 if retried else 1)
    message = str(caught.value)
    assert "127.0.0.1" in message and ("attempt 2 of 2" if retried else "attempt 1 of 2") in message
    assert "\n" not in message
    if fault in ("429", "503"):
        assert f"HTTP {fault}" in message and caught.value.status == int(fault)  # type: ignore[attr-defined]
    if fault == "html":
        assert "not an Atom feed" in message
    if fault == "slow":
        assert "no reply within 0.3 s" in message


@pytest.mark.parametrize("fault", ["429", "503", "reset", "slow", "html", "truncated", "empty"])
def test_a_transient_fault_is_retried_and_then_the_answer_is_complete(api: FakeArxivAPI, fault: str) -> None:
    api.fail_next(fault)
    api.slow_seconds = 0.6
    polite = client(api, timeout_seconds=0.3, attempts=2)
    answer = polite.fetch_ids(["2301.11325", "2301.10226"])
    assert [e.arxiv_id for e in answer.entries] == ["2301.11325", "2301.10226"]
    assert len(api.requests) == 2 and polite.stats.retries == 1
    # Backoff: at least max(delay, 0.1) s between the failed try and the next.
    assert gaps(api.request_times())[0] >= 0.1


def test_empty_feed_for_one_id_means_not_found(api: FakeArxivAPI) -> None:
    api.fail_always("empty")
    answer = client(api).fetch_ids(["2301.11325"])
    assert answer.missing == ("2301.11325",) and len(api.requests) == 1


def test_retry_after_is_honoured(api: FakeArxivAPI) -> None:
    api.retry_after = "7"
    api.fail_next("429")
    waits: list[float] = []
    answer = client(api, delay=0.01, limiter=virtual_limiter(waits)).fetch_ids(["2301.11325"])
    assert len(answer.entries) == 1 and len(api.requests) == 2
    assert waits == [7.0]  # the second request waited what arXiv asked, not the 0.1 s backoff


def test_a_long_retry_after_gives_up_at_once_and_holds_back_the_process(api: FakeArxivAPI) -> None:
    api.retry_after = format_datetime(datetime.now(UTC) + timedelta(seconds=600), usegmt=True)
    api.fail_next("503")
    limiter = RateLimiter()
    with pytest.raises(ArxivUnavailable, match=r"asks to wait \d+ s \(Retry-After\)"):
        client(api, limiter=limiter, max_retry_after_seconds=5).fetch_ids(["2301.11325"])
    # Another client on the same limiter does not send anything before the hold-off is over.
    with pytest.raises(ArxivUnavailable, match="Retry-After"):
        client(api, limiter=limiter, max_retry_after_seconds=5).fetch_ids(["2301.10226"])
    assert len(api.requests) == 1


def test_parse_retry_after() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = parse_retry_after(format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True))
    assert later is not None and 25 < later <= 30
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_an_id_the_error_feed_rejects_is_dropped_and_the_rest_asked_again() -> None:
    with FakeArxivAPI(reject_ids=frozenset({"2301.10226"})) as api:
        answer = client(api).fetch_ids(["2301.11325", "2301.10226", "2301.13688"])
        assert [e.arxiv_id for e in answer.entries] == ["2301.11325", "2301.13688"]
        assert answer.rejected == {"2301.10226": "arXiv refused the query: incorrect id format for 2301.10226"}
        assert [r.id_list for r in api.requests] == [
            ["2301.11325", "2301.10226", "2301.13688"],
            ["2301.11325", "2301.13688"],
        ]


def test_unreachable_arxiv_fails_fast_with_a_short_reason() -> None:
    waits: list[float] = []
    polite = ArxivClient("http://127.0.0.1:9/api/query", 0.01, attempts=2, limiter=virtual_limiter(waits))
    with pytest.raises(ArxivUnavailable) as caught:
        polite.fetch_ids(["2301.11325"])
    assert sum(waits) <= 0.2  # one short backoff between the two attempts, no long hold
    assert str(caught.value).startswith("cannot connect to 127.0.0.1:9: connection refused (http://127.0.0.1:9/")
    assert polite.stats.requests == 2


def test_an_incomplete_entry_is_reported_not_stored_as_found() -> None:
    nameless = FakePaper(
        "2301.00001", 1, "A Paper Without Authors", (), "Abstract.", ("cs.LG",), "2023-01-01T00:00:00Z"
    )
    with FakeArxivAPI(papers=(*JANUARY_2023, nameless)) as api:
        answer = client(api).fetch_ids(["2301.00001", "2301.11325"])
    assert [e.arxiv_id for e in answer.entries] == ["2301.11325"]
    assert answer.incomplete == {"2301.00001": "arXiv's entry for 2301.00001 has no authors"} and not answer.missing


# --- rate limiting -------------------------------------------------------------------------------------


def test_one_request_at_a_time_and_spaced_across_threads(api: FakeArxivAPI) -> None:
    limiter = RateLimiter()
    ids = [paper.arxiv_id for paper in CORPUS]
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            with ArxivClient(api.url, 0.03, limiter=limiter) as own:  # each thread its own client, one limiter
                for n in range(4):
                    own.fetch_ids([ids[(index * 4 + n) % len(ids)]])
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not errors
    assert len(api.requests) == 20 and api.max_in_flight == 1
    assert min(gaps(sorted(api.request_times()))) >= 0.03


def test_limiter_waits_are_cancellable() -> None:
    limiter = RateLimiter()
    limiter.hold_off(30)
    cancel = threading.Event()
    threading.Timer(0.1, cancel.set).start()
    # Without the cancel, the slot would wait 30 s and then raise nothing.
    with pytest.raises(ArxivCancelled), limiter.slot(0.0, cancel=cancel):
        pass  # pragma: no cover


def test_limiter_with_a_fake_clock() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(clock=lambda: now[0], sleep=sleep)
    with limiter.slot(3.0):
        now[0] += 0.5  # the request takes 0.5 s
    with limiter.slot(3.0):
        pass
    assert slept == [3.0]  # counted from the end of the previous request
    limiter.hold_off(1.0)  # never shortens the 3 s spacing
    assert limiter.seconds_to_wait() == 3.0


# --- matching rules ------------------------------------------------------------------------------------

DSP_TITLE = "Demonstrate-Search-Predict: Composing retrieval and language models for knowledge-intensive NLP"


def entry(paper: FakePaper) -> ArxivEntry:
    return ArxivEntry(
        paper.arxiv_id,
        paper.version,
        paper.title,
        paper.authors,
        paper.abstract,
        paper.categories[0],
        paper.categories,
        paper.published,
        paper.updated,
        f"https://arxiv.org/abs/{paper.arxiv_id}",
        f"https://arxiv.org/pdf/{paper.arxiv_id}",
    )


BY_ID = {paper.arxiv_id: entry(paper) for paper in CORPUS}


def test_the_right_paper_is_taken_over_a_same_title_decoy() -> None:
    candidates = [BY_ID["2212.14987"], BY_ID["2212.14024"]]  # the decoy ranks first
    match = match_title(DSP_TITLE, "Omar Khattab", "2212.14", candidates)
    assert match.entry is not None and match.entry.arxiv_id == "2212.14024"
    assert "first author Omar Khattab" in match.detail and "2212.14" in match.detail


def test_a_decoy_alone_is_refused_with_the_reason() -> None:
    match = match_title(DSP_TITLE, "Omar Khattab", "2212.14", [BY_ID["2212.14987"]])
    assert match.entry is None
    assert "first author Omar Khattab is not among its authors" in match.detail and "2212.14987" in match.detail


def test_the_cut_link_prefix_must_agree() -> None:
    match = match_title(DSP_TITLE, "Omar Khattab", "2301.9", [BY_ID["2212.14024"]])
    assert match.entry is None and "does not start with 2301.9" in match.detail


def test_title_artifacts_and_asides_are_tolerated_but_not_other_titles() -> None:
    assert clean_title("MusicLM: Generating Music From TextPage") == "MusicLM: Generating Music From Text"
    assert clean_title("Text-To-4D Dynamic Scene Generation (MAV3D)") == "Text-To-4D Dynamic Scene Generation"
    assert clean_title("Homepage Layouts - Project Page") == "Homepage Layouts"
    agreement = title_agreement("MusicLM: Generating Music From TextPage", "MusicLM: Generating Music From Text")
    assert agreement == (0.99, "same title once 'Page' is dropped", True)
    assert title_agreement("Text-To-4D Dynamic Scene Generation (MAV3D)", BY_ID["2305.04521"].title) is None
    glued = title_agreement("Scaling Laws for Neural Language ModelsHTML", "Scaling Laws for Neural Language Models")
    assert glued is not None and glued.same
    close = title_agreement("Multimodal Chain of Thought Reasoning in Language Model", BY_ID["2302.00923"].title)
    assert close is not None and not close.same and close.how == "titles 99% alike"


def test_without_an_author_only_the_same_title_is_accepted() -> None:
    exact = match_title("Text-To-4D Dynamic Scene Generation", None, None, [BY_ID["2301.11280"]])
    assert exact.entry is not None and "no author in the digest to check" in exact.detail
    loose = match_title("Multimodal Chain of Thought Reasoning in Language Model", None, None, [BY_ID["2302.00923"]])
    assert loose.entry is None and "no author to confirm" in loose.detail


def test_two_equally_good_matches_are_ambiguous() -> None:
    twin = ArxivEntry(**{**BY_ID["2301.11280"].__dict__, "arxiv_id": "2302.00001"})
    match = match_title("Text-To-4D Dynamic Scene Generation", "Uriel Singer", None, [BY_ID["2301.11280"], twin])
    assert match.entry is None and match.detail.startswith("ambiguous")


def test_nothing_close_says_what_was_closest() -> None:
    match = match_title("Text-To-4D Dynamic Scene Generation", "Uriel Singer", None, [BY_ID["2301.13868"]])
    assert match.entry is None and "closest: 2301.13868" in match.detail
    assert match_title("Anything", None, None, []).detail == "title search found nothing on arXiv"


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Timeo I. Denk", "Timo I. Denk", True),
        ("Florian Tramer", "Florian Tramèr", True),
        ("Le, Quoc V.", "Quoc V. Le", True),
        ("Zhang Zhuosheng", "Zhuosheng Zhang", True),
        ("JANOS KRAMAR", "János Kramár", True),
        ("Omar Khattab", "Marta Kowalska", False),
        ("Adam Roberts", "Adam Polyak", False),
        ("", "Adam Polyak", False),
    ],
)
def test_same_person(a: str, b: str, same: bool) -> None:
    assert same_person(a, b) is same


@pytest.mark.parametrize(
    ("link", "prefix"),
    [
        ("https://arxiv.org/pdf/2212.14...", "2212.14"),
        ("arxiv.org/abs/2301.1…", "2301.1"),
        ("https://arxiv.org/abs/2301.11280v", "2301.11280"),
        ("https://make-a-video3d.github...", None),
        (None, None),
    ],
)
def test_visible_id_prefix(link: str | None, prefix: str | None) -> None:
    assert visible_id_prefix(link) == prefix


def test_one_page_only_even_when_total_results_promises_more() -> None:
    with FakeArxivAPI(overstate_total=5) as api:
        answer = client(api).fetch_ids(["2301.11325", "2301.99999"])  # fewer entries than asked, "more" to come
        found = client(api).search(title_query("Text-To-4D Dynamic Scene Generation"))
        assert len(answer.entries) == 1 and answer.missing == ("2301.99999",)
        assert len(found) == 3 and len(api.requests) == 2
