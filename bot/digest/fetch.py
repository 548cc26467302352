"""Fetching a digest's web page: deadlines, a redirect limit, a size cap, and one clear reason per failure.

``requests`` with 5 s to connect and 20 s between bytes, at most 5 redirects, the body streamed and cut at
5 MiB, and a User-Agent naming paperbot and its version. Every failure is a
:class:`~bot.digest.parse.DigestError` whose reason is one line a person can act on (404, 500, timeout,
redirect loop, connection refused, a PDF or an image instead of a page, a page too large).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from functools import cache

import requests

from bot.digest.parse import MAX_DIGEST_BYTES, SAVE_AS_TEXT, DigestError, binary_kind

CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 20.0
MAX_REDIRECTS = 5
_TEXT_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "text/markdown", "text/x-markdown")


@cache
def user_agent() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        number = version("paperbot")
    except PackageNotFoundError:
        number = "dev"
    return f"paperbot/{number} (Slack paper-digest bot; +https://github.com/paperbot)"


@dataclass(frozen=True)
class Fetched:
    """A page as fetched: the bytes and what the server said about them."""

    url: str
    """The URL asked for."""
    final_url: str
    """Where the redirects ended: relative links resolve against it."""
    data: bytes
    content_type: str
    charset: str | None


def is_url(text: str) -> bool:
    return bool(re.match(r"^https?://", text.strip(), re.IGNORECASE))


def _content_type(header: str) -> tuple[str, str | None]:
    message = Message()
    message["content-type"] = header or "application/octet-stream"
    charset = message.get_param("charset")
    return message.get_content_type(), str(charset) if isinstance(charset, str) else None


def fetch_page(
    url: str,
    *,
    session: requests.Session | None = None,
    headers: dict[str, str] | None = None,
    max_bytes: int = MAX_DIGEST_BYTES,
    check_type: bool = True,
) -> Fetched:
    """GET ``url`` and return its bytes, or raise :class:`DigestError` (``url``: the reason).

    ``check_type=False`` accepts any content type (a file whose kind the caller already knows from its
    name); known binary formats are still refused by their first bytes."""
    if not is_url(url):
        raise DigestError(url, "only http:// and https:// URLs can be fetched")
    own = session is None
    http = session or requests.Session()
    http.max_redirects = MAX_REDIRECTS
    try:
        response = http.get(
            url,
            headers={"User-Agent": user_agent(), "Accept": "text/html,text/plain;q=0.9,*/*;q=0.1", **(headers or {})},
            timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
            stream=True,
            allow_redirects=True,
        )
    except requests.TooManyRedirects:
        raise DigestError(url, f"more than {MAX_REDIRECTS} redirects (a redirect loop?)") from None
    except requests.ConnectTimeout:
        raise DigestError(url, f"no connection within {CONNECT_TIMEOUT_SECONDS:g} s (timed out)") from None
    except requests.ReadTimeout:
        raise DigestError(url, f"the server did not answer within {READ_TIMEOUT_SECONDS:g} s (timed out)") from None
    except requests.ConnectionError as error:
        raise DigestError(url, f"cannot connect: {_connection_reason(error)}") from None
    except requests.RequestException as error:
        raise DigestError(url, f"cannot fetch: {error.__class__.__name__}") from None
    try:
        with response:
            if response.status_code >= 400:
                reason = response.reason or ""
                raise DigestError(url, f"the server answered HTTP {response.status_code} {reason}".rstrip())
            content_type, charset = _content_type(response.headers.get("Content-Type", ""))
            if check_type:
                _refuse_type(url, content_type)
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise DigestError(url, _too_large(int(declared), max_bytes))
            data = bytearray()
            try:
                for chunk in response.iter_content(64 * 1024):
                    data += chunk
                    if len(data) > max_bytes:
                        raise DigestError(url, _too_large(None, max_bytes))
            except requests.RequestException as error:
                raise DigestError(url, f"the download broke off: {error.__class__.__name__}") from None
    finally:
        if own:
            http.close()
    kind = binary_kind(bytes(data[:4096]))
    if kind is not None:
        raise DigestError(url, f"{kind}, not a web page; {SAVE_AS_TEXT}")
    return Fetched(url, response.url or url, bytes(data), content_type, charset)


def _refuse_type(url: str, content_type: str) -> None:
    if content_type in _TEXT_TYPES or content_type == "application/octet-stream":
        return
    if content_type == "application/pdf":
        raise DigestError(url, f"this is a PDF file, not a web page; {SAVE_AS_TEXT}")
    if "word" in content_type or "officedocument" in content_type:
        raise DigestError(url, f"this is a Word file, not a web page; {SAVE_AS_TEXT}")
    if content_type.startswith("image/"):
        raise DigestError(url, f"an image ({content_type}), not a web page")
    if not content_type.startswith("text/"):
        raise DigestError(url, f"not a web page ({content_type})")


def _too_large(size: int | None, limit: int) -> str:
    what = f"{size / 1024 / 1024:.1f} MiB" if size is not None else f"over {limit // 1024 // 1024} MiB"
    return f"the page is too large ({what}; a digest is at most {limit // 1024 // 1024} MiB)"


def _connection_reason(error: requests.ConnectionError) -> str:
    text = str(error)
    if "refused" in text.lower():
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
        return "unknown host"
    if "reset" in text.lower():
        return "connection reset"
    return "the connection failed"
