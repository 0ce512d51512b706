"""A password typed into the user name field is never written to the audit log (which auditors
and admins read and export). A pass phrase of letters and digits, lower-cased, had the form of
a user name and was kept as the failed sign-in's subject; an unknown name is kept now only when
it is shorter than any password may be."""

from __future__ import annotations

from flask import Flask

from certsvc.db.database import Database
from certsvc.staff.service import MIN_PASSWORD_LENGTH
from tests.console.conftest import PASSWORD
from tests.console.test_sign_in import events, password_step


def test_a_password_typed_as_the_user_name_is_not_audited(console: Flask, db: Database) -> None:
    client = console.test_client()
    for typed in ("Summer2026isGreat", "correcthorsebatterystaple", "x" * MIN_PASSWORD_LENGTH):
        assert password_step(client, typed, PASSWORD) == 401
        event = events(db, "staff:sign-in-failed")[-1]
        assert event.details["reason"] == "unknown user"
        assert typed.lower() not in event.subject_id and typed.lower() not in str(event.details)
    # a short unknown name, as people try when guessing accounts, is still kept
    assert password_step(client, "admin", PASSWORD) == 401
    assert events(db, "staff:sign-in-failed")[-1].subject_id == "admin"
