"""What a verification concludes: one verdict, and every check that led to it.

A verifier runs numbered checks in order (see :mod:`certsvc.verification.verifier`); each
records its outcome and, when it fails, one clear sentence saying what was found. The verdict is
the first thing a reader sees: the bottom line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class VerdictKind(StrEnum):
    GENUINE = "genuine"  # genuine and current: every check passed
    REVOKED = "revoked"  # genuine, but withdrawn by the bureau (when, why)
    SUPERSEDED = "superseded"  # genuine, but replaced by a reissued document (which)
    SIGNER_REVOKED = "signer-revoked"  # signed by a key revoked before the signing time
    UNKNOWN = "unknown"  # well signed, but the registry has no such document
    FORGED = "forged"  # forged, altered or damaged: a signature or integrity check failed
    # offline with a status list: genuine as signed, but the list given could not be relied on
    # (or the record names no entry), so whether it is current is unknown
    STATUS_UNAVAILABLE = "status-unavailable"


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"  # not applicable here (offline: no registry), or after a failure


@dataclass(frozen=True)
class Check:
    code: str  # stable identifier, e.g. "token.signature", "pdf.modifications"
    title: str  # what was checked, in plain words
    outcome: Outcome
    detail: str = ""  # what was found; for a failure, the reason


@dataclass(frozen=True)
class PublicFields:
    """What a verifier may be shown of a document: never the identity number."""

    document_number: str
    document_type: str  # "certificate" or "notice"
    holder_name: str
    qualification_name: str
    series: str
    specialty: str
    level: str
    qualified_on: date
    issued_on: date
    agency_name: str
    signer_key_id: str


@dataclass(frozen=True)
class RegistryStatus:
    status: str  # issued, revoked, superseded
    revoked_at: datetime | None = None
    revocation_reason: str | None = None
    superseded_by: str | None = None  # the number of the document that replaces it
    # the day a revocation takes effect: with status "issued", a revocation decided and
    # scheduled for that day (until then the document is current)
    revocation_effective_on: date | None = None


@dataclass(frozen=True)
class LogInclusion:
    leaf_index: int
    tree_size: int
    root_hash: str  # hex
    verified: bool


@dataclass(frozen=True)
class Verdict:
    kind: VerdictKind
    checks: tuple[Check, ...]
    document: PublicFields | None = None
    registry: RegistryStatus | None = None
    log: LogInclusion | None = None
    checked_at: datetime | None = None
    summary: str = ""  # one sentence for the reader
    extra: dict[str, str] = field(default_factory=dict)
    # True when no registry was consulted (the offline verifier): GENUINE then means well
    # signed by a listed signer and unaltered, not known to be current
    offline: bool = False

    @property
    def bottom_line(self) -> bool:
        """True only for a genuine, current document."""
        return self.kind is VerdictKind.GENUINE

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if check.outcome is Outcome.FAILED)
