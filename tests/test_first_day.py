"""What a new operator ran into on the first day, each with its one-line answer and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SHIPPED_DIGEST
from tests.helpers import run_cli


@pytest.mark.parametrize("present", ["SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"])
def test_serve_with_the_bot_token_missing_fails_instead_of_running_the_demo(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, db_path: Path, present: str
) -> None:
    """A deployment whose SLACK_BOT_TOKEN went missing must not load the sample digest into its database."""
    monkeypatch.setenv(present, "xapp-1-test" if present == "SLACK_APP_TOKEN" else "secret")
    code, out, err = run_cli(capsys, "serve")
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [
        f"error: SLACK_BOT_TOKEN is not set ({present} is): the bot cannot start without it"
    ]
    assert not db_path.exists()


@pytest.mark.parametrize("content", [b"\xff\xfeS\x00L\x00", b"PAPERBOT_DB=\xe9t\xe9.db\n"], ids=["utf-16", "latin-1"])
def test_a_dotenv_file_that_is_not_utf8_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes
) -> None:
    (tmp_path / ".env").write_bytes(content)  # the tests run in tmp_path
    code, out, err = run_cli(capsys, "search", "musiclm")
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [f"error: {tmp_path / '.env'}: not UTF-8 text (save the .env file as UTF-8)"]


def test_a_publication_date_in_a_file_name_is_not_the_digest_month(
    capsys: pytest.CaptureFixture[str], db_path: Path, tmp_path: Path
) -> None:
    """A January digest is published in February: ``digest-2023-02-03.txt`` holds 2023-01 (its arXiv ids)."""
    dated = tmp_path / "digest-2023-02-03.txt"
    dated.write_bytes(SHIPPED_DIGEST.read_bytes())
    code, out, _ = run_cli(capsys, "load", "--no-enrich", str(dated))
    assert code == 0 and ": 2023-01: " in out


def test_a_project_link_cut_short_is_not_used_as_a_link(capsys: pytest.CaptureFixture[str], db_path: Path) -> None:
    """The shipped digest cuts MAV3D's project link to ``https://make-a-video3d.github...``: a broken URL,
    so neither the card nor the citation may link to it."""
    assert run_cli(capsys, "load", "--no-enrich", str(SHIPPED_DIGEST))[0] == 0
    _, card, _ = run_cli(capsys, "search", "mav3d", "--json")
    _, bibtex, _ = run_cli(capsys, "export")
    assert "make-a-video3d.github..." not in card and "make-a-video3d.github..." not in bibtex


def test_backup_into_a_folder_makes_it_and_picks_a_free_name(
    capsys: pytest.CaptureFixture[str], db_path: Path, tmp_path: Path
) -> None:
    """``paperbot backup some/new/folder/`` is a folder, not a file named ``folder``; two backups in the
    same second get two names."""
    assert run_cli(capsys, "load", "--no-enrich", str(SHIPPED_DIGEST))[0] == 0
    folder = tmp_path / "new" / "folder"
    for _ in range(2):
        code, out, _ = run_cli(capsys, "backup", f"{folder}/")
        assert code == 0 and f"to {folder}/paperbot-" in out
    copies = sorted(path.name for path in folder.iterdir())
    assert len(copies) == 2 and all(name.startswith("paperbot-") and name.endswith(".db") for name in copies)


def test_watch_notices_commit_with_the_load_or_not_at_all(capsys: pytest.CaptureFixture[str], db_path: Path) -> None:
    """A load that fails records no notice, and the retried load records them: notices are never lost
    between a load that landed and a notice step that failed after it."""
    from bot.db import connect
    from bot.watches.model import add_watch

    db = connect(db_path)
    add_watch(db, "U7", "水印")
    db.execute(  # the notice step fails as a full disk would
        "CREATE TRIGGER full_disk BEFORE INSERT ON watch_notices"
        " BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    )
    code, _, err = run_cli(capsys, "load", "--no-enrich", str(SHIPPED_DIGEST))
    assert code == 1 and "disk is full" in err
    assert db.execute("SELECT count(*) FROM digests").fetchone()[0] == 0  # the load did not land either
    db.execute("DROP TRIGGER full_disk")
    code, _, err = run_cli(capsys, "load", "--no-enrich", str(SHIPPED_DIGEST))
    assert code == 0 and "watches: 1 match waiting for the bot to send" in err
    assert db.execute("SELECT user_id, status FROM watch_notices").fetchall() == [("U7", "pending")]


@pytest.mark.parametrize(
    "command",
    [["search", "musiclm"], ["history"], ["export"], ["roundup"], ["restore", "2023-01", "1"]],
    ids=["search", "history", "export", "roundup", "restore"],
)
def test_a_command_that_only_reads_leaves_no_database_behind(
    capsys: pytest.CaptureFixture[str], db_path: Path, command: list[str]
) -> None:
    """Run from the wrong folder (PAPERBOT_DB is relative to it), a read answers as on an empty archive
    and creates nothing there."""
    code, out, err = run_cli(capsys, *command)
    said = {"search": "no digest loaded yet", "history": "no digest versions", "roundup": "no digest loaded yet"}
    assert said.get(command[0], "") in out + err and len(err.strip().splitlines()) <= 1
    assert (code, out) == (0, "") if command[0] == "export" else code in (0, 1)
    assert not db_path.exists() and not db_path.parent.joinpath(db_path.name + "-wal").exists()
