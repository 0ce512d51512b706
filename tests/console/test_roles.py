"""The role matrix: every route of the console has a rule here, the rule is the one its view
enforces, and each role gets exactly what the rule says (a route added without a rule fails
:func:`test_every_route_has_a_rule`; one without an access mark is refused outright)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from werkzeug.routing import Rule

from certsvc.config import Settings
from certsvc.console.access import roles_of
from certsvc.db.database import Database
from certsvc.staff.models import Role
from tests.console.conftest import Member, make_console, sign_in

ADM, OPR, APR, AUD = Role.ADMIN, Role.OPERATOR, Role.APPROVER, Role.AUDITOR
READERS = frozenset({OPR, APR, AUD})
EVERYONE = frozenset(Role)
PUBLIC = None

MATRIX: dict[str, frozenset[Role] | None] = {
    "static": PUBLIC,
    "auth.sign_in": PUBLIC,
    "auth.code": PUBLIC,
    "auth.sign_out": EVERYONE,
    "auth.home": EVERYONE,
    "users.index": frozenset({ADM}),
    "users.create": frozenset({ADM}),
    "users.roles": frozenset({ADM}),
    "users.disable": frozenset({ADM}),
    "roster.index": READERS,
    "roster.upload": frozenset({OPR}),
    "roster.sessions": READERS,
    "roster.session_page": READERS,
    "publicity.open_": frozenset({OPR}),
    "publicity.close": frozenset({OPR}),
    "publicity.objections": READERS,
    "publicity.lodge": frozenset({OPR}),
    "publicity.resolve": frozenset({OPR}),
    "batches.index": READERS,
    "batches.create": frozenset({OPR}),
    "batches.show": READERS,
    "batches.approve": frozenset({APR}),
    "batches.cancel": frozenset({OPR}),
    "batches.run": frozenset({OPR, APR}),
    "batches.progress": READERS,
    "batches.report": READERS,
    "batches.job_list": READERS,
    "documents.search": READERS,
    "documents.show": READERS,
    "documents.revoke": frozenset({OPR}),
    "documents.reissue": frozenset({OPR}),
    "documents.changes": READERS,
    "documents.approve": frozenset({APR}),
    "documents.reject": frozenset({APR}),
    "audit.index": frozenset({AUD, ADM}),
    "audit.export": frozenset({AUD, ADM}),
    "dashboard.index": READERS,
}
SKIPPED_REQUESTS = {"auth.sign_out"}  # requested last, by its own test: it ends the session


def url_for_rule(rule: Rule) -> str:
    values = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        values[name] = "999999" if type(converter).__name__ == "IntegerConverter" else "nobody"
    if rule.endpoint == "static":
        values["filename"] = "console.css"
    path = rule.rule
    for name, value in values.items():
        path = path.replace(f"<int:{name}>", value).replace(f"<{name}>", value)
        path = path.replace(f"<path:{name}>", value)
    return path


def methods_of(rule: Rule) -> list[str]:
    return sorted(m for m in (rule.methods or set()) if m in ("GET", "POST"))


@pytest.fixture
def open_console(settings: Settings, db: Database) -> Flask:
    """The console without CSRF, so that a POST reaches the role check (CSRF has its own
    test) and without rate limits."""
    return make_console(
        settings, db, WTF_CSRF_ENABLED=False, CONSOLE_SIGN_IN_RATE_LIMIT="1000 per minute"
    )


def test_every_route_has_a_rule(open_console: Flask) -> None:
    endpoints = {rule.endpoint for rule in open_console.url_map.iter_rules()}
    assert endpoints == set(MATRIX), (
        f"routes without a rule in the matrix: {sorted(endpoints - set(MATRIX))}; "
        f"rules without a route: {sorted(set(MATRIX) - endpoints)}"
    )
    for endpoint, expected in MATRIX.items():
        if endpoint == "static":
            continue
        assert roles_of(open_console.view_functions[endpoint]) == expected, endpoint


@pytest.mark.parametrize("role", list(Role))
def test_each_role_gets_what_the_matrix_says(
    open_console: Flask, db: Database, add_staff: Callable[..., Member], role: Role
) -> None:
    member = add_staff(f"user-{role.value}", role.value)
    client = sign_in(open_console.test_client(), db, member)
    checked = 0
    for rule in open_console.url_map.iter_rules():
        if rule.endpoint in SKIPPED_REQUESTS:
            continue
        allowed = MATRIX[rule.endpoint]
        for method in methods_of(rule):
            response = client.open(url_for_rule(rule), method=method)
            where = f"{role.value} {method} {rule.rule}: {response.status_code}"
            if allowed is None or role in allowed:
                assert response.status_code not in (401, 403), where
                assert response.status_code < 500, where
            else:
                assert response.status_code == 403, where
            checked += 1
    assert checked >= len(MATRIX)
    # still signed in after all that, and signing out is open to every role
    assert client.post("/sign-out").status_code == 302


def test_signed_out_readers_are_sent_to_sign_in(open_console: Flask) -> None:
    client = open_console.test_client()
    for rule in open_console.url_map.iter_rules():
        allowed = MATRIX[rule.endpoint]
        for method in methods_of(rule):
            response = client.open(url_for_rule(rule), method=method)
            where = f"{method} {rule.rule}: {response.status_code}"
            if allowed is None:  # open; a POST without credentials is a refused sign-in
                assert response.status_code in (200, 302, 401), where
            elif method == "GET" and not rule.rule.endswith(".json"):
                assert response.status_code == 302, where
                assert "/sign-in" in response.location, where
            else:
                assert response.status_code == 401, where


def test_a_route_without_an_access_mark_is_refused(
    settings: Settings, db: Database, add_staff: Callable[..., Member]
) -> None:
    app = make_console(settings, db, WTF_CSRF_ENABLED=False)
    app.add_url_rule("/forgotten", "forgotten", lambda: "open to all")
    member = add_staff("ada", *[role.value for role in Role])
    assert app.test_client().get("/forgotten").status_code == 403
    client = sign_in(app.test_client(), db, member)
    assert client.get("/forgotten").status_code == 403
