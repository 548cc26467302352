"""Benchmark an arXiv link unfurl end to end at 100,000 papers, against the unhandled-event floor.

Builds the archive of bench/bench_serve.py (synthetic digests, 10 papers a month), starts the real
``paperbot serve --http`` in a subprocess against a fake Slack Web API in this process (no network: the
fake arXiv is never needed, every link is a digest paper), and sends signed ``link_shared`` events over one
keep-alive connection, one at a time. For each, the time from sending the event until the fake Slack
receives the ``chat.unfurl`` call (the ack, the lazy half, the SQLite lookup, the Block Kit and the Web API
call). Beside it, interleaved in the same run, the floor: a signed event no listener handles (Bolt verifies
the signature, parses it and answers 404). Target: unfurl p50 <= 2x the floor's p50.

    python bench/bench_unfurl.py [--papers 100000] [--requests 1000]
"""

from __future__ import annotations

import argparse
import http.client
import queue
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_serve import percentile, synthetic_digests  # noqa: E402
from bot.arxiv.ids import parse_arxiv_ref  # noqa: E402
from bot.db import connect  # noqa: E402
from bot.digest.store import store_digest  # noqa: E402
from tests.fakes.signing import SIGNING_SECRET, event_body, link_shared_event, signed_headers  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402
from tests.helpers import ServerDidNotStart, fake_slack_env, free_port, start_http_server, wait_until_serving  # noqa: E402

CHANNEL = "C0BENCH"


def post(connection: http.client.HTTPConnection, body: str) -> int:
    raw = body.encode()
    connection.request("POST", "/slack/events", body=raw, headers=signed_headers(raw, SIGNING_SECRET))
    response = connection.getresponse()
    response.read()
    return response.status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--verbose", action="store_true", help="show the server's output")
    args = parser.parse_args()
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as fake:
        db_path = Path(tmp) / "bench.db"
        started = time.perf_counter()
        db = connect(db_path)
        for digest in synthetic_digests(args.papers, rng):
            store_digest(db, digest)
        # The generator's ids include impossible months (YYMM with MM > 12): Slack links only to real ones.
        stored = [str(row[0]) for row in db.execute("SELECT arxiv_id FROM papers WHERE arxiv_id IS NOT NULL")]
        ids = [arxiv_id for arxiv_id in stored if parse_arxiv_ref(arxiv_id) is not None]
        db.close()
        print(f"built {args.papers} papers in {time.perf_counter() - started:.1f} s ({len(ids)} with an arXiv id)")

        arrivals: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()

        def chat_unfurl(params: dict[str, Any]) -> dict[str, Any]:
            arrivals.put((time.perf_counter(), params))
            return {"ok": True}

        fake.set_handler("chat.unfurl", chat_unfurl)
        port = free_port()
        env = fake_slack_env(fake, db_path)
        env.pop("SLACK_APP_TOKEN", None)
        server = start_http_server(
            port, env=env, cwd=tmp, output=None if "--verbose" in sys.argv else subprocess.DEVNULL
        )
        try:
            try:
                wait_until_serving(server, port, timeout=60, interval=0.2)
            except ServerDidNotStart as exc:
                raise SystemExit(str(exc)) from None
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            floor_body = event_body({"type": "reaction_added", "user": "U1", "reaction": "eyes", "event_ts": "1.1"})

            def one_floor() -> float:
                start = time.perf_counter()
                assert post(connection, floor_body) == 404
                return time.perf_counter() - start

            serial = iter(range(1, 10**9))

            def one_unfurl() -> tuple[float, float]:
                url = f"https://arxiv.org/abs/{rng.choice(ids)}"
                ts = f"1700000000.{next(serial):06d}"
                body = event_body(link_shared_event([url], channel=CHANNEL, message_ts=ts))
                start = time.perf_counter()
                assert post(connection, body) == 200
                acked = time.perf_counter() - start
                arrived, params = arrivals.get(timeout=10)
                assert params["ts"] == ts and list(params["unfurls"]) == [url], params
                return acked, arrived - start

            for _ in range(100):  # warm-up: connections, caches, worker threads
                one_floor()
                one_unfurl()
            floor: list[float] = []
            acks: list[float] = []
            unfurls: list[float] = []
            # Interleaved, so that machine noise hits both alike.
            for _ in range(args.requests):
                floor.append(one_floor())
                acked, done = one_unfurl()
                acks.append(acked)
                unfurls.append(done)
            connection.close()
        finally:
            server.terminate()
            server.wait(timeout=15)

    def row(name: str, values: list[float]) -> str:
        return (
            f"{name:36} n={len(values):5}  p50 {percentile(values, 50) * 1000:7.2f} ms  "
            f"p99 {percentile(values, 99) * 1000:7.2f} ms  mean {statistics.mean(values) * 1000:7.2f} ms"
        )

    print(row("floor (unhandled event, 404)", floor))
    print(row("link_shared ack (HTTP answer)", acks))
    print(row("link_shared end to end (chat.unfurl)", unfurls))
    ratio = percentile(unfurls, 50) / percentile(floor, 50)
    print(
        f"end-to-end p50 ratio to floor: {ratio:.2f}x (target <= 2x: {'met' if ratio <= 2 else 'MISSED'});  "
        f"p99 ratio: {percentile(unfurls, 99) / percentile(floor, 99):.2f}x;  "
        f"ack p50 ratio: {percentile(acks, 50) / percentile(floor, 50):.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
