"""Each document's record says where its status lives (``credentialStatus``), the registry row
says the same, and the verifier checks that they agree; records of format 1 (no pointer) are
still read and verified."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import timedelta

import pytest
from sqlmodel import col, select

from certsvc.documents.inspect import read_contents
from certsvc.documents.record import (
    RECORD_FORMAT,
    RECORD_FORMAT_V1,
    DocumentRecord,
    StatusEntry,
    sample_record,
)
from certsvc.issuance.models import Document, DocumentStatus
from certsvc.revocation.status_list import STATUS_MESSAGES, status_entry
from certsvc.verification.registry import DatabaseRegistry, MemoryRegistry
from certsvc.verification.trust import TrustAnchors
from certsvc.verification.verdict import Outcome, VerdictKind
from certsvc.verification.verifier import verify_pdf
from tests.revocation.conftest import Issued

URL = "https://zc.example.gov.cn/status/list.jws"


def test_a_record_with_a_status_entry_is_format_2_and_reads_back() -> None:
    record = sample_record(status=StatusEntry(URL, 4711))
    data = record.as_dict()
    assert data["format"] == RECORD_FORMAT == "certsvc-record/2"
    assert data["credentialStatus"] == {
        "id": f"{URL}#4711",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "message",
        "statusListIndex": "4711",
        "statusListCredential": URL,
        "statusSize": 2,
        "statusMessage": STATUS_MESSAGES,  # the list's own meanings of the 2-bit values
    }
    assert DocumentRecord.from_dict(json.loads(record.canonical_json())) == record


def test_a_record_without_one_stays_format_1_and_still_reads() -> None:
    record = sample_record()
    data = record.as_dict()
    assert data["format"] == RECORD_FORMAT_V1 and "credentialStatus" not in data
    assert DocumentRecord.from_dict(data) == record


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("credentialStatus"), "credentialStatus is not an object"),
        (lambda d: d["credentialStatus"].update(statusListIndex=12), "not a decimal string"),
        (lambda d: d["credentialStatus"].update(statusListIndex="-1"), "not a decimal string"),
        (lambda d: d["credentialStatus"].update(statusListCredential="ftp://x"), "http(s) URL"),
        (lambda d: d["credentialStatus"].update(id=f"{URL}#12"), "as certsvc writes it"),
        (lambda d: d["credentialStatus"].update(statusPurpose="revocation"), "as certsvc"),
        (lambda d: d.update(format=RECORD_FORMAT_V1), "not a certsvc-record/2"),
    ],
)
def test_a_malformed_status_entry_is_refused(change: object, message: str) -> None:
    data = sample_record(status=StatusEntry(URL, 4711)).as_dict()
    change(data)  # type: ignore[operator]
    with pytest.raises(ValueError, match=re.escape(message)):
        DocumentRecord.from_dict(data)


def test_every_issued_record_names_its_registry_rows_entry(issued: Issued) -> None:
    settings = issued.world.settings
    with issued.db.session() as session:
        documents = session.exec(
            select(Document)
            .where(Document.status == DocumentStatus.ISSUED)
            .order_by(col(Document.id))
        ).all()
    assert documents
    for document in documents:
        assert document.id is not None and document.sha256 is not None
        record = read_contents(issued.world.store.read(document.sha256)).record
        assert record is not None
        expected = status_entry(settings.public_base_url, document.id)
        assert record.status == expected  # the index is the registry row's id
        assert (document.status_list_url, document.status_list_index) == (
            expected.url,
            expected.index,
        )


def test_the_verifier_checks_the_record_against_the_registry_row(issued: Issued) -> None:
    target = issued.certificates()[0]
    assert target.sha256 is not None
    pdf = issued.world.store.read(target.sha256)
    now = issued.world.ctx.now() + timedelta(minutes=1)
    with issued.db.session() as session:
        trust = TrustAnchors.from_database(session, now=now)
        entry = DatabaseRegistry(session).lookup(target.document_number)
    assert entry is not None and entry.status_list_index == target.id

    genuine = verify_pdf(pdf, trust, MemoryRegistry({target.document_number: entry}), now)
    assert genuine.kind is VerdictKind.GENUINE, genuine.failures
    fields = {c.code: c for c in genuine.checks}["registry.fields"]
    assert "status-list entry agree" in fields.detail

    for wrong in (
        dataclasses.replace(entry, status_list_index=(entry.status_list_index or 0) + 1),
        dataclasses.replace(entry, status_list_url="https://elsewhere.example/status/list.jws"),
    ):
        verdict = verify_pdf(pdf, trust, MemoryRegistry({target.document_number: wrong}), now)
        assert verdict.kind is VerdictKind.FORGED
        (failed,) = verdict.failures
        assert failed.code == "registry.fields" and failed.outcome is Outcome.FAILED
        assert "status-list entry" in failed.detail and f"#{target.id}" in failed.detail

    # a registry row without an entry (made before rows had one) is not held against it
    bare = dataclasses.replace(entry, status_list_url=None, status_list_index=None)
    verdict = verify_pdf(pdf, trust, MemoryRegistry({target.document_number: bare}), now)
    assert verdict.kind is VerdictKind.GENUINE
