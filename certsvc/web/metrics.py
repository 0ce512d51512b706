"""Prometheus metrics of the web service, and who may read them.

Counted per process (and added up over gunicorn's workers in prometheus_client's multiprocess
mode, when ``PROMETHEUS_MULTIPROC_DIR`` is set before the process starts, as
``deploy/gunicorn.conf.py`` does):

- ``certsvc_verifications_total{channel, verdict}``: every verification the staff counts see;
- ``certsvc_http_request_duration_seconds{endpoint, method}``: a histogram per route, named by
  its endpoint (``pages.token_page``), never by its path, so no token or number is a label;
- ``certsvc_http_responses_total{endpoint, status}``;
- ``certsvc_rate_limited_total{endpoint}``: 429 answers;
- ``certsvc_uploads_refused_total{reason}``: uploads refused as files (missing, too large,
  not a PDF, unreadable);

and read from the database at each scrape: the newest status list's sequence number (which
counts the publications), issue time and ``next_update``, and the newest trust list's
``next_update``, so that an alert can fire before verifiers are left with an expired list.

``GET /metrics`` exists only with ``CERTSVC_METRICS_ENABLED=true`` and answers only when both
the client address (as ProxyFix resolves it from ``X-Forwarded-For``) and the address of the
connection itself lie in ``CERTSVC_METRICS_ALLOW`` (default: this host); anyone else gets the
same 404 as for a path that does not exist. Checking the connection too means a forged
``X-Forwarded-For`` sent straight to gunicorn cannot pass, and a request relayed by the public
proxy (whose client is on the internet) cannot either.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from ipaddress import ip_address

from flask import Blueprint, Flask, Response, abort, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlmodel import col, select

from certsvc.config import Settings, metrics_networks
from certsvc.db.database import Database
from certsvc.keys.models import PublicationKind, TrustPublication
from certsvc.logs import STARTED_ENVIRON
from certsvc.revocation.models import StatusListPublication
from certsvc.web.counting import VerificationCounter

log = logging.getLogger(__name__)

EXTENSION = "certsvc.metrics"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UPLOAD_ENDPOINTS = frozenset({"pages.upload", "api.verify_pdf"})
UPLOAD_REFUSALS = {400: "missing", 413: "too_large", 415: "not_pdf", 422: "unreadable"}


class WebMetrics:
    """The web's metrics, registered on one registry (one per app: tests make many apps)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.verifications = Counter(
            "certsvc_verifications",
            "Verifications by channel (token, pdf, lookup) and verdict (or refused, no-match)",
            ["channel", "verdict"],
            registry=registry,
        )
        self.duration = Histogram(
            "certsvc_http_request_duration_seconds",
            "Time to answer a request, by route endpoint and method",
            ["endpoint", "method"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.responses = Counter(
            "certsvc_http_responses",
            "Responses by route endpoint and HTTP status",
            ["endpoint", "status"],
            registry=registry,
        )
        self.rate_limited = Counter(
            "certsvc_rate_limited",
            "Requests refused by a rate limit (429), by route endpoint",
            ["endpoint"],
            registry=registry,
        )
        self.uploads_refused = Counter(
            "certsvc_uploads_refused",
            "Uploaded files refused before verification, by reason",
            ["reason"],
            registry=registry,
        )

    def verification(self, channel: str, verdict: str) -> None:
        self.verifications.labels(channel, verdict).inc()

    def response(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "other"
        self.duration.labels(endpoint, method).observe(seconds)
        self.responses.labels(endpoint, str(status)).inc()
        if status == 429:
            self.rate_limited.labels(endpoint).inc()
        elif endpoint in UPLOAD_ENDPOINTS and method == "POST" and status in UPLOAD_REFUSALS:
            self.uploads_refused.labels(UPLOAD_REFUSALS[status]).inc()


class PublicationCollector(Collector):
    """The newest status list and trust list, read from the database at each scrape."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        try:
            with self.db.session() as session:
                status = session.exec(
                    select(StatusListPublication)
                    .order_by(col(StatusListPublication.sequence).desc())
                    .limit(1)
                ).first()
                trust = session.exec(
                    select(TrustPublication)
                    .where(TrustPublication.kind == PublicationKind.TRUST_LIST)
                    .order_by(col(TrustPublication.number).desc())
                    .limit(1)
                ).first()
        except Exception:  # a scrape must not fail because the database does not answer
            log.warning("metrics: the publications could not be read", exc_info=True)
            return
        publications = CounterMetricFamily(
            "certsvc_status_list_publications",
            "Status lists signed and published (the newest list's sequence number)",
            value=status.sequence if status else 0,
        )
        yield publications
        if status is not None:
            yield _gauge(
                "certsvc_status_list_issued_timestamp_seconds",
                "When the newest status list was signed",
                status.issued_at.timestamp(),
            )
            yield _gauge(
                "certsvc_status_list_next_update_timestamp_seconds",
                "When the newest status list expires (verifiers refuse it after this)",
                status.next_update.timestamp(),
            )
        if trust is not None:
            yield _gauge(
                "certsvc_trust_list_next_update_timestamp_seconds",
                "When the newest trust list expires",
                trust.next_update.timestamp(),
            )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def exposition(web: WebMetrics, db: Database) -> bytes:
    """The text format: this process's registry, or every process's files in multiprocess
    mode, with the publications read from the database."""
    folder = multiprocess_dir()
    if folder is None:
        return generate_latest(web.registry)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
    registry.register(PublicationCollector(db))
    return generate_latest(registry)


def may_read(remote_addr: str | None, peer_addr: str | None, allowed: str) -> bool:
    """Whether both the resolved client and the connection's peer are in ``allowed``."""
    networks = metrics_networks(allowed)
    for text in (remote_addr, peer_addr):
        try:
            address = ip_address(text or "")
        except ValueError:
            return False
        if not any(address in network for network in networks):
            return False
    return True


def init_app(
    app: Flask, settings: Settings, db: Database, counter: VerificationCounter
) -> WebMetrics:
    """Count every verification and response; serve ``/metrics`` when enabled (see the module
    text)."""
    registry = CollectorRegistry(auto_describe=False)  # collect the database only on a scrape
    web = WebMetrics(registry)
    counter.listeners.append(web.verification)
    registry.register(PublicationCollector(db))
    app.extensions[EXTENSION] = web

    def start() -> None:
        request.environ.setdefault(STARTED_ENVIRON, time.perf_counter())

    def observe(response: Response) -> Response:
        started = request.environ.get(STARTED_ENVIRON)
        seconds = 0.0 if started is None else time.perf_counter() - float(started)
        web.response(request.endpoint or "unmatched", request.method, response.status_code, seconds)
        return response

    app.before_request_funcs.setdefault(None, []).insert(0, start)
    app.after_request_funcs.setdefault(None, []).insert(0, observe)

    if settings.metrics_enabled:
        bp = Blueprint("metrics", __name__)

        @bp.get("/metrics")
        def metrics() -> Response:
            original = request.environ.get("werkzeug.proxy_fix.orig") or {}
            peer = original.get("REMOTE_ADDR", request.remote_addr)
            if not may_read(request.remote_addr, peer, settings.metrics_allow):
                abort(404)
            return Response(exposition(web, db), mimetype=CONTENT_TYPE_LATEST)

        app.register_blueprint(bp)
    return web


def web_metrics(app: Flask) -> WebMetrics:
    found = app.extensions[EXTENSION]
    assert isinstance(found, WebMetrics)
    return found
