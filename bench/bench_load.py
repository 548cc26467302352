"""Benchmark `paperbot load`: first load and reload of an archive of 1,000 digests (10,000 papers).

The archive is generated from the shipped digest (distinct months, ids and titles). Figures are reported
beside a baseline measured in the same run: the same rows written with plain ``sqlite3`` ``executemany``
in one transaction into a database with the same schema. Targets (issue 2): the store phase of the
first load within 3x of the baseline; reloading 1,000 unchanged files in under 1 second.

    python bench/bench_load.py [--digests 1000]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.db import connect
from bot.digest.parse import Digest, content_hash, parse_digest
from bot.digest.store import load_file, search_values, store_digest

SHIPPED = Path(__file__).resolve().parent.parent / "data" / "digests" / "2023-01.txt"


def generate_archive(folder: Path, count: int, *, all_ids: bool = False) -> list[Path]:
    """``count`` digests, each the shipped one with its own month, arXiv ids and titles.

    With ``all_ids``, items 3 and 9 (a cut PDF link and a cut project page in the shipped digest) get an
    arXiv link too, so that every paper has an id.
    """
    text = SHIPPED.read_text(encoding="utf-8")
    if all_ids:
        text = text.replace("https://arxiv.org/pdf/2212.14...", "https://arxiv.org/abs/2212.14024")
        text = text.replace("https://make-a-video3d.github...", "https://arxiv.org/abs/2301.11280")
    paths = []
    for index in range(count):
        year, month = 1920 + index // 12, index % 12 + 1
        ids = iter(f"arxiv.org/abs/{2301 + index % 9:04d}.{index * 10 + serial:05d}" for serial in range(10))
        body = re.sub(r"arxiv\.org/abs/\d{4}\.\d{5}", lambda _, ids=ids: next(ids), text)
        body = re.sub(r"^(\d+)、(.+)$", rf"\1、\2 (vol. {index})", body, flags=re.MULTILINE)
        path = folder / f"digest-{year:04d}-{month:02d}.txt"
        path.write_text(body, encoding="utf-8")
        paths.append(path)
    return paths


def baseline(db_path: Path, digests: list[Digest]) -> float:
    """The same rows (derived search columns included, computed untimed), plain sqlite3 executemany,
    one transaction, into the same schema: the full-text triggers fire for both."""
    db = connect(db_path)
    conn = db.conn
    digest_rows, paper_rows, entry_rows, ref_rows = [], [], [], []
    paper_id = 0
    for digest in digests:
        digest_rows.append(
            (
                digest.month,
                digest.title,
                digest.intro,
                digest.source_url,
                digest.curator,
                digest.source,
                digest.content_hash,
                digest.encoding,
                "now",
            )
        )
        for paper in digest.papers:
            paper_id += 1
            paper_rows.append((paper_id, paper.arxiv_id, paper.title_key, "digest", "now"))
            entry_rows.append(
                (
                    digest.month,
                    paper_id,
                    paper.position,
                    paper.title,
                    json.dumps(paper.authors, ensure_ascii=False),
                    int(paper.authors_truncated),
                    paper.summary,
                    json.dumps(paper.links),
                    None,
                    paper.incomplete_link,
                    paper.project_url,
                    json.dumps(paper.citations),
                    paper.line,
                    *search_values(paper),
                )
            )
        ref_rows += [
            (digest.month, r.number, r.title, json.dumps(r.authors, ensure_ascii=False), r.year, r.raw)
            for r in digest.references
        ]
    start = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO digests (month, title, intro, source_url, curator, source_file, content_hash,"
        " encoding, loaded_at) VALUES (?,?,?,?,?,?,?,?,?)",
        digest_rows,
    )
    conn.executemany(
        "INSERT INTO papers (id, arxiv_id, title_key, id_source, created_at) VALUES (?,?,?,?,?)", paper_rows
    )
    conn.executemany(
        "INSERT INTO entries (month, paper_id, position, title, authors, authors_truncated, summary,"
        " links, arxiv_version, incomplete_link, project_url, citations, line, search_nick, search_body)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        entry_rows,
    )
    conn.executemany(
        "INSERT INTO digest_references (month, number, title, authors, year, raw) VALUES (?,?,?,?,?,?)", ref_rows
    )
    conn.execute("COMMIT")
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--digests", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = generate_archive(folder, args.digests)
        start = time.perf_counter()
        digests = [
            parse_digest(p.read_text(encoding="utf-8"), source=str(p), data_hash=content_hash(p.read_bytes()))
            for p in paths
        ]
        parse_s = time.perf_counter() - start
        papers = sum(len(d.papers) for d in digests)

        base_s = baseline(folder / "baseline.db", digests)

        store_db = connect(folder / "store.db")
        start = time.perf_counter()
        for digest in digests:
            store_digest(store_db, digest)
        store_s = time.perf_counter() - start

        db = connect(folder / "paperbot.db")
        start = time.perf_counter()
        results = [load_file(db, p) for p in paths]
        first_s = time.perf_counter() - start
        assert sum(r.added for r in results) == papers

        start = time.perf_counter()
        again = [load_file(db, p) for p in paths]
        reload_s = time.perf_counter() - start
        assert all(r.same_file and r.unchanged == 10 for r in again)

    print(f"archive: {len(paths)} digests, {papers} papers")
    print(f"baseline (plain executemany, one transaction): {base_s * 1000:8.1f} ms  {papers / base_s:10.0f} papers/s")
    print(
        f"store phase (store_digest, one txn per file):  {store_s * 1000:8.1f} ms  "
        f"{papers / store_s:10.0f} papers/s  ratio {store_s / base_s:5.2f}x baseline (target <= 3x)"
    )
    print(f"parse phase (read + parse, no database):       {parse_s * 1000:8.1f} ms  {papers / parse_s:10.0f} papers/s")
    print(
        f"first load end to end (paperbot load):         {first_s * 1000:8.1f} ms  "
        f"{papers / first_s:10.0f} papers/s  ratio {first_s / base_s:5.2f}x baseline"
    )
    print(f"reload of {len(paths)} unchanged files:             {reload_s * 1000:8.1f} ms  (target < 1000 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
