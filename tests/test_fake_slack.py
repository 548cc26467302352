"""Prove that tests.fakes behaves like Slack for the real slack_sdk WebClient and Bolt."""

from __future__ import annotations

import json
import os
import threading
import time
import types
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from tests.fakes.signing import (
    SIGNING_SECRET,
    block_actions_payload,
    event_body,
    interactive_body,
    post,
    sign,
    signed_headers,
    slash_command_body,
)
from tests.fakes.slack_api import (
    BOT_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    RESPONSE_URL_EXHAUSTED_ERROR,
    TEAM_ID,
    FakeSlack,
)

META = {"event_type": "paperbot_digest", "event_payload": {"month": "2024-05", "papers": 3}}


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=fake.api_url)


def test_urls_and_auth_test(fake: FakeSlack, client: WebClient) -> None:
    assert fake.api_url.startswith("http://127.0.0.1:") and fake.api_url.endswith("/api/")
    assert fake.api_url == fake.base_url + "api/"
    resp = client.auth_test()
    assert (resp["team_id"], resp["user_id"], resp["bot_id"]) == (TEAM_ID, BOT_USER_ID, BOT_ID)
    assert resp["url"].startswith("https://")
    (call,) = fake.calls("auth.test")
    assert call.headers["authorization"] == f"Bearer {BOT_TOKEN}"
    assert call.ok and not call.faulted and call.status == 200


def test_post_message_then_history_with_and_without_metadata(fake: FakeSlack, client: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Digest*"}}]
    first = client.chat_postMessage(channel="C1", text="digest", blocks=blocks, metadata=META)
    second = client.chat_postMessage(channel="C1", text="later")
    client.chat_postMessage(channel="C2", text="elsewhere")
    assert first["channel"] == "C1"
    assert float(second["ts"]) > float(first["ts"])
    msg = first["message"]
    assert msg["text"] == "digest" and msg["blocks"] == blocks and msg["metadata"] == META
    assert (msg["user"], msg["bot_id"], msg["ts"]) == (BOT_USER_ID, BOT_ID, first["ts"])

    plain = client.conversations_history(channel="C1")
    assert [m["text"] for m in plain["messages"]] == ["later", "digest"]  # newest first
    assert all("metadata" not in m for m in plain["messages"])
    full = client.conversations_history(channel="C1", include_all_metadata=True)
    assert full["messages"][1]["metadata"] == META
    assert "metadata" not in full["messages"][0]

    one = client.conversations_history(channel="C1", limit=1)
    assert [m["text"] for m in one["messages"]] == ["later"] and one["has_more"] is True
    rest = client.conversations_history(channel="C1", limit=1, cursor=one["response_metadata"]["next_cursor"])
    assert [m["text"] for m in rest["messages"]] == ["digest"] and rest["has_more"] is False
    assert client.conversations_history(channel="C1", oldest=first["ts"])["messages"][0]["text"] == "later"
    assert len(client.conversations_history(channel="C1", oldest=first["ts"])["messages"]) == 1
    assert len(client.conversations_history(channel="C1", oldest=first["ts"], inclusive=True)["messages"]) == 2
    assert [m["text"] for m in client.conversations_history(channel="C1", latest=second["ts"])["messages"]] == [
        "digest"
    ]
    assert client.conversations_history(channel="C9")["messages"] == []


def test_form_encoded_json_fields_are_decoded(fake: FakeSlack, client: WebClient) -> None:
    blocks = [{"type": "divider"}]
    client.api_call(
        "chat.postMessage",
        params={"channel": "C1", "text": "form", "blocks": json.dumps(blocks), "metadata": json.dumps(META)},
    )
    (call,) = fake.calls("chat.postMessage")
    assert call.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert call.params["blocks"] == blocks and call.params["metadata"] == META
    client.api_call("chat.postMessage", data={"channel": "C1", "text": "multipart"})
    assert fake.calls("chat.postMessage")[1].params["text"] == "multipart"
    assert [m["text"] for m in fake.messages("C1")] == ["form", "multipart"]


def test_update_and_delete(fake: FakeSlack, client: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "v1"}}]
    posted = client.chat_postMessage(channel="C1", text="v1", blocks=blocks, metadata=META)
    updated = client.chat_update(channel="C1", ts=posted["ts"], text="v2")
    assert updated["ts"] == posted["ts"] and updated["message"]["text"] == "v2"
    (stored,) = client.conversations_history(channel="C1", include_all_metadata=True)["messages"]
    assert stored["text"] == "v2" and stored["blocks"] == blocks and stored["metadata"] == META  # kept
    assert "edited" in stored
    with pytest.raises(SlackApiError) as err:
        client.chat_update(channel="C1", ts="1.000001", text="x")
    assert err.value.response["error"] == "message_not_found"
    link = client.chat_getPermalink(channel="C1", message_ts=posted["ts"])["permalink"]
    assert link.endswith("/archives/C1/p" + posted["ts"].replace(".", ""))
    client.chat_delete(channel="C1", ts=posted["ts"])
    assert client.conversations_history(channel="C1")["messages"] == []


def test_threads_and_replies(fake: FakeSlack, client: WebClient) -> None:
    parent = client.chat_postMessage(channel="C1", text="parent", metadata=META)
    fake.add_message("C1", "human reply", user="U42", thread_ts=parent["ts"])
    reply = client.chat_postMessage(channel="C1", text="bot reply", thread_ts=parent["ts"])
    assert reply["message"]["thread_ts"] == parent["ts"]

    history = client.conversations_history(channel="C1")["messages"]
    assert [m["text"] for m in history] == ["parent"]  # replies are not in history
    assert history[0]["reply_count"] == 2 and history[0]["latest_reply"] == reply["ts"]

    replies = client.conversations_replies(channel="C1", ts=parent["ts"])["messages"]
    assert [m["text"] for m in replies] == ["parent", "human reply", "bot reply"]
    assert "metadata" not in replies[0]
    with_meta = client.conversations_replies(channel="C1", ts=parent["ts"], include_all_metadata=True)
    assert with_meta["messages"][0]["metadata"] == META
    with pytest.raises(SlackApiError) as err:
        client.conversations_replies(channel="C1", ts="123.456")
    assert err.value.response["error"] == "thread_not_found"


def test_rate_limit_surfaces_without_retry_handler(fake: FakeSlack, client: WebClient) -> None:
    fake.fail("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C1", text="hi")
    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "7"
    assert err.value.response["error"] == "ratelimited"
    (call,) = fake.calls("chat.postMessage")
    assert call.faulted and call.fault == "http_429" and call.status == 429
    assert fake.messages("C1") == []  # nothing was posted
    assert client.chat_postMessage(channel="C1", text="hi")["ok"]  # the fault was consumed


def test_rate_limit_retried_transparently(fake: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    # RateLimitErrorRetryHandler sleeps Retry-After + random(); make the jitter zero to keep this fast.
    monkeypatch.setattr(builtin_handlers, "random", types.SimpleNamespace(random=lambda: 0.0))
    client = WebClient(
        token=BOT_TOKEN, base_url=fake.api_url, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)]
    )
    fake.fail("chat.postMessage", status=429, retry_after=0, times=2)
    resp = client.chat_postMessage(channel="C1", text="eventually")
    assert resp["ok"]
    calls = fake.calls("chat.postMessage")
    assert [c.status for c in calls] == [429, 429, 200] and [c.faulted for c in calls] == [True, True, False]
    assert [m["text"] for m in fake.messages("C1")] == ["eventually"]  # posted exactly once


def test_server_error_and_wildcard_fault(fake: FakeSlack, client: WebClient) -> None:
    fake.fail("chat.postMessage", status=500, times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as err:
            client.chat_postMessage(channel="C1", text="hi")
        assert err.value.response.status_code == 500
    assert fake.messages("C1") == []
    fake.fail("*", status=503)
    with pytest.raises(SlackApiError) as err:
        client.users_info(user="U1")
    assert err.value.response.status_code == 503
    assert client.users_info(user="U1")["user"]["id"] == "U1"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_ok_false_errors(fake: FakeSlack, client: WebClient) -> None:
    fake.error("chat.postMessage", "channel_not_found")
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C1", text="hi")
    assert err.value.response.status_code == 200 and err.value.response["error"] == "channel_not_found"
    assert fake.calls("chat.postMessage")[0].fault == "error:channel_not_found"
    assert fake.messages("C1") == []

    fake.not_in_channel.add("C7")
    cases: list[tuple[Callable[..., Any], dict[str, Any], str]] = [
        (client.chat_postMessage, {"channel": "C404", "text": "x"}, "channel_not_found"),
        (client.conversations_history, {"channel": "C404"}, "channel_not_found"),
        (client.chat_postMessage, {"channel": "C7", "text": "x"}, "not_in_channel"),
        (client.conversations_history, {"channel": "C7"}, "not_in_channel"),
        (client.chat_postMessage, {"channel": "C1"}, "no_text"),
        (client.chat_postMessage, {"channel": "C1", "text": "x", "metadata": {"a": 1}}, "invalid_metadata_format"),
        (client.users_info, {"user": "U404"}, "user_not_found"),
    ]
    for method, kwargs, expected in cases:
        with pytest.raises(SlackApiError) as err:
            method(**kwargs)
        assert err.value.response["error"] == expected, (method, kwargs)
    with pytest.raises(SlackApiError) as err:
        client.api_call("no.suchMethod")
    assert err.value.response["error"] == "unknown_method"


def test_block_kit_limits(fake: FakeSlack, client: WebClient) -> None:
    divider = {"type": "divider"}
    client.chat_postMessage(channel="C1", text="ok", blocks=[divider] * 50)
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C1", text="too many", blocks=[divider] * 51)
    assert err.value.response["error"] == "invalid_blocks"
    long_section = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C1", text="long", blocks=[long_section])
    assert "/blocks/0/text/text" in err.value.response["errors"][0]
    assert len(fake.messages("C1")) == 1


def test_auth_header_is_checked(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as err:
        WebClient(base_url=fake.api_url).auth_test()
    assert err.value.response["error"] == "not_authed"
    with pytest.raises(SlackApiError) as err:
        WebClient(token="not-a-token", base_url=fake.api_url).auth_test()
    assert err.value.response["error"] == "invalid_auth"
    fake.tokens = {"xoxb-only-this"}
    with pytest.raises(SlackApiError):
        WebClient(token=BOT_TOKEN, base_url=fake.api_url).auth_test()
    assert WebClient(token="xoxb-only-this", base_url=fake.api_url).auth_test()["ok"]


def test_views(fake: FakeSlack, client: WebClient) -> None:
    modal = {
        "type": "modal",
        "callback_id": "suggest",
        "title": {"type": "plain_text", "text": "Suggest a paper"},
        "blocks": [{"type": "input", "label": {"type": "plain_text", "text": "URL"}, "element": {}}],
    }
    opened = client.views_open(trigger_id="123.456.abc", view=modal)["view"]
    assert opened["id"] and opened["callback_id"] == "suggest" and opened["hash"]
    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal)["view"]
    assert updated["id"] == opened["id"] and updated["hash"] != opened["hash"]
    with pytest.raises(SlackApiError) as err:
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal)
    assert err.value.response["error"] == "hash_conflict"
    pushed = client.views_push(trigger_id="123.456.abc", view=modal)["view"]
    assert pushed["id"] != opened["id"]
    bad = {**modal, "title": {"type": "plain_text", "text": "x" * 25}}
    with pytest.raises(SlackApiError) as err:
        client.views_open(trigger_id="1", view=bad)
    assert err.value.response["error"] == "invalid_arguments"
    home = client.views_publish(user_id="U1", view={"type": "home", "blocks": []})["view"]
    assert fake.home_view("U1") == home


def test_misc_methods(fake: FakeSlack, client: WebClient) -> None:
    fake.channels["C1"] = {"name": "ml-papers"}
    assert client.conversations_info(channel="C1")["channel"]["name"] == "ml-papers"
    assert client.chat_postEphemeral(channel="C1", user="U1", text="psst")["message_ts"]
    assert fake.messages("C1") == []  # ephemeral messages are not stored
    dm = client.chat_postMessage(channel="U42", text="hello")
    assert dm["channel"] == "D42"
    fake.set_handler("conversations.join", lambda params: {"ok": True, "channel": {"id": params["channel"]}})
    assert client.conversations_join(channel="C5")["channel"]["id"] == "C5"


def test_response_url_five_uses(fake: FakeSlack) -> None:
    url = fake.response_url("search")
    other = fake.response_url("other")
    assert url.startswith(fake.base_url + "response/search-") and url != other
    hook = WebhookClient(url)
    for i in range(5):
        resp = hook.send(text=f"reply {i}", response_type="ephemeral")
        assert (resp.status_code, json.loads(resp.body)) == (200, {"ok": True})
    sixth = hook.send(text="one too many")
    assert sixth.status_code == 404
    assert json.loads(sixth.body) == {"ok": False, "error": RESPONSE_URL_EXHAUSTED_ERROR}
    assert [p["text"] for p in fake.responses(url)] == [f"reply {i}" for i in range(5)]
    assert len(fake.response_calls(url)) == 6 and fake.responses(other) == []
    assert WebhookClient(fake.base_url + "response/bogus").send(text="x").status_code == 404


def test_delay_timeout_and_quick_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeSlack() as fake:
        fake.delay("chat.postMessage", 0.3)
        impatient = WebClient(
            token=BOT_TOKEN,
            base_url=fake.api_url,
            timeout=0.05,
            retry_handlers=[],  # type: ignore[arg-type]
        )
        with pytest.raises(OSError):  # socket timeout (TimeoutError / URLError)
            impatient.chat_postMessage(channel="C1", text="slow")
        # Like Slack, the slow request is still processed after the client gave up.
        (call,) = fake.wait_for_calls("chat.postMessage")
        assert call.fault == "delay:0.3" and call.ok
        assert [m["text"] for m in fake.messages("C1")] == ["slow"]
        fake.delay("auth.test", 30)
        outcome: list[BaseException] = []

        def call_slowly() -> None:
            try:
                WebClient(token=BOT_TOKEN, base_url=fake.api_url, retry_handlers=[]).auth_test()
            except Exception as exc:
                outcome.append(exc)

        thread = threading.Thread(target=call_slowly, daemon=True)
        thread.start()
        fake.wait_for(lambda: fake.calls("auth.test"), message="auth.test to arrive")
    # stop() did not wait for the 30 s delay: it dropped the connection, so the client got no answer.
    thread.join(timeout=10)
    assert len(outcome) == 1 and isinstance(outcome[0], ConnectionError)


def test_wait_for_reports_received_calls(fake: FakeSlack, client: WebClient) -> None:
    client.auth_test()
    threading.Timer(0.05, lambda: client.chat_postMessage(channel="C1", text="bg")).start()
    (call,) = fake.wait_for_calls("chat.postMessage", timeout=2.0)
    assert call.params["text"] == "bg"
    with pytest.raises(AssertionError) as err:
        fake.wait_for_calls("chat.update", timeout=0.05)
    assert "auth.test" in str(err.value) and "chat.postMessage" in str(err.value)


def test_concurrent_posts_get_unique_increasing_ts(fake: FakeSlack, client: WebClient) -> None:
    threads = [
        threading.Thread(target=lambda i=i: client.chat_postMessage(channel="C1", text=str(i))) for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stamps = [m["ts"] for m in fake.messages("C1")]
    assert len(set(stamps)) == 8 and stamps == sorted(stamps, key=float)
    fake.clear()
    assert fake.calls() == [] and len(fake.messages("C1")) == 8


def test_fake_is_quiet(capfd: pytest.CaptureFixture[str], fake: FakeSlack, client: WebClient) -> None:
    client.auth_test()
    fake.fail("auth.test", status=500)
    with pytest.raises(SlackApiError):
        client.auth_test()
    post(fake.base_url + "nowhere", "{}", SIGNING_SECRET)
    _, err = capfd.readouterr()
    assert "127.0.0.1" not in err and "HTTP" not in err
    assert fake.server_errors == []


def test_signatures_match_slack_sdk_verifier() -> None:
    verifier = SignatureVerifier(SIGNING_SECRET)
    body = slash_command_body("diffusion models", user_id="U9")
    headers = sign(body, SIGNING_SECRET)
    assert verifier.is_valid_request(body, headers)
    assert verifier.is_valid_request(body.encode(), sign(body.encode(), SIGNING_SECRET))
    assert not verifier.is_valid_request(body + "x", headers)
    assert not verifier.is_valid_request(body, sign(body, "other-secret"))
    assert not verifier.is_valid_request(body, sign(body, SIGNING_SECRET, timestamp=int(time.time()) - 600))
    fixed = sign("abc", "secret", timestamp=1531420618)
    assert fixed["X-Slack-Request-Timestamp"] == "1531420618"
    assert fixed["X-Slack-Signature"] == verifier_signature("abc", "secret", 1531420618)

    fields = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
    for key in (
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "response_url",
        "trigger_id",
    ):
        assert key in fields, key
    assert (fields["text"], fields["command"], fields["user_id"]) == ("diffusion models", "/paper", "U9")

    payload = {"type": "block_actions", "actions": [{"action_id": "a"}]}
    assert json.loads(parse_qs(interactive_body(payload))["payload"][0]) == payload
    envelope = json.loads(event_body({"type": "app_mention", "text": "hi"}))
    assert envelope["type"] == "event_callback" and envelope["team_id"] == TEAM_ID
    assert envelope["event_id"] and isinstance(envelope["event_time"], int) and envelope["api_app_id"]


def verifier_signature(body: str, secret: str, timestamp: int) -> str:
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(timestamp), body=body)
    assert signature is not None
    return signature


def test_post_helper_sends_signed_requests(fake: FakeSlack) -> None:
    url = fake.response_url()
    status, headers, body = post(url, json.dumps({"text": "hi"}), SIGNING_SECRET)
    assert status == 200 and json.loads(body) == {"ok": True}
    assert headers["Content-Type"].startswith("application/json")
    (received,) = fake.response_calls(url)
    assert SignatureVerifier(SIGNING_SECRET).is_valid_request(json.dumps({"text": "hi"}), received.headers)
    status, _, body = post(fake.base_url + "response/unknown", "{}", SIGNING_SECRET)
    assert status == 404 and json.loads(body)["error"] == "invalid_token"  # 4xx returned, not raised


def signed_bolt_request(body: str, secret: str) -> BoltRequest:
    headers: dict[str, str | Sequence[str]] = dict(signed_headers(body, secret))
    return BoltRequest(body=body, headers=headers)


def test_real_bolt_app_against_the_fake(fake: FakeSlack) -> None:
    app = App(
        client=WebClient(token=BOT_TOKEN, base_url=fake.api_url),
        signing_secret=SIGNING_SECRET,
        process_before_response=True,
    )
    seen: list[str] = []

    @app.command("/paper")
    def paper(ack: Any, command: dict[str, Any], say: Any, respond: Any) -> None:
        ack()
        seen.append(command["text"])
        respond(text=f"searching {command['text']}")
        say(text="posted", metadata=META)

    @app.action("vote")
    def vote(ack: Any, respond: Any) -> None:
        ack()
        respond(text="thanks", replace_original=False)

    assert fake.calls("auth.test")  # Bolt verified its token against the fake
    response_url = fake.response_url("cmd")
    body = slash_command_body("transformers", response_url=response_url)
    resp = app.dispatch(signed_bolt_request(body, SIGNING_SECRET))
    assert resp.status == 200 and seen == ["transformers"]
    assert fake.responses(response_url) == [{"text": "searching transformers"}]
    history = WebClient(token=BOT_TOKEN, base_url=fake.api_url).conversations_history(
        channel="C123", include_all_metadata=True
    )
    assert history["messages"][0]["metadata"] == META

    action_url = fake.response_url("action")
    body = interactive_body(block_actions_payload("vote", "1", response_url=action_url))
    assert app.dispatch(signed_bolt_request(body, SIGNING_SECRET)).status == 200
    assert fake.responses(action_url)[0]["text"] == "thanks"

    bad = app.dispatch(signed_bolt_request(body, "wrong-secret"))
    assert bad.status == 401
