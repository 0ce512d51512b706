"""Working days by the official calendar.

Expected dates come from the State Council's notices, e.g. for 2025 National Day/Mid-Autumn:
Oct 1–8 off, Sunday Sep 28 and Saturday Oct 11 are make-up working days; for 2026 Spring
Festival: Feb 15–23 off, Saturdays Feb 14 and Feb 28 are make-up working days. Each case is
also checked against chinesecalendar's own answer where the package can give one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import chinese_calendar
import pytest

from certsvc.errors import CalendarError, ConfigError
from certsvc.publicity import calendar as calendar_module
from certsvc.publicity.calendar import OVERRIDES_SETTING, WorkingDayCalendar, YearSchedule

PACKAGE_YEARS = list(range(2004, 2027))
EXAMPLE_FILE = Path(calendar_module.__file__).with_name("calendar-overrides.example.toml")

# Made-up 2027 data in the overrides format (NOT the real 2027 schedule): Fri Jan 1 off,
# Mon–Wed Feb 8–10 off, Saturday Feb 6 a make-up working day.
EXAMPLE_2027 = """
[years.2027]
source = "EXAMPLE 国务院办公厅关于2027年部分节假日安排的通知"
holidays = [2027-01-01, 2027-02-08, 2027-02-09, 2027-02-10]
makeup_workdays = [2027-02-06]
"""


def write_overrides(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "calendar-overrides.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def package_calendar() -> WorkingDayCalendar:
    return WorkingDayCalendar()


def test_package_data_matches_the_official_2025_and_2026_notices() -> None:
    # The facts the expectations below rely on, as the package records them.
    assert {date(2025, 10, d) for d in range(1, 9)} <= set(chinese_calendar.holidays)
    assert {date(2025, 9, 28), date(2025, 10, 11)} <= set(chinese_calendar.workdays)
    assert {date(2026, 2, d) for d in range(15, 24)} <= set(chinese_calendar.holidays)
    assert {date(2026, 2, 14), date(2026, 2, 28)} <= set(chinese_calendar.workdays)


@pytest.mark.parametrize(
    ("start", "working_days", "expected"),
    [
        pytest.param(date(2025, 3, 10), 5, date(2025, 3, 14), id="ordinary-week-mon-to-fri"),
        pytest.param(date(2025, 3, 8), 5, date(2025, 3, 14), id="start-saturday-counts-from-mon"),
        pytest.param(date(2025, 3, 10), 1, date(2025, 3, 10), id="one-day-on-a-working-day"),
        pytest.param(date(2025, 3, 9), 1, date(2025, 3, 10), id="one-day-from-a-sunday"),
        # 9/26 Fri, 9/28 Sun (make-up), 9/29, 9/30, then Oct 1-8 off, 10/9 Thu.
        pytest.param(date(2025, 9, 26), 5, date(2025, 10, 9), id="national-day-2025"),
        # 9/28 Sun (make-up) is day 1: 9/28, 9/29, 9/30, 10/9, 10/10.
        pytest.param(date(2025, 9, 28), 5, date(2025, 10, 10), id="start-on-makeup-sunday"),
        # 10/9, 10/10, 10/11 Sat (make-up), 10/13, 10/14.
        pytest.param(date(2025, 10, 1), 5, date(2025, 10, 14), id="start-on-a-holiday"),
        # 2/13 Fri, 2/14 Sat (make-up), Feb 15-23 off, 2/24, 2/25, 2/26.
        pytest.param(date(2026, 2, 13), 5, date(2026, 2, 26), id="spring-festival-2026"),
        pytest.param(date(2025, 12, 29), 5, date(2026, 1, 5), id="into-2026-new-year"),
    ],
)
def test_working_day_end(
    package_calendar: WorkingDayCalendar, start: date, working_days: int, expected: date
) -> None:
    assert package_calendar.working_day_end(start, working_days) == expected
    # find_workday(n - 1, start) is the package's "n-th working day, start included".
    assert chinese_calendar.find_workday(working_days - 1, start) == expected
    assert package_calendar.count_working_days(start, expected) == working_days


@pytest.mark.parametrize("working_days", [0, -1], ids=["zero", "negative"])
def test_working_day_end_needs_at_least_one_day(
    package_calendar: WorkingDayCalendar, working_days: int
) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        package_calendar.working_day_end(date(2025, 3, 10), working_days)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        pytest.param(date(2025, 9, 27), False, id="ordinary-saturday"),
        pytest.param(date(2025, 9, 28), True, id="makeup-sunday-2025-09-28"),
        pytest.param(date(2025, 10, 8), False, id="national-day-wednesday"),
        pytest.param(date(2025, 10, 11), True, id="makeup-saturday-2025-10-11"),
        pytest.param(date(2026, 2, 14), True, id="makeup-saturday-2026-02-14"),
        pytest.param(date(2026, 2, 23), False, id="spring-festival-monday-2026"),
        pytest.param(date(2026, 3, 2), True, id="ordinary-monday"),
    ],
)
def test_is_working_day(package_calendar: WorkingDayCalendar, day: date, expected: bool) -> None:
    assert package_calendar.is_working_day(day) is expected


def test_is_working_day_agrees_with_the_package_for_every_known_day(
    package_calendar: WorkingDayCalendar,
) -> None:
    day, last = date(2004, 1, 1), date(2026, 12, 31)
    while day <= last:
        assert package_calendar.is_working_day(day) is chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_is_working_day_refuses_a_datetime(package_calendar: WorkingDayCalendar) -> None:
    with pytest.raises(TypeError, match="datetime"):
        package_calendar.is_working_day(datetime(2025, 10, 1, 9, 0))


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        # 9/26, 9/28 (make-up), 9/29, 9/30, 10/9, 10/10, 10/11 (make-up); Oct 1-8 off.
        pytest.param(date(2025, 9, 26), date(2025, 10, 12), 7, id="across-national-day-2025"),
        pytest.param(date(2025, 3, 10), date(2025, 3, 16), 5, id="ordinary-mon-to-sun"),
        pytest.param(date(2025, 3, 10), date(2025, 3, 10), 1, id="single-working-day"),
        pytest.param(date(2025, 10, 1), date(2025, 10, 8), 0, id="holiday-only"),
    ],
)
def test_count_working_days(
    package_calendar: WorkingDayCalendar, first: date, last: date, expected: int
) -> None:
    assert package_calendar.count_working_days(first, last) == expected
    assert len(chinese_calendar.get_workdays(first, last)) == expected


def test_count_working_days_is_zero_when_first_is_after_last(
    package_calendar: WorkingDayCalendar,
) -> None:
    assert package_calendar.count_working_days(date(2025, 3, 14), date(2025, 3, 10)) == 0


def test_known_years_without_overrides(package_calendar: WorkingDayCalendar) -> None:
    assert list(package_calendar.known_years()) == PACKAGE_YEARS
    assert package_calendar.schedule_for(2025).source == (
        f"chinesecalendar {chinese_calendar.__version__}"
    )


@pytest.mark.parametrize(
    ("year", "action"),
    [
        pytest.param(
            2027,
            lambda cal: cal.working_day_end(date(2026, 12, 28), 5),
            id="working-day-end-across-year-end",
        ),
        pytest.param(
            2027,
            lambda cal: cal.count_working_days(date(2026, 12, 30), date(2027, 1, 2)),
            id="count-across-year-end",
        ),
        pytest.param(2027, lambda cal: cal.is_working_day(date(2027, 1, 1)), id="is-working-day"),
        pytest.param(2003, lambda cal: cal.schedule_for(2003), id="year-before-the-package"),
    ],
)
def test_unknown_year_is_an_error_not_a_guess(
    package_calendar: WorkingDayCalendar, year: int, action: Callable[[WorkingDayCalendar], object]
) -> None:
    with pytest.raises(CalendarError) as raised:
        action(package_calendar)
    message = str(raised.value)
    assert f"year {year}" in message
    assert "2004–2026" in message
    assert OVERRIDES_SETTING in message
    assert "State Council" in message


def test_overrides_file_adds_next_year(tmp_path: Path) -> None:
    path = write_overrides(tmp_path, EXAMPLE_2027)
    cal = WorkingDayCalendar.from_overrides_file(path)

    # 12/28, 12/29, 12/30, 12/31, then Jan 1 off and a weekend: Mon 2027-01-04.
    assert cal.working_day_end(date(2026, 12, 28), 5) == date(2027, 1, 4)
    # 2/5 Fri, 2/6 Sat (make-up), Feb 8-10 off, 2/11 Thu.
    assert cal.working_day_end(date(2027, 2, 5), 3) == date(2027, 2, 11)
    assert list(cal.known_years()) == [*PACKAGE_YEARS, 2027]
    schedule = cal.schedule_for(2027)
    assert schedule.makeup_workdays == frozenset({date(2027, 2, 6)})
    assert str(path) in schedule.source
    assert "2027年部分节假日安排" in schedule.source


def test_override_replaces_a_year_the_package_knows(tmp_path: Path) -> None:
    path = write_overrides(
        tmp_path,
        """
        [years.2025]
        source = "test: only New Year's Day"
        holidays = [2025-01-01]
        makeup_workdays = []
        """,
    )
    cal = WorkingDayCalendar.from_overrides_file(path)

    assert cal.is_working_day(date(2025, 10, 1)) is True  # no National Day in the override
    assert cal.is_working_day(date(2025, 9, 28)) is False  # nor its make-up Sunday
    assert cal.working_day_end(date(2025, 9, 26), 5) == date(2025, 10, 2)
    assert str(path) in cal.schedule_for(2025).source
    assert cal.schedule_for(2026).source.startswith("chinesecalendar")
    assert list(cal.known_years()) == PACKAGE_YEARS


def test_holidays_on_a_weekend_are_allowed(tmp_path: Path) -> None:
    path = write_overrides(
        tmp_path,
        """
        [years.2027]
        source = "test"
        holidays = [2027-01-01, 2027-01-02, 2027-01-03]  # Fri, Sat, Sun
        makeup_workdays = []
        """,
    )
    cal = WorkingDayCalendar.from_overrides_file(path)
    assert cal.count_working_days(date(2027, 1, 1), date(2027, 1, 3)) == 0


def test_example_file_is_valid_and_marked_as_example() -> None:
    cal = WorkingDayCalendar.from_overrides_file(EXAMPLE_FILE)
    assert 2099 in cal.known_years()
    assert "EXAMPLE" in cal.schedule_for(2099).source
    assert "NOT REAL DATA" in EXAMPLE_FILE.read_text(encoding="utf-8")


def test_no_overrides_path_means_no_overrides() -> None:
    assert list(WorkingDayCalendar.from_overrides_file(None).known_years()) == PACKAGE_YEARS


def test_missing_overrides_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError) as raised:
        WorkingDayCalendar.from_overrides_file(path)
    assert str(path) in str(raised.value)
    assert OVERRIDES_SETTING in str(raised.value)
    assert "does not exist" in str(raised.value)


def test_overrides_path_that_is_a_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot read") as raised:
        WorkingDayCalendar.from_overrides_file(tmp_path)
    assert OVERRIDES_SETTING in str(raised.value)


def year_2027(holidays: str = "[2027-01-01]", makeup: str = "[]", extra: str = "") -> str:
    return (
        f'[years.2027]\nsource = "test"\nholidays = {holidays}\nmakeup_workdays = {makeup}\n{extra}'
    )


@pytest.mark.parametrize(
    ("text", "expected_fragments"),
    [
        pytest.param(
            year_2027(holidays='["2027-01-01"]'),
            ["[years.2027]", "holidays entry '2027-01-01' is not a TOML date", "unquoted"],
            id="date-as-string",
        ),
        pytest.param(
            year_2027(holidays="[2027-01-01T00:00:00]"),
            ["[years.2027]", "holidays entry datetime.datetime(2027, 1, 1, 0, 0)", "TOML date"],
            id="datetime-instead-of-date",
        ),
        pytest.param(
            year_2027(holidays="[2026-12-31]"),
            ["[years.2027]", "holidays entry 2026-12-31 is not in 2027"],
            id="holiday-outside-the-year",
        ),
        pytest.param(
            year_2027(makeup="[2028-01-01]"),
            ["[years.2027]", "makeup_workdays entry 2028-01-01 is not in 2027"],
            id="makeup-outside-the-year",
        ),
        pytest.param(
            year_2027(holidays="[2027-01-01, 2027-02-06]", makeup="[2027-02-06]"),
            ["[years.2027]", "2027-02-06 is in both holidays and makeup_workdays"],
            id="date-in-both-lists",
        ),
        pytest.param(
            year_2027(makeup="[2027-01-04]"),
            ["[years.2027]", "makeup_workdays entry 2027-01-04 is a Monday", "Saturdays"],
            id="makeup-on-a-weekday",
        ),
        pytest.param(
            year_2027(holidays="[2027-01-01, 2027-01-01]"),
            ["[years.2027]", "holidays entry 2027-01-01 is listed twice"],
            id="duplicate-date",
        ),
        pytest.param(
            year_2027(holidays="2027-01-01"),
            ["[years.2027]", "holidays must be a list of dates"],
            id="holidays-not-a-list",
        ),
        pytest.param(
            year_2027(holidays="[]"),
            ["[years.2027]", "holidays is empty"],
            id="no-holidays",
        ),
        pytest.param(
            year_2027(extra='notes = "x"\n'),
            ["[years.2027]", "unknown key(s) ['notes']"],
            id="unknown-key-in-year",
        ),
        pytest.param(
            '[years.2027]\nsource = "test"\nholidays = [2027-01-01]\nmakeup_workday = []\n',
            ["[years.2027]", "unknown key(s) ['makeup_workday']"],
            id="misspelled-key",
        ),
        pytest.param(
            '[years.2027]\nsource = "test"\nholidays = [2027-01-01]\n',
            ["[years.2027]", "missing key(s) ['makeup_workdays']"],
            id="missing-key",
        ),
        pytest.param(
            '[years.2027]\nsource = " "\nholidays = [2027-01-01]\nmakeup_workdays = []\n',
            ["[years.2027]", "source must be a non-empty string"],
            id="blank-source",
        ),
        pytest.param(
            '[years.27]\nsource = "t"\nholidays = [2027-01-01]\nmakeup_workdays = []\n',
            ["year key '27' is not a 4-digit year"],
            id="two-digit-year-key",
        ),
        pytest.param(
            '[years.next]\nsource = "t"\nholidays = [2027-01-01]\nmakeup_workdays = []\n',
            ["year key 'next' is not a 4-digit year"],
            id="non-numeric-year-key",
        ),
        pytest.param(
            "years = 2027\n",
            ["no [years.YYYY] tables"],
            id="years-not-a-table",
        ),
        pytest.param(
            "# nothing here\n",
            ["no [years.YYYY] tables"],
            id="empty-file",
        ),
        pytest.param(
            year_2027() + "[settings]\nstrict = true\n",
            ["unknown top-level key(s) ['settings']"],
            id="unknown-top-level-key",
        ),
        pytest.param(
            "[years.2027\n",
            ["is not valid TOML", OVERRIDES_SETTING],
            id="invalid-toml",
        ),
    ],
)
def test_malformed_overrides_file(tmp_path: Path, text: str, expected_fragments: list[str]) -> None:
    path = write_overrides(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        WorkingDayCalendar.from_overrides_file(path)
    message = str(raised.value)
    assert str(path) in message
    for fragment in expected_fragments:
        assert fragment in message


def test_override_mapping_must_match_schedule_year() -> None:
    schedule = YearSchedule(
        year=2027, holidays=frozenset(), makeup_workdays=frozenset(), source="test"
    )
    with pytest.raises(ValueError, match="override for 2028 holds a schedule for 2027"):
        WorkingDayCalendar({2028: schedule})
