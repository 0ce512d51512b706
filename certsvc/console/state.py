"""What the console app holds: settings, database, rate limiter, calendar, import checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
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

    def today(self) -> date:
        """Today in the bureau's time zone, as the command line reckons it."""
        return datetime.now(ZoneInfo(self.settings.timezone)).date()


def state() -> ConsoleState:
    found = current_app.extensions[EXTENSION]
    assert isinstance(found, ConsoleState)
    return found
