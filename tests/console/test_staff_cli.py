"""``certsvc staff add|list|roles|disable``: the TOTP URI printed once, passwords from a file
or the prompt, bad input refused with a clear message and nothing stored."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner, Result
from sqlmodel import select

from certsvc.audit.models import AuditEvent
from certsvc.cli import cli
from certsvc.db.database import Database
from certsvc.staff.service import get_staff
from tests.conftest import cli_invoker


def test_staff_commands(db: Database, tmp_path: Path, database_url: str) -> None:
    invoke = cli_invoker(tmp_path, database_url, actor="root")
    password = tmp_path / "pw"
    password.write_text("a long enough password\n", encoding="utf-8")
    added = invoke("staff", "add", "olga", "--role", "operator", "--password-file", str(password))
    assert "otpauth://totp/" in added.output and "olga" in added.output
    typed = "another long password"
    prompted = with_input(tmp_path, database_url, f"{typed}\n{typed}\n")
    assert "otpauth://" in prompted("staff", "add", "petra", "--role", "approver").output
    listed = invoke("staff", "list").output
    assert "olga" in listed and "petra" in listed and "otpauth" not in listed
    invoke("staff", "roles", "olga", "--role", "operator", "--role", "auditor")
    invoke("staff", "disable", "petra")
    with db.session() as session:
        assert get_staff(session, "olga").roles == ["auditor", "operator"]
        assert not get_staff(session, "petra").active
        actions = [e.action for e in session.exec(select(AuditEvent)).all()]
        assert {"staff:create", "staff:role-change", "staff:disable"} <= set(actions)
        assert all(
            e.actor == "cli:root"
            for e in session.exec(select(AuditEvent).where(AuditEvent.action == "staff:create"))
        )

    short = tmp_path / "short"
    short.write_text("short\n", encoding="utf-8")
    refused = invoke(
        "staff", "add", "bob", "--role", "auditor", "--password-file", str(short), code=2
    )
    assert "at least 12 characters" in refused.output
    twice = invoke(
        "staff", "add", "olga", "--role", "admin", "--password-file", str(password), code=4
    )
    assert "already" in twice.output
    bad_name = invoke(
        "staff", "add", "Ölga!", "--role", "admin", "--password-file", str(password), code=2
    )
    assert "user name" in bad_name.output
    invoke("staff", "disable", "nobody", code=3)


def with_input(tmp_path: Path, database_url: str, text: str) -> Callable[..., Result]:
    """Run a command with ``text`` on its standard input (the password prompt)."""
    env = {
        "CERTSVC_DATA_DIR": str(tmp_path / "data"),
        "CERTSVC_DATABASE_URL": database_url,
        "CERTSVC_KEY_DIR": str(tmp_path / "keys"),
        "CERTSVC_ACTOR": "root",
    }

    def run(*args: str) -> Result:
        result = CliRunner().invoke(cli, list(args), env=env, input=text, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    return run
