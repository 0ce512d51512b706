"""``certsvc staff add|list|disable|roles`` and ``certsvc signer serve``."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from types import FrameType

import click
from rich.table import Table

from certsvc.cli.context import CliContext
from certsvc.errors import InputError
from certsvc.jobs.signer import SignerOptions, serve
from certsvc.keys.files import Passphrase
from certsvc.staff import service
from certsvc.staff.models import Role

pass_ctx = click.make_pass_decorator(CliContext)
ROLE = click.Choice([role.value for role in Role])


@click.group("staff")
def staff() -> None:
    """Staff accounts of the console (password and TOTP, roles)."""


def _read_password(password_file: Path | None) -> str:
    if password_file is None:
        text: str = click.prompt("password", hide_input=True, confirmation_prompt=True, err=True)
        return text
    try:
        lines = password_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the password file {password_file}: {exc}") from None
    if not lines or not lines[0]:
        raise InputError(f"the password file {password_file} is empty")
    return lines[0]


@staff.command("add")
@click.argument("username")
@click.option("--role", "roles", type=ROLE, multiple=True, required=True, help="Repeat for more.")
@click.option(
    "--password-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The password on the first line (default: asked for).",
)
@pass_ctx
def add(ctx: CliContext, username: str, roles: tuple[str, ...], password_file: Path | None) -> None:
    """Create a member of staff; prints the TOTP provisioning URI once (load it into an
    authenticator app: it is not shown again)."""
    password = _read_password(password_file)
    with ctx.migrated_db().session() as session:
        created = service.create_staff(
            session, username=username, password=password, roles=roles, actor=ctx.actor
        )
    ctx.console.print(
        f"created {created.user.username} ({', '.join(created.user.roles)}); second factor — "
        "load this into an authenticator app now, it is not shown again:"
    )
    click.echo(created.provisioning_uri)


@staff.command("list")
@pass_ctx
def list_command(ctx: CliContext) -> None:
    """Members of staff, their roles and whether they may sign in."""
    with ctx.migrated_db().session() as session:
        users = service.list_staff(session)
    table = Table("user", "roles", "active", "locked until", "last sign-in")
    for user in users:
        table.add_row(
            user.username,
            ", ".join(user.roles),
            "yes" if user.active else "no",
            f"{user.locked_until:%Y-%m-%d %H:%M}" if user.locked_until else "",
            f"{user.last_sign_in_at:%Y-%m-%d %H:%M}" if user.last_sign_in_at else "",
        )
    ctx.console.print(table)


@staff.command("disable")
@click.argument("username")
@pass_ctx
def disable(ctx: CliContext, username: str) -> None:
    """Stop a member of staff from signing in (their sessions end at the next request)."""
    with ctx.migrated_db().session() as session:
        user = service.disable_staff(session, username, actor=ctx.actor)
    ctx.console.print(f"{user.username} disabled")


@staff.command("roles")
@click.argument("username")
@click.option("--role", "roles", type=ROLE, multiple=True, required=True)
@pass_ctx
def roles_command(ctx: CliContext, username: str, roles: tuple[str, ...]) -> None:
    """Replace a member of staff's roles."""
    with ctx.migrated_db().session() as session:
        user = service.set_roles(session, username, roles, actor=ctx.actor)
    ctx.console.print(f"{user.username}: {', '.join(user.roles)}")


@click.group("signer")
def signer() -> None:
    """The signer process: does the signing jobs the console records."""


@signer.command("serve")
@click.option("--once", is_flag=True, help="Do the jobs waiting now, then stop.")
@click.option("--passphrase-file", type=click.Path(path_type=Path), default=None)
@click.option("--passphrase-env", metavar="VARIABLE", default=None)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=None,
    help="Batch signing processes (default CERTSVC_BATCH_WORKERS, else one per CPU; 0: here).",
)
@click.option("--poll", type=click.FloatRange(0.1, 60), default=2.0, show_default=True)
@pass_ctx
def serve_command(
    ctx: CliContext,
    once: bool,
    passphrase_file: Path | None,
    passphrase_env: str | None,
    workers: int | None,
    poll: float,
) -> None:
    """Claim signing jobs (batch runs, approvals of revocations and reissues) and do them as
    the member of staff who asked; safe to run more than one."""

    passphrase = (
        Passphrase.from_sources(env_var=passphrase_env, file=passphrase_file)
        if passphrase_file or passphrase_env
        else None
    )
    if workers is None:
        workers = ctx.settings.batch_workers or os.cpu_count() or 1
    stop = threading.Event()

    def stop_on_signal(signum: int, _frame: FrameType | None) -> None:
        ctx.err.print(f"signer: signal {signum}, stopping after the current job")
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop_on_signal)
        signal.signal(signal.SIGINT, stop_on_signal)
    done = serve(
        ctx.migrated_db(),
        ctx.settings,
        ctx.keystore,
        SignerOptions(passphrase=passphrase, workers=workers, poll_seconds=poll),
        once=once,
        stop=stop,
        on_job=lambda job: ctx.console.print(
            f"job {job.id} ({job.kind.value}, {job.subject}) for {job.requested_by}: "
            f"{job.state.value}" + (f": {job.error}" if job.error else "")
        ),
    )
    ctx.console.print(f"signer: {done} job(s) done")


def register(group: click.Group) -> None:
    group.add_command(staff)
    group.add_command(signer)
