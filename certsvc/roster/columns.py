"""The roster's columns: the Chinese headers review service agencies use, and English aliases.

Headers are matched after Unicode NFKC folding (full-width letters and brackets become
half-width), with case, spaces, underscores and hyphens ignored. Column order does not matter.
A header that matches no column is refused (a misspelt 证件号码 must not be silently skipped).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RosterColumn:
    key: str  # the English name, also accepted as a header
    header: str  # the Chinese header, as written in rosters
    required: bool
    description: str
    aliases: tuple[str, ...] = ()


COLUMNS: tuple[RosterColumn, ...] = (
    RosterColumn("no", "序号", False, "row number in the sender's list; ignored"),
    RosterColumn(
        "name", "姓名", True, "full name; rare characters, · and Latin letters allowed", ("姓 名",)
    ),
    RosterColumn(
        "id_type",
        "证件类型",
        True,
        "居民身份证, 港澳台居民居住证, 港澳居民来往内地通行证, 台湾居民来往大陆通行证, "
        "外国人永久居留身份证 or 护照",
        ("证件种类",),
    ),
    RosterColumn(
        "id_number",
        "证件号码",
        True,
        "identity document number; in XLSX a text cell",
        ("身份证号码", "身份证号", "证件号"),
    ),
    RosterColumn(
        "id_country",
        "国籍",
        False,
        "ISO 3166 alpha-3 issuing country; required for 护照",
        ("国籍/地区", "nationality", "country"),
    ),
    RosterColumn("gender", "性别", True, "男 or 女 (M/F)", ("sex",)),
    RosterColumn(
        "birth_date",
        "出生日期",
        True,
        "YYYY-MM-DD (also YYYY/MM/DD, YYYYMMDD, a date cell)",
        ("出生年月日", "birthday"),
    ),
    RosterColumn("work_unit", "工作单位", True, "employer", ("单位", "单位名称", "employer")),
    RosterColumn(
        "mobile",
        "手机号码",
        True,
        "mobile number: 11-digit mainland or +country form",
        ("手机", "手机号", "联系电话", "mobile_phone", "phone"),
    ),
    RosterColumn(
        "year", "年度", False, "review year; defaults to the review date's year", ("评审年度",)
    ),
    RosterColumn(
        "committee_name",
        "评审委员会",
        True,
        "the review committee's name",
        ("评委会", "评审委员会名称", "committee"),
    ),
    RosterColumn(
        "committee_size",
        "评审委员会人数",
        True,
        "members of the committee",
        ("委员会人数", "评委会人数", "committee_members"),
    ),
    RosterColumn("review_date", "评审日期", True, "date of the vote", ("评审时间",)),
    RosterColumn("series", "系列", True, "title series, e.g. 工程技术", ("职称系列",)),
    RosterColumn("specialty", "专业", True, "specialty, e.g. 计算机软件", ("评审专业",)),
    RosterColumn("level", "级别", True, "正高级, 副高级, 中级 or 初级", ("职称级别", "层级")),
    RosterColumn(
        "qualification_name", "资格名称", True, "e.g. 高级工程师", ("职称名称", "qualification")
    ),
    RosterColumn(
        "members_attending",
        "出席委员数",
        True,
        "members present at the vote",
        ("出席人数", "到会委员数", "attending"),
    ),
    RosterColumn("votes_for", "同意票数", True, "votes in favour", ("赞成票数", "同意票")),
    RosterColumn(
        "result",
        "评审结果",
        False,
        "通过 or 未通过; when given it must agree with the votes",
        ("结果", "passed"),
    ),
    RosterColumn("remarks", "备注", False, "free text; ignored", ("remark", "notes")),
)

COLUMNS_BY_KEY: Mapping[str, RosterColumn] = {column.key: column for column in COLUMNS}
REQUIRED_KEYS = tuple(column.key for column in COLUMNS if column.required)


def fold_header(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).strip().lower()
    return re.sub(r"[\s_\-]+", "", folded)


_BY_FOLDED: Mapping[str, str] = {
    fold_header(spelling): column.key
    for column in COLUMNS
    for spelling in (column.key, column.header, *column.aliases)
}


def column_key(header: str) -> str | None:
    """The column a header names, or ``None`` if it names none."""
    return _BY_FOLDED.get(fold_header(header))


def known_headers() -> str:
    return "、".join(column.header for column in COLUMNS)
