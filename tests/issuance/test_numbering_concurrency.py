"""Numbering under concurrency on PostgreSQL: two processes allocating at once, starting on a
group no number was ever allocated in (both try to create its sequence row)."""

from __future__ import annotations

import multiprocessing
from multiprocessing.synchronize import Barrier

import pytest

from certsvc.db.database import Database
from certsvc.documents.record import DocumentType
from certsvc.issuance.numbering import DocumentNumber, allocate_sequences, usable
from certsvc.roster.catalog import Level

ROUNDS = 40
PER_ROUND = 3
GROUP = {"year": 2025, "region_code": "110000", "series_code": "GC", "level": Level.JUNIOR}


def _allocate(url: str, barrier: Barrier, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    db = Database(url)
    got: list[int] = []
    try:
        barrier.wait(timeout=60)
        for _ in range(ROUNDS):
            with db.session() as session:
                got.extend(allocate_sequences(session, count=PER_ROUND, **GROUP))  # type: ignore[arg-type]
        results.put(("ok", got))
    except Exception as exc:
        results.put(("error", repr(exc)))
    finally:
        db.dispose()


@pytest.mark.postgres
def test_two_processes_allocating_at_once_never_share_a_number(postgres_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    processes = [
        context.Process(target=_allocate, args=(postgres_url, barrier, results)) for _ in range(2)
    ]
    for process in processes:
        process.start()
    answers = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    assert all(kind == "ok" for kind, _ in answers), answers
    first, second = (got for _, got in answers)
    assert not set(first) & set(second)
    together = sorted(first + second)
    # between them, exactly the first usable sequences: none skipped, none twice
    expected = [
        s
        for s in range(1, together[-1] + 1)
        if usable(DocumentNumber(2025, "110000", "GC", Level.JUNIOR, DocumentType.CERTIFICATE, s))
    ]
    assert together == expected
    assert len(together) == 2 * ROUNDS * PER_ROUND
