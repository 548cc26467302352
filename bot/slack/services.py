"""What listeners and jobs need from the outside world, handed to them through Bolt's context."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import sqlite_utils
from slack_sdk import WebClient

from bot.config import Settings
from bot.db import thread_db
from bot.slack.client import make_web_client


@dataclass(frozen=True)
class Services:
    settings: Settings

    def __deepcopy__(self, memo: dict[int, object]) -> Services:
        # Bolt deep-copies the context for lazy listeners (https://github.com/slackapi/bolt-python/issues/545);
        # services are one shared handle, not data.
        return self

    @cached_property
    def db_path(self) -> Path:
        # Read once: settings are a snapshot, and every request asks for its connection.
        return self.settings.db_path

    def db(self) -> sqlite_utils.Database:
        """The calling thread's connection (listeners run in worker threads)."""
        return thread_db(self.db_path)

    def posting_client(self) -> WebClient:
        """A Web API client without blind retries, for messages that must not be sent twice."""
        return make_web_client(self.settings, retries=False)
