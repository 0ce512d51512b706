"""``row.parse_row`` on single rows: date shapes, count bounds, formulas, the country column."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import pytest

from certsvc.roster.columns import column_key
from certsvc.roster.reader import CellValue, RawRow
from certsvc.roster.row import MAX_COUNT, RosterRow, RowError, parse_row
from tests.conftest import TODAY
from tests.factories import person_row


def raw_row(overrides: Mapping[str, CellValue]) -> RawRow:
    """Person 0's valid row as the reader yields it, as row 2; ``overrides`` keyed by Chinese
    header."""
    cells: dict[str, CellValue] = {**person_row(0), **overrides}
    keyed: dict[str, CellValue] = {}
    for header, value in cells.items():
        key = column_key(header)
        assert key is not None, header
        keyed[key] = value
    return RawRow(2, keyed)


def parsed(**overrides: CellValue) -> RosterRow:
    result = parse_row(raw_row(overrides), today=TODAY)
    assert isinstance(result, RosterRow), result
    return result


def errors(**overrides: CellValue) -> list[RowError]:
    result = parse_row(raw_row(overrides), today=TODAY)
    assert isinstance(result, list), result
    return result


# --- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["2025-09-12", "2025/9/12", "2025/09/12", "20250912", "2025.09.12",
     "2025年9月12日", "2025年09月12日", " 2025-09-12 "],
)  # fmt: skip
def test_date_shapes_accepted(text: str) -> None:
    assert parsed(评审日期=text).review_date == date(2025, 9, 12)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("202591", id="6-digits"),  # strptime read this as 2025-09-01
        pytest.param("2025912", id="7-digits"),  # ... and this as 2025-09-12
        pytest.param("202509120", id="9-digits"),
        pytest.param("2025-9-12", id="dash-one-digit-month"),
        pytest.param("2025-09-1", id="dash-one-digit-day"),
        pytest.param("2025.9.12", id="dot-one-digit-month"),
        pytest.param("2025/009/12", id="slash-three-digit-month"),
        pytest.param("25-09-12", id="two-digit-year"),
        pytest.param("2025-09-12T00:00", id="datetime"),
        pytest.param("2025年9月12", id="no-日"),
        pytest.param("２０２５-０９-１２", id="fullwidth-digits"),
        pytest.param("٢٠٢٥-٠٩-١٢", id="arabic-indic-digits"),
        pytest.param("2025-13-01", id="month-13"),
        pytest.param("2025/2/29", id="no-leap-day"),
        pytest.param("20250230", id="compact-february-30"),
    ],
)
def test_date_shapes_refused(text: str) -> None:
    found = errors(评审日期=text)
    assert [(e.column, "not a date" in e.reason) for e in found] == [("review_date", True)]


def test_birth_date_reasons_do_not_repeat_the_date() -> None:
    for text in ("1965-01-1", "2030-01-01", "1899-12-31"):
        (error,) = [e for e in errors(出生日期=text) if e.column == "birth_date"]
        assert "1965" not in error.reason and text not in error.reason, error


# --- counts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [
        pytest.param("评审委员会人数", 3e10, id="committee-size-float"),
        pytest.param("评审委员会人数", 30_000_000_000, id="committee-size-int"),
        pytest.param("评审委员会人数", MAX_COUNT + 1, id="committee-size-just-over"),
        pytest.param("评审委员会人数", "1" + "0" * 150, id="committee-size-151-digits"),
        pytest.param("出席委员数", 1e300, id="attending-1e300"),
        pytest.param("同意票数", 2.0**63, id="votes-2-63"),
    ],
)
def test_counts_have_an_upper_bound(column: str, value: CellValue) -> None:
    found = errors(**{column: value})
    blamed = column_key(column)
    assert [e for e in found if e.column == blamed], found
    reason = next(e.reason for e in found if e.column == blamed)
    assert f"more than {MAX_COUNT}" in reason


def test_largest_counts_are_accepted() -> None:
    row = parsed(评审委员会人数=float(MAX_COUNT), 出席委员数=MAX_COUNT, 同意票数=f"{MAX_COUNT}")
    assert (row.committee_size, row.members_attending, row.votes_for) == (MAX_COUNT,) * 3
    assert parsed(同意票数="0020").votes_for == 20


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 2.5, True])
def test_counts_refuse_non_integers(value: CellValue) -> None:
    assert [e.column for e in errors(同意票数=value)] == ["votes_for"]


# --- formulas -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("工作单位", '=HYPERLINK("http://evil.example","点击")'),
        ("工作单位", "=1+1"),
        ("工作单位", " =cmd|' /C calc'!A0"),
        ("专业", "@SUM(A1)"),
        ("资格名称", "+HYPERLINK(1)"),
        ("评审委员会", "-IMPORTXML(1)"),
        ("手机号码", "=13800138000"),
    ],
)
def test_formula_text_is_refused(header: str, value: str) -> None:
    found = errors(**{header: value})
    assert [e.column for e in found] == [column_key(header)]
    assert "looks like a spreadsheet formula" in found[0].reason
    assert value.strip() not in found[0].reason


@pytest.mark.parametrize(
    ("header", "value", "attribute", "expected"),
    [
        ("手机号码", "+8613800138000", "mobile", "+8613800138000"),
        ("手机号码", "+86 138-0013-8000", "mobile", "+8613800138000"),
        ("手机号码", "+852 9123 4567", "mobile", "+85291234567"),
        ("工作单位", "某公司 (北京) - 研发部", "work_unit", "某公司 (北京) - 研发部"),
        ("工作单位", "-某公司", "work_unit", "-某公司"),
        ("资格名称", "高级工程师 (=正高)", "qualification_name", "高级工程师 (=正高)"),
    ],
)
def test_legitimate_values_are_not_formulas(
    header: str, value: str, attribute: str, expected: str
) -> None:
    assert getattr(parsed(**{header: value}), attribute) == expected


# --- the country column ---------------------------------------------------------------------

PASSPORT: dict[str, CellValue] = {"证件类型": "护照", "证件号码": "E12345678", "姓名": "John Smith"}


@pytest.mark.parametrize(
    ("overrides", "phrase"),
    [
        pytest.param({**PASSPORT, "国籍": "US\x01A"}, "U+0001", id="control-character"),
        pytest.param({**PASSPORT, "国籍": "A" * 300}, "at most 16", id="300-characters"),
        pytest.param({**PASSPORT, "国籍": "US"}, "3-letter", id="alpha-2"),
        pytest.param({**PASSPORT, "国籍": "CHN"}, "cannot be CHN", id="chn"),
        pytest.param({**PASSPORT, "国籍": "=USA"}, "formula", id="formula"),
        pytest.param({"国籍": "A" * 300}, "at most 16", id="resident-id-300-characters"),
    ],
)
def test_country_problems_are_the_country_columns(
    overrides: dict[str, CellValue], phrase: str
) -> None:
    found = errors(**overrides)
    assert [e.column for e in found] == ["id_country"], found
    assert phrase in found[0].reason


def test_country_of_a_passport_is_stored_normalised() -> None:
    row = parsed(**{**PASSPORT, "国籍": " deu "})
    assert row.identity_key[1:] == ("DEU", "E12345678")


def test_country_is_ignored_where_the_number_names_the_issuer() -> None:
    assert parsed(国籍="中国").identity.country == "CHN"
