"""The verifier: is this QR token, or this PDF, a genuine and current certsvc document?

Both entry points run numbered checks in a fixed order and stop at the first failure; every
check after it is listed as skipped, so the reader sees the whole procedure and exactly one
reason. The verdict is the category of that first failure (FORGED unless the check says
otherwise: SIGNER_REVOKED, UNKNOWN, REVOKED, SUPERSEDED), or GENUINE when nothing failed.
Nothing here raises on bad input: garbage in, a FORGED verdict with a sentence saying what was
wrong out.

**Token** (:func:`verify_token`, the QR landing page and ``certsvc verify --token``):

1. ``token.decode`` — decimal digits (or a verification URL ending in them) that decode to a
   certsvc COSE_Sign1 token exactly as certsvc writes one;
2. ``token.key`` — its key id names a document signer in the trust list;
3. ``token.signature`` — the ES256 signature verifies with that signer's key;
4. ``signer.status`` — the signer was not revoked before the document's issue date (else
   SIGNER_REVOKED), and the date lies in the signer's period (from ``active_from`` to
   ``retire_at``);
5. ``registry.lookup`` — the registry knows the number and the document was issued (else
   UNKNOWN);
6. ``registry.fields`` — the registry's type, issue date, signer and token are the token's
   (for a PDF, also: the status-list entry its record names is the registry row's);
7. ``registry.status`` — still current: not revoked (REVOKED), not replaced (SUPERSEDED); a
   revocation approved ahead of its effective day (a day in the bureau's time zone) leaves it
   current, with a note, until that day begins;
8. ``log.inclusion`` — the document's log entry names it, and its audit path leads to a tree
   head signed by a trusted signer.

**PDF** (:func:`verify_pdf`, the upload page and ``certsvc verify FILE.pdf``):

1. ``pdf.file`` — within the size limit, a PDF (``%PDF-``), readable by pyHanko's strict
   reader, not encrypted, within the page limit;
2. ``pdf.signature`` — exactly one signature field, signed, with a readable CMS container;
3. ``pdf.byte-range`` — the ``/ByteRange`` is ``[0 a b c]`` and the one gap it leaves is
   exactly the signature's ``/Contents`` hex string (universal signature forgery and
   signature wrapping move or shrink these), written as pyHanko writes it (upper-case hex)
   and holding one DER container and zero padding; the container in strict DER, with its
   versions and digest algorithm exactly as pyHanko writes them, no CRLs and no unsigned
   attribute but a timestamp (the gap is unsigned: anything else in it makes another file
   with a valid signature);
4. ``pdf.integrity`` — pyHanko: the signed bytes hash to the signed digest and the signature
   value verifies (intact and valid);
5. ``pdf.modifications`` — **nothing at all follows the signature**: it covers the whole file
   (pyHanko's coverage ``ENTIRE_FILE``) and its revision is the last. certsvc writes the DSS
   in the signed revision, so a genuine document has no incremental update after its
   signature; any update — even one pyHanko's difference analysis would call harmless, such
   as adding validation data — is refused. The failure names what pyHanko's difference
   analysis found in the update (text, annotations, form fields …);
6. ``pdf.certified`` — a certification signature (DocMDP) with "no changes allowed" (P=1);
7. ``pdf.chain`` — the signer certificate chains to the trust list's root (pyHanko's path
   validation with that root as the only trust anchor; key usage checked);
8. ``pdf.signer`` — the certificate is the trust list's certificate for its key id, and the
   container carries no certificate but that one and the root;
9. ``signer.status`` — not revoked before the signing time (the signature timestamp when
   there is one, otherwise the signing time the signature states), else SIGNER_REVOKED;
   signed within the signer's period;
10. ``pdf.attachments`` — the canonical record and the token are attached and readable;
11. ``token.decode``, ``token.key``, ``token.signature`` — as above, and the token's signer
    is the PDF's;
12. ``pdf.agreement`` — the token's fields are the record's; the record names the signer
    and its agency as the trust list does;
13. ``registry.lookup`` (UNKNOWN), ``registry.hash`` — the stored SHA-256 is that of the
    uploaded bytes (else FORGED, "stored-hash mismatch") —, ``registry.fields``,
    ``registry.status``, ``log.inclusion`` — as above.

**Status list** (``status_list=``, the offline ``certsvc verify FILE.pdf --status-list``): after
the PDF's checks, ``status.list`` and ``status.entry`` (:mod:`certsvc.verification.status`): the
list signed by a trusted signer, fresh, not older than a sequence already accepted, published
at the URL the record names; then the record's entry: REVOKED, SUPERSEDED, or current. A list
that fails is STATUS_UNAVAILABLE, never ignored. A token names no entry: no list with tokens.

**Offline** (``registry=None``): steps 5–8 of the token and 13 of the PDF are SKIPPED and the
verdict is marked ``offline``. An offline GENUINE means: signed by a signer the pinned root's
trust list lists, not revoked before signing, unaltered; it cannot say whether the bureau has
since revoked or replaced the document itself (a verifier who needs that goes online).

A signer whose key was compromised can sign a token with any date; offline such a forgery
passes if its date precedes the revocation. Online it fails: the registry has no such number
(UNKNOWN) or holds another token or hash for it (FORGED).

The identity number is never put into a verdict: the record carries it, the verdict does not.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import astuple, dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, NoReturn, TypeVar
from zoneinfo import ZoneInfo

from asn1crypto import cms
from cryptography import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, DiffResult
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko_certvalidator import ValidationContext

from certsvc.documents import token as tokens
from certsvc.documents.inspect import DocumentContents, _attachments
from certsvc.documents.record import (
    RECORD_FILENAME,
    TOKEN_FILENAME,
    DocumentRecord,
    StatusEntry,
)
from certsvc.errors import CertsvcError
from certsvc.keys.certificates import CLOCK_SKEW, key_id_for
from certsvc.keys.trust_list import TrustedSigner
from certsvc.revocation.status_list import effective_from
from certsvc.transparency import merkle
from certsvc.transparency.checkpoint import read_unverified, verify_checkpoint
from certsvc.verification import status as status_checks
from certsvc.verification.registry import Registry, RegistryEntry
from certsvc.verification.status import StatusListInput
from certsvc.verification.trust import TrustAnchors
from certsvc.verification.verdict import (
    Check,
    LogInclusion,
    Outcome,
    PublicFields,
    RegistryStatus,
    Verdict,
    VerdictKind,
)

_T = TypeVar("_T")

# The day a token's issue date names, and the day a scheduled revocation takes effect, are days
# in the bureau's time zone: the service passes CERTSVC_TIMEZONE; this is its default.
ISSUE_DAY_ZONE = ZoneInfo("Asia/Shanghai")

TITLES: dict[str, str] = {
    "pdf.file": "A readable, unencrypted PDF within the size and page limits",
    "pdf.signature": "Exactly one signature, with a readable signature container",
    "pdf.byte-range": "The signed byte range leaves out only the signature value",
    "pdf.integrity": "The signed bytes are unaltered and the signature value verifies",
    "pdf.modifications": "Nothing was changed or added after signing",
    "pdf.certified": "Certified by the issuer, no changes allowed",
    "pdf.chain": "The signer certificate chains to the bureau root",
    "pdf.signer": "The signer is a document signer in the trust list",
    "signer.status": "The signer was not revoked when it signed",
    "pdf.attachments": "The canonical record and the QR token are attached",
    "token.decode": "The QR token is a certsvc token",
    "token.key": "The token's signer is in the trust list",
    "token.signature": "The token's signature verifies",
    "pdf.agreement": "The token, the record and the signature agree",
    "registry.lookup": "The registry holds this document as issued",
    "registry.hash": "The registry's stored hash is this file's",
    "registry.fields": "The registry's record agrees with the document",
    "registry.status": "The document is current (not revoked or replaced)",
    "log.inclusion": "The transparency log includes the document under a signed tree head",
}

TOKEN_CHECKS = (
    "token.decode",
    "token.key",
    "token.signature",
    "signer.status",
    "registry.lookup",
    "registry.fields",
    "registry.status",
    "log.inclusion",
)
PDF_CHECKS = (
    "pdf.file",
    "pdf.signature",
    "pdf.byte-range",
    "pdf.integrity",
    "pdf.modifications",
    "pdf.certified",
    "pdf.chain",
    "pdf.signer",
    "signer.status",
    "pdf.attachments",
    "token.decode",
    "token.key",
    "token.signature",
    "pdf.agreement",
    "registry.lookup",
    "registry.hash",
    "registry.fields",
    "registry.status",
    "log.inclusion",
)
REGISTRY_CHECKS = frozenset(
    {"registry.lookup", "registry.hash", "registry.fields", "registry.status", "log.inclusion"}
)

SUMMARIES = {
    VerdictKind.GENUINE: "Genuine and current: every check passed.",
    VerdictKind.REVOKED: "Genuine, but the bureau has revoked this document.",
    VerdictKind.SUPERSEDED: "Genuine, but replaced by a reissued document.",
    VerdictKind.SIGNER_REVOKED: "Signed by a key that was revoked before the signing time.",
    VerdictKind.UNKNOWN: "Well signed, but the registry holds no such issued document.",
    VerdictKind.FORGED: "Forged, altered or damaged: do not rely on this document.",
    VerdictKind.STATUS_UNAVAILABLE: (
        "Genuine as signed, but whether it is current is unknown: the status list given "
        "cannot be relied on."
    ),
}
OFFLINE_SUMMARY = (
    "Genuine as signed (offline): signature, signer and contents check out against the "
    "trust list; whether the bureau has since revoked or replaced it was not checked."
)


OFFLINE_STATUS_SUMMARY = (
    "Genuine and current as of {as_of} (offline): signature, signer and contents check out "
    "against the trust list, and the bureau's signed status list shows it neither revoked nor "
    "replaced."
)


SCHEDULED_NOTE = "A revocation is scheduled: it takes effect on {day}."


def _title(code: str) -> str:
    return TITLES.get(code) or status_checks.TITLES[code]


@dataclass(frozen=True)
class PdfLimits:
    """What an uploaded PDF may be: certsvc documents are one page of about 60 KB."""

    max_bytes: int = 2 * 1024 * 1024
    max_pages: int = 4


DEFAULT_LIMITS = PdfLimits()


class _CheckFailedError(Exception):
    def __init__(self, code: str, kind: VerdictKind, detail: str) -> None:
        super().__init__(detail)
        self.code, self.kind, self.detail = code, kind, detail


def _fail(code: str, detail: str, kind: VerdictKind = VerdictKind.FORGED) -> NoReturn:
    raise _CheckFailedError(code, kind, detail)


class _Run:
    """The checks of one verification, in plan order."""

    def __init__(
        self, plan: tuple[str, ...], now: datetime, offline: bool, zone: tzinfo = ISSUE_DAY_ZONE
    ) -> None:
        self.plan = plan
        self.now = now
        self.offline = offline
        self.zone = zone  # the bureau's days: issue dates, revocations' effective days
        self.done: dict[str, Check] = {}
        self.document: PublicFields | None = None
        self.registry: RegistryStatus | None = None
        self.log: LogInclusion | None = None
        self.extra: dict[str, str] = {}
        self.status_as_of = ""  # the status list that showed the document current, if any

    def passed(self, code: str, detail: str = "") -> None:
        self.done[code] = Check(code, _title(code), Outcome.PASSED, detail)

    def skipped(self, code: str, detail: str) -> None:
        self.done[code] = Check(code, _title(code), Outcome.SKIPPED, detail)

    def verdict(self, failure: _CheckFailedError | None) -> Verdict:
        if failure is not None:
            self.done[failure.code] = Check(
                failure.code, _title(failure.code), Outcome.FAILED, failure.detail
            )
        checks = tuple(
            self.done.get(code)
            or Check(code, _title(code), Outcome.SKIPPED, "not checked: an earlier check failed")
            for code in self.plan
        )
        kind = failure.kind if failure is not None else VerdictKind.GENUINE
        summary = OFFLINE_SUMMARY if kind is VerdictKind.GENUINE and self.offline else ""
        if kind is VerdictKind.GENUINE and self.offline and self.status_as_of:
            summary = OFFLINE_STATUS_SUMMARY.format(as_of=self.status_as_of)
        scheduled = self.extra.get("revocation_scheduled_for")
        if kind is VerdictKind.GENUINE and scheduled:
            summary = f"{SUMMARIES[kind]} {SCHEDULED_NOTE.format(day=scheduled)}"
        if failure is not None:
            summary = f"{SUMMARIES[kind]} {failure.detail[:1].upper()}{failure.detail[1:]}"
            if not summary.endswith("."):
                summary += "."
        return Verdict(
            kind=kind,
            checks=checks,
            # the fields are shown only once the token's signature has verified
            document=self.document if kind is not VerdictKind.FORGED else None,
            registry=self.registry,
            log=self.log,
            checked_at=self.now,
            summary=summary or SUMMARIES[kind],
            extra=self.extra,
            offline=self.offline,
        )


def _aware(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("the verifier needs an aware `now`")
    return now


# --- the token --------------------------------------------------------------------------------

_URL_TOKEN = re.compile(r"^(?:https?://[^/?#\s]+)?(?:/[^?#\s]*)?/[vV]/([0-9]+)/?$", re.IGNORECASE)


def token_digits(text: str) -> str:
    """The token's digits from what a verifier has: the digits themselves, or the URL in the QR
    code (``HTTPS://HOST/V/<digits>``, ``https://host/path/v/<digits>``). Anything else is
    returned as given (and then refused by the decoder with its reason)."""
    stripped = text.strip()
    if stripped.isascii() and stripped.isdigit():
        return stripped
    match = _URL_TOKEN.match(stripped)
    return match.group(1) if match else stripped


def verify_token(
    text: str,
    trust: TrustAnchors,
    registry: Registry | None = None,
    now: datetime | None = None,
    *,
    zone: tzinfo = ISSUE_DAY_ZONE,
) -> Verdict:
    """Verify a QR token (its decimal digits, or the whole verification URL); ``zone`` is the
    bureau's time zone (``CERTSVC_TIMEZONE``), in which its dates are days."""
    run = _Run(TOKEN_CHECKS, _aware(now), registry is None, zone)
    try:
        claims, signer = _token_steps(run, text, trust)
        run.document = _public_fields(claims, signer.agency_name)
        _signer_status(run, signer, _latest_moment_of(claims.issued_on, zone), "issued on")
        _registry_steps(
            run, registry, trust, claims, token_text=token_digits(text), sha256=None, pointer=None
        )
    except _CheckFailedError as failure:
        return run.verdict(failure)
    return run.verdict(None)


def _token_steps(run: _Run, text: str, trust: TrustAnchors) -> tuple[tokens.TokenClaims, Any]:
    digits = token_digits(text)
    try:
        parsed = tokens.parse_token(digits)
        key_id, claims = parsed.key_id, parsed.claims
    except tokens.TokenError as exc:
        _fail("token.decode", str(exc))
    except (ValueError, OverflowError, MemoryError):  # pragma: no cover - bounded by the decoder
        _fail("token.decode", "not a certsvc token: it cannot be decoded")
    run.passed("token.decode", f"document {claims.document_number}, signer key {key_id}")
    signer = trust.signer(key_id)
    if signer is None:
        _fail(
            "token.key",
            f"unknown key id {key_id}: no document signer in trust list {trust.sequence} has it",
        )
    run.passed("token.key", f"key {key_id} of {signer.agency_name} ({signer.agency_code})")
    try:
        tokens.verify_parsed(parsed, trust.token_key(signer))
    except tokens.TokenError as exc:
        _fail("token.signature", str(exc))
    run.passed("token.signature", f"ES256 signature by key {key_id} verifies")
    return claims, signer


def _latest_moment_of(day: date, zone: tzinfo) -> datetime:
    """The last instant of ``day`` in the bureau's time zone: a token dated ``day`` was signed
    no later than this (its date is all a token says about when it was signed)."""
    return datetime.combine(day + timedelta(days=1), time(0), zone) - timedelta(microseconds=1)


def _signer_status(run: _Run, signer: TrustedSigner, signed_at: datetime, how: str) -> None:
    """``signer.status``: revoked before the signing time → SIGNER_REVOKED; signed outside the
    signer's period → FORGED (a retired key signs nothing)."""
    if how == "issued on":
        when = signed_at.astimezone(run.zone).date().isoformat()
    else:
        when = signed_at.astimezone(UTC).isoformat(timespec="seconds")
    if signer.revoked_at is not None and signer.revoked_at <= signed_at:
        reason = f" ({signer.revocation_reason})" if signer.revocation_reason else ""
        _fail(
            "signer.status",
            f"signer key {signer.key_id} was revoked at "
            f"{signer.revoked_at.astimezone(UTC).isoformat(timespec='seconds')}{reason}, "
            f"before this document was signed ({how} {when})",
            VerdictKind.SIGNER_REVOKED,
        )
    if how == "issued on":
        # only a date: the token was signed some time during that day
        earliest = signed_at - timedelta(days=1)
        if signer.retire_at is not None and earliest > signer.retire_at + CLOCK_SKEW:
            _fail(
                "signer.status",
                f"signer key {signer.key_id} retired at {signer.retire_at.isoformat()}, before "
                "the token's issue date: a retired key signs nothing",
            )
        if signed_at + CLOCK_SKEW < signer.active_from:
            _fail(
                "signer.status",
                f"the token's issue date is before signer key {signer.key_id} began to sign "
                f"({signer.active_from.isoformat()})",
            )
    else:
        if signer.retire_at is not None and signed_at > signer.retire_at + CLOCK_SKEW:
            _fail(
                "signer.status",
                f"signed at {when}, after signer key {signer.key_id} retired "
                f"({signer.retire_at.isoformat()}): a retired key signs nothing",
            )
        if signed_at + CLOCK_SKEW < signer.active_from:
            _fail(
                "signer.status",
                f"signed at {when}, before signer key {signer.key_id} began to sign "
                f"({signer.active_from.isoformat()})",
            )
    state = (
        f"revoked later, at {signer.revoked_at.isoformat()}"
        if signer.revoked_at is not None
        else signer.status
    )
    run.passed("signer.status", f"key {signer.key_id} ({state}); document {how} {when}")


def _public_fields(claims: tokens.TokenClaims, agency_name: str) -> PublicFields:
    return PublicFields(
        document_number=claims.document_number,
        document_type=claims.document_type.value,
        holder_name=claims.holder_name,
        qualification_name=claims.qualification_name,
        series=claims.series,
        specialty=claims.specialty,
        level=claims.level.value,
        qualified_on=claims.qualified_on,
        issued_on=claims.issued_on,
        agency_name=agency_name,
        signer_key_id=claims.key_id,
    )


# --- the registry and the log -------------------------------------------------------------------


def _registry_steps(
    run: _Run,
    registry: Registry | None,
    trust: TrustAnchors,
    claims: tokens.TokenClaims,
    *,
    token_text: str,
    sha256: str | None,
    pointer: StatusEntry | None,
) -> None:
    if registry is None:
        for code in run.plan:
            if code in REGISTRY_CHECKS:
                run.skipped(code, "offline: no registry consulted")
        return
    number = claims.document_number
    entry = registry.lookup(number)
    if entry is None:
        _fail("registry.lookup", f"the registry has no document {number}", VerdictKind.UNKNOWN)
    if entry.status in ("reserved", "void"):
        what = "reserved but never issued" if entry.status == "reserved" else "void (never issued)"
        _fail("registry.lookup", f"document {number} is {what}", VerdictKind.UNKNOWN)
    effective_on = entry.revocation_effective_on
    scheduled = (
        entry.status == "revoked"
        and effective_on is not None
        and run.now < effective_from(effective_on, run.zone)
    )
    run.registry = RegistryStatus(
        status="issued" if scheduled else entry.status,
        revoked_at=None if scheduled else entry.revoked_at,
        revocation_reason=entry.revocation_reason,
        superseded_by=entry.superseded_by,
        revocation_effective_on=effective_on,
    )
    shown = "issued, revocation scheduled" if scheduled else entry.status
    run.passed("registry.lookup", f"document {number} is in the registry ({shown})")
    if sha256 is not None:
        if entry.sha256 != sha256:
            _fail(
                "registry.hash",
                f"stored-hash mismatch: this file's SHA-256 is {sha256}, the registry's is "
                f"{entry.sha256 or 'missing'}",
            )
        run.passed("registry.hash", f"SHA-256 {sha256}")
    _registry_fields(run, entry, claims, token_text, pointer)
    why = f" ({entry.revocation_reason})" if entry.revocation_reason else ""
    if scheduled:
        assert effective_on is not None
        run.extra["revocation_scheduled_for"] = effective_on.isoformat()
        run.passed(
            "registry.status",
            f"issued and current; a revocation{why} is scheduled: it takes effect on "
            f"{effective_on.isoformat()}",
        )
        _log_inclusion(run, entry, trust)
        return
    if entry.status == "revoked":
        when = f" at {entry.revoked_at.isoformat()}" if entry.revoked_at else ""
        since = f", in effect from {effective_on.isoformat()}" if effective_on else ""
        _fail("registry.status", f"revoked by the bureau{when}{since}{why}", VerdictKind.REVOKED)
    if entry.status == "superseded":
        by = f" by document {entry.superseded_by}" if entry.superseded_by else ""
        _fail("registry.status", f"replaced{by}", VerdictKind.SUPERSEDED)
    if entry.status != "issued":
        _fail("registry.status", f"the registry gives an unknown status {entry.status!r}")
    run.passed("registry.status", "issued and current")
    _log_inclusion(run, entry, trust)


def _registry_fields(
    run: _Run,
    entry: RegistryEntry,
    claims: tokens.TokenClaims,
    token_text: str,
    pointer: StatusEntry | None,
) -> None:
    differences = [
        name
        for name, stored, stated in (
            ("document type", entry.document_type, claims.document_type.value),
            ("issue date", entry.issued_on, claims.issued_on),
            ("signer key id", entry.signer_key_id, claims.key_id),
        )
        if stored != stated
    ]
    if entry.token is not None and entry.token != token_text:
        differences.append("token (the registry holds another token for this number)")
    registered = (entry.status_list_url, entry.status_list_index)
    if pointer is not None and registered != (None, None) and registered != astuple(pointer):
        differences.append(
            f"status-list entry (the record names {pointer.url}#{pointer.index}, the registry "
            f"{entry.status_list_url}#{entry.status_list_index})"
        )
    if differences:
        _fail(
            "registry.fields",
            f"the registry's {', '.join(differences)} differ from the document's",
        )
    agreed = "type, issue date, signer and token agree"
    if pointer is not None:
        agreed = "type, issue date, signer, token and status-list entry agree"
    run.passed("registry.fields", agreed)


@functools.lru_cache(maxsize=256)
def _verified_head(envelope: bytes, key_der: bytes) -> tuple[int, bytes]:
    """A tree head's size and root once its signature has verified (cached: every document
    of a batch shares its head)."""
    public_key = x509.load_der_x509_certificate(key_der).public_key()
    checkpoint = verify_checkpoint(envelope, public_key)
    return checkpoint.tree_size, checkpoint.root_hash


@functools.lru_cache(maxsize=256)
def _head_key_id(envelope: bytes) -> str:
    """The key id a tree head names (cached like :func:`_verified_head`; the signature is
    checked there)."""
    key_id, _ = read_unverified(envelope)
    return key_id


def _log_inclusion(run: _Run, entry: RegistryEntry, trust: TrustAnchors) -> None:
    evidence = entry.log
    number = entry.document_number
    if evidence is None:
        _fail("log.inclusion", f"document {number} is issued but not in the transparency log")
    try:
        logged = json.loads(evidence.entry)
    except ValueError:
        logged = None
    if (
        not isinstance(logged, dict)
        or logged.get("document_number") != number
        or logged.get("document_sha256") != entry.sha256
        or logged.get("index") != evidence.leaf_index
    ):
        _fail("log.inclusion", f"log entry {evidence.leaf_index} is not this document's")
    if evidence.tree_size is None:
        run.skipped(
            "log.inclusion",
            f"logged as entry {evidence.leaf_index}; its batch's tree head is not signed yet",
        )
        return
    if evidence.tree_head is None:
        _fail("log.inclusion", f"no signed tree head of size {evidence.tree_size}")
    try:
        head_key = _head_key_id(evidence.tree_head)
        key_der = trust.certificate_der(head_key)
        if key_der is None:
            _fail("log.inclusion", f"the tree head is signed by key {head_key}, not in the list")
        tree_size, root_hash = _verified_head(evidence.tree_head, key_der)
    except CertsvcError as exc:
        _fail("log.inclusion", f"the signed tree head does not verify: {exc}")
    if tree_size != evidence.tree_size:
        _fail(
            "log.inclusion",
            f"the tree head covers {tree_size} entries, not {evidence.tree_size}",
        )
    try:
        merkle.verify_inclusion(
            merkle.leaf_hash(evidence.entry),
            evidence.leaf_index,
            tree_size,
            list(evidence.path),
            root_hash,
        )
    except merkle.ProofError as exc:
        _fail("log.inclusion", f"the inclusion proof does not verify: {exc}")
    run.log = LogInclusion(evidence.leaf_index, tree_size, root_hash.hex(), verified=True)
    run.passed(
        "log.inclusion",
        f"entry {evidence.leaf_index} in the tree of {tree_size} entries, root "
        f"{root_hash.hex()[:16]}…, signed by key {head_key}",
    )


# --- the PDF ----------------------------------------------------------------------------------


def verify_pdf(
    data: bytes,
    trust: TrustAnchors,
    registry: Registry | None = None,
    now: datetime | None = None,
    limits: PdfLimits = DEFAULT_LIMITS,
    status_list: StatusListInput | None = None,
    *,
    zone: tzinfo = ISSUE_DAY_ZONE,
) -> Verdict:
    """Verify an uploaded (or local) PDF; with ``status_list`` (offline), also its status in
    that list (``status.list``, ``status.entry``: :mod:`certsvc.verification.status`).
    ``zone`` as for :func:`verify_token`."""
    plan = PDF_CHECKS + (status_checks.STATUS_CHECKS if status_list is not None else ())
    run = _Run(plan, _aware(now), registry is None, zone)
    try:
        record = _pdf_steps(run, data, trust, registry, limits)
        if status_list is not None:
            _status_steps(run, status_list, record.status, trust)
    except _CheckFailedError as failure:
        return run.verdict(failure)
    return run.verdict(None)


def _guard(code: str, what: str, action: Callable[[], _T]) -> _T:
    """``action()``, with anything a crafted file makes the PDF library raise turned into a
    failure of ``code``. Parsing hostile input may fail anywhere inside pyHanko; every such
    failure means the same thing here: not an intact certsvc document."""
    try:
        return action()
    except _CheckFailedError:
        raise
    except RecursionError:
        _fail(code, f"{what}: the file is nested too deeply")
    except Exception as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        _fail(code, f"{what}: {reason}")


def _run_coroutine(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run pyHanko's validation coroutine; without revocation fetching it never waits, so no
    event loop is needed (an event loop per verification would cost about 1 ms)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: _T = done.value
        return result
    coroutine.close()  # pragma: no cover - only with fetching, which is off
    raise RuntimeError("pyHanko's validation unexpectedly waited for I/O")  # pragma: no cover


def _status_steps(
    run: _Run, given: StatusListInput, pointer: StatusEntry | None, trust: TrustAnchors
) -> None:
    try:
        checked = status_checks.read_list(given, pointer, trust, run.now)
        assert pointer is not None  # read_list refuses a record without one
        run.extra["status_list_sequence"] = str(checked.sequence)
        run.extra["status_list_index"] = str(pointer.index)
        run.passed(status_checks.LIST_CHECK, status_checks.described(checked))
        status = status_checks.entry_status(checked, pointer)
    except status_checks.StatusRefusedError as refusal:
        _fail(refusal.code, refusal.detail, refusal.kind)
    run.status_as_of = f"status list {checked.sequence}"
    run.passed(
        status_checks.ENTRY_CHECK,
        f"entry {pointer.index} is '{status.name.lower()}' in status list {checked.sequence}",
    )


def _pdf_steps(
    run: _Run, data: bytes, trust: TrustAnchors, registry: Registry | None, limits: PdfLimits
) -> DocumentRecord:
    # 1. the file
    if len(data) > limits.max_bytes:
        _fail("pdf.file", f"the file has {len(data):,} bytes, more than {limits.max_bytes:,}")
    if not data.startswith(b"%PDF-"):
        _fail("pdf.file", "not a PDF file (it does not start with %PDF-)")
    reader = _guard(
        "pdf.file",
        "the PDF cannot be read",
        lambda: PdfFileReader(io.BytesIO(data), strict=True),
    )
    if _guard("pdf.file", "the PDF cannot be read", lambda: reader.encrypted):
        _fail("pdf.file", "the PDF is encrypted; certsvc documents never are")
    pages = _guard("pdf.file", "the page tree cannot be read", lambda: _page_count(reader))
    if not 1 <= pages <= limits.max_pages:
        _fail("pdf.file", f"the PDF has {pages} pages; at most {limits.max_pages} are accepted")
    sha256 = hashlib.sha256(data).hexdigest()
    run.extra["sha256"] = sha256
    run.passed("pdf.file", f"{len(data):,} bytes, {pages} page(s), SHA-256 {sha256[:16]}…")

    # 2. one signature
    signatures = _guard(
        "pdf.signature", "the signature cannot be read", lambda: list(reader.embedded_signatures)
    )
    fields = _guard("pdf.signature", "the form cannot be read", lambda: _signature_fields(reader))
    if not signatures:
        _fail("pdf.signature", "the PDF carries no signature")
    if len(signatures) != 1 or fields != 1:
        _fail(
            "pdf.signature",
            f"the PDF has {max(len(signatures), fields)} signature fields; a certsvc document "
            "has exactly one (a signature was added after certification)",
        )
    (signature,) = signatures
    run.passed("pdf.signature", f"field {signature.field_name}")

    # 3. the byte range
    _guard("pdf.byte-range", "the byte range cannot be read", lambda: _byte_range(signature, data))
    run.passed("pdf.byte-range", "[0, a, b, c] with only the signature value between")

    # 4. integrity and trust: pyHanko, with the trust list's root as the only anchor
    context = ValidationContext(
        trust_roots=[trust.asn1_root],
        allow_fetching=False,
        revocation_mode="soft-fail",
        moment=run.now,
    )
    status = _guard(
        "pdf.integrity",
        "pyHanko cannot validate the signature",
        lambda: _run_coroutine(async_validate_pdf_signature(signature, context, skip_diff=True)),
    )
    if not status.intact:
        _fail(
            "pdf.integrity",
            "the signed bytes were altered: their digest is not the one the signature signs",
        )
    if not status.valid:
        _fail("pdf.integrity", "the signature value does not verify with the signer's key")
    run.passed("pdf.integrity", f"intact; {status.md_algorithm} digest signed and verified")

    # 5. nothing after the signature
    _modifications(run, reader, signature, status.coverage, len(data))

    # 6. certified, no changes allowed
    if signature.docmdp_level is not MDPPerm.NO_CHANGES or not _certification_is(reader, signature):
        level = signature.docmdp_level
        _fail(
            "pdf.certified",
            "the signature is not a certification with 'no changes allowed' "
            f"(DocMDP {level.name if level is not None else 'absent'})",
        )
    run.passed("pdf.certified", "DocMDP P=1: no changes allowed")

    # 7. the chain to the root
    certificate = x509.load_der_x509_certificate(status.signing_cert.dump())
    key_id = key_id_for(certificate.public_key())
    subject = certificate.subject.rfc4514_string()
    if not status.trusted:
        problem = status.trust_problem_indic
        why = f" ({problem})" if problem is not None else ""
        _fail(
            "pdf.chain",
            f"the signer certificate ({subject}) does not chain to the bureau root "
            f"{trust.root_fingerprint[:16]}…{why}",
        )
    run.passed("pdf.chain", f"{subject} → root {trust.root_fingerprint[:16]}…")

    # 8. the signer is in the trust list
    signer = trust.signer(key_id)
    if signer is None:
        _fail("pdf.signer", f"unknown key id {key_id}: the trust list has no such signer")
    signer_der = trust.certificate_der(key_id)
    if signer_der != status.signing_cert.dump():
        _fail("pdf.signer", f"the certificate is not the trust list's certificate for {key_id}")
    _container_certificates(signature, {signer_der, trust.asn1_root.dump()})
    run.passed("pdf.signer", f"key {key_id} of {signer.agency_name} ({signer.agency_code})")

    # 9. the signer's status at the signing time
    signed_at, how = _signing_time(status)
    run.extra["signed_at"] = signed_at.astimezone(UTC).isoformat(timespec="seconds")
    _signer_status(run, signer, signed_at, how)

    # 10. the record and the token
    contents = _guard(
        "pdf.attachments", "the attachments cannot be read", lambda: _attachments(reader)
    )
    record = _record(contents)
    token_text = _token_text(contents)
    run.passed("pdf.attachments", f"{RECORD_FILENAME} and {TOKEN_FILENAME}")

    # 11. the token
    claims, _ = _token_steps(run, token_text, trust)
    # 12. agreement
    _agreement(run, claims, record, signer, key_id)
    run.document = _public_fields(claims, signer.agency_name)
    # 13. the registry and the log
    _registry_steps(
        run, registry, trust, claims, token_text=token_text, sha256=sha256, pointer=record.status
    )
    return record


def _page_count(reader: PdfFileReader) -> int:
    count = reader.root["/Pages"]["/Count"]
    if not isinstance(count, int) or isinstance(count, bool):
        raise ValueError("the page count is not a number")
    return int(count)


def _signature_fields(reader: PdfFileReader) -> int:
    """Signature fields in the form, signed or not (an empty field is also something added)."""
    form = reader.root.get("/AcroForm")
    if form is None:
        return 0
    count = 0
    stack = list(form.get_object().get("/Fields", generic.ArrayObject()))
    seen = 0
    while stack:
        seen += 1
        if seen > 10_000:
            raise ValueError("the form has too many fields")
        field = stack.pop().get_object()
        if field.get("/FT") == "/Sig":
            count += 1
        stack.extend(field.get("/Kids", generic.ArrayObject()))
    return count


def _byte_range(signature: EmbeddedPdfSignature, data: bytes) -> None:
    """The byte range is ``[0, a, b, c]`` with ``a < b``, inside the file, and the gap
    ``[a, b)`` is exactly ``<hex>`` of the signature's own ``/Contents``."""
    byte_range = list(signature.byte_range)
    if len(byte_range) != 4 or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in byte_range
    ):
        _fail("pdf.byte-range", f"the byte range {byte_range} is not four whole numbers")
    start, first, second, length = (int(v) for v in byte_range)
    if start != 0:
        _fail("pdf.byte-range", f"the byte range starts at {start}, not at the file's start")
    if not 0 < first < second <= len(data) or length < 0 or second + length > len(data):
        _fail(
            "pdf.byte-range",
            f"the byte range {byte_range} does not lie within the file ({len(data)} bytes) as "
            "two ranges around one gap",
        )
    gap = data[first:second]
    contents = signature.pkcs7_content
    if gap[:1] != b"<" or gap[-1:] != b">":
        _fail(
            "pdf.byte-range",
            f"the unsigned gap {first}-{second} is not the signature's hex string",
        )
    # exactly as pyHanko writes it: upper-case hex, nothing else (lower case or white space
    # would decode to the same value, leaving unsigned room to make another file)
    if gap[1:-1] != contents.hex().upper().encode("ascii"):
        _fail(
            "pdf.byte-range",
            "the unsigned gap is not the signature's /Contents as written (upper-case hex "
            "digits only): the byte range points elsewhere or the value was rewritten",
        )
    end = _der_end(contents)
    if end is None or any(contents[end:]):
        # the zeros after the CMS container are unsigned: anything else there would make the
        # file another file (another hash) with the same valid signature
        _fail(
            "pdf.byte-range",
            "the signature value is not one DER container followed by zero padding: "
            "unsigned bytes were put after it",
        )
    _canonical_container(contents, end)


# SHA-2 AlgorithmIdentifiers with NULL parameters, as pyHanko writes them
_DIGEST_ALGORITHMS = frozenset(
    bytes.fromhex(f"300d0609608648016503040{code}0500") for code in ("201", "202", "203")
)


def _canonical_container(contents: bytes, end: int) -> None:
    """The CMS container re-encodes to exactly its bytes (no length or encoding games in its
    unsigned parts), names its one digest algorithm, carries no CRLs, and has no unsigned
    attribute but a signature timestamp."""
    der = contents[:end]
    content_info = cms.ContentInfo.load(der)
    signed_data = content_info["content"]
    (signer_info,) = signed_data["signer_infos"]
    if not _strict_der(der, 0, len(der), 0):
        _fail(
            "pdf.byte-range",
            "the signature container is not in strict DER: its unsigned parts were rewritten",
        )
    algorithms = signed_data["digest_algorithms"]
    if (
        algorithms.dump()[:1] != b"\x31"  # a SET
        or [a.dump() for a in algorithms] != [signer_info["digest_algorithm"].dump()]
        or signer_info["digest_algorithm"].dump() not in _DIGEST_ALGORITHMS
    ):
        _fail("pdf.byte-range", "the signature container's digest algorithms were rewritten")
    if signed_data["version"].dump() != b"\x02\x01\x01" or (
        signer_info["version"].dump() != b"\x02\x01\x01"
    ):
        _fail("pdf.byte-range", "the signature container's version numbers were rewritten")
    if signed_data["crls"].native:
        _fail("pdf.byte-range", "the signature container carries CRLs (certsvc's are in the DSS)")
    unsigned = signer_info["unsigned_attrs"].native or []
    kinds = {attribute["type"] for attribute in unsigned}
    if not kinds <= {"signature_time_stamp_token"}:
        _fail("pdf.byte-range", f"the signature carries unsigned attributes {sorted(kinds)}")


def _container_certificates(signature: EmbeddedPdfSignature, allowed: set[bytes | None]) -> None:
    """Every certificate in the container is the trust list's signer certificate or its
    root, byte for byte, and the signer info names the signer by issuer and serial."""
    signed_data = signature.signed_data
    for certificate in signed_data["certificates"]:
        if certificate.chosen.dump() not in allowed:
            _fail(
                "pdf.signer",
                "the signature container carries a certificate other than the signer's and "
                "the root's as the trust list has them",
            )
    (signer_info,) = signed_data["signer_infos"]
    sid = signer_info["sid"]
    cert = signature.signer_cert
    if sid.name != "issuer_and_serial_number" or (
        sid.chosen["issuer"].dump() != cert.issuer.dump()
        or sid.chosen["serial_number"].native != cert.serial_number
    ):
        _fail("pdf.signer", "the signer info does not name the signer certificate")


def _strict_der(data: bytes, start: int, end: int, depth: int) -> bool:
    """``data[start:end]`` is a run of DER elements with definite, minimally encoded lengths,
    each constructed one exactly filled by its own elements (what re-encoding would give, at a
    fraction of the cost of asn1crypto's ``dump(force=True)``)."""
    position = start
    while position < end:
        if end - position < 2 or data[position] == 0 or data[position] & 0x1F == 0x1F:
            return False
        constructed = bool(data[position] & 0x20)
        first = data[position + 1]
        position += 2
        if first < 0x80:
            length = first
        else:
            count = first & 0x7F
            if not 1 <= count <= 4 or end - position < count or data[position] == 0:
                return False
            length = int.from_bytes(data[position : position + count], "big")
            position += count
            if length < 0x80:
                return False
        if end - position < length:
            return False
        if constructed and (
            depth > 32 or not _strict_der(data, position, position + length, depth + 1)
        ):
            return False
        position += length
    return position == end


def _der_end(data: bytes) -> int | None:
    """Where the DER SEQUENCE at the start of ``data`` ends (None if it is not one)."""
    if len(data) < 2 or data[0] != 0x30:
        return None
    first = data[1]
    if first < 0x80:
        end = 2 + first
    else:
        count = first & 0x7F
        if not 1 <= count <= 4 or len(data) < 2 + count:
            return None
        end = 2 + count + int.from_bytes(data[2 : 2 + count], "big")
    return end if end <= len(data) else None


def _modifications(
    run: _Run,
    reader: PdfFileReader,
    signature: EmbeddedPdfSignature,
    coverage: Any,
    size: int,
) -> None:
    _, _, second, length = (int(v) for v in signature.byte_range)
    last = reader.xrefs.total_revisions - 1
    if (
        coverage is not None
        and coverage.name == "ENTIRE_FILE"
        and second + length == size
        and signature.signed_revision == last
    ):
        run.passed("pdf.modifications", "the signature covers the whole file; no later revision")
        return
    appended = size - (second + length)
    found = _guard("pdf.modifications", "the update cannot be analysed", lambda: _diff(signature))
    revisions = last - signature.signed_revision
    _fail(
        "pdf.modifications",
        f"the file was changed after signing: {appended:,} bytes in {max(revisions, 1)} "
        f"incremental update(s) follow the signature; pyHanko's difference analysis: {found}",
    )


def _diff(signature: EmbeddedPdfSignature) -> str:
    result = signature.evaluate_modifications(DEFAULT_DIFF_POLICY)
    if isinstance(result, DiffResult):
        level = result.modification_level.name
        changed = sorted(str(ref) for ref in result.changed_form_fields)
        fields = f", changed form fields {', '.join(changed)}" if changed else ""
        return f"modification level {level}{fields}"
    return f"suspicious modification: {result}"


def _certification_is(reader: PdfFileReader, signature: EmbeddedPdfSignature) -> bool:
    """The catalog's /Perms /DocMDP names this very signature."""
    try:
        perms = reader.root["/Perms"]
        reference = perms.raw_get("/DocMDP")
    except KeyError:
        return False
    if not isinstance(reference, generic.IndirectObject):
        return False
    target = reference.get_object()  # type: ignore[no-untyped-call]
    return bool(target is signature.sig_object or target == signature.sig_object)


def _signing_time(status: Any) -> tuple[datetime, str]:
    stamp = status.timestamp_validity
    if stamp is not None and stamp.intact and stamp.valid and stamp.trusted:
        return stamp.timestamp, "timestamped at"
    claimed = status.signer_reported_dt
    if claimed is None:
        _fail("signer.status", "the signature states no signing time")
    return claimed, "signed at"


def _record(attachments: dict[str, bytes]) -> DocumentRecord:
    if RECORD_FILENAME not in attachments:
        _fail("pdf.attachments", f"the canonical record ({RECORD_FILENAME}) is not attached")
    try:
        found = DocumentContents(attachments, [], 0).record
    except CertsvcError as exc:
        _fail("pdf.attachments", str(exc))
    assert found is not None
    return found


def _token_text(attachments: dict[str, bytes]) -> str:
    if TOKEN_FILENAME not in attachments:
        _fail("pdf.attachments", f"the QR token ({TOKEN_FILENAME}) is not attached")
    try:
        text = DocumentContents(attachments, [], 0).token
    except CertsvcError as exc:
        _fail("pdf.attachments", str(exc))
    assert text is not None
    return text


def _agreement(
    run: _Run,
    claims: tokens.TokenClaims,
    record: DocumentRecord,
    signer: TrustedSigner,
    pdf_key_id: str,
) -> None:
    record_claims = tokens.claims_from_record(record)
    differences = _differences(
        (
            ("document number", record_claims.document_number, claims.document_number),
            ("document type", record_claims.document_type, claims.document_type),
            ("holder name", record_claims.holder_name, claims.holder_name),
            ("series", record_claims.series, claims.series),
            ("qualification", record_claims.qualification_name, claims.qualification_name),
            ("specialty", record_claims.specialty, claims.specialty),
            ("level", record_claims.level, claims.level),
            ("qualification date", record_claims.qualified_on, claims.qualified_on),
            ("issue date", record_claims.issued_on, claims.issued_on),
            ("signer key id", record_claims.key_id, claims.key_id),
        )
    )
    if differences:
        _fail("pdf.agreement", f"the token and the attached record differ in: {differences}")
    if claims.key_id != pdf_key_id:
        _fail(
            "pdf.agreement",
            f"the token is signed by key {claims.key_id} but the PDF by key {pdf_key_id}",
        )
    if (record.agency_code, record.agency_name) != (signer.agency_code, signer.agency_name):
        _fail(
            "pdf.agreement",
            f"the record names agency {record.agency_code} {record.agency_name}, but the "
            f"signer belongs to {signer.agency_code} {signer.agency_name}",
        )
    run.passed("pdf.agreement", "token, record and signature name the same document and signer")


def _differences(pairs: Iterable[tuple[str, object, object]]) -> str:
    return ", ".join(name for name, left, right in pairs if left != right)
