"""What the console's views share: running a service call in one transaction and turning its
error into a message for the reader."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import abort, flash, request
from sqlmodel import Session

from certsvc.console.state import state
from certsvc.errors import CertsvcError, NotFoundError

T = TypeVar("T")


def attempt(action: Callable[[Session], T]) -> T | None:
    """Run ``action`` in a transaction; a service's refusal (bad input, wrong state, not found)
    is flashed and nothing is written."""
    try:
        with state().db.session() as session:
            return action(session)
    except CertsvcError as exc:
        flash(str(exc), "error")
        return None


def read(action: Callable[[Session], T]) -> T:
    """Run a read; a missing object is a 404."""
    try:
        with state().db.session() as session:
            return action(session)
    except NotFoundError:
        abort(404)


def form_text(name: str, limit: int = 2000) -> str:
    return request.form.get(name, "").strip()[:limit]


def form_int(name: str) -> int | None:
    value = request.form.get(name, "").strip()
    return int(value) if value.isdigit() and len(value) < 10 else None
