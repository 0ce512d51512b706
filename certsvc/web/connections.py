"""One database connection per thread, kept, for the one read every QR scan makes.

A pool check-out costs more than the registry query itself (and on PostgreSQL
``pool_pre_ping`` adds a round trip, the rollback on return another). So each thread takes one
driver connection from the engine's pool once, detaches it (it holds no pool slot), sets
PostgreSQL's autocommit (a read never leaves a transaction open) and keeps it:

* **Failures.** A query that fails drops the connection; when the database says it was a
  disconnection (a restarted server), the read is tried once more on a fresh one.
* **Disposal.** Disposing of the engine closes every kept connection. Each has a lock its
  thread holds while it runs a query, so a connection is never closed under a running query:
  the closer waits, and the owner finds it closed and opens another.
* **Threads that end.** A thread's connection is closed when the thread ends (its holder is
  dropped with the thread's local data), so a server starting a thread per request does not
  gather connections.
* **Forks.** A connection opened in another process (a fork after a read) is left alone, not
  closed: its socket is the parent's.

Budget: each web process may hold one such connection per thread beyond its pool
(``pool_size`` + ``max_overflow``); size PostgreSQL's ``max_connections`` for that.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa

log = logging.getLogger(__name__)

T = TypeVar("T")


class _Kept:
    """One thread's connection: its driver connection, its lock, whether it is closed."""

    __slots__ = ("__weakref__", "closed", "driver", "lock", "pid")

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self.lock = threading.Lock()
        self.closed = False
        self.pid = os.getpid()

    def close(self) -> None:
        with self.lock:
            self.shut()

    def shut(self) -> None:
        """:meth:`close` for a caller that holds the lock (the owner, after a failed read)."""
        if not self.closed:
            _close_driver(self.driver, self.pid)
            self.closed = True


def _close_driver(driver: Any, pid: int) -> None:
    if pid != os.getpid():  # another process's socket: not this process's to end
        return
    try:
        driver.close()  # the driver's own close: no rollback tried on a broken connection
    except Exception:
        log.debug("closing a kept database connection failed", exc_info=True)


class ThreadConnections:
    """Each thread's kept driver connection for ``engine`` (see the module text)."""

    def __init__(self, engine: sa.Engine, set_up: Callable[[Any], None] | None = None) -> None:
        self.engine = engine
        self._set_up = set_up  # called with each new driver connection
        self._local = threading.local()
        self._lock = threading.Lock()
        self._every: weakref.WeakSet[_Kept] = weakref.WeakSet()
        registry = weakref.ref(self)

        def disposed(_engine: sa.Engine) -> None:
            kept = registry()
            if kept is not None:
                kept.close()

        sa.event.listen(engine, "engine_disposed", disposed)

    def close(self) -> None:
        """Close every thread's connection (each thread opens a new one when next asked)."""
        with self._lock:
            every = list(self._every)
        for kept in every:
            kept.close()

    def run(self, work: Callable[[Any], T]) -> T:
        """``work(driver_connection)`` on this thread's connection; once more on a fresh one
        after a disconnection. ``work`` must only read: it may run twice."""
        dialect = self.engine.dialect
        failures = 0
        while True:
            kept = self._kept()  # a closed one is replaced
            with kept.lock:
                if kept.closed:  # closed by a disposal since this thread took it
                    continue
                try:
                    return work(kept.driver)
                except dialect.loaded_dbapi.Error as exc:
                    disconnected = dialect.is_disconnect(exc, kept.driver, None)
                    kept.shut()
                    failures += 1
                    if failures == 2 or not disconnected:
                        raise

    def _kept(self) -> _Kept:
        kept: _Kept | None = getattr(self._local, "kept", None)
        if kept is not None and not kept.closed and kept.pid == os.getpid():
            return kept
        pooled = self.engine.raw_connection()
        driver = pooled.dbapi_connection
        if self.engine.dialect.name == "postgresql":
            driver.autocommit = True  # type: ignore[union-attr]
        pooled.detach()  # this thread's own now; it holds no pool slot
        if self._set_up is not None:
            self._set_up(driver)
        kept = _Kept(driver)
        weakref.finalize(kept, _close_driver, driver, kept.pid)  # when the thread ends
        with self._lock:
            self._every.add(kept)
        self._local.kept = kept
        return kept
