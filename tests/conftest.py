"""Shared test setup: a clean environment, a private working directory and database per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first: the workers then run them side by side with the rest, instead of one worker
    finishing a 40-second test after everyone else is done."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
