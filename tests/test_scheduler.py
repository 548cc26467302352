"""The roundup schedule, tested through the trigger (get_next_fire_time), never the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import ConfigError
from bot.roundup.schedule import cron_trigger, previous_fire_time

UTC_ZONE = ZoneInfo("UTC")


def fires(expression: str, start: datetime, count: int, zone: ZoneInfo = UTC_ZONE) -> list[datetime]:
    trigger = cron_trigger(expression, zone)
    out: list[datetime] = []
    previous = None
    now = start
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        assert fire is not None
        out.append(fire)
        previous, now = fire, fire.astimezone(UTC) + timedelta(seconds=1)  # UTC: wall-clock arithmetic loses fold
    return out


def test_default_schedule_first_of_the_month_across_month_ends_and_february() -> None:
    got = fires("0 9 1 * *", datetime(2023, 1, 15, tzinfo=UTC_ZONE), 4)
    assert [f.strftime("%Y-%m-%d %H:%M") for f in got] == [
        "2023-02-01 09:00",
        "2023-03-01 09:00",
        "2023-04-01 09:00",
        "2023-05-01 09:00",
    ]
    last_of_month = fires("0 9 31 * *", datetime(2023, 1, 31, 10, tzinfo=UTC_ZONE), 2)
    assert [f.date().isoformat() for f in last_of_month] == ["2023-03-31", "2023-05-31"]


def test_february_29th_only_in_leap_years() -> None:
    got = fires("0 9 29 2 *", datetime(2023, 1, 1, tzinfo=UTC_ZONE), 2)
    assert [f.date().isoformat() for f in got] == ["2024-02-29", "2028-02-29"]


@pytest.mark.parametrize("weekday", ["0", "7", "sun", "SUN"])
def test_weekday_zero_and_seven_mean_sunday_as_in_cron(weekday: str) -> None:
    got = fires(f"0 9 * * {weekday}", datetime(2023, 1, 4, tzinfo=UTC_ZONE), 2)  # a Wednesday
    assert [f.date().isoformat() for f in got] == ["2023-01-08", "2023-01-15"]
    assert all(f.weekday() == 6 for f in got)


def test_weekday_ranges_and_steps_count_from_sunday() -> None:
    workdays = fires("0 9 * * 1-5", datetime(2023, 1, 7, tzinfo=UTC_ZONE), 5)  # from a Saturday
    assert [f.strftime("%a") for f in workdays] == ["Mon", "Tue", "Wed", "Thu", "Fri"]
    every_other = fires("0 9 * * */2", datetime(2023, 1, 7, 10, tzinfo=UTC_ZONE), 4)  # cron: Sun, Tue, Thu, Sat
    assert [f.strftime("%a") for f in every_other] == ["Sun", "Tue", "Thu", "Sat"]


def test_day_and_weekday_both_restricted_fire_on_either_as_in_cron() -> None:
    got = fires("0 9 1 * 1", datetime(2023, 1, 28, tzinfo=UTC_ZONE), 3)  # the 1st, or any Monday
    assert [f.date().isoformat() for f in got] == ["2023-01-30", "2023-02-01", "2023-02-06"]


def test_time_zone_and_daylight_saving() -> None:
    new_york = ZoneInfo("America/New_York")
    got = fires("0 9 1 * *", datetime(2024, 2, 2, tzinfo=new_york), 2, new_york)
    assert [f.astimezone(UTC).strftime("%m-%d %H:%M") for f in got] == ["03-01 14:00", "04-01 13:00"]
    berlin = ZoneInfo("Europe/Berlin")
    spring = fires("30 2 * * *", datetime(2024, 3, 30, 12, tzinfo=berlin), 2, berlin)
    # 02:30 does not exist on 2024-03-31: it still fires once that night, then at 02:30 again.
    assert [f.astimezone(UTC).strftime("%m-%d %H:%M") for f in spring] == ["03-31 01:30", "04-01 00:30"]
    autumn = fires("30 2 * * *", datetime(2024, 10, 26, 12, tzinfo=berlin), 2, berlin)
    # 02:30 happens twice on 2024-10-27: it fires once.
    assert [f.astimezone(UTC).strftime("%m-%d %H:%M") for f in autumn] == ["10-27 00:30", "10-28 01:30"]


def test_previous_fire_time() -> None:
    trigger = cron_trigger("0 9 1 * *", UTC_ZONE)
    now = datetime(2023, 3, 15, 12, tzinfo=UTC_ZONE)
    assert previous_fire_time(trigger, now) == datetime(2023, 3, 1, 9, tzinfo=UTC_ZONE)
    assert previous_fire_time(trigger, datetime(2023, 3, 1, 9, tzinfo=UTC_ZONE)) == datetime(
        2023, 3, 1, 9, tzinfo=UTC_ZONE
    )
    every_minute = cron_trigger("* * * * *", UTC_ZONE)
    assert previous_fire_time(every_minute, now) == now


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "0 9 1 *",
        "0 9 1 * * *",
        "61 9 1 * *",
        "0 24 1 * *",
        "0 9 32 * *",
        "0 9 1 13 *",
        "0 9 * * 8",
        "0 9 * * funday",
        "a b c d e",
        "0 9 5-1 * *",
        "*/0 9 1 * *",
    ],
)
def test_bad_schedules_name_the_variable(expression: str) -> None:
    with pytest.raises(ConfigError, match="ROUNDUP_SCHEDULE"):
        cron_trigger(expression, UTC_ZONE)


def test_a_day_field_starting_with_a_star_is_anded_with_the_weekday_as_in_cron() -> None:
    got = fires("0 9 */2 * 1", datetime(2024, 3, 14, tzinfo=UTC_ZONE), 3)  # odd days that are Mondays
    assert [f.date().isoformat() for f in got] == ["2024-03-25", "2024-04-01", "2024-04-15"]


@pytest.mark.parametrize("expression", ["0 9 31 2 *", "0 9 30 2 *", "0 9 31 4,6,9,11 *"])
def test_a_date_that_never_comes_is_refused(expression: str) -> None:
    with pytest.raises(ConfigError, match="never fires"):
        cron_trigger(expression, UTC_ZONE)


def test_a_rare_but_real_date_is_accepted() -> None:
    # The 1st of February when it is a Monday (day "*/30" is ANDed with the weekday): 2010, 2016, 2021…
    got = fires("0 9 */30 2 1", datetime(2011, 1, 1, tzinfo=UTC_ZONE), 2)
    assert [f.date().isoformat() for f in got] == ["2016-02-01", "2021-02-01"]
