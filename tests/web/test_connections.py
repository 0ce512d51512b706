"""The kept per-thread connection of the registry read (certsvc/web/connections.py): reused,
outside the pool, closed with the engine (never under a running query) and with its thread,
dropped on a failure, retried once after a disconnection."""

from __future__ import annotations

import gc
import os
import threading
import weakref
from typing import Any

import pytest
import sqlalchemy as sa

from certsvc.db.database import Database
from certsvc.web.connections import ThreadConnections, _Kept


@pytest.fixture
def engine(db: Database) -> sa.Engine:
    return db.engine


def _driver(connections: ThreadConnections) -> Any:
    return connections.run(lambda driver: driver)


def _select_one(driver: Any) -> int:
    cursor = driver.cursor()
    try:
        cursor.execute("SELECT 1")
        row = cursor.fetchone()
        return int(row[0])
    finally:
        cursor.close()


def _is_closed(engine: sa.Engine, driver: Any) -> bool:
    try:
        _select_one(driver)
    except engine.dialect.loaded_dbapi.Error:
        return True
    return False


def _in_a_thread(work: Any) -> Any:
    found: list[Any] = []
    thread = threading.Thread(target=lambda: found.append(work()))
    thread.start()
    thread.join()
    return found[0]


def test_each_thread_keeps_one_connection_outside_the_pool(engine: sa.Engine) -> None:
    connections = ThreadConnections(engine)
    mine = _driver(connections)
    assert connections.run(_select_one) == 1
    assert _driver(connections) is mine  # reused, not checked out again
    assert engine.pool.checkedout() == 0  # detached: it holds no pool slot
    theirs = _in_a_thread(lambda: _driver(connections))
    assert theirs is not mine


def test_a_thread_that_ends_closes_its_connection(engine: sa.Engine) -> None:
    connections = ThreadConnections(engine)
    theirs = _in_a_thread(lambda: _driver(connections))
    gc.collect()
    assert _is_closed(engine, theirs)
    assert not _is_closed(engine, _driver(connections))  # this thread's is still open


def test_disposing_of_the_engine_closes_every_thread_connection(engine: sa.Engine) -> None:
    connections = ThreadConnections(engine)
    mine = _driver(connections)
    engine.dispose()
    assert _is_closed(engine, mine)
    fresh = _driver(connections)
    assert fresh is not mine and connections.run(_select_one) == 1


def test_disposal_waits_for_a_running_query_and_the_thread_goes_on(engine: sa.Engine) -> None:
    connections = ThreadConnections(engine)
    started, release = threading.Event(), threading.Event()
    answers: list[int] = []

    def slow_read(driver: Any) -> int:
        started.set()
        release.wait(10)
        return _select_one(driver)  # fails if the connection was closed meanwhile

    reader = threading.Thread(target=lambda: answers.append(connections.run(slow_read)))
    reader.start()
    assert started.wait(10)
    disposer = threading.Thread(target=engine.dispose)
    disposer.start()
    disposer.join(0.3)
    assert disposer.is_alive()  # waiting for the read's lock, not closing under it
    release.set()
    reader.join(10)
    disposer.join(10)
    assert answers == [1] and not disposer.is_alive()


def test_a_failed_query_drops_the_connection_and_is_raised(engine: sa.Engine) -> None:
    connections = ThreadConnections(engine)
    before = _driver(connections)

    def broken(driver: Any) -> None:
        driver.cursor().execute("SELECT * FROM no_such_table")

    with pytest.raises(engine.dialect.loaded_dbapi.Error, match="no_such_table"):
        connections.run(broken)
    assert _is_closed(engine, before)
    assert _driver(connections) is not before and connections.run(_select_one) == 1


def test_a_connection_of_another_process_is_not_closed(engine: sa.Engine) -> None:
    pooled = engine.raw_connection()
    driver = pooled.dbapi_connection
    pooled.detach()
    kept = _Kept(driver)
    kept.pid = os.getpid() + 1  # as if opened before a fork, in the parent
    kept.close()
    assert kept.closed and _select_one(driver) == 1  # the parent's socket was left alone
    driver.close()


def test_the_engine_does_not_keep_the_connections_alive(engine: sa.Engine) -> None:
    connections = ThreadConnections(engine)
    mine = _driver(connections)
    gone = weakref.ref(connections)
    del connections
    gc.collect()
    assert gone() is None
    assert _is_closed(engine, mine)  # closed with its thread's holder
    engine.dispose()  # the listener left behind does nothing


def test_postgresql_connection_is_idle_and_survives_a_server_side_disconnect(
    engine: sa.Engine,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: a server that can end a session")
    connections = ThreadConnections(engine)
    pid = connections.run(lambda driver: driver.info.backend_pid)
    with engine.connect() as admin:
        state = admin.execute(
            sa.text("SELECT state FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        ).scalar_one()
        assert state == "idle"  # autocommit: never left "idle in transaction"
        admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    assert connections.run(_select_one) == 1  # retried on a new connection
    assert connections.run(lambda driver: driver.info.backend_pid) != pid
