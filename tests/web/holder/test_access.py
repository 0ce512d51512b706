"""No holder reaches another holder's documents, on any route; an anonymous visitor is sent to
sign in; every POST needs its CSRF token.

The routes are read from the app's URL map, so a route added later is tested without anyone
remembering to add it: a route needs either sign-in (``holder_required``) or to be one of the
few public ones listed here, and every URL argument must be one this test knows how to fill.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import col, select
from werkzeug.routing import Rule

from certsvc.db.types import utcnow
from certsvc.issuance.models import Document
from certsvc.web.holder.models import HolderCode, ShareLink
from certsvc.web.holder.services import create_share
from certsvc.web.holder.setup import BLUEPRINTS
from tests.web.holder.conftest import Holder, HolderWorld, csrf_token, signed_in_client

PUBLIC = {
    "holder_auth.sign_in",
    "holder_auth.code",
    "holder_shares.shared",
    "holder_shares.shared_pdf",
}
UNKNOWN_NUMBER = "2025-110000-GC2Z-999999X"
CHANGING = ("POST", "PUT", "PATCH", "DELETE")


def holder_rules(app: Flask) -> list[Rule]:
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint.split(".")[0] in BLUEPRINTS]
    assert len(rules) >= 10, [rule.rule for rule in rules]
    return rules


def methods(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Target:
    number: str
    share_id: int
    token: str = "not-a-share-token"


def url_for_rule(app: Flask, rule: Rule, target: Target) -> str:
    known = {"number": target.number, "share_id": target.share_id, "token": target.token}
    unknown = set(rule.arguments) - set(known)
    assert not unknown, f"{rule.rule}: teach this test how to fill {sorted(unknown)}"
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **{name: known[name] for name in rule.arguments})


def _share(world: HolderWorld, holder: Holder, index: int = 0) -> int:
    with world.db.session() as session:
        document = session.exec(
            select(Document).where(Document.document_number == holder.numbers[index])
        ).one()
        link, _ = create_share(session, document, person_id=holder.person_id, days=7, now=utcnow())
        assert link.id is not None
        return link.id


def _request(client: FlaskClient, method: str, url: str, token: str | None) -> int:
    data = {"csrf_token": token, "days": "7"} if token else {"days": "7"}
    if method == "GET":
        return client.get(url).status_code
    return client.open(url, method=method, data=data).status_code


def test_every_holder_route_is_public_by_name_or_needs_sign_in(app: Flask) -> None:
    for rule in holder_rules(app):
        view = app.view_functions[rule.endpoint]
        if rule.endpoint in PUBLIC:
            assert getattr(view, "holder_public", False), rule.endpoint
        else:
            assert getattr(view, "holder_required", False), (
                f"{rule.rule} ({rule.endpoint}) neither needs sign-in nor is listed as public"
            )
    endpoints = {rule.endpoint for rule in holder_rules(app)}
    assert endpoints >= PUBLIC


def test_another_holders_document_is_404_on_every_route(holder_world: HolderWorld) -> None:
    alice, bob = holder_world.alice, holder_world.bob
    bobs_share = _share(holder_world, bob)
    alices_share = _share(holder_world, alice)
    app, client = signed_in_client(holder_world, alice)
    checked = 0
    for rule in holder_rules(app):
        if rule.endpoint in PUBLIC or "number" not in rule.arguments:
            continue
        for method in methods(rule):
            token = csrf_token(client, "/me/documents") if method in CHANGING else None
            for target in (
                Target(bob.numbers[0], bobs_share),  # bob's document (and his link)
                Target(bob.numbers[1], bobs_share),
                Target(UNKNOWN_NUMBER, bobs_share),  # no such document
                Target(alice.numbers[0].lower(), alices_share),  # not the number as issued
            ):
                url = url_for_rule(app, rule, target)
                status = _request(client, method, url, token)
                assert status == 404, (method, url, status)
            if "share_id" in rule.arguments:  # alice's document, bob's link
                url = url_for_rule(app, rule, Target(alice.numbers[0], bobs_share))
                assert _request(client, method, url, token) == 404, (method, url)
            checked += 1
    assert checked >= 5

    # nothing of bob's changed, and the 404 page is the same as for a number nobody has
    with holder_world.db.session() as session:
        link = session.get(ShareLink, bobs_share)
        assert link is not None and link.revoked_at is None
        bobs = session.exec(select(ShareLink).where(ShareLink.person_id == bob.person_id))
        assert len(bobs.all()) == 1
    theirs = client.get(f"/me/documents/{bob.numbers[0]}")
    nobodys = client.get(f"/me/documents/{UNKNOWN_NUMBER}")
    assert theirs.get_data(as_text=True).replace(bob.numbers[0], "N") == nobodys.get_data(
        as_text=True
    ).replace(UNKNOWN_NUMBER, "N")  # the same page but for the language link's echo
    assert sorted(theirs.headers.keys()) == sorted(nobodys.headers.keys())

    listing = client.get("/me/documents").get_data(as_text=True)
    for number in bob.numbers:
        assert number not in listing
    # and alice's own document is reachable on every route (the 404s above are not blanket)
    assert client.get(f"/me/documents/{alice.numbers[0]}").status_code == 200


def test_an_anonymous_visitor_is_sent_to_sign_in_on_every_route(
    holder_world: HolderWorld, app: Flask, client: FlaskClient
) -> None:
    alice = holder_world.alice
    target = Target(alice.numbers[0], _share(holder_world, alice))
    token = csrf_token(client, "/me/sign-in")  # a visitor's session has a CSRF token
    checked = 0
    for rule in holder_rules(app):
        if rule.endpoint in PUBLIC:
            continue
        for method in methods(rule):
            url = url_for_rule(app, rule, target)
            data = {"csrf_token": token, "days": "7"}
            response = (
                client.get(url) if method == "GET" else client.open(url, method=method, data=data)
            )
            assert response.status_code == 302, (method, url, response.status_code)
            assert response.headers["Location"].startswith("/me/sign-in"), (method, url)
            checked += 1
    assert checked >= 8
    with holder_world.db.session() as session:
        link = session.get(ShareLink, target.share_id)
        assert link is not None and link.revoked_at is None  # the revoke POST did nothing


def test_every_post_without_its_csrf_token_is_refused(holder_world: HolderWorld) -> None:
    alice = holder_world.alice
    target = Target(alice.numbers[1], _share(holder_world, alice, 1))
    app, client = signed_in_client(holder_world, alice)
    visitor = app.test_client()
    visitor_token = csrf_token(visitor, "/me/sign-in")
    with holder_world.db.session() as session:
        codes_before = len(session.exec(select(HolderCode)).all())
        shares_before = len(session.exec(select(ShareLink)).all())
    checked = 0
    for rule in holder_rules(app):
        for method in methods(rule):
            if method not in CHANGING:
                continue
            url = url_for_rule(app, rule, target)
            # the public sign-in steps as a visitor, the rest as alice
            who = visitor if rule.endpoint in PUBLIC else client
            for data in (
                {},
                {"csrf_token": "forged"},
                {"csrf_token": visitor_token if who is client else "x" + visitor_token},
            ):
                form = {"days": "7", "code": "123456", **alice.form(), **data}
                response = who.open(url, method=method, data=form)
                assert response.status_code == 400, (method, url, data, response.status_code)
                assert "页面已过期或请求无效" in response.get_data(as_text=True)
            checked += 1
    assert checked >= 5
    with holder_world.db.session() as session:
        assert len(session.exec(select(HolderCode)).all()) == codes_before
        assert len(session.exec(select(ShareLink)).all()) == shares_before
        link = session.get(ShareLink, target.share_id)
        assert link is not None and link.revoked_at is None
    assert client.get("/me/documents").status_code == 200  # still signed in: sign-out refused


@pytest.mark.parametrize("path", ["/me/documents", "/my"])
def test_pages_answer_signed_in_holders(holder_world: HolderWorld, path: str) -> None:
    _, client = signed_in_client(holder_world, holder_world.bob)
    response = client.get(path, follow_redirects=True)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert all(number in body for number in holder_world.bob.numbers)
    assert not any(number in body for number in holder_world.alice.numbers)


def test_share_ids_are_checked_against_the_document(holder_world: HolderWorld) -> None:
    """Alice's other document's link cannot be revoked through this document's URL."""
    alice = holder_world.alice
    share = _share(holder_world, alice, 1)
    _, client = signed_in_client(holder_world, alice)
    token = csrf_token(client, "/me/documents")
    response = client.post(
        f"/me/documents/{alice.numbers[0]}/shares/{share}/revoke", data={"csrf_token": token}
    )
    assert response.status_code == 404
    with holder_world.db.session() as session:
        link = session.get(ShareLink, share)
        assert link is not None and link.revoked_at is None
        assert session.exec(select(ShareLink).order_by(col(ShareLink.id))).first() is not None
