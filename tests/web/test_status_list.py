"""``GET /status/list.jws``: the newest published status list, with caching headers, 304s,
and a clear 503 when there is none or it is out of date. The clock is injected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient

from certsvc.revocation import service
from certsvc.revocation.models import StatusListPublication
from certsvc.revocation.status_list import verify_status_list
from certsvc.transparency.service import trust_from_database
from tests.web.conftest import Issued, make_app, web_settings


def _start() -> datetime:
    """A moment after the fixture's signer began to sign: the tests' clock starts here."""
    return datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)


def _client(issued: Issued, at: datetime) -> FlaskClient:
    world = issued.world
    app = make_app(web_settings(world.settings), world.db, CERTSVC_CLOCK=lambda: at)
    return app.test_client()


def _publish(issued: Issued, at: datetime, hours: int = 2) -> StatusListPublication:
    world = issued.world
    return service.publish_now(
        world.db,
        world.settings,
        world.ctx.keystore,
        actor="test:publisher",
        passphrase=world.passphrase,
        now=at,
        validity=timedelta(hours=hours),
    )


def test_nothing_published_is_a_clear_503(issued: Issued) -> None:
    t0 = _start()
    response = _client(issued, t0).get("/status/list.jws")
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "status_list_unpublished"
    assert "certsvc status publish" in response.get_json()["error"]["message"]
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Retry-After"] == "300"


def test_the_newest_list_is_served_with_caching_headers_and_304s(issued: Issued) -> None:
    t0 = _start()
    published = _publish(issued, t0)
    client = _client(issued, t0 + timedelta(minutes=10))
    response = client.get("/status/list.jws")
    assert response.status_code == 200
    assert response.data == bytes(published.content)
    assert response.headers["Content-Type"] == "application/certsvc-status-list+jwt"
    assert response.headers["Cache-Control"] == "public, max-age=300, must-revalidate"
    assert response.headers["ETag"] == f'"{published.sha256}"'
    assert response.headers["X-Status-List-Sequence"] == "1"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    last_modified = response.headers["Last-Modified"]
    with issued.world.db.session() as session:
        verified = verify_status_list(
            response.data,
            trust_from_database(session),
            t0 + timedelta(minutes=10),
            expected_url="http://localhost:8000/status/list.jws",
        )
    assert verified.sequence == 1

    etag = response.headers["ETag"]
    same = client.get("/status/list.jws", headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.data == b""
    assert same.headers["ETag"] == etag
    since = client.get("/status/list.jws", headers={"If-Modified-Since": last_modified})
    assert since.status_code == 304
    other = client.get("/status/list.jws", headers={"If-None-Match": '"not-this-one"'})
    assert other.status_code == 200 and other.data == response.data

    # a newer list replaces it at once, with another ETag
    newer = _publish(issued, t0 + timedelta(minutes=20))
    fresh = _client(issued, t0 + timedelta(minutes=21)).get(
        "/status/list.jws", headers={"If-None-Match": etag}
    )
    assert fresh.status_code == 200 and fresh.data == bytes(newer.content)
    assert fresh.headers["X-Status-List-Sequence"] == "2"


def test_a_cache_never_keeps_the_list_past_its_next_update(issued: Issued) -> None:
    t0 = _start()
    _publish(issued, t0, hours=2)
    late = _client(issued, t0 + timedelta(hours=2) - timedelta(minutes=4)).get("/status/list.jws")
    assert late.status_code == 200
    assert late.headers["Cache-Control"] == "public, max-age=60, must-revalidate"


def test_a_list_past_its_next_update_is_a_503_that_says_so(issued: Issued) -> None:
    t0 = _start()
    _publish(issued, t0, hours=1)
    response = _client(issued, t0 + timedelta(hours=1)).get("/status/list.jws")
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "status_list_expired"
    assert "sequence 1" in error["message"] and "due to be replaced" in error["message"]
    assert response.headers["Cache-Control"] == "no-store"
