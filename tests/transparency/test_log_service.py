"""The log service on every database back end: appending, stored hashes, proofs, signed tree
heads, audit events, concurrent writers and input checks."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
import rfc8785
from sqlmodel import col, select

from certsvc.audit.models import AuditEvent
from certsvc.db.database import Database
from certsvc.errors import InputError, NotFoundError
from certsvc.transparency import checkpoint, merkle, service
from certsvc.transparency.models import EntryKind, LogEntry, LogNode, TreeHead
from certsvc.transparency.service import NewEntry
from tests.conftest import TEST_ACTOR
from tests.transparency.conftest import ORIGIN, T0, Signer, make_signer, new_entries


def _append(db: Database, entries: list[NewEntry], **kwargs: object) -> list[service.LoggedEntry]:
    with db.session() as s:
        return service.append(s, entries, actor=TEST_ACTOR, **kwargs)  # type: ignore[arg-type]


def _sign(db: Database, signer: Signer, **kwargs: object) -> TreeHead:
    with db.session() as s:
        return service.sign_tree_head(
            s, signer.handle, signer.key_id, actor=TEST_ACTOR, origin=ORIGIN, **kwargs
        )  # type: ignore[arg-type]


def _leaf_hashes(db: Database) -> list[bytes]:
    with db.session() as s:
        rows = s.exec(select(LogEntry).order_by(col(LogEntry.leaf_index))).all()
        return [bytes(row.leaf_hash) for row in rows]


def test_append_assigns_positions_and_logs_canonical_entries(db: Database) -> None:
    first = _append(db, new_entries(3), now=T0)
    second = _append(db, new_entries(2, start=3, kind=EntryKind.REVOKE), now=T0)
    assert [e.leaf_index for e in first + second] == [0, 1, 2, 3, 4]
    with db.session() as s:
        assert service.log_size(s) == 5
        stored = s.exec(select(LogEntry).order_by(col(LogEntry.leaf_index))).all()
    entry = json.loads(stored[3].entry)
    assert entry == {
        "details": {"document_type": "certificate"},
        "document_number": "2026BJRS00000003",
        "document_sha256": new_entries(1, start=3)[0].document_sha256,
        "index": 3,
        "kind": "revoke",
        "logged_at": "2026-01-05T09:00:00.000000Z",
    }
    assert rfc8785.dumps(entry) == stored[3].entry
    assert bytes(stored[3].leaf_hash) == merkle.leaf_hash(bytes(stored[3].entry))
    assert stored[3].kind is EntryKind.REVOKE
    assert stored[3].document_number == "2026BJRS00000003"


@pytest.mark.parametrize(("stride", "batches"), [(2, [1, 3, 5, 17, 40, 2]), (8, [250, 10, 340])])
def test_roots_and_proofs_equal_an_in_memory_tree(
    db: Database, monkeypatch: pytest.MonkeyPatch, stride: int, batches: list[int]
) -> None:
    # a small stride exercises several stored levels (2, 4, 6) with few entries
    monkeypatch.setattr(service, "STRIDE", stride)
    monkeypatch.setattr(service, "BLOCK", 1 << stride)
    start = 0
    for count in batches:
        _append(db, new_entries(count, start=start))
        start += count
    leaves = _leaf_hashes(db)
    tree = merkle.MemoryTree(leaves)
    n = len(leaves)
    with db.session() as s:
        stored = {
            (node.level, node.node_index): bytes(node.hash) for node in s.exec(select(LogNode))
        }
        expected = {
            (level, index): value
            for level, values in enumerate(tree.levels)
            if level and level % stride == 0
            for index, value in enumerate(values)
        }
        assert stored == expected
        assert stored  # the batches complete stored nodes
        for size in range(n + 1):
            assert service.tree_root(s, size) == tree.root(size)
        for size in sorted({1, 17, n // 2, n - 1, n}):
            proofs = service.inclusion_proofs(s, range(size), size)
            for proof in proofs:
                assert list(proof.path) == tree.inclusion_path(proof.leaf_index, size)
                proof.verify(tree.root(size))
        for first in range(0, n + 1, max(1, n // 20)):
            for second in sorted({first, first + 1, n // 2, n}):
                if first <= second <= n:
                    path = service.consistency_proof(s, first, second)
                    assert path == tree.consistency_path(first, second)


def test_proofs_beyond_the_log_are_refused(db: Database) -> None:
    _append(db, new_entries(4))
    with db.session() as s:
        with pytest.raises(NotFoundError, match="beyond the log"):
            service.inclusion_proof(s, 0, 5)
        with pytest.raises(NotFoundError, match="not in the tree of 3"):
            service.inclusion_proof(s, 3, 3)
        with pytest.raises(InputError, match="smaller size"):
            service.consistency_proof(s, 4, 2)
        assert service.tree_root(s, 0) == merkle.EMPTY_ROOT


@pytest.mark.parametrize("algorithm", ["p256", "p384", "rsa"])
def test_tree_head_is_signed_and_checks_with_the_certificate_alone(
    db: Database, algorithm: str
) -> None:
    signer = make_signer(algorithm)
    _append(db, new_entries(5))
    head = _sign(db, signer, batch_ref="batch-7", now=T0 + timedelta(microseconds=999))
    assert (head.tree_size, head.batch_ref, head.signed_at) == (5, "batch-7", T0)
    with db.session() as s:
        assert bytes(head.root_hash) == service.tree_root(s, 5)
        assert service.latest_tree_head(s) == head
    public_key = signer.certificate.public_key()
    signed = checkpoint.verify_checkpoint(bytes(head.envelope), public_key)
    assert (signed.origin, signed.tree_size, signed.root_hash, signed.timestamp) == (
        ORIGIN,
        5,
        bytes(head.root_hash),
        T0,
    )
    assert signed.body().decode().splitlines()[3] == "timestamp 2026-01-05T09:00:00Z"
    other = make_signer()
    with pytest.raises(checkpoint.TreeHeadError, match="names signer key"):
        checkpoint.verify_checkpoint(bytes(head.envelope), other.certificate.public_key())


def test_appends_and_tree_heads_are_audited(db: Database, signer: Signer) -> None:
    _append(db, new_entries(3))
    head = _sign(db, signer, batch_ref="b1")
    with db.session() as s:
        events = s.exec(select(AuditEvent).where(col(AuditEvent.action).startswith("log:"))).all()
    assert [(e.action, e.subject_id) for e in events] == [
        ("log:append", "0-2"),
        ("log:tree-head", str(head.id)),
    ]
    assert events[0].details == {"first_index": 0, "last_index": 2, "count": 3, "issue": 3}
    assert events[1].details["root_hash"] == bytes(head.root_hash).hex()
    assert events[1].details["batch_ref"] == "b1"


def test_a_rolled_back_append_leaves_no_trace(db: Database) -> None:
    _append(db, new_entries(2))

    def failing_batch() -> None:
        with db.session() as s:
            service.append(s, new_entries(300, start=2), actor=TEST_ACTOR)
            raise RuntimeError("the batch failed")

    with pytest.raises(RuntimeError):
        failing_batch()
    later = _append(db, new_entries(1, start=2))
    assert later[0].leaf_index == 2
    with db.session() as s:
        assert service.verify_log(s, {}).ok


def test_concurrent_writers_get_distinct_consecutive_positions(db: Database) -> None:
    writers, per_writer, rounds = 4, 30, 3
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []
    got: list[int] = []
    lock = threading.Lock()

    def write(number: int) -> None:
        try:
            barrier.wait()
            for r in range(rounds):
                start = (number * rounds + r) * per_writer
                rows = _append(db, new_entries(per_writer, start=start))
                with lock:
                    got.extend(row.leaf_index for row in rows)
                    # each call's positions are one run
                    assert [row.leaf_index for row in rows] == list(
                        range(rows[0].leaf_index, rows[0].leaf_index + per_writer)
                    )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    total = writers * per_writer * rounds
    assert sorted(got) == list(range(total))
    with db.session() as s:
        result = service.verify_log(s, {})
        assert result.ok, result.report()
        assert result.entries == total
        assert service.tree_root(s) == merkle.root_of(_leaf_hashes(db))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (NewEntry(EntryKind.ISSUE, "2026BJRS1", "AB" * 32), "64 lower-case hex"),
        (NewEntry(EntryKind.ISSUE, "", "ab" * 32), "document number"),
        (NewEntry(EntryKind.ISSUE, "2026 BJRS", "ab" * 32), "document number"),
        (NewEntry(EntryKind.ISSUE, "N1", "ab" * 32, {"id_number": "x"}), "identity number"),
        (NewEntry(EntryKind.ISSUE, "N1", "ab" * 32, {"Bad Key": 1}), "not allowed"),
        (NewEntry(EntryKind.ISSUE, "N1", "ab" * 32, {"x": 1.5}), "must be text"),  # type: ignore[dict-item]
    ],
)
def test_bad_entries_are_refused_and_nothing_is_logged(
    db: Database, entry: NewEntry, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        _append(db, [*new_entries(2), entry])
    with db.session() as s:
        assert service.log_size(s) == 0
        assert s.exec(select(LogEntry)).first() is None


def test_origin_for_a_base_url() -> None:
    assert service.origin_for("https://zc.example.gov.cn/") == "zc.example.gov.cn/log"
    assert service.origin_for("http://localhost:8000") == "localhost:8000/log"


def test_a_batch_appends_signs_and_proves_in_one_transaction(db: Database, signer: Signer) -> None:
    # what the issuance batch does: everything in the transaction that records its documents
    _append(db, new_entries(300))
    with db.session() as s:
        logged = service.append(s, new_entries(40, start=300), actor=TEST_ACTOR)
        head = service.sign_tree_head(
            s, signer.handle, signer.key_id, actor=TEST_ACTOR, origin=ORIGIN, batch_ref="b2"
        )
        proofs = service.inclusion_proofs(s, [e.leaf_index for e in logged], head.tree_size)
    assert head.tree_size == 340
    for entry, proof in zip(logged, proofs, strict=True):
        assert proof.leaf_hash == entry.leaf_hash == merkle.leaf_hash(entry.entry)
        proof.verify(bytes(head.root_hash))
        assert proof.as_dict()["inclusion_path"] == [node.hex() for node in proof.path]
