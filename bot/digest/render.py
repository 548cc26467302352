"""Digests written out from the database as Markdown: the version 1 of digests loaded before versions were
kept (their files may be gone), read back by the parser to the same papers.

Imports nothing of the project but the parser's neighbours, so that the migrations (bot.db) may use it.
"""

from __future__ import annotations

import json
import zlib

import sqlite_utils


def render_markdown(db: sqlite_utils.Database, month: str) -> bytes:
    """A month as the database holds it, written as a Markdown digest the parser reads back to the same
    papers: the version 0 of digests loaded before versions were kept (their files may be gone)."""
    head = db.execute("SELECT title, intro, source_url, curator FROM digests WHERE month = ?", [month]).fetchone()
    if head is None:
        return b""
    title, intro, source_url, curator = head
    lines = [f"# {title}", ""] if title else []
    if intro:
        lines += [intro, ""]
    for position, entry_title, authors, truncated, summary, links in db.execute(
        "SELECT position, title, authors, authors_truncated, summary, links FROM entries WHERE month = ?"
        " ORDER BY position",
        [month],
    ):
        lines.append(f"## {position}. {entry_title}")
        lines.append("")
        lines += [str(link) for link in json.loads(links)]
        names = list(json.loads(authors))
        if names:
            lines.append("Authors: " + ", ".join(names) + (", et al." if truncated else ""))
        lines += ["", str(summary), ""]
    references = db.execute(
        "SELECT number, raw FROM digest_references WHERE month = ? ORDER BY number", [month]
    ).fetchall()
    if references:
        lines += ["## References", ""] + [f"[{number}] {raw}" for number, raw in references] + [""]
    if source_url or curator:
        credit = f"Source: {source_url or ''}" + (f" — curated by {curator}" if curator else "")
        lines += ["---", credit.strip()]
    return ("\n".join(lines) + "\n").encode("utf-8")


def backfill(db: sqlite_utils.Database) -> None:
    """Version 1 of every digest loaded before versions were kept, rendered from the database (inside the
    migration's transaction)."""
    months = [
        row[0] for row in db.execute("SELECT month FROM digests WHERE month NOT IN (SELECT month FROM digest_versions)")
    ]
    for month in months:
        data = render_markdown(db, month)
        source_file, content_hash, loaded_at = db.execute(
            "SELECT source_file, content_hash, loaded_at FROM digests WHERE month = ?", [month]
        ).fetchone()
        papers = db.execute("SELECT count(*) FROM entries WHERE month = ?", [month]).fetchone()[0]
        db.execute(
            "INSERT INTO digest_versions (month, version, content_hash, kind, source, url, charset, raw, size, papers,"
            " loaded_by, loaded_at, action, restored_from) VALUES (?, 1, ?, 'text', ?, NULL, NULL, ?, ?, ?,"
            " 'before versions', ?, 'load', NULL)",
            [month, content_hash, f"{source_file} (as stored)", zlib.compress(data), len(data), papers, loaded_at],
        )
