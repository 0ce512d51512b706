"""The console's application factory: settings, database, sessions, CSRF, roles, rate limits,
security headers, language, error pages and one blueprint per feature.

``create_console_app(test_config)``: ``test_config`` may hold Flask settings and ``SETTINGS`` /
``DATABASE`` as for the public app (:func:`certsvc.web.app.create_app`). The session key is
``CERTSVC_SECRET_KEY`` (required). Session cookies are Secure, HttpOnly and SameSite=Strict;
a session ends after :data:`IDLE_MINUTES` without a request made by the reader or
:data:`SESSION_HOURS` after sign-in, and signing out (or either time-out) ends every copy of it
(the account's session generation).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import Flask, flash, g, redirect, request, session, url_for
from flask_limiter import Limiter
from flask_login import LoginManager, logout_user
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from certsvc.config import Settings
from certsvc.console import texts
from certsvc.console.access import (
    GENERATION,
    ConsoleUser,
    current_staff,
    refuse_unmarked,
    wants_json,
)
from certsvc.console.state import EXTENSION, ConsoleState, local_time
from certsvc.db.database import Database
from certsvc.errors import ConfigError
from certsvc.staff.models import StaffUser
from certsvc.staff.service import record_sign_out
from certsvc.web import app as public_app
from certsvc.web import i18n
from certsvc.web.clients import client_address

IDLE_MINUTES = 15
SESSION_HOURS = 8  # a working day: a session ends this long after sign-in, however busy
# script-src 'self': the one small script that polls a batch's progress; nothing inline
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
MAX_UPLOAD_BYTES = 32 * 1024 * 1024  # a roster of 100,000 rows fits
SIGN_IN_RATE_LIMIT = "10 per minute"  # per client address, each sign-in step
# requests the page makes by itself: they do not keep an idle session alive
BACKGROUND_ENDPOINTS = frozenset({"batches.progress"})


def create_console_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    config = dict(test_config or {})
    settings: Settings = config.pop("SETTINGS", None) or Settings.from_env()
    db: Database = config.pop("DATABASE", None) or Database(settings.sqlalchemy_url)
    secret = config.pop("SECRET_KEY", None) or settings.secret_key
    if not secret:
        raise ConfigError("the staff console needs a session key: set CERTSVC_SECRET_KEY")
    texts.register()

    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(
        SECRET_KEY=secret,
        SESSION_COOKIE_NAME="certsvc_console",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=IDLE_MINUTES),
        MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES,
        WTF_CSRF_SSL_STRICT=True,
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_uri,
        RATELIMIT_ENABLED=settings.web_rate_limits,
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_KEY_PREFIX="certsvc-console",
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        CONSOLE_SIGN_IN_RATE_LIMIT=SIGN_IN_RATE_LIMIT,
        CONSOLE_IDLE_SECONDS=IDLE_MINUTES * 60,
        CONSOLE_SESSION_SECONDS=SESSION_HOURS * 3600,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    app.config.update(config)
    if settings.web_proxy_hops:
        hops = settings.web_proxy_hops
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )
    limiter = Limiter(client_address, app=app)  # an IPv6 client counts by its /64
    app.extensions[EXTENSION] = ConsoleState(settings, db, limiter)
    app.add_template_filter(local_time, "local")
    CSRFProtect(app)
    _login(app, db)

    from certsvc.console.views import (
        audit,
        auth,
        batches,
        dashboard,
        documents,
        publicity,
        roster,
        users,
    )

    limiter.limit(lambda: str(app.config["CONSOLE_SIGN_IN_RATE_LIMIT"]), methods=["POST"])(auth.bp)
    for module in (auth, users, roster, publicity, batches, documents, audit, dashboard):
        app.register_blueprint(module.bp)

    app.before_request(refuse_unmarked)
    public_app._language(app)
    _idle_timeout(app, db)
    # registered before the public app's headers, so that it runs after them and its own
    # policy and referrer rule replace theirs
    _console_headers(app)
    public_app._security_headers(app, settings)
    public_app._error_handlers(app)
    return app


def _login(app: Flask, db: Database) -> None:
    manager = LoginManager(app)
    manager.session_protection = "strong"
    manager.login_view = "auth.sign_in"
    manager.login_message = ""

    def load(user_id: str) -> ConsoleUser | None:
        if not user_id.isdigit():
            return None
        with db.session() as db_session:
            row = db_session.get(StaffUser, int(user_id))
        if row is None or not row.active:
            return None
        if session.get(GENERATION) != row.session_generation:  # signed out since
            return None
        return ConsoleUser(row)

    manager.user_loader(load)


def _idle_timeout(app: Flask, db: Database) -> Any:
    @app.before_request
    def end_idle_session() -> Response | None:
        user = current_staff()
        if user is None:
            return None
        now = time.time()
        last = session.get("last_seen")
        started = session.get("signed_in_at")
        reason = None
        if isinstance(last, (int, float)) and now - last > app.config["CONSOLE_IDLE_SECONDS"]:
            reason = "idle"
        elif not isinstance(started, (int, float)) or (
            now - started > app.config["CONSOLE_SESSION_SECONDS"]
        ):
            reason = "lifetime"  # also a session from before sign-in times were kept
        if reason is not None:
            with db.session() as db_session:
                row = db_session.get(StaffUser, user.id)
                if row is not None:
                    record_sign_out(db_session, row, reason=reason)
            logout_user()
            session.clear()
            if wants_json():
                return Response("session ended", status=401)
            flash(i18n.translate(g.lang, f"console.auth.{reason}"), "info")
            return redirect(url_for("auth.sign_in"))
        if request.endpoint not in BACKGROUND_ENDPOINTS:
            session["last_seen"] = now
        session.permanent = True
        return None

    return end_idle_session


def _console_headers(app: Flask) -> None:
    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        # the CSRF check compares the Referer with the host over https: keep it on our pages
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers.setdefault("Cache-Control", "no-store")
        return response
