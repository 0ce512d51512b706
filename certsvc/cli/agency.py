"""``certsvc agency list|add``."""

from __future__ import annotations

import click
from rich.table import Table

from certsvc.agencies.service import create_agency, list_agencies
from certsvc.cli.context import CliContext

pass_ctx = click.make_pass_decorator(CliContext)


@click.group()
def agency() -> None:
    """Issuing agencies."""


@agency.command("list")
@pass_ctx
def list_command(ctx: CliContext) -> None:
    """List issuing agencies."""
    with ctx.migrated_db().session() as session:
        table = Table("code", "name", "region")
        for item in list_agencies(session):
            table.add_row(item.code, item.name, item.region_code)
    ctx.console.print(table)


@agency.command("add")
@click.option("--code", required=True, help="Short code, e.g. BJRS.")
@click.option("--name", required=True, help="Full name, e.g. 北京市人力资源和社会保障局.")
@click.option("--region-code", required=True, help="6-digit GB/T 2260 code, e.g. 110000.")
@pass_ctx
def add_command(ctx: CliContext, code: str, name: str, region_code: str) -> None:
    """Add an issuing agency."""
    with ctx.migrated_db().session() as session:
        created = create_agency(
            session, code=code, name=name, region_code=region_code, actor=ctx.actor
        )
    ctx.console.print(f"created agency {created.code} ({created.name})")


def register(group: click.Group) -> None:
    group.add_command(agency)
