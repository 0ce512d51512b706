"""A roster upload that is an XLSX zip bomb — a small file whose parts unpack to far more than
any workbook a spreadsheet program writes — is refused before the workbook is opened (openpyxl
reads the shared strings whole, even read-only), and nothing is stored."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from sqlmodel import func, select

from certsvc.db.database import Database
from certsvc.roster import reader
from certsvc.roster.models import ReviewResult, RosterImport
from tests.console.conftest import Member, sign_in
from tests.console.test_pages import upload
from tests.factories import person_row, write_xlsx

SHARED_STRINGS = "xl/sharedStrings.xml"
SHARED_STRINGS_TYPE = (
    b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
    b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
)
SST = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'


def bomb(path: Path, tmp_path: Path, repeats: int) -> Path:
    """A good workbook plus a shared strings part of ``repeats`` identical entries, which
    openpyxl reads whole when it opens the workbook."""
    book = write_xlsx(tmp_path / "good.xlsx", [person_row(n) for n in range(2)])
    with zipfile.ZipFile(book) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", SHARED_STRINGS_TYPE + b"</Types>")
            target.writestr(item.filename, data, compress_type=zipfile.ZIP_DEFLATED)
        strings = SST + b"<si><t>x</t></si>" * repeats + b"</sst>"
        target.writestr(SHARED_STRINGS, strings, compress_type=zipfile.ZIP_DEFLATED)
    return path


def stored(db: Database) -> tuple[int, int]:
    with db.session() as session:
        return (
            int(session.exec(select(func.count()).select_from(ReviewResult)).one()),
            int(session.exec(select(func.count()).select_from(RosterImport)).one()),
        )


def test_an_xlsx_zip_bomb_upload_is_refused_unopened(
    console: Flask, db: Database, add_staff: Callable[..., Member], tmp_path: Path
) -> None:
    client = sign_in(console.test_client(), db, add_staff("olga", "operator"))
    path = bomb(tmp_path / "名单.xlsx", tmp_path, repeats=400_000)  # ~7 MB from a few KB
    assert path.stat().st_size < 200_000
    response = upload(client, path)
    assert response.status_code == 400  # type: ignore[attr-defined]
    text = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert SHARED_STRINGS in text and "zip bomb" in text
    assert stored(db) == (0, 0)


def test_an_xlsx_that_unpacks_beyond_the_limit_is_refused(
    console: Flask,
    db: Database,
    add_staff: Callable[..., Member],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = sign_in(console.test_client(), db, add_staff("olga", "operator"))
    book = write_xlsx(tmp_path / "名单.xlsx", [person_row(n) for n in range(2)])
    monkeypatch.setattr(reader, "MAX_XLSX_UNPACKED_BYTES", 4096)
    response = upload(client, book)
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert "unpacks to" in response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert stored(db) == (0, 0)
    monkeypatch.undo()  # the same workbook, within the real limit, imports
    assert upload(client, book).status_code == 200  # type: ignore[attr-defined]
    assert stored(db) == (2, 1)
