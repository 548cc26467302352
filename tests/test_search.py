"""Search quality: a table of what people type and the paper they mean, plus the search's edge cases."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import sqlite_utils

from bot.db import connect
from bot.digest.catalog import PaperView
from bot.digest.store import load_file
from bot.search.query import Vocabulary, search, word_counts
from bot.search.terms import EDIT_LETTERS, TERMS_VERSION, edits1
from tests.conftest import DATA, SHIPPED_DIGEST
from tests.fakes.bot_server import bot_settings, running_bot
from tests.fakes.slack_api import FakeSlack
from tests.helpers import run_cli

MUSICLM = "MusicLM: Generating Music From TextPage"
WATERMARK = "A Watermark for Large Language Models"
DSP = "Demonstrate-Search-Predict: Composing retrieval and language models for knowledge-intensive NLP"
FLAN = "The Flan Collection: Designing Data and Methods for Effective Instruction Tuning"
TRACR = "Tracr: Compiled Transformers as a Laboratory for Interpretability"
EXTRACT = "Extracting Training Data from Diffusion Models"
MMCOT = "Multimodal Chain-of-Thought Reasoning in Language Models"
STYLEGAN = "StyleGAN-T: Unlocking the Power of GANs for Fast Large-Scale Text-to-Image Synthesis"
MAV3D = "Text-To-4D Dynamic Scene Generation (MAV3D)"
PADL = "PADL: Language-Directed Physics-Based Character Control"
TOOLFORMER = "Toolformer: Language Models Can Teach Themselves to Use Tools"
CONTROLNET = "Adding Conditional Control to Text-to-Image Diffusion Models"
LION = "Symbolic Discovery of Optimization Algorithms"
LLAMA = "LLaMA: Open and Efficient Foundation Language Models"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> sqlite_utils.Database:
    path: Path = tmp_path_factory.mktemp("search") / "search.db"
    database = connect(path)
    for digest in (SHIPPED_DIGEST, DATA / "digest-2023-02.md", DATA / "digest-2023-03-variants.txt"):
        load_file(database, digest)
    return database


# (query, the paper that must come first, whether it must be the one clear winner)
TABLE = [
    # ids and links, every form
    ("2301.11325", MUSICLM, True),
    ("2301.11325v2", MUSICLM, True),
    ("arXiv:2301.10226", WATERMARK, True),
    ("https://arxiv.org/abs/2301.13688", FLAN, True),
    ("http://arxiv.org/abs/2301.05062v1", TRACR, True),
    ("https://arxiv.org/pdf/2301.13188.pdf", EXTRACT, True),
    ("https://arxiv.org/pdf/2302.00923v2", MMCOT, True),
    ("arxiv.org/abs/2301.09515", STYLEGAN, True),
    ("<https://arxiv.org/abs/2301.13868>", PADL, True),
    ("hep-th/9901001", "Holographic reduced representations revisited", True),
    ("2302.05543", CONTROLNET, True),
    # nicknames
    ("musiclm", MUSICLM, True),
    ("MusicLM", MUSICLM, True),
    ("tracr", TRACR, True),
    ("stylegan-t", STYLEGAN, True),
    ("StyleGAN-T", STYLEGAN, True),
    ("flan", FLAN, True),
    ("padl", PADL, True),
    ("mav3d", MAV3D, True),
    ("dsp", DSP, True),
    ("toolformer", TOOLFORMER, True),
    ("llama", LLAMA, True),
    ("lion", LION, True),
    # title words
    ("watermark", WATERMARK, True),
    ("instruction tuning", FLAN, True),
    ("interpretability", TRACR, True),
    ("character control", PADL, True),
    ("dynamic scene", MAV3D, True),
    ("chain of thought", MMCOT, True),
    ("optimization algorithms", LION, True),
    # authors
    ("carlini", EXTRACT, True),
    ("goldstein", WATERMARK, True),
    ("Kirchenbauer", WATERMARK, True),
    ("zaharia", DSP, True),
    ("Xue Bin Peng", PADL, True),
    ("Tramèr", EXTRACT, True),
    ("tramer", EXTRACT, True),
    ("touvron", LLAMA, True),
    # Chinese words from the summaries, two characters included
    ("水印", WATERMARK, True),
    ("检索增强", DSP, True),
    ("扩散模型", None, False),
    ("音乐生成", MUSICLM, True),
    ("评分蒸馏采样", MAV3D, True),
    ("指令调优", FLAN, True),
    ("幻觉", MMCOT, True),
    ("隐私", EXTRACT, True),
    # typos
    ("musiclim", MUSICLM, True),
    ("stylegn", STYLEGAN, True),
    ("watremark", WATERMARK, True),
    ("tracrr", TRACR, True),
    ("toolfromer", TOOLFORMER, True),
    # mixed queries
    ("watermark llm", WATERMARK, True),
    ("扩散模型 training data", EXTRACT, True),
    ("GAN 扩散模型 效率", STYLEGAN, False),
    ("language models tools", TOOLFORMER, True),
    # Chinese and Latin with no space between
    ("检索增强LM", DSP, True),
    ("水印llm", WATERMARK, True),
    ("扩散模型training", EXTRACT, True),
]


@pytest.mark.parametrize(("query", "expected", "winner"), TABLE, ids=[row[0] for row in TABLE])
def test_search_quality(db: sqlite_utils.Database, query: str, expected: str | None, winner: bool) -> None:
    result = search(db, query)
    assert result.papers, f"nothing found for {query!r}"
    if expected is not None:
        assert result.papers[0].digest_title == expected, [p.digest_title for p in result.papers]
    if winner:
        assert result.kind == "winner", (result.kind, [p.digest_title for p in result.papers])


def test_typos_say_what_was_understood(db: sqlite_utils.Database) -> None:
    assert search(db, "musiclim").corrected == "musiclm"
    assert search(db, "musiclm").corrected is None


@pytest.mark.parametrize("query", ["LM", "AI", "lm", "GPT"])
def test_two_letter_terms_find_papers(db: sqlite_utils.Database, query: str) -> None:
    result = search(db, query)
    assert result.papers and result.kind in ("winner", "choices")


def test_short_chinese_two_characters_use_the_index(db: sqlite_utils.Database) -> None:
    plan = db.execute(
        "EXPLAIN QUERY PLAN SELECT rowid FROM paper_search WHERE paper_search MATCH ?", ['"水印"']
    ).fetchall()
    assert "VIRTUAL TABLE INDEX" in str(plan)


def test_several_close_matches_are_a_short_list(db: sqlite_utils.Database) -> None:
    result = search(db, "扩散模型")
    assert result.kind == "choices" and 2 <= len(result.papers) <= 5


@pytest.mark.parametrize("query", ["zzzzqqqq", "2212.14", "qwertyuiop asdfgh", "", "   ", "NEAR(", '"', "*", "-"])
def test_nothing_found(db: sqlite_utils.Database, query: str) -> None:
    assert search(db, query).kind == "none"


def test_an_id_not_in_any_digest_is_reported_as_such(db: sqlite_utils.Database) -> None:
    result = search(db, "https://arxiv.org/abs/2401.00001v1")
    assert result.kind == "none" and result.arxiv_ref is not None and result.arxiv_ref.id == "2401.00001"


def test_query_text_never_becomes_sql(db: sqlite_utils.Database) -> None:
    for query in ("'; DROP TABLE papers; --", "musiclm' OR '1'='1", 'title:"x" OR rowid:1', "paper_search MATCH"):
        search(db, query)
    assert db.execute("SELECT count(*) FROM papers").fetchone()[0] == 19  # Toolformer is in two digests


def test_index_follows_edits_through_triggers(db: sqlite_utils.Database, tmp_path: Path) -> None:
    path = tmp_path / "digest-2023-01.txt"
    path.write_text(SHIPPED_DIGEST.read_text(encoding="utf-8").replace("Tracr:", "Tracrzilla:"), encoding="utf-8")
    own = connect(tmp_path / "own.db")
    load_file(own, SHIPPED_DIGEST)
    assert search(own, "tracr").kind == "winner"
    load_file(own, path)
    assert search(own, "tracrzilla").papers[0].digest_title.startswith("Tracrzilla")
    assert own.execute("SELECT count(*) FROM paper_search").fetchone()[0] == 10
    own.execute(
        "INSERT INTO arxiv_entries (arxiv_id, title, authors, abstract, categories, fetched_at) "
        "VALUES ('2301.11325', 'MusicLM: Generating Music From Text', '[\"Andrea Agostinelli\", "
        "\"Christian Frank\"]', 'We introduce MusicLM, a model generating high-fidelity music.', '[]', 'now')"
    )
    assert search(own, "christian frank").papers[0].arxiv_id == "2301.11325"
    assert search(own, "high fidelity").papers[0].arxiv_id == "2301.11325"


def test_nothing_found_offers_the_closest_titles(db: sqlite_utils.Database) -> None:
    from bot.slack.blocks import render_text
    from bot.slack.replies import paper_reply

    result = search(db, "transformerzzz")
    assert result.kind == "none" and [p.digest_title for p in result.papers] == [TRACR]
    text = render_text(paper_reply(db, "musicgenerator"))
    assert "The closest titles:" in text and "MusicLM" in text
    nothing_close = render_text(paper_reply(db, "qqqzzzz"))
    assert "The latest digest has, for example:" in nothing_close


def _edited(word: str, at: int, letter: str, how: str) -> str:
    return {
        "drop": word[:at] + word[at + 1 :],
        "add": word[:at] + letter + word[at:],
        "change": word[:at] + letter + word[at + 1 :],
        "swap": word[:at] + word[at + 1 : at + 2] + word[at : at + 1] + word[at + 2 :],
    }[how]


def test_one_edit_finds_exactly_the_indexed_words_one_edit_away(db: sqlite_utils.Database) -> None:
    """The vocabulary's one-edit lookup reads runs of the sorted vocabulary instead of spelling out every
    edit: it must find the very same words, for misspellings of indexed words and for strings that are
    none, in a real vocabulary and in one whose runs of shared beginnings are long (either way of looking)."""
    real = word_counts(db)
    crowded = {f"ab{a}{b}{c}": 1 for a in EDIT_LETTERS[:12] for b in EDIT_LETTERS[:12] for c in "xyz"} | {"abc": 2}
    rng = random.Random(15)
    for counts in (real, crowded):
        words = sorted(word for word in counts if word.isascii() and word.isalnum() and word == word.lower())
        queries = {"a", "zz", "qqqzzzz", "abxyz", "ab", "abz", "abcx"}
        for word in rng.sample(words, min(400, len(words))):
            at = rng.randrange(len(word) + 1)
            queries.add(_edited(word, at, rng.choice(EDIT_LETTERS), rng.choice(("drop", "add", "change", "swap"))))
        # With the words spelt backwards (as search builds it), and without (every letter tried instead).
        for vocabulary in (Vocabulary.of(counts), Vocabulary(counts, tuple(sorted(counts)))):
            for query in sorted(query for query in queries if query):
                assert vocabulary.one_edit(query) == (counts.keys() & edits1(query)) - {query}, query


def test_spelling_vocabulary_follows_new_digests(tmp_path: Path) -> None:
    own = connect(tmp_path / "vocab.db")
    load_file(own, SHIPPED_DIGEST)
    assert search(own, "toolfromer").kind == "none"  # the vocabulary is built (and cached) here
    load_file(own, DATA / "digest-2023-02.md")
    result = search(own, "toolfromer")
    assert result.corrected == "toolformer" and result.papers[0].digest_title == TOOLFORMER


@pytest.mark.parametrize("where", ["file", "memory"])
def test_spelling_vocabulary_is_never_another_databases(tmp_path: Path, where: str) -> None:
    path = tmp_path / "reused.db"
    renamed = tmp_path / "digest-2023-01.txt"
    renamed.write_text(SHIPPED_DIGEST.read_text(encoding="utf-8").replace("Watermark", "Quillmark"), encoding="utf-8")
    for digest, typo, word in ((SHIPPED_DIGEST, "watermrk", "watermark"), (renamed, "quillmrk", "quillmark")):
        own = connect(":memory:" if where == "memory" else path)
        load_file(own, digest)
        assert search(own, typo).corrected == word  # same path or recycled memory, same version: no mix-up
        own.close()
        if where == "file":
            for leftover in tmp_path.glob("reused.db*"):
                leftover.unlink()


# --- the stored search terms stay current (issue 9, defect 9) ----------------------------------------------


def nick_column(db: sqlite_utils.Database, arxiv_id: str) -> str:
    row = db.execute(
        "SELECT s.nick FROM paper_search s JOIN papers p ON p.id = s.rowid WHERE p.arxiv_id = ?", [arxiv_id]
    ).fetchone()
    return str(row[0])


def test_a_database_derived_by_older_terms_is_brought_up_to_date_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    own = connect(path)
    load_file(own, SHIPPED_DIGEST)
    # As an older version of bot.search.terms would have left it: no nicknames, and its version recorded.
    own.execute("UPDATE entries SET search_nick = ''")
    own.execute("UPDATE search_state SET terms_version = terms_version - 1")
    assert "MusicLM" not in nick_column(own, "2301.11325")
    own.close()
    reopened = connect(path)
    assert "MusicLM" in nick_column(reopened, "2301.11325")
    assert reopened.execute("SELECT terms_version FROM search_state").fetchone()[0] == TERMS_VERSION


def test_changing_the_terms_version_reindexes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "versions.db"
    own = connect(path)
    load_file(own, SHIPPED_DIGEST)
    own.close()
    # A new version of the terms code: every paper is also called by a new nickname.
    import bot.search.index
    import bot.search.terms

    monkeypatch.setattr(bot.search.terms, "TERMS_VERSION", TERMS_VERSION + 1)
    monkeypatch.setattr(bot.search.index, "TERMS_VERSION", TERMS_VERSION + 1)
    original = bot.search.terms.nicknames
    monkeypatch.setattr(bot.search.index, "nicknames", lambda title, summary="": [*original(title, summary), "Quuxly"])
    assert connect(path).execute("SELECT count(*) FROM paper_search WHERE nick MATCH 'quuxly'").fetchone()[0] == 10
    # The same version again: nothing to do, nothing written.
    again = connect(path)
    assert again.execute("SELECT terms_version FROM search_state").fetchone()[0] == TERMS_VERSION + 1
    assert bot.search.index.is_current(again)


def test_reindex_command_on_a_fresh_database(capsys: pytest.CaptureFixture[str], db_path: Path) -> None:
    code, out, err = run_cli(capsys, "reindex")
    assert code == 0 and err == "" and out.startswith("reindexed 0 papers from 0 digest entries")
    assert connect(db_path).execute("SELECT count(*) FROM paper_search").fetchone()[0] == 0


def test_reindex_command_rebuilds_a_damaged_index(capsys: pytest.CaptureFixture[str], db_path: Path) -> None:
    own = connect(db_path)
    load_file(own, SHIPPED_DIGEST)
    load_file(own, DATA / "digest-2023-02.md")
    own.execute(
        "INSERT INTO arxiv_entries (arxiv_id, title, authors, abstract, categories, fetched_at) VALUES "
        "('2301.11325', 'MusicLM: Generating Music From Text', '[\"Christian Frank\"]', 'Hifi music.', '[]', 'now')"
    )
    expected = own.execute("SELECT rowid, * FROM paper_search ORDER BY rowid").fetchall()
    assert search(own, "toolfromer").corrected == "toolformer"  # caches the spelling vocabulary
    own.execute("DELETE FROM paper_search WHERE rowid IN (SELECT rowid FROM paper_search LIMIT 5)")
    own.execute("UPDATE entries SET search_body = ''")
    code, out, _ = run_cli(capsys, "reindex")
    assert code == 0 and out.startswith("reindexed 13 papers from 13 digest entries (13 with new search terms")
    assert own.execute("SELECT rowid, * FROM paper_search ORDER BY rowid").fetchall() == expected
    assert search(own, "christian frank").papers[0].arxiv_id == "2301.11325"
    assert search(own, "toolfromer").corrected == "toolformer"
    code, out, _ = run_cli(capsys, "reindex")  # again: the same index, nothing re-derived
    assert code == 0 and "(0 with new search terms" in out
    assert own.execute("SELECT rowid, * FROM paper_search ORDER BY rowid").fetchall() == expected


# --- issue 15: exact names first, honest ambiguity, partial ids, Chinese in thousands of papers -----------

NAMED = [
    ("Bekridra: Sparse Agents for Planning", "2405.00001", "Aiko Tanaka, Luis Silva"),
    ("BekridraLM: Latent Memory for Control", "2405.00002", "Kenji Tanaka, Ana Novak"),
    ("BekridraNet: Robust Graphs for Translation", "2405.00003", "Yuki Tanaka, Luis Silva"),
    ("PhoquiriLM: Causal Rewards for Alignment", "2405.00004", "Marco Rossi"),
    ("ZoquiriLM: Adaptive Policies for Control", "2405.00005", "Ana Silva"),
    ("Dramulo: Efficient Diffusion for Captioning", "2405.00006", "Jan Novak"),
    ("Xamulo: Neural Attention for Reasoning", "2405.00007", "Jan Novak"),
    ("TelmiphoLM: Scalable Retrieval for Planning", "2405.00008", "Mei Tanaka"),
    ("TelmiphomiGPT: Contrastive Agents for Segmentation", "2405.00009", "Mei Tanaka"),
    ("Kavolo: Latent Graphs for Summarization", "2405.00010", "Ines Costa"),
    ("Kavila: Sparse Memory for Translation", "2405.00011", "Ines Costa"),
]


@pytest.fixture(scope="module")
def named(tmp_path_factory: pytest.TempPathFactory) -> sqlite_utils.Database:
    """Invented unique nicknames that share stems and authors, as in a large archive."""
    folder = tmp_path_factory.mktemp("named")
    items = "\n".join(
        f"## {number}. {title}\n\n[arXiv:{arxiv_id}](https://arxiv.org/abs/{arxiv_id})\nAuthors: {authors}\n\n"
        f"A paper about {title.split(':')[1].strip().lower()}.\n"
        for number, (title, arxiv_id, authors) in enumerate(NAMED, start=1)
    )
    path = folder / "digest-2024-05.md"
    path.write_text(f"# Digest — May 2024\n\n{items}", encoding="utf-8")
    database = connect(folder / "named.db")
    load_file(database, path)
    return database


def first(result_papers: tuple[PaperView, ...]) -> str:
    return result_papers[0].digest_title.split(":")[0]


@pytest.mark.parametrize(
    ("query", "nick"),
    [
        ("tanaka bekridra", "Bekridra"),
        ("bekridra tanaka", "Bekridra"),
        ("silva bekridra", "Bekridra"),
        ("Aiko Tanaka Bekridra", "Bekridra"),
        ("tanaka bekridralm", "BekridraLM"),
        ("bekridra", "Bekridra"),
        ("tanaka telmipholm", "TelmiphoLM"),
        ("novak dramulo", "Dramulo"),
    ],
)
def test_the_paper_a_word_names_exactly_is_the_answer_in_mixed_queries(
    named: sqlite_utils.Database, query: str, nick: str
) -> None:
    result = search(named, query)
    assert result.kind == "winner" and first(result.papers) == nick, [p.digest_title for p in result.papers]


def test_prefixes_alone_are_still_a_list(named: sqlite_utils.Database) -> None:
    result = search(named, "tanaka bekri")
    assert result.kind == "choices" and {first((p,)) for p in result.papers} == {
        "Bekridra",
        "BekridraLM",
        "BekridraNet",
    }


@pytest.mark.parametrize(
    ("query", "nick"), [("poquirilm", "PhoquiriLM"), ("damulo", "Dramulo"), ("tanaka bekrdra", "Bekridra")]
)
def test_a_typo_keeps_its_first_letter(named: sqlite_utils.Database, query: str, nick: str) -> None:
    result = search(named, query)
    assert result.kind == "winner" and first(result.papers) == nick and result.corrected is not None


@pytest.mark.parametrize(
    ("query", "readings", "nicks"),
    [
        ("kavilo", ("kavolo", "kavila"), {"Kavolo", "Kavila"}),
        ("costa kavilo", ("costa kavolo", "costa kavila"), {"Kavolo", "Kavila"}),
        ("telmiphom", ("telmipholm", "telmiphomigpt"), {"TelmiphoLM", "TelmiphomiGPT"}),
    ],
)
def test_equally_likely_readings_are_offered_not_chosen(
    named: sqlite_utils.Database, query: str, readings: tuple[str, ...], nicks: set[str]
) -> None:
    result = search(named, query)
    assert result.kind == "choices" and set(result.alternatives) == set(readings)
    assert {first((p,)) for p in result.papers} == nicks


@pytest.mark.parametrize("query", ["diffusio", "transform", "stylegn", "musiclim"])
def test_ordinary_prefixes_and_clear_typos_are_not_ambiguous(db: sqlite_utils.Database, query: str) -> None:
    assert search(db, query).alternatives == ()


def test_did_you_mean_a_or_b_over_http(named: sqlite_utils.Database, tmp_path: Path) -> None:
    with (
        FakeSlack() as fake,
        running_bot(bot_settings(fake, Path(named.execute("PRAGMA database_list").fetchone()[2])), fake) as bot,
    ):
        status, answer = bot.command("kavilo")
    assert status == 200
    intro = answer["blocks"][0]["text"]["text"]
    assert intro in ("Did you mean *kavolo* or *kavila*? Pick one:", "Did you mean *kavila* or *kavolo*? Pick one:")
    opened = {block["accessory"]["value"] for block in answer["blocks"] if block.get("accessory")}
    ids = {str(row[0]) for row in named.execute("SELECT id FROM papers WHERE arxiv_id IN ('2405.00010', '2405.00011')")}
    assert opened == ids


# Partial arXiv ids (issue 9, defect 17): a prefix query, one match or several.


def test_a_partial_id_with_one_match_is_its_card_saying_so(db: sqlite_utils.Database) -> None:
    from bot.slack.blocks import render_text
    from bot.slack.replies import paper_reply

    result = search(db, "2301.1132")
    assert result.kind == "winner" and result.id_prefix == "2301.1132" and result.papers[0].digest_title == MUSICLM
    text = render_text(paper_reply(db, "2301.1132"))
    assert text.startswith("No paper has the arXiv id *2301.1132*; this is the one whose id starts with it.")


@pytest.mark.parametrize("query", ["2301.13", "arXiv:2301.13", "2301.13…", "2301.13..."])
def test_a_partial_id_with_several_matches_lists_them_saying_so(db: sqlite_utils.Database, query: str) -> None:
    from bot.slack.blocks import render_text
    from bot.slack.replies import paper_reply

    result = search(db, query)
    assert result.kind == "choices" and result.id_prefix == "2301.13" and not result.partial
    assert [p.arxiv_id for p in result.papers] == ["2301.13188", "2301.13688", "2301.13868"]
    assert render_text(paper_reply(db, query)).startswith(
        "3 papers have an arXiv id starting with *2301.13*. Pick one:"
    )


def test_a_partial_id_with_many_matches_shows_the_first_five(db: sqlite_utils.Database) -> None:
    from bot.slack.blocks import render_text
    from bot.slack.replies import paper_reply

    result = search(db, "2301.")
    assert result.kind == "choices" and len(result.papers) == 5 and result.id_matches == 7
    assert render_text(paper_reply(db, "2301.")).startswith(
        "7 papers have an arXiv id starting with *2301.*. The first 5:"
    )


@pytest.mark.parametrize("query", ["2212.14", "2301.99", "2313.1", "0612.1", "2301.13 OR 1", "2301.1'--"])
def test_partial_ids_that_match_nothing_or_are_not_ids(db: sqlite_utils.Database, query: str) -> None:
    result = search(db, query)
    assert result.id_prefix is None or result.kind == "none"
    if query in ("2212.14", "2301.99"):
        assert result.kind == "none" and result.id_prefix is not None


# Chinese words found in thousands of papers: only the newest 1,000 are ranked, and nothing is lost.


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> sqlite_utils.Database:
    """1,500 papers that all say 模型, each with its own four-character Chinese name and nickname."""
    from bot.arxiv.ids import ArxivRef
    from bot.digest.parse import Digest, Paper
    from bot.digest.store import store_digest

    database = connect(tmp_path_factory.mktemp("crowded") / "crowded.db")
    chars = "星河灵犀悟道文心通义千问盘古紫东太初书生天工元象曦和玄武青龙"
    for month in range(15):
        papers = []
        for position in range(1, 101):
            serial = month * 100 + position
            name = "".join(chars[(serial // len(chars) ** k) % len(chars)] for k in range(3)) + "号"
            papers.append(
                Paper(
                    position=position,
                    title=f"Quill{serial:04d}: A Model",
                    arxiv=ArxivRef(f"23{month % 12 + 1:02d}.{serial:05d}"),
                    links=(),
                    authors=("Ada Lovelace",),
                    authors_truncated=False,
                    summary=f"我们提出了{name}模型。",
                    line=position,
                )
            )
        year = 2010 + month // 12
        digest = Digest(
            month=f"{year}-{month % 12 + 1:02d}", papers=tuple(papers), content_hash=f"h{month}", source="x"
        )
        store_digest(database, digest)
    return database


def test_a_chinese_word_in_thousands_of_papers_still_answers(crowded: sqlite_utils.Database) -> None:
    result = search(crowded, "模型")
    assert result.kind == "choices" and len(result.papers) == 5
    assert all(paper.paper_id > 500 for paper in result.papers)  # ranked among the newest 1,000
    assert (
        crowded.execute("SELECT count(*) FROM paper_search WHERE paper_search MATCH '\"模型\"'").fetchone()[0] == 1500
    )


@pytest.mark.parametrize("serial", [1, 2, 777, 1500])
def test_no_paper_is_lost_beside_a_word_in_thousands(crowded: sqlite_utils.Database, serial: int) -> None:
    chars = "星河灵犀悟道文心通义千问盘古紫东太初书生天工元象曦和玄武青龙"
    name = "".join(chars[(serial // len(chars) ** k) % len(chars)] for k in range(3)) + "号"
    queries = (name, f"模型 {name}", f"{name}模型", f"quill{serial:04d} 模型", f"模型 quill{serial:04d}")
    for query in (*queries, f"模型 quill{serial:04d} qqqzzzxx", f"lovelace quill{serial:04d} qqqzzzxx"):
        result = search(crowded, query)
        assert result.papers and result.papers[0].digest_title.startswith(f"Quill{serial:04d}:"), query


TERMS_SAMPLES = [
    ("MusicLM: Generating Music From Text", "扩散模型和自回归离散模型 (MAV3D) and (DSP)"),
    ("StyleGAN-T: Unlocking the Power of GANs", "检索增强LM，水印。"),
    ("Ｆｕｌｌ-width ＬＭ： Tramèr's 模型", "Text-To-4D (MAV3D) (x) (ab) (Ab)"),
    ("A title without nickname", ""),
]
TERMS_FINGERPRINTS = {1: "2e1b749aecc483d3"}
"""What the terms of each TERMS_VERSION are, over the shipped digest and the samples above."""


def terms_fingerprint() -> str:
    import hashlib
    import json

    from bot.digest.parse import decode_digest, parse_digest, read_digest_bytes
    from bot.search.index import search_terms

    text, _ = decode_digest(read_digest_bytes(SHIPPED_DIGEST), str(SHIPPED_DIGEST))
    pairs = [(p.title, p.summary) for p in parse_digest(text, source=str(SHIPPED_DIGEST)).papers] + TERMS_SAMPLES
    return hashlib.sha256(json.dumps([search_terms(*pair) for pair in pairs]).encode()).hexdigest()[:16]


def test_the_terms_version_moves_with_what_the_terms_are() -> None:
    """Stored search columns are re-derived only when TERMS_VERSION moves: a change to nicknames() or
    index_text() that leaves it alone would leave every existing database stale. When this fails, bump
    bot.search.terms.TERMS_VERSION and record the new fingerprint under it."""
    assert TERMS_FINGERPRINTS.get(TERMS_VERSION) == terms_fingerprint()


def test_a_named_paper_whose_other_words_do_not_match_is_first_of_a_list(named: sqlite_utils.Database) -> None:
    result = search(named, "rossi bekridra")  # Bekridra is not by Rossi: say so, do not pretend
    assert result.kind == "choices" and result.partial and first(result.papers) == "Bekridra"
