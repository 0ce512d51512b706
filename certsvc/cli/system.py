"""``certsvc init``, ``config`` and ``demo``."""

from __future__ import annotations

import json

import click

from certsvc.bootstrap import initialise
from certsvc.cli.context import CliContext

pass_ctx = click.make_pass_decorator(CliContext)


@click.command()
@pass_ctx
def init(ctx: CliContext) -> None:
    """Create or upgrade the database schema and the default issuing agency."""
    report = initialise(ctx.db, ctx.settings, actor=ctx.actor)
    if report.revision_before == report.revision_after:
        ctx.console.print(f"database already at revision {report.revision_after}")
    else:
        ctx.console.print(
            f"database migrated from {report.revision_before or '(empty)'} "
            f"to {report.revision_after}"
        )
    if report.agency_created:
        ctx.console.print(
            f"created issuing agency {ctx.settings.agency_code} ({ctx.settings.agency_name})"
        )
    click.echo(f"database: {ctx.settings.display()['database_url']}")


@click.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_ctx
def show_config(ctx: CliContext, as_json: bool) -> None:
    """Print the settings in force (secrets masked) and the variables that set them."""
    shown = ctx.settings.display()
    if as_json:
        click.echo(json.dumps(shown, ensure_ascii=False, indent=2))
        return
    width = max(len(name) for name in shown) + len("CERTSVC_")
    for name, value in shown.items():
        click.echo(f"{'CERTSVC_' + name.upper():<{width}}  {value}")


@click.command()
@click.option("--rows", default=200, show_default=True, help="Size of the generated roster.")
@click.option("--seed", default=2024, show_default=True)
@pass_ctx
def demo(ctx: CliContext, rows: int, seed: int) -> None:
    """Build a working example from nothing on the configured database, and say what it made."""
    from certsvc.demo import run_demo

    run_demo(ctx, rows=rows, seed=seed)


def register(group: click.Group) -> None:
    for command in (init, show_config, demo):
        group.add_command(command)
