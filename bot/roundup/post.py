"""Posting the monthly roundup exactly once per (month, channel), whatever fails or restarts.

The protocol, all state in ``roundup_posts`` / ``roundup_replies`` (migration m005):

1. **Claim** under ``BEGIN IMMEDIATE``: a new row, or a failed one, or one whose lease expired (its
   poster crashed), becomes ours with a fresh token; a posted row means "already posted"; a live claim
   of someone else means "busy". Two processes, or the scheduler and an admin, cannot both hold it.
   The composed roundup is stored with the first claim, so a resumed post sends the same parts.
2. **Headline**, then **replies** in its thread, each message carrying Slack message metadata
   ``paperbot_roundup {month, part}``. Each ts is recorded as soon as Slack accepts the message.
3. After any ambiguous failure (a timeout, a 5xx, a crash between Slack accepting a message and the
   record) the channel, or the thread, is read back and a message with that metadata counts as posted:
   nothing is posted twice. 429 means "not posted": wait ``Retry-After`` and send again.
4. **Complete**: status ``posted``. On failure: status ``failed`` with the reason, the claim released,
   the month still due.

Slack's ~1 message per second per channel is kept by ``post_interval`` between messages.

Slack itself is reached through :class:`RoundupChannel`, a port that ``bot.slack.client`` implements over
the Web API: this module knows the protocol, not the SDK.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import sqlite_utils

from bot.db import write_transaction
from bot.digest import catalog
from bot.roundup.compose import Roundup, compose_roundup
from bot.slack.blocks import Message
from bot.suggestions.model import mark_included, roundup_picks

EVENT_TYPE = "paperbot_roundup"
LEASE_SECONDS = 600.0
"""A claim not renewed for this long belongs to a crashed poster and may be taken over."""
POST_ATTEMPTS = 4
"""Tries per message (429 waits excluded from the backoff, not from the count)."""
BACKOFF_SECONDS = (1.0, 4.0, 15.0)
HISTORY_WINDOW_SECONDS = 3600.0
"""How far before the first claim the channel is searched for an already posted headline."""


PACE_SECONDS = 1.0
"""Default pause between two messages of a roundup: Slack allows ~1 message per second per channel."""


class SlackFailure(Exception):
    """A Web API call Slack answered with an error: ``code`` is Slack's error string (``None`` when the
    answer had none), ``status`` the HTTP status, ``retry_after`` the seconds a 429 asked to wait."""

    def __init__(self, code: str | None, status: int, retry_after: float | None = None) -> None:
        self.code = code
        self.status = status
        self.retry_after = retry_after
        super().__init__(f"Slack answered {code or 'an error'} (HTTP {status})")


class RoundupChannel(Protocol):
    """What posting a roundup needs from Slack. Calls raise :class:`SlackFailure` when Slack answers with
    an error and ``OSError`` when the network fails (a timed-out post may still have been posted)."""

    def post_message(
        self, channel: str, message: Message, *, thread_ts: str | None, metadata: dict[str, Any]
    ) -> str | None:
        """Post ``message`` (unfurls off) and return its ``ts``; ``None`` when Slack's answer lacked one."""

    def history(self, channel: str, *, oldest: str, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the channel's messages since ``oldest``, with their metadata, and the next cursor."""

    def replies(self, channel: str, ts: str, *, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the thread under ``ts``, with metadata, and the next cursor."""


log = logging.getLogger("bot.roundup.post")

Status = Literal["posted", "already", "busy", "failed"]


class RoundupError(Exception):
    """A roundup cannot be posted; the message says why in one line."""


@dataclass(frozen=True)
class PostResult:
    month: str
    channel: str
    status: Status
    ts: str | None = None
    replies: int = 0
    error: str | None = None

    def describe(self) -> str:
        if self.status == "posted":
            return f"posted the {self.month} roundup to {self.channel} (ts {self.ts}, {self.replies} thread replies)"
        if self.status == "already":
            return f"the {self.month} roundup was already posted to {self.channel} (ts {self.ts}); nothing to do"
        if self.status == "busy":
            return f"the {self.month} roundup for {self.channel} is being posted by another process right now"
        return f"could not post the {self.month} roundup to {self.channel}: {self.error}"


@dataclass(frozen=True)
class RoundupState:
    """What ``roundup_posts`` says about a (month, channel)."""

    month: str
    channel: str
    status: str
    ts: str | None
    parts: int | None
    replies_posted: int
    attempts: int
    error: str | None
    updated_at: str

    def describe(self) -> str:
        if self.status == "posted":
            return f"posted to {self.channel} (ts {self.ts}, {self.replies_posted} thread replies)"
        if self.status == "failed":
            return (
                f"not posted to {self.channel} yet: attempt {self.attempts} failed at {self.updated_at}: "
                f"{self.error} (the month is still due)"
            )
        return f"being posted to {self.channel} ({self.replies_posted}/{self.parts} replies so far)"


@dataclass(frozen=True)
class _Claim:
    token: str
    resumed: bool
    ts: str | None
    started: float
    roundup: Roundup
    fresh: Roundup | None = None
    """The roundup composed now, to post instead when no earlier attempt reached the channel."""


def owner_name(role: str) -> str:
    """Who holds a claim: ``role@host:pid:process-identity`` (see :func:`_holder_is_dead`)."""
    return f"{role}@{socket.gethostname()}:{os.getpid()}:{_process_identity(os.getpid()) or '-'}"


def _process_identity(pid: int) -> str | None:
    """The PID namespace and start time of a process of this machine (Linux ``/proc``), or ``None``.

    The namespace tells two containers sharing a hostname apart; the start time tells a process from a
    later one that got the same PID (including a restarted bot that is PID 1 again)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    # Field 22 (start time in clock ticks), counted after the command name, which may contain spaces.
    fields = stat.rpartition(")")[2].split()
    return f"{namespace.strip('pid:[]')}.{fields[19]}" if len(fields) > 19 else None


def load_roundup(db: sqlite_utils.Database, month: str) -> Roundup:
    digest = catalog.get_digest(db, month)
    if digest is None:
        known = ", ".join(catalog.months(db)[:12]) or "none loaded"
        raise RoundupError(f"there is no digest for {month} (digests: {known})")
    picks, pick_ids = roundup_picks(db)
    return compose_roundup(digest, picks, pick_ids)


def due_month(db: sqlite_utils.Database, channel: str) -> str | None:
    """The latest digest month not yet posted to ``channel``, if any."""
    latest = catalog.latest_month(db)
    if latest is None:
        return None
    row = db.execute(
        "SELECT 1 FROM roundup_posts WHERE month = ? AND channel = ? AND status = 'posted'", [latest, channel]
    ).fetchone()
    return None if row else latest


def roundup_state(db: sqlite_utils.Database, month: str, channel: str) -> RoundupState | None:
    row = db.execute(
        "SELECT status, ts, parts, attempts, error, updated_at,"
        " (SELECT count(*) FROM roundup_replies r WHERE r.month = p.month AND r.channel = p.channel)"
        " FROM roundup_posts p WHERE month = ? AND channel = ?",
        [month, channel],
    ).fetchone()
    if row is None:
        return None
    status, ts, parts, attempts, error, updated_at, replies = row
    return RoundupState(month, channel, status, ts, parts, int(replies), int(attempts), error, updated_at)


def roundup_states(db: sqlite_utils.Database, month: str) -> list[RoundupState]:
    channels = [str(r[0]) for r in db.execute("SELECT channel FROM roundup_posts WHERE month = ? ORDER BY 1", [month])]
    return [state for channel in channels if (state := roundup_state(db, month, channel)) is not None]


# --- serialisation of the stored roundup ------------------------------------------------------------------


def _dump(roundup: Roundup) -> str:
    return json.dumps(
        {
            "month": roundup.month,
            "headline": roundup.headline.payload(),
            "replies": [r.payload() for r in roundup.replies],
            "pick_ids": list(roundup.pick_ids),
        },
        ensure_ascii=False,
    )


def _load(data: str) -> Roundup:
    raw = json.loads(data)

    def message(payload: dict[str, Any]) -> Message:
        return Message(text=payload["text"], blocks=tuple(payload["blocks"]))

    return Roundup(
        raw["month"],
        message(raw["headline"]),
        tuple(message(r) for r in raw["replies"]),
        tuple(int(i) for i in raw.get("pick_ids", [])),
    )


# --- the protocol ---------------------------------------------------------------------------------------


def post_roundup(
    db: sqlite_utils.Database,
    client: RoundupChannel,
    month: str,
    channel: str,
    *,
    owner: str,
    post_interval: float | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    checkpoint: Callable[[str], None] | None = None,
) -> PostResult:
    """Post the ``month`` roundup to ``channel`` unless it already is; see the module docstring.

    ``checkpoint(step)`` is called after each step: "claimed", "sent 0" (Slack accepted the headline,
    not yet recorded), "headline", "sent N", "reply N", "complete"; tests raise from it to simulate a
    crash there. Slack and network failures end in a
    ``failed`` result (recorded, month still due); :class:`RoundupError` when there is no such digest.
    """
    roundup = load_roundup(db, month)
    claim = _claim(db, roundup, channel, owner, clock())
    if isinstance(claim, PostResult):
        log.info("roundup %s to %s: %s", month, channel, claim.status)
        return claim

    def mark(step: str) -> None:
        if not step.startswith("sent "):  # "sent N" is followed at once by "reply N" (or "headline")
            resumed = " (resuming an earlier attempt)" if step == "claimed" and claim.resumed else ""
            log.info("roundup %s to %s: %s%s", month, channel, step, resumed, extra={"fields": {"step": step}})
        if checkpoint is not None:
            checkpoint(step)

    mark("claimed")
    try:
        pace = PACE_SECONDS if post_interval is None else post_interval
        return _post_claimed(db, client, claim, channel, pace, clock, sleep, mark)
    except (SlackFailure, OSError, RoundupError) as error:
        reason = _reason(error, channel)
        log.info("roundup %s to %s failed: %s", month, channel, reason)  # the caller reports it
        with write_transaction(db):
            db.execute(
                "UPDATE roundup_posts SET status = 'failed', error = ?, lease_until = 0, updated_at = ?"
                " WHERE month = ? AND channel = ? AND claim_token = ?",
                [reason, _now(), month, channel, claim.token],
            )
        return PostResult(month, channel, "failed", error=reason)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _reason(error: BaseException, channel: str) -> str:
    if isinstance(error, SlackFailure):
        code = error.code
        if code == "channel_not_found":
            return f"Slack says channel {channel} does not exist (channel_not_found): check ROUNDUP_CHANNEL"
        if code == "not_in_channel":
            return f"the bot is not in channel {channel} (not_in_channel): invite @paperbot there"
        if code in ("missing_scope", "not_authed", "invalid_auth", "account_inactive", "token_revoked"):
            return f"Slack refused the bot token ({code}): reinstall the app with the manifest's scopes"
        return str(error)
    return str(error) or type(error).__name__


def _claim(db: sqlite_utils.Database, roundup: Roundup, channel: str, owner: str, now: float) -> _Claim | PostResult:
    month = roundup.month
    token = secrets.token_hex(8)
    with write_transaction(db):
        row = db.execute(
            "SELECT status, ts, lease_until, payload, claimed_by FROM roundup_posts WHERE month = ? AND channel = ?",
            [month, channel],
        ).fetchone()
        if row is None:
            db.execute(
                "INSERT INTO roundup_posts (month, channel, status, claim_token, claimed_by, lease_until, parts,"
                " attempts, payload, started_at, updated_at, started_unix)"
                " VALUES (?, ?, 'claimed', ?, ?, ?, ?, 1, ?, ?, ?, ?)",
                [
                    month,
                    channel,
                    token,
                    owner,
                    now + LEASE_SECONDS,
                    len(roundup.replies),
                    _dump(roundup),
                    _now(),
                    _now(),
                    now,
                ],
            )
            return _Claim(token, False, None, now, roundup)
        status, ts, lease_until, payload, holder = row
        if status == "posted":
            replies = db.execute(
                "SELECT count(*) FROM roundup_replies WHERE month = ? AND channel = ?", [month, channel]
            ).fetchone()[0]
            return PostResult(month, channel, "already", ts=ts, replies=int(replies))
        if status == "claimed" and float(lease_until or 0) > now and not _holder_is_dead(str(holder or "")):
            return PostResult(month, channel, "busy")
        replies = db.execute(
            "SELECT count(*) FROM roundup_replies WHERE month = ? AND channel = ?", [month, channel]
        ).fetchone()[0]
        stored = _load(payload) if payload else roundup
        db.execute(
            "UPDATE roundup_posts SET status = 'claimed', claim_token = ?, claimed_by = ?, lease_until = ?,"
            " attempts = attempts + 1, error = NULL, updated_at = ? WHERE month = ? AND channel = ?",
            [token, owner, now + LEASE_SECONDS, _now(), month, channel],
        )
        started = db.execute(
            "SELECT started_unix FROM roundup_posts WHERE month = ? AND channel = ?", [month, channel]
        ).fetchone()[0]
        # Nothing recorded as posted: if the channel confirms it has nothing either, post what the digest and
        # the picks say now rather than the old draft (decided in _post_claimed, which can ask Slack).
        fresh = roundup if ts is None and not replies else None
        return _Claim(token, True, ts, float(started), stored, fresh)


def _holder_is_dead(holder: str) -> bool:
    """Whether a claim's holder is a process of this machine and PID namespace that no longer runs, so its
    claim need not wait out the lease (a service manager restarts the bot within seconds). When in doubt
    (another host, another namespace, no ``/proc``): alive."""
    _, _, place = holder.rpartition("@")
    parts = place.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit() or parts[2] == "-":
        return False
    pid, identity = int(parts[1]), parts[2]
    mine = _process_identity(os.getpid())
    if mine is None or identity.split(".")[0] != mine.split(".")[0]:
        return False  # another PID namespace (container): its PIDs mean nothing here
    return _process_identity(pid) != identity  # gone, or its PID now belongs to another process


def _update_claimed(db: sqlite_utils.Database, claim: _Claim, channel: str, now: float, **fields: Any) -> None:
    """Update our row and extend the lease, inside the caller's transaction; losing the claim (it was
    taken over as expired) stops us."""
    assignments = "".join(f", {name} = ?" for name in fields)
    cursor = db.execute(
        f"UPDATE roundup_posts SET lease_until = ?, updated_at = ?{assignments}"
        " WHERE month = ? AND channel = ? AND claim_token = ?",
        [now + LEASE_SECONDS, _now(), *fields.values(), claim.roundup.month, channel, claim.token],
    )
    if cursor.rowcount != 1:
        raise RoundupError("another poster took over this roundup (our claim expired)")


def _post_claimed(
    db: sqlite_utils.Database,
    client: RoundupChannel,
    claim: _Claim,
    channel: str,
    post_interval: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    mark: Callable[[str], None],
) -> PostResult:
    roundup = claim.roundup
    month = roundup.month
    ts = claim.ts
    if ts is None and claim.resumed:
        ts = _find_headline(client, channel, month, since=claim.started - HISTORY_WINDOW_SECONDS)
        if ts is None and claim.fresh is not None:
            roundup = claim.fresh
            with write_transaction(db):
                _update_claimed(db, claim, channel, clock(), payload=_dump(roundup), parts=len(roundup.replies))
    if ts is None:
        ts = _post(client, channel, roundup.headline, month, 0, None, claim.started, sleep)
        mark("sent 0")
    with write_transaction(db):
        _update_claimed(db, claim, channel, clock(), ts=ts)
    mark("headline")

    done = {
        int(r[0]): str(r[1])
        for r in db.execute("SELECT part, ts FROM roundup_replies WHERE month = ? AND channel = ?", [month, channel])
    }
    if claim.resumed:
        for part, reply_ts in _thread_parts(client, channel, month, ts).items():
            if part not in done:
                _record_reply(db, claim, channel, part, reply_ts, clock())
                done[part] = reply_ts
    for part, reply in enumerate(roundup.replies, start=1):
        if part in done:
            continue
        sleep(post_interval)
        reply_ts = _post(client, channel, reply, month, part, ts, claim.started, sleep)
        mark(f"sent {part}")
        _record_reply(db, claim, channel, part, reply_ts, clock())
        mark(f"reply {part}")

    with write_transaction(db):
        _update_claimed(db, claim, channel, clock(), status="posted", completed_at=_now(), error=None)
        mark_included(db, month, roundup.pick_ids)
    mark("complete")
    return PostResult(month, channel, "posted", ts=ts, replies=len(roundup.replies))


def _record_reply(db: sqlite_utils.Database, claim: _Claim, channel: str, part: int, ts: str, now: float) -> None:
    with write_transaction(db):
        db.execute(
            "INSERT OR IGNORE INTO roundup_replies (month, channel, part, ts) VALUES (?, ?, ?, ?)",
            [claim.roundup.month, channel, part, ts],
        )
        _update_claimed(db, claim, channel, now)


def _metadata(month: str, part: int) -> dict[str, Any]:
    return {"event_type": EVENT_TYPE, "event_payload": {"month": month, "part": part}}


def _is_ours(message: dict[str, Any], month: str, part: int) -> bool:
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    return bool(
        metadata.get("event_type") == EVENT_TYPE and payload.get("month") == month and payload.get("part") == part
    )


def _find_headline(client: RoundupChannel, channel: str, month: str, *, since: float) -> str | None:
    """The ts of a headline for ``month`` already in ``channel`` (posted by a crashed attempt)."""
    cursor = None
    for _ in range(20):  # at most 20 pages of 200 messages
        messages, cursor = client.history(channel, oldest=f"{max(since, 0):.6f}", cursor=cursor)
        for message in messages:
            if _is_ours(message, month, 0):
                return str(message["ts"])
        if not cursor:
            return None
    return None


def _thread_parts(client: RoundupChannel, channel: str, month: str, thread_ts: str) -> dict[int, str]:
    """Replies already in the roundup's thread, by part."""
    found: dict[int, str] = {}
    cursor = None
    for _ in range(20):
        messages, cursor = client.replies(channel, thread_ts, cursor=cursor)
        for message in messages:
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            part = payload.get("part")
            if isinstance(part, int) and part > 0 and _is_ours(message, month, part):
                found.setdefault(part, str(message["ts"]))
        if not cursor:
            break
    return found


def _post(
    client: RoundupChannel,
    channel: str,
    message: Message,
    month: str,
    part: int,
    thread_ts: str | None,
    started: float,
    sleep: Callable[[float], None],
) -> str:
    """Post one message; after an ambiguous failure, look for it before sending again."""
    last: BaseException | None = None
    for attempt in range(POST_ATTEMPTS):
        try:
            ts = client.post_message(channel, message, thread_ts=thread_ts, metadata=_metadata(month, part))
            if ts:
                return ts
            # ok without a ts: Slack may or may not have posted it; never record it as posted.
            last = RoundupError("Slack's answer had no message ts")
        except SlackFailure as error:
            if error.status == 429:
                # Rate limited: certainly not posted. Wait as told, then send again.
                sleep(min(error.retry_after if error.retry_after is not None else 1.0, 60.0))
                last = error
                continue
            if error.status < 500:
                raise  # channel_not_found, not_in_channel, invalid_blocks…: sending again will not help
            last = error
        except OSError as error:  # timeout or connection error: Slack may have posted it anyway
            last = error
        sleep(BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)])
        found = (
            _find_headline(client, channel, month, since=started - HISTORY_WINDOW_SECONDS)
            if part == 0
            else _thread_parts(client, channel, month, thread_ts or "").get(part)
        )
        if found:
            return found
    raise RoundupError(
        f"Slack did not accept message {part} after {POST_ATTEMPTS} tries: {_reason(last, channel) if last else ''}"
    )
