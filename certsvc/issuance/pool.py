"""Where candidates are signed: worker processes, or this process for ``workers=0``.

The coordinator talks to a :class:`SigningPool`: it submits tasks (a few candidates' jobs) and
takes back the outcomes of whichever tasks finish first. :class:`LocalPool` runs them on a
process pool of this machine; ``certsvc.issuance.distributed`` has the Celery one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from datetime import datetime
from multiprocessing import get_context
from types import TracebackType
from typing import Any, Protocol, TypeVar

from certsvc.config import Settings
from certsvc.issuance.recording import RunState
from certsvc.issuance.worker import (
    CandidateJob,
    CandidateMaker,
    CandidateOutcome,
    WorkerSetup,
    init_worker,
    make_candidates,
    settle_heap,
)
from certsvc.keys.files import Passphrase
from certsvc.keys.service import KeyStore

T = TypeVar("T")


class SigningPool(Protocol):
    """Signs tasks of candidate jobs somewhere; used as a context manager."""

    @property
    def capacity(self) -> int:
        """How many tasks are worth keeping in flight."""
        ...

    def submit(self, jobs: list[CandidateJob]) -> None: ...

    def in_flight(self) -> int: ...

    def next_outcomes(self) -> list[CandidateOutcome]:
        """Wait for at least one task to finish; the outcomes of those finished. Their staged
        files are in the coordinator's document store."""
        ...

    def __enter__(self) -> SigningPool: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


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


class LocalPool:
    """Tasks run by an executor of this machine: its futures are the tasks in flight."""

    def __init__(self, executor: Executor, capacity: int) -> None:
        self._executor = executor
        self._capacity = capacity
        self._futures: set[Future[list[CandidateOutcome]]] = set()

    @property
    def capacity(self) -> int:
        return self._capacity

    def submit(self, jobs: list[CandidateJob]) -> None:
        self._futures.add(self._executor.submit(make_candidates, jobs))

    def in_flight(self) -> int:
        return len(self._futures)

    def next_outcomes(self) -> list[CandidateOutcome]:
        done, self._futures = wait(self._futures, return_when=FIRST_COMPLETED)
        return [outcome for future in done for outcome in future.result()]

    def __enter__(self) -> LocalPool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for future in self._futures:
            future.cancel()
        self._executor.shutdown(wait=True)


def executor_for(
    settings: Settings,
    keystore: KeyStore,
    run: RunState,
    passphrase: Passphrase | None,
    workers: int,
    signing_time: datetime,
) -> LocalPool:
    """Worker processes started with ``spawn`` (nothing inherited from the coordinator, which
    may hold an HSM session), or this process when ``workers`` is 0; at most two tasks per
    worker in flight."""
    setup = WorkerSetup(
        settings=settings,
        spec=run.spec,
        keystore=keystore,
        passphrase=passphrase,
        signing_time=signing_time,
        run=run.number,
        coordinator_pid=os.getpid(),
    )
    capacity = max(2, 2 * max(1, workers))
    if workers == 0:
        return LocalPool(_InlineExecutor(setup), capacity)
    return LocalPool(
        ProcessPoolExecutor(
            max_workers=workers,
            mp_context=get_context("spawn"),
            initializer=init_worker,
            initargs=(setup,),
        ),
        capacity,
    )
