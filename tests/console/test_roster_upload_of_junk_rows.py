"""A roster upload of junk rows — a few kilobytes of one-letter lines under a good header,
each line a dozen problems — is read only until the report holds enough problems to act on.
The importer used to read on and keep every reason: a 200 KB file held 1.5 million of them
(hundreds of MB, tens of seconds), and the 32 MB an upload may be would have held hundreds of
millions, all drawn into the page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask

from certsvc.db.database import Database
from certsvc.roster.importer import MAX_ERRORS
from tests.console.conftest import Member, sign_in
from tests.console.test_pages import upload
from tests.factories import HEADERS

JUNK_ROWS = 5_000


def test_an_upload_of_junk_rows_stops_at_the_error_limit(
    console: Flask, db: Database, add_staff: Callable[..., Member], tmp_path: Path
) -> None:
    client = sign_in(console.test_client(), db, add_staff("olga", "operator"))
    path = tmp_path / "junk.csv"
    path.write_text(",".join(HEADERS) + "\n" + "x\n" * JUNK_ROWS, encoding="utf-8")
    response = upload(client, path)
    assert response.status_code == 422  # type: ignore[attr-defined]
    page = response.get_data(as_text=True)  # type: ignore[attr-defined]
    table = page.split('id="import-errors"')[1].split("</table>")[0]
    assert table.count("<tr>") - 1 == MAX_ERRORS  # the header row, then the problems
    assert f"发现 {MAX_ERRORS} 处问题" in page  # in Chinese by default
    assert "已停止读取" in page
    english = client.get("/roster?lang=en")
    assert english.status_code == 200
    response = upload(client, path)
    assert "stopped reading" in response.get_data(as_text=True)  # type: ignore[attr-defined]
