"""Web fixtures: an app on the test database, a client, and a bureau with issued documents.

``issued`` runs the demo's bureau through one real batch (keys, trust list, signed PDFs,
transparency log) and hands over an app whose verifier is the real one; ``fake_app`` has a
verifier that returns whatever verdict a test asks for, to show every page without a batch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import col, select

from certsvc.config import Settings
from certsvc.db.database import Database
from certsvc.documents.token import TokenError, decode_token
from certsvc.issuance.models import Document, DocumentStatus
from certsvc.issuance.runner import run_batch
from certsvc.roster.models import Person
from certsvc.verification.verdict import (
    Check,
    LogInclusion,
    Outcome,
    PublicFields,
    RegistryStatus,
    Verdict,
    VerdictKind,
)
from certsvc.web import create_app
from tests.issuance.conftest import World, build_world


def web_settings(settings: Settings, **changes: Any) -> Settings:
    """The test settings with counts written at once (and any other change)."""
    values: dict[str, Any] = {"web_count_flush_seconds": 0}
    values.update(changes)
    return dataclasses.replace(settings, **values)


def make_app(settings: Settings, db: Database, **config: Any) -> Flask:
    return create_app({"SETTINGS": settings, "DATABASE": db, "TESTING": True, **config})


SAMPLE_FIELDS = PublicFields(
    document_number="2025-110000-GC2Z-000123N",
    document_type="certificate",
    holder_name="阿卜杜热合曼·买买提",
    qualification_name="高级工程师",
    series="工程技术",
    specialty="计算机软件",
    level="副高级",
    qualified_on=date(2025, 9, 20),
    issued_on=date(2025, 10, 20),
    agency_name="北京市人力资源和社会保障局",
    signer_key_id="0123456789abcdef",
)


def sample_verdict(kind: VerdictKind) -> Verdict:
    registry = RegistryStatus(status="issued")
    if kind is VerdictKind.REVOKED:
        registry = RegistryStatus(
            status="revoked",
            revoked_at=datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
            revocation_reason="issued in error",
        )
    elif kind is VerdictKind.SUPERSEDED:
        registry = RegistryStatus(status="superseded", superseded_by="2025-110000-GC2Z-000999U")
    failed = kind is not VerdictKind.GENUINE
    checks = (
        Check("token.decode", "The QR token is a certsvc token", Outcome.PASSED),
        Check(
            "token.signature",
            "The token's signature verifies",
            Outcome.FAILED if kind is VerdictKind.FORGED else Outcome.PASSED,
            "the signature does not verify" if kind is VerdictKind.FORGED else "",
        ),
        Check(
            "registry.status",
            "The document is current (not revoked or replaced)",
            Outcome.FAILED if failed else Outcome.PASSED,
        ),
    )
    return Verdict(
        kind=kind,
        checks=checks,
        document=None if kind is VerdictKind.FORGED else SAMPLE_FIELDS,
        registry=None if kind in (VerdictKind.FORGED, VerdictKind.UNKNOWN) else registry,
        log=LogInclusion(4, 20, "ab" * 32, True) if kind is VerdictKind.GENUINE else None,
        checked_at=datetime(2026, 11, 22, 6, 0, tzinfo=UTC),
        summary=f"summary for {kind.value}",
    )


@dataclass
class FakeVerifier:
    """Answers every token and PDF with ``kind``'s sample verdict; records what it was asked."""

    kind: VerdictKind = VerdictKind.GENUINE
    tokens: list[str] = field(default_factory=list)
    pdfs: list[bytes] = field(default_factory=list)

    def token(self, text: str) -> Verdict:
        """Like the real verifier, a token that does not decode fails ``token.decode``."""
        self.tokens.append(text)
        try:
            decode_token(text)
        except TokenError as exc:
            failed = Check(
                "token.decode", "The QR token is a certsvc token", Outcome.FAILED, str(exc)
            )
            return Verdict(kind=VerdictKind.FORGED, checks=(failed,))
        return sample_verdict(self.kind)

    def pdf(self, data: bytes) -> Verdict:
        self.pdfs.append(data)
        return sample_verdict(self.kind)


@pytest.fixture
def fake_verifier() -> FakeVerifier:
    return FakeVerifier()


@pytest.fixture
def fake_app(settings: Settings, db: Database, fake_verifier: FakeVerifier) -> Flask:
    return make_app(web_settings(settings), db, VERIFIER=fake_verifier)


@pytest.fixture
def client(fake_app: Flask) -> FlaskClient:
    return fake_app.test_client()


@dataclass
class IssuedDocument:
    number: str
    status: DocumentStatus
    token: str
    holder_name: str
    id_number: str
    pdf: Path


@dataclass
class Issued:
    world: World
    app: Flask
    client: FlaskClient
    documents: list[IssuedDocument]
    make_app: Callable[..., Flask]

    @property
    def first(self) -> IssuedDocument:
        return self.documents[0]


@pytest.fixture
def issued(settings: Settings, db: Database) -> Issued:
    world = build_world(settings, db, rows=6)
    batch_id = world.approved_batch()
    run_batch(world.db, world.settings, world.ctx.keystore, batch_id, world.options())
    with db.session() as session:
        rows = session.exec(
            select(Document, Person)
            .join(Person, col(Person.id) == col(Document.person_id))
            .where(Document.status == DocumentStatus.ISSUED)
            .order_by(col(Document.id))
        ).all()
        documents = [
            IssuedDocument(
                number=document.document_number,
                status=document.status,
                token=document.token or "",
                holder_name=person.name,
                id_number=person.id_number,
                pdf=world.store.path_for(document.sha256 or ""),
            )
            for document, person in rows
        ]
    assert documents, "the batch issued nothing"
    config = web_settings(settings)

    def factory(**changes: Any) -> Flask:
        return make_app(web_settings(config, **changes), db)

    app = factory()
    return Issued(world, app, app.test_client(), documents, factory)
