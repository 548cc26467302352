"""The digest parser, pinned field by field on the shipped digest and on every shape it must read."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.arxiv.ids import ArxivRef, find_arxiv_refs, parse_arxiv_ref
from bot.digest.parse import Digest, DigestError, decode_digest, normalise_title, parse_digest
from tests.conftest import DATA, SHIPPED_DIGEST

FOOTER_WORDS = ("粗体", "斜体", "example.com", "代码", "通知其他用户", "最后本文的一些其他引用", "作者:")


@pytest.fixture(scope="module")
def shipped() -> Digest:
    return parse_digest(SHIPPED_DIGEST.read_text(encoding="utf-8"), source=str(SHIPPED_DIGEST))


def test_shipped_digest_header(shipped: Digest) -> None:
    assert shipped.month == "2023-01"
    assert shipped.month_from == "file name"
    assert shipped.intro == "本月的论文包括语言模型、扩散模型、音乐生成、多模态等主题。"
    assert shipped.source_url == "https://avoid.overfit.cn/post/5cdbc0916d7c4428b44305a2546cc898"
    assert shipped.curator == "Sergi Castella i Sapé"
    assert shipped.title is None
    assert len(shipped.content_hash) == 64


def test_shipped_digest_titles_exactly_as_printed(shipped: Digest) -> None:
    assert [p.title for p in shipped.papers] == [
        "MusicLM: Generating Music From TextPage",
        "A Watermark for Large Language Models",
        "Demonstrate-Search-Predict: Composing retrieval and language models for knowledge-intensive NLP",
        "The Flan Collection: Designing Data and Methods for Effective Instruction Tuning",
        "Tracr: Compiled Transformers as a Laboratory for Interpretability",
        "Extracting Training Data from Diffusion Models",
        "Multimodal Chain-of-Thought Reasoning in Language Models",
        "StyleGAN-T: Unlocking the Power of GANs for Fast Large-Scale Text-to-Image Synthesis",
        "Text-To-4D Dynamic Scene Generation (MAV3D)",
        "PADL: Language-Directed Physics-Based Character Control",
    ]
    assert [p.position for p in shipped.papers] == list(range(1, 11))


def test_shipped_digest_ids_links_and_pages(shipped: Digest) -> None:
    assert [p.arxiv_id for p in shipped.papers] == [
        "2301.11325",
        "2301.10226",
        None,
        "2301.13688",
        "2301.05062",
        "2301.13188",
        "2302.00923",
        "2301.09515",
        None,
        "2301.13868",
    ]
    item3, item9 = shipped.papers[2], shipped.papers[8]
    assert item3.incomplete_link == "https://arxiv.org/pdf/2212.14..."
    assert item3.project_url is None
    assert item9.project_url is None  # cut short ("...") is no link
    assert item9.links == ("https://make-a-video3d.github...",)
    assert item9.incomplete_link is None
    assert all(p.incomplete_link is None for i, p in enumerate(shipped.papers) if i != 2)
    assert shipped.papers[0].links == ("https://arxiv.org/abs/2301.11325",)


def test_shipped_digest_authors(shipped: Digest) -> None:
    first = shipped.papers[0]
    assert first.authors == ("Andrea Agostinelli", "Timeo I. Denk")
    assert first.authors_truncated is True
    assert shipped.papers[1].authors == (
        "John Kirchenbauer",
        "Jonas Geiping",
        "Yuxin Wen",
        "Jonathan Katz",
        "Ian Miers",
        "Tom Goldstein",
    )
    assert shipped.papers[3].authors[7] == "Quoc V. Le"
    assert "Florian Tramèr" in shipped.papers[5].authors
    assert shipped.papers[9].authors == ("Jordan Juravsky", "Yunrong Guo", "Sanja Fidler", "Xue Bin Peng")
    assert [len(p.authors) for p in shipped.papers] == [2, 6, 7, 11, 5, 9, 6, 5, 11, 4]
    assert not any(p.authors_truncated for p in shipped.papers[1:])


def test_shipped_digest_summaries_keep_paragraphs_and_bullets(shipped: Digest) -> None:
    musiclm = shipped.papers[0].summary
    assert musiclm.startswith("扩散模型和自回归离散模型都在生成音乐/音频显示出令人印象深刻的性能。\n")
    assert musiclm.endswith("https://github.com/archinetai...")
    assert musiclm.count("\n") == 4
    watermark = shipped.papers[1].summary
    assert "\n- 给定一个标记，确定性伪随机算法".replace("，", ",") in watermark
    assert watermark.count("\n- ") == 3
    assert shipped.papers[9].summary.endswith("(例如,涉及对象和复杂的交互)。")
    assert shipped.papers[0].citations == (1, 2, 3)
    assert shipped.papers[6].citations == (9,)


def test_shipped_digest_references(shipped: Digest) -> None:
    refs = shipped.references
    assert [r.number for r in refs] == list(range(1, 10))
    assert refs[0].title == "SoundStream: An End-to-End Neural Audio Codec"
    assert refs[0].authors[:2] == ("Neil Zeghidour", "Alejandro Luebs")
    assert refs[0].year == 2021
    assert refs[7].title == "OPT: Open Pre-trained Transformer Language Models"
    assert len(refs[7].authors) == 19
    assert refs[8].year == 2022


def test_shipped_digest_has_no_footer_noise_anywhere(shipped: Digest) -> None:
    texts = [p.summary for p in shipped.papers] + [p.title for p in shipped.papers]
    texts += [r.raw for r in shipped.references] + [shipped.intro or ""]
    for text in texts:
        for word in FOOTER_WORDS:
            assert word not in text, (word, text[:80])
    assert "avoid.overfit.cn" not in shipped.papers[-1].summary


def test_text_variants() -> None:
    path = DATA / "digest-2023-03-variants.txt"
    digest = parse_digest(path.read_text(encoding="utf-8"), source=str(path))
    assert digest.month == "2023-03"
    assert digest.curator == "李雷"
    assert digest.source_url == "https://example.org/digest/2023-03"
    papers = digest.papers
    assert [p.title for p in papers][:3] == [
        "Toolformer: Language Models Can Teach Themselves to Use Tools",
        "LLaMA: Open and Efficient Foundation Language Models",
        "Holographic reduced representations revisited",
    ]
    assert papers[0].arxiv == ArxivRef("2302.04761", 2)
    assert papers[0].authors_truncated and papers[0].authors[-1] == "Roberto Dessì"
    assert papers[1].arxiv == ArxivRef("2302.13971", 1)
    assert papers[1].authors == ("Hugo Touvron", "Thibaut Lavril", "Gautier Izacard")
    assert papers[2].arxiv == ArxivRef("hep-th/9901001", None)
    assert (
        papers[3].arxiv is None and papers[3].links == () and papers[3].authors == ("Ada Lovelace", "Charles Babbage")
    )
    assert papers[4].project_url == "https://lllyasviel.github.io/controlnet" and papers[4].arxiv is None
    assert papers[5].arxiv is None and papers[5].incomplete_link == "https://arxiv.org/abs/2303.0…"
    assert papers[6].arxiv == ArxivRef("2303.08774") and papers[6].authors == ("OpenAI",)
    assert papers[0].summary.splitlines() == [
        "语言模型可以自己学会调用外部工具（计算器、搜索引擎）。",
        "- 自监督地插入 API 调用。",
        "- 只保留能降低困惑度的调用。",
    ]
    assert [r.number for r in digest.references] == [1, 2]
    assert "页脚" not in "".join(p.summary for p in papers)


def test_markdown_digest() -> None:
    path = DATA / "digest-2023-02.md"
    digest = parse_digest(path.read_text(encoding="utf-8"), source=str(path))
    assert digest.month == "2023-02"
    assert digest.title == "ML Paper Digest — February 2023"
    assert digest.intro == "This month: tool use, open foundation models, and controllable diffusion."
    assert digest.source_url == "https://example.com/digest/2023-02"
    assert digest.curator == "Jane Doe"
    assert [p.title for p in digest.papers] == [
        "Toolformer: Language Models Can Teach Themselves to Use Tools",
        "Adding Conditional Control to Text-to-Image Diffusion Models",
        "Symbolic Discovery of Optimization Algorithms",
    ]
    assert [p.arxiv for p in digest.papers] == [
        ArxivRef("2302.04761"),
        ArxivRef("2302.05543", 3),
        ArxivRef("2302.06675", 4),
    ]
    assert len(digest.papers[0].authors) == 8
    assert digest.papers[2].authors_truncated
    assert digest.papers[1].summary == (
        "ControlNet locks a large diffusion model and learns a trainable copy of its encoding layers.\n\n"
        "It works with edges, depth, segmentation and human pose."
    )
    assert digest.papers[0].citations == (1,)
    assert [r.title for r in digest.references] == ["Language Models are Few-Shot Learners"]
    assert "Source" not in digest.papers[-1].summary and "---" not in digest.papers[-1].summary


def test_month_from_ids_when_the_name_has_none() -> None:
    text = (DATA / "digest-2023-02.md").read_text(encoding="utf-8")
    assert parse_digest(text, source="digest.md").month == "2023-02"
    assert parse_digest(text, source="digest.md").month_from == "arXiv ids"
    assert parse_digest(text, source="digest-2023-05.md", month="2024-12").month == "2024-12"


def test_no_month_at_all_is_an_error() -> None:
    text = "1. Some Title\nAda Lovelace, Charles Babbage.\nA summary.\n"
    with pytest.raises(DigestError, match="--month"):
        parse_digest(text, source="notes.txt")


def test_numbered_list_inside_a_summary_is_not_an_item() -> None:
    text = (
        "1、First Paper Title\nhttps://arxiv.org/abs/2301.00001\nAda Lovelace.\n"
        "主要发现：\n2. 第二点不是论文\n1. 也不是\n"
        "2、Second Paper Title\nhttps://arxiv.org/abs/2301.00002\nAlan Turing.\n总结。\n"
    )
    digest = parse_digest(text, source="x-2023-01.txt")
    assert [p.title for p in digest.papers] == ["First Paper Title", "Second Paper Title"]
    assert "2. 第二点不是论文" in digest.papers[0].summary


@pytest.mark.parametrize("text", ["", "   \n", "hello world\njust some notes\n", "1、\n"])
def test_text_without_papers_is_an_error(text: str) -> None:
    with pytest.raises(DigestError, match="no recognisable paper"):
        parse_digest(text, source="x-2023-01.txt")


def test_gb18030_is_decoded_and_latin1_garbage_refused() -> None:
    original = SHIPPED_DIGEST.read_text(encoding="utf-8")
    text, encoding = decode_digest(original.encode("gb18030"), "x.txt")
    assert encoding == "gb18030" and text == original
    with pytest.raises(DigestError, match="not UTF-8") as caught:
        decode_digest("line one\ncafé crème\n".encode("latin-1"), "x.txt")
    assert caught.value.line == 2
    with pytest.raises(DigestError, match="binary"):
        decode_digest(b"\x89PNG\r\n\x1a\n\0\0\0IHDR", "x.png")


def test_normalised_title_ignores_case_width_and_punctuation() -> None:
    assert normalise_title("Text-To-4D Dynamic Scene Generation (MAV3D)") == "text to 4d dynamic scene generation mav3d"
    assert normalise_title("ＭｕｓｉｃＬＭ：Generating") == normalise_title("musiclm generating")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2301.11325", ArxivRef("2301.11325")),
        ("2301.11325v2", ArxivRef("2301.11325", 2)),
        ("arXiv:2301.11325", ArxivRef("2301.11325")),
        ("https://arxiv.org/abs/2301.11325", ArxivRef("2301.11325")),
        ("http://arxiv.org/abs/2301.11325v3", ArxivRef("2301.11325", 3)),
        ("https://arxiv.org/pdf/2301.11325.pdf", ArxivRef("2301.11325")),
        ("https://arxiv.org/pdf/2301.11325v1.pdf", ArxivRef("2301.11325", 1)),
        ("https://arxiv.org/pdf/2301.11325v1", ArxivRef("2301.11325", 1)),
        ("https://export.arxiv.org/abs/2301.11325", ArxivRef("2301.11325")),
        ("arxiv.org/abs/2301.11325", ArxivRef("2301.11325")),
        ("<https://arxiv.org/abs/2301.11325>", ArxivRef("2301.11325")),
        ("0704.0001", ArxivRef("0704.0001")),
        ("hep-th/9901001", ArxivRef("hep-th/9901001")),
        ("hep-th/9901001v2", ArxivRef("hep-th/9901001", 2)),
        ("https://arxiv.org/abs/math.AG/0601001", ArxivRef("math.AG/0601001")),
        ("https://arxiv.org/pdf/2212.14...", None),
        ("https://arxiv.org/pdf/2212.14…", None),
        ("2212.14", None),
        ("2301.1132", None),
        ("1412.12345", None),
        ("2313.11325", None),
        ("https://example.com/abs/2301.11325", None),
        ("musiclm", None),
        ("", None),
    ],
)
def test_parse_arxiv_ref(text: str, expected: ArxivRef | None) -> None:
    assert parse_arxiv_ref(text) == expected


def test_find_arxiv_refs_in_free_text() -> None:
    text = (
        "see https://arxiv.org/abs/2301.11325v2 and arXiv:2301.10226, also 2301.11325 again; "
        "not 12301.11325 or version 1.2.3 or https://arxiv.org/pdf/2212.14..."
    )
    assert find_arxiv_refs(text) == [ArxivRef("2301.11325", 2), ArxivRef("2301.10226")]


PIECES = st.sampled_from(
    [
        "1、",
        "2. ",
        "3) ",
        "## 1. ",
        "# ",
        "https://arxiv.org/abs/2301.11325",
        "https://arxiv.org/pdf/2212.14...",
        "By ",
        "Authors: ",
        "Ada Lovelace, Alan Turing.",
        "et al.",
        "[1] “T” by A, 2021.",
        "作者：X",
        "Source: ",
        "---",
        "\n",
        "\n\n",
        "水印",
        "- ",
        "(MAV3D)",
        "\x00",
        "\r\n",
        "…",
        "arXiv:",
        "hep-th/9901001v2",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(PIECES, st.text(max_size=30)), max_size=40).map("".join))
def test_any_text_parses_or_is_refused_with_a_reason(text: str) -> None:
    try:
        digest = parse_digest(text, source="fuzz-2023-01.txt")
    except DigestError as error:
        assert str(error).startswith("fuzz-2023-01.txt") and error.reason
        return
    assert digest.papers and all(paper.title for paper in digest.papers)
    assert [paper.position for paper in digest.papers] == list(range(1, len(digest.papers) + 1))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_decode_or_are_refused_with_a_reason(data: bytes) -> None:
    try:
        text, encoding = decode_digest(data, "fuzz.txt")
    except DigestError as error:
        assert error.reason
        return
    assert encoding in ("utf-8", "utf-16", "gb18030") and isinstance(text, str)
