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

ACTION_VOTE = "suggestion_vote"
"""Toggle the clicking user's vote on a suggestion; value: suggestion id."""
ACTION_REMOVE = "suggestion_remove"
"""Admins remove a suggestion; value: suggestion id."""

SHORTCUT_MESSAGE = "suggest_from_message"
"""Message shortcut "Suggest for roundup": the arXiv links of a message, in the suggest modal."""
SHORTCUT_GLOBAL = "suggest_paper"
"""Global shortcut "Suggest a paper": the suggest modal with an empty link field."""
VIEW_SUGGEST = "suggest_submit"
"""The suggest modal's callback id."""

ACTION_UNFURL_SUGGEST = "unfurl_suggest"
"""*Suggest for roundup* on the unfurl of an arXiv paper no digest has: the suggest modal; value: arXiv id."""

ACTIONS = (
    ACTION_OPEN,
    ACTION_SHARE,
    ACTION_FULL_SUMMARY,
    ACTION_VOTE,
    ACTION_REMOVE,
    ACTION_UNFURL_SUGGEST,
    ACTION_LINK,
)
SHORTCUTS: tuple[str, ...] = (SHORTCUT_MESSAGE, SHORTCUT_GLOBAL)
VIEWS: tuple[str, ...] = (VIEW_SUGGEST,)
EVENTS: tuple[str, ...] = ("app_home_opened", "link_shared", "app_mention", "message.im")
"""Manifest event names; ``message.im`` reaches Bolt as a ``message`` event with ``channel_type: im``."""

UNFURL_DOMAINS: tuple[str, ...] = ("arxiv.org",)
"""Slack sends ``link_shared`` for links to these domains (subdomains such as www. and export. included)."""

BOT_SCOPES = (
    "commands",
    "chat:write",
    "channels:history",
    "groups:history",
    "im:write",
    "links:read",
    "links:write",
    "app_mentions:read",
    "im:history",
)
"""chat:write posts; the history scopes let the roundup find its own messages after a crash; im:write
sends suggesters a direct message after the modal; links:read and links:write receive arXiv links and
unfurl them; app_mentions:read and im:history receive mentions and direct messages."""
