"""The offline verifier with a status-list file: a real bureau revokes and reissues, publishes
its status list, and ``certsvc verify FILE.pdf --status-list`` (no database, no network) says
revoked, superseded or genuine; a list that cannot be relied on is refused by a named check."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sqlmodel import select

from certsvc.cli import cli
from certsvc.issuance.models import Document
from certsvc.keys.certificates import key_id_for
from certsvc.keys.handles import KeyAlgorithm
from certsvc.keys.models import PublicationKind
from certsvc.keys.service import current_root, latest_publication
from certsvc.revocation import service
from certsvc.revocation.models import StatusListPublication
from certsvc.revocation.status_list import (
    BLOCK_ENTRIES,
    encode_bitstring,
    sign_status_list,
    status_list_payload,
)
from certsvc.verification.status import StatusListInput, StatusRefusedError, read_list
from certsvc.verification.trust import TrustAnchors
from certsvc.verification.verdict import Outcome, VerdictKind
from certsvc.verification.verifier import PDF_CHECKS, verify_pdf
from tests.revocation import conftest as revocation
from tests.revocation.conftest import Issued

Invoke = Callable[..., Result]
issued = revocation.issued  # the revocation suite's bureau, one batch issued


class _Stranger:
    """An ECDSA key no trust list names."""

    algorithm = KeyAlgorithm.ECDSA_P256

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))


@pytest.fixture
def offline(issued: Issued, tmp_path: Path) -> Invoke:
    """``run(pdf_bytes, list_bytes, *args, code=…)``: ``certsvc verify`` with the bureau's
    published trust list and pinned root, on files only (the database URL does not exist)."""
    with issued.db.session() as session:
        trust = latest_publication(session, PublicationKind.TRUST_LIST)
        assert trust is not None
        trust_path = tmp_path / "trust-list.jws"
        trust_path.write_bytes(bytes(trust.content))
        root = current_root(session).fingerprint
    env = {"CERTSVC_DATABASE_URL": f"sqlite:///{tmp_path / 'absent' / 'none.sqlite3'}"}

    def run(pdf: bytes | None, status: bytes | None, *args: str, code: int) -> Result:
        arguments = ["verify", "--trust-list", str(trust_path), "--root-fingerprint", root]
        if pdf is not None:
            (tmp_path / "doc.pdf").write_bytes(pdf)
            arguments.append(str(tmp_path / "doc.pdf"))
        if status is not None:
            (tmp_path / "list.jws").write_bytes(status)
            arguments += ["--status-list", str(tmp_path / "list.jws")]
        result = CliRunner().invoke(cli, [*arguments, *args], env=env)
        assert result.exit_code == code, result.output
        assert not (tmp_path / "absent").exists()
        return result

    return run


def _publish(issued: Issued, **settings_changes: str) -> StatusListPublication:
    world = issued.world
    return service.publish_now(
        world.db,
        dataclasses.replace(world.settings, **settings_changes),
        world.ctx.keystore,
        actor="test:publisher",
        passphrase=world.passphrase,
    )


def _pdf(issued: Issued, number: str) -> bytes:
    with issued.db.session() as session:
        document = session.exec(select(Document).where(Document.document_number == number)).one()
    return issued.world.store.read(document.sha256 or "")


def _failed(result: Result) -> list[str]:
    return [line for line in result.output.splitlines() if "[FAIL]" in line]


def test_revoked_superseded_and_genuine_by_the_status_list_alone(
    issued: Issued, offline: Invoke
) -> None:
    revoked, replaced, untouched = (d.document_number for d in issued.certificates()[:3])
    issued.approve(issued.ask_revocation(revoked))
    change = issued.approve(issued.ask_reissue(replaced, name="赵敏"))
    successor = change.new_numbers[replaced]
    listed = bytes(_publish(issued).content)  # revoke, reissue, publish: sequence 3

    result = offline(_pdf(issued, revoked), listed, code=12)
    assert "verdict: REVOKED (offline)" in result.output
    assert any("status list shows" in line and "'revoked'" in line for line in _failed(result))
    result = offline(_pdf(issued, replaced), listed, code=13)
    assert "verdict: SUPERSEDED (offline)" in result.output
    result = offline(_pdf(issued, successor), listed, "--min-sequence", "3", code=0)
    assert "Genuine and current as of status list 3 (offline)" in result.output
    numbered = [line for line in result.output.splitlines() if line[:3].strip().isdigit()]
    assert len(numbered) == len(PDF_CHECKS) + 2 and "[ok  ]" in numbered[-1]
    offline(_pdf(issued, untouched), listed, code=0)
    # the same PDF without the list: genuine as signed, its status not checked
    assert "whether the bureau has since" in offline(_pdf(issued, revoked), None, code=0).output


def test_a_list_that_cannot_be_relied_on_is_refused_by_a_named_check(
    issued: Issued, offline: Invoke
) -> None:
    target = issued.certificates()[0]
    pdf = _pdf(issued, target.document_number)
    good = _publish(issued)
    listed = bytes(good.content)
    offline(pdf, listed, code=0)

    def refused(status: bytes, part: str, *args: str) -> str:
        result = offline(pdf, status, *args, code=15)
        (line,) = _failed(result)
        assert "status list is signed by a trusted signer" in line
        assert f": {part}: " in line, line
        assert "verdict: STATUS-UNAVAILABLE" in result.output
        return line

    # tampered: one entry of the payload changed after signing
    header, payload, signature = listed.split(b".")
    raw = bytearray(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
    raw[raw.index(b'"sequence":') + 11] ^= 0x01  # another sequence digit
    tampered = b".".join([header, base64.urlsafe_b64encode(raw).rstrip(b"="), signature])
    assert "does not verify" in refused(tampered, "signature")

    # signed by a key the trust list does not name
    stranger = _Stranger()
    forged = sign_status_list(
        status_list_payload(
            url="http://localhost:8000/status/list.jws",
            sequence=99,
            issued_at=good.issued_at,
            next_update=good.next_update,
            length=BLOCK_ENTRIES,
            encoded_list=encode_bitstring(BLOCK_ENTRIES, []),
        ),
        stranger,  # type: ignore[arg-type]
        key_id_for(stranger.key.public_key()),
    )
    assert "not a trusted signer" in refused(forged, "signature")

    # older than one already accepted
    assert "older than number 5" in refused(listed, "sequence", "--min-sequence", "5")

    # a list published for another address than the record names
    elsewhere = bytes(_publish(issued, public_base_url="https://elsewhere.example").content)
    line = refused(elsewhere, "url")
    assert "https://elsewhere.example/status/list.jws" in line

    # not a status list at all
    assert "not a compact JWS" in refused(b"garbage", "format")


def test_an_expired_list_is_refused_by_its_freshness(issued: Issued) -> None:
    """With the clock injected: the list's next_update has passed."""
    target = issued.certificates()[0]
    pdf = _pdf(issued, target.document_number)
    published = _publish(issued)
    later = published.next_update + timedelta(minutes=1)
    with issued.db.session() as session:
        trust = TrustAnchors.from_database(session, now=later)
    given = StatusListInput(bytes(published.content))
    verdict = verify_pdf(pdf, trust, None, later, status_list=given)
    assert verdict.kind is VerdictKind.STATUS_UNAVAILABLE
    (failed,) = verdict.failures
    assert failed.code == "status.list" and failed.detail.startswith("freshness: ")
    assert "out of date" in failed.detail
    skipped = {c.code: c.outcome for c in verdict.checks}
    assert skipped["status.entry"] is Outcome.SKIPPED
    just_before = published.next_update - timedelta(seconds=1)
    assert verify_pdf(pdf, trust, None, just_before, status_list=given).kind is (
        VerdictKind.GENUINE
    )


def test_a_token_cannot_be_checked_with_a_status_list(issued: Issued, offline: Invoke) -> None:
    target = issued.certificates()[0]
    listed = bytes(_publish(issued).content)
    assert target.token is not None
    result = offline(None, listed, "--token", target.token, code=2)
    assert "does not say where its status lives" in result.output
    result = offline(_pdf(issued, target.document_number), None, "--min-sequence", "2", code=2)
    assert "--min-sequence goes with --status-list" in result.output


def test_a_record_without_a_status_entry_cannot_be_checked_with_a_list(issued: Issued) -> None:
    """A format-1 record (made before records named their entry): the list is of no use."""
    listed = bytes(_publish(issued).content)
    now = issued.world.ctx.now() + timedelta(minutes=1)
    with issued.db.session() as session:
        trust = TrustAnchors.from_database(session, now=now)
    with pytest.raises(StatusRefusedError, match="record format 1") as refused:
        read_list(StatusListInput(listed), None, trust, now)
    assert refused.value.code == "status.list" and refused.value.detail.startswith("url: ")
    assert refused.value.kind is VerdictKind.STATUS_UNAVAILABLE


def test_a_list_signed_after_its_signer_was_revoked_is_refused(issued: Issued) -> None:
    """The document was signed before the signer's revocation (still genuine as signed), but
    a status list signed by it afterwards is not to be relied on."""
    target = issued.certificates()[0]
    pdf = _pdf(issued, target.document_number)
    world = issued.world
    published = service.publish_now(
        world.db,
        world.settings,
        world.ctx.keystore,
        actor="test:publisher",
        passphrase=world.passphrase,
        now=world.ctx.now() + timedelta(minutes=2),
    )
    at = published.issued_at + timedelta(minutes=1)
    with issued.db.session() as session:
        trust = TrustAnchors.from_database(session, now=at)
    signer = trust.signers[published.key_id]
    revoked = dataclasses.replace(signer, revoked_at=published.issued_at - timedelta(seconds=1))
    assert revoked.revoked_at is not None and target.issued_at is not None
    assert target.issued_at < revoked.revoked_at  # the PDF itself was signed before
    anchors = dataclasses.replace(trust, signers={**trust.signers, signer.key_id: revoked})
    verdict = verify_pdf(
        pdf, anchors, None, at, status_list=StatusListInput(bytes(published.content))
    )
    assert verdict.kind is VerdictKind.STATUS_UNAVAILABLE, verdict.failures
    (failed,) = verdict.failures
    assert failed.code == "status.list" and failed.detail.startswith("signature: ")
    assert "revoked at" in failed.detail
