"""The worker's side of a chunk: read the reserved rows, sign, answer with the PDFs.

A worker reads the database and never writes it, nor the document store: the coordinator is
the one writer of registry, log and store. So a worker killed at any instant leaves nothing
behind, and two workers signing the same chunk (a redelivered task, a chunk sent again) only
produce two replies, of which the coordinator records the first and drops the other.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from certsvc.agencies.models import Agency
from certsvc.agencies.service import get_agency
from certsvc.config import Settings
from certsvc.db.database import Database
from certsvc.documents.material import SignerSpec
from certsvc.errors import CertsvcError, ConfigError, KeyStoreError
from certsvc.issuance.distributed.messages import Chunk, Reply, SignedCandidate, SignedDocument
from certsvc.issuance.models import BatchItem, BatchStatus, IssuanceBatch, ItemState
from certsvc.issuance.records import load_candidates, record_for, reserved_documents
from certsvc.issuance.store import StoredFile
from certsvc.issuance.worker import CandidateJob, CandidateMaker, WorkerSetup
from certsvc.keys import service as keys
from certsvc.keys.files import Passphrase
from certsvc.keys.models import PublicationKind, TrustPublication
from certsvc.keys.service import KeyStore

log = logging.getLogger(__name__)

MakerKey = tuple[str, str, int, str]  # agency code, signer key id, CRL number, base URL


class CapturedFiles:
    """A document store that keeps what is staged in memory, for the reply."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def stage(self, name: str, data: bytes, *, durable: bool = True) -> StoredFile:
        self.files[name] = data
        return StoredFile(hashlib.sha256(data).hexdigest(), len(data))

    def discard(self, name: str) -> None:
        self.files.pop(name, None)

    def take(self, name: str) -> bytes:
        return self.files.pop(name)

    # the rest of the DocumentStore interface: nothing is ever stored here
    def staged(self) -> list[str]:
        return sorted(self.files)

    def staged_file(self, name: str) -> StoredFile | None:
        data = self.files.get(name)
        return None if data is None else StoredFile(hashlib.sha256(data).hexdigest(), len(data))

    def promote(self, name: str, sha256: str, *, verified: bool = False) -> None:
        raise NotImplementedError("a worker does not promote: the coordinator does")

    def sync(self) -> None:
        return None

    def discard_partials(self) -> int:
        return 0

    def read(self, sha256: str) -> bytes:
        raise NotImplementedError("a worker reads no stored document")

    def exists(self, sha256: str) -> bool:
        return False

    def hashes(self) -> Iterator[str]:
        return iter(())


class ChunkSigner:
    """One per worker process: its database engine, key store and prepared factory."""

    def __init__(
        self, settings: Settings, keystore: KeyStore, passphrase: Passphrase | None, name: str
    ) -> None:
        self.settings = settings
        self.keystore = keystore
        self.passphrase = passphrase
        self.name = name
        self.db = Database(settings.sqlalchemy_url)
        self.files = CapturedFiles()
        self._maker: CandidateMaker | None = None
        self._key: MakerKey | None = None

    def prepare(self) -> None:
        """Prepare the factory for the default agency's current signer now, so that the first
        chunk does not wait for fonts and key (a chunk for another signer prepares again)."""
        now = datetime.now(UTC)
        with self.db.session() as session:
            agency = get_agency(session, self.settings.agency_code)
            signer = keys.signer_for(session, agency.code, now)
            crl = keys.latest_publication(session, PublicationKind.CRL)
            if crl is None:
                raise KeyStoreError("no CRL has been published yet (`certsvc keys publish-crl`)")
            key = (agency.code, signer.key_id, crl.number, self._base_url())
            spec = self._spec_unless_prepared(session, agency, key)
        if spec is not None:
            self._prepare(key, spec)

    def sign(self, chunk: Chunk) -> Reply | None:
        """The reply to ``chunk``, or None when its run is over (nobody waits for it)."""
        try:
            with self.db.session() as session:
                batch = session.get(IssuanceBatch, chunk.batch_id)
                if (
                    batch is None
                    or batch.runs != chunk.run
                    or batch.status is not BatchStatus.APPROVED
                ):
                    return None
                agency = session.get(Agency, batch.agency_id)
                assert agency is not None
                jobs = self._jobs(session, agency, chunk)
                key = (agency.code, chunk.signer_key_id, chunk.crl_number, chunk.base_url)
                spec = self._spec_unless_prepared(session, agency, key)
            maker = self._prepare(key, spec)
        except CertsvcError as exc:
            return Reply(chunk.chunk_id, chunk.batch_id, chunk.run, self.name, error=str(exc))
        found = {job.item_id for job in jobs}
        return Reply(
            chunk.chunk_id,
            chunk.batch_id,
            chunk.run,
            self.name,
            candidates=tuple(self._make(maker, job) for job in jobs),
            missing=tuple(item for item in chunk.item_ids if item not in found),
        )

    def close(self) -> None:
        if self._maker is not None:
            self._maker.close()
        self.db.dispose()

    def _jobs(self, session: Session, agency: Agency, chunk: Chunk) -> list[CandidateJob]:
        items = session.exec(
            select(BatchItem)
            .where(
                col(BatchItem.id).in_(chunk.item_ids),
                BatchItem.batch_id == chunk.batch_id,
                BatchItem.state == ItemState.RESERVED,
            )
            .order_by(col(BatchItem.id))
        ).all()
        candidates = load_candidates(session, items)
        documents = reserved_documents(session, [item.id or 0 for item in items])
        return [
            CandidateJob(
                item_id=candidate.item.id or 0,
                documents=tuple(
                    (document.id or 0, record_for(document, candidate, agency))
                    for document in documents[candidate.item.id or 0]
                ),
            )
            for candidate in candidates
        ]

    def _make(self, maker: CandidateMaker, job: CandidateJob) -> SignedCandidate:
        outcome = maker.make(job)
        documents = tuple(
            SignedDocument(
                document_id=made.document_id,
                sha256=made.sha256,
                token=made.token,
                signer_key_id=made.signer_key_id,
                pdf=self.files.take(made.staged_name),
            )
            for made in outcome.made
        )
        self.files.files.clear()
        return SignedCandidate(job.item_id, documents, outcome.error, outcome.timings_ms)

    def _base_url(self) -> str:
        return self.settings.public_base_url

    def _spec_unless_prepared(
        self, session: Session, agency: Agency, key: MakerKey
    ) -> SignerSpec | None:
        if self._maker is not None and self._key == key:
            return None
        _, key_id, crl_number, base_url = key
        if base_url != self._base_url():
            raise ConfigError(
                f"this worker's CERTSVC_PUBLIC_BASE_URL is {self._base_url()}, the run's is "
                f"{base_url}: a worker needs the coordinator's settings"
            )
        return self._spec(session, agency, key_id, crl_number)

    def _prepare(self, key: MakerKey, spec: SignerSpec | None) -> CandidateMaker:
        if spec is None and self._maker is not None:
            return self._maker
        assert spec is not None
        if self._maker is not None:
            self._maker.close()
            self._maker, self._key = None, None
        setup = WorkerSetup(
            settings=self.settings,
            spec=spec,
            keystore=self.keystore,
            passphrase=self.passphrase,
            signing_time=datetime.now(UTC),
            run=0,
            coordinator_pid=0,
        )
        self._maker = CandidateMaker(setup, store=self.files)
        self._key = key
        log.info("prepared to sign with %s (CRL %s)", spec.signer.key_id, spec.crl_number)
        return self._maker

    def _spec(self, session: Session, agency: Agency, key_id: str, crl_number: int) -> SignerSpec:
        """Exactly the signer and CRL the run signs with (not whatever is newest now)."""
        signer = keys.get_signer(session, key_id)
        if signer.agency_id != agency.id:
            raise KeyStoreError(f"signer {key_id} does not belong to agency {agency.code}")
        crl = session.exec(
            select(TrustPublication).where(
                TrustPublication.kind == PublicationKind.CRL,
                TrustPublication.number == crl_number,
            )
        ).first()
        if crl is None:
            raise KeyStoreError(f"CRL number {crl_number} is not in the database")
        return SignerSpec(
            signer=signer.model_copy(),
            root_pem=keys.current_root(session).certificate_pem,
            crl_der=crl.content,
            crl_number=crl.number,
            crl_next_update=crl.next_update,
            agency_code=agency.code,
            agency_name=agency.name,
            tsa_url=self.settings.tsa_url,
            tsa_trust_roots=self.settings.tsa_trust_roots,
        )
