"""The JSON API's shape and its OpenAPI document; rate limits per client address."""

from __future__ import annotations

import socket
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from certsvc.config import Settings
from certsvc.db.database import Database
from tests.web.conftest import FakeVerifier, make_app, web_settings
from tests.web.tokens import SAMPLE_TOKEN


def test_the_openapi_document_is_valid_and_names_every_api_route(
    client: FlaskClient, fake_app: Flask
) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.get_json()
    validate(document)  # OpenAPI 3.1 schema
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "http://localhost:8000/api/v1"}]
    documented = {
        (path, method.upper())
        for path, item in document["paths"].items()
        if "servers" not in item  # a route outside /api/v1 names its own server
        for method in item
    }
    outside = {path for path, item in document["paths"].items() if "servers" in item}
    assert outside == {"/status/list.jws"}
    assert document["paths"]["/status/list.jws"]["servers"] == [{"url": "http://localhost:8000"}]
    assert "/status/list.jws" in {rule.rule for rule in fake_app.url_map.iter_rules()}
    routes = set()
    for rule in fake_app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = rule.rule.removeprefix("/api/v1").replace("<", "{").replace(">", "}")
            for method in rule.methods or ():
                if method not in ("HEAD", "OPTIONS"):
                    routes.add((path, method))
    assert routes == documented


def test_verify_by_token_answers_with_the_verdict(client: FlaskClient) -> None:
    response = client.get(f"/api/v1/verify/token/{SAMPLE_TOKEN}")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    verdict = response.get_json()
    assert verdict["verdict"] == "genuine" and verdict["genuine_and_current"] is True
    assert verdict["document"]["holder_name"] == "阿卜杜热合曼·买买提"
    assert verdict["document"]["qualified_on"] == "2025-09-20"
    assert verdict["checked_at"] == "2026-11-22T06:00:00Z"
    assert verdict["checks"][0] == {
        "code": "token.decode",
        "title": "The QR token is a certsvc token",
        "outcome": "passed",
        "detail": "",
    }
    assert set(verdict["document"]) == {
        "document_number",
        "document_type",
        "holder_name",
        "qualification_name",
        "series",
        "specialty",
        "level",
        "qualified_on",
        "issued_on",
        "agency_name",
        "signer_key_id",
    }


def test_api_errors_are_json_with_a_code_and_a_message(client: FlaskClient) -> None:
    cases = [
        (client.get("/api/v1/verify/token/12x"), 400, "bad_token"),
        (client.get("/api/v1/no-such-route"), 404, "not_found"),
        (client.delete("/api/v1/verify/pdf"), 405, "method_not_allowed"),
        (client.post("/api/v1/verify/pdf", data=b""), 400, "missing_file"),
        (client.post("/api/v1/status", json={"number": "", "name": "x"}), 400, "missing_field"),
        (client.post("/api/v1/status", json={"number": "2025", "name": "x"}), 400, "bad_number"),
        (
            client.post("/api/v1/status", json={"number": "2025-110000-GC2Z-000123K", "name": "x"}),
            400,
            "bad_check_character",
        ),
        (client.get("/api/v1/log/head"), 404, "no_tree_head"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, (code, response.data)
        body = response.get_json()
        assert body["error"]["code"] == code
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def test_status_accepts_json_form_and_query(client: FlaskClient) -> None:
    number = "2025-110000-GC2Z-000123N"
    for response in (
        client.post("/api/v1/status", json={"number": number, "name": "张三"}),
        client.post("/api/v1/status", data={"number": number, "name": "张三"}),
        client.get(f"/api/v1/status?number={number}&name=张三"),
    ):
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "no_match"


def test_limits_are_published(client: FlaskClient) -> None:
    assert client.get("/api/v1/limits").get_json() == {
        "max_upload_bytes": 5 * 1024 * 1024,
        "max_upload": "5 MB",
        "max_pages": 10,
    }


def _limited_app(settings: Settings, db: Database, verifier: FakeVerifier, **changes: Any) -> Flask:
    values = {"web_rate_limit": "5 per minute", "web_lookup_rate_limit": "3 per minute"}
    values.update(changes)
    return make_app(web_settings(settings, **values), db, VERIFIER=verifier)


def test_each_client_address_gets_429_after_its_limit(
    settings: Settings, db: Database, fake_verifier: FakeVerifier
) -> None:
    client = _limited_app(settings, db, fake_verifier).test_client()
    one = {"REMOTE_ADDR": "192.0.2.1"}
    statuses = [client.get(f"/v/{SAMPLE_TOKEN}", environ_base=one).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    limited = client.get(f"/v/{SAMPLE_TOKEN}", environ_base=one)
    assert "查验过于频繁" in limited.get_data(as_text=True)
    assert "Retry-After" in limited.headers
    api = client.get(f"/api/v1/verify/token/{SAMPLE_TOKEN}", environ_base=one)
    assert api.status_code == 200  # each blueprint counts on its own
    other = client.get(f"/v/{SAMPLE_TOKEN}", environ_base={"REMOTE_ADDR": "192.0.2.2"})
    assert other.status_code == 200
    # the trust material and health checks are not limited
    for _ in range(10):
        assert client.get("/healthz", environ_base=one).status_code == 200


def test_api_rate_limit_answers_in_json(
    settings: Settings, db: Database, fake_verifier: FakeVerifier
) -> None:
    client = _limited_app(settings, db, fake_verifier).test_client()
    for _ in range(5):
        assert client.get(f"/api/v1/verify/token/{SAMPLE_TOKEN}").status_code == 200
    response = client.get(f"/api/v1/verify/token/{SAMPLE_TOKEN}")
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "rate_limited"


def test_lookups_have_a_tighter_limit_shared_by_page_and_api(
    settings: Settings, db: Database, fake_verifier: FakeVerifier
) -> None:
    client = _limited_app(settings, db, fake_verifier).test_client()
    form = {"number": "2025-110000-GC2Z-000123N", "name": "张三"}
    assert client.post("/lookup", data=form).status_code == 200
    assert client.post("/api/v1/status", json=form).status_code == 404
    assert client.post("/lookup", data=form).status_code == 200
    assert client.post("/api/v1/status", json=form).status_code == 429
    assert client.post("/lookup", data=form).status_code == 429


def test_addresses_of_one_ipv6_network_share_the_public_limits(
    settings: Settings, db: Database, fake_verifier: FakeVerifier
) -> None:
    """An IPv6 subscriber holds a whole /64: a fresh address per request is the same client,
    for the verification pages and for the tighter look-up limit alike."""
    client = _limited_app(settings, db, fake_verifier).test_client()
    statuses = [
        client.get(
            f"/v/{SAMPLE_TOKEN}", environ_base={"REMOTE_ADDR": f"2001:db8:1:2::{n:x}"}
        ).status_code
        for n in range(1, 7)
    ]
    assert statuses == [200] * 5 + [429]
    elsewhere = {"REMOTE_ADDR": "2001:db8:1:3::1"}  # the next /64: another subscriber
    assert client.get(f"/v/{SAMPLE_TOKEN}", environ_base=elsewhere).status_code == 200
    form = {"number": "2025-110000-GC2Z-000123N", "name": "张三"}
    lookups = [
        client.post(
            "/lookup", data=form, environ_base={"REMOTE_ADDR": f"2001:db8:7:7::{n:x}"}
        ).status_code
        for n in range(1, 5)
    ]
    assert lookups == [200] * 3 + [429]


def test_rate_limits_can_be_switched_off(
    settings: Settings, db: Database, fake_verifier: FakeVerifier
) -> None:
    app = _limited_app(settings, db, fake_verifier, web_rate_limits=False)
    client = app.test_client()
    form = {"number": "2025-110000-GC2Z-000123N", "name": "张三"}
    for _ in range(12):
        assert client.get(f"/v/{SAMPLE_TOKEN}").status_code == 200
        assert client.post("/lookup", data=form).status_code == 200


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


def test_rate_limits_are_shared_through_redis(
    settings: Settings, db: Database, fake_verifier: FakeVerifier
) -> None:
    if not _redis_answers():
        pytest.skip("no Redis server at 127.0.0.1:6379 (start one to test shared rate limits)")
    prefix = f"certsvc-test-{uuid.uuid4().hex}"
    shared = {"ratelimit_storage_uri": "redis://127.0.0.1:6379/0"}
    # two apps stand for two gunicorn workers: the limit is counted across both
    first, second = (
        make_app(
            web_settings(settings, web_rate_limit="4 per minute", **shared),
            db,
            VERIFIER=fake_verifier,
            RATELIMIT_KEY_PREFIX=prefix,
        ).test_client()
        for _ in range(2)
    )
    statuses = [
        (first if i % 2 else second).get(f"/v/{SAMPLE_TOKEN}").status_code for i in range(6)
    ]
    assert statuses == [200] * 4 + [429, 429]


def test_verification_goes_on_when_the_rate_limit_storage_is_down(
    settings: Settings, db: Database, fake_verifier: FakeVerifier
) -> None:
    down = web_settings(settings, ratelimit_storage_uri="redis://127.0.0.1:9/0")
    client = make_app(down, db, VERIFIER=fake_verifier).test_client()
    assert client.get(f"/v/{SAMPLE_TOKEN}").status_code == 200
    form = {"number": "2025-110000-GC2Z-000123N", "name": "张三"}
    assert client.post("/api/v1/status", json=form).status_code == 404
