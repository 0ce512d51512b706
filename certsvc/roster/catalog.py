"""The catalogue of title series (职称系列) and levels (级别) a roster may name.

Series follow the national classification of professional-title series; each has a stable
two-letter code that document numbers carry. A roster may name a series by its short name
(工程技术), its full name (工程技术人员) or its code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from certsvc.errors import FieldError


@dataclass(frozen=True, slots=True)
class Series:
    code: str
    name: str  # short canonical name, as stored and printed
    full_name: str


SERIES: tuple[Series, ...] = (
    Series("GX", "高等学校教师", "高等学校教师"),
    Series("ZS", "哲学社会科学研究", "哲学社会科学研究人员"),
    Series("ZR", "自然科学研究", "自然科学研究人员"),
    Series("WS", "卫生技术", "卫生技术人员"),
    Series("GC", "工程技术", "工程技术人员"),
    Series("NY", "农业技术", "农业技术人员"),
    Series("XW", "新闻", "新闻专业人员"),
    Series("CB", "出版", "出版专业人员"),
    Series("TS", "图书资料", "图书资料专业人员"),
    Series("WB", "文物博物", "文物博物专业人员"),
    Series("DA", "档案", "档案专业人员"),
    Series("GM", "工艺美术", "工艺美术专业人员"),
    Series("JG", "技工院校教师", "技工院校教师"),
    Series("TY", "体育", "体育专业人员"),
    Series("FY", "翻译", "翻译专业人员"),
    Series("BY", "播音主持", "播音主持专业人员"),
    Series("KJ", "会计", "会计专业人员"),
    Series("TJ", "统计", "统计专业人员"),
    Series("JJ", "经济", "经济专业人员"),
    Series("SY", "实验技术", "实验技术人才"),
    Series("ZZ", "中等职业学校教师", "中等职业学校教师"),
    Series("ZX", "中小学教师", "中小学教师"),
    Series("CT", "船舶", "船舶专业技术人员"),
    Series("MH", "民用航空飞行技术", "民用航空飞行技术人员"),
    Series("YS", "艺术", "艺术专业人员"),
    Series("GZ", "公证", "公证员"),
    Series("LS", "律师", "律师"),
    Series("SJ", "审计", "审计专业人员"),
    Series("SG", "社会工作", "社会工作专业人员"),
    Series("ZC", "知识产权", "知识产权专业人员"),
)

_SERIES_BY_TEXT: Mapping[str, Series] = {
    text: series
    for series in SERIES
    for text in (series.code, series.code.lower(), series.name, series.full_name)
}
SERIES_BY_NAME: Mapping[str, Series] = {series.name: series for series in SERIES}


def parse_series(text: str) -> Series:
    value = text.strip()
    if not value:
        raise FieldError("is empty")
    try:
        return _SERIES_BY_TEXT[value]
    except KeyError:
        raise FieldError(
            f"unknown series {value!r}; expected one of: {'、'.join(s.name for s in SERIES)}"
        ) from None


class Level(StrEnum):
    """Title level (级别). ``初级`` covers both 助理级 and 员级."""

    FULL_SENIOR = "正高级"
    DEPUTY_SENIOR = "副高级"
    INTERMEDIATE = "中级"
    JUNIOR = "初级"

    @property
    def code(self) -> str:
        return _LEVEL_CODES[self]


_LEVEL_CODES: Mapping[Level, str] = {
    Level.FULL_SENIOR: "1",
    Level.DEPUTY_SENIOR: "2",
    Level.INTERMEDIATE: "3",
    Level.JUNIOR: "4",
}

_LEVEL_ALIASES: Mapping[str, Level] = {
    "正高级": Level.FULL_SENIOR,
    "正高": Level.FULL_SENIOR,
    "full senior": Level.FULL_SENIOR,
    "full_senior": Level.FULL_SENIOR,
    "副高级": Level.DEPUTY_SENIOR,
    "副高": Level.DEPUTY_SENIOR,
    "deputy senior": Level.DEPUTY_SENIOR,
    "deputy_senior": Level.DEPUTY_SENIOR,
    "中级": Level.INTERMEDIATE,
    "intermediate": Level.INTERMEDIATE,
    "初级": Level.JUNIOR,
    "助理级": Level.JUNIOR,
    "员级": Level.JUNIOR,
    "junior": Level.JUNIOR,
}


def parse_level(text: str) -> Level:
    value = text.strip()
    if not value:
        raise FieldError("is empty")
    level = _LEVEL_ALIASES.get(value) or _LEVEL_ALIASES.get(value.lower())
    if level is None:
        raise FieldError(
            f"unknown level {value!r}; expected one of: 正高级、副高级、中级、初级 "
            "(初级 also as 助理级 or 员级; a bare 高级 is ambiguous and refused)"
        )
    return level
