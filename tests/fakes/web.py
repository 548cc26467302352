"""A loopback web server for digest pages: each path answers with a fixed status, headers and body (or
redirects, or waits before answering), and every request is recorded."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Page:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/html; charset=utf-8"})
    delay: float = 0.0
    send_length: bool = True
    """False: no Content-Length, the body ends when the connection closes (a streamed page)."""


@dataclass
class WebServer:
    pages: dict[str, Page] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    url: str = ""
    stopping: threading.Event = field(default_factory=threading.Event)

    def add(self, path: str, body: bytes | str = b"", **options: Any) -> str:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.pages[path] = Page(data, **options)
        return self.url + path

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        web = self.server.web
        web.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        page = web.pages.get(self.path)
        if page is None:
            page = Page(b"<html><body>Not found</body></html>", status=404)
        if page.delay and web.stopping.wait(page.delay):
            return
        try:
            self.send_response(page.status)
            for name, value in page.headers.items():
                self.send_header(name, value)
            if page.send_length and "Content-Length" not in page.headers:
                self.send_header("Content-Length", str(len(page.body)))
            if not page.send_length:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(page.body)
        except (ConnectionError, TimeoutError):
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, web: WebServer) -> None:
        self.web = web
        super().__init__(("127.0.0.1", 0), _Handler)


@contextmanager
def web_server() -> Iterator[WebServer]:
    web = WebServer()
    server = _Server(web)
    web.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield web
    finally:
        web.stopping.set()
        server.shutdown()
        server.server_close()
        time.sleep(0)
