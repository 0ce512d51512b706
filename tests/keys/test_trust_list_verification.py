"""What a verifier refuses in a trust list, even one the pinned root really signed."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certsvc.db.database import Database
from certsvc.errors import KeyStoreError
from certsvc.keys import service
from certsvc.keys.certificates import DOCUMENT_SIGNING, key_id_for, to_pem
from certsvc.keys.models import RevocationReason
from certsvc.keys.trust_list import MEDIA_TYPE, jws_algorithm, sign_trust_list, verify_trust_list
from tests.conftest import TEST_ACTOR

from .conftest import DAY, T0, issue

Payload = dict[str, Any]


@pytest.fixture
def published(
    db: Database, store: service.KeyStore, root: service.LoadedRoot
) -> tuple[bytes, Payload]:
    issue(db, store, root, now=T0)
    with db.session() as s:
        token = service.publish_trust_list(s, root, actor=TEST_ACTOR, now=T0).content
    body = token.split(b".")[1]
    return token, json.loads(base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)))


def resign(root: service.LoadedRoot, payload: Payload) -> bytes:
    """What someone holding the root key (or replaying an old list) could publish."""
    return sign_trust_list(
        payload, root_key=root.key.private_key, root_certificate=root.certificate
    )


def verify(root: service.LoadedRoot, token: bytes, **kwargs: Any) -> Any:
    kwargs.setdefault("now", T0 + DAY)
    return verify_trust_list(token, pinned_fingerprint=root.row.fingerprint, **kwargs)


def test_an_out_of_date_list_is_refused_naming_both_dates(
    root: service.LoadedRoot, published: tuple[bytes, Payload]
) -> None:
    token, payload = published
    due = payload["next_update"]
    assert verify(root, token, now=datetime.fromisoformat(due) - DAY).sequence == 1
    later = datetime.fromisoformat(due) + DAY
    with pytest.raises(KeyStoreError, match="out of date") as caught:
        verify(root, token, now=later)
    assert due in str(caught.value) and later.isoformat() in str(caught.value)


def test_a_list_issued_in_the_future_is_refused(
    root: service.LoadedRoot, published: tuple[bytes, Payload]
) -> None:
    with pytest.raises(KeyStoreError, match="check this machine's clock"):
        verify(root, published[0], now=T0 - DAY)


def test_an_older_list_is_refused_once_a_newer_one_was_seen(
    db: Database, store: service.KeyStore, root: service.LoadedRoot
) -> None:
    signer = issue(db, store, root, now=T0)
    with db.session() as s:
        old = service.publish_trust_list(s, root, actor=TEST_ACTOR, now=T0).content
        service.revoke_signer(
            s,
            store,
            root,
            key_id=signer.key_id,
            reason=RevocationReason.KEY_COMPROMISE,
            revoked_at=T0,
            actor=TEST_ACTOR,
            now=T0 + DAY,
        )
        new = service.publish_trust_list(s, root, actor=TEST_ACTOR, now=T0 + DAY).content
    seen = verify(root, new, now=T0 + 2 * DAY, minimum_sequence=2)
    assert seen.signers[signer.key_id].status == "revoked"
    # the old list, properly signed, still shows the compromised signer as active
    assert verify(root, old, now=T0 + 2 * DAY).signers[signer.key_id].status == "active"
    with pytest.raises(KeyStoreError, match="sequence 1, older than number 2"):
        verify(root, old, now=T0 + 2 * DAY, minimum_sequence=seen.sequence)


def forged_certificate(
    root: service.LoadedRoot, *, ca: bool, usages: list[x509.ObjectIdentifier]
) -> x509.Certificate:
    """A certificate the root really issued, but not one of a document signer."""
    key = ec.generate_private_key(ec.SECP256R1())
    key_id = key_id_for(key.public_key())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "BJRS"),
            x509.NameAttribute(NameOID.COMMON_NAME, key_id),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(root.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(T0)
        .not_valid_after(T0 + 300 * DAY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier(bytes.fromhex(key_id)), critical=False)
    )
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    return builder.sign(root.key.private_key, hashes.SHA384())


def with_certificate(certificate: x509.Certificate) -> Callable[[Payload], None]:
    def change(payload: Payload) -> None:
        entry = payload["signers"][0]
        entry["certificate"] = to_pem(certificate)
        entry["key_id"] = key_id_for(certificate.public_key())  # type: ignore[arg-type]
        entry["serial_number"] = format(certificate.serial_number, "x")
        entry["not_before"] = certificate.not_valid_before_utc.isoformat()
        entry["not_after"] = certificate.not_valid_after_utc.isoformat()

    return change


def set_signer(field: str, value: object) -> Callable[[Payload], None]:
    def change(payload: Payload) -> None:
        payload["signers"][0][field] = value

    return change


def drop(*path: str | int) -> Callable[[Payload], None]:
    def change(payload: Any) -> None:
        for step in path[:-1]:
            payload = payload[step]
        del payload[path[-1]]

    return change


def shift_signer_not_after(payload: Payload) -> None:
    entry = payload["signers"][0]
    entry["not_after"] = (datetime.fromisoformat(entry["not_after"]) + DAY).isoformat()


def duplicate_signer(payload: Payload) -> None:
    payload["signers"].append(dict(payload["signers"][0]))


def other_root_fingerprint(payload: Payload) -> None:
    payload["root"]["fingerprint_sha256"] = "ab" * 32


def root_entry_holds_signer(payload: Payload) -> None:
    payload["root"]["certificate"] = payload["signers"][0]["certificate"]


CHANGES: list[tuple[str, Callable[[service.LoadedRoot], Callable[[Payload], None]], str]] = [
    ("key-id", lambda r: set_signer("key_id", "00" * 8), "key id does not match"),
    ("agency", lambda r: set_signer("agency_code", "SHRS"), "listed for agency SHRS"),
    ("serial", lambda r: set_signer("serial_number", "1"), "another serial number"),
    ("validity", lambda r: shift_signer_not_after, "another validity than its certificate"),
    ("status", lambda r: set_signer("status", "active-forever"), "unknown status"),
    ("twice", lambda r: duplicate_signer, "listed twice"),
    ("root-fingerprint", lambda r: other_root_fingerprint, "names another root"),
    ("root-certificate", lambda r: root_entry_holds_signer, "another certificate"),
    ("no-agency-name", lambda r: drop("signers", 0, "agency_name"), "no valid 'agency_name'"),
    ("no-retire-at", lambda r: drop("signers", 0, "retire_at"), "no 'retire_at'"),
    ("no-sequence", lambda r: drop("sequence"), "no valid 'sequence'"),
    ("no-signers", lambda r: drop("signers"), "no valid 'signers'"),
    ("no-root", lambda r: drop("root"), "no valid 'root'"),
    (
        "ca-signer",
        lambda r: with_certificate(forged_certificate(r, ca=True, usages=[DOCUMENT_SIGNING])),
        "must not be a CA",
    ),
    (
        "no-document-signing",
        lambda r: with_certificate(
            forged_certificate(r, ca=False, usages=[ExtendedKeyUsageOID.EMAIL_PROTECTION])
        ),
        "does not allow documentSigning",
    ),
    (
        "no-extended-usage",
        lambda r: with_certificate(forged_certificate(r, ca=False, usages=[])),
        "does not allow documentSigning",
    ),
]


@pytest.mark.parametrize(("make", "message"), [c[1:] for c in CHANGES], ids=[c[0] for c in CHANGES])
def test_a_signed_list_that_does_not_match_its_certificates_is_refused(
    root: service.LoadedRoot,
    published: tuple[bytes, Payload],
    make: Callable[[service.LoadedRoot], Callable[[Payload], None]],
    message: str,
) -> None:
    _, payload = published
    verify(root, resign(root, payload))  # re-signed unchanged: fine
    make(root)(payload)
    with pytest.raises(KeyStoreError, match=message):
        verify(root, resign(root, payload))


def test_a_signed_payload_that_is_not_an_object_is_refused(root: service.LoadedRoot) -> None:
    der = root.certificate.public_bytes(serialization.Encoding.DER)
    token = jwt.api_jws.encode(
        b"[1, 2]",
        root.key.private_key,  # type: ignore[arg-type]
        algorithm=jws_algorithm(root.key.private_key),
        headers={"typ": MEDIA_TYPE, "x5c": [base64.b64encode(der).decode()]},
    ).encode()
    with pytest.raises(KeyStoreError, match="not a JSON object"):
        verify(root, token)
