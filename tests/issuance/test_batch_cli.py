"""``certsvc batch create|approve|cancel|run|status|report`` and ``certsvc notify send``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from sqlmodel import func, select

from certsvc.audit.models import AuditEvent
from certsvc.issuance.models import Document, IssuanceBatch
from certsvc.notifications.service import outbox_path
from tests.conftest import cli_invoker
from tests.issuance.conftest import World

Run = Callable[..., Result]
CLERK = "clerk"  # the CLI's actor is "cli:<name>"


@pytest.fixture
def run(world: World, tmp_path: Path, database_url: str) -> Run:
    return cli_invoker(tmp_path, database_url, actor=CLERK)


def _passphrase(world: World) -> str:
    return str(world.settings.data_dir / "demo" / "signer.pass")


def _run_args(world: World, batch_id: int, *extra: str) -> list[str]:
    return [
        "batch",
        "run",
        str(batch_id),
        "--workers",
        "0",
        "--passphrase-file",
        _passphrase(world),
        *extra,
    ]


def _audit(world: World, action: str) -> list[AuditEvent]:
    with world.db.session() as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def test_create_approve_run_status_report(run: Run, world: World) -> None:
    created = run("batch", "create", str(world.session_ids[0])).output
    assert "batch 1: draft with 24 candidates from sessions 1; 2 left out" in created
    assert "left out: result 1 " in created and "withdrawn: objection 1 upheld" in created
    assert "left out: result 3 " in created and ": held by an open objection" in created
    assert "certsvc batch approve 1" in created

    refused = run("batch", "approve", "1", code=4).output
    assert (
        f"error: batch 1 was created by cli:{CLERK}; another member of staff must approve it"
        in refused
    )
    not_yet = run(*_run_args(world, 1), code=4).output
    assert "batch 1 has not been approved (`certsvc batch approve`)" in not_yet
    approved = run("--actor", "boss", "batch", "approve", "1").output
    assert "batch 1 approved by cli:boss" in approved

    done = run(*_run_args(world, 1, "--no-notify")).output
    lines = done.splitlines()
    assert "batch 1: completed, 1 run(s)" in lines
    assert "candidates 24: issued 24, failed 0, skipped 0; held at creation 2" in lines
    assert "documents: 24 certificates, 24 notices" in lines
    assert "transparency log: tree head at 48 entries" in lines
    assert any(line.startswith("held: result 3 ") for line in lines)
    report_path = world.settings.data_dir / "reports" / "batch-1.txt"
    assert f"report written to {report_path} (and .json)" in done
    assert (
        report_path.read_text(encoding="utf-8").splitlines()[:3]
        == lines[lines.index("batch 1: completed, 1 run(s)") :][:3]
    )
    assert not outbox_path(world.settings).exists()  # --no-notify

    status = run("batch", "status", "1").output
    assert "batch 1: completed, 24 candidates, 1 run(s)" in status
    assert "  issued: 24" in status and "  pending: 0" in status and "  failed: 0" in status
    listing = run("batch", "status").output
    assert f"cli:{CLERK}" in listing and "cli:boss" in listing and "completed" in listing

    data = json.loads(run("batch", "report", "1", "--json").output)
    assert (data["status"], data["candidates"], data["issued"]) == ("completed", 24, 24)
    assert data["documents"] == {"certificate": 24, "notice": 24}
    assert (data["failed_count"], data["skipped_count"], data["tree_size"]) == (0, 0, 48)
    assert {row["result_id"] for row in data["held"]} == {1, 3}
    assert data["last_run"]["candidates"] == 24 and data["last_run"]["run"] == 1
    text = run("batch", "report", "1").output
    assert "candidates 24: issued 24" in text and "last run (#1): 24 candidates" in text

    again = run(*_run_args(world, 1), code=4).output
    assert "batch 1 is already complete" in again

    assert "sent 24, failed 0, to retry 0" in run("notify", "send").output
    sent = outbox_path(world.settings).read_text(encoding="utf-8").splitlines()
    assert len(sent) == 24
    assert "sent 0, failed 0, to retry 0" in run("notify", "send").output
    assert len(outbox_path(world.settings).read_text(encoding="utf-8").splitlines()) == 24

    assert "batch 1 verified" in run("batch", "verify", "1").output
    run("log", "verify")
    verified = json.loads(run("log", "verify", "--json").output)
    assert verified["ok"] is True and verified["entries"] == 48

    assert [e.actor for e in _audit(world, "batch:create")] == [f"cli:{CLERK}"]
    assert [e.actor for e in _audit(world, "batch:approve")] == ["cli:boss"]
    assert [e.actor for e in _audit(world, "batch:run")] == [f"cli:{CLERK}"]
    assert len(_audit(world, "notification:send")) == 24


def test_a_run_notifies_holders_by_default(run: Run, world: World) -> None:
    run("batch", "create", "1")
    run("--actor", "boss", "batch", "approve", "1")
    run(*_run_args(world, 1))
    lines = outbox_path(world.settings).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 24
    assert all(json.loads(line)["key"].startswith("batch:1:person:") for line in lines)
    assert "sent 0, failed 0, to retry 0" in run("notify", "send").output


def test_create_refuses_bad_sessions_and_creates_nothing(run: Run, world: World) -> None:
    refused = run("batch", "create", "1", "99", code=4).output
    assert "error: cannot create the batch: session 99 does not exist" in refused
    unknown = run("batch", "create", "1", "--agency", "NOPE", code=3).output
    assert "no issuing agency with code 'NOPE'" in unknown
    usage = run("batch", "create", code=2).output
    assert "Missing argument 'SESSION_IDS...'" in usage
    with world.db.session() as session:
        assert session.exec(select(func.count()).select_from(IssuanceBatch)).one() == 0
    assert _audit(world, "batch:create") == []


def test_create_json_then_cancel(run: Run, world: World) -> None:
    data = json.loads(run("batch", "create", "1", "--json").output)
    assert (data["id"], data["status"], data["candidates"]) == (1, "draft", 24)
    assert {row["result_id"] for row in data["held"]} == {1, 3}

    assert "Missing option '--reason'" in run("batch", "cancel", "1", code=2).output
    blank = run("batch", "cancel", "1", "--reason", "  ", code=2).output
    assert "say why the batch is cancelled (--reason)" in blank
    assert "batch 1: draft" in run("batch", "status", "1").output

    assert "batch 1 cancelled" in run("batch", "cancel", "1", "--reason", "wrong year").output
    status = run("batch", "status", "1").output
    assert "batch 1: cancelled" in status and "  pending: 0" in status
    assert "batch 1 was cancelled" in run(*_run_args(world, 1), code=4).output
    assert (
        "only a draft can be approved"
        in run("--actor", "boss", "batch", "approve", "1", code=4).output
    )
    # the results are free again
    assert "batch 2: draft with 24 candidates" in run("batch", "create", "1").output
    assert [e.details["reason"] for e in _audit(world, "batch:cancel")] == ["wrong year"]


def test_unknown_batches_and_bad_passphrases(run: Run, world: World, tmp_path: Path) -> None:
    assert "no issuance batch 5" in run("batch", "status", "5", code=3).output
    assert "no issuance batch 5" in run("batch", "report", "5", code=3).output
    assert "no issuance batch 5" in run("--actor", "boss", "batch", "approve", "5", code=3).output
    run("batch", "create", "1")
    run("--actor", "boss", "batch", "approve", "1")
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("not the passphrase\n", encoding="utf-8")
    wrong.chmod(0o600)
    result = run("batch", "run", "1", "--workers", "0", "--passphrase-file", str(wrong), code=6)
    assert "passphrase" in result.output.lower()
    with world.db.session() as session:
        assert session.exec(select(func.count()).select_from(Document)).one() == 0
        batch = session.get(IssuanceBatch, 1)
        assert batch is not None
        # refused before it began: not counted, not audited, no issue date fixed
        assert (batch.runs, batch.issued_on, batch.first_started_at) == (0, None, None)
    assert _audit(world, "batch:run") == []
    assert list(world.store.hashes()) == [] and world.store.staged() == []
    # the batch is still there to run with the right passphrase
    assert "batch 1: completed, 1 run(s)" in run(*_run_args(world, 1)).output


def test_with_a_broker_the_local_pool_is_asked_for_with_local(
    world: World, tmp_path: Path, database_url: str
) -> None:
    broker = {"CERTSVC_BROKER_URL": "redis://:pw@127.0.0.1:9/0", "CERTSVC_BROKER_TIMEOUT": "1"}
    run = cli_invoker(tmp_path, database_url, actor=CLERK, environment=broker)
    batch_id = world.approved_batch()
    refused = run(*_run_args(world, batch_id), code=2).output
    assert "--workers sizes the local pool" in refused and "add --local" in refused
    no_broker = run("batch", "run", str(batch_id), "--passphrase-file", _passphrase(world), code=7)
    assert "cannot use the broker redis://:***@127.0.0.1:9/0 (CERTSVC_BROKER_URL)" in (
        no_broker.output
    )
    done = run(*_run_args(world, batch_id, "--local"))
    assert f"batch {batch_id}: completed" in done.output


def test_a_worker_needs_a_broker(tmp_path: Path, database_url: str) -> None:
    run = cli_invoker(tmp_path, database_url, actor=CLERK)
    refused = run("worker", code=2).output
    assert "CERTSVC_BROKER_URL is not set" in refused
