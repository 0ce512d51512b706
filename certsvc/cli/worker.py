"""``certsvc worker``: a Celery worker signing batches' chunks (``CERTSVC_BROKER_URL``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from certsvc.cli.context import CliContext
from certsvc.errors import ConfigError
from certsvc.keys.files import Passphrase

pass_ctx = click.make_pass_decorator(CliContext)


@click.command()
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=None,
    help="Signing processes (default: one per CPU).",
)
@click.option("--passphrase-env", metavar="VARIABLE", help="Signer key passphrase variable.")
@click.option("--passphrase-file", type=click.Path(path_type=Path))
@click.option(
    "--loglevel",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default="INFO",
    show_default=True,
)
@pass_ctx
def worker(
    ctx: CliContext,
    concurrency: int | None,
    passphrase_env: str | None,
    passphrase_file: Path | None,
    loglevel: str,
) -> None:
    """Sign batches sent by `certsvc batch run` through CERTSVC_BROKER_URL, until stopped.

    Needs the coordinator's settings (database, keys, fonts, layouts, public base URL); it
    reads the registry and never writes it, and sends the signed PDFs back through the broker.
    """
    if not ctx.settings.broker_url:
        raise ConfigError(
            "CERTSVC_BROKER_URL is not set: a worker takes its chunks from a Redis or RabbitMQ "
            "broker (e.g. redis://127.0.0.1:6379/0)"
        )
    passphrase = (
        Passphrase.from_sources(env_var=passphrase_env, file=passphrase_file)
        if passphrase_env or passphrase_file
        else None
    )
    from certsvc.issuance.distributed.service import run_worker

    code = run_worker(
        ctx.settings,
        concurrency=concurrency or os.cpu_count() or 1,
        passphrase=passphrase,
        loglevel=loglevel.upper(),
        announce=lambda line: click.echo(line, err=True),
    )
    sys.exit(code)


def register(cli: click.Group) -> None:
    cli.add_command(worker)
