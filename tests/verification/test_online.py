"""Verification against a real bureau: the demo's roster issued by a real batch run, the trust
list the demo published, the registry and the transparency log in the database (SQLite and,
when configured, PostgreSQL). Then the registry is tampered with directly in the database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import col, select

from certsvc.cli import cli
from certsvc.db.database import Database
from certsvc.errors import NotFoundError
from certsvc.issuance.models import Document, DocumentStatus
from certsvc.issuance.runner import run_batch
from certsvc.keys.models import PublicationKind
from certsvc.keys.service import current_root, latest_publication
from certsvc.roster.models import Person
from certsvc.verification.export import verdict_as_dict
from certsvc.verification.registry import DatabaseRegistry
from certsvc.verification.trust import TrustAnchors
from certsvc.verification.verdict import Outcome, Verdict, VerdictKind
from certsvc.verification.verifier import verify_pdf, verify_token
from tests.issuance.conftest import World


@dataclass(frozen=True)
class Issued:
    number: str
    token: str
    pdf: bytes
    sha256: str
    id_number: str


def issue(world: World) -> list[Issued]:
    batch_id = world.approved_batch()
    run_batch(world.db, world.settings, world.ctx.keystore, batch_id, world.options(workers=0))
    with world.db.session() as session:
        documents = session.exec(
            select(Document).where(Document.batch_id == batch_id).order_by(col(Document.id))
        ).all()
        issued = []
        for document in documents[:4]:
            person = session.get(Person, document.person_id)
            assert person is not None and document.sha256 and document.token
            issued.append(
                Issued(
                    document.document_number,
                    document.token,
                    world.store.read(document.sha256),
                    document.sha256,
                    person.id_number,
                )
            )
    return issued


def anchors(world: World) -> TrustAnchors:
    with world.db.session() as session:
        return TrustAnchors.from_database(session, now=datetime.now(UTC))


def token_verdict(world: World, text: str) -> Verdict:
    with world.db.session() as session:
        return verify_token(text, anchors(world), DatabaseRegistry(session))


def pdf_verdict(world: World, data: bytes) -> Verdict:
    with world.db.session() as session:
        return verify_pdf(data, anchors(world), DatabaseRegistry(session))


def set_document(world: World, number: str, **values: object) -> None:
    with world.db.session() as session:
        document = session.exec(select(Document).where(Document.document_number == number)).one()
        for name, value in values.items():
            setattr(document, name, value)
        session.add(document)
        session.commit()


def test_issued_documents_verify_online_token_and_pdf(world: World) -> None:
    issued = issue(world)
    for doc in issued:
        for verdict in (token_verdict(world, doc.token), pdf_verdict(world, doc.pdf)):
            assert verdict.kind is VerdictKind.GENUINE, verdict.failures
            assert not verdict.offline
            assert all(check.outcome is Outcome.PASSED for check in verdict.checks), [
                (c.code, c.outcome, c.detail) for c in verdict.checks
            ]
            assert verdict.document is not None
            assert verdict.document.document_number == doc.number
            assert verdict.registry is not None and verdict.registry.status == "issued"
            assert verdict.log is not None and verdict.log.verified
            assert verdict.log.tree_size >= len(issued)
            # never the identity number, in any field
            assert doc.id_number not in json.dumps(verdict_as_dict(verdict), ensure_ascii=False)


def test_registry_tampering_and_revocation_are_caught(world: World) -> None:
    first, second, third, *_ = issue(world)

    # revoked in the registry: the token and the PDF are genuine but no longer current
    set_document(world, first.number, status=DocumentStatus.REVOKED)
    for verdict in (token_verdict(world, first.token), pdf_verdict(world, first.pdf)):
        assert verdict.kind is VerdictKind.REVOKED
        (failure,) = verdict.failures
        assert failure.code == "registry.status"
        assert verdict.registry is not None and verdict.registry.status == "revoked"
        assert verdict.document is not None  # a revoked document is still shown
        assert verdict.checks[-1].outcome is Outcome.SKIPPED  # the log is not reached

    # superseded
    set_document(world, second.number, status=DocumentStatus.SUPERSEDED)
    verdict = token_verdict(world, second.token)
    assert verdict.kind is VerdictKind.SUPERSEDED
    assert verdict.failures[0].code == "registry.status"

    # the registry's stored hash is another file's: the uploaded PDF is not the one issued
    set_document(world, third.number, sha256="0" * 64)
    verdict = pdf_verdict(world, third.pdf)
    assert verdict.kind is VerdictKind.FORGED
    (failure,) = verdict.failures
    assert failure.code == "registry.hash"
    assert "stored-hash mismatch" in failure.detail
    assert third.sha256 in failure.detail
    # the token alone does not carry the file's hash, but the log entry names the real hash,
    # which no longer matches what the registry says
    verdict = token_verdict(world, third.token)
    assert verdict.kind is VerdictKind.FORGED
    assert verdict.failures[0].code == "log.inclusion"


def test_a_number_the_registry_does_not_hold_is_unknown(world: World) -> None:
    doc, *_ = issue(world)
    set_document(world, doc.number, document_number="2025-110000-GC2Z-999999X")
    verdict = token_verdict(world, doc.token)
    assert verdict.kind is VerdictKind.UNKNOWN
    (failure,) = verdict.failures
    assert failure.code == "registry.lookup"
    assert doc.number in failure.detail
    # a void number was never issued either
    set_document(world, "2025-110000-GC2Z-999999X", document_number=doc.number)
    set_document(world, doc.number, status=DocumentStatus.VOID)
    assert token_verdict(world, doc.token).kind is VerdictKind.UNKNOWN


def test_a_tampered_inclusion_proof_is_caught(world: World) -> None:
    doc, *_ = issue(world)
    with world.db.session() as session:
        row = session.exec(select(Document).where(Document.document_number == doc.number)).one()
        proof = list(row.inclusion_proof or [])
    assert proof, "a batch of several documents gives each a non-empty audit path"
    proof[0] = ("f" if proof[0][0] != "f" else "e") + proof[0][1:]
    set_document(world, doc.number, inclusion_proof=proof)
    verdict = pdf_verdict(world, doc.pdf)
    assert verdict.kind is VerdictKind.FORGED
    (failure,) = verdict.failures
    assert failure.code == "log.inclusion"
    assert "inclusion proof does not verify" in failure.detail


def test_the_offline_command_verifies_an_issued_document_with_the_published_list(
    world: World, tmp_path: Path
) -> None:
    doc, *_ = issue(world)
    with world.db.session() as session:
        publication = latest_publication(session, PublicationKind.TRUST_LIST)
        assert publication is not None
        fingerprint = current_root(session).fingerprint
    trust_list = tmp_path / "trust-list.jws"
    trust_list.write_bytes(bytes(publication.content))
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(doc.pdf)
    runner = CliRunner()
    # no database: point the settings at one that does not exist
    env = {"CERTSVC_DATABASE_URL": f"sqlite:///{tmp_path / 'absent' / 'none.sqlite3'}"}
    base = ["verify", "--trust-list", str(trust_list), "--root-fingerprint", fingerprint]
    result = runner.invoke(cli, [*base, str(pdf), "--json"], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["verdict"] == "genuine" and data["offline"] is True
    assert {c["outcome"] for c in data["checks"] if c["code"].startswith("registry.")} == {
        "skipped"
    }
    assert doc.id_number not in result.output
    result = runner.invoke(cli, [*base, "--token", doc.token], env=env)
    assert result.exit_code == 0, result.output
    assert "verdict: GENUINE (offline)" in result.output
    assert not (tmp_path / "absent").exists()


def test_a_revoked_document_still_verifies_offline_as_signed(world: World) -> None:
    """Offline, the registry is not consulted: the rule documented for `certsvc verify`."""
    doc, *_ = issue(world)
    set_document(world, doc.number, status=DocumentStatus.REVOKED)
    trust = anchors(world)
    for verdict in (verify_token(doc.token, trust), verify_pdf(doc.pdf, trust)):
        assert verdict.kind is VerdictKind.GENUINE and verdict.offline
        assert "not checked" in verdict.summary
    assert token_verdict(world, doc.token).kind is VerdictKind.REVOKED


def test_without_a_published_trust_list_the_web_cannot_verify(db: Database) -> None:
    with db.session() as session:
        with pytest.raises(NotFoundError, match="no trust list is published"):
            TrustAnchors.from_database(session, now=datetime.now(UTC))
        assert DatabaseRegistry(session).lookup("2025-110000-GC2Z-000001K") is None
