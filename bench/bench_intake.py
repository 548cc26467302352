"""Benchmark digest intake: 100 article pages from a loopback server against the same digests as text
files, and a dry run and a restore of a 1,000-paper month.

Each page is a digest of 10 papers rendered as a Chinese tech-site article (nav, hot-posts sidebar,
comments, comment form, footer: tests/pages.py). The HTML path (decode, extract, parse, store) is timed
per page with the fetch excluded (pages fetched first, timed apart), beside the text path (read, parse,
store) measured in the same run on its own database, the two alternating page by page, each page's best
of three rounds. Target (issue 11): the HTML path within 2x of the text path, per page.

    python bench/bench_intake.py [--pages 100] [--month-papers 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_load import generate_archive
from bot.db import connect
from bot.digest.fetch import fetch_page
from bot.digest.intake import source_from_path
from bot.digest.parse import parse_digest
from bot.digest.store import load_source, restore_version
from bot.digest.versions import Source
from tests.fakes.web import web_server
from tests.pages import zh_article_page


def big_month(papers: int, *, offset: int = 0) -> bytes:
    """A Markdown digest of ``papers`` papers (ids and titles shifted by ``offset``)."""
    parts = ["# A very big month\n", "Everything we read.\n"]
    for index in range(offset, offset + papers):
        parts.append(
            f"### Paper number {index} on scalable widgets\n\n"
            f"[arXiv:2301.{index:05d}](https://arxiv.org/abs/2301.{index:05d})\n"
            f"Authors: Ada Lovelace, Alan Turing\n\n"
            f"Widgets scale to {index} nodes. 这项工作研究了可扩展的小部件。\n"
        )
    return "\n".join(parts).encode("utf-8")


def per_page(times: list[float]) -> str:
    return f"median {statistics.median(times) * 1000:6.2f} ms  mean {statistics.fmean(times) * 1000:6.2f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--month-papers", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="each page's best of this many loads per path")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, web_server() as web:
        folder = Path(tmp)
        paths = generate_archive(folder, args.pages, all_ids=True)
        urls = []
        for path in paths:
            digest = parse_digest(path.read_text(encoding="utf-8"), source=str(path))
            urls.append(web.add(f"/post/{path.stem}.html", zh_article_page(digest)))

        start = time.perf_counter()
        fetched = [fetch_page(url) for url in urls]
        fetch_s = time.perf_counter() - start

        # The two paths alternate page by page, in fresh databases each round, and each page keeps its
        # best round: other work on the machine then weighs on both alike.
        text_best = [float("inf")] * len(paths)
        html_best = [float("inf")] * len(paths)
        for round_number in range(args.rounds):
            text_db = connect(folder / f"text-{round_number}.db")
            html_db = connect(folder / f"html-{round_number}.db")
            for index, (path, page) in enumerate(zip(paths, fetched, strict=True)):
                start = time.perf_counter()
                result = load_source(text_db, source_from_path(path))
                text_best[index] = min(text_best[index], time.perf_counter() - start)
                assert result.added == 10, result
                source = Source(page.url, page.data, "html", page.final_url, page.charset)
                start = time.perf_counter()
                result = load_source(html_db, source)
                html_best[index] = min(html_best[index], time.perf_counter() - start)
                assert result.added == 10, result
        same = all(
            text_db.execute(
                "SELECT group_concat(title, '|') FROM (SELECT title FROM entries WHERE month = ? ORDER BY position)",
                [month],
            ).fetchone()
            == html_db.execute(
                "SELECT group_concat(title, '|') FROM (SELECT title FROM entries WHERE month = ? ORDER BY position)",
                [month],
            ).fetchone()
            for (month,) in html_db.execute("SELECT month FROM digests")
        )
        text_times, html_times = text_best, html_best
        ratios = [html / text for html, text in zip(html_times, text_times, strict=True)]

        # A 1,000-paper month: v1, then a v2 that drops 100 and adds 100; dry run of v1 over it, restore of v1.
        month_db = connect(folder / "month.db")
        v1 = Source("big-2030-01.md", big_month(args.month_papers))
        v2 = Source("big-2030-01.md", big_month(args.month_papers, offset=100))
        start = time.perf_counter()
        load_source(month_db, v1)
        first_s = time.perf_counter() - start
        load_source(month_db, v2, replace=True)
        start = time.perf_counter()
        dry = load_source(month_db, v1, dry_run=True)
        dry_s = time.perf_counter() - start
        start = time.perf_counter()
        restored = restore_version(month_db, "2030-01", 1)
        restore_s = time.perf_counter() - start
        assert dry.removed == 100 and dry.added == 100 and restored.added == 100 and restored.removed == 100

    print(f"pages: {len(urls)} article pages of 10 papers each (loopback server); same titles as text: {same}")
    print(f"fetch (excluded from the HTML path):  {fetch_s * 1000 / len(urls):6.2f} ms per page")
    print(f"text path (read + parse + store), best of {args.rounds}:  {per_page(text_times)}")
    print(f"HTML path (decode + extract + parse + store), best of {args.rounds}: {per_page(html_times)}")
    print(f"HTML / text, per page: median {statistics.median(ratios):4.2f}x, worst {max(ratios):4.2f}x  (target <= 2x)")
    print(f"{args.month_papers}-paper month: first load {first_s * 1000:7.1f} ms; dry run (100 added, 100 removed)"
          f" {dry_s * 1000:7.1f} ms; restore of v1 {restore_s * 1000:7.1f} ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
