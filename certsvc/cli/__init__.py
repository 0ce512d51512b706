"""The ``certsvc`` command: one group, with a module per domain registering its commands."""

from __future__ import annotations

from typing import IO, Any

import click
from sqlalchemy import exc as sa_exc

from certsvc import __version__, logs
from certsvc.cli import (
    agency,
    batch,
    documents,
    keys,
    log,
    publicity,
    revocation,
    roster,
    staff,
    system,
    verify,
    worker,
)
from certsvc.cli.context import CliContext
from certsvc.config import Settings, mask_url_password
from certsvc.errors import CertsvcError, ConfigError


class CertsvcCommandError(click.ClickException):
    """A :class:`CertsvcError` on its way out: its message and its exit code."""

    def __init__(self, error: CertsvcError) -> None:
        super().__init__(str(error))
        self.exit_code = error.exit_code  # type: ignore[misc]  # per error, not per class

    def format_message(self) -> str:
        return self.message

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True, file=file)


class CertsvcGroup(click.Group):
    """Turns every ``CertsvcError`` raised by a command into a clear message and exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CertsvcError as exc:
            raise CertsvcCommandError(exc) from exc
        except (sa_exc.OperationalError, sa_exc.NoSuchModuleError) as exc:
            settings = ctx.obj.settings if isinstance(ctx.obj, CliContext) else None
            where = mask_url_password(settings.sqlalchemy_url) if settings else "the database"
            reason = str(exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc).splitlines()[0]
            raise CertsvcCommandError(
                ConfigError(f"cannot use the database {where}: {reason}")
            ) from exc


@click.group(cls=CertsvcGroup)
@click.version_option(__version__, prog_name="certsvc")
@click.option(
    "--actor",
    envvar="CERTSVC_ACTOR",
    default=None,
    help="Who is acting, for the audit log (default: the OS user).",
)
@click.pass_context
def cli(ctx: click.Context, actor: str | None) -> None:
    """certsvc: issue and verify electronic professional-title documents."""
    try:
        settings = Settings.from_env()
    except CertsvcError as exc:
        raise CertsvcCommandError(exc) from exc
    logs.configure(settings, default_level="WARNING")  # output is for people; logs to stderr
    ctx.obj = CliContext(settings=settings, actor_override=actor)


for module in (
    system,
    roster,
    publicity,
    agency,
    keys,
    documents,
    batch,
    log,
    revocation,
    verify,
    worker,
):
    module.register(cli)
staff.register(cli)  # staff accounts and the signer process (the console's jobs)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="certsvc")
