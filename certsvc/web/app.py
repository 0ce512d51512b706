"""The application factory: settings, database, verifier, rate limits, security headers, the
reader's language, error pages, and one blueprint per feature.

``create_app(test_config)``: ``test_config`` may hold Flask settings and, for tests and the
benchmark, ``SETTINGS`` (a :class:`~certsvc.config.Settings`), ``DATABASE`` (a
:class:`~certsvc.db.database.Database`) and ``VERIFIER`` (a
:class:`~certsvc.web.verifying.Verifier`). Without them everything comes from the
``CERTSVC_*`` environment. The app holds public material only: it never opens the key folder.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from flask import Flask, Response, g, jsonify, render_template, request
from flask_limiter import Limiter
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix

from certsvc import logs
from certsvc.config import Settings
from certsvc.db.database import Database
from certsvc.web import i18n, metrics
from certsvc.web.clients import client_address
from certsvc.web.counting import VerificationCounter
from certsvc.web.json_provider import OrjsonProvider
from certsvc.web.links import PageLinks
from certsvc.web.present import check_rows
from certsvc.web.state import EXTENSION, WebState
from certsvc.web.verifying import CoreVerifier, Verifier

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
API_PREFIX = "/api/"
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    config = dict(test_config or {})
    settings = config.pop("SETTINGS", None) or Settings.from_env()
    db = config.pop("DATABASE", None) or Database(settings.sqlalchemy_url)
    verifier: Verifier = config.pop("VERIFIER", None) or CoreVerifier(db, settings)

    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.json = OrjsonProvider(app)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.web_max_upload_bytes,
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_uri,
        RATELIMIT_ENABLED=settings.web_rate_limits,
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_KEY_PREFIX="certsvc",
        # Redis down: count in this process's memory until it is back, rather than fail
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        PREFERRED_URL_SCHEME=urlsplit(settings.public_base_url).scheme,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    app.config.update(config)
    if settings.web_proxy_hops:
        hops = settings.web_proxy_hops
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )

    limiter = Limiter(client_address, app=app)
    counter = VerificationCounter(db, settings.web_count_flush_seconds, ZoneInfo(settings.timezone))
    app.extensions[EXTENSION] = WebState(settings, db, verifier, counter, limiter)

    from certsvc.web.views import api, health, lookup, pages, status_list, wellknown

    for blueprint in (pages.bp, lookup.bp, api.bp):
        limiter.limit(lambda: settings.web_rate_limit)(blueprint)
    for blueprint in (pages.bp, lookup.bp, api.bp, wellknown.bp, health.bp, status_list.bp):
        app.register_blueprint(blueprint)
    from certsvc.web.views import publicity  # 公示名单, for sessions in publicity

    publicity.register(app, limiter)

    _language(app)
    _security_headers(app, settings)
    _error_handlers(app)

    from certsvc.web.holder.setup import init_holder

    init_holder(app, settings, db, limiter)  # only with CERTSVC_SECRET_KEY
    logs.init_app(app, settings)
    metrics.init_app(app, settings, db, counter)
    return app


def _language(app: Flask) -> None:
    links = PageLinks(app)
    app.add_template_global(check_rows)  # the same function for every page

    @app.before_request
    def choose_language() -> None:
        if request.path.startswith(API_PREFIX):  # the API answers in English, remembers nothing
            g.lang_asked, g.lang = None, "en"
            return
        asked = i18n.normalise_language(request.args.get("lang"))
        g.lang_asked = asked
        g.lang = asked or i18n.normalise_language(request.cookies.get(i18n.COOKIE))
        g.lang = g.lang or i18n.DEFAULT_LANGUAGE

    @app.context_processor
    def language_helpers() -> dict[str, Any]:
        lang = g.get("lang", i18n.DEFAULT_LANGUAGE)

        def t(key: str, **values: object) -> str:
            return i18n.translate(lang, key, **values)

        def switch_url() -> str:
            args = {k: v for k, v in request.args.items() if k != "lang"}
            args["lang"] = "en" if lang == "zh" else "zh"
            return f"{request.script_root}{request.path}?{urlencode(args)}"

        return {
            "t": t,
            "tx": i18n.catalogue(lang),
            "lang": lang,
            "switch_url": switch_url,
            "has_text": i18n.has_text,
            "links": links.current(),
        }

    @app.after_request
    def remember_language(response: Response) -> Response:
        asked = g.get("lang_asked")
        if asked:
            response.set_cookie(
                i18n.COOKIE,
                asked,
                max_age=LANGUAGE_COOKIE_SECONDS,
                samesite="Lax",
                secure=request.is_secure,
                httponly=True,
            )
        return response


_FIXED_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)
_HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


def _security_headers(app: Flask, settings: Settings) -> None:
    https = urlsplit(settings.public_base_url).scheme == "https"

    @app.after_request
    def headers(response: Response) -> Response:
        # on every answer, so built once; a view may set its own CSP and Cache-Control
        found = response.headers
        found.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        found.setdefault("Cache-Control", "no-store")
        found.setdefault("Referrer-Policy", "no-referrer")  # holder pages say same-origin
        found.extend(_FIXED_HEADERS)
        if request.is_secure or https:
            found.extend((_HSTS,))
        return response


def wants_json() -> bool:
    return request.path.startswith(API_PREFIX)


def json_error(status: int, code: str, message: str) -> Response:
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


def _error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response | tuple[str, int]:
        status = error.code or 500
        lang = g.get("lang", i18n.DEFAULT_LANGUAGE)
        key = f"error.{status}" if i18n.has_text(f"error.{status}") else "error.400"
        if status == 413:
            limit = _megabytes(app.config["MAX_CONTENT_LENGTH"])
            message = i18n.translate(lang, "upload.too_large", limit=limit)
        else:
            message = i18n.translate(lang, key)
        if wants_json():
            english = (
                i18n.translate("en", "upload.too_large", limit=limit)
                if status == 413
                else i18n.translate("en", key)
            )
            return json_error(status, _CODES.get(status, "error"), english)
        return render_template("error.html", status=status, message=message), status

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response | tuple[str, int]:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return http_error(InternalServerError())


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


megabytes = _megabytes
