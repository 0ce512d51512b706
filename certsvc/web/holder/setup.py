"""Adding the holder pages to the app: only with ``CERTSVC_SECRET_KEY``.

Without the key the holder pages are simply not there (a warning says why) and the public
verification service runs as before; a key shorter than :data:`MIN_SECRET_KEY_LENGTH` stops
the app at start-up with a clear error, as does a rate limit that does not parse.

The session is Flask's signed cookie ``__Host-certsvc-holder`` (Secure, HttpOnly,
SameSite=Lax): it ends after ``CERTSVC_HOLDER_IDLE_MINUTES`` unused (the cookie's signature
is dated and renewed on each request) and ``CERTSVC_HOLDER_SESSION_MINUTES`` after sign-in
(the ``holder_session`` row), or at sign-out. Every POST of a holder blueprint is checked for
its CSRF token (Flask-WTF), before the view runs.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask, g, render_template, request
from flask_limiter import Limiter
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.wrappers import Response

from certsvc.config import Settings
from certsvc.db.database import Database
from certsvc.errors import ConfigError
from certsvc.issuance.store import FileDocumentStore
from certsvc.notifications.service import sender_for
from certsvc.web import i18n
from certsvc.web.holder import texts
from certsvc.web.holder.previews import PreviewCache
from certsvc.web.holder.services import CodeCourier
from certsvc.web.holder.state import EXTENSION, HolderState
from certsvc.web.holder.throttle import Throttle, parse_limits

log = logging.getLogger(__name__)

MIN_SECRET_KEY_LENGTH = 32
BLUEPRINTS = ("holder_auth", "holder_documents", "holder_shares")
SESSION_COOKIE = "__Host-certsvc-holder"
SHARE_PAGES = ("holder_shares.shared", "holder_shares.shared_pdf")


def init_holder(app: Flask, settings: Settings, db: Database, limiter: Limiter) -> bool:
    """Register the holder pages on ``app``; False (and a warning) without a secret key."""
    secret = settings.secret_key
    if not secret:
        log.warning(
            "holder pages are off: set CERTSVC_SECRET_KEY (%d or more characters) to turn them on",
            MIN_SECRET_KEY_LENGTH,
        )
        return False
    if len(secret) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(
            f"CERTSVC_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters: it signs "
            "the holders' sessions and keys their sign-in codes (make one with `python3 -c "
            "'import secrets; print(secrets.token_urlsafe(48))'`)"
        )
    state = HolderState(
        settings=settings,
        db=db,
        store=FileDocumentStore(settings.document_store_dir),
        previews=PreviewCache(settings.data_dir / "cache" / "previews"),
        courier=CodeCourier(
            db,
            sender_for(settings),
            agency_name=settings.agency_name,
            minutes=settings.holder_code_minutes,
        ),
        throttle=Throttle(
            lambda: limiter.storage,
            prefix=str(app.config.get("RATELIMIT_KEY_PREFIX", "certsvc")),
            enabled=settings.web_rate_limits,
        ),
        send_limits=parse_limits("CERTSVC_HOLDER_SEND_LIMIT", settings.holder_send_limit),
        client_send_limits=parse_limits(
            "CERTSVC_HOLDER_CLIENT_SEND_LIMIT", settings.holder_client_send_limit
        ),
        verify_limits=parse_limits("CERTSVC_HOLDER_VERIFY_LIMIT", settings.holder_verify_limit),
    )
    app.extensions[EXTENSION] = state
    app.secret_key = secret
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_REFRESH_EACH_REQUEST=True,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.holder_idle_minutes),
        WTF_CSRF_ENABLED=True,
        WTF_CSRF_CHECK_DEFAULT=False,  # checked for the holder blueprints below
        WTF_CSRF_TIME_LIMIT=None,  # the session's own limits bound the token's life
    )
    texts.register()
    csrf = CSRFProtect(app)

    @app.before_request
    def check_csrf() -> None:
        if request.blueprint in BLUEPRINTS:
            csrf.protect()

    @app.errorhandler(CSRFError)
    def csrf_refused(error: CSRFError) -> tuple[str, int]:
        message = i18n.translate(g.get("lang", i18n.DEFAULT_LANGUAGE), "holder.csrf")
        return render_template("error.html", status=400, message=message), 400

    @app.after_request
    def holder_headers(response: Response) -> Response:
        if request.blueprint in BLUEPRINTS:
            if request.endpoint not in SHARE_PAGES:  # a share link's token stays in its page
                # the forms' CSRF check compares the Referer with the host on HTTPS: send
                # it, to this site only (the public pages send none)
                response.headers.setdefault("Referrer-Policy", "same-origin")
            response.headers.setdefault("X-Robots-Tag", "noindex, nofollow")
            response.vary.add("Cookie")
        return response

    from certsvc.web.holder import auth, documents, shares

    for blueprint in (auth.bp, documents.bp, shares.bp):
        limiter.limit(lambda: settings.web_rate_limit)(blueprint)
        app.register_blueprint(blueprint)
    return True
