"""Signing in: password then TOTP code; lockout, code reuse, rate limit, cookie flags, idle
time-out and sign-out, each audited."""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask
from sqlmodel import col, select

from certsvc.audit.models import AuditEvent
from certsvc.config import Settings
from certsvc.db.database import Database
from certsvc.staff.service import LOCK_MINUTES, MAX_FAILURES, current_code, get_staff
from tests.console.conftest import (
    PASSWORD,
    Member,
    csrf_token,
    fresh_code,
    make_console,
    sign_in,
)


def events(db: Database, action: str) -> list[AuditEvent]:
    with db.session() as session:
        return list(
            session.exec(
                select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id))
            ).all()
        )


def password_step(client: object, username: str, password: str) -> int:
    token = csrf_token(client)  # type: ignore[arg-type]
    response = client.post(  # type: ignore[attr-defined]
        "/sign-in", data={"username": username, "password": password, "csrf_token": token}
    )
    return int(response.status_code)


def test_password_then_code_signs_in_and_is_audited(
    console: Flask, db: Database, add_staff: Callable[..., Member]
) -> None:
    olga = add_staff("olga", "operator")
    client = console.test_client()
    assert client.get("/dashboard").status_code == 302  # not signed in: to the sign-in page
    sign_in(client, db, olga)
    page = client.get("/dashboard")
    assert page.status_code == 200 and "olga" in page.get_data(as_text=True)
    signed = events(db, "staff:sign-in")
    assert [(e.actor, e.subject_id) for e in signed] == [("staff:olga", "olga")]
    assert signed[0].occurred_at is not None


def test_session_cookie_is_secure_httponly_and_strict(
    console: Flask, db: Database, add_staff: Callable[..., Member]
) -> None:
    member = add_staff("olga", "operator")
    client = console.test_client()
    token = csrf_token(client)
    response = client.post(
        "/sign-in", data={"username": member.username, "password": PASSWORD, "csrf_token": token}
    )
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_wrong_passwords_lock_the_account(
    console: Flask, db: Database, add_staff: Callable[..., Member]
) -> None:
    add_staff("olga", "operator")
    client = console.test_client()
    for _ in range(MAX_FAILURES):
        assert password_step(client, "olga", "not the password at all") == 401
    # locked: even the right password is refused now, with the same answer
    assert password_step(client, "olga", PASSWORD) == 401
    with db.session() as session:
        user = get_staff(session, "olga")
    assert user.locked_until is not None
    failed = events(db, "staff:sign-in-failed")
    assert len(failed) == MAX_FAILURES + 1
    assert failed[MAX_FAILURES - 1].details.get("locked_until")
    assert failed[-1].details["reason"] == "account locked"
    assert all(event.subject_id == "olga" for event in failed)


def test_unknown_user_gets_the_same_answer_and_is_audited(console: Flask, db: Database) -> None:
    client = console.test_client()
    assert password_step(client, "nobody", PASSWORD) == 401
    (event,) = events(db, "staff:sign-in-failed")
    assert event.details["reason"] == "unknown user" and event.actor == "anonymous"
    assert event.subject_id == "nobody"
    # a password typed into the name field is not written to the log
    assert password_step(client, "Tr0ub4dor&3 oops", PASSWORD) == 401
    typed = events(db, "staff:sign-in-failed")[-1]
    assert typed.subject_id == "(not a user name)" and "Tr0ub4dor" not in str(typed.details)


def test_guessing_codes_locks_the_account(
    console: Flask, db: Database, add_staff: Callable[..., Member]
) -> None:
    member = add_staff("olga", "operator")
    client = console.test_client()
    assert password_step(client, "olga", PASSWORD) == 302
    right = current_code(member.secret)
    wrong = [f"{(int(right) + n) % 1_000_000:06d}" for n in range(1, 200)]
    statuses = []
    for guess in wrong[:MAX_FAILURES]:
        token = csrf_token(client, "/sign-in/code")
        statuses.append(client.post("/sign-in/code", data={"code": guess, "csrf_token": token}))
    assert {response.status_code for response in statuses} == {401}
    # the right code no longer helps: the account is locked
    token = csrf_token(client, "/sign-in/code")
    refused = client.post("/sign-in/code", data={"code": right, "csrf_token": token})
    assert refused.status_code == 401
    assert client.get("/dashboard").status_code == 302
    reasons = [event.details["reason"] for event in events(db, "staff:sign-in-failed")]
    assert reasons == ["wrong code"] * MAX_FAILURES + ["account locked"]
    assert LOCK_MINUTES >= 15


def test_a_code_is_accepted_once(
    console: Flask, db: Database, add_staff: Callable[..., Member]
) -> None:
    member = add_staff("olga", "operator")
    code = fresh_code(db, member)
    first = console.test_client()
    assert password_step(first, "olga", PASSWORD) == 302
    token = csrf_token(first, "/sign-in/code")
    assert first.post("/sign-in/code", data={"code": code, "csrf_token": token}).status_code == 302
    second = console.test_client()  # someone who saw the code types it again
    assert password_step(second, "olga", PASSWORD) == 302
    token = csrf_token(second, "/sign-in/code")
    again = second.post("/sign-in/code", data={"code": code, "csrf_token": token})
    assert again.status_code == 401
    assert events(db, "staff:sign-in-failed")[-1].details["reason"] == "code already used"


def test_sign_in_attempts_are_rate_limited_per_client(
    settings: Settings, db: Database, add_staff: Callable[..., Member]
) -> None:
    app = make_console(settings, db, CONSOLE_SIGN_IN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    statuses = [password_step(client, f"guess{n}", "wrong password x") for n in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_addresses_of_one_ipv6_network_share_the_sign_in_limit(
    settings: Settings, db: Database, add_staff: Callable[..., Member]
) -> None:
    """An IPv6 subscriber holds a whole /64: a fresh address per guess is the same client."""
    app = make_console(settings, db, CONSOLE_SIGN_IN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    statuses = []
    for host in (1, 2, 3, 4):
        client.environ_base["REMOTE_ADDR"] = f"2001:db8:7:1::{host}"
        statuses.append(password_step(client, f"guess{host}", "wrong password x"))
    assert statuses == [401, 401, 401, 429]
    client.environ_base["REMOTE_ADDR"] = "2001:db8:7:2::1"  # another subscriber
    assert password_step(client, "guess5", "wrong password x") == 401
    failed = events(db, "staff:sign-in-failed")[-1]
    assert failed.details["client"] == "2001:db8:7:2::1"  # the audit keeps the full address


def test_idle_session_ends_and_sign_out_is_audited(
    console: Flask, db: Database, add_staff: Callable[..., Member]
) -> None:
    member = add_staff("olga", "operator")
    client = console.test_client()
    sign_in(client, db, member)
    token = csrf_token(client, "/batches")
    with client.session_transaction() as session:
        session["last_seen"] = time.time() - 16 * 60
    late = client.post("/batches", data={"session_ids": ["1"], "csrf_token": token})
    assert late.status_code == 302 and late.location.endswith("/sign-in")
    assert events(db, "batch:create") == []  # the form sent after the time-out did nothing
    assert client.get("/dashboard").status_code == 302  # still signed out
    (idle,) = events(db, "staff:sign-out")
    assert idle.details == {"reason": "idle"} and idle.actor == "staff:olga"

    sign_in(client, db, member)
    token = csrf_token(client, "/dashboard")
    assert client.post("/sign-out", data={"csrf_token": token}).status_code == 302
    assert client.get("/dashboard").status_code == 302
    assert [e.details["reason"] for e in events(db, "staff:sign-out")] == ["idle", "signed out"]


def test_a_busy_session_still_ends_eight_hours_after_sign_in(
    console: Flask, db: Database, add_staff: Callable[..., Member]
) -> None:
    """Activity keeps a session from the idle time-out, not forever: a stolen cookie kept
    busy is worthless a working day after its sign-in."""
    member = add_staff("olga", "operator")
    client = console.test_client()
    sign_in(client, db, member)
    with client.session_transaction() as session:
        session["signed_in_at"] = time.time() - 7 * 3600  # busy all along: not idle
    assert client.get("/dashboard").status_code == 200
    with client.session_transaction() as session:
        session["signed_in_at"] = time.time() - 8 * 3600 - 60
    ended = client.get("/dashboard")
    assert ended.status_code == 302 and ended.location.endswith("/sign-in")
    assert client.get("/dashboard").status_code == 302  # still signed out
    (lifetime,) = events(db, "staff:sign-out")
    assert lifetime.details == {"reason": "lifetime"} and lifetime.actor == "staff:olga"


def test_a_session_without_a_sign_in_time_is_ended(
    console: Flask, db: Database, add_staff: Callable[..., Member]
) -> None:
    member = add_staff("olga", "operator")
    client = console.test_client()
    sign_in(client, db, member)
    with client.session_transaction() as session:
        del session["signed_in_at"]
    assert client.get("/dashboard").status_code == 302


def test_a_disabled_account_is_signed_out_at_once(
    console: Flask, db: Database, add_staff: Callable[..., Member]
) -> None:
    admin = add_staff("ada", "admin")
    olga = add_staff("olga", "operator")
    olga_client = sign_in(console.test_client(), db, olga)
    admin_client = sign_in(console.test_client(), db, admin)
    token = csrf_token(admin_client, "/users")
    assert admin_client.post("/users/olga/disable", data={"csrf_token": token}).status_code == 302
    assert olga_client.get("/dashboard").status_code == 302
    assert password_step(console.test_client(), "olga", PASSWORD) == 401
    (event,) = events(db, "staff:disable")
    assert event.actor == "staff:ada" and event.subject_id == "olga"


def test_the_progress_page_polling_does_not_keep_a_session_alive(
    console: Flask, db: Database, add_staff: Callable[..., Member]
) -> None:
    member = add_staff("olga", "operator")
    client = console.test_client()
    sign_in(client, db, member)
    quiet_since = time.time() - 14 * 60
    with client.session_transaction() as session:
        session["last_seen"] = quiet_since
    client.get("/batches/1/progress.json")  # what the page's script asks every second
    with client.session_transaction() as session:
        assert session["last_seen"] == quiet_since
    client.get("/batches")  # what the person does
    with client.session_transaction() as session:
        assert session["last_seen"] > quiet_since
