"""The SQLite database: connections (one per thread, WAL) and the schema as ordered migrations.

Schema changes are appended to :data:`MIGRATIONS` as new functions, never edited once shipped.
Migrations run under ``BEGIN IMMEDIATE`` so two processes opening a new database at once do not race.

Also what can go wrong with the file under a running bot: :func:`pin_database` (``serve`` keeps using the
file it started with and never creates another), :func:`user_write` (a user's action waits about a second
for other writers and commits durably), and :class:`DatabaseProblem`, the busy, full, read-only or gone
database named in words a user can be told.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from bot.search import index as search_index

BUSY_TIMEOUT_SECONDS = 30.0
"""How long a writer waits for another process's transaction before giving up."""
USER_BUSY_SECONDS = 1.0
"""How long a user's action waits for another writer (:func:`user_write`): well inside Slack's 3 s."""
USER_WRITES_WAITING = 3
"""Once the write under way has waited :data:`STUCK_SECONDS` (another process holds the lock), at most this
many more user actions wait behind it; the rest are told "busy" at once, so that a held write lock never
takes every HTTP thread away from searches (the server has 8)."""
STUCK_SECONDS = 0.1
"""A user write taking longer than this is waiting for another process (ours take milliseconds)."""

_user_writes = threading.Condition()
_user_write_state = {"since": 0.0, "waiting": 0}
"""``since``: when the user write under way started (0: none); ``waiting``: user writes queued behind it."""

log = logging.getLogger(__name__)

MIGRATIONS = sqlite_utils.Migrations("paperbot")


class DatabaseError(Exception):
    """The database cannot be opened or migrated; the message names the file and the reason."""


class DatabaseProblem(DatabaseError):
    """A write (or, for :class:`DatabaseUnavailable`, any use) that the database refused for a reason the
    user should hear about; ``user_message`` says it in one sentence. Nothing was recorded."""

    user_message = "paperbot's database refused this, so nothing was recorded. Please tell an admin."


class DatabaseBusy(DatabaseProblem):
    """Another connection held the write lock past the busy timeout."""

    user_message = "paperbot is busy, try again in a moment. (Nothing was recorded.)"


class DatabaseFull(DatabaseProblem):
    """The disk (or the database's ``max_page_count``) is full."""

    user_message = "paperbot's disk is full, so this was not recorded. Please tell an admin."


class DatabaseReadOnly(DatabaseProblem):
    """The file, its directory or the file system is read-only."""

    user_message = "paperbot's database is read-only, so this was not recorded. Please tell an admin."


class DatabaseUnavailable(DatabaseProblem):
    """The file ``serve`` started with was deleted, moved or replaced: paperbot stops using it."""

    user_message = "paperbot's database is unavailable. Please tell an admin."


@MIGRATIONS()
def m001_digests(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE digests (
            month TEXT PRIMARY KEY,              -- YYYY-MM: one digest per month
            title TEXT,                          -- Markdown '# ' title, when the digest has one
            intro TEXT,                          -- the topics / intro line(s)
            source_url TEXT,
            curator TEXT,
            source_file TEXT NOT NULL,
            content_hash TEXT NOT NULL,          -- sha256 of parser version + file bytes
            encoding TEXT NOT NULL,
            loaded_at TEXT NOT NULL
        );
        CREATE INDEX digests_content_hash ON digests(content_hash);

        -- A paper is one arXiv id (or, without one, one normalised title); it may appear in many digests.
        CREATE TABLE papers (
            id INTEGER PRIMARY KEY,
            arxiv_id TEXT UNIQUE,                -- without version; NULL until known
            title_key TEXT NOT NULL,             -- normalised digest title, to match papers without id
            id_source TEXT,                      -- how arxiv_id became known: 'digest', 'title-search', ...
            created_at TEXT NOT NULL
        );
        CREATE INDEX papers_title_key ON papers(title_key);

        -- A paper's entry in one digest, as printed there.
        CREATE TABLE entries (
            id INTEGER PRIMARY KEY,
            month TEXT NOT NULL REFERENCES digests(month) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            paper_id INTEGER NOT NULL REFERENCES papers(id),
            title TEXT NOT NULL,
            authors TEXT NOT NULL,               -- JSON list of names as printed
            authors_truncated INTEGER NOT NULL,  -- 1 when the line ended with 'et al.'
            summary TEXT NOT NULL,               -- paragraphs and bullets, as written
            links TEXT NOT NULL,                 -- JSON list of the item's links as printed
            arxiv_version INTEGER,               -- the version the link named, if any
            incomplete_link TEXT,                -- an arXiv link cut short, for enrichment to resolve
            project_url TEXT,
            citations TEXT NOT NULL,             -- JSON list of reference numbers cited in the summary
            line INTEGER NOT NULL,
            UNIQUE (month, position),
            UNIQUE (month, paper_id)
        );
        CREATE INDEX entries_paper ON entries(paper_id);

        CREATE TABLE digest_references (
            month TEXT NOT NULL REFERENCES digests(month) ON DELETE CASCADE,
            number INTEGER NOT NULL,
            title TEXT NOT NULL,
            authors TEXT NOT NULL,               -- JSON list
            year INTEGER,
            raw TEXT NOT NULL,
            PRIMARY KEY (month, number)
        );
        """
    )


@MIGRATIONS()
def m002_arxiv(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- arXiv's own metadata, cached per id (a paper, a suggestion or anything else may point at it).
        CREATE TABLE arxiv_entries (
            arxiv_id TEXT PRIMARY KEY,           -- without version
            title TEXT NOT NULL,
            authors TEXT NOT NULL,               -- JSON list, complete
            abstract TEXT NOT NULL,
            primary_category TEXT,
            categories TEXT NOT NULL,            -- JSON list
            published TEXT,                      -- ISO 8601, UTC
            updated TEXT,
            latest_version INTEGER,
            abs_url TEXT,
            pdf_url TEXT,
            comment TEXT,
            journal_ref TEXT,
            doi TEXT,
            fetched_at TEXT NOT NULL
        );
        -- Enrichment state of each paper: pending until arXiv answered for it.
        ALTER TABLE papers ADD COLUMN enrich_status TEXT NOT NULL DEFAULT 'pending';
            -- pending | enriched | not_found | unresolved | failed
        ALTER TABLE papers ADD COLUMN enrich_detail TEXT;      -- why not enriched, how matched
        ALTER TABLE papers ADD COLUMN enrich_attempts INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE papers ADD COLUMN enriched_at TEXT;
        CREATE INDEX papers_enrich_status ON papers(enrich_status);
        """
    )


_PAPERS_OF_NEW_ARXIV_ID = "SELECT id FROM papers WHERE arxiv_id = new.arxiv_id"


def _rebuild_search(paper_ids: str) -> str:
    """Trigger body: replace the search documents of ``paper_ids`` (an SQL list or sub-query) with what
    ``paper_documents`` says now (nothing, for a paper left without entries)."""
    return (
        f"DELETE FROM paper_search WHERE rowid IN ({paper_ids});"
        " INSERT INTO paper_search (rowid, title, nick, authors, body)"
        f" SELECT paper_id, title, nick, authors, body FROM paper_documents WHERE paper_id IN ({paper_ids});"
    )


@MIGRATIONS()
def m003_search(db: sqlite_utils.Database) -> None:
    """Full-text search: one FTS5 document per paper that has a digest entry, kept in sync by triggers.

    ``entries.search_nick`` and ``entries.search_body`` are derived at load time by
    :mod:`bot.search.terms` (nicknames; Chinese as bigrams), because SQL cannot derive them.
    """
    db.executescript(
        """
        ALTER TABLE entries ADD COLUMN search_nick TEXT NOT NULL DEFAULT '';
        ALTER TABLE entries ADD COLUMN search_body TEXT NOT NULL DEFAULT '';

        CREATE VIEW paper_documents AS
        SELECT p.id AS paper_id,
               coalesce((SELECT group_concat(e.title, ' | ') FROM entries e WHERE e.paper_id = p.id), '')
                   || coalesce(' | ' || a.title, '') AS title,
               coalesce((SELECT group_concat(e.search_nick, ' ') FROM entries e WHERE e.paper_id = p.id), '')
                   || ' ' || coalesce(p.arxiv_id, '') AS nick,
               coalesce((SELECT group_concat(e.authors, ' ') FROM entries e WHERE e.paper_id = p.id), '')
                   || ' ' || coalesce(a.authors, '') AS authors,
               coalesce((SELECT group_concat(e.search_body, ' ') FROM entries e WHERE e.paper_id = p.id), '')
                   || ' ' || coalesce(a.abstract, '') AS body
        FROM papers p LEFT JOIN arxiv_entries a ON a.arxiv_id = p.arxiv_id
        WHERE EXISTS (SELECT 1 FROM entries e WHERE e.paper_id = p.id);

        CREATE VIRTUAL TABLE paper_search USING fts5(
            title, nick, authors, body, tokenize = 'unicode61 remove_diacritics 2'
        );
        CREATE VIRTUAL TABLE paper_search_vocab USING fts5vocab(paper_search, 'row');

        """
        + "".join(
            f"CREATE TRIGGER {name} {event} BEGIN {_rebuild_search(ids)} END;\n"
            for name, event, ids in (
                ("entries_search_insert", "AFTER INSERT ON entries", "new.paper_id"),
                ("entries_search_update", "AFTER UPDATE ON entries", "old.paper_id, new.paper_id"),
                ("entries_search_delete", "AFTER DELETE ON entries", "old.paper_id"),
                ("papers_search_update", "AFTER UPDATE OF arxiv_id ON papers", "new.id"),
                ("arxiv_search_insert", "AFTER INSERT ON arxiv_entries", _PAPERS_OF_NEW_ARXIV_ID),
                ("arxiv_search_update", "AFTER UPDATE ON arxiv_entries", _PAPERS_OF_NEW_ARXIV_ID),
            )
        )
        + """
        CREATE TRIGGER papers_search_delete AFTER DELETE ON papers BEGIN
            DELETE FROM paper_search WHERE rowid = old.id;
        END;
        """
    )
    from bot.search.terms import index_text, nicknames

    rows = db.execute("SELECT id, title, summary FROM entries").fetchall()
    db.conn.executemany(
        "UPDATE entries SET search_nick = ?, search_body = ? WHERE id = ?",
        [(" ".join(nicknames(title, summary)), index_text(f"{title}\n{summary}"), id_) for id_, title, summary in rows],
    )


@MIGRATIONS()
def m005_roundups(db: sqlite_utils.Database) -> None:
    """The durable record behind "exactly once": one row per (month, channel), claimed before posting."""
    db.executescript(
        """
        CREATE TABLE roundup_posts (
            month TEXT NOT NULL,
            channel TEXT NOT NULL,
            status TEXT NOT NULL,                -- claimed | posted | failed
            claim_token TEXT,                    -- who holds the claim now
            claimed_by TEXT,                     -- e.g. 'scheduler@host:pid', 'admin U123'
            lease_until REAL,                    -- unix time; an expired claim may be taken over
            ts TEXT,                             -- the headline message's ts, once Slack accepted it
            parts INTEGER,                       -- thread replies the roundup has
            attempts INTEGER NOT NULL DEFAULT 0,
            error TEXT,                          -- why the last attempt failed
            payload TEXT,                        -- the composed roundup (JSON), fixed at the first claim
            started_at TEXT NOT NULL,
            started_unix REAL NOT NULL,          -- unix time of the first claim
            updated_at TEXT NOT NULL,
            completed_at TEXT,
            PRIMARY KEY (month, channel)
        );
        CREATE TABLE roundup_replies (
            month TEXT NOT NULL,
            channel TEXT NOT NULL,
            part INTEGER NOT NULL,               -- 1.. in thread order
            ts TEXT NOT NULL,
            PRIMARY KEY (month, channel, part)
        );
        -- Scheduled fire times the job has served, per channel: a missed one is caught up at start.
        CREATE TABLE roundup_schedule_runs (
            channel TEXT NOT NULL,
            fire_time TEXT NOT NULL,             -- ISO 8601 with offset
            month TEXT,
            outcome TEXT NOT NULL,               -- posted | already | nothing | busy | failed
            ran_at TEXT NOT NULL,
            PRIMARY KEY (channel, fire_time)
        );
        """
    )


@MIGRATIONS()
def m006_suggestions(db: sqlite_utils.Database) -> None:
    """Suggestions for the next roundup and the team's votes on them."""
    db.executescript(
        """
        CREATE TABLE suggestions (
            id INTEGER PRIMARY KEY,
            arxiv_id TEXT NOT NULL,              -- without version; metadata in arxiv_entries
            suggested_by TEXT NOT NULL,          -- Slack user id
            why TEXT NOT NULL DEFAULT '',        -- plain user text, at most 500 characters
            channel TEXT,                        -- where its card was posted
            message_ts TEXT,
            created_at TEXT NOT NULL,            -- ISO 8601, UTC
            included_in TEXT,                    -- the roundup month that showed it as a team pick
            removed_by TEXT,                     -- the admin who removed it
            removed_at TEXT
        );
        -- One open suggestion per paper; included or removed ones may be suggested again.
        CREATE UNIQUE INDEX suggestions_open ON suggestions(arxiv_id) WHERE included_in IS NULL AND removed_by IS NULL;
        CREATE INDEX suggestions_by_user ON suggestions(suggested_by, created_at);
        CREATE TABLE votes (
            suggestion_id INTEGER NOT NULL REFERENCES suggestions(id) ON DELETE CASCADE,
            user_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (suggestion_id, user_id)
        );
        ALTER TABLE roundup_posts ADD COLUMN pick_ids TEXT;  -- JSON: suggestions shown as team picks
        """
    )


@MIGRATIONS()
def m007_search_trigger_only_on_text_change(db: sqlite_utils.Database) -> None:
    """Re-fetching arXiv metadata (``enrich --refresh``) rewrites rows whose searchable text rarely
    changes: rebuild a paper's search document only when the title, authors or abstract did."""
    db.executescript(
        """
        DROP TRIGGER arxiv_search_update;
        CREATE TRIGGER arxiv_search_update AFTER UPDATE OF title, authors, abstract ON arxiv_entries
        WHEN old.title IS NOT new.title OR old.authors IS NOT new.authors OR old.abstract IS NOT new.abstract
        BEGIN """
        + _rebuild_search(_PAPERS_OF_NEW_ARXIV_ID)
        + """ END;
        """
    )


@MIGRATIONS()
def m008_search_version(db: sqlite_utils.Database) -> None:
    """A counter that moves whenever the search index may have changed, so that readers can cache what
    they derive from it (the spelling-correction vocabulary, bot.search.query) and know when to drop it."""
    bump = "UPDATE search_state SET version = version + 1;"
    db.executescript(
        # ``token`` names this database: a cache keyed by it cannot be confused with another database's,
        # even one at the same path or in recycled memory, whose version may happen to be the same.
        "CREATE TABLE search_state (token TEXT NOT NULL, version INTEGER NOT NULL);"
        " INSERT INTO search_state (token, version) VALUES (lower(hex(randomblob(16))), 0);"
        + "".join(
            f"CREATE TRIGGER search_version_{name} AFTER {event} BEGIN {bump} END;"
            for name, event in (
                ("entries_insert", "INSERT ON entries"),
                ("entries_update", "UPDATE ON entries"),
                ("entries_delete", "DELETE ON entries"),
                ("papers_update", "UPDATE OF arxiv_id ON papers"),
                ("arxiv_insert", "INSERT ON arxiv_entries"),
                (
                    "arxiv_update",
                    "UPDATE OF title, authors, abstract ON arxiv_entries WHEN old.title IS NOT new.title"
                    " OR old.authors IS NOT new.authors OR old.abstract IS NOT new.abstract",
                ),
            )
        )
    )


@MIGRATIONS()
def m009_roundup_watch_start(db: sqlite_utils.Database) -> None:
    """When the scheduler first ran for a channel: a fire time before it is not "missed", so a new
    install waits for its first fire time instead of posting to the team at once."""
    db.executescript(
        """
        CREATE TABLE roundup_schedule_start (
            channel TEXT PRIMARY KEY,
            first_started TEXT NOT NULL          -- ISO 8601 with offset
        );
        """
    )


@MIGRATIONS()
def m010_outbox(db: sqlite_utils.Database) -> None:
    """Work promised to a user after the ack (arXiv lookups, card posts and redraws, messages), kept until
    done so that a restart or a failure resumes it (bot.outbox)."""
    db.executescript(
        """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,                  -- what to do, e.g. 'suggestion.publish'
            lane TEXT NOT NULL,                  -- which workers run it: 'arxiv' | 'slack'
            payload TEXT NOT NULL,               -- JSON
            once_key TEXT UNIQUE,                -- a repeated Slack delivery enqueues nothing more
            merge_key TEXT,                      -- pending jobs with one key are one job (a card redraw)
            status TEXT NOT NULL DEFAULT 'pending',  -- pending | done | failed
            attempts INTEGER NOT NULL DEFAULT 0,
            due_at REAL NOT NULL,                -- unix time it may run next
            lease_until REAL,                    -- unix time: claimed by a worker until then
            last_error TEXT,
            created_at TEXT NOT NULL,
            finished_at TEXT
        );
        CREATE INDEX outbox_due ON outbox(lane, status, due_at);
        CREATE UNIQUE INDEX outbox_merge ON outbox(merge_key) WHERE status = 'pending' AND lease_until IS NULL;
        """
    )


@MIGRATIONS()
def m020_search_terms_version(db: sqlite_utils.Database) -> None:
    """The version of bot.search.terms that derived the stored search columns. 0: unknown, so a database
    from before this migration has its columns re-derived once when next opened (bot.search.index)."""
    db.execute("ALTER TABLE search_state ADD COLUMN terms_version INTEGER NOT NULL DEFAULT 0")


@MIGRATIONS()
def m030_digest_versions_and_watches(db: sqlite_utils.Database) -> None:
    """Every loaded version of a digest (its raw source, so that a restore needs no network), loads staged
    in Slack awaiting *Replace*, digest files taken from Slack DMs (exactly once), and watches."""
    db.executescript(
        """
        CREATE TABLE digest_versions (
            month TEXT NOT NULL,
            version INTEGER NOT NULL,            -- 1, 2, ... per month
            content_hash TEXT NOT NULL,          -- as digests.content_hash
            kind TEXT NOT NULL,                  -- text | html
            source TEXT NOT NULL,                -- the path, URL or Slack file name given
            url TEXT,                            -- the page URL the bytes came from (relative links)
            charset TEXT,                        -- the charset the HTTP header declared
            raw BLOB NOT NULL,                   -- the source's bytes, zlib-compressed
            size INTEGER NOT NULL,               -- uncompressed bytes
            papers INTEGER NOT NULL,
            loaded_by TEXT NOT NULL,             -- 'cli alice', 'slack U123'
            loaded_at TEXT NOT NULL,
            action TEXT NOT NULL,                -- load | replace | restore
            restored_from INTEGER,               -- the version a restore brought back
            PRIMARY KEY (month, version)
        );
        -- A Slack load refused because it would remove papers, kept until the admin picks Replace or Cancel.
        CREATE TABLE staged_loads (
            id INTEGER PRIMARY KEY,
            month TEXT NOT NULL,
            kind TEXT NOT NULL,
            source TEXT NOT NULL,
            url TEXT,
            charset TEXT,
            raw BLOB NOT NULL,
            user_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'waiting'  -- waiting | replaced | cancelled
        );
        -- Digest files sent to the bot in a DM: one row per (file, message), whatever Slack retries.
        CREATE TABLE slack_file_loads (
            file_id TEXT NOT NULL,
            message_ts TEXT NOT NULL,
            user_id TEXT NOT NULL,
            channel TEXT NOT NULL,
            status TEXT NOT NULL,                -- working | done
            result TEXT,                         -- what the user was told
            created_at TEXT NOT NULL,
            PRIMARY KEY (file_id, message_ts)
        );
        CREATE TABLE watches (
            id INTEGER PRIMARY KEY,
            user_id TEXT NOT NULL,
            words TEXT NOT NULL,                 -- as typed (whitespace collapsed)
            words_key TEXT NOT NULL,             -- case-folded, for duplicates and unwatch
            created_at TEXT NOT NULL,
            UNIQUE (user_id, words_key)
        );
        -- Each (user, paper) is told at most once, whatever is reloaded or restored.
        CREATE TABLE watch_notices (
            user_id TEXT NOT NULL,
            paper_id INTEGER NOT NULL,
            month TEXT NOT NULL,
            words TEXT NOT NULL,                 -- the watch that matched
            status TEXT NOT NULL,                -- pending | sending | sent | failed
            created_at TEXT NOT NULL,
            sent_at TEXT,
            error TEXT,
            PRIMARY KEY (user_id, paper_id)
        );
        CREATE INDEX watch_notices_status ON watch_notices(status, user_id);
        """
    )


@MIGRATIONS()
def m030_backfill_digest_versions(db: sqlite_utils.Database) -> None:
    """Digests loaded before versions were kept get their version 1, written out from the database, so
    that a later reload can always be undone."""
    from bot.digest.render import backfill

    backfill(db)


@MIGRATIONS()
def m040_conversation(db: sqlite_utils.Database) -> None:
    """Exactly one answer per message (mentions, direct messages, link unfurls), whatever Slack redelivers,
    and arXiv ids that arXiv does not have, so that unfurling them again does not ask arXiv again."""
    db.executescript(
        """
        -- A message paperbot answered (a mention or a direct message): the first delivery claims it.
        -- WITHOUT ROWID: the key is the table, so a claim writes one B-tree (it is on every event's path).
        CREATE TABLE handled_messages (
            team TEXT NOT NULL,
            channel TEXT NOT NULL,
            ts TEXT NOT NULL,                    -- the message's ts
            event_type TEXT NOT NULL,            -- app_mention | message: which delivery claimed it
            event_id TEXT,
            user_id TEXT,
            handled_at TEXT NOT NULL,            -- ISO 8601, UTC
            PRIMARY KEY (team, channel, ts)
        ) WITHOUT ROWID;
        -- A link_shared event paperbot unfurled: (channel, message ts), or ('COMPOSER', unfurl_id).
        CREATE TABLE handled_unfurls (
            team TEXT NOT NULL,
            channel TEXT NOT NULL,
            ts TEXT NOT NULL,
            handled_at TEXT NOT NULL,
            PRIMARY KEY (team, channel, ts)
        ) WITHOUT ROWID;
        -- Ids arXiv answered "no such paper" for (unfurls skip them for a while).
        CREATE TABLE arxiv_misses (
            arxiv_id TEXT PRIMARY KEY,
            checked_at TEXT NOT NULL
        );
        """
    )


@MIGRATIONS()
def m050_reference_search(db: sqlite_utils.Database) -> None:
    """What the digests cite: a full-text index over the references blocks' titles (a query such as
    ``detectgpt`` answers with the reference), an index to find one work's listings across months, and
    ``papers.enrich_requested_at``, set when someone asks for a paper's arXiv abstract before it was
    enriched (the enrichment loop takes those papers first)."""
    db.executescript(
        """
        CREATE VIRTUAL TABLE reference_search USING fts5(title, tokenize = 'unicode61 remove_diacritics 2');
        INSERT INTO reference_search (rowid, title) SELECT rowid, title FROM digest_references;
        CREATE TRIGGER references_search_insert AFTER INSERT ON digest_references BEGIN
            INSERT INTO reference_search (rowid, title) VALUES (new.rowid, new.title);
        END;
        CREATE TRIGGER references_search_delete AFTER DELETE ON digest_references BEGIN
            DELETE FROM reference_search WHERE rowid = old.rowid;
        END;
        CREATE TRIGGER references_search_update AFTER UPDATE OF title ON digest_references BEGIN
            DELETE FROM reference_search WHERE rowid = old.rowid;
            INSERT INTO reference_search (rowid, title) VALUES (new.rowid, new.title);
        END;
        CREATE INDEX digest_references_work ON digest_references(lower(title));
        ALTER TABLE papers ADD COLUMN enrich_requested_at TEXT;
        """
    )


@MIGRATIONS()
def m060_staged_load_base(db: sqlite_utils.Database) -> None:
    """A staged Slack load remembers the month's latest version when it was staged: a Replace clicked after
    a newer load of that month would silently undo it, and is refused (``NULL``: the month had none).
    ``status`` gains ``expired``."""
    db.execute("ALTER TABLE staged_loads ADD COLUMN base_version INTEGER")


@MIGRATIONS()
def m061_watch_notice_keys(db: sqlite_utils.Database) -> None:
    """A watch notice being sent remembers its message's key (in the message's Slack metadata) and when
    it was claimed: a send whose outcome is unknown stays ``sending`` until the DM, read back, says
    whether it arrived (then ``sent``, or ``pending`` again). Notices left ``sending`` before (a run that
    stopped mid-send) carry no key to look for: they are closed as failed, as that run would have."""
    db.executescript(
        """
        ALTER TABLE watch_notices ADD COLUMN message_key TEXT;
        ALTER TABLE watch_notices ADD COLUMN claimed_at TEXT;
        UPDATE watch_notices SET status = 'failed', error = 'unknown: stopped while sending'
            WHERE status = 'sending';
        """
    )


_local = threading.local()

_pinned: dict[str, tuple[int, int]] = {}
"""Databases that must stay the file they were (``serve``): path -> (device, inode) at start."""
_gone: dict[str, str] = {}
"""Pinned databases found deleted or replaced: path -> what happened. Sticky until restart."""
_pin_lock = threading.Lock()


class _Connection(sqlite3.Connection):
    """A connection that remembers the path it was opened on, to check a pinned database before a write."""

    path = ""


def pin_database(path: Path | str) -> None:
    """From now on the database at ``path`` must stay the file it is now (same device and inode).

    ``serve`` calls this once the database is open: if the file is deleted, moved or replaced while it
    runs, paperbot stops using it (:class:`DatabaseUnavailable`), says so once in the log and in
    ``/healthz``, and never creates a fresh empty database in its place."""
    info = os.stat(path)
    with _pin_lock:
        _pinned[str(path)] = (info.st_dev, info.st_ino)
        _gone.pop(str(path), None)


def unpin_database(path: Path | str) -> None:
    """Forget :func:`pin_database` (a test that pins, then moves on)."""
    with _pin_lock:
        _pinned.pop(str(path), None)
        _gone.pop(str(path), None)


def check_identity(path: Path | str) -> None:
    """Raise :class:`DatabaseUnavailable` when a pinned database is no longer the file it was."""
    key = str(path)
    expected = _pinned.get(key)
    if expected is None:
        return
    problem = _gone.get(key)
    if problem is None:
        try:
            info = os.stat(key)
        except FileNotFoundError:
            problem = "was deleted or moved away"
        except OSError as error:
            problem = f"cannot be checked ({error})"
        else:
            if (info.st_dev, info.st_ino) != expected:
                problem = "was replaced by another file (a different inode or device)"
        if problem is None:
            return
        with _pin_lock:
            first = key not in _gone
            _gone.setdefault(key, problem)
        if first:
            log.error(
                "database %s %s while paperbot was running: paperbot stopped using it and will not create a"
                " new one; restore the file (or point PAPERBOT_DB at the right one) and restart paperbot",
                key,
                problem,
            )
    raise DatabaseUnavailable(f"database {key} (PAPERBOT_DB) {problem}")


def database_health() -> list[str]:
    """What is wrong with the pinned databases (empty when nothing is): for ``/healthz``."""
    problems = []
    for key in list(_pinned):
        try:
            check_identity(key)
        except DatabaseUnavailable as error:
            problems.append(str(error))
    return problems


def classify(error: sqlite3.Error, path: str = "") -> DatabaseProblem | None:
    """The user-facing kind of an SQLite failure (busy, full, read-only, moved), or ``None``."""
    code = getattr(error, "sqlite_errorcode", None)
    text = str(error).lower()
    where = f"database {path} (PAPERBOT_DB)" if path else "database"
    primary = code & 0xFF if isinstance(code, int) else None
    if code == 1032 or "moved" in text:  # SQLITE_READONLY_DBMOVED: the file was unlinked or renamed
        return DatabaseUnavailable(f"{where} was moved or deleted: {error}")
    if primary in (5, 6) or "locked" in text or "busy" in text:
        return DatabaseBusy(f"{where} is busy: {error}")
    if primary == 13 or "full" in text:
        return DatabaseFull(
            f"{where} is full ({error}): free space on its volume (or raise max_page_count); paperbot finishes"
            " pending follow-ups by itself once writes succeed again"
        )
    if primary == 8 or "readonly" in text or "read-only" in text:
        return DatabaseReadOnly(f"{where} is read-only ({error}): make the file and its directory writable")
    return None


def path_of(db: sqlite_utils.Database) -> str:
    """The path ``db`` was opened on (``""`` when unknown)."""
    return str(getattr(db.conn, "path", ""))


def user_writes_waiting() -> tuple[int, float]:
    """(user writes queued, seconds the one under way has taken so far): what :func:`user_write` decides by."""
    with _user_writes:
        since = _user_write_state["since"]
        return int(_user_write_state["waiting"]), (time.monotonic() - since if since else 0.0)


@contextmanager
def user_write(db: sqlite_utils.Database, busy_seconds: float = USER_BUSY_SECONDS) -> Iterator[sqlite_utils.Database]:
    """Around a user's action (a vote, a suggestion, a removal) done while Slack waits for the ack: wait at
    most ``busy_seconds`` in all for other writers, commit durably (``synchronous = FULL``), and turn
    SQLite's refusals into a :class:`DatabaseProblem` whose ``user_message`` the ack can give. The action's
    own ``write_transaction`` rolls it back whole.

    This process's user actions take turns (SQLite has one writer anyway, and a burst of them then never
    polls SQLite's lock against each other). While another process holds the lock, at most
    :data:`USER_WRITES_WAITING` actions queue behind the one waiting for it; more are told "busy" at once."""
    check_identity(path_of(db))
    deadline = time.monotonic() + busy_seconds
    busy = DatabaseBusy(f"database {path_of(db)} (PAPERBOT_DB) is busy: another writer holds it")
    with _user_writes:
        while _user_write_state["since"]:
            held = time.monotonic() - _user_write_state["since"]
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (held > STUCK_SECONDS and _user_write_state["waiting"] >= USER_WRITES_WAITING):
                raise busy
            _user_write_state["waiting"] += 1
            try:
                # Look again when the write under way ends, or when it turns out to be stuck.
                _user_writes.wait(min(remaining, max(STUCK_SECONDS - held, 0.0) + 0.005))
            finally:
                _user_write_state["waiting"] -= 1
        _user_write_state["since"] = time.monotonic()
    try:
        remaining = max(deadline - time.monotonic(), 0.05)
        db.conn.execute(f"PRAGMA busy_timeout = {int(remaining * 1000)}")
        # An acked action must survive a power cut too, not only a crash: sync the log at each commit.
        db.conn.execute("PRAGMA synchronous = FULL")
        try:
            yield db
        except sqlite3.Error as error:
            problem = classify(error, path_of(db))
            if problem is None:
                raise
            raise problem from error
        finally:
            db.conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
            db.conn.execute("PRAGMA synchronous = NORMAL")
    finally:
        with _user_writes:
            _user_write_state["since"] = 0.0
            _user_writes.notify()


def connect(path: Path | str) -> sqlite_utils.Database:
    """Open the database at ``path`` (``":memory:"`` for a private in-memory one), migrated and in WAL mode.

    The connection belongs to the calling thread; use :func:`thread_db` to share one per thread. A pinned
    database (:func:`pin_database`) is opened only if it is still the same file, and never created.
    """
    target = str(path)
    check_identity(target)
    try:
        if target in _pinned:
            # mode=rw: a file that vanished since the check is an error here, not a new empty database.
            uri = f"{Path(target).absolute().as_uri()}?mode=rw"
            conn = sqlite3.connect(
                uri, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, uri=True, factory=_Connection
            )
        else:
            if target != ":memory:":
                Path(target).parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE in write_transaction).
            conn = sqlite3.connect(target, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, factory=_Connection)
        conn.path = target
        conn.execute("PRAGMA foreign_keys = ON")
        db = sqlite_utils.Database(conn)
        if target != ":memory:":
            _enable_wal(conn)
            # WAL with synchronous=NORMAL stays durable across application crashes; only an OS crash can
            # lose the last commits, and never corrupts the file.
            conn.execute("PRAGMA synchronous = NORMAL")
        migrate(db)
        refresh_search_terms(db)
    except (sqlite3.Error, OSError) as error:
        problem = classify(error, target) if isinstance(error, sqlite3.Error) and target in _pinned else None
        if problem is not None:
            raise problem from error
        raise DatabaseError(f"database {target} (PAPERBOT_DB): {error}") from error
    return db


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL, retrying: SQLite answers BUSY at once, without the busy handler, when another
    process is switching the same new file at the same moment."""
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            if conn.execute("PRAGMA journal_mode = wal").fetchone()[0] == "wal":
                return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
        if time.monotonic() > deadline:
            raise sqlite3.OperationalError("could not switch to WAL mode: database is locked")
        time.sleep(0.01)


def migrate(db: sqlite_utils.Database) -> None:
    """Apply pending migrations, serialised across processes by an immediate write lock."""
    if not MIGRATIONS.pending(db):
        return
    with write_transaction(db):
        MIGRATIONS.apply(db)


def refresh_search_terms(db: sqlite_utils.Database) -> None:
    """Re-derive the stored search columns when the code that derives them has a new version: one row
    read when nothing is to do; otherwise under the write lock, checked again there (another process
    may have done it meanwhile)."""
    if search_index.is_current(db):
        return
    with write_transaction(db):
        if not search_index.is_current(db):
            search_index.refresh_terms(db)


MERGE_BUSY_SECONDS = 1.0
"""How long ``serve``'s start waits for another writer before it leaves the search index as it is."""


def merge_search_index(db: sqlite_utils.Database) -> bool:
    """Merge the full-text index into one segment when loads left it in several
    (:func:`bot.search.index.segments`): for ``serve``, whose searches are then faster. Optional
    upkeep: when another process holds the write lock longer than :data:`MERGE_BUSY_SECONDS`, or the
    merge fails, the index stays as it is (searches work on it the same) and the log says why.
    Returns whether it merged."""
    if search_index.segments(db) <= search_index.MERGED_SEGMENTS:
        return False
    db.conn.execute(f"PRAGMA busy_timeout = {int(MERGE_BUSY_SECONDS * 1000)}")
    try:
        with write_transaction(db):
            search_index.merge(db)
    except sqlite3.Error as error:
        log.warning("search index left in several segments (searches are slower until it is merged): %s", error)
        return False
    finally:
        db.conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
    return True


@contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``: take the write lock up front so a concurrent writer waits for
    the busy timeout instead of failing mid-transaction; roll back on any error.

    As ``sqlite_utils.Database.atomic()`` does: ROLLBACK only while a transaction is open (SQLite has
    already rolled back after some errors, e.g. a full disk, and a failing ROLLBACK would hide the first
    error), and a COMMIT that fails is rolled back too, so the connection is never left inside a
    transaction. A pinned database that was deleted or replaced is not written (:func:`check_identity`).
    """
    check_identity(path_of(db))
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.conn.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise


@contextmanager
def read_snapshot(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """Reads that answer one request, in one read transaction (``BEGIN`` … ``COMMIT``): they see one
    snapshot, SQLite takes the WAL read lock once instead of once per statement, and FTS5 reads an index's
    structure once instead of in every query (~60 us of a 200 us search at 100,000 papers). Only for
    reads: a write inside would hold up other writers until the end. Inside a transaction already, it
    adds nothing."""
    if db.conn.in_transaction:
        yield db
        return
    db.conn.execute("BEGIN")
    try:
        yield db
    finally:
        if db.conn.in_transaction:
            db.conn.execute("COMMIT")


def thread_db(path: Path | str) -> sqlite_utils.Database:
    """The calling thread's connection to ``path``, opened on first use.

    SQLite connections must not cross threads; Bolt listeners and scheduler jobs run in worker threads.
    """
    key = str(path)
    check_identity(key)
    connections: dict[str, sqlite_utils.Database] = getattr(_local, "connections", None) or {}
    _local.connections = connections
    if key not in connections:
        connections[key] = connect(path)
    return connections[key]
