"""`paperbot search` and `paperbot serve`: the same answers as Slack, and a bot that really serves."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from bot.cli import main
from bot.db import connect, merge_search_index
from bot.digest.store import load_file
from bot.search.index import MERGED_SEGMENTS, segments
from bot.search.query import search
from tests.conftest import DATA, SHIPPED_DIGEST
from tests.fakes.arxiv_api import FakeArxivAPI
from tests.fakes.bot_server import bot_settings, running_bot
from tests.fakes.signing import SIGNING_SECRET, post, slash_command_body
from tests.fakes.slack_api import FakeSlack
from tests.helpers import fake_slack_env, free_port, start_http_server, wait_until_serving


def test_search_prints_the_card_as_text(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    load_file(connect(db_path), SHIPPED_DIGEST)
    assert main(["search", "musiclm"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("*MusicLM: Generating Music From TextPage (https://arxiv.org/abs/2301.11325)*")
    assert "Digest 2023-01 · #1" in out and "[Share in channel]" in out


@pytest.mark.parametrize("query", ["musiclm", "stylegn", "diffusion", "list", "help", "zzzz", "<!channel>"])
def test_search_json_is_exactly_what_slack_gets(db_path: Path, capsys: pytest.CaptureFixture[str], query: str) -> None:
    load_file(connect(db_path), SHIPPED_DIGEST)
    assert main(["search", "--json", *query.split()]) == 0
    printed = json.loads(capsys.readouterr().out)
    with FakeSlack() as fake, running_bot(bot_settings(fake, db_path), fake) as bot:
        _, answer = bot.command(query)
    answer.pop("response_type")
    assert printed == answer


def test_search_on_an_empty_database_says_what_to_do(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "list"]) == 0
    assert "paperbot load" in capsys.readouterr().out


def test_serve_without_tokens_demos_the_bundled_digest_and_says_how_to_connect(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve"]) == 0
    out = capsys.readouterr().out
    assert "2023-01: 10 papers: 10 added" in out
    assert "$ /paper musiclm" in out and "MusicLM: Generating Music From TextPage" in out
    assert "SLACK_BOT_TOKEN is not set" in out and "manifest.yml" in out and ".env" in out
    assert main(["serve"]) == 0  # a second run finds the digest already loaded
    assert "10 unchanged" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({}, ["serve", "--http"], "SLACK_BOT_TOKEN is not set"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, ["serve", "--http"], "SLACK_SIGNING_SECRET is not set"),
        ({"SLACK_BOT_TOKEN": "not-a-token"}, ["serve"], "SLACK_BOT_TOKEN must be a bot token"),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": "ftp://x"},
            ["serve", "--http"],
            "SLACK_API_URL",
        ),
    ],
)
def test_serve_misconfigured_stops_with_one_line_naming_the_variable(
    db_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    args: list[str],
    message: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_serve_http_runs_the_real_server_end_to_end(tmp_path: Path) -> None:
    db_path = tmp_path / "serve.db"
    load_file(connect(db_path), SHIPPED_DIGEST)
    with FakeSlack() as fake:
        port = free_port()
        env = fake_slack_env(fake, db_path, SLACK_APP_TOKEN="xapp-ignored")
        proc = start_http_server(port, env=env, cwd=tmp_path)
        try:
            wait_until_serving(proc, port, health_path="/healthz", timeout=30)
            body = slash_command_body("tracr", response_url=fake.response_url())
            status, _, answer = post(f"http://127.0.0.1:{port}/slack/events", body, SIGNING_SECRET)
            assert status == 200 and "Tracr: Compiled Transformers" in answer.decode()
            status, _, _ = post(f"http://127.0.0.1:{port}/slack/events", body, "wrong-secret")
            assert status == 401
            assert fake.calls("auth.test")
        finally:
            proc.terminate()
            proc.wait(timeout=10)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("revoked token", "Slack refused SLACK_BOT_TOKEN"),
        ("slack unreachable", "cannot reach Slack at http://127.0.0.1:9/api/ (SLACK_API_URL)"),
        ("port in use", "(--host/--port)"),
        ("bad admins", "PAPERBOT_ADMINS must be comma-separated Slack user IDs"),
        ("bad delay", "ARXIV_DELAY_SECONDS"),
        ("bad schedule", "ROUNDUP_SCHEDULE"),
        ("bad zone", "ROUNDUP_TIMEZONE"),
        ("socket mode refused", "Slack refused the Socket Mode connection (SLACK_APP_TOKEN)"),
    ],
)
def test_serve_start_up_failures_are_one_line_naming_the_cause(
    db_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, case: str, message: str
) -> None:
    import socket

    with FakeSlack(tokens={"xoxb-the-good-one"}) as fake, socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        env = {"SLACK_BOT_TOKEN": "xoxb-the-good-one", "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": fake.api_url}
        port = "0"
        if case == "revoked token":
            env["SLACK_BOT_TOKEN"] = "xoxb-revoked"
        elif case == "slack unreachable":
            env["SLACK_API_URL"] = "http://127.0.0.1:9/api/"
        elif case == "port in use":
            port = str(busy.getsockname()[1])
        elif case == "bad admins":
            env["PAPERBOT_ADMINS"] = "U1, bob"
        elif case == "bad delay":
            env["ARXIV_DELAY_SECONDS"] = "soon"
        elif case == "bad schedule":
            env.update(ROUNDUP_CHANNEL="C0ROUNDUP", ROUNDUP_SCHEDULE="0 9 31 2 *")
        elif case == "bad zone":
            env.update(ROUNDUP_CHANNEL="C0ROUNDUP", ROUNDUP_TIMEZONE="Mars/Olympus")
        else:
            env["SLACK_APP_TOKEN"] = "xapp-1-refused"  # the fake has no apps.connections.open for it
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        mode = [] if case == "socket mode refused" else ["--http"]
        code = main(["serve", *mode, "--host", "127.0.0.1", "--port", port])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith("error: ") and message in err[0], err


def test_demo_skips_a_bad_bundled_digest_with_one_line(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "data" / "digests"
    folder.mkdir(parents=True)
    (folder / "2023-01.txt").write_bytes(SHIPPED_DIGEST.read_bytes())
    (folder / "broken-2023-02.txt").write_bytes(b"\0binary")
    assert main(["serve"]) == 0
    out = capsys.readouterr().out
    assert "skipped: " in out and "broken-2023-02.txt" in out and "binary file" in out
    assert "MusicLM" in out


def _answers(db_path: Path, queries: list[str]) -> list[tuple[object, ...]]:
    db = connect(db_path)
    found = [search(db, query) for query in queries]
    db.close()
    return [(r.kind, [p.paper_id for p in r.papers], r.corrected, r.alternatives, r.partial) for r in found]


SEGMENT_QUERIES = ["musiclm", "watermrk", "水印", "language models", "tanaka", "2301.11325", "toolformer", "qqqzzzz"]


def test_serve_merges_the_search_index_that_loads_left_in_segments(tmp_path: Path) -> None:
    """Each load adds a segment to the full-text index and every lookup probes each one: ``serve`` merges
    them as it starts, and every search answers exactly as before."""
    db_path = tmp_path / "segments.db"
    db = connect(db_path)
    for digest in (SHIPPED_DIGEST, DATA / "digest-2023-02.md", DATA / "digest-2023-03-variants.txt"):
        load_file(db, digest)
    assert segments(db) > MERGED_SEGMENTS
    db.close()
    before = _answers(db_path, SEGMENT_QUERIES)
    with FakeSlack() as fake:
        port = free_port()
        proc = start_http_server(port, env=fake_slack_env(fake, db_path), cwd=tmp_path)
        try:
            wait_until_serving(proc, port, health_path="/healthz", timeout=30)
            status, _, answer = post(
                f"http://127.0.0.1:{port}/slack/events", slash_command_body("tracr"), SIGNING_SECRET
            )
            assert status == 200 and "Tracr: Compiled Transformers" in answer.decode()
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    check = connect(db_path)
    assert segments(check) == 1
    check.close()
    assert _answers(db_path, SEGMENT_QUERIES) == before


def test_paperbot_load_leaves_the_search_index_merged_for_the_running_bot(
    db_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bot that runs for months never restarts to merge: each ``paperbot load`` (and restore) merges what
    it and arXiv's metadata left in segments (that a merge answers the same:
    ``test_serve_merges_the_search_index_that_loads_left_in_segments``)."""
    with FakeArxivAPI(synthetic=True) as arxiv:
        monkeypatch.setenv("ARXIV_API_URL", arxiv.url)
        for digest in (SHIPPED_DIGEST, DATA / "digest-2023-02.md", DATA / "digest-2023-03-variants.txt"):
            assert main(["load", str(digest)]) == 0
            assert segments(connect(db_path)) <= MERGED_SEGMENTS
        assert connect(db_path).execute("SELECT count(*) FROM arxiv_entries").fetchone()[0] > 0
    capsys.readouterr()


def test_merging_the_search_index_gives_way_to_another_writer(tmp_path: Path) -> None:
    """Optional upkeep: while another process holds the write lock, the index is left as it is (and the
    next start merges it); once it is merged there is nothing left to do."""
    db_path = tmp_path / "busy.db"
    db = connect(db_path)
    for digest in (SHIPPED_DIGEST, DATA / "digest-2023-02.md", DATA / "digest-2023-03-variants.txt"):
        load_file(db, digest)
    fragmented = segments(db)
    with closing(sqlite3.connect(db_path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        assert not merge_search_index(db)
        assert segments(db) == fragmented
        other.execute("ROLLBACK")
    assert merge_search_index(db) and segments(db) == 1
    assert not merge_search_index(db)
    db.close()
