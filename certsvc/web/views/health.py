"""``/healthz``: the process answers. ``/readyz``: the database answers and is migrated."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify

from certsvc.errors import StateError
from certsvc.web.state import state

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz() -> Response:
    return Response("ok\n", mimetype="text/plain")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    db = state().db
    try:
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        db.require_migrated()
    except StateError as exc:
        return jsonify({"status": "not ready", "reason": str(exc)}), 503
    except sa.exc.SQLAlchemyError:
        log.warning("readiness: the database does not answer", exc_info=True)
        return jsonify({"status": "not ready", "reason": "the database does not answer"}), 503
    return jsonify({"status": "ready", "revision": db.current_revision()}), 200
