"""Every validation rule of the roster import, each with a failing row of its own.

Each case imports a file of three good rows and one bad one; the import must store nothing and
report exactly the bad row, the column to blame and a reason a person can act on.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlmodel import func, select

from certsvc.db.database import Database
from certsvc.roster.importer import import_roster
from certsvc.roster.models import Person, ReviewResult, ReviewSession, RosterImport
from tests.conftest import TEST_ACTOR, TODAY
from tests.factories import HEADERS, document_checks, person_row, resident_id, write_csv
from tests.roster.leaks import leaked_runs

BAD_ROW = 4  # header is row 1; the bad row comes after three good ones (rows 2-4) -> row 5
PASSPORT = {"证件类型": "护照", "证件号码": "E12345678", "姓名": "John Smith"}
CASES = [
    # id, overrides of the bad row, blamed column, phrase of the reason
    ("check-character", {"证件号码": resident_id(40)[:-1] + "0"}, "id_number", "check character"),
    ("id-too-short", {"证件号码": "11010519800101"}, "id_number", "18"),
    ("id-15-digit", {"证件号码": "110105800101001"}, "id_number", "2013"),
    ("id-bad-province", {"证件号码": "99" + resident_id(40)[2:]}, "id_number", "province"),
    (
        "birth-date-disagrees",
        {"出生日期": "1970-01-02"},
        "birth_date",
        "does not match the birth date encoded in the identity number",
    ),
    (
        "gender-disagrees",
        {"性别": "女"},
        "gender",
        "does not match the gender encoded in the identity number",
    ),
    ("birth-date-not-a-date", {"出生日期": "1980-13-45"}, "birth_date", "not a date"),
    ("birth-date-future", {"出生日期": "2030-01-01"}, "birth_date", "future"),
    ("unknown-id-type", {"证件类型": "驾驶证"}, "id_type", "居民身份证"),
    (
        "passport-without-country",
        {"证件类型": "护照", "证件号码": "E12345678", "姓名": "John Smith"},
        "id_country",
        "passport",
    ),
    ("passport-chinese-country", {**PASSPORT, "国籍": "CHN"}, "id_country", "resident ID"),
    ("passport-alpha-2-country", {**PASSPORT, "国籍": "US"}, "id_country", "3-letter"),
    ("passport-country-control", {**PASSPORT, "国籍": "US\x01A"}, "id_country", "U+0001"),
    ("passport-country-too-long", {**PASSPORT, "国籍": "A" * 300}, "id_country", "at most 16"),
    ("resident-id-country-too-long", {"国籍": "A" * 300}, "id_country", "at most 16"),
    (
        "fpr-country-mismatch",
        {
            "证件类型": "外国人永久居留身份证",
            "证件号码": "USA110090001234",
            "国籍": "GBR",
            "姓名": "John Smith",
        },
        "id_country",
        "characters 1-3",
    ),
    (
        "hk-permit-bad-format",
        {"证件类型": "港澳居民来往内地通行证", "证件号码": "X1234567"},
        "id_number",
        "",
    ),
    ("votes-for-exceed-attending", {"同意票数": "26", "评审结果": ""}, "votes_for", "attended"),
    (
        "attending-exceeds-committee",
        {"出席委员数": "31", "同意票数": "25"},
        "members_attending",
        "only 30",
    ),
    ("no-quorum", {"出席委员数": "19", "同意票数": "19"}, "members_attending", "quorum"),
    ("result-says-pass-but-votes-short", {"同意票数": "16"}, "result", "two thirds"),
    ("result-says-fail-but-votes-pass", {"评审结果": "未通过"}, "result", "two thirds"),
    ("result-not-a-result", {"评审结果": "优秀"}, "result", "通过"),
    ("votes-not-a-number", {"同意票数": "二十"}, "votes_for", "whole number"),
    ("votes-negative", {"同意票数": "-1"}, "votes_for", "whole number"),
    ("committee-size-huge", {"评审委员会人数": "99999"}, "committee_size", "more than 9999"),
    ("votes-huge", {"同意票数": "0000000000000000020000"}, "votes_for", "more than 9999"),
    ("year-huge", {"年度": "20250"}, "year", "more than 9999"),
    ("birth-date-7-digits", {"出生日期": "1967710"}, "birth_date", "not a date"),
    ("review-date-6-digits", {"评审日期": "202591"}, "review_date", "not a date"),
    ("review-date-no-such-day", {"评审日期": "2025-02-29"}, "review_date", "no such day"),
    ("review-date-dash-1-digit", {"评审日期": "2025-9-12"}, "review_date", "not a date"),
    (
        "work-unit-formula",
        {"工作单位": '=HYPERLINK("http://example.com","某公司")'},
        "work_unit",
        "spreadsheet formula",
    ),
    ("specialty-formula", {"专业": "@SUM(A1:A9)"}, "specialty", "spreadsheet formula"),
    ("committee-formula", {"评审委员会": "+cmd|' /C calc'!A0"}, "committee_name", "formula"),
    ("qualification-formula", {"资格名称": "-HYPERLINK(1)"}, "qualification_name", "formula"),
    (
        "committee-size-zero",
        {"评审委员会人数": "0", "出席委员数": "0", "同意票数": "0"},
        "committee_size",
        "less than 1",
    ),
    ("unknown-series", {"系列": "魔法"}, "series", "unknown series"),
    ("unknown-level", {"级别": "超级"}, "level", "unknown level"),
    ("ambiguous-level", {"级别": "高级"}, "level", "ambiguous"),
    ("missing-name", {"姓名": ""}, "name", "empty"),
    ("missing-work-unit", {"工作单位": " "}, "work_unit", "empty"),
    ("missing-specialty", {"专业": ""}, "specialty", "empty"),
    ("missing-qualification", {"资格名称": ""}, "qualification_name", "empty"),
    ("name-private-use", {"姓名": "王\ue000明"}, "name", "U+E000"),
    ("name-digit", {"姓名": "王2明"}, "name", "U+0032"),
    ("name-double-dot", {"姓名": "阿依古丽··买买提"}, "name", ""),
    ("mobile-bad", {"手机号码": "12345"}, "mobile", ""),
    ("review-date-future", {"评审日期": "2031-01-01"}, "review_date", "future"),
    ("year-unrelated", {"年度": "2019"}, "year", "review date"),
    # the documents of a passing row must have room for every value (see roster.fit)
    (
        "work-unit-too-long-for-the-layout",
        {"工作单位": "中国科学院某某研究所" + "某" * 50},
        "work_unit",
        "too long for the certificate (电子职称证书) layout: at most 2 lines of 28 characters",
    ),
    (
        "committee-too-long-for-the-notice",
        {"评审委员会": "北京市" + "某" * 100 + "评审委员会"},
        "committee_name",
        "too long for the notice (电子职称评价结果通知书) layout: at most 2 lines of 37 characters",
    ),
    (
        "name-too-long-for-the-notice-text",
        {
            "姓名": "阿卜杜热合曼·买买提艾力江" * 4,
            "评审委员会": "北京市" + "某" * 60 + "评审委员会",
        },
        "committee_name",
        "makes the notice (电子职称评价结果通知书)'s text too long: it would take 6 lines where "
        "the layout has 5 of 32 characters",
    ),
    (
        "specialty-too-long-for-the-qr-code",
        {"专业": "计算机应用技术与软件工程及信息系统集成与网络安全管理及大数据分析应用技术研究"},
        "specialty",
        "too long for the QR code: the documents' QR token would need 200 bytes where a "
        "version-10-M QR code behind http://localhost:8000 holds 194 (bytes by column: "
        "name 7, qualification_name 1, specialty 78); about 6 bytes must go",
    ),
    (
        "too-young",
        {"证件号码": resident_id(40, birth=date(2012, 1, 1)), "出生日期": "2012-01-01"},
        "birth_date",
        "younger",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "column", "phrase"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_row_is_reported_and_nothing_is_stored(
    db: Database, tmp_path: Path, overrides: dict[str, str], column: str, phrase: str
) -> None:
    bad = person_row(40, **overrides)
    rows = [person_row(0), person_row(1), person_row(2), bad]
    path = write_csv(tmp_path / "roster.csv", rows, headers=(*HEADERS, "年度"))

    report = import_roster(
        db, path, agency_code="BJRS", actor=TEST_ACTOR, today=TODAY, checks=document_checks()
    )

    assert not report.ok
    blamed = [(e.row, e.column) for e in report.errors]
    assert (BAD_ROW + 1, column) in blamed, report.errors
    assert all(row == BAD_ROW + 1 for row, _ in blamed), report.errors
    reason = next(e.reason for e in report.errors if e.column == column)
    assert phrase in reason
    # Reasons never repeat any part of the identity number actually in the row (not even the
    # birth date or check character that a mistyped number shares with the right one).
    for error in report.errors:
        assert leaked_runs(bad["证件号码"], error.reason) == [], error
    with db.session() as s:
        for model in (Person, ReviewSession, ReviewResult, RosterImport):
            assert s.exec(select(func.count()).select_from(model)).one() == 0, model


def test_passport_without_number_and_country_reports_both(db: Database, tmp_path: Path) -> None:
    rows = [person_row(0), person_row(1, **{**PASSPORT, "证件号码": "", "国籍": ""})]
    path = write_csv(tmp_path / "roster.csv", rows)

    report = import_roster(
        db, path, agency_code="BJRS", actor=TEST_ACTOR, today=TODAY, checks=document_checks()
    )

    assert sorted((e.row, e.column) for e in report.errors) == [
        (3, "id_country"),
        (3, "id_number"),
    ], report.errors
    reasons = {e.column: e.reason for e in report.errors}
    assert "is empty" in reasons["id_number"]
    assert "needs its issuing country" in reasons["id_country"]


def test_bad_country_and_bad_number_are_both_reported(db: Database, tmp_path: Path) -> None:
    rows = [person_row(0), person_row(1, **{**PASSPORT, "证件号码": "E1234#678", "国籍": "US"})]
    path = write_csv(tmp_path / "roster.csv", rows)

    report = import_roster(
        db, path, agency_code="BJRS", actor=TEST_ACTOR, today=TODAY, checks=document_checks()
    )

    assert sorted((e.row, e.column) for e in report.errors) == [
        (3, "id_country"),
        (3, "id_number"),
    ], report.errors


VALID_NAMES = [
    ("extension-b", "𠮷野"),
    ("extension-a", "刘䶮"),
    ("middle-dot", "阿依古丽·买买提"),
    ("bullet-normalised", "阿依古丽•买买提"),
    ("latin", "Anna-Maria O'Neil"),
    ("latin-accents", "José García"),
]


@pytest.mark.parametrize("name", [n for _, n in VALID_NAMES], ids=[i for i, _ in VALID_NAMES])
def test_valid_names_are_stored_exactly(db: Database, tmp_path: Path, name: str) -> None:
    path = write_csv(tmp_path / "roster.csv", [person_row(0, 姓名=name)])
    report = import_roster(
        db, path, agency_code="BJRS", actor=TEST_ACTOR, today=TODAY, checks=document_checks()
    )
    assert report.ok, report.errors
    with db.session() as s:
        stored = s.exec(select(Person.name)).one()
    assert stored == name.replace("•", "·")


NON_MAINLAND = [
    ("gat-residence-hk", {"证件类型": "港澳台居民居住证", "证件号码": "gat"}, "HKG"),
    ("hk-travel-permit", {"证件类型": "港澳居民来往内地通行证", "证件号码": "H12345678"}, "HKG"),
    ("macao-travel-permit", {"证件类型": "回乡证", "证件号码": "M87654321"}, "MAC"),
    ("taiwan-travel-permit", {"证件类型": "台湾居民来往大陆通行证", "证件号码": "12345678"}, "TWN"),
    (
        "foreign-passport",
        {"证件类型": "护照", "证件号码": "C01X00T47", "国籍": "deu", "姓名": "Anna Müller"},
        "DEU",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "country"), [c[1:] for c in NON_MAINLAND], ids=[c[0] for c in NON_MAINLAND]
)
def test_non_mainland_documents_are_accepted(
    db: Database, tmp_path: Path, overrides: dict[str, str], country: str
) -> None:
    row = person_row(1, **overrides)
    if row["证件号码"] == "gat":
        born = date.fromisoformat(row["出生日期"])
        row["证件号码"] = resident_id(1, male=False, region="810000", birth=born)
    path = write_csv(tmp_path / "roster.csv", [person_row(0), row])
    report = import_roster(
        db, path, agency_code="BJRS", actor=TEST_ACTOR, today=TODAY, checks=document_checks()
    )
    assert report.ok, report.errors
    with db.session() as s:
        countries = set(s.exec(select(Person.id_country)).all())
    assert countries == {"CHN", country}


def test_rows_that_did_not_pass_get_no_documents_and_are_not_measured(
    db: Database, tmp_path: Path
) -> None:
    failed = person_row(3, **{"工作单位": "某" * 100, "同意票数": "10", "评审结果": "未通过"})
    path = write_csv(tmp_path / "roster.csv", [person_row(0), failed])
    report = import_roster(
        db, path, agency_code="BJRS", actor=TEST_ACTOR, today=TODAY, checks=document_checks()
    )
    assert report.ok, report.errors
    assert report.results_created == 2


def test_the_qr_budget_follows_the_public_base_url(db: Database, tmp_path: Path) -> None:
    """Behind a base URL with a lower-case path, a 13-character minority name with a
    19-character specialty just fits; one character more of specialty does not."""
    name, specialty = "阿卜杜热合曼·买买提艾力江", "计算机应用技术与软件工程及信息系统集成"
    changes = {
        "姓名": name,
        "资格名称": "正高级实习指导教师",
        "级别": "正高级",
        "系列": "技工院校教师",
    }
    fits = person_row(0, **changes, **{"专业": specialty})
    too_long = person_row(1, **changes, **{"专业": specialty + "学"})
    path = write_csv(tmp_path / "roster.csv", [fits, too_long])
    checks = document_checks("https://rsj.example.gov.cn/zcps/")
    report = import_roster(
        db, path, agency_code="BJRS", actor=TEST_ACTOR, today=TODAY, checks=checks
    )
    assert [(e.row, e.column) for e in report.errors] == [(3, "specialty")]
    assert (
        "need 185 bytes where a version-10-M QR code behind https://rsj.example.gov.cn/zcps/ "
        "holds 183" in report.errors[0].reason
    )
    # the same file behind a shorter base URL imports whole
    report = import_roster(
        db, path, agency_code="BJRS", actor=TEST_ACTOR, today=TODAY, checks=document_checks()
    )
    assert report.ok, report.errors
