"""Share links: a holder makes and revokes them on the document page; an employer opens
``/s/<token>`` and sees the verification page with the signed PDF attached.

An unknown, expired or revoked link gets one page (404) that does not say which.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, session, url_for

from certsvc.db.types import utcnow
from certsvc.web import i18n
from certsvc.web.holder.access import (
    SESSION_NEW_SHARE,
    get_holder_document,
    holder_required,
    public,
    signed_in_holder,
)
from certsvc.web.holder.documents import pdf_response
from certsvc.web.holder.forms import ShareForm
from certsvc.web.holder.services import (
    ShareRefusedError,
    create_share,
    open_share,
    read_pdf,
    record_download,
    revoke_share,
    share_of_document,
)
from certsvc.web.holder.state import holder_state
from certsvc.web.verifying import VerificationUnavailableError
from certsvc.web.views.pages import token_verdict

bp = Blueprint("holder_shares", __name__)


def share_url(token: str) -> str:
    base = holder_state().settings.public_base_url.rstrip("/")
    return f"{base}{url_for('holder_shares.shared', token=token)}"


@bp.post("/me/documents/<number>/shares")
@holder_required
def create(number: str) -> Response:
    holder = signed_in_holder()
    found = get_holder_document(number, holder)
    form = ShareForm()
    page = url_for("holder_documents.document", number=found.number)
    if not form.validate_on_submit():
        flash("holder.share.bad_days")
        return redirect(page, 303)  # type: ignore[return-value]
    try:
        with holder_state().db.session() as db_session:
            _, token = create_share(
                db_session,
                found.document,
                person_id=holder.person_id,
                days=int(form.days.data),
                now=utcnow(),
            )
    except ShareRefusedError as refusal:
        flash(refusal.key)
        return redirect(page, 303)  # type: ignore[return-value]
    session[SESSION_NEW_SHARE] = {"number": found.number, "url": share_url(token)}
    return redirect(page, 303)  # type: ignore[return-value]


@bp.post("/me/documents/<number>/shares/<int:share_id>/revoke")
@holder_required
def revoke(number: str, share_id: int) -> Response:
    holder = signed_in_holder()
    found = get_holder_document(number, holder)
    with holder_state().db.session() as db_session:
        link = share_of_document(db_session, found.document.id or 0, share_id)
        if link is None:
            abort(404)
        if revoke_share(db_session, link, found.document, person_id=holder.person_id, now=utcnow()):
            flash("holder.share.revoked")
    return redirect(url_for("holder_documents.document", number=found.number), 303)  # type: ignore[return-value]


def _gone() -> tuple[str, int]:
    return render_template("holder/share_gone.html"), 404


@bp.get("/s/<token>")
@public
def shared(token: str) -> tuple[str, int]:
    with holder_state().db.session() as db_session:
        opened = open_share(db_session, token, utcnow(), count=True)
    if opened is None:
        return _gone()
    link, document = opened
    try:
        verdict = token_verdict(document.token or "", "share")
    except VerificationUnavailableError:
        message = i18n.translate(g.get("lang", i18n.DEFAULT_LANGUAGE), "error.503")
        return render_template("error.html", status=503, message=message), 503
    return render_template(
        "holder/share.html", verdict=verdict, source="share", link=link, token=token
    ), 200


@bp.get("/s/<token>/pdf")
@public
def shared_pdf(token: str) -> Response | tuple[str, int]:
    web = holder_state()
    with web.db.session() as db_session:
        opened = open_share(db_session, token, utcnow(), count=False)
        if opened is None:
            return _gone()
        link, document = opened
        data = read_pdf(web.store, document)
        record_download(db_session, document, actor=f"share:{link.id}", via="share")
    return pdf_response(data, document.document_number)
