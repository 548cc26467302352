"""Every Slack surface name paperbot uses, in one place; ``manifest.yml`` must declare the same.

``tests/test_manifest.py`` checks that the manifest and the registered listeners agree with these.
"""

from __future__ import annotations

COMMAND = "/paper"
"""The one slash command; sub-commands are its first word."""

# Block Kit action ids (buttons).
ACTION_OPEN = "paper_open"
"""Open a paper's card from a list of choices; value: paper id."""
ACTION_SHARE = "paper_share"
"""Post the card in the channel, saying who shared it; value: paper id."""
ACTION_FULL_SUMMARY = "paper_full_summary"
"""Show a summary that the card had to cut; value: paper id."""
ACTION_LINK = "paper_link"
"""URL buttons (arXiv abs / PDF): Slack still sends an action, which is acknowledged and ignored."""

ACTIONS = (ACTION_OPEN, ACTION_SHARE, ACTION_FULL_SUMMARY, ACTION_LINK)
SHORTCUTS: tuple[str, ...] = ()
VIEWS: tuple[str, ...] = ()
EVENTS: tuple[str, ...] = ()

BOT_SCOPES = ("commands", "chat:write", "channels:history", "groups:history")
"""chat:write posts; the history scopes let the roundup look for its own messages after a crash."""
