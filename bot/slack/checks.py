"""Slack set-up checks for ``paperbot doctor``: each asks Slack one thing and returns plain data.

* :func:`check_bot_token`: ``auth.test`` with ``SLACK_BOT_TOKEN`` (team, bot user, and the granted
  scopes from the ``X-OAuth-Scopes`` response header);
* :func:`check_app_token`: ``apps.connections.open`` with ``SLACK_APP_TOKEN`` (the connection is not
  used: Slack discards an unopened URL);
* :func:`check_channel`: the channel exists and the bot is a member: ``conversations.info`` when the
  token may read channel info, else ``conversations.history`` (limit 1), which the manifest's history
  scopes allow and which answers ``not_in_channel`` just as posting would.

:func:`explain` turns Slack's error codes into what they mean and what to do; :func:`explain_bolt_error`
does the same for the error Bolt raises when ``auth.test`` fails at start.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from slack_bolt.error import BoltError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.slack.ids import BOT_SCOPES

TIMEOUT_SECONDS = 10

_MEANINGS = {
    "not_authed": "no token reached Slack: set SLACK_BOT_TOKEN to the app's Bot User OAuth Token (xoxb-…)",
    "invalid_auth": (
        "Slack does not know this token (mistyped, from another workspace or app, or replaced by a reinstall): "
        "copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page into SLACK_BOT_TOKEN"
    ),
    "account_inactive": (
        "the token belongs to an app that was uninstalled or a user that was deactivated: reinstall the app "
        "(OAuth & Permissions → Install to Workspace) and copy the new token into SLACK_BOT_TOKEN"
    ),
    "token_revoked": (
        "the token was revoked (the app was uninstalled, or its tokens regenerated): reinstall the app and "
        "copy the new Bot User OAuth Token into SLACK_BOT_TOKEN"
    ),
    "token_expired": (
        "the token expired because token rotation is on: turn it off (OAuth & Permissions; the manifest has "
        "token_rotation_enabled: false), reinstall the app and copy the new token"
    ),
    "not_allowed_token_type": (
        "the wrong kind of token for this call: SLACK_BOT_TOKEN must be the Bot User OAuth Token (xoxb-…), "
        "SLACK_APP_TOKEN an app-level token (xapp-…, Basic Information → App-Level Tokens)"
    ),
    "missing_scope": (
        "the app lacks a scope this needs: add the scopes of manifest.yml under OAuth & Permissions → Scopes "
        "and reinstall the app"
    ),
    "no_permission": "the workspace does not let the app do this: ask a workspace admin",
    "team_access_not_granted": "the token has no access to this workspace: install the app to it",
    "org_login_required": "the workspace is migrating or needs an org login: try again later",
    "channel_not_found": (
        "Slack has no such channel, or it is private and the bot is not in it: check the id (open the channel, "
        "click its name: the id is at the bottom of the About tab) and invite the bot with /invite @paperbot"
    ),
    "not_in_channel": "the bot is not a member of the channel: type /invite @paperbot in that channel",
    "is_archived": "the channel is archived: unarchive it or choose another channel",
    "ratelimited": "Slack is rate-limiting this app: try again in a minute",
    "fatal_error": "Slack had an internal error: try again in a few minutes",
    "internal_error": "Slack had an internal error: try again in a few minutes",
    "service_unavailable": "Slack is unavailable: try again in a few minutes (https://status.slack.com)",
}


def explain(code: str | None) -> str:
    """``code: what it means and what to do`` for a Slack error code."""
    if not code:
        return "Slack answered with an error but no code"
    meaning = _MEANINGS.get(code)
    return f"{code}: {meaning}" if meaning else f"{code} (see https://api.slack.com/methods for this error)"


def explain_app_token_error(code: str | None) -> str:
    """Like :func:`explain`, for ``SLACK_APP_TOKEN`` refused by ``apps.connections.open``."""
    if code in ("invalid_auth", "not_authed", "token_revoked", "account_inactive"):
        return (
            f"{code}: Slack does not accept SLACK_APP_TOKEN: create an app-level token with connections:write "
            "(Basic Information → App-Level Tokens) and put it in SLACK_APP_TOKEN; Socket Mode must be on "
            "(manifest.yml has socket_mode_enabled: true)"
        )
    if code == "missing_scope":
        return f"{code}: the app-level token lacks connections:write: create one with that scope"
    return explain(code)


def explain_bolt_error(error: BoltError) -> str:
    """Bolt's start-up ``auth.test`` failure (a message with the raw response) as :func:`explain` says it."""
    found = re.search(r"""['"]error['"]:\s*['"]([a-z_]+)['"]""", str(error))
    return explain(found.group(1)) if found else str(error)


def _client(settings: Settings, token: str) -> WebClient:
    return WebClient(token=token, base_url=settings.slack_api_url, timeout=TIMEOUT_SECONDS)


def _failure(error: Exception, settings: Settings) -> tuple[str, str]:
    """(code, explanation) for a failed call."""
    if isinstance(error, SlackApiError):
        code = error.response.get("error") if error.response is not None else None
        status = error.response.status_code if error.response is not None else None
        if not code:
            return "http_error", f"Slack answered HTTP {status}"
        return str(code), explain(str(code))
    reason = getattr(error, "reason", None) or error
    return "unreachable", f"cannot reach Slack at {settings.slack_api_url} (SLACK_API_URL): {reason}"


@dataclass(frozen=True)
class BotTokenCheck:
    ok: bool
    team: str | None = None
    team_id: str | None = None
    bot_user: str | None = None
    bot_user_id: str | None = None
    scopes: frozenset[str] | None = None
    """Granted scopes (``None`` when Slack did not send ``X-OAuth-Scopes``)."""
    error: str | None = None
    explanation: str | None = None

    @property
    def missing_scopes(self) -> tuple[str, ...]:
        """Scopes manifest.yml asks for that the token lacks (in the manifest's order)."""
        granted = self.scopes or frozenset()
        return tuple(scope for scope in BOT_SCOPES if scope not in granted)


def _header(headers: Any, name: str) -> str | None:
    for key, value in dict(headers or {}).items():
        if str(key).lower() == name:
            return str(value)
    return None


def check_bot_token(settings: Settings) -> BotTokenCheck:
    """``auth.test``: is ``SLACK_BOT_TOKEN`` valid, for which team and bot user, with which scopes."""
    try:
        response = _client(settings, settings.require_slack_bot_token()).auth_test()
    except (SlackApiError, OSError) as error:
        code, explanation = _failure(error, settings)
        return BotTokenCheck(ok=False, error=code, explanation=explanation)
    header = _header(response.headers, "x-oauth-scopes")
    scopes = frozenset(s.strip() for s in header.split(",") if s.strip()) if header is not None else None
    return BotTokenCheck(
        ok=True,
        team=response.get("team"),
        team_id=response.get("team_id"),
        bot_user=response.get("user"),
        bot_user_id=response.get("user_id"),
        scopes=scopes,
    )


@dataclass(frozen=True)
class AppTokenCheck:
    ok: bool
    error: str | None = None
    explanation: str | None = None


def check_app_token(settings: Settings) -> AppTokenCheck:
    """``apps.connections.open``: does Slack accept ``SLACK_APP_TOKEN`` for a Socket Mode connection."""
    token = settings.slack_app_token
    if token is None:
        return AppTokenCheck(ok=False, error="not_set", explanation="SLACK_APP_TOKEN is not set")
    try:
        _client(settings, token).apps_connections_open(app_token=token)
    except SlackApiError as error:
        code = error.response.get("error") if error.response is not None else None
        return AppTokenCheck(ok=False, error=str(code), explanation=explain_app_token_error(code))
    except OSError as error:
        code, explanation = _failure(error, settings)
        return AppTokenCheck(ok=False, error=code, explanation=explanation)
    return AppTokenCheck(ok=True)


@dataclass(frozen=True)
class ChannelCheck:
    exists: bool
    is_member: bool
    name: str | None = None
    archived: bool = False
    error: str | None = None
    explanation: str | None = None


def check_channel(settings: Settings, channel: str) -> ChannelCheck:
    """Does ``channel`` exist, and is the bot a member (so that it can post there and read its history)."""
    client = _client(settings, settings.require_slack_bot_token())
    try:
        info = client.conversations_info(channel=channel)
    except SlackApiError as error:
        code = error.response.get("error") if error.response is not None else None
        if code != "missing_scope":
            return _channel_failure(error, settings)
    except OSError as error:
        return _channel_failure(error, settings)
    else:
        data = info.get("channel") or {}
        return ChannelCheck(
            exists=True,
            is_member=bool(data.get("is_member")),
            name=data.get("name"),
            archived=bool(data.get("is_archived")),
            error=None if data.get("is_member") else "not_in_channel",
            explanation=None if data.get("is_member") else explain("not_in_channel"),
        )
    # No channels:read (manifest.yml does not ask for it): reading one message needs only the history
    # scopes, and Slack answers it exactly as it would a post.
    try:
        client.conversations_history(channel=channel, limit=1)
    except (SlackApiError, OSError) as error:
        return _channel_failure(error, settings)
    return ChannelCheck(exists=True, is_member=True)


def _channel_failure(error: Exception, settings: Settings) -> ChannelCheck:
    code, explanation = _failure(error, settings)
    return ChannelCheck(exists=code == "not_in_channel", is_member=False, error=code, explanation=explanation)
