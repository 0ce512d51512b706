"""What every command needs: settings, the database, the calendar, who is acting, and today."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property
from zoneinfo import ZoneInfo

from rich.console import Console

from certsvc.config import Settings
from certsvc.db.database import Database
from certsvc.errors import ConfigError
from certsvc.keys.service import KeyStore, keystore_for
from certsvc.publicity.calendar import WorkingDayCalendar

PIPED_WIDTH = 200  # when output goes to a file or another program, do not wrap tables at 80


def _console(*, stderr: bool) -> Console:
    # markup off: names, committees and objection texts come from data and may hold brackets
    console = Console(stderr=stderr, markup=False, highlight=False)
    if console.is_terminal:
        return console
    return Console(stderr=stderr, markup=False, highlight=False, width=PIPED_WIDTH)


@dataclass
class CliContext:
    settings: Settings
    actor_override: str | None = None
    console: Console = field(default_factory=lambda: _console(stderr=False))
    err: Console = field(default_factory=lambda: _console(stderr=True))

    @cached_property
    def db(self) -> Database:
        try:
            return Database(self.settings.sqlalchemy_url, echo=self.settings.sql_echo)
        except ModuleNotFoundError as exc:
            raise ConfigError(
                f"CERTSVC_DATABASE_URL needs a database driver that is not installed ({exc.name}); "
                "certsvc supports sqlite:/// and postgresql:// URLs"
            ) from None

    def migrated_db(self) -> Database:
        """The database, refusing to go on if ``certsvc init`` has not been run."""
        self.db.require_migrated()
        return self.db

    @cached_property
    def keystore(self) -> KeyStore:
        return keystore_for(self.settings.key_dir, self.settings.public_base_url)

    def now(self) -> datetime:
        return datetime.now(UTC)

    @cached_property
    def calendar(self) -> WorkingDayCalendar:
        return WorkingDayCalendar.from_overrides_file(self.settings.calendar_overrides)

    @property
    def actor(self) -> str:
        actor = self.actor_override or self.settings.actor
        if not actor:
            try:
                actor = getpass.getuser()
            except (KeyError, OSError):
                actor = "unknown"
        return f"cli:{actor}"[:64]

    def today(self) -> date:
        """Today in the bureau's time zone (publicity days are Beijing dates)."""
        return datetime.now(ZoneInfo(self.settings.timezone)).date()
