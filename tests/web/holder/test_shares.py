"""Share links: lifetimes, one page for every link that does not open, the same verdict as the
QR page, openings counted and nothing else kept."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from sqlmodel import select

from certsvc.db.types import utcnow
from certsvc.issuance.models import Document
from certsvc.web.counting import counts
from certsvc.web.holder.models import ShareLink
from certsvc.web.holder.services import (
    MAX_ACTIVE_SHARES,
    create_share,
    sha256_hex,
)
from tests.web.holder.conftest import Holder, HolderWorld, csrf_token, signed_in_client


def _document(world: HolderWorld, number: str) -> Document:
    with world.db.session() as session:
        return session.exec(select(Document).where(Document.document_number == number)).one()


def _link(world: HolderWorld, holder: Holder, index: int = 0, **changes: object) -> str:
    """A share link made through the service (then changed as a test needs); its token."""
    document = _document(world, holder.numbers[index])
    with world.db.session() as session:
        link, token = create_share(
            session, document, person_id=holder.person_id, days=1, now=utcnow()
        )
        for name, value in changes.items():
            setattr(link, name, value)
        session.add(link)
    return token


def _verdict_section(page: str) -> str:
    match = re.search(r'<section class="verdict.*?</section>', page, re.S)
    assert match, page
    return match.group(0)


def test_a_link_opens_the_verification_page_with_the_pdf(
    holder_world: HolderWorld, app: Flask
) -> None:
    alice = holder_world.alice
    document = alice.documents[1]
    token = _link(holder_world, alice, 1)
    employer = app.test_client()
    page = employer.get(f"/s/{token}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"  # the token stays in this page
    qr = employer.get(f"/v/{document.token}").get_data(as_text=True)
    assert _verdict_section(text) == _verdict_section(qr)
    assert f"/s/{token}/pdf" in text
    pdf = employer.get(f"/s/{token}/pdf")
    assert pdf.data == document.path.read_bytes()
    assert pdf.headers["Content-Disposition"] == f'attachment; filename="{document.number}.pdf"'
    assert employer.get_cookie("__Host-certsvc-holder") is None  # nothing kept of the visitor

    employer.get(f"/s/{token}")
    with holder_world.db.session() as session:
        link = session.exec(
            select(ShareLink).where(ShareLink.token_hash == sha256_hex(token))
        ).one()
    assert link.opened == 2  # the page twice; the download is not an opening
    today = utcnow().date()
    assert counts(holder_world.db)[(today, "share", "genuine")] >= 2


def test_expired_revoked_and_unknown_links_get_one_page(
    holder_world: HolderWorld, app: Flask
) -> None:
    bob = holder_world.bob
    now = utcnow()
    expired = _link(holder_world, bob, expires_at=now - timedelta(seconds=1))
    revoked = _link(holder_world, bob, revoked_at=now)
    unknown = "A" * 43
    client = app.test_client()
    pages = {}
    for what, token in (("expired", expired), ("revoked", revoked), ("unknown", unknown)):
        for suffix in ("", "/pdf"):
            response = client.get(f"/s/{token}{suffix}")
            assert response.status_code == 404, (what, suffix)
            pages[(what, suffix)] = response.get_data(as_text=True).replace(token, "T")
    for suffix in ("", "/pdf"):  # the same page but for the language link's echo of the path
        assert len({page for (_, end), page in pages.items() if end == suffix}) == 1
    assert "该分享链接无效、已过期或已被持证人撤销" in next(iter(pages.values()))
    with holder_world.db.session() as session:
        for token in (expired, revoked):
            link = session.exec(
                select(ShareLink).where(ShareLink.token_hash == sha256_hex(token))
            ).one()
            assert link.opened == 0


def test_a_link_to_a_document_revoked_later_shows_it_revoked(
    holder_world: HolderWorld, app: Flask
) -> None:
    carol = holder_world.carol
    certificate = next(d for d in carol.documents if d.document_type == "certificate")
    document = _document(holder_world, certificate.number)
    with holder_world.db.session() as session:  # made while it was current
        session.add(
            ShareLink(
                token_hash=sha256_hex("carols-old-link"),
                document_id=document.id or 0,
                person_id=carol.person_id,
                days=30,
                expires_at=utcnow() + timedelta(days=30),
            )
        )
    page = app.test_client().get("/s/carols-old-link").get_data(as_text=True)
    assert 'data-verdict="revoked"' in page


def test_lifetimes_come_from_the_list_and_links_are_limited(holder_world: HolderWorld) -> None:
    bob = holder_world.bob
    _, client = signed_in_client(holder_world, bob)
    number = bob.numbers[1]
    page = f"/me/documents/{number}"
    for days in ("3", "365", "", "7; DROP"):
        token = csrf_token(client, page)
        response = client.post(f"{page}/shares", data={"days": days, "csrf_token": token})
        assert response.status_code == 303
        assert "请选择有效期" in client.get(page).get_data(as_text=True)
    with holder_world.db.session() as session:
        assert session.exec(select(ShareLink).where(ShareLink.days == 3)).first() is None

    made = []
    for days in ("1", "7", "30"):
        token = csrf_token(client, page)
        client.post(f"{page}/shares", data={"days": days, "csrf_token": token})
        shown = client.get(page).get_data(as_text=True)
        made.append(re.search(r"/s/([A-Za-z0-9_-]{43})", shown))
    assert all(made)
    with holder_world.db.session() as session:
        document = _document(holder_world, number)
        links = session.exec(select(ShareLink).where(ShareLink.document_id == document.id)).all()
        by_days = {link.days: link for link in links}
        for days in (1, 7, 30):
            link = by_days[days]
            assert link.expires_at - link.created_at == timedelta(days=days)
    listing = client.get(page).get_data(as_text=True)
    assert listing.count('data-state="active"') == 3

    while True:
        token = csrf_token(client, page)
        client.post(f"{page}/shares", data={"days": "1", "csrf_token": token})
        shown = client.get(page).get_data(as_text=True)
        if "有效分享链接已达上限" in shown:
            break
        assert shown.count('data-state="active"') <= MAX_ACTIVE_SHARES
    assert client.get(page).get_data(as_text=True).count('data-state="active"') == (
        MAX_ACTIVE_SHARES
    )
    # one revoked: room for one more
    first = re.search(r'action="(/me/documents/[^"]+/revoke)"', listing)
    assert first
    token = csrf_token(client, page)
    assert client.post(first.group(1), data={"csrf_token": token}).status_code == 303
    token = csrf_token(client, page)
    client.post(f"{page}/shares", data={"days": "1", "csrf_token": token})
    assert re.search(r"/s/[A-Za-z0-9_-]{43}", client.get(page).get_data(as_text=True))
