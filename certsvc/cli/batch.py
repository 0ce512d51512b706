"""``certsvc batch``: create, approve, cancel, run, status, report; ``certsvc notify send``."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from certsvc.cli.context import CliContext
from certsvc.errors import StateError
from certsvc.issuance.batches import (
    approve_batch,
    cancel_batch,
    create_batch,
    get_batch,
    item_counts,
    list_batches,
)
from certsvc.issuance.checks import check_batch, check_store
from certsvc.issuance.models import IssuanceBatch
from certsvc.issuance.report import build_report
from certsvc.issuance.runner import RunOptions, run_batch
from certsvc.issuance.store import FileDocumentStore
from certsvc.keys.files import Passphrase
from certsvc.notifications import service as notifications

pass_ctx = click.make_pass_decorator(CliContext)
PLAIN_PROGRESS_EVERY_SECONDS = 10.0
MAX_PROBLEMS_SHOWN = 50


@click.group()
def batch() -> None:
    """Issuance batches: create after publicity, approve (another person), run, report."""


@batch.command("create")
@click.argument("session_ids", type=int, nargs=-1, required=True)
@click.option("--agency", "agency_code", default=None, help="Default: CERTSVC_AGENCY_CODE.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def create(
    ctx: CliContext, session_ids: tuple[int, ...], agency_code: str | None, as_json: bool
) -> None:
    """Create a draft batch of every cleared candidate of SESSION_IDS (publicity closed)."""
    with ctx.migrated_db().session() as session:
        created = create_batch(
            session,
            agency_code=agency_code or ctx.settings.agency_code,
            session_ids=session_ids,
            actor=ctx.actor,
        )
    if as_json:
        click.echo(json.dumps(_batch_json(created), ensure_ascii=False))
        return
    ctx.console.print(
        f"batch {created.id}: draft with {created.candidates} candidates from sessions "
        f"{', '.join(map(str, created.session_ids))}; {len(created.held)} left out"
    )
    for held in created.held:
        ctx.console.print(
            f"  left out: result {held['result_id']} {held['name']}: {held['reason']}"
        )
    ctx.console.print(f"next: another member of staff runs `certsvc batch approve {created.id}`")


@batch.command("approve")
@click.argument("batch_id", type=int)
@pass_ctx
def approve(ctx: CliContext, batch_id: int) -> None:
    """Approve a draft batch (not its creator)."""
    with ctx.migrated_db().session() as session:
        approved = approve_batch(session, batch_id, actor=ctx.actor)
    ctx.console.print(
        f"batch {batch_id} approved by {approved.approved_by}; run it with "
        f"`certsvc batch run {batch_id}`"
    )


@batch.command("cancel")
@click.argument("batch_id", type=int)
@click.option("--reason", required=True)
@pass_ctx
def cancel(ctx: CliContext, batch_id: int, reason: str) -> None:
    """Cancel a draft batch; its candidates can go into another."""
    with ctx.migrated_db().session() as session:
        cancel_batch(session, batch_id, actor=ctx.actor, reason=reason)
    ctx.console.print(f"batch {batch_id} cancelled")


@batch.command("run")
@click.argument("batch_id", type=int)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=None,
    help="Signing processes (default CERTSVC_BATCH_WORKERS, else one per CPU; 0: in this process).",
)
@click.option("--passphrase-env", metavar="VARIABLE", help="Signer key passphrase variable.")
@click.option("--passphrase-file", type=click.Path(path_type=Path))
@click.option(
    "--retry-failed", is_flag=True, help="Try failed candidates of a completed batch again."
)
@click.option("--no-notify", is_flag=True, help="Leave holder messages in the outbox.")
@click.option(
    "--local",
    is_flag=True,
    help="Sign on this machine even when CERTSVC_BROKER_URL names Celery workers.",
)
@pass_ctx
def run(
    ctx: CliContext,
    batch_id: int,
    workers: int | None,
    passphrase_env: str | None,
    passphrase_file: Path | None,
    retry_failed: bool,
    no_notify: bool,
    local: bool,
) -> None:
    """Run (or resume) an approved batch: sign, store, register, log, notify.

    With CERTSVC_BROKER_URL set the candidates are signed by `certsvc worker` processes on
    any machine, in chunks sent through the broker; otherwise (or with --local) by a process
    pool on this machine."""
    distributed = bool(ctx.settings.broker_url) and not local
    if distributed and workers is not None:
        raise click.UsageError(
            "--workers sizes the local pool; with CERTSVC_BROKER_URL set the batch is signed by "
            "Celery workers (`certsvc worker --concurrency N`): add --local to sign here"
        )
    passphrase = (
        Passphrase.from_sources(env_var=passphrase_env, file=passphrase_file)
        if passphrase_env or passphrase_file
        else None
    )
    if workers is None:
        workers = ctx.settings.batch_workers or os.cpu_count() or 1
    progress = ConsoleProgress(ctx)
    report = run_batch(
        ctx.migrated_db(),
        ctx.settings,
        ctx.keystore,
        batch_id,
        RunOptions(
            actor=ctx.actor,
            passphrase=passphrase,
            workers=workers,
            retry_failed=retry_failed,
            progress=progress,
            deliver_notifications=not no_notify,
            distributed=distributed,
        ),
    )
    for line in report.lines():
        ctx.console.print(line)
    folder = ctx.settings.data_dir / "reports"
    ctx.console.print(f"report written to {folder / f'batch-{batch_id}.txt'} (and .json)")


@batch.command("status")
@click.argument("batch_id", type=int, required=False)
@pass_ctx
def status(ctx: CliContext, batch_id: int | None) -> None:
    """List batches, or show one batch's candidates by state."""
    with ctx.migrated_db().session() as session:
        if batch_id is None:
            table = Table("id", "status", "candidates", "created by", "approved by", "runs")
            for row in list_batches(session):
                table.add_row(
                    str(row.id),
                    row.status.value,
                    str(row.candidates),
                    row.created_by,
                    row.approved_by or "",
                    str(row.runs),
                )
            ctx.console.print(table)
            return
        found = get_batch(session, batch_id)
        counts = item_counts(session, batch_id)
    ctx.console.print(
        f"batch {batch_id}: {found.status.value}, {found.candidates} candidates, "
        f"{found.runs} run(s)"
    )
    for state, count in counts.items():
        ctx.console.print(f"  {state.value}: {count}")


@batch.command("report")
@click.argument("batch_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def report(ctx: CliContext, batch_id: int, as_json: bool) -> None:
    """The batch's report: counts, held, skipped and failed candidates, the last run."""
    with ctx.migrated_db().session() as session:
        found = get_batch(session, batch_id)
        built = build_report(session, found, None)
    data = built.as_dict()
    if found.report is not None:
        data["last_run"] = found.report.get("last_run")
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    for line in built.lines():
        ctx.console.print(line)
    if found.report and found.report.get("last_run"):
        last = found.report["last_run"]
        ctx.console.print(
            f"last run (#{last['run']}): {last['candidates']} candidates in "
            f"{last['seconds']:.1f} s, {last['persons_per_second']} persons/s"
        )


@batch.command("verify")
@click.argument("batch_id", type=int)
@pass_ctx
def verify(ctx: CliContext, batch_id: int) -> None:
    """Check the batch's invariants against the database, the store and the log."""
    store = FileDocumentStore(ctx.settings.document_store_dir)
    with ctx.migrated_db().session() as session:
        get_batch(session, batch_id)
        problems = check_batch(session, store, batch_id) + check_store(session, store)
    if problems:
        for problem in problems[:MAX_PROBLEMS_SHOWN]:
            ctx.err.print(f"  - {problem}")
        more = len(problems) - MAX_PROBLEMS_SHOWN
        raise StateError(
            f"batch {batch_id} fails {len(problems)} checks"
            + (f" ({more} more not shown)" if more > 0 else "")
        )
    ctx.console.print(
        f"batch {batch_id} verified: every issued candidate has one current certificate and "
        "notice, every file is stored with its hash and proven in the log, nothing is left over"
    )


@click.group()
def notify() -> None:
    """Messages to holders."""


@notify.command("send")
@pass_ctx
def send(ctx: CliContext) -> None:
    """Deliver every pending message through the configured sender."""
    delivered = notifications.deliver(
        ctx.migrated_db(), notifications.sender_for(ctx.settings), actor=ctx.actor
    )
    ctx.console.print(
        f"sent {delivered.sent}, failed {delivered.failed}, to retry {delivered.retrying}"
    )


class ConsoleProgress:
    """A progress bar with rate and time left on a terminal; a line every few seconds when
    the output is a file or a pipe."""

    def __init__(self, ctx: CliContext) -> None:
        self.console = ctx.err
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._total = 0
        self._done = 0
        self._resumed_at = 0
        self._failed = 0
        self._started = time.monotonic()
        self._last_line = 0.0

    def start(self, total: int, done: int) -> None:
        self._total, self._done, self._resumed_at = total, done, done
        self._started = time.monotonic()
        if self.console.is_terminal:
            self._bar = Progress(
                TextColumn("signing"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]} persons/s"),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self._bar.start()
            self._task = self._bar.add_task("batch", total=total, completed=done, rate="–")
        else:
            self.console.print(f"signing: {done} of {total} candidates already done")

    def advance(self, candidates: int, failed: int) -> None:
        self._done += candidates
        self._failed += failed
        elapsed = max(time.monotonic() - self._started, 1e-9)
        rate = f"{(self._done - self._resumed_at) / elapsed:.0f}"
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, advance=candidates, rate=rate)
        elif time.monotonic() - self._last_line >= PLAIN_PROGRESS_EVERY_SECONDS:
            self._last_line = time.monotonic()
            self.console.print(
                f"signing: {self._done} of {self._total}, {self._failed} failed, {rate} persons/s"
            )

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _batch_json(found: IssuanceBatch) -> dict[str, object]:
    return {
        "id": found.id,
        "status": found.status.value,
        "candidates": found.candidates,
        "session_ids": found.session_ids,
        "held": found.held,
    }


def register(cli: click.Group) -> None:
    cli.add_command(batch)
    cli.add_command(notify)
