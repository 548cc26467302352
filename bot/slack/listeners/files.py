"""Digest files sent to the bot in a direct message, and the *Replace* / *Cancel* buttons of a refused load.

Only the ``message`` event with subtype ``file_share`` in a DM (``channel_type: im``) is handled here;
plain messages are another listener's. Each (file id, message ts) is handled once, whatever Slack
retries: a row in ``slack_file_loads`` is claimed before anything is downloaded. The file is downloaded
from ``url_private_download`` with the bot token; Slack answers a request it does not authorise with
HTTP 200 and its HTML sign-in page, which is recognised and refused. The answer goes in the DM thread.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient

from bot.db import DatabaseProblem, user_write, write_transaction
from bot.digest.fetch import fetch_page
from bot.digest.intake import HTML_SUFFIXES, TEXT_SUFFIXES, source_from_bytes
from bot.digest.parse import MAX_DIGEST_BYTES, SAVE_AS_TEXT, DigestError
from bot.slack import blocks, loading
from bot.slack.blocks import Message
from bot.slack.listeners.errors import report
from bot.slack.services import Services

log = logging.getLogger("bot.slack.listeners")

NOT_ADMIN_FILE = (
    "Thanks! Only paperbot admins (PAPERBOT_ADMINS) can load digest files, so I have not loaded this one."
    " Ask an admin to send it to me."
)
_NAMED_TYPES = {
    ".pdf": "this is a PDF file",
    ".doc": "this is a Word file",
    ".docx": "this is a Word file",
    ".rtf": "this is an RTF (Word) file",
    ".odt": "this is a word-processor file",
}
_LOGIN_PAGE = re.compile(rb"(?i)<title>[^<]*(sign in|log in|login)[^<]*slack|slack[^<]*(sign in|log in|login)")


def ack_event(ack: Ack) -> None:
    ack()


def _claim(services: Services, file_id: str, ts: str, user: str, channel: str) -> bool:
    """Record that this (file, message) is being handled; False when it already was. Waits only as long
    as a user's action does (bot.db.user_write): a busy or broken database raises :class:`DatabaseProblem`."""
    with user_write(services.db()) as db, write_transaction(db):
        cursor = db.conn.execute(
            "INSERT OR IGNORE INTO slack_file_loads (file_id, message_ts, user_id, channel, status, created_at)"
            " VALUES (?, ?, ?, ?, 'working', ?)",
            [file_id, ts, user, channel, datetime.now(UTC).isoformat(timespec="seconds")],
        )
        return cursor.rowcount == 1


def _finish(services: Services, file_id: str, ts: str, result: str) -> None:
    db = services.db()
    with write_transaction(db):
        db.conn.execute(
            "UPDATE slack_file_loads SET status = 'done', result = ? WHERE file_id = ? AND message_ts = ?",
            [result, file_id, ts],
        )


def file_shared(body: dict[str, Any], respond: Respond, context: BoltContext, client: WebClient) -> None:
    """Lazy half of a ``file_share`` message: check, download, load, answer in the thread."""
    services: Services = context["services"]
    event = body.get("event") or {}
    if event.get("channel_type") != "im" or event.get("bot_id"):
        return
    user = str(event.get("user") or "")
    channel = str(event.get("channel") or "")
    ts = str(event.get("ts") or "")
    for file in (event.get("files") or [])[:1]:
        file_id = str(file.get("id") or "")
        if not file_id:
            continue
        try:
            if not _claim(services, file_id, ts, user, channel):
                continue
        except DatabaseProblem as problem:
            # Nothing is claimed: the file may be sent again once the database takes writes.
            log.warning("file %s from %s not taken: %s", file_id, user, problem)
            client.chat_postMessage(channel=channel, thread_ts=ts, **blocks.notice(problem.user_message).payload())
            continue
        if user not in services.settings.admins:
            reply = blocks.notice(NOT_ADMIN_FILE)
        else:
            try:
                reply = _load_file(services, file, user)
            except Exception as error:
                # The claim is taken: answer anyway, so the admin is not left waiting on a retry that never comes.
                reply = blocks.notice(report(error, body))
        client.chat_postMessage(channel=channel, thread_ts=ts, unfurl_links=False, **reply.payload())
        _finish(services, file_id, ts, reply.text)


def _load_file(services: Services, file: dict[str, Any], user: str) -> Message:
    name = str(file.get("name") or file.get("title") or file.get("id"))
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix in _NAMED_TYPES:
        return blocks.notice(f"{name}: {_NAMED_TYPES[suffix]}; {SAVE_AS_TEXT}")
    if suffix not in (*TEXT_SUFFIXES, *HTML_SUFFIXES):
        return blocks.notice(f"{name}: not a digest file; send a .txt, .md or .html file ({SAVE_AS_TEXT})")
    size = int(file.get("size") or 0)
    if size > MAX_DIGEST_BYTES:
        return blocks.notice(
            f"{name}: file is too large ({size / 1024 / 1024:.1f} MiB; a digest is at most"
            f" {MAX_DIGEST_BYTES // 1024 // 1024} MiB)"
        )
    url = str(file.get("url_private_download") or file.get("url_private") or "")
    if not url:
        return blocks.notice(f"{name}: Slack gave no download link for this file")
    try:
        data = _download(services, url, name, html=suffix in HTML_SUFFIXES)
    except DigestError as error:
        return blocks.notice(str(error))
    return loading.load_for_admin(services, source_from_bytes(name, data), None, user)


def _download(services: Services, url: str, name: str, *, html: bool) -> bytes:
    token = services.settings.require_slack_bot_token()
    try:
        fetched = fetch_page(url, headers={"Authorization": f"Bearer {token}"}, check_type=False)
    except DigestError as error:
        raise DigestError(name, f"cannot download it from Slack: {error.reason}") from None
    looks_like_login = fetched.content_type == "text/html" and (not html or _LOGIN_PAGE.search(fetched.data[:20000]))
    if looks_like_login:
        raise DigestError(
            name,
            "Slack answered with its sign-in page instead of the file: the bot may not download it"
            " (its token needs the files:read scope; reinstall the app from manifest.yml)",
        )
    return fetched.data


# --- Replace / Cancel -----------------------------------------------------------------------------------


def ack_button(ack: Ack) -> None:
    ack()


def _staged(body: dict[str, Any]) -> int | None:
    value = str((body.get("actions") or [{}])[0].get("value") or "")
    return int(value) if value.isdigit() else None


def replace_clicked(body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    _staged_click(body, respond, context, lambda services, staged, user: loading.replace_staged(services, staged, user))


def cancel_clicked(body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    _staged_click(body, respond, context, lambda services, staged, _user: loading.cancel_staged(services, staged))


def _staged_click(
    body: dict[str, Any],
    respond: Respond,
    context: BoltContext,
    act: Callable[[Services, int, str], blocks.Message],
) -> None:
    """*Replace* or *Cancel* on a staged load: admins only, and only while it still waits."""
    services: Services = context["services"]
    user = str((body.get("user") or {}).get("id"))
    staged = _staged(body)
    if user not in services.settings.admins:
        reply = blocks.notice(loading.NOT_ADMIN)
    elif staged is None:
        reply = blocks.notice(loading.STAGED_GONE)
    else:
        reply = act(services, staged, user)
    _answer(body, respond, context, reply)


def _answer(body: dict[str, Any], respond: Respond, context: BoltContext, reply: Message) -> None:
    """In place of the buttons (``response_url``); a message in a DM thread has none: post in the thread."""
    if body.get("response_url"):
        respond(replace_original=True, **reply.payload())
        return
    channel = (body.get("channel") or {}).get("id")
    message = body.get("message") or {}
    client: WebClient = context["client"]
    if channel:
        client.chat_update(channel=channel, ts=str(message.get("ts")), **reply.payload())
