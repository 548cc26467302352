"""Loading digests from Slack: ``/paper load URL [YYYY-MM]``, digest files sent in a DM, and the *Replace* /
*Cancel* buttons of a load refused because it would remove papers.

Only admins (``PAPERBOT_ADMINS``) load. The work (fetch, parse, store) always runs after the ack; the
answer is the same one line a ``paperbot load`` would print for a refusal, or the month, the counts and
the first titles. A refused reload is kept (``staged_loads``) so that *Replace* loads exactly the bytes
the admin was shown, without fetching again.
"""

from __future__ import annotations

import logging
import re
import sqlite3

from bot.db import DatabaseProblem, classify, path_of
from bot.digest.parse import DigestError, validate_month
from bot.digest.store import LoadResult, RemovalRefused, load_source, name_titles
from bot.digest.versions import Provenance, Source, StaleStagedLoad, claim_staged, stage, unstage
from bot.slack import blocks, mrkdwn
from bot.slack.blocks import Message, actions, button, context, fit, section
from bot.slack.ids import ACTION_LOAD_CANCEL, ACTION_LOAD_REPLACE, COMMAND
from bot.slack.services import Services

log = logging.getLogger("bot.slack.loading")

NOT_ADMIN = "Only paperbot admins (PAPERBOT_ADMINS) can load digests. Ask one of them to load it."
LOAD_USAGE = f"Usage: `{COMMAND} load URL [YYYY-MM]` — the digest's web page, and its month when the URL has none."
_SLACK_LINK = re.compile(r"^<(?P<url>[^|>]+)(?:\|[^>]*)?>$")


STAGED_GONE = "This load was already replaced, cancelled or expired."
"""A click on a staged load's button once it is no longer waiting."""


def parse_load_args(rest: str) -> tuple[str, str | None] | str:
    """``URL [YYYY-MM]`` → (url, month), or the reason it is not."""
    words = rest.split()
    if not words or len(words) > 2:
        return LOAD_USAGE
    link = _SLACK_LINK.match(words[0])
    url = link["url"] if link else words[0]
    if not re.match(r"^https?://\S+$", url, re.IGNORECASE):
        return f"{url[:100]}: only http:// and https:// URLs can be loaded from Slack. " + LOAD_USAGE
    month = None
    if len(words) == 2:
        try:
            month = validate_month(words[1])
        except ValueError as error:
            return str(error)
    return url, month


def result_message(result: LoadResult, *, how: str = "Loaded") -> Message:
    """Month, counts and the first titles; the titles added and removed when it was a reload."""
    head = f"*{how} the {result.month} digest* from {fit(result.source, 300)}"
    if result.version is not None:
        head += f" (version {result.version})"
    lines = [head, f"{result.papers} papers: {mrkdwn.escape(result.counts())}."]
    if result.same_file:
        lines.append("The digest is unchanged since its last load: nothing to do.")
    if result.first_titles:
        lines.append("First titles: " + fit(name_titles(list(result.first_titles), limit=5), 900))
    if result.added_titles:
        lines.append("Added: " + fit(name_titles(list(result.added_titles)), 900))
    if result.removed_titles:
        lines.append("Removed: " + fit(name_titles(list(result.removed_titles)), 900))
    if result.emptied_titles:
        lines.append("Summary or authors now empty: " + fit(name_titles(list(result.emptied_titles)), 900))
    text = f"{how} the {result.month} digest: {result.counts()}"
    return Message(text=fit(text, 300), blocks=(section("\n".join(lines)[:3000]),))


def refusal_message(refused: RemovalRefused, staged_id: int) -> Message:
    body = fit(str(refused), 2500)
    return Message(
        text=fit(str(refused), 300),
        blocks=(
            section(body),
            context("*Replace* loads it anyway (the current version stays in `paperbot history`)."),
            actions(
                button("Replace", ACTION_LOAD_REPLACE, str(staged_id), style="danger"),
                button("Cancel", ACTION_LOAD_CANCEL, str(staged_id)),
                block_id=f"staged_load_{staged_id}",
            ),
        ),
    )


def load_for_admin(services: Services, source: Source, month: str | None, user_id: str) -> Message:
    """Load ``source`` for an admin: the result, the one-line reason, or Replace/Cancel."""
    db = services.db()
    try:
        result = load_source(db, source, month=month, who=Provenance(f"slack {user_id}"))
    except RemovalRefused as refused:
        return refusal_message(refused, stage(db, refused.month, source, user_id, refused.current_version))
    except DigestError as error:
        return blocks.notice(str(error))
    notify_watchers(services, result)
    return result_message(result)


def replace_staged(services: Services, staged_id: int, user_id: str) -> Message:
    try:
        claimed = claim_staged(services.db(), staged_id, "replaced")
    except StaleStagedLoad as stale:
        return blocks.notice(str(stale))
    if claimed is None:
        return blocks.notice(STAGED_GONE)
    month, source = claimed
    try:
        result = load_source(
            services.db(), source, month=month, replace=True, who=Provenance(f"slack {user_id}", "replace")
        )
    except (DigestError, DatabaseProblem, sqlite3.Error) as error:
        # Put it back to waiting, so that the admin can click Replace again once the reason is gone.
        problem = classify(error, path_of(services.db())) if isinstance(error, sqlite3.Error) else error
        if problem is None:
            raise
        log.warning("Replace of staged load %s failed: %s", staged_id, problem)
        try:
            unstage(services.db(), staged_id)
        except (DatabaseProblem, sqlite3.Error) as again:
            log.error("staged load %s could not be put back to waiting: %s", staged_id, again)
            return blocks.notice(f"{_reason(problem)} The Replace was not done; load the digest again.")
        return blocks.notice(f"{_reason(problem)} Nothing was replaced: click Replace again once that is fixed.")
    notify_watchers(services, result)
    return result_message(result, how="Replaced")


def _reason(problem: Exception) -> str:
    """The one line to tell the admin: the digest's own reason, or the database's problem named."""
    return problem.user_message if isinstance(problem, DatabaseProblem) else str(problem)


def cancel_staged(services: Services, staged_id: int) -> Message:
    claimed = claim_staged(services.db(), staged_id, "cancelled")
    if claimed is None:
        return blocks.notice(STAGED_GONE)
    return blocks.notice(f"Cancelled: the {claimed[0]} digest stays as it was.")


def notify_watchers(services: Services, result: LoadResult) -> None:
    """Send the watch DMs the load recorded with itself (bot.digest.store)."""
    if not result.notices or result.dry_run:
        return
    from bot.slack.watching import deliver_notices

    deliver_notices(services.db(), services.posting_client())
