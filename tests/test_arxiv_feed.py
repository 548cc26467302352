"""The arXiv client stands on the ``arxiv`` package's public API only, builds its query URLs from the API's
documented parameters, and reads each reply once (issue 9, #4)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import pytest

import bot.arxiv.client
from bot.arxiv.client import ArxivClient, RateLimiter, query_url, read_feed
from tests.fakes.arxiv_api import FakeArxivAPI
from tests.helpers import REPO


@pytest.fixture(scope="module")
def api() -> Iterator[FakeArxivAPI]:
    with FakeArxivAPI() as fake:
        yield fake


def _private_arxiv_uses(tree: ast.AST) -> list[str]:
    """Every use of a private name of the ``arxiv`` package (``arxiv._x``, ``from arxiv import _x``,
    ``import arxiv._x``), and every subclass of one of its classes (overriding private methods)."""
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "arxiv":
            if "._" in f".{node.module}" or any(alias.name.startswith("_") for alias in node.names):
                found.append(f"line {node.lineno}: from {node.module} import …")
        elif isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {a.name}" for a in node.names if a.name.startswith("arxiv._")]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "arxiv":
            if node.attr.startswith("_") and node.attr != "__version__":
                found.append(f"line {node.lineno}: arxiv.{node.attr}")
        elif isinstance(node, ast.ClassDef):
            for base in node.bases:
                if isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name) and base.value.id == "arxiv":
                    found.append(f"line {node.lineno}: class {node.name}(arxiv.{base.attr})")
    return found


def test_no_module_uses_a_private_part_of_the_arxiv_package() -> None:
    offenders = {
        str(path.relative_to(REPO)): uses
        for path in sorted((REPO / "bot").rglob("*.py"))
        if (uses := _private_arxiv_uses(ast.parse(path.read_text(encoding="utf-8"))))
    }
    assert offenders == {}


def test_the_private_name_check_catches_each_kind_of_use() -> None:
    source = (
        "import arxiv\nfrom arxiv import _feed\nimport arxiv._feed\nx = arxiv._feed\n"
        "class C(arxiv.Client):\n    pass\ny = arxiv.Search\nz = arxiv.__version__\n"
    )
    assert {use.split(":")[0] for use in _private_arxiv_uses(ast.parse(source))} == {
        "line 2",
        "line 3",
        "line 4",
        "line 5",
    }


def test_query_urls_use_the_documented_parameters() -> None:
    url = query_url("http://127.0.0.1:1/api/query", id_list=["2301.11325", "hep-th/9711200"], max_results=2)
    parts = urlsplit(url)
    assert parts.path == "/api/query"
    assert parse_qs(parts.query, keep_blank_values=True) == {
        "search_query": [""],
        "id_list": ["2301.11325,hep-th/9711200"],
        "sortBy": ["relevance"],
        "sortOrder": ["descending"],
        "start": ["0"],
        "max_results": ["2"],
    }
    search = parse_qs(urlsplit(query_url("http://x/api/query", search_query='ti:"a b"', max_results=5)).query)
    assert search["search_query"] == ['ti:"a b"'] and search["max_results"] == ["5"] and "id_list" not in search


def test_each_reply_is_parsed_once(api: FakeArxivAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    parses: list[int] = []

    def fromstring(body: bytes) -> ElementTree.Element:
        parses.append(len(body))
        return ElementTree.fromstring(body)

    monkeypatch.setattr(bot.arxiv.client, "ElementTree", SimpleNamespace(fromstring=fromstring, ParseError=SyntaxError))
    client = ArxivClient(api.url, 0.0, limiter=RateLimiter())
    fetched = client.fetch_ids(["2301.11325", "2301.10226"])
    found = client.search('ti:"MusicLM Generating Music From Text"', max_results=3)
    assert [e.arxiv_id for e in fetched.entries] == ["2301.11325", "2301.10226"]
    assert found and found[0].arxiv_id == "2301.11325"
    assert len(parses) == client.stats.requests == 2


def test_an_entry_without_dates_is_incomplete_and_named() -> None:
    feed = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/2301.00002v1</id>'
        b"<title>T</title><author><name>Ada Lovelace</name></author></entry></feed>"
    )
    ids, entries = read_feed(feed)
    assert ids == ["http://arxiv.org/abs/2301.00002v1"]
    assert entries == ["arXiv's entry for 2301.00002 lacks its published date"]
