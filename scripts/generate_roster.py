#!/usr/bin/env python3
"""Write a generated review roster (CSV or XLSX) for tests, benchmarks and demos.

python scripts/generate_roster.py roster.csv --rows 100000 --seed 7 --bad-share 0.05
python scripts/generate_roster.py roster.xlsx --rows 2000
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Literal, cast

import click

from certsvc.errors import CertsvcError
from certsvc.roster.generator import RosterSpec, write_roster

Encoding = Literal["utf-8", "utf-8-sig", "gb18030"]


@click.command()
@click.argument("out", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--rows", type=click.IntRange(min=0), default=1000, show_default=True)
@click.option("--seed", type=int, default=2024, show_default=True)
@click.option(
    "--bad-share",
    type=click.FloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="Probability that a row has one wrong column.",
)
@click.option(
    "--encoding",
    type=click.Choice(["utf-8", "utf-8-sig", "gb18030"]),
    default="utf-8-sig",
    show_default=True,
    help="CSV only.",
)
@click.option("--year", type=int, default=None, help="年度 [default: the review date's year]")
@click.option(
    "--review-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default="2024-09-20",
    show_default=True,
)
def main(
    out: Path,
    rows: int,
    seed: int,
    bad_share: float,
    encoding: str,
    year: int | None,
    review_date: datetime,
) -> None:
    """Write a roster of ROWS generated rows to OUT (.csv or .xlsx)."""
    day: date = review_date.date()
    try:
        spec = RosterSpec(
            rows=rows,
            seed=seed,
            bad_share=bad_share,
            year=day.year if year is None else year,
            review_date=day,
        )
        manifest = write_roster(out, spec, encoding=cast(Encoding, encoding))
    except CertsvcError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{manifest.path}: {manifest.rows} rows, {len(manifest.bad_rows)} bad rows")
    click.echo(f"sessions: {manifest.sessions}")
    for column, count in sorted(Counter(manifest.bad_rows.values()).items()):
        click.echo(f"  bad {column}: {count}")


if __name__ == "__main__":
    main()
