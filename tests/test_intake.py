"""Digest intake from the command line: web pages (a loopback server), HTML files, versions, history,
restore, refusals that keep the database as it was, and friendlier input."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bot.digest.fetch
from bot.db import connect
from tests.conftest import DATA, SHIPPED_DIGEST
from tests.fakes.web import WebServer, web_server
from tests.helpers import free_port, run_cli, snapshot

ZH_PAGE = (DATA / "page-zh.html").read_bytes()
GBK_PAGE = (DATA / "page-zh-gbk.html").read_bytes()
EN_PAGE = (DATA / "page-en.html").read_bytes()
CHROME_IDS = ("2303.08774", "2212.09748", "1706.03762")
"""arXiv ids that appear only in the page's comments and hot-posts sidebar."""


@pytest.fixture
def web() -> Iterator[WebServer]:
    with web_server() as server:
        yield server


def _papers(db_path: Path, month: str) -> list[tuple[int, str, str | None]]:
    db = connect(db_path)
    rows = db.execute(
        "SELECT e.position, e.title, p.arxiv_id FROM entries e JOIN papers p ON p.id = e.paper_id"
        " WHERE e.month = ? ORDER BY e.position",
        [month],
    ).fetchall()
    return [(int(r[0]), str(r[1]), r[2]) for r in rows]


def test_load_url_of_a_chinese_article_page_gives_the_same_papers_as_the_text(
    db_path: Path, tmp_path: Path, web: WebServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = web.add("/post/2023-01-papers.html", ZH_PAGE)
    code, out, err = run_cli(capsys, "load", "--no-enrich", url)
    assert code == 0, err
    assert out.startswith(f"{url}: 2023-01: 10 papers: 10 added, 0 updated, 0 unchanged (version 1)")
    from_page = _papers(db_path, "2023-01")
    user_agent = web.requests[0][1]["user-agent"]
    assert user_agent.startswith("paperbot/")

    text_db = tmp_path / "text.db"
    from bot.digest.store import load_file

    load_file(connect(text_db), SHIPPED_DIGEST)
    assert from_page == _papers(text_db, "2023-01")
    db = connect(db_path)
    ids = {row[0] for row in db.execute("SELECT arxiv_id FROM papers WHERE arxiv_id IS NOT NULL")}
    assert not ids & set(CHROME_IDS)  # comments and the sidebar never become papers
    refs = [row[0] for row in db.execute("SELECT title FROM digest_references WHERE month = '2023-01'")]
    assert len(refs) == 9 and not any("推荐" in ref for ref in refs)
    digest = db.execute("SELECT curator, source_url, title FROM digests").fetchone()
    assert digest == ("Sergi Castella i Sapé", "https://avoid.overfit.cn/post/5cdbc0916d7c4428b44305a2546cc898",
                      "2023年1月论文推荐")  # fmt: skip
    summary = db.execute("SELECT summary FROM entries WHERE position = 10").fetchone()[0]
    assert "评论" not in summary and "粗体" not in summary and "ICP" not in summary
    version = db.execute("SELECT kind, source, url, size, loaded_by FROM digest_versions").fetchone()
    assert version[:4] == ("html", url, url, len(ZH_PAGE)) and version[4].startswith("cli")


@pytest.mark.parametrize("where", ["header", "meta"])
def test_gbk_page_charset_from_header_or_meta(
    where: str, db_path: Path, web: WebServer, capsys: pytest.CaptureFixture[str]
) -> None:
    content_type = "text/html; charset=GBK" if where == "header" else "text/html"
    url = web.add("/2023-01/digest", GBK_PAGE, headers={"Content-Type": content_type})
    code, out, err = run_cli(capsys, "load", "--no-enrich", url)
    assert code == 0, err
    assert "2023-01: 10 papers: 10 added" in out and "(decoded as GB18030)" in out
    titles = [title for _, title, _ in _papers(db_path, "2023-01")]
    assert titles[1] == "A Watermark for Large Language Models"
    summary = connect(db_path).execute("SELECT summary FROM entries WHERE position = 2").fetchone()[0]
    assert summary.startswith("随着 chatGPT 在主流中越来越受欢迎")


def test_english_page_one_h2_per_paper_month_from_arxiv_ids(
    db_path: Path, web: WebServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = web.add("/digest/february", EN_PAGE)
    code, out, err = run_cli(capsys, "load", "--no-enrich", url)
    assert code == 0, err
    assert ": 2023-02: 3 papers: 3 added" in out
    papers = _papers(db_path, "2023-02")
    assert [arxiv for _, _, arxiv in papers] == ["2302.04761", "2302.05543", "2302.06675"]
    assert papers[0][1] == "Toolformer: Language Models Can Teach Themselves to Use Tools"


@pytest.mark.parametrize(
    ("href", "text", "arxiv_text", "resolved"),
    [
        # A short anchor, and arXiv links labelled "arXiv": readability's article (trafilatura's fast pass
        # drops a paragraph of one short link as boilerplate).
        ("../projects/alpha", "project page", "arXiv", "/blog/projects/alpha"),
        # A long label and bare arXiv links: trafilatura's own article, whose links it would resolve
        # against the site root (/projects/beta) if it were given the URL.
        ("projects/beta", "the beta project, code and data", None, "/blog/2023-05/projects/beta"),
    ],
)
def test_relative_links_resolve_against_the_page_url(
    db_path: Path,
    web: WebServer,
    capsys: pytest.CaptureFixture[str],
    href: str,
    text: str,
    arxiv_text: str | None,
    resolved: str,
) -> None:
    arxiv = "https://arxiv.org/abs/2305.00001"
    page = f"""<html><head><meta charset="utf-8"><title>Digest</title></head><body>
    <nav><a href="/">Home</a></nav><article><h1>Digest 2023-05</h1><p>Our picks this month, two papers.</p>
    <h2>1. A Paper With A Project Page</h2><p>Project page: <a href="{href}">{text}</a></p>
    <p>Authors: Ada Lovelace, Alan Turing</p><p>It does a thing that is described in one sentence here.</p>
    <h2>2. Another Paper</h2><p><a href="{arxiv}">{arxiv_text or arxiv}</a></p>
    <p>Authors: Grace Hopper, Edsger Dijkstra</p><p>Another thing, also described in a sentence.</p>
    </article><footer>Footer</footer></body></html>"""
    url = web.add("/blog/2023-05/picks.html", page)
    code, _, err = run_cli(capsys, "load", "--no-enrich", url)
    assert code == 0, err
    row = connect(db_path).execute("SELECT project_url FROM entries WHERE position = 1").fetchone()
    assert row[0] == f"{web.url}{resolved}"


def test_html_file_loads_like_the_page(db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "2023-01.html"
    path.write_bytes(ZH_PAGE)
    code, out, err = run_cli(capsys, "load", "--no-enrich", str(path))
    assert code == 0, err and ": 2023-01: 10 papers: 10 added" in out
    assert len(_papers(db_path, "2023-01")) == 10


def _bad_page(case: str, web: WebServer, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """(URL, what the one line must say) for each kind of bad page."""
    if case == "404":
        return web.url + "/2023-01/missing", "HTTP 404"
    if case == "500":
        return web.add("/2023-01/error", b"oops", status=500), "HTTP 500"
    if case == "timeout":
        monkeypatch.setattr(bot.digest.fetch, "READ_TIMEOUT_SECONDS", 0.3)
        return web.add("/2023-01/slow", ZH_PAGE, delay=5), "timed out"
    if case == "redirect loop":
        web.add("/a", headers={"Location": "/b"}, status=302)
        web.add("/b", headers={"Location": "/a"}, status=302)
        return web.url + "/a", "redirects"
    if case == "refused":
        return f"http://127.0.0.1:{free_port()}/2023-01", "connection refused"
    if case == "pdf":
        return web.add("/2023-01.pdf", b"%PDF-1.7\n...", headers={"Content-Type": "application/pdf"}), "PDF"
    if case == "pdf as html":
        return web.add("/2023-01/p", b"%PDF-1.7\n...", headers={"Content-Type": "text/html"}), "PDF"
    if case == "image":
        return web.add("/2023-01.png", b"\x89PNG\r\n", headers={"Content-Type": "image/png"}), "image"
    if case == "too large":
        return web.add("/2023-01/big", b"<html>" + b" " * (6 * 1024 * 1024)), "too large"
    if case == "too large, no length":
        body = b"<html>" + b" " * (6 * 1024 * 1024)
        return web.add("/2023-01/stream", body, headers={"Content-Type": "text/html"}, send_length=False), "too large"
    if case == "no papers":
        page = "<html><body><nav>Home</nav><article><h1>About us</h1><p>We write about ML.</p></article></body></html>"
        return web.add("/2023-01/about", page), "no papers"
    if case == "wrong charset":
        return web.add("/2023-01/gbk", GBK_PAGE, headers={"Content-Type": "text/html; charset=utf-8"}), "charset"
    raise AssertionError(case)


BAD_PAGES = [
    "404",
    "500",
    "timeout",
    "redirect loop",
    "refused",
    "pdf",
    "pdf as html",
    "image",
    "too large",
    "too large, no length",
    "no papers",
    "wrong charset",
]


@pytest.mark.parametrize("case", BAD_PAGES)
def test_bad_page_one_line_nonzero_database_unchanged(
    case: str, db_path: Path, web: WebServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "load", "--no-enrich", str(SHIPPED_DIGEST))[0] == 0
    before = snapshot(db_path)
    url, reason = _bad_page(case, web, monkeypatch)
    code, out, err = run_cli(capsys, "load", "--no-enrich", url)
    assert code == 1 and out == ""
    first = err.splitlines()[0]
    assert first.startswith(f"error: {url}: ") and reason in first, err
    assert snapshot(db_path) == before


# --- nothing is ever lost -------------------------------------------------------------------------------


def _truncated(tmp_path: Path) -> Path:
    """January cut after its first paper (the careless reload of the issue)."""
    text = SHIPPED_DIGEST.read_text(encoding="utf-8")
    path = tmp_path / "cut" / "2023-01.txt"
    path.parent.mkdir()
    path.write_text(text[: text.index("2、A Watermark")] + text[text.index("最后本文") :], encoding="utf-8")
    return path


def test_reload_that_removes_papers_is_refused_then_replace_keeps_everything_and_restore_brings_it_back(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "load", "--no-enrich", str(SHIPPED_DIGEST))[0] == 0
    db = connect(db_path)
    # What a dropped paper must keep: arXiv metadata, enrichment state, a suggestion with a vote.
    db.execute(
        "INSERT INTO arxiv_entries (arxiv_id, title, authors, abstract, categories, fetched_at)"
        " VALUES ('2301.10226', 'A Watermark for Large Language Models', '[\"John Kirchenbauer\"]', 'We watermark.',"
        " '[]', 'now')"
    )
    db.execute("UPDATE papers SET enrich_status = 'enriched' WHERE arxiv_id = '2301.10226'")
    db.execute("INSERT INTO suggestions (arxiv_id, suggested_by, created_at) VALUES ('2301.10226', 'U1', 'now')")
    db.execute("INSERT INTO votes (suggestion_id, user_id, created_at) VALUES (1, 'U2', 'now')")
    before = snapshot(db_path)
    cut = _truncated(tmp_path)

    code, out, err = run_cli(capsys, "load", "--no-enrich", str(cut))
    assert code == 1 and out == ""
    [line] = err.strip().splitlines()  # one source: one line
    assert line.startswith(f"error: {cut}: would remove 9 papers from 2023-01 (A Watermark for Large Language Models;")
    assert "PADL: Language-Directed Physics-Based Character Control" in line and "--replace" in line
    assert snapshot(db_path) == before

    code, out, _ = run_cli(capsys, "load", "--no-enrich", "--dry-run", str(cut))
    assert code == 0 and "1 unchanged, 9 removed (dry run: nothing written; loading it needs --replace)" in out
    assert "  - A Watermark for Large Language Models" in out
    assert snapshot(db_path) == before

    code, out, _ = run_cli(capsys, "load", "--no-enrich", "--replace", str(cut))
    assert code == 0 and "9 removed (version 2)" in out and "  - Tracr: Compiled Transformers" in out
    assert len(_papers(db_path, "2023-01")) == 1
    kept = db.execute(
        "SELECT p.enrich_status, a.abstract, (SELECT count(*) FROM votes) FROM papers p"
        " JOIN arxiv_entries a ON a.arxiv_id = p.arxiv_id WHERE p.arxiv_id = '2301.10226'"
    ).fetchone()
    assert kept == ("enriched", "We watermark.", 1)

    code, out, _ = run_cli(capsys, "history", "2023-01")
    lines = out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("2023-01 v1 ") and " load " in lines[0]
    assert " replace " in lines[1] and "1 paper " in lines[1] and lines[1].endswith("(current)")

    # The restore needs no network: ARXIV_API_URL points at a closed port, and nothing is fetched.
    code, out, err = run_cli(capsys, "restore", "2023-01", "1")
    assert code == 0, err
    assert "10 papers: 9 added, 0 updated, 1 unchanged (version 3)" in out
    assert "  + A Watermark for Large Language Models" in out
    assert _papers(db_path, "2023-01") == [(i, t, a) for i, t, a in _papers(db_path, "2023-01")]
    assert len(_papers(db_path, "2023-01")) == 10
    after = db.execute(
        "SELECT p.enrich_status, a.abstract FROM papers p JOIN arxiv_entries a ON a.arxiv_id = p.arxiv_id"
        " WHERE p.arxiv_id = '2301.10226'"
    ).fetchone()
    assert after == ("enriched", "We watermark.")
    assert db.execute("SELECT count(*) FROM papers").fetchone()[0] == 10
    out = run_cli(capsys, "history")[1]
    assert "restore of v1" in out.splitlines()[2]

    code, _, err = run_cli(capsys, "restore", "2023-01", "3")
    assert code == 1 and "already the current version" in err
    code, _, err = run_cli(capsys, "restore", "2023-01", "7")
    assert code == 1 and "no such version (its versions are 1, 2, 3" in err


def test_a_copy_cut_after_a_papers_link_is_refused_for_what_it_would_empty(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "load", "--no-enrich", str(SHIPPED_DIGEST))[0] == 0
    before = snapshot(db_path)
    lines = SHIPPED_DIGEST.read_text(encoding="utf-8").splitlines()
    heading = next(n for n, line in enumerate(lines) if line.startswith("10、PADL"))
    cut = tmp_path / "2023-01.txt"
    cut.write_text("\n".join(lines[: heading + 2]) + "\n", encoding="utf-8")  # the heading and its link only

    code, out, err = run_cli(capsys, "load", "--no-enrich", str(cut))
    assert code == 1 and out == ""
    assert err.strip() == (
        f"error: {cut}: would empty the summary or authors of 1 paper in 2023-01 (PADL: Language-Directed"
        " Physics-Based Character Control; is the source cut short?); nothing loaded — give --replace to load"
        " it anyway"
    )
    assert snapshot(db_path) == before
    code, out, _ = run_cli(capsys, "load", "--no-enrich", "--dry-run", str(cut))
    assert code == 0 and "(dry run: nothing written; loading it needs --replace)" in out
    assert "  ! PADL: Language-Directed Physics-Based Character Control (summary or authors now empty)" in out
    assert snapshot(db_path) == before
    code, out, _ = run_cli(capsys, "load", "--no-enrich", "--replace", str(cut))
    assert code == 0 and "(version 2)" in out and "  ! PADL" in out
    code, out, _ = run_cli(capsys, "history", "2023-01")
    assert "replace" in out.splitlines()[-1]
    assert run_cli(capsys, "restore", "2023-01", "1")[0] == 0
    summary = connect(db_path).execute("SELECT summary FROM entries WHERE title LIKE 'PADL%'").fetchone()[0]
    assert summary.startswith("超越文本的 LM 应用程序")


def test_dry_run_of_a_first_load_writes_nothing(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    connect(db_path)
    before = snapshot(db_path)
    code, out, _ = run_cli(capsys, "load", "--dry-run", str(SHIPPED_DIGEST))
    assert code == 0 and "10 added" in out and "(dry run: nothing written)" in out
    assert snapshot(db_path) == before


def test_month_contradicting_the_file_name_is_refused(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    connect(db_path)
    before = snapshot(db_path)
    code, out, err = run_cli(capsys, "load", "--month", "2023-02", str(SHIPPED_DIGEST))
    assert code == 1 and out == ""
    assert err.splitlines()[0] == (
        f"error: {SHIPPED_DIGEST}: --month 2023-02 contradicts the 2023-01 in its name; nothing loaded"
        " (give --replace to load it as 2023-02 anyway)"
    )
    assert snapshot(db_path) == before
    code, out, _ = run_cli(capsys, "load", "--no-enrich", "--replace", "--month", "2023-02", str(SHIPPED_DIGEST))
    assert code == 0 and ": 2023-02: 10 papers" in out


def test_two_sources_for_one_month_in_one_command_are_refused(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    connect(db_path)
    before = snapshot(db_path)
    other = tmp_path / "digest-2023-01.txt"
    shutil.copy(SHIPPED_DIGEST, other)
    code, out, err = run_cli(capsys, "load", "--no-enrich", str(SHIPPED_DIGEST), str(other))
    assert code == 1 and out == ""
    assert err.strip() == (
        f"error: {SHIPPED_DIGEST} and {other} are both the 2023-01 digest: load one of them"
        " (or give --replace to load them in order, the last one winning); nothing loaded"
    )
    assert snapshot(db_path) == before


def test_history_without_versions(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "history")
    assert code == 1 and "no digest versions stored yet — `paperbot load FILE_OR_URL`" in err


# --- friendlier input ------------------------------------------------------------------------------------


def test_utf16_with_bom_loads(db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "2023-01.txt"
    path.write_bytes(SHIPPED_DIGEST.read_text(encoding="utf-8").encode("utf-16"))
    code, out, err = run_cli(capsys, "load", "--no-enrich", str(path))
    assert code == 0, err
    assert "10 papers: 10 added" in out and "(decoded as UTF-16)" in out


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("2023-01.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj", "this is a PDF file"),
        ("2023-01.docx", b"PK\x03\x04\x14\x00\x06\x00[Content_Types].xml word/document.xml", "this is a Word file"),
        ("2023-01.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "this is a Word file"),
    ],
)
def test_pdf_and_word_files_are_named_without_a_line_number(
    name: str, data: bytes, says: str, db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    code, _, err = run_cli(capsys, "load", str(path))
    assert code == 1
    assert err.splitlines()[0] == f"error: {path}: {says}; save the article as UTF-8 text, Markdown or HTML"


def test_search_on_an_empty_database_says_no_digest_loaded_yet(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "search", "musiclm")
    assert code == 0 and out.strip() == "no digest loaded yet — `paperbot load FILE_OR_URL`"


def test_versions_keep_the_raw_bytes_compressed(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(capsys, "load", "--no-enrich", str(SHIPPED_DIGEST))
    import zlib

    with sqlite3.connect(db_path) as conn:
        raw, size, content_hash = conn.execute("SELECT raw, size, content_hash FROM digest_versions").fetchone()
    assert zlib.decompress(raw) == SHIPPED_DIGEST.read_bytes() and size == len(SHIPPED_DIGEST.read_bytes())
    assert len(raw) < size and json.dumps(content_hash)


def test_markdown_emphasis_shows_as_slack_mrkdwn_and_the_credit_has_no_stray_bracket(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "digest-2023-06.md"
    path.write_text(
        "# June\n\n## 1. Emphatic Paper About Widgets\n\n[arXiv:2306.00001](https://arxiv.org/abs/2306.00001)\n"
        "Authors: Ada Lovelace, Alan Turing\n\nA **bold** claim, an _aside_, a *subtle* point and"
        " [the code](https://github.com/example/widgets). Also <@channel> & co.\n\n"
        "Source: https://example.com/digest/2023-06 (作者: Team Lead)\n",
        encoding="utf-8",
    )
    code, _, err = run_cli(capsys, "load", "--no-enrich", str(path))
    assert code == 0, err
    curator, source_url = connect(db_path).execute("SELECT curator, source_url FROM digests").fetchone()
    assert (curator, source_url) == ("Team Lead", "https://example.com/digest/2023-06")
    code, out, _ = run_cli(capsys, "search", "--json", "emphatic")
    summary = json.loads(out)["blocks"][2]["text"]["text"]
    assert summary == (
        "A *bold* claim, an _aside_, a _subtle_ point and <https://github.com/example/widgets|the code>."
        " Also &lt;@\u2060channel&gt; &amp; co."
    )


def test_paperbot_load_url_in_a_subprocess_then_history(db_path: Path, tmp_path: Path, web: WebServer) -> None:
    import subprocess

    from tests.helpers import bot_process_env, spawn_bot

    url = web.add("/post/2023-01-papers.html", ZH_PAGE)
    env = bot_process_env(PAPERBOT_DB=str(db_path), ARXIV_API_URL="http://127.0.0.1:9/api/query")
    proc = spawn_bot("load", "--no-enrich", url, env=env, cwd=tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.startswith(f"{url}: 2023-01: 10 papers: 10 added")
    proc = spawn_bot("history", env=env, cwd=tmp_path, stderr=subprocess.STDOUT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.startswith("2023-01 v1 ") and url in out and "(current)" in out


def test_digests_loaded_before_versions_get_a_version_that_restores_them(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A database as it was before versions: a digest loaded, no version rows, the backfill not yet run.
    assert run_cli(capsys, "load", "--no-enrich", str(SHIPPED_DIGEST), str(DATA / "digest-2023-02.md"))[0] == 0
    with sqlite3.connect(db_path) as conn:
        conn.execute("DELETE FROM digest_versions")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm030_backfill_digest_versions'")
    columns = (
        "SELECT month, paper_id, position, title, authors, authors_truncated, summary, links, arxiv_version,"
        " incomplete_link, project_url, citations FROM entries ORDER BY month, position"
    )
    with sqlite3.connect(db_path) as conn:
        entries = conn.execute(columns).fetchall()
        references = conn.execute("SELECT * FROM digest_references ORDER BY month, number").fetchall()
        digests = conn.execute("SELECT month, title, intro, source_url, curator FROM digests").fetchall()
    out = run_cli(capsys, "history")[1].splitlines()
    assert out[0].startswith("2023-01 v1 ") and "before versions" in out[0] and out[0].endswith("(current)")
    assert "digest-2023-02.md (as stored)" in out[1]

    code, _, err = run_cli(capsys, "load", "--no-enrich", "--replace", str(_truncated(tmp_path)))
    assert code == 0, err
    code, out_text, err = run_cli(capsys, "restore", "2023-01", "1")
    assert code == 0, err and "9 added" in out_text
    with sqlite3.connect(db_path) as conn:
        assert conn.execute(columns).fetchall() == entries
        assert conn.execute("SELECT * FROM digest_references ORDER BY month, number").fetchall() == references
        assert conn.execute("SELECT month, title, intro, source_url, curator FROM digests").fetchall() == digests


_TAGS = st.sampled_from(["<p>", "</p>", "<h2>", "</h2>", "<a href='/x'>", "</a>", "<strong>", "</strong>",
                         "<nav>", "</nav>", "<meta charset='gbk'>", "<br>", "1、", "https://arxiv.org/abs/2301.00001",
                         "By Ada Lovelace, Alan Turing.", "摘要", "\n"])  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=400), st.lists(st.one_of(_TAGS, st.text(max_size=20)), max_size=40)))
def test_any_page_parses_or_gives_one_reason(content: bytes | list[str]) -> None:
    from bot.digest.intake import parse_source
    from bot.digest.parse import DigestError
    from bot.digest.versions import Source

    data = content if isinstance(content, bytes) else "".join(content).encode("utf-8", "surrogatepass")
    try:
        digest = parse_source(Source("page-2023-01.html", data, "html", "https://example.com/p"))
    except DigestError as error:
        assert "\n" not in str(error) and str(error).startswith("page-2023-01.html")
    else:
        assert digest.papers and digest.month == "2023-01"
