#!/usr/bin/env python3
"""Time the roster import: generate a roster, import it into a fresh database, print rows/s.

    .venv/bin/python scripts/bench_import.py --rows 100000
    .venv/bin/python scripts/bench_import.py --rows 100000 --postgres postgresql://postgres@127.0.0.1/test

SQLite (a file in a temporary folder) by default; with --postgres a throwaway database is
created on that server and dropped afterwards. Also times the second, idempotent import of the
same file (every row already stored), which is what a re-run costs.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import click
from benchlib import throwaway_postgres

from certsvc.bootstrap import initialise
from certsvc.config import Settings
from certsvc.db.database import Database
from certsvc.roster.fit import DocumentChecks
from certsvc.roster.generator import RosterSpec, write_roster
from certsvc.roster.importer import import_roster

TODAY = date(2025, 11, 3)


@click.command()
@click.option("--rows", default=100_000, show_default=True)
@click.option("--seed", default=2024, show_default=True)
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True
)
@click.option("--postgres", default=None, help="PostgreSQL server URL (default: SQLite).")
def main(rows: int, seed: int, fmt: str, postgres: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="certsvc-bench-") as tmp:
        folder = Path(tmp)
        roster = folder / f"roster.{fmt}"
        started = time.perf_counter()
        manifest = write_roster(
            roster, RosterSpec(rows=rows, seed=seed, year=2025, review_date=date(2025, 9, 12))
        )
        generated = time.perf_counter() - started
        size_mb = roster.stat().st_size / 1e6
        print(
            f"generated {manifest.rows} rows in {manifest.sessions} sessions "
            f"({size_mb:.1f} MB {fmt}) in {generated:.1f} s"
        )
        with throwaway_postgres(postgres) if postgres else _sqlite(folder) as url:
            settings = Settings.from_env({}, data_dir=folder, database_url=url)
            db = Database(url)
            initialise(db, settings, actor="bench")
            backend = db.backend
            checks = DocumentChecks.for_settings(settings)
            for label in ("first import", "re-import (no change)"):
                started = time.perf_counter()
                report = import_roster(
                    db,
                    roster,
                    agency_code=settings.agency_code,
                    actor="bench",
                    today=TODAY,
                    checks=checks,
                )
                elapsed = time.perf_counter() - started
                if not report.ok:
                    raise SystemExit(f"import failed: {report.errors[:5]}")
                print(
                    f"{backend} {label}: {report.rows_read} rows in {elapsed:.2f} s = "
                    f"{report.rows_read / elapsed:,.0f} rows/s "
                    f"(created {report.results_created}, unchanged {report.results_unchanged})"
                )
            db.dispose()


@contextmanager
def _sqlite(folder: Path) -> Iterator[str]:
    yield f"sqlite:///{folder / 'bench.sqlite3'}"


if __name__ == "__main__":
    main()
