"""verify_log against an insider with write access to the database: each kind of tampering is
reported with its own message, on every back end."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
import rfc8785
import sqlalchemy as sa
from sqlmodel import col, select

from certsvc.db.database import Database
from certsvc.transparency import merkle, service
from certsvc.transparency.checkpoint import Checkpoint, sign_checkpoint
from certsvc.transparency.models import LogEntry, LogNode, TreeHead
from tests.conftest import TEST_ACTOR
from tests.transparency.conftest import ORIGIN, T0, Signer, make_signer, new_entries

ENTRIES = sa.inspect(LogEntry).local_table
NODES = sa.inspect(LogNode).local_table
HEADS = sa.inspect(TreeHead).local_table


@dataclass(frozen=True)
class Log:
    db: Database
    signer: Signer
    heads: list[TreeHead]

    def verify(self) -> service.LogVerification:
        with self.db.session() as s:
            return service.verify_log(s, {self.signer.key_id: self.signer.certificate.public_key()})

    def problems(self) -> list[str]:
        result = self.verify()
        assert not result.ok
        return result.problems

    def entry(self, index: int) -> LogEntry:
        with self.db.session() as s:
            found = s.get(LogEntry, index)
            assert found is not None
            return found

    def update_entry(self, index: int, **values: object) -> None:
        with self.db.engine.begin() as connection:
            connection.execute(
                sa.update(ENTRIES).where(ENTRIES.c.leaf_index == index).values(**values)
            )


@pytest.fixture
def log(db: Database, signer: Signer) -> Log:
    """315 entries (one stored level-8 hash) under three signed tree heads: 10, 310, 315."""
    heads = []
    start = 0
    for hour, count in enumerate([10, 300, 5]):
        with db.session() as s:
            service.append(s, new_entries(count, start=start), actor=TEST_ACTOR)
            start += count
            heads.append(
                service.sign_tree_head(
                    s,
                    signer.handle,
                    signer.key_id,
                    actor=TEST_ACTOR,
                    origin=ORIGIN,
                    batch_ref=f"batch-{hour}",
                    now=T0 + timedelta(hours=hour),
                )
            )
    return Log(db, signer, heads)


def test_an_untouched_log_verifies(log: Log) -> None:
    result = log.verify()
    assert result.ok, result.report()
    assert (result.entries, result.tree_heads, result.stored_nodes) == (315, 3, 1)
    assert result.report().startswith("log verified: 315 entries, 3 signed tree heads")


def test_edited_entry_bytes(log: Log) -> None:
    entry = json.loads(log.entry(3).entry)
    entry["document_sha256"] = hashlib.sha256(b"another pdf").hexdigest()
    log.update_entry(3, entry=rfc8785.dumps(entry))
    problems = log.problems()
    assert (
        "entry 3: its bytes do not hash to its stored leaf hash (the entry was edited after "
        "it was logged)"
    ) in problems
    assert any(p.startswith("entry 3: its document_sha256 column") for p in problems)
    assert any("its root does not match the root recomputed" in p for p in problems)


def test_edited_document_column(log: Log) -> None:
    log.update_entry(4, document_number="2026BJRS99999999")
    assert log.problems() == [
        "entry 4: its document_number column (2026BJRS99999999) differs from what was logged "
        "(2026BJRS00000004)"
    ]


def test_deleted_entry(log: Log) -> None:
    with log.db.engine.begin() as connection:
        connection.execute(sa.delete(ENTRIES).where(ENTRIES.c.leaf_index.in_([5, 6])))
    problems = log.problems()
    assert "entries 5-6 are missing (entries were deleted): the next stored entry is 7" in problems
    assert "the log state counts 315 entries but 313 are stored (entries were deleted)" in problems


def test_deleted_last_entries(log: Log) -> None:
    with log.db.engine.begin() as connection:
        connection.execute(sa.delete(ENTRIES).where(ENTRIES.c.leaf_index >= 312))
    last = log.heads[-1]
    assert (
        f"tree head {last.id} (size 315, key {log.signer.key_id}): it covers 315 entries but "
        "the log holds 312 (entries were deleted)"
    ) in log.problems()


def test_reordered_entries(log: Log) -> None:
    a, b = log.entry(2), log.entry(7)
    columns = ("leaf_hash", "kind", "document_number", "document_sha256", "entry", "created_at")
    log.update_entry(2, **{c: getattr(b, c) for c in columns})
    log.update_entry(7, **{c: getattr(a, c) for c in columns})
    problems = log.problems()
    assert "entry 2: it says it is entry 7 (entries were moved or reordered)" in problems
    assert "entry 7: it says it is entry 2 (entries were moved or reordered)" in problems
    # the swapped entries' own hashes still match: only their positions are wrong
    assert not any("do not hash" in p for p in problems)


def test_forged_tree_head_signature(log: Log) -> None:
    head = log.heads[1]
    forged = bytearray(head.envelope)
    forged[-1] ^= 1  # the last byte of the signature
    with log.db.engine.begin() as connection:
        connection.execute(
            sa.update(HEADS).where(HEADS.c.id == head.id).values(envelope=bytes(forged))
        )
    assert log.problems() == [
        f"tree head {head.id} (size 310, key {log.signer.key_id}): the tree head's signature "
        f"does not verify with key {log.signer.key_id}: it was forged or altered after signing"
    ]


def test_tree_head_by_an_unknown_key(log: Log) -> None:
    stranger = make_signer()
    with log.db.session() as s:
        head = service.sign_tree_head(
            s,
            stranger.handle,
            stranger.key_id,
            actor=TEST_ACTOR,
            origin=ORIGIN,
            now=T0 + timedelta(hours=5),
        )
    assert log.problems() == [
        f"tree head {head.id} (size 315, key {stranger.key_id}): its signer is not in the "
        "trust material"
    ]


def test_tree_head_columns_edited_after_signing(log: Log) -> None:
    head = log.heads[0]
    with log.db.engine.begin() as connection:
        connection.execute(
            sa.update(HEADS).where(HEADS.c.id == head.id).values(root_hash=b"\x00" * 32)
        )
    assert log.problems() == [
        f"tree head {head.id} (size 10, key {log.signer.key_id}): its root hash column "
        f"({'00' * 32}) differs from the signed tree head ({bytes(head.root_hash).hex()})"
    ]


def test_rewritten_history_is_inconsistent_with_earlier_heads(log: Log) -> None:
    # An insider with the signing key rewrites entry 3 coherently (bytes, leaf hash, stored
    # subtree hash) and signs a new head over the rewritten log, dated before the last one.
    entry = json.loads(log.entry(3).entry)
    entry["kind"] = "revoke"
    data = rfc8785.dumps(entry)
    log.update_entry(3, entry=data, leaf_hash=merkle.leaf_hash(data), kind="revoke")
    with log.db.session() as s:
        leaves = [
            bytes(e.leaf_hash) for e in s.exec(select(LogEntry).order_by(col(LogEntry.leaf_index)))
        ]
    with log.db.engine.begin() as connection:
        connection.execute(
            sa.update(NODES)
            .where(NODES.c.level == 8, NODES.c.node_index == 0)
            .values(hash=merkle.MemoryTree(leaves).levels[8][0])
        )
    with log.db.session() as s:
        rewritten = service.sign_tree_head(
            s,
            log.signer.handle,
            log.signer.key_id,
            actor=TEST_ACTOR,
            origin=ORIGIN,
            now=T0 + timedelta(minutes=30),
        )
    problems = log.problems()
    old_last = log.heads[-1]
    key = log.signer.key_id
    assert (
        f"tree heads {old_last.id} (size 315) and {rewritten.id} (size 315) are inconsistent: "
        "the later one does not extend the earlier (two different roots for the same tree "
        "size 315)"
    ) in problems
    assert (
        f"tree head {rewritten.id} (size 315, key {key}): it is dated 2026-01-05 09:30:00, "
        f"before tree head {old_last.id} of the smaller size 315 (2026-01-05 11:00:00)"
    ) in problems
    for head in log.heads:
        assert (
            f"tree head {head.id} (size {head.tree_size}, key {key}): its root does not match "
            "the root recomputed from the entries"
        ) in problems
    assert not any("do not hash" in p or "subtree" in p for p in problems)


def test_tampered_stored_subtree_hash(log: Log) -> None:
    with log.db.engine.begin() as connection:
        connection.execute(sa.update(NODES).values(hash=b"\x11" * 32))
    problems = log.problems()
    assert "the stored subtree hash (8, 0) does not match the entries below it" in problems


def test_inconsistent_head_between_two_good_ones(log: Log, signer: Signer) -> None:
    # a head signed over a root that is not the log's: it matches neither the entries nor
    # the heads around it
    with log.db.session() as s:
        service.append(s, new_entries(3, start=315), actor=TEST_ACTOR)
    bogus_root = hashlib.sha256(b"not the log").digest()
    when = T0 + timedelta(hours=1, minutes=30)
    envelope = sign_checkpoint(
        Checkpoint(ORIGIN, 312, bogus_root, when), signer.handle, signer.key_id
    )
    with log.db.session() as s:
        bogus = TreeHead(
            tree_size=312,
            root_hash=bogus_root,
            signed_at=when,
            origin=ORIGIN,
            key_id=signer.key_id,
            envelope=envelope,
            created_by=TEST_ACTOR,
        )
        s.add(bogus)
    problems = log.problems()
    before, after = log.heads[1], log.heads[2]
    assert any(
        p.startswith(
            f"tree heads {before.id} (size 310) and {bogus.id} (size 312) are inconsistent"
        )
        for p in problems
    ), problems
    assert any(
        p.startswith(f"tree heads {bogus.id} (size 312) and {after.id} (size 315) are inconsistent")
        for p in problems
    ), problems
    assert (
        f"tree head {bogus.id} (size 312, key {signer.key_id}): its root does not match the "
        "root recomputed from the entries"
    ) in problems
    assert len(problems) == 3
