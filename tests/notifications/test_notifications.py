"""The outbox and its senders: never a message twice, retries, and what the audit log keeps."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from certsvc.audit.models import AuditEvent
from certsvc.db.database import Database
from certsvc.notifications import service
from certsvc.notifications.models import Notification, NotificationStatus
from certsvc.notifications.senders import (
    HttpGatewaySender,
    OutboxFileSender,
    OutgoingMessage,
    SendError,
)
from certsvc.roster.identity import Gender, IdType
from certsvc.roster.models import Person
from tests.factories import resident_id

ACTOR = "test:notifier"
TOKEN = "gateway-token-for-tests"


def _person(db: Database, n: int) -> Person:
    with db.session() as session:
        person = Person(
            name=f"收件人{n}",
            id_type=IdType.RESIDENT_ID,
            id_country="CHN",
            id_number=resident_id(n),
            gender=Gender.FEMALE,
            birth_date=date(1985, 3, n + 1),
            work_unit="北京某医院",
            mobile=f"1380000{n:04d}",
        )
        session.add(person)
        session.flush()
        return person


def _message(person: Person, key: str, body: str = "您的证书已签发") -> service.NewMessage:
    return service.NewMessage(
        dedupe_key=key,
        person_id=person.id or 0,
        kind=service.DOCUMENTS_ISSUED,
        recipient=person.mobile,
        body=body,
    )


def _enqueue(db: Database, person: Person, key: str, body: str = "您的证书已签发") -> int:
    with db.session() as session:
        return service.enqueue(session, [_message(person, key, body)])


def _messages(db: Database) -> list[Notification]:
    with db.session() as session:
        return list(session.exec(select(Notification).order_by(col(Notification.id))).all())


def _send_events(db: Database) -> list[AuditEvent]:
    with db.session() as session:
        return list(
            session.exec(
                select(AuditEvent)
                .where(AuditEvent.action == "notification:send")
                .order_by(col(AuditEvent.id))
            ).all()
        )


def _lines(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# -- the outbox -------------------------------------------------------------------------------


def test_enqueue_is_idempotent_per_dedupe_key(db: Database) -> None:
    person = _person(db, 1)
    assert _enqueue(db, person, "batch:1:person:1") == 1
    assert _enqueue(db, person, "batch:1:person:1", body="a different text") == 0
    with db.session() as session:  # one call naming a key twice, and one already stored
        written = service.enqueue(
            session,
            [
                _message(person, "batch:2:person:1"),
                _message(person, "batch:2:person:1", body="again"),
                _message(person, "batch:1:person:1", body="and again"),
            ],
        )
    assert written == 1
    with db.session() as session:
        assert service.enqueue(session, []) == 0
    messages = _messages(db)
    assert [m.dedupe_key for m in messages] == ["batch:1:person:1", "batch:2:person:1"]
    assert messages[1].body == "您的证书已签发"
    assert messages[0].body == "您的证书已签发"  # the second enqueue changed nothing
    assert {m.status for m in messages} == {NotificationStatus.PENDING}
    assert {m.attempts for m in messages} == {0}


def test_the_outbox_file_gets_one_line_per_message(db: Database, tmp_path: Path) -> None:
    people = [_person(db, n) for n in range(3)]
    for person in people:
        _enqueue(db, person, f"batch:1:person:{person.id}")
    path = tmp_path / "outbox" / "sms.jsonl"

    report = service.deliver(db, OutboxFileSender(path), actor=ACTOR)

    assert (report.sent, report.failed, report.retrying) == (3, 0, 0)
    lines = _lines(path)
    assert [line["key"] for line in lines] == [f"batch:1:person:{p.id}" for p in people]
    assert [line["to"] for line in lines] == [p.mobile for p in people]
    assert {line["body"] for line in lines} == {"您的证书已签发"}
    messages = _messages(db)
    assert {m.status for m in messages} == {NotificationStatus.SENT}
    assert all(m.sent_at is not None and m.attempts == 1 for m in messages)
    # nothing pending: delivering again sends nothing and writes nothing
    again = service.deliver(db, OutboxFileSender(path), actor=ACTOR)
    assert (again.sent, again.failed, again.retrying) == (0, 0, 0)
    assert len(_lines(path)) == 3


def test_redelivery_after_a_crash_does_not_write_the_line_twice(
    db: Database, tmp_path: Path
) -> None:
    handed, lost = _person(db, 1), _person(db, 2)
    _enqueue(db, handed, "k-handed")
    _enqueue(db, lost, "k-lost")
    path = tmp_path / "sms.jsonl"
    # the crash: both were marked SENDING; one reached the file, the other never did
    with db.session() as session:
        for message in session.exec(select(Notification)).all():
            message.status = NotificationStatus.SENDING
            message.attempts = 1
            session.add(message)
    OutboxFileSender(path).send(OutgoingMessage("k-handed", handed.mobile, "您的证书已签发"))

    report = service.deliver(db, OutboxFileSender(path), actor=ACTOR)  # a new process

    assert report.sent == 2
    assert sorted(line["key"] for line in _lines(path)) == ["k-handed", "k-lost"]
    messages = _messages(db)
    assert {m.status for m in messages} == {NotificationStatus.SENT}
    assert {m.attempts for m in messages} == {2}


# -- the HTTP gateway -------------------------------------------------------------------------


@dataclass
class Gateway:
    url: str
    answers: list[int] = field(default_factory=list)  # status per request; then 200
    requests: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    state = Gateway(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            state.requests.append(
                {
                    "path": self.path,
                    "headers": dict(self.headers.items()),
                    "body": json.loads(self.rfile.read(length).decode("utf-8")),
                }
            )
            status = state.answers.pop(0) if state.answers else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/sms/send"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_the_gateway_gets_json_the_key_and_the_token(db: Database, gateway: Gateway) -> None:
    person = _person(db, 4)
    _enqueue(db, person, "batch:7:person:4", body="【北京市人社局】请登录下载")

    report = service.deliver(db, HttpGatewaySender(gateway.url, TOKEN), actor=ACTOR)

    assert report.sent == 1
    (request,) = gateway.requests
    assert request["path"] == "/sms/send"
    assert request["body"] == {"to": person.mobile, "body": "【北京市人社局】请登录下载"}
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["idempotency-key"] == "batch:7:person:4"
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["content-type"].startswith("application/json")
    assert _messages(db)[0].status is NotificationStatus.SENT


def test_no_token_no_authorization_header(gateway: Gateway) -> None:
    HttpGatewaySender(gateway.url).send(OutgoingMessage("k", "13800000000", "x"))
    headers = {k.lower() for k in gateway.requests[0]["headers"]}
    assert "authorization" not in headers and "idempotency-key" in headers


def test_a_failing_gateway_is_retried_then_given_up(db: Database, gateway: Gateway) -> None:
    person = _person(db, 5)
    _enqueue(db, person, "k-retry")
    gateway.answers = [500] * service.MAX_ATTEMPTS
    sender = HttpGatewaySender(gateway.url, TOKEN)

    first = service.deliver(db, sender, actor=ACTOR)

    assert (first.sent, first.failed, first.retrying) == (0, 0, 1)
    (message,) = _messages(db)
    assert message.status is NotificationStatus.PENDING
    assert message.last_error == "the SMS gateway answered HTTP 500"
    assert message.attempts == 1 and message.sent_at is None

    for attempt in range(2, service.MAX_ATTEMPTS + 1):
        report = service.deliver(db, sender, actor=ACTOR)
        (message,) = _messages(db)
        assert message.attempts == attempt
        if attempt < service.MAX_ATTEMPTS:
            assert report.retrying == 1 and message.status is NotificationStatus.PENDING
    assert report.failed == 1
    assert message.status is NotificationStatus.FAILED
    assert message.last_error == "the SMS gateway answered HTTP 500"
    # a failed message is left alone: no further request
    assert service.deliver(db, sender, actor=ACTOR).failed == 0
    assert len(gateway.requests) == service.MAX_ATTEMPTS
    assert {r["headers"]["Idempotency-Key"] for r in gateway.requests} == {"k-retry"}


def test_a_retry_that_succeeds_keeps_the_same_key(db: Database, gateway: Gateway) -> None:
    person = _person(db, 6)
    _enqueue(db, person, "k-once")
    gateway.answers = [503]
    sender = HttpGatewaySender(gateway.url, TOKEN)
    assert service.deliver(db, sender, actor=ACTOR).retrying == 1
    assert service.deliver(db, sender, actor=ACTOR).sent == 1
    (message,) = _messages(db)
    assert message.status is NotificationStatus.SENT and message.last_error is None
    assert [r["headers"]["Idempotency-Key"] for r in gateway.requests] == ["k-once", "k-once"]


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_an_unreachable_gateway_is_a_clear_send_error(db: Database) -> None:
    sender = HttpGatewaySender(f"http://127.0.0.1:{_closed_port()}/sms", TOKEN)
    with pytest.raises(SendError) as refused:
        sender.send(OutgoingMessage("k", "13800000000", "x"))
    assert str(refused.value).startswith("the SMS gateway could not be reached: ")
    assert "refused" in str(refused.value).lower()
    assert TOKEN not in str(refused.value)

    person = _person(db, 7)
    _enqueue(db, person, "k-unreachable")
    report = service.deliver(db, sender, actor=ACTOR)
    assert report.retrying == 1
    (message,) = _messages(db)
    assert message.status is NotificationStatus.PENDING
    assert (message.last_error or "").startswith("the SMS gateway could not be reached: ")


def test_sends_are_audited_without_the_mobile_number(
    db: Database, gateway: Gateway, tmp_path: Path
) -> None:
    ok, bad = _person(db, 8), _person(db, 9)
    _enqueue(db, ok, "k-ok")
    service.deliver(db, OutboxFileSender(tmp_path / "sms.jsonl"), actor=ACTOR)
    _enqueue(db, bad, "k-bad")
    gateway.answers = [500]
    service.deliver(db, HttpGatewaySender(gateway.url, TOKEN), actor=ACTOR)

    events = _send_events(db)
    messages = {m.dedupe_key: m for m in _messages(db)}
    assert [(e.subject_type, e.subject_id, e.actor) for e in events] == [
        ("notification", str(messages["k-ok"].id), ACTOR),
        ("notification", str(messages["k-bad"].id), ACTOR),
    ]
    assert events[0].details == {
        "kind": service.DOCUMENTS_ISSUED,
        "status": "sent",
        "sender": "outbox-file",
        "attempt": 1,
    }
    assert events[1].details == {
        "kind": service.DOCUMENTS_ISSUED,
        "status": "pending",
        "sender": "http-gateway",
        "attempt": 1,
        "error": "the SMS gateway answered HTTP 500",
    }
    for event in events:
        text = json.dumps(event.details, ensure_ascii=False)
        assert ok.mobile not in text and bad.mobile not in text
        assert ok.id_number not in text and bad.id_number not in text
        assert TOKEN not in text


def test_the_configured_sender(db: Database, tmp_path: Path) -> None:
    from certsvc.config import Settings

    plain = Settings.from_env({}, data_dir=tmp_path / "data")
    sender = service.sender_for(plain)
    assert isinstance(sender, OutboxFileSender)
    assert sender.path == tmp_path / "data" / "outbox" / "sms.jsonl"
    configured = Settings.from_env(
        {
            "CERTSVC_SMS_GATEWAY_URL": "https://sms.example.gov.cn/send",
            "CERTSVC_SMS_GATEWAY_TOKEN": TOKEN,
        },
        data_dir=tmp_path / "data",
    )
    gateway = service.sender_for(configured)
    assert isinstance(gateway, HttpGatewaySender)
    assert gateway.url == "https://sms.example.gov.cn/send"


def test_a_gateway_url_that_is_not_http_is_refused(tmp_path: Path) -> None:
    from certsvc.config import Settings
    from certsvc.errors import ConfigError

    with pytest.raises(ConfigError, match="CERTSVC_SMS_GATEWAY_URL must be an http"):
        Settings.from_env(
            {"CERTSVC_SMS_GATEWAY_URL": "file:///etc/passwd"}, data_dir=tmp_path / "data"
        )
