"""Benchmark enrichment: 1,000 papers against the fake arXiv API (tests/fakes/arxiv_api.py) with zero delay.

The papers come from 100 generated digests (the shipped one with distinct months, titles and arXiv ids),
loaded with ``paperbot load``'s store so the search triggers on ``arxiv_entries`` fire as in production.
Reported for each scenario: requests made, papers/s end to end, and where the time went: waiting on the
server (request sent → whole reply read; the fake builds its feeds in that time too), parsing (checking the
Atom, the ``arxiv`` package's parser, conversion), storing (the write transactions), and the rest
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
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.arxiv_api import ArxivClient, RateLimiter
from bot.db import connect
from bot.enrich import EnrichReport, enrich_pending
from bot.store import load_file
from tests.fakes.arxiv_api import FakeArxivAPI

SHIPPED = Path(__file__).resolve().parent.parent / "data" / "digests" / "2023-01.txt"


def generate(folder: Path, count: int, *, all_ids: bool) -> list[Path]:
    """``count`` digests of 10 papers, each the shipped one with its own month, ids and titles."""
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
            for path in generate(sub, args.digests, all_ids=all_ids):
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
