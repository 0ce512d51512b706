"""What the console app holds: settings, database, rate limiter, calendar, import checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from zoneinfo import ZoneInfo

from flask import current_app
from flask_limiter import Limiter

from certsvc.config import Settings
from certsvc.db.database import Database
from certsvc.publicity.calendar import WorkingDayCalendar
from certsvc.roster.fit import DocumentChecks

EXTENSION = "certsvc-console"


@dataclass
class ConsoleState:
    settings: Settings
    db: Database
    limiter: Limiter

    @cached_property
    def calendar(self) -> WorkingDayCalendar:
        return WorkingDayCalendar.from_overrides_file(self.settings.calendar_overrides)

    @cached_property
    def document_checks(self) -> DocumentChecks:
        """What an import checks of each row's documents (fonts and layouts: measured once)."""
        return DocumentChecks.for_settings(self.settings)

    @cached_property
    def zone(self) -> ZoneInfo:
        """The bureau's time zone: the days and times the console shows and filters by."""
        return ZoneInfo(self.settings.timezone)

    def today(self) -> date:
        """Today in the bureau's time zone, as the command line reckons it."""
        return datetime.now(self.zone).date()

    def local(self, moment: datetime) -> datetime:
        """A stored time (UTC; a naive one is read as UTC) in the bureau's time zone."""
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        return aware.astimezone(self.zone)


def state() -> ConsoleState:
    found = current_app.extensions[EXTENSION]
    assert isinstance(found, ConsoleState)
    return found


def local_time(moment: datetime, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """The template filter ``local``: a stored time as the bureau's staff read it."""
    return state().local(moment).strftime(pattern)
