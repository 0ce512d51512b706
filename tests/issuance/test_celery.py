"""Batches signed by real Celery workers: PostgreSQL, a real broker (Redis and RabbitMQ), two
``certsvc worker`` processes, and the invariants of a local run however they are stopped.

* One worker is SIGKILLed (its whole process group) once the registry shows the run under
  way; the other finishes the batch. Then the coordinator is SIGKILLed mid-run and the batch
  run again, as an operator would.
* Every chunk is delivered twice, so two workers sign the same candidates at once: one
  reply is recorded, the other dropped.
* A dead broker, and a broker with no worker, end the run at once with a clear message.

The brokers are the ones on this machine (``.ci/run`` starts them and sets
``CERTSVC_TEST_REDIS_URL`` and ``CERTSVC_TEST_AMQP_URL``); each test uses a signing queue of
its own, so tests running side by side never take each other's chunks.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import func, select

from certsvc.config import Settings
from certsvc.db.database import Database, create_engine
from certsvc.db.schema import metadata
from certsvc.errors import BrokerError
from certsvc.issuance.models import BatchItem, ItemState
from certsvc.issuance.runner import run_batch
from tests.issuance.conftest import SIGNER, World, build_world
from tests.issuance.invariants import assert_issued_exactly_once, issued_items

BROKERS = {
    "redis": os.environ.get("CERTSVC_TEST_REDIS_URL", ""),
    "amqp": os.environ.get("CERTSVC_TEST_AMQP_URL", ""),
}
TIMEOUT_SECONDS = 8  # CERTSVC_BROKER_TIMEOUT in these tests: an unanswered chunk goes again
POLL_SECONDS = 0.01
RUN_TIMEOUT_SECONDS = 300


def _broker_answers(url: str) -> str | None:
    """Why the broker at ``url`` cannot be used, or None."""
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1, timeout=5)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(params=sorted(BROKERS))
def broker_url(request: pytest.FixtureRequest) -> str:
    url = BROKERS[request.param]
    variable = f"CERTSVC_TEST_{request.param.upper()}_URL"
    if not url:
        pytest.skip(f"{variable} is not set (.ci/run starts the broker and sets it)")
    problem = _broker_answers(url)
    if problem:
        pytest.skip(f"the broker {variable} names does not answer: {problem}")
    return url


@pytest.fixture
def database_url(postgres_url: str) -> str:
    """PostgreSQL only (the tests' own database, emptied): workers and coordinator are
    separate processes on one database, as in production."""
    engine = create_engine(postgres_url)
    with engine.begin() as connection:
        names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
        connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return postgres_url


@pytest.fixture
def queue() -> str:
    return f"certsvc-test-{uuid.uuid4().hex[:10]}.sign"


@pytest.fixture
def celery_settings(settings: Settings, broker_url: str, queue: str) -> Settings:
    return Settings.from_env(
        {},
        data_dir=settings.data_dir,
        database_url=settings.database_url,
        key_dir=settings.key_dir,
        broker_url=broker_url,
        broker_queue=queue,
        broker_timeout=TIMEOUT_SECONDS,
    )


def _environment(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "CERTSVC_DATA_DIR": str(settings.data_dir),
        "CERTSVC_DATABASE_URL": settings.sqlalchemy_url,
        "CERTSVC_KEY_DIR": str(settings.key_dir),
        "CERTSVC_BROKER_URL": settings.broker_url,
        "CERTSVC_BROKER_QUEUE": settings.broker_queue,
        "CERTSVC_BROKER_TIMEOUT": str(settings.broker_timeout),
        "CERTSVC_ACTOR": SIGNER.removeprefix("test:"),
    }


def _certsvc(*args: str) -> list[str]:
    return [sys.executable, "-c", "from certsvc.cli import main; main()", *args]


class Workers:
    """``certsvc worker`` processes, each in a process group of its own, each with its log."""

    def __init__(self, settings: Settings, folder: Path) -> None:
        self.settings = settings
        self.folder = folder
        self.processes: list[subprocess.Popen[bytes]] = []

    def log(self, index: int) -> Path:
        return self.folder / f"worker-{index}.log"

    def start(self, count: int) -> None:
        passphrase = self.settings.data_dir / "demo" / "signer.pass"
        for _ in range(count):
            log = self.log(len(self.processes))
            self.processes.append(
                subprocess.Popen(
                    _certsvc("worker", "--concurrency", "1", "--passphrase-file", str(passphrase)),
                    env=_environment(self.settings),
                    stdout=log.open("ab"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        self.wait_answering(len(self.live()))

    def live(self) -> list[subprocess.Popen[bytes]]:
        return [process for process in self.processes if process.poll() is None]

    def wait_answering(self, count: int) -> None:
        from certsvc.issuance.distributed.app import make_app
        from certsvc.issuance.distributed.coordinator import _workers_on

        app = make_app(self.settings)
        deadline = time.monotonic() + 120
        while len(_workers_on(app, self.settings.broker_queue)) < count:
            dead = [p.pid for p in self.processes if p.poll() is not None]
            assert not dead, f"workers {dead} died: {self.tail()}"
            assert time.monotonic() < deadline, f"workers did not answer: {self.tail()}"

    def kill(self, index: int) -> None:
        process = self.processes[index]
        os.killpg(process.pid, signal.SIGKILL)  # the worker and its pool process
        process.wait()

    def stop(self) -> None:
        for process in self.live():
            os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def chunks(self, index: int) -> tuple[list[str], set[str]]:
        """The chunks worker ``index`` received (in order) and those it is done with (answered,
        or dropped as a killed run's)."""
        text = self.log(index).read_text(errors="replace")
        received = re.findall(r"Task certsvc\.sign_chunk\[([0-9a-f]+)-\d+\] received", text)
        answered = set(
            re.findall(r"chunk ([0-9a-f]+) of batch \d+ run \d+: (?:replied|dropped)", text)
        )
        return received, answered

    def kill_holding_a_chunk(self, run: subprocess.Popen[bytes]) -> tuple[str, int]:
        """SIGKILL a worker while it holds a chunk it has not answered; that chunk. (Should
        it answer between the look and the kill, another worker is started and the next one
        killed instead.)"""
        deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
        victim = 0
        while True:
            received, answered = self.chunks(victim)
            if received and received[-1] not in answered:
                self.kill(victim)
                received, answered = self.chunks(victim)
                held = [chunk for chunk in received if chunk not in answered]
                if held:
                    assert len(held) == 1, held  # one task at a time per process
                    return held[0], victim
                self.start(1)
                victim = len(self.processes) - 1
            assert run.poll() is None, "the run ended before a worker could be killed"
            assert time.monotonic() < deadline, f"no worker took a chunk: {self.tail()}"
            time.sleep(POLL_SECONDS)

    def answered_by_others(self, chunk: str, killed: int) -> bool:
        return any(
            re.search(f"chunk {chunk} of batch \\d+ run \\d+: replied", self.log(index).read_text())
            for index in range(len(self.processes))
            if index != killed
        )

    def tail(self) -> str:
        return "".join(
            f"--- worker {index}\n" + self.log(index).read_text(errors="replace")[-2000:]
            for index in range(len(self.processes))
        )


@pytest.fixture
def workers(celery_settings: Settings, tmp_path: Path) -> Iterator[Workers]:
    started = Workers(celery_settings, tmp_path)
    yield started
    started.stop()
    _drop_queues(celery_settings)


def _drop_queues(settings: Settings) -> None:
    """Remove what this test left on the shared broker: its signing queue (and the tasks a
    killed worker held), its reply queues."""
    url = settings.broker_url
    names = [settings.broker_queue] + [
        f"{settings.broker_queue}.replies.batch-{batch}" for batch in range(1, 4)
    ]
    if url.startswith("redis"):
        import redis

        client = redis.Redis.from_url(url)
        queue = settings.broker_queue
        client.delete(*names, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
        for tag, payload in client.hscan_iter("unacked"):  # tasks a killed worker held
            if queue.encode() in payload:
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)
        client.close()
        return
    from kombu import Connection

    with Connection(url) as connection:
        channel = connection.default_channel
        for name in names:
            try:
                channel.queue_delete(name)
            except connection.channel_errors:
                channel = connection.channel()


def _total(world: World, batch_id: int) -> int:
    with world.db.session() as session:
        return session.exec(select(func.count()).where(BatchItem.batch_id == batch_id)).one()


def _start_run(settings: Settings, batch_id: int, log: Path) -> subprocess.Popen[bytes]:
    passphrase = settings.data_dir / "demo" / "signer.pass"
    return subprocess.Popen(
        _certsvc("batch", "run", str(batch_id), "--passphrase-file", str(passphrase)),
        env=_environment(settings),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait_for(world: World, batch_id: int, issued: int, run: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while issued_items(world, batch_id) < issued:
        assert run.poll() is None, f"the run ended (code {run.returncode}) before {issued}"
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(POLL_SECONDS)


def _assert_invariants(world: World, batch_id: int) -> None:
    total = _total(world, batch_id)
    assert_issued_exactly_once(world, batch_id, total)
    with world.db.session() as session:
        items = session.exec(select(BatchItem.state).where(BatchItem.batch_id == batch_id)).all()
    assert set(items) == {ItemState.ISSUED}


@pytest.fixture
def big_world(settings: Settings, db: Database) -> World:
    return build_world(settings, db, rows=240, seed=13)


@pytest.mark.slow
@pytest.mark.postgres
def test_a_killed_worker_and_a_killed_coordinator_leave_one_document_each(
    big_world: World, celery_settings: Settings, workers: Workers, tmp_path: Path
) -> None:
    world = big_world
    batch_id = world.approved_batch()
    total = _total(world, batch_id)
    workers.start(2)
    log = tmp_path / "runs.log"

    first = _start_run(celery_settings, batch_id, log)
    _wait_for(world, batch_id, total // 5, first)
    os.killpg(first.pid, signal.SIGKILL)  # the coordinator, mid-run: its chunks are orphans
    first.wait()
    at_kill = issued_items(world, batch_id)
    assert at_kill < total

    again = _start_run(celery_settings, batch_id, log)  # as an operator would
    _wait_for(world, batch_id, at_kill + total // 5, again)
    chunk, victim = workers.kill_holding_a_chunk(again)
    # another worker signs that chunk in this run: redelivered by the broker (RabbitMQ), or
    # sent again by the coordinator once CERTSVC_BROKER_TIMEOUT has passed (Redis keeps a
    # dead consumer's task until its visibility timeout)
    assert again.wait(timeout=RUN_TIMEOUT_SECONDS) == 0, (
        log.read_text(errors="replace")[-3000:] + workers.tail()
    )
    assert workers.answered_by_others(chunk, victim), workers.tail()
    _assert_invariants(world, batch_id)


@pytest.mark.slow
@pytest.mark.postgres
def test_a_chunk_delivered_twice_is_recorded_once(
    world: World,
    celery_settings: Settings,
    workers: Workers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from certsvc.issuance.distributed import coordinator

    pools: list[coordinator.CeleryPool] = []
    original_init = coordinator.CeleryPool.__init__
    original_send = coordinator.CeleryPool._send

    def keep(self: coordinator.CeleryPool, *args: object) -> None:
        original_init(self, *args)  # type: ignore[arg-type]
        pools.append(self)

    def twice(self: coordinator.CeleryPool, pending: coordinator._Pending) -> None:
        original_send(self, pending)
        original_send(self, pending)  # another task id, the same chunk: both workers sign it

    monkeypatch.setattr(coordinator.CeleryPool, "__init__", keep)
    monkeypatch.setattr(coordinator.CeleryPool, "_send", twice)
    workers.start(2)
    batch_id = world.approved_batch()
    report = run_batch(
        world.db,
        celery_settings,
        world.ctx.keystore,
        batch_id,
        world.options(distributed=True, deliver_notifications=False),
    )
    assert report.issued == _total(world, batch_id)
    (pool,) = pools
    # every chunk was answered twice; the second answer of each is dropped unwritten (the
    # last ones may still be on their way when the run ends)
    assert pool.duplicates >= 1
    assert pool.resent == 0
    _assert_invariants(world, batch_id)


def test_a_dead_broker_is_named_at_once(world: World, tmp_path: Path) -> None:
    settings = Settings.from_env(
        {},
        data_dir=world.settings.data_dir,
        database_url=world.settings.database_url,
        key_dir=world.settings.key_dir,
        broker_url="redis://:s3cret@127.0.0.1:9/0",  # the discard port: nothing listens
        broker_timeout=2,
    )
    batch_id = world.approved_batch()
    started = time.monotonic()
    with pytest.raises(BrokerError, match=r"cannot use the broker redis://:\*\*\*@127\.0\.0\.1:9"):
        run_batch(world.db, settings, world.ctx.keystore, batch_id, world.options(distributed=True))
    assert time.monotonic() - started < 30
    with world.db.session() as session:  # refused before the run was counted
        assert session.exec(select(func.count()).where(BatchItem.batch_id == batch_id)).one()
        assert issued_items(world, batch_id) == 0


@pytest.mark.postgres
def test_no_worker_on_the_queue_is_named(
    world: World, celery_settings: Settings, broker_url: str
) -> None:
    settings = Settings.from_env(
        {},
        data_dir=celery_settings.data_dir,
        database_url=celery_settings.database_url,
        key_dir=celery_settings.key_dir,
        broker_url=broker_url,
        broker_queue=celery_settings.broker_queue,
        broker_timeout=2,
    )
    batch_id = world.approved_batch()
    started = time.monotonic()
    with pytest.raises(BrokerError, match="no `certsvc worker` answered on queue"):
        run_batch(world.db, settings, world.ctx.keystore, batch_id, world.options(distributed=True))
    assert time.monotonic() - started < 30


def test_the_web_and_the_command_line_do_not_load_celery() -> None:
    code = (
        "import sys, certsvc.web.app, certsvc.cli, certsvc.issuance.runner; "
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('celery', 'kombu')); "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
