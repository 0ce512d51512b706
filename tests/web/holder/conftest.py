"""The holder pages' world: one real issued batch per module and back end, shared by the tests
of the module (signing documents is the slow part), and a fresh app per test (its own rate
limit counters).

Holders in the world: ``alice`` with a current certificate and notice (signs in, downloads,
shares), ``bob`` likewise (the other holder whose documents alice must never reach), and
``carol`` whose certificate is revoked and notice superseded (status display).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import shutil
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import col, select

from certsvc.bootstrap import initialise
from certsvc.config import Settings
from certsvc.db.database import Database, create_engine
from certsvc.issuance.models import Document, DocumentStatus
from certsvc.issuance.runner import run_batch
from certsvc.roster.identity import IdType
from certsvc.roster.models import Person
from certsvc.web import create_app
from certsvc.web.holder.state import EXTENSION, HolderState
from tests.conftest import BACKENDS, POSTGRES_URL, TEST_ACTOR
from tests.issuance.conftest import World, build_world

SECRET = "holder-tests-secret-key-0123456789abcdefghij"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class HolderDoc:
    number: str
    document_type: str
    status: DocumentStatus
    sha256: str
    token: str
    path: Path


@dataclass(frozen=True)
class Holder:
    person_id: int
    name: str
    id_type: IdType
    id_number: str
    mobile: str
    documents: tuple[HolderDoc, ...]

    @property
    def numbers(self) -> list[str]:
        return [document.number for document in self.documents]

    def form(self, **changes: str) -> dict[str, str]:
        values = {"id_type": self.id_type.value, "id_number": self.id_number, "name": self.name}
        values.update(changes)
        return values


@dataclass
class HolderWorld:
    world: World
    settings: Settings
    db: Database
    alice: Holder
    bob: Holder
    carol: Holder

    @property
    def outbox(self) -> Path:
        return self.settings.data_dir / "outbox" / "sms.jsonl"

    def app(self, **changes: Any) -> Flask:
        settings = dataclasses.replace(self.settings, **changes)
        return create_app({"SETTINGS": settings, "DATABASE": self.db, "TESTING": True})


def _database(request: pytest.FixtureRequest, folder: Path) -> Iterator[str]:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = folder / "certsvc.sqlite3"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured: set CERTSVC_TEST_POSTGRES_URL to run these")
    admin = create_engine(POSTGRES_URL).execution_options(isolation_level="AUTOCOMMIT")
    name = f"certsvc_holder_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(admin.url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def holders_of(db: Database, world: World) -> list[Holder]:
    """Every person with a current certificate and notice, oldest first."""
    with db.session() as session:
        rows = session.exec(
            select(Document, Person)
            .join(Person, col(Person.id) == col(Document.person_id))
            .where(Document.status == DocumentStatus.ISSUED)
            .order_by(col(Person.id), col(Document.id))
        ).all()
    documents: dict[int, list[HolderDoc]] = {}
    people: dict[int, Person] = {}
    for document, person in rows:
        assert person.id is not None
        people[person.id] = person
        documents.setdefault(person.id, []).append(
            HolderDoc(
                number=document.document_number,
                document_type=document.document_type.value,
                status=document.status,
                sha256=document.sha256 or "",
                token=document.token or "",
                path=world.store.path_for(document.sha256 or ""),
            )
        )
    return [
        Holder(
            person_id=person_id,
            name=people[person_id].name,
            id_type=people[person_id].id_type,
            id_number=people[person_id].id_number,
            mobile=people[person_id].mobile,
            documents=tuple(found),
        )
        for person_id, found in documents.items()
        if len(found) == 2
    ]


def _revoke_and_supersede(db: Database, holder: Holder) -> Holder:
    """Carol's certificate revoked and her notice superseded, as the registry records them
    (set directly: the revocation workflow has its own tests)."""
    changed = []
    with db.session() as session:
        for held in holder.documents:
            document = session.exec(
                select(Document).where(Document.document_number == held.number)
            ).one()
            if document.document_type.value == "certificate":
                document.status = DocumentStatus.REVOKED
                document.revoked_at = datetime(2025, 11, 20, 2, 0, tzinfo=UTC)
                document.revocation_reason = "issued_in_error"
                document.revocation_effective_on = date(2025, 11, 20)
            else:
                document.status = DocumentStatus.SUPERSEDED
                document.superseded_by = "2025-110000-GC2Z-000999X"
            session.add(document)
            changed.append(dataclasses.replace(held, status=document.status))
    return dataclasses.replace(holder, documents=tuple(changed))


@pytest.fixture(scope="module", params=BACKENDS)
def holder_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HolderWorld]:
    folder = tmp_path_factory.mktemp("holder")
    database = _database(request, folder)
    url = next(database)
    settings = Settings.from_env(
        {},
        data_dir=folder / "data",
        database_url=url,
        key_dir=folder / "keys",
        secret_key=SECRET,
        web_count_flush_seconds=0,
    )
    db = Database(url)
    initialise(db, settings, actor=TEST_ACTOR)
    world = build_world(settings, db, rows=6)
    run_batch(db, settings, world.ctx.keystore, world.approved_batch(), world.options())
    holders = holders_of(db, world)
    assert len(holders) >= 3, "the world needs three holders with a certificate and a notice"
    alice, bob, carol = holders[:3]
    carol = _revoke_and_supersede(db, carol)
    yield HolderWorld(world, settings, db, alice, bob, carol)
    db.dispose()
    for _ in database:  # drops the PostgreSQL database
        pass


@pytest.fixture
def app(holder_world: HolderWorld) -> Flask:
    return holder_world.app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# -- helpers ---------------------------------------------------------------------------------


def holder_state(app: Flask) -> HolderState:
    found = app.extensions[EXTENSION]
    assert isinstance(found, HolderState)
    return found


def csrf_token(client: FlaskClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    match = CSRF_FIELD.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def codes_sent(outbox: Path, mobile: str) -> list[str]:
    """Every sign-in code the outbox holds for ``mobile``, oldest first."""
    if not outbox.exists():
        return []
    found = []
    for line in outbox.read_text(encoding="utf-8").splitlines():
        message = json.loads(line)
        if message["key"].startswith("holder-code:") and message["to"] == mobile:
            match = re.search(r"验证码为 ([0-9]{6})", message["body"])
            assert match, message["body"]
            found.append(match.group(1))
    return found


def code_from_outbox(app: Flask, outbox: Path, mobile: str, before: int) -> str:
    """The code sent to ``mobile`` after the ``before`` codes it had, once the app's courier
    (which sends in a thread of its own) has sent what it was handed. The code is handed over
    when the server closes the answer, which may be just after the browser has it: so look
    again until the code is there (or 30 s have passed)."""
    deadline = time.monotonic() + 30
    while True:
        holder_state(app).courier.wait()
        codes = codes_sent(outbox, mobile)
        if len(codes) > before or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert len(codes) == before + 1, f"{len(codes) - before} codes were sent, not one"
    return codes[-1]


def ask_for_code(app: Flask, client: FlaskClient, form: dict[str, str]) -> Any:
    token = csrf_token(client, "/me/sign-in")
    response = client.post("/me/sign-in", data={**form, "csrf_token": token})
    response.close()  # as a WSGI server does once the answer is sent: the code goes out then
    holder_state(app).courier.wait()
    return response


def enter_code(client: FlaskClient, code: str) -> Any:
    token = csrf_token(client, "/me/sign-in/code")
    return client.post("/me/sign-in/code", data={"code": code, "csrf_token": token})


def sign_in(app: Flask, client: FlaskClient, holder: Holder, outbox: Path) -> None:
    before = len(codes_sent(outbox, holder.mobile))
    asked = ask_for_code(app, client, holder.form())
    assert asked.status_code == 303 and asked.headers["Location"].endswith("/me/sign-in/code")
    codes = codes_sent(outbox, holder.mobile)
    assert len(codes) == before + 1, "no code was sent"
    entered = enter_code(client, codes[-1])
    assert entered.status_code == 303, entered.get_data(as_text=True)
    assert entered.headers["Location"].endswith("/me/documents")


def signed_in_client(world: HolderWorld, holder: Holder) -> tuple[Flask, FlaskClient]:
    app = world.app()
    client = app.test_client()
    sign_in(app, client, holder, world.outbox)
    return app, client


def session_payload(client: FlaskClient) -> dict[str, Any]:
    """The holder session cookie's content (Flask's cookie is signed, not encrypted)."""
    cookie = client.get_cookie("__Host-certsvc-holder")
    assert cookie is not None
    value = cookie.value
    compressed = value.startswith(".")
    body = value.lstrip(".").split(".")[0]
    data = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    if compressed:
        data = zlib.decompress(data)
    payload: dict[str, Any] = json.loads(data)
    return payload
