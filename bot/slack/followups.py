"""Slack follow-ups of users' actions, run by the outbox workers (bot.outbox) after the ack.

Kinds of job, each recorded in the same transaction as the action that needs it:

* ``suggestion.publish`` (lane ``arxiv``): fetch the paper from arXiv when its metadata is missing
  (5 s, one try: a user is waiting), post the suggestion's card or redraw it, tell the user how it went.
  When arXiv does not answer, the card is posted with what is known and the user hears so; the job then
  keeps trying with backoff, and redraws the card the user already saw when the title arrives. When arXiv
  says it has no such paper, the suggestion is withdrawn and the user told.
* ``suggestion.redraw`` (lane ``slack``): redraw a card after votes or a removal; one waiting redraw per
  card (later ones merge into it), drawn from the database as it is when it runs.
* ``user.notify`` (lane ``slack``): a message to a user that must be sent once (a modal's DM). An ordinary
  message carries the job's key in its metadata; a retry (the earlier try timed out: it may have arrived)
  reads the conversation back first and sends only if it is not there.

The lanes run on their own threads, apart from the threads that answer Slack: a hung arXiv delays
only the ``arxiv`` lane, and arXiv requests go out one at a time, in the order they were asked.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot import outbox
from bot.config import Settings
from bot.outbox import Handler, Job, Retry, Workers
from bot.slack import blocks, mrkdwn, watching
from bot.slack.client import already_posted, notice_metadata
from bot.suggestions import model as suggestions
from bot.suggestions.blocks import suggestion_card

log = logging.getLogger(__name__)

PUBLISH = "suggestion.publish"
REDRAW = suggestions.REDRAW_JOB
NOTIFY = "user.notify"
LANES = ("arxiv", "slack")

WAITING_USER_ARXIV_SECONDS = 5.0
"""arXiv's deadline while a user waits for their card: one try, then the card shows what is known."""
PUBLISH_ATTEMPTS = 24
"""Tries of a publish job before it gives up (backoff doubles from 5 s to at most an hour: about 16 hours)."""

CLOSED = "That suggestion is closed (already in a roundup, or removed)."
CARD_GONE = ("message_not_found", "cant_update_message", "channel_not_found", "is_archived", "not_in_channel")
NO_TITLE_YET = " (arXiv did not answer; the title will appear on the card once it does.)"

CARD_EVENT = "paperbot_suggestion_card"
"""Slack message metadata on a suggestion's card: a card posted by a run that stopped before recording it
is found in the channel instead of being posted again."""

_card_locks: dict[int, threading.Lock] = {}
_card_guard = threading.Lock()


def card_lock(suggestion_id: int) -> threading.Lock:
    """Serialises drawing one suggestion's card across lanes: each redraw reads the count under the lock,
    so the last update Slack receives carries the final count."""
    with _card_guard:
        return _card_locks.setdefault(suggestion_id, threading.Lock())


def card_metadata(suggestion_id: int) -> dict[str, Any]:
    return {"event_type": CARD_EVENT, "event_payload": {"suggestion_id": suggestion_id}}


# --- enqueueing (inside the action's transaction) ---------------------------------------------------------


def enqueue_publish(
    db: sqlite_utils.Database,
    suggestion_id: int,
    channel: str | None,
    tell: dict[str, str],
    *,
    once_key: str | None = None,
) -> None:
    """After a suggestion (or a vote by suggesting again): fetch, post or redraw its card, tell the user.

    ``tell``: ``{"response_url", "user", "channel"}`` for a slash command, ``{"dm": user}`` for a modal."""
    payload = {"suggestion_id": suggestion_id, "channel": channel, "tell": tell}
    outbox.enqueue(db, PUBLISH, payload, lane="arxiv", once_key=once_key)


def enqueue_redraw(db: sqlite_utils.Database, suggestion_id: int) -> None:
    suggestions.enqueue_redraw(db, suggestion_id)


# --- running -------------------------------------------------------------------------------------------


class Followups:
    """What the handlers need: settings and Web API clients (made once per thread)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stopping = threading.Event()
        self._local = threading.local()
        self._guard = threading.Lock()
        self._deadlines: set[threading.Event] = set()

    def client(self) -> WebClient:
        """A client that retries rate limits and server errors (a redraw may be repeated: it draws the same)."""
        from bot.slack.client import make_web_client

        if getattr(self._local, "client", None) is None:
            self._local.client = make_web_client(self.settings)
        client: WebClient = self._local.client
        return client

    def posting_client(self) -> WebClient:
        """No blind retries: a timed-out post may have gone through, and a card must not appear twice."""
        from bot.slack.client import make_web_client

        if getattr(self._local, "posting", None) is None:
            self._local.posting = make_web_client(self.settings, retries=False)
        client: WebClient = self._local.posting
        return client

    def handlers(self) -> dict[str, Handler]:
        return {
            PUBLISH: Handler(self.publish, self.publish_gave_up, max_attempts=PUBLISH_ATTEMPTS),
            REDRAW: Handler(self.redraw, max_attempts=8),
            NOTIFY: Handler(self.notify, max_attempts=8),
            watching.SETTLE_JOB: Handler(self.settle_watch_notices, max_attempts=24),
        }

    def settle_watch_notices(self, db: sqlite_utils.Database, job: Job) -> None:
        from bot.slack.client import make_web_client

        watching.settle_job(db, make_web_client(self.settings, retries=False))

    # --- suggestion.publish ----------------------------------------------------------------------------

    def publish(self, db: sqlite_utils.Database, job: Job) -> None:
        payload = job.payload
        suggestion_id = int(payload["suggestion_id"])
        suggestion = suggestions.get_suggestion(db, suggestion_id)
        if suggestion is None or not suggestion.open:
            self.later_tell(db, job, "closed", CLOSED)
            return
        note = ""
        if suggestion.title is None:
            outcome = self.fetch(db, suggestion.arxiv_id)
            if outcome == "not found":
                self.withdraw(db, job, suggestion)
                return
            note = outcome
        # What the first run drew is what the user hears, even when a run the database interrupted is
        # repeated and finds its own card already there.
        text = str(payload.setdefault("said", self.draw(db, job, suggestion_id, payload.get("channel"))))
        self.later_tell(db, job, "told", text + (NO_TITLE_YET if note == "unavailable" else note))
        if note == "unavailable":
            raise Retry("arXiv did not answer")

    def publish_gave_up(self, db: sqlite_utils.Database, job: Job, reason: str) -> None:
        suggestion = suggestions.get_suggestion(db, int(job.payload["suggestion_id"]))
        name = f"arXiv {suggestion.arxiv_id}" if suggestion else "your suggestion"
        self.later_tell(
            db,
            job,
            "gave-up",
            f"paperbot gave up fetching {name} from arXiv ({reason}). The suggestion stays listed by its id;"
            " an admin can look at the log.",
        )

    def fetch(self, db: sqlite_utils.Database, arxiv_id: str) -> str:
        """Ask arXiv once, within :data:`WAITING_USER_ARXIV_SECONDS` in all (waiting for the process-wide
        turn included: the background loop may be in a long request): ``""`` (stored), ``"not found"``,
        ``"unavailable"``, or a note for the user (arXiv's entry cannot be read)."""
        from bot.arxiv.client import ArxivCancelled, ArxivClient, ArxivError
        from bot.arxiv.enrich import enrich_ids

        deadline = threading.Event()
        timer = threading.Timer(WAITING_USER_ARXIV_SECONDS, deadline.set)
        timer.daemon = True
        with self._guard:
            self._deadlines.add(deadline)

        def ask() -> str:
            with ArxivClient.from_settings(
                self.settings,
                attempts=1,
                timeout_seconds=WAITING_USER_ARXIV_SECONDS,
                connect_timeout_seconds=WAITING_USER_ARXIV_SECONDS,
                max_retry_after_seconds=WAITING_USER_ARXIV_SECONDS,
                cancel=deadline,
            ) as client:
                result = enrich_ids(db, client, [arxiv_id])
            if arxiv_id in result.not_found:
                return "not found"
            if arxiv_id in result.failed:
                return f" (arXiv's entry could not be read: {result.failed[arxiv_id]}.)"
            return ""

        timer.start()
        try:
            outcome = ask()
            if outcome == "not found":
                # arXiv sometimes answers with an empty feed by mistake: ask once more before believing it.
                outcome = ask()
        except ArxivCancelled as error:
            if self.stopping.is_set():
                raise Retry("paperbot is stopping", delay=0) from None
            log.warning(
                "arXiv metadata for suggestion %s not fetched within %g s: %s",
                arxiv_id,
                WAITING_USER_ARXIV_SECONDS,
                error,
            )
            return "unavailable"
        except ArxivError as error:
            log.warning("arXiv metadata for suggestion %s not fetched: %s", arxiv_id, error)
            return "unavailable"
        finally:
            timer.cancel()
            with self._guard:
                self._deadlines.discard(deadline)
        return outcome

    def stop(self) -> None:
        """Cut short the arXiv lookups under way (their jobs run again at the next start)."""
        self.stopping.set()
        with self._guard:
            for deadline in self._deadlines:
                deadline.set()

    def later_tell(self, db: sqlite_utils.Database, job: Job, what: str, text: str) -> None:
        """Tell the job's user ``text`` once (a ``user.notify`` job keyed by this job and ``what``), however
        many times this job runs: the first run's words are the ones sent."""
        key = f"{job.kind}:{job.id}:{what}"
        outbox.enqueue(db, NOTIFY, {"tell": job.payload["tell"], "text": text}, lane="slack", once_key=key)
        outbox.wake()

    def withdraw(self, db: sqlite_utils.Database, job: Job, suggestion: suggestions.Suggestion) -> None:
        text = f"arXiv has no paper {suggestion.arxiv_id}; the suggestion was not recorded. Check the id."
        with card_lock(suggestion.id):
            if suggestion.channel and suggestion.message_ts:
                try:
                    self.client().chat_update(
                        channel=suggestion.channel, ts=suggestion.message_ts, **blocks.notice(text).payload()
                    )
                except SlackApiError as error:
                    log.info("suggestion %s: its card could not be withdrawn: %s", suggestion.id, error)
            suggestions.withdraw(db, suggestion.id)
        self.later_tell(db, job, "withdrawn", text)

    def draw(self, db: sqlite_utils.Database, job: Job, suggestion_id: int, channel: str | None) -> str:
        """Redraw the card where it is, or post it in ``channel``; what to tell the user.

        A card is posted once, however often the job runs. The job's payload, kept in memory by a worker
        whose job the database refused, remembers a card posted but not recorded (a full disk); a job that
        ran before in another process (stopped between posting and recording) finds its card in the
        channel by the card's metadata."""
        memo = job.payload
        with card_lock(suggestion_id):
            suggestion = suggestions.get_suggestion(db, suggestion_id)
            if suggestion is None:
                return CLOSED
            if suggestion.channel and suggestion.message_ts and self.update_card(db, suggestion_id):
                return "The card shows your vote."
            if channel is None:
                return "Recorded. It is listed in /paper suggestions and the App Home tab."
            unrecorded = memo.get("posted") or (
                self.find_card(channel, suggestion_id, job) if job.attempts > 1 else None
            )
            if unrecorded:
                suggestions.record_card(db, suggestion_id, str(unrecorded["channel"]), str(unrecorded["ts"]))
                memo.pop("posted", None)
                self.update_card(db, suggestion_id)
                return "Posted its card."
            try:
                posted = self.posting_client().chat_postMessage(
                    channel=channel,
                    unfurl_links=False,
                    metadata=card_metadata(suggestion_id),
                    **suggestion_card(suggestion).payload(),
                )
            except SlackApiError as error:
                code = error.response.get("error") if error.response is not None else "error"
                if code in ("not_in_channel", "channel_not_found", "is_archived"):
                    return (
                        "Recorded, but I cannot post in this channel (" + str(code) + "): invite @paperbot "
                        "to show the card here. It is listed in /paper suggestions."
                    )
                raise
            memo["posted"] = {"channel": str(posted["channel"]), "ts": str(posted["ts"])}
            suggestions.record_card(db, suggestion_id, str(posted["channel"]), str(posted["ts"]))
            memo.pop("posted", None)
        return "Posted its card."

    def find_card(self, channel: str, suggestion_id: int, job: Job) -> dict[str, str] | None:
        """The suggestion's card in ``channel`` posted since ``job`` was made, if any (read back by its
        metadata)."""
        since = datetime.fromisoformat(job.created_at).timestamp() - 60
        try:
            answer = self.client().conversations_history(
                channel=channel, oldest=f"{since:.6f}", include_all_metadata=True, limit=200
            )
        except SlackApiError as error:
            log.info("suggestion %s: cannot read %s back (%s); posting its card", suggestion_id, channel, error)
            return None
        for message in answer.get("messages") or []:
            metadata = message.get("metadata") or {}
            if (
                metadata.get("event_type") == CARD_EVENT
                and (metadata.get("event_payload") or {}).get("suggestion_id") == suggestion_id
            ):
                log.info("suggestion %s: its card was posted by an earlier run; recording it", suggestion_id)
                return {"channel": channel, "ts": str(message["ts"])}
        return None

    def update_card(self, db: sqlite_utils.Database, suggestion_id: int) -> bool:
        """Redraw the card in place (caller holds the card lock). A card that was deleted or can no longer
        be edited is forgotten, so votes keep working; returns whether a card was updated."""
        suggestion = suggestions.get_suggestion(db, suggestion_id)
        if suggestion is None or not (suggestion.channel and suggestion.message_ts):
            return False
        try:
            self.client().chat_update(
                channel=suggestion.channel,
                ts=suggestion.message_ts,
                metadata=card_metadata(suggestion_id),
                **suggestion_card(suggestion).payload(),
            )
        except SlackApiError as error:
            code = error.response.get("error") if error.response is not None else None
            if code not in CARD_GONE:
                raise
            log.info("suggestion %s: its card is gone (%s); forgetting it", suggestion_id, code)
            suggestions.forget_card(db, suggestion_id)
            return False
        return True

    # --- suggestion.redraw and user.notify ---------------------------------------------------------------

    def redraw(self, db: sqlite_utils.Database, job: Job) -> None:
        suggestion_id = int(job.payload["suggestion_id"])
        with card_lock(suggestion_id):
            self.update_card(db, suggestion_id)

    def notify(self, db: sqlite_utils.Database, job: Job) -> None:
        once = Once(f"{NOTIFY}:{job.id}", job.attempts > 1, datetime.fromisoformat(job.created_at).timestamp())
        self.tell(job.payload["tell"], str(job.payload["text"]), once)

    def tell(self, tell: dict[str, str], text: str, once: Once | None = None) -> None:
        """Tell the user: through the command's ``response_url`` while Slack takes it (5 uses, 30 minutes),
        else an ephemeral message in the channel (an ordinary one in a DM with the bot), else a DM; a modal's
        user by DM. With ``once``, an ordinary message carries its key, and a retry first looks for it."""
        user = tell.get("user") or tell.get("dm")
        if tell.get("dm"):
            self._post_once(str(user), once, text=mrkdwn.escape(text))
            return
        message = blocks.notice(text).payload()
        url = tell.get("response_url")
        if url:
            answer = WebhookClient(url, timeout=10).send_dict(
                {"response_type": "ephemeral", "replace_original": False, **message}
            )
            if answer.status_code == 200 and '"ok":false' not in answer.body.replace(" ", ""):
                return
            log.info("response_url refused (%s %s): telling %s another way", answer.status_code, answer.body, user)
        if not user:
            return
        channel = tell.get("channel")
        if channel and channel.startswith("D"):
            # A direct message with the bot: only the user is there, so an ordinary message is private.
            self._post_once(channel, once, **message)
            return
        if channel:
            try:
                self.client().chat_postEphemeral(channel=channel, user=user, **message)
                return
            except SlackApiError as error:
                log.info("cannot post an ephemeral message in %s (%s): sending a direct message", channel, error)
        self._post_once(user, once, **message)

    def _post_once(self, channel: str, once: Once | None, **message: Any) -> None:
        """``chat.postMessage``; when this is a retry of a message with a once-key, only if the earlier try
        did not arrive after all (a timeout or a dropped connection does not say)."""
        if once is None:
            self.client().chat_postMessage(channel=channel, **message)
            return
        if once.retried and already_posted(self.client(), channel, once.key, oldest=once.since - 60):
            log.info("%s: the earlier try arrived after all; not sent again", once.key)
            return
        # No blind retry inside the client (a 5xx or a dropped connection may come after Slack posted it):
        # the job's own retry reads the DM back first.
        self.posting_client().chat_postMessage(channel=channel, metadata=notice_metadata(once.key), **message)


@dataclass(frozen=True)
class Once:
    """A message that must arrive once: its key (in the message's metadata), whether an earlier try may
    have arrived, and since when (Unix seconds) to look for it."""

    key: str
    retried: bool
    since: float


def start_followups(settings: Settings) -> Workers:
    """Resume the follow-ups a previous run left and start the workers (``serve`` calls this)."""
    followups = Followups(settings)
    workers = Workers(settings.db_path, followups.handlers(), LANES, on_stop=followups.stop)
    workers.start()
    return workers
