"""Public pages: the home page, the QR landing page ``/v/<token>`` and the PDF upload."""

from __future__ import annotations

from flask import Blueprint, g, render_template, request

from certsvc.documents.token import MAX_TOKEN_DIGITS
from certsvc.verification.verdict import Verdict
from certsvc.web import i18n
from certsvc.web.app import megabytes
from certsvc.web.state import state
from certsvc.web.verifying import VerificationUnavailableError

bp = Blueprint("pages", __name__)
FILE_CHECK = "pdf.file"  # the verifier's first PDF check: a readable PDF within the limits
DECODE_CHECK = "token.decode"  # the verifier's first token check

PDF_MAGIC = b"%PDF-"


class RefusalError(Exception):
    """An upload that is refused before verification, with the status and message key."""

    def __init__(self, status: int, key: str, **values: object) -> None:
        super().__init__(key)
        self.status = status
        self.key = key
        self.values = values


def token_verdict(token: str, channel: str = "token") -> Verdict:
    """Verify ``token`` and count the outcome under ``channel`` (``refused`` when it does not
    decode: see :func:`undecodable`)."""
    web = state()
    verdict = web.verifier.token(token)
    web.counter.add(channel, "refused" if undecodable(verdict) else verdict.kind.value)
    return verdict


def undecodable(verdict: Verdict) -> str | None:
    """Why the token did not decode (the verifier's first check failed), else None."""
    failures = verdict.failures
    if failures and failures[0].code == DECODE_CHECK:
        return failures[0].detail or "it is not a certsvc token"
    return None


def malformed(token: str) -> str | None:
    """Why ``token`` cannot be a token at all (checked before the verifier runs), else None."""
    if not token.isascii() or not token.isdigit() or token.startswith("0"):
        return "a token is decimal digits, not starting with 0"
    if len(token) > MAX_TOKEN_DIGITS:
        return f"it has {len(token)} characters, more than {MAX_TOKEN_DIGITS}"
    return None


def bad_token(token: str) -> tuple[str | None, Verdict | None]:
    """``(reason, None)`` for a token that does not decode (counted as refused), else
    ``(None, verdict)``."""
    reason = malformed(token)
    if reason is not None:
        state().counter.add("token", "refused")
        return reason, None
    verdict = token_verdict(token)
    return undecodable(verdict), verdict


def pdf_verdict(data: bytes) -> Verdict:
    """Verify an uploaded PDF; :class:`RefusalError` for what is not a PDF or cannot be read."""
    web = state()
    if not data:
        raise RefusalError(400, "upload.missing")
    if not data.startswith(PDF_MAGIC):
        web.counter.add("pdf", "refused")
        raise RefusalError(415, "upload.not_pdf")
    verdict = web.verifier.pdf(data)
    failures = verdict.failures
    if failures and failures[0].code == FILE_CHECK:
        # encrypted, damaged, too many pages: refused as a file, not judged as a document
        web.counter.add("pdf", "refused")
        raise RefusalError(422, "upload.unreadable", reason=failures[0].detail)
    web.counter.add("pdf", verdict.kind.value)
    return verdict


@bp.get("/")
def index() -> str:
    return render_template("index.html")


@bp.get("/v/<token>")
@bp.get("/V/<token>")
def token_page(token: str) -> tuple[str, int]:
    try:
        reason, verdict = bad_token(token)
    except VerificationUnavailableError:
        return render_template(
            "error.html", status=503, message=i18n.translate(g.lang, "error.503")
        ), 503
    if reason is not None or verdict is None:
        return render_template(
            "error.html",
            status=400,
            message=i18n.translate(g.lang, "error.bad_token", reason=_reason(reason or "")),
        ), 400
    return render_template("verdict.html", verdict=verdict, source="token"), 200


@bp.route("/verify", methods=["GET", "POST"])
def upload() -> tuple[str, int]:
    limit = megabytes(state().settings.web_max_upload_bytes)
    if request.method == "GET":
        return render_template("upload.html", limit=limit, message=None), 200
    upload = request.files.get("file")
    data = upload.read() if upload is not None else b""
    try:
        verdict = pdf_verdict(data)
    except RefusalError as refusal:
        message = i18n.translate(g.lang, refusal.key, **refusal.values)
        return render_template("upload.html", limit=limit, message=message), refusal.status
    except VerificationUnavailableError:
        return render_template(
            "error.html", status=503, message=i18n.translate(g.lang, "error.503")
        ), 503
    return render_template("verdict.html", verdict=verdict, source="pdf"), 200


def _reason(text: str) -> str:
    """A token error's reason without the "not a certsvc token:" lead."""
    return text.split(": ", 1)[-1] if ": " in text else text
