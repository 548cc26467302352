"""Shared test setup: a clean environment, a private working directory and database per test."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from tests.fakes.slack_api import FakeSlack
from tests.helpers import REPO

# CI runs the property tests with a fixed seed, so that a landing does not depend on luck; developers'
# runs keep exploring new examples (and keep the failing ones in .hypothesis/).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

DATA = Path(__file__).resolve().parent / "data"
SHIPPED_DIGEST = REPO / "data" / "digests" / "2023-01.txt"

_PREFIXES = ("SLACK_", "PAPERBOT_", "ARXIV_", "ROUNDUP_")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No proxies (the fakes live on 127.0.0.1), no real Slack or arXiv settings, no stray .env."""
    for name in list(os.environ):
        if name.upper().endswith("_PROXY") or name.startswith(_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "*")
    # No test reaches the real arXiv: a closed local port (connection refused at once) unless a test
    # points ARXIV_API_URL at the fake; a fresh process-wide rate limiter, so no test inherits a hold-off.
    monkeypatch.setenv("ARXIV_API_URL", "http://127.0.0.1:9/api/query")
    monkeypatch.setenv("ARXIV_DELAY_SECONDS", "0.01")
    import bot.arxiv.client

    monkeypatch.setattr(bot.arxiv.client, "DEFAULT_LIMITER", bot.arxiv.client.RateLimiter())
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """``paperbot serve`` run in-process installs its log handler on the root logger (bot.logs); take it
    away after the test, so that no later test writes log lines to a closed capture stream."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    """A fake Slack Web API on 127.0.0.1 (random port) for one test."""
    with FakeSlack() as slack:
        yield slack


@pytest.fixture
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "paperbot.db"
    monkeypatch.setenv("PAPERBOT_DB", str(path))
    return path


SLOW_DEFAULT_SECONDS = 5.0
"""What a test marked ``slow`` without ``seconds=`` is expected to take."""


def _slow_seconds(item: pytest.Item) -> float:
    # A parametrized case may carry its own, longer estimate next to the function's.
    return max((float(m.kwargs.get("seconds", SLOW_DEFAULT_SECONDS)) for m in item.iter_markers("slow")), default=0.0)


def _worksteal_shares(total: int, workers: int) -> list[int]:
    """How many tests pytest-xdist's ``worksteal`` hands each worker at the start: contiguous slices of the
    collection, ``remaining // workers_left`` each (``WorkStealingScheduling.check_schedule``). Later
    steals take from the *end* of a worker's queue, so whatever opens a slice stays with that worker."""
    shares = []
    for i in range(workers):
        share = (total - sum(shares)) // (workers - i)
        shares.append(share)
    return shares


def pytest_configure_node(node: Any) -> None:
    """Tell each xdist worker how the controller hands out tests (workers see ``--dist`` as "no")."""
    node.workerinput["dist"] = node.config.getoption("dist")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Spread the slow tests over the workers, each opening its worker's first slice, longest first onto
    the least loaded worker. Left in collection order they would all open the first slice and run one after
    another on one worker (about 75 s in a row), while the other workers ran out of work.

    Every worker computes the same order (xdist requires identical collections). Without xdist the slow
    tests simply go first."""
    slow = sorted((item for item in items if _slow_seconds(item)), key=_slow_seconds, reverse=True)
    fast = [item for item in items if not _slow_seconds(item)]
    workerinput = getattr(config, "workerinput", {})
    workers = int(workerinput.get("workercount", 1))
    if workers < 2 or workerinput.get("dist") != "worksteal":
        items[:] = slow + fast
        return
    loads = [0.0] * workers
    openers: list[list[pytest.Item]] = [[] for _ in range(workers)]
    for item in slow:
        lightest = loads.index(min(loads))
        openers[lightest].append(item)
        loads[lightest] += _slow_seconds(item)
    ordered: list[pytest.Item] = []
    rest = iter(fast)
    for share, opening in zip(_worksteal_shares(len(items), workers), openers, strict=True):
        ordered += opening
        ordered += itertools.islice(rest, max(0, share - len(opening)))  # fewer when slow tests crowd a slice
    ordered += list(rest)
    items[:] = ordered
