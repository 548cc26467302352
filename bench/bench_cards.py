"""Benchmark the card features at 100,000 papers: *Related* latency and a BibTeX export of the archive.

Builds a synthetic archive (bench_serve's papers, plus a references block per digest that summaries
cite from a shared pool of works, and arXiv metadata with an abstract for every paper), then measures,
in the same run:

* *Related* (``related_papers``) for random papers, against the floor of reading one card
  (``catalog.get_paper``, an indexed lookup): p50, p99 and the ratio. Target: p50 <= 10 ms.
* ``paperbot export`` (BibTeX, whole archive, written to a file) against a plain sqlite3 read of the
  same rows. Target: <= 5 s.

    python bench/bench_cards.py [--papers 100000] [--samples 1000]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from contextlib import redirect_stdout
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_serve import ADJECTIVES, ENGLISH, NOUNS, TASKS, percentile, synthetic_digests  # noqa: E402
from bot.arxiv.client import ArxivEntry  # noqa: E402
from bot.arxiv.enrich import store_entries  # noqa: E402
from bot.cite import records  # noqa: E402
from bot.cli import main  # noqa: E402
from bot.db import connect, write_transaction  # noqa: E402
from bot.digest import catalog  # noqa: E402
from bot.digest.parse import Reference  # noqa: E402
from bot.digest.references import find_references  # noqa: E402
from bot.digest.store import store_digest  # noqa: E402
from bot.search.related import _by_authors, _by_citations, _by_text, related_papers  # noqa: E402

WORKS = 3000
"""Distinct cited works across the archive (a digest lists 8 of them)."""
VOCABULARY = [f"{word}{n}" for word in ("token", "layer", "graph", "reward", "signal", "kernel") for n in range(400)]


def build(db_path: Path, papers: int, rng: random.Random) -> None:
    db = connect(db_path)
    pool = [
        f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {index}: {rng.choice(TASKS)} at Scale" for index in range(WORKS)
    ]
    entries = []
    for digest in synthetic_digests(papers, rng):
        works = rng.sample(pool, 8)
        references = tuple(
            Reference(number, title, ("Ada Lovelace", "Alan Turing"), 2020, f"[{number}] {title}")
            for number, title in enumerate(works, start=1)
        )
        cited_papers = []
        for paper in digest.papers:
            cites = tuple(sorted(rng.sample(range(1, 9), rng.randint(0, 3))))
            summary = paper.summary + "".join(f" work{number} [{number}]" for number in cites)
            cited_papers.append(replace(paper, summary=summary, citations=cites))
            abstract = " ".join(rng.sample(ENGLISH, 2) + rng.sample(VOCABULARY, 12))
            entries.append(
                ArxivEntry(
                    arxiv_id=str(paper.arxiv_id),
                    version=1,
                    title=paper.title,
                    authors=paper.authors,
                    abstract=abstract,
                    primary_category="cs.LG",
                    categories=("cs.LG",),
                    published="2023-01-26T18:58:53Z",
                    updated=None,
                    abs_url=f"https://arxiv.org/abs/{paper.arxiv_id}",
                    pdf_url=f"https://arxiv.org/pdf/{paper.arxiv_id}",
                    doi=f"10.48550/arXiv.{paper.arxiv_id}",
                )
            )
        store_digest(db, replace(digest, papers=tuple(cited_papers), references=references))
    with write_transaction(db):
        store_entries(db, entries)
        db.execute("UPDATE papers SET enrich_status = 'enriched'")
    db.close()


def timed(function: object, *args: object) -> float:
    start = time.perf_counter()
    function(*args)  # type: ignore[operator]
    return time.perf_counter() - start


def row(name: str, values: list[float]) -> str:
    return (
        f"{name:32} n={len(values):5}  p50 {percentile(values, 50) * 1000:7.2f} ms  "
        f"p99 {percentile(values, 99) * 1000:7.2f} ms  mean {statistics.mean(values) * 1000:7.2f} ms"
    )


def plain_read(db_path: Path) -> int:
    """The baseline: every paper's latest entry and arXiv row, read and JSON-decoded with sqlite3."""
    conn = sqlite3.connect(db_path)
    count = 0
    for e_authors, a_authors, *_ in conn.execute(
        "SELECT e.authors, a.authors, e.title, a.title, a.published, a.doi FROM papers p"
        " JOIN entries e ON e.paper_id = p.id LEFT JOIN arxiv_entries a ON a.arxiv_id = p.arxiv_id"
    ):
        count += len(json.loads(a_authors or e_authors))
    conn.close()
    return count


def main_bench() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=1000)
    args = parser.parse_args()
    rng = random.Random(13)
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.db"
        start = time.perf_counter()
        build(db_path, args.papers, rng)
        print(
            f"built {args.papers} papers in {time.perf_counter() - start:.1f} s ({db_path.stat().st_size / 1e6:.0f} MB)"
        )
        db = connect(db_path)
        ids = [int(r[0]) for r in db.execute("SELECT id FROM papers")]
        sample = [rng.choice(ids) for _ in range(args.samples)]
        for paper_id in sample[:50]:  # warm-up: page cache, statement cache
            related_papers(db, paper_id)
            catalog.get_paper(db, paper_id)
        floor: list[float] = []
        related: list[float] = []
        sizes = []
        for paper_id in sample:  # interleaved, so that machine noise hits both alike
            floor.append(timed(catalog.get_paper, db, paper_id))
            start = time.perf_counter()
            found = related_papers(db, paper_id)
            related.append(time.perf_counter() - start)
            assert paper_id not in [item.paper_id for item in found]
            sizes.append(len(found))
        print(row("floor: one card (get_paper)", floor))
        print(row("Related", related))
        # Each kind on its own: what a click costs when the earlier kinds find nothing.
        for name, kind in (
            ("  shared cited works", _by_citations),
            ("  shared authors", _by_authors),
            ("  text similarity", _by_text),
        ):
            print(row(name, [timed(kind, db, paper_id) for paper_id in sample]))
        print(
            f"Related p50 ratio to floor: {percentile(related, 50) / percentile(floor, 50):.1f}x;"
            f" papers found per click: mean {statistics.mean(sizes):.2f}"
        )

        # What every /paper search now adds: looking for a reference the query names.
        titles = [str(r[0]) for r in db.execute("SELECT title FROM digest_references ORDER BY random() LIMIT 200")]
        queries = [t.split(":")[0] for t in titles[:100]] + [w.lower() for w in ADJECTIVES + NOUNS + TASKS] * 3
        queries += ["soundstream", "qxzjvqxzjv", "efficient reasoning", "scale"] * 25
        print(row("reference lookup per search", [timed(find_references, db, q) for q in queries]))
        records._key_tables.clear()
        cold = timed(records.citation_record, db, sample[0])
        warm = [timed(records.citation_record, db, paper_id) for paper_id in sample[:200]]
        print(
            f"/paper cite: first after a change (key table built) {cold * 1000:7.1f} ms; then p50"
            f" {percentile(warm, 50) * 1000:.2f} ms"
        )
        plain = timed(plain_read, db_path)
        out = Path(tmp) / "archive.bib"
        settings_env = {"PAPERBOT_DB": str(db_path)}
        import os

        os.environ.update(settings_env)
        with out.open("w", encoding="utf-8") as handle, redirect_stdout(handle):
            start = time.perf_counter()
            code = main(["export"])
            export = time.perf_counter() - start
        assert code == 0
        entries = out.read_text(encoding="utf-8").count("@misc{")
        with redirect_stdout(io.StringIO()):
            again = timed(main, ["export", "--format", "csljson"])
        print(f"baseline: plain sqlite3 read of the same rows   {plain:6.2f} s")
        print(
            f"paperbot export (BibTeX, {entries} entries)    {export:6.2f} s ({export / plain:.1f}x the baseline,"
            f" {out.stat().st_size / 1e6:.0f} MB)"
        )
        print(f"paperbot export --format csljson             {again:6.2f} s")
        print(
            f"targets: Related p50 <= 10 ms {'met' if percentile(related, 50) <= 0.010 else 'MISSED'};"
            f" BibTeX export <= 5 s {'met' if export <= 5 else 'MISSED'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main_bench())
