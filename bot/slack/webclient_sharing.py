"""One Web API client shared by Bolt's lazy listeners, instead of four deep copies of it per event.

Bolt deep-copies each request's context for every lazy listener, and the context holds the client four
times (``client``, ``say``, ``complete``, ``fail``): ~0.1 ms per event, on every unfurl, mention and direct
message. A ``WebClient`` is configuration only (each call opens its own connection), and Bolt already shares
it between the threads that serve requests, so the lazy copies can share it too.
"""

from __future__ import annotations

from slack_sdk import WebClient


class SharedWebClient(WebClient):
    """A ``WebClient`` that ``copy.deepcopy`` returns as it is (``make_web_client`` builds these)."""

    def __deepcopy__(self, memo: dict[int, object]) -> SharedWebClient:
        return self
