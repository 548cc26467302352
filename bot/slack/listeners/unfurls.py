"""arXiv link unfurls: ``link_shared`` answered with ``chat.unfurl``, one entry per link.

The ack is empty and immediate; the lazy half does the rest, so arXiv never delays it. Each link is
handled on its own:

* a paper in a digest, a suggested paper, or one whose arXiv metadata is cached is unfurled from SQLite
  alone, in a first ``chat.unfurl`` call (so it shows even while arXiv is down);
* any other arXiv id is looked up with the polite client (``bot.arxiv.cache``), and the ones arXiv has are
  unfurled in a second call;
* a link that is not an arXiv paper (a listing page, a cut or forged id, a 4,000-character URL), an id
  arXiv does not have, or a lookup that fails gets no entry. Nothing is ever posted into the channel:
  failures are logged.

Each entry is keyed by the URL exactly as Slack sent it (Slack matches the key against the message).
Posted messages are addressed by ``channel`` + ``ts``; links still in the composer by ``unfurl_id`` +
``source`` (their ``message_ts`` is not a timestamp). A redelivered event unfurls nothing twice
(:func:`bot.slack.deliveries.claim_unfurl`).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import sqlite_utils
from slack_bolt import Ack, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.arxiv.cache import cached, fetch_missing
from bot.arxiv.ids import ArxivRef, is_arxiv_url, parse_arxiv_ref
from bot.digest import catalog
from bot.slack import blocks
from bot.slack.deliveries import claim_unfurl
from bot.slack.services import Services
from bot.slack.unfurl_blocks import Unfurl, arxiv_unfurl, digest_unfurl, suggestion_unfurl
from bot.suggestions import model as suggestions
from bot.suggestions.blocks import suggest_modal

log = logging.getLogger("bot.slack.listeners")

MAX_LINKS = 20
"""Slack sends at most ~10 links an event; anything beyond 20 is not Slack's doing and is ignored."""
MAX_URL_CHARS = 2048
"""arXiv URLs are short; a longer one is not a paper link (and is not worth a regular expression)."""
COMPOSER = "COMPOSER"
NOT_AN_ID = "That button does not name an arXiv paper."


def ack_event(ack: Ack) -> None:
    ack()


# --- reading the event ---------------------------------------------------------------------------------


def unfurl_target(event: Mapping[str, Any]) -> tuple[tuple[str, str], dict[str, str]] | None:
    """``((channel, ts) to record, chat.unfurl address)`` of a ``link_shared`` event, or ``None``."""
    source = str(event.get("source") or "")
    unfurl_id = str(event.get("unfurl_id") or "")
    channel = str(event.get("channel") or "")
    ts = str(event.get("message_ts") or "")
    if source == "composer" or channel == COMPOSER:
        if unfurl_id:
            return (COMPOSER, unfurl_id), {"unfurl_id": unfurl_id, "source": "composer"}
        return None
    if channel and ts:
        return (channel, ts), {"channel": channel, "ts": ts}
    if unfurl_id and source:
        return (COMPOSER, unfurl_id), {"unfurl_id": unfurl_id, "source": source}
    return None


def arxiv_links(event: Mapping[str, Any]) -> list[tuple[str, ArxivRef]]:
    """``(url as Slack sent it, arXiv id)`` for each link that names an arXiv paper, in order, each URL once."""
    found: dict[str, ArxivRef] = {}
    links = event.get("links")
    for link in links[:MAX_LINKS] if isinstance(links, list) else []:
        url = link.get("url") if isinstance(link, dict) else None
        if not isinstance(url, str) or not url or len(url) > MAX_URL_CHARS or url in found:
            continue
        # Slack escapes &, < and > in what it sends; the id is read from the plain URL, the key stays as sent.
        plain = html.unescape(url)
        if not is_arxiv_url(plain):
            continue
        ref = parse_arxiv_ref(plain)
        if ref is not None:
            found[url] = ref
    return list(found.items())


# --- what each link shows ------------------------------------------------------------------------------


def local_unfurl(db: sqlite_utils.Database, arxiv_id: str) -> Unfurl | None:
    """The unfurl of a paper paperbot knows without asking arXiv: in a digest, suggested, or cached."""
    return _local(db, arxiv_id)[0]


def _local(db: sqlite_utils.Database, arxiv_id: str) -> tuple[Unfurl | None, bool]:
    """:func:`local_unfurl`, and whether arXiv's metadata would complete it (a suggestion whose title
    arXiv has not given yet)."""
    paper = catalog.find_by_arxiv_id(db, arxiv_id)
    if paper is not None:
        return digest_unfurl(paper), False
    suggestion = suggestions.find_open(db, arxiv_id)
    if suggestion is not None:
        return suggestion_unfurl(suggestion), suggestion.title is None
    entry = cached(db, [arxiv_id]).get(arxiv_id)
    return (arxiv_unfurl(entry) if entry is not None else None), False


def _send(client: WebClient, address: Mapping[str, str], unfurls: dict[str, Unfurl]) -> bool:
    """One ``chat.unfurl``; a refusal is logged, never shown in the channel."""
    try:
        client.chat_unfurl(
            channel=address.get("channel"),
            ts=address.get("ts"),
            unfurl_id=address.get("unfurl_id"),
            source=address.get("source"),
            unfurls=unfurls,
        )
    except SlackApiError as error:
        code = error.response.get("error") if error.response is not None else "error"
        log.warning("chat.unfurl of %d link(s) refused: %s", len(unfurls), code)
        return False
    return True


def unfurl_links(body: dict[str, Any], respond: Respond, context: BoltContext, client: WebClient) -> None:
    """The lazy half of ``link_shared``."""
    services: Services = context["services"]
    event = body.get("event") or {}
    target = unfurl_target(event)
    links = arxiv_links(event)
    if target is None or not links:
        return
    db = services.db()
    team = str(body.get("team_id") or event.get("team") or "")
    if not claim_unfurl(db, team, *target[0]):
        log.info("link_shared for %s %s redelivered: already unfurled", *target[0])
        return
    address = target[1]
    ready: dict[str, Unfurl] = {}
    remote: list[tuple[str, ArxivRef]] = []
    incomplete: list[tuple[str, ArxivRef]] = []
    for url, ref in links:
        unfurl, lacks_metadata = _local(db, ref.id)
        if unfurl is None:
            remote.append((url, ref))
        else:
            ready[url] = unfurl
            if lacks_metadata:
                incomplete.append((url, ref))
    if ready:
        _send(client, address, ready)
    if remote or incomplete:
        _unfurl_from_arxiv(services, client, address, remote, incomplete)


def _unfurl_from_arxiv(
    services: Services,
    client: WebClient,
    address: Mapping[str, str],
    links: Sequence[tuple[str, ArxivRef]],
    incomplete: Sequence[tuple[str, ArxivRef]],
) -> None:
    """Look up what the cache lacks; unfurl the papers arXiv has, and redraw the suggestions it completed."""
    db = services.db()
    fetched = fetch_missing(db, services.settings, [ref.id for _, ref in (*links, *incomplete)])
    found = {url: arxiv_unfurl(fetched.papers[ref.id]) for url, ref in links if ref.id in fetched.papers}
    for url, ref in incomplete:
        unfurl = local_unfurl(db, ref.id) if ref.id in fetched.papers else None
        if unfurl is not None:
            found[url] = unfurl
    if found:
        _send(client, address, found)


# --- buttons on unfurls --------------------------------------------------------------------------------


def suggest_from_unfurl(body: dict[str, Any], respond: Respond, context: BoltContext, client: WebClient) -> None:
    """*Suggest for roundup* on an unfurl: the suggest modal with that paper chosen (the modal's submission
    records it and posts its card in the channel, as the message shortcut does)."""
    services: Services = context["services"]
    value = str((body.get("actions") or [{}])[0].get("value") or "")
    ref = parse_arxiv_ref(value) if len(value) <= 100 else None
    if ref is None:
        if body.get("response_url"):
            respond(response_type="ephemeral", replace_original=False, **blocks.notice(NOT_AN_ID).payload())
        return
    entry = cached(services.db(), [ref.id]).get(ref.id)
    label = f"{ref.id} · {entry.title}" if entry else f"arXiv {ref.id}"
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    view = suggest_modal([(ref.id, label)], channel=str(channel) if channel else None)
    client.views_open(trigger_id=str(body.get("trigger_id")), view=view)


def unfurl_url_of_click(body: Mapping[str, Any]) -> str | None:
    """The URL whose unfurl holds the clicked button: the container's ``app_unfurl_url``, else the clicked
    attachment's own URL in the message."""
    container = body.get("container") or {}
    if container.get("app_unfurl_url"):
        return str(container["app_unfurl_url"])
    attachment_id = container.get("attachment_id")
    for attachment in (body.get("message") or {}).get("attachments") or []:
        if isinstance(attachment, dict) and attachment.get("id") == attachment_id:
            url = attachment.get("app_unfurl_url") or attachment.get("original_url") or attachment.get("from_url")
            return str(url) if url else None
    return None


def refresh_unfurl(services: Services, client: WebClient, body: Mapping[str, Any]) -> None:
    """Redraw the unfurl a button was clicked on (a vote changes its count), when the click came from one."""
    container = body.get("container") or {}
    url = unfurl_url_of_click(body)
    channel, ts = container.get("channel_id"), container.get("message_ts")
    if container.get("type") != "message_attachment" or not (url and channel and ts):
        return
    ref = parse_arxiv_ref(html.unescape(url)) if len(url) <= MAX_URL_CHARS else None
    unfurl = local_unfurl(services.db(), ref.id) if ref else None
    if unfurl is not None:
        _send(client, {"channel": str(channel), "ts": str(ts)}, {url: unfurl})
