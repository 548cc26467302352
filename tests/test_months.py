"""Months as people write them, in ``/paper list``, ``/paper roundup`` and ``paperbot roundup --month``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.db import connect
from bot.digest.months import MonthError, parse_month
from bot.digest.store import load_file
from tests.conftest import DATA, SHIPPED_DIGEST
from tests.fakes.bot_server import RunningBot, bot_settings, running_bot
from tests.fakes.slack_api import FakeSlack
from tests.helpers import run_cli, run_cli_system_exit, snapshot

KNOWN = ["2024-02", "2023-03", "2023-02", "2023-01", "2022-01"]


@pytest.mark.parametrize(
    ("text", "month"),
    [
        ("2023-01", "2023-01"),
        ("2023-1", "2023-01"),
        ("2023/01", "2023-01"),
        ("2023/1", "2023-01"),
        ("2023.1", "2023-01"),
        ("202301", "2023-01"),
        ("2023年1月", "2023-01"),
        ("2023 年 01 月", "2023-01"),
        ("２０２３年１月", "2023-01"),
        ("2023年十二月", "2023-12"),
        ("jan 2023", "2023-01"),
        ("Jan. 2023", "2023-01"),
        ("january 2023", "2023-01"),
        ("JANUARY, 2023", "2023-01"),
        ("2023 jan", "2023-01"),
        ("sept 2023", "2023-09"),
        ("01/2023", "2023-01"),
        ("12/1999", "1999-12"),
        ("1月", "2023-01"),  # the latest year that has a January digest, not 2022
        ("一月", "2023-01"),
        ("二月", "2024-02"),
        ("03月", "2023-03"),
        ("march", "2023-03"),
        ("  feb  ", "2024-02"),
    ],
)
def test_months_as_people_write_them(text: str, month: str) -> None:
    assert parse_month(text, KNOWN) == month


@pytest.mark.parametrize(
    "text",
    ["2023-13", "2023-0", "202313", "2023年13月", "13月", "十三月", "smarch 2023", "next-month", "2023", "1", "",
     "jan 2023 2024", "2023-01; DROP TABLE digests", "x" * 5000, "1800-01"],
)  # fmt: skip
def test_what_is_not_a_month_is_refused_with_the_reason(text: str) -> None:
    with pytest.raises(MonthError) as refused:
        parse_month(text, KNOWN)
    assert "\n" not in str(refused.value) and len(str(refused.value)) < 120


def test_a_month_without_year_needs_a_digest_that_has_it() -> None:
    with pytest.raises(MonthError, match="no digest is from month 6"):
        parse_month("6月", KNOWN)
    with pytest.raises(MonthError, match="no digest"):
        parse_month("jan", [])


@pytest.fixture
def loaded(tmp_path: Path) -> Path:
    path = tmp_path / "months.db"
    db = connect(path)
    for digest in (SHIPPED_DIGEST, DATA / "digest-2023-02.md", DATA / "digest-2023-03-variants.txt"):
        load_file(db, digest)
    db.close()
    return path


@pytest.fixture
def bot(loaded: Path) -> Iterator[RunningBot]:
    with FakeSlack() as fake, running_bot(bot_settings(fake, loaded), fake) as running:
        yield running


def text_of(payload: dict[str, Any]) -> str:
    return " ".join(str(block) for block in payload.get("blocks", [])) + payload.get("text", "")


@pytest.mark.parametrize("month", ["2023-1", "2023/01", "202301", "2023年1月", "jan 2023", "january 2023", "1月"])
def test_paper_list_and_roundup_take_every_form(bot: RunningBot, month: str) -> None:
    status, listed = bot.command(f"list {month}")
    assert status == 200 and "Digest 2023-01" in text_of(listed) and "MusicLM" in text_of(listed)
    status, preview = bot.command(f"roundup {month}")
    assert status == 200 and "Preview, only you see this" in text_of(preview) and "January 2023" in text_of(preview)


@pytest.mark.parametrize("month", ["1999-01", "2023年6月", "6月", "jan 1999", "smarch"])
def test_a_month_without_digest_lists_the_months_that_have_one(bot: RunningBot, month: str) -> None:
    for command in (f"list {month}", f"roundup {month}"):
        _, answer = bot.command(command)
        text = text_of(answer)
        assert "There is no digest for" in text and all(f"`{m}`" in text for m in ("2023-01", "2023-02", "2023-03"))


def test_roundup_cli_takes_every_form(capsys: pytest.CaptureFixture[str], db_path: Path) -> None:
    db = connect(db_path)
    load_file(db, SHIPPED_DIGEST)
    load_file(db, DATA / "digest-2023-02.md")
    db.close()
    for month in ("2023/1", "2023年1月", "jan 2023", "1月", "202301"):
        code, out, _ = run_cli(capsys, "roundup", "--month", month)
        assert code == 0 and "2023-01" in out and "MusicLM" in out
    code, out, _ = run_cli(capsys, "roundup", "--month", "二月")
    assert code == 0 and "2023-02" in out


@pytest.mark.parametrize("month", ["1999-01", "6月", "smarch", "2023-13"])
def test_roundup_cli_refuses_a_month_without_digest_naming_those_with_one(
    capsys: pytest.CaptureFixture[str], db_path: Path, month: str
) -> None:
    db = connect(db_path)
    load_file(db, SHIPPED_DIGEST)
    db.close()
    before = snapshot(db_path)
    code, out, err = run_cli(capsys, "roundup", "--month", month)
    assert code == 1 and out == "" and err.count("\n") == 1 and "(digests: 2023-01)" in err
    assert snapshot(db_path) == before


def test_load_month_takes_the_forms_with_a_year(
    capsys: pytest.CaptureFixture[str], db_path: Path, tmp_path: Path
) -> None:
    unnamed = tmp_path / "digest.txt"  # no YYYY-MM in the name for --month to contradict
    unnamed.write_bytes(SHIPPED_DIGEST.read_bytes())
    code, out, _ = run_cli(capsys, "load", "--no-enrich", "--month", "2024年6月", str(unnamed))
    assert code == 0 and "2024-06" in out
    code, _, err = run_cli_system_exit(capsys, "load", "--no-enrich", "--month", "6月", str(SHIPPED_DIGEST))
    assert code == 2 and "no digest is from month 6" in err
