"""Signing in: codes die after five wrong tries, clients and identity numbers are limited, a
code signs in once, and no answer — page, redirect, cookie or time — tells whether the
details belong to anyone."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import col, select

from certsvc.audit.models import AuditEvent
from certsvc.notifications.senders import OutgoingMessage
from certsvc.roster.models import Person
from certsvc.web.holder.access import SESSION_CHALLENGE
from certsvc.web.holder.models import HolderCode
from certsvc.web.holder.services import CodeCourier, CodeToSend
from tests.factories import resident_id
from tests.web.holder.conftest import (
    CSRF_FIELD,
    HolderWorld,
    ask_for_code,
    codes_sent,
    csrf_token,
    enter_code,
    holder_state,
    session_payload,
)

NOBODY = resident_id(321)  # a valid resident ID number that is nobody's


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def _flashes(client: FlaskClient) -> str:
    return client.get("/me/sign-in").get_data(as_text=True)


def test_a_code_dies_after_five_wrong_attempts(holder_world: HolderWorld, app: Flask) -> None:
    alice = holder_world.alice
    client = app.test_client()
    assert ask_for_code(app, client, alice.form()).status_code == 303
    code = codes_sent(holder_world.outbox, alice.mobile)[-1]
    with client.session_transaction() as session:
        challenge = session[SESSION_CHALLENGE]
    for remaining in (4, 3, 2, 1):
        answer = enter_code(client, _wrong(code))
        assert answer.status_code == 400
        assert f"还可以再试 {remaining} 次" in answer.get_data(as_text=True)
    fifth = enter_code(client, _wrong(code))
    assert fifth.status_code == 303 and fifth.headers["Location"].endswith("/me/sign-in")
    assert "验证码已失效" in _flashes(client)
    # even the right code is refused now, were the challenge put back
    with client.session_transaction() as session:
        session[SESSION_CHALLENGE] = challenge
    late = enter_code(client, code)
    assert late.status_code == 303 and late.headers["Location"].endswith("/me/sign-in")
    assert client.get("/me/documents").status_code == 302
    with holder_world.db.session() as session:
        rows = session.exec(select(HolderCode).where(HolderCode.person_id == alice.person_id))
        assert max(row.attempts for row in rows) == 5


def test_a_code_signs_in_once_and_expires(holder_world: HolderWorld, app: Flask) -> None:
    alice = holder_world.alice
    client = app.test_client()
    ask_for_code(app, client, alice.form())
    code = codes_sent(holder_world.outbox, alice.mobile)[-1]
    with client.session_transaction() as session:
        challenge = session[SESSION_CHALLENGE]
    assert enter_code(client, code).headers["Location"].endswith("/me/documents")

    replay = app.test_client()
    csrf_token(replay, "/me/sign-in")
    with replay.session_transaction() as session:
        session[SESSION_CHALLENGE] = challenge
    again = enter_code(replay, code)
    assert again.status_code == 303 and again.headers["Location"].endswith("/me/sign-in")
    assert replay.get("/me/documents").status_code == 302

    # an expired code: same answer as a used one
    other = app.test_client()
    ask_for_code(app, other, alice.form())
    code = codes_sent(holder_world.outbox, alice.mobile)[-1]
    with holder_world.db.session() as session:
        row = session.exec(select(HolderCode).order_by(col(HolderCode.id).desc())).first()
        assert row is not None
        row.expires_at = row.created_at
        session.add(row)
    expired = enter_code(other, code)
    assert expired.status_code == 303 and expired.headers["Location"].endswith("/me/sign-in")


def test_code_attempts_per_client_are_limited(holder_world: HolderWorld) -> None:
    alice = holder_world.alice
    app = holder_world.app(holder_verify_limit="3 per 10 minutes")
    client = app.test_client()
    ask_for_code(app, client, alice.form())
    code = codes_sent(holder_world.outbox, alice.mobile)[-1]
    for _ in range(3):
        assert enter_code(client, _wrong(code)).status_code == 400
    stopped = enter_code(client, code)  # even the right one
    assert stopped.status_code == 429
    assert "验证尝试过于频繁" in stopped.get_data(as_text=True)
    assert client.get("/me/documents").status_code == 302

    # a new session from the same address is stopped too; another address is not
    fresh = app.test_client()
    ask_for_code(app, fresh, alice.form())
    assert enter_code(fresh, "000000").status_code == 429
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    ask_for_code(app, elsewhere, alice.form())
    code = codes_sent(holder_world.outbox, alice.mobile)[-1]
    assert enter_code(elsewhere, code).headers["Location"].endswith("/me/documents")


def test_addresses_of_one_ipv6_network_share_the_per_client_limits(
    holder_world: HolderWorld,
) -> None:
    """An IPv6 subscriber holds a whole /64: a fresh address per request must not be a fresh
    client."""
    alice = holder_world.alice
    app = holder_world.app(
        holder_verify_limit="3 per 10 minutes", holder_client_send_limit="2 per hour"
    )

    def client_at(address: str) -> FlaskClient:
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        return client

    guesser = client_at("2001:db8:7:1::1")
    ask_for_code(app, guesser, alice.form())
    code = codes_sent(holder_world.outbox, alice.mobile)[-1]
    for host in (2, 3, 4):  # each guess from another address of the same /64
        with guesser.session_transaction() as session:
            challenge = session[SESSION_CHALLENGE]
        moved = client_at(f"2001:db8:7:1::{host}")
        csrf_token(moved, "/me/sign-in")
        with moved.session_transaction() as session:
            session[SESSION_CHALLENGE] = challenge
        assert enter_code(moved, _wrong(code)).status_code == 400
    stopped = client_at("2001:db8:7:1:ffff:ffff:ffff:ffff")
    ask_for_code(app, stopped, alice.form())  # the network's second code request
    assert enter_code(stopped, "000000").status_code == 429
    assert ask_for_code(app, client_at("2001:db8:7:1::abcd"), alice.form()).status_code == 429
    # the next /64 is another client; an IPv4 address is still counted alone
    neighbour = client_at("2001:db8:7:2::1")
    ask_for_code(app, neighbour, alice.form())
    assert enter_code(neighbour, "000000").status_code == 400
    assert ask_for_code(app, client_at("198.51.100.77"), alice.form()).status_code == 303


def test_code_guesses_stay_limited_while_the_limit_storage_is_down(
    holder_world: HolderWorld,
) -> None:
    """A shared limit storage that does not answer (nothing listens on port 1) must not turn
    the limits off: they are counted in the process meanwhile, as the app's own limits are."""
    alice = holder_world.alice
    app = holder_world.app(
        ratelimit_storage_uri="redis://127.0.0.1:1",
        holder_verify_limit="3 per 10 minutes",
        holder_send_limit="2 per hour",
    )
    client = app.test_client()
    ask_for_code(app, client, alice.form())
    code = codes_sent(holder_world.outbox, alice.mobile)[-1]
    for _ in range(3):
        assert enter_code(client, _wrong(code)).status_code == 400
    assert enter_code(client, code).status_code == 429
    assert client.get("/me/documents").status_code == 302
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.99"
    assert ask_for_code(app, elsewhere, alice.form()).status_code == 303
    assert ask_for_code(app, elsewhere, alice.form()).status_code == 429  # the number's third


def test_codes_per_identity_number_are_limited_whoever_asks(holder_world: HolderWorld) -> None:
    alice = holder_world.alice
    app = holder_world.app(holder_send_limit="2 per hour;3 per day")
    sent_before = len(codes_sent(holder_world.outbox, alice.mobile))
    for form in (alice.form(), {**alice.form(), "id_number": NOBODY}):
        for attempt in range(3):
            client = app.test_client()
            client.environ_base["REMOTE_ADDR"] = f"198.51.100.{attempt + 1}"
            answer = ask_for_code(app, client, form)
            if attempt < 2:
                assert answer.status_code == 303, answer.get_data(as_text=True)
            else:  # the third in the hour, from yet another address
                assert answer.status_code == 429
                assert "验证码请求过于频繁" in answer.get_data(as_text=True)
    assert len(codes_sent(holder_world.outbox, alice.mobile)) == sent_before + 2


def test_code_requests_per_client_are_limited(holder_world: HolderWorld) -> None:
    app = holder_world.app(holder_client_send_limit="3 per hour")
    client = app.test_client()
    for n in range(3):
        form = {**holder_world.alice.form(), "id_number": resident_id(400 + n)}
        assert ask_for_code(app, client, form).status_code == 303
    assert ask_for_code(app, client, holder_world.bob.form()).status_code == 429
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    assert ask_for_code(app, other, holder_world.bob.form()).status_code == 303


def _without_documents(world: HolderWorld) -> dict[str, str]:
    """A person on record (imported, reviewed) with no document to show."""
    holders = {world.alice.person_id, world.bob.person_id, world.carol.person_id}
    with world.db.session() as session:
        people = session.exec(select(Person).order_by(col(Person.id))).all()
    from certsvc.issuance.models import Document

    with world.db.session() as session:
        issued = set(session.exec(select(Document.person_id)).all())
    person = next(p for p in people if p.id not in holders and p.id not in issued)
    return {"id_type": person.id_type.value, "id_number": person.id_number, "name": person.name}


@dataclass
class Answer:
    status: int
    location: str
    headers: list[str]
    cookie_keys: list[str]
    cookie_lengths: list[int]
    code_page: str
    wrong_page: str


def _answer(app: Flask, form: dict[str, str]) -> Answer:
    client = app.test_client()
    response = ask_for_code(app, client, form)
    payload = session_payload(client)
    code_page = client.get("/me/sign-in/code").get_data(as_text=True)
    wrong = enter_code(client, "000000")

    def masked(text: str) -> str:
        return CSRF_FIELD.sub('name="csrf_token" value="TOKEN"', text)

    return Answer(
        status=response.status_code,
        location=response.headers["Location"],
        headers=sorted(response.headers.keys()),
        cookie_keys=sorted(payload),
        cookie_lengths=[len(str(payload[key])) for key in sorted(payload)],
        code_page=masked(code_page),
        wrong_page=f"{wrong.status_code} " + masked(wrong.get_data(as_text=True)),
    )


def test_existing_and_unknown_people_get_identical_answers(holder_world: HolderWorld) -> None:
    alice = holder_world.alice
    app = holder_world.app()
    forms = {
        "holder": alice.form(),
        "wrong name": alice.form(name="王某某"),
        "unknown number": alice.form(id_number=NOBODY),
        "no documents": _without_documents(holder_world),
        "other type": alice.form(id_type="foreign_passport"),
    }
    answers = {what: _answer(app, form) for what, form in forms.items()}
    first = answers["holder"]
    assert first.status == 303 and first.location.endswith("/me/sign-in/code")
    assert "如果您填写的信息与我们的记录相符" in first.code_page
    for what, answer in answers.items():
        assert answer == first, what
    # no page says where the code went, not even the last digits of the number on record
    assert alice.mobile[-4:] not in first.code_page
    english = app.test_client()
    ask_for_code(app, english, alice.form())
    page = english.get("/me/sign-in/code?lang=en").get_data(as_text=True)
    assert "If the details match our records" in page and alice.mobile[-4:] not in page


@dataclass
class GatedSender:
    """A gateway that answers only when the test opens its gate."""

    name: str = "gated"
    gate: threading.Event = field(default_factory=threading.Event)
    sent: list[OutgoingMessage] = field(default_factory=list)

    def send(self, message: OutgoingMessage) -> None:
        self.gate.wait(30)
        self.sent.append(message)


def test_the_answer_does_not_wait_for_the_message(holder_world: HolderWorld) -> None:
    app = holder_world.app()
    sender = GatedSender()
    state = holder_state(app)
    state.courier = CodeCourier(holder_world.db, sender, agency_name="测试局", minutes=5)
    for form in (holder_world.alice.form(), holder_world.alice.form(id_number=NOBODY)):
        client = app.test_client()
        token = csrf_token(client, "/me/sign-in")
        response = client.post("/me/sign-in", data={**form, "csrf_token": token})
        assert response.status_code == 303
        response.close()
    assert sender.sent == []  # both answered while the gateway has not taken the message
    sender.gate.set()
    state.courier.wait()
    assert len(sender.sent) == 1 and sender.sent[0].recipient == holder_world.alice.mobile


def test_a_code_is_delivered_only_once_the_answer_has_gone_out(
    holder_world: HolderWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The courier's work (outbox row, audit event, the sender), run while the answer was
    still being made, made a holder's answer slower than a stranger's (tenth percentile 4.5
    against 2.0 ms here): a timing oracle for "this number and name are on record". The code
    is handed over with an event the server's closing of the answer sets; the courier waits
    for it before doing anything."""
    alice = holder_world.alice
    app = holder_world.app()
    handed: list[tuple[CodeToSend, threading.Event | None]] = []
    monkeypatch.setattr(
        holder_state(app).courier,
        "dispatch",
        lambda code, released=None: handed.append((code, released)),
    )
    for form, codes in ((alice.form(), 1), (alice.form(id_number=NOBODY), 0)):
        client = app.test_client()
        token = csrf_token(client, "/me/sign-in")
        response = client.post("/me/sign-in", data={**form, "csrf_token": token})
        assert response.status_code == 303
        assert len(handed) == codes
        assert all(released is not None and not released.is_set() for _, released in handed)
        response.close()  # what the WSGI server does once the answer is sent
        assert all(released is not None and released.is_set() for _, released in handed)
        assert all(code.recipient.person_id == alice.person_id for code, _ in handed)
        handed.clear()


def test_a_code_still_goes_out_when_the_server_never_closes_the_answer(
    holder_world: HolderWorld,
) -> None:
    """werkzeug's development server skips closing an answer when the client has reset the
    connection; the courier then delivers after its hand-over time instead of never."""
    app = holder_world.app()
    state = holder_state(app)
    state.courier = CodeCourier(
        holder_world.db,
        state.courier.sender,
        agency_name="测试局",
        minutes=5,
        handover_seconds=0.01,
    )
    alice = holder_world.alice
    before = len(codes_sent(holder_world.outbox, alice.mobile))
    client = app.test_client()
    token = csrf_token(client, "/me/sign-in")
    response = client.post("/me/sign-in", data={**alice.form(), "csrf_token": token})
    assert response.status_code == 303  # and never closed
    state.courier.wait()
    assert len(codes_sent(holder_world.outbox, alice.mobile)) == before + 1


def test_code_sends_and_sign_ins_are_audited_without_identity_numbers(
    holder_world: HolderWorld, app: Flask
) -> None:
    alice = holder_world.alice
    client = app.test_client()
    ask_for_code(app, client, alice.form())
    enter_code(client, codes_sent(holder_world.outbox, alice.mobile)[-1])
    with holder_world.db.session() as session:
        events = session.exec(
            select(AuditEvent).where(col(AuditEvent.action).startswith("holder:"))
        ).all()
    actions = {event.action for event in events}
    assert {"holder:code-send", "holder:sign-in"} <= actions
    for event in events:
        assert event.actor == f"holder:{event.subject_id}"
        text = repr(event.details)
        assert alice.id_number not in text and alice.mobile not in text


def test_someone_knowing_only_the_number_cannot_use_up_the_holders_codes(
    holder_world: HolderWorld,
) -> None:
    """The send limit counts number and name together: wrong names with Alice's number are
    limited on their own key and send nothing, and Alice can still ask for her code."""
    alice = holder_world.alice
    app = holder_world.app(holder_send_limit="2 per hour")
    sent_before = len(codes_sent(holder_world.outbox, alice.mobile))
    wrong = {**alice.form(), "name": "冒名者"}
    statuses = []
    for attempt in range(3):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{attempt + 1}"
        statuses.append(ask_for_code(app, client, wrong).status_code)
    assert statuses == [303, 303, 429]  # the guesser is limited ...
    assert len(codes_sent(holder_world.outbox, alice.mobile)) == sent_before  # ... and sent nothing
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "198.51.100.9"
    assert ask_for_code(app, client, alice.form()).status_code == 303  # Alice still can
    assert len(codes_sent(holder_world.outbox, alice.mobile)) == sent_before + 1
