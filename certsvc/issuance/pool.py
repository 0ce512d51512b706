"""Where candidates are signed: worker processes, or this process for ``workers=0``."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from datetime import datetime
from multiprocessing import get_context
from typing import Any, TypeVar

from certsvc.config import Settings
from certsvc.issuance.recording import RunState
from certsvc.issuance.worker import (
    CandidateJob,
    CandidateMaker,
    WorkerSetup,
    init_worker,
    settle_heap,
)
from certsvc.keys.files import Passphrase
from certsvc.keys.service import KeyStore

T = TypeVar("T")


class _InlineExecutor(Executor):
    """Runs tasks in this process (``workers=0``): same code path, no pool."""

    def __init__(self, setup: WorkerSetup) -> None:
        self._maker = CandidateMaker(setup)
        settle_heap()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        jobs: list[CandidateJob] = args[0]
        future.set_result([self._maker.make(job) for job in jobs])  # type: ignore[arg-type]
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._maker.close()


def executor_for(
    settings: Settings,
    keystore: KeyStore,
    run: RunState,
    passphrase: Passphrase | None,
    workers: int,
    signing_time: datetime,
) -> Executor:
    """Worker processes started with ``spawn`` (nothing inherited from the coordinator, which
    may hold an HSM session), or this process when ``workers`` is 0."""
    setup = WorkerSetup(
        settings=settings,
        spec=run.spec,
        keystore=keystore,
        passphrase=passphrase,
        signing_time=signing_time,
        run=run.number,
        coordinator_pid=os.getpid(),
    )
    if workers == 0:
        return _InlineExecutor(setup)
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=get_context("spawn"),
        initializer=init_worker,
        initargs=(setup,),
    )
