"""The coordinator's bookkeeping of chunks, with a fake broker: which reply is recorded, which
is dropped, when a chunk is sent again, when the run gives up."""

from __future__ import annotations

import hashlib
from collections import deque
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from certsvc.config import Settings
from certsvc.documents.record import sample_record
from certsvc.errors import BrokerError
from certsvc.issuance.distributed import coordinator
from certsvc.issuance.distributed.messages import Chunk, Reply, SignedCandidate, SignedDocument
from certsvc.issuance.recording import RunState
from certsvc.issuance.store import FileDocumentStore
from certsvc.issuance.worker import CandidateJob

TIMEOUT = 1


class FakeReplies:
    def __init__(self) -> None:
        self.queue: deque[bytes] = deque()
        self.keepalive: bytes | None = None  # what a busy live worker keeps sending

    def send(self, queue: str, data: bytes) -> None:
        self.queue.append(data)

    def receive(self, queue: str, timeout: float) -> bytes | None:
        if self.queue:
            return self.queue.popleft()
        return None

    def delete(self, queue: str) -> None:
        self.queue.clear()

    def close(self) -> None:
        pass


class FakeApp:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.control = SimpleNamespace(revoke=lambda ids: None)

    def send_task(self, name: str, *, args: list[Any], task_id: str, **_: Any) -> None:
        self.sent.append((task_id, args[0]))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(coordinator.time, "monotonic", clock)
    return clock


@pytest.fixture
def replies(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> FakeReplies:
    fake = FakeReplies()

    def receive(queue: str, timeout: float) -> bytes | None:
        data = FakeReplies.receive(fake, queue, timeout)
        if data is None and fake.keepalive is not None:
            clock.now += min(timeout, 0.3)
            return fake.keepalive
        if data is None:
            clock.now += timeout  # the wait passes
        return data

    fake.receive = receive  # type: ignore[method-assign]
    monkeypatch.setattr(coordinator, "reply_channel", lambda url, timeout: fake)
    return fake


@pytest.fixture
def pool(tmp_path: Path, replies: FakeReplies) -> coordinator.CeleryPool:
    settings = Settings.from_env(
        {}, data_dir=tmp_path, broker_url="redis://127.0.0.1:6379/0", broker_timeout=TIMEOUT
    )
    workers = coordinator.CeleryWorkers(settings, FakeApp(), 1, ["w1"])  # type: ignore[arg-type]
    spec = SimpleNamespace(signer=SimpleNamespace(key_id="k1"), crl_number=1)
    run = RunState(7, 3, None, date(2025, 11, 3), spec, "http://localhost:8000")  # type: ignore[arg-type]
    store = FileDocumentStore(tmp_path / "store").ensure()
    return workers.pool(run, store)


def _jobs(item: int) -> list[CandidateJob]:
    record = sample_record()
    return [CandidateJob(item, ((item * 10, record), (item * 10 + 1, record)))]


def _answer(chunk: dict[str, Any], *, run: int = 3, worker: str = "w1", **changes: Any) -> bytes:
    parsed = Chunk.from_json(chunk)
    candidates = []
    for item in parsed.item_ids:
        documents = []
        for document_id in (item * 10, item * 10 + 1):
            pdf = f"%PDF {document_id} {worker}".encode()
            documents.append(
                SignedDocument(document_id, hashlib.sha256(pdf).hexdigest(), "t", "k1", pdf)
            )
        candidates.append(SignedCandidate(item, tuple(documents)))
    values: dict[str, Any] = {"candidates": tuple(candidates), **changes}
    return Reply(parsed.chunk_id, parsed.batch_id, run, worker, **values).encode()


def _sent(pool: coordinator.CeleryPool) -> list[tuple[str, dict[str, Any]]]:
    return pool._app.sent  # type: ignore[attr-defined,no-any-return]


def test_the_first_reply_is_staged_and_a_second_dropped_unwritten(
    pool: coordinator.CeleryPool, replies: FakeReplies, tmp_path: Path
) -> None:
    pool.submit(_jobs(1))
    pool.submit(_jobs(2))
    (_, first), (_, second) = _sent(pool)
    replies.send("", _answer(first, run=2))  # a killed run's: dropped
    replies.send("", _answer(first, worker="w1"))
    replies.send("", _answer(first, worker="w2"))  # delivered twice
    replies.send("", _answer(second))
    outcomes = pool.next_outcomes()
    assert [outcome.item_id for outcome in outcomes] == [1]
    assert {made.staged_name for made in outcomes[0].made} == {"d10.r3.pdf", "d11.r3.pdf"}
    staged = tmp_path / "store" / "staging" / "d10.r3.pdf"
    assert staged.read_bytes() == b"%PDF 10 w1"
    assert [outcome.item_id for outcome in pool.next_outcomes()] == [2]
    assert staged.read_bytes() == b"%PDF 10 w1"  # the second answer never touched it
    assert pool.duplicates == 1 and pool.in_flight() == 0


def test_an_unanswered_chunk_is_sent_again_then_the_run_gives_up(
    pool: coordinator.CeleryPool, replies: FakeReplies, clock: Clock
) -> None:
    pool.submit(_jobs(1))
    pool.submit(_jobs(2))
    (_, first), (_, second) = _sent(pool)
    replies.send("", _answer(second))
    assert [o.item_id for o in pool.next_outcomes()] == [2]
    replies.keepalive = _answer(second, worker="w2")  # another worker is alive and answering
    with pytest.raises(BrokerError, match="not answered after 3 deliveries"):
        pool.next_outcomes()
    assert [task for task, _ in _sent(pool)][2:] == [f"{first['chunk']}-2", f"{first['chunk']}-3"]


def test_silence_from_every_worker_stops_the_run(
    pool: coordinator.CeleryPool, replies: FakeReplies
) -> None:
    pool.submit(_jobs(1))
    with pytest.raises(BrokerError, match=r"no worker has answered for 1 s .* Run the batch again"):
        pool.next_outcomes()


def test_a_failed_or_wrong_answer_is_sent_again(
    pool: coordinator.CeleryPool, replies: FakeReplies
) -> None:
    pool.submit(_jobs(1))
    ((_, chunk),) = _sent(pool)
    replies.send("", _answer(chunk, error="worker w1 cannot sign: wrong passphrase"))
    replies.send("", _answer(chunk, candidates=(), missing=(1,)))
    replies.send("", _answer(chunk, worker="w2"))
    assert [o.item_id for o in pool.next_outcomes()] == [1]
    assert pool.resent == 2
    pool.submit(_jobs(2))
    chunk = _sent(pool)[-1][1]
    for _ in range(3):
        replies.send("", _answer(chunk, error="the database is down"))
    with pytest.raises(BrokerError, match=r"failed 3 times.*the database is down"):
        pool.next_outcomes()
