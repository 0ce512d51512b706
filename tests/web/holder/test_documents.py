"""My documents: statuses, order, previews (drawn once, then from the cache), downloads."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from certsvc.audit.models import AuditEvent
from certsvc.issuance.models import Document, DocumentStatus
from certsvc.web.holder import previews
from tests.web.holder.conftest import HolderWorld, csrf_token, holder_state, signed_in_client


def test_revoked_and_superseded_documents_say_so(holder_world: HolderWorld) -> None:
    carol = holder_world.carol
    _, client = signed_in_client(holder_world, carol)
    page = client.get("/me/documents").get_data(as_text=True)
    assert 'data-status="revoked"' in page and 'data-status="superseded"' in page
    assert "2025-11-20 撤销，原因：误发" in page
    assert "已由 2025-110000-GC2Z-000999X 替换" in page
    english = client.get("/me/documents?lang=en").get_data(as_text=True)
    assert "Revoked on 2025-11-20: issued in error" in english
    assert "Replaced by 2025-110000-GC2Z-000999X" in english
    # a document that is not current can be downloaded, but not shared
    for number in carol.numbers:
        detail = client.get(f"/me/documents/{number}").get_data(as_text=True)
        assert "/shares" not in detail
        assert client.get(f"/me/documents/{number}/pdf").status_code == 200


def test_documents_are_listed_newest_first(holder_world: HolderWorld) -> None:
    alice = holder_world.alice
    _, client = signed_in_client(holder_world, alice)
    page = client.get("/me/documents").get_data(as_text=True)
    shown = re.findall(r'<li class="card document" data-number="([^"]+)"', page)
    assert sorted(shown) == sorted(alice.numbers)
    # both issued the same day: the later registry row (the notice) first
    assert shown == list(reversed(alice.numbers))


def test_previews_are_drawn_once_and_kept_by_content_hash(
    holder_world: HolderWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = holder_world.alice
    app, client = signed_in_client(holder_world, alice)
    document = alice.documents[1]
    first = client.get(f"/me/documents/{document.number}/preview.png")
    assert first.status_code == 200
    cached = holder_state(app).previews.path_for(document.sha256)
    assert cached.exists() and cached.read_bytes() == first.data
    assert str(cached).startswith(str(holder_world.settings.data_dir / "cache" / "previews"))
    # no pdftoppm any more: the cached image is still served
    monkeypatch.setattr(previews.shutil, "which", lambda name: None)
    again = client.get(f"/me/documents/{document.number}/preview.png")
    assert again.status_code == 200 and again.data == first.data
    # an image that was never drawn cannot be now: 503, and the page still works
    cached.unlink()
    missing = client.get(f"/me/documents/{document.number}/preview.png")
    assert missing.status_code == 503
    assert client.get(f"/me/documents/{document.number}").status_code == 200


def test_a_preview_that_takes_too_long_is_given_up(holder_world: HolderWorld) -> None:
    cache = previews.PreviewCache(holder_world.settings.data_dir / "other", timeout=0.001)
    with pytest.raises(previews.PreviewError, match="longer than"):
        cache.render(holder_world.alice.documents[0].path.read_bytes())
    with pytest.raises(previews.PreviewError, match="pdftoppm failed"):
        previews.PreviewCache(holder_world.settings.data_dir / "bad").render(b"%PDF-1.7 junk")


def test_every_download_is_audited(holder_world: HolderWorld) -> None:
    bob = holder_world.bob
    _, client = signed_in_client(holder_world, bob)
    for document in bob.documents:
        response = client.get(f"/me/documents/{document.number}/pdf")
        assert response.data == document.path.read_bytes()
        assert response.headers["Cache-Control"] == "private, no-store"
    with holder_world.db.session() as session:
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.action == "document:download")
            .where(AuditEvent.actor == f"holder:{bob.person_id}")
            .order_by(col(AuditEvent.id))
        ).all()
    assert [event.subject_id for event in events] == bob.numbers
    assert all(event.details["via"] == "holder" for event in events)
    assert [event.details["sha256"] for event in events] == [d.sha256 for d in bob.documents]


def test_a_preview_is_not_kept_by_the_browser_past_sign_out(holder_world: HolderWorld) -> None:
    """The first page shows the holder's name and identity number: a browser that kept it
    for a day would show it again, without asking, to the next person at the device."""
    alice = holder_world.alice
    _, client = signed_in_client(holder_world, alice)
    preview = client.get(f"/me/documents/{alice.numbers[0]}/preview.png")
    assert preview.status_code == 200
    directives = {part.strip() for part in preview.headers["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= directives
    assert not any(part.startswith("max-age") for part in directives), directives
    token = csrf_token(client, "/me/documents")
    assert client.post("/me/sign-out", data={"csrf_token": token}).status_code == 303
    assert client.get(f"/me/documents/{alice.numbers[0]}/preview.png").status_code == 302


def test_a_decided_revocation_ahead_shows_current_until_its_day(holder_world: HolderWorld) -> None:
    """Until the day a decided revocation takes effect the document is current (the verifiers
    say so); the holder's page says that, and from which day it will not be."""
    carol = holder_world.carol
    ahead = datetime.now(UTC).date() + timedelta(days=30)
    with holder_world.db.session() as session:
        revoked = session.exec(
            select(Document)
            .where(col(Document.document_number).in_(carol.numbers))
            .where(Document.status == DocumentStatus.REVOKED)
        ).one()
        revoked.revocation_effective_on = ahead
        session.add(revoked)
        number = revoked.document_number
    _, client = signed_in_client(holder_world, carol)
    page = client.get("/me/documents").get_data(as_text=True)
    assert 'data-status="scheduled"' in page and "有效，已决定撤销" in page
    assert f"将自 {ahead.isoformat()} 起撤销，原因：误发" in page
    english = client.get(f"/me/documents/{number}?lang=en").get_data(as_text=True)
    assert f"Revoked from {ahead.isoformat()}: issued in error" in english
    with holder_world.db.session() as session:
        row = session.exec(select(Document).where(Document.document_number == number)).one()
        row.revocation_effective_on = datetime.now(UTC).date() - timedelta(days=1)
        session.add(row)
    page = client.get("/me/documents").get_data(as_text=True)
    assert 'data-status="scheduled"' not in page and 'data-status="revoked"' in page
