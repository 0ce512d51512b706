"""The signing side of a batch run: a process that turns records into staged, signed PDFs.

Each worker process prepares a :class:`DocumentFactory` once (fonts, layouts, its own handle on
the private key, the pyHanko signer) and then, for every candidate it is given, makes the
certificate and the notice and stages them in the document store. It never touches the
database: the coordinator records what the worker reports, so a worker killed mid-document
leaves at most a staged file that the next run discards.
"""

from __future__ import annotations

import ctypes
import dataclasses
import gc
import logging
import os
import signal
import sys
from dataclasses import dataclass, field
from datetime import datetime

from certsvc.config import Settings
from certsvc.documents.factory import DocumentFactory
from certsvc.documents.material import SignerSpec, open_signing_material, renderer_for
from certsvc.documents.record import DocumentRecord
from certsvc.errors import CertsvcError
from certsvc.issuance.store import DocumentStore, FileDocumentStore
from certsvc.keys.files import Passphrase
from certsvc.keys.service import KeyStore
from certsvc.revocation.status_list import status_entry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker process needs, picklable; the private key is opened in the worker."""

    settings: Settings
    spec: SignerSpec
    keystore: KeyStore
    passphrase: Passphrase | None
    signing_time: datetime
    run: int  # the batch's run number: staged names are unique per run
    coordinator_pid: int


@dataclass(frozen=True)
class CandidateJob:
    item_id: int
    documents: tuple[tuple[int, DocumentRecord], ...]  # (registry row id, record)


@dataclass(frozen=True)
class MadeDocument:
    document_id: int
    staged_name: str
    sha256: str
    size: int
    token: str
    signer_key_id: str


@dataclass(frozen=True)
class CandidateOutcome:
    item_id: int
    made: tuple[MadeDocument, ...] = ()
    error: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)


def staged_name(document_id: int, run: int) -> str:
    return f"d{document_id}.r{run}.pdf"


def document_id_of(name: str) -> int | None:
    """The registry row a staged file belongs to, or None for a name we did not make."""
    head, _, _ = name.partition(".")
    if head.startswith("d") and head[1:].isdigit():
        return int(head[1:])
    return None


class CandidateMaker:
    """A prepared factory and store; ``make`` does one candidate's documents."""

    def __init__(self, setup: WorkerSetup, store: DocumentStore | None = None) -> None:
        settings = setup.settings
        material = open_signing_material(
            setup.spec,
            setup.keystore,
            at=setup.signing_time,
            passphrase=setup.passphrase,
        )
        self.factory = DocumentFactory(
            renderer_for(settings), material, base_url=settings.public_base_url
        )
        self.store: DocumentStore = (
            store if store is not None else FileDocumentStore(settings.document_store_dir).ensure()
        )
        self.run = setup.run
        self.base_url = settings.public_base_url

    def make(self, job: CandidateJob) -> CandidateOutcome:
        made: list[MadeDocument] = []
        totals: dict[str, float] = {}
        try:
            for document_id, record in job.documents:
                # the record names its status-list entry: the row's id, reserved before now
                entry = status_entry(self.base_url, document_id)
                issued = self.factory.make(dataclasses.replace(record, status=entry))
                name = staged_name(document_id, self.run)
                stored = self.store.stage(name, issued.pdf, durable=False)  # see _record
                made.append(
                    MadeDocument(
                        document_id=document_id,
                        staged_name=name,
                        sha256=stored.sha256,
                        size=stored.size,
                        token=issued.token_text,
                        signer_key_id=issued.record.signer_key_id,
                    )
                )
                for step, ms in issued.timings_ms.items():
                    totals[step] = totals.get(step, 0.0) + ms
        except CertsvcError as exc:
            for document in made:
                self.store.discard(document.staged_name)
            return CandidateOutcome(job.item_id, error=str(exc))
        return CandidateOutcome(job.item_id, made=tuple(made), timings_ms=totals)

    def close(self) -> None:
        self.factory.close()


# -- process-pool plumbing ------------------------------------------------------------------

_maker: CandidateMaker | None = None


def init_worker(setup: WorkerSetup) -> None:
    """Pool initialiser: die with the coordinator, ignore Ctrl-C (the coordinator handles
    it), prepare the factory."""
    _die_with_parent()
    if os.getppid() != setup.coordinator_pid:  # the coordinator died before prctl took hold
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _maker
    _maker = CandidateMaker(setup)
    settle_heap()


def settle_heap() -> None:
    """Move everything prepared so far (fonts, layouts, the signer: hundreds of thousands of
    objects) out of the garbage collector's sight. Each document allocates and frees many
    objects, and every full collection would otherwise walk all of them again: measured here,
    that made each document three to four times slower."""
    gc.collect()
    gc.freeze()


def make_candidates(jobs: list[CandidateJob]) -> list[CandidateOutcome]:
    if _maker is None:
        raise RuntimeError("worker used before init_worker")
    return [_maker.make(job) for job in jobs]


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the coordinator dies (SIGKILL included), so a
    killed run leaves no process still writing to the store."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):  # pragma: no cover - libc without prctl
        log.warning("cannot tie worker %s to its parent's life", os.getpid())
