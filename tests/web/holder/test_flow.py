"""The whole holder story through Flask's test client: sign in with the code from the outbox,
see both documents, preview and download them, make a share link, open it, revoke it, sign
out — and what the audit log and the outbox keep of it."""

from __future__ import annotations

import hashlib
import json
import re

from sqlmodel import col, select

from certsvc.audit.models import AuditEvent
from certsvc.notifications import service as notifications
from certsvc.notifications.models import Notification, NotificationStatus
from certsvc.notifications.senders import OutgoingMessage
from certsvc.web.holder.models import HolderCode, ShareLink
from tests.web.holder.conftest import (
    HolderWorld,
    codes_sent,
    csrf_token,
    session_payload,
    signed_in_client,
)

SHARE_LINK = re.compile(r'value="(http://localhost:8000/s/[A-Za-z0-9_-]{43})"')


def _events(world: HolderWorld, action: str) -> list[AuditEvent]:
    with world.db.session() as session:
        return list(
            session.exec(
                select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id))
            ).all()
        )


def test_sign_in_documents_download_share_and_sign_out(holder_world: HolderWorld) -> None:
    alice = holder_world.alice
    app, client = signed_in_client(holder_world, alice)

    # the session names the holder by id; no identity number anywhere in it
    payload = session_payload(client)
    assert payload["holder"] == alice.person_id
    assert alice.id_number not in json.dumps(payload)

    listing = client.get("/me/documents")
    body = listing.get_data(as_text=True)
    assert listing.status_code == 200
    assert listing.headers["Cache-Control"] == "no-store"
    for number in alice.numbers:
        assert number in body
        assert f"/me/documents/{number}/preview.png" in body
    assert alice.name in body and alice.id_number not in body
    assert holder_world.bob.numbers[0] not in body

    for document in alice.documents:
        preview = client.get(f"/me/documents/{document.number}/preview.png")
        assert preview.status_code == 200 and preview.mimetype == "image/png"
        assert preview.data.startswith(b"\x89PNG")
        assert preview.headers["Cache-Control"].startswith("private")
        again = client.get(
            f"/me/documents/{document.number}/preview.png",
            headers={"If-None-Match": preview.headers["ETag"]},
        )
        assert again.status_code == 304

        pdf = client.get(f"/me/documents/{document.number}/pdf")
        assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
        assert pdf.headers["Content-Disposition"] == (
            f'attachment; filename="{document.number}.pdf"'
        )
        assert pdf.data == document.path.read_bytes()
        assert hashlib.sha256(pdf.data).hexdigest() == document.sha256

    downloads = _events(holder_world, "document:download")
    mine = [e for e in downloads if e.actor == f"holder:{alice.person_id}"]
    assert {e.subject_id for e in mine} >= set(alice.numbers)

    # a share link for the certificate
    number = alice.numbers[0]
    page = f"/me/documents/{number}"
    token = csrf_token(client, page)
    made = client.post(f"{page}/shares", data={"days": "7", "csrf_token": token})
    assert made.status_code == 303 and made.headers["Location"].endswith(page)
    shown = client.get(page).get_data(as_text=True)
    link = SHARE_LINK.search(shown)
    assert link, shown
    url = link.group(1)
    assert "http://localhost:8000/s/" not in client.get(page).get_data(as_text=True)  # once
    share_token = url.rsplit("/", 1)[1]
    with holder_world.db.session() as session:
        stored = session.exec(select(ShareLink).order_by(col(ShareLink.id).desc())).first()
        assert stored is not None and stored.days == 7
        assert stored.token_hash == hashlib.sha256(share_token.encode()).hexdigest()
        assert share_token not in json.dumps(stored.model_dump(), default=str)

    employer = app.test_client()
    opened = employer.get(f"/s/{share_token}")
    text = opened.get_data(as_text=True)
    assert opened.status_code == 200
    assert 'data-verdict="genuine"' in text and number in text
    assert alice.id_number not in text
    attached = employer.get(f"/s/{share_token}/pdf")
    assert attached.status_code == 200 and attached.data == alice.documents[0].path.read_bytes()
    assert "share:" in _events(holder_world, "document:download")[-1].actor

    listed = client.get(page).get_data(as_text=True)
    assert re.search(r'class="opened">1<', listed), listed

    token = csrf_token(client, page)
    share_id = stored.id
    revoked = client.post(f"{page}/shares/{share_id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303
    assert employer.get(f"/s/{share_token}").status_code == 404

    assert [e.subject_id for e in _events(holder_world, "share:create")][-1] == str(share_id)
    assert [e.subject_id for e in _events(holder_world, "share:revoke")][-1] == str(share_id)

    # sign out: the cookie is cleared and a copy of the old one is worthless
    old_cookie = client.get_cookie("__Host-certsvc-holder")
    assert old_cookie is not None
    token = csrf_token(client, "/me/documents")
    out = client.post("/me/sign-out", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["Location"].endswith("/me/sign-in")
    assert client.get("/me/documents").status_code == 302
    thief = app.test_client()
    thief.set_cookie("__Host-certsvc-holder", old_cookie.value)
    assert thief.get("/me/documents").status_code == 302

    actions = [e.action for e in _events(holder_world, "holder:sign-in")]
    assert actions and _events(holder_world, "holder:sign-out")[-1].actor == (
        f"holder:{alice.person_id}"
    )
    for event in _events(holder_world, "holder:code-send"):
        assert alice.id_number not in json.dumps(event.details)


def test_codes_are_stored_only_as_hmacs_and_the_outbox_row_masks_them(
    holder_world: HolderWorld,
) -> None:
    alice = holder_world.alice
    signed_in_client(holder_world, alice)
    code = codes_sent(holder_world.outbox, alice.mobile)[-1]
    with holder_world.db.session() as session:
        rows = session.exec(select(HolderCode)).all()
        messages = session.exec(
            select(Notification).where(Notification.kind == "holder-code")
        ).all()
    assert rows and messages
    for row in rows:
        assert code not in row.code_mac and len(row.code_mac) == 64
    for message in messages:
        assert "******" in message.body and code not in message.body
        assert message.status.value == "sent"


def test_notify_send_never_sends_a_masked_code(holder_world: HolderWorld) -> None:
    """A code row left pending (the web process died before sending it) is not sent later by
    ``certsvc notify send`` with its masked text: the holder asks for a new code."""
    sent: list[OutgoingMessage] = []

    class Recorder:
        name = "recorder"

        def send(self, message: OutgoingMessage) -> None:
            sent.append(message)

    alice = holder_world.alice
    with holder_world.db.session() as session:
        session.add(
            Notification(
                dedupe_key="holder-code:left-pending",
                person_id=alice.person_id,
                kind="holder-code",
                recipient=alice.mobile,
                body="【测试】您的电子职称证书登录验证码为 ******",
                status=NotificationStatus.PENDING,
            )
        )
    notifications.deliver(holder_world.db, Recorder(), actor="test:notifier")
    assert all(not message.key.startswith("holder-code:") for message in sent)
