"""A card's new buttons over signed HTTP against the fake Slack: *English abstract* (enriched, or queued
first for enrichment), *Cite*, *Related*, the "Cites" line with its way to a cited archive paper, and
queries that name a reference. One test drives `paperbot serve --http` in a subprocess end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bibtexparser
import pytest

from bot.db import connect
from bot.digest import catalog
from bot.digest.store import load_file
from bot.search.related import related_papers
from bot.slack.blocks import MAX_BLOCKS, paper_card
from bot.slack.ids import ACTION_ABSTRACT, ACTION_CITE, ACTION_OPEN, ACTION_OPEN_CITED, ACTION_RELATED
from tests.conftest import DATA, SHIPPED_DIGEST
from tests.fakes.arxiv_api import FakeArxivAPI
from tests.fakes.bot_server import RunningBot, bot_settings, running_bot
from tests.fakes.signing import SIGNING_SECRET, block_actions_payload, interactive_body, post, slash_command_body
from tests.fakes.slack_api import FakeSlack
from tests.helpers import fake_slack_env, free_port, run_cli, start_http_server, wait_until_serving

# A month whose first paper is a work January's MusicLM cites ([1] SoundStream), and whose second shares
# authors with January's Flan Collection and cites the work January's Multimodal CoT cites ([9] CoT).
JULY_2022 = """本月的论文包括音频和语言模型。
1、SoundStream: An End-to-End Neural Audio Codec
https://arxiv.org/abs/2107.03312
Neil Zeghidour, Alejandro Luebs, Ahmed Omran, Jan Skoglund, Marco Tagliasacchi.
一个端到端的神经音频编解码器，用残差向量量化压缩语音和音乐。
2、Emergent Abilities of Large Language Models
https://arxiv.org/abs/2206.07682
Jason Wei, Yi Tay, Rishi Bommasani.
大模型出现了小模型没有的能力，例如思维链[1]提示下的多步推理。
最后本文的一些其他引用
[1] “Chain-of-Thought Prompting Elicits Reasoning in Large Language Models” by Jason Wei, Xuezhi Wang, 2022.
"""


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    july = tmp_path / "2022-07.txt"
    july.write_text(JULY_2022, encoding="utf-8")
    path = tmp_path / "cards.db"
    db = connect(path)
    for digest in (SHIPPED_DIGEST, july, DATA / "digest-2023-02.md", DATA / "digest-2023-03-variants.txt"):
        load_file(db, digest)
    db.close()
    return path


@pytest.fixture
def bot(archive: Path) -> Iterator[RunningBot]:
    with FakeSlack() as fake, running_bot(bot_settings(fake, archive), fake) as running:
        yield running


def paper_id(db_path: Path, title_start: str) -> int:
    row = connect(db_path).execute("SELECT paper_id FROM entries WHERE title LIKE ?", [title_start + "%"]).fetchone()
    return int(row[0])


def click(bot: RunningBot, action_id: str, value: str, *, overflow: bool = False) -> dict[str, Any]:
    """Click a button (or choose an overflow option) on a card; return the one response_url answer."""
    response_url = bot.fake.response_url(action_id)
    payload = block_actions_payload(
        action_id,
        None if overflow else value,
        response_url=response_url,
        action_type="overflow" if overflow else "button",
    )
    if overflow:
        payload["actions"][0]["selected_option"] = {"text": {"type": "plain_text", "text": "Open"}, "value": value}
    status, _, body = post(bot.events_url, interactive_body(payload), SIGNING_SECRET)
    assert status == 200 and body == b""
    [answer] = bot.fake.wait_for_responses(1, response_url)
    return answer


def texts(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False)


def elements(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["action_id"]: e for b in payload["blocks"] if b["type"] == "actions" for e in b["elements"]}


# --- the card -------------------------------------------------------------------------------------------


def test_card_has_the_new_buttons_in_one_row_and_links_in_a_menu(bot: RunningBot) -> None:
    status, card = bot.command("tracr")
    assert status == 200
    row = elements(card)
    assert [e["text"]["text"] for e in row.values() if e["type"] == "button"] == [
        "Share in channel",
        "English abstract",
        "Cite",
        "Related",
    ]
    menu = row["paper_link_more"]
    assert menu["type"] == "overflow"
    assert [o["url"] for o in menu["options"]] == [
        "https://arxiv.org/abs/2301.05062",
        "https://arxiv.org/pdf/2301.05062",
    ]


def test_cards_stay_within_slack_limits(archive: Path) -> None:
    """Every paper's card, short and full, and a paper citing many long references: at most 50 blocks,
    3,000 characters per section, 25 elements per actions row (the fake Slack checks the rest)."""
    db = connect(archive)
    with db.conn:
        db.execute(
            "UPDATE entries SET citations = '[1,2,3,4,5,6,7,8,9]', summary = summary || ? WHERE position = 1"
            " AND month = '2023-01'",
            ["".join(f" 这是第{i}句很长的总结，用来测试卡片的长度限制。" for i in range(400))],
        )
        db.execute("UPDATE digest_references SET title = title || ? ", [": " + "x" * 2000])
    ids = [int(row[0]) for row in db.execute("SELECT id FROM papers")]
    for paper in catalog.get_papers(db, ids):
        for full in (False, True):
            blocks = paper_card(paper, full_summary=full).blocks
            assert len(blocks) <= MAX_BLOCKS
            for block in blocks:
                if block["type"] == "section":
                    assert len(block["text"]["text"]) <= 3000
                if block["type"] == "actions":
                    assert len(block["elements"]) <= 25


def test_card_lists_what_its_summary_cites_and_opens_a_cited_archive_paper(bot: RunningBot, archive: Path) -> None:
    _, card = bot.command("musiclm")
    [cites] = [b for b in card["blocks"] if b["type"] == "section" and b["text"]["text"].startswith("*Cites:*")]
    text = cites["text"]["text"]
    assert text.startswith(
        "*Cites:* [1] <https://arxiv.org/abs/2107.03312|SoundStream: An End-to-End Neural Audio Codec> (2021)"
        " · [2] W2v-BERT: Combining Contrastive Learning"
    )
    assert "[3] MuLan: A Joint Embedding of Music Audio and Natural Language (2022)" in text
    soundstream = paper_id(archive, "SoundStream")
    assert cites["accessory"]["action_id"] == ACTION_OPEN_CITED
    assert cites["accessory"]["value"] == str(soundstream)
    opened = click(bot, ACTION_OPEN_CITED, str(soundstream))
    assert opened["replace_original"] is False and opened["response_type"] == "ephemeral"
    assert "SoundStream: An End-to-End Neural Audio Codec" in opened["blocks"][0]["text"]["text"]
    # The same choice from an overflow menu (several cited archive papers) reads selected_option.
    again = click(bot, ACTION_OPEN_CITED, str(soundstream), overflow=True)
    assert "SoundStream: An End-to-End Neural Audio Codec" in again["blocks"][0]["text"]["text"]


def test_a_wrong_reference_number_shows_the_words_the_summary_used(bot: RunningBot) -> None:
    """January cites [8] (OPT) for DreamFusion: the card says so instead of silently claiming OPT."""
    _, card = bot.command("mav3d")
    assert "[8] OPT: Open Pre-trained Transformer Language Models (2022), cited as “DreamFusion”" in texts(card)
    _, tracr = bot.command("tracr")
    assert "[6] Thinking Like Transformers (2021), cited as “RASP”" in texts(tracr)


# --- Cite ---------------------------------------------------------------------------------------------


def test_cite_answers_the_clicker_with_a_bibtex_entry(bot: RunningBot, archive: Path) -> None:
    answer = click(bot, ACTION_CITE, str(paper_id(archive, "Tracr")))
    assert answer["replace_original"] is False and answer["response_type"] == "ephemeral"
    [code] = [b["text"]["text"] for b in answer["blocks"] if b["type"] == "section"]
    assert code.startswith("```\n@misc{lindner2023tracr,") and code.endswith("\n```")
    library = bibtexparser.parse_string(code.strip("`\n").replace("&amp;", "&"))
    assert library.failed_blocks == [] and [entry.key for entry in library.entries] == ["lindner2023tracr"]
    assert "János Kramár" in library.entries[0]["author"]


def test_cite_command_over_http(bot: RunningBot) -> None:
    status, answer = bot.command("cite 2301.13188")
    assert status == 200 and "@misc{carlini2023extracting," in texts(answer)
    _, usage = bot.command("cite")
    assert "Usage: /paper cite QUERY" in texts(usage)
    _, hostile = bot.command("cite <!channel> {%&\\")
    assert "<!channel>" not in texts(hostile) and "No paper in the digests matches" in texts(hostile)


# --- Related ------------------------------------------------------------------------------------------


def test_related_never_returns_the_paper_itself(archive: Path) -> None:
    db = connect(archive)
    for (pid,) in db.execute("SELECT id FROM papers").fetchall():
        found = related_papers(db, int(pid))
        assert int(pid) not in [item.paper_id for item in found]
        assert len(found) <= 3 and all(item.reasons for item in found)
        assert len({item.paper_id for item in found}) == len(found)


def test_related_ranks_shared_citations_then_authors_then_text(bot: RunningBot, archive: Path) -> None:
    emergent = paper_id(archive, "Emergent Abilities")
    answer = click(bot, ACTION_RELATED, str(emergent))
    assert answer["replace_original"] is False and answer["response_type"] == "ephemeral"
    shown = [b for b in answer["blocks"] if b.get("accessory")]
    assert 1 <= len(shown) <= 3
    assert "Multimodal Chain-of-Thought" in shown[0]["text"]["text"]
    assert "also cites Chain-of-Thought Prompting Elicits Reas… [1]" in shown[0]["text"]["text"]
    assert "The Flan Collection" in shown[1]["text"]["text"] and "also by Jason Wei" in shown[1]["text"]["text"]
    assert all(block["accessory"]["action_id"] == ACTION_OPEN for block in shown)
    assert str(emergent) not in [block["accessory"]["value"] for block in shown]
    musiclm = click(bot, ACTION_RELATED, str(paper_id(archive, "MusicLM")))
    assert "SoundStream" in musiclm["blocks"][1]["text"]["text"]
    assert "cited by this paper [1]" in musiclm["blocks"][1]["text"]["text"]
    cot = click(bot, ACTION_RELATED, str(paper_id(archive, "Multimodal Chain-of-Thought")))
    assert "Emergent Abilities" in cot["blocks"][1]["text"]["text"]
    assert "also cites Chain-of-thought [9]" in cot["blocks"][1]["text"]["text"]  # the summary's own name
    soundstream = click(bot, ACTION_RELATED, str(paper_id(archive, "SoundStream")))
    assert "MusicLM" in soundstream["blocks"][1]["text"]["text"]
    assert "cites this paper [1] · similar topic: soundstream" in soundstream["blocks"][1]["text"]["text"]


# --- references as answers ----------------------------------------------------------------------------


def test_queries_naming_a_reference(bot: RunningBot) -> None:
    _, soundstream = bot.command("soundstream")
    assert soundstream["blocks"][0]["text"]["text"].startswith("*<https://arxiv.org/abs/2107.03312|SoundStream")
    line = soundstream["blocks"][-1]["elements"][0]["text"]
    assert line == "“SoundStream: An End-to-End Neural Audio Codec” (2021), cited by MusicLM (2023-01 #1) as [1]"
    _, detectgpt = bot.command("detectgpt")
    text = texts(detectgpt)
    assert "DetectGPT: Zero-Shot Machine-Generated Text Detection using Probability Curvature” (2023)" in text
    assert "Eric Mitchell, Yoonho Lee" in text
    assert "Listed in the references of digest 2023-01 as [4]; no summary cites it." in text
    _, flan = bot.command("finetuned language models are zero-shot learners")
    assert "Cited by The Flan Collection (2023-01 #4) as [5]." in texts(flan)
    [opener] = [e for b in flan["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert opener["action_id"] == ACTION_OPEN and opener["text"]["text"] == "Open The Flan Collection"


def test_cli_search_answers_with_references_on_a_fresh_database(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "load", "--no-enrich", str(SHIPPED_DIGEST))[0] == 0
    out = run_cli(capsys, "search", "soundstream")[1]
    assert out.startswith("*MusicLM: Generating Music From TextPage")
    assert out.rstrip().endswith(
        "“SoundStream: An End-to-End Neural Audio Codec” (2021), cited by MusicLM (2023-01 #1) as [1]"
    )
    out = run_cli(capsys, "search", "detectgpt")[1]
    assert "Listed in the references of digest 2023-01 as [4]; no summary cites it." in out
    out = run_cli(capsys, "search", "Finetuned", "Language", "Models", "are", "Zero-Shot", "Learners")[1]
    assert "Cited by The Flan Collection (2023-01 #4) as [5]." in out


# --- English abstract -----------------------------------------------------------------------------------


def test_english_abstract_with_and_without_enrichment_cli(
    db_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli(capsys, "load", "--no-enrich", str(SHIPPED_DIGEST))[0] == 0
    code, out, _ = run_cli(capsys, "search", "tracr", "--en")
    assert code == 0 and "No English abstract yet: its arXiv metadata has not been fetched yet." in out
    assert "queued first for enrichment: the running bot fetches it within a minute" in out
    with FakeArxivAPI() as api:
        monkeypatch.setenv("ARXIV_API_URL", api.url)
        assert run_cli(capsys, "enrich", "--limit", "1")[0] == 0
        assert api.requests[0].id_list == ["2301.05062"]  # the paper asked for went first
    code, out, _ = run_cli(capsys, "search", "tracr", "--en")
    assert out.startswith("*Tracr: Compiled Transformers as a Laboratory for Interpretability (https://arxiv.org/abs/")
    assert "David Lindner, János Kramár, Sebastian Farquhar, Matthew Rahtz, Thomas McGrath, Vladimir Mikulik" in out
    assert 'We show how to "compile" human-readable programs' in out and "cs.LG" in out
    assert "把Transformers" not in out  # the abstract instead of the digest's summary


def test_english_abstract_says_why_when_arxiv_rejected_the_paper(archive: Path, bot: RunningBot) -> None:
    tracr = paper_id(archive, "Tracr")
    db = connect(archive)
    with db.conn:
        db.execute("UPDATE papers SET enrich_status = 'failed', enrich_detail = 'incorrect id' WHERE id = ?", [tracr])
    answer = click(bot, ACTION_ABSTRACT, str(tracr))
    assert "arXiv rejected its id (incorrect id)" in texts(answer) and "queued" not in texts(answer)
    row = db.execute("SELECT enrich_status, enrich_requested_at FROM papers WHERE id = ?", [tracr]).fetchone()
    assert row == ("failed", None)


@pytest.mark.parametrize("value", ["", "abc", "-1", "99999", "1" * 40])
def test_buttons_with_bad_values_answer_gone(bot: RunningBot, value: str) -> None:
    for action in (ACTION_ABSTRACT, ACTION_CITE, ACTION_RELATED, ACTION_OPEN_CITED):
        answer = click(bot, action, value)
        assert "no longer in the digests" in texts(answer)


def test_serve_english_abstract_queues_then_shows_it(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`paperbot serve --http` in a subprocess: the click on a paper not enriched says so and queues it
    (arXiv unreachable for the bot); `paperbot enrich --limit 1` then takes that paper first, and the next
    click shows the abstract. Cite and Related answer through the same server."""
    assert run_cli(capsys, "load", "--no-enrich", str(SHIPPED_DIGEST))[0] == 0
    tracr = paper_id(db_path, "Tracr")
    with FakeSlack() as fake:
        port = free_port()
        proc = start_http_server(port, env=fake_slack_env(fake, db_path), cwd=tmp_path)
        url = f"http://127.0.0.1:{port}/slack/events"
        try:
            wait_until_serving(proc, port, health_path="/healthz", timeout=30)

            def clicked(action_id: str) -> dict[str, Any]:
                response_url = fake.response_url(action_id)
                payload = block_actions_payload(action_id, str(tracr), response_url=response_url)
                assert post(url, interactive_body(payload), SIGNING_SECRET)[0] == 200
                [answer] = fake.wait_for_responses(1, response_url)
                return answer

            status, _, body = post(url, slash_command_body("tracr"), SIGNING_SECRET)
            assert status == 200 and ACTION_ABSTRACT in body.decode()
            first = clicked(ACTION_ABSTRACT)
            assert "No English abstract yet" in texts(first) and "queued first" in texts(first)
            queued = connect(db_path).execute("SELECT enrich_requested_at FROM papers WHERE id = ?", [tracr]).fetchone()
            assert queued[0] is not None
            with FakeArxivAPI() as api:
                monkeypatch.setenv("ARXIV_API_URL", api.url)
                assert run_cli(capsys, "enrich", "--limit", "1")[0] == 0
            second = clicked(ACTION_ABSTRACT)
            assert 'We show how to \\"compile\\" human-readable programs' in texts(second)
            assert "Sebastian Farquhar" in texts(second)
            assert "@misc{lindner2023tracr," in texts(clicked(ACTION_CITE))
            related = texts(clicked(ACTION_RELATED))
            assert "No other paper in the archive is related to" in related or "Related to" in related
        finally:
            proc.terminate()
            proc.wait(timeout=10)


@pytest.mark.parametrize(
    "query",
    ['"', 'soundstream"', "NEAR(sound stream)", "*", "^soundstream", "{", "%", "\\", "sound OR stream", "<!channel>"],
)
def test_hostile_queries_never_break_the_reference_lookup(archive: Path, query: str) -> None:
    from bot.slack.replies import paper_reply

    reply = paper_reply(connect(archive), query)
    assert "<!channel>" not in texts(reply.payload()) and len(reply.blocks) <= MAX_BLOCKS


def test_the_enrichment_loop_wakes_for_a_requested_paper(
    db_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Queueing is real: the bot's loop, waiting out its hour, takes a paper someone asked for at once."""
    import threading
    import time

    from bot.arxiv.enrich import request_enrichment, run_background_enrichment
    from bot.config import load_settings

    assert run_cli(capsys, "load", "--no-enrich", str(SHIPPED_DIGEST))[0] == 0
    db = connect(db_path)
    with db.conn:
        db.execute("UPDATE papers SET enrich_status = 'not_found'")  # nothing for the loop's first pass
    tracr = paper_id(db_path, "Tracr")
    with FakeArxivAPI() as api:
        monkeypatch.setenv("ARXIV_API_URL", api.url)
        stop = threading.Event()
        loop = threading.Thread(target=run_background_enrichment, args=(load_settings(), stop, 3600.0, 0.02))
        loop.start()
        try:
            assert request_enrichment(db, tracr) == ("not_found", None, True)
            assert request_enrichment(db, tracr)[2] is True  # asking twice changes nothing more
            deadline = time.monotonic() + 10
            status = ""
            while time.monotonic() < deadline:
                status = db.execute("SELECT enrich_status FROM papers WHERE id = ?", [tracr]).fetchone()[0]
                if status == "enriched":
                    break
                time.sleep(0.02)
            assert status == "enriched"
            assert [request.id_list for request in api.requests] == [["2301.05062"]]
        finally:
            stop.set()
            loop.join(timeout=10)
    assert not loop.is_alive()


def test_a_reference_cited_by_several_papers_offers_them_in_one_menu(bot: RunningBot) -> None:
    """OPT is [8] of two summaries: one actions block may not hold two buttons with one action id (Slack
    refuses the whole answer), so the papers citing it are offered in one overflow menu."""
    status, answer = bot.command("OPT: Open Pre-trained Transformer Language Models")
    assert status == 200
    menus = [
        element
        for block in answer["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["type"] == "overflow"
    ]
    assert menus and menus[0]["action_id"] == ACTION_OPEN_CITED and len(menus[0]["options"]) >= 2
