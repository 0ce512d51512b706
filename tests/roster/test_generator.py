"""The roster generator: deterministic, realistic, streaming, with bad rows blamed on one column."""

from __future__ import annotations

import itertools
import re
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from xml.etree import ElementTree

import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from certsvc.config import Settings
from certsvc.db.database import Database
from certsvc.errors import InputError
from certsvc.roster import generator, generator_names
from certsvc.roster.catalog import parse_level, parse_series
from certsvc.roster.columns import COLUMNS_BY_KEY, REQUIRED_KEYS, column_key
from certsvc.roster.generator import (
    DEFECT_COLUMNS,
    HEADERS,
    DefectKind,
    GeneratedRow,
    RosterSpec,
    generate_rows,
    write_roster,
)
from certsvc.roster.identity import ID_TYPE_LABELS, IdType, mod11_2_check_char
from certsvc.roster.importer import import_roster
from certsvc.roster.reader import open_roster
from certsvc.roster.row import parse_row
from tests.factories import document_checks

H = {key: column.header for key, column in COLUMNS_BY_KEY.items()}
SESSION_KEY = ("year", "committee_name", "series", "specialty", "level")
RESIDENT = ID_TYPE_LABELS[IdType.RESIDENT_ID]
PASSPORT = ID_TYPE_LABELS[IdType.FOREIGN_PASSPORT]
BIRTH_ENCODED = {
    ID_TYPE_LABELS[t]
    for t in (IdType.RESIDENT_ID, IdType.GAT_RESIDENCE_PERMIT, IdType.FOREIGN_PERMANENT_RESIDENCE)
}
TODAY = date(2025, 11, 3)
XLSX_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


@pytest.fixture(scope="module")
def good_rows() -> list[GeneratedRow]:
    return list(generate_rows(RosterSpec(rows=2000, seed=11)))


@pytest.fixture(scope="module")
def mixed_rows() -> list[GeneratedRow]:
    return list(generate_rows(RosterSpec(rows=2000, seed=12, bad_share=0.1)))


def v(row: GeneratedRow, key: str) -> str:
    return row.values[H[key]]


def session_of(row: GeneratedRow) -> tuple[str, ...]:
    return tuple(v(row, key) for key in SESSION_KEY)


def xlsx_values(path: Path) -> list[tuple[object, ...]]:
    workbook = load_workbook(path, read_only=True)
    try:
        return [tuple(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
    finally:
        workbook.close()


# --- the spec and the API -----------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rows": -1},
        {"rows": 10, "bad_share": -0.1},
        {"rows": 10, "bad_share": 1.5},
        {"rows": 10, "bad_share": float("nan")},
        {"rows": 10, "year": 2020},
    ],
)
def test_spec_is_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(InputError):
        RosterSpec(**kwargs)  # type: ignore[arg-type]


def test_rows_have_every_header_and_spreadsheet_row_numbers(good_rows: list[GeneratedRow]) -> None:
    assert len(good_rows) == 2000
    assert all(column_key(header) is not None for header in HEADERS)
    assert {H[key] for key in REQUIRED_KEYS} <= set(HEADERS)
    for index, row in enumerate(good_rows):
        assert tuple(row.values) == HEADERS
        assert row.row_number == index + 2
        assert v(row, "no") == str(index + 1)
        assert row.defect is None
        assert row.defect_kind is None
        for key in REQUIRED_KEYS:
            assert v(row, key), (row.row_number, key)


@pytest.mark.parametrize("size", [1, 2, 999, 12_345, 2**16])
def test_identity_numbers_come_from_a_permutation(size: int) -> None:
    permutation = generator_names._Permutation(size, f"key-{size}")
    assert sorted(permutation(index) for index in range(size)) == list(range(size))


def test_zero_rows() -> None:
    assert list(generate_rows(RosterSpec(rows=0))) == []


def test_generate_rows_is_lazy() -> None:
    rows = generate_rows(RosterSpec(rows=10**9, seed=3))
    assert isinstance(rows, Iterator)
    first = list(itertools.islice(rows, 5))
    assert [row.row_number for row in first] == [2, 3, 4, 5, 6]
    assert next(rows).row_number == 7


# --- determinism --------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_same_seed_gives_byte_identical_csv(tmp_path: Path, encoding: str) -> None:
    spec = RosterSpec(rows=1500, seed=5, bad_share=0.05)
    first = write_roster(tmp_path / "a.csv", spec, encoding=encoding)  # type: ignore[arg-type]
    second = write_roster(tmp_path / "b.csv", spec, encoding=encoding)  # type: ignore[arg-type]
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert first.bad_rows == second.bad_rows
    assert first.sessions == second.sessions


def test_same_seed_gives_identical_xlsx_cells(tmp_path: Path) -> None:
    spec = RosterSpec(rows=400, seed=5, bad_share=0.05)
    write_roster(tmp_path / "a.xlsx", spec)
    write_roster(tmp_path / "b.xlsx", spec)
    assert xlsx_values(tmp_path / "a.xlsx") == xlsx_values(tmp_path / "b.xlsx")


def test_different_seeds_differ(tmp_path: Path) -> None:
    write_roster(tmp_path / "a.csv", RosterSpec(rows=300, seed=1))
    write_roster(tmp_path / "b.csv", RosterSpec(rows=300, seed=2))
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "b.csv").read_bytes()
    write_roster(tmp_path / "a.xlsx", RosterSpec(rows=100, seed=1))
    write_roster(tmp_path / "b.xlsx", RosterSpec(rows=100, seed=2))
    assert xlsx_values(tmp_path / "a.xlsx") != xlsx_values(tmp_path / "b.xlsx")


def test_generate_rows_matches_the_written_file(tmp_path: Path) -> None:
    spec = RosterSpec(rows=700, seed=9, bad_share=0.2)
    manifest = write_roster(tmp_path / "r.csv", spec)
    rows = list(generate_rows(spec))
    assert manifest.rows == 700
    assert manifest.bad_rows == {r.row_number: r.defect for r in rows if r.defect is not None}
    assert manifest.sessions == len({session_of(r) for r in rows if r.defect is None})


# --- realism ------------------------------------------------------------------------------


def test_identity_numbers_agree_with_birth_date_and_gender(good_rows: list[GeneratedRow]) -> None:
    endings_x = 0
    residents = 0
    for row in good_rows:
        number = v(row, "id_number")
        if v(row, "id_type") not in BIRTH_ENCODED:
            continue
        assert re.fullmatch(r"[0-9]{17}[0-9X]", number)
        assert number[17] == mod11_2_check_char(number[:17])
        born = date.fromisoformat(v(row, "birth_date"))
        assert number[6:14] == born.strftime("%Y%m%d")
        assert date(1960, 1, 1) <= born <= date(1998, 12, 31)
        assert v(row, "gender") == ("男" if int(number[16]) % 2 else "女")
        if v(row, "id_type") == RESIDENT:
            residents += 1
            endings_x += number[17] == "X"
    assert 0.05 < endings_x / residents < 0.15


def test_every_person_appears_once(good_rows: list[GeneratedRow]) -> None:
    identities = Counter(
        (v(r, "id_type"), v(r, "id_country"), v(r, "id_number")) for r in good_rows
    )
    assert identities.most_common(1)[0][1] == 1


def test_identity_document_mix(good_rows: list[GeneratedRow]) -> None:
    types = Counter(v(row, "id_type") for row in good_rows)
    assert 0.015 < 1 - types[RESIDENT] / len(good_rows) < 0.05
    for row in good_rows:
        kind, number, country = v(row, "id_type"), v(row, "id_number"), v(row, "id_country")
        mobile = v(row, "mobile")
        if kind == ID_TYPE_LABELS[IdType.HKMO_TRAVEL_PERMIT]:
            assert re.fullmatch(r"[HM][0-9]{8}", number)
            assert mobile.startswith("+852" if number[0] == "H" else "+853")
        elif kind == ID_TYPE_LABELS[IdType.TW_TRAVEL_PERMIT]:
            assert re.fullmatch(r"[0-9]{8}", number)
        elif kind == ID_TYPE_LABELS[IdType.GAT_RESIDENCE_PERMIT]:
            assert number[:6] in ("810000", "820000", "830000")
        elif kind == ID_TYPE_LABELS[IdType.FOREIGN_PERMANENT_RESIDENCE]:
            assert number[0] == "9"
            assert re.fullmatch(r"[A-Z]{3}", country)
        elif kind == PASSPORT:
            assert re.fullmatch(r"[A-Z0-9]{8,9}", number)
            assert country in ("USA", "DEU", "GBR", "JPN", "KOR", "FRA", "CAN", "AUS", "SGP")
            assert re.fullmatch(r"[A-Za-zÀ-ÿ' -]+", v(row, "name"))
        else:
            assert kind == RESIDENT
            assert country == ""
        if not mobile.startswith("+"):
            assert re.fullmatch(r"1[3-9][0-9]{9}", mobile)
        else:
            assert re.fullmatch(r"\+85[23][0-9]{8}", mobile)


def test_names_include_rare_characters_and_minority_names() -> None:
    names = [v(row, "name") for row in generate_rows(RosterSpec(rows=6000, seed=4))]
    assert any("\u00b7" in name for name in names)
    assert any(any(0x3400 <= ord(c) <= 0x4DBF for c in name) for name in names)  # Extension A
    assert any(any(ord(c) > 0xFFFF for c in name) for name in names)  # Extension B and later
    assert any(re.search("[a-z]", name) for name in names)
    assert any(len(name) == 2 for name in names)
    assert any(name[:2] in ("欧阳", "司马", "上官", "诸葛", "司徒") for name in names)
    minority = [name for name in names if "\u00b7" in name]
    assert 0.003 < len(minority) / len(names) < 0.02


def test_sessions_are_internally_consistent(good_rows: list[GeneratedRow]) -> None:
    sessions: dict[tuple[str, ...], list[GeneratedRow]] = defaultdict(list)
    order: list[tuple[str, ...]] = []
    for row in good_rows:
        key = session_of(row)
        if key not in sessions:
            order.append(key)
        elif order[-1] != key:
            pytest.fail(f"session {key} is not contiguous at row {row.row_number}")
        sessions[key].append(row)
    assert len(sessions) > 5
    for key, rows in sessions.items():
        for column in ("committee_size", "review_date", "members_attending", "qualification_name"):
            assert len({v(row, column) for row in rows}) == 1, (key, column)
        size = int(v(rows[0], "committee_size"))
        attending = int(v(rows[0], "members_attending"))
        assert 25 <= size <= 35
        assert attending <= size
        assert attending * 3 >= size * 2
        assert 20 <= len(rows) <= 300
        series, specialty, level = (
            v(rows[0], "series"),
            v(rows[0], "specialty"),
            v(rows[0], "level"),
        )
        parse_series(series)
        parse_level(level)
        assert v(rows[0], "committee_name").endswith("专业技术资格评审委员会")
        assert f"{series}系列{specialty}专业" in v(rows[0], "committee_name")
        assert v(rows[0], "year") == "2024"
        assert (
            date(2024, 8, 30) <= date.fromisoformat(v(rows[0], "review_date")) <= date(2024, 9, 20)
        )


def test_qualification_names_match_series_and_level(good_rows: list[GeneratedRow]) -> None:
    expected = {
        ("工程技术", "正高级"): "正高级工程师",
        ("工程技术", "副高级"): "高级工程师",
        ("工程技术", "中级"): "工程师",
        ("会计", "中级"): "会计师",
        ("经济", "副高级"): "高级经济师",
        ("中小学教师", "中级"): "一级教师",
    }
    seen = 0
    for row in itertools.chain(good_rows, generate_rows(RosterSpec(rows=20000, seed=8))):
        pair = (v(row, "series"), v(row, "level"))
        if pair in expected:
            seen += 1
            assert v(row, "qualification_name") == expected[pair]
        if pair == ("卫生技术", "副高级") and v(row, "specialty") in ("内科", "外科", "儿科"):
            assert v(row, "qualification_name") == "副主任医师"
    assert seen


def test_about_85_percent_pass_and_results_agree_with_votes(good_rows: list[GeneratedRow]) -> None:
    passed = 0
    for row in good_rows:
        votes, attending = int(v(row, "votes_for")), int(v(row, "members_attending"))
        assert 0 <= votes <= attending
        passes = votes * 3 >= attending * 2
        assert v(row, "result") == ("通过" if passes else "未通过")
        passed += passes
    assert 0.75 <= passed / len(good_rows) <= 0.95


def test_sessions_stay_unique_when_a_year_is_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """With more rows than one year's committees take (about 120,000; here made 4 committees)
    the same committees sit again in earlier years, so no session appears twice."""
    monkeypatch.setattr(generator, "_COMMITTEES", generator._COMMITTEES[:4])
    keys: set[tuple[str, ...]] = set()
    previous = None
    for row in generate_rows(RosterSpec(rows=3000, seed=6)):
        key = session_of(row)
        if key != previous:
            assert key not in keys, f"session {key} appears twice"
            keys.add(key)
            previous = key
        review_date = date.fromisoformat(v(row, "review_date"))
        assert review_date.year == int(v(row, "year"))
    years = {int(key[0]) for key in keys}
    assert len(years) > 2
    assert max(years) == 2024


# --- bad rows -----------------------------------------------------------------------------


def test_bad_rows_share_and_kinds(mixed_rows: list[GeneratedRow]) -> None:
    bad = [row for row in mixed_rows if row.defect is not None]
    assert 150 <= len(bad) <= 250
    assert {row.defect_kind for row in bad} == set(DefectKind)
    for row in bad:
        assert row.defect_kind is not None
        assert row.defect == DEFECT_COLUMNS[row.defect_kind]


def test_each_defect_is_what_it_says(mixed_rows: list[GeneratedRow]) -> None:
    earlier_in_session: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for row in mixed_rows:
        kind = row.defect_kind
        number = v(row, "id_number")
        votes, attending = int(v(row, "votes_for")), int(v(row, "members_attending"))
        match kind:
            case DefectKind.ID_CHECK_CHAR:
                assert v(row, "id_type") == RESIDENT
                assert number[17] != mod11_2_check_char(number[:17])
            case DefectKind.BIRTH_DATE_MISMATCH:
                assert number[17] == mod11_2_check_char(number[:17])
                assert date.fromisoformat(v(row, "birth_date")).strftime("%Y%m%d") != number[6:14]
            case DefectKind.VOTES_OVER_ATTENDING:
                assert votes > attending
            case DefectKind.RESULT_CONTRADICTS_VOTES:
                assert votes * 3 < attending * 2
                assert v(row, "result") == "通过"
            case DefectKind.UNKNOWN_SERIES:
                assert v(row, "series") == "魔法"
            case DefectKind.UNKNOWN_LEVEL:
                assert v(row, "level") == "超级"
            case DefectKind.EMPTY_NAME:
                assert v(row, "name") == ""
            case DefectKind.BAD_MOBILE:
                assert v(row, "mobile") == "12345"
            case DefectKind.INVALID_BIRTH_DATE:
                assert v(row, "birth_date") == "2024-13-45"
            case DefectKind.PRIVATE_USE_NAME:
                assert "\ue000" in v(row, "name")
            case DefectKind.PASSPORT_WITHOUT_COUNTRY:
                assert v(row, "id_type") == PASSPORT
                assert v(row, "id_country") == ""
            case DefectKind.DUPLICATE_ID:
                assert number in earlier_in_session[session_of(row)]
            case None:
                assert number not in earlier_in_session[session_of(row)]
        if kind is None:
            earlier_in_session[session_of(row)].add(number)
        if kind not in (DefectKind.VOTES_OVER_ATTENDING, DefectKind.RESULT_CONTRADICTS_VOTES):
            assert v(row, "result") == ("通过" if votes * 3 >= attending * 2 else "未通过")
        # Session columns stay valid, so session consistency is checked separately.
        assert 25 <= int(v(row, "committee_size")) <= 35
        assert attending * 3 >= int(v(row, "committee_size")) * 2


def test_every_bad_share_extreme() -> None:
    rows = list(generate_rows(RosterSpec(rows=300, seed=2, bad_share=1.0)))
    assert all(row.defect is not None for row in rows)
    # No earlier good row in any session, so no duplicate can be made.
    assert DefectKind.DUPLICATE_ID not in {row.defect_kind for row in rows}


@pytest.mark.parametrize(("fmt", "encoding"), [("csv", "gb18030"), ("xlsx", "utf-8-sig")])
def test_the_row_parser_blames_exactly_the_defect_column(
    tmp_path: Path, fmt: str, encoding: str
) -> None:
    """Read back with the real reader and row parser: good rows parse, a bad row fails on its
    blamed column only (a duplicate parses and is left to the importer's cross-row check)."""
    path = tmp_path / f"roster.{fmt}"
    manifest = write_roster(path, RosterSpec(rows=1200, seed=21, bad_share=0.15), encoding=encoding)  # type: ignore[arg-type]
    duplicates = {n for n, column in manifest.bad_rows.items() if column == "id_number"}
    checked = 0
    for raw in open_roster(path).rows():
        parsed = parse_row(raw, today=TODAY)
        blamed = manifest.bad_rows.get(raw.number)
        if isinstance(parsed, list):
            assert {error.column for error in parsed} == {blamed}, (raw.number, parsed)
        else:
            assert blamed is None or raw.number in duplicates, (raw.number, blamed)
        checked += 1
    assert checked == 1200


# --- files --------------------------------------------------------------------------------


def test_gb18030_csv_keeps_rare_characters(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    spec = RosterSpec(rows=3000, seed=4)
    write_roster(path, spec, encoding="gb18030")
    data = path.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    text = data.decode("gb18030")
    rare = {c for row in generate_rows(spec) for c in v(row, "name") if ord(c) > 0xFFFF}
    assert any(0x20000 <= ord(c) <= 0x2A6DF for c in rare)  # Extension B is present
    for char in rare:
        assert char in text
    assert "\u00b7" in text


def test_utf8_sig_csv_starts_with_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    write_roster(path, RosterSpec(rows=3))
    assert path.read_bytes().startswith(b"\xef\xbb\xbf" + "序号".encode())


def test_format_comes_from_the_suffix(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        write_roster(tmp_path / "roster.txt", RosterSpec(rows=3))
    manifest = write_roster(tmp_path / "roster.txt", RosterSpec(rows=3), fmt="csv")
    assert manifest.rows == 3
    assert (tmp_path / "roster.txt").read_text(encoding="utf-8-sig").startswith("序号,")


def test_xlsx_identity_numbers_are_text_cells(tmp_path: Path) -> None:
    """Checked in the sheet's XML (openpyxl reads 20,000 rows slowly): every cell is a string
    cell, and the identity numbers are the generated ones, digit for digit. (Reading back with
    openpyxl is covered by the row parser test, which refuses identity numbers read as numbers.)
    """
    path = tmp_path / "roster.xlsx"
    spec = RosterSpec(rows=20_000, seed=13)
    manifest = write_roster(path, spec)
    assert manifest.rows == 20_000
    id_column = get_column_letter(HEADERS.index(H["id_number"]) + 1)
    cell_types: Counter[str | None] = Counter()
    id_numbers: list[str] = []
    with zipfile.ZipFile(path) as archive, archive.open("xl/worksheets/sheet1.xml") as sheet:
        for _, element in ElementTree.iterparse(sheet):  # noqa: S314 - our own file
            if element.tag == f"{XLSX_NS}c":
                cell_types[element.get("t")] += 1
                reference = element.get("r", "")
                if reference.rstrip("0123456789") == id_column and reference != f"{id_column}1":
                    id_numbers.append("".join(element.itertext()))
            elif element.tag == f"{XLSX_NS}row":
                element.clear()
    assert set(cell_types) <= {"inlineStr", "s", "str"}
    assert sum(cell_types.values()) >= 20_000 * len(REQUIRED_KEYS)
    assert id_numbers == [v(row, "id_number") for row in generate_rows(spec)]


# --- through the importer -----------------------------------------------------------------


def test_a_good_roster_imports_completely(db: Database, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "good.xlsx"
    manifest = write_roster(path, RosterSpec(rows=600, seed=32))
    report = import_roster(
        db,
        path,
        agency_code=settings.agency_code,
        actor="test:generator",
        today=TODAY,
        checks=document_checks(),
    )
    assert report.ok, report.errors[:5]
    assert report.sessions_created == manifest.sessions
    assert report.persons_created == report.results_created == 600


def test_the_importer_blames_exactly_the_bad_rows(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    manifest = write_roster(path, RosterSpec(rows=1500, seed=31, bad_share=0.08))
    report = import_roster(
        db,
        path,
        agency_code=settings.agency_code,
        actor="test:generator",
        today=TODAY,
        checks=document_checks(),
    )
    assert {(error.row, error.column) for error in report.errors} == set(manifest.bad_rows.items())
    assert len(report.errors) == len(manifest.bad_rows)
