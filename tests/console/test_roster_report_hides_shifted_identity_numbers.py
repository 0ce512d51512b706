"""The roster import's error report never shows an identity number — also when a row's cells
have slipped by one (a cell left out or one too many, the commonest slip in a hand-made
spreadsheet), so that the number sits under another column whose reason quotes what it found
(the document type, the gender, the result, a count)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from flask import Flask

from certsvc.db.database import Database
from certsvc.roster.row import RowError
from tests.console.conftest import Member, sign_in
from tests.console.test_pages import upload
from tests.factories import HEADERS, person_row


def test_identity_numbers_under_the_wrong_column_are_not_shown_in_the_report(
    console: Flask, db: Database, add_staff: Callable[..., Member], tmp_path: Path
) -> None:
    client = sign_in(console.test_client(), db, add_staff("olga", "operator"))
    rows = [person_row(n) for n in range(3)]
    numbers = [row["证件号码"] for row in rows]
    path = tmp_path / "名单.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        cells = [rows[0][h] for h in HEADERS]
        writer.writerow(cells[:1] + cells[2:])  # the name left out: the number is the "type"
        cells = [rows[1][h] for h in HEADERS]
        writer.writerow(cells[:4] + cells[3:])  # the number twice: it is the "nationality" too
        cells = [rows[2][h] for h in HEADERS]
        for header in ("性别", "同意票数", "评审结果"):  # pasted into the wrong cells
            cells[HEADERS.index(header)] = numbers[2]
        writer.writerow(cells)
    response = upload(client, path)
    assert response.status_code == 422  # type: ignore[attr-defined]
    page = response.get_data(as_text=True)  # type: ignore[attr-defined]
    reported = page.split('id="import-errors"')[1]
    for row in (2, 3, 4):  # every slipped row is still reported, by row and column
        assert f"<td>{row}</td>" in reported
    assert "证件类型 (id_type)" in reported and "性别 (gender)" in reported
    for number in numbers:
        assert number not in page and number[:14] not in page and number[6:14] not in page


def test_a_reason_keeps_short_numbers_and_loses_long_ones() -> None:
    error = RowError(3, "gender", "is '110105196501010013', not 男 or 女; see rows 12 and 4711")
    assert "110105196501010013" not in error.reason
    assert "rows 12 and 4711" in error.reason
    hint = "characters 1-6 must be 810000 (Hong Kong), 820000 (Macao) or 830000 (Taiwan)"
    assert RowError(3, "id_number", hint).reason == hint
    assert "13912345678" not in RowError(3, "mobile", "'13912345678' is not a name").reason
    assert "Ｈ１２３４５６７８" not in RowError(3, "id_type", "'Ｈ１２３４５６７８'").reason
