"""Search quality: a table of what people type and the paper they mean, plus the search's edge cases."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlite_utils

from bot.db import connect
from bot.digest.store import load_file
from bot.search.query import search
from tests.conftest import DATA, SHIPPED_DIGEST

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
