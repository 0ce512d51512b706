"""Who is signed in, and what they may reach.

:func:`holder_required` sends an anonymous visitor to the sign-in page; :func:`public` marks
the few holder routes that need no sign-in (the sign-in steps themselves and the share links
an employer opens). :func:`get_holder_document` is the one way a route reaches a document: a
number that is another holder's answers 404, exactly as a number that does not exist.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import abort, flash, g, redirect, request, session, url_for
from werkzeug.wrappers import Response

from certsvc.db.types import utcnow
from certsvc.web.holder.services import HolderDocument, SignedIn, holder_document, signed_in
from certsvc.web.holder.state import holder_state

SESSION_HOLDER = "holder"  # the person id: never the identity number
SESSION_NONCE = "hs"  # names the holder_session row
SESSION_CHALLENGE = "holder_challenge"  # between asking for a code and typing it
SESSION_NEXT = "holder_next"
SESSION_NEW_SHARE = "holder_new_share"  # a share link's URL, shown once

View = TypeVar("View", bound=Callable[..., Any])


def current_holder() -> SignedIn | None:
    """The signed-in holder of this request, else None (an ended or too old session is
    cleared from the cookie)."""
    if "holder" in g:
        found: SignedIn | None = g.holder
        return found
    holder = None
    person_id, nonce = session.get(SESSION_HOLDER), session.get(SESSION_NONCE)
    if isinstance(person_id, int) and isinstance(nonce, str):
        web = holder_state()
        lifetime = timedelta(minutes=web.settings.holder_session_minutes)
        with web.db.session() as db_session:
            holder = signed_in(
                db_session, nonce=nonce, person_id=person_id, now=utcnow(), lifetime=lifetime
            )
        if holder is None:
            session.clear()
            flash("holder.sign_in.expired")
    g.holder = holder
    return holder


def _sign_in_redirect() -> Response:
    target = request.path if request.method == "GET" else None
    return redirect(url_for("holder_auth.sign_in", next=target), 302)


def holder_required(view: View) -> View:
    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if current_holder() is None:
            return _sign_in_redirect()
        return view(*args, **kwargs)

    guarded.holder_required = True  # type: ignore[attr-defined]
    return guarded  # type: ignore[return-value]


def public(view: View) -> View:
    """A holder route that needs no sign-in (the tests list these explicitly)."""
    view.holder_public = True  # type: ignore[attr-defined]
    return view


def signed_in_holder() -> SignedIn:
    holder = current_holder()
    if holder is None:  # only reached behind holder_required
        abort(401)
    return holder


def get_holder_document(number: str, holder: SignedIn) -> HolderDocument:
    """``holder``'s document with this number, else 404 — whether the number is unknown or
    belongs to someone else (see :func:`certsvc.web.holder.services.holder_document`)."""
    with holder_state().db.session() as db_session:
        found = holder_document(db_session, holder.person_id, number)
    if found is None:
        abort(404)
    return found


def safe_next(target: str | None) -> str | None:
    """A page to return to after sign-in: only a holder page of this site, and nothing a
    browser would strip or a header could not hold (tabs, line breaks)."""
    if (
        target
        and target.startswith("/me/")
        and "//" not in target
        and "\\" not in target
        and target.isprintable()
    ):
        return target
    return None
