"""Signing in (password, then TOTP code) and out.

The first step remembers, in the session, only which account passed its password and when; the
second must follow within :data:`CODE_STEP_SECONDS`. Every answer to a failed step is the same
sentence, whatever failed. On success the session is cleared and started afresh (no fixation).
"""

from __future__ import annotations

import time

from flask import (
    Blueprint,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response

from certsvc.console.access import (
    EVERYONE,
    GENERATION,
    ConsoleUser,
    allow,
    current_staff,
    public,
)
from certsvc.console.state import state
from certsvc.staff.models import Role, StaffUser
from certsvc.staff.service import check_code, check_password, record_sign_out
from certsvc.web import i18n

bp = Blueprint("auth", __name__)
CODE_STEP_SECONDS = 300
PENDING = "pending_staff"
PENDING_AT = "pending_at"


def _client() -> str:
    """The address the audit records (whole; the rate limits count an IPv6 client by its /64,
    see certsvc/web/clients.py)."""
    return request.remote_addr or "unknown"


def _landing() -> str:
    user = current_staff()
    if user is not None and not user.has_any(
        frozenset((Role.OPERATOR, Role.APPROVER, Role.AUDITOR))
    ):
        return url_for("users.index")
    return url_for("dashboard.index")


@bp.route("/sign-in", methods=["GET", "POST"])
@public
def sign_in() -> Response | tuple[str, int]:
    if current_staff() is not None:
        return redirect(_landing())
    if request.method == "GET":
        return render_template("sign_in.html", message=None), 200
    username = request.form.get("username", "")[:64]
    password = request.form.get("password", "")[:512]
    with state().db.session() as db_session:
        outcome = check_password(db_session, username, password, client=_client())
        user_id = outcome.user.id if outcome.user is not None else None
    if user_id is None:
        return render_template("sign_in.html", message=_refused()), 401
    session.clear()
    session[PENDING] = user_id
    session[PENDING_AT] = time.time()
    return redirect(url_for("auth.code"))


@bp.route("/sign-in/code", methods=["GET", "POST"])
@public
def code() -> Response | tuple[str, int]:
    user_id = session.get(PENDING)
    started = session.get(PENDING_AT)
    if not isinstance(user_id, int) or not isinstance(started, (int, float)):
        return redirect(url_for("auth.sign_in"))
    if time.time() - started > CODE_STEP_SECONDS:
        session.clear()
        flash(i18n.translate(g.lang, "console.auth.code_expired"), "error")
        return redirect(url_for("auth.sign_in"))
    if request.method == "GET":
        return render_template("code.html", message=None), 200
    entered = request.form.get("code", "")[:16]
    with state().db.session() as db_session:
        outcome = check_code(db_session, user_id, entered, client=_client())
        row = outcome.user
        user = ConsoleUser(row) if row is not None else None
    if user is None:
        return render_template("code.html", message=_refused()), 401
    session.clear()
    login_user(user)
    session[GENERATION] = user.generation
    session["last_seen"] = session["signed_in_at"] = time.time()
    session.permanent = True
    return redirect(_landing())


@bp.post("/sign-out")
@allow(*EVERYONE)
def sign_out() -> Response:
    user = current_staff()
    if user is not None:
        with state().db.session() as db_session:
            row = db_session.get(StaffUser, user.id)
            if row is not None:
                record_sign_out(db_session, row, reason="signed out")
    logout_user()
    session.clear()
    flash(i18n.translate(g.lang, "console.auth.signed_out"), "info")
    return redirect(url_for("auth.sign_in"))


@bp.get("/")
@allow(*EVERYONE)
def home() -> Response:
    return redirect(_landing())


def _refused() -> str:
    return i18n.translate(g.lang, "console.auth.refused")
