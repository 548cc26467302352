"""The routing table: every Slack surface paperbot answers, registered in one place.

Listeners are thin: they ack, parse, call a domain function and respond. Anything that talks to the
network (``respond``, ``chat.*``) runs as a Bolt *lazy* listener, after the ack has been sent.
"""

from __future__ import annotations

import re

from slack_bolt import App

from bot.slack.ids import (
    ACTION_FULL_SUMMARY,
    ACTION_LINK,
    ACTION_OPEN,
    ACTION_REMOVE,
    ACTION_SHARE,
    ACTION_VOTE,
    COMMAND,
    SHORTCUT_GLOBAL,
    SHORTCUT_MESSAGE,
    VIEW_SUGGEST,
)
from bot.slack.listeners import actions, commands, errors, suggesting


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
