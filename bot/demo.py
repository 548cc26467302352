"""The local demo: what ``paperbot serve`` does without Slack tokens.

It loads the bundled digests into the local database, prints what ``/paper`` answers for a few queries,
and explains how to connect the bot to Slack.
"""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings
from bot.db import connect
from bot.digest.parse import DigestError
from bot.digest.store import load_file
from bot.slack import blocks
from bot.slack.replies import paper_reply


def bundled_digests() -> list[Path]:
    """The digests shipped in ``data/digests`` (working directory first, then the source tree)."""
    for folder in (Path.cwd() / "data" / "digests", Path(__file__).resolve().parent.parent / "data" / "digests"):
        files = sorted([*folder.glob("*.txt"), *folder.glob("*.md")]) if folder.is_dir() else []
        if files:
            return files
    return []


CONNECT_HELP = """\
paperbot is not connected to Slack (SLACK_BOT_TOKEN is not set). To connect it:
  1. Create a Slack app from manifest.yml: https://api.slack.com/apps -> Create New App -> From a manifest.
  2. Install it to your workspace; copy the Bot User OAuth Token (xoxb-...) into SLACK_BOT_TOKEN.
  3. Socket Mode (default): create an app-level token with connections:write -> SLACK_APP_TOKEN (xapp-...).
     HTTP mode instead: create the app from manifest.http.yml (its request URLs set to
     https://YOUR-HOST/slack/events), set SLACK_SIGNING_SECRET and run `paperbot serve --http`.
  4. Put these in .env (see .env.example) or the environment, run `paperbot doctor` to check the set-up
     (token, scopes, channel, connection; one line per check with the fix), then `paperbot serve` again."""

DEMO_QUERIES = ("musiclm", "水印", "stylegn")


def run_demo(settings: Settings) -> int:
    """No Slack: load the bundled digests into the local database and show what ``/paper`` answers."""
    db = connect(settings.db_path)
    for path in bundled_digests():
        try:
            print(load_file(db, path).describe())
        except DigestError as error:
            print(f"skipped: {error}")
    print(f"database: {settings.db_path}\n")
    for query in DEMO_QUERIES:
        print(f"$ /paper {query}")
        print(blocks.render_text(paper_reply(db, query)))
        print()
    print("Try more with `paperbot search QUERY` (or `--json` for the Slack payload); `paperbot enrich` fetches")
    print("arXiv's metadata (canonical titles, full author lists), `paperbot roundup` prints the monthly roundup.\n")
    print(CONNECT_HELP)
    return 0
