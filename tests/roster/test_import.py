"""Roster import as a whole: formats and encodings, headers, duplicates, idempotence, atomicity."""

from __future__ import annotations

import codecs
import json
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlmodel import col, func, select

from certsvc.audit.models import AuditEvent
from certsvc.db.database import Database
from certsvc.errors import InputError
from certsvc.publicity.calendar import WorkingDayCalendar
from certsvc.publicity.service import open_publicity
from certsvc.roster.importer import ImportReport, import_roster
from certsvc.roster.models import Person, ReviewResult, ReviewSession, RosterImport
from tests.conftest import TEST_ACTOR, TODAY
from tests.factories import HEADERS, document_checks, person_row, write_csv, write_xlsx


def run_import(db: Database, path: Path, **kwargs: object) -> ImportReport:
    kwargs.setdefault("checks", document_checks())
    return import_roster(db, path, agency_code="BJRS", actor=TEST_ACTOR, today=TODAY, **kwargs)  # type: ignore[arg-type]


def counts(db: Database) -> dict[str, int]:
    with db.session() as s:
        return {
            model.__name__: s.exec(select(func.count()).select_from(model)).one()
            for model in (Person, ReviewSession, ReviewResult, RosterImport)
        }


def audit_actions(db: Database) -> list[str]:
    with db.session() as s:
        return list(s.exec(select(AuditEvent.action).order_by(col(AuditEvent.id))).all())


def test_import_stores_sessions_persons_results(db: Database, tmp_path: Path) -> None:
    rows = [person_row(n) for n in range(5)]
    rows.append(person_row(5, 同意票数="10", 评审结果="未通过"))
    rows.append(person_row(6, 专业="网络工程"))  # a second session
    report = run_import(db, write_csv(tmp_path / "r.csv", rows))

    assert report.ok and report.changed
    assert (
        report.rows_read,
        report.sessions_created,
        report.persons_created,
        report.results_created,
    ) == (7, 2, 7, 7)
    with db.session() as s:
        passed = s.exec(
            select(ReviewResult.source_row, ReviewResult.passed).order_by(
                col(ReviewResult.source_row)
            )
        ).all()
        assert [p for _, p in passed] == [True] * 5 + [False, True]
        session = s.exec(select(ReviewSession).where(ReviewSession.specialty == "计算机软件")).one()
        assert (session.year, session.committee_size, session.review_date) == (
            2025,
            30,
            date(2025, 9, 12),
        )
        person = s.exec(select(Person).where(Person.id_number == rows[0]["证件号码"])).one()
        assert person.mobile == "+8613900000000"
    assert audit_actions(db)[-1] == "roster:import"


def test_reimporting_the_same_file_changes_nothing(db: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", [person_row(n) for n in range(4)])
    first = run_import(db, path)
    before, events = counts(db), audit_actions(db)

    again = run_import(db, path)

    assert again.ok and not again.changed and again.import_id is None
    assert again.results_unchanged == 4 and again.results_created == 0
    assert counts(db) == before
    assert audit_actions(db) == events
    assert first.import_id is not None


def test_overlapping_file_adds_only_what_is_new(db: Database, tmp_path: Path) -> None:
    run_import(db, write_csv(tmp_path / "a.csv", [person_row(n) for n in range(3)]))
    report = run_import(db, write_csv(tmp_path / "b.csv", [person_row(n) for n in range(5)]))
    assert (
        report.results_unchanged,
        report.results_created,
        report.persons_created,
        report.sessions_created,
    ) == (3, 2, 2, 0)
    assert counts(db)["ReviewResult"] == 5


def test_one_bad_row_among_many_imports_nothing_and_every_bad_row_is_reported(
    db: Database, tmp_path: Path
) -> None:
    rows = [person_row(n) for n in range(30)]
    rows[3]["姓名"] = ""
    rows[17]["同意票数"] = "99"
    rows[17]["评审结果"] = ""
    rows[29]["系列"] = "魔法"
    report = run_import(db, write_csv(tmp_path / "r.csv", rows))

    assert not report.ok
    assert sorted((e.row, e.column) for e in report.errors) == [
        (5, "name"),
        (19, "votes_for"),
        (31, "series"),
    ]
    assert counts(db) == {"Person": 0, "ReviewSession": 0, "ReviewResult": 0, "RosterImport": 0}
    assert "roster:import" not in audit_actions(db)


def test_errors_found_after_writing_began_still_roll_everything_back(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("certsvc.roster.importer.CHUNK_ROWS", 4)  # rows 2-5 are written first
    rows = [person_row(n) for n in range(10)]
    rows[8]["证件号码"] = rows[8]["证件号码"][:-1] + (
        "0" if rows[8]["证件号码"][-1] != "0" else "1"
    )
    report = run_import(db, write_csv(tmp_path / "r.csv", rows))
    assert [(e.row, e.column) for e in report.errors] == [(10, "id_number")]
    assert counts(db)["ReviewResult"] == 0 and counts(db)["Person"] == 0


def test_duplicate_person_in_one_session_is_reported_on_the_later_row(
    db: Database, tmp_path: Path
) -> None:
    rows = [person_row(0), person_row(1), person_row(0, 序号="3")]
    report = run_import(db, write_csv(tmp_path / "r.csv", rows))
    assert [(e.row, e.column) for e in report.errors] == [(4, "id_number")]
    assert "row 2" in report.errors[0].reason


def test_same_person_in_two_sessions_is_one_person(db: Database, tmp_path: Path) -> None:
    rows = [person_row(0), person_row(0, 专业="网络工程")]
    report = run_import(db, write_csv(tmp_path / "r.csv", rows))
    assert report.ok, report.errors
    assert counts(db)["Person"] == 1 and counts(db)["ReviewResult"] == 2


def test_one_identity_with_two_names_in_a_file_is_refused(db: Database, tmp_path: Path) -> None:
    rows = [person_row(0), person_row(0, 专业="网络工程", 姓名="王大明")]
    report = run_import(db, write_csv(tmp_path / "r.csv", rows))
    assert [(e.row, e.column) for e in report.errors] == [(3, "name")]


@pytest.mark.parametrize(
    ("header", "value", "column"),
    [
        ("评审委员会人数", "31", "committee_size"),
        ("评审日期", "2025-09-13", "review_date"),
        ("资格名称", "正高级工程师", "qualification_name"),
    ],
    ids=["committee-size", "review-date", "qualification"],
)
def test_rows_of_one_session_must_agree(
    db: Database, tmp_path: Path, header: str, value: str, column: str
) -> None:
    rows = [person_row(0), person_row(1, **{header: value})]
    report = run_import(db, write_csv(tmp_path / "r.csv", rows))
    assert [(e.row, e.column) for e in report.errors] == [(3, column)]
    assert "row 2" in report.errors[0].reason


def test_stored_result_with_other_votes_is_a_conflict(db: Database, tmp_path: Path) -> None:
    run_import(db, write_csv(tmp_path / "a.csv", [person_row(0), person_row(1)]))
    report = run_import(
        db, write_csv(tmp_path / "b.csv", [person_row(0), person_row(1, 同意票数="21")])
    )
    assert [(e.row, e.column) for e in report.errors] == [(3, "votes_for")]
    assert "20 of 25" in report.errors[0].reason


def test_stored_person_under_another_name_is_a_conflict(db: Database, tmp_path: Path) -> None:
    run_import(db, write_csv(tmp_path / "a.csv", [person_row(0)]))
    report = run_import(
        db, write_csv(tmp_path / "b.csv", [person_row(0, 专业="网络工程", 姓名="王大明")])
    )
    assert [(e.row, e.column) for e in report.errors] == [(2, "name")]
    assert "reissue" in report.errors[0].reason
    assert counts(db)["ReviewSession"] == 1


def test_stored_person_with_new_contact_details_is_updated_and_audited(
    db: Database, tmp_path: Path
) -> None:
    run_import(db, write_csv(tmp_path / "a.csv", [person_row(0)]))
    report = run_import(
        db,
        write_csv(
            tmp_path / "b.csv",
            [person_row(0, 专业="网络工程", 手机号码="13711112222", 工作单位="新单位")],
        ),
    )
    assert report.ok and report.persons_updated == 1 and report.results_created == 1
    with db.session() as s:
        person = s.exec(select(Person)).one()
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "person:update")).one()
    assert (person.mobile, person.work_unit) == ("+8613711112222", "新单位")
    assert event.details["fields"] == ["work_unit", "mobile"]
    assert "13711112222" not in json.dumps(event.details)


def test_no_result_is_added_to_a_session_in_publicity(
    db: Database, tmp_path: Path, calendar: WorkingDayCalendar
) -> None:
    run_import(db, write_csv(tmp_path / "a.csv", [person_row(0)]))
    with db.session() as s:
        session_id = s.exec(select(ReviewSession.id)).one()
        assert session_id is not None
        open_publicity(
            s,
            calendar,
            session_id=session_id,
            start=date(2025, 9, 26),
            working_days=5,
            actor=TEST_ACTOR,
            today=TODAY,
            backdate_reason="补录",
        )
    report = run_import(db, write_csv(tmp_path / "b.csv", [person_row(0), person_row(1)]))
    assert [(e.row, e.column) for e in report.errors] == [(3, "committee_name")]
    assert "publicity since 2025-09-26" in report.errors[0].reason


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings_are_detected(db: Database, tmp_path: Path, encoding: str) -> None:
    rows = [person_row(0, 姓名="𠮷野"), person_row(1, 姓名="阿依古丽·买买提")]
    path = write_csv(tmp_path / "r.csv", rows, encoding=encoding)
    if encoding == "gb18030":
        with pytest.raises(UnicodeDecodeError):
            path.read_bytes().decode("utf-8")
    report = run_import(db, path)
    assert report.ok, report.errors
    assert report.encoding == encoding
    with db.session() as s:
        assert set(s.exec(select(Person.name)).all()) == {"𠮷野", "阿依古丽·买买提"}


def test_undecodable_csv_is_refused_with_the_offset(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(codecs.BOM_UTF8 + ",".join(HEADERS).encode() + b"\n\xff\xfe\xfa\n")
    with pytest.raises(InputError, match="not UTF-8 at byte"):
        run_import(db, path)


def test_english_headers_in_any_order_are_accepted(db: Database, tmp_path: Path) -> None:
    english = {
        "姓名": "name",
        "证件类型": "id_type",
        "证件号码": "id_number",
        "性别": "Gender",
        "出生日期": "birth_date",
        "工作单位": "work unit",
        "手机号码": "mobile",
        "评审委员会": "committee",
        "评审委员会人数": "committee_size",
        "评审日期": "review_date",
        "系列": "series",
        "专业": "specialty",
        "级别": "level",
        "资格名称": "qualification",
        "出席委员数": "attending",
        "同意票数": "votes_for",
    }
    row = person_row(0)
    headers = list(reversed(english))
    path = tmp_path / "r.csv"
    path.write_text(
        ",".join(english[h] for h in headers) + "\n" + ",".join(row[h] for h in headers) + "\n",
        encoding="utf-8",
    )
    report = run_import(db, path)
    assert report.ok, report.errors
    assert report.results_created == 1


@pytest.mark.parametrize(
    ("headers", "phrase"),
    [
        ((*HEADERS, "学历"), "'学历' is not a known column"),
        (tuple(h for h in HEADERS if h != "证件号码"), "required column(s) missing: 证件号码"),
        ((*HEADERS, "姓名"), "repeats column B"),
    ],
    ids=["unknown-header", "missing-required", "repeated-header"],
)
def test_bad_header_is_refused(
    db: Database, tmp_path: Path, headers: tuple[str, ...], phrase: str
) -> None:
    path = write_csv(tmp_path / "r.csv", [person_row(0)], headers=headers)
    with pytest.raises(InputError) as caught:
        run_import(db, path)
    assert phrase in str(caught.value)
    assert counts(db)["ReviewResult"] == 0


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        (b"", "no header row"),
        ("标题\n".encode() * 12, "no header row"),
        (",".join(HEADERS).encode() + b"\n", "no rows"),
    ],
    ids=["empty", "no-header", "header-only"],
)
def test_files_without_data_are_refused(
    db: Database, tmp_path: Path, content: bytes, phrase: str
) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=phrase):
        run_import(db, path)


def test_missing_file_is_refused(db: Database, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        run_import(db, tmp_path / "absent.csv")


def test_xlsx_with_title_row_and_date_cells(db: Database, tmp_path: Path) -> None:
    rows: list[dict[str, object]] = [dict(person_row(n)) for n in range(3)]
    for row in rows:
        row["出生日期"] = datetime.fromisoformat(str(row["出生日期"]))
        row["评审日期"] = datetime(2025, 9, 12)
        row["出席委员数"] = 25
        row["同意票数"] = 20.0
    path = write_xlsx(
        tmp_path / "r.xlsx", rows, title="2025年度工程技术系列高级职称评审通过人员名单"
    )
    report = run_import(db, path)
    assert report.ok, report.errors
    assert report.file_format == "xlsx" and report.results_created == 3


def test_xlsx_identity_number_stored_as_a_number_is_refused(db: Database, tmp_path: Path) -> None:
    row: dict[str, object] = dict(person_row(0))
    row["证件号码"] = int(str(row["证件号码"])[:-1] + "0")
    report = run_import(db, write_xlsx(tmp_path / "r.xlsx", [row]))
    assert [(e.row, e.column) for e in report.errors] == [(2, "id_number")]
    assert "format the column as text" in report.errors[0].reason


def test_not_an_xlsx_is_refused(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="not a readable XLSX"):
        run_import(db, path)


def test_unknown_agency_is_refused(db: Database, tmp_path: Path) -> None:
    from certsvc.errors import NotFoundError

    path = write_csv(tmp_path / "r.csv", [person_row(0)])
    with pytest.raises(NotFoundError, match="XXRS"):
        import_roster(
            db,
            path,
            agency_code="XXRS",
            actor=TEST_ACTOR,
            today=TODAY,
            checks=document_checks(),
        )


def test_csv_rows_are_records_not_lines(db: Database, tmp_path: Path) -> None:
    rows = [person_row(0, 备注="a\nb\nc"), person_row(1), person_row(2, 系列="魔法")]
    path = write_csv(tmp_path / "r.csv", rows, headers=(*HEADERS, "备注"))
    assert path.read_text(encoding="utf-8").count("\n") == 6  # the first row spans three lines
    report = run_import(db, path)
    assert [(e.row, e.column) for e in report.errors] == [(4, "series")]


def test_csv_error_names_the_file_and_row(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    line = ",".join(person_row(0)[h] for h in HEADERS)
    huge = "x" * 200_000  # over the csv module's field size limit
    path.write_text(",".join(HEADERS) + "\n" + line + "\n" + line + f",{huge}\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        run_import(db, path)
    message = str(caught.value)
    assert "r.csv" in message and "row 3" in message, message


@pytest.mark.parametrize("title", ["2025年度评审通过人员名单", "名单,2025年度", "名单\t"])
def test_tsv_with_a_title_line_is_split_on_tabs(db: Database, tmp_path: Path, title: str) -> None:
    rows = [person_row(n) for n in range(2)]
    lines = [title, "\t".join(HEADERS), *("\t".join(row[h] for h in HEADERS) for row in rows)]
    path = tmp_path / "r.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = run_import(db, path)
    assert report.ok, report.errors
    assert report.results_created == 2


def test_csv_whose_cells_hold_tabs_is_still_comma_separated(db: Database, tmp_path: Path) -> None:
    rows = [person_row(0, 备注="a\tb\tc"), person_row(1)]
    report = run_import(db, write_csv(tmp_path / "r.csv", rows, headers=(*HEADERS, "备注")))
    assert report.ok, report.errors


def test_utf16_csv_is_read(db: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", [person_row(0)], encoding="utf-16")
    report = run_import(db, path)
    assert report.ok, report.errors
    assert report.encoding == "utf-16"


def test_truncated_utf16_csv_is_refused(db: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", [person_row(0)], encoding="utf-16")
    path.write_bytes(path.read_bytes()[:-1])  # an odd number of bytes
    with pytest.raises(InputError, match="UTF-16 BOM but is not UTF-16"):
        run_import(db, path)


def _damage_sheet(path: Path, keep: float) -> None:
    """Cut the first worksheet's XML after ``keep`` of its length (a truncated download)."""
    import zipfile

    with zipfile.ZipFile(path) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    sheet = "xl/worksheets/sheet1.xml"
    members[sheet] = members[sheet][: int(len(members[sheet]) * keep)]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, content in members.items():
            target.writestr(name, content)


@pytest.mark.parametrize("keep", [0.05, 0.5, 0.95], ids=["before-header", "middle", "end"])
def test_xlsx_with_a_damaged_sheet_is_refused(db: Database, tmp_path: Path, keep: float) -> None:
    path = write_xlsx(tmp_path / "r.xlsx", [dict(person_row(n)) for n in range(40)])
    _damage_sheet(path, keep)
    with pytest.raises(InputError) as caught:
        run_import(db, path)
    message = str(caught.value)
    assert "r.xlsx" in message and "XLSX" in message, message
    assert counts(db)["ReviewResult"] == 0


def test_xlsx_with_a_damaged_sheet_names_the_row(db: Database, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "r.xlsx", [dict(person_row(n)) for n in range(40)])
    _damage_sheet(path, 0.5)
    with pytest.raises(InputError, match=r"the XLSX sheet cannot be read at row \d+"):
        run_import(db, path)


def test_xlsx_numeric_counts_are_bounded(db: Database, tmp_path: Path) -> None:
    row: dict[str, object] = dict(person_row(0))
    row["评审委员会人数"] = 3e10
    row["出席委员数"] = 30_000_000_000
    row["同意票数"] = 30_000_000_000
    report = run_import(db, write_xlsx(tmp_path / "r.xlsx", [row]))
    assert sorted(e.column for e in report.errors) == [
        "committee_size",
        "members_attending",
        "votes_for",
    ]
    assert all("more than 9999" in e.reason for e in report.errors)
    assert counts(db)["ReviewResult"] == 0


def test_concurrent_import_conflict_names_the_constraint_not_the_row(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A race with another import surfaces as an integrity error; its message must not
    quote the conflicting row (it holds the identity number)."""
    rows = [person_row(0)]
    run_import(db, write_csv(tmp_path / "a.csv", rows))
    # pretend the stored person was not there when this import looked (a concurrent import)
    monkeypatch.setattr(
        "certsvc.roster.importer._Importer._load_stored_persons", lambda self, rows: None
    )
    with pytest.raises(InputError) as caught:
        run_import(db, write_csv(tmp_path / "b.csv", [person_row(0, 专业="网络工程")]))
    message = str(caught.value)
    assert "at the same time" in message
    assert rows[0]["证件号码"] not in message and rows[0]["证件号码"][:6] not in message


def test_sql_echo_never_logs_identity_numbers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, database_url: str
) -> None:
    import logging

    from certsvc.bootstrap import initialise
    from certsvc.config import Settings

    settings = Settings.from_env({}, data_dir=tmp_path, database_url=database_url)
    echoing = Database(database_url, echo=True)
    initialise(echoing, settings, actor=TEST_ACTOR)
    row = person_row(0)
    with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
        report = import_roster(
            echoing,
            write_csv(tmp_path / "r.csv", [row]),
            agency_code="BJRS",
            actor=TEST_ACTOR,
            today=TODAY,
            checks=document_checks(),
        )
    echoing.dispose()
    assert report.ok and "INSERT" in caplog.text
    assert row["证件号码"] not in caplog.text
