"""Every verification counted by day, channel and verdict, for the staff dashboard.

Nothing about the verifier or the document is kept: no address, no number, no name, no time
finer than the day. Each process counts in memory and adds its counts to
``verification_count`` at most every ``CERTSVC_WEB_COUNT_FLUSH_SECONDS`` (0: at once), so that
a busy verification page does not queue on one row; what a process counted but has not added
yet is added when it exits.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, tzinfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from certsvc.db.database import Database
from certsvc.web.models import VerificationCount

log = logging.getLogger(__name__)

CHANNELS = ("token", "pdf", "lookup", "share")  # share: a holder's share link opened
_table = VerificationCount.__table__  # type: ignore[attr-defined]


class VerificationCounter:
    """Counts by the bureau's day (``zone``, ``CERTSVC_TIMEZONE``), the day the staff
    dashboard shows: a scan at 07:30 in Beijing is that day's, not the UTC day before."""

    def __init__(self, db: Database, flush_seconds: int, zone: tzinfo = UTC) -> None:
        self._db = db
        self._zone = zone
        self._flush_seconds = flush_seconds
        self._lock = threading.Lock()
        self._pending: Counter[tuple[date, str, str]] = Counter()
        self._last_flush = time.monotonic()
        self.listeners: list[Callable[[str, str], None]] = []  # told of each count (metrics)
        atexit.register(self.flush)

    def add(self, channel: str, verdict: str, *, day: date | None = None) -> None:
        if channel not in CHANNELS:
            raise ValueError(f"unknown verification channel {channel!r}")
        key = (day or datetime.now(self._zone).date(), channel, verdict[:32])
        for listener in self.listeners:
            listener(channel, key[2])
        with self._lock:
            self._pending[key] += 1
            due = time.monotonic() - self._last_flush >= self._flush_seconds
        if due:
            self.flush()

    def flush(self) -> None:
        """Add the pending counts to the table (kept for the next flush if that fails)."""
        with self._lock:
            pending, self._pending = self._pending, Counter()
            self._last_flush = time.monotonic()
        if not pending:
            return
        try:
            with self._db.session() as session:
                for (day, channel, verdict), count in sorted(pending.items()):
                    session.execute(self._upsert(day, channel, verdict, count))
        except sa.exc.SQLAlchemyError:
            log.warning("verification counts not saved yet; kept for the next attempt")
            with self._lock:
                self._pending.update(pending)

    def _upsert(self, day: date, channel: str, verdict: str, count: int) -> sa.Executable:
        values = {"day": day, "channel": channel, "verdict": verdict, "count": count}
        dialect = self._db.backend
        if dialect == "postgresql":
            pg = postgresql.insert(_table).values(**values)
            return pg.on_conflict_do_update(
                index_elements=["day", "channel", "verdict"],
                set_={"count": _table.c.count + pg.excluded.count},
            )
        if dialect == "sqlite":
            lite = sqlite.insert(_table).values(**values)
            return lite.on_conflict_do_update(
                index_elements=["day", "channel", "verdict"],
                set_={"count": _table.c.count + lite.excluded.count},
            )
        raise RuntimeError(f"verification counts are not supported on {dialect}")

    def close(self) -> None:
        self.flush()
        atexit.unregister(self.flush)


def counts(db: Database) -> dict[tuple[date, str, str], int]:
    """Every stored count (for the dashboard and the tests)."""
    with db.session() as session:
        rows = session.execute(
            sa.select(_table.c.day, _table.c.channel, _table.c.verdict, _table.c.count)
        ).all()
    return {(row[0], row[1], row[2]): int(row[3]) for row in rows}
