"""A document's status from a status-list file: what the offline verifier checks with
``certsvc verify FILE.pdf --status-list LIST.jws``.

Two checks, after the document's own (see :mod:`certsvc.verification.verifier`):

* ``status.list`` — the list is one to rely on: a certsvc status list (*format*), signed by a
  document signer of the verified trust list that was not revoked or retired when it signed
  (*signature*), ``next_update`` not passed (*freshness*), ``sequence`` not below the newest the
  verifier already accepted (*sequence*), and published at the URL the document's record names
  (*url*). Each refusal names which of these failed. A document whose record names no entry
  (record format 1) cannot be checked with a list at all. Any of these gives the verdict
  STATUS_UNAVAILABLE: the document's status is unknown, never silently "current".
* ``status.entry`` — the document's entry (the index its record names): valid, revoked
  (REVOKED) or superseded (SUPERSEDED). The list says no more: why, since when and by which
  document are for the online verifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from certsvc.documents.record import StatusEntry
from certsvc.keys.certificates import CLOCK_SKEW
from certsvc.revocation.status_list import (
    EntryStatus,
    StatusList,
    StatusListError,
    StatusListExpiredError,
    StatusListFormatError,
    StatusListReplayError,
    StatusListSignatureError,
    verify_status_list,
)
from certsvc.verification.trust import TrustAnchors
from certsvc.verification.verdict import VerdictKind

LIST_CHECK = "status.list"
ENTRY_CHECK = "status.entry"
STATUS_CHECKS = (LIST_CHECK, ENTRY_CHECK)
TITLES = {
    LIST_CHECK: "The status list is signed by a trusted signer, current, and the document's",
    ENTRY_CHECK: "The status list shows the document neither revoked nor replaced",
}
_PART = {
    StatusListSignatureError: "signature",
    StatusListExpiredError: "freshness",
    StatusListReplayError: "sequence",
    StatusListFormatError: "format",
}


@dataclass(frozen=True)
class StatusListInput:
    """A status-list file as the verifier was given it."""

    data: bytes
    minimum_sequence: int | None = None  # the newest sequence this verifier accepted before


class StatusRefusedError(Exception):
    """A status check that did not pass: which, the verdict it gives, and why."""

    def __init__(self, code: str, kind: VerdictKind, detail: str) -> None:
        super().__init__(detail)
        self.code, self.kind, self.detail = code, kind, detail


def _refuse(part: str, detail: str) -> StatusRefusedError:
    return StatusRefusedError(LIST_CHECK, VerdictKind.STATUS_UNAVAILABLE, f"{part}: {detail}")


def signer_keys(trust: TrustAnchors) -> dict[str, CertificatePublicKeyTypes]:
    """The public keys of the trust list's document signers, by key id."""
    return {key_id: signer.certificate.public_key() for key_id, signer in trust.signers.items()}


def read_list(
    given: StatusListInput, pointer: StatusEntry | None, trust: TrustAnchors, now: datetime
) -> StatusList:
    """The checked list (see the module); :class:`StatusRefusedError` for ``status.list``."""
    if pointer is None:
        raise _refuse(
            "url",
            "the document's record names no status-list entry (record format 1, made before "
            "certsvc recorded one): its status cannot be checked with a status list; verify it "
            "online",
        )
    try:
        checked = verify_status_list(
            given.data, signer_keys(trust), now, minimum_sequence=given.minimum_sequence
        )
    except StatusListError as exc:
        raise _refuse(_PART.get(type(exc), "format"), str(exc)) from None
    signer = trust.signer(checked.key_id)
    assert signer is not None  # verify_status_list accepted only the trust list's keys
    if signer.revoked_at is not None and signer.revoked_at <= checked.issued_at:
        raise _refuse(
            "signature",
            f"the status list was signed by key {signer.key_id}, revoked at "
            f"{_when(signer.revoked_at)}, before the list was issued ({_when(checked.issued_at)})",
        )
    if signer.retire_at is not None and checked.issued_at > signer.retire_at + CLOCK_SKEW:
        raise _refuse(
            "signature",
            f"the status list was issued at {_when(checked.issued_at)}, after its signer "
            f"{signer.key_id} retired ({_when(signer.retire_at)}): a retired key signs nothing",
        )
    if checked.url != pointer.url:
        raise _refuse(
            "url",
            f"the status list is the one published at {checked.url}, but the document's "
            f"record names {pointer.url}: fetch the list from there",
        )
    if not 0 <= pointer.index < checked.length:
        raise _refuse(
            "format",
            f"the status list has {checked.length} entries and no entry {pointer.index}, the "
            "one the document's record names",
        )
    return checked


def entry_status(checked: StatusList, pointer: StatusEntry) -> EntryStatus:
    """The document's entry; :class:`StatusRefusedError` for ``status.entry`` unless valid."""
    status = checked.status_of(pointer.index)
    as_of = f"status list {checked.sequence} issued {_when(checked.issued_at)}"
    if status is EntryStatus.REVOKED:
        raise StatusRefusedError(
            ENTRY_CHECK,
            VerdictKind.REVOKED,
            f"entry {pointer.index} is 'revoked' in {as_of} (the list does not say why or "
            "since when: the online verifier does)",
        )
    if status is EntryStatus.SUPERSEDED:
        raise StatusRefusedError(
            ENTRY_CHECK,
            VerdictKind.SUPERSEDED,
            f"entry {pointer.index} is 'superseded' in {as_of}: a corrected document replaces "
            "it (the online verifier names it)",
        )
    return status


def described(checked: StatusList) -> str:
    return (
        f"status list {checked.sequence} issued {_when(checked.issued_at)}, valid until "
        f"{_when(checked.next_update)}, signed by key {checked.key_id}, published at "
        f"{checked.url}"
    )


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")
