"""manifest.yml and the app agree: every declared command and action is one the app handles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_bolt import App, BoltRequest

from bot.config import Settings
from bot.slack import ids as surfaces
from bot.slack.app import build_app
from tests.conftest import REPO
from tests.fakes.bot_server import bot_settings
from tests.fakes.signing import (
    SIGNING_SECRET,
    block_actions_payload,
    event_body,
    interactive_body,
    link_shared_event,
    mention_event,
    message_event,
    shortcut_payload,
    signed_headers,
    slash_command_body,
    view_submission_payload,
)
from tests.fakes.slack_api import FakeSlack


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "manifest.yml").read_text(encoding="utf-8"))
    return data


def sample_event(name: str) -> dict[str, Any]:
    """An event as Slack sends it for a manifest ``bot_events`` name (``message.im`` is a ``message``)."""
    samples: dict[str, dict[str, Any]] = {
        "app_home_opened": {"type": "app_home_opened", "user": "U1", "tab": "home", "event_ts": "1.1"},
        "link_shared": link_shared_event(["https://arxiv.org/abs/2301.11325"]),
        "app_mention": mention_event("<@U0BOT> help"),
        "message.im": message_event("help"),
    }
    return samples[name]


@pytest.fixture
def settings(tmp_path: Path, fake: FakeSlack) -> Settings:
    return bot_settings(fake, tmp_path / "m.db")


@pytest.fixture
def app(settings: Settings) -> Iterator[App]:
    """The real app; its work after the ack finishes before the fake Slack goes away."""
    built = build_app(settings)
    yield built
    built.listener_runner.listener_executor.shutdown(wait=True)


def test_manifest_declares_exactly_the_command_the_app_registers(manifest: dict[str, Any]) -> None:
    commands = [entry["command"] for entry in manifest["features"]["slash_commands"]]
    assert commands == [surfaces.COMMAND]


def test_manifest_settings(manifest: dict[str, Any]) -> None:
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == set(surfaces.BOT_SCOPES)
    events = manifest["settings"].get("event_subscriptions", {}).get("bot_events", [])
    assert set(events) == set(surfaces.EVENTS)
    shortcuts = [entry["callback_id"] for entry in manifest["features"].get("shortcuts", [])]
    assert set(shortcuts) == set(surfaces.SHORTCUTS)


def test_every_declared_command_is_handled(manifest: dict[str, Any], app: App) -> None:
    for entry in manifest["features"]["slash_commands"]:
        body = slash_command_body("help", command=entry["command"])
        response = app.dispatch(BoltRequest(body=body, headers=signed_headers(body, SIGNING_SECRET)))
        assert response.status == 200, entry["command"]
    body = slash_command_body("help", command="/unknown")
    assert app.dispatch(BoltRequest(body=body, headers=signed_headers(body, SIGNING_SECRET))).status == 404


@pytest.mark.parametrize("action_id", [*surfaces.ACTIONS[:-1], *surfaces.CARD_ACTIONS, surfaces.ACTION_LINK + "_abs"])
def test_every_action_is_handled(app: App, fake: FakeSlack, action_id: str) -> None:
    response_url = fake.response_url()
    body = interactive_body(block_actions_payload(action_id, "1", response_url=response_url))
    response = app.dispatch(BoltRequest(body=body, headers=signed_headers(body, SIGNING_SECRET)))
    assert response.status == 200
    if not action_id.startswith(surfaces.ACTION_LINK):
        fake.wait_for_responses(1, response_url)  # the lazy half answered through response_url
    body = interactive_body(block_actions_payload("not_ours", "1"))
    assert app.dispatch(BoltRequest(body=body, headers=signed_headers(body, SIGNING_SECRET))).status == 404


def test_every_declared_shortcut_view_and_event_is_handled(manifest: dict[str, Any], app: App, fake: FakeSlack) -> None:

    def dispatch(body: str) -> int:
        return app.dispatch(BoltRequest(body=body, headers=signed_headers(body, SIGNING_SECRET))).status

    for entry in manifest["features"]["shortcuts"]:
        message = {"text": "", "ts": "1.1"} if entry["type"] == "message" else None
        payload = shortcut_payload(entry["callback_id"], message=message, response_url=fake.response_url())
        assert dispatch(interactive_body(payload)) == 200, entry
    fake.wait_for_calls("views.open", len(manifest["features"]["shortcuts"]))
    for callback_id in surfaces.VIEWS:
        values = {"paper": {"arxiv_id": {"type": "plain_text_input", "value": "nope"}}}
        assert dispatch(interactive_body(view_submission_payload(callback_id, values))) == 200
    for event in manifest["settings"]["event_subscriptions"]["bot_events"]:
        assert dispatch(event_body(sample_event(event))) == 200, event
    fake.wait_for_calls("views.publish", 1)
    assert dispatch(interactive_body(shortcut_payload("not_ours"))) == 404


def _without_http_settings(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest less what HTTP mode changes: Socket Mode, and the three request URLs."""
    import copy

    data = copy.deepcopy(manifest)
    data["settings"].pop("socket_mode_enabled")
    data["settings"]["event_subscriptions"].pop("request_url")
    data["settings"]["interactivity"].pop("request_url")
    for command in data["features"]["slash_commands"]:
        command.pop("url")
    return data


def test_the_http_manifest_is_the_same_app_without_socket_mode(manifest: dict[str, Any]) -> None:
    http: dict[str, Any] = yaml.safe_load((REPO / "manifest.http.yml").read_text(encoding="utf-8"))
    assert http["settings"]["socket_mode_enabled"] is False
    urls = [
        http["settings"]["event_subscriptions"]["request_url"],
        http["settings"]["interactivity"]["request_url"],
        *(command["url"] for command in http["features"]["slash_commands"]),
    ]
    assert len(urls) == 3 and all(url == "https://paperbot.example.com/slack/events" for url in urls)
    assert _without_http_settings(http) == _without_http_settings(manifest)


def test_manifest_declares_the_conversation_surfaces(manifest: dict[str, Any]) -> None:
    """Unfurls, mentions and direct messages: the domain, every scope and event they need, the messages tab."""
    assert manifest["features"]["unfurl_domains"] == list(surfaces.UNFURL_DOMAINS) == ["arxiv.org"]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"links:read", "links:write", "app_mentions:read", "im:history", "chat:write"} <= scopes
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"link_shared", "app_mention", "message.im"} <= events
    home = manifest["features"]["app_home"]
    assert home["messages_tab_enabled"] is True and home["messages_tab_read_only_enabled"] is False


@pytest.mark.parametrize(
    "event",
    [
        message_event("edited", subtype="message_changed", user_id=None),
        message_event("", subtype="message_deleted", user_id=None),
        message_event("from a bot", subtype="bot_message", user_id=None, bot_id="B0OTHER"),
        message_event("a file", subtype="file_share"),
        message_event("in a channel", channel="C1", channel_type="channel"),
        message_event("<@U0BOT> hi", channel="C1", channel_type="channel"),
        mention_event("<@U0BOT> hi", bot_id="B0OTHER"),
        {"type": "message", "channel": "D1", "event_ts": "1.1"},
    ],
)
def test_every_delivery_of_a_subscribed_event_gets_a_2xx(app: App, event: dict[str, Any]) -> None:
    """An event answered with 404 is retried by Slack: even the ones paperbot ignores are acknowledged."""
    body = event_body(event)
    assert app.dispatch(BoltRequest(body=body, headers=signed_headers(body, SIGNING_SECRET))).status == 200
