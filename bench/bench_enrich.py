"""Benchmark enrichment: 1,000 papers against the fake arXiv API (tests/fakes/arxiv_api.py) with zero delay.

The papers come from 100 generated digests (the shipped one with distinct months, titles and arXiv ids),
loaded with ``paperbot load``'s store so the search triggers on ``arxiv_entries`` fire as in production.
Reported for each scenario: requests made, papers/s end to end, and where the time went: waiting on the
server (request sent → whole reply read; the fake builds its feeds in that time too), parsing (reading the
Atom once into entries), storing (the write transactions), and the rest
(selection queries, matching).

Scenarios:

* ``by id``: every paper has an id (the two id-less items of each digest get one): ceil(1000/100) requests.
* ``refresh``: the same again with ``--refresh`` semantics (upserts over existing rows).
* ``as shipped``: items 3 and 9 keep their cut link / project page, so 200 of the 1,000 papers go through
  a title search each (one request per paper); all but the first of each title are refused because the
  id is taken, which costs the same as accepting.

    python bench/bench_enrich.py [--digests 100]

With the default ``ARXIV_DELAY_SECONDS`` of 3 s, the ``by id`` run would take ~30 s of spacing and the
``as shipped`` one ~10 minutes: the delay, not this code, bounds enrichment against the real arXiv.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_load import generate_archive
from bot.arxiv.client import ArxivClient, RateLimiter
from bot.arxiv.enrich import EnrichReport, enrich_pending
from bot.db import connect
from bot.digest.store import load_file
from tests.fakes.arxiv_api import FakeArxivAPI


def run(db_path: Path, api: FakeArxivAPI, *, refresh: bool = False) -> tuple[EnrichReport, float]:
    db = connect(db_path)
    with ArxivClient(api.url, 0.0, limiter=RateLimiter()) as client:
        start = time.perf_counter()
        report = enrich_pending(db, client, refresh=refresh)
        return report, time.perf_counter() - start


def show(name: str, report: EnrichReport, wall: float) -> None:
    papers = report.selected
    rest = wall - report.network_seconds - report.parse_seconds - report.store_seconds - report.spacing_seconds
    print(f"{name}: {papers} papers, {report.requests} requests, {wall * 1000:7.1f} ms, {papers / wall:7.0f} papers/s")
    parts = [
        ("waiting on the server", report.network_seconds),
        ("parsing", report.parse_seconds),
        ("storing", report.store_seconds),
        ("rate-limit waits", report.spacing_seconds),
        ("other", rest),
    ]
    print("    " + " | ".join(f"{label} {seconds * 1000:7.1f} ms" for label, seconds in parts))
    print(f"    {report.summary()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--digests", type=int, default=100, help="digests of 10 papers each (default 100)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeArxivAPI(synthetic=True) as api:
        folder = Path(tmp)
        for scenario, all_ids in (("by id", True), ("as shipped", False)):
            sub = folder / scenario.replace(" ", "-")
            sub.mkdir()
            db_path = sub / "paperbot.db"
            db = connect(db_path)
            for path in generate_archive(sub, args.digests, all_ids=all_ids):
                load_file(db, path)
            report, wall = run(db_path, api)
            show(scenario, report, wall)
            if all_ids:
                assert report.requests == -(-report.selected // 100), report.requests
                report, wall = run(db_path, api, refresh=True)
                show("refresh", report, wall)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
