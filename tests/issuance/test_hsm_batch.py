"""A batch signed by a key that lives in an HSM (SoftHSM2 through PKCS#11), as production
runs it: the agency's signer is rotated to an HSM key, and the worker processes open it from
the same settings (``CERTSVC_PKCS11_*``)."""

from __future__ import annotations

import io

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from sqlmodel import select

from certsvc.issuance.checks import check_batch, check_store
from certsvc.issuance.models import Document, DocumentStatus
from certsvc.issuance.runner import run_batch
from certsvc.keys import service as keys
from certsvc.keys.certificates import load_pem
from certsvc.keys.files import Passphrase
from certsvc.keys.models import KeyBackend, PublicationKind
from certsvc.keys.pkcs11 import MODULE_VAR, PIN_VAR, TOKEN_VAR
from tests.issuance.conftest import World
from tests.keys.conftest import TOKEN, USER_PIN, SoftHsm, softhsm  # noqa: F401 - fixture
from tests.keys.test_pkcs11 import token_session

pytestmark = pytest.mark.pkcs11


def test_a_batch_signed_in_the_hsm_by_worker_processes(
    world: World,
    softhsm: SoftHsm,  # noqa: F811 - the fixture imported above
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(MODULE_VAR, str(softhsm.module))
    monkeypatch.setenv(TOKEN_VAR, TOKEN)
    monkeypatch.setenv(PIN_VAR, USER_PIN)
    keystore = keys.keystore_for(world.settings.key_dir, world.settings.public_base_url)
    root_pass = Passphrase.from_sources(file=world.settings.data_dir / "demo" / "root.pass")
    now = world.ctx.now()
    with world.db.session() as session:
        root = keys.load_root(session, keystore, root_pass)
        hsm_signer = keys.issue_signer(
            session,
            keystore,
            root,
            agency_code=world.settings.agency_code,
            actor="test:keys",
            now=now,
            backend=KeyBackend.PKCS11,
        )
    batch_id = world.approved_batch()
    # one worker process: it must open the HSM key itself, from the environment
    run_batch(world.db, world.settings, keystore, batch_id, world.options(workers=1))
    # the coordinator checked the key in this process and released it: a login of our own
    # would be refused (UserAlreadyLoggedIn) if the run had left its session logged in
    token_session(softhsm).close()

    with world.db.session() as session:
        documents = session.exec(select(Document).where(Document.batch_id == batch_id)).all()
        assert check_batch(session, world.store, batch_id) == []
        assert check_store(session, world.store) == []
        crl = keys.latest_publication(session, PublicationKind.CRL)
        root_pem = keys.current_root(session).certificate_pem
    assert documents and {d.status for d in documents} == {DocumentStatus.ISSUED}
    assert {d.signer_key_id for d in documents} == {hsm_signer.key_id}
    assert crl is not None and documents[0].sha256 is not None
    context = ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(_der(root_pem))],
        crls=[asn1_crl.CertificateList.load(crl.content)],
        allow_fetching=False,
    )
    reader = PdfFileReader(io.BytesIO(world.store.read(documents[0].sha256)))
    (signature,) = reader.embedded_signatures
    status = validate_pdf_signature(signature, context)
    assert status.bottom_line, status.pretty_print_details()
    assert status.signing_cert.dump() == _der(hsm_signer.certificate_pem)


def _der(pem: str) -> bytes:
    return load_pem(pem).public_bytes(serialization.Encoding.DER)
