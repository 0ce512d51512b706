"""Who may do what: one decorator per route, and nothing unmarked is served.

``@allow(Role.OPERATOR)`` lets a signed-in member of staff holding any of the roles named run
the view (403 otherwise; not signed in: to the sign-in page, or 401 for JSON); ``@public``
marks the few routes used before signing in. The app refuses any endpoint that carries neither
mark (:func:`refuse_unmarked`), so a route added without a rule is never open by accident, and
the role-matrix test walks the URL map to hold every route to its rule.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort, current_app, redirect, request, url_for
from flask_login import UserMixin, current_user

from certsvc.staff.models import Role, StaffUser

F = TypeVar("F", bound=Callable[..., Any])
ROLES_ATTRIBUTE = "console_roles"
PUBLIC_ATTRIBUTE = "console_public"
GENERATION = "generation"  # in the session: the account's session generation at sign-in

READERS = (Role.OPERATOR, Role.APPROVER, Role.AUDITOR)
EVERYONE = tuple(Role)


class ConsoleUser(UserMixin):  # type: ignore[misc]
    """The signed-in member of staff, read from the database on every request."""

    def __init__(self, row: StaffUser) -> None:
        assert row.id is not None
        self.id = row.id
        self.username = row.username
        self.roles = frozenset(Role(role) for role in row.roles)
        self.actor = row.actor
        self.generation = row.session_generation

    def get_id(self) -> str:
        return str(self.id)

    def has_any(self, roles: frozenset[Role]) -> bool:
        return bool(self.roles & roles)


def current_staff() -> ConsoleUser | None:
    user = current_user
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return cast(ConsoleUser, user._get_current_object())


def actor() -> str:
    user = current_staff()
    if user is None:
        abort(401)
    return user.actor


def wants_json() -> bool:
    return request.path.endswith(".json")


def allow(*roles: Role) -> Callable[[F], F]:
    allowed = frozenset(roles)

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            user = current_staff()
            if user is None:
                if wants_json() or request.method != "GET":
                    abort(401)
                return redirect(url_for("auth.sign_in", next=request.full_path))
            if not user.has_any(allowed):
                abort(403)
            return view(*args, **kwargs)

        setattr(guarded, ROLES_ATTRIBUTE, allowed)
        return cast(F, guarded)

    return decorate


def public(view: F) -> F:
    setattr(view, PUBLIC_ATTRIBUTE, True)
    return view


def roles_of(view: Callable[..., Any]) -> frozenset[Role] | None:
    """The roles a view allows; None for a public view."""
    if getattr(view, PUBLIC_ATTRIBUTE, False):
        return None
    found = getattr(view, ROLES_ATTRIBUTE, None)
    if found is None:
        raise LookupError("view has no access rule")
    return cast(frozenset[Role], found)


def refuse_unmarked() -> None:
    """Before every request: a view with no rule is refused outright."""
    endpoint = request.endpoint
    if endpoint is None or endpoint == "static":
        return
    view = current_app.view_functions.get(endpoint)
    if view is None:
        return
    if not getattr(view, PUBLIC_ATTRIBUTE, False) and not hasattr(view, ROLES_ATTRIBUTE):
        abort(403)
