"""The report of a batch: what staff read at the end of a run, also written as files."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, func, select

from certsvc.issuance.models import (
    BatchItem,
    Document,
    DocumentStatus,
    IssuanceBatch,
    ItemState,
)
from certsvc.roster.models import Person

MAX_LISTED = 1000  # failures and skips listed by name; beyond that, counted


@dataclass(frozen=True)
class RunFigures:
    """What the run that completed the batch measured."""

    run: int
    seconds: float
    candidates: int  # issued by this run
    failed: int
    skipped: int
    recovered_files: int  # staged by a killed run, promoted by this one
    discarded_files: int  # staged by a killed run and not recorded: signed again
    timings_ms: dict[str, float] = field(default_factory=dict)  # summed over documents
    coordinator_cpu_seconds: float = 0.0  # this process's CPU: reserving, recording, logging

    @property
    def persons_per_second(self) -> float:
        return self.candidates / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class BatchReport:
    batch_id: int
    status: str
    candidates: int
    issued: int
    documents: dict[str, int]
    held: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    failed: list[dict[str, Any]]
    skipped_count: int
    failed_count: int
    runs: int
    tree_size: int | None
    first_started_at: str | None
    completed_at: str | None
    last_run: RunFigures | None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.last_run is not None:
            data["last_run"]["persons_per_second"] = round(self.last_run.persons_per_second, 1)
        return data

    def write(self, folder: Path) -> tuple[Path, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        json_path = folder / f"batch-{self.batch_id}.json"
        text_path = folder / f"batch-{self.batch_id}.txt"
        json_path.write_text(
            json.dumps(self.as_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        text_path.write_text("\n".join(self.lines()) + "\n", encoding="utf-8")
        return json_path, text_path

    def lines(self) -> list[str]:
        out = [
            f"batch {self.batch_id}: {self.status}, {self.runs} run(s)",
            f"candidates {self.candidates}: issued {self.issued}, failed {self.failed_count}, "
            f"skipped {self.skipped_count}; held at creation {len(self.held)}",
            f"documents: {self.documents.get('certificate', 0)} certificates, "
            f"{self.documents.get('notice', 0)} notices",
        ]
        if self.tree_size is not None:
            out.append(f"transparency log: tree head at {self.tree_size} entries")
        run = self.last_run
        if run is not None:
            out.append(
                f"last run (#{run.run}): {run.candidates} candidates in {run.seconds:.1f} s, "
                f"{run.persons_per_second:.1f} persons/s"
                + (
                    f"; recovered {run.recovered_files} and re-signed "
                    f"{run.discarded_files} files of an interrupted run"
                    if run.recovered_files or run.discarded_files
                    else ""
                )
            )
        for title, rows in (
            ("held", self.held),
            ("skipped", self.skipped),
            ("failed", self.failed),
        ):
            for row in rows:
                out.append(f"{title}: result {row['result_id']} {row['name']}: {row['reason']}")
        return out


def build_report(session: Session, batch: IssuanceBatch, run: RunFigures | None) -> BatchReport:
    assert batch.id is not None
    by_state: dict[ItemState, list[dict[str, Any]]] = {ItemState.FAILED: [], ItemState.SKIPPED: []}
    counts = dict.fromkeys(ItemState, 0)
    for state, count in session.exec(
        select(BatchItem.state, func.count())
        .where(BatchItem.batch_id == batch.id)
        .group_by(col(BatchItem.state))
    ).all():
        counts[ItemState(state)] = count
    for state, rows in by_state.items():
        for item, name in session.exec(
            select(BatchItem, Person.name)
            .join(Person, col(Person.id) == col(BatchItem.person_id))
            .where(BatchItem.batch_id == batch.id, BatchItem.state == state)
            .order_by(col(BatchItem.id))
            .limit(MAX_LISTED)
        ).all():
            rows.append({"result_id": item.result_id, "name": name, "reason": item.reason or ""})
    documents = {
        str(kind): count
        for kind, count in session.exec(
            select(Document.document_type, func.count())
            .where(Document.batch_id == batch.id, Document.status == DocumentStatus.ISSUED)
            .group_by(col(Document.document_type))
        ).all()
    }
    return BatchReport(
        batch_id=batch.id,
        status=batch.status.value,
        candidates=batch.candidates,
        issued=counts[ItemState.ISSUED],
        documents=documents,
        held=list(batch.held),
        skipped=by_state[ItemState.SKIPPED],
        failed=by_state[ItemState.FAILED],
        skipped_count=counts[ItemState.SKIPPED],
        failed_count=counts[ItemState.FAILED],
        runs=batch.runs,
        tree_size=batch.tree_size,
        first_started_at=batch.first_started_at.isoformat() if batch.first_started_at else None,
        completed_at=batch.completed_at.isoformat() if batch.completed_at else None,
        last_run=run,
    )
