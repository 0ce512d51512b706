"""Console fixtures: the app on the test database, members of staff of each role, and a
client signed in the way a person signs in (password, then the authenticator's code)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from certsvc.config import Settings
from certsvc.console import create_console_app
from certsvc.db.database import Database
from certsvc.staff.models import StaffUser
from certsvc.staff.service import create_staff, current_code, get_staff
from tests.issuance.conftest import World, build_world

PASSWORD = "correct horse battery staple"
SECRET_KEY = "test console session key, not secret"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def console_settings(settings: Settings, **changes: Any) -> Settings:
    values: dict[str, Any] = {"web_count_flush_seconds": 0}
    values.update(changes)
    return dataclasses.replace(settings, **values)


def make_console(settings: Settings, db: Database, **config: Any) -> Flask:
    return create_console_app(
        {
            "SETTINGS": console_settings(settings),
            "DATABASE": db,
            "TESTING": True,
            "SECRET_KEY": SECRET_KEY,
            **config,
        }
    )


@dataclass(frozen=True)
class Member:
    username: str
    secret: str
    roles: tuple[str, ...]

    @property
    def actor(self) -> str:
        return f"staff:{self.username}"


@pytest.fixture
def add_staff(db: Database) -> Callable[..., Member]:
    """``add_staff("olga", "operator")``: a member of staff with :data:`PASSWORD`."""

    def add(username: str, *roles: str) -> Member:
        with db.session() as session:
            created = create_staff(
                session, username=username, password=PASSWORD, roles=roles, actor="test:admin"
            )
        return Member(username, created.user.totp_secret, tuple(roles))

    return add


@pytest.fixture
def world(settings: Settings, db: Database) -> World:
    """The demo's bureau (roster, closed publicity, keys) without a batch, kept small."""
    return build_world(settings, db, rows=12)


@pytest.fixture
def console(settings: Settings, db: Database) -> Flask:
    return make_console(settings, db)


def csrf_token(client: FlaskClient, path: str = "/sign-in") -> str:
    page = client.get(path)
    found = CSRF.search(page.get_data(as_text=True))
    assert found is not None, f"no CSRF token on {path}"
    return found.group(1)


def fresh_code(db: Database, member: Member) -> str:
    """The authenticator's code now; the account's last used step is forgotten first so that a
    test may sign the same person in twice within one 30-second step."""
    with db.session() as session:
        user: StaffUser = get_staff(session, member.username)
        user.totp_last_step = None
        session.add(user)
    return current_code(member.secret)


def sign_in(client: FlaskClient, db: Database, member: Member) -> FlaskClient:
    token = csrf_token(client)
    first = client.post(
        "/sign-in",
        data={"username": member.username, "password": PASSWORD, "csrf_token": token},
    )
    assert first.status_code == 302 and first.location.endswith("/sign-in/code"), first.data
    token = csrf_token(client, "/sign-in/code")
    second = client.post(
        "/sign-in/code", data={"code": fresh_code(db, member), "csrf_token": token}
    )
    assert second.status_code == 302, second.get_data(as_text=True)
    return client


def post_form(client: FlaskClient, path: str, data: dict[str, Any], page: str) -> Any:
    """POST ``data`` with the CSRF token of ``page`` (a page the client can see)."""
    return client.post(path, data={**data, "csrf_token": csrf_token(client, page)})
