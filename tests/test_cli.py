"""The certsvc command end to end, on the database a test's settings point at."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlmodel import col, select

from certsvc.cli import cli
from certsvc.db.database import Database
from certsvc.issuance.models import BatchItem, Document, ItemState
from certsvc.keys.models import TrustPublication
from certsvc.publicity.models import Objection, ObjectionStatus, PublicityPeriod, PublicityStatus
from certsvc.roster.models import ReviewResult
from tests.conftest import cli_invoker
from tests.factories import person_row, write_csv

Run = Callable[..., Result]


@pytest.fixture
def run(tmp_path: Path, database_url: str) -> Run:
    return cli_invoker(tmp_path, database_url, actor="alice")


def test_commands_before_init_ask_for_it(run: Run, db_for: Callable[[], Database]) -> None:
    db_for().downgrade("base")  # the fixture's database comes migrated; start from nothing
    result = run("session", "list", code=4)
    assert "run `certsvc init` first" in result.output
    run("init")


def test_init_is_idempotent(run: Run, db_for: Callable[[], Database]) -> None:
    db_for().downgrade("base")
    assert "migrated from (empty)" in run("init").output
    second = run("init").output
    assert "already at revision" in second and "created issuing agency" not in second


def test_config_masks_the_secret_key(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERTSVC_SECRET_KEY", "do-not-print-me")
    output = run("config").output
    assert "do-not-print-me" not in output
    assert "CERTSVC_SECRET_KEY" in output and "(set, hidden)" in output


def test_bad_setting_is_a_clear_error(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERTSVC_PUBLICITY_WORKING_DAYS", "many")
    assert "CERTSVC_PUBLICITY_WORKING_DAYS='many'" in run("config", code=2).output


def test_import_reports_bad_rows_as_text_and_json(run: Run, tmp_path: Path) -> None:
    run("init")
    path = write_csv(tmp_path / "r.csv", [person_row(0), person_row(1, 级别="超级")])
    text = run("import", str(path), code=1).output
    assert "nothing was imported" in text and "级别 (level)" in text

    report_file = tmp_path / "report.json"
    result = run("import", str(path), "--json", "--report", str(report_file), code=1)
    for payload in (json.loads(result.stdout), json.loads(report_file.read_text("utf-8"))):
        assert payload["ok"] is False
        assert [(e["row"], e["column"], e["header"]) for e in payload["errors"]] == [
            (3, "level", "级别")
        ]


def test_import_missing_file(run: Run, tmp_path: Path) -> None:
    run("init")
    assert "no such file" in run("import", str(tmp_path / "nope.csv"), code=2).output


def test_publicity_and_objections_from_the_command_line(
    run: Run, tmp_path: Path, db_for: Callable[[], Database]
) -> None:
    run("init")
    path = write_csv(tmp_path / "r.csv", [person_row(n) for n in range(4)])
    assert "imported 4 rows" in run("import", str(path)).output
    assert "already stored; nothing changed" in run("import", str(path)).output

    opened = run(
        "publicity", "open", "1", "--start", "2025-09-26", "--backdate-reason", "补录"
    ).output
    assert "2025-09-26 to 2025-10-09" in opened
    assert (
        "already opened"
        in run(
            "publicity", "open", "1", "--start", "2025-09-26", "--backdate-reason", "补录", code=4
        ).output
    )
    run("objection", "add", "1", "--summary", "举报论文抄袭", "--received", "2025-09-29")
    run("objection", "add", "2", "--summary", "反映年限不足", "--received", "2025-09-29")
    assert (
        "outside the publicity period"
        in run(
            "objection", "add", "3", "--summary", "迟到的异议", "--received", "2025-10-10", code=4
        ).output
    )
    assert (
        "say --upheld or --dismissed"
        in run("objection", "resolve", "1", "--note", "x", code=2).output
    )
    run("objection", "resolve", "1", "--upheld", "--note", "查实")
    status = run("publicity", "status", "1").output
    assert "held: 1" in status and "withdrawn: 1" in status

    closed = run("publicity", "close", "1").output
    assert "closed" in closed and "held: result 2" in closed and "cleared: 2" in closed
    assert "already closed" in run("publicity", "close", "1", code=4).output

    with db_for().session() as s:
        period = s.exec(select(PublicityPeriod)).one()
        assert period.status is PublicityStatus.CLOSED and period.closed_by == "cli:alice"
        withdrawn = s.exec(
            select(ReviewResult.id).where(col(ReviewResult.withdrawn_at).is_not(None))
        ).all()
        assert withdrawn == [1]


def test_publicity_cannot_close_early(run: Run, tmp_path: Path) -> None:
    run("init")
    run("import", str(write_csv(tmp_path / "r.csv", [person_row(0)])))
    run("publicity", "open", "1")  # today
    assert "it can be closed from the next day" in run("publicity", "close", "1", code=4).output


def test_unknown_session_is_not_found(run: Run) -> None:
    run("init")
    assert "no review session 42" in run("publicity", "open", "42", code=3).output


def test_demo_builds_the_example_and_can_run_again(
    run: Run, db_for: Callable[[], Database]
) -> None:
    first = run("demo", "--rows", "80").output
    for step in (
        "1. database",
        "2. roster",
        "3. import",
        "4. publicity",
        "5. objections",
        "6. close",
        "7. keys",
        "8. issuance",
    ):
        assert step in first
    assert "2025-09-26 to 2025-10-09" in first
    with db_for().session() as s:
        periods = s.exec(select(PublicityPeriod)).all()
        statuses = sorted(o.status.value for o in s.exec(select(Objection)).all())
    assert periods and all(p.status is PublicityStatus.CLOSED for p in periods)
    assert statuses == sorted(s.value for s in ObjectionStatus)
    with db_for().session() as s:
        publications = len(s.exec(select(TrustPublication)).all())
    assert publications == 2  # a CRL and a trust list

    with db_for().session() as s:
        documents = s.exec(select(Document)).all()
        items = s.exec(select(BatchItem)).all()
    assert items and all(item.state is ItemState.ISSUED for item in items)
    assert len(documents) == 2 * len(items)
    assert "signed PDFs by content hash in" in first and ".pdf" in first
    assert "batch 1 verified" in run("batch", "verify", "1").output

    second = run("demo", "--rows", "80").output
    assert "0 results created" in second and "already lodged" in second
    assert "already published" in second
    assert "batch 1 already complete" in second
    with db_for().session() as s:
        assert len(s.exec(select(Objection)).all()) == 3
        assert len(s.exec(select(TrustPublication)).all()) == publications
        assert len(s.exec(select(Document)).all()) == len(documents)


@pytest.fixture
def db_for(database_url: str) -> Callable[[], Database]:
    return lambda: Database(database_url)


def test_text_from_data_is_printed_literally(run: Run, tmp_path: Path) -> None:
    """Brackets in names, committees or objections are text, not terminal markup."""
    run("init")
    committee = "第[/]评审[bold]委员会"
    run("import", str(write_csv(tmp_path / "r.csv", [person_row(0, 评审委员会=committee)])))
    assert committee in run("session", "list").output
    run("publicity", "open", "1")
    run("objection", "add", "1", "--summary", "举报[/b]材料不实")
    assert "举报[/b]材料不实" in run("objection", "list").output
    assert "too short" not in run("publicity", "status", "1").output


def test_publicity_must_last_five_working_days(run: Run, tmp_path: Path) -> None:
    run("init")
    run("import", str(write_csv(tmp_path / "r.csv", [person_row(0)])))
    assert "at least 5 working days" in run("publicity", "open", "1", "--days", "4", code=2).output
    assert "needs a reason" in run("publicity", "open", "1", "--start", "2025-10-20", code=4).output
    assert "2**31" not in run("publicity", "open", "99999999999999999999", code=2).output


@pytest.mark.parametrize(
    ("url", "phrase"),
    [
        ("postgresql://nobody@127.0.0.1:1/none", "cannot use the database"),
        ("mysql://someone@localhost/certsvc", "supports sqlite:/// and postgresql://"),
    ],
    ids=["unreachable", "unsupported-driver"],
)
def test_database_problems_are_clear_errors(url: str, phrase: str, tmp_path: Path) -> None:
    env = {"CERTSVC_DATABASE_URL": url, "CERTSVC_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(cli, ["session", "list"], env=env, catch_exceptions=False)
    assert result.exit_code == 2 and phrase in result.output


def test_unwritable_report_path_is_refused_before_importing(run: Run, tmp_path: Path) -> None:
    run("init")
    path = write_csv(tmp_path / "r.csv", [person_row(0)])
    assert (
        "cannot write the report"
        in run("import", str(path), "--report", str(tmp_path / "missing" / "r.json"), code=2).output
    )
    assert "imported 1 rows" in run("import", str(path)).output
