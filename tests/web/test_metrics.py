"""``/metrics``: off unless enabled, only to the allowed networks, and counting what happened."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from certsvc.config import Settings
from certsvc.db.database import Database
from certsvc.db.types import utcnow
from certsvc.errors import ConfigError
from certsvc.revocation.models import StatusListPublication
from certsvc.web.metrics import may_read
from tests.web.conftest import FakeVerifier, make_app, web_settings
from tests.web.tokens import SAMPLE_TOKEN

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
LOCAL = {"REMOTE_ADDR": "127.0.0.1"}


def scrape(client: FlaskClient, environ: dict[str, str] | None = None) -> Samples:
    response = client.get("/metrics", environ_base=environ or LOCAL)
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/plain"
    found: Samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def metrics_app(settings: Settings, db: Database, verifier: FakeVerifier, **changes: Any) -> Flask:
    changes.setdefault("metrics_enabled", True)
    return make_app(web_settings(settings, **changes), db, VERIFIER=verifier)


def test_metrics_are_off_unless_enabled(client: FlaskClient) -> None:
    assert client.get("/metrics", environ_base=LOCAL).status_code == 404


def test_verifications_latency_and_responses_are_counted_by_endpoint(
    settings: Settings, db: Database, fake_verifier: FakeVerifier
) -> None:
    client = metrics_app(settings, db, fake_verifier).test_client()
    before = scrape(client)
    assert value(before, "certsvc_verifications_total", channel="token", verdict="genuine") == 0
    for _ in range(3):
        assert client.get(f"/api/v1/verify/token/{SAMPLE_TOKEN}").status_code == 200
    assert client.get(f"/v/{SAMPLE_TOKEN}").status_code == 200
    assert client.get("/v/12345").status_code == 400  # does not decode: refused
    assert client.get("/no/such/page/4242").status_code == 404
    after = scrape(client)

    assert value(after, "certsvc_verifications_total", channel="token", verdict="genuine") == 4
    assert value(after, "certsvc_verifications_total", channel="token", verdict="refused") == 1
    api = {"endpoint": "api.verify_token", "method": "GET"}
    assert value(after, "certsvc_http_request_duration_seconds_count", **api) == 3
    assert value(after, "certsvc_http_request_duration_seconds_bucket", le="+Inf", **api) == 3
    assert value(after, "certsvc_http_request_duration_seconds_sum", **api) > 0
    page = {"endpoint": "pages.token_page", "status": "400"}
    assert value(after, "certsvc_http_responses_total", **page) == 1
    assert value(after, "certsvc_http_responses_total", endpoint="unmatched", status="404") == 1
    # labels are endpoint names: no token, number or path in the exposition
    text = client.get("/metrics", environ_base=LOCAL).get_data(as_text=True)
    assert SAMPLE_TOKEN[:20] not in text and "12345" not in text and "4242" not in text


def test_rate_limited_answers_are_counted(
    settings: Settings, db: Database, fake_verifier: FakeVerifier
) -> None:
    client = metrics_app(settings, db, fake_verifier, web_rate_limit="2 per minute").test_client()
    one = {"REMOTE_ADDR": "192.0.2.1"}
    statuses = [client.get(f"/v/{SAMPLE_TOKEN}", environ_base=one).status_code for _ in range(5)]
    assert statuses == [200, 200, 429, 429, 429]
    samples = scrape(client)
    assert value(samples, "certsvc_rate_limited_total", endpoint="pages.token_page") == 3
    assert value(samples, "certsvc_rate_limited_total", endpoint="api.verify_token") == 0


def test_refused_uploads_are_counted_by_reason(
    settings: Settings, db: Database, fake_verifier: FakeVerifier
) -> None:
    client = metrics_app(settings, db, fake_verifier, web_max_upload_bytes=2048).test_client()
    text = {"file": (io.BytesIO(b"hello, not a pdf"), "x.pdf")}
    assert client.post("/verify", data=text).status_code == 415
    large = {"file": (io.BytesIO(b"%PDF-" + b"0" * 4096), "x.pdf")}
    assert client.post("/verify", data=large).status_code == 413
    body = b"%PDF-1.7 not really"
    api = client.post("/api/v1/verify/pdf", data=body, content_type="application/pdf")
    assert api.status_code == 200  # the fake verifier judges it: not refused as a file
    assert client.post("/api/v1/verify/pdf", data=b"GIF89a", content_type="image/gif").status_code
    samples = scrape(client)
    assert value(samples, "certsvc_uploads_refused_total", reason="not_pdf") == 2
    assert value(samples, "certsvc_uploads_refused_total", reason="too_large") == 1
    assert value(samples, "certsvc_verifications_total", channel="pdf", verdict="genuine") == 1


def test_status_list_publications_are_read_from_the_database(
    settings: Settings, db: Database, fake_verifier: FakeVerifier
) -> None:
    client = metrics_app(settings, db, fake_verifier).test_client()
    assert value(scrape(client), "certsvc_status_list_publications_total") == 0
    now = utcnow().replace(microsecond=0)
    with db.session() as session:
        for sequence in (1, 2):
            session.add(
                StatusListPublication(
                    sequence=sequence,
                    issued_at=now,
                    next_update=now + timedelta(hours=24 + sequence),
                    length=131072,
                    flagged=0,
                    key_id="0123456789abcdef",
                    content=b"x",
                    sha256="00" * 32,
                    created_by="test",
                )
            )
    samples = scrape(client)
    assert value(samples, "certsvc_status_list_publications_total") == 2
    expires = (now + timedelta(hours=26)).timestamp()
    assert value(samples, "certsvc_status_list_next_update_timestamp_seconds") == expires
    assert value(samples, "certsvc_status_list_issued_timestamp_seconds") == now.timestamp()


@pytest.mark.parametrize(
    ("changes", "environ", "headers"),
    [
        ({}, {"REMOTE_ADDR": "203.0.113.9"}, {}),
        # straight to gunicorn with a forged header: the connection is not allowed
        ({"web_proxy_hops": 1}, {"REMOTE_ADDR": "203.0.113.9"}, {"X-Forwarded-For": "127.0.0.1"}),
        # relayed by a local proxy for an internet client
        ({"web_proxy_hops": 1}, LOCAL, {"X-Forwarded-For": "203.0.113.9"}),
        ({"metrics_allow": "10.0.0.0/8"}, LOCAL, {}),
        ({"metrics_allow": ""}, LOCAL, {}),
    ],
    ids=["outside", "forged-forwarded-for", "through-the-proxy", "not-listed", "none-allowed"],
)
def test_metrics_are_refused_outside_the_allowed_networks(
    settings: Settings,
    db: Database,
    fake_verifier: FakeVerifier,
    changes: dict[str, Any],
    environ: dict[str, str],
    headers: dict[str, str],
) -> None:
    client = metrics_app(settings, db, fake_verifier, **changes).test_client()
    refused = client.get("/metrics", environ_base=environ, headers=headers)
    assert refused.status_code == 404
    assert b"certsvc_" not in refused.data
    # the same app answers an allowed scraper
    allowed = changes.get("metrics_allow") or "127.0.0.1/32"
    if allowed.startswith("10."):
        assert scrape(client, {"REMOTE_ADDR": "10.1.2.3"})
    elif changes.get("metrics_allow") != "":
        assert scrape(client)


def test_allowed_networks_are_parsed_and_checked() -> None:
    assert may_read("10.1.2.3", "10.200.0.1", "127.0.0.1/32, 10.0.0.0/8")
    assert may_read("::1", "::1", "127.0.0.1/32,::1/128")
    assert not may_read("10.1.2.3", "192.0.2.1", "10.0.0.0/8")
    assert not may_read("not an address", "10.1.2.3", "10.0.0.0/8")
    assert not may_read(None, None, "0.0.0.0/0")
    with pytest.raises(ConfigError, match=re.escape("CERTSVC_METRICS_ALLOW: '10.0.0.300/8'")):
        Settings.from_env({"CERTSVC_METRICS_ALLOW": "10.0.0.300/8"})
