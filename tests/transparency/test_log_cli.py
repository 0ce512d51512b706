"""``certsvc log verify|head|proof`` with a signer the database knows (issued by the keys
service), on every back end."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import Result

from certsvc.config import Settings
from certsvc.db.database import Database
from certsvc.keys import service as keys
from certsvc.keys.files import Passphrase
from certsvc.keys.handles import PrivateKeyHandle
from certsvc.keys.models import SigningKey
from certsvc.transparency import checkpoint, merkle, service
from certsvc.transparency.models import EntryKind, LogEntry
from tests.conftest import TEST_ACTOR, cli_invoker
from tests.transparency.conftest import ORIGIN, new_entries

PASS = Passphrase.checked("signer passphrase for log tests", "test")
NOW = datetime.now(UTC)


@pytest.fixture
def invoke(tmp_path: Path, database_url: str, db: Database) -> Callable[..., Result]:
    return cli_invoker(tmp_path, database_url, actor=TEST_ACTOR)


@pytest.fixture
def store(settings: Settings) -> keys.KeyStore:
    return keys.KeyStore(settings.key_dir, "https://zc.example.gov.cn")


@pytest.fixture
def signer(db: Database, store: keys.KeyStore) -> tuple[SigningKey, PrivateKeyHandle]:
    with db.session() as s:
        keys.create_root(
            s,
            store,
            organization="北京市人力资源和社会保障局",
            passphrase=PASS,
            actor=TEST_ACTOR,
            now=NOW - timedelta(hours=1),
        )
    with db.session() as s:
        root = keys.load_root(s, store, PASS)
        signing_key = keys.issue_signer(
            s,
            store,
            root,
            agency_code="BJRS",
            actor=TEST_ACTOR,
            now=NOW - timedelta(minutes=30),
            passphrase=PASS,
        )
    return signing_key, keys.open_signer(store, signing_key, at=NOW, passphrase=PASS)


def _batch(
    db: Database, signer: tuple[SigningKey, PrivateKeyHandle], count: int, start: int
) -> None:
    signing_key, handle = signer
    with db.session() as s:
        service.append(s, new_entries(count, start=start), actor=TEST_ACTOR)
        service.sign_tree_head(
            s, handle, signing_key.key_id, actor=TEST_ACTOR, origin=ORIGIN, batch_ref=f"b{start}"
        )


def test_log_commands(
    db: Database,
    invoke: Callable[..., Result],
    signer: tuple[SigningKey, PrivateKeyHandle],
    tmp_path: Path,
) -> None:
    invoke("log", "head", code=3)
    assert "no signed tree head yet" in invoke("log", "head", code=3).output
    assert "log verified: 0 entries" in invoke("log", "verify").output

    _batch(db, signer, 6, 0)
    with db.session() as s:
        service.append(s, new_entries(1, start=3, kind=EntryKind.REVOKE), actor=TEST_ACTOR)
    _batch(db, signer, 4, 7)

    out = invoke("log", "verify").output
    assert out.startswith("log verified: 11 entries, 2 signed tree heads")

    head = json.loads(invoke("log", "head", "--json").output)
    assert (head["tree_size"], head["batch_ref"], head["key_id"]) == (11, "b7", signer[0].key_id)
    assert "tree size:  11" in invoke("log", "head").output

    # the proof output is all a verifier needs, with the signer's certificate
    proof = json.loads(invoke("log", "proof", "2026BJRS00000003").output)
    assert [e["kind"] for e in proof["entries"]] == ["issue", "revoke"]
    certificate_key = keys.certs.load_pem(signer[0].certificate_pem).public_key()
    signed = checkpoint.verify_checkpoint(
        base64.b64decode(proof["tree_head"]["envelope"]), certificate_key
    )
    for entry in proof["entries"]:
        leaf = merkle.leaf_hash(entry["entry"].encode("utf-8"))
        assert leaf.hex() == entry["leaf_hash"]
        merkle.verify_inclusion(
            leaf,
            entry["leaf_index"],
            signed.tree_size,
            [bytes.fromhex(h) for h in entry["inclusion_path"]],
            signed.root_hash,
        )
    assert proof["not_yet_covered"] == []
    assert "no entry for document NOPE" in invoke("log", "proof", "NOPE", code=3).output

    # an outside auditor checks with the published bundle instead of the database's signers
    bundle = tmp_path / "bundle.pem"
    with db.session() as s:
        bundle.write_text(keys.trust_bundle_pem(s))
    assert "log verified" in invoke("log", "verify", "--trust-bundle", str(bundle)).output
    empty = tmp_path / "other.pem"
    empty.write_text("")
    invoke("log", "verify", "--trust-bundle", str(empty), code=2)

    # tampering: exit 8, every problem listed
    table = sa.inspect(LogEntry).local_table
    with db.engine.begin() as connection:
        connection.execute(sa.delete(table).where(table.c.leaf_index == 8))
    failed = invoke("log", "verify", code=8)
    assert "log verification FAILED" in failed.output
    assert "entry 8 is missing (entries were deleted): the next stored entry is 9" in failed.output
    assert "error: the transparency log failed verification" in failed.output
    report = json.loads(invoke("log", "verify", "--json", code=8).stdout)
    assert report["ok"] is False
    assert report["entries"] == 10


def test_proof_for_a_document_not_yet_under_a_tree_head(
    db: Database, invoke: Callable[..., Result], signer: tuple[SigningKey, PrivateKeyHandle]
) -> None:
    _batch(db, signer, 2, 0)
    with db.session() as s:
        service.append(s, new_entries(1, start=5), actor=TEST_ACTOR)
    out = invoke("log", "proof", "2026BJRS00000005", code=3).output
    assert "is logged (entry 2) but no signed tree head covers it yet" in out
