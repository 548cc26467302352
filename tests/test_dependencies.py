"""Dependency floors and workarounds (issue 9, #6): the versions pyproject.toml admits are ones that work,
the lint tools are pinned, and each workaround for an upstream bug is still needed."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from bot.roundup.schedule import cron_trigger
from tests.helpers import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _requirement(name: str, group: list[str]) -> str:
    (spec,) = [req for req in group if req.split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip() == name]
    return spec


def _fires(trigger: BaseTrigger, start: datetime, count: int) -> list[datetime]:
    fires: list[datetime] = []
    fire = trigger.get_next_fire_time(None, start)
    while fire is not None and len(fires) < count:
        fires.append(fire)
        fire = trigger.get_next_fire_time(fire, fire.astimezone(UTC) + timedelta(seconds=1))
    return fires


def test_apscheduler_floor_excludes_the_dst_infinite_loop() -> None:
    spec = _requirement("apscheduler", PYPROJECT["project"]["dependencies"])
    assert ">=3.11.2" in spec, spec
    assert tuple(int(part) for part in version("apscheduler").split(".")[:3]) >= (3, 11, 2)


def test_a_run_inside_the_repeated_hour_moves_on() -> None:
    # https://github.com/agronholm/apscheduler/issues/1021: with the last run and "now" both inside the
    # repeated hour, APScheduler < 3.11.2 answered the same folded time forever. The scheduler asks for
    # run times until one is after now (Job._get_run_times); that must end.
    new_york = ZoneInfo("America/New_York")
    trigger = cron_trigger("0 1 * * *", new_york)
    last = datetime(2025, 11, 2, 1, 0, tzinfo=new_york)  # 01:00 EDT, the first of two
    now = datetime(2025, 11, 2, 1, 0, 1, fold=1, tzinfo=new_york)  # 01:00:01 EST, the second
    fire = trigger.get_next_fire_time(last, now)
    for _ in range(3):
        if fire is None or fire > now:
            break
        fire = trigger.get_next_fire_time(fire, now)
    assert fire is not None and fire.astimezone(UTC) == datetime(2025, 11, 3, 6, 0, tzinfo=UTC)


def test_apscheduler_still_fires_twice_in_a_repeated_hour_so_the_wall_time_guard_stays() -> None:
    # If this fails, APScheduler fires once per wall time by itself: drop _OncePerWallTime
    # (bot/roundup/schedule.py; https://github.com/agronholm/apscheduler/issues/120).
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2024, 10, 26, 12, tzinfo=berlin)
    bare = _fires(CronTrigger(minute="30", hour="2", timezone=berlin), start, 3)
    assert [f.astimezone(UTC).strftime("%m-%d %H:%M") for f in bare] == ["10-27 00:30", "10-27 01:30", "10-28 01:30"]
    ours = _fires(cron_trigger("30 2 * * *", berlin), start, 2)
    assert [f.astimezone(UTC).strftime("%m-%d %H:%M") for f in ours] == ["10-27 00:30", "10-28 01:30"]


def test_lint_tools_are_pinned_exactly_to_what_runs() -> None:
    test_extra = PYPROJECT["project"]["optional-dependencies"]["test"]
    for tool in ("ruff", "mypy"):
        assert _requirement(tool, test_extra) == f"{tool}=={version(tool)}"
