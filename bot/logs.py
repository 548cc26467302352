"""Logging for ``paperbot serve``: readable text or one JSON object per line, with secrets kept out.

:func:`setup_logging` installs one handler on the root logger (stderr) whose formatter

* writes ``PAPERBOT_LOG_FORMAT=text`` lines (``time level logger: message``) or ``json`` objects
  (``time``, ``level``, ``logger``, ``message``, and the structured ``fields`` a log call passed as
  ``extra={"fields": {...}}``);
* redacts, in every line whatever library wrote it, the configured tokens and signing secret, anything
  shaped like a Slack token, ``response_url`` values (they let anyone answer as the bot for 30 minutes)
  and Socket Mode connection tickets: libraries log request bodies and headers at DEBUG;
* demotes the routine INFO lines of APScheduler ("Added job", "Running job") and of the ``arxiv``
  package ("Got first page") to DEBUG, and keeps slack_sdk's
  webhook client (which sends to ``response_url``) at INFO: each of its DEBUG lines is the URL.

Nothing happens at import time; other commands than ``serve`` keep Python's default (warnings only).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

from bot.config import Settings

REDACTED = "[redacted]"

_TOKEN = re.compile(r"\b(?:xox[abposr]|xapp)-[A-Za-z0-9-]+")
_RESPONSE_URL = re.compile(r"https?:(?:\\?/){2}hooks\.slack\.com[^\s'\",}]*")
_TICKET = re.compile(r"(ticket=)[^&\s'\"]+")  # a Socket Mode connection URL's one-time credential
_RESPONSE_URL_FIELD = re.compile(r"""(["']?response_url["']?\s*[:=]\s*)(["']?)[^"'\s,&}]+\2""")
_ENCODED_RESPONSE_URL = re.compile(r"(response_url=)[^&\s'\"]+")

_DEMOTED = ("apscheduler", "arxiv")
"""Libraries whose INFO lines are routine ("Added job", "Got first page"): shown only at DEBUG."""
_NEVER_DEBUG = ("slack_sdk.webhook",)
"""Loggers whose DEBUG lines are all about a ``response_url`` (the URL is the line): kept at INFO."""


class Redactor:
    """Replaces secrets in a string: the exact configured values, then the shapes of tokens and URLs."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so that a secret containing another is replaced whole.
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        text = _TOKEN.sub(REDACTED, text)
        text = _RESPONSE_URL_FIELD.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}{m.group(2)}", text)
        text = _ENCODED_RESPONSE_URL.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
        text = _TICKET.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
        return _RESPONSE_URL.sub(REDACTED, text)


class _Demote(logging.Filter):
    """Routine INFO lines of chatty libraries count as DEBUG: kept only when the level is DEBUG."""

    def __init__(self, threshold: int) -> None:
        super().__init__()
        self.threshold = threshold

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and record.name.split(".", 1)[0] in _DEMOTED:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return record.levelno >= self.threshold


class TextFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a traceback goes in ``exc`` (newlines escaped, still one line)."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.redact(record.getMessage()),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                entry.setdefault(str(key), self.redact(value) if isinstance(value, str) else value)
        if record.exc_info:
            entry["exc"] = self.redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def setup_logging(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    """Configure the root logger from ``PAPERBOT_LOG_LEVEL`` / ``PAPERBOT_LOG_FORMAT`` (raises
    ``ConfigError`` on a bad value) and return the handler; replaces a handler set up before."""
    level = getattr(logging, settings.log_level)
    redact = Redactor(settings.secrets())
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name("paperbot")
    handler.setFormatter(JsonFormatter(redact) if settings.log_format == "json" else TextFormatter(redact))
    handler.addFilter(_Demote(level))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "paperbot"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _NEVER_DEBUG:
        logging.getLogger(name).setLevel(max(level, logging.INFO))
    return handler
