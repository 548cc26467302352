"""Settings from the environment: the only module of paperbot that reads it.

Values come from the process environment and, below it, from a ``.env`` file in the working directory
(the real environment wins). Nothing is validated up front: a value is checked when a command asks for
it, so a malformed ``ROUNDUP_SCHEDULE`` does not stop ``paperbot search``. A missing or malformed value
that a command needs raises :class:`ConfigError`, whose message is one line naming the variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

DEFAULT_DB = "data/paperbot.db"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_ARXIV_API_URL = "https://export.arxiv.org/api/query"
DEFAULT_ROUNDUP_SCHEDULE = "0 9 1 * *"

_USER_ID = re.compile(r"^[UW][A-Z0-9]{1,20}$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")


LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_BACKUPS = 7

NO_CONNECTION_SETTING = (
    "SLACK_SIGNING_SECRET is not set, and neither is SLACK_APP_TOKEN: paperbot needs one of them. "
    "SLACK_APP_TOKEN (xapp-…, an app-level token with connections:write) runs it in Socket Mode, which "
    "needs no public URL; SLACK_SIGNING_SECRET (Basic Information → App Credentials) runs it in HTTP mode, "
    "where Slack sends requests to https://YOUR-HOST/slack/events (see .env.example)"
)


class ConfigError(Exception):
    """A setting a command needs is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """A snapshot of the configuration; properties validate on access."""

    values: Mapping[str, str] = field(default_factory=dict)

    def _get(self, name: str) -> str | None:
        raw = self.values.get(name)
        if raw is None:
            return None
        raw = raw.strip()
        return raw or None

    # --- storage -------------------------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return Path(self._get("PAPERBOT_DB") or DEFAULT_DB)

    # --- Slack ---------------------------------------------------------------------------------------
    @property
    def slack_bot_token(self) -> str | None:
        token = self._get("SLACK_BOT_TOKEN")
        if token is not None and not token.startswith("xoxb-"):
            raise ConfigError("SLACK_BOT_TOKEN must be a bot token starting with 'xoxb-'")
        return token

    @property
    def slack_signing_secret(self) -> str | None:
        return self._get("SLACK_SIGNING_SECRET")

    @property
    def slack_app_token(self) -> str | None:
        token = self._get("SLACK_APP_TOKEN")
        if token is not None and not token.startswith("xapp-"):
            raise ConfigError("SLACK_APP_TOKEN must be an app-level token starting with 'xapp-'")
        return token

    @property
    def slack_api_url(self) -> str:
        url = self._get("SLACK_API_URL") or DEFAULT_SLACK_API_URL
        if not re.match(r"^https?://[^/\s]+", url):
            raise ConfigError(f"SLACK_API_URL must be an http(s) URL, got {url!r}")
        return url if url.endswith("/") else url + "/"

    def require_slack_bot_token(self) -> str:
        token = self.slack_bot_token
        if token is None:
            raise ConfigError("SLACK_BOT_TOKEN is not set (a bot token, xoxb-…; see .env.example)")
        return token

    def require_signing_secret(self) -> str:
        secret = self.slack_signing_secret
        if secret is None and self.slack_app_token is None:
            raise ConfigError(NO_CONNECTION_SETTING)
        if secret is None:
            raise ConfigError("SLACK_SIGNING_SECRET is not set (needed for HTTP mode; see .env.example)")
        return secret

    # --- arXiv ---------------------------------------------------------------------------------------
    @property
    def arxiv_api_url(self) -> str:
        url = self._get("ARXIV_API_URL") or DEFAULT_ARXIV_API_URL
        if not re.match(r"^https?://[^/\s]+", url):
            raise ConfigError(f"ARXIV_API_URL must be an http(s) URL, got {url!r}")
        return url

    @property
    def arxiv_delay_seconds(self) -> float:
        raw = self._get("ARXIV_DELAY_SECONDS")
        if raw is None:
            return 3.0
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"ARXIV_DELAY_SECONDS must be a number of seconds, got {raw!r}") from None
        if not 0 <= value <= 3600:
            raise ConfigError(f"ARXIV_DELAY_SECONDS must be between 0 and 3600 seconds, got {raw!r}")
        return value

    # --- roundup -------------------------------------------------------------------------------------
    @property
    def roundup_channel(self) -> str | None:
        channel = self._get("ROUNDUP_CHANNEL")
        if channel is not None and not _CHANNEL_ID.match(channel):
            raise ConfigError(f"ROUNDUP_CHANNEL must be a channel ID such as C0123456789, got {channel!r}")
        return channel

    @property
    def roundup_schedule(self) -> str:
        schedule = self._get("ROUNDUP_SCHEDULE") or DEFAULT_ROUNDUP_SCHEDULE
        if len(schedule.split()) != 5:
            raise ConfigError(
                f"ROUNDUP_SCHEDULE must be a crontab expression with 5 fields "
                f"(minute hour day month weekday), got {schedule!r}"
            )
        return schedule

    @property
    def roundup_timezone(self) -> ZoneInfo:
        name = self._get("ROUNDUP_TIMEZONE") or "UTC"
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"ROUNDUP_TIMEZONE must be an IANA time zone such as Europe/Paris, got {name!r}"
            ) from None

    # --- operations ----------------------------------------------------------------------------------
    @property
    def backups_kept(self) -> int:
        """How many daily automatic backups ``serve`` keeps; 0 turns them off."""
        raw = self._get("PAPERBOT_BACKUPS")
        if raw is None:
            return DEFAULT_BACKUPS
        if not raw.isdigit() or int(raw) > 10_000:
            raise ConfigError(f"PAPERBOT_BACKUPS must be a whole number from 0 (off) to 10000, got {raw!r}")
        return int(raw)

    @property
    def log_format(self) -> str:
        raw = (self._get("PAPERBOT_LOG_FORMAT") or "text").lower()
        if raw not in LOG_FORMATS:
            raise ConfigError(f"PAPERBOT_LOG_FORMAT must be 'text' or 'json', got {raw!r}")
        return raw

    @property
    def log_level(self) -> str:
        raw = (self._get("PAPERBOT_LOG_LEVEL") or "INFO").upper()
        if raw not in LOG_LEVELS:
            raise ConfigError(f"PAPERBOT_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {raw!r}")
        return raw

    def secrets(self) -> tuple[str, ...]:
        """The configured values that must never appear in a log line (tokens and the signing secret),
        read raw so that even a malformed token is kept out."""
        names = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET")
        return tuple(value for name in names if (value := self._get(name)) is not None)

    def problems(self) -> list[str]:
        """Every setting read once: the one-line message of each that is malformed (empty: all parse)."""
        found: list[str] = []
        for name in _CHECKED_PROPERTIES:
            try:
                getattr(self, name)
            except ConfigError as error:
                found.append(str(error))
        return found

    def configured(self) -> list[str]:
        """The names of the paperbot variables that have a value (never the values)."""
        return sorted(name for name in self.values if name.startswith(_OUR_PREFIXES) and self._get(name) is not None)

    @property
    def admins(self) -> frozenset[str]:
        raw = self._get("PAPERBOT_ADMINS") or ""
        ids = [part.strip() for part in raw.split(",") if part.strip()]
        bad = [user for user in ids if not _USER_ID.match(user)]
        if bad:
            raise ConfigError(f"PAPERBOT_ADMINS must be comma-separated Slack user IDs, got {bad[0]!r}")
        return frozenset(ids)


_CHECKED_PROPERTIES = (
    "db_path",
    "slack_bot_token",
    "slack_signing_secret",
    "slack_app_token",
    "slack_api_url",
    "arxiv_api_url",
    "arxiv_delay_seconds",
    "roundup_channel",
    "roundup_schedule",
    "roundup_timezone",
    "admins",
    "backups_kept",
    "log_format",
    "log_level",
)
_OUR_PREFIXES = ("PAPERBOT_", "SLACK_", "ARXIV_", "ROUNDUP_")


def load_settings(environ: Mapping[str, str] | None = None, dotenv_path: Path | None = None) -> Settings:
    """Snapshot the environment over the ``.env`` file (default: ``./.env``); the environment wins."""
    env = dict(os.environ if environ is None else environ)
    path = dotenv_path if dotenv_path is not None else Path.cwd() / ".env"
    merged: dict[str, str] = {}
    if path.is_file():
        try:
            values = dotenv_values(path)
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not UTF-8 text (save the .env file as UTF-8)") from None
        except OSError as error:
            raise ConfigError(f"{path}: cannot read ({error.strerror or error})") from None
        merged.update({key: value for key, value in values.items() if value is not None})
    merged.update(env)
    return Settings(values=merged)
