"""The one error handler: the user gets a short apology, the log gets the traceback.

Bolt routes exceptions from ack listeners to ``@app.error``; exceptions in lazy listeners it only logs
in one line. :func:`in_background` sends those through the same :func:`report` so both behave alike.
"""

from __future__ import annotations

import functools
import json
import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext, BoltResponse
from slack_bolt.context.respond import Respond

from bot.db import DatabaseProblem, classify
from bot.slack.requestlog import FAILED

APOLOGY = "Sorry, something went wrong on paperbot's side. It has been logged; please try again in a minute."

log = logging.getLogger("bot.slack.listeners")

ACCEPTED = "paperbot_accepted"
"""Set in the context by an ack listener that accepted the request: Bolt starts the lazy half even after
the ack listener failed or answered with errors, and the lazy half must then do nothing."""


def report(error: BaseException, body: dict[str, Any]) -> str:
    """Log the failure with what the user was doing, and return what to tell the user: a database that is
    busy, full, read-only or gone is named in one line (no traceback); anything else is a bug."""
    kind = body.get("type") or ("slash_command" if "command" in body else "request")
    user = body.get("user_id") or (body.get("user") or {}).get("id")
    problem = error if isinstance(error, DatabaseProblem) else None
    if problem is None and isinstance(error, sqlite3.Error):
        problem = classify(error)
    if problem is not None:
        log.error("listener failed (%s from %s): %s", kind, user, problem)
        return problem.user_message
    log.error("listener failed (%s from %s): %s", kind, user, error, exc_info=error)
    return APOLOGY


def handle_error(error: Exception, body: dict[str, Any], context: BoltContext) -> BoltResponse:
    """``@app.error``: the apology is the HTTP answer itself: an ephemeral message for a slash command,
    an error under the modal's first input for a modal submission (the only answer a modal accepts)."""
    text = report(error, body)
    context[FAILED] = True  # the request's log line says "failed"
    payload: dict[str, Any] = {"response_type": "ephemeral", "text": text}
    if body.get("type") == "view_submission":
        inputs = [b.get("block_id") for b in (body.get("view") or {}).get("blocks") or [] if b.get("type") == "input"]
        payload = {"response_action": "errors", "errors": {inputs[0]: text[:150]}} if inputs else {}
    return BoltResponse(status=200, body=json.dumps(payload), headers={"content-type": "application/json"})


def in_background(func: Callable[..., None]) -> Callable[..., None]:
    """Wrap a lazy listener so its failures reach :func:`report` and the user hears about them.

    Bolt injects arguments by the names of the *wrapped* function (it unwraps ``functools.wraps``), so
    ``func`` must take ``body`` and ``respond`` itself.
    """

    @functools.wraps(func)
    def wrapper(body: dict[str, Any], respond: Respond, **kwargs: Any) -> None:
        try:
            func(body=body, respond=respond, **kwargs)
        except Exception as error:
            text = report(error, body)
            if body.get("response_url"):
                respond(text=text, response_type="ephemeral", replace_original=False)

    return wrapper
