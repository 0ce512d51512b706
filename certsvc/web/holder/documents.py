"""The holder's "my documents": the list, one document's page, its first-page preview and
its signed PDF.

Every route here that names a document goes through
:func:`certsvc.web.holder.access.get_holder_document`.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, redirect, render_template, request, session, url_for

from certsvc.db.types import utcnow
from certsvc.web.holder.access import (
    SESSION_NEW_SHARE,
    get_holder_document,
    holder_required,
    signed_in_holder,
)
from certsvc.web.holder.forms import ShareForm
from certsvc.web.holder.previews import PreviewError
from certsvc.web.holder.services import (
    SHARE_DAYS,
    HolderDocument,
    holder_actor,
    holder_documents,
    read_pdf,
    record_download,
    share_state,
    shares_of,
)
from certsvc.web.holder.state import holder_state

bp = Blueprint("holder_documents", __name__)
log = logging.getLogger(__name__)


@bp.context_processor
def document_helpers() -> dict[str, Any]:
    """``pending(item)``: the day a decided revocation takes effect while it is ahead (the
    page then says current, and from when it will not be, as the verifiers do)."""
    zone = ZoneInfo(holder_state().settings.timezone)
    now = utcnow()

    def pending(item: HolderDocument) -> date | None:
        return item.revocation_pending(now, zone)

    return {"pending": pending}


PREVIEW_CACHE_CONTROL = "private, no-store"  # the first page shows the identity number


@bp.get("/my")
@holder_required
def my() -> Response:
    """The address the holders' text messages give."""
    return redirect(url_for(".documents"), 303)  # type: ignore[return-value]


@bp.get("/me/documents")
@holder_required
def documents() -> str:
    holder = signed_in_holder()
    with holder_state().db.session() as db_session:
        found = holder_documents(db_session, holder.person_id)
    return render_template("holder/documents.html", holder=holder, documents=found)


@bp.get("/me/documents/<number>")
@holder_required
def document(number: str) -> str:
    holder = signed_in_holder()
    found = get_holder_document(number, holder)
    now = utcnow()
    with holder_state().db.session() as db_session:
        links = shares_of(db_session, found.document.id or 0)
    new_share = session.pop(SESSION_NEW_SHARE, None)
    if not isinstance(new_share, dict) or new_share.get("number") != found.number:
        new_share = None
    return render_template(
        "holder/document.html",
        holder=holder,
        item=found,
        links=[(link, share_state(link, now)) for link in links],
        new_share=new_share,
        form=ShareForm(),
        share_days=SHARE_DAYS,
    )


@bp.get("/me/documents/<number>/preview.png")
@holder_required
def preview(number: str) -> Response:
    holder = signed_in_holder()
    found = get_holder_document(number, holder)
    web = holder_state()
    sha256 = found.document.sha256 or ""
    try:
        image = web.previews.png(sha256, lambda: read_pdf(web.store, found.document))
    except PreviewError as exc:
        log.warning("no preview of %s: %s", found.number, exc)
        abort(503)
    response = Response(image, mimetype="image/png")
    response.set_etag(hashlib.sha256(image).hexdigest())
    response.headers["Cache-Control"] = PREVIEW_CACHE_CONTROL
    response.make_conditional(request)
    return response


def pdf_response(data: bytes, number: str) -> Response:
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{number}.pdf"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/me/documents/<number>/pdf")
@holder_required
def download(number: str) -> Response:
    holder = signed_in_holder()
    found = get_holder_document(number, holder)
    web = holder_state()
    data = read_pdf(web.store, found.document)
    with web.db.session() as db_session:
        record_download(
            db_session, found.document, actor=holder_actor(holder.person_id), via="holder"
        )
    return pdf_response(data, found.number)
