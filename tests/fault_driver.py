"""Driving ``paperbot serve --http`` from outside under faults, as Slack and an operator would: the bot in a
subprocess against the fake Slack and the fake arXiv, signed requests with Slack's 3 s as the HTTP client's
timeout, every ack's latency recorded, and "actions lost" counted from the database afterwards.

Used by ``tests/test_faults.py`` (which asserts) and ``bench/bench_faults.py`` (which prints the figures).
Importing this module does not import pytest.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes.signing import (
    SIGNING_SECRET,
    block_actions_payload,
    interactive_body,
    post,
    slash_command_body,
)
from tests.fakes.slack_api import FakeSlack
from tests.helpers import fake_slack_env, free_port, start_http_server, wait_until_serving

SLACK_ACK_SECONDS = 3.0
"""Slack's budget for an ack: the HTTP client gives up after this long, and that counts as a missed ack."""
CHANNEL = "C0PAPERS"


@dataclass
class Ack:
    kind: str
    seconds: float
    status: int | None
    """``None``: no answer within :data:`SLACK_ACK_SECONDS` (or the connection failed)."""
    answer: dict[str, Any]
    response_url: str
    error: str = ""


@dataclass
class AckLog:
    acks: list[Ack] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, ack: Ack) -> Ack:
        with self._lock:
            self.acks.append(ack)
        return ack

    def missed(self) -> list[Ack]:
        return [a for a in self.acks if a.status != 200]

    def summary(self, kind: str | None = None) -> str:
        """``N acks: p50 X ms, max Y ms, missed M`` (of ``kind``, or all)."""
        chosen = [a for a in self.acks if kind is None or a.kind == kind]
        if not chosen:
            return "0 acks"
        times = sorted(a.seconds * 1000 for a in chosen)
        missed = sum(1 for a in chosen if a.status != 200)
        return f"{len(chosen)} acks: p50 {statistics.median(times):.0f} ms, max {times[-1]:.0f} ms, missed {missed}"


class Bot:
    """``paperbot serve --http`` in a subprocess on a free port, its output in ``log_path``."""

    def __init__(self, fake: FakeSlack, db_path: Path, workdir: Path, **env: str) -> None:
        self.fake = fake
        self.db_path = db_path
        self.workdir = workdir
        self.env = fake_slack_env(fake, db_path, ARXIV_DELAY_SECONDS="0", **env)
        self.log_path = workdir / "serve.log"
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None
        self.acks = AckLog()

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    def start(self) -> Bot:
        self.port = free_port()
        with open(self.log_path, "a") as log:
            self.proc = start_http_server(self.port, env=self.env, cwd=self.workdir, output=log)  # type: ignore[arg-type]
        wait_until_serving(self.proc, self.port, health_path="/healthz", timeout=30)
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return int(self.proc.returncode)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def health(self) -> tuple[int, str]:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(f"http://127.0.0.1:{self.port}/healthz", timeout=SLACK_ACK_SECONDS) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as error:
            with error:
                return int(error.code), error.read().decode()

    # --- requests, each timed ---------------------------------------------------------------------------

    def _send(self, kind: str, body: str, response_url: str) -> Ack:
        started = time.monotonic()
        try:
            status, _, raw = post(self.events_url, body, SIGNING_SECRET, timeout=SLACK_ACK_SECONDS)
        except OSError as error:  # timed out (no ack within Slack's 3 s), refused, reset
            return self.acks.add(Ack(kind, time.monotonic() - started, None, {}, response_url, str(error)))
        seconds = time.monotonic() - started
        answer = json.loads(raw) if raw.strip() else {}
        return self.acks.add(Ack(kind, seconds, status, answer, response_url))

    def command(self, text: str, user: str, kind: str = "read") -> Ack:
        response_url = self.fake.response_url(f"{kind}-{user}")
        body = slash_command_body(text, user_id=user, channel_id=CHANNEL, response_url=response_url)
        return self._send(kind, body, response_url)

    def suggest(self, arxiv_id: str, user: str) -> Ack:
        return self.command(f"suggest {arxiv_id} worth a look", user, kind="suggest")

    def click(self, action: str, value: str, user: str, kind: str) -> Ack:
        response_url = self.fake.response_url(f"{kind}-{user}")
        payload = block_actions_payload(action, value, user_id=user, channel_id=CHANNEL, response_url=response_url)
        return self._send(kind, interactive_body(payload), response_url)


@contextmanager
def running(fake: FakeSlack, db_path: Path, workdir: Path, **env: str) -> Iterator[Bot]:
    bot = Bot(fake, db_path, workdir, **env).start()
    try:
        yield bot
    finally:
        bot.stop(signal.SIGTERM)


# --- faults --------------------------------------------------------------------------------------------


@contextmanager
def write_lock_held(db_path: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process holds ``BEGIN IMMEDIATE`` on the database for ``seconds`` (as ``paperbot load``, a
    backup or a second bot would); yields once it holds the lock, and waits for it to let go at the end."""
    script = (
        "import sqlite3, sys, time\n"
        "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "conn.execute('BEGIN IMMEDIATE')\n"
        "print('locked', flush=True)\n"
        "time.sleep(float(sys.argv[2]))\n"
        "conn.execute('ROLLBACK')\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(db_path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    try:
        yield proc
    finally:
        proc.wait(timeout=seconds + 30)


def fill_disk(folder: Path) -> Path:
    """Write a file in ``folder`` until its file system is full; returns the file (delete it to free)."""
    filler = folder / "filler.bin"
    chunk = b"\0" * 65536
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError:
            pass
        try:  # the last few bytes
            while True:
                out.write(b"\0" * 512)
        except OSError:
            pass
    return filler


def mount_tmpfs(folder: Path, size: str = "3m") -> bool:
    """Mount a tmpfs of ``size`` at ``folder`` (root only); whether it worked."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def unmount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=10)


# --- the database, read from outside -------------------------------------------------------------------


def rows(db_path: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)) as conn:
        return conn.execute(sql, params).fetchall()


def suggestion_ids(db_path: Path) -> dict[str, int]:
    """Open suggestions: arXiv id -> suggestion id."""
    return {
        str(a): int(i)
        for i, a in rows(
            db_path, "SELECT id, arxiv_id FROM suggestions WHERE removed_by IS NULL AND included_in IS NULL"
        )
    }


def votes(db_path: Path) -> set[tuple[int, str]]:
    return {(int(s), str(u)) for s, u in rows(db_path, "SELECT suggestion_id, user_id FROM votes")}


def cards(fake: FakeSlack, channel: str = CHANNEL) -> dict[int, list[dict[str, Any]]]:
    """Open suggestions' cards in ``channel``, by suggestion id (from the card's buttons)."""
    found: dict[int, list[dict[str, Any]]] = {}
    for message in fake.messages(channel):
        for block in message.get("blocks") or []:
            block_id = str(block.get("block_id") or "")
            if block_id.startswith("suggestion_") and block_id[len("suggestion_") :].isdigit():
                found.setdefault(int(block_id[len("suggestion_") :]), []).append(message)
    return found


def wait_until(predicate: Callable[[], Any], timeout: float, message: str) -> Any:
    """Poll ``predicate`` until it is truthy (and return it); ``AssertionError`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {message}")
        time.sleep(0.05)
