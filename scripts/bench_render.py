#!/usr/bin/env python3
"""Time the page rendering: N unsigned PDFs with one Renderer, prepared once; ms per document.

    .venv/bin/python scripts/bench_render.py            # 200 of each document type
    .venv/bin/python scripts/bench_render.py -n 1000 --type certificate

Preparing (fonts read and registered, layouts loaded) is timed apart: a service does it once
per process. Render times are per document, after a few warm-up renders; "cpu" is this thread's
CPU time (what one core spends), "wall" includes whatever else the machine is doing.
"""

from __future__ import annotations

import statistics
import time

import click
import segno

from certsvc.documents.record import DocumentType, sample_record
from certsvc.documents.render import Renderer

VERIFY_URL = "https://zc.example.gov.cn/v/ABC"
QR_TEXT = "HTTPS://ZC.EXAMPLE.GOV.CN/V/ABC"
WARM_UP = 5


@click.command()
@click.option("-n", "--count", default=200, show_default=True, help="Documents per type.")
@click.option(
    "--type",
    "kinds",
    type=click.Choice([kind.value for kind in DocumentType]),
    multiple=True,
    help="Document type (default: both).",
)
def main(count: int, kinds: tuple[str, ...]) -> None:
    started = time.perf_counter()
    renderer = Renderer.create()
    click.echo(f"prepare (once per process): {(time.perf_counter() - started) * 1000:.0f} ms")
    matrix = segno.make(QR_TEXT, error="m", micro=False).matrix
    for kind in [DocumentType(k) for k in kinds] or list(DocumentType):
        records = [
            sample_record(document_type=kind, document_number=f"2025-110000-GC2-{i:06d}-7")
            for i in range(count + WARM_UP)
        ]
        for record in records[:WARM_UP]:
            renderer.render(record, qr_matrix=matrix, verify_url=VERIFY_URL)
        wall: list[float] = []
        cpu: list[float] = []
        size = 0
        for record in records[WARM_UP:]:
            wall_start, cpu_start = time.perf_counter(), time.thread_time()
            pdf = renderer.render(record, qr_matrix=matrix, verify_url=VERIFY_URL)
            cpu.append((time.thread_time() - cpu_start) * 1000)
            wall.append((time.perf_counter() - wall_start) * 1000)
            size += len(pdf)
        click.echo(
            f"{kind.value:<12} {count} documents, {size / count / 1024:.1f} KiB each: "
            f"cpu median {statistics.median(cpu):.2f} ms, mean {statistics.mean(cpu):.2f} ms; "
            f"wall median {statistics.median(wall):.2f} ms, mean {statistics.mean(wall):.2f} ms"
        )


if __name__ == "__main__":
    main()
