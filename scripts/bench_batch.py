#!/usr/bin/env python3
"""Issuance batch benchmark: generate N candidates, run the batch, print persons per second and
peak memory; and the same run's per-document baseline, spread over the cores.

    .venv/bin/python scripts/bench_batch.py --count 1000 --count 10000 [--workers 2]
    .venv/bin/python scripts/bench_batch.py --count 1000 --postgres postgresql://postgres@127.0.0.1:5432/test

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
import statistics
import subprocess
import sys
import tempfile
import time
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


def _run(settings: Settings, batch_id: int, workers: int) -> dict[str, float]:
    env = {
        **os.environ,
        "CERTSVC_DATA_DIR": str(settings.data_dir),
        "CERTSVC_KEY_DIR": str(settings.key_dir),
        "CERTSVC_DATABASE_URL": settings.database_url,
        "CERTSVC_ACTOR": "bench-signer",
    }
    command = [
        sys.executable,
        "-c",
        CHILD,
        "batch",
        "run",
        str(batch_id),
        "--workers",
        str(workers),
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


@click.command()
@click.option("--count", "counts", type=int, multiple=True, default=(1000, 10000))
@click.option("--workers", type=int, default=os.cpu_count() or 1, show_default=True)
@click.option("--postgres", default="", help="Run on fresh databases on this PostgreSQL server.")
def main(counts: tuple[int, ...], workers: int, postgres: str) -> None:
    baseline = _baseline_ms()
    cores = os.cpu_count() or 1
    allowed = cores * 1000 / (2 * baseline)
    print(
        f"baseline: {baseline:.2f} ms per document on one core (render + QR + sign, same run); "
        f"{cores} cores allow {allowed:.1f} persons/s"
    )
    for count in counts:
        print(f"N = {count} ({'PostgreSQL' if postgres else 'SQLite'}, {workers} workers)")
        with contextlib.ExitStack() as stack:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="certsvc-")))
            url = stack.enter_context(throwaway_postgres(postgres)) if postgres else ""
            settings = Settings.from_env(
                {}, data_dir=folder / "data", key_dir=folder / "keys", database_url=url
            )
            batch_id = _prepare(settings, count)
            figures = _run(settings, batch_id, workers)
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


if __name__ == "__main__":
    main()
