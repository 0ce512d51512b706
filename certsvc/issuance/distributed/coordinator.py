"""The coordinator's side: send chunks to the signing queue, record what comes back.

``CeleryWorkers.find`` checks, before the run is counted, that the broker answers and that at
least one ``certsvc worker`` consumes the signing queue (how many processes they have sets how
many chunks are kept in flight: two per process). ``CeleryPool`` then stands where the local
process pool stands in ``runner._sign_everything``:

* ``submit`` sends a chunk (the item ids of a task) as a Celery task;
* ``next_outcomes`` waits on the batch's reply queue, writes the PDFs of the first reply for a
  chunk into the coordinator's staging area and hands the outcomes to ``record_outcomes``,
  which records them in one transaction and promotes the files, exactly as for a local run.
  A second reply for a chunk already answered (the task was delivered twice) is dropped
  before anything is written; a reply of another run is dropped too.
* A chunk not answered within ``CERTSVC_BROKER_TIMEOUT`` (its worker died with it, or the
  task was lost) is sent again, up to ``MAX_ATTEMPTS`` times; if no worker answers anything
  for that long the run stops with an error (run the batch again to continue).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from celery import Celery

from certsvc.config import Settings, mask_url_password
from certsvc.errors import BrokerError
from certsvc.issuance.distributed.app import SIGN_CHUNK, WORKER_INFO, make_app
from certsvc.issuance.distributed.messages import Chunk, MessageError, Reply
from certsvc.issuance.distributed.replies import (
    ReplyChannel,
    broker_trouble,
    reply_channel,
    reply_queue_name,
)
from certsvc.issuance.recording import RunState
from certsvc.issuance.store import DocumentStore
from certsvc.issuance.worker import CandidateJob, CandidateOutcome, MadeDocument, staged_name

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # deliveries of one chunk before the run gives up on it
DISCOVERY_SECONDS = 1.0  # how long each call for workers waits for their answers


@dataclass
class _Pending:
    chunk: Chunk
    jobs: list[CandidateJob]
    sent: float
    attempts: int = 1
    task_ids: list[str] = field(default_factory=list)


class CeleryWorkers:
    """The broker and the workers on the signing queue, found before a run starts."""

    def __init__(self, settings: Settings, app: Celery, processes: int, hosts: list[str]) -> None:
        self.settings = settings
        self.app = app
        self.processes = processes
        self.hosts = hosts

    @classmethod
    def find(cls, settings: Settings) -> CeleryWorkers:
        app = make_app(settings)
        where = mask_url_password(settings.broker_url)
        try:
            with app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=2, timeout=settings.broker_timeout)
        except Exception as exc:  # kombu raises the transport's own errors
            raise broker_trouble(settings.broker_url, exc) from exc
        deadline = time.monotonic() + settings.broker_timeout
        while True:
            found = _workers_on(app, settings.broker_queue)
            if found:
                break
            if time.monotonic() >= deadline:
                raise BrokerError(
                    f"no `certsvc worker` answered on queue {settings.broker_queue} of {where} "
                    f"within {settings.broker_timeout} s (CERTSVC_BROKER_TIMEOUT): start workers "
                    "(`certsvc worker --passphrase-file …`) with the same CERTSVC_* settings, "
                    "or run the batch on this machine with `--local`"
                )
        return cls(settings, app, sum(found.values()), sorted(found))

    def pool(self, run: RunState, store: DocumentStore) -> CeleryPool:
        return CeleryPool(self, run, store)


def _workers_on(app: Celery, queue: str) -> dict[str, int]:
    """Worker host names consuming ``queue``, with their numbers of processes."""
    try:
        answers = app.control.broadcast(WORKER_INFO, reply=True, timeout=DISCOVERY_SECONDS)
    except Exception as exc:
        raise broker_trouble(app.conf.broker_url, exc) from exc
    found: dict[str, int] = {}
    for answer in answers or []:
        for host, info in answer.items():
            if isinstance(info, dict) and info.get("queue") == queue:
                found[host] = max(1, int(info.get("concurrency") or 1))
    return found


class CeleryPool:
    def __init__(self, workers: CeleryWorkers, run: RunState, store: DocumentStore) -> None:
        self._app = workers.app
        self._settings = workers.settings
        self._run = run
        self._store = store
        self._timeout = float(workers.settings.broker_timeout)
        self._capacity = max(2, 2 * workers.processes)
        self._queue = reply_queue_name(workers.settings.broker_queue, run.batch_id)
        self._replies: ReplyChannel = reply_channel(workers.settings.broker_url, self._timeout)
        self._pending: dict[str, _Pending] = {}
        self._last_reply = time.monotonic()
        self.duplicates = 0  # replies dropped: a chunk answered twice
        self.resent = 0  # chunks sent again

    @property
    def capacity(self) -> int:
        return self._capacity

    def in_flight(self) -> int:
        return len(self._pending)

    def submit(self, jobs: list[CandidateJob]) -> None:
        chunk = Chunk(
            chunk_id=uuid.uuid4().hex,
            batch_id=self._run.batch_id,
            run=self._run.number,
            item_ids=tuple(job.item_id for job in jobs),
            signer_key_id=self._run.spec.signer.key_id,
            crl_number=self._run.spec.crl_number,
            base_url=self._run.base_url,
            reply_to=self._queue,
        )
        if not self._pending:
            self._last_reply = time.monotonic()  # the silence counts from the first chunk out
        pending = _Pending(chunk, jobs, time.monotonic())
        self._pending[chunk.chunk_id] = pending
        self._send(pending)

    def next_outcomes(self) -> list[CandidateOutcome]:
        while True:
            now = time.monotonic()
            self._send_overdue_again(now)
            oldest = min(pending.sent for pending in self._pending.values())
            wait = min(self._last_reply, oldest) + self._timeout - now
            data = self._replies.receive(self._queue, max(0.01, wait))
            if data is None:
                # silence counts only once the queue is found empty: replies that waited
                # there while this process was busy recording are not silence
                if time.monotonic() - self._last_reply >= self._timeout:
                    raise BrokerError(
                        f"no worker has answered for {self._timeout:.0f} s "
                        f"(CERTSVC_BROKER_TIMEOUT) with {len(self._pending)} chunks of batch "
                        f"{self._run.batch_id} waiting: are `certsvc worker` processes running "
                        f"on queue {self._settings.broker_queue}? Run the batch again to continue"
                    )
                continue
            outcomes = self._take(data)
            if outcomes is not None:
                return outcomes

    def _take(self, data: bytes) -> list[CandidateOutcome] | None:
        try:
            reply = Reply.decode(data)
        except MessageError as exc:
            log.warning("dropped a reply: %s", exc)
            return None
        if reply.batch_id != self._run.batch_id or reply.run != self._run.number:
            return None  # for a run that was killed: its candidates are signed again here
        self._last_reply = time.monotonic()
        pending = self._pending.get(reply.chunk_id)
        if pending is None:
            self.duplicates += 1  # answered already: this delivery's PDFs are never written
            return None
        problem = reply.error or _mismatch(reply, pending)
        if problem is not None:
            if pending.attempts >= MAX_ATTEMPTS:
                raise BrokerError(
                    f"a chunk of batch {self._run.batch_id} failed {pending.attempts} times; "
                    f"the last answer (from {reply.worker}): {problem}. Run the batch again "
                    "once that is mended"
                )
            log.warning(
                "chunk %s failed on %s: %s; sending it again", reply.chunk_id, reply.worker, problem
            )
            self._send_again(pending)
            return None
        del self._pending[reply.chunk_id]
        return self._land(reply)

    def _land(self, reply: Reply) -> list[CandidateOutcome]:
        """Write the reply's PDFs into staging, as a local worker would have."""
        outcomes = []
        for candidate in reply.candidates:
            if candidate.error is not None:
                outcomes.append(CandidateOutcome(candidate.item_id, error=candidate.error))
                continue
            made = []
            for document in candidate.documents:
                name = staged_name(document.document_id, self._run.number)
                stored = self._store.stage(name, document.pdf, durable=False)
                made.append(
                    MadeDocument(
                        document_id=document.document_id,
                        staged_name=name,
                        sha256=stored.sha256,
                        size=stored.size,
                        token=document.token,
                        signer_key_id=document.signer_key_id,
                    )
                )
            outcomes.append(
                CandidateOutcome(candidate.item_id, tuple(made), timings_ms=candidate.timings_ms)
            )
        return outcomes

    def _send(self, pending: _Pending) -> None:
        task_id = f"{pending.chunk.chunk_id}-{pending.attempts}"
        pending.task_ids.append(task_id)
        try:
            self._app.send_task(
                SIGN_CHUNK,
                args=[pending.chunk.to_json()],
                task_id=task_id,
                queue=self._settings.broker_queue,
                # a chunk nobody took up by then is dropped by the workers: it has been sent
                # again, or its run is over
                expires=datetime.now(UTC) + timedelta(seconds=(MAX_ATTEMPTS + 1) * self._timeout),
                retry=True,
                retry_policy={
                    "max_retries": 3,
                    "interval_start": 0.5,
                    "interval_step": 1.0,
                    "interval_max": 2.0,
                },
            )
        except Exception as exc:
            raise broker_trouble(self._settings.broker_url, exc) from exc

    def _send_again(self, pending: _Pending) -> None:
        pending.attempts += 1
        pending.sent = time.monotonic()
        self.resent += 1
        self._send(pending)

    def _send_overdue_again(self, now: float) -> None:
        for pending in list(self._pending.values()):
            if now - pending.sent < self._timeout:
                continue
            if pending.attempts >= MAX_ATTEMPTS:
                raise BrokerError(
                    f"a chunk of batch {self._run.batch_id} was not answered after "
                    f"{pending.attempts} deliveries of {self._timeout:.0f} s each "
                    "(CERTSVC_BROKER_TIMEOUT); run the batch again to continue"
                )
            log.warning(
                "chunk %s not answered in %.0f s; sending it again",
                pending.chunk.chunk_id,
                self._timeout,
            )
            self._send_again(pending)

    def __enter__(self) -> CeleryPool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self._pending:  # a failed run: its tasks need not be signed
                task_ids = [t for p in self._pending.values() for t in p.task_ids]
                self._app.control.revoke(task_ids)
            self._replies.delete(self._queue)
        except Exception:  # the broker may be what failed
            log.warning("could not tidy up the reply queue %s", self._queue, exc_info=True)
        finally:
            self._replies.close()


def _mismatch(reply: Reply, pending: _Pending) -> str | None:
    """What is wrong with a reply that does not answer exactly its chunk's candidates."""
    if reply.missing:
        return (
            f"items {list(reply.missing)} were not reserved in the worker's view of the "
            "database (does it use the coordinator's CERTSVC_DATABASE_URL?)"
        )
    expected = {job.item_id: sorted(d for d, _ in job.documents) for job in pending.jobs}
    got: dict[int, Any] = {
        c.item_id: sorted(d.document_id for d in c.documents) if c.error is None else None
        for c in reply.candidates
    }
    if set(got) != set(expected):
        return "the reply does not answer the chunk's candidates"
    for item_id, documents in got.items():
        if documents is not None and documents != expected[item_id]:
            return f"the reply does not carry item {item_id}'s reserved documents"
    return None
