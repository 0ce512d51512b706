"""Every form is protected: a POST to any console route without the session's CSRF token, or
with another session's, is refused (400) and changes nothing."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlmodel import func, select

from certsvc.audit.models import AuditEvent
from certsvc.db.database import Database
from certsvc.staff.models import Role
from tests.console.conftest import PASSWORD, Member, csrf_token, sign_in
from tests.console.test_roles import url_for_rule


def audit_count(db: Database) -> int:
    with db.session() as session:
        return int(session.exec(select(func.count()).select_from(AuditEvent)).one())


def test_every_post_without_the_token_is_refused(
    console: Flask, db: Database, add_staff: Callable[..., Member]
) -> None:
    everyone = add_staff("ada", *[role.value for role in Role])
    other = add_staff("bob", "operator")
    client = sign_in(console.test_client(), db, everyone)
    foreign = csrf_token(sign_in(console.test_client(), db, other), "/dashboard")
    before = audit_count(db)
    posts = [rule for rule in console.url_map.iter_rules() if "POST" in (rule.methods or ())]
    assert len(posts) >= 15
    for rule in posts:
        path = url_for_rule(rule)
        for data in ({}, {"csrf_token": "forged"}, {"csrf_token": foreign}):
            response = client.post(path, data={**data, "username": "x", "password": "y"})
            assert response.status_code == 400, f"{rule.rule} with {data}: {response.status_code}"
    assert audit_count(db) == before
    assert client.get("/dashboard").status_code == 200  # still signed in: nothing happened
    # the same request with the page's own token goes through
    token = csrf_token(client, "/dashboard")
    assert client.post("/sign-out", data={"csrf_token": token}).status_code == 302


def test_over_https_a_form_needs_its_own_site_as_referrer(
    console: Flask, db: Database, add_staff: Callable[..., Member]
) -> None:
    add_staff("olga", "operator")
    client = console.test_client()
    base = "https://console.example"
    page = client.get(f"{base}/sign-in")
    # the console keeps the Referer on its own pages, which the https CSRF check needs
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "Strict-Transport-Security" in page.headers
    token = csrf_token(client, f"{base}/sign-in")
    data = {"username": "olga", "password": PASSWORD, "csrf_token": token}
    assert client.post(f"{base}/sign-in", data=data).status_code == 400  # no Referer
    elsewhere = {"Referer": "https://evil.example/sign-in"}
    assert client.post(f"{base}/sign-in", data=data, headers=elsewhere).status_code == 400
    ours = {"Referer": f"{base}/sign-in"}
    response = client.post(f"{base}/sign-in", data=data, headers=ours)
    assert response.status_code == 302 and response.location.endswith("/sign-in/code")
