"""Slack mrkdwn: escaping text so that it shows as written and never pings anyone.

Slack reads ``<…>`` as links and mentions (``<!channel>``, ``<@U123>``, ``<#C123>``) and ``&`` as the
start of an entity, so ``&``, ``<`` and ``>`` are escaped as Slack documents
(https://api.slack.com/reference/surfaces/formatting#escaping). Bare ``@channel``, ``@here`` and
``@everyone`` are also defused with a word joiner (U+2060) after the ``@``, in case a message is ever
sent with ``link_names``. Control characters other than newline and tab are dropped.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_BROADCAST = re.compile(r"@(?=(?:channel|here|everyone)\b)", re.IGNORECASE)
_USER_ID = re.compile(r"^[UW][A-Z0-9]{1,20}$")
_SAFE_URL = re.compile(r"^https?://[^\s<>|]+$")


def clean(text: str) -> str:
    """Drop control and bidi-override characters; keep newlines and tabs."""
    return _CONTROL.sub("", text)


def escape(text: str) -> str:
    """User or digest text, safe to put in a mrkdwn field."""
    text = clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub("@\u2060", text)


def plain(text: str) -> str:
    """Text for ``plain_text`` objects (button labels, modal titles), which Slack shows literally:
    no entities, but no broadcast either."""
    return _BROADCAST.sub("@\u2060", clean(text))


def link(url: str, label: str) -> str:
    """``<url|label>`` with the label escaped; an unsafe URL becomes the escaped label alone."""
    if not _SAFE_URL.match(url):
        return escape(label)
    return f"<{url}|{escape(label).replace('|', '¦')}>"


def user(user_id: str) -> str:
    """A mention of a Slack user id, only when it really is one."""
    return f"<@{user_id}>" if _USER_ID.match(user_id) else escape(user_id)


def channel(channel_id: str) -> str:
    """A link to a channel id, only when it really is one."""
    return f"<#{channel_id}>" if re.match(r"^[CG][A-Z0-9]{2,20}$", channel_id) else escape(channel_id)


def truncate(text: str, limit: int, ellipsis: str = "…") -> str:
    """Shorten to at most ``limit`` characters, at a sentence end when one is near, else at a space."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ellipsis)]
    sentence = max(cut.rfind(mark) for mark in ("。", "！", "？", ". ", "! ", "? ", "\n"))
    if sentence >= limit // 2:
        return cut[: sentence + 1].rstrip() + " " + ellipsis
    space = cut.rfind(" ")
    if space >= limit // 2:
        return cut[:space].rstrip() + ellipsis
    return cut + ellipsis


_MD_BOLD = re.compile(
    r"(?<![\w*])\*\*(?=\S)(?P<inner>[^*\n]*?\S)\*\*(?![\w*])|(?<![\w_])__(?=\S)(?P<under>[^_\n]*?\S)__(?![\w_])"
)
_MD_ITALIC_STAR = re.compile(r"(?<![\w*])\*(?=[^\s*])(?P<inner>[^*\n]*?[^\s*])\*(?![\w*])")
_MD_LINK = re.compile(r"\[(?P<text>[^\]\n]+)\]\((?P<url>https?://[^\s)|<>]+)\)")


def from_markdown(escaped: str) -> str:
    """Markdown emphasis and links in already escaped text, as Slack mrkdwn: ``**bold**`` → ``*bold*``,
    ``*italic*`` → ``_italic_`` (``_italic_`` is the same in both), ``[text](url)`` → ``<url|text>``."""
    text = _MD_LINK.sub(lambda m: f"<{m['url']}|{m['text'].replace('|', '¦')}>", escaped)
    bold: list[str] = []

    def keep(match: re.Match[str]) -> str:
        bold.append(match["inner"] if match["inner"] is not None else match["under"])
        return f"\x00{len(bold) - 1}\x00"

    text = _MD_BOLD.sub(keep, text)
    text = _MD_ITALIC_STAR.sub(lambda m: f"_{m['inner']}_", text)
    return re.sub("\x00(\\d+)\x00", lambda m: f"*{bold[int(m.group(1))]}*", text)
