"""Logs: one format for the web service, gunicorn and the command line.

``CERTSVC_LOG_FORMAT=json`` writes one JSON object per line (``time``, ``level``, ``logger``,
``message``, and what is known where the line was written: ``request_id``, ``method``,
``endpoint``, ``status``, ``duration_ms`` in the web; ``command`` and ``actor`` on the command
line); ``text`` (the default) writes the same as a readable line. :func:`configure` installs
the handler on the root logger; :func:`init_app` gives every web request an id (a valid
``X-Request-ID`` from the client or the proxy, or a new one, echoed in the response) and writes
one line per request, which is the service's access log.

What a line never holds: the URL path or query string (a ``/v/`` token, a holder name in a
look-up), the client address, identity numbers, passphrases. Requests are named by their
endpoint (``pages.token_page``), and every message passes :func:`scrub`, which blanks any run
of eleven or more digits (identity and mobile numbers, tokens) in case a message ever carries
one.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import traceback
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

from certsvc.config import Settings

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from flask import Flask, Response

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_ENVIRON = "certsvc.request_id"
STARTED_ENVIRON = "certsvc.started"  # time.perf_counter() when the request came in
MAX_REQUEST_ID = 128
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_LONG_DIGITS = re.compile(r"\d{11,}[Xx]?")
REDACTED = "[redacted]"
REQUEST_LOGGER = "certsvc.web.request"
# fields a line may carry besides time, level, logger and message, in this order
FIELDS = ("request_id", "method", "endpoint", "status", "duration_ms", "command", "actor")


def scrub(text: str) -> str:
    """``text`` with every run of 11 or more digits (and a trailing X) blanked."""
    return _LONG_DIGITS.sub(REDACTED, text)


def valid_request_id(value: str | None) -> str | None:
    """``value`` if it can be echoed and logged as it is: 1-128 letters, digits, ``._-``."""
    if not value or len(value) > MAX_REQUEST_ID or not _SAFE_REQUEST_ID.fullmatch(value):
        return None
    return value


def new_request_id() -> str:
    return uuid.uuid4().hex


# -- where a line comes from -----------------------------------------------------------------


def _web_fields() -> dict[str, Any]:
    flask = sys.modules.get("flask")
    if flask is None or not flask.has_request_context():
        return {}
    request = flask.request
    return {
        "request_id": request.environ.get(REQUEST_ID_ENVIRON),
        "method": request.method,
        "endpoint": request.endpoint or "unmatched",
    }


def _cli_fields() -> dict[str, Any]:
    click = sys.modules.get("click")
    if click is None:
        return {}
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return {}
    fields: dict[str, Any] = {"command": ctx.command_path}
    try:
        actor = getattr(ctx.find_root().obj, "actor", None)
    except Exception:  # the context is half built: no actor yet
        actor = None
    if isinstance(actor, str):
        fields["actor"] = actor
    return fields


def _context(record: logging.LogRecord) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for source in (_web_fields, _cli_fields):
        found.update(source())
    for name in FIELDS:  # what the caller passed as ``extra`` wins
        value = getattr(record, name, None)
        if value is not None:
            found[name] = value
    return {name: found[name] for name in FIELDS if found.get(name) is not None}


def _exception(record: logging.LogRecord) -> str | None:
    if not record.exc_info or record.exc_info[0] is None:
        return None
    return scrub("".join(traceback.format_exception(*record.exc_info)).rstrip())


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        line.update(_context(record))
        error = _exception(record)
        if error is not None:
            line["exception"] = error
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time level logger [field=value …] message``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        fields = " ".join(f"{name}={value}" for name, value in _context(record).items())
        text = f"{stamp} {record.levelname} {record.name}"
        if fields:
            text += f" [{fields}]"
        text += f" {scrub(record.getMessage())}"
        error = _exception(record)
        return f"{text}\n{error}" if error else text


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def formatter_from_env() -> logging.Formatter:
    """The formatter ``CERTSVC_LOG_FORMAT`` asks for (gunicorn's ``logconfig_dict`` uses it)."""
    return formatter(Settings.from_env().log_format)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a line is written (not when it was made)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        pass


_MARK = "_certsvc_handler"
QUIET_LOGGERS = ("alembic",)  # INFO lines that are not news (its plug-in set-up)


def configure(
    settings: Settings,
    *,
    default_level: str = "INFO",
    stream: IO[str] | None = None,
    force: bool = False,
) -> logging.Handler | None:
    """Send the root logger's lines through certsvc's format; the handler, or None when logging
    is already set up by someone else (a test harness, an embedding program) and not ``force``.
    Calling it again replaces the handler it installed before."""
    root = logging.getLogger()
    others = [h for h in root.handlers if not getattr(h, _MARK, False)]
    if others and not force:
        return None
    for handler in root.handlers:
        if getattr(handler, _MARK, False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream) if stream is not None else StderrHandler()
    setattr(handler, _MARK, True)
    handler.setFormatter(formatter(settings.log_format))
    root.addHandler(handler)
    root.setLevel((settings.log_level or default_level).upper())
    for chatty in QUIET_LOGGERS:
        logging.getLogger(chatty).setLevel(logging.WARNING)
    logging.captureWarnings(True)  # Python's warnings become lines in the same format
    return handler


# -- the web ----------------------------------------------------------------------------------


class RequestIdMiddleware:
    """Stamps each request with its start time and id before Flask (and its rate limiter)
    sees it: the client's or proxy's ``X-Request-ID`` when valid, else a new one."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ.setdefault(STARTED_ENVIRON, time.perf_counter())
        given = valid_request_id(environ.get("HTTP_X_REQUEST_ID"))
        environ[REQUEST_ID_ENVIRON] = given or new_request_id()
        return self.app(environ, start_response)


def init_app(app: Flask, settings: Settings) -> None:
    """Request ids, the per-request line, and the log format (unless logging is set up)."""
    configure(settings)
    app.wsgi_app = RequestIdMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    request_log = logging.getLogger(REQUEST_LOGGER)

    def finish(response: Response) -> Response:
        from flask import request

        request_id = request.environ.get(REQUEST_ID_ENVIRON)
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        if settings.log_requests:
            duration = elapsed_ms(request.environ)
            endpoint = request.endpoint or "unmatched"
            request_log.info(
                "%s %s %d %.1f ms",
                request.method,
                endpoint,
                response.status_code,
                duration,
                extra={"status": response.status_code, "duration_ms": round(duration, 2)},
            )
        return response

    # after_request functions run last-registered first: registered first, this runs last
    app.after_request_funcs.setdefault(None, []).insert(0, finish)


def elapsed_ms(environ: WSGIEnvironment) -> float:
    started = environ.get(STARTED_ENVIRON)
    return 0.0 if started is None else (time.perf_counter() - float(started)) * 1000
