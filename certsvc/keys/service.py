"""Key management: create the root, issue and rotate signers, retire, revoke, publish.

Every function takes the open database session of its transaction and writes its audit event
there. Key material (key files, the root certificate file, HSM keys) is created before the rows
that name it and is tied to that transaction: it is removed at once if the function fails, and
again when the transaction ends without committing (a failed commit, a rollback, a session
closed without commit), so a failure leaves neither a row without a key nor a key without a row,
and a retry starts from a clean key folder.

Times: every instant is stored and compared in UTC. A revoked signer's ``revoked_at`` is when
its key stopped being trustworthy (the compromise time, which may be back-dated; the CRL's
invalidityDate); the time the bureau recorded the revocation (the CRL's revocationDate,
RFC 5280 §5.3.2) is kept in the revocation's audit event.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from sqlalchemy import event
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session, col, select

from certsvc.agencies.models import Agency
from certsvc.agencies.service import get_agency
from certsvc.audit.events import Action, record
from certsvc.audit.models import AuditEvent
from certsvc.errors import InputError, KeyStoreError, NotFoundError, StateError
from certsvc.keys import certificates as certs
from certsvc.keys.files import (
    FilePrivateKey,
    Passphrase,
    SigningPrivateKey,
    generate_private_key,
    read_private_key,
    secure_key_folder,
    write_private_key,
)
from certsvc.keys.handles import KeyAlgorithm, PrivateKeyHandle
from certsvc.keys.models import (
    KeyBackend,
    PublicationKind,
    RevocationReason,
    RootCertificate,
    SignerStatus,
    SigningKey,
    TrustPublication,
)
from certsvc.keys.pkcs11 import (
    MODULE_VAR as PKCS11_MODULE_VAR,
)
from certsvc.keys.pkcs11 import Pkcs11Config, Pkcs11KeyRef, delete_key, generate_key, open_key
from certsvc.keys.trust_list import FORMAT_VERSION, TrustStatus, sign_trust_list

ROOT_KEY_FILE = "root/root.key.pem"
ROOT_CERT_FILE = "root/root.cert.pem"
CRL_PATH = "/.well-known/certsvc/crl.der"
ROOT_MAX_DAYS = 36500
SIGNER_MAX_DAYS = 3650
NEXT_UPDATE_MAX_DAYS = 366
_log = logging.getLogger(__name__)
_REASON_FLAGS = {
    RevocationReason.KEY_COMPROMISE: x509.ReasonFlags.key_compromise,
    RevocationReason.AFFILIATION_CHANGED: x509.ReasonFlags.affiliation_changed,
    RevocationReason.SUPERSEDED: x509.ReasonFlags.superseded,
    RevocationReason.CESSATION_OF_OPERATION: x509.ReasonFlags.cessation_of_operation,
    RevocationReason.UNSPECIFIED: x509.ReasonFlags.unspecified,
}


@dataclass(frozen=True)
class KeyStore:
    """Where private keys live: the key folder, and the HSM when one is configured."""

    key_dir: Path
    public_base_url: str
    pkcs11: Callable[[], Pkcs11Config] | None = None

    def path(self, relative: str) -> Path:
        return self.key_dir / relative

    def private_path(self, relative: str, *, create: bool = False) -> Path:
        """Where the private key ``relative`` lives, after checking (with ``create``: making)
        its folders: kept 0700, never writable by group or others."""
        path = self.path(relative)
        secure_key_folder(self.key_dir, Path(relative).parent, create=create)
        return path

    @property
    def crl_url(self) -> str:
        return self.public_base_url.rstrip("/") + CRL_PATH

    def pkcs11_config(self) -> Pkcs11Config:
        if self.pkcs11 is None:
            raise KeyStoreError(
                "no PKCS#11 token is configured (set CERTSVC_PKCS11_MODULE, "
                "CERTSVC_PKCS11_TOKEN and CERTSVC_PKCS11_PIN)"
            )
        return self.pkcs11()


# -- the root ------------------------------------------------------------------------------


class Pkcs11FromEnvironment:
    """The HSM settings, read from the environment when first needed (picklable, so a batch
    worker process reads its own)."""

    def __call__(self) -> Pkcs11Config:
        return Pkcs11Config.from_env(os.environ)


def keystore_for(key_dir: Path, public_base_url: str) -> KeyStore:
    """The key store, with the HSM when ``CERTSVC_PKCS11_MODULE`` is set."""
    pkcs11 = Pkcs11FromEnvironment() if os.environ.get(PKCS11_MODULE_VAR) else None
    return KeyStore(key_dir, public_base_url, pkcs11)


def create_root(
    session: Session,
    store: KeyStore,
    *,
    organization: str,
    passphrase: Passphrase,
    actor: str,
    now: datetime,
    algorithm: KeyAlgorithm = KeyAlgorithm.ECDSA_P384,
    days: int = 20 * 365,
) -> RootCertificate:
    _check_days(days, ROOT_MAX_DAYS, "a root")
    now = _utc(now, "now")
    existing = session.exec(select(RootCertificate)).first()
    if existing is not None:
        raise StateError(f"a root already exists (fingerprint {existing.fingerprint})")
    key_path = store.private_path(ROOT_KEY_FILE, create=True)
    key = generate_private_key(algorithm)
    certificate = certs.build_root_certificate(key, organization=organization, now=now, days=days)
    with (
        _new_file(session, key_path, key, passphrase),
        _new_public_file(session, store.path(ROOT_CERT_FILE), certs.to_pem(certificate)),
    ):
        root = RootCertificate(
            fingerprint=certs.fingerprint(certificate),
            subject=certificate.subject.rfc4514_string()[:255],
            certificate_pem=certs.to_pem(certificate),
            key_file=ROOT_KEY_FILE,
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
            created_by=actor,
        )
        session.add(root)
        session.flush()
        record(
            session,
            Action.KEY_ROOT_CREATE,
            actor=actor,
            subject_type="root_certificate",
            subject_id=root.id,
            details={
                "fingerprint": root.fingerprint,
                "algorithm": algorithm.value,
                "not_after": root.not_after.isoformat(),
            },
        )
    return root


@dataclass(frozen=True)
class LoadedRoot:
    row: RootCertificate
    certificate: x509.Certificate
    key: FilePrivateKey


def current_root(session: Session) -> RootCertificate:
    root = session.exec(select(RootCertificate).order_by(col(RootCertificate.id).desc())).first()
    if root is None:
        raise NotFoundError("there is no root yet; run `certsvc keys init-root` first")
    return root


def load_root(session: Session, store: KeyStore, passphrase: Passphrase) -> LoadedRoot:
    row = current_root(session)
    certificate = certs.load_pem(row.certificate_pem)
    key = FilePrivateKey(read_private_key(store.private_path(row.key_file), passphrase))
    if _spki(key.public_key) != _spki(certificate.public_key()):
        raise KeyStoreError(
            f"the key in {store.path(row.key_file)} does not belong to the root "
            f"certificate {row.fingerprint}"
        )
    return LoadedRoot(row, certificate, key)


# -- signers -------------------------------------------------------------------------------


def issue_signer(
    session: Session,
    store: KeyStore,
    root: LoadedRoot,
    *,
    agency_code: str,
    actor: str,
    now: datetime,
    backend: KeyBackend = KeyBackend.FILE,
    passphrase: Passphrase | None = None,
    algorithm: KeyAlgorithm = KeyAlgorithm.ECDSA_P256,
    days: int = 3 * 365,
    active_from: datetime | None = None,
) -> SigningKey:
    """A new document signer for the agency. If the agency has a signer already, the new one
    takes over at ``active_from`` (default now) and the old ones stop signing then."""
    _check_days(days, SIGNER_MAX_DAYS, "a signer")
    now = _utc(now, "now")
    agency = get_agency(session, agency_code)
    start = now if active_from is None else _utc(active_from, "active-from")
    not_after = now + timedelta(days=days)
    if start < now - certs.CLOCK_SKEW:
        raise StateError(
            f"active-from {start:%Y-%m-%d %H:%M} UTC lies in the past; a new signer takes over "
            f"from now ({now:%Y-%m-%d %H:%M} UTC) at the earliest, or what the current signer "
            "has already signed would look signed after its retirement"
        )
    start = max(start, now)  # within the clock skew: from now
    if start >= not_after:
        raise StateError(
            f"active-from {start:%Y-%m-%d} must lie within the new certificate's "
            f"validity ({now:%Y-%m-%d} to {not_after:%Y-%m-%d})"
        )
    if root.certificate.not_valid_after_utc < not_after:
        raise StateError(
            "the signer would outlive the root "
            f"({root.certificate.not_valid_after_utc:%Y-%m-%d}); issue it for fewer "
            "days or roll the root over first"
        )
    with _new_key(session, store, backend, algorithm, passphrase, agency) as (public_key, key_ref):
        key_id = certs.key_id_for(public_key)
        if session.exec(select(SigningKey).where(SigningKey.key_id == key_id)).first():
            raise StateError(f"a signer with key id {key_id} exists already")
        certificate = certs.build_signer_certificate(
            public_key,
            certs.SignerProfile(
                agency.name, agency.code, key_id, now - certs.CLOCK_SKEW, not_after, store.crl_url
            ),
            root_certificate=root.certificate,
            root_key=root.key.private_key,
        )
        superseded = _schedule_retirement(session, agency, start, actor)
        assert root.row.id is not None and agency.id is not None
        signer = SigningKey(
            key_id=key_id,
            agency_id=agency.id,
            root_id=root.row.id,
            algorithm=algorithm,
            backend=backend,
            key_ref=key_ref(key_id),
            certificate_pem=certs.to_pem(certificate),
            serial_number=format(certificate.serial_number, "x"),
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
            active_from=start,
            status=SignerStatus.ACTIVE,
            created_by=actor,
        )
        session.add(signer)
        session.flush()
        record(
            session,
            Action.KEY_SIGNER_ISSUE,
            actor=actor,
            subject_type="signing_key",
            subject_id=key_id,
            details={
                "agency": agency.code,
                "algorithm": algorithm.value,
                "backend": backend.value,
                "active_from": start.isoformat(),
                "not_after": signer.not_after.isoformat(),
                "supersedes": superseded,
            },
        )
    return signer


def _schedule_retirement(
    session: Session, agency: Agency, start: datetime, actor: str
) -> list[str]:
    superseded = []
    for old in session.exec(
        select(SigningKey).where(
            SigningKey.agency_id == agency.id, SigningKey.status == SignerStatus.ACTIVE
        )
    ):
        if old.retire_at is None or old.retire_at > start:
            old.retire_at = max(start, old.active_from)
            superseded.append(old.key_id)
            _save_retirement(session, old, actor=actor, cause="rotation")
    return superseded


def _save_retirement(session: Session, signer: SigningKey, *, actor: str, cause: str) -> None:
    """Store a changed ``retire_at`` and audit it (``None``: signing again without end)."""
    session.add(signer)
    record(
        session,
        Action.KEY_SIGNER_RETIRE,
        actor=actor,
        subject_type="signing_key",
        subject_id=signer.key_id,
        details={
            "retire_at": signer.retire_at.isoformat() if signer.retire_at else None,
            "cause": cause,
        },
    )


def retire_signer(session: Session, *, key_id: str, actor: str, now: datetime) -> SigningKey:
    now = _utc(now, "now")
    signer = get_signer(session, key_id)
    if signer.status is not SignerStatus.ACTIVE:
        raise StateError(f"signer {key_id} is already {signer.status.value}")
    signer.status = SignerStatus.RETIRED
    signer.retire_at = now if signer.retire_at is None else min(signer.retire_at, now)
    _save_retirement(session, signer, actor=actor, cause="retired by staff")
    _reinstate_predecessors(session, signer, actor=actor, now=now)
    return signer


def revoke_signer(
    session: Session,
    store: KeyStore,
    root: LoadedRoot,
    *,
    key_id: str,
    reason: RevocationReason,
    revoked_at: datetime,
    actor: str,
    now: datetime,
) -> tuple[SigningKey, TrustPublication]:
    """Revoke a signer from ``revoked_at`` (it may lie in the past: the compromise date) and
    publish a new CRL in the same transaction. ``now``, when the bureau records the
    revocation, becomes the CRL entry's revocationDate; ``revoked_at`` its invalidityDate."""
    now = _utc(now, "now")
    revoked_at = _utc(revoked_at, "the revocation time")
    signer = get_signer(session, key_id)
    if signer.status is SignerStatus.REVOKED:
        raise StateError(f"signer {key_id} was already revoked on {signer.revoked_at:%Y-%m-%d}")
    if revoked_at > now:
        raise StateError("a revocation cannot take effect in the future")
    signer.status = SignerStatus.REVOKED
    signer.revoked_at = revoked_at
    signer.revocation_reason = reason
    session.add(signer)
    record(
        session,
        Action.KEY_SIGNER_REVOKE,
        actor=actor,
        subject_type="signing_key",
        subject_id=key_id,
        details={
            "reason": reason.value,
            "revoked_at": revoked_at.isoformat(),
            "recorded_at": now.isoformat(),
        },
    )
    _reinstate_predecessors(session, signer, actor=actor, now=now)
    session.flush()
    return signer, publish_crl(session, root, actor=actor, now=now)


def _reinstate_predecessors(
    session: Session, withdrawn: SigningKey, *, actor: str, now: datetime
) -> list[str]:
    """``withdrawn`` was retired or revoked before it took over: the signers it was to supersede
    get back the retirement they have without it (the next remaining successor's start, or
    none), so the agency is not left without a signer on the day ``withdrawn`` would have
    started."""
    if withdrawn.active_from <= now or withdrawn.id is None:
        return []
    agency_signers = session.exec(
        select(SigningKey)
        .where(SigningKey.agency_id == withdrawn.agency_id)
        .order_by(col(SigningKey.id))
    ).all()
    reinstated = []
    for old in agency_signers:
        if (
            old.id is None
            or old.id >= withdrawn.id
            or old.status is not SignerStatus.ACTIVE
            or old.retire_at != max(withdrawn.active_from, old.active_from)
        ):
            continue
        successors = [
            max(later.active_from, old.active_from)
            for later in agency_signers
            if later.id is not None
            and later.id > old.id
            and later.id != withdrawn.id
            and later.status is SignerStatus.ACTIVE
        ]
        retire_at = min(successors, default=None)
        if retire_at == old.retire_at:
            continue
        old.retire_at = retire_at
        reinstated.append(old.key_id)
        _save_retirement(
            session,
            old,
            actor=actor,
            cause=f"successor {withdrawn.key_id} withdrawn before it took over",
        )
    return reinstated


def get_signer(session: Session, key_id: str) -> SigningKey:
    signer = session.exec(select(SigningKey).where(SigningKey.key_id == key_id)).first()
    if signer is None:
        raise NotFoundError(f"no signer with key id {key_id}; see `certsvc keys list`")
    return signer


def signing_refusal(signer: SigningKey, at: datetime) -> str | None:
    """Why ``signer`` may not sign at ``at``, or ``None`` if it may."""
    if signer.status is SignerStatus.REVOKED:
        return (
            f"signer {signer.key_id} was revoked on {signer.revoked_at:%Y-%m-%d} "
            f"({signer.revocation_reason.value if signer.revocation_reason else ''})"
        )
    if signer.status is SignerStatus.RETIRED or (signer.retire_at and at >= signer.retire_at):
        return f"signer {signer.key_id} was retired on {signer.retire_at:%Y-%m-%d}"
    if at >= signer.not_after:
        return f"signer {signer.key_id} expired on {signer.not_after:%Y-%m-%d}"
    if at < signer.active_from or at < signer.not_before:
        return f"signer {signer.key_id} only signs from {signer.active_from:%Y-%m-%d %H:%M}"
    return None


def effective_status(signer: SigningKey, at: datetime) -> TrustStatus:
    """What the trust list says of ``signer`` at ``at``: revoked; retired (by staff, or its
    retirement time has come); expired; pending (its start has not come); or active."""
    if signer.status is SignerStatus.REVOKED:
        return TrustStatus.REVOKED
    if signer.status is SignerStatus.RETIRED or (
        signer.retire_at is not None and signer.retire_at <= at
    ):
        return TrustStatus.RETIRED
    if at >= signer.not_after:
        return TrustStatus.EXPIRED
    if at < signer.active_from:
        return TrustStatus.PENDING
    return TrustStatus.ACTIVE


def signer_for(session: Session, agency_code: str, at: datetime) -> SigningKey:
    """The agency's signer at ``at``: the usable one that took over last."""
    agency = get_agency(session, agency_code)
    candidates = session.exec(
        select(SigningKey)
        .where(SigningKey.agency_id == agency.id)
        .order_by(col(SigningKey.active_from).desc())
    ).all()
    reasons = []
    for signer in candidates:
        refusal = signing_refusal(signer, at)
        if refusal is None:
            return signer
        reasons.append(refusal)
    detail = "; ".join(reasons) if reasons else "it has none"
    raise KeyStoreError(
        f"agency {agency.code} has no signer that may sign now: {detail}. "
        "Issue one with `certsvc keys issue-signer`"
    )


def open_signer(
    store: KeyStore, signer: SigningKey, *, at: datetime, passphrase: Passphrase | None = None
) -> PrivateKeyHandle:
    """The private key of ``signer``, if it may sign at ``at``."""
    refusal = signing_refusal(signer, at)
    if refusal is not None:
        raise KeyStoreError(refusal)
    handle: PrivateKeyHandle
    if signer.backend is KeyBackend.FILE:
        if passphrase is None:
            raise KeyStoreError(f"signer {signer.key_id} needs its key passphrase")
        handle = FilePrivateKey(read_private_key(store.private_path(signer.key_ref), passphrase))
    else:
        handle = open_key(store.pkcs11_config(), Pkcs11KeyRef.parse(signer.key_ref))
    if _spki(handle.public_key) != _spki(certs.load_pem(signer.certificate_pem).public_key()):
        raise KeyStoreError(f"the key for signer {signer.key_id} does not match its certificate")
    return handle


# -- publication ---------------------------------------------------------------------------


def publish_crl(
    session: Session, root: LoadedRoot, *, actor: str, now: datetime, next_update_days: int = 30
) -> TrustPublication:
    """A CRL listing every revoked signer of ``root``: revocationDate is when the revocation
    was recorded, invalidityDate when the key stopped being trustworthy."""
    _check_days(next_update_days, NEXT_UPDATE_MAX_DAYS, "the next update")
    now = _utc(now, "now")
    revoked = session.exec(
        select(SigningKey)
        .where(SigningKey.root_id == root.row.id, SigningKey.status == SignerStatus.REVOKED)
        .order_by(col(SigningKey.id))
    ).all()
    entries = []
    for s in revoked:
        invalid_since = s.revoked_at or now
        entries.append(
            certs.RevokedEntry(
                int(s.serial_number, 16),
                min(_revocation_recorded_at(session, s, fallback=invalid_since), now),
                _REASON_FLAGS[s.revocation_reason or RevocationReason.UNSPECIFIED],
                invalid_since,
            )
        )
    number = _next_number(session, PublicationKind.CRL)
    next_update = now + timedelta(days=next_update_days)
    crl = certs.build_crl(
        entries,
        number=number,
        root_certificate=root.certificate,
        root_key=root.key.private_key,
        now=now,
        next_update=next_update,
    )
    content = crl.public_bytes(serialization.Encoding.DER)
    return _publish(
        session,
        root,
        PublicationKind.CRL,
        number,
        now,
        next_update,
        content,
        actor,
        Action.KEY_CRL_PUBLISH,
        {"revoked": [s.key_id for s in revoked]},
    )


def _revocation_recorded_at(
    session: Session, signer: SigningKey, *, fallback: datetime
) -> datetime:
    """When the bureau recorded ``signer``'s revocation: the ``recorded_at`` of its revocation
    audit event (the event's own time for events written before it was recorded there)."""
    revocation = session.exec(
        select(AuditEvent)
        .where(
            AuditEvent.action == Action.KEY_SIGNER_REVOKE.value,
            AuditEvent.subject_type == "signing_key",
            AuditEvent.subject_id == signer.key_id,
        )
        .order_by(col(AuditEvent.id).desc())
    ).first()
    if revocation is None:
        return fallback
    recorded = revocation.details.get("recorded_at")
    if isinstance(recorded, str):
        try:
            return _utc(datetime.fromisoformat(recorded), "recorded_at")
        except (ValueError, InputError):
            pass
    return revocation.occurred_at


def publish_trust_list(
    session: Session, root: LoadedRoot, *, actor: str, now: datetime, next_update_days: int = 30
) -> TrustPublication:
    _check_days(next_update_days, NEXT_UPDATE_MAX_DAYS, "the next update")
    now = _utc(now, "now")
    agencies = {a.id: a for a in session.exec(select(Agency))}
    signers = session.exec(
        select(SigningKey).where(SigningKey.root_id == root.row.id).order_by(col(SigningKey.id))
    ).all()
    number = _next_number(session, PublicationKind.TRUST_LIST)
    next_update = now + timedelta(days=next_update_days)
    payload = {
        "type": "certsvc-trust-list",
        "version": FORMAT_VERSION,
        "sequence": number,
        "issued_at": now.isoformat(),
        "next_update": next_update.isoformat(),
        "root": {
            "fingerprint_sha256": root.row.fingerprint,
            "subject": root.row.subject,
            "not_before": root.row.not_before.isoformat(),
            "not_after": root.row.not_after.isoformat(),
            "certificate": root.row.certificate_pem,
        },
        "signers": [
            {
                "key_id": s.key_id,
                "agency_code": agencies[s.agency_id].code,
                "agency_name": agencies[s.agency_id].name,
                "algorithm": s.algorithm.value,
                "status": effective_status(s, now).value,
                "serial_number": s.serial_number,
                "not_before": s.not_before.isoformat(),
                "not_after": s.not_after.isoformat(),
                "active_from": s.active_from.isoformat(),
                "retire_at": s.retire_at.isoformat() if s.retire_at else None,
                "revoked_at": s.revoked_at.isoformat() if s.revoked_at else None,
                "revocation_reason": s.revocation_reason.value if s.revocation_reason else None,
                "certificate": s.certificate_pem,
            }
            for s in signers
        ],
    }
    content = sign_trust_list(
        payload, root_key=root.key.private_key, root_certificate=root.certificate
    )
    return _publish(
        session,
        root,
        PublicationKind.TRUST_LIST,
        number,
        now,
        next_update,
        content,
        actor,
        Action.KEY_TRUST_LIST_PUBLISH,
        {"signers": [s.key_id for s in signers]},
    )


def latest_publication(session: Session, kind: PublicationKind) -> TrustPublication | None:
    return session.exec(
        select(TrustPublication)
        .where(TrustPublication.kind == kind)
        .order_by(col(TrustPublication.number).desc())
    ).first()


def trust_bundle_pem(session: Session) -> str:
    """The root and every signer certificate, PEM, root first."""
    root = current_root(session)
    signers = session.exec(
        select(SigningKey).where(SigningKey.root_id == root.id).order_by(col(SigningKey.id))
    ).all()
    return root.certificate_pem + "".join(s.certificate_pem for s in signers)


def _publish(
    session: Session,
    root: LoadedRoot,
    kind: PublicationKind,
    number: int,
    now: datetime,
    next_update: datetime,
    content: bytes,
    actor: str,
    action: Action,
    details: dict[str, object],
) -> TrustPublication:
    assert root.row.id is not None
    publication = TrustPublication(
        kind=kind,
        number=number,
        issued_at=now,
        next_update=next_update,
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        root_id=root.row.id,
        created_by=actor,
    )
    session.add(publication)
    session.flush()
    record(
        session,
        action,
        actor=actor,
        subject_type="trust_publication",
        subject_id=publication.id,
        details={"number": number, **details, "sha256": publication.sha256},
    )
    return publication


def _next_number(session: Session, kind: PublicationKind) -> int:
    latest = latest_publication(session, kind)
    return 1 if latest is None else latest.number + 1


# -- key material helpers ------------------------------------------------------------------


def _spki(public_key: CertificatePublicKeyTypes) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _utc(value: datetime, what: str) -> datetime:
    """``value`` as an aware UTC datetime; a naive one is refused (its zone is unknown)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"{what} ({value.isoformat()}) has no time zone")
    return value.astimezone(UTC)


def _check_days(days: int, maximum: int, what: str) -> None:
    if not 1 <= days <= maximum:
        raise InputError(f"{what} needs between 1 and {maximum} days, not {days}")


# Key material made in a transaction, and how to remove it again, until that transaction
# commits. Kept in ``session.info``; the listeners below run it when the transaction ends
# without a commit.
_UNDO = "certsvc.keys.undo"


@dataclass(eq=False)
class _Undo:
    what: str
    action: Callable[[], None]

    def run(self) -> None:
        try:
            self.action()
        except Exception as exc:  # the failure that led here matters more: only warn
            _log.warning("could not remove %s after a failed transaction: %s", self.what, exc)


def _forget_undo(session: Session) -> None:
    """``after_commit``: the outermost transaction committed; its key material stays."""
    if session.get_nested_transaction() is None:
        session.info.pop(_UNDO, None)


def _run_undo(session: Session, transaction: SessionTransaction) -> None:
    """``after_transaction_end``: the outermost transaction ended; what is still pending was
    not committed (commit failed, rolled back, or closed without commit), so remove it."""
    if transaction.parent is None:
        for undo in reversed(session.info.pop(_UNDO, None) or []):
            undo.run()


@contextmanager
def _undo_unless_committed(
    session: Session, what: str, action: Callable[[], None]
) -> Iterator[None]:
    """Run ``action`` if the block fails, or later if the session's transaction does not
    commit."""
    if not event.contains(session, "after_transaction_end", _run_undo):
        event.listen(session, "after_commit", _forget_undo)
        event.listen(session, "after_transaction_end", _run_undo)
    if not session.in_transaction():
        session.begin()
    undo = _Undo(what, action)
    session.info.setdefault(_UNDO, []).append(undo)
    try:
        yield
    except BaseException:
        pending: list[_Undo] = session.info.get(_UNDO, [])
        if undo in pending:
            pending.remove(undo)
            undo.run()
        raise


def _write_public(path: Path, text: str) -> None:
    """Write a public file (0644) whole or not at all: through a temporary file and a rename."""
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(text)
            os.chmod(temporary, 0o644)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise KeyStoreError(f"cannot write {path}: {exc.strerror or exc}") from None


@contextmanager
def _new_public_file(session: Session, path: Path, text: str) -> Iterator[None]:
    """Write a public file that belongs to rows made in ``session``; removed unless they commit."""
    _write_public(path, text)
    with _undo_unless_committed(session, f"the file {path}", lambda: path.unlink(missing_ok=True)):
        yield


@contextmanager
def _new_file(
    session: Session, path: Path, key: SigningPrivateKey, passphrase: Passphrase
) -> Iterator[None]:
    """Write a key file; it is deleted again if the block that records it fails, or if
    ``session``'s transaction does not commit."""
    write_private_key(path, key, passphrase)
    with _undo_unless_committed(
        session, f"the key file {path}", lambda: path.unlink(missing_ok=True)
    ):
        yield


@contextmanager
def _new_key(
    session: Session,
    store: KeyStore,
    backend: KeyBackend,
    algorithm: KeyAlgorithm,
    passphrase: Passphrase | None,
    agency: Agency,
) -> Iterator[tuple[CertificatePublicKeyTypes, Callable[[str], str]]]:
    """Generate a signer key (file or HSM); it is removed again if the block fails, or if
    ``session``'s transaction does not commit."""
    if backend is KeyBackend.FILE:
        if passphrase is None:
            raise KeyStoreError("a file-backed signer needs a passphrase to encrypt its key")
        key = generate_private_key(algorithm)
        public = key.public_key()
        name = f"signers/{certs.key_id_for(public)}.key.pem"
        with _new_file(session, store.private_path(name, create=True), key, passphrase):
            yield public, lambda _key_id: name
        return
    config = store.pkcs11_config()
    label = f"certsvc {agency.code} {datetime.now():%Y%m%d%H%M%S%f}"
    ref, public_key = generate_key(config, algorithm, label)
    with _undo_unless_committed(
        session, f"the HSM key {ref.uri()}", lambda: delete_key(config, ref)
    ):
        yield public_key, lambda _key_id: ref.uri()
