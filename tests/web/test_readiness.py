"""``/readyz`` for the load balancer: database, published trust list, rate-limit storage."""

from __future__ import annotations

import socket

import pytest
import sqlalchemy as sa

from certsvc.config import Settings
from certsvc.db.database import Database
from certsvc.web.views.health import RATELIMIT_FALLBACK
from tests.web.conftest import Issued, make_app, web_settings


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


def test_ready_with_a_database_a_trust_list_and_memory_limits(issued: Issued) -> None:
    ready = issued.client.get("/readyz")
    body = ready.get_json()
    assert ready.status_code == 200 and body["status"] == "ready"
    assert body["trust_list"] >= 1 and body["revision"]
    assert body["ratelimit"] == {"storage": "memory", "ok": True}


def test_a_redis_that_does_not_answer_leaves_the_process_ready_and_says_so(
    issued: Issued, caplog: pytest.LogCaptureFixture
) -> None:
    app = issued.make_app(ratelimit_storage_uri="redis://127.0.0.1:9/0")
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["ratelimit"] == {
        "storage": "redis",
        "ok": False,
        "note": RATELIMIT_FALLBACK,
    }
    assert "rate-limit storage does not answer" in caplog.text


def test_a_redis_that_answers_is_reported(issued: Issued) -> None:
    if not _redis_answers():
        pytest.skip("no Redis server at 127.0.0.1:6379 (start one to test this)")
    app = issued.make_app(ratelimit_storage_uri="redis://127.0.0.1:6379/0")
    body = app.test_client().get("/readyz").get_json()
    assert body["ratelimit"] == {"storage": "redis", "ok": True}


def test_switched_off_limits_are_reported(issued: Issued) -> None:
    app = issued.make_app(web_rate_limits=False)
    body = app.test_client().get("/readyz").get_json()
    assert body["ratelimit"]["note"] == "rate limits are switched off"


def test_not_ready_when_the_database_does_not_answer_or_is_not_migrated(
    issued: Issued, settings: Settings
) -> None:
    nowhere = Database("postgresql://certsvc@127.0.0.1:9/certsvc")  # nothing listens on 9
    answer = make_app(web_settings(settings), nowhere).test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.get_json() == {"status": "not ready", "reason": "the database does not answer"}

    db = issued.world.db
    revision = db.current_revision()
    with db.engine.begin() as connection:  # as if `certsvc init` had never run
        connection.execute(sa.text("DELETE FROM alembic_version"))
    try:
        answer = issued.client.get("/readyz")
    finally:  # on PostgreSQL the schema outlives this test: put the revision back
        with db.engine.begin() as connection:
            connection.execute(
                sa.text("INSERT INTO alembic_version (version_num) VALUES (:revision)"),
                {"revision": revision},
            )
    assert answer.status_code == 503 and "certsvc init" in answer.get_json()["reason"]
