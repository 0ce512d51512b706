"""The trust chain: root, signers, rotation, retirement, revocation, CRL and trust list.

X.509 output is checked with openssl, which no one here wrote.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlmodel import col, select

from certsvc.audit.models import AuditEvent
from certsvc.db.database import Database
from certsvc.errors import KeyStoreError, StateError
from certsvc.keys import service
from certsvc.keys.certificates import DOCUMENT_SIGNING, key_id_for, load_pem
from certsvc.keys.files import Passphrase
from certsvc.keys.handles import KeyAlgorithm
from certsvc.keys.models import KeyBackend, RevocationReason, SignerStatus
from certsvc.keys.pkcs11 import Pkcs11Config
from certsvc.keys.trust_list import verify_trust_list
from tests.conftest import TEST_ACTOR

from .conftest import DAY, ROOT_PASS, SIGNER_PASS, T0, issue


def openssl(*args: str, data: bytes | None = None) -> str:
    result = subprocess.run(["openssl", *args], input=data, capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def test_root_is_a_ca_with_an_encrypted_private_key_file(
    root: service.LoadedRoot, store: service.KeyStore, tmp_path: Path
) -> None:
    key_file = store.path(service.ROOT_KEY_FILE)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in key_file.read_bytes()
    cert_file = store.path(service.ROOT_CERT_FILE)
    text = openssl("x509", "-in", str(cert_file), "-noout", "-text")
    assert "CA:TRUE" in text and "Certificate Sign, CRL Sign" in text
    printed = openssl("x509", "-in", str(cert_file), "-noout", "-fingerprint", "-sha256")
    assert printed.split("=", 1)[1].strip().replace(":", "").lower() == root.row.fingerprint


def test_a_second_root_is_refused(
    db: Database, store: service.KeyStore, root: service.LoadedRoot
) -> None:
    with db.session() as s, pytest.raises(StateError, match="already exists"):
        service.create_root(
            s, store, organization="x", passphrase=ROOT_PASS, actor=TEST_ACTOR, now=T0
        )


@pytest.mark.parametrize("algorithm", list(KeyAlgorithm), ids=[a.value for a in KeyAlgorithm])
def test_signer_certificate_verifies_with_openssl(
    db: Database,
    store: service.KeyStore,
    root: service.LoadedRoot,
    tmp_path: Path,
    algorithm: KeyAlgorithm,
) -> None:
    signer = issue(db, store, root, algorithm=algorithm, now=datetime.now(UTC))
    signer_pem = tmp_path / "signer.pem"
    signer_pem.write_text(signer.certificate_pem)
    output = openssl("verify", "-CAfile", str(store.path(service.ROOT_CERT_FILE)), str(signer_pem))
    assert output.strip().endswith(": OK")

    certificate = load_pem(signer.certificate_pem)
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    extended = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert DOCUMENT_SIGNING in extended
    assert x509.oid.ExtendedKeyUsageOID.EMAIL_PROTECTION in extended
    assert signer.key_id == key_id_for(certificate.public_key())
    ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski.digest.hex() == signer.key_id
    key_file = store.path(signer.key_ref)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    handle = service.open_signer(store, signer, at=datetime.now(UTC), passphrase=SIGNER_PASS)
    assert handle.algorithm is algorithm
    signature = handle.sign(b"document bytes")
    public = certificate.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        digest = hashes.SHA384() if algorithm is KeyAlgorithm.ECDSA_P384 else hashes.SHA256()
        public.verify(signature, b"document bytes", ec.ECDSA(digest))
    else:
        from cryptography.hazmat.primitives.asymmetric import padding

        public.verify(signature, b"document bytes", padding.PKCS1v15(), hashes.SHA256())


# Rotation, table-driven in the manner of python-tuf's key-rotation tests: signer A from T0,
# signer B issued at T0 + 10 days taking over at T0 + 20 days.
ROTATION = [
    ("before-b-exists", T0 + DAY, "A"),
    ("b-issued-not-yet-active", T0 + 15 * DAY, "A"),
    ("b-takes-over", T0 + 20 * DAY, "B"),
    ("long-after", T0 + 300 * DAY, "B"),
]


@pytest.mark.parametrize(
    ("at", "expected"), [r[1:] for r in ROTATION], ids=[r[0] for r in ROTATION]
)
def test_rotation_hands_over_on_the_date(
    db: Database,
    store: service.KeyStore,
    root: service.LoadedRoot,
    at: datetime,
    expected: str,
) -> None:
    signers = {"A": issue(db, store, root, now=T0)}
    signers["B"] = issue(db, store, root, now=T0 + 10 * DAY, active_from=T0 + 20 * DAY)
    with db.session() as s:
        chosen = service.signer_for(s, "BJRS", at)
    assert chosen.key_id == signers[expected].key_id


def test_after_rotation_only_the_new_signer_signs_and_both_verify(
    db: Database, store: service.KeyStore, root: service.LoadedRoot
) -> None:
    old = issue(db, store, root, now=T0)
    old_signature = service.open_signer(store, old, at=T0, passphrase=SIGNER_PASS).sign(b"doc")
    new = issue(db, store, root, now=T0 + 10 * DAY)
    with db.session() as s:
        old = service.get_signer(s, old.key_id)
    assert old.retire_at == T0 + 10 * DAY
    with pytest.raises(KeyStoreError, match="retired"):
        service.open_signer(store, old, at=T0 + 11 * DAY, passphrase=SIGNER_PASS)
    new_signature = service.open_signer(store, new, at=T0 + 11 * DAY, passphrase=SIGNER_PASS).sign(
        b"doc"
    )
    for signer, signature in ((old, old_signature), (new, new_signature)):
        load_pem(signer.certificate_pem).public_key().verify(  # type: ignore[call-arg]
            signature, b"doc", ec.ECDSA(hashes.SHA256())
        )

    with db.session() as s:
        published = service.publish_trust_list(s, root, actor=TEST_ACTOR, now=T0 + 11 * DAY)
    trust = verify_trust_list(
        published.content, pinned_fingerprint=root.row.fingerprint, now=T0 + 11 * DAY
    )
    assert set(trust.signers) == {old.key_id, new.key_id}
    assert trust.signers[old.key_id].retire_at == T0 + 10 * DAY
    assert trust.signers[new.key_id].retire_at is None


def test_retired_signer_cannot_sign(
    db: Database, store: service.KeyStore, root: service.LoadedRoot
) -> None:
    signer = issue(db, store, root, now=T0)
    with db.session() as s:
        service.retire_signer(s, key_id=signer.key_id, actor=TEST_ACTOR, now=T0 + DAY)
        with pytest.raises(KeyStoreError, match="no signer that may sign"):
            service.signer_for(s, "BJRS", T0 + 2 * DAY)
        with pytest.raises(StateError, match="already retired"):
            service.retire_signer(s, key_id=signer.key_id, actor=TEST_ACTOR, now=T0 + 2 * DAY)


def test_expired_signer_cannot_sign(
    db: Database, store: service.KeyStore, root: service.LoadedRoot
) -> None:
    signer = issue(db, store, root, now=T0, days=30)
    with pytest.raises(KeyStoreError, match=f"expired on {(T0 + 30 * DAY):%Y-%m-%d}"):
        service.open_signer(store, signer, at=T0 + 31 * DAY, passphrase=SIGNER_PASS)
    with db.session() as s, pytest.raises(KeyStoreError, match="expired"):
        service.signer_for(s, "BJRS", T0 + 31 * DAY)


def test_revocation_is_in_the_crl_and_the_trust_list(
    db: Database, store: service.KeyStore, root: service.LoadedRoot, tmp_path: Path
) -> None:
    keep = issue(db, store, root, now=T0)
    gone = issue(db, store, root, now=T0 + DAY)
    with db.session() as s:
        revoked, crl = service.revoke_signer(
            s,
            store,
            root,
            key_id=gone.key_id,
            reason=RevocationReason.KEY_COMPROMISE,
            revoked_at=T0 + 2 * DAY,
            actor=TEST_ACTOR,
            now=T0 + 3 * DAY,
        )
    assert revoked.status is SignerStatus.REVOKED and crl.number == 1

    crl_file = tmp_path / "crl.der"
    crl_file.write_bytes(crl.content)
    text = openssl("crl", "-inform", "DER", "-in", str(crl_file), "-noout", "-text")
    assert gone.serial_number.upper().lstrip("0") in text.replace(":", "").upper()
    assert "Key Compromise" in text and "X509v3 CRL Number" in text
    openssl(
        "crl",
        "-inform",
        "DER",
        "-in",
        str(crl_file),
        "-noout",
        "-CAfile",
        str(store.path(service.ROOT_CERT_FILE)),
    )  # signature checked against the root

    with db.session() as s:
        published = service.publish_trust_list(s, root, actor=TEST_ACTOR, now=T0 + 3 * DAY)
        with pytest.raises(StateError, match="already revoked"):
            service.revoke_signer(
                s,
                store,
                root,
                key_id=gone.key_id,
                reason=RevocationReason.KEY_COMPROMISE,
                revoked_at=T0,
                actor=TEST_ACTOR,
                now=T0 + 3 * DAY,
            )
    trust = verify_trust_list(
        published.content, pinned_fingerprint=root.row.fingerprint, now=T0 + 3 * DAY
    )
    assert trust.signers[gone.key_id].status == "revoked"
    assert trust.signers[gone.key_id].revocation_reason == "key_compromise"
    # keep was superseded by gone on T0 + 1 day, before gone was revoked: it stays retired
    assert trust.signers[keep.key_id].status == "retired"
    with pytest.raises(KeyStoreError, match="revoked"):
        service.open_signer(store, revoked, at=T0 + 3 * DAY, passphrase=SIGNER_PASS)


def test_trust_list_is_refused_with_a_wrong_pin_or_a_changed_payload(
    db: Database, store: service.KeyStore, root: service.LoadedRoot
) -> None:
    issue(db, store, root, now=T0)
    with db.session() as s:
        token = service.publish_trust_list(s, root, actor=TEST_ACTOR, now=T0).content
    with pytest.raises(KeyStoreError, match="not by the pinned root"):
        verify_trust_list(token, pinned_fingerprint="00" * 32, now=T0)
    header, payload, signature = token.split(b".")
    import base64

    data = json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
    data["signers"][0]["status"] = "active-forever"
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=")
    with pytest.raises(KeyStoreError, match="does not verify"):
        verify_trust_list(
            b".".join([header, forged, signature]), pinned_fingerprint=root.row.fingerprint, now=T0
        )


def test_wrong_passphrase_is_named_without_the_passphrase(
    db: Database, store: service.KeyStore, root: service.LoadedRoot
) -> None:
    wrong = Passphrase.checked("not the right passphrase", "variable X")
    with db.session() as s, pytest.raises(KeyStoreError) as caught:
        service.load_root(s, store, wrong)
    assert "wrong passphrase" in str(caught.value) and "variable X" in str(caught.value)
    assert "not the right passphrase" not in str(caught.value)


def test_key_file_readable_by_others_is_refused(
    db: Database, store: service.KeyStore, root: service.LoadedRoot
) -> None:
    os.chmod(store.path(service.ROOT_KEY_FILE), 0o644)
    with db.session() as s, pytest.raises(KeyStoreError, match="chmod 600"):
        service.load_root(s, store, ROOT_PASS)


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        (b"garbage", "not a PEM private key"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "not encrypted"),
        (
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
            "damaged",
        ),
    ],
    ids=["garbage", "unencrypted", "truncated"],
)
def test_damaged_key_file_is_refused(
    db: Database, store: service.KeyStore, root: service.LoadedRoot, content: bytes, phrase: str
) -> None:
    path = store.path(service.ROOT_KEY_FILE)
    path.unlink()
    path.write_bytes(content)
    os.chmod(path, 0o600)
    with db.session() as s, pytest.raises(KeyStoreError, match=phrase):
        service.load_root(s, store, ROOT_PASS)


def test_key_events_are_audited(
    db: Database, store: service.KeyStore, root: service.LoadedRoot
) -> None:
    first = issue(db, store, root, now=T0)
    issue(db, store, root, now=T0 + DAY)
    with db.session() as s:
        service.publish_trust_list(s, root, actor=TEST_ACTOR, now=T0 + DAY)
        actions = s.exec(
            select(AuditEvent.action, AuditEvent.subject_id)
            .where(col(AuditEvent.action).like("key:%"))
            .order_by(col(AuditEvent.id))
        ).all()
        details = [json.dumps(e.details, ensure_ascii=False) for e in s.exec(select(AuditEvent))]
    assert [a for a, _ in actions] == [
        "key:root-create",
        "key:signer-issue",
        "key:signer-retire",
        "key:signer-issue",
        "key:trust-list-publish",
    ]
    assert actions[2][1] == first.key_id
    secrets = [ROOT_PASS.value.decode(), SIGNER_PASS.value.decode()]
    assert details and not any(secret in d for secret in secrets for d in details)


def test_public_material_has_no_private_key(
    db: Database, root: service.LoadedRoot, store: service.KeyStore
) -> None:
    issue(db, store, root, now=T0)
    with db.session() as s:
        bundle = service.trust_bundle_pem(s)
    assert "PRIVATE KEY" not in bundle
    certificates = x509.load_pem_x509_certificates(bundle.encode())
    assert len(certificates) == 2
    assert (
        certificates[0].public_bytes(serialization.Encoding.PEM).decode()
        == root.row.certificate_pem
    )


@pytest.mark.pkcs11
@pytest.mark.parametrize(
    "algorithm", [KeyAlgorithm.ECDSA_P256, KeyAlgorithm.RSA_3072], ids=["p256", "rsa3072"]
)
def test_hsm_signer_is_issued_signs_and_verifies_with_openssl(
    db: Database,
    tmp_path: Path,
    root: service.LoadedRoot,
    pkcs11_config: Pkcs11Config,
    algorithm: KeyAlgorithm,
) -> None:
    store = service.KeyStore(tmp_path / "keys", "https://zc.example.gov.cn", lambda: pkcs11_config)
    now = datetime.now(UTC)
    with db.session() as s:
        signer = service.issue_signer(
            s,
            store,
            root,
            agency_code="BJRS",
            actor=TEST_ACTOR,
            now=now,
            backend=KeyBackend.PKCS11,
            algorithm=algorithm,
        )
    assert signer.key_ref.startswith("pkcs11:") and not (tmp_path / "keys" / "signers").exists()
    signer_pem = tmp_path / "signer.pem"
    signer_pem.write_text(signer.certificate_pem)
    assert (
        openssl("verify", "-CAfile", str(store.path(service.ROOT_CERT_FILE)), str(signer_pem))
        .strip()
        .endswith(": OK")
    )

    handle = service.open_signer(store, signer, at=now)
    signature = tmp_path / "sig.der"
    signature.write_bytes(handle.sign(b"document bytes"))
    (tmp_path / "data").write_bytes(b"document bytes")
    public = tmp_path / "pub.pem"
    openssl("x509", "-in", str(signer_pem), "-pubkey", "-noout", "-out", str(public))
    assert "Verified OK" in openssl(
        "dgst",
        "-sha256",
        "-verify",
        str(public),
        "-signature",
        str(signature),
        str(tmp_path / "data"),
    )
    handle.close()  # type: ignore[attr-defined]
