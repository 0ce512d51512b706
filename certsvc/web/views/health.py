"""``/healthz``: the process answers (liveness). ``/readyz``: it can do its work (readiness).

Ready (200) when the database answers and is migrated and a trust list is published (without
one no token or PDF can be verified). When the rate limits count in Redis, Redis is checked
too, but a Redis that does not answer leaves the process ready: the limiter counts in each
process's memory until Redis is back (limits per process rather than shared), and taking every
web process out of the load balancer for that would turn weaker limits into an outage. The
body says so (``"ratelimit": {"ok": false, …}``), and so does a warning in the log.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify
from sqlmodel import col, select

from certsvc.errors import StateError
from certsvc.keys.models import PublicationKind, TrustPublication
from certsvc.web.state import WebState, state

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)

REDIS_SCHEMES = ("redis", "rediss", "redis+sentinel", "redis+cluster")
RATELIMIT_FALLBACK = (
    "the rate-limit storage does not answer: each process counts in its own memory until it is back"
)


@bp.get("/healthz")
def healthz() -> Response:
    return Response("ok\n", mimetype="text/plain")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    web = state()
    db = web.db
    try:
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        db.require_migrated()
        with db.session() as session:
            trust_list = session.exec(
                select(TrustPublication.number)
                .where(TrustPublication.kind == PublicationKind.TRUST_LIST)
                .order_by(col(TrustPublication.number).desc())
                .limit(1)
            ).first()
    except StateError as exc:
        return _not_ready(str(exc))
    except sa.exc.SQLAlchemyError:
        log.warning("readiness: the database does not answer", exc_info=True)
        return _not_ready("the database does not answer")
    if trust_list is None:
        return _not_ready("no trust list is published (`certsvc keys export-trust`)")
    body: dict[str, Any] = {
        "status": "ready",
        "revision": db.current_revision(),
        "trust_list": trust_list,
        "ratelimit": _ratelimit(web),
    }
    return jsonify(body), 200


def _not_ready(reason: str) -> tuple[Response, int]:
    return jsonify({"status": "not ready", "reason": reason}), 503


def _ratelimit(web: WebState) -> dict[str, Any]:
    uri = web.settings.ratelimit_storage_uri
    scheme = urlsplit(uri).scheme
    if not web.settings.web_rate_limits:
        return {"storage": scheme, "ok": True, "note": "rate limits are switched off"}
    if scheme not in REDIS_SCHEMES:
        return {"storage": scheme, "ok": True}
    try:
        answers = bool(web.limiter.storage.check())
    except Exception:  # a storage whose check raises is as down as one that says so
        answers = False
    if answers:
        return {"storage": scheme, "ok": True}
    log.warning("readiness: %s", RATELIMIT_FALLBACK)
    return {"storage": scheme, "ok": False, "note": RATELIMIT_FALLBACK}
