#!/usr/bin/env python3
"""Issuance batch benchmark: generate N candidates, run the batch, print persons per second and
peak memory; and the same run's per-document baseline, spread over the cores.

    .venv/bin/python scripts/bench_batch.py --count 1000 --count 10000 [--workers 2]
    .venv/bin/python scripts/bench_batch.py --count 1000 --postgres postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python scripts/bench_batch.py --count 1000 --workers 1 --workers 2 \
        --postgres postgresql://postgres@127.0.0.1:5432/test \
        --celery redis://127.0.0.1:6379/9 --also-local

With several ``--workers`` the batch runs once per count (each on fresh data) and the ratio of
the rates is printed (2 vs 1: how well the work spreads). ``--celery BROKER`` signs on that
many ``certsvc worker --concurrency 1`` processes (started before the run and ready, as in
production, so their start-up is not timed) instead of the local pool; ``--also-local`` runs
the local pool with the same counts too.

For each N, in a fresh folder (and, with --postgres, a fresh database): the demo's roster of N
rows is imported, publicised, closed; keys are made; a batch is created and approved. The batch
then runs in a child process (``certsvc batch run``: coordinator + worker processes), whose
peak resident memory is read from the kernel: the coordinator's own and the largest worker's.

The baseline is measured in the same run: one process makes documents with the same factory
the workers use, and ``cores / (2 × seconds per document)`` is the persons per second that
figure allows when spread perfectly over the cores (a person is a certificate and a notice).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import click
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchlib import throwaway_postgres

from certsvc.cli.context import CliContext
from certsvc.config import Settings
from certsvc.demo import run_demo
from certsvc.documents.factory import DocumentFactory
from certsvc.documents.record import DocumentType, sample_record
from certsvc.documents.render import Renderer
from certsvc.issuance.batches import approve_batch, create_batch
from certsvc.roster.models import ReviewSession
from tests.documents.conftest import BASE_URL, make_chain

CHILD = """
import json, resource, sys
from certsvc.cli import main
code = 0
try:
    main()
except SystemExit as exit:
    code = exit.code or 0
print(json.dumps({
    "coordinator_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "largest_worker_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
}), file=sys.stderr)
sys.exit(code)
"""


def _baseline_ms(documents: int = 200) -> float:
    factory = DocumentFactory(Renderer.create(), make_chain().material(), base_url=BASE_URL)
    kinds = list(DocumentType)
    for i in range(20):
        factory.make(sample_record(document_type=kinds[i % 2]))
    times = []
    for i in range(documents):
        started = time.perf_counter()
        factory.make(sample_record(document_type=kinds[i % 2]))
        times.append((time.perf_counter() - started) * 1000)
    factory.close()
    return statistics.mean(times)


def _prepare(settings: Settings, count: int) -> int:
    ctx = CliContext(settings=settings, actor_override="bench")
    with contextlib.redirect_stdout(io.StringIO()):
        ctx.console.file = io.StringIO()
        run_demo(ctx, rows=count, seed=2024, issue=False)
    with ctx.db.session() as session:
        ids = [i for i in session.exec(sa.select(ReviewSession.id)).scalars() if i is not None]
        batch = create_batch(
            session, agency_code=settings.agency_code, session_ids=ids, actor="bench:operator"
        )
        assert batch.id is not None
        approve_batch(session, batch.id, actor="bench:approver")
        batch_id, candidates = batch.id, batch.candidates
    ctx.db.dispose()
    print(f"  prepared: {count} rows, {candidates} candidates in batch {batch_id}")
    return batch_id


def _environment(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "CERTSVC_DATA_DIR": str(settings.data_dir),
        "CERTSVC_KEY_DIR": str(settings.key_dir),
        "CERTSVC_DATABASE_URL": settings.database_url,
        "CERTSVC_BROKER_URL": settings.broker_url,
        "CERTSVC_BROKER_QUEUE": settings.broker_queue,
        "CERTSVC_ACTOR": "bench-signer",
    }


@contextlib.contextmanager
def _celery_workers(settings: Settings, count: int, log: Path) -> Iterator[list[int]]:
    """``count`` ``certsvc worker --concurrency 1`` processes, answering; their pids."""
    from certsvc.issuance.distributed.app import make_app
    from certsvc.issuance.distributed.coordinator import _workers_on

    passphrase = settings.data_dir / "demo" / "signer.pass"
    processes = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [
                sys.executable,
                "-c",
                "from certsvc.cli import main; main()",
                "worker",
                "--concurrency",
                "1",
                "--loglevel",
                "WARNING",
                "--passphrase-file",
                str(passphrase),
            ],
            env=_environment(settings),
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for _ in range(count)
    ]
    try:
        app = make_app(settings)
        deadline = time.monotonic() + 120
        while len(_workers_on(app, settings.broker_queue)) < count:
            if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
                raise SystemExit(f"celery workers did not start:\n{log.read_text()[-3000:]}")
        yield [p.pid for p in processes]
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        _drop_queue(settings)


def _drop_queue(settings: Settings) -> None:
    """Remove this run's signing queue from the broker (a fresh name each run)."""
    queue = settings.broker_queue
    if settings.broker_url.startswith("redis"):
        import redis

        client = redis.Redis.from_url(settings.broker_url)
        client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
        client.close()
        return
    from kombu import Connection

    with Connection(settings.broker_url) as connection, contextlib.suppress(Exception):
        connection.default_channel.queue_delete(queue)


def _family(pids: list[int]) -> list[int]:
    """``pids`` and their children (a Celery worker's pool processes)."""
    family = list(pids)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent in pids:
            family.append(int(stat.parent.name))
    return family


def _peak_kib(pids: list[int]) -> int:
    peak = 0
    for pid in _family(pids):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
    return peak


def _run(
    settings: Settings, batch_id: int, workers: int, celery_pids: list[int] | None = None
) -> dict[str, float]:
    env = _environment(settings)
    command = [
        sys.executable,
        "-c",
        CHILD,
        "batch",
        "run",
        str(batch_id),
        *([] if celery_pids is not None else ["--local", "--workers", str(workers)]),
        "--no-notify",
        "--passphrase-file",
        str(settings.data_dir / "demo" / "signer.pass"),
    ]
    started = time.perf_counter()
    finished = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        command, env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if finished.returncode != 0:
        raise SystemExit(f"batch run failed:\n{finished.stdout}\n{finished.stderr}")
    memory = json.loads(finished.stderr.strip().splitlines()[-1])
    if celery_pids is not None:
        memory["largest_worker_kib"] = _peak_kib(celery_pids)
    report = json.loads((settings.data_dir / "reports" / f"batch-{batch_id}.json").read_text())
    run = report["last_run"]
    return {
        "issued": report["issued"],
        "seconds": run["seconds"],
        "persons_per_second": run["persons_per_second"],
        "coordinator_cpu_ms": 1000 * run["coordinator_cpu_seconds"] / max(1, run["candidates"]),
        "sign_ms": run["timings_ms"].get("sign", 0.0) / max(1, 2 * run["candidates"]),
        "render_ms": run["timings_ms"].get("render", 0.0) / max(1, 2 * run["candidates"]),
        "qr_ms": run["timings_ms"].get("qr", 0.0) / max(1, 2 * run["candidates"]),
        "wall_seconds": elapsed,
        "coordinator_mib": memory["coordinator_kib"] / 1024,
        "worker_mib": memory["largest_worker_kib"] / 1024,
    }


def _one(count: int, workers: int, postgres: str, broker: str, cores: int, allowed: float) -> float:
    where = "PostgreSQL" if postgres else "SQLite"
    how = f"{workers} Celery workers ({broker.split('://')[0]})" if broker else f"{workers} workers"
    print(f"N = {count} ({where}, {how})")
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="certsvc-")))
        url = stack.enter_context(throwaway_postgres(postgres)) if postgres else ""
        settings = Settings.from_env(
            {},
            data_dir=folder / "data",
            key_dir=folder / "keys",
            database_url=url,
            broker_url=broker,
            broker_queue=f"certsvc-bench-{uuid.uuid4().hex[:8]}.sign",
        )
        batch_id = _prepare(settings, count)
        pids = (
            stack.enter_context(_celery_workers(settings, workers, folder / "workers.log"))
            if broker
            else None
        )
        figures = _run(settings, batch_id, workers, pids)
    rate = figures["persons_per_second"]
    print(
        f"  {figures['issued']:.0f} persons in {figures['seconds']:.1f} s: "
        f"{rate:.1f} persons/s ({rate / allowed:.0%} of the baseline spread over {cores} "
        f"cores); peak memory: coordinator {figures['coordinator_mib']:.0f} MiB, largest "
        f"worker {figures['worker_mib']:.0f} MiB"
    )
    print(
        f"  in the workers, per document: qr {figures['qr_ms']:.1f} ms, render "
        f"{figures['render_ms']:.1f} ms, sign {figures['sign_ms']:.1f} ms; the coordinator's "
        f"CPU per person: {figures['coordinator_cpu_ms']:.1f} ms"
    )
    return float(rate)


@click.command()
@click.option("--count", "counts", type=int, multiple=True, default=(1000, 10000))
@click.option(
    "--workers",
    "worker_counts",
    type=click.IntRange(min=1),
    multiple=True,
    help="Signing processes; several: one run each and the ratio of their rates.",
)
@click.option("--postgres", default="", help="Run on fresh databases on this PostgreSQL server.")
@click.option(
    "--celery",
    "broker",
    default="",
    metavar="BROKER_URL",
    help="Sign on Celery workers (certsvc worker --concurrency 1 each) through this broker.",
)
@click.option("--also-local", is_flag=True, help="With --celery: the local pool's runs too.")
def main(
    counts: tuple[int, ...],
    worker_counts: tuple[int, ...],
    postgres: str,
    broker: str,
    also_local: bool,
) -> None:
    baseline = _baseline_ms()
    cores = os.cpu_count() or 1
    allowed = cores * 1000 / (2 * baseline)
    print(
        f"baseline: {baseline:.2f} ms per document on one core (render + QR + sign, same run); "
        f"{cores} cores allow {allowed:.1f} persons/s"
    )
    modes = [broker] + ([""] if broker and also_local else [])
    for count in counts:
        for mode in modes:
            rates = [
                _one(count, workers, postgres, mode, cores, allowed)
                for workers in (worker_counts or (cores,))
            ]
            if len(rates) > 1:
                name = "Celery workers" if mode else "local pool"
                print(
                    f"  => {name}, N = {count}: {worker_counts[-1]} vs {worker_counts[0]} "
                    f"workers: {rates[-1]:.1f} / {rates[0]:.1f} persons/s = "
                    f"{rates[-1] / rates[0]:.2f}x"
                )


if __name__ == "__main__":
    main()
