"""The public verification web service: QR landing page, PDF upload, look-up, JSON API,
the published trust material and health checks.

Run it under gunicorn: ``gunicorn 'certsvc.web:create_app()' -k gthread -w 2 --threads 4``.
Flask is imported only when an app is made, so the command line and the schema (which names
:mod:`certsvc.web.models`) do not pay for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """The Flask application (see :func:`certsvc.web.app.create_app`)."""
    from certsvc.web.app import create_app as _create_app

    return _create_app(test_config)
