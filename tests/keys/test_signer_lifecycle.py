"""Signer status in the trust list, hand-over dates, withdrawn successors, revocation times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography import x509
from sqlmodel import col, select

from certsvc.audit.models import AuditEvent
from certsvc.db.database import Database
from certsvc.errors import StateError
from certsvc.keys import service
from certsvc.keys.models import RevocationReason, SigningKey
from certsvc.keys.trust_list import verify_trust_list
from tests.conftest import TEST_ACTOR

from .conftest import DAY, T0, issue

BEIJING = timezone(timedelta(hours=8))


def statuses(db: Database, root: service.LoadedRoot, at: datetime) -> dict[str, str]:
    with db.session() as s:
        token = service.publish_trust_list(s, root, actor=TEST_ACTOR, now=at).content
    trust = verify_trust_list(token, pinned_fingerprint=root.row.fingerprint, now=at)
    return {key_id: signer.status for key_id, signer in trust.signers.items()}


def reload(db: Database, signer: SigningKey) -> SigningKey:
    with db.session() as s:
        return service.get_signer(s, signer.key_id)


# -- 1.5: the status a trust list shows ----------------------------------------------------


def test_trust_list_status_follows_rotation(
    db: Database, store: service.KeyStore, root: service.LoadedRoot
) -> None:
    a = issue(db, store, root, now=T0)
    b = issue(db, store, root, now=T0 + 10 * DAY, active_from=T0 + 20 * DAY)
    assert statuses(db, root, T0 + 15 * DAY) == {a.key_id: "active", b.key_id: "pending"}
    assert statuses(db, root, T0 + 21 * DAY) == {a.key_id: "retired", b.key_id: "active"}


def test_trust_list_status_shows_expiry_and_staff_retirement(
    db: Database, store: service.KeyStore, root: service.LoadedRoot
) -> None:
    short = issue(db, store, root, now=T0, days=30)
    assert statuses(db, root, T0 + 31 * DAY) == {short.key_id: "expired"}
    with db.session() as s:
        service.retire_signer(s, key_id=short.key_id, actor=TEST_ACTOR, now=T0 + 32 * DAY)
    assert statuses(db, root, T0 + 32 * DAY) == {short.key_id: "retired"}


# -- 1.5: a hand-over never lies in the past -----------------------------------------------


def test_active_from_in_the_past_is_refused(
    db: Database, store: service.KeyStore, root: service.LoadedRoot
) -> None:
    old = issue(db, store, root, now=T0)
    with pytest.raises(StateError, match="lies in the past"):
        issue(db, store, root, now=T0 + 10 * DAY, active_from=T0 + 10 * DAY - timedelta(hours=1))
    assert reload(db, old).retire_at is None


def test_active_from_within_the_clock_skew_means_now(
    db: Database, store: service.KeyStore, root: service.LoadedRoot
) -> None:
    old = issue(db, store, root, now=T0)
    now = T0 + 10 * DAY
    new = issue(db, store, root, now=now, active_from=now - timedelta(minutes=2))
    assert new.active_from == now
    assert reload(db, old).retire_at == now  # not before now: nothing it signed looks late


# -- 1.5: a successor withdrawn before it takes over ---------------------------------------


@pytest.mark.parametrize("how", ["revoke", "retire"])
def test_withdrawn_successor_gives_the_agency_its_signer_back(
    db: Database, store: service.KeyStore, root: service.LoadedRoot, how: str
) -> None:
    a = issue(db, store, root, now=T0)
    b = issue(db, store, root, now=T0 + 10 * DAY, active_from=T0 + 20 * DAY)
    assert reload(db, a).retire_at == T0 + 20 * DAY
    with db.session() as s:
        if how == "revoke":
            service.revoke_signer(
                s,
                store,
                root,
                key_id=b.key_id,
                reason=RevocationReason.KEY_COMPROMISE,
                revoked_at=T0 + 11 * DAY,
                actor=TEST_ACTOR,
                now=T0 + 12 * DAY,
            )
        else:
            service.retire_signer(s, key_id=b.key_id, actor=TEST_ACTOR, now=T0 + 12 * DAY)
    assert reload(db, a).retire_at is None
    with db.session() as s:
        assert service.signer_for(s, "BJRS", T0 + 25 * DAY).key_id == a.key_id
        events = s.exec(
            select(AuditEvent).where(AuditEvent.subject_id == a.key_id).order_by(col(AuditEvent.id))
        ).all()
    assert events[-1].action == "key:signer-retire"
    assert events[-1].details["retire_at"] is None
    assert b.key_id in events[-1].details["cause"]
    assert statuses(db, root, T0 + 25 * DAY)[a.key_id] == "active"


def test_withdrawn_successor_hands_over_to_the_next_one(
    db: Database, store: service.KeyStore, root: service.LoadedRoot
) -> None:
    a = issue(db, store, root, now=T0)
    b = issue(db, store, root, now=T0 + 10 * DAY, active_from=T0 + 20 * DAY)
    c = issue(db, store, root, now=T0 + 11 * DAY, active_from=T0 + 30 * DAY)
    with db.session() as s:
        service.retire_signer(s, key_id=b.key_id, actor=TEST_ACTOR, now=T0 + 12 * DAY)
    assert reload(db, a).retire_at == T0 + 30 * DAY
    with db.session() as s:
        assert service.signer_for(s, "BJRS", T0 + 25 * DAY).key_id == a.key_id
        assert service.signer_for(s, "BJRS", T0 + 31 * DAY).key_id == c.key_id


def test_withdrawing_a_signer_that_took_over_does_not_bring_back_its_predecessor(
    db: Database, store: service.KeyStore, root: service.LoadedRoot
) -> None:
    a = issue(db, store, root, now=T0)
    b = issue(db, store, root, now=T0 + 10 * DAY)
    with db.session() as s:
        service.retire_signer(s, key_id=b.key_id, actor=TEST_ACTOR, now=T0 + 12 * DAY)
    assert reload(db, a).retire_at == T0 + 10 * DAY


# -- 1.3: revocation times -----------------------------------------------------------------


def test_revocation_times_in_utc_and_in_the_crl(
    db: Database, store: service.KeyStore, root: service.LoadedRoot
) -> None:
    signer = issue(db, store, root, now=T0)
    compromised = datetime(2026, 1, 7, 10, 0, tzinfo=BEIJING)  # 02:00 UTC
    recorded = T0 + 3 * DAY
    with db.session() as s:
        revoked, crl = service.revoke_signer(
            s,
            store,
            root,
            key_id=signer.key_id,
            reason=RevocationReason.KEY_COMPROMISE,
            revoked_at=compromised,
            actor=TEST_ACTOR,
            now=recorded,
        )
    assert revoked.revoked_at == compromised and revoked.revoked_at.utcoffset() == timedelta(0)
    assert reload(db, signer).revoked_at == datetime(2026, 1, 7, 2, 0, tzinfo=UTC)

    def entry(content: bytes) -> x509.RevokedCertificate:
        crl = x509.load_der_x509_crl(content)
        found = crl.get_revoked_certificate_by_serial_number(int(signer.serial_number, 16))
        assert found is not None
        return found

    first = entry(crl.content)
    # revocationDate: when the bureau recorded it; invalidityDate: the compromise, in UTC
    assert first.revocation_date_utc == recorded
    invalidity = first.extensions.get_extension_for_class(x509.InvalidityDate).value
    assert invalidity.invalidity_date_utc == datetime(2026, 1, 7, 2, 0, tzinfo=UTC)
    with db.session() as s:
        later = service.publish_crl(s, root, actor=TEST_ACTOR, now=T0 + 40 * DAY)
    assert entry(later.content).revocation_date_utc == recorded  # not the later build time
