"""The article text an HTML page gives the digest parser: trafilatura's article tree rendered by
bot.digest.html.render_article (not trafilatura's Markdown and back), links against the page URL, and
characters that mean something in Markdown kept as they are. Pages come from a loopback server."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import trafilatura
from lxml import etree

from bot.db import connect
from bot.digest.html import _extractor, _tree, markdown_to_digest_text, render_article
from bot.digest.intake import _split_title
from bot.digest.parse import Digest, parse_digest
from tests.conftest import DATA
from tests.fakes.web import WebServer, web_server
from tests.helpers import run_cli


@pytest.fixture
def web() -> Iterator[WebServer]:
    with web_server() as server:
        yield server


def _render(xml: str, base_url: str | None = "https://blog.example/2023-05/post.html") -> str:
    return render_article(etree.fromstring(xml), base_url)


def test_blocks_headings_lists_quotes_code_and_tables() -> None:
    text = _render(
        "<body><head rend='h1'>Digest</head><p>Intro <hi rend='#b'>bold</hi> and <hi rend='#i'>it</hi>.</p>"
        "<p><hi rend='#b'>1、A Whole Bold Title</hi></p><head rend='h3'>Section</head><head>No level</head>"
        "<list rend='ul'><item>one</item><item>two<list rend='ol'><item>a</item><item>b</item></list></item></list>"
        "<list rend='ol'><item>first</item><item>second</item></list>"
        "<quote>said <lb/>twice</quote><code>def f():\n    return 1</code>"
        "<table><row><cell>x</cell><cell>y</cell></row></table><p>line<lb/>break   here</p></body>"
    )
    assert text.split("\n\n") == [
        "# Digest",
        "Intro **bold** and *it*.",
        "1、A Whole Bold Title",  # an item title: wholly bold, written without its markers
        "### Section",
        "## No level",
        "- one\n- two\n  1. a\n  2. b",
        "1. first\n2. second",
        "> said\n> twice",
        "```\ndef f():\n    return 1\n```",
        "| x | y |",
        "line\nbreak here",
    ]


def test_links_absolute_against_the_page_and_bare_when_the_text_is_the_address() -> None:
    text = _render(
        "<body><p><ref target='https://arxiv.org/abs/2305.00001'>https://arxiv.org/abs/2305.00001</ref></p>"
        "<p><ref target='projects/beta'>project page</ref> and <ref target='../code'>code</ref></p>"
        "<p><ref target='/abs/2305.00002'>/abs/2305.00002</ref> <ref>no target</ref></p></body>"
    )
    assert text.split("\n\n") == [
        "https://arxiv.org/abs/2305.00001",
        "[project page](https://blog.example/2023-05/projects/beta) and [code](https://blog.example/code)",
        "https://blog.example/abs/2305.00002 no target",
    ]


def test_markdown_characters_in_the_text_stay_as_written() -> None:
    # trafilatura's Markdown escapes these (\*, \_, \[) for the digest parser to undo; nothing to undo here
    text = _render("<body><p>R*-Search: fast_top_k over [sparse] &lt;graphs&gt; \\ 1# x</p></body>")
    assert text == "R*-Search: fast_top_k over [sparse] <graphs> \\ 1# x"


def test_text_is_nfc_normalised_like_trafilaturas_output() -> None:
    assert _render("<body><p>Trame\u0300r</p></body>") == "Tram\u00e8r"


def _parsed(text: str) -> Digest:
    return parse_digest(_split_title(text)[1], source="digest-2023-01.html")


@pytest.mark.parametrize(("name", "papers"), [("page-zh.html", 10), ("page-en.html", 3)])
def test_the_rendering_reads_as_trafilaturas_markdown_does(name: str, papers: int) -> None:
    """The same papers, authors, links, summaries and references as trafilatura's own Markdown output
    (read back through markdown_to_digest_text): only line numbers may differ."""
    page = (DATA / name).read_text(encoding="utf-8")
    url = "https://blog.example/post/digest.html"
    document = trafilatura.bare_extraction(_tree(page), options=_extractor(True))
    assert document is not None
    ours = _parsed(render_article(document.body, url))
    markdown = trafilatura.extract(
        _tree(page),
        fast=True,
        output_format="markdown",
        include_links=True,
        include_comments=False,
        include_images=False,
        include_formatting=True,
    )
    assert markdown is not None
    theirs = _parsed(markdown_to_digest_text(markdown, url))
    assert len(ours.papers) == papers
    assert [dataclasses.replace(p, line=0) for p in ours.papers] == [
        dataclasses.replace(p, line=0) for p in theirs.papers
    ]
    assert (ours.intro, ours.references, ours.source_url, ours.curator) == (
        theirs.intro,
        theirs.references,
        theirs.source_url,
        theirs.curator,
    )


def test_a_page_keeps_markdown_characters_and_inline_emphasis(
    db_path: Path, web: WebServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # links written out (as on the Chinese site), which trafilatura's fast pass keeps: its article wins
    arxiv = "https://arxiv.org/abs/2307.0000"
    page = f"""<html><head><meta charset="utf-8"><title>Digest</title></head><body>
    <nav><a href="/">Home</a> | <a href="/archive">Archive</a></nav><article><h1>Digest 2023-07</h1>
    <p>Our picks this month, two papers with odd names.</p>
    <h2>1. R*-Search: fast_top_k over [sparse] graphs</h2><p><a href="{arxiv}1">{arxiv}1</a></p>
    <p>Authors: Ada Lovelace, Alan Turing</p><p>We use <strong>sparse</strong> attention, <em>not</em> dense.</p>
    <h2>2. Another Paper</h2><p><a href="{arxiv}2">{arxiv}2</a></p>
    <p>Authors: Grace Hopper, Edsger Dijkstra</p><p>Another thing, also described in a sentence.</p>
    </article><footer>Footer</footer></body></html>"""
    url = web.add("/blog/2023-07/picks.html", page)
    code, _, err = run_cli(capsys, "load", "--no-enrich", url)
    assert code == 0, err
    title, summary = connect(db_path).execute("SELECT title, summary FROM entries WHERE position = 1").fetchone()
    assert title == "R*-Search: fast_top_k over [sparse] graphs"
    assert summary == "We use **sparse** attention, *not* dense."
    code, out, _ = run_cli(capsys, "search", "--json", "sparse")
    assert "We use *sparse* attention, _not_ dense." in json.dumps(json.loads(out), ensure_ascii=False)
