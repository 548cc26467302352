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

ACTION_ABSTRACT = "paper_abstract"
"""Show the clicking user the paper's English arXiv abstract (or queue its enrichment); value: paper id."""
ACTION_CITE = "paper_cite"
"""Show the clicking user the paper's BibTeX entry; value: paper id."""
ACTION_RELATED = "paper_related"
"""Show the clicking user up to three related archive papers; value: paper id."""
ACTION_OPEN_CITED = "paper_open_cited"
"""Overflow menu under a card's "Cites" line: open a cited work's own card; option value: paper id."""

ACTION_VOTE = "suggestion_vote"
"""Toggle the clicking user's vote on a suggestion; value: suggestion id."""
ACTION_REMOVE = "suggestion_remove"
"""Admins remove a suggestion; value: suggestion id."""

ACTION_LOAD_REPLACE = "digest_load_replace"
"""Admins: load a staged digest that removes papers from its month; value: staged load id."""
ACTION_LOAD_CANCEL = "digest_load_cancel"
"""Admins: drop a staged digest load; value: staged load id."""

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
    ACTION_LOAD_REPLACE,
    ACTION_LOAD_CANCEL,
    ACTION_UNFURL_SUGGEST,
    ACTION_LINK,
)
CARD_ACTIONS = (ACTION_ABSTRACT, ACTION_CITE, ACTION_RELATED, ACTION_OPEN_CITED)
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
    "files:read",
    "im:history",
    "links:read",
    "links:write",
    "app_mentions:read",
)
"""chat:write posts; the history scopes let the roundup find its own messages after a crash; im:write
sends suggesters a direct message after the modal; im:history (the message.im event) receives direct
messages, and with files:read lets admins send digest files to the bot in a DM; links:read and
links:write receive arXiv links and unfurl them; app_mentions:read receives mentions."""
