"""Working days by mainland China's official calendar, for the publicity period (公示).

Results must be shown publicly for at least N *working days*. A working day is a Monday to
Friday that is not a public holiday, or a Saturday/Sunday that the State Council has made a
make-up working day (调休上班). Each year's schedule comes from the State Council's notice
(国务院办公厅关于××年部分节假日安排的通知), usually published in November of the year before.

The schedules come from the ``chinesecalendar`` package, which knows a fixed range of years.
For any other year — typically next year, once its notice is out but before the package is
upgraded — the bureau adds the year to an overrides file, named by the setting
``CERTSVC_CALENDAR_OVERRIDES``. An override replaces the package's data for that whole year.
A year that neither knows is an error (``CalendarError``): the calendar never guesses.

Overrides file format (TOML; dates are TOML local dates, not quoted strings)::

    [years.2027]
    source = "国务院办公厅关于2027年部分节假日安排的通知 (国办发明电〔2026〕X号)"
    holidays = [2027-01-01, 2027-02-05]   # days off; holidays on a weekend may be listed
    makeup_workdays = [2027-02-07]         # Saturdays/Sundays that are working days

Every year table needs all three keys (``makeup_workdays = []`` if there are none); every date
must lie in the table's year; a date may not be in both lists; make-up working days must be
Saturdays or Sundays; other keys are refused. See ``calendar-overrides.example.toml``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import chinese_calendar

from certsvc.errors import CalendarError, ConfigError

OVERRIDES_SETTING = "CERTSVC_CALENDAR_OVERRIDES"

_ONE_DAY = timedelta(days=1)
_YEAR_KEY = re.compile(r"[0-9]{4}")
_YEAR_KEYS = ("source", "holidays", "makeup_workdays")


@dataclass(frozen=True)
class YearSchedule:
    """One year's official schedule: the exceptions to "Monday to Friday"."""

    year: int
    holidays: frozenset[date]  # days off that would otherwise be working days (weekends harmless)
    makeup_workdays: frozenset[date]  # weekend days that are working days (调休上班)
    source: str  # where the data came from, for the record of how a deadline was computed

    def is_working_day(self, day: date) -> bool:
        if day in self.makeup_workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


class WorkingDayCalendar:
    """Answers working-day questions for the package's years plus any overridden years."""

    def __init__(self, overrides: Mapping[int, YearSchedule] | None = None) -> None:
        self._overrides = dict(overrides or {})
        for year, schedule in self._overrides.items():
            if schedule.year != year:
                raise ValueError(f"override for {year} holds a schedule for {schedule.year}")

    @classmethod
    def from_overrides_file(cls, path: Path | None) -> WorkingDayCalendar:
        """The calendar with the overrides in ``path``; ``None`` means no overrides."""
        if path is None:
            return cls()
        return cls(_load_overrides(path))

    def known_years(self) -> list[int]:
        return sorted(set(_package_schedules()) | set(self._overrides))

    def schedule_for(self, year: int) -> YearSchedule:
        schedule = self._overrides.get(year)
        if schedule is None:
            schedule = _package_schedules().get(year)
        if schedule is None:
            raise CalendarError(
                f"The working-day calendar does not know the year {year} "
                f"(known years: {_describe_years(self.known_years())}). Once the State Council "
                f"publishes the {year} holiday schedule (国务院办公厅关于{year}年部分节假日安排"
                f"的通知), add the year to the overrides file named by the setting "
                f"{OVERRIDES_SETTING}; certsvc will not guess working days."
            )
        return schedule

    def is_working_day(self, day: date) -> bool:
        if isinstance(day, datetime):  # a datetime never equals the dates in the schedule
            raise TypeError(f"expected a date, got the datetime {day!r}")
        return self.schedule_for(day.year).is_working_day(day)

    def working_day_end(self, start: date, working_days: int) -> date:
        """The last day of a period of ``working_days`` working days starting on ``start``.

        ``start`` is day 1 if it is a working day; otherwise counting begins at the next one.
        """
        if working_days < 1:
            raise ValueError(f"working_days must be at least 1, got {working_days}")
        day, remaining = start, working_days
        while True:
            if self.is_working_day(day):
                remaining -= 1
                if remaining == 0:
                    return day
            day += _ONE_DAY

    def count_working_days(self, first: date, last: date) -> int:
        """Working days from ``first`` to ``last``, both included; 0 if ``first > last``."""
        count, day = 0, first
        while day <= last:
            if self.is_working_day(day):
                count += 1
            day += _ONE_DAY
        return count


@cache
def _package_schedules() -> dict[int, YearSchedule]:
    holidays: list[date] = list(chinese_calendar.holidays)
    workdays: list[date] = list(chinese_calendar.workdays)
    source = f"chinesecalendar {chinese_calendar.__version__}"
    # The package answers for every year from its first listed holiday to its last.
    years = range(min(holidays).year, max(holidays).year + 1)
    return {
        year: YearSchedule(
            year=year,
            holidays=frozenset(day for day in holidays if day.year == year),
            makeup_workdays=frozenset(day for day in workdays if day.year == year),
            source=source,
        )
        for year in years
    }


def _describe_years(years: list[int]) -> str:
    """``[2004, 2005, 2006, 2028]`` -> ``"2004–2006, 2028"``."""
    runs: list[list[int]] = []
    for year in years:
        if runs and runs[-1][-1] == year - 1:
            runs[-1].append(year)
        else:
            runs.append([year])
    return ", ".join(str(run[0]) if len(run) == 1 else f"{run[0]}–{run[-1]}" for run in runs)


def _load_overrides(path: Path) -> dict[int, YearSchedule]:
    if not path.exists():
        raise ConfigError(
            f"The calendar overrides file {path} (setting {OVERRIDES_SETTING}) does not exist."
        )
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except OSError as error:
        raise ConfigError(
            f"Cannot read the calendar overrides file {path} ({OVERRIDES_SETTING}): {error}"
        ) from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(
            f"The calendar overrides file {path} ({OVERRIDES_SETTING}) is not valid TOML: {error}"
        ) from error

    unknown = sorted(set(data) - {"years"})
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key(s) {unknown}; only [years.YYYY] tables")
    years = data.get("years")
    if not isinstance(years, dict) or not years:
        raise ConfigError(f"{path}: no [years.YYYY] tables; see the module documentation")

    overrides: dict[int, YearSchedule] = {}
    for key, table in years.items():
        if not _YEAR_KEY.fullmatch(key):
            raise ConfigError(f"{path}: year key {key!r} is not a 4-digit year, e.g. [years.2027]")
        year = int(key)
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: years.{key} must be a table [years.{key}]")
        overrides[year] = _parse_year(path, year, table)
    return overrides


def _parse_year(path: Path, year: int, table: dict[str, Any]) -> YearSchedule:
    where = f"{path}: [years.{year}]"
    unknown = sorted(set(table) - set(_YEAR_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {list(_YEAR_KEYS)}")
    missing = [key for key in _YEAR_KEYS if key not in table]
    if missing:
        raise ConfigError(f"{where}: missing key(s) {missing}")

    source = table["source"]
    if not isinstance(source, str) or not source.strip():
        raise ConfigError(f"{where}: source must be a non-empty string naming the notice")
    holidays = _parse_dates(where, year, "holidays", table["holidays"])
    makeup = _parse_dates(where, year, "makeup_workdays", table["makeup_workdays"])
    if not holidays:
        raise ConfigError(f"{where}: holidays is empty; every year has public holidays")
    both = sorted(holidays & makeup)
    if both:
        raise ConfigError(f"{where}: {both[0]} is in both holidays and makeup_workdays")
    for day in sorted(makeup):
        if day.weekday() < 5:
            raise ConfigError(
                f"{where}: makeup_workdays entry {day} is a {day:%A}; make-up working days are "
                "Saturdays or Sundays (a weekday is a working day anyway)"
            )
    return YearSchedule(
        year=year,
        holidays=holidays,
        makeup_workdays=makeup,
        source=f"overrides file {path} ({source.strip()})",
    )


def _parse_dates(where: str, year: int, key: str, value: object) -> frozenset[date]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: {key} must be a list of dates, e.g. [{year}-01-01]")
    days: set[date] = set()
    for entry in value:
        if isinstance(entry, datetime) or not isinstance(entry, date):
            raise ConfigError(
                f"{where}: {key} entry {entry!r} is not a TOML date; write it unquoted, "
                f"with no time, e.g. {year}-01-01"
            )
        if entry.year != year:
            raise ConfigError(f"{where}: {key} entry {entry} is not in {year}")
        if entry in days:
            raise ConfigError(f"{where}: {key} entry {entry} is listed twice")
        days.add(entry)
    return frozenset(days)
