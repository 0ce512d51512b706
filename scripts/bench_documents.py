#!/usr/bin/env python3
"""Time document production on one core: QR token + matrix, render, sign; and end to end.

    .venv/bin/python scripts/bench_documents.py --count 200

Keys are generated in memory (a P-384 root and a P-256 signer, as `certsvc keys` makes them);
the renderer, fonts, layouts, key and pyHanko signer are prepared once, as a batch worker does.
Prints milliseconds per document for each step (median and mean over --count documents, after
--warmup untimed ones, wall clock) and documents per second end to end, by the wall clock and by
this thread's CPU time (what one core spends: steadier when other jobs share the machine).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from certsvc.documents.factory import DocumentFactory
from certsvc.documents.record import DocumentType, sample_record
from certsvc.documents.render import Renderer
from tests.documents.conftest import BASE_URL, make_chain


@click.command()
@click.option("--count", default=200, show_default=True)
@click.option("--warmup", default=10, show_default=True)
def main(count: int, warmup: int) -> None:
    started = time.perf_counter()
    factory = DocumentFactory(Renderer.create(), make_chain().material(), base_url=BASE_URL)
    print(f"prepared once per process in {(time.perf_counter() - started) * 1000:.0f} ms")
    kinds = list(DocumentType)
    for i in range(warmup):
        factory.make(sample_record(document_type=kinds[i % 2]))
    steps: dict[str, list[float]] = {"qr": [], "render": [], "sign": []}
    started, cpu_started = time.perf_counter(), time.thread_time()
    for i in range(count):
        issued = factory.make(
            sample_record(document_type=kinds[i % 2], document_number=f"2025-110000-GC2-{i:06d}-0")
        )
        for step, ms in issued.timings_ms.items():
            steps[step].append(ms)
    elapsed = time.perf_counter() - started
    cpu = time.thread_time() - cpu_started
    for step, values in steps.items():
        print(
            f"{step:>6}: median {statistics.median(values):6.2f} ms, "
            f"mean {statistics.fmean(values):6.2f} ms per document"
        )
    print(
        f"end to end: {count / elapsed:.1f} documents/s on one core "
        f"({elapsed / count * 1000:.2f} ms per document); CPU time {count / cpu:.1f} "
        f"documents/s ({cpu / count * 1000:.2f} ms per document)"
    )
    factory.close()


if __name__ == "__main__":
    main()
