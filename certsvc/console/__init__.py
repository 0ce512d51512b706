"""The staff console: a Flask app of its own, served on an internal address.

Run it under gunicorn: ``gunicorn 'certsvc.console:create_console_app()' -k gthread -w 2``,
bound to an address only the bureau's network reaches. It shares the database, the models and
the domain services with the command line and never holds a private key: whatever signs is
recorded as a signing job for ``certsvc signer serve``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_console_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """The console application (see :func:`certsvc.console.app.create_console_app`)."""
    from certsvc.console.app import create_console_app as _create

    return _create(test_config)
