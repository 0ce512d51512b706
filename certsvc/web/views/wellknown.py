"""``/.well-known/certsvc/``: the newest signed trust list, signer CRL and the root certificate,
as published by ``certsvc keys export-trust`` / ``publish-crl`` (read from the database)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from flask import Blueprint, Response, abort, request
from sqlmodel import Session

from certsvc.errors import NotFoundError
from certsvc.keys.models import PublicationKind
from certsvc.keys.service import current_root, latest_publication
from certsvc.web.state import state

bp = Blueprint("wellknown", __name__, url_prefix="/.well-known/certsvc")

# verifiers poll these; five minutes keeps a revocation's delay short, and ETag makes a
# revalidation cheap
CACHE_CONTROL = "public, max-age=300, must-revalidate"


def _published(
    content: bytes, mimetype: str, etag: str, modified: datetime | None = None
) -> Response:
    response = Response(content, mimetype=mimetype)
    response.set_etag(etag)
    response.last_modified = modified
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.make_conditional(request)
    return response


def _publication(session: Session, kind: PublicationKind, mimetype: str) -> Response:
    publication = latest_publication(session, kind)
    if publication is None:
        abort(404)
    response = _published(publication.content, mimetype, publication.sha256, publication.issued_at)
    if response.status_code == 200:
        response.expires = publication.next_update
    return response


@bp.get("/trust-list.jws")
def trust_list() -> Response:
    with state().db.session() as session:
        return _publication(session, PublicationKind.TRUST_LIST, "application/jose")


@bp.get("/crl.der")
def crl() -> Response:
    with state().db.session() as session:
        return _publication(session, PublicationKind.CRL, "application/pkix-crl")


@bp.get("/root.pem")
def root() -> Response:
    with state().db.session() as session:
        try:
            pem = current_root(session).certificate_pem.encode("ascii")
        except NotFoundError:
            abort(404)
    return _published(pem, "application/x-pem-file", hashlib.sha256(pem).hexdigest())
