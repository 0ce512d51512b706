"""``certsvc revocation``: ask for, approve, reject and list revocations and reissues;
``certsvc status``: publish, export, verify and read the signed status list."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from cryptography import x509
from rich.table import Table

from certsvc.cli.context import CliContext
from certsvc.errors import InputError, NotFoundError
from certsvc.keys.files import Passphrase
from certsvc.notifications import service as notifications
from certsvc.revocation import service
from certsvc.revocation.models import ChangeStatus, DocumentChange, RevocationReason
from certsvc.revocation.status_list import DEFAULT_VALIDITY, verify_status_list
from certsvc.transparency.service import trust_from_certificates, trust_from_database

pass_ctx = click.make_pass_decorator(CliContext)


def passphrase_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--passphrase-env", metavar="VARIABLE", help="Signer key passphrase variable."
    )(func)
    return click.option("--passphrase-file", type=click.Path(path_type=Path))(func)


def _passphrase(env_var: str | None, file: Path | None) -> Passphrase | None:
    if env_var or file:
        return Passphrase.from_sources(env_var=env_var, file=file)
    return None


def _change_json(change: DocumentChange) -> dict[str, Any]:
    return {
        "id": change.id,
        "kind": change.kind.value,
        "status": change.status.value,
        "document_number": change.document_number,
        "reason": change.reason.value if change.reason else None,
        "effective_on": change.effective_on.isoformat() if change.effective_on else None,
        "corrected_fields": sorted(change.corrections),
        "note": change.note,
        "requested_by": change.requested_by,
        "decided_by": change.decided_by,
        "new_numbers": change.new_numbers,
    }


@click.group("revocation")
def revocation() -> None:
    """Revoke or reissue a document and its companion: one person asks, another approves."""


@revocation.command("revoke")
@click.argument("document_number")
@click.option(
    "--reason",
    required=True,
    help=f"One of: {', '.join(reason.value for reason in RevocationReason)}.",
)
@click.option("--effective", required=True, metavar="YYYY-MM-DD", help="In effect from this day.")
@click.option("--note", required=True, help="Why, for the approver and the audit log.")
@pass_ctx
def revoke(ctx: CliContext, document_number: str, reason: str, effective: str, note: str) -> None:
    """Ask for DOCUMENT_NUMBER (and its companion) to be revoked."""
    with ctx.migrated_db().session() as session:
        change = service.request_revocation(
            session,
            document_number,
            reason=reason,
            effective=effective,
            note=note,
            actor=ctx.actor,
            today=ctx.today(),
        )
    ctx.console.print(
        f"request {change.id}: revoke {change.document_number} and its companion "
        f"({reason}, from {effective}); next: another member of staff runs "
        f"`certsvc revocation approve {change.id}`"
    )


@revocation.command("reissue")
@click.argument("document_number")
@click.option("--name", default=None, help="The holder's corrected name.")
@click.option("--work-unit", default=None, help="The holder's corrected work unit.")
@click.option("--note", required=True, help="What was wrong, for the approver and the audit log.")
@pass_ctx
def reissue(
    ctx: CliContext, document_number: str, name: str | None, work_unit: str | None, note: str
) -> None:
    """Ask for DOCUMENT_NUMBER (and its companion) to be corrected and issued again under new
    numbers; with no correction, the same details are made again (a layout error)."""
    corrections = {
        field: value
        for field, value in (("name", name), ("work_unit", work_unit))
        if value is not None
    }
    with ctx.migrated_db().session() as session:
        change = service.request_reissue(
            session, document_number, corrections=corrections, note=note, actor=ctx.actor
        )
    ctx.console.print(
        f"request {change.id}: reissue {change.document_number} and its companion; next: "
        f"another member of staff runs `certsvc revocation approve {change.id}`"
    )


@revocation.command("approve")
@click.argument("request_id", type=int)
@passphrase_options
@click.option("--no-notify", is_flag=True, help="Leave the holder's message in the outbox.")
@pass_ctx
def approve(
    ctx: CliContext,
    request_id: int,
    passphrase_env: str | None,
    passphrase_file: Path | None,
    no_notify: bool,
) -> None:
    """Approve a request (not its requester): the registry, log, status list and holder are
    updated; a reissue is signed. Re-run it to resume a reissue that was interrupted."""
    change = service.approve_change(
        ctx.migrated_db(),
        ctx.settings,
        ctx.keystore,
        request_id,
        service.ApproveOptions(
            actor=ctx.actor, passphrase=_passphrase(passphrase_env, passphrase_file)
        ),
    )
    if change.new_numbers:
        for old, new in change.new_numbers.items():
            ctx.console.print(f"{old} superseded by {new}")
    elif change.effective_on is not None and change.effective_on > ctx.today():
        ctx.console.print(
            f"request {request_id}: {change.document_number} and companion will be revoked from "
            f"{change.effective_on} (scheduled: logged and the holder told now; the status list "
            "flips on that day via `certsvc status publish --if-due`)"
        )
    else:
        ctx.console.print(f"request {request_id}: {change.document_number} and companion revoked")
    if not no_notify:
        notifications.deliver(
            ctx.migrated_db(), notifications.sender_for(ctx.settings), actor=ctx.actor
        )


@revocation.command("reject")
@click.argument("request_id", type=int)
@click.option("--reason", required=True)
@pass_ctx
def reject(ctx: CliContext, request_id: int, reason: str) -> None:
    """Reject a pending request (not its requester)."""
    with ctx.migrated_db().session() as session:
        service.reject_change(session, request_id, actor=ctx.actor, reason=reason)
    ctx.console.print(f"request {request_id} rejected")


@revocation.command("list")
@click.option("--status", type=click.Choice([s.value for s in ChangeStatus]), default=None)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def list_(ctx: CliContext, status: str | None, as_json: bool) -> None:
    """Revocation and reissue requests."""
    with ctx.migrated_db().session() as session:
        changes = service.list_changes(
            session, status=ChangeStatus(status) if status is not None else None
        )
    if as_json:
        click.echo(json.dumps([_change_json(c) for c in changes], ensure_ascii=False, indent=2))
        return
    table = Table("id", "kind", "status", "document", "reason", "asked by", "decided by")
    for change in changes:
        table.add_row(
            str(change.id),
            change.kind.value,
            change.status.value,
            change.document_number,
            change.reason.value if change.reason else "-",
            change.requested_by,
            change.decided_by or "-",
        )
    ctx.console.print(table)


@revocation.command("show")
@click.argument("document_number")
@pass_ctx
def show(ctx: CliContext, document_number: str) -> None:
    """What the registry says of a document: status, revocation, supersession, status entry."""
    with ctx.migrated_db().session() as session:
        found = service.registry_status(session, document_number.strip().upper())
    if found is None:
        raise NotFoundError(f"no document is numbered {document_number}")
    values = {
        "document_number": found.document_number,
        "status": found.status.value,
        "revoked_at": found.revoked_at.isoformat() if found.revoked_at else None,
        "reason": found.reason,
        "effective_on": found.effective_on.isoformat() if found.effective_on else None,
        "revocation_scheduled": found.status.value == "revoked"
        and found.effective_on is not None
        and found.effective_on > ctx.today(),
        "superseded_by": found.superseded_by,
        "replaces": found.replaces,
        "status_list_url": found.status_list_url,
        "status_list_index": found.status_list_index,
    }
    click.echo(json.dumps(values, ensure_ascii=False, indent=2))


@click.group("status")
def status() -> None:
    """The signed status list verifiers fetch to check documents offline."""


@status.command("publish")
@click.option("--agency", "agency_code", default=None, help="Signer's agency (default: setting).")
@click.option(
    "--valid-hours",
    type=click.IntRange(min=1, max=31 * 24),
    default=int(DEFAULT_VALIDITY.total_seconds() // 3600),
    show_default=True,
    help="Hours until verifiers must fetch a newer list.",
)
@click.option(
    "--if-due",
    is_flag=True,
    help="Publish only when a list is due: none yet, the latest's next_update within "
    "--margin-minutes, a scheduled revocation taken effect, or new entries beyond its length "
    "(for cron or a timer, every few minutes).",
)
@click.option(
    "--margin-minutes",
    type=click.IntRange(min=0, max=24 * 60),
    default=int(service.PUBLISH_MARGIN.total_seconds() // 60),
    show_default=True,
    help="With --if-due: publish this long before the latest list's next_update.",
)
@passphrase_options
@pass_ctx
def publish(
    ctx: CliContext,
    agency_code: str | None,
    valid_hours: int,
    if_due: bool,
    margin_minutes: int,
    passphrase_env: str | None,
    passphrase_file: Path | None,
) -> None:
    """Sign and record a fresh status list. Scheduled: `--if-due` every few minutes, so that
    a list is replaced before its next_update and as soon as a scheduled revocation takes
    effect (a list never stays valid past that moment)."""
    passphrase = _passphrase(passphrase_env, passphrase_file)
    if if_due:
        published, why = service.publish_if_due(
            ctx.migrated_db(),
            ctx.settings,
            ctx.keystore,
            actor=ctx.actor,
            passphrase=passphrase,
            agency_code=agency_code,
            now=ctx.now(),
            validity=timedelta(hours=valid_hours),
            margin=timedelta(minutes=margin_minutes),
        )
        if published is None:
            ctx.console.print(f"not due: {why}")
            return
        ctx.console.print(f"due: {why}")
    else:
        published = service.publish_now(
            ctx.migrated_db(),
            ctx.settings,
            ctx.keystore,
            actor=ctx.actor,
            passphrase=passphrase,
            agency_code=agency_code,
            now=ctx.now(),
            validity=timedelta(hours=valid_hours),
        )
    ctx.console.print(
        f"status list {published.sequence}: {published.length} entries, {published.flagged} "
        f"revoked or superseded, {len(published.content)} bytes, signed by {published.key_id}, "
        f"valid until {published.next_update:%Y-%m-%d %H:%M} UTC"
    )


@status.command("export")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
@pass_ctx
def export(ctx: CliContext, out: Path) -> None:
    """Write the newest status list (the compact JWS) to a file."""
    with ctx.migrated_db().session() as session:
        latest = service.latest_status_list(session)
    if latest is None:
        raise NotFoundError("no status list has been published yet (`certsvc status publish`)")
    out.write_bytes(bytes(latest.content))
    ctx.console.print(f"status list {latest.sequence} written to {out}")


@status.command("check")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.argument("indexes", type=click.IntRange(min=0), nargs=-1)
@click.option(
    "--trust-bundle",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Signer certificates (PEM, `certsvc keys export-trust`); default: the database's.",
)
@click.option("--min-sequence", type=int, default=None, help="Newest sequence accepted before.")
@pass_ctx
def check(
    ctx: CliContext,
    file: Path,
    indexes: tuple[int, ...],
    trust_bundle: Path | None,
    min_sequence: int | None,
) -> None:
    """Verify a status list file (signature, freshness, sequence) and print the status of
    each INDEX. Exits 8 if it cannot be trusted."""
    if trust_bundle is not None:
        try:
            certificates = x509.load_pem_x509_certificates(trust_bundle.read_bytes())
        except ValueError:
            raise InputError(f"{trust_bundle} is not a PEM file of certificates") from None
        trust = trust_from_certificates(certificates)
    else:
        with ctx.migrated_db().session() as session:
            trust = trust_from_database(session)
    verified = verify_status_list(
        file.read_bytes(), trust, datetime.now(UTC), minimum_sequence=min_sequence
    )
    click.echo(
        f"status list {verified.sequence} verified: signed by {verified.key_id}, "
        f"{verified.length} entries, valid until {verified.next_update.isoformat()}"
    )
    for index in indexes:
        click.echo(f"{index}: {verified.status_of(index).name.lower()}")


def register(group: click.Group) -> None:
    group.add_command(revocation)
    group.add_command(status)
