"""Signed documents and trust anchors for the verifier's tests, made in memory: a root and a
signer (``make_chain``), a trust list that root signs, and the document factory."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from certsvc.documents.factory import DocumentFactory, IssuedDocument
from certsvc.documents.record import DocumentRecord, DocumentType, sample_record
from certsvc.keys.certificates import fingerprint
from certsvc.verification.trust import TrustAnchors
from tests.documents import conftest as documents
from tests.documents.conftest import Chain, make_chain
from tests.issuance.conftest import world  # noqa: F401 - the demo bureau, for online tests
from tests.verification.attacks.builders import trust_list_jws

TODAY = datetime.now(ZoneInfo("Asia/Shanghai")).date()


# the documents suite's session fixtures, shared rather than redefined
chain = documents.chain
renderer = documents.renderer
factory = documents.factory


def record_for(chain: Chain, **changes: object) -> DocumentRecord:
    """A sample record issued today by ``chain``'s signer (a token's date must fall in the
    signer's period)."""
    values: dict[str, object] = {"issued_on": TODAY, "signer_key_id": chain.key_id}
    values.update(changes)
    return sample_record(**values)


@pytest.fixture(scope="session")
def stranger() -> Chain:
    """Another root and signer with the same agency name: what a forger can make."""
    return make_chain()


@pytest.fixture(scope="session")
def signed(factory: DocumentFactory, chain: Chain) -> IssuedDocument:
    """A freshly signed certificate, the victim of every attack."""
    return factory.make(record_for(chain))


@pytest.fixture(scope="session")
def signed_notice(factory: DocumentFactory, chain: Chain) -> IssuedDocument:
    return factory.make(
        record_for(
            chain, document_type=DocumentType.NOTICE, document_number="2025-110000-GC2T-0001"
        )
    )


@pytest.fixture(scope="session")
def trust_jws(chain: Chain) -> bytes:
    return trust_list_jws(chain, now=datetime.now(UTC))


@pytest.fixture(scope="session")
def trust(chain: Chain, trust_jws: bytes) -> TrustAnchors:
    return TrustAnchors.from_jws(
        trust_jws, root_fingerprint=fingerprint(chain.root), now=datetime.now(UTC)
    )
