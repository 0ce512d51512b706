"""``certsvc publicity open|status|close`` and ``certsvc objection add|resolve|list``."""

from __future__ import annotations

from datetime import date

import click
from rich.table import Table

from certsvc.cli.context import CliContext
from certsvc.publicity.models import Objection, ObjectionChannel, PublicityPeriod
from certsvc.publicity.service import (
    PublicityStanding,
    close_publicity,
    get_period,
    list_objections,
    lodge_objection,
    open_publicity,
    publicity_standing,
    resolve_objection,
)

pass_ctx = click.make_pass_decorator(CliContext)
DATE = click.DateTime(formats=["%Y-%m-%d"])
ID = click.IntRange(1, 2**31 - 1)


@click.group()
def publicity() -> None:
    """Publicity periods (公示) of review results."""


@publicity.command("open")
@click.argument("session_id", type=ID)
@click.option("--start", type=DATE, default=None, help="First day (default: today).")
@click.option(
    "--days",
    type=click.IntRange(1, 60),
    default=None,
    help="Working days, at least 5 (default: CERTSVC_PUBLICITY_WORKING_DAYS).",
)
@click.option(
    "--backdate-reason",
    default=None,
    help="Why a publicity that started before today is recorded only now.",
)
@pass_ctx
def open_command(
    ctx: CliContext, session_id: int, start: object, days: int | None, backdate_reason: str | None
) -> None:
    """Open publicity for a session; its end date follows the working-day calendar."""
    first = start.date() if start is not None else ctx.today()  # type: ignore[attr-defined]
    with ctx.migrated_db().session() as session:
        period = open_publicity(
            session,
            ctx.calendar,
            session_id=session_id,
            start=first,
            working_days=days if days is not None else ctx.settings.publicity_working_days,
            backdate_reason=backdate_reason,
            actor=ctx.actor,
            today=ctx.today(),
        )
    ctx.console.print(
        f"publicity for session {session_id} opened: {period.start_date} to "
        f"{period.end_date} ({period.working_days} working days; calendar: "
        f"{period.calendar_source})"
    )


@publicity.command("status")
@click.argument("session_id", type=ID)
@pass_ctx
def status_command(ctx: CliContext, session_id: int) -> None:
    """Show a session's publicity and where its passing results stand."""
    with ctx.migrated_db().session() as session:
        standing = publicity_standing(session, get_period(session, session_id))
    _print_standing(ctx, standing, today=ctx.today())


@publicity.command("close")
@click.argument("session_id", type=ID)
@pass_ctx
def close_command(ctx: CliContext, session_id: int) -> None:
    """Close publicity after its last day; lists results still held and why."""
    with ctx.migrated_db().session() as session:
        standing = close_publicity(
            session, session_id=session_id, actor=ctx.actor, today=ctx.today()
        )
    ctx.console.print(f"publicity for session {session_id} closed")
    _print_standing(ctx, standing, today=ctx.today())


def _print_standing(ctx: CliContext, standing: PublicityStanding, *, today: date) -> None:
    period: PublicityPeriod = standing.period
    out = ctx.console
    out.print(
        f"session {period.session_id}: {period.status.value}, {period.start_date} to "
        f"{period.end_date} ({period.working_days} working days)"
    )
    if period.status.value == "open":
        left = ctx.calendar.count_working_days(max(today, period.start_date), period.end_date)
        out.print(f"working days left including today: {left}")
    out.print(
        f"passing results: {standing.passed}; cleared: {standing.cleared}; held: "
        f"{len(standing.held)}; withdrawn: {len(standing.withdrawn)}; objections open: "
        f"{standing.objections_open}, resolved: {standing.objections_resolved}"
    )
    for held in standing.held:
        out.print(
            f"  held: result {held.result_id} ({held.person_name}) — open objection(s) "
            f"{', '.join(map(str, held.objection_ids))}"
        )
    for gone in standing.withdrawn:
        out.print(f"  withdrawn: result {gone.result_id} ({gone.person_name}) — {gone.reason}")


@click.group()
def objection() -> None:
    """Objections (异议) lodged during publicity."""


@objection.command("add")
@click.argument("result_id", type=ID)
@click.option("--summary", required=True, help="What the objection says.")
@click.option(
    "--channel",
    type=click.Choice([c.value for c in ObjectionChannel]),
    default=ObjectionChannel.LETTER.value,
    show_default=True,
)
@click.option("--received", type=DATE, default=None, help="Date received (default: today).")
@pass_ctx
def add_command(
    ctx: CliContext, result_id: int, summary: str, channel: str, received: object
) -> None:
    """Lodge an objection against a result; it holds the result back until resolved."""
    on = received.date() if received is not None else ctx.today()  # type: ignore[attr-defined]
    with ctx.migrated_db().session() as session:
        created = lodge_objection(
            session,
            result_id=result_id,
            received_on=on,
            channel=ObjectionChannel(channel),
            summary=summary,
            actor=ctx.actor,
            today=ctx.today(),
        )
    ctx.console.print(
        f"objection {created.id} lodged against result {result_id}; "
        "the result is held until it is resolved"
    )


@objection.command("resolve")
@click.argument("objection_id", type=ID)
@click.option("--upheld", "outcome", flag_value="upheld", help="Withdraw the result.")
@click.option("--dismissed", "outcome", flag_value="dismissed", help="Release the hold.")
@click.option("--note", required=True, help="The finding, for the record.")
@pass_ctx
def resolve_command(ctx: CliContext, objection_id: int, outcome: str | None, note: str) -> None:
    """Resolve an objection: --upheld withdraws the result, --dismissed releases it."""
    if outcome is None:
        raise click.UsageError("say --upheld or --dismissed")
    with ctx.migrated_db().session() as session:
        resolved = resolve_objection(
            session,
            objection_id=objection_id,
            upheld=outcome == "upheld",
            resolution=note,
            actor=ctx.actor,
        )
    effect = "result withdrawn" if outcome == "upheld" else "hold released"
    ctx.console.print(f"objection {resolved.id} {outcome}; {effect} (result {resolved.result_id})")


@objection.command("list")
@click.option("--session", "session_id", type=ID, default=None)
@pass_ctx
def list_command(ctx: CliContext, session_id: int | None) -> None:
    """List objections, newest first."""
    with ctx.migrated_db().session() as session:
        items: list[Objection] = list_objections(session, session_id=session_id)
    table = Table("id", "result", "received", "channel", "status", "summary")
    for item in items:
        table.add_row(
            str(item.id),
            str(item.result_id),
            str(item.received_on),
            item.channel.value,
            item.status.value,
            item.summary[:60],
        )
    ctx.console.print(table)


def register(group: click.Group) -> None:
    group.add_command(publicity)
    group.add_command(objection)
