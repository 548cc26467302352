"""The routing table: every Slack surface paperbot answers, registered in one place.

Listeners are thin: they ack, parse, call a domain function and respond. Anything that talks to the
network (``respond``, ``chat.*``) runs as a Bolt *lazy* listener, after the ack has been sent.
"""

from __future__ import annotations

import re

from slack_bolt import App

from bot.slack.ids import (
    ACTION_ABSTRACT,
    ACTION_CITE,
    ACTION_FULL_SUMMARY,
    ACTION_LINK,
    ACTION_LOAD_CANCEL,
    ACTION_LOAD_REPLACE,
    ACTION_OPEN,
    ACTION_OPEN_CITED,
    ACTION_RELATED,
    ACTION_REMOVE,
    ACTION_SHARE,
    ACTION_UNFURL_SUGGEST,
    ACTION_VOTE,
    COMMAND,
    SHORTCUT_GLOBAL,
    SHORTCUT_MESSAGE,
    VIEW_SUGGEST,
)
from bot.slack.listeners import actions, card_actions, commands, conversation, errors, files, suggesting, unfurls


def register_listeners(app: App) -> None:
    app.error(errors.handle_error)
    # Sub-commands with work after the ack get a lazy half; a search does not pay for one (Bolt copies
    # the whole request for each lazy function, ~0.3 ms on the hot path).
    app.command(COMMAND, matchers=[commands.has_work_after_ack])(
        ack=commands.paper_command, lazy=[errors.in_background(commands.paper_command_work)]
    )
    app.command(COMMAND)(commands.paper_command)
    app.action(ACTION_OPEN)(ack=actions.ack_action, lazy=[errors.in_background(actions.open_card)])
    app.action(ACTION_SHARE)(ack=actions.ack_action, lazy=[errors.in_background(actions.share_card)])
    app.action(ACTION_FULL_SUMMARY)(ack=actions.ack_action, lazy=[errors.in_background(actions.full_summary)])
    app.action(re.compile(f"^{ACTION_LINK}"))(actions.ack_action)
    app.action(ACTION_VOTE)(ack=suggesting.vote_ack, lazy=[errors.in_background(suggesting.vote)])
    app.action(ACTION_REMOVE)(ack=suggesting.remove_ack, lazy=[errors.in_background(suggesting.remove)])
    app.shortcut(SHORTCUT_MESSAGE)(
        ack=suggesting.ack_shortcut, lazy=[errors.in_background(suggesting.open_from_message)]
    )
    app.shortcut(SHORTCUT_GLOBAL)(ack=suggesting.ack_shortcut, lazy=[errors.in_background(suggesting.open_empty)])
    app.view(VIEW_SUGGEST)(suggesting.submit_ack)
    app.event("app_home_opened")(ack=suggesting.ack_event, lazy=[errors.in_background(suggesting.home_opened)])
    # Digest files sent to the bot in a DM: only this subtype; plain messages belong to another listener.
    app.event({"type": "message", "subtype": "file_share"})(
        ack=files.ack_event, lazy=[errors.in_background(files.file_shared)]
    )
    app.action(ACTION_LOAD_REPLACE)(ack=files.ack_button, lazy=[errors.in_background(files.replace_clicked)])
    app.action(ACTION_LOAD_CANCEL)(ack=files.ack_button, lazy=[errors.in_background(files.cancel_clicked)])
    app.action(ACTION_ABSTRACT)(ack=actions.ack_action, lazy=[errors.in_background(card_actions.english_abstract)])
    app.action(ACTION_CITE)(ack=actions.ack_action, lazy=[errors.in_background(card_actions.cite)])
    app.action(ACTION_RELATED)(ack=actions.ack_action, lazy=[errors.in_background(card_actions.related)])
    app.action(ACTION_OPEN_CITED)(ack=actions.ack_action, lazy=[errors.in_background(card_actions.open_cited)])
    app.event("link_shared")(ack=unfurls.ack_event, lazy=[errors.in_background(unfurls.unfurl_links)])
    app.action(ACTION_UNFURL_SUGGEST)(ack=actions.ack_action, lazy=[errors.in_background(unfurls.suggest_from_unfurl)])
    app.event("app_mention")(ack=conversation.ack_event, lazy=[errors.in_background(conversation.on_mention)])
    app.event({"type": "message", "subtype": (None, "thread_broadcast")})(
        ack=conversation.ack_event, lazy=[errors.in_background(conversation.on_direct_message)]
    )
    # Keep last: every other message event (edits, deletions, other subtypes) is acknowledged and ignored,
    # so Slack does not retry it; listeners for particular subtypes (file_share) must come before this one.
    app.event("message")(conversation.ack_event)
