"""``certsvc verify``: the offline verifier. A PDF or a QR token, checked with the published
trust list and the pinned root fingerprint alone: no database, no network.

With ``--status-list LIST.jws`` (``GET /status/list.jws``, or ``certsvc status export``) a PDF's
status is checked too: the list's signature against the trust list's signers, its
``next_update``, its sequence (not below ``--min-sequence``, the newest the verifier accepted
before), its URL against the one the PDF's record names, then the document's entry. A QR
token names no entry (its byte budget is full), so ``--token`` with ``--status-list`` is
refused as bad input (exit 2): verify the PDF, or the token online.

Exit codes: 0 genuine (offline: genuine as signed — without a status list the registry, and
so a revocation or reissue of the document itself, is not consulted; with one, current as of
that list); 10 forged, altered or damaged; 11 unknown; 12 revoked; 13 superseded; 14 signed
by a revoked signer; 15 the status list cannot be relied on (the failed check says which:
signature, freshness, sequence, url, format), so the status is unknown; 2 bad input (no such
file, neither or both of FILE and --token, --status-list with --token); 6 the trust list does
not verify (wrong root, bad signature, out of date).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from certsvc.errors import InputError
from certsvc.verification.export import EXIT_CODES, verdict_as_dict
from certsvc.verification.status import StatusListInput
from certsvc.verification.trust import TrustAnchors, check_fingerprint_text
from certsvc.verification.verdict import Outcome, Verdict
from certsvc.verification.verifier import verify_pdf, verify_token

MARKS = {Outcome.PASSED: "ok  ", Outcome.FAILED: "FAIL", Outcome.SKIPPED: "skip"}


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}") from None


def _print(verdict: Verdict, subject: str) -> None:
    click.echo(f"verifying {subject}")
    for number, check in enumerate(verdict.checks, 1):
        line = f"{number:3}. [{MARKS[check.outcome]}] {check.title}"
        click.echo(line + (f": {check.detail}" if check.detail else ""))
    if verdict.document is not None:
        doc = verdict.document
        click.echo(
            f"document: {doc.document_number} ({doc.document_type}), {doc.holder_name}, "
            f"{doc.series} {doc.specialty} {doc.level} {doc.qualification_name}, qualified "
            f"{doc.qualified_on.isoformat()}, issued {doc.issued_on.isoformat()} by "
            f"{doc.agency_name} (key {doc.signer_key_id})"
        )
    scope = " (offline)" if verdict.offline else ""
    click.echo(f"verdict: {verdict.kind.value.upper()}{scope} - {verdict.summary}")


@click.command("verify")
@click.argument("file", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--token", help="A QR token: its decimal digits, or the verification URL.")
@click.option(
    "--trust-list",
    "trust_list",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The published trust list (trust-list.jws from `certsvc keys export-trust` or the "
    "web service's /.well-known/).",
)
@click.option(
    "--root-fingerprint",
    required=True,
    envvar="CERTSVC_ROOT_FINGERPRINT",
    help="The bureau root's SHA-256 fingerprint (64 hex digits), obtained out of band.",
)
@click.option(
    "--status-list",
    "status_list",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="A status list (the web service's /status/list.jws): check the PDF's status in it.",
)
@click.option(
    "--min-sequence",
    type=click.IntRange(min=1),
    default=None,
    help="With --status-list: refuse a list older than this sequence (one already accepted).",
)
@click.option(
    "--timezone",
    "timezone",
    envvar="CERTSVC_TIMEZONE",
    default="Asia/Shanghai",
    show_default=True,
    help="The issuing bureau's time zone: a document's dates are days there.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
def verify(
    file: Path | None,
    token: str | None,
    trust_list: Path,
    root_fingerprint: str,
    status_list: Path | None,
    min_sequence: int | None,
    timezone: str,
    as_json: bool,
) -> None:
    """Verify a signed PDF (FILE) or a QR token (--token) offline, with the trust list alone,
    and with --status-list a PDF's current status as that signed list shows it.

    Prints every check and the verdict. Exit status 0 only for a genuine document; offline
    without a status list that means genuine as signed (its registry status is not checked).
    Otherwise 10 forged, 11 unknown, 12 revoked, 13 superseded, 14 signer revoked, 15 the
    status list cannot be relied on."""
    if (file is None) == (token is None):
        raise InputError("give either a PDF file or --token, not both and not neither")
    if status_list is not None and token is not None:
        raise InputError(
            "--status-list checks a PDF: a QR token does not say where its status lives (its "
            "status-list index is only in the PDF's record); verify the PDF with the list, or "
            "the token online"
        )
    if min_sequence is not None and status_list is None:
        raise InputError("--min-sequence goes with --status-list")
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"--timezone {timezone!r} is not a time zone (e.g. Asia/Shanghai)"
        ) from None
    # pyHanko logs every failed validation with a traceback; the verdict says it in a sentence
    for name in ("pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    now = datetime.now(UTC)
    anchors = TrustAnchors.from_jws(
        _read(trust_list, "the trust list"),
        root_fingerprint=check_fingerprint_text(root_fingerprint),
        now=now,
    )
    given = None
    if status_list is not None:
        given = StatusListInput(_read(status_list, "the status list"), min_sequence)
    if file is not None:
        verdict = verify_pdf(
            _read(file, "the PDF"), anchors, None, now, status_list=given, zone=zone
        )
        subject = str(file)
    else:
        assert token is not None
        verdict = verify_token(token, anchors, None, now, zone=zone)
        subject = "QR token"
    if as_json:
        click.echo(json.dumps(verdict_as_dict(verdict), ensure_ascii=False, indent=2))
    else:
        _print(verdict, subject)
    code = EXIT_CODES[verdict.kind]
    if code:
        raise click.exceptions.Exit(code)


def register(cli: click.Group) -> None:
    cli.add_command(verify)
