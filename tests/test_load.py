"""`paperbot load`: the store's upsert rules, per-file transactions and every bad file a user can give."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.db import connect
from tests.conftest import DATA, REPO, SHIPPED_DIGEST
from tests.helpers import bot_process_env, run_cli, run_cli_system_exit, snapshot, spawn_bot


def test_load_shipped_digest_then_reload_changes_nothing(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "load", str(SHIPPED_DIGEST))
    assert code == 0, err
    assert out.strip() == f"{SHIPPED_DIGEST}: 2023-01: 10 papers: 10 added, 0 updated, 0 unchanged (version 1)"
    before = snapshot(db_path)
    code, out, _ = run_cli(capsys, "load", str(SHIPPED_DIGEST))
    assert code == 0
    assert "0 added, 0 updated, 10 unchanged (file unchanged since last load)" in out
    assert snapshot(db_path) == before

    db = connect(db_path)
    rows = list(
        db.query(
            "SELECT e.position, e.title, p.arxiv_id, e.incomplete_link, e.project_url, e.authors "
            "FROM entries e JOIN papers p ON p.id = e.paper_id ORDER BY e.position"
        )
    )
    assert len(rows) == 10
    assert rows[2]["arxiv_id"] is None and rows[2]["incomplete_link"] == "https://arxiv.org/pdf/2212.14..."
    assert rows[8]["project_url"] is None  # the digest cut the link short: no link at all
    assert json.loads(rows[0]["authors"]) == ["Andrea Agostinelli", "Timeo I. Denk"]
    digest = db.execute("SELECT curator, source_url, intro FROM digests").fetchone()
    assert digest[0] == "Sergi Castella i Sapé"
    assert db.execute("SELECT count(*) FROM digest_references WHERE month = '2023-01'").fetchone()[0] == 9
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_edited_file_updates_what_changed(db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "digest-2023-01.txt"
    shutil.copy(SHIPPED_DIGEST, copy)
    assert run_cli(capsys, "load", str(copy))[0] == 0
    text = copy.read_text(encoding="utf-8")
    text = text.replace("Tracr: Compiled Transformers", "Tracr: Compiled Transformers (edited)")
    text = text.replace("https://arxiv.org/pdf/2212.14...", "https://arxiv.org/abs/2212.14024v2")
    copy.write_text(text, encoding="utf-8")
    code, out, _ = run_cli(capsys, "load", str(copy))
    assert code == 0
    assert "0 added, 2 updated, 8 unchanged" in out
    db = connect(db_path)
    assert db.execute("SELECT count(*) FROM papers").fetchone()[0] == 10
    row = db.execute(
        "SELECT p.arxiv_id, p.id_source, e.arxiv_version FROM entries e JOIN papers p ON p.id = e.paper_id"
        " WHERE e.position = 3"
    ).fetchone()
    assert row == ("2212.14024", "digest", 2)


def test_removed_item_is_reported_and_its_paper_dropped(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "digest-2023-01.txt"
    text = SHIPPED_DIGEST.read_text(encoding="utf-8")
    copy.write_text(text, encoding="utf-8")
    run_cli(capsys, "load", str(copy))
    start = text.index("10、PADL")
    end = text.index("最后本文的一些其他引用")
    copy.write_text(text[:start] + text[end:], encoding="utf-8")
    code, out, _ = run_cli(capsys, "load", "--replace", str(copy))
    assert code == 0 and "9 papers: 0 added, 0 updated, 9 unchanged, 1 removed" in out
    assert "  - PADL: Language-Directed Physics-Based Character Control" in out
    db = connect(db_path)
    # Dropped from the digest, the paper keeps its row (and arXiv metadata) for a restore.
    assert db.execute("SELECT count(*) FROM entries e JOIN papers p ON p.id = e.paper_id"
                      " WHERE p.arxiv_id = '2301.13868'").fetchone()[0] == 0  # fmt: skip
    assert db.execute("SELECT count(*) FROM papers WHERE arxiv_id = '2301.13868'").fetchone()[0] == 1


def test_paper_in_two_digests_is_one_paper_with_two_entries(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "load", str(DATA / "digest-2023-02.md"), str(DATA / "digest-2023-03-variants.txt"))
    assert code == 0, err
    db = connect(db_path)
    toolformer = list(
        db.query(
            "SELECT e.month, e.position FROM entries e JOIN papers p ON p.id = e.paper_id"
            " WHERE p.arxiv_id = '2302.04761' ORDER BY e.month"
        )
    )
    assert toolformer == [{"month": "2023-02", "position": 1}, {"month": "2023-03", "position": 1}]
    assert db.execute("SELECT count(*) FROM papers WHERE arxiv_id = '2302.04761'").fetchone()[0] == 1


def test_month_option_overrides_the_file_name(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "load", "--replace", "--month", "2024-06", str(SHIPPED_DIGEST))
    assert code == 0 and ": 2024-06: 10 papers" in out
    code, _, err = run_cli_system_exit(capsys, "load", "--month", "2024-13", str(SHIPPED_DIGEST))
    assert code == 2 and "month must look like 2023-01" in err


def _hostile_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    files: dict[str, tuple[Path, str]] = {}
    empty = tmp_path / "empty-2023-04.txt"
    empty.write_bytes(b"")
    files["empty"] = (empty, "file is empty")
    binary = tmp_path / "image-2023-04.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    files["binary"] = (binary, "binary file")
    prose = tmp_path / "notes-2023-04.txt"
    prose.write_text("Meeting notes\nWe talked about papers but listed none.\n", encoding="utf-8")
    files["prose"] = (prose, "no recognisable paper")
    latin = tmp_path / "latin-2023-04.txt"
    latin.write_bytes("1. Café Paper\nJosé Núñez, Zoë Brown.\nrésumé\n".encode("cp1252"))
    files["latin1"] = (latin, "not UTF-8 text")
    big = tmp_path / "big-2023-04.txt"
    with big.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    files["50MB"] = (big, "too large")
    files["missing"] = (tmp_path / "missing-2023-04.txt", "no such file")
    files["directory"] = (tmp_path, "is a directory")
    nomonth = tmp_path / "nomonth.txt"
    nomonth.write_text("1. A Title\nAda Lovelace, Alan Turing.\nSummary.\n", encoding="utf-8")
    files["no month"] = (nomonth, "cannot tell the digest's month")
    return files


@pytest.mark.parametrize("case", ["empty", "binary", "prose", "latin1", "50MB", "missing", "directory", "no month"])
def test_bad_file_one_line_nonzero_and_database_untouched(
    case: str, db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "load", str(SHIPPED_DIGEST))[0] == 0
    before = snapshot(db_path)
    path, reason = _hostile_files(tmp_path)[case]
    code, out, err = run_cli(capsys, "load", str(path))
    assert code == 1
    lines = err.strip().splitlines()
    assert lines[0].startswith(f"error: {path}") and reason in lines[0]
    assert "Traceback" not in err and out == ""
    assert snapshot(db_path) == before


def test_good_files_load_beside_bad_ones(db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad-2023-05.txt"
    bad.write_bytes(b"\0\0\0")
    code, out, err = run_cli(capsys, "load", str(bad), str(SHIPPED_DIGEST), str(DATA / "digest-2023-02.md"))
    assert code == 1
    assert "2023-01: 10 papers: 10 added" in out and "2023-02: 3 papers: 3 added" in out
    assert "1 of 3 sources could not be loaded" in err


def test_gbk_file_loads_like_utf8(db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gbk = tmp_path / "digest-2023-01.txt"
    gbk.write_bytes(SHIPPED_DIGEST.read_text(encoding="utf-8").encode("gbk", errors="strict"))
    code, out, _ = run_cli(capsys, "load", str(gbk))
    assert code == 0 and "10 added" in out and "decoded as GB18030" in out
    db = connect(db_path)
    assert db.execute("SELECT summary FROM entries WHERE position = 2").fetchone()[0].startswith("随着 chatGPT")


def test_a_failure_mid_file_rolls_back_that_file(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    twice = tmp_path / "twice-2023-06.txt"
    body = "1、Same Paper\nhttps://arxiv.org/abs/2306.00001\nAda Lovelace.\nOne.\n"
    twice.write_text(body + body.replace("1、", "2、"), encoding="utf-8")
    code, _, err = run_cli(capsys, "load", str(twice))
    assert code == 1 and "appears twice in this digest" in err and f"{twice}:5:" in err
    db = connect(db_path)
    assert db.execute("SELECT count(*) FROM digests").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM papers").fetchone()[0] == 0


def test_two_concurrent_load_processes_both_succeed(tmp_path: Path) -> None:
    db_path = tmp_path / "concurrent.db"
    env = bot_process_env(PAPERBOT_DB=str(db_path))
    files = [str(SHIPPED_DIGEST), str(DATA / "digest-2023-02.md"), str(DATA / "digest-2023-03-variants.txt")]
    procs = [spawn_bot("load", *order, env=env, cwd=tmp_path) for order in (files, files[::-1])]
    results = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], results
    db = connect(db_path)
    assert db.execute("SELECT count(*) FROM digests").fetchone()[0] == 3
    assert db.execute("SELECT count(*) FROM entries").fetchone()[0] == 20


def test_database_is_never_in_the_repository() -> None:
    tracked = subprocess.run(["git", "ls-files", "data"], cwd=REPO, capture_output=True, text=True).stdout
    assert ".db" not in tracked


def test_month_option_takes_one_file(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "load", "--month", "2023-05", str(SHIPPED_DIGEST), str(DATA / "digest-2023-02.md"))
    assert code == 1 and out == "" and "give a single PATH" in err
    assert not db_path.exists() or connect(db_path).execute("SELECT count(*) FROM digests").fetchone()[0] == 0


def test_a_database_locked_by_another_process_is_one_line(
    db_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    import bot.db

    connect(db_path).close()
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(bot.db, "BUSY_TIMEOUT_SECONDS", 0.2)
    try:
        code, _, err = run_cli(capsys, "load", str(SHIPPED_DIGEST))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "PAPERBOT_DB" in err and "locked" in err and "Traceback" not in err


@pytest.mark.parametrize("case", ["prose", "binary", "missing"])
def test_a_load_that_loads_nothing_leaves_no_new_database(
    case: str, db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, reason = _hostile_files(tmp_path)[case]
    code, out, err = run_cli(capsys, "load", str(path))
    assert code == 1 and out == "" and reason in err.splitlines()[0]
    assert not db_path.exists()


def test_a_dry_run_on_a_fresh_path_reports_and_leaves_no_database(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "load", "--dry-run", "--no-enrich", str(SHIPPED_DIGEST))
    assert code == 0 and "10 added" in out and "(dry run: nothing written)" in out
    assert not db_path.exists()
    code, out, _ = run_cli(capsys, "load", "--no-enrich", str(SHIPPED_DIGEST))
    assert code == 0 and "10 added" in out and db_path.exists()


def test_a_first_load_whose_month_only_the_option_names_is_stored(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = tmp_path / "picks.txt"
    plain.write_text("1. A Title\nAda Lovelace, Alan Turing.\nSummary.\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "load", "--no-enrich", "--month", "2023-07", str(plain))
    assert code == 0 and "2023-07: 1 paper: 1 added" in out, err
    assert db_path.exists()
    assert connect(db_path).execute("SELECT month FROM digests").fetchall() == [("2023-07",)]
