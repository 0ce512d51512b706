"""``GET /status/list.jws``: the newest signed status list, the URL every document records.

The list is read from the database exactly as ``certsvc status publish`` (or an approval)
signed it: the web process never signs anything and never opens a key. It is served with
:func:`certsvc.revocation.service.serving_headers` — ``application/certsvc-status-list+jwt``
(the JWS header's ``typ``, RFC 7515 §4.1.9), ``Cache-Control: public, max-age=…`` of at most
five minutes and never beyond the list's ``next_update``, ``ETag`` and ``Last-Modified`` — and
answers ``If-None-Match`` / ``If-Modified-Since`` with 304.

503 (JSON, never cached) when no list was ever published (``status_list_unpublished``) or the
newest is past its ``next_update`` (``status_list_expired``): a verifier must not be handed a
list that no longer says whether a document was revoked since.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, request

from certsvc.revocation.service import latest_status_list, serving_headers
from certsvc.revocation.status_list import STATUS_LIST_PATH
from certsvc.web import i18n
from certsvc.web.app import json_error
from certsvc.web.state import state

bp = Blueprint("status_list", __name__)

i18n.extend(
    {
        # the offline verifier's verdict when a status list cannot be relied on (shown here
        # only if a verifier ever hands it to a page)
        "verdict.status-unavailable": ("状态无法确认", "Status unknown"),
        "verdict.status-unavailable.lead": (
            "文书签名真实，但所给状态列表不可信，无法确认其是否已撤销或被替换。",
            "Genuine as signed, but the status list given cannot be relied on: whether it was "
            "revoked or replaced is unknown.",
        ),
        "revocation.scheduled": ("已决定撤销，生效日期", "Revocation scheduled, in effect from"),
        "revocation.effective_on": ("撤销生效日期", "Revoked with effect from"),
    }
)

CLOCK = "CERTSVC_CLOCK"  # app config: a callable giving the aware current time (tests)
RETRY_SECONDS = 300


def _now() -> datetime:
    clock: Callable[[], datetime] | None = current_app.config.get(CLOCK)
    return clock() if clock is not None else datetime.now(UTC)


def _unavailable(code: str, message: str) -> Response:
    response = json_error(503, code, message)
    response.headers["Retry-After"] = str(RETRY_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get(STATUS_LIST_PATH)
def status_list() -> Response:
    now = _now()
    with state().db.session() as session:
        publication = latest_status_list(session)
        if publication is None:
            return _unavailable(
                "status_list_unpublished",
                "no status list has been published yet: the bureau runs `certsvc status "
                "publish`; until then a document's status can only be checked online",
            )
        if now >= publication.next_update:
            return _unavailable(
                "status_list_expired",
                f"the newest status list (sequence {publication.sequence}) was due to be "
                f"replaced at {publication.next_update.isoformat()} and no newer one has been "
                "published: it may not show a recent revocation; try again later",
            )
        headers = serving_headers(publication, now)
        response = Response(bytes(publication.content), status=200)
    for name, value in headers.items():
        response.headers[name] = value
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["X-Status-List-Sequence"] = str(publication.sequence)
    response.make_conditional(request)
    return response
