"""Signing out ends the session everywhere, not only in the browser that signed out. The
session lives in a signed cookie, so a copy taken before (a shared computer, a saved browser
profile) used to stay valid after sign-out, and kept itself alive for as long as it was used."""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask

from certsvc.db.database import Database
from tests.console.conftest import Member, csrf_token, sign_in

COOKIE = "certsvc_console"


def copy_of_session(console: Flask, client: object) -> object:
    value = client.get_cookie(COOKIE).value  # type: ignore[attr-defined]
    thief = console.test_client()
    thief.set_cookie(COOKIE, value, domain="localhost")
    return thief


def test_a_copy_of_the_session_cookie_is_refused_after_sign_out(
    console: Flask, db: Database, add_staff: Callable[..., Member]
) -> None:
    olga = add_staff("olga", "operator")
    client = sign_in(console.test_client(), db, olga)
    thief = copy_of_session(console, client)
    assert thief.get("/dashboard").status_code == 200  # type: ignore[attr-defined]
    token = csrf_token(client, "/dashboard")
    assert client.post("/sign-out", data={"csrf_token": token}).status_code == 302
    assert thief.get("/dashboard").status_code == 302  # type: ignore[attr-defined]
    # signing in again starts a new session; the old copy stays dead
    again = sign_in(console.test_client(), db, olga)
    assert again.get("/dashboard").status_code == 200
    assert thief.get("/dashboard").status_code == 302  # type: ignore[attr-defined]


def test_a_copy_of_the_session_cookie_is_refused_after_an_idle_time_out(
    console: Flask, db: Database, add_staff: Callable[..., Member]
) -> None:
    client = sign_in(console.test_client(), db, add_staff("olga", "operator"))
    thief = copy_of_session(console, client)
    with client.session_transaction() as session:
        session["last_seen"] = time.time() - 16 * 60
    assert client.get("/dashboard").status_code == 302  # idle: ended
    assert thief.get("/dashboard").status_code == 302  # type: ignore[attr-defined]
