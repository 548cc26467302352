"""arXiv link unfurls through the real Bolt app over HTTP: signed ``link_shared`` events shaped as Slack
documents them, answered with ``chat.unfurl`` on the fake Slack Web API, arXiv looked up on the fake arXiv API.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.arxiv.cache import ArxivPaper
from bot.arxiv.ids import ArxivRef
from bot.db import connect
from bot.digest import catalog
from bot.digest.catalog import PaperView
from bot.digest.months import month_name
from bot.digest.store import load_file
from bot.slack.ids import ACTION_FULL_SUMMARY, ACTION_UNFURL_SUGGEST, ACTION_VOTE
from bot.slack.listeners.unfurls import arxiv_links
from bot.slack.unfurl_blocks import arxiv_unfurl, compact_card, digest_unfurl, first_sentence
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
    post,
)
from tests.fakes.slack_api import FakeSlack
from tests.helpers import strings

CHANNEL = "C0PAPERS"
MUSICLM = "https://arxiv.org/abs/2301.11325"
UNKNOWN = "2312.99999"
"""An id arXiv does not have (the fake answers with no entry)."""
SUGGESTED = "2305.00042"


@pytest.fixture
def arxiv() -> Iterator[FakeArxivAPI]:
    with FakeArxivAPI(synthetic=True, missing=frozenset({UNKNOWN})) as api:
        yield api


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "unfurl.db"
    db = connect(path)
    load_file(db, SHIPPED_DIGEST)
    suggestions.suggest(db, "U0ALICE", ArxivRef(SUGGESTED), "read it <!channel>")
    db.close()
    return path


@pytest.fixture
def bot(fake: FakeSlack, arxiv: FakeArxivAPI, db_path: Path) -> Iterator[RunningBot]:
    settings = bot_settings(fake, db_path, ARXIV_API_URL=arxiv.url, ARXIV_DELAY_SECONDS="0")
    with running_bot(settings, fake) as running:
        yield running


def share(bot: RunningBot, event: dict[str, Any], **headers: str) -> int:
    status, _, body = post(bot.events_url, event_body(event), SIGNING_SECRET, headers=headers or None)
    assert body == b"", body  # an empty 200: nothing is ever said in the channel by the ack
    return status


def posted_message(fake: FakeSlack, text: str, channel: str = CHANNEL) -> str:
    """A human's message in the fake Slack (so that chat.unfurl checks its URLs against it); its ts."""
    return str(fake.add_message(channel, text, user="U0BOB")["ts"])


def unfurl_text(unfurl: dict[str, Any]) -> str:
    return json.dumps(unfurl, ensure_ascii=False)


def click_on_unfurl(bot: RunningBot, click: dict[str, Any], ts: str, url: str) -> int:
    """Send a button click as Slack sends one from an unfurl: its container is the app's attachment."""
    click["container"] = {
        "type": "message_attachment",
        "message_ts": ts,
        "attachment_id": 1,
        "channel_id": CHANNEL,
        "is_ephemeral": False,
        "is_app_unfurl": True,
        "app_unfurl_url": url,
    }
    status, _, _ = post(bot.events_url, interactive_body(click), SIGNING_SECRET)
    return status


def test_a_digest_paper_in_a_posted_message_unfurls_with_the_team_note(bot: RunningBot, db_path: Path) -> None:
    url = "https://arxiv.org/abs/2301.11325v2"
    ts = posted_message(bot.fake, f"we covered this? <{url}>")
    assert share(bot, link_shared_event([url], channel=CHANNEL, message_ts=ts)) == 200
    [call] = bot.fake.wait_for_calls("chat.unfurl")
    assert call.ok, call.response
    assert call.params["channel"] == CHANNEL and call.params["ts"] == ts and "unfurl_id" not in call.params
    assert list(call.params["unfurls"]) == [url]  # keyed by the URL exactly as Slack sent it
    unfurl = bot.fake.unfurls(CHANNEL, ts)[url]
    text = unfurl_text(unfurl)
    assert "MusicLM: Generating Music From Text" in text
    assert "Andrea Agostinelli" in text
    assert "January 2023 digest · #1" in text
    assert "扩散模型和自回归离散模型都在生成音乐/音频显示出令人印象深刻的性能。" in text
    assert "与最近使用连续扩散模型" not in text  # the first sentence only
    assert "`/paper musiclm` for the rest" in text
    [button] = [e for b in unfurl["blocks"] if b["type"] == "actions" for e in b["elements"]]
    paper = catalog.find_by_arxiv_id(connect(db_path), "2301.11325")
    assert paper is not None
    assert button["action_id"] == ACTION_FULL_SUMMARY and button["value"] == str(paper.paper_id)
    assert bot.fake.calls("chat.postMessage") == [] and bot.fake.calls("chat.postEphemeral") == []

    # *Full summary* on the unfurl answers the person who clicks, and only them.
    response_url = bot.fake.response_url("full")
    click = block_actions_payload(ACTION_FULL_SUMMARY, button["value"], channel_id=CHANNEL, response_url=response_url)
    assert click_on_unfurl(bot, click, ts, url) == 200
    [answer] = bot.fake.wait_for_responses(1, response_url)
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert "与最近使用连续扩散模型" in unfurl_text(answer)  # the whole summary


def test_a_link_in_the_composer_is_unfurled_by_unfurl_id_and_source(bot: RunningBot) -> None:
    url = "https://www.arxiv.org/pdf/2301.05062v1.pdf"
    event = link_shared_event([url], composer=True)
    assert share(bot, event) == 200
    [call] = bot.fake.wait_for_calls("chat.unfurl")
    assert call.ok, call.response
    assert call.params["unfurl_id"] == event["unfurl_id"] and call.params["source"] == "composer"
    assert "channel" not in call.params and "ts" not in call.params  # message_ts is no timestamp here
    assert "Tracr: Compiled Transformers" in unfurl_text(bot.fake.unfurls("composer", event["unfurl_id"])[url])


@pytest.mark.parametrize(
    ("url", "arxiv_id"),
    [
        ("https://arxiv.org/abs/2301.11325", "2301.11325"),
        ("https://arxiv.org/abs/2301.11325v3", "2301.11325"),
        ("http://arxiv.org/pdf/2301.11325", "2301.11325"),
        ("https://arxiv.org/pdf/2301.11325v1.pdf", "2301.11325"),
        ("https://arxiv.org/pdf/2301.11325.pdf", "2301.11325"),
        ("https://arxiv.org/html/2301.11325v2", "2301.11325"),
        ("https://www.arxiv.org/abs/2301.11325", "2301.11325"),
        ("https://export.arxiv.org/abs/2301.11325", "2301.11325"),
        ("https://arxiv.org/abs/2301.11325?context=cs.SD", "2301.11325"),
        ("https://arxiv.org/abs/hep-th/9711200v3", "hep-th/9711200"),
        ("https://arxiv.org/pdf/math.AG/0601001", "math.AG/0601001"),
        ("https://arxiv.org/abs/0704.0001", "0704.0001"),
        ("https://ARXIV.org/abs/2301.11325", "2301.11325"),
        ("https://arxiv.org/abs/2301.11325?a=1&amp;b=2", "2301.11325"),  # kept as sent: Slack's entities
    ],
)
def test_every_arxiv_link_form_names_its_paper(url: str, arxiv_id: str) -> None:
    assert [(sent, ref.id) for sent, ref in arxiv_links({"links": [{"url": url}]})] == [(url, arxiv_id)]


@pytest.mark.parametrize(
    "url",
    [
        "https://arxiv.org/abs/<!channel>",
        "https://arxiv.org/abs/<!channel>>",
        "https://arxiv.org/abs/2313.00001",  # month 13
        "https://arxiv.org/abs/2301.1",  # cut short
        "https://arxiv.org/abs/2301.11325...",
        "https://arxiv.org/abs/1501.1234",  # four digits after 2014
        "https://arxiv.org/list/cs.LG/recent",
        "https://arxiv.org/a/carlini_n_1",
        "https://arxiv.org/",
        "https://evil.example/arxiv.org/abs/2301.11325",
        "https://arxiv.org.evil.example/abs/2301.11325",
        "https://arxiv.org/abs/" + "2301.11325" * 400,  # 4,000 characters
        "https://arxiv.org/abs/2301.11325?" + "x" * 4000,
        "javascript:alert(1)//arxiv.org/abs/2301.11325",
        "",
    ],
)
def test_links_that_are_not_arxiv_papers_are_left_alone(url: str) -> None:
    assert arxiv_links({"links": [{"url": url}]}) == []


def test_ten_links_each_handled_on_its_own(bot: RunningBot, arxiv: FakeArxivAPI) -> None:
    links = [
        MUSICLM,  # in a digest
        "https://arxiv.org/pdf/2301.11325v2.pdf",  # the same paper again, another form: its own entry
        f"https://arxiv.org/abs/{SUGGESTED}",  # suggested
        "https://arxiv.org/abs/2305.00001",  # on arXiv only
        "https://export.arxiv.org/abs/hep-th/9711200",  # on arXiv only, old style
        f"https://arxiv.org/abs/{UNKNOWN}",  # arXiv has no such paper
        "https://arxiv.org/abs/2313.00001",  # not an id
        "https://arxiv.org/abs/<!channel>",  # hostile
        "https://arxiv.org/abs/" + "9" * 3980,  # 4,000 characters
        "https://arxiv.org/list/cs.LG/recent",  # not a paper
    ]
    ts = posted_message(bot.fake, " ".join(f"<{url}>" for url in links))
    assert share(bot, link_shared_event(links, channel=CHANNEL, message_ts=ts)) == 200
    calls = bot.fake.wait_for_calls("chat.unfurl", 2)
    assert all(call.ok for call in calls), [call.response for call in calls]
    # First what paperbot knows by itself, then what arXiv had: one entry per link, never an empty one.
    assert list(calls[0].params["unfurls"]) == links[:3]
    assert "|arXiv 2305.00042>" in unfurl_text(calls[0].params["unfurls"][links[2]])  # arXiv had not answered yet
    # The second call also completes the suggestion, whose title arXiv had not given yet.
    assert list(calls[1].params["unfurls"]) == [*links[3:5], links[2]]
    unfurls = bot.fake.unfurls(CHANNEL, ts)
    suggested = unfurl_text(unfurls[links[2]])
    assert "Suggested by <@U0ALICE> · 1 vote" in suggested and "arXiv 2305.00042" not in suggested
    assert "Maldacena" in unfurl_text(unfurls[links[4]])
    assert "<!channel>" not in json.dumps(unfurls)
    assert [r.id_list for r in arxiv.requests] == [["2305.00001", "hep-th/9711200", UNKNOWN, SUGGESTED]]
    assert bot.fake.calls("chat.postMessage") == [] and bot.fake.calls("chat.postEphemeral") == []

    # Another message with the same papers: arXiv is not asked again (cache, and the known miss).
    ts2 = posted_message(bot.fake, " ".join(f"<{url}>" for url in links[3:6]))
    assert share(bot, link_shared_event(links[3:6], channel=CHANNEL, message_ts=ts2)) == 200
    [call] = [c for c in bot.fake.wait_for_calls("chat.unfurl", 3) if c.params.get("ts") == ts2]
    assert list(call.params["unfurls"]) == links[3:5]
    assert len(arxiv.requests) == 1


def test_while_arxiv_is_down_digest_and_suggested_papers_still_unfurl(
    bot: RunningBot, arxiv: FakeArxivAPI, caplog: pytest.LogCaptureFixture
) -> None:
    arxiv.fail_always("503")
    links = [MUSICLM, f"https://arxiv.org/abs/{SUGGESTED}", "https://arxiv.org/abs/2305.00001"]
    ts = posted_message(bot.fake, " ".join(links))
    with caplog.at_level(logging.WARNING, logger="bot.arxiv.cache"):
        assert share(bot, link_shared_event(links, channel=CHANNEL, message_ts=ts)) == 200
        [call] = bot.fake.wait_for_calls("chat.unfurl")
        assert list(call.params["unfurls"]) == links[:2]
        bot.fake.wait_for(lambda: any("arXiv lookup" in r.getMessage() for r in caplog.records), message="the log")
    assert len(bot.fake.calls("chat.unfurl")) == 1 and list(bot.fake.unfurls(CHANNEL, ts)) == links[:2]
    assert bot.fake.calls("chat.postMessage") == [] and bot.fake.calls("chat.postEphemeral") == []


def test_a_redelivered_link_shared_is_unfurled_once(bot: RunningBot, db_path: Path) -> None:
    ts = posted_message(bot.fake, MUSICLM)
    body = event_body(link_shared_event([MUSICLM], channel=CHANNEL, message_ts=ts))
    for retry in ("", "1", "2", "3"):
        headers = {"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"} if retry else None
        status, _, _ = post(bot.events_url, body, SIGNING_SECRET, headers=headers)
        assert status == 200
    bot.app.listener_runner.listener_executor.shutdown(wait=True)  # every delivery's lazy half has run
    assert len(bot.fake.calls("chat.unfurl")) == 1
    assert connect(db_path).execute("SELECT count(*) FROM handled_unfurls").fetchone()[0] == 1


def test_full_summary_clicked_without_a_response_url_answers_the_clicker_alone(bot: RunningBot, db_path: Path) -> None:
    paper = catalog.find_by_arxiv_id(connect(db_path), "2301.11325")
    assert paper is not None
    click = block_actions_payload(ACTION_FULL_SUMMARY, str(paper.paper_id), user_id="U0CAROL", channel_id=CHANNEL)
    del click["response_url"]
    click["container"] = {
        "type": "message_attachment",
        "message_ts": "1.2",
        "channel_id": CHANNEL,
        "is_app_unfurl": True,
    }
    status, _, _ = post(bot.events_url, interactive_body(click), SIGNING_SECRET)
    assert status == 200
    [call] = bot.fake.wait_for_calls("chat.postEphemeral")
    assert call.params["user"] == "U0CAROL" and call.params["channel"] == CHANNEL
    assert "与最近使用连续扩散模型" in unfurl_text(call.params)
    assert bot.fake.calls("chat.postMessage") == []


def test_vote_on_a_suggested_papers_unfurl_toggles_it_and_redraws_the_unfurl(bot: RunningBot, db_path: Path) -> None:
    url = f"https://arxiv.org/abs/{SUGGESTED}v1"
    ts = posted_message(bot.fake, f"<{url}>")
    share(bot, link_shared_event([url], channel=CHANNEL, message_ts=ts))
    bot.fake.wait_for_calls("chat.unfurl", 2)  # at once, then completed with arXiv's title
    [vote] = [e for b in bot.fake.unfurls(CHANNEL, ts)[url]["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert vote["action_id"] == ACTION_VOTE  # the suggestion card's own button and handler
    click = block_actions_payload(ACTION_VOTE, vote["value"], user_id="U0CAROL", channel_id=CHANNEL)
    assert click_on_unfurl(bot, click, ts, url) == 200
    calls = bot.fake.wait_for_calls("chat.unfurl", 3)
    assert "2 votes" in unfurl_text(calls[2].params["unfurls"][url])
    suggestion = suggestions.find_open(connect(db_path), SUGGESTED)
    assert suggestion is not None and set(suggestion.voters) == {"U0ALICE", "U0CAROL"}


def test_suggest_for_roundup_on_an_arxiv_papers_unfurl_opens_the_suggest_modal(bot: RunningBot) -> None:
    url = "https://arxiv.org/abs/2305.00007"
    ts = posted_message(bot.fake, url)
    share(bot, link_shared_event([url], channel=CHANNEL, message_ts=ts))
    bot.fake.wait_for_calls("chat.unfurl")
    unfurl = bot.fake.unfurls(CHANNEL, ts)[url]
    [button] = [e for b in unfurl["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert button["action_id"] == ACTION_UNFURL_SUGGEST and button["value"] == "2305.00007"
    click = block_actions_payload(ACTION_UNFURL_SUGGEST, button["value"], channel_id=CHANNEL)
    status, _, _ = post(bot.events_url, interactive_body(click), SIGNING_SECRET)
    assert status == 200
    [opened] = bot.fake.wait_for_calls("views.open")
    view = opened.params["view"]
    assert view["callback_id"] == "suggest_submit" and json.loads(view["private_metadata"]) == {"channel": CHANNEL}
    assert view["blocks"][0]["element"]["initial_option"]["value"] == "2305.00007"


def test_a_refused_unfurl_is_logged_and_nothing_is_posted(bot: RunningBot, caplog: pytest.LogCaptureFixture) -> None:
    bot.fake.error("chat.unfurl", "cannot_unfurl_url")
    with caplog.at_level(logging.WARNING, logger="bot.slack.listeners"):
        assert share(bot, link_shared_event([MUSICLM], channel=CHANNEL)) == 200
        bot.fake.wait_for_calls("chat.unfurl")
        bot.fake.wait_for(lambda: any("cannot_unfurl_url" in r.getMessage() for r in caplog.records), message="log")
    assert bot.fake.calls("chat.postMessage") == [] and bot.fake.calls("chat.postEphemeral") == []


def test_link_shared_without_a_paper_link_is_acknowledged_and_ignored(bot: RunningBot) -> None:
    for event in (
        link_shared_event(["https://arxiv.org/list/cs.LG/recent"], channel=CHANNEL),
        {"type": "link_shared", "channel": CHANNEL, "links": "not a list", "event_ts": "1.2"},
        {"type": "link_shared", "links": [{"url": MUSICLM}], "event_ts": "1.3"},  # no message to unfurl
        {"type": "link_shared", "channel": CHANNEL, "message_ts": "1.4", "links": [{"url": 42}, "x", None]},
    ):
        assert share(bot, event) == 200
    assert bot.fake.calls("chat.unfurl") == []


def test_unfurls_and_compact_cards_stay_inside_slacks_limits_whatever_the_text() -> None:
    nasty = "<!channel> & <@U1> " * 400
    paper = PaperView(
        paper_id=1,
        arxiv_id="2301.11325",
        digest_title=nasty,
        arxiv_title=None,
        authors=tuple(nasty.split("&")[:50]),
        authors_truncated=False,
        month="2023-01",
        position=1,
        summary=nasty + "。" + nasty,
        project_url=None,
        incomplete_link=None,
    )
    payloads = [
        digest_unfurl(paper),
        arxiv_unfurl(ArxivPaper("2301.11325", nasty, (nasty,), nasty)),
        {"blocks": list(compact_card(paper).blocks)},
    ]
    for payload in payloads:
        assert len(payload["blocks"]) <= 5
        for value in strings(payload):
            assert len(value) <= 3000 and "<!channel>" not in value and "<@U1>" not in value
    assert month_name("2023-01") == "January 2023" and month_name("2023-13") == "2023-13"
    assert first_sentence("First one. Second one.") == "First one."
    assert first_sentence("- 第一句。第二句。") == "第一句。"
    assert first_sentence("Version 2.0 of the model. Next.") == "Version 2.0 of the model."


def test_a_flood_of_links_is_cut_at_twenty_and_each_url_counts_once() -> None:
    urls = [f"https://arxiv.org/abs/2305.{n:05d}" for n in range(1, 101)]
    found = arxiv_links({"links": [{"url": url} for url in [urls[0], *urls]]})
    assert [url for url, _ in found] == urls[:19]  # the first 20 links, one of them a repeat


def test_one_papers_abs_and_pdf_links_in_one_message_both_unfurl_without_clashing_ids(bot: RunningBot) -> None:
    """Slack refuses a block_id used twice in one message: unfurls leave the ids to Slack."""
    links = ["https://arxiv.org/abs/2301.11325", "https://arxiv.org/pdf/2301.11325v1.pdf"]
    ts = posted_message(bot.fake, " ".join(links))
    assert share(bot, link_shared_event(links, channel=CHANNEL, message_ts=ts)) == 200
    [call] = bot.fake.wait_for_calls("chat.unfurl")
    unfurls = json.loads(call.params["unfurls"]) if isinstance(call.params["unfurls"], str) else call.params["unfurls"]
    assert set(unfurls) == set(links)
    block_ids = [block.get("block_id") for unfurl in unfurls.values() for block in unfurl["blocks"]]
    assert [block_id for block_id in block_ids if block_id is not None] == []
