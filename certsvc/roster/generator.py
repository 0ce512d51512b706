"""A deterministic generator of realistic review rosters, of any size, for tests and demos.

The rows are grouped into review sessions as a review service agency sends them: one committee,
series, specialty and level per session, 20 to 300 candidates, the committee's size, the date
and the members attending the same on every row of a session; about 85% of the candidates pass.
People are unique in a file and their identity numbers are valid: resident IDs with real region
codes and check characters, residence permits and travel permits of Hong Kong, Macao and Taiwan
residents, foreign permanent residence cards and passports. Names include rare characters
(CJK Extension A, B and E), minority names with the middle dot and Latin names of foreigners.

Everything follows from ``RosterSpec.seed``: separate ``random.Random`` streams seeded with
strings (hashed with SHA-512, not with the randomised ``hash()``), and tables in a fixed order.
Rows are produced one at a time, so memory stays flat however many rows are asked for.

Identity numbers are unique by construction (see ``generator_names``), without remembering the
numbers already used. Sessions are unique in a file too; a file with more rows than the
committees of one year can take (about 120,000) continues with the same committees in earlier
years.

With ``bad_share`` > 0 each row is independently made bad with that probability: exactly one
column is wrong (``DefectKind``), and ``GeneratedRow.defect`` names that column's key, the one
the importer should blame.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from certsvc.errors import InputError
from certsvc.roster.catalog import Level
from certsvc.roster.columns import COLUMNS, COLUMNS_BY_KEY
from certsvc.roster.generator_names import (
    BEIJING_DISTRICTS,
    REMARKS,
    SELF_REVIEWING_UNITS,
    WORK_UNITS,
    Origin,
    Person,
    PersonFactory,
    random_stream,
)
from certsvc.roster.identity import GENDER_LABELS, ID_TYPE_LABELS

__all__ = [
    "DEFECT_COLUMNS",
    "HEADERS",
    "DefectKind",
    "GeneratedRow",
    "RosterManifest",
    "RosterSpec",
    "generate_rows",
    "write_roster",
]

HEADERS: tuple[str, ...] = tuple(column.header for column in COLUMNS)
"""Every roster column's Chinese header, in the order the files are written."""
_KEYS: tuple[str, ...] = tuple(column.key for column in COLUMNS)


class DefectKind(StrEnum):
    """What is wrong with a bad row; ``DEFECT_COLUMNS`` gives the column to blame."""

    ID_CHECK_CHAR = "id_check_char"  # resident ID with a wrong check character
    BIRTH_DATE_MISMATCH = "birth_date_mismatch"  # 出生日期 disagrees with the resident ID
    VOTES_OVER_ATTENDING = "votes_over_attending"  # 同意票数 > 出席委员数
    RESULT_CONTRADICTS_VOTES = "result_contradicts_votes"  # 通过 with under two thirds
    UNKNOWN_SERIES = "unknown_series"  # 系列 魔法
    UNKNOWN_LEVEL = "unknown_level"  # 级别 超级
    EMPTY_NAME = "empty_name"
    BAD_MOBILE = "bad_mobile"  # 12345
    INVALID_BIRTH_DATE = "invalid_birth_date"  # 2024-13-45
    PRIVATE_USE_NAME = "private_use_name"  # U+E000 in the name
    PASSPORT_WITHOUT_COUNTRY = "passport_without_country"  # 外国护照 with 国籍 empty
    DUPLICATE_ID = "duplicate_id"  # an earlier row of the same session, again


DEFECT_COLUMNS: Mapping[DefectKind, str] = MappingProxyType(
    {
        DefectKind.ID_CHECK_CHAR: "id_number",
        DefectKind.BIRTH_DATE_MISMATCH: "birth_date",
        DefectKind.VOTES_OVER_ATTENDING: "votes_for",
        DefectKind.RESULT_CONTRADICTS_VOTES: "result",
        DefectKind.UNKNOWN_SERIES: "series",
        DefectKind.UNKNOWN_LEVEL: "level",
        DefectKind.EMPTY_NAME: "name",
        DefectKind.BAD_MOBILE: "mobile",
        DefectKind.INVALID_BIRTH_DATE: "birth_date",
        DefectKind.PRIVATE_USE_NAME: "name",
        DefectKind.PASSPORT_WITHOUT_COUNTRY: "id_country",
        DefectKind.DUPLICATE_ID: "id_number",
    }
)
_ALL_DEFECTS: tuple[DefectKind, ...] = tuple(DefectKind)
_DEFECTS_WITHOUT_DUPLICATE = tuple(k for k in DefectKind if k is not DefectKind.DUPLICATE_ID)


@dataclass(frozen=True)
class RosterSpec:
    """What to generate. ``year`` is the 年度 and must be ``review_date``'s year or the one
    before, as the importer requires; sessions meet on ``review_date`` or up to three weeks
    earlier in the same year."""

    rows: int
    seed: int = 2024
    bad_share: float = 0.0
    year: int = 2024
    review_date: date = date(2024, 9, 20)

    def __post_init__(self) -> None:
        if self.rows < 0:
            raise InputError(f"rows must be 0 or more, not {self.rows}")
        if not 0.0 <= self.bad_share <= 1.0:
            raise InputError(f"bad_share must be between 0 and 1, not {self.bad_share}")
        if self.year not in (self.review_date.year - 1, self.review_date.year):
            raise InputError(
                f"year {self.year} does not fit the review date {self.review_date.isoformat()} "
                "(it must be that year or the year before)"
            )


@dataclass(frozen=True, slots=True)
class GeneratedRow:
    """One data row. ``values`` has every header of ``HEADERS`` (empty text where the column
    does not apply); ``row_number`` is the spreadsheet row (the header is row 1); ``defect`` is
    None for a good row, else the key of the column to blame, as ``defect_kind`` tells."""

    values: dict[str, str]
    row_number: int
    defect: str | None
    defect_kind: DefectKind | None = None


@dataclass(frozen=True)
class RosterManifest:
    """What ``write_roster`` wrote. ``bad_rows`` maps row numbers to the blamed column key;
    ``sessions`` counts the sessions with at least one good row (what an import creates)."""

    path: Path
    rows: int
    bad_rows: dict[int, str]
    sessions: int


# --- series, specialties and committees -------------------------------------------------------

_LEVELS = (Level.FULL_SENIOR, Level.DEPUTY_SENIOR, Level.INTERMEDIATE, Level.JUNIOR)
_LEVEL_WORDS: Mapping[Level, str] = {
    Level.FULL_SENIOR: "正高级",
    Level.DEPUTY_SENIOR: "高级",
    Level.INTERMEDIATE: "中级",
    Level.JUNIOR: "初级",
}


@dataclass(frozen=True, slots=True)
class _Track:
    """Specialties of a series sharing one ladder of qualification names."""

    series: str
    specialties: tuple[str, ...]
    sector: str  # key of WORK_UNITS
    titles: tuple[str, str, str, str]  # 正高级, 副高级, 中级, 初级


_TRACKS: tuple[_Track, ...] = (
    _Track(
        "工程技术",
        ("计算机", "电子信息", "建筑工程", "机械", "环境工程", "交通运输"),
        "engineering",
        ("正高级工程师", "高级工程师", "工程师", "助理工程师"),
    ),
    _Track(
        "经济",
        ("金融", "人力资源管理", "工商管理", "财政税收", "知识产权"),
        "finance",
        ("正高级经济师", "高级经济师", "经济师", "助理经济师"),
    ),
    _Track(
        "会计",
        ("企业会计", "行政事业单位会计", "金融企业会计"),
        "accounting",
        ("正高级会计师", "高级会计师", "会计师", "助理会计师"),
    ),
    _Track(
        "卫生技术",
        ("内科", "外科", "儿科"),
        "health",
        ("主任医师", "副主任医师", "主治医师", "医师"),
    ),
    _Track("卫生技术", ("护理",), "health", ("主任护师", "副主任护师", "主管护师", "护师")),
    _Track("卫生技术", ("药学",), "health", ("主任药师", "副主任药师", "主管药师", "药师")),
    _Track("卫生技术", ("医学检验",), "health", ("主任技师", "副主任技师", "主管技师", "技师")),
    _Track(
        "中小学教师",
        ("语文", "数学", "英语", "物理", "体育", "音乐"),
        "schools",
        ("正高级教师", "高级教师", "一级教师", "二级教师"),
    ),
)


@dataclass(frozen=True, slots=True)
class _Committee:
    issuer: str  # 北京市, 北京市海淀区, or a work unit that reviews its own staff
    kind: Literal["municipal", "district", "unit"]
    series: str
    specialty: str
    level: Level
    qualification: str
    sector: str

    @property
    def name(self) -> str:
        return (
            f"{self.issuer}{self.series}系列{self.specialty}专业"
            f"{_LEVEL_WORDS[self.level]}专业技术资格评审委员会"
        )

    @property
    def candidates(self) -> tuple[int, int]:
        """The usual range of candidates in one sitting."""
        if self.kind != "municipal":
            return (20, 200)
        return (20, 80) if self.level is Level.FULL_SENIOR else (40, 300)

    @property
    def work_units(self) -> tuple[str, ...]:
        return (self.issuer,) if self.kind == "unit" else WORK_UNITS[self.sector]


def _all_committees() -> tuple[_Committee, ...]:
    """Every committee of one year: 正高级 only at the municipal level, 副高级 and 中级 also in
    the districts and a few large employers, 初级 (teachers only) in the districts."""
    districts = tuple(f"北京市{district}" for district in BEIJING_DISTRICTS)
    committees: list[_Committee] = []
    for track in _TRACKS:
        units = WORK_UNITS[track.sector][: SELF_REVIEWING_UNITS[track.sector]]
        for specialty in track.specialties:
            for level, title in zip(_LEVELS, track.titles, strict=True):
                issuers: list[tuple[str, Literal["municipal", "district", "unit"]]] = []
                if level is not Level.JUNIOR:
                    issuers.append(("北京市", "municipal"))
                if level is not Level.FULL_SENIOR and (
                    level is not Level.JUNIOR or track.sector == "schools"
                ):
                    issuers.extend((district, "district") for district in districts)
                if level in (Level.DEPUTY_SENIOR, Level.INTERMEDIATE):
                    issuers.extend((unit, "unit") for unit in units)
                committees.extend(
                    _Committee(issuer, kind, track.series, specialty, level, title, track.sector)
                    for issuer, kind in issuers
                )
    return tuple(committees)


_COMMITTEES = _all_committees()
_COMMITTEE_SIZES = (25, 35)
_ABSENCES = (0, 0, 1, 1, 2, 2, 3, 3, 4, 5, 6, 8, 10)
_PASS_RATES = (0.78, 0.92)
_MIN_SESSION, _MAX_SESSION = 20, 300
_REMARK_SHARE = 0.03


@dataclass(frozen=True, slots=True)
class _Session:
    committee: _Committee
    year: int
    review_date: date
    size: int
    attending: int
    pass_rate: float
    candidates: int

    @property
    def key(self) -> tuple[str, ...]:
        c = self.committee
        return (str(self.year), c.name, c.series, c.specialty, c.level.value)


def _years_back(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


# --- rows -----------------------------------------------------------------------------------

_CHECK_CHARS = "0123456789X"


class _Generator:
    def __init__(self, spec: RosterSpec) -> None:
        self._spec = spec
        self._plans = random_stream(spec.seed, "sessions")
        self._votes = random_stream(spec.seed, "votes")
        self._defects = random_stream(spec.seed, "defects")
        self._people = PersonFactory(spec.seed)
        committees = list(_COMMITTEES)
        self._plans.shuffle(committees)
        self._committees = tuple(committees)
        # A good row of the current session, for DUPLICATE_ID (reservoir sample of one).
        self._earlier: Person | None = None
        self._good_in_session = 0

    def rows(self) -> Iterator[GeneratedRow]:
        done = 0
        ordinal = 0
        while done < self._spec.rows:
            session = self._session(ordinal, self._spec.rows - done)
            ordinal += 1
            self._earlier, self._good_in_session = None, 0
            for _ in range(session.candidates):
                done += 1
                yield self._row(session, done)

    def _session(self, ordinal: int, remaining: int) -> _Session:
        rng = self._plans
        cycle, position = divmod(ordinal, len(self._committees))
        committee = self._committees[position]
        candidates = rng.randint(*committee.candidates)
        if remaining - candidates < _MIN_SESSION:  # no tiny session at the end
            candidates = remaining if remaining <= _MAX_SESSION else remaining - _MIN_SESSION
        size = rng.randint(*_COMMITTEE_SIZES)
        quorum = (2 * size + 2) // 3  # attending * 3 >= size * 2
        attending = max(quorum, size - rng.choice(_ABSENCES))
        base = _years_back(self._spec.review_date, cycle)
        review_date = base - timedelta(weeks=rng.choice((0, 0, 1, 2, 3)))
        if review_date.year != base.year:
            review_date = base
        return _Session(
            committee,
            self._spec.year - cycle,
            review_date,
            size,
            attending,
            rng.uniform(*_PASS_RATES),
            candidates,
        )

    def _vote(self, attending: int, passing: bool) -> int:
        threshold = (2 * attending + 2) // 3  # the fewest votes that are two thirds
        rng = self._votes
        if passing:
            return max(rng.randint(threshold, attending), rng.randint(threshold, attending))
        return rng.randint(attending // 3, threshold - 1)

    def _defect_kind(self) -> DefectKind | None:
        share = self._spec.bad_share
        if share <= 0.0 or self._defects.random() >= share:
            return None
        kinds = _ALL_DEFECTS if self._earlier is not None else _DEFECTS_WITHOUT_DUPLICATE
        return self._defects.choice(kinds)

    def _person(self, session: _Session, kind: DefectKind | None) -> Person:
        units = session.committee.work_units
        if kind is DefectKind.DUPLICATE_ID and self._earlier is not None:
            return self._earlier
        if kind in (DefectKind.ID_CHECK_CHAR, DefectKind.BIRTH_DATE_MISMATCH):
            return self._people.make(units, Origin.RESIDENT)
        if kind is DefectKind.PASSPORT_WITHOUT_COUNTRY:
            return self._people.make(units, Origin.PASSPORT)
        return self._people.make(units)

    def _row(self, session: _Session, ordinal: int) -> GeneratedRow:
        kind = self._defect_kind()
        person = self._person(session, kind)
        votes = self._vote(session.attending, self._votes.random() < session.pass_rate)
        remark = ""
        if self._votes.random() < _REMARK_SHARE:
            remark = self._votes.choice(REMARKS)
        c = session.committee
        cells = {
            "no": str(ordinal),
            "name": person.name,
            "id_type": ID_TYPE_LABELS[person.id_type],
            "id_number": person.id_number,
            "id_country": person.country,
            "gender": GENDER_LABELS[person.gender],
            "birth_date": person.birth_date.isoformat(),
            "work_unit": person.work_unit,
            "mobile": person.mobile,
            "year": str(session.year),
            "committee_name": c.name,
            "committee_size": str(session.size),
            "review_date": session.review_date.isoformat(),
            "series": c.series,
            "specialty": c.specialty,
            "level": c.level.value,
            "qualification_name": c.qualification,
            "members_attending": str(session.attending),
            "votes_for": str(votes),
            "result": "通过" if votes * 3 >= session.attending * 2 else "未通过",
            "remarks": remark,
        }
        if kind is not None:
            self._spoil(cells, kind, session)
        elif self._spec.bad_share > 0.0:
            self._good_in_session += 1
            if self._defects.randrange(self._good_in_session) == 0:
                self._earlier = person
        values = {COLUMNS_BY_KEY[key].header: cells[key] for key in _KEYS}
        blamed = None if kind is None else DEFECT_COLUMNS[kind]
        return GeneratedRow(values, ordinal + 1, blamed, kind)

    def _spoil(self, cells: dict[str, str], kind: DefectKind, session: _Session) -> None:
        """Make exactly the blamed column of ``cells`` wrong."""
        rng = self._defects
        match kind:
            case DefectKind.ID_CHECK_CHAR:
                number = cells["id_number"]
                wrong = rng.choice([char for char in _CHECK_CHARS if char != number[17]])
                cells["id_number"] = number[:17] + wrong
            case DefectKind.BIRTH_DATE_MISMATCH:
                shift = rng.randint(1, 730) * rng.choice((-1, 1))
                born = date.fromisoformat(cells["birth_date"]) + timedelta(days=shift)
                cells["birth_date"] = born.isoformat()
            case DefectKind.VOTES_OVER_ATTENDING:
                cells["votes_for"] = str(session.attending + rng.randint(1, 3))
                cells["result"] = "通过"
            case DefectKind.RESULT_CONTRADICTS_VOTES:
                cells["votes_for"] = str(self._vote(session.attending, passing=False))
                cells["result"] = "通过"
            case DefectKind.UNKNOWN_SERIES:
                cells["series"] = "魔法"
            case DefectKind.UNKNOWN_LEVEL:
                cells["level"] = "超级"
            case DefectKind.EMPTY_NAME:
                cells["name"] = ""
            case DefectKind.BAD_MOBILE:
                cells["mobile"] = "12345"
            case DefectKind.INVALID_BIRTH_DATE:
                cells["birth_date"] = "2024-13-45"
            case DefectKind.PRIVATE_USE_NAME:
                # Old systems stored rare characters in the private use area.
                cells["name"] = cells["name"][:-1] + "\ue000"
            case DefectKind.PASSPORT_WITHOUT_COUNTRY:
                cells["id_country"] = ""
            case DefectKind.DUPLICATE_ID:
                pass  # the whole person was copied from an earlier row of the session


def generate_rows(spec: RosterSpec) -> Iterator[GeneratedRow]:
    """The rows of a roster, lazily, in file order."""
    return _Generator(spec).rows()


# --- files ----------------------------------------------------------------------------------


def write_roster(
    path: Path,
    spec: RosterSpec,
    *,
    fmt: Literal["csv", "xlsx"] | None = None,
    encoding: Literal["utf-8", "utf-8-sig", "gb18030"] = "utf-8-sig",
) -> RosterManifest:
    """Write a roster to ``path`` as CSV (in ``encoding``) or XLSX (text cells only; empty
    values are left out).

    ``fmt`` defaults to the file's suffix. The file is written as the rows are generated.
    """
    if fmt is None:
        suffix = path.suffix.lower().lstrip(".")
        if suffix not in ("csv", "xlsx"):
            raise InputError(f"{path}: cannot tell the format from the suffix; use .csv or .xlsx")
        fmt = "csv" if suffix == "csv" else "xlsx"
    bad_rows: dict[int, str] = {}
    sessions: set[tuple[str, ...]] = set()
    count = 0

    def tracked() -> Iterator[GeneratedRow]:
        nonlocal count
        for row in generate_rows(spec):
            count += 1
            if row.defect is None:
                sessions.add(tuple(row.values[header] for header in _SESSION_HEADERS))
            else:
                bad_rows[row.row_number] = row.defect
            yield row

    if fmt == "csv":
        _write_csv(path, tracked(), encoding)
    else:
        _write_xlsx(path, tracked())
    return RosterManifest(path, count, bad_rows, len(sessions))


_SESSION_HEADERS = tuple(
    COLUMNS_BY_KEY[key].header for key in ("year", "committee_name", "series", "specialty", "level")
)
_TEXT_FORMAT_KEYS = ("id_number",)  # cells Excel must never turn into numbers when edited
_COLUMN_WIDTHS: Mapping[str, float] = {
    "no": 6,
    "name": 16,
    "id_type": 22,
    "id_number": 22,
    "work_unit": 34,
    "mobile": 16,
    "committee_name": 56,
    "qualification_name": 14,
}


def _write_csv(path: Path, rows: Iterable[GeneratedRow], encoding: str) -> None:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        for row in rows:
            writer.writerow([row.values[header] for header in HEADERS])


def _write_xlsx(path: Path, rows: Iterable[GeneratedRow]) -> None:
    from openpyxl import Workbook  # imported here: CSV callers do not pay for it
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("评审结果")
    for position, key in enumerate(_KEYS, start=1):
        sheet.column_dimensions[get_column_letter(position)].width = _COLUMN_WIDTHS.get(key, 12)
    sheet.append(list(HEADERS))
    text_positions = tuple(_KEYS.index(key) for key in _TEXT_FORMAT_KEYS)
    for row in rows:
        values = [row.values[header] for header in HEADERS]
        cells: list[object] = [value or None for value in values]  # no cell for empty text
        for position in text_positions:
            cell = WriteOnlyCell(sheet, value=values[position] or None)
            cell.number_format = "@"  # Text, so that editing the cell keeps it text
            cells[position] = cell
        sheet.append(cells)
    workbook.save(path)
