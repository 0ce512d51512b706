"""``certsvc worker``: a Celery worker that signs chunks of batches from the signing queue.

The main process checks that it can sign (database, the agency's current signer, its key and
passphrase) before it starts; each pool process then prepares its factory once (fonts,
layouts, its own handle on the key) as the local pool's workers do, and answers each chunk on
the batch's reply queue (``signing.ChunkSigner``). Celery is imported only here and by a
coordinator that runs a batch on workers: the web process never loads it.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from celery.signals import worker_process_init, worker_process_shutdown
from celery.worker.control import control_command

from certsvc.agencies.service import get_agency
from certsvc.config import Settings, mask_url_password
from certsvc.db.database import Database
from certsvc.issuance.distributed.app import SIGN_CHUNK, WORKER_INFO, make_app
from certsvc.issuance.distributed.messages import Chunk, MessageError, Reply
from certsvc.issuance.distributed.replies import ReplyChannel, reply_channel, reply_queue_name
from certsvc.issuance.distributed.signing import ChunkSigner
from certsvc.issuance.worker import _die_with_parent, settle_heap
from certsvc.keys import service as keys
from certsvc.keys.files import Passphrase
from certsvc.keys.models import KeyBackend
from certsvc.keys.service import KeyStore, keystore_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerConfig:
    settings: Settings
    passphrase: Passphrase | None
    concurrency: int
    hostname: str


_config: WorkerConfig | None = None  # set in the main process, inherited by the pool's forks
_signer: ChunkSigner | None = None  # one per pool process
_replies: ReplyChannel | None = None


def check_can_sign(settings: Settings, keystore: KeyStore, passphrase: Passphrase | None) -> str:
    """Refuse to start a worker that could not sign: the database, the default agency's
    current signer and (for a key file) its passphrase. What it will sign with, as text."""
    now = datetime.now(UTC)
    db = Database(settings.sqlalchemy_url)
    try:
        db.require_migrated()
        with db.session() as session:
            agency = get_agency(session, settings.agency_code)
            signer = keys.signer_for(session, agency.code, now)
        if signer.backend is KeyBackend.FILE:  # an HSM session is opened in each process only
            keys.open_signer(keystore, signer, at=now, passphrase=passphrase)
    finally:
        db.dispose()
    return f"agency {agency.code}, signer {signer.key_id} ({signer.backend.value})"


def run_worker(
    settings: Settings,
    *,
    concurrency: int,
    passphrase: Passphrase | None,
    loglevel: str = "INFO",
    announce: Any = print,
) -> int:
    """Start the worker and serve until it is stopped; its exit code."""
    global _config
    keystore = keystore_for(settings.key_dir, settings.public_base_url)
    what = check_can_sign(settings, keystore, passphrase)
    app = make_app(settings)
    app.task(
        name=SIGN_CHUNK,
        acks_late=True,
        reject_on_worker_lost=True,
        ignore_result=True,
    )(sign_chunk)
    hostname = f"certsvc-{os.getpid()}@{socket.gethostname()}"
    _config = WorkerConfig(settings, passphrase, concurrency, hostname)
    worker_process_init.connect(_init_process, weak=False)
    worker_process_shutdown.connect(_shutdown_process, weak=False)
    announce(
        f"certsvc worker {hostname}: {concurrency} signing process(es) for {what}, queue "
        f"{settings.broker_queue} on {mask_url_password(settings.broker_url)}"
    )
    worker = app.Worker(
        hostname=hostname,
        concurrency=concurrency,
        queues=[settings.broker_queue],
        pool_cls="prefork",
        loglevel=loglevel,
        without_gossip=True,
        without_mingle=True,
        without_heartbeat=True,
        optimization="fair",
        quiet=True,
    )
    worker.start()
    return int(worker.exitcode or 0)


@control_command()
def certsvc_worker_info(state: Any) -> dict[str, Any]:
    """Which signing queue this worker consumes and with how many processes."""
    if _config is None:
        return {"queue": None}
    return {
        "queue": _config.settings.broker_queue,
        "concurrency": _config.concurrency,
        "pid": os.getpid(),
    }


assert certsvc_worker_info.__name__ == WORKER_INFO


def sign_chunk(message: dict[str, Any]) -> str:
    """The Celery task: sign one chunk and push the reply; what happened, for the log."""
    assert _config is not None
    try:
        chunk = Chunk.from_json(message)
    except MessageError as exc:
        log.error("refused a task that is not a certsvc chunk: %s", exc)
        return "refused"
    expected = reply_queue_name(_config.settings.broker_queue, chunk.batch_id)
    if chunk.reply_to != expected:
        log.error("refused chunk %s: it asks for replies on %s", chunk.chunk_id, chunk.reply_to)
        return "refused"
    reply: Reply | None
    try:
        reply = _process_signer().sign(chunk)
    except Exception as exc:  # a bug or an outage: tell the coordinator rather than vanish
        log.exception("chunk %s failed", chunk.chunk_id)
        reply = Reply(
            chunk.chunk_id,
            chunk.batch_id,
            chunk.run,
            _config.hostname,
            error=f"worker {_config.hostname} failed: {exc!r}",
        )
    if reply is None:  # its run is over: nobody is waiting for it
        log.info(
            "chunk %s of batch %s run %s: dropped, that run is over",
            chunk.chunk_id,
            chunk.batch_id,
            chunk.run,
        )
        return "stale"
    _process_replies().send(chunk.reply_to, reply.encode())
    log.info(
        "chunk %s of batch %s run %s: replied (%d signed, %d missing%s)",
        chunk.chunk_id,
        chunk.batch_id,
        chunk.run,
        len(reply.candidates),
        len(reply.missing),
        f", error: {reply.error}" if reply.error else "",
    )
    return "signed" if reply.error is None else "error"


def _process_signer() -> ChunkSigner:
    global _signer
    assert _config is not None
    if _signer is None:
        settings = _config.settings
        _signer = ChunkSigner(
            settings,
            keystore_for(settings.key_dir, settings.public_base_url),
            _config.passphrase,
            _config.hostname,
        )
    return _signer


def _process_replies() -> ReplyChannel:
    global _replies
    assert _config is not None
    if _replies is None:
        settings = _config.settings
        _replies = reply_channel(settings.broker_url, settings.broker_timeout)
    return _replies


def _init_process(**_: Any) -> None:
    """In each pool process, after the fork: die with the worker, prepare the factory (a
    failure here is only logged: each chunk prepares what it needs and reports what fails)."""
    _die_with_parent()
    try:
        _process_signer().prepare()
    except Exception:
        log.exception("this process could not prepare to sign yet")
    settle_heap()


def _shutdown_process(**_: Any) -> None:
    if _signer is not None:
        _signer.close()
    if _replies is not None:
        _replies.close()
