"""The fake Slack answers in the shapes Slack's API reference documents (tests/data/slack_documented_responses.json):
every documented key is there with the documented JSON type, through the real ``slack_sdk`` client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.conftest import DATA
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack

DOCUMENTED: dict[str, Any] = json.loads((DATA / "slack_documented_responses.json").read_text(encoding="utf-8"))


def shape_differences(
    documented: Any, actual: Any, optional: frozenset[str] = frozenset(), path: str = ""
) -> list[str]:
    """Where ``actual`` lacks a documented key or has another JSON type than the documented value."""
    if isinstance(documented, dict):
        if not isinstance(actual, dict):
            return [f"{path or '.'}: object expected, got {type(actual).__name__}"]
        found: list[str] = []
        for key, value in documented.items():
            where = f"{path}.{key}" if path else key
            if key not in actual:
                if where not in optional:
                    found.append(f"{where}: missing")
                continue
            found += shape_differences(value, actual[key], optional, where)
        return found
    if isinstance(documented, list):
        if not isinstance(actual, list):
            return [f"{path}: array expected, got {type(actual).__name__}"]
        return shape_differences(documented[0], actual[0], optional, f"{path}[0]") if documented and actual else []
    if type(documented) is not type(actual):
        return [f"{path}: {type(documented).__name__} expected, got {type(actual).__name__}"]
    return []


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    fake.reset()
    return WebClient(token=BOT_TOKEN, base_url=fake.api_url, retry_handlers=[])


def _expect(name: str, actual: Any) -> None:
    entry = DOCUMENTED[name]
    assert shape_differences(entry["example"], actual, frozenset(entry.get("optional", ()))) == [], entry["source"]


def test_post_message_answers_as_documented(client: WebClient) -> None:
    _expect("chat.postMessage", client.chat_postMessage(channel="C123ABC456", text="Here's a message for you").data)


def test_history_answers_as_documented(client: WebClient) -> None:
    client.chat_postMessage(channel="C1", text="one")
    _expect("conversations.history", client.conversations_history(channel="C1").data)


def test_auth_test_answers_as_documented(client: WebClient) -> None:
    _expect("auth.test", client.auth_test().data)


def test_an_error_is_ok_false_with_an_error_string(fake: FakeSlack, client: WebClient) -> None:
    fake.error("chat.postMessage", "too_many_attachments")
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="C1", text="x")
    assert caught.value.response.status_code == 200
    _expect("chat.postMessage error", caught.value.response.data)


def test_rate_limiting_is_429_with_retry_after(fake: FakeSlack, client: WebClient) -> None:
    fake.fail("chat.postMessage", status=429, retry_after=3)
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="C1", text="x")
    documented = DOCUMENTED["ratelimited"]
    assert caught.value.response.status_code == documented["status"]
    assert all(caught.value.response.headers.get(header) == "3" for header in documented["headers"])
    _expect("ratelimited", caught.value.response.data)


def test_the_shape_check_sees_a_missing_key_and_a_wrong_type() -> None:
    documented = DOCUMENTED["conversations.history"]["example"]
    assert shape_differences(documented, {**documented, "has_more": "yes", "pin_count": None} | {"messages": []}) == [
        "has_more: bool expected, got str",
        "pin_count: int expected, got NoneType",
    ]
    assert shape_differences(documented, {"ok": True}) == [
        "messages: missing",
        "has_more: missing",
        "pin_count: missing",
        "response_metadata: missing",
    ]
