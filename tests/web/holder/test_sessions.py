"""Holder sessions: cookie attributes, idle timeout, absolute lifetime, return to the page asked
for; and the holder pages' switch, CERTSVC_SECRET_KEY."""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta

import pytest
from itsdangerous import TimestampSigner
from sqlmodel import select

from certsvc.config import Settings
from certsvc.errors import ConfigError
from certsvc.web import create_app
from certsvc.web.holder.models import HolderSession
from tests.web.holder.conftest import (
    HolderWorld,
    ask_for_code,
    codes_sent,
    csrf_token,
    holder_state,
    session_payload,
    signed_in_client,
)


def test_the_session_cookie_is_secure_httponly_and_lax(holder_world: HolderWorld) -> None:
    app = holder_world.app()
    client = app.test_client()
    alice = holder_world.alice
    ask_for_code(app, client, alice.form())
    token = csrf_token(client, "/me/sign-in/code")
    response = client.post(
        "/me/sign-in/code",
        data={"code": codes_sent(holder_world.outbox, alice.mobile)[-1], "csrf_token": token},
    )
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-certsvc-holder=")
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert attribute in cookie, cookie
    assert "Domain=" not in cookie
    assert "Expires=" in cookie  # the idle limit, renewed on each request
    assert sorted(session_payload(client)) == ["_permanent", "holder", "hs"]


def test_an_idle_session_ends(holder_world: HolderWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    _, client = signed_in_client(holder_world, holder_world.alice)
    assert client.get("/me/documents").status_code == 200
    later = int(time.time()) + 16 * 60  # the default idle limit is 15 minutes
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    response = client.get("/me/documents")
    assert response.status_code == 302 and "/me/sign-in" in response.headers["Location"]


def test_a_session_ends_at_its_absolute_lifetime(holder_world: HolderWorld) -> None:
    app, client = signed_in_client(holder_world, holder_world.bob)
    nonce = session_payload(client)["hs"]
    with holder_world.db.session() as session:
        row = session.exec(select(HolderSession).where(HolderSession.nonce == nonce)).one()
        row.created_at = row.created_at - timedelta(minutes=121)  # the default lifetime is 120
        session.add(row)
    response = client.get("/me/documents")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "登录已超时" in page
    with holder_world.db.session() as session:
        ended = session.exec(select(HolderSession).where(HolderSession.nonce == nonce)).one()
        assert ended.ended_at is not None
    assert holder_state(app).settings.holder_session_minutes == 120


def test_sign_in_returns_to_the_page_asked_for_and_nowhere_else(
    holder_world: HolderWorld,
) -> None:
    alice = holder_world.alice
    app = holder_world.app()
    for asked, landing in (
        (f"/me/documents/{alice.numbers[1]}", f"/me/documents/{alice.numbers[1]}"),
        ("//evil.example/me/", "/me/documents"),
        ("https://evil.example/", "/me/documents"),
    ):
        client = app.test_client()
        first = client.get(asked) if asked.startswith("/me/") else None
        if first is not None:
            assert first.status_code == 302
            sign_in_page = first.headers["Location"]
        else:
            sign_in_page = f"/me/sign-in?next={asked}"
        token = csrf_token(client, sign_in_page)
        client.post("/me/sign-in", data={**alice.form(), "csrf_token": token}).close()
        holder_state(app).courier.wait()
        token = csrf_token(client, "/me/sign-in/code")
        code = codes_sent(holder_world.outbox, alice.mobile)[-1]
        done = client.post("/me/sign-in/code", data={"code": code, "csrf_token": token})
        assert done.headers["Location"] == landing, asked


def test_a_return_page_with_control_characters_is_ignored(holder_world: HolderWorld) -> None:
    """A link to the sign-in page whose ``next`` holds a line break (a header injection
    attempt) must not turn the holder's sign-in into an error after the code is used."""
    alice = holder_world.alice
    app = holder_world.app()
    for asked in ("/me/%0d%0aSet-Cookie:%20x=1", "/me/documents%09/%09/evil.example"):
        client = app.test_client()
        token = csrf_token(client, f"/me/sign-in?next={asked}")
        client.post("/me/sign-in", data={**alice.form(), "csrf_token": token}).close()
        holder_state(app).courier.wait()
        token = csrf_token(client, "/me/sign-in/code")
        code = codes_sent(holder_world.outbox, alice.mobile)[-1]
        done = client.post("/me/sign-in/code", data={"code": code, "csrf_token": token})
        assert done.status_code == 303, (asked, done.status_code)
        assert done.headers["Location"] == "/me/documents", asked
        assert "Set-Cookie: x=1" not in str(done.headers)


def test_csrf_on_https_checks_the_referer_which_the_pages_send(
    holder_world: HolderWorld,
) -> None:
    app = holder_world.app()
    client = app.test_client()
    base = "https://zc.example.gov.cn"
    page = client.get("/me/sign-in", base_url=base)
    assert page.headers["Referrer-Policy"] == "same-origin"
    token = csrf_token_from(page.get_data(as_text=True))
    form = {**holder_world.alice.form(), "csrf_token": token}
    without = client.post("/me/sign-in", data=form, base_url=base)
    assert without.status_code == 400
    foreign = client.post(
        "/me/sign-in", data=form, base_url=base, headers={"Referer": "https://evil.example/"}
    )
    assert foreign.status_code == 400
    same = client.post(
        "/me/sign-in", data=form, base_url=base, headers={"Referer": f"{base}/me/sign-in"}
    )
    assert same.status_code == 303
    same.close()
    holder_state(app).courier.wait()


def csrf_token_from(page: str) -> str:
    from tests.web.holder.conftest import CSRF_FIELD

    match = CSRF_FIELD.search(page)
    assert match
    return match.group(1)


def _settings(world: HolderWorld, **changes: object) -> Settings:
    return dataclasses.replace(world.settings, **changes)  # type: ignore[arg-type]


def test_without_a_secret_key_there_are_no_holder_pages(holder_world: HolderWorld) -> None:
    settings = _settings(holder_world, secret_key="")
    app = create_app({"SETTINGS": settings, "DATABASE": holder_world.db, "TESTING": True})
    client = app.test_client()
    assert client.get("/me/sign-in").status_code == 404
    assert client.get("/me/documents").status_code == 404
    assert client.get("/s/whatever").status_code == 404
    home = client.get("/")
    assert home.status_code == 200 and "/me/documents" not in home.get_data(as_text=True)
    assert not any(rule.endpoint.startswith("holder_") for rule in app.url_map.iter_rules())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"secret_key": "too-short"}, "CERTSVC_SECRET_KEY must be at least 32"),
        ({"holder_send_limit": "lots"}, "CERTSVC_HOLDER_SEND_LIMIT='lots' is not a rate limit"),
    ],
)
def test_a_weak_key_or_a_bad_limit_stops_the_app(
    holder_world: HolderWorld, changes: dict[str, object], message: str
) -> None:
    settings = _settings(holder_world, **changes)
    with pytest.raises(ConfigError, match=message):
        create_app({"SETTINGS": settings, "DATABASE": holder_world.db, "TESTING": True})


def test_the_home_page_links_to_the_holder_pages(holder_world: HolderWorld) -> None:
    client = holder_world.app().test_client()
    home = client.get("/").get_data(as_text=True)
    assert 'href="/me/documents"' in home and "持证人登录" in home
    english = client.get("/me/sign-in?lang=en").get_data(as_text=True)
    assert "Sign in as a holder" in english and "Resident identity card" in english
