"""The polite arXiv API client: rate-limited, deadlined, retried, and strict about what it accepts.

arXiv asks API users for at most one request every 3 seconds over a single connection at a time
(https://info.arxiv.org/help/api/tou.html). The ``arxiv`` package's ``Client`` sets no request timeout, keeps
its delay per instance rather than per process, retries blindly, and reads arXiv's error feed (an entry whose
id is ``http://arxiv.org/api/errors#…``) as an empty result, which would turn a rejected query into "not
found"; and its URL building and feed parsing are private (``Client._format_url``, ``arxiv._feed``). So this
module builds the query URL from the API's documented parameters (``search_query``, ``id_list``, ``start``,
``max_results``, ``sortBy``, ``sortOrder``: https://info.arxiv.org/help/api/user-manual.html#_query_interface),
takes only the package's public sort names, and reads each reply once, with ElementTree, straight into
:class:`ArxivEntry` (the Atom fields: https://info.arxiv.org/help/api/user-manual.html#_details_of_atom_results_returned):

* :class:`RateLimiter`, with the process-wide :data:`DEFAULT_LIMITER`: one request in flight at a time, and
  each request starts at least ``delay_seconds`` after the previous one *ended*; a server's ``Retry-After``
  holds back every thread of the process, not only the one that got it.
* :class:`ArxivClient`: :meth:`~ArxivClient.fetch_ids` (up to :data:`MAX_IDS_PER_REQUEST` ids a request,
  ``max_results`` = the number of ids, returned ids compared with the asked ones) and
  :meth:`~ArxivClient.search`. Every request has a deadline; HTTP 429/5xx, connection errors, timeouts and
  unreadable replies are tried ``attempts`` times in all with exponential backoff, honouring ``Retry-After``
  up to ``max_retry_after_seconds``; then :class:`ArxivUnavailable` or :class:`ArxivBadResponse` is raised.
  An empty feed for several ids is retried too, then raises :class:`ArxivEmptyFeed`.
  An error feed (HTTP 400, or a 200 feed whose entry is an error) raises :class:`ArxivQueryError` at once;
  when it names one of the asked ids, :meth:`~ArxivClient.fetch_ids` drops that id, reports it as rejected
  and asks again for the others.
* :class:`ArxivEntry`: arXiv's metadata for one paper, as plain data; :func:`title_query` builds a
  ``ti:"…"`` query.
* Errors derive from :class:`ArxivError`, whose one-line message names what failed, the URL, the attempt
  and the HTTP status when there was one.

Nothing here touches the database, and nothing runs at import time beyond defining :data:`DEFAULT_LIMITER`.
"""

from __future__ import annotations

import email.utils
import functools
import logging
import math
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from xml.etree import ElementTree

import arxiv
import requests

from bot.arxiv.ids import parse_arxiv_ref
from bot.config import Settings

log = logging.getLogger(__name__)

MAX_IDS_PER_REQUEST = 100
"""arXiv's advice for ``id_list`` queries: at most 100 ids a request."""

MAX_REPLY_BYTES = 20 * 1024 * 1024
"""A reply for 100 ids is ~300 KB; anything over 20 MiB is cut off and treated as a bad reply."""

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
"""HTTP statuses worth another try: rate limited, or the server is having a bad moment."""

ATOM = "http://www.w3.org/2005/Atom"
ARXIV_NS = "http://arxiv.org/schemas/atom"
USER_AGENT = f"paperbot/0.1 (arxiv.py/{arxiv.__version__}; polite: 1 request per delay, 1 connection)"


# --- errors --------------------------------------------------------------------------------------------


class ArxivError(Exception):
    """A request to arXiv did not give a usable answer. ``str()`` is one line with the context."""

    def __init__(
        self, reason: str, *, url: str = "", attempt: int = 0, attempts: int = 0, status: int | None = None
    ) -> None:
        self.reason = reason
        self.url = url
        self.attempt = attempt
        self.attempts = attempts
        self.status = status
        context = [short_url(url)] if url else []
        if attempt:
            context.append(f"attempt {attempt} of {attempts}" if attempts else f"attempt {attempt}")
        super().__init__(f"{reason} ({', '.join(context)})" if context else reason)


class ArxivUnavailable(ArxivError):
    """arXiv could not be reached, timed out, or answered 429/5xx on every attempt (or any other HTTP error)."""


class ArxivBadResponse(ArxivError):
    """arXiv (or something in the way) answered 200 with something that is not a usable Atom feed."""


class ArxivQueryError(ArxivError):
    """arXiv's error feed: the query itself was refused. ``bad_id`` is the id it names, if any."""

    def __init__(self, reason: str, *, bad_id: str | None = None, **context: Any) -> None:
        self.bad_id = bad_id
        super().__init__(reason, **context)


class ArxivEmptyFeed(ArxivBadResponse):
    """A well-formed feed with no entry at all for several ids, on every attempt. arXiv drops unknown ids
    silently, so this is either ids that all do not exist or one of arXiv's spurious empty answers; the
    caller can tell them apart by asking for an id known to exist."""


class ArxivCancelled(ArxivError):
    """The caller's ``cancel`` event was set while waiting for a turn or for a reply."""


class WaitTooLong(Exception):
    """The rate limiter would have to wait longer than the caller allows (a long ``Retry-After``)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"the next request to arXiv may only start in {seconds:.0f} s (arXiv's Retry-After)")


def short_url(url: str, limit: int = 100) -> str:
    """A URL cut to ``limit`` characters for one-line messages (id lists make query URLs long)."""
    return url if len(url) <= limit else url[: limit - 1] + "…"


# --- rate limiting -------------------------------------------------------------------------------------


class RateLimiter:
    """A gate for one kind of request, shared by every thread that holds it.

    :meth:`slot` lets one caller in at a time (one connection at a time) and only once the previous
    request ended at least ``delay_seconds`` (of the previous caller) ago, or once a :meth:`hold_off`
    period is over, whichever is later. Times are ``clock()`` seconds (``time.monotonic`` by default).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self._turn = threading.Lock()
        self._state = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self._not_before = -math.inf

    def hold_off(self, seconds: float) -> None:
        """No request through this limiter starts within ``seconds`` from now (never shortens a hold)."""
        with self._state:
            self._not_before = max(self._not_before, self._clock() + max(0.0, seconds))

    def seconds_to_wait(self) -> float:
        """How long a caller arriving now would wait for the spacing alone (0 when it may go at once)."""
        with self._state:
            return max(0.0, self._not_before - self._clock())

    @contextmanager
    def slot(
        self, delay_seconds: float, *, cancel: threading.Event | None = None, max_wait: float = math.inf
    ) -> Iterator[None]:
        """Hold the only turn for the length of the ``with`` block; the next turn starts ``delay_seconds``
        after the block ends.

        Raises :class:`WaitTooLong` instead of waiting more than ``max_wait`` seconds for the spacing, and
        :class:`ArxivCancelled` when ``cancel`` is set while waiting.
        """
        self._acquire(cancel)
        try:
            while True:
                wait = self.seconds_to_wait()
                if wait <= 0:
                    break
                if wait > max_wait:
                    raise WaitTooLong(wait)
                if cancel is None:
                    self._sleep(wait)
                elif cancel.wait(wait):
                    raise ArxivCancelled("cancelled while waiting for a turn")
            try:
                yield
            finally:
                self.hold_off(delay_seconds)
        finally:
            self._turn.release()

    def _acquire(self, cancel: threading.Event | None) -> None:
        if cancel is None:
            self._turn.acquire()
            return
        while not self._turn.acquire(timeout=0.05):
            if cancel.is_set():
                raise ArxivCancelled("cancelled while another thread was talking to arXiv")


DEFAULT_LIMITER = RateLimiter()
"""The process-wide limiter every :class:`ArxivClient` uses unless given another one."""


# --- data ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArxivEntry:
    """arXiv's metadata for one paper. Text is whitespace-collapsed; dates are ISO 8601 in UTC;
    ``abs_url``/``pdf_url`` are the canonical https links to the latest version."""

    arxiv_id: str
    """Without version: ``2301.11325`` or ``hep-th/9711200``."""
    version: int | None
    title: str
    authors: tuple[str, ...]
    abstract: str
    primary_category: str | None
    categories: tuple[str, ...]
    published: str | None
    updated: str | None
    abs_url: str
    pdf_url: str
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None


@dataclass(frozen=True)
class IdFetch:
    """What arXiv said about a list of ids."""

    entries: tuple[ArxivEntry, ...]
    """Complete entries for asked ids, in the order asked."""
    missing: tuple[str, ...]
    """Asked ids arXiv did not return: not found (the API drops unknown ids silently)."""
    rejected: Mapping[str, str] = field(default_factory=dict)
    """Asked ids arXiv's error feed refused (id → arXiv's message): asking again will not help."""
    incomplete: Mapping[str, str] = field(default_factory=dict)
    """Asked ids whose entry came back without a title, authors or dates (id → what was missing)."""


@dataclass
class ClientStats:
    """Counters for one client; times are seconds of wall clock."""

    requests: int = 0
    """HTTP requests sent, retries included."""
    retries: int = 0
    network_seconds: float = 0.0
    """From sending a request to having read the whole reply: time spent waiting on the server."""
    spacing_seconds: float = 0.0
    """Time spent waiting for a turn (the rate limit, ``Retry-After``, backoff)."""
    parse_seconds: float = 0.0
    """Checking and parsing replies into :class:`ArxivEntry` objects."""


def _text(value: str | None) -> str:
    return " ".join((value or "").split())


def _iso(text: str | None) -> str | None:
    """An Atom date (RFC 3339, e.g. ``2016-05-26T17:59:46Z``) as ISO 8601 in UTC; ``None`` when absent or
    unreadable."""
    if not text or not text.strip():
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if value.year <= 1:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds")


def _atom(name: str) -> str:
    return f"{{{ATOM}}}{name}"


def _arxiv(name: str) -> str:
    return f"{{{ARXIV_NS}}}{name}"


def entry_from_atom(raw: ElementTree.Element) -> ArxivEntry | str:
    """Read one Atom ``<entry>`` of arXiv's feed; return the reason instead when it is incomplete (no
    recognisable id, title, authors, or dates)."""
    entry_id = (raw.findtext(_atom("id")) or "").strip()
    ref = parse_arxiv_ref(entry_id)
    if ref is None:
        return f"unrecognised entry id {entry_id!r}"
    published = _iso(raw.findtext(_atom("published")))
    updated = _iso(raw.findtext(_atom("updated")))
    title = _text(raw.findtext(_atom("title")))
    authors = tuple(name for name in (_text(a.findtext(_atom("name"))) for a in raw.iter(_atom("author"))) if name)
    if published is None or updated is None:
        return f"arXiv's entry for {ref.id} lacks its {'published' if published is None else 'updated'} date"
    if not title or not authors:
        return f"arXiv's entry for {ref.id} has no {'title' if not title else 'authors'}"
    categories = tuple(dict.fromkeys(term for c in raw.iter(_atom("category")) if (term := c.get("term"))))
    primary = raw.find(_arxiv("primary_category"))
    return ArxivEntry(
        arxiv_id=ref.id,
        version=ref.version,
        title=title,
        authors=authors,
        abstract=_text(raw.findtext(_atom("summary"))),
        primary_category=(primary.get("term") or None) if primary is not None else None,
        categories=categories,
        published=published,
        updated=updated,
        abs_url=ref.abs_url,
        pdf_url=ref.pdf_url,
        comment=_text(raw.findtext(_arxiv("comment"))) or None,
        journal_ref=_text(raw.findtext(_arxiv("journal_ref"))) or None,
        doi=_text(raw.findtext(_arxiv("doi"))) or None,
    )


def query_url(
    api_url: str, *, search_query: str = "", id_list: Sequence[str] = (), start: int = 0, max_results: int
) -> str:
    """The query URL for arXiv's API, from its documented parameters, sorted by relevance (the API's
    default, spelled with the ``arxiv`` package's public names)."""
    params = {
        "search_query": search_query,
        "id_list": ",".join(id_list),
        "sortBy": arxiv.SortCriterion.Relevance.value,
        "sortOrder": arxiv.SortOrder.Descending.value,
        "start": str(start),
        "max_results": str(max_results),
    }
    return f"{api_url}?{urlencode(params)}"


def title_query(title: str) -> str:
    """An arXiv ``search_query`` for a title phrase: ``ti:"word word …"``.

    arXiv's query syntax has no escape inside quotes, so the phrase keeps only letters and digits: the
    search engine ignores punctuation anyway (``Text-To-4D`` matches ``text to 4d``).
    """
    text = unicodedata.normalize("NFKC", title)
    words = re.findall(r"[^\W_]+", text)
    if not words:
        raise ValueError(f"no words to search for in {title!r}")
    return f'ti:"{" ".join(words)}"'


# --- the client ----------------------------------------------------------------------------------------


def _logged_request(fetch: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps the method that fetches one query URL (its retries included): one log line per request to
    arXiv with the ids or query, the status, the milliseconds and the retries."""

    @functools.wraps(fetch)
    def logged(self: ArxivClient, url: str, *args: Any, **kwargs: Any) -> Any:
        started, retries = time.perf_counter(), self.stats.retries
        status: object = 200
        try:
            return fetch(self, url, *args, **kwargs)
        except ArxivError as error:
            status = error.status or type(error).__name__
            raise
        finally:
            params = parse_qs(urlsplit(url).query)
            what = (
                f"ids {params['id_list'][0]}"
                if params.get("id_list")
                else f"query {params.get('search_query', [''])[0]}"
            )
            ms = (time.perf_counter() - started) * 1000
            fields = {"arxiv": what[:300], "status": status, "ms": round(ms), "retries": self.stats.retries - retries}
            log.info(
                "arxiv %s: %s, %d ms, %d retries", what[:300], status, ms, fields["retries"], extra={"fields": fields}
            )

    return logged


class _Transient(Exception):
    """A transport failure worth another try."""


class ArxivClient:
    """A polite client of the arXiv query API at ``api_url``.

    ``delay_seconds``: minimum spacing between the end of one request and the start of the next, process
    wide through ``limiter``. ``timeout_seconds``: deadline for a whole reply (a stalled read is cut after
    at most that long too, so one request takes at most about twice the deadline). ``attempts``: tries per
    request in all (>= 1). Backoff before try *n+1* is ``max(delay_seconds, 0.1) * 2**(n-1)`` seconds, or the
    server's ``Retry-After`` when longer; a ``Retry-After`` over ``max_retry_after_seconds`` ends the tries
    at once (and holds back the whole process for that long). ``cancel``: an event that aborts waits and
    reads. Not for concurrent use from several threads (give each thread its own client; they share the
    limiter).
    """

    def __init__(
        self,
        api_url: str,
        delay_seconds: float = 3.0,
        *,
        timeout_seconds: float = 30.0,
        connect_timeout_seconds: float = 10.0,
        attempts: int = 3,
        max_retry_after_seconds: float = 120.0,
        limiter: RateLimiter | None = None,
        session: requests.Session | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.api_url = api_url
        self.delay_seconds = max(0.0, delay_seconds)
        self.timeout_seconds = timeout_seconds
        self.connect_timeout_seconds = min(connect_timeout_seconds, timeout_seconds)
        self.attempts = attempts
        self.max_retry_after_seconds = max_retry_after_seconds
        self.limiter = limiter if limiter is not None else DEFAULT_LIMITER
        self.cancel = cancel
        self.stats = ClientStats()
        self._own_session = session is None
        self._session = session if session is not None else requests.Session()

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> ArxivClient:
        """A client for ``ARXIV_API_URL`` with ``ARXIV_DELAY_SECONDS`` spacing (raises ``ConfigError``)."""
        return cls(settings.arxiv_api_url, settings.arxiv_delay_seconds, **options)

    def close(self) -> None:
        if self._own_session:
            self._session.close()

    def __enter__(self) -> ArxivClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- queries ---------------------------------------------------------------------------------------

    def fetch_ids(self, ids: Sequence[str]) -> IdFetch:
        """arXiv's entries for up to :data:`MAX_IDS_PER_REQUEST` ids (without version), one request
        (plus one more per id arXiv's error feed rejects). Raises :class:`ArxivError` subclasses."""
        asked = list(dict.fromkeys(ids))
        if len(asked) > MAX_IDS_PER_REQUEST:
            raise ValueError(f"at most {MAX_IDS_PER_REQUEST} ids a request, got {len(asked)}")
        rejected: dict[str, str] = {}
        entries: list[ArxivEntry | str] = []
        raw_ids: list[str] = []
        while asked:
            url = query_url(self.api_url, id_list=asked, max_results=len(asked))
            try:
                raw_ids, entries = self._fetch_feed(url, expect_entries=len(asked) > 1)
            except ArxivQueryError as error:
                if error.bad_id is None or error.bad_id not in asked:
                    raise
                rejected[error.bad_id] = error.reason
                asked = [arxiv_id for arxiv_id in asked if arxiv_id != error.bad_id]
                continue
            break
        wanted = set(asked)
        found: dict[str, ArxivEntry] = {}
        incomplete: dict[str, str] = {}
        for raw_id, converted in zip(raw_ids, entries, strict=True):
            if isinstance(converted, str):
                ref = parse_arxiv_ref(raw_id)
                if ref is not None and ref.id in wanted:
                    incomplete.setdefault(ref.id, converted)
                continue
            if converted.arxiv_id not in wanted:
                log.warning("arXiv returned %s, which was not asked for", converted.arxiv_id)
                continue
            found.setdefault(converted.arxiv_id, converted)
        for arxiv_id in found:
            incomplete.pop(arxiv_id, None)
        return IdFetch(
            entries=tuple(found[arxiv_id] for arxiv_id in asked if arxiv_id in found),
            missing=tuple(arxiv_id for arxiv_id in asked if arxiv_id not in found and arxiv_id not in incomplete),
            rejected=rejected,
            incomplete=incomplete,
        )

    def search(self, query: str, max_results: int = 10) -> list[ArxivEntry]:
        """Up to ``max_results`` complete entries for an arXiv ``search_query`` (see :func:`title_query`),
        by relevance. An empty list means arXiv found nothing. Raises :class:`ArxivError` subclasses."""
        if max_results < 1:
            return []
        # One page is all we ever ask for: a feed whose totalResults promises more costs no other request.
        wanted = min(max_results, MAX_IDS_PER_REQUEST)
        _, entries = self._fetch_feed(query_url(self.api_url, search_query=query, max_results=wanted), False)
        return [entry for entry in entries[:wanted] if isinstance(entry, ArxivEntry)]

    # --- transport -------------------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        return float(max(self.delay_seconds, 0.1) * 2 ** (attempt - 1))

    @_logged_request
    def _fetch_feed(self, url: str, expect_entries: bool) -> tuple[list[str], list[ArxivEntry | str]]:
        """Fetch ``url`` politely and read its entries (see :func:`read_feed`); retry what is worth it."""
        for attempt in range(1, self.attempts + 1):
            context: dict[str, Any] = {"url": url, "attempt": attempt, "attempts": self.attempts}
            failure: ArxivError
            wait = self._backoff(attempt)
            try:
                status, headers, body = self._get(url)
            except _Transient as error:
                failure = ArxivUnavailable(str(error), **context)
            except WaitTooLong as error:
                raise ArxivUnavailable(str(error), **context) from None
            else:
                context["status"] = status
                if status == 200:
                    try:
                        return self._parse(body, expect_entries, context)
                    except ArxivBadResponse as error:
                        failure = error
                elif status in RETRY_STATUSES:
                    failure = ArxivUnavailable(f"HTTP {status}{_body_hint(body)}", **context)
                    retry_after = parse_retry_after(headers.get("Retry-After"))
                    if retry_after is not None:
                        if retry_after > self.max_retry_after_seconds:
                            self.limiter.hold_off(retry_after)
                            raise ArxivUnavailable(
                                f"HTTP {status}, arXiv asks to wait {retry_after:.0f} s (Retry-After)", **context
                            )
                        wait = max(wait, retry_after)
                else:
                    query_error = _error_feed(body, context)
                    if query_error is not None:
                        raise query_error
                    raise ArxivUnavailable(f"HTTP {status}{_body_hint(body)}", **context)
            if attempt == self.attempts:
                raise failure
            log.info("arXiv request failed (%s); retrying in %.2f s", failure, wait)
            self.stats.retries += 1
            self.limiter.hold_off(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _get(self, url: str) -> tuple[int, Mapping[str, str], bytes]:
        """One GET through the limiter with the deadline; the whole body is read before the turn ends."""
        waited = time.perf_counter()
        # Our own spacing and backoff never exceed this; only a long Retry-After (held process-wide) does.
        max_wait = max(self.max_retry_after_seconds, self._backoff(self.attempts), self.delay_seconds) + 1.0
        with self.limiter.slot(self.delay_seconds, cancel=self.cancel, max_wait=max_wait):
            started = time.perf_counter()
            self.stats.spacing_seconds += started - waited
            self.stats.requests += 1
            log.debug("GET %s", url)
            try:
                response = self._session.get(
                    url,
                    headers={"User-Agent": USER_AGENT},
                    timeout=(self.connect_timeout_seconds, self.timeout_seconds),
                    stream=True,
                )
                with response:
                    body = self._read(response, started)
                return response.status_code, response.headers, body
            except requests.Timeout:
                raise _Transient(f"no reply within {self.timeout_seconds:g} s") from None
            except requests.RequestException as error:
                if time.perf_counter() - started >= self.timeout_seconds:
                    raise _Transient(f"no complete reply within {self.timeout_seconds:g} s") from None
                raise _Transient(describe_request_error(error)) from None
            finally:
                self.stats.network_seconds += time.perf_counter() - started

    def _read(self, response: requests.Response, started: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(chunk_size=65536):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_REPLY_BYTES:
                raise _Transient(f"reply larger than {MAX_REPLY_BYTES // (1024 * 1024)} MiB")
            if time.perf_counter() - started > self.timeout_seconds:
                raise _Transient(f"no complete reply within {self.timeout_seconds:g} s")
            if self.cancel is not None and self.cancel.is_set():
                raise ArxivCancelled("cancelled while reading a reply", url=response.url)
        return b"".join(chunks)

    def _parse(
        self, body: bytes, expect_entries: bool, context: dict[str, Any]
    ) -> tuple[list[str], list[ArxivEntry | str]]:
        started = time.perf_counter()
        try:
            return read_feed(body, expect_entries, context)
        finally:
            self.stats.parse_seconds += time.perf_counter() - started


def read_feed(
    body: bytes, expect_entries: bool = False, context: dict[str, Any] | None = None
) -> tuple[list[str], list[ArxivEntry | str]]:
    """Read an arXiv reply, once: accept only an Atom feed without error entries, and return each entry's
    ``<id>`` with its :class:`ArxivEntry` (or the reason it is incomplete), in feed order.

    Raises :class:`ArxivBadResponse` (not an Atom feed), :class:`ArxivQueryError` (arXiv's error feed), and
    :class:`ArxivEmptyFeed` when ``expect_entries`` and the feed has none.
    """
    context = context or {}
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as error:
        raise ArxivBadResponse(f"reply is not an Atom feed ({error}){_body_hint(body)}", **context) from None
    if root.tag != _atom("feed"):
        raise ArxivBadResponse(
            f"reply is not an Atom feed (root element <{_local_name(root.tag)}>){_body_hint(body)}", **context
        )
    query_error = _error_entries(root, context)
    if query_error is not None:
        raise query_error
    raw_entries = root.findall(_atom("entry"))
    if expect_entries and not raw_entries:
        raise ArxivEmptyFeed("empty feed for a list of ids (arXiv's answers are sometimes empty by mistake)", **context)
    return [(raw.findtext(_atom("id")) or "").strip() for raw in raw_entries], [entry_from_atom(r) for r in raw_entries]


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _error_entries(root: ElementTree.Element, context: dict[str, Any]) -> ArxivQueryError | None:
    for raw in root.findall(f"{{{ATOM}}}entry"):
        entry_id = (raw.findtext(f"{{{ATOM}}}id") or "").strip()
        if "/api/errors" not in entry_id:
            continue
        message = _text(raw.findtext(f"{{{ATOM}}}summary")) or _text(raw.findtext(f"{{{ATOM}}}title")) or "error"
        fragment = entry_id.partition("#")[2]
        bad = re.match(r"incorrect_id(?:_format)?_for_(.+)$", fragment)
        return ArxivQueryError(f"arXiv refused the query: {message}", bad_id=bad.group(1) if bad else None, **context)
    return None


def _error_feed(body: bytes, context: dict[str, Any]) -> ArxivQueryError | None:
    """The error an HTTP 4xx reply's Atom body states, if it is arXiv's error feed."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    if root.tag != f"{{{ATOM}}}feed":
        return None
    return _error_entries(root, context)


def _body_hint(body: bytes) -> str:
    text = " ".join(body[:200].decode("utf-8", errors="replace").split())
    return f": {text[:80]!r}" if text else ""


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); ``None`` if absent
    or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def describe_request_error(error: requests.RequestException) -> str:
    """A short reason for a transport error: ``connection refused`` rather than urllib3's nested repr."""
    text = str(error)
    errno = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if errno:
        reason = errno.group(1).strip().rstrip(".").lower()
    elif "Name or service not known" in text or "nodename nor servname" in text:
        reason = "unknown host"
    elif "RemoteDisconnected" in text or "Connection aborted" in text:
        reason = "closed without a reply"
    elif isinstance(error, requests.exceptions.ChunkedEncodingError):
        return "reply cut off"
    elif isinstance(error, requests.ConnectionError):
        reason = "failed"
    else:
        return type(error).__name__
    if not isinstance(error, requests.ConnectionError):
        return reason
    if "Connection aborted" in text or "reset by peer" in reason or "closed without" in reason:
        return f"connection lost: {reason}"
    host = re.search(r"host='([^']+)', port=(\d+)", text)
    where = f" to {host.group(1)}:{host.group(2)}" if host else ""
    return f"cannot connect{where}: {reason}"
