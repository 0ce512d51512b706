"""The catalogue of title series (职称系列), levels (级别) and qualification names (资格名称).

Series follow the national classification of professional-title series; each has a stable
two-letter code that document numbers carry. A roster may name a series by its short name
(工程技术), its full name (工程技术人员) or its code.

A qualification name follows from the series and the level only in part: 卫生技术 副高级 is
副主任医师, 副主任护师, 副主任药师 or 副主任技师 by specialty, 初级 covers both 助理级 and 员级
(助理工程师, 技术员), and a roster may use a name this catalogue does not list.
:data:`QUALIFICATIONS` lists the usual names of each series and level; the QR token carries a
listed name as its position in that list and any other name as text.

**Append only**: the position of a series in :data:`SERIES` and of a name in its list are
written into QR tokens, so an entry is never removed, reordered or renamed; new ones go at the
end.
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


SERIES: tuple[Series, ...] = (  # append only: positions are in QR tokens
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


def _names(*levels: str) -> dict[Level, tuple[str, ...]]:
    """One series' usual qualification names: for 正高级, 副高级, 中级 and 初级, each a
    '/'-separated list."""
    return {
        level: tuple(names.split("/"))
        for level, names in zip(
            (Level.FULL_SENIOR, Level.DEPUTY_SENIOR, Level.INTERMEDIATE, Level.JUNIOR),
            levels,
            strict=True,
        )
    }


# Append only, within each list: positions are in QR tokens.
_QUALIFICATIONS_BY_SERIES: Mapping[str, dict[Level, tuple[str, ...]]] = {
    "GX": _names("教授", "副教授", "讲师", "助教"),
    "ZS": _names("研究员", "副研究员", "助理研究员", "研究实习员"),
    "ZR": _names("研究员", "副研究员", "助理研究员", "研究实习员"),
    "WS": _names(
        "主任医师/主任药师/主任护师/主任技师",
        "副主任医师/副主任药师/副主任护师/副主任技师",
        "主治医师/主管药师/主管护师/主管技师/主管医师",
        "医师/药师/护师/技师/医士/药士/护士/技士",
    ),
    "GC": _names("正高级工程师", "高级工程师", "工程师", "助理工程师/技术员"),
    "NY": _names(
        "正高级农艺师/正高级畜牧师/正高级兽医师",
        "高级农艺师/高级畜牧师/高级兽医师",
        "农艺师/畜牧师/兽医师",
        "助理农艺师/助理畜牧师/助理兽医师/技术员",
    ),
    "XW": _names("高级记者/高级编辑", "主任记者/主任编辑", "记者/编辑", "助理记者/助理编辑"),
    "CB": _names(
        "编审", "副编审", "编辑/技术编辑/一级校对", "助理编辑/助理技术编辑/二级校对/三级校对"
    ),
    "TS": _names("研究馆员", "副研究馆员", "馆员", "助理馆员/管理员"),
    "WB": _names("研究馆员", "副研究馆员", "馆员", "助理馆员"),
    "DA": _names("研究馆员", "副研究馆员", "馆员", "助理馆员/管理员"),
    "GM": _names("正高级工艺美术师", "高级工艺美术师", "工艺美术师", "助理工艺美术师/工艺美术员"),
    "JG": _names(
        "正高级讲师/正高级实习指导教师",
        "高级讲师/高级实习指导教师",
        "讲师/一级实习指导教师",
        "助理讲师/二级实习指导教师/三级实习指导教师",
    ),
    "TY": _names("国家级教练", "高级教练", "中级教练", "初级教练"),
    "FY": _names("译审", "一级翻译", "二级翻译", "三级翻译"),
    "BY": _names(
        "播音指导/主持人指导",
        "主任播音员/主任主持人",
        "一级播音员/一级主持人",
        "二级播音员/二级主持人/三级播音员/三级主持人",
    ),
    "KJ": _names("正高级会计师", "高级会计师", "会计师", "助理会计师"),
    "TJ": _names("正高级统计师", "高级统计师", "统计师", "助理统计师"),
    "JJ": _names("正高级经济师", "高级经济师", "经济师", "助理经济师"),
    "SY": _names("正高级实验师", "高级实验师", "实验师", "助理实验师/实验员"),
    "ZZ": _names(
        "正高级讲师/正高级实习指导教师",
        "高级讲师/高级实习指导教师",
        "讲师/一级实习指导教师",
        "助理讲师/二级实习指导教师/三级实习指导教师",
    ),
    "ZX": _names("正高级教师", "高级教师", "一级教师", "二级教师/三级教师"),
    "CT": _names(
        "正高级船长/正高级轮机长/正高级电子电气员",
        "高级船长/高级轮机长/高级电子电气员",
        "船长/轮机长/电子电气员/大副/大管轮",
        "二副/三副/二管轮/三管轮",
    ),
    "MH": _names("一级飞行员", "二级飞行员", "三级飞行员", "四级飞行员"),
    "YS": _names(
        "一级演员/一级演奏员/一级编剧/一级导演/一级作曲/一级美术师",
        "二级演员/二级演奏员/二级编剧/二级导演/二级作曲/二级美术师",
        "三级演员/三级演奏员/三级编剧/三级导演/三级作曲/三级美术师",
        "四级演员/四级演奏员/四级编剧/四级导演/四级作曲/四级美术师",
    ),
    "GZ": _names("一级公证员", "二级公证员", "三级公证员", "四级公证员/公证员助理"),
    "LS": _names("一级律师", "二级律师", "三级律师", "四级律师"),
    "SJ": _names("正高级审计师", "高级审计师", "审计师", "助理审计师"),
    "SG": _names("正高级社会工作师", "高级社会工作师", "社会工作师", "助理社会工作师"),
    "ZC": _names("正高级知识产权师", "高级知识产权师", "知识产权师", "助理知识产权师"),
}

QUALIFICATIONS: Mapping[tuple[str, Level], tuple[str, ...]] = {
    (series.name, level): _QUALIFICATIONS_BY_SERIES[series.code][level]
    for series in SERIES
    for level in Level
}
"""(series name, level) -> the usual qualification names, by position (append only)."""
