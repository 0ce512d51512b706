"""Factories for test rosters: one valid row per call, changed only where a test says so."""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from pathlib import Path

from certsvc.config import Settings
from certsvc.roster.fit import DocumentChecks
from certsvc.roster.identity import mod11_2_check_char

HEADERS = (
    "序号",
    "姓名",
    "证件类型",
    "证件号码",
    "国籍",
    "性别",
    "出生日期",
    "工作单位",
    "手机号码",
    "评审委员会",
    "评审委员会人数",
    "评审日期",
    "系列",
    "专业",
    "级别",
    "资格名称",
    "出席委员数",
    "同意票数",
    "评审结果",
)
COMMITTEE = "北京市工程技术系列计算机专业高级专业技术资格评审委员会"
REVIEW_DATE = date(2025, 9, 12)


def resident_id(
    n: int, *, male: bool = True, birth: date | None = None, region: str = "110105"
) -> str:
    """A valid 18-character resident ID, distinct for each ``n`` (0 <= n < 500)."""
    born = birth or date(1965, 1, 1) + timedelta(days=23 * n)
    sequence = 2 * (n % 45) + (1 if male else 2)  # the 17th character: odd = male
    first17 = f"{region}{born:%Y%m%d}{n % 10:01d}{sequence:02d}"
    assert len(first17) == 17
    return first17 + mod11_2_check_char(first17)


def person_row(n: int = 0, **overrides: str) -> dict[str, str]:
    """A valid passing row for person ``n``; ``overrides`` are keyed by Chinese header."""
    born = date(1965, 1, 1) + timedelta(days=23 * n)
    male = n % 2 == 0
    row = {
        "序号": str(n + 1),
        "姓名": ["王小明", "李静", "张伟", "刘洋", "陈晨", "杨帆"][n % 6]
        + "一二三四五六七八九十"[n % 10],
        "证件类型": "居民身份证",
        "证件号码": resident_id(n, male=male, birth=born),
        "国籍": "",
        "性别": "男" if male else "女",
        "出生日期": born.isoformat(),
        "工作单位": "北京某科技有限公司",
        "手机号码": f"139{n:08d}",
        "评审委员会": COMMITTEE,
        "评审委员会人数": "30",
        "评审日期": REVIEW_DATE.isoformat(),
        "系列": "工程技术",
        "专业": "计算机软件",
        "级别": "副高级",
        "资格名称": "高级工程师",
        "出席委员数": "25",
        "同意票数": "20",
        "评审结果": "通过",
    }
    row.update(overrides)
    return row


def write_csv(
    path: Path,
    rows: Iterable[Mapping[str, str]],
    *,
    encoding: str = "utf-8",
    headers: Iterable[str] = HEADERS,
) -> Path:
    header_list = list(headers)
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header_list)
        for row in rows:
            writer.writerow([row.get(header, "") for header in header_list])
    return path


def write_xlsx(
    path: Path,
    rows: Iterable[Mapping[str, object]],
    headers: Iterable[str] = HEADERS,
    title: str | None = None,
) -> Path:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    if title:
        sheet.append([title])
    header_list = list(headers)
    sheet.append(header_list)
    for row in rows:
        sheet.append([row.get(header) for header in header_list])
    workbook.save(path)
    return path


@functools.cache
def document_checks(public_base_url: str = "http://localhost:8000") -> DocumentChecks:
    """What the import checks of a row's documents: the default fonts and layouts, once per
    process (per base URL)."""
    return DocumentChecks.for_settings(Settings.from_env({}, public_base_url=public_base_url))
