"""A batch run's figures for Prometheus, as a node_exporter textfile.

A batch run is a job, not a service: nothing stays up for Prometheus to scrape. With
``CERTSVC_METRICS_TEXTFILE_DIR`` set (node_exporter's ``--collector.textfile.directory``), the
run writes ``certsvc_batch.prom`` there when it starts, at most every
:data:`WRITE_EVERY_SECONDS` while candidates are recorded, and when it ends (completed or
stopped by an error); each write goes to a temporary file renamed over the old one, so the
collector never reads half a file. Every series carries the batch id; the file describes the
newest run on this machine:

- ``certsvc_batch_run{batch}``: the run's number (a re-run after a crash counts up);
- ``certsvc_batch_running{batch}``: 1 while it runs, 0 after;
- ``certsvc_batch_candidates{batch, outcome}``: candidates issued (a certificate and a notice
  each), failed and skipped by this run;
- ``certsvc_batch_documents_signed{batch}``;
- ``certsvc_batch_duration_seconds{batch}``: since the run began;
- ``certsvc_batch_document_sign_seconds{batch}``: a histogram of the signing step per document
  (the worker times a candidate's documents together; each counts at their mean);
- ``certsvc_batch_last_progress_timestamp_seconds{batch}``,
  ``certsvc_batch_last_success_timestamp_seconds{batch}`` (set when the run completes) and
  ``certsvc_batch_stopped_with_error{batch}`` (1 when it stopped: re-run it).

Writing the file never stops a run: a folder that cannot be written is logged and skipped.
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_left
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, write_to_textfile
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from certsvc.config import Settings
from certsvc.issuance.recording import RunState
from certsvc.issuance.report import BatchReport
from certsvc.issuance.worker import CandidateOutcome

log = logging.getLogger(__name__)

TEXTFILE_NAME = "certsvc_batch.prom"
WRITE_EVERY_SECONDS = 5.0
SIGN_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class SecondsHistogram:
    buckets: tuple[float, ...] = SIGN_BUCKETS
    counts: list[int] = field(default_factory=lambda: [0] * (len(SIGN_BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float, times: int = 1) -> None:
        self.counts[bisect_left(self.buckets, seconds)] += times
        self.total += seconds * times

    def cumulative(self) -> list[tuple[str, float]]:
        shown, running = [], 0
        for bound, count in zip((*self.buckets, float("inf")), self.counts, strict=True):
            running += count
            shown.append(("+Inf" if bound == float("inf") else repr(bound), float(running)))
        return shown


@dataclass(eq=False)
class BatchMetrics(Collector):
    """What one run has done so far; :meth:`collect` turns it into metric families."""

    batch_id: int
    path: Path | None  # None: no textfile configured, nothing is written
    run: RunState | None = None
    documents_signed: int = 0
    sign: SecondsHistogram = field(default_factory=SecondsHistogram)
    running: bool = False
    stopped_with_error: bool = False
    last_progress: float = 0.0
    last_success: float | None = None
    _last_write: float = 0.0
    _write_failed: bool = False

    # -- what the runner tells it --

    def begin(self, run: RunState) -> None:
        self.run = run
        run.observer = self.recorded
        self.running = True
        self._progress()
        self.write()

    def recorded(self, outcomes: list[CandidateOutcome]) -> None:
        for outcome in outcomes:
            if outcome.error or not outcome.made:
                continue
            self.documents_signed += len(outcome.made)
            sign_ms = outcome.timings_ms.get("sign")
            if sign_ms is not None:
                self.sign.observe(sign_ms / 1000 / len(outcome.made), len(outcome.made))
        self._progress()
        if time.monotonic() - self._last_write >= WRITE_EVERY_SECONDS:
            self.write()

    def finished(self, report: BatchReport) -> None:
        self.running = False
        self.last_success = time.time()
        self._progress()
        self.write()

    def stopped(self) -> None:
        self.running = False
        self.stopped_with_error = True
        self._progress()
        self.write()

    def _progress(self) -> None:
        self.last_progress = time.time()

    # -- the file --

    def write(self) -> None:
        self._last_write = time.monotonic()
        if self.path is None or self.run is None:
            return
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)
        try:
            write_to_textfile(str(self.path), registry)
        except OSError as exc:
            if not self._write_failed:
                log.warning("batch metrics not written to %s: %s", self.path, exc.strerror)
            self._write_failed = True

    def collect(self) -> Iterator[Metric]:
        run = self.run
        if run is None:
            return
        batch = str(self.batch_id)

        def gauge(name: str, text: str, value: float) -> GaugeMetricFamily:
            family = GaugeMetricFamily(name, text, labels=["batch"])
            family.add_metric([batch], value)
            return family

        yield gauge("certsvc_batch_run", "The run's number within its batch", run.number)
        yield gauge("certsvc_batch_running", "1 while the run goes on", float(self.running))
        candidates = GaugeMetricFamily(
            "certsvc_batch_candidates",
            "Candidates issued, failed and skipped by this run",
            labels=["batch", "outcome"],
        )
        candidates.add_metric([batch, "issued"], run.candidates_done)
        candidates.add_metric([batch, "failed"], run.failed)
        candidates.add_metric([batch, "skipped"], run.skipped)
        yield candidates
        yield gauge(
            "certsvc_batch_documents_signed", "Documents signed by this run", self.documents_signed
        )
        yield gauge(
            "certsvc_batch_duration_seconds",
            "Seconds since the run began",
            time.perf_counter() - run.started,
        )
        sign = HistogramMetricFamily(
            "certsvc_batch_document_sign_seconds",
            "The signing step per document",
            labels=["batch"],
        )
        sign.add_metric([batch], self.sign.cumulative(), self.sign.total)
        yield sign
        yield gauge(
            "certsvc_batch_last_progress_timestamp_seconds",
            "When the run last started, recorded candidates or ended",
            self.last_progress,
        )
        if self.last_success is not None:
            yield gauge(
                "certsvc_batch_last_success_timestamp_seconds",
                "When the run completed its batch",
                self.last_success,
            )
        yield gauge(
            "certsvc_batch_stopped_with_error",
            "1 when the run stopped with an error (re-run the batch)",
            float(self.stopped_with_error),
        )


@contextmanager
def batch_metrics(settings: Settings, batch_id: int) -> Iterator[BatchMetrics]:
    """The run's metrics; written as stopped if the run raises after it began."""
    folder = settings.metrics_textfile_dir
    metrics = BatchMetrics(batch_id, folder / TEXTFILE_NAME if folder is not None else None)
    try:
        yield metrics
    except BaseException:
        if metrics.run is not None:
            metrics.stopped()
        raise
