"""Benchmark `/paper` over HTTP at 100,000 papers: latency to the HTTP answer, top-1, the server's memory.

Builds a synthetic archive in the shipped digest's shape: 100 papers a month, invented unique nicknames
that share stems (``Bekridra``, ``BekridraLM``, ``BekridraNet``), 2-6 authors, English or Chinese summaries,
a Chinese model name in one paper of four. Starts the real ``paperbot serve --http`` in a subprocess
against a fake Slack Web API and sends a mix of query kinds as signed requests over one keep-alive
connection: ids, nicknames, surname + nickname, one-edit typos (first letter kept), Chinese model names,
common Chinese words, title words, no match. Beside it, in the same run, the framework's floor: a signed
request for a command the app does not handle (Bolt answers 404 after verifying the signature).
Top-1 per kind is measured with the same search function, in this process.

Targets at 100,000 papers: top-1 >= 97% over id, nickname, surname + nickname, typo and Chinese name (an
ambiguous typo is a hit when the paper meant is among the readings offered); mix p50 <= 1.5x the floor;
Chinese queries p50 <= 3 ms and p99 <= 15 ms; peak RSS <= 150 MB.

    python bench/bench_serve.py [--papers 100000] [--requests 2400] [--db PATH]

``--db PATH`` keeps the archive (~2 minutes to build) for the next run; BENCH_SHOW_MISSES=1 prints misses.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.arxiv.ids import ArxivRef  # noqa: E402
from bot.db import connect  # noqa: E402
from bot.digest.parse import Digest, Paper  # noqa: E402
from bot.digest.store import store_digest  # noqa: E402
from bot.search.query import search  # noqa: E402
from tests.fakes.signing import SIGNING_SECRET, signed_headers, slash_command_body  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402
from tests.helpers import (  # noqa: E402
    ServerDidNotStart,
    fake_slack_env,
    free_port,
    start_http_server,
    wait_until_serving,
)

ADJECTIVES = ["Efficient", "Scalable", "Robust", "Sparse", "Neural", "Latent", "Contrastive", "Causal", "Adaptive"]
NOUNS = ["Transformers", "Diffusion", "Agents", "Retrieval", "Memory", "Attention", "Graphs", "Rewards", "Policies"]
TASKS = ["Reasoning", "Translation", "Segmentation", "Planning", "Summarization", "Captioning", "Control", "Alignment"]
FIRST = ["Ada", "Alan", "Grace", "Yann", "Fei", "Kaiming", "Ilya", "Oriol", "Percy", "Chelsea", "Jason", "Quoc"]
SURNAMES = [
    "Tanaka", "Silva", "Novak", "Rossi", "Mueller", "Kim", "Garcia", "Nguyen", "Kowalski", "Ivanov", "Smith",
    "Chen", "Wang", "Sato", "Costa", "Dubois", "Jensen", "Murphy", "Haddad", "Okafor", "Berg", "Lopez",
]  # fmt: skip
ONSETS = ["b", "br", "d", "dr", "f", "g", "gr", "k", "kr", "l", "m", "n", "ph", "qu", "r", "s", "t", "tr", "v", "z"]
VOWELS = ["a", "e", "i", "o", "u"]
CODAS = ["", "", "", "l", "n", "s", "r"]
SUFFIXES = ["", "", "LM", "Net", "GPT", "Former"]
"""Nicknames share stems (``Bekridra``, ``BekridraLM``, ``BekridraNet``): the hard case for exact matches."""
CHINESE_NAME_CHARS = "星河灵犀悟道文心通义千问盘古紫东太初书生天工元象曦和玄武青龙白虎朱雀麒麟凤凰昆仑泰山蓬莱瑶池"
ENGLISH = [
    "We propose a simple method that scales to billions of tokens.",
    "The approach improves sample efficiency on standard benchmarks.",
    "Experiments show strong zero-shot transfer across domains.",
    "A theoretical analysis explains when the method fails.",
]
CHINESE_COMMON = ["水印", "扩散模型", "检索增强", "语言模型", "训练数据", "幻觉", "模型", "音乐生成"]
"""Chinese words a team types; several are in a large share of the archive (``模型``)."""


@dataclass(frozen=True)
class Synthetic:
    """One generated paper, with what the query kinds need to know about it."""

    month: str
    arxiv_id: str
    nick: str | None
    surname: str
    chinese_name: str | None


def chinese_sentences() -> list[str]:
    text = (ROOT / "data" / "digests" / "2023-01.txt").read_text(encoding="utf-8")
    return [s + "。" for line in text.splitlines() for s in line.split("。") if len(s) > 12 and "http" not in s][:80]


def invented_stems(count: int, rng: random.Random) -> list[str]:
    """Unique pronounceable stems of 2-3 syllables (``Bekridra``, ``Phoquiri``, ``Telmipho``)."""
    stems: set[str] = set()
    while len(stems) < count:
        syllables = rng.choice((2, 3, 3))
        stem = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(syllables))
        stems.add(stem.capitalize())
    return sorted(stems)


def synthetic_archive(papers: int, rng: random.Random) -> tuple[list[Digest], list[Synthetic]]:
    """Digests of 100 papers a month: two in three have an invented nickname, one in four a Chinese summary
    naming the model in Chinese, all 2-6 authors."""
    zh = chinese_sentences()
    per_month = 100
    stems = invented_stems(papers // 3, rng)
    nicks: list[str] = []
    for stem in stems:
        nicks += [stem + suffix for suffix in dict.fromkeys(rng.sample(SUFFIXES, rng.choice((1, 1, 2, 3))))]
    rng.shuffle(nicks)
    chinese_names: set[str] = set()
    digests: list[Digest] = []
    known: list[Synthetic] = []
    for month_index in range(-(-papers // per_month)):
        year, month = 1940 + month_index // 12, month_index % 12 + 1
        items = []
        for position in range(1, min(per_month, papers - month_index * per_month) + 1):
            serial = month_index * per_month + position
            arxiv_id = f"{year % 100:02d}{month:02d}.{position * 7 + rng.randrange(7):05d}"
            nick = nicks.pop() if serial % 3 and nicks else None
            title = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} for {rng.choice(TASKS)}"
            if nick:
                title = f"{nick}: {title}"
            authors = [f"{rng.choice(FIRST)} {rng.choice(SURNAMES)}" for _ in range(rng.randint(2, 6))]
            chinese_name = None
            if serial % 4 == 0:
                while chinese_name is None or chinese_name in chinese_names:
                    chinese_name = "".join(rng.sample(CHINESE_NAME_CHARS, 4))
                chinese_names.add(chinese_name)
                summary = f"我们提出了{chinese_name}。" + "\n".join(rng.sample(zh, 3))
            else:
                summary = "\n".join(rng.sample(ENGLISH, 2))
            items.append(
                Paper(
                    position=position,
                    title=title,
                    arxiv=ArxivRef(arxiv_id),
                    links=(),
                    authors=tuple(authors),
                    authors_truncated=False,
                    summary=summary,
                    line=position,
                )
            )
            month_name = f"{year:04d}-{month:02d}"
            known.append(Synthetic(month_name, arxiv_id, nick, authors[0].split()[-1], chinese_name))
        digests.append(
            Digest(
                month=f"{year:04d}-{month:02d}",
                papers=tuple(items),
                content_hash=f"h{month_index}",
                source=f"synthetic-{month_index}",
            )
        )
    return digests, known


def typo(word: str, rng: random.Random) -> str:
    """One edit that keeps the first letter: a letter dropped, added, changed, or two swapped."""
    while True:
        at = rng.randrange(1, len(word))
        letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
        edit = rng.choice(("drop", "add", "change", "swap"))
        if edit == "drop":
            wrong = word[:at] + word[at + 1 :]
        elif edit == "add":
            wrong = word[:at] + letter + word[at:]
        elif edit == "change":
            wrong = word[:at] + letter + word[at + 1 :]
        else:
            wrong = word[: at - 1] + word[at] + word[at - 1] + word[at + 1 :] if at > 1 else word
        if wrong != word:
            return wrong


Query = tuple[str, str, str | None]
"""(kind, text, the arXiv id of the paper meant, when one is)."""

KINDS = ("id", "nickname", "surname + nickname", "typo", "chinese name", "chinese words", "title words", "no match")
SCORED = ("id", "nickname", "surname + nickname", "typo", "chinese name")
"""The kinds whose top-1 counts toward the target (the others mean no single paper)."""


def query_mix(rng: random.Random, known: list[Synthetic], count: int) -> list[Query]:
    named = [paper for paper in known if paper.nick]
    chinese = [paper for paper in known if paper.chinese_name]
    queries: list[Query] = []
    for index in range(count):
        kind = KINDS[index % len(KINDS)]
        paper = rng.choice(named)
        nick = str(paper.nick).lower()
        if kind == "id":
            queries.append((kind, paper.arxiv_id, paper.arxiv_id))
        elif kind == "nickname":
            queries.append((kind, nick, paper.arxiv_id))
        elif kind == "surname + nickname":
            queries.append((kind, f"{paper.surname.lower()} {nick}", paper.arxiv_id))
        elif kind == "typo":
            queries.append((kind, typo(nick, rng), paper.arxiv_id))
        elif kind == "chinese name":
            target = rng.choice(chinese)
            queries.append((kind, str(target.chinese_name), target.arxiv_id))
        elif kind == "chinese words":
            queries.append((kind, rng.choice(CHINESE_COMMON), None))
        elif kind == "title words":
            queries.append((kind, f"{rng.choice(ADJECTIVES)} {rng.choice(TASKS)}".lower(), None))
        else:
            queries.append((kind, "".join(rng.choice("qxzjv") for _ in range(9)), None))
    return queries


def top1(db_path: Path, queries: list[Query]) -> dict[str, tuple[int, int, int]]:
    """Per kind: (queries, hits, strict hits). A hit is the paper meant first in the answer, or offered
    among the readings of an ambiguous typo ("Did you mean a or b?"); strict means first."""
    db = connect(db_path)
    counts: dict[str, list[int]] = {}
    for kind, text, wanted in queries:
        if wanted is None:
            continue
        result = search(db, text)
        ids = [paper.arxiv_id for paper in result.papers]
        strict = bool(ids) and ids[0] == wanted and result.kind == "winner"
        offered = result.kind == "choices" and bool(result.alternatives) and wanted in ids
        row = counts.setdefault(kind, [0, 0, 0])
        row[0] += 1
        row[1] += strict or offered or (bool(ids) and ids[0] == wanted)
        row[2] += strict
        if not (strict or offered or (ids and ids[0] == wanted)) and os.environ.get("BENCH_SHOW_MISSES"):
            print(f"  miss [{kind}] {text!r} wanted {wanted}: {result.kind} {ids[:5]} {result.alternatives}")
    db.close()
    return {kind: (row[0], row[1], row[2]) for kind, row in counts.items()}


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


def build(db_path: Path, papers: int, rng: random.Random) -> list[Synthetic]:
    """The synthetic archive in ``db_path``; an existing file built by an earlier run is reused as is."""
    digests, known = synthetic_archive(papers, rng)
    if db_path.exists():
        print(f"reusing {db_path} ({db_path.stat().st_size / 1e6:.0f} MB)")
        return known
    start = time.perf_counter()
    db = connect(db_path)
    for digest in digests:
        store_digest(db, digest)
    db.close()
    print(f"built {papers} papers in {time.perf_counter() - start:.1f} s ({db_path.stat().st_size / 1e6:.0f} MB)")
    return known


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2400)
    parser.add_argument("--db", type=Path, help="keep the built archive here and reuse it on the next run")
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as fake:
        db_path = args.db or Path(tmp) / "bench.db"
        known = build(db_path, args.papers, rng)
        mix = query_mix(random.Random(11), known, args.requests)
        hits = top1(db_path, mix)
        port = free_port()
        env = fake_slack_env(fake, db_path)
        env.pop("SLACK_APP_TOKEN", None)
        server = start_http_server(port, env=env, cwd=tmp, output=subprocess.DEVNULL)
        try:
            try:
                wait_until_serving(server, port, timeout=60, interval=0.2)
            except ServerDidNotStart as exc:
                raise SystemExit(str(exc)) from None
            floor_bodies = [slash_command_body("musiclm", command="/not-handled")] * args.requests
            query_bodies = [slash_command_body(text) for _, text, _ in mix]
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

    def row(name: str, values: list[float], extra: str = "") -> str:
        return (
            f"{name:28} n={len(values):5}  p50 {percentile(values, 50) * 1000:7.2f} ms  "
            f"p99 {percentile(values, 99) * 1000:7.2f} ms  mean {statistics.mean(values) * 1000:7.2f} ms{extra}"
        )

    print(row("floor (unhandled command)", floor))
    print(row("/paper query mix", queries))
    by_kind: dict[str, list[float]] = {}
    for (kind, _, _), value in zip(mix, queries, strict=True):
        by_kind.setdefault(kind, []).append(value)
    for kind in KINDS:
        extra = ""
        if kind in hits:
            total, hit, strict = hits[kind]
            extra = f"  top-1 {hit}/{total} ({100 * hit / total:.1f}%, as the one answer: {strict})"
        print(row(f"  {kind}", by_kind[kind], extra))
    chinese = by_kind["chinese name"] + by_kind["chinese words"]
    print(row("  chinese (both kinds)", chinese))
    scored = [hits[kind] for kind in SCORED]
    overall = sum(hit for _, hit, _ in scored) / sum(total for total, _, _ in scored)
    ratio = percentile(queries, 50) / percentile(floor, 50)
    print(f"top-1 over {', '.join(SCORED)}: {100 * overall:.1f}%")
    print(f"p50 ratio to floor: {ratio:.2f}x;  p99 ratio: {percentile(queries, 99) / percentile(floor, 99):.2f}x")
    print(f"server peak RSS: {peak_kb / 1024:.1f} MB")

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    print(
        f"targets: top-1 >= 97% {verdict(overall >= 0.97)}; mix p50 <= 1.5x floor {verdict(ratio <= 1.5)}; "
        f"chinese p50 <= 3 ms {verdict(percentile(chinese, 50) <= 0.003)}, "
        f"p99 <= 15 ms {verdict(percentile(chinese, 99) <= 0.015)}; RSS <= 150 MB {verdict(peak_kb / 1024 <= 150)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
