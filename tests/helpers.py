"""Helpers shared by the tests and the benchmarks: the CLI in-process, database snapshots, the strings of a
Slack payload, gaps between timestamps, and ``python -m bot`` in a subprocess with a wait until it serves.

Importing this module does not import pytest (only :func:`run_cli_system_exit` does, when called), so the
benchmarks (``bench/``) use it too.
"""

from __future__ import annotations

import itertools
import os
import random
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli import main
from tests.fakes.bot_server import TEST_ARXIV_DELAY_SECONDS
from tests.fakes.signing import SIGNING_SECRET
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack

if TYPE_CHECKING:
    import pytest

REPO = Path(__file__).resolve().parent.parent


# --- the CLI, in this process ---------------------------------------------------------------------------


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``paperbot ARGS`` in this process: its exit code and what it printed to stdout and stderr."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def run_cli_system_exit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``paperbot ARGS`` where the arguments are refused (argparse raises ``SystemExit``, which must happen):
    the exit code and what was printed to stdout and stderr."""
    import pytest

    with pytest.raises(SystemExit) as caught:
        main(list(args))
    out, err = capsys.readouterr()
    return int(caught.value.code or 0), out, err


# --- the database ---------------------------------------------------------------------------------------


def snapshot(path: Path) -> list[tuple[object, ...]]:
    """Every row of every ordinary table, each prefixed with its table's name: "the database is exactly as
    before" is ``snapshot(path) == before``.

    Full-text search is left out: the virtual tables (``paper_search`` and its vocabulary) and their shadow
    tables (``paper_search_data``, ``paper_search_idx``, ...), whose names start with the virtual table's.
    Their contents follow from the ordinary tables' rows through triggers.
    """
    with closing(sqlite3.connect(path)) as conn:
        tables = conn.execute(
            "SELECT name, sql LIKE 'CREATE VIRTUAL TABLE%' FROM sqlite_master"
            " WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
        shadow_prefixes = tuple(f"{name}_" for name, is_virtual in tables if is_virtual)
        ordinary = [name for name, is_virtual in tables if not (is_virtual or name.startswith(shadow_prefixes))]
        rows: list[tuple[object, ...]] = []
        for table in ordinary:
            rows += sorted(((table, *row) for row in conn.execute(f"SELECT * FROM [{table}]")), key=repr)
        return rows


# --- Slack payloads -------------------------------------------------------------------------------------


def strings(node: object) -> Iterator[str]:
    """Every string in a JSON-like value (dict values and list items, depth first); dict keys are skipped."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


# --- timing --------------------------------------------------------------------------------------------


def gaps(times: list[float]) -> list[float]:
    """The time between each two consecutive ``times`` (``len(times) - 1`` of them)."""
    return [later - earlier for earlier, later in itertools.pairwise(times)]


# --- the bot in a subprocess ----------------------------------------------------------------------------


class ServerDidNotStart(RuntimeError):
    """The server process exited, or did not serve in time."""


def bot_process_env(**values: str) -> dict[str, str]:
    """The environment for ``python -m bot`` in a subprocess: this process's, less any proxy settings (the
    fakes live on 127.0.0.1), with the repository importable and ``values`` set."""
    env = {k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY")}
    env.update(PYTHONPATH=str(REPO), **values)
    return env


def fake_slack_env(fake: FakeSlack, db_path: Path, **values: str) -> dict[str, str]:
    """:func:`bot_process_env` for a bot on ``db_path`` that talks to ``fake`` (never the real Slack) and
    checks requests against the fakes' signing secret, with ``values`` set."""
    values.setdefault("ARXIV_API_URL", "http://127.0.0.1:9/api/query")  # refused at once: never the real arXiv
    values.setdefault("ARXIV_DELAY_SECONDS", TEST_ARXIV_DELAY_SECONDS)
    return bot_process_env(
        PAPERBOT_DB=str(db_path),
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake.api_url,
        **values,
    )


# ``paperbot ARGS`` as ``python -m bot`` runs it, with the roundup's pace between messages set first (the
# first argument). A subprocess cannot be monkeypatched from the test, and the pace is not a setting: Slack's
# documented 1 message a second per channel is the product's, not the operator's, to choose.
_CLI_WITH_PACE = (
    "import sys\n"
    "import bot.roundup.post\n"
    "bot.roundup.post.PACE_SECONDS = float(sys.argv.pop(1))\n"
    "from bot.cli import main\n"
    "raise SystemExit(main(sys.argv[1:]))\n"
)


def spawn_bot(
    *args: str,
    env: Mapping[str, str],
    cwd: Path | str,
    stdout: int = subprocess.PIPE,
    stderr: int = subprocess.PIPE,
    pace_seconds: float | None = None,
) -> subprocess.Popen[str]:
    """``paperbot ARGS`` (``python -m bot``) started in a subprocess, its output read as text.

    ``pace_seconds``: the pause between a roundup's messages in that process (default: the product's
    ``PACE_SECONDS``, 1 s); tests that post whole roundups from a subprocess pass 0.
    """
    command = ["-m", "bot"] if pace_seconds is None else ["-c", _CLI_WITH_PACE, str(pace_seconds)]
    return subprocess.Popen(
        [sys.executable, *command, *args], env=env, cwd=cwd, stdout=stdout, stderr=stderr, text=True
    )


def start_http_server(
    port: int, *, env: Mapping[str, str], cwd: Path | str, output: int = subprocess.PIPE
) -> subprocess.Popen[str]:
    """``paperbot serve --http`` on 127.0.0.1:``port`` without the scheduler; stdout and stderr both go to
    ``output`` (a pipe by default, read by :func:`wait_until_serving` if the server dies)."""
    return spawn_bot(
        *("serve", "--http", "--host", "127.0.0.1", "--port", str(port), "--no-scheduler"),
        env=env,
        cwd=cwd,
        stdout=output,
        stderr=subprocess.STDOUT,
    )


FREE_PORTS = range(20000, 32000)
"""Where :func:`free_port` looks: below Linux's ephemeral range (32768-60999), so that a fake server or a
client socket the system places on port 0, in this test or in another test worker, cannot take the port
between the moment it is picked and the moment the bot under test binds it."""


_PORT_PICKER = random.SystemRandom()
"""Its own source of randomness: test workers must not pick alike, whatever seeds the global one."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on at the moment, for a server started elsewhere (a
    subprocess): picked at random outside the ephemeral range, then checked by binding it."""
    for _ in range(200):
        port = _PORT_PICKER.choice(FREE_PORTS)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {FREE_PORTS.start}-{FREE_PORTS.stop - 1} after 200 tries")


def wait_until_serving(
    proc: subprocess.Popen[Any],
    port: int,
    *,
    health_path: str | None = None,
    timeout: float = 30.0,
    interval: float = 0.1,
) -> None:
    """Return once the server ``proc`` accepts TCP connections on 127.0.0.1:``port`` or, with
    ``health_path``, answers a GET of that path with 200 (no proxy in between).

    Raises :class:`ServerDidNotStart` if ``proc`` exits first (with its output, when that is a pipe) or
    after ``timeout`` seconds, and as soon as the health URL answers with another success status.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while True:
        try:
            if health_path is None:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            url = f"http://127.0.0.1:{port}{health_path}"
            with opener.open(url, timeout=1) as response:
                if response.status != 200:
                    raise ServerDidNotStart(f"{url} answered {response.status}, not 200")
                return
        except OSError:  # refused, reset, timed out, or an HTTP error status
            code = proc.poll()
            if code is not None:
                output = proc.stdout.read() if proc.stdout else ""
                raise ServerDidNotStart(f"the server exited with code {code} before serving: {output}") from None
            if time.monotonic() >= deadline:
                raise ServerDidNotStart(f"the server did not serve on port {port} within {timeout:g} s") from None
            time.sleep(interval)
