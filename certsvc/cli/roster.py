"""``certsvc import`` and ``certsvc session list|show``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
from rich.table import Table

from certsvc.cli.context import CliContext
from certsvc.errors import InputError
from certsvc.roster.fit import DocumentChecks
from certsvc.roster.importer import ImportReport, import_roster
from certsvc.roster.queries import list_sessions, session_results

pass_ctx = click.make_pass_decorator(CliContext)
SHOWN_ERRORS = 200


@click.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--agency",
    "agency_code",
    default=None,
    help="Issuing agency code (default: CERTSVC_AGENCY_CODE).",
)
@click.option("--encoding", default=None, help="Force the CSV encoding (default: detected).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the JSON report to this file.",
)
@pass_ctx
def import_command(
    ctx: CliContext,
    file: Path,
    agency_code: str | None,
    encoding: str | None,
    as_json: bool,
    report_path: Path | None,
) -> None:
    """Import a roster (CSV or XLSX). A file with any bad row imports nothing."""
    if report_path is not None and not os.access(report_path.parent or Path("."), os.W_OK):
        raise InputError(
            f"cannot write the report to {report_path}: its folder does not exist "
            "or is not writable"
        )
    report = import_roster(
        ctx.migrated_db(),
        file,
        agency_code=agency_code or ctx.settings.agency_code,
        actor=ctx.actor,
        today=ctx.today(),
        checks=DocumentChecks.for_settings(ctx.settings),
        encoding=encoding,
    )
    payload = json.dumps(report.as_dict(), ensure_ascii=False, indent=2)
    if report_path is not None:
        report_path.write_text(payload + "\n", encoding="utf-8")
    if as_json:
        click.echo(payload)
    else:
        _print_report(ctx, report)
    if not report.ok:
        raise SystemExit(1)


def _print_report(ctx: CliContext, report: ImportReport) -> None:
    out = ctx.console
    where = f"{report.filename} ({report.file_format}"
    where += f", {report.encoding})" if report.encoding else ")"
    if not report.ok:
        ctx.err.print(
            f"{where}: {len(report.errors)} problem(s) in "
            f"{report.rows_read} rows; nothing was imported"
        )
        if report.stopped_early:
            ctx.err.print(f"stopped reading after {len(report.errors)} problems")
        table = Table("row", "column", "reason", show_lines=False)
        for error in report.errors[:SHOWN_ERRORS]:
            table.add_row(str(error.row), f"{error.header} ({error.column})", error.reason)
        ctx.err.print(table)
        if len(report.errors) > SHOWN_ERRORS:
            ctx.err.print(
                f"… and {len(report.errors) - SHOWN_ERRORS} more; use --json or "
                "--report for all of them"
            )
        return
    if not report.changed:
        out.print(f"{where}: all {report.rows_read} rows are already stored; nothing changed")
        return
    out.print(
        f"{where}: imported {report.rows_read} rows as import {report.import_id}: "
        f"{report.sessions_created} session(s), {report.persons_created} new person(s), "
        f"{report.persons_updated} updated, {report.results_created} result(s) "
        f"({report.results_unchanged} already stored)"
    )


@click.group("session")
def session_group() -> None:
    """Review sessions and their results."""


@session_group.command("list")
@pass_ctx
def session_list(ctx: CliContext) -> None:
    """List review sessions with their results and publicity."""
    with ctx.migrated_db().session() as session:
        rows = list_sessions(session)
    table = Table(
        "id",
        "year",
        "series",
        "specialty",
        "level",
        "qualification",
        "committee",
        "passed/total",
        "publicity",
    )
    for row in rows:
        table.add_row(
            str(row.id),
            str(row.year),
            row.series,
            row.specialty,
            row.level,
            row.qualification_name,
            row.committee_name,
            f"{row.passed}/{row.total}",
            row.publicity,
        )
    ctx.console.print(table)


@session_group.command("show")
@click.argument("session_id", type=click.IntRange(1, 2**31 - 1))
@pass_ctx
def session_show(ctx: CliContext, session_id: int) -> None:
    """List a session's results and where each stands."""
    with ctx.migrated_db().session() as session:
        results = session_results(session, session_id)
    table = Table("result", "name", "votes", "passed", "standing")
    for item in results:
        table.add_row(
            str(item.result_id),
            item.name,
            f"{item.votes_for}/{item.attending}",
            "通过" if item.passed else "未通过",
            item.standing,
        )
    ctx.console.print(table)


def register(group: click.Group) -> None:
    group.add_command(import_command)
    group.add_command(session_group)
