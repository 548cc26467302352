"""Benchmark `/paper` over HTTP at 100,000 papers: latency to the HTTP answer and the server's memory.

Builds a database of synthetic papers (English and Chinese summaries, nicknames, authors), starts the
real ``paperbot serve --http`` in a subprocess against a fake Slack Web API, and sends a query mix (ids,
nicknames, title words, Chinese, typos, no-match) as signed requests over one keep-alive connection.
Beside it, in the same run, the framework's floor: a signed request for a command the app does not
handle (Bolt answers 404 after verifying the signature). Targets at 100,000 papers: p50 <= 5 ms,
p99 <= 50 ms, peak RSS <= 150 MB.

    python bench/bench_serve.py [--papers 100000] [--requests 2000]
"""

from __future__ import annotations

import argparse
import http.client
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.arxiv.ids import ArxivRef  # noqa: E402
from bot.db import connect  # noqa: E402
from bot.digest.parse import Digest, Paper  # noqa: E402
from bot.digest.store import store_digest  # noqa: E402
from tests.fakes.signing import SIGNING_SECRET, signed_headers, slash_command_body  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402
from tests.helpers import (  # noqa: E402
    ServerDidNotStart,
    fake_slack_env,
    free_port,
    start_http_server,
    wait_until_serving,
)

ADJECTIVES = [
    "Efficient",
    "Scalable",
    "Robust",
    "Sparse",
    "Neural",
    "Latent",
    "Contrastive",
    "Hierarchical",
    "Causal",
    "Multimodal",
    "Adaptive",
]
NOUNS = [
    "Transformers",
    "Diffusion",
    "Agents",
    "Retrieval",
    "Memory",
    "Attention",
    "Graphs",
    "Tokenizers",
    "Rewards",
    "Policies",
    "Embeddings",
]
TASKS = [
    "Reasoning",
    "Translation",
    "Segmentation",
    "Planning",
    "Summarization",
    "Captioning",
    "Control",
    "Compression",
    "Alignment",
]
FIRST = [
    "Ada",
    "Alan",
    "Grace",
    "Yann",
    "Fei",
    "Kaiming",
    "Ilya",
    "Oriol",
    "Percy",
    "Chelsea",
    "Jason",
    "Quoc",
    "Andrej",
    "Sergey",
    "Pieter",
]
LAST = [
    "Lovelace",
    "Turing",
    "Hopper",
    "LeCun",
    "Li",
    "He",
    "Sutskever",
    "Vinyals",
    "Liang",
    "Finn",
    "Wei",
    "Le",
    "Karpathy",
    "Levine",
    "Abbeel",
    "Zhang",
]
ENGLISH = [
    "We propose a simple method that scales to billions of tokens.",
    "The approach improves sample efficiency on standard benchmarks.",
    "Experiments show strong zero-shot transfer across domains.",
    "A theoretical analysis explains when the method fails.",
]


def chinese_sentences() -> list[str]:
    text = (ROOT / "data" / "digests" / "2023-01.txt").read_text(encoding="utf-8")
    return [s + "。" for line in text.splitlines() for s in line.split("。") if len(s) > 12 and "http" not in s][:80]


def synthetic_digests(papers: int, rng: random.Random) -> list[Digest]:
    zh = chinese_sentences()
    digests = []
    per_month = 10
    for month_index in range(papers // per_month):
        year, month = 1950 + month_index // 12, month_index % 12 + 1
        items = []
        for position in range(1, per_month + 1):
            serial = month_index * per_month + position
            nick = f"Model{serial:06d}" if serial % 3 == 0 else None
            title = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} for {rng.choice(TASKS)}"
            if nick:
                title = f"{nick}: {title}"
            summary_parts = rng.sample(ENGLISH, 2) if serial % 2 else rng.sample(zh, 3)
            authors = tuple(f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(rng.randint(2, 6)))
            items.append(
                Paper(
                    position=position,
                    title=title,
                    arxiv=ArxivRef(f"{2001 + serial % 2000 // 100:04d}.{serial:05d}"[-10:]),
                    links=(),
                    authors=authors,
                    authors_truncated=False,
                    summary="\n".join(summary_parts),
                    line=position,
                )
            )
        digests.append(
            Digest(
                month=f"{year:04d}-{month:02d}",
                papers=tuple(items),
                content_hash=f"h{month_index}",
                source=f"synthetic-{month_index}",
            )
        )
    return digests


def query_mix(rng: random.Random, papers: int, count: int) -> list[tuple[str, str]]:
    kinds: list[tuple[str, str]] = []
    zh = ["水印", "扩散模型", "检索增强", "语言模型", "训练数据", "幻觉"]
    for index in range(count):
        kind = index % 6
        serial = rng.randrange(1, papers)
        nick_serial = rng.randrange(1, papers // 3) * 3
        if kind == 0:
            kinds.append(("id", f"{2001 + serial % 2000 // 100:04d}.{serial:05d}"[-10:]))
        elif kind == 1:
            kinds.append(("nickname", f"model{nick_serial:06d}"))
        elif kind == 2:
            kinds.append(("title words", f"{rng.choice(ADJECTIVES)} {rng.choice(TASKS)}".lower()))
        elif kind == 3:
            kinds.append(("chinese", rng.choice(zh)))
        elif kind == 4:
            word = f"model{nick_serial:06d}"
            cut = rng.randrange(1, len(word) - 1)
            kinds.append(("typo", word[:cut] + word[cut + 1 :]))
        else:
            kinds.append(("no match", "".join(rng.choice("qxzjv") for _ in range(9))))
    return kinds


def timed_posts(port: int, bodies: list[str]) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    timings = []
    for body in bodies:
        raw = body.encode()
        headers = signed_headers(raw, SIGNING_SECRET)
        start = time.perf_counter()
        connection.request("POST", "/slack/events", body=raw, headers=headers)
        response = connection.getresponse()
        response.read()
        timings.append(time.perf_counter() - start)
        assert response.status in (200, 404), response.status
    connection.close()
    return timings


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as fake:
        db_path = Path(tmp) / "bench.db"
        start = time.perf_counter()
        db = connect(db_path)
        for digest in synthetic_digests(args.papers, rng):
            store_digest(db, digest)
        db.close()
        print(
            f"built {args.papers} papers in {time.perf_counter() - start:.1f} s ({db_path.stat().st_size / 1e6:.0f} MB)"
        )
        port = free_port()
        env = fake_slack_env(fake, db_path)
        env.pop("SLACK_APP_TOKEN", None)
        server = start_http_server(port, env=env, cwd=tmp, output=subprocess.DEVNULL)
        try:
            try:
                wait_until_serving(server, port, timeout=60, interval=0.2)
            except ServerDidNotStart as exc:
                raise SystemExit(str(exc)) from None
            mix = query_mix(rng, args.papers, args.requests)
            floor_bodies = [slash_command_body("musiclm", command="/not-handled")] * args.requests
            query_bodies = [slash_command_body(text) for _, text in mix]
            timed_posts(port, query_bodies[:100] + floor_bodies[:100])  # warm-up: caches, connections
            floor: list[float] = []
            queries: list[float] = []
            # Interleave the two so that machine noise hits both alike.
            for chunk in range(0, args.requests, 100):
                floor += timed_posts(port, floor_bodies[chunk : chunk + 100])
                queries += timed_posts(port, query_bodies[chunk : chunk + 100])
            status = Path(f"/proc/{server.pid}/status").read_text()
            peak_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
        finally:
            server.terminate()
            server.wait(timeout=10)

    def row(name: str, values: list[float]) -> str:
        return (
            f"{name:28} n={len(values):5}  p50 {percentile(values, 50) * 1000:7.2f} ms  "
            f"p99 {percentile(values, 99) * 1000:7.2f} ms  mean {statistics.mean(values) * 1000:7.2f} ms"
        )

    print(row("floor (unhandled command)", floor))
    print(row("/paper query mix", queries))
    by_kind: dict[str, list[float]] = {}
    for (kind, _), value in zip(mix, queries, strict=True):
        by_kind.setdefault(kind, []).append(value)
    for kind, values in by_kind.items():
        print(row(f"  {kind}", values))
    print(
        f"p50 ratio to floor: {percentile(queries, 50) / percentile(floor, 50):.2f}x;  "
        f"p99 ratio: {percentile(queries, 99) / percentile(floor, 99):.2f}x"
    )
    print(f"server peak RSS: {peak_kb / 1024:.1f} MB (target <= 150 MB)")
    print(
        f"targets: p50 <= 5 ms {'met' if percentile(queries, 50) <= 0.005 else 'MISSED'}, "
        f"p99 <= 50 ms {'met' if percentile(queries, 99) <= 0.050 else 'MISSED'}, "
        f"RSS {'met' if peak_kb / 1024 <= 150 else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
