"""The JSON API under ``/api/v1/`` (described by :mod:`certsvc.web.openapi`).

Errors are ``{"error": {"code": …, "message": …}}`` with the HTTP status."""

from __future__ import annotations

import base64
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlmodel import Session

from certsvc.errors import CertsvcError, InputError
from certsvc.issuance.numbering import parse_document_number
from certsvc.transparency.checkpoint import read_unverified
from certsvc.transparency.models import TreeHead
from certsvc.transparency.service import (
    consistency_proof,
    entries_for_document,
    inclusion_proof,
    latest_tree_head,
)
from certsvc.web.app import json_error, megabytes
from certsvc.web.lookup import LookupInputError
from certsvc.web.openapi import openapi_document
from certsvc.web.present import verdict_json
from certsvc.web.state import state
from certsvc.web.verifying import VerificationUnavailableError
from certsvc.web.views.lookup import run_lookup
from certsvc.web.views.pages import RefusalError, bad_token, pdf_verdict

bp = Blueprint("api", __name__, url_prefix="/api/v1")

_REFUSALS = {
    "upload.missing": ("missing_file", "send the PDF as the multipart field 'file' or as the body"),
    "upload.not_pdf": ("not_pdf", "this is not a PDF file"),
    "upload.unreadable": ("unreadable_pdf", "this PDF cannot be read: {reason}"),
}
_LOOKUP_ERRORS = {
    "lookup.missing": ("missing_field", "give both 'number' and 'name'"),
    "lookup.bad_shape": ("bad_number", "not a document number (2025-110000-GC2Z-000123K)"),
    "lookup.bad_check": ("bad_check_character", "the number's check character does not match"),
}
NO_MATCH_MESSAGE = "no document matches both this number and this name"


def _unavailable() -> Response:
    return json_error(503, "unavailable", "the verification service is unavailable")


@bp.get("/openapi.json")
def openapi() -> Response:
    response = jsonify(openapi_document(state().settings.public_base_url))
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/verify/token/<token>")
def verify_token(token: str) -> Response:
    try:
        reason, verdict = bad_token(token)
    except VerificationUnavailableError:
        return _unavailable()
    if reason is not None or verdict is None:
        return json_error(400, "bad_token", reason or "not a certsvc token")
    return jsonify(verdict_json(verdict))


@bp.post("/verify/pdf")
def verify_pdf() -> Response:
    upload = request.files.get("file")
    data = upload.read() if upload is not None else request.get_data(cache=False)
    try:
        return jsonify(verdict_json(pdf_verdict(data)))
    except RefusalError as refusal:
        code, message = _REFUSALS[refusal.key]
        return json_error(refusal.status, code, message.format(**refusal.values))
    except VerificationUnavailableError:
        return _unavailable()


@bp.route("/status", methods=["GET", "POST"])
def status() -> Response:
    """Status by number and holder name (both needed; POST keeps the name out of URLs)."""
    source: Any = request.get_json(silent=True) or request.form
    if request.method == "GET":
        source = request.args
    number = str(source.get("number", ""))[:64]
    name = str(source.get("name", ""))[:64]
    try:
        answer = run_lookup(number, name)
    except LookupInputError as error:
        code, message = _LOOKUP_ERRORS[error.key]
        return json_error(400, code, message)
    except VerificationUnavailableError:
        return _unavailable()
    if not answer.matched or answer.verdict is None:
        return json_error(404, "no_match", NO_MATCH_MESSAGE)
    return jsonify(verdict_json(answer.verdict))


def tree_head_json(head: TreeHead) -> dict[str, Any]:
    _, checkpoint = read_unverified(head.envelope)
    return {
        "tree_size": head.tree_size,
        "root_hash": head.root_hash.hex(),
        "signed_at": head.signed_at.isoformat().replace("+00:00", "Z"),
        "origin": head.origin,
        "key_id": head.key_id,
        "checkpoint": checkpoint.body().decode("ascii"),
        "signed_checkpoint": base64.b64encode(head.envelope).decode("ascii"),
    }


def _head(session: Session) -> TreeHead | Response:
    head = latest_tree_head(session)
    if head is None:
        return json_error(404, "no_tree_head", "the transparency log has no signed tree head yet")
    return head


@bp.get("/log/head")
def log_head() -> Response:
    with state().db.session() as session:
        head = _head(session)
        if isinstance(head, Response):
            return head
        return jsonify(tree_head_json(head))


@bp.get("/log/proof/<number>")
def log_proof(number: str) -> Response:
    try:
        canonical = str(parse_document_number(number[:64]))
    except InputError as exc:
        return json_error(400, "bad_number", str(exc))
    with state().db.session() as session:
        head = _head(session)
        if isinstance(head, Response):
            return head
        entries = entries_for_document(session, canonical)
        if not entries:
            return json_error(404, "not_logged", "the log has no entry for this number")
        shown = []
        for entry in entries:
            proof = None
            if entry.leaf_index < head.tree_size:
                proof = inclusion_proof(session, entry.leaf_index, head.tree_size).as_dict()
            shown.append(
                {
                    "leaf_index": entry.leaf_index,
                    "kind": entry.kind.value,
                    "entry": entry.entry.decode("utf-8"),
                    "inclusion_proof": proof,
                }
            )
        return jsonify(
            {"document_number": canonical, "tree_head": tree_head_json(head), "entries": shown}
        )


@bp.get("/log/consistency")
def log_consistency() -> Response:
    try:
        first = int(request.args.get("first", ""))
        second_text = request.args.get("second")
        second = None if second_text is None else int(second_text)
    except ValueError:
        return json_error(400, "bad_size", "'first' and 'second' are whole numbers of entries")
    with state().db.session() as session:
        if second is None:
            head = _head(session)
            if isinstance(head, Response):
                return head
            second = head.tree_size
        try:
            path = consistency_proof(session, first, second)
        except CertsvcError as exc:
            return json_error(400, "bad_size", str(exc))
    return jsonify({"first": first, "second": second, "consistency_path": [p.hex() for p in path]})


@bp.get("/limits")
def limits() -> Response:
    settings = state().settings
    return jsonify(
        {
            "max_upload_bytes": settings.web_max_upload_bytes,
            "max_upload": megabytes(settings.web_max_upload_bytes),
            "max_pages": settings.web_max_pages,
        }
    )
